//! The Maestro worker (`docs/maestro-protocol.md`, "The worker") as a sans-IO state machine.
//!
//! [`Worker::handle`] takes one [`Input`] (a note from the Maestro broker, or word from the
//! engine or the file system) and the time, and returns the [`Action`]s that follow: replies
//! and notifications to publish, subscriptions to change, an engine run to start or stop with
//! a typed [`TestOrder`], a test directory's files to read, a halt. It reads no clock, spawns
//! nothing and touches no file; [`driver::run`] carries the actions out over a real link and
//! the engine, and tests drive it in memory.
//!
//! It answers PING, SET, STATS, START_TEST (OK, then TEST_STARTED), STOP_TEST, ROLE_ASSIGN and
//! ROLE_UNASSIGN (subscribing to the role topic), GROUP_JOIN and GROUP_LEAVE, START_WORKER (the
//! engine runs as sender or receiver with the stored options; then TEST_SUCCESSFUL or
//! TEST_FAILED), STOP_WORKER, LOG (the files of a test directory as DATA chunks), DRAIN (then
//! DRAIN_COMPLETE) and HALT, refuses GET and what it does not do (agent and inspector
//! commands) with INTERNAL_ERROR naming it, and drops a malformed note with a warning.

pub mod driver;

pub use driver::{run, Daemon, SummaryHook};

use crate::files;
use crate::note::{
    self, topics, Body, Data, ErrorCode, LocationTypeInfo, LogChunk, LogLocation, Note,
    Notification, PeerInfo, Request, Response, Role, SetOption, Stats, Test,
};
use allegro_engine::clock::{Nanos, NANOS_PER_SEC};
use allegro_engine::plan::{
    self, Amqp091Options, AmqpOptions, LoadShape, MqttOptions, Plan, ProtocolPlan, RunIdentity,
    StompOptions,
};
use allegro_engine::tls::{TlsClient, TlsOptions};
use allegro_engine::url::Url;
use allegro_wire::mqtt::QoS;
use std::path::PathBuf;

/// What happened, for [`Worker::handle`].
#[derive(Debug)]
pub enum Input<'a> {
    /// A note arrived on `topic` (the MQTT payload, not yet decoded).
    Note { topic: &'a str, payload: &'a [u8] },
    /// The running test's count so far: messages sent (a sender) or received (a receiver).
    Progress(u64),
    /// The engine took the test of an [`Action::StartTest`] (`Ok`), or could not, and why.
    Started(Result<(), String>),
    /// The running test ended: `Ok` passed, `Err` failed, with the reason.
    Ended(Result<(), String>),
    /// The drain of an [`Action::StartDrain`] ended: the messages it took, or why it failed.
    Drained(Result<u64, String>),
    /// Time passes (the driver says so every turn).
    Tick,
    /// The files an [`Action::ReadLogs`] asked for, by name in order, or why they could not
    /// be read.
    Logs {
        request: Box<Note>,
        location: LogLocation,
        files: Result<Vec<(String, Vec<u8>)>, String>,
    },
}

/// What to do, in order.
// Publishing is most of what a worker does: boxing its note would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Action {
    /// Publish `note` on `topic` (at the QoS `topics::publish_qos` gives it).
    Publish {
        topic: String,
        note: Note,
    },
    Subscribe {
        topic: String,
        qos: QoS,
    },
    Unsubscribe {
        topic: String,
    },
    /// Run the engine for a test; answer with [`Input::Started`], then [`Input::Progress`] now
    /// and then and [`Input::Ended`].
    StartTest(Box<TestOrder>),
    /// Stop the running test (its end still comes as [`Input::Ended`]).
    StopTest,
    /// Run receivers that drain a destination, stopped after `limit_s` seconds if given;
    /// answer with [`Input::Drained`].
    StartDrain {
        plan: Box<Plan>,
        limit_s: Option<u64>,
    },
    /// Stop the running drain (its end still comes as [`Input::Drained`]).
    StopDrain,
    /// Read the files of the test directory `dir` for a LOG; answer with [`Input::Logs`].
    ReadLogs {
        request: Box<Note>,
        location: LogLocation,
        dir: PathBuf,
    },
    /// Say this on stderr.
    Warn(String),
    /// Stop the engine, let the last replies go out and exit.
    Halt,
}

/// A test for the engine to run.
#[derive(Debug, Clone)]
pub struct TestOrder {
    pub plan: Plan,
    pub sender: bool,
    /// `test.properties` of the test directory, in order.
    pub properties: Vec<(&'static str, String)>,
    /// Receivers: the fail condition on latency in milliseconds (0: none).
    pub fcl_ms: u64,
}

/// The worker's state between inputs.
pub struct Worker {
    peer: PeerInfo,
    /// Where test directories are (LOG reads them).
    results: PathBuf,
    options: Options,
    /// The test of the last START_TEST, echoed in notifications.
    test: Test,
    /// The run id of that test, when every worker got the same START_TEST.
    test_run: Option<u32>,
    running: Option<Running>,
    /// The START_WORKER whose answer waits for [`Input::Started`].
    starting: Option<Note>,
    draining: bool,
    runs: u32,
    /// When a request last arrived or the last test or drain ended (µs since the epoch).
    last_word_us: i64,
    /// Fresh UUID strings (correlation ids of notifications, instance ids of runs).
    ids: Box<dyn FnMut() -> String + Send>,
    /// How TLS SUT URLs are verified.
    tls: TlsOptions,
    /// `--reconnect`: how long a lost SUT connection of a test is made again.
    reconnect: Option<Nanos>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("peer", &self.peer)
            .field("options", &self.options)
            .field("test", &self.test)
            .field("running", &self.running)
            .field("draining", &self.draining)
            .finish_non_exhaustive()
    }
}

/// The test the engine runs for this worker.
#[derive(Debug, Clone, Copy)]
struct Running {
    sender: bool,
    /// Microseconds since the epoch.
    started_us: i64,
    count: u64,
}

impl Worker {
    /// A worker that is `peer` (its role `Other` until assigned), keeps its test directories
    /// under `results`, and takes fresh UUID strings from `ids`.
    pub fn new(peer: PeerInfo, results: PathBuf, ids: Box<dyn FnMut() -> String + Send>) -> Self {
        Worker {
            peer,
            results,
            options: Options::default(),
            test: Test::default(),
            test_run: None,
            running: None,
            starting: None,
            draining: false,
            runs: 0,
            last_word_us: i64::MIN,
            ids,
            tls: TlsOptions::default(),
            reconnect: None,
        }
    }

    /// Makes a test's SUT connections that are lost mid-test again, with back-off, for up to
    /// `window` each (`None`: the first loss fails the test, as Maestro's workers do).
    pub fn with_reconnect(mut self, window: Option<Nanos>) -> Self {
        self.reconnect = window;
        self
    }

    /// Verifies TLS SUT URLs (`mqtts://`...) with `tls` (default: the system's roots).
    pub fn with_tls(mut self, tls: TlsOptions) -> Self {
        self.tls = tls;
        self
    }

    pub fn peer(&self) -> &PeerInfo {
        &self.peer
    }

    /// Handles one input at `now_us` (microseconds since the epoch).
    pub fn handle(&mut self, now_us: i64, input: Input<'_>) -> Vec<Action> {
        let mut out = Vec::new();
        match input {
            Input::Tick => self.release_a_forgotten_role(now_us, &mut out),
            Input::Note { topic, payload } => match note::decode(payload) {
                Ok(n) => {
                    if let Body::Request(req) = &n.body {
                        self.last_word_us = now_us;
                        let req = req.clone();
                        self.on_request(now_us, topic, &n, req, &mut out);
                    }
                }
                Err(e) => out.push(Action::Warn(format!(
                    "dropped a malformed note on {topic}: {e}"
                ))),
            },
            Input::Progress(n) => {
                if let Some(r) = &mut self.running {
                    r.count = n;
                }
            }
            Input::Started(result) => {
                let Some(request) = self.starting.take() else {
                    return out;
                };
                let reply = match result {
                    Ok(()) => Response::Ok,
                    Err(e) => {
                        self.running = None;
                        refusal(format!(
                            "The worker container was unable to start the workers: {e}"
                        ))
                    }
                };
                self.reply(&request, reply, &mut out);
            }
            Input::Ended(result) => {
                self.last_word_us = now_us;
                let receiver = self.running.take().is_some_and(|r| !r.sender);
                let test = self.test.clone();
                let n = match result {
                    Ok(()) => Notification::TestSuccessful {
                        test,
                        message: "Test completed successfully".into(),
                    },
                    Err(message) => Notification::TestFailed { test, message },
                };
                self.notify(n, &mut out);
                // A receiver then drains what is left on its destination, as Maestro's workers
                // do: the client waits for every receiver's DRAIN_COMPLETE (§8.6).
                if receiver && !self.draining {
                    self.end_of_test_drain(&mut out);
                }
            }
            Input::Drained(result) => {
                self.last_word_us = now_us;
                self.draining = false;
                let n = match result {
                    Ok(count) => Notification::DrainComplete {
                        successful: true,
                        message: format!("Drained {count} messages"),
                    },
                    Err(message) => Notification::DrainComplete {
                        successful: false,
                        message,
                    },
                };
                self.notify(n, &mut out);
            }
            Input::Logs {
                request,
                location,
                files,
            } => match files {
                Ok(files) if files.is_empty() => self.reply(
                    &request,
                    refusal("the log directory is empty".into()),
                    &mut out,
                ),
                Ok(files) => self.log_chunks(&request, &location, &files, &mut out),
                Err(e) => self.reply(&request, refusal(e), &mut out),
            },
        }
        out
    }

    fn on_request(
        &mut self,
        now_us: i64,
        topic: &str,
        n: &Note,
        req: Request,
        out: &mut Vec<Action>,
    ) {
        let reply = match req {
            Request::Ping { sec, usec } => Response::Ping {
                elapsed: (now_us - (sec * 1_000_000 + usec)) / 1_000,
            },
            Request::RoleAssign { .. } if self.peer.role != Role::Other => refusal(format!(
                "The node is already assigned the {} role",
                self.peer.role.name()
            )),
            Request::RoleAssign { role } => {
                self.peer.role = role;
                out.push(Action::Subscribe {
                    topic: topics::by_role(role),
                    qos: topics::ROLE_GROUP_SUBSCRIBE_QOS,
                });
                Response::Ok
            }
            Request::RoleUnassign => {
                if self.peer.role != Role::Other {
                    out.push(Action::Unsubscribe {
                        topic: topics::by_role(self.peer.role),
                    });
                }
                self.peer.role = Role::Other;
                Response::Ok
            }
            Request::GroupJoin { .. } if self.peer.group_name != "all" => refusal(format!(
                "The node is already a member of the group {}",
                self.peer.group_name
            )),
            Request::GroupJoin {
                member_name,
                group_name,
            } => {
                out.push(Action::Subscribe {
                    topic: topics::by_group(&group_name, &member_name),
                    qos: topics::ROLE_GROUP_SUBSCRIBE_QOS,
                });
                self.peer.member_name = member_name;
                self.peer.group_name = group_name;
                Response::Ok
            }
            Request::GroupLeave => {
                if self.peer.group_name != "all" {
                    out.push(Action::Unsubscribe {
                        topic: topics::by_group(&self.peer.group_name, &self.peer.member_name),
                    });
                }
                self.peer.member_name.clear();
                self.peer.group_name = "all".into();
                Response::Ok
            }
            Request::Set { option, value } => {
                match check_set(option, &value).and_then(|()| self.options.slot(option)) {
                    Ok(Some(slot)) => {
                        *slot = Some(value);
                        Response::Ok
                    }
                    Ok(None) => Response::Ok,
                    Err(e) => refusal(e),
                }
            }
            Request::Get { .. } => refusal("Data server is deprecated".into()),
            Request::Stats => Response::Stats(self.stats(now_us)),
            Request::StartTest(info) => {
                self.test = info.test;
                // Only a note every worker got (on /mpt/peer, as Maestro's clients send it)
                // gives them one run id; sent to each worker apart, it cannot.
                self.test_run =
                    (topic == topics::ALL_PEERS).then(|| test_run_id(&n.correlation_id));
                self.reply(n, Response::Ok, out);
                let started = Note {
                    correlation_id: n.correlation_id.clone(),
                    message_id: n.message_id.clone(),
                    body: Body::Notification {
                        peer: self.peer.clone(),
                        notification: Notification::TestStarted {
                            test: self.test.clone(),
                            message: String::new(),
                        },
                    },
                };
                out.push(Action::Publish {
                    topic: topics::NOTIFICATIONS.into(),
                    note: started,
                });
                return;
            }
            Request::StopTest => {
                self.test = Test::default();
                self.test_run = None;
                return;
            }
            Request::StartWorker { .. }
                if !matches!(self.peer.role, Role::Sender | Role::Receiver) =>
            {
                refusal("The worker does not have a role. Set one with RoleAssign".into())
            }
            Request::StartWorker { .. } if self.running.is_some() => {
                // The Java worker says so with a failure and no reply.
                let test = self.test.clone();
                self.notify(
                    Notification::TestFailed {
                        test,
                        message: "Test already in progress".into(),
                    },
                    out,
                );
                return;
            }
            Request::StartWorker { .. } => {
                let sender = self.peer.role == Role::Sender;
                match self.test_order(sender) {
                    Ok(order) => {
                        // A new test takes its destination back from a drain still running.
                        if self.draining {
                            out.push(Action::StopDrain);
                        }
                        self.running = Some(Running {
                            sender,
                            started_us: now_us,
                            count: 0,
                        });
                        self.starting = Some(n.clone());
                        out.push(Action::StartTest(Box::new(order)));
                        return; // answered once the engine took it (`Input::Started`)
                    }
                    Err(e) => refusal(format!(
                        "The worker container was unable to start the workers: {e}"
                    )),
                }
            }
            Request::StopWorker => {
                if self.running.is_some() {
                    out.push(Action::StopTest);
                }
                Response::Ok
            }
            Request::Halt => {
                out.push(Action::Halt);
                return;
            }
            Request::Log(location) => match self.log_dir(&location) {
                Ok(dir) => {
                    out.push(Action::ReadLogs {
                        request: Box::new(n.clone()),
                        location,
                        dir,
                    });
                    return;
                }
                Err(e) => refusal(e),
            },
            Request::Drain { .. } if self.draining => refusal("A drain is already running".into()),
            Request::Drain {
                duration,
                url,
                parallel_count,
                ..
            } => match self.drain_plan(&duration, url, parallel_count) {
                Ok(plan) => {
                    self.draining = true;
                    out.push(Action::StartDrain {
                        plan: Box::new(plan),
                        limit_s: None,
                    });
                    Response::Ok
                }
                Err(e) => refusal(format!("Unable to drain: {e}")),
            },
            other => refusal(format!(
                "{} is not supported by the Allegro worker yet",
                other.command().name()
            )),
        };
        self.reply(n, reply, out);
    }

    fn reply(&self, request: &Note, response: Response, out: &mut Vec<Action>) {
        out.push(Action::Publish {
            topic: topics::RESPONSES.into(),
            note: request.reply(self.peer.clone(), response),
        });
    }

    fn notify(&mut self, notification: Notification, out: &mut Vec<Action>) {
        let note = Note {
            correlation_id: (self.ids)(),
            message_id: (self.ids)(),
            body: Body::Notification {
                peer: self.peer.clone(),
                notification,
            },
        };
        out.push(Action::Publish {
            topic: topics::NOTIFICATIONS.into(),
            note,
        });
    }

    fn stats(&self, now_us: i64) -> Stats {
        let (count, rate) = self.running.map_or((0, 0.0), |r| {
            let secs = (now_us - r.started_us) / 1_000_000;
            let rate = if secs > 0 {
                r.count as f64 / secs as f64
            } else {
                0.0
            };
            (r.count, rate)
        });
        Stats {
            child_count: self
                .options
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
        }
    }

    /// A fresh random id (the first 32 bits of a UUID from `ids`).
    fn fresh_id(&mut self) -> u32 {
        u32::from_str_radix(&(self.ids)()[..8], 16).unwrap_or(0)
    }

    /// The engine run for START_WORKER: the stored options, the test's run id.
    fn test_order(&mut self, sender: bool) -> Result<TestOrder, String> {
        self.runs += 1;
        // The sender id is fresh, so that client ids never collide with another worker's on a
        // shared SUT; the run id is the test's, shared by every worker. Without one,
        // receivers count every run's messages.
        let instance = self.fresh_id() ^ self.runs;
        let run = RunIdentity {
            run: self.test_run.unwrap_or(instance),
            sender: instance,
            filter: self.test_run.is_some(),
        };
        let mut plan = worker_plan(&self.options, sender, run, &self.tls)?;
        plan.reconnect = self.reconnect;
        Ok(TestOrder {
            plan,
            sender,
            properties: test_properties(&self.options),
            fcl_ms: self
                .options
                .fcl
                .as_deref()
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0),
        })
    }

    /// DRAIN: receivers on `url` until nothing more arrives, whatever run left the messages.
    fn drain_plan(
        &mut self,
        duration: &str,
        url: String,
        parallel: String,
    ) -> Result<Plan, String> {
        // Java takes the connection count from the stored option, the request's one when none
        // is stored.
        let mut o = self.options.clone();
        o.broker = Some(url);
        o.parallel = o.parallel.or(Some(parallel));
        // "-1" (or no count): until nothing more arrives.
        o.duration = Some(match plan::parse_duration(duration) {
            Ok(_) => duration.to_owned(),
            Err(_) => u64::MAX.to_string(),
        });
        let run = RunIdentity {
            run: 0,
            sender: self.fresh_id(),
            filter: false,
        };
        let mut plan = worker_plan(&o, false, run, &self.tls)?;
        plan.drain_idle = 2 * NANOS_PER_SEC;
        Ok(plan)
    }

    /// An idle worker whose role no request has touched for [`ROLE_RELEASE_US`] gives it up:
    /// its client is gone (killed before it could ROLE_UNASSIGN), and the next client could
    /// not use this worker otherwise.
    fn release_a_forgotten_role(&mut self, now_us: i64, out: &mut Vec<Action>) {
        let idle = self.running.is_none() && self.starting.is_none() && !self.draining;
        if self.peer.role == Role::Other
            || !idle
            || now_us.saturating_sub(self.last_word_us) < ROLE_RELEASE_US
        {
            return;
        }
        out.push(Action::Unsubscribe {
            topic: topics::by_role(self.peer.role),
        });
        out.push(Action::Warn(format!(
            "gave up the {} role: no word from a client for {} s",
            self.peer.role.name(),
            ROLE_RELEASE_US / 1_000_000
        )));
        self.peer.role = Role::Other;
    }

    /// After a receiver's test: the stored SUT URL drained by as many receivers, until nothing
    /// more arrives or [`END_DRAIN_LIMIT_S`] seconds.
    fn end_of_test_drain(&mut self, out: &mut Vec<Action>) {
        let (Some(url), Some(parallel)) =
            (self.options.broker.clone(), self.options.parallel.clone())
        else {
            return;
        };
        match self.drain_plan("-1", url, parallel) {
            Ok(plan) => {
                self.draining = true;
                out.push(Action::StartDrain {
                    plan: Box::new(plan),
                    limit_s: Some(END_DRAIN_LIMIT_S),
                });
            }
            Err(e) => out.push(Action::Warn(format!("no drain after the test: {e}"))),
        }
    }

    /// The test directory a LOG names.
    fn log_dir(&self, location: &LogLocation) -> Result<PathBuf, String> {
        Ok(match location {
            LogLocation::Any(name) if !name.contains('/') && name != ".." => {
                self.results.join(name)
            }
            LogLocation::Any(name) => return Err(format!("bad log directory name '{name}'")),
            LogLocation::Last => self.results.join("last"),
            LogLocation::LastSuccess => self.results.join("lastSuccessful"),
            LogLocation::LastFailed => self.results.join("lastFailed"),
            LogLocation::Unknown(code) => return Err(format!("unknown log location type {code}")),
        })
    }

    /// The files of a LOG as DATA notes on `/mpt/logs`: chunks of at most [`files::LOG_CHUNK`]
    /// bytes with the SHA-1 of the whole file, the request's correlation pair echoed.
    fn log_chunks(
        &self,
        request: &Note,
        location: &LogLocation,
        list: &[(String, Vec<u8>)],
        out: &mut Vec<Action>,
    ) {
        for (index, (name, bytes)) in list.iter().enumerate() {
            let hash = files::sha1_hex(bytes);
            let chunks: Vec<&[u8]> = if bytes.is_empty() {
                vec![&[]]
            } else {
                bytes.chunks(files::LOG_CHUNK).collect()
            };
            for (k, chunk) in chunks.iter().enumerate() {
                let data = Data::Log(LogChunk {
                    location_type: location.location_type(),
                    info: LocationTypeInfo {
                        file_count: list.len() as i32,
                        index: index as i32,
                    },
                    file_name: name.clone(),
                    chunk_index: k as i32,
                    chunk_total: chunks.len() as i32,
                    file_size: bytes.len() as i64,
                    file_hash: hash.clone(),
                    data: chunk.to_vec(),
                });
                out.push(Action::Publish {
                    topic: topics::LOGS.into(),
                    note: Note {
                        correlation_id: request.correlation_id.clone(),
                        message_id: request.message_id.clone(),
                        body: Body::Data {
                            peer: self.peer.clone(),
                            data,
                        },
                    },
                });
            }
        }
    }
}

/// How long an idle worker keeps a role with no request from anyone: 5 minutes, well past
/// the minute a client waits for drains between the steps of a test.
pub const ROLE_RELEASE_US: i64 = 300_000_000;

/// The longest a receiver drains its destination after its test (Maestro's workers stop that
/// drain after 45 s).
pub const END_DRAIN_LIMIT_S: u64 = 45;

/// A SET value the engine could not use is refused at once, with what `allegro run` would say
/// of it (a parallel count of 0 would otherwise "complete" having sent nothing).
fn check_set(option: SetOption, value: &str) -> Result<(), String> {
    let shown = allegro_engine::url::redact(value);
    let bad = |what: &str, e: String| Err(format!("bad {what} '{shown}': {e}"));
    match option {
        SetOption::Broker => match value.parse::<Url>() {
            Ok(_) => Ok(()),
            Err(e) => bad("SUT URL", e.to_string()),
        },
        SetOption::DurationType => match plan::parse_duration(value) {
            Ok(_) => Ok(()),
            Err(e) => bad("duration", e.to_string()),
        },
        SetOption::ParallelCount => match value.trim().parse::<u32>() {
            Ok(n) if (1..=MAX_PARALLEL).contains(&n) => Ok(()),
            _ => bad("parallel count", format!("expected 1 to {MAX_PARALLEL}")),
        },
        SetOption::MessageSize => match plan::parse_size(value) {
            Ok(_) => Ok(()),
            Err(e) => bad("message size", e.to_string()),
        },
        SetOption::Rate => match plan::parse_rate(value) {
            Ok(_) => Ok(()),
            Err(e) => bad("rate", e.to_string()),
        },
        SetOption::Fcl => match value.trim().parse::<u64>() {
            Ok(_) => Ok(()),
            Err(_) => bad("fail condition on latency", "expected milliseconds".into()),
        },
        _ => Ok(()),
    }
}

/// The most connections a worker opens for one test (as `allegro test --parallel-count`).
pub const MAX_PARALLEL: u32 = 100_000;

fn refusal(message: String) -> Response {
    Response::InternalError {
        code: ErrorCode::Unspecified,
        message,
    }
}

/// Options a client SETs, kept as strings until START_WORKER as the Java worker does (§7, §8.5).
#[derive(Debug, Clone, Default)]
struct Options {
    broker: Option<String>,
    duration: Option<String>,
    parallel: Option<String>,
    size: Option<String>,
    rate: Option<String>,
    fcl: Option<String>,
}

impl Options {
    /// Where SET `option` is kept: `None` for options that are taken and ignored (log level,
    /// throttle, management interface), an error for unknown ones.
    fn slot(&mut self, option: SetOption) -> Result<Option<&mut Option<String>>, String> {
        Ok(match option {
            SetOption::Broker => Some(&mut self.broker),
            SetOption::DurationType => Some(&mut self.duration),
            SetOption::ParallelCount => Some(&mut self.parallel),
            SetOption::MessageSize => Some(&mut self.size),
            SetOption::Rate => Some(&mut self.rate),
            SetOption::Fcl => Some(&mut self.fcl),
            SetOption::LogLevel | SetOption::Throttle | SetOption::ManagementInterface => None,
            SetOption::Unknown(code) => return Err(format!("unknown SET option {code}")),
        })
    }
}

/// `test.properties` (§10.2) for the stored options.
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
        // Any peer on the Maestro broker may ask for this file (LOG): no password in it.
        (
            "brokerUri",
            allegro_engine::url::redact(o.broker.as_deref().unwrap_or_default()),
        ),
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

/// Builds the engine plan for START_WORKER from the stored options.
fn worker_plan(
    o: &Options,
    sender: bool,
    run: RunIdentity,
    tls: &TlsOptions,
) -> Result<Plan, String> {
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
    let protocol = match url.scheme {
        allegro_engine::url::Scheme::Amqp => {
            ProtocolPlan::Amqp(AmqpOptions::from_options(&url.options).map_err(|e| e.to_string())?)
        }
        allegro_engine::url::Scheme::Mqtt => ProtocolPlan::Mqtt(MqttOptions::default()),
        allegro_engine::url::Scheme::Amqp091 => ProtocolPlan::Amqp091(
            Amqp091Options::from_options(&url.options).map_err(|e| e.to_string())?,
        ),
        allegro_engine::url::Scheme::Stomp => ProtocolPlan::Stomp(
            StompOptions::from_options(&url.options).map_err(|e| e.to_string())?,
        ),
    };
    let tls = match url.tls {
        true => Some(TlsClient::new(tls, &url.host)?),
        false => None,
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
        tls,
        protocol,
        peer: false,
        run,
        stall_timeout: 30 * NANOS_PER_SEC,
        connect_timeout: 10 * NANOS_PER_SEC,
        reconnect: None,
        connect_rate: None,
        source_addrs: Vec::new(),
        // Receivers wait for senders on other hosts: be patient before calling it a day.
        drain_idle: 30 * NANOS_PER_SEC,
        rx_coalesce: plan::RX_COALESCE,
    })
}

#[cfg(test)]
mod tests {
    //! The worker in memory: notes in as bytes, actions out, time passed in.

    use super::*;
    use crate::note::{GetOption, NoteType, TestExecutionInfo};
    use std::path::Path;

    const T0: i64 = 1_700_000_000_000_000; // microseconds since the epoch
    const BY_ID: &str = "/mpt/peer/by-id/maestro.exchange.w";

    fn worker() -> Worker {
        let mut n = 0u32;
        let ids = Box::new(move || {
            n += 1;
            format!("{n:08x}-0000-4000-8000-000000000000")
        });
        let peer = PeerInfo {
            id: "maestro.exchange.w".into(),
            member_name: String::new(),
            group_name: "all".into(),
            role: Role::Other,
            name: "w".into(),
            host: "h".into(),
        };
        Worker::new(peer, PathBuf::from("/results"), ids)
    }

    fn request(req: Request) -> (Note, Vec<u8>) {
        let n = Note::request("c-1", "m-1", req);
        let mut b = Vec::new();
        note::encode(&n, &mut b);
        (n, b)
    }

    /// `req` arrives on `topic` at `now`.
    fn ask_on(w: &mut Worker, now: i64, topic: &str, req: Request) -> Vec<Action> {
        let (_, bytes) = request(req);
        w.handle(
            now,
            Input::Note {
                topic,
                payload: &bytes,
            },
        )
    }

    fn ask(w: &mut Worker, req: Request) -> Vec<Action> {
        ask_on(w, T0, BY_ID, req)
    }

    /// The notes published, with their topics.
    fn published(actions: &[Action]) -> Vec<(&str, &Note)> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Publish { topic, note } => Some((topic.as_str(), note)),
                _ => None,
            })
            .collect()
    }

    /// The one reply among `actions`, checked to echo the request's correlation pair.
    fn reply(actions: &[Action]) -> Response {
        let replies: Vec<_> = published(actions)
            .into_iter()
            .filter(|(t, _)| *t == topics::RESPONSES)
            .collect();
        assert_eq!(replies.len(), 1, "{actions:?}");
        let n = replies[0].1;
        assert_eq!(
            (n.correlation_id.as_str(), n.message_id.as_str()),
            ("c-1", "m-1")
        );
        match &n.body {
            Body::Response { response, .. } => response.clone(),
            other => panic!("{other:?}"),
        }
    }

    fn refused(actions: &[Action]) -> String {
        match reply(actions) {
            Response::InternalError { message, .. } => message,
            other => panic!("not refused: {other:?}"),
        }
    }

    fn notification(actions: &[Action]) -> Notification {
        let n: Vec<_> = published(actions)
            .into_iter()
            .filter(|(t, _)| *t == topics::NOTIFICATIONS)
            .collect();
        assert_eq!(n.len(), 1, "{actions:?}");
        match &n[0].1.body {
            Body::Notification { notification, .. } => notification.clone(),
            other => panic!("{other:?}"),
        }
    }

    fn set_all(w: &mut Worker, url: &str) {
        for (option, value) in [
            (SetOption::Broker, url),
            (SetOption::DurationType, "500"),
            (SetOption::ParallelCount, "2"),
            (SetOption::MessageSize, "100"),
            (SetOption::Rate, "1000"),
            (SetOption::Fcl, "50"),
        ] {
            let value = value.to_owned();
            assert_eq!(reply(&ask(w, Request::Set { option, value })), Response::Ok);
        }
    }

    fn start_test(w: &mut Worker, topic: &str) -> Vec<Action> {
        let info = TestExecutionInfo {
            test: Test {
                number: 3,
                iteration: 1,
                name: "fixed-rate".into(),
                ..Test::default()
            },
            sut: None,
        };
        ask_on(w, T0, topic, Request::StartTest(info))
    }

    fn order(actions: &[Action]) -> &TestOrder {
        actions
            .iter()
            .find_map(|a| match a {
                Action::StartTest(o) => Some(&**o),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no engine run in {actions:?}"))
    }

    #[test]
    fn ping_answers_with_the_milliseconds_since_the_client_sent_it() {
        let mut w = worker();
        let sent = T0 - 12_345;
        let a = ask(
            &mut w,
            Request::Ping {
                sec: sent / 1_000_000,
                usec: sent % 1_000_000,
            },
        );
        assert_eq!(reply(&a), Response::Ping { elapsed: 12 });
    }

    #[test]
    fn a_role_is_assigned_once_with_its_topic_and_unassigned() {
        let mut w = worker();
        let a = ask(&mut w, Request::RoleAssign { role: Role::Sender });
        assert_eq!(reply(&a), Response::Ok);
        assert!(
            matches!(&a[0], Action::Subscribe { topic, .. } if *topic == topics::by_role(Role::Sender))
        );
        let again = ask(
            &mut w,
            Request::RoleAssign {
                role: Role::Receiver,
            },
        );
        assert_eq!(
            refused(&again),
            "The node is already assigned the sender role"
        );
        let a = ask(&mut w, Request::RoleUnassign);
        assert_eq!(reply(&a), Response::Ok);
        assert!(
            matches!(&a[0], Action::Unsubscribe { topic } if *topic == topics::by_role(Role::Sender))
        );
        assert_eq!(w.peer().role, Role::Other);
        // Nothing to unsubscribe from now.
        assert_eq!(ask(&mut w, Request::RoleUnassign).len(), 1);
    }

    #[test]
    fn groups_are_joined_once_and_left() {
        let mut w = worker();
        let join = |m: &str, g: &str| Request::GroupJoin {
            member_name: m.into(),
            group_name: g.into(),
        };
        let a = ask(&mut w, join("m1", "g1"));
        assert_eq!(reply(&a), Response::Ok);
        assert!(
            matches!(&a[0], Action::Subscribe { topic, .. } if *topic == topics::by_group("g1", "m1"))
        );
        assert_eq!(w.peer().group_name, "g1");
        assert!(
            refused(&ask(&mut w, join("m2", "g2"))).contains("already a member of the group g1")
        );
        let a = ask(&mut w, Request::GroupLeave);
        assert!(
            matches!(&a[0], Action::Unsubscribe { topic } if *topic == topics::by_group("g1", "m1"))
        );
        assert_eq!(
            (w.peer().group_name.as_str(), w.peer().member_name.as_str()),
            ("all", "")
        );
    }

    #[test]
    fn set_keeps_options_ignores_some_and_refuses_unknown_ones() {
        let mut w = worker();
        set_all(&mut w, "mqtt://sut:1883/t");
        let set = |option| Request::Set {
            option,
            value: "x".into(),
        };
        assert_eq!(reply(&ask(&mut w, set(SetOption::LogLevel))), Response::Ok);
        assert_eq!(
            reply(&ask(&mut w, set(SetOption::ManagementInterface))),
            Response::Ok
        );
        assert_eq!(
            refused(&ask(&mut w, set(SetOption::Unknown(42)))),
            "unknown SET option 42"
        );
        assert_eq!(w.options.parallel.as_deref(), Some("2"));
    }

    #[test]
    fn what_the_worker_does_not_do_is_refused_by_name() {
        let mut w = worker();
        let get = ask(
            &mut w,
            Request::Get {
                option: GetOption::DataServer,
            },
        );
        assert_eq!(refused(&get), "Data server is deprecated");
        let agent = refused(&ask(&mut w, Request::StartAgent));
        assert!(
            agent.contains("START_AGENT") && agent.contains("not supported"),
            "{agent}"
        );
        let inspector = ask(
            &mut w,
            Request::StartInspector {
                inspector_name: "ArtemisInspector".into(),
            },
        );
        assert!(refused(&inspector).contains("START_INSPECTOR"));
    }

    #[test]
    fn start_test_answers_then_announces_and_shares_a_run_id_only_when_broadcast() {
        let mut w = worker();
        let a = start_test(&mut w, topics::ALL_PEERS);
        assert_eq!(reply(&a), Response::Ok);
        match notification(&a) {
            Notification::TestStarted { test, .. } => assert_eq!(test.number, 3),
            other => panic!("{other:?}"),
        }
        assert_eq!(w.test_run, Some(test_run_id("c-1")));
        // Sent to this worker alone, it gives no shared id.
        start_test(&mut w, BY_ID);
        assert_eq!(w.test_run, None);
        // STOP_TEST forgets the test; it has no answer.
        start_test(&mut w, topics::ALL_PEERS);
        assert!(ask(&mut w, Request::StopTest).is_empty());
        assert_eq!((w.test_run, w.test.number), (None, Test::default().number));
    }

    #[test]
    fn start_worker_needs_a_role_and_the_options() {
        let mut w = worker();
        let start = || Request::StartWorker {
            worker_name: "JmsReceiver".into(),
        };
        assert!(refused(&ask(&mut w, start())).contains("does not have a role"));
        ask(
            &mut w,
            Request::RoleAssign {
                role: Role::Receiver,
            },
        );
        let why = refused(&ask(&mut w, start()));
        assert!(
            why.contains("unable to start") && why.contains("SUT URL is not set"),
            "{why}"
        );
    }

    #[test]
    fn set_refuses_what_the_engine_could_not_use() {
        let mut w = worker();
        let set = |option, value: &str| Request::Set {
            option,
            value: value.into(),
        };
        for (option, value, why) in [
            (SetOption::Broker, "nope://x", "bad SUT URL 'nope://x'"),
            (SetOption::ParallelCount, "0", "bad parallel count '0'"),
            (
                SetOption::ParallelCount,
                "4000000000",
                "expected 1 to 100000",
            ),
            (SetOption::DurationType, "5x", "bad duration '5x'"),
            (SetOption::MessageSize, "big", "bad message size 'big'"),
            (SetOption::Rate, "fast", "bad rate 'fast'"),
            (SetOption::Fcl, "-3", "bad fail condition on latency '-3'"),
        ] {
            let got = refused(&ask(&mut w, set(option, value)));
            assert!(got.contains(why), "{option:?} {value}: {got}");
        }
        assert_eq!(w.options.parallel, None, "nothing refused is kept");
        // Java's own forms pass: URL options, a duration, a variable size.
        for (option, value) in [
            (
                SetOption::Broker,
                "amqp://sut:5672/q?protocol=AMQP&limitDestinations=1",
            ),
            (SetOption::DurationType, "5m"),
            (SetOption::MessageSize, "~256"),
            (SetOption::ParallelCount, "4"),
        ] {
            assert_eq!(reply(&ask(&mut w, set(option, value))), Response::Ok);
        }
    }

    #[test]
    fn test_properties_carry_no_password() {
        assert_eq!(
            allegro_engine::url::redact("amqp://user:secret@sut:5672/q?a=b"),
            "amqp://user:***@sut:5672/q?a=b"
        );
        assert_eq!(
            allegro_engine::url::redact("mqtt://sut:1883/t"),
            "mqtt://sut:1883/t"
        );
        assert_eq!(
            allegro_engine::url::redact("amqp://user@sut/q"),
            "amqp://user@sut/q"
        );
        let o = Options {
            broker: Some("amqp://guest:guest@sut:5672/q".into()),
            ..Options::default()
        };
        let props = test_properties(&o);
        assert!(props.contains(&("brokerUri", "amqp://guest:***@sut:5672/q".to_owned())));
    }

    #[test]
    fn a_receiver_drains_its_destination_after_its_test_and_a_sender_does_not() {
        let mut w = worker();
        ask(
            &mut w,
            Request::RoleAssign {
                role: Role::Receiver,
            },
        );
        set_all(&mut w, "amqp://sut:5672/queue/q");
        let a = ask(
            &mut w,
            Request::StartWorker {
                worker_name: "JmsReceiver".into(),
            },
        );
        order(&a);
        w.handle(T0, Input::Started(Ok(())));
        let end = w.handle(T0, Input::Ended(Ok(())));
        // The verdict first, then the drain of the same queue by as many receivers.
        assert!(matches!(
            notification(&end),
            Notification::TestSuccessful { .. }
        ));
        let Some(Action::StartDrain { plan, limit_s }) = end.last() else {
            panic!("{end:?}")
        };
        assert_eq!(*limit_s, Some(END_DRAIN_LIMIT_S));
        assert_eq!(plan.url.to_string(), "amqp://sut:5672/queue/q");
        assert_eq!((plan.shape.receivers, plan.shape.parallel), (2, 0));
        assert!(!plan.run.filter);
        // The next test takes the queue back from a drain still running.
        let next = ask(
            &mut w,
            Request::StartWorker {
                worker_name: "JmsReceiver".into(),
            },
        );
        assert!(
            matches!(&next[..], [Action::StopDrain, Action::StartTest(_)]),
            "{next:?}"
        );
        let done = w.handle(T0, Input::Drained(Ok(7)));
        assert!(matches!(
            notification(&done),
            Notification::DrainComplete {
                successful: true,
                ..
            }
        ));

        let mut s = worker();
        ask(&mut s, Request::RoleAssign { role: Role::Sender });
        set_all(&mut s, "amqp://sut:5672/queue/q");
        ask(
            &mut s,
            Request::StartWorker {
                worker_name: "JmsSender".into(),
            },
        );
        s.handle(T0, Input::Started(Ok(())));
        let end = s.handle(T0, Input::Ended(Ok(())));
        assert!(
            !end.iter().any(|a| matches!(a, Action::StartDrain { .. })),
            "{end:?}"
        );
    }

    #[test]
    fn a_receiver_test_runs_answers_counts_and_ends() {
        let mut w = worker();
        ask(
            &mut w,
            Request::RoleAssign {
                role: Role::Receiver,
            },
        );
        set_all(&mut w, "amqp://sut:5672/queue/q");
        start_test(&mut w, topics::ALL_PEERS);
        let a = ask(
            &mut w,
            Request::StartWorker {
                worker_name: "JmsReceiver".into(),
            },
        );
        // The engine is asked first; the answer waits for it.
        assert!(published(&a).is_empty(), "{a:?}");
        let o = order(&a);
        assert!(!o.sender);
        assert_eq!((o.plan.shape.receivers, o.plan.shape.parallel), (2, 0));
        assert_eq!(o.fcl_ms, 50);
        assert_eq!(o.plan.run.run, test_run_id("c-1"));
        assert!(o.plan.run.filter);
        assert!(o.properties.contains(&("durationType", "count".into())));
        assert_eq!(reply(&w.handle(T0, Input::Started(Ok(())))), Response::Ok);
        // A second start while it runs: a failure notification and no answer.
        let again = ask(
            &mut w,
            Request::StartWorker {
                worker_name: "JmsReceiver".into(),
            },
        );
        assert!(
            matches!(notification(&again), Notification::TestFailed { message, .. } if message == "Test already in progress")
        );
        assert_eq!(published(&again).len(), 1);
        // STATS: the engine's count over the whole seconds since the start.
        w.handle(T0 + 2_500_000, Input::Progress(500));
        match reply(&ask_on(&mut w, T0 + 2_500_000, BY_ID, Request::Stats)) {
            Response::Stats(s) => assert_eq!((s.count, s.rate, s.child_count), (500, 250.0, 2)),
            other => panic!("{other:?}"),
        }
        // STOP_WORKER stops the engine; its end comes back as a verdict.
        let stop = ask(&mut w, Request::StopWorker);
        assert!(matches!(stop[0], Action::StopTest));
        assert_eq!(reply(&stop), Response::Ok);
        let end = w.handle(T0, Input::Ended(Err("broker went away".into())));
        match notification(&end) {
            Notification::TestFailed { test, message } => {
                assert_eq!((test.number, message.as_str()), (3, "broker went away"))
            }
            other => panic!("{other:?}"),
        }
        // Idle again: STOP_WORKER has nothing to stop, a new test may start.
        assert_eq!(ask(&mut w, Request::StopWorker).len(), 1);
        let a = ask(
            &mut w,
            Request::StartWorker {
                worker_name: "JmsReceiver".into(),
            },
        );
        order(&a);
        w.handle(T0, Input::Started(Ok(())));
        let end = w.handle(T0, Input::Ended(Ok(())));
        assert!(matches!(
            notification(&end),
            Notification::TestSuccessful { .. }
        ));
    }

    #[test]
    fn an_engine_that_cannot_start_is_refused_and_idle_again() {
        let mut w = worker();
        ask(&mut w, Request::RoleAssign { role: Role::Sender });
        set_all(&mut w, "mqtt://sut:1883/t");
        let a = ask(
            &mut w,
            Request::StartWorker {
                worker_name: "JmsSender".into(),
            },
        );
        let o = order(&a);
        assert!(
            o.sender && !o.plan.run.filter,
            "no START_TEST: no shared run id"
        );
        let a = w.handle(T0, Input::Started(Err("disk full".into())));
        assert!(refused(&a).ends_with("disk full"));
        assert!(w.running.is_none());
    }

    #[test]
    fn log_reads_the_named_directory_and_streams_it_in_chunks() {
        let mut w = worker();
        for (location, dir) in [
            (LogLocation::Last, "/results/last"),
            (LogLocation::LastSuccess, "/results/lastSuccessful"),
            (LogLocation::LastFailed, "/results/lastFailed"),
            (LogLocation::Any("7".into()), "/results/7"),
        ] {
            let a = ask(&mut w, Request::Log(location));
            assert!(
                matches!(&a[..], [Action::ReadLogs { dir: d, .. }] if d == Path::new(dir)),
                "{a:?}"
            );
        }
        assert!(
            refused(&ask(&mut w, Request::Log(LogLocation::Any("../x".into()))))
                .contains("bad log directory")
        );
        let (req, _) = request(Request::Log(LogLocation::Last));
        let files = vec![
            ("a.dat".to_owned(), b"abc".to_vec()),
            ("empty".to_owned(), Vec::new()),
        ];
        let a = w.handle(
            T0,
            Input::Logs {
                request: Box::new(req.clone()),
                location: LogLocation::Last,
                files: Ok(files),
            },
        );
        let chunks: Vec<_> = published(&a)
            .into_iter()
            .map(|(t, n)| {
                assert_eq!(t, topics::LOGS);
                assert_eq!(n.correlation_id, "c-1");
                match &n.body {
                    Body::Data {
                        data: Data::Log(c), ..
                    } => c.clone(),
                    other => panic!("{other:?}"),
                }
            })
            .collect();
        assert_eq!(chunks.len(), 2);
        assert_eq!(
            (chunks[0].file_name.as_str(), chunks[0].data.as_slice()),
            ("a.dat", &b"abc"[..])
        );
        assert_eq!(chunks[0].file_hash, files::sha1_hex(b"abc"));
        assert_eq!((chunks[0].info.file_count, chunks[1].info.index), (2, 1));
        assert_eq!((chunks[1].chunk_total, chunks[1].file_size), (1, 0));
        let missing = w.handle(
            T0,
            Input::Logs {
                request: Box::new(req.clone()),
                location: LogLocation::Last,
                files: Err("no log directory /results/last".into()),
            },
        );
        assert!(refused(&missing).contains("no log directory"));
        let empty = w.handle(
            T0,
            Input::Logs {
                request: Box::new(req),
                location: LogLocation::Last,
                files: Ok(Vec::new()),
            },
        );
        assert!(refused(&empty).contains("empty"));
    }

    #[test]
    fn drain_takes_every_run_and_says_how_many() {
        let mut w = worker();
        let drain = || Request::Drain {
            duration: "-1".into(),
            url: "amqp://sut:5672/queue/q".into(),
            parallel_count: "3".into(),
            worker_name: "JmsReceiver".into(),
        };
        let a = ask(&mut w, drain());
        assert_eq!(reply(&a), Response::Ok);
        let Some(Action::StartDrain { plan, limit_s }) = a.first() else {
            panic!("{a:?}")
        };
        assert_eq!(*limit_s, None, "an asked-for drain runs its course");
        assert_eq!(
            plan.shape.receivers, 3,
            "the request's count when none is SET"
        );
        assert!(!plan.run.filter, "a drain counts every run's messages");
        assert_eq!(plan.drain_idle, 2 * NANOS_PER_SEC);
        assert!(refused(&ask(&mut w, drain())).contains("already running"));
        let done = w.handle(T0, Input::Drained(Ok(42)));
        assert!(
            matches!(notification(&done), Notification::DrainComplete { successful: true, message } if message == "Drained 42 messages")
        );
        let a = ask(&mut w, drain());
        assert_eq!(reply(&a), Response::Ok);
        let failed = w.handle(T0, Input::Drained(Err("refused".into())));
        assert!(matches!(
            notification(&failed),
            Notification::DrainComplete {
                successful: false,
                ..
            }
        ));
    }

    #[test]
    fn a_role_no_client_speaks_for_is_given_up_when_idle() {
        let mut w = worker();
        ask(&mut w, Request::RoleAssign { role: Role::Sender });
        assert!(w.handle(T0 + ROLE_RELEASE_US - 1, Input::Tick).is_empty());
        // A test keeps it, however long it runs.
        set_all(&mut w, "mqtt://sut:1883/t");
        let later = T0 + ROLE_RELEASE_US / 2;
        ask_on(
            &mut w,
            later,
            BY_ID,
            Request::StartWorker {
                worker_name: "JmsSender".into(),
            },
        );
        w.handle(later, Input::Started(Ok(())));
        assert!(w
            .handle(later + 10 * ROLE_RELEASE_US, Input::Tick)
            .is_empty());
        let end = later + 10 * ROLE_RELEASE_US;
        w.handle(end, Input::Ended(Ok(())));
        // Then no word for the bound: the role goes.
        assert!(w.handle(end + ROLE_RELEASE_US - 1, Input::Tick).is_empty());
        let a = w.handle(end + ROLE_RELEASE_US, Input::Tick);
        assert!(
            matches!(&a[0], Action::Unsubscribe { topic } if *topic == topics::by_role(Role::Sender)),
            "{a:?}"
        );
        assert_eq!(w.peer().role, Role::Other);
        assert!(w.handle(end + 2 * ROLE_RELEASE_US, Input::Tick).is_empty());
    }

    #[test]
    fn halt_stops_without_an_answer() {
        let mut w = worker();
        assert!(matches!(&ask(&mut w, Request::Halt)[..], [Action::Halt]));
    }

    #[test]
    fn malformed_notes_are_dropped_with_a_warning_and_answers_ignored() {
        let mut w = worker();
        let a = w.handle(
            T0,
            Input::Note {
                topic: BY_ID,
                payload: &[0xc1, 0, 1],
            },
        );
        assert!(
            matches!(&a[..], [Action::Warn(m)] if m.contains(BY_ID)),
            "{a:?}"
        );
        // A response (another worker's answer) is not for this worker to handle.
        let n = Note::request("c", "m", Request::Stats).reply(w.peer().clone(), Response::Ok);
        assert_eq!(n.note_type(), NoteType::Response);
        let mut b = Vec::new();
        note::encode(&n, &mut b);
        assert!(w
            .handle(
                T0,
                Input::Note {
                    topic: topics::RESPONSES,
                    payload: &b
                }
            )
            .is_empty());
    }

    #[test]
    fn every_worker_derives_the_same_run_id_from_one_start_test() {
        // FNV-1a: a fixed function of the note, so workers on other hosts agree.
        assert_eq!(test_run_id(""), 0x811c_9dc5);
        assert_eq!(test_run_id("a"), 0xe40c_292c);
        assert_ne!(test_run_id("c-1"), test_run_id("c-2"));
    }
}
