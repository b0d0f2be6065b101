//! The shard loop both runtimes share: one pinned thread per shard runs its connections' pumps
//! over a [`Reactor`], which says when sockets are ready, writes, and waits for the next
//! deadline. The runtimes differ only in their reactor (epoll, or io_uring directly).

use super::{ShardExit, ShardThread};
use crate::clock::{next_tick, Nanos};
use crate::pump::{nonblocking, Transport};
use crate::shard::conn::{self, Conn, Failure, MAX_IDLE};
use crate::shard::{Command, ConnSpec, ConnState, Core, ShardPlan};
use crate::stats::Snapshot;
use crossbeam_channel::{Receiver, Sender};
use mio::net::TcpStream;
use std::io::Read;

/// What a socket is ready for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Ready {
    pub readable: bool,
    pub writable: bool,
}

impl Ready {
    pub const WRITABLE: Ready = Ready {
        readable: false,
        writable: true,
    };
}

/// How a shard learns that sockets are ready, writes, and waits. Connections are known by
/// their index in the shard (`token`).
pub(crate) trait Reactor {
    /// Watches `stream` (non-blocking, maybe still connecting) under `token`.
    fn watch(&mut self, stream: &TcpStream, token: usize) -> std::io::Result<()>;
    /// Stops watching connection `token` and closes its socket (shut down both ways) once
    /// nothing the kernel has yet to take names its descriptor: its last staged bytes go out
    /// first, and the number is not given to another socket while an entry could still reach
    /// it.
    fn unwatch(&mut self, stream: TcpStream, token: usize);
    /// Writes (or hands the kernel) bytes of `buf` for connection `token`, under the contract
    /// of [`Transport::send`]: `Ok(None)` means a readiness report for `token` will follow.
    fn send(
        &mut self,
        token: usize,
        stream: &TcpStream,
        buf: &[u8],
    ) -> std::io::Result<Option<usize>>;
    /// Whether connection `token` reads on its own ticks (`true`) or wants to be woken when
    /// bytes arrive (see [`Transport::recv_quiet`]). A reactor may keep a quiet connection's
    /// readability from ending a wait.
    fn quiet(&mut self, _token: usize, _on: bool) {}
    /// Whether every byte handed over for `token` is written; if not, the connection is told
    /// it is writable once they are. A connection that ended well closes only then.
    fn flushed(&mut self, _token: usize) -> bool {
        true
    }
    /// An error of a write handed over earlier, reported once.
    fn take_error(&mut self, _token: usize) -> Option<std::io::Error> {
        None
    }
    /// Waits until `wake` (on the shard's clock, read as `now`) or until something is ready,
    /// reporting each ready connection to `ready`. `wake <= now` only collects what is there.
    fn wait(
        &mut self,
        now: Nanos,
        wake: Nanos,
        ready: &mut dyn FnMut(usize, Ready),
    ) -> std::io::Result<()>;
}

/// Starts the shard on its own pinned thread, with the reactor `make` builds there.
pub(crate) fn spawn<R: Reactor + 'static>(
    sp: ShardPlan,
    commands: Receiver<Command>,
    snapshots: Sender<Snapshot>,
    make: fn(&ShardPlan) -> std::io::Result<R>,
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
            shard_main(sp, commands, snapshots, make)
        })
        .map(ShardThread)
}

/// A connection and what the reactor said of its socket.
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
    /// The connection ended well and waits for its last bytes to be written until then.
    flush_by: Option<Nanos>,
    /// The session had bytes the socket had not taken at the end of its last turn. Kept here,
    /// beside the other flags, so that a pass does not reach into every connection's session
    /// to skip it (only a turn changes what the session holds).
    tx_waiting: bool,
}

/// What a pass reads to skip a connection without touching its (large) state: until when it
/// has nothing to do (`Nanos::MIN`: look at it now), and the command count it last saw. Kept in
/// an array of their own, so that a pass over idle connections stays in the cache.
#[derive(Debug, Clone, Copy)]
struct Hot {
    until: Nanos,
    seen: u64,
}

impl Hot {
    const LOOK: Hot = Hot {
        until: Nanos::MIN,
        seen: u64::MAX,
    };
}

impl Watched {
    /// Whether it has nothing to do until its own deadline: no readiness it must act on, no
    /// step left unfinished, no last bytes to flush.
    fn idle(&self) -> bool {
        let io = self.readable || (self.writable && (!self.connected || self.tx_waiting));
        self.flush_by.is_none() && !self.busy && !io
    }
}

struct Io<'a, R> {
    reactor: &'a mut R,
    token: usize,
    stream: &'a mut TcpStream,
    readable: &'a mut bool,
    writable: &'a mut bool,
}

impl<R: Reactor> Io<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<Option<usize>> {
        if let Some(e) = self.reactor.take_error(self.token) {
            return Err(e);
        }
        if !*self.readable {
            return Ok(None);
        }
        let r = nonblocking(self.stream.read(buf))?;
        if r.is_none() {
            *self.readable = false;
        }
        Ok(r)
    }
}

impl<R: Reactor> Transport for Io<'_, R> {
    fn recv(&mut self, buf: &mut [u8]) -> std::io::Result<Option<usize>> {
        self.reactor.quiet(self.token, false);
        self.read(buf)
    }

    fn send(&mut self, buf: &[u8]) -> std::io::Result<Option<usize>> {
        if let Some(e) = self.reactor.take_error(self.token) {
            return Err(e);
        }
        if !*self.writable {
            return Ok(None);
        }
        let r = self.reactor.send(self.token, self.stream, buf)?;
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
        self.reactor.quiet(self.token, true);
        self.read(buf)
    }
}

fn shard_main<R: Reactor>(
    sp: ShardPlan,
    commands: Receiver<Command>,
    snapshots: Sender<Snapshot>,
    make: fn(&ShardPlan) -> std::io::Result<R>,
) -> ShardExit {
    let clock = sp.clock;
    let plan = &sp.plan;
    let mut core = Core::new(&sp, commands, snapshots);
    let mut reactor = match make(&sp) {
        Ok(r) => r,
        Err(e) => {
            core.stats
                .on_error(format!("cannot start the shard's reactor: {e}"));
            fail_all(&mut core, &sp.conns);
            core.maybe_snapshot(clock.now(), true);
            return ShardExit::Finished;
        }
    };
    let mut conns: Vec<Option<Watched>> = sp.conns.iter().map(|_| None).collect();
    let mut hot = vec![Hot::LOOK; conns.len()];
    // Peer to peer: accept slots wait for the acceptor's streams (index in `conns`, spec).
    let mut waiting: Vec<(usize, ConnSpec)> = (sp.conns.iter().copied().enumerate())
        .filter(|(_, c)| matches!(c, ConnSpec::Accept(_)))
        .collect();
    let accept_deadline = clock.now() + 2 * plan.connect_timeout;
    let mut launcher = sp.launcher(clock.now());
    // Bumped whenever a command changes what the connections must do.
    let mut commands = 0u64;
    loop {
        let before = (core.t0, core.drain, core.stop);
        core.poll_commands(plan.shape.warmup);
        commands += u64::from((core.t0, core.drain, core.stop) != before);
        if core.stop {
            for (_, spec) in launcher.drain() {
                core.never_begun(spec);
            }
        }
        while let Some((i, spec)) = launcher.next(clock.now(), core.handshaking) {
            core.handshaking += 1;
            match begin(&sp, spec, &mut reactor, i) {
                Ok(stream) => {
                    hot[i] = Hot::LOOK;
                    conns[i] = Some(Watched {
                        stream: Some(stream),
                        retry_at: 0,
                        conn: Conn::new(&sp, spec, clock.now()).launched(),
                        connected: false,
                        readable: false,
                        writable: false,
                        busy: false,
                        flush_by: None,
                        tx_waiting: false,
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
                let _ = s.set_nonblocking(true);
                let stream = TcpStream::from_std(s);
                if let Err(e) = reactor.watch(&stream, i) {
                    core.stats
                        .on_error(format!("cannot watch an accepted connection: {e}"));
                    let mut st = ConnState::Connecting;
                    core.transition(&mut st, ConnState::Failed, false);
                    continue;
                }
                hot[i] = Hot::LOOK;
                conns[i] = Some(Watched {
                    stream: Some(stream),
                    retry_at: 0,
                    conn: Conn::new(&sp, spec, clock.now()),
                    connected: true,
                    readable: true,
                    writable: true,
                    busy: true,
                    flush_by: None,
                    tx_waiting: false,
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
            // Nothing to do before its own deadline, no readiness, no new command: skipped, so
            // a tick costs the connections due in it, not all of the shard's.
            let h = hot[i];
            if h.seen == commands && now < h.until {
                wake = wake.min(h.until);
                continue;
            }
            // When to look at it again without readiness (`MIN`: at the next pass).
            let mut next_at = Nanos::MIN;
            'visit: {
                let Some(c) = slot else { break 'visit };
                let at = clock.now();
                let end = match c.flush_by {
                    Some(_) => Some(Ok(())),
                    None => service(c, &mut core, &sp, &mut reactor, i, at),
                };
                if matches!(end, Some(Ok(()))) && c.stream.is_some() && !reactor.flushed(i) {
                    // It ended well, and its last words are still on their way: the socket stays
                    // open (and unread) until they are written, for the connect timeout at most.
                    let by = *c.flush_by.get_or_insert(now + plan.connect_timeout);
                    if clock.now() < by {
                        wake = wake.min(by);
                        break 'visit;
                    }
                }
                match end {
                    Some(end) => {
                        if let Some(s) = c.stream.take() {
                            reactor.unwatch(s, i);
                        }
                        match end {
                            Err(f) => match c.conn.retry(&mut core, clock.now(), f) {
                                Ok(at) => {
                                    c.retry_at = at;
                                    next_at = at;
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
                        // Looked at again by the idle cap at the latest (stalls, handshake limits).
                        let idle = next_tick(now, MAX_IDLE);
                        next_at = if c.stream.is_none() {
                            c.retry_at
                        } else if c.busy {
                            now
                        } else if c.connected {
                            c.tx_waiting = c.conn.pump.tx_pending();
                            (c.conn.pump.next_timeout(at)).map_or(idle, |t| t.min(idle))
                        } else {
                            (c.conn.created() + plan.connect_timeout + 1).min(idle)
                        };
                        wake = wake.min(next_at);
                    }
                }
            }
            hot[i] = Hot {
                until: match slot {
                    Some(c) if c.idle() => next_at,
                    Some(_) => Nanos::MIN,
                    None => Nanos::MAX,
                },
                seen: commands,
            };
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
        let now = clock.now();
        let r = reactor.wait(now, wake, &mut |token, ready| {
            if let Some(Some(c)) = conns.get_mut(token) {
                c.readable |= ready.readable;
                c.writable |= ready.writable;
                hot[token].until = Nanos::MIN;
            }
        });
        if let Err(e) = r {
            if e.kind() != std::io::ErrorKind::Interrupted {
                core.stats
                    .on_error(format!("waiting for sockets failed: {e}"));
                core.stop = true;
                commands += 1;
            }
        }
    }
}

/// Runs one connection as far as it can go now; `Some` when it ended. A lost connection whose
/// back-off is over is made again (registered under `token`).
fn service<R: Reactor>(
    c: &mut Watched,
    core: &mut Core,
    sp: &ShardPlan,
    reactor: &mut R,
    token: usize,
    now: Nanos,
) -> Option<conn::End> {
    let clock = sp.clock;
    let plan = &sp.plan;
    if let Some(end) = c.conn.on_stop(core, now, c.connected && c.stream.is_some()) {
        return Some(end);
    }
    let stream = match c.stream.as_mut() {
        Some(s) => s,
        None if now < c.retry_at => return None,
        None => {
            c.conn.renew(sp, now);
            match begin(sp, c.conn.spec(), reactor, token) {
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
    let mut end_at = now;
    if c.busy || c.readable || (c.writable && c.conn.pump.tx_pending()) || due {
        let mut io = Io {
            reactor,
            token,
            stream,
            readable: &mut c.readable,
            writable: &mut c.writable,
        };
        match c.conn.pump.step(&mut io, &clock, now, &mut core.stats) {
            Ok((busy, at)) => {
                c.busy = busy;
                // The connect time and a write stall are measured to the step's last reading.
                end_at = at;
            }
            Err(e) => return Some(Err(c.conn.io_failed(e))),
        }
    }
    c.conn.end_turn(core, end_at)
}

/// Begins connection `spec` to the broker (from its source address, if it has one) and watches
/// it under `token`.
fn begin<R: Reactor>(
    sp: &ShardPlan,
    spec: ConnSpec,
    reactor: &mut R,
    token: usize,
) -> std::io::Result<TcpStream> {
    let s = match sp.source_addr(spec) {
        Some(local) => TcpStream::from_std(crate::sys::connect_from(local, sp.addr)?),
        None => TcpStream::connect(sp.addr)?,
    };
    reactor.watch(&s, token)?;
    Ok(s)
}

fn fail_all(core: &mut Core, specs: &[ConnSpec]) {
    for spec in specs {
        let mut s = ConnState::Connecting;
        core.transition(&mut s, ConnState::Failed, spec.is_sender());
    }
}
