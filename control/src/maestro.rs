//! Allegro in a Maestro cluster: `allegro ping` (a client command) and `allegro worker` (the
//! worker daemon), over the Maestro broker link.
//!
//! The worker follows the Java worker's handlers (`maestro-protocol.md` §6.3): PING, SET, GET
//! (refused), STATS, START_TEST (OK and TEST_STARTED), STOP_TEST, ROLE_ASSIGN/UNASSIGN
//! (subscribing to the role topic, §2.3), START_WORKER (runs the engine as sender or receiver with
//! the stored options, then TEST_SUCCESSFUL or TEST_FAILED), STOP_WORKER and HALT. Everything
//! else (LOG, DRAIN, groups, agent and inspector commands) is refused with INTERNAL_ERROR naming
//! it. Result files in Maestro's formats are not written yet. A malformed note is logged with its topic and
//! dropped (§3).

use crate::link::{uuid4, Driver, Event, Link};
use crate::note::{
    self, topics, Body, ErrorCode, Note, Notification, PeerInfo, Request, Response, Role,
    SetOption, Stats, Test,
};
use allegro_engine::clock::{Clock, NANOS_PER_SEC};
use allegro_engine::placement::{self, Policy};
use allegro_engine::plan::{self, AmqpOptions, LoadShape, MqttOptions, Plan};
use allegro_engine::run::{self, Observer, Outcome, Status, Totals};
use allegro_engine::url::Url;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// `host:port` of a Maestro broker URL (`mqtt://host:port`, `tcp://host:port`).
pub fn broker_addr(url: &str) -> Result<String, String> {
    let url = url.replacen("tcp://", "mqtt://", 1);
    let u: Url = url
        .parse()
        .map_err(|e| format!("bad Maestro broker URL '{url}': {e}"))?;
    Ok(u.authority())
}

fn epoch_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

fn send(link: &mut Link, topic: &str, note: &Note) {
    let mut buf = Vec::new();
    note::encode(note, &mut buf);
    link.publish(topic, &buf, topics::publish_qos(note));
}

/// One peer's answer to a PING.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pong {
    pub peer: PeerInfo,
    pub elapsed_ms: i64,
}

/// Publishes one request made by `make` (called once connected) to `topic` and collects, for
/// `wait`, every response that carries its correlation id.
pub fn ask(
    addr: &str,
    topic: &str,
    make: impl Fn() -> Request,
    wait: Duration,
) -> Result<Vec<(PeerInfo, Response)>, String> {
    let id = topics::peer_id(&uuid4());
    let mut link = Link::new(id, 30);
    for (t, q) in topics::CLIENT_SUBSCRIPTIONS {
        link.subscribe(t, q);
    }
    let mut driver = Driver::new(addr.to_owned(), link);
    let correlation = uuid4();
    let start = Instant::now();
    let mut asked: Option<Instant> = None;
    let mut answers = Vec::new();
    while asked.map_or(start.elapsed() < wait.max(Duration::from_secs(5)), |t| {
        t.elapsed() < wait
    }) {
        driver.turn(&mut |event, link| match event {
            Event::Up if asked.is_none() => {
                send(
                    link,
                    topic,
                    &Note::request(correlation.clone(), uuid4(), make()),
                );
                asked = Some(Instant::now());
            }
            Event::Up => {}
            Event::Message { topic, payload } => match note::decode(payload) {
                Ok(Note {
                    correlation_id,
                    body: Body::Response { peer, response },
                    ..
                }) if correlation_id == correlation => answers.push((peer, response)),
                Ok(_) => {}
                Err(e) => eprintln!("allegro: dropped a malformed note on {topic}: {e}"),
            },
        });
    }
    if asked.is_none() {
        return Err(driver
            .last_error
            .unwrap_or_else(|| format!("no answer from the Maestro broker at {addr}")));
    }
    // A request nobody answers (HALT) still needs a moment on the wire.
    let linger = Instant::now() + Duration::from_millis(100);
    while Instant::now() < linger {
        driver.turn(&mut |_, _| {});
    }
    Ok(answers)
}

/// Publishes a PING to every peer and collects the answers for `wait`.
pub fn ping(addr: &str, wait: Duration) -> Result<Vec<Pong>, String> {
    let req = || {
        let us = epoch_us();
        Request::Ping {
            sec: us / 1_000_000,
            usec: us % 1_000_000,
        }
    };
    Ok(ask(addr, topics::ALL_PEERS, req, wait)?
        .into_iter()
        .filter_map(|(peer, r)| match r {
            Response::Ping { elapsed } => Some(Pong {
                peer,
                elapsed_ms: elapsed,
            }),
            _ => None,
        })
        .collect())
}

/// Asks every worker for its STATS (§7.6).
pub fn stats(addr: &str, wait: Duration) -> Result<Vec<(PeerInfo, Stats)>, String> {
    Ok(ask(addr, topics::WORKERS, || Request::Stats, wait)?
        .into_iter()
        .filter_map(|(peer, r)| match r {
            Response::Stats(s) => Some((peer, s)),
            _ => None,
        })
        .collect())
}

/// Tells every peer to HALT (they do not answer, §6.3).
pub fn halt(addr: &str) -> Result<(), String> {
    ask(
        addr,
        topics::ALL_PEERS,
        || Request::Halt,
        Duration::from_millis(200),
    )
    .map(|_| ())
}

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
    stop: Arc<AtomicBool>,
    count: Arc<AtomicU64>,
    started: Instant,
    thread: std::thread::JoinHandle<Result<Outcome, String>>,
}

/// Feeds the live message count to STATS.
struct Counting(Arc<AtomicU64>, bool);

impl Observer for Counting {
    fn interval(&mut self, _now: i64, totals: &Totals, _i: &allegro_engine::stats::Histograms) {
        let c = totals.counters();
        self.0
            .store(if self.1 { c.sent } else { c.received }, Ordering::Relaxed);
    }
}

/// Builds the engine plan for START_WORKER from the stored options.
fn worker_plan(o: &Options, sender: bool, run_id: u32) -> Result<Plan, String> {
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
        run_id,
        connect_timeout: 10 * NANOS_PER_SEC,
        // Receivers wait for senders on other hosts: be patient before calling it a day.
        drain_idle: 30 * NANOS_PER_SEC,
    })
}

/// Runs the worker daemon until HALT (or the process is stopped).
pub fn worker(addr: &str, name: &str, host: &str, stop: &dyn Fn() -> bool) -> Result<(), String> {
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
    let placement =
        placement::resolve(&Policy::AllCores, Path::new("/")).map_err(|e| e.to_string())?;
    let mut driver = Driver::new(addr.to_owned(), link);
    let mut halted = false;
    let mut reported: Option<String> = None;
    let mut options = Options::default();
    let mut test = Test::default();
    let mut running: Option<Running> = None;
    let mut run_seq: u32 = 0;
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
                    Request::StopTest => return test = Test::default(),
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
                        let run_id = (uuid4().as_bytes()[0] as u32) << 24 | run_seq;
                        match worker_plan(&options, peer.role == Role::Sender, run_id) {
                            Err(e) => refuse(format!(
                                "The worker container was unable to start the workers: {e}"
                            )),
                            Ok(plan) => {
                                let stop = Arc::new(AtomicBool::new(false));
                                let count = Arc::new(AtomicU64::new(0));
                                let (s2, c2, pl) = (stop.clone(), count.clone(), placement.clone());
                                let sender = peer.role == Role::Sender;
                                let thread = std::thread::spawn(move || {
                                    let mut obs = Counting(c2, sender);
                                    run::execute(
                                        Arc::new(plan),
                                        &pl,
                                        None,
                                        Clock::new(),
                                        &s2,
                                        &mut obs,
                                    )
                                    .map_err(|e| e.to_string())
                                });
                                running = Some(Running {
                                    stop,
                                    count,
                                    started: Instant::now(),
                                    thread,
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
                    other => refuse(format!(
                        "{} is not supported by the Allegro worker yet",
                        other.command().name()
                    )),
                };
                send(link, topics::RESPONSES, &note.reply(peer.clone(), reply));
            }
        });
        // A finished test: tell the cluster how it went (§6.3).
        if running.as_ref().is_some_and(|r| r.thread.is_finished()) {
            let r = running.take().expect("checked above");
            let outcome = r
                .thread
                .join()
                .unwrap_or_else(|_| Err("the engine panicked".into()));
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
