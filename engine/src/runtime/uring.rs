//! The io_uring runtime: one glommio `LocalExecutor` per shard, pinned to its CPU, one task per
//! connection. A task drives its pump from a single `poll_fn`: glommio's socket calls try a
//! non-blocking syscall first and register io_uring poll interest only when the socket would
//! block, so a busy sender makes one `send` per 64 KiB and no ring round trip.

use super::{ShardExit, ShardThread};
use crate::pump::{nonblocking, Pump, Transport};
use crate::session::Session;
use crate::shard::{
    handshake_expired, make_session, next_tick, rx_window, Command, ConnSpec, ConnState, Core,
    ShardPlan, MAX_IDLE,
};
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
    let mut waiting: Vec<ConnSpec> = Vec::new();
    for &spec in &sp.conns {
        match spec {
            ConnSpec::Accept(_) => waiting.push(spec),
            _ => {
                glommio::spawn_local(conn_task(core.clone(), sp.clone(), spec, None)).detach();
            }
        }
    }
    let accept_deadline = sp.clock.now() + 2 * sp.plan.connect_timeout;
    loop {
        let now = sp.clock.now();
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
        // Waiting for peer connections: look more often than the usual command poll.
        let tick = if waiting.is_empty() {
            10_000_000
        } else {
            1_000_000
        };
        let now = sp.clock.now();
        Timer::new(Duration::from_nanos((next_tick(now, tick) - now) as u64)).await;
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
        let fd = std::os::fd::AsRawFd::as_raw_fd(&*self.stream);
        // SAFETY: `buf` is valid for writes of its length; `fd` is this stream's open socket.
        let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT) };
        if n >= 0 {
            return Ok(Some(n as usize));
        }
        nonblocking(Err(std::io::Error::last_os_error()))
    }
}

/// Runs one connection: connects (or takes the accepted `adopted` stream), then pumps.
async fn conn_task(
    core: Rc<RefCell<Core>>,
    sp: Rc<ShardPlan>,
    spec: ConnSpec,
    adopted: Option<std::net::TcpStream>,
) {
    let clock = sp.clock;
    let plan = &sp.plan;
    let created = clock.now();
    let mut state = ConnState::Connecting;
    let timeout = Duration::from_nanos(plan.connect_timeout as u64);
    let connected = match adopted {
        // SAFETY: the descriptor comes from an owned std stream and is handed over whole.
        Some(s) => Ok(unsafe { TcpStream::from_raw_fd(s.into_raw_fd()) }),
        None => TcpStream::connect_timeout(sp.addr, timeout).await,
    };
    let mut stream = match connected {
        Ok(s) => s,
        Err(e) => {
            let mut c = core.borrow_mut();
            c.stats.on_error(super::connect_error(
                sp.addr,
                &e.to_string(),
                plan.connect_timeout,
            ));
            c.transition(&mut state, ConnState::Failed, spec.is_sender());
            return;
        }
    };
    let _ = stream.set_nodelay(true);
    let mut pump = Pump::new(make_session(plan, spec)).with_coalescing(rx_window(plan, spec));
    let mut started = false;
    let mut closing_since: Option<i64> = None;
    let mut drained: Option<u64> = None;
    // Still counted among the senders that are sending.
    let mut sending = spec.is_sender();
    let result: Result<(), String> = loop {
        let now = clock.now();
        {
            let mut c = core.borrow_mut();
            if c.stop {
                // Say goodbye, and give the peer a moment to hear it.
                match closing_since {
                    None => {
                        pump.session.close();
                        closing_since = Some(now);
                    }
                    Some(t) if now - t > super::CLOSE_GRACE => break Ok(()),
                    Some(_) => {}
                }
            }
            if let (Some(t0), false) = (c.t0, started) {
                pump.session.start(t0);
                started = true;
            }
            if c.drain.is_some() && c.drain != drained {
                pump.session.drain(now, c.drain.unwrap_or(0));
                drained = c.drain;
            }
            let to = Core::state_of(pump.session.phase());
            if to != ConnState::Done {
                c.transition(&mut state, to, sending);
            }
            if sending && pump.session.sending_done() {
                c.sender_finished();
                sending = false;
            }
        }
        if pump.done() {
            break Ok(());
        }
        if handshake_expired(&pump.session, created, now, plan.connect_timeout) {
            break Err(super::handshake_error(sp.addr, plan.connect_timeout));
        }
        let idle = next_tick(now, MAX_IDLE);
        let wait = (pump.next_timeout(now).map_or(idle, |t| t.min(idle)) - now).max(0);
        let mut timer = Timer::new(Duration::from_nanos(wait as u64));
        let r = poll_fn(|cx: &mut Context<'_>| {
            let r = {
                let mut io = Io {
                    stream: &mut stream,
                    cx,
                };
                let mut c = core.borrow_mut();
                pump.step(&mut io, &clock, &mut c.stats)
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
            break Err(super::describe(&pump, e, sp.addr));
        }
        glommio::yield_if_needed().await;
    };
    let _ = stream.shutdown(std::net::Shutdown::Both).await;
    let mut c = core.borrow_mut();
    super::end_connection(&mut c, &mut state, sending, &pump.session, result);
}
