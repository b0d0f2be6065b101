//! Starting shards: connections spread over the placement, one runtime thread per CPU.

use crate::clock::{Clock, Nanos, NANOS_PER_SEC};
use crate::placement::Placement;
use crate::plan::Plan;
use crate::runtime::{self, Backend, ShardExit, ShardThread};
use crate::shard::{Command, ConnSpec, ShardPlan};
use crate::stats::Snapshot;
use crossbeam_channel::{Receiver, Sender};
use std::fmt;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Why the engine could not start.
#[derive(Debug)]
pub enum EngineError {
    Resolve(String, String),
    Uring(String),
    Spawn(std::io::Error),
}

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EngineError::Resolve(host, e) => write!(f, "cannot resolve {host}: {e}"),
            EngineError::Uring(e) => write!(f, "the io_uring backend was asked for but {e}"),
            EngineError::Spawn(e) => write!(f, "cannot start a shard: {e}"),
        }
    }
}

impl std::error::Error for EngineError {}

/// Running shards.
#[derive(Debug)]
pub struct Engine {
    pub backend: Backend,
    /// Why the epoll backend was chosen when io_uring was not asked against.
    pub fallback: Option<String>,
    pub addr: SocketAddr,
    /// Connections per shard, in shard order.
    pub layout: Vec<Vec<ConnSpec>>,
    pub snapshots: Receiver<Snapshot>,
    commands: Vec<Sender<Command>>,
    threads: Vec<ShardThread>,
    acceptor: Option<std::thread::JoinHandle<()>>,
    stop_accepting: Arc<AtomicBool>,
}

/// Accepts one connection per accept slot and deals them out to the shards in slot order; gives
/// up after `deadline` or when told to stop (the shards fail the slots left empty).
fn accept_loop(
    listener: TcpListener,
    mut shards: Vec<(Sender<std::net::TcpStream>, usize)>,
    stop: &AtomicBool,
    deadline: Duration,
) {
    let _ = listener.set_nonblocking(true);
    let start = std::time::Instant::now();
    let mut next = 0;
    while next < shards.len() && !stop.load(Ordering::Relaxed) && start.elapsed() < deadline {
        match listener.accept() {
            Ok((stream, _)) => {
                let _ = stream.set_nonblocking(true);
                let _ = stream.set_nodelay(true);
                let (tx, left) = &mut shards[next];
                let _ = tx.send(stream);
                *left -= 1;
                if *left == 0 {
                    next += 1;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(1))
            }
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

/// Picks the backend: the one asked for, else io_uring when the kernel allows it.
pub fn choose_backend(asked: Option<Backend>) -> Result<(Backend, Option<String>), EngineError> {
    match asked {
        Some(Backend::Epoll) => Ok((Backend::Epoll, None)),
        Some(Backend::Uring) => crate::sys::uring_available()
            .map(|()| (Backend::Uring, None))
            .map_err(EngineError::Uring),
        None => Ok(match crate::sys::uring_available() {
            Ok(()) => (Backend::Uring, None),
            Err(why) => (Backend::Epoll, Some(why)),
        }),
    }
}

/// Resolves the plan's broker address.
pub fn resolve(plan: &Plan) -> Result<SocketAddr, EngineError> {
    let host = plan.url.authority();
    host.to_socket_addrs()
        .map_err(|e| EngineError::Resolve(host.clone(), e.to_string()))?
        .next()
        .ok_or_else(|| EngineError::Resolve(host, "no address".into()))
}

/// Spreads senders and receivers over `shards`: sender `i` on shard `i % n`, receiver `j` on
/// shard `(senders + j) % n`, so a one-sender, one-receiver run uses two cores.
pub fn layout(senders: u32, receivers: u32, accept: bool, shards: usize) -> Vec<Vec<ConnSpec>> {
    let mut out = vec![Vec::new(); shards.max(1)];
    let n = out.len();
    for i in 0..senders {
        out[i as usize % n].push(ConnSpec::Sender(i));
    }
    for j in 0..receivers {
        let spec = if accept {
            ConnSpec::Accept(j)
        } else {
            ConnSpec::Receiver(j)
        };
        out[(senders + j) as usize % n].push(spec);
    }
    out
}

impl Engine {
    /// Starts one shard per CPU of `placement` (shards without connections are not started).
    pub fn start(
        plan: Arc<Plan>,
        placement: &Placement,
        backend: Option<Backend>,
        clock: Clock,
    ) -> Result<Engine, EngineError> {
        let (backend, fallback) = choose_backend(backend)?;
        // Peer to peer: listen on loopback first, so that the senders know where to go.
        let (plan, listener) = if plan.peer {
            let l = TcpListener::bind("127.0.0.1:0").map_err(EngineError::Spawn)?;
            let mut p = (*plan).clone();
            p.url.port = l.local_addr().map_err(EngineError::Spawn)?.port();
            (Arc::new(p), Some(l))
        } else {
            (plan, None)
        };
        let addr = resolve(&plan)?;
        let mut layout = layout(
            plan.shape.parallel,
            plan.shape.receivers,
            plan.peer,
            placement.cpus.len(),
        );
        layout.retain(|c| !c.is_empty());
        // One adoption channel per shard with accept slots; the acceptor hands each accepted
        // connection to the shard whose slot is next.
        let mut adopt_tx = Vec::new();
        let mut adopt_rx = Vec::new();
        for conns in &layout {
            let slots = conns
                .iter()
                .filter(|c| matches!(c, ConnSpec::Accept(_)))
                .count();
            if slots > 0 && listener.is_some() {
                let (tx, rx) = crossbeam_channel::unbounded();
                adopt_tx.push((tx, slots));
                adopt_rx.push(Some(rx));
            } else {
                adopt_rx.push(None);
            }
        }
        let (snap_tx, snapshots) = crossbeam_channel::unbounded();
        let mut commands = Vec::new();
        let mut threads = Vec::new();
        for (index, conns) in layout.iter().enumerate() {
            let (cmd_tx, cmd_rx) = crossbeam_channel::unbounded();
            let sp = ShardPlan {
                index,
                adopt: adopt_rx[index].take(),
                cpu: placement.cpus[index],
                plan: plan.clone(),
                addr,
                conns: conns.clone(),
                clock,
                // Each shard begins its share of the run's connection rate.
                connect_interval: plan.connect_rate.map_or(0, |r| {
                    (layout.len() as f64 * NANOS_PER_SEC as f64 / r).round() as Nanos
                }),
            };
            let t = match backend {
                Backend::Uring => runtime::ring::spawn(sp, cmd_rx, snap_tx.clone()),
                Backend::Epoll => runtime::epoll::spawn(sp, cmd_rx, snap_tx.clone()),
            };
            match t {
                Ok(t) => threads.push(t),
                Err(e) => {
                    for c in &commands {
                        let _: Result<(), _> = Sender::send(c, Command::Stop);
                    }
                    return Err(EngineError::Spawn(e));
                }
            }
            commands.push(cmd_tx);
        }
        let stop_accepting = Arc::new(AtomicBool::new(false));
        let acceptor = listener.map(|l| {
            let stop = stop_accepting.clone();
            let deadline = Duration::from_nanos(plan.connect_timeout.max(0) as u64) * 2;
            std::thread::Builder::new()
                .name("allegro-accept".into())
                .spawn(move || accept_loop(l, adopt_tx, &stop, deadline))
        });
        let acceptor = match acceptor {
            Some(Ok(t)) => Some(t),
            Some(Err(e)) => return Err(EngineError::Spawn(e)),
            None => None,
        };
        Ok(Engine {
            backend,
            fallback,
            addr,
            layout,
            snapshots,
            commands,
            threads,
            acceptor,
            stop_accepting,
        })
    }

    /// Sends `cmd` to every shard.
    pub fn broadcast(&self, cmd: Command) {
        for c in &self.commands {
            let _ = c.send(cmd);
        }
    }

    pub fn shard_count(&self) -> usize {
        self.layout.len()
    }

    /// Waits for every shard thread; returns how many panicked.
    pub fn join(self) -> usize {
        self.stop_accepting.store(true, Ordering::Relaxed);
        if let Some(a) = self.acceptor {
            let _ = a.join();
        }
        self.threads
            .into_iter()
            .map(ShardThread::join)
            .filter(|e| *e == ShardExit::Panicked)
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spreads_connections() {
        let l = layout(1, 1, false, 2);
        assert_eq!(
            l,
            vec![vec![ConnSpec::Sender(0)], vec![ConnSpec::Receiver(0)]]
        );
        let l = layout(3, 2, false, 2);
        assert_eq!(
            l[0],
            vec![
                ConnSpec::Sender(0),
                ConnSpec::Sender(2),
                ConnSpec::Receiver(1)
            ]
        );
        assert_eq!(l[1], vec![ConnSpec::Sender(1), ConnSpec::Receiver(0)]);
        assert_eq!(
            layout(2, 0, false, 1),
            vec![vec![ConnSpec::Sender(0), ConnSpec::Sender(1)]]
        );
        assert_eq!(layout(1, 1, true, 2)[1], vec![ConnSpec::Accept(0)]);
    }
}
