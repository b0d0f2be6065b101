//! What every shard has, whatever its runtime: the connections it was given, its statistics, the
//! commands from the control thread and the snapshots it sends back.

pub mod conn;
pub mod launch;

use crate::clock::{Clock, Nanos, NANOS_PER_SEC};
use crate::plan::Plan;
use crate::session::Phase;
use crate::stats::{ConnCounts, ShardStats, Snapshot};
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
    /// Between two connections this shard begins, at least (0: no pace; see [`launch`]).
    pub connect_interval: Nanos,
}

impl ShardPlan {
    /// The launcher of this shard's own connections (senders, receivers; not accept slots),
    /// each with its index in [`conns`](Self::conns).
    pub fn launcher(&self, now: Nanos) -> launch::Launcher<(usize, ConnSpec)> {
        let own = (self.conns.iter().copied().enumerate())
            .filter(|(_, c)| !matches!(c, ConnSpec::Accept(_)));
        launch::Launcher::new(own, self.connect_interval, launch::MAX_HANDSHAKES, now)
    }

    /// The local address connection `spec` connects from (`--source-addrs`), if any: the
    /// addresses in turn over the run's connections, senders first.
    pub fn source_addr(&self, spec: ConnSpec) -> Option<std::net::IpAddr> {
        let addrs = &self.plan.source_addrs;
        let i = match spec {
            ConnSpec::Sender(i) => i as usize,
            ConnSpec::Receiver(i) => self.plan.shape.parallel as usize + i as usize,
            ConnSpec::Accept(_) => return None,
        };
        (!addrs.is_empty()).then(|| addrs[i % addrs.len()])
    }
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
    /// Connections begun by the [`launch::Launcher`] and still in their handshake.
    pub handshaking: u32,
    commands: Receiver<Command>,
    snapshots: Sender<Snapshot>,
    last_snapshot: Nanos,
    /// Counts as of the last snapshot: a change in `connecting` or `senders_active` to zero is
    /// reported at once, so the control thread starts and drains without waiting a second.
    reported: ConnCounts,
    /// Whether the last snapshot had any message sent or received.
    reported_moving: bool,
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
            handshaking: 0,
            commands,
            snapshots,
            last_snapshot: sp.clock.now(),
            reported: ConnCounts {
                connecting: u32::MAX,
                senders_active: u32::MAX,
                ..Default::default()
            },
            reported_moving: false,
        }
    }

    /// Applies pending commands. A vanished control thread means stop.
    pub fn poll_commands(&mut self, warmup: Nanos) {
        loop {
            match self.commands.try_recv() {
                Ok(Command::Start { t0 }) => {
                    self.t0 = Some(t0);
                    // Without a warm-up every message is timed, also one sent before this
                    // process's start (by a sender elsewhere that started first).
                    self.stats.record_from = if warmup > 0 { t0 + warmup } else { Nanos::MIN };
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

    /// A connection the launcher had not begun when the run was stopped: counted failed,
    /// without an error (the stop is the reason).
    pub fn never_begun(&mut self, spec: ConnSpec) {
        self.transition(
            &mut ConnState::Connecting,
            ConnState::Failed,
            spec.is_sender(),
        );
    }

    /// A connection became stalled (its peer stopped reading) or moved again.
    pub fn set_stalled(&mut self, stalled: bool) {
        if stalled {
            self.counts.stalled += 1;
        } else {
            self.counts.stalled = self.counts.stalled.saturating_sub(1);
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
        // The first message sent or received is reported at once too, so that a Maestro
        // worker's STATS shows load as soon as there is some.
        let moving = self.stats.counters.sent + self.stats.counters.received > 0;
        let milestone = (c.connecting == 0 && r.connecting != 0)
            || (c.senders_active == 0 && r.senders_active != 0)
            || (moving && !self.reported_moving);
        if !last && !milestone && now - self.last_snapshot < SNAPSHOT_EVERY {
            return;
        }
        self.reported = c;
        self.reported_moving = moving;
        self.last_snapshot = now;
        let interval = self.stats.take_interval();
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
            disconnects: std::mem::take(&mut s.new_disconnects),
            seconds: s.seconds.take(now, last),
            last,
        };
        let _ = self.snapshots.send(snap);
    }
}
