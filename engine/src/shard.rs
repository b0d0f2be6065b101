//! What every shard has, whatever its runtime: the connections it was given, its statistics, the
//! commands from the control thread and the snapshots it sends back.

use crate::clock::{Clock, Nanos, NANOS_PER_SEC};
use crate::plan::Plan;
use crate::session::amqp::{AmqpConfig, AmqpSenderPlan, AmqpSession};
use crate::session::mqtt::{MqttConfig, MqttSession, SenderPlan};
use crate::session::AnySession;
use crate::session::{Phase, Session};
use crate::stats::{ConnCounts, ShardStats, Snapshot};
use crate::url::Scheme;
use allegro_wire::mqtt::{Protocol, QoS};
use crossbeam_channel::{Receiver, Sender};
use std::net::SocketAddr;
use std::sync::Arc;

/// One connection a shard owns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnSpec {
    /// Sender with this connection id (0-based across the run).
    Sender(u32),
    /// Receiver with this index.
    Receiver(u32),
    /// Peer to peer: the accepting end of a sender's connection, with this index.
    Accept(u32),
}

impl ConnSpec {
    pub fn is_sender(self) -> bool {
        matches!(self, ConnSpec::Sender(_))
    }
}

/// Control thread → shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Senders start their schedules at `t0`.
    Start { t0: Nanos },
    /// Every sender of the run finished; each receiver should see `expected` messages.
    Drain { expected: u64 },
    /// Close everything now.
    Stop,
}

/// What a shard thread is given.
#[derive(Debug, Clone)]
pub struct ShardPlan {
    pub index: usize,
    /// Peer to peer: accepted connections for this shard's `Accept` slots arrive here.
    pub adopt: Option<Receiver<std::net::TcpStream>>,
    pub cpu: usize,
    pub plan: Arc<Plan>,
    pub addr: SocketAddr,
    pub conns: Vec<ConnSpec>,
    pub clock: Clock,
}

/// A connection's state as counted in [`ConnCounts`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnState {
    Connecting,
    Up,
    Done,
    Failed,
}

/// How often shards report.
pub const SNAPSHOT_EVERY: Nanos = NANOS_PER_SEC;

/// Shard bookkeeping shared by the runtimes.
#[derive(Debug)]
pub struct Core {
    pub index: usize,
    pub cpu: usize,
    pub stats: ShardStats,
    pub counts: ConnCounts,
    pub t0: Option<Nanos>,
    pub drain: Option<u64>,
    pub stop: bool,
    commands: Receiver<Command>,
    snapshots: Sender<Snapshot>,
    last_snapshot: Nanos,
    /// Counts as of the last snapshot: a change in `connecting` or `senders_active` to zero is
    /// reported at once, so the control thread starts and drains without waiting a second.
    reported: ConnCounts,
}

impl Core {
    pub fn new(sp: &ShardPlan, commands: Receiver<Command>, snapshots: Sender<Snapshot>) -> Self {
        let senders = sp.conns.iter().filter(|c| c.is_sender()).count() as u32;
        Core {
            index: sp.index,
            cpu: sp.cpu,
            // Everything is recorded until `Start` says where the warm-up ends (nothing is sent
            // before `t0`, and `Start` arrives well before it).
            stats: ShardStats::new(Nanos::MIN),
            counts: ConnCounts {
                connecting: sp.conns.len() as u32,
                senders_active: senders,
                ..Default::default()
            },
            t0: None,
            drain: None,
            stop: false,
            commands,
            snapshots,
            last_snapshot: sp.clock.now(),
            reported: ConnCounts {
                connecting: u32::MAX,
                senders_active: u32::MAX,
                ..Default::default()
            },
        }
    }

    /// Applies pending commands. A vanished control thread means stop.
    pub fn poll_commands(&mut self, warmup: Nanos) {
        loop {
            match self.commands.try_recv() {
                Ok(Command::Start { t0 }) => {
                    self.t0 = Some(t0);
                    self.stats.record_from = t0 + warmup;
                }
                Ok(Command::Drain { expected }) => self.drain = Some(expected),
                Ok(Command::Stop) => self.stop = true,
                Err(crossbeam_channel::TryRecvError::Empty) => break,
                Err(crossbeam_channel::TryRecvError::Disconnected) => {
                    self.stop = true;
                    break;
                }
            }
        }
    }

    /// Moves a connection from one counted state to another. `sender` is true for a sender that
    /// has not been counted out by [`sender_finished`](Self::sender_finished) yet.
    pub fn transition(&mut self, state: &mut ConnState, to: ConnState, sender: bool) {
        if *state == to {
            return;
        }
        let c = &mut self.counts;
        match *state {
            ConnState::Connecting => c.connecting -= 1,
            ConnState::Up => c.up -= 1,
            ConnState::Done | ConnState::Failed => return,
        }
        match to {
            ConnState::Connecting => c.connecting += 1,
            ConnState::Up => c.up += 1,
            ConnState::Done => c.done += 1,
            ConnState::Failed => c.failed += 1,
        }
        if sender && matches!(to, ConnState::Done | ConnState::Failed) {
            c.senders_active -= 1;
        }
        *state = to;
    }

    /// A sender finished its schedule before its connection ended.
    pub fn sender_finished(&mut self) {
        self.counts.senders_active -= 1;
    }

    /// Counted state for a session phase; a sender that finished its schedule counts as done
    /// for the run even while its DISCONNECT drains.
    pub fn state_of(phase: Phase) -> ConnState {
        match phase {
            Phase::Handshake => ConnState::Connecting,
            Phase::Ready | Phase::Running => ConnState::Up,
            Phase::Finished => ConnState::Done,
        }
    }

    /// Connections not yet done or failed.
    pub fn live(&self) -> u32 {
        self.counts.connecting + self.counts.up
    }

    /// Sends a snapshot if one is due (or `last`). A full channel never blocks the shard.
    pub fn maybe_snapshot(&mut self, now: Nanos, last: bool) {
        let c = self.counts;
        let r = self.reported;
        let milestone = (c.connecting == 0 && r.connecting != 0)
            || (c.senders_active == 0 && r.senders_active != 0);
        if !last && !milestone && now - self.last_snapshot < SNAPSHOT_EVERY {
            return;
        }
        self.reported = c;
        self.last_snapshot = now;
        let interval = std::mem::take(&mut self.stats.interval);
        let s = &mut self.stats;
        let snap = Snapshot {
            shard: self.index,
            cpu: self.cpu,
            at: now,
            counters: s.counters,
            interval,
            conns: self.counts,
            first_sent: s.first_sent,
            last_sent: s.last_sent,
            first_received: s.first_received,
            last_received: s.last_received,
            errors: std::mem::take(&mut s.new_errors),
            last,
        };
        let _ = self.snapshots.send(snap);
    }
}

/// Builds the session for one connection of the plan.
/// The receive coalescing window of a connection: the plan's for receivers, none for senders
/// (whose reads are acknowledgements that refill their window).
pub fn rx_window(plan: &Plan, spec: ConnSpec) -> Nanos {
    if spec.is_sender() {
        0
    } else {
        plan.rx_coalesce
    }
}

pub fn make_session(plan: &Plan, spec: ConnSpec) -> AnySession {
    let (kind, id) = match spec {
        ConnSpec::Sender(i) => ('s', i),
        ConnSpec::Receiver(i) | ConnSpec::Accept(i) => ('r', i),
    };
    let client_id = format!("allegro-{:08x}-{kind}{id}", plan.run.sender);
    match plan.url.scheme {
        Scheme::Mqtt => AnySession::Mqtt(make_mqtt(plan, spec, client_id)),
        Scheme::Amqp => AnySession::Amqp(make_amqp(plan, spec, client_id)),
    }
}

fn make_mqtt(plan: &Plan, spec: ConnSpec, client_id: String) -> MqttSession {
    let m = &plan.mqtt;
    let base = plan.url.path.trim_start_matches('/');
    let topic = if base.is_empty() { "allegro" } else { base };
    let (_, max_size) = plan.shape.size.bounds();
    let cfg = MqttConfig {
        protocol: if m.version == 5 {
            Protocol::V5
        } else {
            Protocol::V311
        },
        qos: QoS::try_from(m.qos).unwrap_or(QoS::AtMostOnce),
        keep_alive_secs: m.keep_alive_secs,
        client_id,
        username: plan.url.username.clone(),
        password: plan.url.password.clone(),
        topic: topic.to_owned(),
        inflight: m.inflight,
        // Body plus topic, header and properties, with room to spare.
        max_packet: max_size as usize + topic.len() + 1024,
    };
    match spec {
        ConnSpec::Sender(i) => MqttSession::sender(
            cfg,
            SenderPlan {
                rate: plan.shape.rate,
                duration: plan.shape.duration,
                size: plan.shape.size,
                run_id: plan.run.run,
                sender_id: plan.run.sender,
                connection_id: i,
            },
        ),
        ConnSpec::Receiver(_) | ConnSpec::Accept(_) => {
            MqttSession::receiver(cfg, plan.drain_idle, plan.run.only())
        }
    }
}

fn make_amqp(plan: &Plan, spec: ConnSpec, container_id: String) -> AmqpSession {
    let a = &plan.amqp;
    let address = crate::plan::amqp_address(&plan.url.path);
    let cfg = AmqpConfig {
        container_id,
        hostname: plan.url.host.clone(),
        address: if address.is_empty() {
            "allegro".into()
        } else {
            address
        },
        username: plan.url.username.clone(),
        password: plan.url.password.clone(),
        presettled: a.presettled,
        credit: a.credit,
        inflight: u32::from(plan.mqtt.inflight),
        max_frame: 1 << 20,
        idle_timeout_ms: 30_000,
        durable: a.durable,
        ttl_ms: a.ttl_ms,
        priority: a.priority,
    };
    match spec {
        ConnSpec::Sender(i) => AmqpSession::sender(
            cfg,
            AmqpSenderPlan {
                rate: plan.shape.rate,
                duration: plan.shape.duration,
                size: plan.shape.size,
                run_id: plan.run.run,
                sender_id: plan.run.sender,
                connection_id: i,
            },
        ),
        ConnSpec::Receiver(_) => AmqpSession::receiver(cfg, plan.drain_idle, plan.run.only()),
        ConnSpec::Accept(_) => AmqpSession::server(cfg, plan.drain_idle, plan.run.only()),
    }
}

/// The wake-up cap: a connection with nothing due still looks at its shard's commands this often.
pub const MAX_IDLE: Nanos = 20_000_000;

/// The first multiple of `period` after `now`. Periodic wake-ups of a shard are put on such
/// ticks so that its connections' timers fall together and the shard sleeps once for all of
/// them (each sleep and wake-up costs tens of microseconds of CPU on a virtual machine).
pub fn next_tick(now: Nanos, period: Nanos) -> Nanos {
    (now.div_euclid(period) + 1) * period
}

/// Is this session's handshake past the connect timeout?
pub fn handshake_expired<S: Session>(s: &S, created: Nanos, now: Nanos, timeout: Nanos) -> bool {
    s.phase() == Phase::Handshake && now - created > timeout
}
