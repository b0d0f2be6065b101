//! The byte pump between a session and a socket, shared by both runtimes.
//!
//! A runtime hands the pump a [`Transport`] that never blocks; the pump reads what is there,
//! lets the session decode it in place, and writes what the session has to send (blocks of
//! about [`TX_BLOCK`](crate::session::TX_BLOCK) bytes) with one call per block. The clock is read once per
//! buffer, never per message.
//!
//! A receiving connection may coalesce its reads ([`Coalesce`]): while messages stream in fast,
//! it reads at most once per window instead of every time a few bytes land. That is what makes
//! a loopback receiver cheap: each read's ACK otherwise makes the kernel push the broker's next
//! few bytes in the receiver's own context, and each sleep and wake-up of a shard costs tens of
//! microseconds on a virtual machine. A message waits at most one window longer to be read, and
//! a slower stream is read as it lands.

use crate::clock::{Clock, Nanos};
use crate::session::{Phase, Session, SessionError};
use crate::stats::ShardStats;
use crate::tls::TlsLayer;
use std::io;

/// A connection's first receive buffer: an idle connection (a receiver waiting, a sender's
/// acknowledgements trickling in) never needs more, and thousands of them fit in little memory.
pub const RX_START: usize = 2 * 1024;
/// The receive buffer of a busy connection: a read that fills the buffer grows it to this;
/// beyond it, only to fit a frame larger than the buffer.
pub const RX_SIZE: usize = 64 * 1024;
/// Buffers moved per `step` before the runtime gets control back (fairness between connections).
const BUDGET: usize = 8;

/// A non-blocking byte stream. `Ok(None)` means "would block" (and, for an async runtime, that
/// a wake-up has been registered).
pub trait Transport {
    /// `Ok(Some(0))` is end of stream.
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>>;
    fn send(&mut self, buf: &[u8]) -> io::Result<Option<usize>>;
    /// The TCP socket underneath, for the ACK controls below (`None`: they do nothing).
    fn socket(&self) -> Option<std::os::fd::RawFd> {
        None
    }
    /// Sends the acknowledgement the kernel holds back for what was read, now. A broker with
    /// Nagle's algorithm on (their default) holds its next small writes until that ACK, which
    /// the kernel would send late when the reader only reads on ticks.
    fn ack_now(&mut self) {
        if let Some(fd) = self.socket() {
            crate::sys::quickack(fd, 2);
        }
    }
    /// Delayed ACKs on (`true`: no ACK for each segment that lands, the coalescing receiver
    /// sends one per tick with `ack_now`) or back to the kernel's usual behaviour.
    fn delay_acks(&mut self, on: bool) {
        if let Some(fd) = self.socket() {
            crate::sys::quickack(fd, if on { 0 } else { 1 });
        }
    }
    /// Reads what is there without asking to be woken when more arrives: a coalescing receiver
    /// reads on its ticks, and a wake-up for every segment in between is what it saves. The
    /// default is `recv`.
    fn recv_quiet(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        self.recv(buf)
    }
}

/// Messages per window from which a connection coalesces its reads: below it, a read per
/// message costs no more than a read per window, and every message is read as it lands.
pub const COALESCE_FROM: u64 = 8;

/// Bytes per window up to which a connection coalesces its reads: a faster stream already
/// fills a large read each time it is read, and a window's worth of it would fill the socket's
/// buffer and stall the sender.
pub const COALESCE_UP_TO: u64 = RX_SIZE as u64;

/// Adaptive receive coalescing, at most one read per `window` on a busy stream.
///
/// The stream is busy when the reads of the last window or more brought at least
/// [`COALESCE_FROM`] messages and at most [`COALESCE_UP_TO`] bytes per window. A busy stream's
/// read starts a rest: no read before the next multiple of `window` on the clock (at most one
/// window away, and the same instant for every connection of the shard, so they wake together).
/// While resting the transport delays ACKs, so a sender with Nagle's algorithm on holds its
/// bytes; each tick's first read is followed by the ACK and one more read, which gets what the
/// ACK released. One read and its follow-up per tick, not a loop until the socket is empty: on a
/// busy stream bytes land as fast as they are read. A read that fills the buffer (the reader is
/// behind), a tick whose two reads find nothing (the stream went quiet), or a window that brings
/// fewer messages ends the rest; the next byte is then read as soon as it arrives. A window of
/// 0 turns coalescing off.
#[derive(Debug, Clone, Copy, Default)]
pub struct Coalesce {
    window: Nanos,
    /// Messages and bytes read since `since`.
    count: u64,
    bytes: u64,
    since: Nanos,
    busy: bool,
    rest_until: Option<Nanos>,
    /// The tick's first read is done and its ACK went out: one more read picks up what the ACK
    /// released from the sender's Nagle queue.
    follow_up: bool,
    /// The tick's first read found data.
    found: bool,
}

impl Coalesce {
    pub fn new(window: Nanos) -> Self {
        Coalesce {
            window: window.max(0),
            ..Coalesce::default()
        }
    }

    /// Whether a read may be tried now.
    pub fn may_read(&self, now: Nanos) -> bool {
        self.follow_up || self.rest_until.is_none_or(|t| now >= t)
    }

    /// Whether the stream is read on ticks (with ACKs delayed in between).
    pub fn resting(&self) -> bool {
        self.rest_until.is_some()
    }

    /// The end of the current rest, if resting.
    pub fn rest_until(&self) -> Option<Nanos> {
        self.rest_until
    }

    /// A read at `now` brought `bytes` holding `messages` whole messages; `full` when it
    /// filled the buffer offered.
    pub fn on_data(&mut self, now: Nanos, bytes: usize, messages: u64, full: bool) {
        if self.window == 0 {
            return;
        }
        self.count += messages;
        self.bytes += bytes as u64;
        let elapsed = now - self.since;
        if elapsed >= self.window {
            // Messages and bytes per window over the last window or more.
            let per_window = |n: u64| u128::from(n) * self.window as u128;
            self.busy = per_window(self.count) >= u128::from(COALESCE_FROM) * elapsed as u128
                && per_window(self.bytes) <= u128::from(COALESCE_UP_TO) * elapsed as u128;
            self.count = 0;
            self.bytes = 0;
            self.since = now;
        }
        let was_follow_up = std::mem::take(&mut self.follow_up);
        self.rest_until = (self.busy && !full).then(|| crate::clock::next_tick(now, self.window));
        self.follow_up = self.rest_until.is_some() && !was_follow_up;
        self.found = self.follow_up;
    }

    /// Whether the read just done was a tick's first: its ACK should go out now, and a
    /// follow-up read is due.
    pub fn wants_ack(&self) -> bool {
        self.follow_up
    }

    /// A read found nothing. On a tick's first read that is expected once delayed ACKs hold
    /// the sender's bytes back: its ACK goes out and the follow-up read gets them. When both
    /// reads of a tick find nothing, or a read outside a rest does, the stream went quiet: wait
    /// for readiness again.
    pub fn on_empty(&mut self) {
        if std::mem::take(&mut self.follow_up) {
            if !std::mem::take(&mut self.found) {
                self.rest_until = None;
            }
        } else if self.rest_until.is_some() {
            self.follow_up = true;
            self.found = false;
        }
    }
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
    coalesce: Coalesce,
    /// Whether the transport was told to delay ACKs (while coalescing).
    acks_delayed: bool,
    /// TLS between the session and the socket, if the run asked for it.
    tls: Option<TlsLayer>,
    /// When bytes last went out, or nothing waited to: how long the peer has not been reading.
    last_write: Nanos,
}

impl<S: Session> Pump<S> {
    pub fn new(session: S) -> Self {
        Pump {
            session,
            rx: vec![0; RX_START],
            rx_head: 0,
            rx_tail: 0,
            coalesce: Coalesce::default(),
            acks_delayed: false,
            tls: None,
            last_write: Nanos::MIN,
        }
    }

    /// Puts TLS between the session and the socket.
    pub fn with_tls(mut self, tls: Option<TlsLayer>) -> Self {
        self.tls = tls;
        self
    }

    /// Coalesces reads over `window` nanoseconds (see [`Coalesce`]); for receiving connections.
    pub fn with_coalescing(mut self, window: Nanos) -> Self {
        self.coalesce = Coalesce::new(window);
        self
    }

    /// Whether the TLS handshake resumed an earlier session (`None`: no TLS, or not known yet).
    pub fn tls_resumed(&self) -> Option<bool> {
        self.tls.as_ref().and_then(TlsLayer::resumed)
    }

    /// Bytes waiting to be written (the session's, or TLS records).
    pub fn tx_pending(&self) -> bool {
        self.session.tx_pending() || self.tls.as_ref().is_some_and(TlsLayer::pending)
    }

    /// Since when bytes wait that the socket does not take (`None`: nothing waits, or it moved
    /// at the last step).
    pub fn write_stalled_since(&self) -> Option<Nanos> {
        (self.tx_pending() && self.last_write != Nanos::MIN).then_some(self.last_write)
    }

    /// True when the session is finished and its last bytes are written.
    pub fn done(&self) -> bool {
        self.session.phase() == Phase::Finished
            && !self.tx_pending()
            && self.tls.as_ref().is_none_or(TlsLayer::closed)
    }

    /// When the runtime must call `step` again even if the socket stays quiet.
    pub fn next_timeout(&self, now: Nanos) -> Option<Nanos> {
        // With bytes to write, the session is woken by writability.
        let session = if self.tx_pending() {
            None
        } else {
            self.session.next_timeout(now)
        };
        crate::session::earliest(self.coalesce.rest_until(), session)
    }

    /// Moves bytes until the transport would block both ways and the session has nothing due,
    /// or the budget is spent. `now` is the clock as the caller read it for this turn: the first
    /// round goes by it, each later one reads the clock again. Returns whether anything moved,
    /// and the last reading.
    pub fn step<T: Transport>(
        &mut self,
        t: &mut T,
        clock: &Clock,
        mut now: Nanos,
        stats: &mut ShardStats,
    ) -> Result<(bool, Nanos), PumpError> {
        let mut progressed = false;
        for round in 0..BUDGET {
            if round > 0 {
                now = clock.now();
            }
            if !self.tx_pending() || self.last_write == Nanos::MIN {
                self.last_write = now;
            }
            let mut moved = false;
            if self.rx_tail == self.rx.len() {
                self.make_room();
            }
            let offered = self.rx.len() - self.rx_tail;
            let buf = &mut self.rx[self.rx_tail..];
            let read = match (
                self.coalesce.may_read(now),
                self.coalesce.resting(),
                &mut self.tls,
            ) {
                (false, _, _) => Ok(None),
                (true, quiet, Some(tls)) => tls.recv(t, quiet, buf),
                (true, false, None) => t.recv(buf),
                (true, true, None) => t.recv_quiet(buf),
            }
            .map_err(PumpError::Io)?;
            match read {
                Some(0) => return Err(SessionError::Closed.into()),
                Some(n) => {
                    self.rx_tail += n;
                    grow_if_filled(&mut self.rx, n == offered);
                    // A sender's stream is its acknowledgements.
                    let before = stats.counters.received + stats.counters.acked;
                    let used = self.session.handle_input(
                        &self.rx[self.rx_head..self.rx_tail],
                        now,
                        stats,
                    )?;
                    let messages =
                        (stats.counters.received + stats.counters.acked).saturating_sub(before);
                    self.coalesce.on_data(now, n, messages, n == offered);
                    if self.coalesce.wants_ack() {
                        t.ack_now();
                    }
                    self.rx_head += used;
                    if self.rx_head == self.rx_tail {
                        self.rx_head = 0;
                        self.rx_tail = 0;
                    }
                    moved = true;
                }
                None if self.coalesce.may_read(now) => {
                    let resting = self.coalesce.resting();
                    self.coalesce.on_empty();
                    if self.coalesce.wants_ack() {
                        t.ack_now();
                    }
                    // A follow-up read is due, or the stream went quiet: read once more (the
                    // usual way then, which asks for a wake-up when bytes arrive).
                    moved = self.coalesce.wants_ack() || (resting && !self.coalesce.resting());
                }
                None => {}
            }
            if self.coalesce.resting() != self.acks_delayed {
                self.acks_delayed = self.coalesce.resting();
                t.delay_acks(self.acks_delayed);
            }
            let out = self.session.poll_transmit(now, stats)?;
            if out.is_empty() {
                if let Some(tls) = &mut self.tls {
                    let pending = tls.pending();
                    tls.flush(t).map_err(PumpError::Io)?;
                    moved |= pending && !tls.pending();
                }
            } else {
                let len = out.len();
                let sent = match &mut self.tls {
                    Some(tls) => tls.send(t, out),
                    None => t.send(out),
                };
                match sent {
                    Ok(Some(n)) => {
                        self.session.on_sent(n);
                        self.last_write = now;
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
            // The session said its last words: TLS says its own right after them (before the
            // peer, having read them, hangs up).
            if let Some(tls) = &mut self.tls {
                let finished = self.session.phase() == Phase::Finished;
                if finished && !self.session.tx_pending() && !tls.closed() {
                    tls.close();
                    tls.flush(t).map_err(PumpError::Io)?;
                    moved = true;
                }
            }
            if !moved || self.done() {
                break;
            }
            progressed = true;
        }
        Ok((progressed, now))
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

/// A read `filled` all the room `buf` offered: the stream is busy, so it is read in [`RX_SIZE`]
/// buffers from now on (a buffer starts at [`RX_START`], what an idle connection needs).
#[inline]
pub(crate) fn grow_if_filled(buf: &mut Vec<u8>, filled: bool) {
    if filled && buf.len() < RX_SIZE {
        buf.resize(RX_SIZE, 0);
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

#[cfg(test)]
mod tests {
    use super::{Coalesce, COALESCE_FROM};

    const W: i64 = 1_000_000;

    #[test]
    fn off_never_rests() {
        let mut c = Coalesce::new(0);
        for t in 0..10 {
            c.on_data(t * 10, 100000, 1000, false);
            assert!(c.may_read(t * 10));
            assert_eq!(c.rest_until(), None);
        }
    }

    #[test]
    fn a_slow_stream_is_read_as_it_lands() {
        let mut c = Coalesce::new(W);
        // One message every 200 µs is five per window: below the threshold, never held back.
        for i in 1..50 {
            c.on_data(i * W / 5, 100, 1, false);
            assert_eq!(c.rest_until(), None, "read {i}");
        }
    }

    #[test]
    fn a_busy_stream_reads_once_per_window_on_the_ticks() {
        let mut c = Coalesce::new(W);
        // Reads of two messages every 100 µs: 20 per window once a window has gone by.
        let mut t = 0;
        while c.rest_until().is_none() {
            t += W / 10;
            c.on_data(t, 200, 2, false);
            assert!(t <= 2 * W, "never started to coalesce");
        }
        let tick = c.rest_until().unwrap();
        assert_eq!(tick % W, 0);
        assert!(tick > t && tick <= t + W);
        // The first read of a rest asks for its ACK, and one more read follows it.
        assert!(c.wants_ack());
        assert!(c.may_read(t + 1));
        c.on_empty();
        assert!(!c.wants_ack());
        assert!(!c.may_read(tick - 1));
        assert!(c.may_read(tick));
        // The tick's read finds the window's messages; its follow-up finds what the ACK
        // released: rest to the next tick.
        c.on_data(
            tick,
            (2 * COALESCE_FROM) as usize * 100,
            2 * COALESCE_FROM,
            false,
        );
        assert!(c.wants_ack());
        c.on_data(tick + 5, 300, 3, false);
        assert!(!c.wants_ack());
        assert_eq!(c.rest_until(), Some(tick + W));
        assert!(!c.may_read(tick + 10));
        // A buffer filled to the brim: read again at once.
        c.on_data(tick + W, 60000, 600, true);
        assert_eq!(c.rest_until(), None);
        c.on_data(tick + W + 1000, 10000, 100, false);
        assert_eq!(c.rest_until(), Some(tick + 2 * W));
        c.on_empty();
        // With ACKs delayed, the sender holds its bytes until the tick's ACK: the first read
        // finds nothing, its ACK goes out, and the follow-up finds the window's messages.
        c.on_empty();
        assert!(c.wants_ack());
        assert!(c.may_read(tick + 2 * W));
        c.on_data(tick + 2 * W, 10000, 100, false);
        assert!(!c.wants_ack());
        assert_eq!(c.rest_until(), Some(tick + 3 * W));
        // Nothing at a tick, nor after its ACK: the stream went quiet, back to readiness.
        c.on_empty();
        assert!(c.wants_ack());
        c.on_empty();
        assert!(!c.wants_ack());
        assert_eq!(c.rest_until(), None);
        assert!(c.may_read(tick + 3 * W));
    }

    #[test]
    fn a_stream_too_fast_to_hold_is_not_coalesced() {
        let mut c = Coalesce::new(W);
        // 640 KiB per window in 64 KiB reads that do not quite fill the buffer: reads are
        // large already, and a window of it would overflow the socket.
        for i in 1..40 {
            c.on_data(i * W / 10, 65_000, 600, false);
            assert_eq!(c.rest_until(), None, "read {i}");
        }
    }

    #[test]
    fn a_stream_that_slows_down_stops_coalescing() {
        let mut c = Coalesce::new(W);
        c.on_data(W, 10000, 100, false);
        c.on_data(2 * W, 10000, 100, false);
        assert!(c.rest_until().is_some());
        // The next window brings only a few messages.
        c.on_data(3 * W, 300, 3, false);
        assert_eq!(c.rest_until(), None);
    }
}
