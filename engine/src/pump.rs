//! The byte pump between a session and a socket, shared by both runtimes.
//!
//! A runtime hands the pump a [`Transport`] that never blocks; the pump reads what is there,
//! lets the session decode it in place, and writes what the session has to send (blocks of
//! about [`TX_BLOCK`](crate::session::TX_BLOCK) bytes) with one call per block. The clock is read once per
//! buffer, never per message.

use crate::clock::{Clock, Nanos};
use crate::session::{Phase, Session, SessionError};
use crate::stats::ShardStats;
use std::io;

/// Initial receive buffer; grows to fit the largest frame.
pub const RX_SIZE: usize = 64 * 1024;
/// Buffers moved per `step` before the runtime gets control back (fairness between connections).
const BUDGET: usize = 8;

/// A non-blocking byte stream. `Ok(None)` means "would block" (and, for an async runtime, that
/// a wake-up has been registered).
pub trait Transport {
    /// `Ok(Some(0))` is end of stream.
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>>;
    fn send(&mut self, buf: &[u8]) -> io::Result<Option<usize>>;
}

/// Why a connection ended.
#[derive(Debug)]
pub enum PumpError {
    Session(SessionError),
    Io(io::Error),
}

impl std::fmt::Display for PumpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PumpError::Session(e) => e.fmt(f),
            PumpError::Io(e) => e.fmt(f),
        }
    }
}

impl From<SessionError> for PumpError {
    fn from(e: SessionError) -> Self {
        PumpError::Session(e)
    }
}

/// The receive buffer and session of one connection (the session owns its outgoing bytes).
#[derive(Debug)]
pub struct Pump<S> {
    pub session: S,
    rx: Vec<u8>,
    rx_head: usize,
    rx_tail: usize,
}

impl<S: Session> Pump<S> {
    pub fn new(session: S) -> Self {
        let rx_len = RX_SIZE.max(session.max_frame().saturating_add(16).min(1 << 28));
        Pump {
            session,
            rx: vec![0; rx_len],
            rx_head: 0,
            rx_tail: 0,
        }
    }

    /// Bytes waiting to be written.
    pub fn tx_pending(&self) -> bool {
        self.session.tx_pending()
    }

    /// True when the session is finished and its last bytes are written.
    pub fn done(&self) -> bool {
        self.session.phase() == Phase::Finished && !self.tx_pending()
    }

    /// When the runtime must call `step` again even if the socket stays quiet.
    pub fn next_timeout(&self, now: Nanos) -> Option<Nanos> {
        if self.tx_pending() {
            return None; // woken by writability
        }
        self.session.next_timeout(now)
    }

    /// Moves bytes until the transport would block both ways and the session has nothing due,
    /// or the budget is spent. Returns whether anything moved.
    pub fn step<T: Transport>(
        &mut self,
        t: &mut T,
        clock: &Clock,
        stats: &mut ShardStats,
    ) -> Result<bool, PumpError> {
        let mut progressed = false;
        for _ in 0..BUDGET {
            let now = clock.now();
            let mut moved = false;
            if self.rx_tail == self.rx.len() {
                self.make_room();
            }
            match t
                .recv(&mut self.rx[self.rx_tail..])
                .map_err(PumpError::Io)?
            {
                Some(0) => return Err(SessionError::Closed.into()),
                Some(n) => {
                    self.rx_tail += n;
                    let used = self.session.handle_input(
                        &self.rx[self.rx_head..self.rx_tail],
                        now,
                        stats,
                    )?;
                    self.rx_head += used;
                    if self.rx_head == self.rx_tail {
                        self.rx_head = 0;
                        self.rx_tail = 0;
                    }
                    moved = true;
                }
                None => {}
            }
            let out = self.session.poll_transmit(now, stats)?;
            if !out.is_empty() {
                let len = out.len();
                match t.send(out) {
                    Ok(Some(n)) => {
                        self.session.on_sent(n);
                        moved = true;
                    }
                    Ok(None) => {}
                    // The peer may hang up as soon as it has our last words: a failed
                    // goodbye after the session finished is no error.
                    Err(_) if self.session.phase() == Phase::Finished => {
                        self.session.on_sent(len);
                        moved = true;
                    }
                    Err(e) => return Err(PumpError::Io(e)),
                }
            }
            if !moved || self.done() {
                break;
            }
            progressed = true;
        }
        Ok(progressed)
    }

    /// Compacts the receive buffer, growing it when one frame fills it.
    fn make_room(&mut self) {
        if self.rx_head > 0 {
            self.rx.copy_within(self.rx_head..self.rx_tail, 0);
            self.rx_tail -= self.rx_head;
            self.rx_head = 0;
        } else {
            let len = self.rx.len() * 2;
            self.rx.resize(len, 0);
        }
    }
}

/// Maps an `io::Result` of a non-blocking call onto the transport's contract.
pub fn nonblocking(r: io::Result<usize>) -> io::Result<Option<usize>> {
    match r {
        Ok(n) => Ok(Some(n)),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
        Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(None),
        Err(e) => Err(e),
    }
}
