//! The worker's driver: carries out what [`Worker`] decides over a real link to the Maestro
//! broker, the engine (a thread per run) and the file system (test directories, Maestro's
//! result files, Allegro's summary through a hook), and feeds back what came of it.

use super::{Action, Input, TestOrder, Worker};
use crate::cluster::{epoch_us, send};
use crate::files::{self, LatencyLog, RateFile};
use crate::link::{uuid4, Driver, Event, Link};
use crate::note::{topics, PeerInfo, Role};
use crate::Error;
use allegro_engine::clock::Clock;
use allegro_engine::placement::{self, Placement, Policy};
use allegro_engine::plan::Plan;
use allegro_engine::run::{self, Observer, Outcome, Status, Totals};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Writes Allegro's own summary of a finished run into its test directory. The control plane
/// supplies it, so that this crate never builds the command line's configuration.
pub type SummaryHook = Arc<dyn Fn(&Plan, &Placement, &Outcome, &Path) + Send + Sync>;

/// A test the engine is running.
struct Running {
    dir: PathBuf,
    fcl_breach: Arc<Mutex<Option<String>>>,
    stop: Arc<AtomicBool>,
    count: Arc<AtomicU64>,
    reported: u64,
    thread: JoinHandle<Result<Outcome, String>>,
}

/// A drain the engine is running.
struct Draining {
    thread: JoinHandle<Result<Outcome, String>>,
    stop: Arc<AtomicBool>,
    /// Stopped at this instant, if it has a limit.
    until: Option<Instant>,
}

impl Engine<'_> {
    /// Where `plan` runs: the worker's placement, cut to a paced load's needs when it is the
    /// default (`Placement::fitted`).
    fn placement_for(&self, plan: &allegro_engine::plan::Plan) -> Placement {
        if self.fit {
            self.placement.clone().fitted(plan.shape.total_rate())
        } else {
            self.placement.clone()
        }
    }
}

/// Everything the driver owns besides the link.
struct Engine<'a> {
    results: &'a Path,
    metrics: Option<allegro_engine::metrics::Exporter>,
    placement: Placement,
    /// The placement is the default (no `--cores`): a paced test gets the shards it needs.
    fit: bool,
    summary: SummaryHook,
    running: Option<Running>,
    draining: Option<Draining>,
    halted: bool,
}

/// Who a worker daemon is and what it runs with.
#[derive(Debug, Clone)]
pub struct Daemon<'a> {
    /// The Maestro broker.
    pub broker: &'a crate::link::Broker,
    /// The peer name and host name reported to the cluster.
    pub name: &'a str,
    pub host: &'a str,
    /// Where each test's result directory goes.
    pub results: &'a Path,
    /// CPUs for the engine's shards.
    pub cores: &'a Policy,
    /// How TLS SUT URLs are verified.
    pub tls: &'a allegro_engine::tls::TlsOptions,
    /// Where each test's live metrics are served (`--metrics`).
    pub metrics: Option<allegro_engine::metrics::Exporter>,
    /// How long a test's lost SUT connection is made again (`--reconnect`).
    pub reconnect: Option<allegro_engine::clock::Nanos>,
}

/// Runs the worker daemon `d` until HALT or `stop()`.
pub fn run(d: &Daemon<'_>, stop: &dyn Fn() -> bool, summary: SummaryHook) -> Result<(), Error> {
    let Daemon {
        broker,
        name,
        host,
        results,
        cores,
        tls,
        ref metrics,
        reconnect,
    } = *d;
    let id = topics::peer_id(&uuid4());
    let mut link = Link::new(id.clone(), 30);
    for (t, q) in topics::worker_subscriptions(&id) {
        link.subscribe(&t, q);
    }
    let peer = PeerInfo {
        id,
        member_name: String::new(),
        group_name: "all".into(),
        role: Role::Other,
        name: name.into(),
        host: host.into(),
    };
    // A test may open many connections: the soft open-files limit goes up to the hard one.
    let _ = allegro_engine::sys::raise_open_files_limit();
    let mut worker = Worker::new(peer, results.to_path_buf(), Box::new(uuid4))
        .with_tls(tls.clone())
        .with_reconnect(reconnect);
    let mut engine = Engine {
        results,
        metrics: metrics.clone(),
        placement: placement::resolve(
            cores,
            Path::new("/"),
            placement::allowed_cpus().ok().as_deref(),
        )
        .map_err(|e| Error::Placement(e.to_string()))?,
        fit: matches!(cores, Policy::AllCores),
        summary,
        running: None,
        draining: None,
        halted: false,
    };
    let addr = &broker.addr;
    let mut driver = Driver::new(broker.clone(), link);
    let mut reported: Option<String> = None;
    while !engine.halted && !stop() {
        let mut actions = Vec::new();
        driver.turn(&mut |event, _| match event {
            Event::Up => eprintln!(
                "allegro worker {}: connected to the Maestro broker at {addr}",
                worker.peer().id
            ),
            Event::Message { topic, payload } => {
                actions.extend(worker.handle(epoch_us(), Input::Note { topic, payload }));
            }
        });
        for input in engine.poll() {
            actions.extend(worker.handle(epoch_us(), input));
        }
        actions.extend(worker.handle(epoch_us(), Input::Tick));
        engine.carry_out(actions, &mut worker, &mut driver.link);
        if driver.last_error != reported {
            if let Some(e) = &driver.last_error {
                eprintln!("allegro worker: {e}; reconnecting");
            }
            reported = driver.last_error.clone();
        }
    }
    if let Some(r) = engine.running.take() {
        r.stop.store(true, Ordering::Relaxed);
        let _ = r.thread.join();
    }
    // Let the last replies go out.
    let deadline = Instant::now() + Duration::from_millis(200);
    while Instant::now() < deadline && driver.link.is_up() {
        driver.turn(&mut |_, _| {});
    }
    Ok(())
}

impl Engine<'_> {
    /// Carries out `actions`, and those that what comes of them leads to.
    fn carry_out(&mut self, mut actions: Vec<Action>, worker: &mut Worker, link: &mut Link) {
        while !actions.is_empty() {
            let mut next = Vec::new();
            for action in actions {
                if let Some(input) = self.act(action, link) {
                    next.extend(worker.handle(epoch_us(), input));
                }
            }
            actions = next;
        }
    }

    /// Does one action; some answer at once.
    fn act(&mut self, action: Action, link: &mut Link) -> Option<Input<'static>> {
        match action {
            Action::Publish { topic, note } => send(link, &topic, &note),
            Action::Subscribe { topic, qos } => link.subscribe(&topic, qos),
            Action::Unsubscribe { topic } => link.unsubscribe(&topic),
            Action::StartTest(order) => return Some(Input::Started(self.start(*order))),
            Action::StopTest => {
                if let Some(r) = &self.running {
                    r.stop.store(true, Ordering::Relaxed);
                }
            }
            Action::StartDrain { plan, limit_s } => {
                let pl = self.placement_for(&plan);
                let stop = Arc::new(AtomicBool::new(false));
                let s2 = stop.clone();
                let thread = std::thread::spawn(move || {
                    run::execute(
                        Arc::new(*plan),
                        &pl,
                        None,
                        Clock::new(),
                        &s2,
                        &mut run::Quiet,
                    )
                    .map_err(|e| e.to_string())
                });
                let until = limit_s.map(|s| Instant::now() + Duration::from_secs(s));
                self.draining = Some(Draining {
                    thread,
                    stop,
                    until,
                });
            }
            Action::StopDrain => {
                if let Some(d) = &self.draining {
                    d.stop.store(true, Ordering::Relaxed);
                }
            }
            Action::ReadLogs {
                request,
                location,
                dir,
            } => {
                return Some(Input::Logs {
                    request,
                    location,
                    files: read_test_files(&dir),
                })
            }
            Action::Warn(w) => eprintln!("allegro worker: {w}"),
            Action::Halt => self.halted = true,
        }
        None
    }

    /// Makes the test directory, writes `test.properties` and starts the engine.
    fn start(&mut self, order: TestOrder) -> Result<(), String> {
        let dir = files::next_test_dir(self.results).map_err(|e| {
            format!(
                "cannot create a test directory under {}: {e}",
                self.results.display()
            )
        })?;
        if let Err(e) = files::write_properties(&dir.join("test.properties"), &order.properties) {
            eprintln!("allegro worker: cannot write test.properties: {e}");
        }
        let clock = Clock::new();
        let sender = order.sender;
        let rate_name = if sender { "sender.dat" } else { "receiver.dat" };
        let obs = WorkerObserver {
            count: Arc::new(AtomicU64::new(0)),
            sender,
            fcl_us: (order.fcl_ms > 0).then_some(order.fcl_ms * 1_000),
            fcl_breach: Arc::new(Mutex::new(None)),
            rate: RateFile::create(&dir.join(rate_name)).ok(),
            rated_through: None,
            latency: if sender {
                None
            } else {
                LatencyLog::create(&dir.join("receiverd-latency.hdr"), clock.now()).ok()
            },
            prev_at: clock.now(),
            metrics: self.metrics.clone().map(|e| {
                let info = vec![
                    ("run_id".to_string(), format!("{:08x}", order.plan.run.run)),
                    (
                        "protocol".to_string(),
                        order.plan.url.scheme_name().to_string(),
                    ),
                ];
                (e, allegro_engine::metrics::Renderer::new(info))
            }),
        };
        let stop = Arc::new(AtomicBool::new(false));
        let (count, fcl_breach) = (obs.count.clone(), obs.fcl_breach.clone());
        let (s2, pl, d2, hook) = (
            stop.clone(),
            self.placement_for(&order.plan),
            dir.clone(),
            self.summary.clone(),
        );
        let plan = Arc::new(order.plan);
        let thread = std::thread::spawn(move || {
            let mut obs = obs;
            let out = run::execute(plan.clone(), &pl, None, clock, &s2, &mut obs)
                .map_err(|e| e.to_string());
            if let Ok(o) = &out {
                hook(&plan, &pl, o, &d2);
            }
            out
        });
        self.running = Some(Running {
            dir,
            fcl_breach,
            stop,
            count,
            reported: 0,
            thread,
        });
        Ok(())
    }

    /// What came of the engine since the last look: progress, a test or a drain that ended.
    fn poll(&mut self) -> Vec<Input<'static>> {
        let mut inputs = Vec::new();
        if let Some(r) = &mut self.running {
            let n = r.count.load(Ordering::Relaxed);
            if n != r.reported {
                r.reported = n;
                inputs.push(Input::Progress(n));
            }
        }
        if let Some(d) = &self.draining {
            if d.until.is_some_and(|t| Instant::now() >= t) {
                d.stop.store(true, Ordering::Relaxed);
            }
        }
        if self
            .draining
            .as_ref()
            .is_some_and(|d| d.thread.is_finished())
        {
            let outcome = self
                .draining
                .take()
                .expect("checked above")
                .thread
                .join()
                .unwrap_or_else(|_| Err("the engine panicked".into()));
            inputs.push(Input::Drained(match outcome {
                Ok(o) if o.status != Status::Failed => Ok(o.totals.counters().received),
                Ok(o) => Err(o
                    .totals
                    .errors
                    .first()
                    .cloned()
                    .unwrap_or_else(|| "Drain completed with warnings".into())),
                Err(e) => Err(e),
            }));
        }
        if self
            .running
            .as_ref()
            .is_some_and(|r| r.thread.is_finished())
        {
            let r = self.running.take().expect("checked above");
            let outcome = r
                .thread
                .join()
                .unwrap_or_else(|_| Err("the engine panicked".into()));
            let breach = r
                .fcl_breach
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take();
            // A run stopped by STOP_WORKER (a client ends a test early when it failed) is
            // clean for the verdict, as Maestro's workers say, but its files are a failed test's.
            let stopped = matches!(&outcome, Ok(o) if o.status == Status::Interrupted);
            let result = match (outcome, breach) {
                (Ok(_), Some(why)) => Err(why),
                (Ok(o), None) if o.status != Status::Failed => Ok(()),
                (Ok(o), None) => Err(o
                    .totals
                    .errors
                    .first()
                    .cloned()
                    .unwrap_or_else(|| "the test failed".into())),
                (Err(e), _) => Err(e),
            };
            if let Err(e) = files::link_result(self.results, &r.dir, result.is_ok() && !stopped) {
                eprintln!("allegro worker: cannot update the result links: {e}");
            }
            inputs.push(Input::Ended(result));
        }
        inputs
    }
}

/// The files of a test directory, by name, for a LOG.
fn read_test_files(dir: &Path) -> Result<Vec<(String, Vec<u8>)>, String> {
    let list =
        files::test_files(dir).map_err(|e| format!("no log directory {}: {e}", dir.display()))?;
    list.iter()
        .map(|path| {
            let bytes =
                std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            Ok((name, bytes))
        })
        .collect()
}

/// Feeds the live message count to STATS and writes Maestro's per-second files (§10.3, §10.4).
struct WorkerObserver {
    count: Arc<AtomicU64>,
    sender: bool,
    /// Receivers: the fail condition on latency (§8.6, soft policy: the interval's 90th
    /// percentile), in microseconds, and the first breach.
    fcl_us: Option<u64>,
    fcl_breach: Arc<Mutex<Option<String>>>,
    rate: Option<RateFile>,
    /// The last second written to the rate file.
    rated_through: Option<i64>,
    latency: Option<LatencyLog>,
    prev_at: i64,
    /// `--metrics`: the test's totals, served live.
    metrics: Option<(
        allegro_engine::metrics::Exporter,
        allegro_engine::metrics::Renderer,
    )>,
}

impl WorkerObserver {
    /// Writes one record for each second of the engine's clock up to `upto`, from the first
    /// second with a message on (a quiet second in between gets 0): the records add up to the
    /// count (§10.3).
    fn rate_records(&mut self, totals: &Totals, upto: i64) {
        let Some(file) = &mut self.rate else { return };
        let Some(&first) = totals.seconds.keys().next() else {
            return;
        };
        let from = self.rated_through.map_or(first, |s| s + 1);
        for second in from..=upto {
            let (sent, received) = totals.seconds.get(&second).copied().unwrap_or_default();
            let n = if self.sender { sent } else { received };
            if let Err(e) = file.record(second, n) {
                eprintln!("allegro worker: cannot write the rate file: {e}");
                self.rate = None;
                return;
            }
            self.rated_through = Some(second);
        }
    }
}

impl Observer for WorkerObserver {
    fn progress(&mut self, totals: &Totals) {
        let c = totals.counters();
        let n = if self.sender { c.sent } else { c.received };
        self.count.store(n, Ordering::Relaxed);
    }

    fn interval(
        &mut self,
        now: i64,
        totals: &Totals,
        interval: &allegro_engine::stats::Histograms,
    ) {
        let c = totals.counters();
        let n = if self.sender { c.sent } else { c.received };
        self.count.store(n, Ordering::Relaxed);
        if let (Some(limit), false) = (self.fcl_us, self.sender || interval.service.is_empty()) {
            let p90 = interval.service.value_at_quantile(0.9);
            if p90 > limit {
                let mut breach = self.fcl_breach.lock().unwrap_or_else(|e| e.into_inner());
                breach.get_or_insert_with(|| {
                    format!(
                        "latency {p90} µs at the 90th percentile is over the fail condition of {} ms",
                        limit / 1_000
                    )
                });
            }
        }
        self.rate_records(totals, totals.complete_before(now));
        if let Some((e, r)) = &mut self.metrics {
            e.publish(r.render(totals, now));
        }
        if let Some(l) = &mut self.latency {
            // Maestro's receivers measure from the actual send time.
            if let Err(e) = l.interval(self.prev_at, now, &interval.service) {
                eprintln!("allegro worker: cannot write the latency log: {e}");
                self.latency = None;
            }
        }
        self.prev_at = now;
    }

    fn finished(&mut self, totals: &Totals) {
        if let Some(&last) = totals.seconds.keys().next_back() {
            self.rate_records(totals, last);
        }
    }
}
