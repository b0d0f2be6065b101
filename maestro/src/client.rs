//! `allegro test fixed-rate`: the Maestro client for one fixed-rate run (`docs/maestro-protocol.md`
//! §8.2 balanced distribution, §8.3 client sequence).
//!
//! Discovers workers by PING, assigns RECEIVER and SENDER alternately (by-id topics, so each
//! worker gets its own parameters), SETs the options, STARTs the test and the workers (receivers
//! first), shows merged progress from STATS once a second, waits for one verdict per worker,
//! pulls every worker's result files with LOG, merges the receivers' latency logs, and
//! unassigns the roles. A worker that stops answering is named and fails the run.

use crate::files::sha1_hex;
use crate::link::{uuid4, Driver, Event, Link};
use crate::note::{
    self, topics, Body, Data, LogChunk, LogLocation, Note, Notification, PeerInfo, Request,
    Response, Role, SetOption, Test, TestExecutionInfo,
};
use crate::Error;
use allegro_engine::clock::NANOS_PER_SEC;
use allegro_engine::plan::{format_duration, MessageSize, TestDuration};
use hdrhistogram::Histogram;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// What a fixed-rate test needs (Maestro's environment variables or flags), typed; it becomes
/// SET strings only on the way to the workers ([`FixedRate::set_options`]).
#[derive(Debug, Clone)]
pub struct FixedRate {
    pub maestro: crate::link::Broker,
    pub send_url: String,
    pub receive_url: String,
    pub size: MessageSize,
    pub duration: TestDuration,
    /// Messages per second per connection (0: unbounded).
    pub rate: u64,
    /// Connections per worker.
    pub parallel: u32,
    /// Maximum latency in ms (the workers' FCL), 0 for none.
    pub max_latency_ms: u64,
    pub results: PathBuf,
    /// How endpoints get their SUT URL (Maestro's ENDPOINT_RESOLVER_NAME).
    pub resolver: Resolver,
    /// A warm-up ends once the senders' STATS counts add up to this many messages: the
    /// workers are then stopped (their runs count as clean).
    pub stop_after_sent: Option<u64>,
}

impl FixedRate {
    /// The warm-up Maestro's fixed-rate test runs first (§8.4): 30% of the rate, at most 30
    /// connections per worker, `count` messages in all (Maestro's `warm-up.message.count`,
    /// 1,000,000 by default) spread over the connections, ended when the senders' counts
    /// reach `count`.
    pub fn warm_up(&self, count: u64) -> FixedRate {
        let parallel = self.parallel.clamp(1, 30);
        FixedRate {
            rate: (self.rate as f64 * 0.3).round() as u64,
            parallel,
            duration: TestDuration::Count(
                (count as f64 / f64::from(self.parallel.max(1)))
                    .round()
                    .max(1.0) as u64,
            ),
            stop_after_sent: Some(count),
            ..self.clone()
        }
    }
}

/// How each endpoint gets its SUT URL (§8.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Resolver {
    /// Every endpoint of a role gets the role's URL.
    #[default]
    Role,
    /// Endpoint k of a role (k = 1, 2, ... per role) gets the URL with `.k` after its path:
    /// sender k and receiver k share a destination of their own.
    OneToOne,
}

impl Resolver {
    /// The URL endpoint `k` (from 1) of its role gets.
    pub fn url(self, url: &str, k: usize) -> String {
        match self {
            Resolver::Role => url.to_owned(),
            Resolver::OneToOne => {
                let (base, query) = match url.find('?') {
                    Some(i) => url.split_at(i),
                    None => (url, ""),
                };
                format!("{base}.{k}{query}")
            }
        }
    }
}

impl FixedRate {
    /// The SET options a worker gets, in the order Maestro's clients send them (§7, §8.3):
    /// broker (the SUT URL for its role), rate, duration, parallel count, FCL, size.
    pub fn set_options(&self, sut_url: &str) -> [(SetOption, String); 6] {
        let duration = match self.duration {
            TestDuration::Count(n) => n.to_string(),
            TestDuration::Time(ns) if ns % NANOS_PER_SEC == 0 => format!("{}s", ns / NANOS_PER_SEC),
            TestDuration::Time(ns) => format_duration(ns),
        };
        [
            (SetOption::Broker, sut_url.to_owned()),
            (SetOption::Rate, self.rate.to_string()),
            (SetOption::DurationType, duration),
            (SetOption::ParallelCount, self.parallel.to_string()),
            (SetOption::Fcl, self.max_latency_ms.to_string()),
            (SetOption::MessageSize, self.size.to_string()),
        ]
    }
}

/// How the test ended.
#[derive(Debug)]
pub struct Verdict {
    pub success: bool,
    /// Every worker's verdict as an xUnit test case.
    pub cases: Vec<crate::xunit::Case>,
    /// From the first request to the last file pulled.
    pub seconds: f64,
    /// The test was stopped from outside (Ctrl-C): workers stopped, files pulled, roles back.
    pub interrupted: bool,
    pub reasons: Vec<String>,
    pub dir: PathBuf,
    pub latency: Option<Histogram<u64>>,
}

struct Session {
    driver: Driver,
    got: Vec<Note>,
}

impl Session {
    fn turn(&mut self) {
        let mut got = Vec::new();
        self.driver.turn(&mut |e, _| {
            if let Event::Message { topic, payload } = e {
                match note::decode(payload) {
                    Ok(n) => got.push(n),
                    Err(e) => eprintln!("allegro: dropped a malformed note on {topic}: {e}"),
                }
            }
        });
        self.got.extend(got);
    }

    fn until(&mut self, limit: Duration, mut done: impl FnMut(&[Note]) -> bool) -> bool {
        let deadline = Instant::now() + limit;
        while !done(&self.got) {
            if Instant::now() >= deadline {
                return false;
            }
            self.turn();
        }
        true
    }

    fn send(&mut self, topic: &str, req: Request) -> String {
        let correlation = uuid4();
        let note = Note::request(correlation.clone(), uuid4(), req);
        let mut buf = Vec::new();
        note::encode(&note, &mut buf);
        self.driver
            .link
            .publish(topic, &buf, topics::publish_qos(&note));
        correlation
    }

    /// Sends and waits for the replies of `peers` (OK or an error), up to `limit`.
    fn ask(
        &mut self,
        topic: &str,
        req: Request,
        from: usize,
        limit: Duration,
    ) -> Vec<(PeerInfo, Response)> {
        let c = self.send(topic, req);
        let replies = |got: &[Note]| -> Vec<(PeerInfo, Response)> {
            got.iter()
                .filter_map(|n| match &n.body {
                    Body::Response { peer, response } if n.correlation_id == c => {
                        Some((peer.clone(), response.clone()))
                    }
                    _ => None,
                })
                .collect()
        };
        self.until(limit, |got| replies(got).len() >= from);
        replies(&self.got)
    }
}

/// How long the client waits, after stopping the workers of a failed test, for their verdicts.
pub const STOPPED_VERDICT_WAIT: Duration = Duration::from_secs(10);

/// How long the client waits for the receivers' DRAIN_COMPLETE after a test.
pub const DRAIN_WAIT: Duration = Duration::from_secs(60);

/// How long to wait for the verdicts (§8.3 step 5).
fn verdict_timeout(duration: TestDuration, rate: u64) -> Duration {
    match duration {
        TestDuration::Time(ns) => Duration::from_nanos(ns as u64) * 2 + Duration::from_secs(30),
        TestDuration::Count(n) if rate > 0 => Duration::from_secs(90 + n / rate),
        TestDuration::Count(_) => Duration::from_secs(630),
    }
}

/// Runs the test; `Err` is a failure to run it at all (no workers, no broker). Once `stop()`
/// says so, the workers are stopped and the test ends as a failure that is `interrupted`, with
/// the files pulled and the roles taken back.
pub fn fixed_rate(t: &FixedRate, quiet: bool, stop: &dyn Fn() -> bool) -> Result<Verdict, Error> {
    let began = Instant::now();
    let mut link = Link::new(topics::peer_id(&uuid4()), 30);
    for (topic, q) in topics::CLIENT_SUBSCRIPTIONS {
        link.subscribe(topic, q);
    }
    link.subscribe(topics::LOGS, allegro_wire::mqtt::QoS::AtLeastOnce);
    let mut s = Session {
        driver: Driver::new(t.maestro.clone(), link),
        got: Vec::new(),
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while !s.driver.link.is_ready() {
        if Instant::now() > deadline {
            return Err(Error::Broker(s.driver.last_error.clone().unwrap_or_else(
                || format!("cannot reach the Maestro broker at {}", t.maestro.addr),
            )));
        }
        s.turn();
    }

    // Discovery and balanced assignment (§8.2).
    let pongs = s.ask(
        topics::ALL_PEERS,
        crate::cluster::ping_request(),
        usize::MAX,
        Duration::from_secs(2),
    );
    let seen: Vec<String> = pongs
        .iter()
        .map(|(p, _)| format!("{}@{} ({})", p.name, p.host, p.role.name()))
        .collect();
    let mut workers: Vec<PeerInfo> = pongs
        .into_iter()
        .map(|(p, _)| p)
        .filter(|p| matches!(p.role, Role::Other))
        .collect();
    workers.sort_by(|a, b| a.id.cmp(&b.id));
    workers.dedup_by(|a, b| a.id == b.id);
    if workers.len() < 2 {
        return Err(Error::Workers(format!(
            "not enough available workers: {} answered without a role, 2 are needed (answers: {})",
            workers.len(),
            if seen.is_empty() {
                "none".to_string()
            } else {
                seen.join(", ")
            }
        )));
    }
    let roles: Vec<(PeerInfo, Role)> = workers
        .iter()
        .enumerate()
        .map(|(i, p)| {
            (
                p.clone(),
                if i % 2 == 0 {
                    Role::Receiver
                } else {
                    Role::Sender
                },
            )
        })
        .collect();
    let mut reasons = Vec::new();
    for (p, role) in &roles {
        for (_, r) in s.ask(
            &topics::by_id(&p.id),
            Request::RoleAssign { role: *role },
            1,
            Duration::from_secs(5),
        ) {
            if let Response::InternalError { message, .. } = r {
                reasons.push(format!("{}@{}: {message}", p.name, p.host));
            }
        }
    }
    // Parameters, per worker (§8.3 step 2).
    let (mut senders, mut receivers) = (0, 0);
    for (p, role) in &roles {
        let (url, k) = if *role == Role::Sender {
            senders += 1;
            (&t.send_url, senders)
        } else {
            receivers += 1;
            (&t.receive_url, receivers)
        };
        let url = t.resolver.url(url, k);
        for (option, value) in t.set_options(&url) {
            for (_, r) in s.ask(
                &topics::by_id(&p.id),
                Request::Set { option, value },
                1,
                Duration::from_secs(5),
            ) {
                if let Response::InternalError { message, .. } = r {
                    reasons.push(format!("{}@{}: {message}", p.name, p.host));
                }
            }
        }
    }
    let test = Test {
        number: 0,
        iteration: 0,
        name: "fixed-rate".into(),
        script_name: "allegro".into(),
        ..Test::default()
    };
    s.ask(
        topics::ALL_PEERS,
        Request::StartTest(TestExecutionInfo {
            test: test.clone(),
            sut: None,
        }),
        roles.len(),
        Duration::from_secs(5),
    );
    for want in [Role::Receiver, Role::Sender] {
        for (p, role) in roles.iter().filter(|(_, r)| *r == want) {
            let name = if *role == Role::Sender {
                "JmsSender"
            } else {
                "JmsReceiver"
            };
            for (_, r) in s.ask(
                &topics::by_id(&p.id),
                Request::StartWorker {
                    worker_name: name.into(),
                },
                1,
                Duration::from_secs(15),
            ) {
                if let Response::InternalError { message, .. } = r {
                    reasons.push(format!("{}@{}: {message}", p.name, p.host));
                }
            }
        }
    }

    // Verdicts, with merged progress and a watch on vanished workers.
    let verdicts = |got: &[Note]| -> HashMap<String, Result<(), String>> {
        got.iter()
            .filter_map(|n| match &n.body {
                Body::Notification {
                    peer,
                    notification: Notification::TestSuccessful { .. },
                } => Some((peer.id.clone(), Ok(()))),
                Body::Notification {
                    peer,
                    notification: Notification::TestFailed { message, .. },
                } => Some((peer.id.clone(), Err(message.clone()))),
                _ => None,
            })
            .collect()
    };
    let limit = verdict_timeout(t.duration, t.rate) + Duration::from_secs(120);
    let start = Instant::now();
    let mut last_seen: HashMap<String, Instant> = roles
        .iter()
        .map(|(p, _)| (p.id.clone(), Instant::now()))
        .collect();
    let mut vanished = Vec::new();
    let mut next_stats = Instant::now();
    let mut enough = false;
    while reasons.is_empty()
        && verdicts(&s.got).len() < roles.len()
        && start.elapsed() < limit
        && !stop()
        && !enough
    {
        // Once a second: ask for STATS (progress, and proof of life), then listen.
        let until = next_stats;
        s.until(Duration::from_secs(2), |got| {
            Instant::now() >= until || verdicts(got).len() >= roles.len() || stop()
        });
        next_stats = Instant::now() + Duration::from_secs(1);
        let stats = s.ask(
            topics::WORKERS,
            Request::Stats,
            roles.len(),
            Duration::from_millis(900),
        );
        for (p, _) in &stats {
            last_seen.insert(p.id.clone(), Instant::now());
        }
        if let Some(cap) = t.stop_after_sent {
            let sent: i64 = stats
                .iter()
                .filter(|(p, _)| {
                    roles
                        .iter()
                        .any(|(q, r)| q.id == p.id && *r == Role::Sender)
                })
                .filter_map(|(_, r)| match r {
                    Response::Stats(st) => Some(st.count),
                    _ => None,
                })
                .sum();
            enough = sent >= cap as i64;
        }
        let done = verdicts(&s.got);
        vanished = roles
            .iter()
            .filter(|(p, _)| {
                !done.contains_key(&p.id) && last_seen[&p.id].elapsed() > Duration::from_secs(5)
            })
            .map(|(p, _)| {
                format!(
                    "worker {}@{} ({}) vanished: no answer for 5 s",
                    p.name, p.host, p.id
                )
            })
            .collect();
        if !vanished.is_empty() {
            break;
        }
        if !quiet {
            let line: Vec<String> = stats
                .iter()
                .filter_map(|(p, r)| match r {
                    Response::Stats(st) => Some(format!("{}@{} {} msgs", p.name, p.host, st.count)),
                    _ => None,
                })
                .collect();
            eprintln!("[{:>4}s] {}", start.elapsed().as_secs(), line.join(" | "));
        }
    }
    reasons.extend(vanished);
    if enough {
        // A warm-up that sent what it had to: stop every worker and take its verdict.
        for want in [Role::Sender, Role::Receiver] {
            for (p, _) in roles.iter().filter(|(_, r)| *r == want) {
                s.send(&topics::by_id(&p.id), Request::StopWorker);
            }
        }
        s.until(STOPPED_VERDICT_WAIT, |got| {
            verdicts(got).len() >= roles.len()
        });
    }
    let interrupted = stop();
    if interrupted {
        reasons.push("interrupted".into());
    }
    let done = verdicts(&s.got);
    for (p, _) in &roles {
        match done.get(&p.id) {
            Some(Ok(())) => {}
            Some(Err(why)) => reasons.push(format!("{}@{}: {why}", p.name, p.host)),
            None if reasons.is_empty() => reasons.push(format!(
                "{}@{}: no verdict within {}s",
                p.name,
                p.host,
                limit.as_secs()
            )),
            None => {}
        }
    }
    if !reasons.is_empty() {
        // Force stop (§8.3 step 6): senders first, then receivers.
        for want in [Role::Sender, Role::Receiver] {
            for (p, _) in roles.iter().filter(|(_, r)| *r == want) {
                s.send(&topics::by_id(&p.id), Request::StopWorker);
            }
        }
        // Stopped workers still say how their test ended, and their files are wanted most
        // when the test failed.
        s.until(STOPPED_VERDICT_WAIT, |got| {
            verdicts(got).len() >= roles.len()
        });
    }
    let done = verdicts(&s.got);

    // Every receiver that gave a verdict drains its destination and says so (§8.3 step 7):
    // waited for up to a minute, as Maestro's clients do; a silent one is only a warning.
    let receivers: Vec<&PeerInfo> = roles
        .iter()
        .filter(|(p, r)| *r == Role::Receiver && done.contains_key(&p.id))
        .map(|(p, _)| p)
        .collect();
    let drained = |got: &[Note], id: &str| {
        got.iter().any(|n| {
            matches!(&n.body, Body::Notification {
                peer,
                notification: Notification::DrainComplete { .. },
            } if peer.id == id)
        })
    };
    // Interrupted, the user asked to be done soon: a short wait, then the roles go back.
    let drain_wait = if interrupted {
        Duration::from_secs(5)
    } else {
        DRAIN_WAIT
    };
    s.until(drain_wait, |got| {
        receivers.iter().all(|p| drained(got, &p.id))
    });
    for p in receivers.iter().filter(|p| !drained(&s.got, &p.id)) {
        eprintln!(
            "allegro: {}@{} did not say its drain was complete within {}s",
            p.name,
            p.host,
            drain_wait.as_secs()
        );
    }

    // Result files of every worker that still answers, then the merged latency.
    let dir = crate::files::next_test_dir(&t.results)
        .map_err(|e| Error::Files(format!("cannot create a results directory: {e}")))?;
    let mut latency: Option<Histogram<u64>> = None;
    for (p, _) in &roles {
        if !done.contains_key(&p.id) {
            reasons.push(format!(
                "{}@{}: no result files (it gave no verdict)",
                p.name, p.host
            ));
            continue;
        }
        let into = dir.join(format!("{}@{}", p.name, p.host));
        match pull_logs(&mut s, p, &into) {
            Ok(files) => {
                if let Some(h) = files
                    .iter()
                    .find(|f| f.ends_with("receiverd-latency.hdr"))
                    .and_then(|f| read_latency(f).ok())
                {
                    match &mut latency {
                        Some(all) => {
                            let _ = all.add(&h);
                        }
                        None => latency = Some(h),
                    }
                }
            }
            Err(e) => reasons.push(format!("{}@{}: result files: {e}", p.name, p.host)),
        }
    }
    for (p, _) in &roles {
        s.send(&topics::by_id(&p.id), Request::RoleUnassign);
    }
    let linger = Instant::now() + Duration::from_millis(300);
    s.until(Duration::from_secs(1), |_| Instant::now() >= linger);
    let success = reasons.is_empty();
    let _ = crate::files::link_result(&t.results, &dir, success);
    let cases = roles
        .iter()
        .map(|(p, role)| crate::xunit::Case {
            name: format!("{}@{}", p.name, p.host),
            class: role.name().into(),
            result: match done.get(&p.id) {
                Some(r) => r.clone(),
                None => Err("no verdict".into()),
            },
        })
        .collect();
    Ok(Verdict {
        success,
        cases,
        seconds: began.elapsed().as_secs_f64(),
        interrupted,
        reasons,
        dir,
        latency,
    })
}

/// LOG(last) from one worker, reassembled and checked against each file's SHA-1.
fn pull_logs(s: &mut Session, p: &PeerInfo, into: &Path) -> Result<Vec<PathBuf>, String> {
    let c = s.send(&topics::by_id(&p.id), Request::Log(LogLocation::Last));
    let chunks = |got: &[Note]| -> Vec<LogChunk> {
        got.iter()
            .filter_map(|n| match &n.body {
                Body::Data {
                    peer,
                    data: Data::Log(l),
                } if peer.id == p.id && n.correlation_id == c => Some(l.clone()),
                _ => None,
            })
            .collect()
    };
    let complete = |got: &[Note]| {
        let ch = chunks(got);
        ch.first().is_some_and(|f| {
            let files = f.info.file_count as usize;
            let mut per_file: HashMap<&str, usize> = HashMap::new();
            for l in &ch {
                *per_file.entry(l.file_name.as_str()).or_default() += 1;
            }
            per_file.len() == files
                && ch
                    .iter()
                    .all(|l| per_file[l.file_name.as_str()] == l.chunk_total as usize)
        })
    };
    if !s.until(Duration::from_secs(30), complete) {
        return Err("the worker did not send every file".into());
    }
    std::fs::create_dir_all(into).map_err(|e| e.to_string())?;
    let mut by_file: HashMap<String, Vec<LogChunk>> = HashMap::new();
    for l in chunks(&s.got) {
        by_file.entry(l.file_name.clone()).or_default().push(l);
    }
    let mut out = Vec::new();
    for (name, mut parts) in by_file {
        if name.contains('/') || name == ".." {
            return Err(format!("refusing the file name '{name}'"));
        }
        parts.sort_by_key(|l| l.chunk_index);
        let bytes: Vec<u8> = parts.iter().flat_map(|l| l.data.iter().copied()).collect();
        if sha1_hex(&bytes) != parts[0].file_hash {
            return Err(format!("{name}: SHA-1 mismatch"));
        }
        let path = into.join(&name);
        std::fs::write(&path, &bytes).map_err(|e| e.to_string())?;
        out.push(path);
    }
    Ok(out)
}

/// Sums the interval histograms of a `receiverd-latency.hdr` (§10.4).
pub fn read_latency(path: &Path) -> Result<Histogram<u64>, String> {
    let (intervals, problem) = crate::files::read_intervals(path)?;
    if let Some(p) = problem {
        return Err(p);
    }
    let mut total: Option<Histogram<u64>> = None;
    for i in intervals {
        match &mut total {
            Some(t) => {
                let _ = t.add(&i.histogram);
            }
            None => total = Some(i.histogram),
        }
    }
    total.ok_or_else(|| "no interval in the latency log".into())
}

/// The rate and parallel-count schedule of an incremental test (§8.4).
#[derive(Debug, Clone, Copy)]
pub struct Steps {
    pub initial_rate: u64,
    pub ceiling_rate: u64,
    pub rate_increment: u64,
    pub initial_parallel: u32,
    pub ceiling_parallel: u32,
    pub parallel_increment: u32,
}

impl Steps {
    /// Fair incremental (§8.4): per-connection rates from combined rates, scaled down for
    /// larger messages by `1 - log10(size)/10`.
    pub fn fair(
        combined_initial: u64,
        combined_ceiling: u64,
        steps: u32,
        size: u32,
        parallel: (u32, u32, u32),
    ) -> Self {
        let scale = 1.0 - (f64::from(size.max(1))).log10() / 10.0;
        let per = |combined: u64| (combined as f64 / f64::from(parallel.0.max(1)) * scale).max(1.0);
        let (initial, ceiling) = (per(combined_initial), per(combined_ceiling));
        Steps {
            initial_rate: initial.round() as u64,
            ceiling_rate: ceiling.round() as u64,
            rate_increment: (((ceiling - initial) / f64::from(steps.max(1))).round() as u64).max(1),
            initial_parallel: parallel.0,
            ceiling_parallel: parallel.1,
            parallel_increment: parallel.2,
        }
    }
}

/// One step of an incremental test.
#[derive(Debug, Clone)]
pub struct Step {
    pub rate: u64,
    pub parallel: u32,
    pub success: bool,
    /// The step's verdicts as xUnit test cases, and how long it took.
    pub cases: Vec<crate::xunit::Case>,
    pub seconds: f64,
    /// Stopped from outside; no step follows.
    pub interrupted: bool,
    pub reasons: Vec<String>,
}

/// Runs fixed-rate steps until one fails or the ceilings are passed (§8.4 Incremental);
/// returns every step in order.
pub fn incremental(
    base: &FixedRate,
    steps: &Steps,
    quiet: bool,
    stop: &dyn Fn() -> bool,
) -> Result<Vec<Step>, Error> {
    let mut out = Vec::new();
    let (mut rate, mut parallel) = (steps.initial_rate, steps.initial_parallel);
    loop {
        let t = FixedRate {
            rate,
            parallel,
            ..base.clone()
        };
        if !quiet {
            eprintln!("step: {rate} msg/s per connection, {parallel} connection(s) per worker");
        }
        let v = fixed_rate(&t, quiet, stop)?;
        out.push(Step {
            rate,
            parallel,
            success: v.success,
            cases: v.cases,
            seconds: v.seconds,
            interrupted: v.interrupted,
            reasons: v.reasons,
        });
        if !v.success {
            return Ok(out);
        }
        rate += steps.rate_increment.max(1);
        if rate > steps.ceiling_rate {
            if parallel >= steps.ceiling_parallel {
                return Ok(out);
            }
            parallel += steps.parallel_increment.max(1);
            rate = steps.initial_rate;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fair_steps_scale_with_the_size() {
        // 100-byte messages: scale 1 - 2/10 = 0.8; 2 connections share the combined rates.
        let s = Steps::fair(10_000, 20_000, 4, 100, (2, 4, 2));
        assert_eq!(
            (s.initial_rate, s.ceiling_rate, s.rate_increment),
            (4_000, 8_000, 1_000)
        );
        assert_eq!(
            (s.initial_parallel, s.ceiling_parallel, s.parallel_increment),
            (2, 4, 2)
        );
    }

    #[test]
    fn verdict_timeouts_follow_maestro() {
        let secs = |n: i64| TestDuration::Time(n * NANOS_PER_SEC);
        assert_eq!(verdict_timeout(secs(30), 0), Duration::from_secs(90));
        assert_eq!(
            verdict_timeout(TestDuration::Count(1000), 10),
            Duration::from_secs(190)
        );
        assert_eq!(
            verdict_timeout(TestDuration::Count(1000), 0),
            Duration::from_secs(630)
        );
    }

    #[test]
    fn the_warm_up_runs_at_30_percent_on_at_most_30_connections() {
        let t = FixedRate {
            maestro: crate::link::Broker {
                addr: "m:1883".into(),
                tls: None,
            },
            send_url: "s".into(),
            receive_url: "r".into(),
            size: MessageSize::Fixed(256),
            duration: TestDuration::Time(60 * NANOS_PER_SEC),
            rate: 1_000,
            parallel: 50,
            max_latency_ms: 0,
            results: PathBuf::from("r"),
            resolver: Resolver::Role,
            stop_after_sent: None,
        };
        let w = t.warm_up(1_000_000);
        assert_eq!((w.rate, w.parallel), (300, 30));
        assert_eq!(
            w.duration,
            TestDuration::Count(20_000),
            "1M over the 50 connections asked"
        );
        assert_eq!(w.stop_after_sent, Some(1_000_000));
        assert_eq!(w.size, t.size);
    }

    #[test]
    fn one_to_one_gives_each_pair_a_destination_of_its_own() {
        let r = Resolver::OneToOne;
        assert_eq!(r.url("amqp://h:5672/queue/q", 2), "amqp://h:5672/queue/q.2");
        assert_eq!(
            r.url("amqp://h/q?settle=unsettled", 1),
            "amqp://h/q.1?settle=unsettled"
        );
        assert_eq!(Resolver::Role.url("mqtt://h/t", 3), "mqtt://h/t");
    }

    #[test]
    fn options_become_set_strings_on_the_way_out() {
        let t = FixedRate {
            maestro: crate::link::Broker {
                addr: "m:1883".into(),
                tls: None,
            },
            send_url: "amqp://s/q".into(),
            receive_url: "amqp://r/q".into(),
            size: MessageSize::Variable(256),
            duration: TestDuration::Time(300 * NANOS_PER_SEC),
            rate: 1000,
            parallel: 4,
            max_latency_ms: 600,
            results: PathBuf::from("r"),
            resolver: Resolver::Role,
            stop_after_sent: None,
        };
        let got: Vec<(SetOption, String)> = t.set_options("amqp://s/q").into();
        let want = [
            (SetOption::Broker, "amqp://s/q"),
            (SetOption::Rate, "1000"),
            (SetOption::DurationType, "300s"),
            (SetOption::ParallelCount, "4"),
            (SetOption::Fcl, "600"),
            (SetOption::MessageSize, "~256"),
        ];
        assert_eq!(got, want.map(|(o, v)| (o, v.to_owned())));
        let count = FixedRate {
            duration: TestDuration::Count(500),
            ..t
        };
        assert_eq!(count.set_options("x")[2].1, "500");
    }
}
