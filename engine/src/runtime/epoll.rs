//! The epoll runtime: one pinned thread per shard running a mio event loop over its
//! connections. Used where io_uring is unavailable, or when asked for.

use super::{ShardExit, ShardThread};
use crate::clock::{next_tick, Nanos};
use crate::pump::{nonblocking, Transport};
use crate::shard::conn::{self, Conn, Failure, MAX_IDLE};
use crate::shard::{Command, ConnSpec, ConnState, Core, ShardPlan};
use crate::stats::Snapshot;
use crossbeam_channel::{Receiver, Sender};
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use std::io::{Read, Write};
use std::time::Duration;

/// Starts the shard on its own pinned thread.
pub fn spawn(
    sp: ShardPlan,
    commands: Receiver<Command>,
    snapshots: Sender<Snapshot>,
) -> std::io::Result<ShardThread> {
    std::thread::Builder::new()
        .name(format!("allegro-shard-{}", sp.index))
        .spawn(move || {
            if let Err(e) = crate::placement::pin_current_thread(sp.cpu) {
                eprintln!(
                    "allegro: shard {} could not pin to CPU {}: {e}",
                    sp.index, sp.cpu
                );
            }
            shard_main(sp, commands, snapshots)
        })
        .map(ShardThread::Epoll)
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

/// A connection and what epoll said of its socket.
struct Watched {
    /// `None` while a lost connection waits for its back-off to make it again.
    stream: Option<TcpStream>,
    /// When to make it again.
    retry_at: Nanos,
    conn: Conn,
    connected: bool,
    readable: bool,
    writable: bool,
    /// `step` ran out of budget, or a command reached the session: step again without waiting.
    busy: bool,
}

struct Io<'a> {
    stream: &'a mut TcpStream,
    readable: &'a mut bool,
    writable: &'a mut bool,
}

impl Transport for Io<'_> {
    fn recv(&mut self, buf: &mut [u8]) -> std::io::Result<Option<usize>> {
        if !*self.readable {
            return Ok(None);
        }
        let r = nonblocking(self.stream.read(buf))?;
        if r.is_none() {
            *self.readable = false;
        }
        Ok(r)
    }

    fn send(&mut self, buf: &[u8]) -> std::io::Result<Option<usize>> {
        if !*self.writable {
            return Ok(None);
        }
        let r = nonblocking(self.stream.write(buf))?;
        if r.is_none() {
            *self.writable = false;
        }
        Ok(r)
    }

    fn socket(&self) -> Option<std::os::fd::RawFd> {
        Some(std::os::fd::AsRawFd::as_raw_fd(&*self.stream))
    }

    fn recv_quiet(&mut self, buf: &mut [u8]) -> std::io::Result<Option<usize>> {
        // On a tick, try the socket whatever the last readiness said.
        *self.readable = true;
        self.recv(buf)
    }
}

fn shard_main(
    sp: ShardPlan,
    commands: Receiver<Command>,
    snapshots: Sender<Snapshot>,
) -> ShardExit {
    let clock = sp.clock;
    let plan = &sp.plan;
    let mut core = Core::new(&sp, commands, snapshots);
    let mut poll = match Poll::new() {
        Ok(p) => p,
        Err(e) => {
            core.stats
                .on_error(format!("cannot create an epoll instance: {e}"));
            fail_all(&mut core, &sp.conns);
            core.maybe_snapshot(clock.now(), true);
            return ShardExit::Finished;
        }
    };
    let mut conns: Vec<Option<Watched>> = sp.conns.iter().map(|_| None).collect();
    // Peer to peer: accept slots wait for the acceptor's streams (index in `conns`, spec).
    let mut waiting: Vec<(usize, ConnSpec)> = (sp.conns.iter().copied().enumerate())
        .filter(|(_, c)| matches!(c, ConnSpec::Accept(_)))
        .collect();
    let accept_deadline = clock.now() + 2 * plan.connect_timeout;
    let mut launcher = sp.launcher(clock.now());
    let mut events = Events::with_capacity(1024);
    // Without a timerfd, waits are whole milliseconds: still correct, only coarser.
    let mut alarm = Alarm::new(&poll).ok();
    loop {
        core.poll_commands(plan.shape.warmup);
        if core.stop {
            for (_, spec) in launcher.drain() {
                core.never_begun(spec);
            }
        }
        while let Some((i, spec)) = launcher.next(clock.now(), core.handshaking) {
            core.handshaking += 1;
            match begin(&sp, spec, &poll, Token(i)) {
                Ok(stream) => {
                    conns[i] = Some(Watched {
                        stream: Some(stream),
                        retry_at: 0,
                        conn: Conn::new(&sp, spec, clock.now()).launched(),
                        connected: false,
                        readable: false,
                        writable: false,
                        busy: false,
                    })
                }
                Err(e) => {
                    let e = e.to_string();
                    conn::connect_failed(&mut core, spec, sp.addr, &e, plan.connect_timeout);
                }
            }
        }
        if let Some(rx) = &sp.adopt {
            while let (false, Ok(s)) = (waiting.is_empty(), rx.try_recv()) {
                let (i, spec) = waiting.remove(0);
                let mut stream = TcpStream::from_std(s);
                if let Err(e) = poll.registry().register(
                    &mut stream,
                    Token(i),
                    Interest::READABLE | Interest::WRITABLE,
                ) {
                    core.stats
                        .on_error(format!("cannot watch an accepted connection: {e}"));
                    let mut st = ConnState::Connecting;
                    core.transition(&mut st, ConnState::Failed, false);
                    continue;
                }
                conns[i] = Some(Watched {
                    stream: Some(stream),
                    retry_at: 0,
                    conn: Conn::new(&sp, spec, clock.now()),
                    connected: true,
                    readable: true,
                    writable: true,
                    busy: true,
                });
            }
        }
        if !waiting.is_empty() && clock.now() > accept_deadline {
            let mut specs: Vec<ConnSpec> = waiting.drain(..).map(|(_, s)| s).collect();
            super::fail_unaccepted(&mut core, &mut specs);
        }
        let now = clock.now();
        let mut wake = next_tick(now, MAX_IDLE);
        for (i, slot) in conns.iter_mut().enumerate() {
            let Some(c) = slot else { continue };
            match service(c, &mut core, &sp, &poll, Token(i)) {
                Some(end) => {
                    if let Some(mut s) = c.stream.take() {
                        let _ = poll.registry().deregister(&mut s);
                        let _ = s.shutdown(std::net::Shutdown::Both);
                    }
                    match end {
                        Err(f) => match c.conn.retry(&mut core, clock.now(), f) {
                            Ok(at) => {
                                c.retry_at = at;
                                wake = wake.min(at);
                            }
                            Err(f) => {
                                if let Some(c) = slot.take() {
                                    c.conn.finish(&mut core, Err(f));
                                }
                            }
                        },
                        Ok(()) => {
                            if let Some(c) = slot.take() {
                                c.conn.finish(&mut core, Ok(()));
                            }
                        }
                    }
                }
                None => {
                    if c.stream.is_none() {
                        wake = wake.min(c.retry_at);
                    } else if c.busy {
                        wake = now;
                    } else if c.connected {
                        if let Some(t) = c.conn.pump.next_timeout(clock.now()) {
                            wake = wake.min(t);
                        }
                    } else {
                        wake = wake.min(c.conn.created() + plan.connect_timeout + 1);
                    }
                }
            }
        }
        if let Some(t) = launcher.next_at() {
            // Paced, or held back by the handshake cap: look again soon.
            wake = wake.min(t.max(now + 1_000_000));
        }
        let now = clock.now();
        if core.live() == 0 {
            core.maybe_snapshot(now, true);
            return ShardExit::Finished;
        }
        core.maybe_snapshot(now, false);
        let wait = match alarm.as_mut() {
            Some(a) if wake > now => a.arm(now, wake),
            _ => Duration::from_nanos((wake - now).max(0) as u64),
        };
        if let Err(e) = poll.poll(&mut events, Some(wait)) {
            if e.kind() != std::io::ErrorKind::Interrupted {
                core.stats.on_error(format!("epoll_wait failed: {e}"));
                core.stop = true;
            }
        }
        for ev in events.iter() {
            if ev.token() == ALARM {
                if let Some(a) = alarm.as_mut() {
                    a.armed = None;
                }
                continue;
            }
            if let Some(Some(c)) = conns.get_mut(ev.token().0) {
                if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
                    c.readable = true;
                }
                if ev.is_writable() || ev.is_write_closed() || ev.is_error() {
                    c.writable = true;
                }
            }
        }
    }
}

/// Runs one connection as far as it can go now; `Some` when it ended. A lost connection whose
/// back-off is over is made again (registered under `token`).
fn service(
    c: &mut Watched,
    core: &mut Core,
    sp: &ShardPlan,
    poll: &Poll,
    token: Token,
) -> Option<conn::End> {
    let clock = sp.clock;
    let plan = &sp.plan;
    let now = clock.now();
    if let Some(end) = c.conn.on_stop(core, now, c.connected && c.stream.is_some()) {
        return Some(end);
    }
    let stream = match c.stream.as_mut() {
        Some(s) => s,
        None if now < c.retry_at => return None,
        None => {
            c.conn.renew(sp, now);
            match begin(sp, c.conn.spec(), poll, token) {
                Ok(s) => {
                    c.connected = false;
                    c.readable = false;
                    c.writable = false;
                    c.busy = false;
                    c.stream.insert(s)
                }
                Err(e) => {
                    let e = e.to_string();
                    let line = conn::connect_error(sp.addr, &e, plan.connect_timeout);
                    return Some(Err(Failure::lost(line)));
                }
            }
        }
    };
    if !c.connected {
        if !c.writable && !c.readable {
            if now - c.conn.created() > plan.connect_timeout {
                let line = conn::connect_error(sp.addr, "timed out", plan.connect_timeout);
                return Some(Err(Failure::lost(line)));
            }
            return None;
        }
        if let Ok(Some(e)) | Err(e) = stream.take_error() {
            let line = conn::connect_error(sp.addr, &e.to_string(), plan.connect_timeout);
            return Some(Err(Failure::lost(line)));
        }
        if stream.peer_addr().is_err() {
            // Spurious wake-up before the connect completed.
            c.readable = false;
            c.writable = false;
            return None;
        }
        let _ = stream.set_nodelay(true);
        c.connected = true;
    }
    c.conn.apply_commands(core, now);
    if c.conn.take_poke() {
        c.busy = true;
    }
    let due = c.conn.pump.next_timeout(now).is_some_and(|t| t <= now);
    if c.busy || c.readable || (c.writable && c.conn.pump.tx_pending()) || due {
        let mut io = Io {
            stream,
            readable: &mut c.readable,
            writable: &mut c.writable,
        };
        match c.conn.pump.step(&mut io, &clock, &mut core.stats) {
            Ok(busy) => c.busy = busy,
            Err(e) => return Some(Err(c.conn.io_failed(e))),
        }
    }
    c.conn.end_turn(core, clock.now())
}

/// Begins connection `spec` to the broker (from its source address, if it has one) and watches
/// it under `token`.
fn begin(sp: &ShardPlan, spec: ConnSpec, poll: &Poll, token: Token) -> std::io::Result<TcpStream> {
    let mut s = match sp.source_addr(spec) {
        Some(local) => TcpStream::from_std(crate::sys::connect_from(local, sp.addr)?),
        None => TcpStream::connect(sp.addr)?,
    };
    poll.registry()
        .register(&mut s, token, Interest::READABLE | Interest::WRITABLE)?;
    Ok(s)
}

fn fail_all(core: &mut Core, specs: &[ConnSpec]) {
    for spec in specs {
        let mut s = ConnState::Connecting;
        core.transition(&mut s, ConnState::Failed, spec.is_sender());
    }
}
