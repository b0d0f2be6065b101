//! Protocol sessions: sans-IO state machines that turn a load plan into bytes and account what
//! comes back. They take input bytes and `now`, and append output bytes to a caller's buffer;
//! the shard's runtime (io_uring or epoll) only moves bytes and wakes them at [`Session::next_timeout`].

pub mod amqp;
pub mod build;
pub mod mqtt;
pub mod txbuf;

use crate::clock::Nanos;
use crate::payload;
use crate::seq::{Arrival, Tracker};
use crate::stats::{record_ns, ShardStats};
use std::fmt;

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

/// Why a session ended early.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionError {
    /// The peer's bytes did not decode.
    Decode(String),
    /// The peer broke the protocol (unexpected packet, unknown packet id).
    Protocol(String),
    /// The broker refused a connect or subscribe.
    Refused(String),
    /// The peer stopped answering (keep-alive).
    Timeout(&'static str),
    /// The peer closed the connection.
    Closed,
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionError::Decode(e) => write!(f, "malformed data from the broker: {e}"),
            SessionError::Protocol(e) => write!(f, "protocol error: {e}"),
            SessionError::Refused(e) => write!(f, "refused by the broker: {e}"),
            SessionError::Timeout(what) => write!(f, "timed out waiting for {what}"),
            SessionError::Closed => write!(f, "connection closed by the broker"),
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

    /// `n` bytes of what `poll_transmit` returned were written.
    fn on_sent(&mut self, n: usize);

    /// True while bytes wait to be written.
    fn tx_pending(&self) -> bool;

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

    /// Largest frame the session expects to receive (sizes the receive buffer).
    fn max_frame(&self) -> usize;

    /// Receivers: messages counted as received whose settlement the broker may not have taken
    /// (an accept or PUBCOMP never confirmed because the connection ended first). Read when
    /// the connection ends; 0 after a complete goodbye.
    fn unsettled(&self) -> u64 {
        0
    }
}

/// When a receiver stops: once told the senders are done, after the `expected` messages or
/// `idle` time without any. The broker saying it holds messages for the receiver (an AMQP
/// sender's `available`, §2.7.4) also keeps it waiting, up to [`HINT_CAP`] idle times in all:
/// RabbitMQ starves a consumer for seconds while its queue takes in a fast publisher's backlog.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Drain {
    idle: Nanos,
    /// How many to expect, and when the idle clock last restarted.
    state: Option<(u64, Nanos)>,
    /// When the broker last said it held messages for this receiver.
    hinted: Nanos,
}

/// How many idle times at most the broker's word that messages are coming keeps a receiver.
const HINT_CAP: Nanos = 10;

impl Drain {
    pub(crate) fn new(idle: Nanos) -> Self {
        Drain {
            idle,
            state: None,
            hinted: Nanos::MIN,
        }
    }

    /// The broker says it holds messages for this receiver.
    pub(crate) fn hint(&mut self, now: Nanos) {
        self.hinted = now;
    }

    /// The senders are done (again, with a new expectation: the idle clock keeps running).
    pub(crate) fn set(&mut self, now: Nanos, expected: u64) {
        self.state = Some((expected, self.state.map_or(now, |(_, since)| since)));
    }

    /// A message arrived: restart the idle clock.
    #[inline]
    pub(crate) fn arrived(&mut self, now: Nanos) {
        if let Some((expected, _)) = self.state {
            self.state = Some((expected, now));
        }
    }

    pub(crate) fn done(&self, got: u64, now: Nanos) -> bool {
        self.deadline(got, now).is_some_and(|t| now >= t)
    }

    /// When [`done`](Self::done) turns true without another arrival.
    pub(crate) fn deadline(&self, got: u64, now: Nanos) -> Option<Nanos> {
        self.state.map(|(expected, since)| {
            if got >= expected {
                now
            } else {
                let quiet = since.max(self.hinted).saturating_add(self.idle);
                quiet.min(since.saturating_add(HINT_CAP * self.idle))
            }
        })
    }
}

/// A sender's body sizes: fixed, or spread uniformly over the `~N` bounds (xorshift).
#[derive(Debug, Clone)]
pub(crate) struct Sizes {
    size: crate::plan::MessageSize,
    rng: u64,
}

impl Sizes {
    pub(crate) fn new(size: crate::plan::MessageSize, connection_id: u32) -> Self {
        let seed =
            0x9E37_79B9_7F4A_7C15 ^ u64::from(connection_id).wrapping_mul(0xA24B_AED4_963E_E407);
        Sizes {
            size,
            rng: seed | 1,
        }
    }

    #[inline]
    pub(crate) fn next(&mut self) -> usize {
        match self.size {
            crate::plan::MessageSize::Fixed(n) => n as usize,
            crate::plan::MessageSize::Variable(_) => {
                let (lo, hi) = self.size.bounds();
                self.rng ^= self.rng << 13;
                self.rng ^= self.rng >> 7;
                self.rng ^= self.rng << 17;
                (lo + (self.rng % u64::from(hi - lo + 1)) as u32) as usize
            }
        }
    }
}

/// The earlier of two optional instants.
pub(crate) fn earliest(a: Option<Nanos>, b: Option<Nanos>) -> Option<Nanos> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// What every receiving session keeps: the sequence streams it follows, this run's messages
/// counted so far, when to stop, and which run it counts.
#[derive(Debug)]
pub(crate) struct ReceiverLoad {
    pub(crate) tracker: Tracker,
    /// This run's messages received (what [`Drain`] compares with the expectation).
    pub(crate) got: u64,
    pub(crate) drain: Drain,
    /// Count only messages of this run; `None`: every message is this run's.
    run: Option<u32>,
}

impl ReceiverLoad {
    pub(crate) fn new(drain_idle: Nanos, run: Option<u32>) -> Self {
        ReceiverLoad {
            tracker: Tracker::new(),
            got: 0,
            drain: Drain::new(drain_idle),
            run,
        }
    }

    /// Accounts one message body (see [`account_message`]); true when it was this run's.
    #[inline]
    pub(crate) fn on_body(&mut self, body: &[u8], now: Nanos, stats: &mut ShardStats) -> bool {
        let ours = account_message(&mut self.tracker, self.run, body, now, stats);
        if ours {
            self.got += 1;
        }
        // Stale messages keep the receiver busy too: this run's may be queued behind them.
        self.drain.arrived(now);
        ours
    }

    pub(crate) fn done(&self, now: Nanos) -> bool {
        self.drain.done(self.got, now)
    }

    pub(crate) fn deadline(&self, now: Nanos) -> Option<Nanos> {
        self.drain.deadline(self.got, now)
    }
}

/// Accounts one received message body: counters, loss/duplicate/reorder from its sequence block,
/// and its latencies (from the actual and the intended send time) when past the warm-up.
///
/// A body whose sequence block names another run than `run` was left on the broker by another
/// run: it counts as stale and nowhere else (not received, not timed, not in any stream).
/// Returns false for such a body.
#[inline]
pub(crate) fn account_message(
    tracker: &mut Tracker,
    run: Option<u32>,
    body: &[u8],
    now: Nanos,
    stats: &mut ShardStats,
) -> bool {
    let stamp = payload::read(body);
    if let (Some(run), Some(ext)) = (run, stamp.and_then(|s| s.ext)) {
        if ext.run != run {
            stats.counters.stale += 1;
            return false;
        }
    }
    let c = &mut stats.counters;
    c.received += 1;
    c.bytes_received += body.len() as u64;
    stats.first_received.get_or_insert(now);
    stats.last_received = Some(now);
    let Some(stamp) = stamp else {
        c.unstamped += 1;
        return true;
    };
    let sent = stamp.sent_us.saturating_mul(1_000);
    let intended = match stamp.ext {
        Some(ext) => {
            match tracker.observe(ext.sender, ext.connection, ext.sequence) {
                Arrival::InOrder { lost } => c.lost += lost,
                Arrival::Late => {
                    c.lost = c.lost.saturating_sub(1);
                    c.reordered += 1;
                }
                Arrival::Duplicate => c.duplicated += 1,
            }
            ext.intended_ns
        }
        // A Maestro body carries only the send time.
        None => sent,
    };
    if intended >= stats.record_from {
        record_ns(&mut stats.interval.service, now - sent);
        record_ns(&mut stats.interval.corrected, now - intended);
    }
    true
}

/// Every protocol's session behind one type, so that a shard can hold any mix of them.
#[derive(Debug)]
pub enum AnySession {
    Mqtt(mqtt::MqttSession),
    Amqp(amqp::AmqpSession),
}

macro_rules! each {
    ($self:expr, $s:ident => $e:expr) => {
        match $self {
            AnySession::Mqtt($s) => $e,
            AnySession::Amqp($s) => $e,
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
    #[inline]
    fn on_sent(&mut self, n: usize) {
        each!(self, s => s.on_sent(n))
    }
    fn tx_pending(&self) -> bool {
        each!(self, s => s.tx_pending())
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
    fn max_frame(&self) -> usize {
        each!(self, s => s.max_frame())
    }
    fn unsettled(&self) -> u64 {
        each!(self, s => s.unsettled())
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

#[cfg(test)]
mod tests {
    use super::Drain;

    #[test]
    fn drain_ends_on_the_count_on_silence_or_at_the_hints_cap() {
        let mut d = Drain::new(100);
        assert!(!d.done(5, 1_000)); // not told the senders are done
        d.set(1_000, 3);
        assert!(d.done(3, 1_000));
        assert_eq!(d.deadline(2, 1_000), Some(1_100));
        d.arrived(1_050);
        assert!(!d.done(2, 1_100));
        assert!(d.done(2, 1_150));
        // The broker says it holds messages: wait on, but not past ten idle times.
        for t in (1_100..3_000).step_by(50) {
            d.hint(t);
        }
        assert!(!d.done(2, 2_000));
        assert_eq!(d.deadline(2, 2_000), Some(1_050 + 1_000));
        assert!(d.done(2, 2_050));
    }
}
