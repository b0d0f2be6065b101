//! The epoll reactor: mio readiness, a write system call per write, and a timerfd for
//! deadlines finer than a millisecond. Used where io_uring is unavailable, or when asked for.

use super::driver::{Reactor, Ready};
use super::ShardThread;
use crate::clock::Nanos;
use crate::pump::nonblocking;
use crate::shard::{Command, ShardPlan};
use crate::stats::Snapshot;
use crossbeam_channel::{Receiver, Sender};
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use std::io::Write;
use std::time::Duration;

/// Starts the shard on its own pinned thread.
pub fn spawn(
    sp: ShardPlan,
    commands: Receiver<Command>,
    snapshots: Sender<Snapshot>,
) -> std::io::Result<ShardThread> {
    super::driver::spawn(sp, commands, snapshots, |_| Epoll::new())
}

/// The shard's epoll instance.
pub(crate) struct Epoll {
    poll: Poll,
    events: Events,
    /// Without a timerfd, waits are whole milliseconds: still correct, only coarser.
    alarm: Option<Alarm>,
}

impl Epoll {
    fn new() -> std::io::Result<Self> {
        let poll = Poll::new()?;
        let alarm = Alarm::new(&poll).ok();
        Ok(Epoll {
            poll,
            events: Events::with_capacity(1024),
            alarm,
        })
    }
}

impl Reactor for Epoll {
    fn watch(&mut self, stream: &TcpStream, token: usize) -> std::io::Result<()> {
        let fd = std::os::fd::AsRawFd::as_raw_fd(stream);
        self.poll.registry().register(
            &mut mio::unix::SourceFd(&fd),
            Token(token),
            Interest::READABLE | Interest::WRITABLE,
        )
    }

    fn unwatch(&mut self, stream: TcpStream, _token: usize) {
        let fd = std::os::fd::AsRawFd::as_raw_fd(&stream);
        let _ = self
            .poll
            .registry()
            .deregister(&mut mio::unix::SourceFd(&fd));
        let _ = stream.shutdown(std::net::Shutdown::Both);
    }

    fn send(
        &mut self,
        _token: usize,
        mut stream: &TcpStream,
        buf: &[u8],
    ) -> std::io::Result<Option<usize>> {
        nonblocking(stream.write(buf))
    }

    fn wait(
        &mut self,
        now: Nanos,
        wake: Nanos,
        ready: &mut dyn FnMut(usize, Ready),
    ) -> std::io::Result<()> {
        let wait = match self.alarm.as_mut() {
            Some(a) if wake > now => a.arm(now, wake),
            _ => Duration::from_nanos((wake - now).max(0) as u64),
        };
        self.poll.poll(&mut self.events, Some(wait))?;
        for ev in self.events.iter() {
            if ev.token() == ALARM {
                if let Some(a) = self.alarm.as_mut() {
                    a.armed = None;
                }
                continue;
            }
            ready(
                ev.token().0,
                Ready {
                    readable: ev.is_readable() || ev.is_read_closed() || ev.is_error(),
                    writable: ev.is_writable() || ev.is_write_closed() || ev.is_error(),
                },
            );
        }
        Ok(())
    }
}

/// Wake-ups finer than a millisecond: `epoll_wait` counts whole milliseconds (mio rounds a
/// shorter wait up), so the shard's next deadline is armed on a timerfd the poll watches.
struct Alarm {
    fd: std::os::fd::OwnedFd,
    armed: Option<i64>,
}

/// The alarm's token; connections use their index.
const ALARM: Token = Token(usize::MAX);

impl Alarm {
    fn new(poll: &Poll) -> std::io::Result<Self> {
        use std::os::fd::{AsRawFd, FromRawFd};
        // SAFETY: plain syscall; the descriptor is owned from here on.
        let raw = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if raw < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `raw` is a fresh descriptor nobody else owns.
        let fd = unsafe { std::os::fd::OwnedFd::from_raw_fd(raw) };
        poll.registry().register(
            &mut mio::unix::SourceFd(&fd.as_raw_fd()),
            ALARM,
            Interest::READABLE,
        )?;
        Ok(Alarm { fd, armed: None })
    }

    /// Makes the poll wake at `deadline` (epoch ns) if that is not a whole number of
    /// milliseconds from `now`; returns the `epoll_wait` timeout to use.
    fn arm(&mut self, now: i64, deadline: i64) -> Duration {
        use std::os::fd::AsRawFd;
        let wait = (deadline - now).max(0);
        if wait % 1_000_000 == 0 || self.armed == Some(deadline) {
            return Duration::from_nanos(wait as u64);
        }
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: wait / 1_000_000_000,
                tv_nsec: (wait % 1_000_000_000).max(1),
            },
        };
        // SAFETY: valid descriptor and itimerspec; the old value is not wanted.
        let r =
            unsafe { libc::timerfd_settime(self.fd.as_raw_fd(), 0, &spec, std::ptr::null_mut()) };
        if r == 0 {
            self.armed = Some(deadline);
        }
        // The timerfd ends the wait; the rounded-up timeout is the fallback.
        Duration::from_nanos(wait as u64)
    }
}
