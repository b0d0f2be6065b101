//! Protocol sessions: sans-IO state machines that turn a load plan into bytes and account what
//! comes back. They take input bytes and `now`, and append output bytes to a caller's buffer;
//! the shard's runtime (io_uring or epoll) only moves bytes and wakes them at [`Session::next_timeout`].

pub mod mqtt;
pub mod txbuf;

use crate::clock::Nanos;
use crate::stats::ShardStats;
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
    /// finish once they arrived or nothing arrived for the idle time.
    fn drain(&mut self, now: Nanos, expected: u64);

    fn phase(&self) -> Phase;

    fn is_sender(&self) -> bool;

    /// Largest frame the session expects to receive (sizes the receive buffer).
    fn max_frame(&self) -> usize;
}
