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
    /// A plan the engine cannot run as given.
    Plan(&'static str),
}

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EngineError::Resolve(host, e) => write!(f, "cannot resolve {host}: {e}"),
            EngineError::Uring(e) => write!(f, "the io_uring backend was asked for but {e}"),
            EngineError::Spawn(e) => write!(f, "cannot start a shard: {e}"),
            EngineError::Plan(e) => write!(f, "{e}"),
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

/// Accepts the connections of every shard that has accept slots, each on its own listener,
/// and hands each to the shard the listener belongs to; gives up after `deadline` or when told
/// to stop (the shards fail the slots left empty).
fn accept_loop(
    mut shards: Vec<(TcpListener, Sender<std::net::TcpStream>, usize)>,
    stop: &AtomicBool,
    deadline: Duration,
) {
    for (l, _, _) in &shards {
        let _ = l.set_nonblocking(true);
    }
    let start = std::time::Instant::now();
    while !stop.load(Ordering::Relaxed) && start.elapsed() < deadline {
        let mut idle = true;
        for (listener, tx, left) in shards.iter_mut().filter(|s| s.2 > 0) {
            match listener.accept() {
                Ok((stream, _)) => {
                    let _ = stream.set_nonblocking(true);
                    let _ = stream.set_nodelay(true);
                    let _ = tx.send(stream);
                    *left -= 1;
                    idle = false;
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
        if shards.iter().all(|s| s.2 == 0) {
            return;
        }
        if idle {
            std::thread::sleep(Duration::from_millis(1));
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
/// shard `(senders + j) % n`, so a one-sender, one-receiver run uses two cores. Peer to peer
/// (`accept`), sender `j`'s receiving end sits on its shard: a pair on one core costs less per
/// message than a pair across two (the bytes stay in one core's cache, and no wake-up crosses
/// cores).
pub fn layout(senders: u32, receivers: u32, accept: bool, shards: usize) -> Vec<Vec<ConnSpec>> {
    let mut out = vec![Vec::new(); shards.max(1)];
    let n = out.len();
    for i in 0..senders {
        out[i as usize % n].push(ConnSpec::Sender(i));
    }
    for j in 0..receivers {
        if accept {
            out[j as usize % n].push(ConnSpec::Accept(j));
        } else {
            out[(senders + j) as usize % n].push(ConnSpec::Receiver(j));
        }
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
        if plan.peer && plan.shape.receivers != plan.shape.parallel {
            // Each shard's listener takes exactly its own senders' connections.
            return Err(EngineError::Plan(
                "peer to peer needs one receiving end per sender",
            ));
        }
        let mut layout = layout(
            plan.shape.parallel,
            plan.shape.receivers,
            plan.peer,
            placement.cpus.len(),
        );
        layout.retain(|c| !c.is_empty());
        // Peer to peer, every shard with accept slots listens on a loopback port of its own,
        // which its senders connect to: their receiving ends come back to it. Listening comes
        // first, so that the senders know where to go.
        let mut adopt = Vec::new();
        let mut adopt_rx = Vec::new();
        let mut ports = Vec::new();
        for conns in &layout {
            let slots = conns
                .iter()
                .filter(|c| matches!(c, ConnSpec::Accept(_)))
                .count();
            if plan.peer && slots > 0 {
                let l = TcpListener::bind("127.0.0.1:0").map_err(EngineError::Spawn)?;
                ports.push(Some(l.local_addr().map_err(EngineError::Spawn)?.port()));
                let (tx, rx) = crossbeam_channel::unbounded();
                adopt.push((l, tx, slots));
                adopt_rx.push(Some(rx));
            } else {
                ports.push(None);
                adopt_rx.push(None);
            }
        }
        let plan = match ports.iter().flatten().next() {
            Some(&port) => {
                let mut p = (*plan).clone();
                p.url.port = port;
                Arc::new(p)
            }
            None => plan,
        };
        let addr = resolve(&plan)?;
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
                addr: match ports[index] {
                    Some(port) => SocketAddr::new(addr.ip(), port),
                    None => addr,
                },
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
        let acceptor = (!adopt.is_empty()).then(|| {
            let stop = stop_accepting.clone();
            let deadline = Duration::from_nanos(plan.connect_timeout.max(0) as u64) * 2;
            std::thread::Builder::new()
                .name("allegro-accept".into())
                .spawn(move || accept_loop(adopt, &stop, deadline))
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
        // Peer to peer, each sender's receiving end on its own shard.
        assert_eq!(
            layout(1, 1, true, 2),
            vec![vec![ConnSpec::Sender(0), ConnSpec::Accept(0)], vec![]]
        );
        assert_eq!(
            layout(3, 3, true, 2),
            vec![
                vec![
                    ConnSpec::Sender(0),
                    ConnSpec::Sender(2),
                    ConnSpec::Accept(0),
                    ConnSpec::Accept(2)
                ],
                vec![ConnSpec::Sender(1), ConnSpec::Accept(1)]
            ]
        );
    }
}
