//! The two shard runtimes. Both drive the same [`Pump`](crate::pump::Pump) and sessions; they
//! differ only in how a shard waits for sockets and timers.

pub mod epoll;
pub mod uring;

use crate::clock::{Nanos, NANOS_PER_SEC};
use crate::pump::{Pump, PumpError};
use crate::session::{Phase, Session, SessionError};
use std::fmt;
use std::net::SocketAddr;

/// How long a stopped connection may take to say goodbye before it is cut.
pub(crate) const CLOSE_GRACE: crate::clock::Nanos = 1_000_000_000;

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

/// Checks that this process may create an io_uring: `Err` says why not, in a few words.
pub fn uring_available() -> Result<(), String> {
    if let Ok(v) = std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled") {
        if v.trim() == "2" {
            return Err("io_uring is disabled (kernel.io_uring_disabled = 2)".into());
        }
    }
    let mut params = [0u8; 120]; // struct io_uring_params, zeroed
                                 // SAFETY: io_uring_setup(2) reads and writes `params` (120 bytes, the kernel's struct size)
                                 // and returns a new fd or -1; the fd is closed right away.
    let fd = unsafe { libc::syscall(libc::SYS_io_uring_setup, 4u32, params.as_mut_ptr()) };
    if fd < 0 {
        let e = std::io::Error::last_os_error();
        return Err(format!("io_uring_setup failed: {e}"));
    }
    // SAFETY: `fd` was just returned by the kernel and is owned here.
    unsafe { libc::close(fd as i32) };
    Ok(())
}

/// Counts a connection that ended: done when its session finished, failed otherwise (with the
/// error, if any). What its receiver could not settle is added to the `unsettled` counter.
pub(crate) fn end_connection<S: Session>(
    core: &mut crate::shard::Core,
    state: &mut crate::shard::ConnState,
    sending: bool,
    session: &S,
    result: Result<(), String>,
) {
    use crate::shard::ConnState;
    core.stats.counters.unsettled += session.unsettled();
    match result {
        Ok(()) if session.phase() == Phase::Finished => {
            core.transition(state, ConnState::Done, sending)
        }
        Ok(()) => core.transition(state, ConnState::Failed, sending),
        Err(e) => {
            core.stats.on_error(e);
            core.transition(state, ConnState::Failed, sending);
        }
    }
}

/// Fails the peer-to-peer accept slots no connection arrived for.
pub(crate) fn fail_unaccepted(
    core: &mut crate::shard::Core,
    waiting: &mut Vec<crate::shard::ConnSpec>,
) {
    for _ in waiting.drain(..) {
        let mut s = crate::shard::ConnState::Connecting;
        core.stats
            .on_error("no sender connected to the peer-to-peer receiver in time".into());
        core.transition(&mut s, crate::shard::ConnState::Failed, false);
    }
}

pub(crate) fn connect_error(addr: SocketAddr, e: &str, timeout: Nanos) -> String {
    // Both runtimes' words for the same errno: "IO error occurred: X (os error N)" becomes "X".
    let e = e.trim_start_matches("IO error occurred: ");
    let e = match e.rfind(" (os error ") {
        Some(i) => &e[..i],
        None => e,
    };
    if e.contains("timed out") || e.contains("TimedOut") {
        format!(
            "cannot connect to {addr}: no answer within {}s",
            timeout / NANOS_PER_SEC
        )
    } else {
        format!("cannot connect to {addr}: {e}")
    }
}

pub(crate) fn handshake_error(addr: SocketAddr, timeout: Nanos) -> String {
    format!(
        "connected to {addr} but the protocol handshake did not finish within {}s",
        timeout / NANOS_PER_SEC
    )
}

/// One line saying which connection failed and why.
pub(crate) fn describe<S: Session>(pump: &Pump<S>, e: PumpError, addr: SocketAddr) -> String {
    let role = if pump.session.is_sender() {
        "sender"
    } else {
        "receiver"
    };
    match e {
        PumpError::Session(SessionError::Closed) if pump.session.phase() == Phase::Handshake => {
            format!("{role} to {addr}: connection closed by the broker during the handshake")
        }
        e => format!("{role} to {addr}: {e}"),
    }
}

/// `TCP_QUICKACK`: 0 delays ACKs; 1 sends a pending ACK now and goes back to quick ACKs; 2
/// sends a pending ACK now and keeps delaying (tcp(7); `__tcp_sock_set_quickack`). See
/// `Transport::ack_now` and `Transport::delay_acks`.
pub(crate) fn quickack(fd: std::os::fd::RawFd, value: libc::c_int) {
    // SAFETY: a valid socket descriptor and a c_int option of the right size; a failure (not a
    // TCP socket) only means there was nothing to change.
    unsafe {
        libc::setsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_QUICKACK,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}
