//! The two shard runtimes. Both run the same shard loop ([`driver`]) over the same
//! [`Pump`](crate::pump::Pump) and sessions; they differ only in their reactor: how a shard
//! learns that sockets are ready, writes, and waits for its next deadline.

pub(crate) mod driver;
pub mod epoll;
pub mod ring;

use std::fmt;

/// Which runtime shards use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// io_uring: a tick's writes and its wait in one system call ([`ring`]).
    Uring,
    /// epoll: a system call per write ([`epoll`]).
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
pub struct ShardThread(std::thread::JoinHandle<ShardExit>);

impl ShardThread {
    /// Waits for the shard; a panic counts as [`ShardExit::Panicked`].
    pub fn join(self) -> ShardExit {
        self.0.join().unwrap_or(ShardExit::Panicked)
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
