//! The two shard runtimes. Both drive the same [`Pump`](crate::pump::Pump) and sessions; they
//! differ only in how a shard waits for sockets and timers.

pub mod epoll;
pub mod uring;

use std::fmt;

/// Which runtime shards use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// glommio on io_uring.
    Uring,
    /// mio on epoll.
    Epoll,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Uring => "uring",
            Backend::Epoll => "epoll",
        })
    }
}

impl std::str::FromStr for Backend {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "uring" | "io_uring" => Ok(Backend::Uring),
            "epoll" => Ok(Backend::Epoll),
            _ => Err(format!("unknown backend '{s}' (expected uring or epoll)")),
        }
    }
}

/// How a shard thread ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardExit {
    Finished,
    Panicked,
}

/// A running shard's thread.
#[derive(Debug)]
pub enum ShardThread {
    Uring(glommio::ExecutorJoinHandle<ShardExit>),
    Epoll(std::thread::JoinHandle<ShardExit>),
}

impl ShardThread {
    /// Waits for the shard; a panic or executor failure counts as [`ShardExit::Panicked`].
    pub fn join(self) -> ShardExit {
        match self {
            ShardThread::Uring(h) => h.join().unwrap_or(ShardExit::Panicked),
            ShardThread::Epoll(h) => h.join().unwrap_or(ShardExit::Panicked),
        }
    }
}

/// Fails the peer-to-peer accept slots no connection arrived for.
pub(crate) fn fail_unaccepted(
    core: &mut crate::shard::Core,
    waiting: &mut Vec<crate::shard::ConnSpec>,
) {
    for _ in waiting.drain(..) {
        core.stats
            .on_error("no sender connected to the peer-to-peer receiver in time".into());
        core.transition(
            &mut crate::shard::ConnState::Connecting,
            crate::shard::ConnState::Failed,
            false,
        );
    }
}
