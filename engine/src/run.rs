//! Driving one run from the control thread: wait for every connection, start the senders on a
//! common `t0`, tell receivers to drain once the senders are done, merge shard snapshots, and
//! end with an [`Outcome`] whatever happened (results so far are never lost).

use crate::clock::{Clock, Nanos, NANOS_PER_SEC};
use crate::engine::{Engine, EngineError};
use crate::placement::Placement;
use crate::plan::{Plan, TestDuration};
use crate::runtime::Backend;
use crate::shard::Command;
use crate::stats::{ConnCounts, Counters, Histograms, Snapshot};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How long receivers without senders of their own keep receiving after a timed duration.
pub const RECEIVE_GRACE: Nanos = 2_000_000_000;

/// One shard's latest state.
#[derive(Debug, Clone)]
pub struct ShardTotals {
    pub shard: usize,
    pub cpu: usize,
    pub counters: Counters,
    pub histograms: Histograms,
    pub conns: ConnCounts,
    pub first_sent: Option<Nanos>,
    pub last_sent: Option<Nanos>,
    pub first_received: Option<Nanos>,
    pub last_received: Option<Nanos>,
    pub finished: bool,
}

/// Everything merged so far.
#[derive(Debug, Clone)]
pub struct Totals {
    pub shards: Vec<ShardTotals>,
    /// Every error reported, in order of arrival.
    pub errors: Vec<String>,
    /// Every lost connection that was retried (`--reconnect`), in order of arrival.
    pub disconnects: Vec<String>,
    /// Messages sent and received in each second of the engine's clock, over every shard; a
    /// second is complete once every shard has moved past it (see [`Totals::complete_before`]).
    pub seconds: std::collections::BTreeMap<i64, (u64, u64)>,
}

impl Totals {
    fn new(engine: &Engine, cpus: &[usize]) -> Self {
        Totals {
            shards: (0..engine.shard_count())
                .map(|i| ShardTotals {
                    shard: i,
                    cpu: cpus[i],
                    counters: Counters::default(),
                    histograms: Histograms::new(),
                    conns: ConnCounts {
                        connecting: engine.layout[i].len() as u32,
                        senders_active: engine.layout[i].iter().filter(|c| c.is_sender()).count()
                            as u32,
                        ..Default::default()
                    },
                    first_sent: None,
                    last_sent: None,
                    first_received: None,
                    last_received: None,
                    finished: false,
                })
                .collect(),
            errors: Vec::new(),
            disconnects: Vec::new(),
            seconds: Default::default(),
        }
    }

    /// Seconds before this one are counted by every shard: a shard closes a second once its
    /// clock moved past it and reports it in its next snapshot (at most a second later).
    pub fn complete_before(&self, now: Nanos) -> i64 {
        now.div_euclid(NANOS_PER_SEC) - 2
    }

    fn apply(&mut self, s: &Snapshot) {
        for &(second, sent, received) in &s.seconds {
            let e = self.seconds.entry(second).or_default();
            e.0 += sent;
            e.1 += received;
        }
        let t = &mut self.shards[s.shard];
        t.counters = s.counters;
        t.histograms.add(&s.interval);
        t.conns = s.conns;
        t.first_sent = s.first_sent;
        t.last_sent = s.last_sent;
        t.first_received = s.first_received;
        t.last_received = s.last_received;
        t.finished |= s.last;
        self.errors.extend(s.errors.iter().cloned());
        self.disconnects.extend(s.disconnects.iter().cloned());
    }

    pub fn counters(&self) -> Counters {
        let mut c = Counters::default();
        for s in &self.shards {
            c.add(&s.counters);
        }
        c
    }

    pub fn conns(&self) -> ConnCounts {
        let mut c = ConnCounts::default();
        for s in &self.shards {
            c.add(&s.conns);
        }
        c
    }

    pub fn histograms(&self) -> Histograms {
        let mut h = Histograms::new();
        for s in &self.shards {
            h.add(&s.histograms);
        }
        h
    }

    fn earliest(&self, f: impl Fn(&ShardTotals) -> Option<Nanos>) -> Option<Nanos> {
        self.shards.iter().filter_map(f).min()
    }

    fn latest(&self, f: impl Fn(&ShardTotals) -> Option<Nanos>) -> Option<Nanos> {
        self.shards.iter().filter_map(f).max()
    }

    pub fn first_sent(&self) -> Option<Nanos> {
        self.earliest(|s| s.first_sent)
    }
    pub fn last_sent(&self) -> Option<Nanos> {
        self.latest(|s| s.last_sent)
    }
    pub fn first_received(&self) -> Option<Nanos> {
        self.earliest(|s| s.first_received)
    }
    pub fn last_received(&self) -> Option<Nanos> {
        self.latest(|s| s.last_received)
    }
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Every connection did its work.
    Completed,
    /// Some connection failed; the errors are in [`Totals::errors`].
    Failed,
    /// Stopped from outside (Ctrl-C, a Maestro stop).
    Interrupted,
}

/// The end of a run.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub status: Status,
    pub backend: Backend,
    pub fallback: Option<String>,
    pub addr: std::net::SocketAddr,
    /// The senders' common start (`None` if the run never started).
    pub t0: Option<Nanos>,
    /// When every connection was first up (`None` if they never all were).
    pub all_up: Option<Nanos>,
    pub began: Nanos,
    pub ended: Nanos,
    pub totals: Totals,
}

impl Outcome {
    /// A run that failed before its engine started (its broker's name did not resolve, a shard
    /// could not start): nothing measured, the error kept, reported like any failed run.
    pub fn failed_to_start(
        asked: Option<Backend>,
        began: Nanos,
        ended: Nanos,
        error: String,
    ) -> Self {
        let (backend, fallback) =
            crate::engine::choose_backend(asked).unwrap_or((asked.unwrap_or(Backend::Epoll), None));
        Outcome {
            status: Status::Failed,
            backend,
            fallback,
            addr: std::net::SocketAddr::from(([0, 0, 0, 0], 0)),
            t0: None,
            all_up: None,
            began,
            ended,
            totals: Totals {
                shards: Vec::new(),
                errors: vec![error],
                disconnects: Vec::new(),
                seconds: Default::default(),
            },
        }
    }
}

/// Receives progress while a run goes on.
pub trait Observer {
    /// The engine is up (backend chosen, shards started).
    fn started(&mut self, _engine: &Engine) {}
    /// Roughly once a second, and at the end: the merged totals and what was recorded
    /// since the previous call. After it returns, the seconds of `totals.seconds` before
    /// [`Totals::complete_before`] are dropped: an observer writes them out here.
    fn interval(&mut self, _now: Nanos, _totals: &Totals, _interval: &Histograms) {}
    /// Whenever a shard reported (about once a second each, and at once for its first
    /// message): the merged totals so far.
    fn progress(&mut self, _totals: &Totals) {}
    /// Once, after the last `interval`: every shard has reported everything.
    fn finished(&mut self, _totals: &Totals) {}
}

/// An observer that ignores everything.
#[derive(Debug, Default)]
pub struct Quiet;
impl Observer for Quiet {}

/// Runs `plan` to its end. `stop` set from outside ends it early with [`Status::Interrupted`].
pub fn execute(
    plan: Arc<Plan>,
    placement: &Placement,
    backend: Option<Backend>,
    clock: Clock,
    stop: &AtomicBool,
    observer: &mut dyn Observer,
) -> Result<Outcome, EngineError> {
    let began = clock.now();
    let engine = Engine::start(plan.clone(), placement, backend, clock)?;
    observer.started(&engine);
    let mut totals = Totals::new(&engine, &placement.cpus);
    let mut interval = Histograms::new();
    let mut t0 = None;
    let mut all_up = None;
    let mut drained = false;
    let mut all_in = false;
    let mut expected_total = u64::MAX;
    let mut stopped = false;
    let mut failed_early = false;
    // Set when the run is stopped from outside: whether anything had failed by then.
    let mut failed_before_stop: Option<bool> = None;
    let mut last_report = began;
    while totals.shards.iter().any(|s| !s.finished) {
        match engine.snapshots.recv_timeout(Duration::from_millis(100)) {
            Ok(s) => {
                interval.add(&s.interval);
                totals.apply(&s);
                observer.progress(&totals);
            }
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
        }
        let now = clock.now();
        if stop.load(Ordering::Relaxed) && !stopped {
            engine.broadcast(Command::Stop);
            stopped = true;
            // What breaks from here on is the stop's doing (a peer-to-peer end sees its
            // sender close): only a failure before it fails the run.
            failed_before_stop = Some(totals.conns().failed > 0 || !totals.errors.is_empty());
        }
        let conns = totals.conns();
        if t0.is_none() && conns.connecting == 0 && !stopped {
            if conns.failed > 0 {
                // A run with a connection down from the start would measure the wrong thing.
                engine.broadcast(Command::Stop);
                stopped = true;
                failed_early = true;
            } else {
                // Far enough ahead that every shard has the command before `t0` (an idle
                // epoll shard looks at its commands every 20 ms), on a whole millisecond: paced
                // sends then fall on the shards' coalescing ticks, one wake-up for both.
                all_up = Some(now);
                let start = crate::clock::next_tick(clock.now() + 50_000_000, 1_000_000);
                engine.broadcast(Command::Start { t0: start });
                t0 = Some(start);
            }
        }
        if t0.is_some() && conns.failed > 0 && !stopped {
            // A connection failed mid-run: what is still measured is no longer the test asked
            // for, and a sender may wait forever for a receiver that is gone. End it all.
            engine.broadcast(Command::Stop);
            stopped = true;
        }
        if let (Some(start), false, 0) = (t0, drained, plan.shape.parallel) {
            // Receivers only (a Maestro receiver worker): the senders are elsewhere. A count is
            // per receiver; a time ends the receiving when it is up.
            match plan.shape.duration {
                TestDuration::Count(n) => {
                    engine.broadcast(Command::Drain { expected: n });
                    drained = true;
                    all_in = true;
                }
                // A grace of 2 s after the duration: senders on other hosts start a little
                // after their receivers, and their last messages are still on the way.
                TestDuration::Time(d) if now >= start + d + RECEIVE_GRACE => {
                    engine.broadcast(Command::Drain { expected: 0 });
                    drained = true;
                    all_in = true;
                }
                TestDuration::Time(_) => {}
            }
        }
        if t0.is_some() && !drained && conns.senders_active == 0 && plan.shape.parallel > 0 {
            // Every sender is done. A receiver that sees every message (a topic, or the only
            // receiver) knows its count; receivers that share (a queue, peer to peer) are told
            // to finish once the total has arrived.
            let sent = totals.counters().sent;
            let per_receiver = if plan.fanout() || plan.shape.receivers == 1 {
                sent
            } else {
                u64::MAX
            };
            engine.broadcast(Command::Drain {
                expected: per_receiver,
            });
            expected_total = plan.expected_deliveries(sent);
            drained = true;
        }
        if drained && !all_in && totals.counters().received >= expected_total {
            engine.broadcast(Command::Drain { expected: 0 });
            all_in = true;
        }
        if now - last_report >= 1_000_000_000 {
            observer.interval(now, &totals, &interval);
            interval.reset();
            last_report = now;
            // The observers have had every second up to the last complete one: a long run
            // keeps only the seconds still open, not one entry per second of its life.
            let open_from = totals.complete_before(now);
            totals.seconds = totals.seconds.split_off(&open_from);
        }
    }
    let backend = engine.backend;
    let fallback = engine.fallback.clone();
    let addr = engine.addr;
    let panicked = engine.join();
    if panicked > 0 {
        totals.errors.push(format!("{panicked} shard(s) panicked"));
    }
    let ended = clock.now();
    observer.interval(ended, &totals, &interval);
    observer.finished(&totals);
    let conns = totals.conns();
    let failed = failed_early || conns.failed > 0 || !totals.errors.is_empty();
    let status = match failed_before_stop {
        Some(true) => Status::Failed,
        Some(false) => Status::Interrupted,
        None if failed => Status::Failed,
        None if stopped => Status::Interrupted,
        None => Status::Completed,
    };
    Ok(Outcome {
        status,
        backend,
        fallback,
        addr,
        t0,
        all_up,
        began,
        ended,
        totals,
    })
}
