//! Allegro in a Maestro cluster: `allegro ping` (a client command) and `allegro worker` (the
//! worker daemon), over the Maestro broker link.
//!
//! The worker follows the Java worker's handlers (`maestro-protocol.md` §6.3): PING, SET, GET
//! (refused), STATS, START_TEST (OK and TEST_STARTED), STOP_TEST, ROLE_ASSIGN/UNASSIGN
//! (subscribing to the role topic, §2.3), START_WORKER (runs the engine as sender or receiver with
//! the stored options, then TEST_SUCCESSFUL or TEST_FAILED), STOP_WORKER and HALT. Everything
//! LOG (the files of a test directory, §8.5), with the fail condition on latency applied to
//! receivers (§7.5), and GROUP_JOIN/GROUP_LEAVE (the group topic, restored like every other
//! subscription), and DRAIN (receivers on the given URL until nothing more arrives, then
//! DRAIN_COMPLETE). Everything else (agent and inspector commands) is refused with INTERNAL_ERROR naming
//! it. Each test leaves Maestro's result files (§8) beside Allegro's `summary.json`. A malformed note is logged with its topic and
//! dropped (§3).

use crate::files::{self, LatencyLog, RateFile};
use crate::link::{uuid4, Driver, Event, Link};
use crate::note::{
    self, topics, Body, Data, ErrorCode, LocationTypeInfo, LogChunk, LogLocation, Note,
    Notification, PeerInfo, Request, Response, Role, SetOption, Stats, Test,
};
use allegro_engine::clock::{Clock, NANOS_PER_SEC};
use allegro_engine::placement::{self, Placement, Policy};
use allegro_engine::plan::{self, AmqpOptions, LoadShape, MqttOptions, Plan, RunIdentity};
use allegro_engine::run::{self, Observer, Outcome, Status, Totals};
use allegro_engine::url::Url;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::cluster::{epoch_us, send};

/// Options a client SETs, kept as strings until START_WORKER as the Java worker does (§3.6, §6.3).
#[derive(Debug, Clone, Default)]
struct Options {
    broker: Option<String>,
    duration: Option<String>,
    parallel: Option<String>,
    size: Option<String>,
    rate: Option<String>,
    fcl: Option<String>,
}

/// A test the engine is running for this worker.
struct Running {
    dir: PathBuf,
    fcl_breach: Arc<std::sync::Mutex<Option<String>>>,
    stop: Arc<AtomicBool>,
    count: Arc<AtomicU64>,
    started: Instant,
    thread: std::thread::JoinHandle<Result<Outcome, String>>,
}

/// Feeds the live message count to STATS and writes Maestro's per-second files (§8.3, §8.4).
struct WorkerObserver {
    count: Arc<AtomicU64>,
    sender: bool,
    /// Receivers: the fail condition on latency (§7.5, soft policy: the interval's 90th
    /// percentile), in microseconds, and the first breach.
    fcl_us: Option<u64>,
    fcl_breach: Arc<std::sync::Mutex<Option<String>>>,
    rate: Option<RateFile>,
    latency: Option<LatencyLog>,
    prev: u64,
    prev_at: i64,
}

impl Observer for WorkerObserver {
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
        if let Some(r) = &mut self.rate {
            if let Err(e) = r.record(n - self.prev.min(n), now) {
                eprintln!("allegro worker: cannot write the rate file: {e}");
                self.rate = None;
            }
        }
        if let Some(l) = &mut self.latency {
            // Maestro's receivers measure from the actual send time.
            if let Err(e) = l.interval(self.prev_at, now, &interval.service) {
                eprintln!("allegro worker: cannot write the latency log: {e}");
                self.latency = None;
            }
        }
        self.prev = n;
        self.prev_at = now;
    }
}

/// `test.properties` (§8.2) for the stored options.
fn test_properties(o: &Options) -> Vec<(&'static str, String)> {
    let url: Option<Url> = o.broker.as_deref().and_then(|u| u.parse().ok());
    let opt = |k: &str| {
        url.as_ref().and_then(|u| {
            u.options
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
        })
    };
    let duration = o.duration.clone().unwrap_or_default();
    let (kind, amount) = match plan::parse_duration(&duration) {
        Ok(plan::TestDuration::Count(n)) => ("count", n.to_string()),
        Ok(plan::TestDuration::Time(ns)) => ("time", (ns / NANOS_PER_SEC).to_string()),
        Err(_) => ("time", "0".into()),
    };
    let size = o.size.clone().unwrap_or_else(|| "256".into());
    vec![
        ("brokerUri", o.broker.clone().unwrap_or_default()),
        ("durationType", kind.into()),
        ("duration", amount),
        (
            "parallelCount",
            o.parallel.clone().unwrap_or_else(|| "0".into()),
        ),
        ("messageSize", size.trim_start_matches('~').to_string()),
        ("variableSize", size.starts_with('~').to_string()),
        ("rate", o.rate.clone().unwrap_or_else(|| "0".into())),
        ("fcl", o.fcl.clone().unwrap_or_else(|| "0".into())),
        (
            "protocol",
            if url.is_some() {
                opt("protocol").unwrap_or_else(|| "AMQP".into())
            } else {
                "undefined".into()
            },
        ),
        (
            "limitDestinations",
            if url.is_some() {
                opt("limitDestinations").unwrap_or_else(|| "1".into())
            } else {
                "0".into()
            },
        ),
        ("apiName", "Allegro".into()),
        ("apiVersion", env!("CARGO_PKG_VERSION").into()),
    ]
}

/// The run id every worker of a test derives from the same START_TEST note (sent once to
/// `/mpt/peer`, so each worker sees the same correlation id): FNV-1a of that id. A START_TEST
/// sent to each worker on its own topic gives no shared id: its receivers then count every
/// run's messages.
pub fn test_run_id(correlation_id: &str) -> u32 {
    correlation_id.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// A fresh random id for one engine run of this worker.
fn instance_id(seq: u32) -> u32 {
    u32::from_str_radix(&uuid4()[..8], 16).unwrap_or(0) ^ seq
}

/// Builds the engine plan for START_WORKER from the stored options.
fn worker_plan(o: &Options, sender: bool, run: RunIdentity) -> Result<Plan, String> {
    let need = |v: &Option<String>, what: &str| {
        v.clone()
            .ok_or_else(|| format!("the {what} is not set (SET it first)"))
    };
    let url: Url = need(&o.broker, "SUT URL")?
        .parse()
        .map_err(|e| format!("bad SUT URL: {e}"))?;
    let duration =
        plan::parse_duration(&need(&o.duration, "duration")?).map_err(|e| e.to_string())?;
    let parallel: u32 = need(&o.parallel, "parallel count")?
        .trim()
        .parse()
        .map_err(|_| "bad parallel count".to_string())?;
    let size = plan::parse_size(o.size.as_deref().unwrap_or("256")).map_err(|e| e.to_string())?;
    let rate = plan::parse_rate(o.rate.as_deref().unwrap_or("0")).map_err(|e| e.to_string())?;
    let amqp = match url.scheme {
        allegro_engine::url::Scheme::Amqp => {
            AmqpOptions::from_options(&url.options).map_err(|e| e.to_string())?
        }
        allegro_engine::url::Scheme::Mqtt => AmqpOptions::default(),
    };
    Ok(Plan {
        url,
        shape: LoadShape {
            rate,
            parallel: if sender { parallel } else { 0 },
            receivers: if sender { 0 } else { parallel },
            size,
            duration,
            warmup: 0,
        },
        mqtt: MqttOptions::default(),
        amqp,
        peer: false,
        run,
        connect_timeout: 10 * NANOS_PER_SEC,
        // Receivers wait for senders on other hosts: be patient before calling it a day.
        drain_idle: 30 * NANOS_PER_SEC,
        rx_coalesce: plan::RX_COALESCE,
    })
}

/// Writes Allegro's own summary of a finished run into its test directory. The control plane
/// supplies it, so that this crate never builds the command line's configuration.
pub type SummaryHook = Arc<dyn Fn(&Plan, &Placement, &Outcome, &Path) + Send + Sync>;

/// Runs the worker daemon until HALT (or the process is stopped).
pub fn worker(
    addr: &str,
    name: &str,
    host: &str,
    results: &Path,
    cores: &Policy,
    stop: &dyn Fn() -> bool,
    summary: SummaryHook,
) -> Result<(), String> {
    let id = topics::peer_id(&uuid4());
    let mut link = Link::new(id.clone(), 30);
    for (t, q) in topics::worker_subscriptions(&id) {
        link.subscribe(&t, q);
    }
    let mut peer = PeerInfo {
        id,
        member_name: String::new(),
        group_name: "all".into(),
        role: Role::Other,
        name: name.into(),
        host: host.into(),
    };
    let placement = placement::resolve(cores, Path::new("/")).map_err(|e| e.to_string())?;
    let mut driver = Driver::new(addr.to_owned(), link);
    let mut halted = false;
    let mut reported: Option<String> = None;
    let mut options = Options::default();
    let mut test = Test::default();
    let mut running: Option<Running> = None;
    let mut draining: Option<std::thread::JoinHandle<Result<Outcome, String>>> = None;
    let mut run_seq: u32 = 0;
    // The run id of the test the last START_TEST began.
    let mut test_run: Option<u32> = None;
    while !halted && !stop() {
        driver.turn(&mut |event, link| match event {
            Event::Up => eprintln!(
                "allegro worker {}: connected to the Maestro broker at {addr}",
                peer.id
            ),
            Event::Message { topic, payload } => {
                let note = match note::decode(payload) {
                    Ok(n) => n,
                    Err(e) => {
                        return eprintln!(
                            "allegro worker: dropped a malformed note on {topic}: {e}"
                        )
                    }
                };
                let Body::Request(req) = &note.body else {
                    return;
                };
                let refuse = |message: String| Response::InternalError {
                    code: ErrorCode::Unspecified,
                    message,
                };
                let reply = match req {
                    Request::Ping { sec, usec } => {
                        let elapsed = (epoch_us() - (sec * 1_000_000 + usec)) / 1_000;
                        Response::Ping { elapsed }
                    }
                    Request::RoleAssign { role } if peer.role != Role::Other => refuse(format!(
                        "The node is already assigned the {} role",
                        peer.role.name()
                    )),
                    Request::RoleAssign { role } => {
                        peer.role = *role;
                        link.subscribe(&topics::by_role(*role), topics::ROLE_GROUP_SUBSCRIBE_QOS);
                        Response::Ok
                    }
                    Request::GroupJoin { .. } if peer.group_name != "all" => refuse(format!(
                        "The node is already a member of the group {}",
                        peer.group_name
                    )),
                    Request::GroupJoin {
                        member_name,
                        group_name,
                    } => {
                        link.subscribe(
                            &topics::by_group(group_name, member_name),
                            topics::ROLE_GROUP_SUBSCRIBE_QOS,
                        );
                        peer.member_name = member_name.clone();
                        peer.group_name = group_name.clone();
                        Response::Ok
                    }
                    Request::GroupLeave => {
                        if peer.group_name != "all" {
                            link.unsubscribe(&topics::by_group(
                                &peer.group_name,
                                &peer.member_name,
                            ));
                        }
                        peer.member_name.clear();
                        peer.group_name = "all".into();
                        Response::Ok
                    }
                    Request::Drain { .. } if draining.is_some() => {
                        refuse("A drain is already running".into())
                    }
                    Request::Drain {
                        duration,
                        url,
                        parallel_count,
                        ..
                    } => {
                        // §6.3: the receivers drain `url`; Java takes the connection count from
                        // the stored option, the request's one when none is stored.
                        let mut o = options.clone();
                        o.broker = Some(url.clone());
                        o.parallel = o.parallel.or_else(|| Some(parallel_count.clone()));
                        // "-1" (or no count): until nothing more arrives.
                        o.duration = Some(match plan::parse_duration(duration) {
                            Ok(_) => duration.clone(),
                            Err(_) => u64::MAX.to_string(),
                        });
                        // A drain takes whatever is there, from any run.
                        let run = RunIdentity {
                            run: 0,
                            sender: instance_id(0),
                            filter: false,
                        };
                        match worker_plan(&o, false, run) {
                            Err(e) => refuse(format!("Unable to drain: {e}")),
                            Ok(mut plan) => {
                                plan.drain_idle = 2 * NANOS_PER_SEC;
                                let pl = placement.clone();
                                draining = Some(std::thread::spawn(move || {
                                    let stop = AtomicBool::new(false);
                                    run::execute(
                                        Arc::new(plan),
                                        &pl,
                                        None,
                                        Clock::new(),
                                        &stop,
                                        &mut run::Quiet,
                                    )
                                    .map_err(|e| e.to_string())
                                }));
                                Response::Ok
                            }
                        }
                    }
                    Request::RoleUnassign => {
                        if peer.role != Role::Other {
                            link.unsubscribe(&topics::by_role(peer.role));
                        }
                        peer.role = Role::Other;
                        Response::Ok
                    }
                    Request::Set { option, value } => {
                        let slot = match option {
                            SetOption::Broker => Some(&mut options.broker),
                            SetOption::DurationType => Some(&mut options.duration),
                            SetOption::ParallelCount => Some(&mut options.parallel),
                            SetOption::MessageSize => Some(&mut options.size),
                            SetOption::Rate => Some(&mut options.rate),
                            SetOption::Fcl => Some(&mut options.fcl),
                            SetOption::LogLevel
                            | SetOption::Throttle
                            | SetOption::ManagementInterface => None,
                            SetOption::Unknown(code) => {
                                let r = refuse(format!("unknown SET option {code}"));
                                return send(link, topics::RESPONSES, &note.reply(peer.clone(), r));
                            }
                        };
                        if let Some(slot) = slot {
                            *slot = Some(value.clone());
                        }
                        Response::Ok
                    }
                    Request::Get { .. } => refuse("Data server is deprecated".into()),
                    Request::Stats => {
                        let (count, rate) = running.as_ref().map_or((0, 0.0), |r| {
                            let n = r.count.load(Ordering::Relaxed);
                            let secs = r.started.elapsed().as_secs();
                            (
                                n,
                                if secs > 0 {
                                    n as f64 / secs as f64
                                } else {
                                    0.0
                                },
                            )
                        });
                        Response::Stats(Stats {
                            child_count: options
                                .parallel
                                .as_deref()
                                .and_then(|p| p.trim().parse().ok())
                                .unwrap_or(0),
                            role_info: String::new(),
                            stats_type: 0,
                            timestamp: "0".into(),
                            count: count as i64,
                            rate,
                            latency: 0.0,
                        })
                    }
                    Request::StartTest(info) => {
                        test = info.test.clone();
                        // Only a note every worker got (on /mpt/peer, as Maestro's clients send
                        // it) gives them one id; sent to each worker apart, it cannot.
                        test_run =
                            (topic == topics::ALL_PEERS).then(|| test_run_id(&note.correlation_id));
                        send(
                            link,
                            topics::RESPONSES,
                            &note.reply(peer.clone(), Response::Ok),
                        );
                        let n = Note {
                            correlation_id: note.correlation_id.clone(),
                            message_id: note.message_id.clone(),
                            body: Body::Notification {
                                peer: peer.clone(),
                                notification: Notification::TestStarted {
                                    test: test.clone(),
                                    message: String::new(),
                                },
                            },
                        };
                        return send(link, topics::NOTIFICATIONS, &n);
                    }
                    Request::StopTest => {
                        test_run = None;
                        return test = Test::default();
                    }
                    Request::StartWorker { .. }
                        if !matches!(peer.role, Role::Sender | Role::Receiver) =>
                    {
                        refuse("The worker does not have a role. Set one with RoleAssign".into())
                    }
                    Request::StartWorker { .. } if running.is_some() => {
                        let n = notification(
                            &peer,
                            Notification::TestFailed {
                                test: test.clone(),
                                message: "Test already in progress".into(),
                            },
                        );
                        return send(link, topics::NOTIFICATIONS, &n);
                    }
                    Request::StartWorker { .. } => {
                        run_seq += 1;
                        // The sender id is random, so that client ids never collide with another
                        // worker's on a shared SUT; the run id is the test's, shared by every
                        // worker. Without a START_TEST, receivers count every run's messages.
                        let instance = instance_id(run_seq);
                        let run = RunIdentity {
                            run: test_run.unwrap_or(instance),
                            sender: instance,
                            filter: test_run.is_some(),
                        };
                        match worker_plan(&options, peer.role == Role::Sender, run) {
                            Err(e) => refuse(format!(
                                "The worker container was unable to start the workers: {e}"
                            )),
                            Ok(plan) => {
                                let sender = peer.role == Role::Sender;
                                let clock = Clock::new();
                                let dir = match files::next_test_dir(results) {
                                    Ok(d) => d,
                                    Err(e) => {
                                        let r = refuse(format!(
                                            "cannot create a test directory under {}: {e}",
                                            results.display()
                                        ));
                                        return send(
                                            link,
                                            topics::RESPONSES,
                                            &note.reply(peer.clone(), r),
                                        );
                                    }
                                };
                                if let Err(e) = files::write_properties(
                                    &dir.join("test.properties"),
                                    &test_properties(&options),
                                ) {
                                    eprintln!("allegro worker: cannot write test.properties: {e}");
                                }
                                let rate_name = if sender { "sender.dat" } else { "receiver.dat" };
                                let fcl_ms: u64 = options
                                    .fcl
                                    .as_deref()
                                    .and_then(|v| v.trim().parse().ok())
                                    .unwrap_or(0);
                                let obs = WorkerObserver {
                                    count: Arc::new(AtomicU64::new(0)),
                                    sender,
                                    fcl_us: (fcl_ms > 0).then_some(fcl_ms * 1_000),
                                    fcl_breach: Arc::new(std::sync::Mutex::new(None)),
                                    rate: RateFile::create(&dir.join(rate_name)).ok(),
                                    latency: if sender {
                                        None
                                    } else {
                                        LatencyLog::create(
                                            &dir.join("receiverd-latency.hdr"),
                                            clock.now(),
                                        )
                                        .ok()
                                    },
                                    prev: 0,
                                    prev_at: clock.now(),
                                };
                                let stop = Arc::new(AtomicBool::new(false));
                                let count = obs.count.clone();
                                let fcl_breach = obs.fcl_breach.clone();
                                let (s2, pl, d2) = (stop.clone(), placement.clone(), dir.clone());
                                let hook = summary.clone();
                                let thread = std::thread::spawn(move || {
                                    let mut obs = obs;
                                    let plan = Arc::new(plan);
                                    let out =
                                        run::execute(plan.clone(), &pl, None, clock, &s2, &mut obs)
                                            .map_err(|e| e.to_string());
                                    if let Ok(o) = &out {
                                        hook(&plan, &pl, o, &d2);
                                    }
                                    out
                                });
                                running = Some(Running {
                                    fcl_breach,
                                    stop,
                                    count,
                                    started: Instant::now(),
                                    thread,
                                    dir,
                                });
                                Response::Ok
                            }
                        }
                    }
                    Request::StopWorker => {
                        if let Some(r) = &running {
                            r.stop.store(true, Ordering::Relaxed);
                        }
                        Response::Ok
                    }
                    Request::Halt => {
                        halted = true;
                        return;
                    }
                    Request::Log(location) => {
                        match send_logs(link, &note, &peer, results, location) {
                            Ok(()) => return,
                            Err(e) => refuse(e),
                        }
                    }
                    other => refuse(format!(
                        "{} is not supported by the Allegro worker yet",
                        other.command().name()
                    )),
                };
                send(link, topics::RESPONSES, &note.reply(peer.clone(), reply));
            }
        });
        // A finished drain: DRAIN_COMPLETE (§6.3).
        if draining.as_ref().is_some_and(|d| d.is_finished()) {
            let outcome = draining
                .take()
                .expect("checked above")
                .join()
                .unwrap_or_else(|_| Err("the engine panicked".into()));
            let n = match outcome {
                Ok(o) if o.status != Status::Failed => Notification::DrainComplete {
                    successful: true,
                    message: format!("Drained {} messages", o.totals.counters().received),
                },
                Ok(o) => Notification::DrainComplete {
                    successful: false,
                    message: o
                        .totals
                        .errors
                        .first()
                        .cloned()
                        .unwrap_or_else(|| "Drain completed with warnings".into()),
                },
                Err(e) => Notification::DrainComplete {
                    successful: false,
                    message: e,
                },
            };
            send(
                &mut driver.link,
                topics::NOTIFICATIONS,
                &notification(&peer, n),
            );
        }
        // A finished test: tell the cluster how it went (§6.3).
        if running.as_ref().is_some_and(|r| r.thread.is_finished()) {
            let r = running.take().expect("checked above");
            let outcome = r
                .thread
                .join()
                .unwrap_or_else(|_| Err("the engine panicked".into()));
            let breach = r
                .fcl_breach
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take();
            let outcome = match (outcome, breach) {
                (Ok(_), Some(why)) => Err(why),
                (o, _) => o,
            };
            let success = matches!(&outcome, Ok(o) if o.status != Status::Failed);
            if let Err(e) = files::link_result(results, &r.dir, success) {
                eprintln!("allegro worker: cannot update the result links: {e}");
            }
            let n = match outcome {
                Ok(o) if o.status != Status::Failed => notification(
                    &peer,
                    Notification::TestSuccessful {
                        test: test.clone(),
                        message: "Test completed successfully".into(),
                    },
                ),
                Ok(o) => notification(
                    &peer,
                    Notification::TestFailed {
                        test: test.clone(),
                        message: o
                            .totals
                            .errors
                            .first()
                            .cloned()
                            .unwrap_or_else(|| "the test failed".into()),
                    },
                ),
                Err(e) => notification(
                    &peer,
                    Notification::TestFailed {
                        test: test.clone(),
                        message: e,
                    },
                ),
            };
            send(&mut driver.link, topics::NOTIFICATIONS, &n);
        }
        if driver.last_error != reported {
            if let Some(e) = &driver.last_error {
                eprintln!("allegro worker: {e}; reconnecting");
            }
            reported = driver.last_error.clone();
        }
    }
    if let Some(r) = running.take() {
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

/// Streams the files of a test directory as DATA notes on `/mpt/logs` (§8.5): chunks of at most
/// 10 MB with the SHA-1 of the whole file, the request's correlation pair echoed.
fn send_logs(
    link: &mut Link,
    request: &Note,
    peer: &PeerInfo,
    results: &Path,
    location: &LogLocation,
) -> Result<(), String> {
    let dir = match location {
        LogLocation::Any(name) if !name.contains('/') && name != ".." => results.join(name),
        LogLocation::Any(name) => return Err(format!("bad log directory name '{name}'")),
        LogLocation::Last => results.join("last"),
        LogLocation::LastSuccess => results.join("lastSuccessful"),
        LogLocation::LastFailed => results.join("lastFailed"),
        LogLocation::Unknown(code) => return Err(format!("unknown log location type {code}")),
    };
    let files =
        files::test_files(&dir).map_err(|e| format!("no log directory {}: {e}", dir.display()))?;
    if files.is_empty() {
        return Err(format!("the log directory {} is empty", dir.display()));
    }
    for (index, path) in files.iter().enumerate() {
        let bytes =
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let hash = files::sha1_hex(&bytes);
        let chunks: Vec<&[u8]> = if bytes.is_empty() {
            vec![&[]]
        } else {
            bytes.chunks(files::LOG_CHUNK).collect()
        };
        for (k, chunk) in chunks.iter().enumerate() {
            let data = Data::Log(LogChunk {
                location_type: location.location_type(),
                info: LocationTypeInfo {
                    file_count: files.len() as i32,
                    index: index as i32,
                },
                file_name: path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                chunk_index: k as i32,
                chunk_total: chunks.len() as i32,
                file_size: bytes.len() as i64,
                file_hash: hash.clone(),
                data: chunk.to_vec(),
            });
            let note = Note {
                correlation_id: request.correlation_id.clone(),
                message_id: request.message_id.clone(),
                body: Body::Data {
                    peer: peer.clone(),
                    data,
                },
            };
            send(link, topics::LOGS, &note);
        }
    }
    Ok(())
}

fn notification(peer: &PeerInfo, notification: Notification) -> Note {
    Note {
        correlation_id: uuid4(),
        message_id: uuid4(),
        body: Body::Notification {
            peer: peer.clone(),
            notification,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::test_run_id;

    #[test]
    fn every_worker_derives_the_same_run_id_from_one_start_test() {
        let a = "6c4a0a52-5b1f-4d0e-9d53-6a5e8f0c2b11";
        // FNV-1a: a fixed function of the note, so workers on other hosts agree.
        assert_eq!(test_run_id(""), 0x811c_9dc5);
        assert_eq!(test_run_id("a"), 0xe40c_292c);
        assert_ne!(
            test_run_id(a),
            test_run_id("6c4a0a52-5b1f-4d0e-9d53-6a5e8f0c2b12")
        );
    }
}
