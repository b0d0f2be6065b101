//! Protocol sessions: sans-IO state machines that turn a load plan into bytes and account what
//! comes back. They take input bytes and `now`, and append output bytes to a caller's buffer;
//! the shard's runtime (io_uring or epoll) only moves bytes and wakes them at [`Session::next_timeout`].

pub mod amqp;
pub mod amqp091;
pub mod build;
pub mod load;
pub mod mqtt;
pub mod stomp;
mod template;
pub mod txbuf;

use crate::clock::Nanos;
use crate::stats::ShardStats;
use std::fmt;
use txbuf::TxBuf;

/// Target size of one write: messages are prepared in blocks of about this many bytes.
pub const TX_BLOCK: usize = 64 * 1024;

/// Where a session is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Protocol handshake (connect, subscribe) in progress.
    Handshake,
    /// Handshake done; a sender waits for the start, a receiver is consuming.
    Ready,
    /// A sender is sending its schedule.
    Running,
    /// Done with its work; the connection can be closed once the output is flushed.
    Finished,
}

/// Why the peer's bytes did not decode: the wire crate's error and where it was met.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    Mqtt(allegro_wire::mqtt::Error),
    /// In an AMQP 1.0 frame, protocol header or message (`what` says which).
    Amqp {
        what: &'static str,
        error: allegro_wire::amqp10::Error,
    },
    Stomp(allegro_wire::stomp::Error),
    Amqp091(allegro_wire::amqp091::Error),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Mqtt(e) => e.fmt(f),
            DecodeError::Amqp { what, error } => write!(f, "{what}: {error}"),
            DecodeError::Stomp(e) => e.fmt(f),
            DecodeError::Amqp091(e) => e.fmt(f),
        }
    }
}

/// Why a session ended early.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionError {
    /// The peer's bytes did not decode.
    Decode(DecodeError),
    /// The peer broke the protocol (unexpected packet, unknown packet id).
    Protocol(String),
    /// The broker refused a connect or subscribe.
    Refused(String),
    /// The peer stopped answering (keep-alive).
    Timeout(&'static str),
    /// The peer closed the connection.
    Closed,
    /// The broker closed the connection on its own (shutting down or restarting; forced by an
    /// operator), with its words: unlike a refusal, making the connection again may help.
    Forced(String),
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionError::Decode(e) => write!(f, "malformed data from the broker: {e}"),
            SessionError::Protocol(e) => write!(f, "protocol error: {e}"),
            SessionError::Refused(e) => write!(f, "refused by the broker: {e}"),
            SessionError::Timeout(what) => write!(f, "timed out waiting for {what}"),
            SessionError::Closed => write!(f, "connection closed by the broker"),
            SessionError::Forced(e) => write!(f, "connection closed by the broker: {e}"),
        }
    }
}

impl std::error::Error for SessionError {}

/// A connection's protocol and load logic, driven by a runtime.
pub trait Session {
    /// Consumes whole frames from the front of `input`; returns the bytes consumed. Replies
    /// (acknowledgements) are queued for [`poll_transmit`](Self::poll_transmit).
    fn handle_input(
        &mut self,
        input: &[u8],
        now: Nanos,
        stats: &mut ShardStats,
    ) -> Result<usize, SessionError>;

    /// Bytes to write now: what is still pending, or else what falls due at `now` (about
    /// [`TX_BLOCK`] bytes of messages at most). Empty when there is nothing to send.
    fn poll_transmit(&mut self, now: Nanos, stats: &mut ShardStats) -> Result<&[u8], SessionError>;

    /// The session's outgoing bytes.
    fn txbuf(&self) -> &TxBuf;
    fn txbuf_mut(&mut self) -> &mut TxBuf;

    /// `n` bytes of what `poll_transmit` returned were written.
    fn on_sent(&mut self, n: usize) {
        self.txbuf_mut().consume(n);
    }

    /// True while bytes wait to be written.
    fn tx_pending(&self) -> bool {
        !self.txbuf().is_empty()
    }

    /// The next instant at which `poll_transmit` has something to do without new input.
    fn next_timeout(&self, now: Nanos) -> Option<Nanos>;

    /// Senders: start the schedule at `t0` (every sender of a run shares it).
    fn start(&mut self, t0: Nanos);

    /// Receivers: senders are done and sent `expected` messages that this receiver should see;
    /// finish once they arrived or nothing arrived for the idle time. Called again when the
    /// expectation changes (0: everything expected has arrived somewhere, finish now).
    fn drain(&mut self, now: Nanos, expected: u64);

    fn phase(&self) -> Phase;

    /// Ends the session politely at the next `poll_transmit` (the run is being stopped): a
    /// session still in its handshake just finishes.
    fn close(&mut self);

    /// A sender whose schedule is done (it may keep its connection a while; see AMQP).
    fn sending_done(&self) -> bool {
        false
    }

    fn is_sender(&self) -> bool;

    /// Receivers: messages counted as received whose settlement the broker may not have taken
    /// (an accept or PUBCOMP never confirmed because the connection ended first). Read when
    /// the connection ends; 0 after a complete goodbye.
    fn unsettled(&self) -> u64 {
        0
    }

    /// Senders: messages written whose acknowledgement (PUBACK or PUBCOMP, disposition,
    /// receipt, confirm) has not come. Read when the connection is lost; 0 for a sender that
    /// expects none.
    fn unconfirmed(&self) -> u64 {
        0
    }

    /// The load the session carries for its connection: moved to the next session of the same
    /// connection when it is made again (see [`carry_load`]).
    fn load_mut(&mut self) -> LoadMut<'_>;
}

/// A session's load, to carry over a reconnection.
#[derive(Debug)]
pub enum LoadMut<'a> {
    /// The schedule (its pacer holds the next sequence number) and the bodies.
    Sender(&'a mut load::SenderLoad),
    /// The sequence streams, this run's count and the drain.
    Receiver(&'a mut load::ReceiverLoad),
}

/// A connection was made again: `new` (fresh from [`build::session_for`]) takes `old`'s load,
/// so that its sender's schedule and sequence numbers, or its receiver's streams and counts,
/// go on where they were.
pub fn carry_load(old: &mut AnySession, new: &mut AnySession) {
    match (old.load_mut(), new.load_mut()) {
        (LoadMut::Sender(a), LoadMut::Sender(b)) => std::mem::swap(a, b),
        (LoadMut::Receiver(a), LoadMut::Receiver(b)) => std::mem::swap(a, b),
        // Built from the same plan and connection: the roles are the same.
        _ => debug_assert!(false, "a reconnection changed the connection's role"),
    }
}

/// When a session last wrote, and whether an idle one owes its peer a keep-alive (an MQTT
/// PINGREQ, §3.1.2.10; an AMQP empty frame, §2.4.5).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Idle {
    pub(crate) last_tx: Nanos,
}

impl Idle {
    /// A turn ends at `now` having written something (`wrote`) or not. True when nothing was
    /// written for `after`: a keep-alive is due, and the caller writes it.
    #[inline]
    pub(crate) fn keep_alive_due(&mut self, now: Nanos, wrote: bool, after: Option<Nanos>) -> bool {
        let due = !wrote && after.is_some_and(|a| now - self.last_tx >= a);
        if wrote || due {
            self.last_tx = now;
        }
        due
    }
}

/// The earlier of two optional instants.
pub(crate) fn earliest(a: Option<Nanos>, b: Option<Nanos>) -> Option<Nanos> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Every protocol's session behind one type, so that a shard can hold any mix of them.
#[derive(Debug)]
pub enum AnySession {
    Mqtt(mqtt::MqttSession),
    Amqp(amqp::AmqpSession),
    Stomp(stomp::StompSession),
    Amqp091(amqp091::Amqp091Session),
}

macro_rules! each {
    ($self:expr, $s:ident => $e:expr) => {
        match $self {
            AnySession::Mqtt($s) => $e,
            AnySession::Amqp($s) => $e,
            AnySession::Stomp($s) => $e,
            AnySession::Amqp091($s) => $e,
        }
    };
}

impl Session for AnySession {
    #[inline]
    fn handle_input(
        &mut self,
        input: &[u8],
        now: Nanos,
        stats: &mut ShardStats,
    ) -> Result<usize, SessionError> {
        each!(self, s => s.handle_input(input, now, stats))
    }
    #[inline]
    fn poll_transmit(&mut self, now: Nanos, stats: &mut ShardStats) -> Result<&[u8], SessionError> {
        each!(self, s => s.poll_transmit(now, stats))
    }
    fn txbuf(&self) -> &TxBuf {
        each!(self, s => s.txbuf())
    }
    fn txbuf_mut(&mut self) -> &mut TxBuf {
        each!(self, s => s.txbuf_mut())
    }
    fn next_timeout(&self, now: Nanos) -> Option<Nanos> {
        each!(self, s => s.next_timeout(now))
    }
    fn start(&mut self, t0: Nanos) {
        each!(self, s => s.start(t0))
    }
    fn drain(&mut self, now: Nanos, expected: u64) {
        each!(self, s => s.drain(now, expected))
    }
    fn phase(&self) -> Phase {
        each!(self, s => s.phase())
    }
    fn is_sender(&self) -> bool {
        each!(self, s => s.is_sender())
    }
    fn sending_done(&self) -> bool {
        each!(self, s => s.sending_done())
    }
    fn close(&mut self) {
        each!(self, s => s.close())
    }
    fn unsettled(&self) -> u64 {
        each!(self, s => s.unsettled())
    }
    fn unconfirmed(&self) -> u64 {
        each!(self, s => s.unconfirmed())
    }
    fn load_mut(&mut self) -> LoadMut<'_> {
        each!(self, s => s.load_mut())
    }
}

/// Test support: everything `s` has to write at `now`, polled until it has nothing more.
#[cfg(test)]
pub(crate) fn written_bytes<S: Session>(s: &mut S, now: Nanos, st: &mut ShardStats) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let more = s.poll_transmit(now, st).unwrap().to_vec();
        s.on_sent(more.len());
        if more.is_empty() {
            return out;
        }
        out.extend_from_slice(&more);
    }
}
