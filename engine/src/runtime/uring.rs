//! The io_uring runtime: one glommio `LocalExecutor` per shard, pinned to its CPU, one task per
//! connection. A task drives its pump from a single `poll_fn`: glommio's socket calls try a
//! non-blocking syscall first and register io_uring poll interest only when the socket would
//! block, so a busy sender makes one `send` per 64 KiB and no ring round trip.

use super::{ShardExit, ShardThread};
use crate::clock::{next_tick, Nanos};
use crate::pump::{nonblocking, Transport};
use crate::shard::conn::{self, Conn, Failure};
use crate::shard::{Command, ConnSpec, Core, ShardPlan};
use crate::stats::Snapshot;
use crossbeam_channel::{Receiver, Sender};
use futures_lite::io::{AsyncRead, AsyncWrite};
use glommio::net::TcpStream;
use glommio::timer::Timer;
use glommio::{LocalExecutorBuilder, Placement};
use std::cell::RefCell;
use std::future::{poll_fn, Future};
use std::os::fd::{FromRawFd, IntoRawFd};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

/// Starts the shard on its own pinned executor thread.
pub fn spawn(
    sp: ShardPlan,
    commands: Receiver<Command>,
    snapshots: Sender<Snapshot>,
) -> std::io::Result<ShardThread> {
    let name = format!("allegro-shard-{}", sp.index);
    LocalExecutorBuilder::new(Placement::Fixed(sp.cpu))
        .name(&name)
        // Sockets only: the registered buffers for storage I/O (10 MiB by default, pinned at
        // start-up, a few milliseconds per shard) would go unused.
        .io_memory(64 * 1024)
        .spawn(move || async move { shard_main(sp, commands, snapshots).await })
        .map(ShardThread::Uring)
        .map_err(|e| std::io::Error::other(e.to_string()))
}

async fn shard_main(
    sp: ShardPlan,
    commands: Receiver<Command>,
    snapshots: Sender<Snapshot>,
) -> ShardExit {
    let core = Rc::new(RefCell::new(Core::new(&sp, commands, snapshots)));
    let mut sp = sp;
    let adopt = sp.adopt.take();
    let sp = Rc::new(sp);
    let mut waiting: Vec<ConnSpec> = sp
        .conns
        .iter()
        .copied()
        .filter(|c| matches!(c, ConnSpec::Accept(_)))
        .collect();
    let mut launcher = sp.launcher(sp.clock.now());
    let accept_deadline = sp.clock.now() + 2 * sp.plan.connect_timeout;
    loop {
        let now = sp.clock.now();
        loop {
            let next = {
                let mut c = core.borrow_mut();
                if c.stop {
                    for (_, spec) in launcher.drain() {
                        c.never_begun(spec);
                    }
                }
                let next = launcher.next(now, c.handshaking);
                c.handshaking += u32::from(next.is_some());
                next
            };
            // Not while `core` is borrowed: a task may run as soon as it is spawned.
            let Some((_, spec)) = next else { break };
            glommio::spawn_local(conn_task(core.clone(), sp.clone(), spec, None)).detach();
        }
        if let Some(rx) = &adopt {
            while let (false, Ok(stream)) = (waiting.is_empty(), rx.try_recv()) {
                let spec = waiting.remove(0);
                glommio::spawn_local(conn_task(core.clone(), sp.clone(), spec, Some(stream)))
                    .detach();
            }
        }
        if !waiting.is_empty() && now > accept_deadline {
            super::fail_unaccepted(&mut core.borrow_mut(), &mut waiting);
        }
        {
            let mut c = core.borrow_mut();
            c.poll_commands(sp.plan.shape.warmup);
            if c.live() == 0 {
                c.maybe_snapshot(now, true);
                return ShardExit::Finished;
            }
            c.maybe_snapshot(now, false);
        }
        // Waiting for peer connections or beginning its own: look more often than the usual
        // command poll.
        let tick = if waiting.is_empty() && launcher.pending() == 0 {
            10_000_000
        } else {
            1_000_000
        };
        let now = sp.clock.now();
        let wake = launcher
            .next_at()
            .filter(|&t| t > now)
            .map_or(next_tick(now, tick), |t| t.min(next_tick(now, tick)));
        Timer::new(Duration::from_nanos((wake - now) as u64)).await;
    }
}

struct Io<'a, 'b> {
    stream: &'a mut TcpStream,
    cx: &'a mut Context<'b>,
}

impl Transport for Io<'_, '_> {
    fn recv(&mut self, buf: &mut [u8]) -> std::io::Result<Option<usize>> {
        match Pin::new(&mut *self.stream).poll_read(self.cx, buf) {
            Poll::Ready(r) => nonblocking(r),
            Poll::Pending => Ok(None),
        }
    }

    fn send(&mut self, buf: &[u8]) -> std::io::Result<Option<usize>> {
        match Pin::new(&mut *self.stream).poll_write(self.cx, buf) {
            Poll::Ready(r) => nonblocking(r),
            Poll::Pending => Ok(None),
        }
    }

    fn socket(&self) -> Option<std::os::fd::RawFd> {
        Some(std::os::fd::AsRawFd::as_raw_fd(&*self.stream))
    }

    fn recv_quiet(&mut self, buf: &mut [u8]) -> std::io::Result<Option<usize>> {
        // Straight to the socket: glommio's `poll_read` does not try it while a readiness poll
        // it armed after a short read is in flight, and arms one after each short read.
        crate::sys::recv_dontwait(std::os::fd::AsRawFd::as_raw_fd(&*self.stream), buf)
    }
}

/// Runs one connection: connects (or takes the accepted `adopted` stream), then pumps; with
/// `--reconnect`, a lost connection is made again after its back-off, as often as it allows.
async fn conn_task(
    core: Rc<RefCell<Core>>,
    sp: Rc<ShardPlan>,
    spec: ConnSpec,
    adopted: Option<std::net::TcpStream>,
) {
    let clock = sp.clock;
    let created = clock.now();
    let launched = adopted.is_none();
    let connected = match adopted {
        // SAFETY: the descriptor comes from an owned std stream and is handed over whole.
        Some(s) => Ok(unsafe { TcpStream::from_raw_fd(s.into_raw_fd()) }),
        None => connect(&sp, spec).await,
    };
    let mut stream = match connected {
        Ok(s) => s,
        Err(e) => {
            let mut c = core.borrow_mut();
            return conn::connect_failed(&mut c, spec, sp.addr, &e, sp.plan.connect_timeout);
        }
    };
    let mut conn = Conn::new(&sp, spec, created);
    if launched {
        conn = conn.launched();
    }
    loop {
        let _ = stream.set_nodelay(true);
        let end = drive(&core, &clock, &mut conn, &mut stream).await;
        let _ = stream.shutdown(std::net::Shutdown::Both).await;
        let mut failure = match end {
            Ok(()) => return conn.finish(&mut core.borrow_mut(), Ok(())),
            Err(f) => f,
        };
        // Made again after the back-off, until a try connects or the back-off gives up.
        stream = loop {
            let retry = conn.retry(&mut core.borrow_mut(), clock.now(), failure);
            let at = match retry {
                Ok(at) => at,
                Err(f) => return conn.finish(&mut core.borrow_mut(), Err(f)),
            };
            if !sleep_until(&core, &clock, at).await {
                return conn.finish(&mut core.borrow_mut(), Ok(()));
            }
            conn.renew(&sp, clock.now());
            match connect(&sp, spec).await {
                Ok(s) => break s,
                Err(e) => {
                    failure =
                        Failure::lost(conn::connect_error(sp.addr, &e, sp.plan.connect_timeout));
                }
            }
        };
    }
}

/// Connects connection `spec` to the broker, from its source address if it has one; `Err`
/// with the error's words.
async fn connect(sp: &ShardPlan, spec: ConnSpec) -> Result<TcpStream, String> {
    let timeout = Duration::from_nanos(sp.plan.connect_timeout as u64);
    let Some(local) = sp.source_addr(spec) else {
        return TcpStream::connect_timeout(sp.addr, timeout)
            .await
            .map_err(|e| e.to_string());
    };
    let begun = crate::sys::connect_from(local, sp.addr).map_err(|e| e.to_string())?;
    // SAFETY: the descriptor comes from an owned std stream and is handed over whole.
    let mut stream = unsafe { TcpStream::from_raw_fd(begun.into_raw_fd()) };
    // An empty send waits for the connect: it would block until the connection is up, and
    // fails with the connect's error.
    let mut timer = Timer::new(timeout);
    poll_fn(
        |cx: &mut Context<'_>| match Pin::new(&mut stream).poll_write(cx, &[]) {
            Poll::Ready(r) => Poll::Ready(r.map(|_| ()).map_err(|e| e.to_string())),
            Poll::Pending => match Pin::new(&mut timer).poll(cx) {
                Poll::Ready(_) => Poll::Ready(Err("connection timed out".to_string())),
                Poll::Pending => Poll::Pending,
            },
        },
    )
    .await?;
    Ok(stream)
}

/// Waits until `at`; false if the run was stopped first.
async fn sleep_until(core: &Rc<RefCell<Core>>, clock: &crate::clock::Clock, at: Nanos) -> bool {
    loop {
        if core.borrow().stop {
            return false;
        }
        let now = clock.now();
        if now >= at {
            return true;
        }
        let wait = (at - now).min(conn::MAX_IDLE);
        Timer::new(Duration::from_nanos(wait as u64)).await;
    }
}

/// Pumps one connected stream until the connection ends.
async fn drive(
    core: &Rc<RefCell<Core>>,
    clock: &crate::clock::Clock,
    conn: &mut Conn,
    stream: &mut TcpStream,
) -> conn::End {
    loop {
        let now = clock.now();
        {
            let mut c = core.borrow_mut();
            if let Some(end) = conn.on_stop(&c, now, true) {
                return end;
            }
            conn.apply_commands(&c, now);
            conn.take_poke();
            if let Some(end) = conn.end_turn(&mut c, now) {
                return end;
            }
        }
        let wait = (conn.wake_at(now) - now).max(0);
        let mut timer = Timer::new(Duration::from_nanos(wait as u64));
        let pump = &mut conn.pump;
        let r = poll_fn(|cx: &mut Context<'_>| {
            let r = {
                let mut io = Io {
                    stream: &mut *stream,
                    cx,
                };
                let mut c = core.borrow_mut();
                pump.step(&mut io, clock, &mut c.stats)
            };
            match r {
                Err(e) => Poll::Ready(Err(e)),
                Ok(true) => Poll::Ready(Ok(())),
                Ok(false) if pump.done() => Poll::Ready(Ok(())),
                Ok(false) => match Pin::new(&mut timer).poll(cx) {
                    Poll::Ready(_) => Poll::Ready(Ok(())),
                    Poll::Pending => Poll::Pending,
                },
            }
        })
        .await;
        if let Err(e) = r {
            return Err(conn.io_failed(e));
        }
        glommio::yield_if_needed().await;
    }
}
