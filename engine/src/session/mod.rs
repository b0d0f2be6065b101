//! Protocol sessions: sans-IO state machines that turn a load plan into bytes and account what
//! comes back. They take input bytes and `now`, and append output bytes to a caller's buffer;
//! the shard's runtime (io_uring or epoll) only moves bytes and wakes them at [`Session::next_timeout`].

pub mod mqtt;

use crate::clock::Nanos;
use crate::stats::ShardStats;
use std::fmt;

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
    /// (acknowledgements) are appended to `out`.
    fn handle_input(
        &mut self,
        input: &[u8],
        now: Nanos,
        out: &mut Vec<u8>,
        stats: &mut ShardStats,
    ) -> Result<usize, SessionError>;

    /// Appends what is due at `now` to `out`, stopping once `out` holds `limit` bytes (at least
    /// one frame is written into an empty `out`).
    fn poll_transmit(
        &mut self,
        now: Nanos,
        out: &mut Vec<u8>,
        limit: usize,
        stats: &mut ShardStats,
    ) -> Result<(), SessionError>;

    /// The next instant at which `poll_transmit` has something to do without new input.
    fn next_timeout(&self, now: Nanos) -> Option<Nanos>;

    /// Senders: start the schedule at `t0` (every sender of a run shares it).
    fn start(&mut self, t0: Nanos);

    /// Receivers: senders are done and sent `expected` messages that this receiver should see;
    /// finish once they arrived or nothing arrived for the idle time.
    fn drain(&mut self, now: Nanos, expected: u64);

    fn phase(&self) -> Phase;

    fn is_sender(&self) -> bool;

    /// Largest frame the session expects to receive (sizes the receive buffer).
    fn max_frame(&self) -> usize;
}
