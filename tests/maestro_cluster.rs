//! `allegro worker` and `allegro ping` in a Maestro cluster whose broker is a real Mosquitto:
//! discovery by PING, garbage on the Maestro topics changes nothing, HALT by the Java client's
//! own bytes, and a broker restart brings the workers back.

mod common;

use common::{endpoint, free_port, unique, Mosquitto};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Worker(Child, PathBuf);

impl Worker {
    fn start(maestro: &str, name: &str) -> Self {
        let results = common::scratch("worker");
        let child = Command::new(env!("CARGO_BIN_EXE_allegro"))
            .args([
                "worker",
                "--maestro",
                maestro,
                "--name",
                name,
                "--host",
                "test-host",
                "--results",
            ])
            .arg(&results)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start allegro worker");
        Worker(child, results)
    }

    fn exited_within(&mut self, limit: Duration) -> Option<i32> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.0.try_wait() {
                return Some(status.code().unwrap_or(-1));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `allegro ping`: every (name, id) that answered.
fn ping(maestro: &str) -> Vec<(String, String)> {
    let out = Command::new(env!("CARGO_BIN_EXE_allegro"))
        .args(["ping", "--maestro", maestro, "--wait", "1s"])
        .output()
        .expect("run allegro ping");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            Some((
                f.first()?.split('@').next()?.to_owned(),
                f.last()?.to_string(),
            ))
        })
        .collect()
}

/// Pings until every name in `names` answered (or fails after `limit`); returns their ids.
fn wait_for(maestro: &str, names: &[&str], limit: Duration) -> Vec<String> {
    let deadline = Instant::now() + limit;
    loop {
        let seen = ping(maestro);
        let ids: Vec<String> = names
            .iter()
            .filter_map(|n| {
                seen.iter()
                    .find(|(name, _)| name == n)
                    .map(|(_, id)| id.clone())
            })
            .collect();
        if ids.len() == names.len() {
            return ids;
        }
        assert!(
            Instant::now() < deadline,
            "workers {names:?} did not all answer; saw {seen:?}"
        );
    }
}

/// A private Maestro broker with fresh workers on it, every one answering.
struct Cluster {
    maestro: String,
    workers: Vec<Worker>,
    _broker: Mosquitto,
}

fn cluster(prefix: &str, n: usize) -> Cluster {
    let broker = Mosquitto::start();
    let maestro = format!("mqtt://127.0.0.1:{}", broker.1);
    let names: Vec<String> = (0..n).map(|i| unique(&format!("{prefix}{i}"))).collect();
    let workers = names.iter().map(|n| Worker::start(&maestro, n)).collect();
    let named: Vec<&str> = names.iter().map(String::as_str).collect();
    wait_for(&maestro, &named, Duration::from_secs(10));
    Cluster {
        maestro,
        workers,
        _broker: broker,
    }
}

/// A fresh topic on the shared Mosquitto, as a SUT URL.
fn sut_topic(prefix: &str) -> String {
    format!("mqtt://{}/{}", endpoint("MOSQUITTO_MQTT"), unique(prefix))
}

fn publish(host_port: &str, topic: &str, payload: &[u8]) {
    let (host, port) = host_port.rsplit_once(':').unwrap();
    let f = std::env::temp_dir().join(unique("allegro-note"));
    std::fs::write(&f, payload).unwrap();
    let st = Command::new("mosquitto_pub")
        .args([
            "-h",
            host,
            "-p",
            port,
            "-q",
            "1",
            "-t",
            topic,
            "-f",
            f.to_str().unwrap(),
        ])
        .status()
        .expect("mosquitto_pub is installed by scripts/setup");
    assert!(st.success());
    let _ = std::fs::remove_file(f);
}

fn vector(name: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../maestro/tests/vectors")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{} ({e})", p.display()))
}

#[test]
fn workers_answer_pings_survive_garbage_and_halt() {
    let ep = endpoint("MOSQUITTO_MQTT");
    let maestro = format!("mqtt://{ep}");
    let (a, b) = (unique("wa"), unique("wb"));
    let mut wa = Worker::start(&maestro, &a);
    let mut wb = Worker::start(&maestro, &b);
    let ids = wait_for(&maestro, &[&a, &b], Duration::from_secs(10));

    // Garbage on every topic a worker listens to: logged and dropped.
    let mut garbage: Vec<Vec<u8>> = vec![
        vec![],
        vec![0xc1],
        b"not msgpack at all".to_vec(),
        vec![0x00, 0x0a],
    ];
    let ping_bytes = vector("request-ping.bin");
    garbage.push(ping_bytes[..ping_bytes.len() / 2].to_vec());
    // Every Maestro topic (§2.2), the ones workers listen to and the ones clients do.
    for topic in [
        "/mpt/peer".to_string(),
        "/mpt/peer/worker".into(),
        format!("/mpt/peer/by-id/{}", ids[0]),
        "/mpt/peer/by-role/sender".into(),
        "/mpt/peer/by-role/receiver".into(),
        "/mpt/peer/by-group/all/m".into(),
        "/mpt/maestro".into(),
        "/mpt/notifications".into(),
        "/mpt/logs".into(),
    ] {
        for g in &garbage {
            publish(&ep, &topic, g);
        }
    }
    assert_eq!(
        wait_for(&maestro, &[&a, &b], Duration::from_secs(5)),
        ids,
        "same workers, still answering"
    );
    assert_eq!(wa.exited_within(Duration::from_millis(10)), None);

    // HALT, as the Java client writes it, to one worker only.
    publish(
        &ep,
        &format!("/mpt/peer/by-id/{}", ids[0]),
        &vector("request-halt.bin"),
    );
    assert_eq!(
        wa.exited_within(Duration::from_secs(5)),
        Some(0),
        "the halted worker exits"
    );
    assert_eq!(
        wb.exited_within(Duration::from_millis(10)),
        None,
        "the other one goes on"
    );
    let seen = ping(&maestro);
    assert!(
        seen.iter().any(|(n, _)| n == &b) && !seen.iter().any(|(n, _)| n == &a),
        "{seen:?}"
    );
}

#[test]
fn a_restarted_maestro_broker_brings_the_workers_back() {
    let port = free_port();
    let maestro = format!("mqtt://127.0.0.1:{port}");
    let broker = Mosquitto::start_on(port);
    let name = unique("wr");
    let _w = Worker::start(&maestro, &name);
    let before = wait_for(&maestro, &[&name], Duration::from_secs(10));
    use allegro_maestro::cluster::ask;
    use allegro_maestro::note::{Request, Response, Role};
    let addr = allegro_maestro::link::Broker {
        addr: format!("127.0.0.1:{port}"),
        tls: None,
    };
    let by_id = format!("/mpt/peer/by-id/{}", before[0]);
    let ok = |r: Vec<(allegro_maestro::note::PeerInfo, Response)>| {
        r.iter().any(|(_, r)| *r == Response::Ok)
    };
    let wait = Duration::from_secs(1);
    assert!(ok(ask(
        &addr,
        &by_id,
        || Request::RoleAssign { role: Role::Sender },
        wait
    )
    .unwrap()));
    let join = || Request::GroupJoin {
        member_name: "m1".into(),
        group_name: "g1".into(),
    };
    assert!(ok(ask(&addr, &by_id, join, wait).unwrap()));
    drop(broker);
    std::thread::sleep(Duration::from_millis(500));
    let _broker = Mosquitto::start_on(port);
    // Back on its own, every subscription restored: the same worker answers again, on its
    // private, role and group topics, still a sender in group g1.
    let after = wait_for(&maestro, &[&name], Duration::from_secs(15));
    assert_eq!(before, after);
    let ping = || Request::Ping { sec: 0, usec: 0 };
    for topic in ["/mpt/peer/by-role/sender", "/mpt/peer/by-group/g1/m1"] {
        let answers = ask(&addr, topic, ping, wait).unwrap();
        assert_eq!(answers.len(), 1, "{topic}: {answers:?}");
        assert_eq!(
            (answers[0].0.role, answers[0].0.group_name.as_str()),
            (Role::Sender, "g1")
        );
    }
}

/// A Maestro client made of Allegro's own link: sends requests, collects what comes back.
struct Client {
    driver: allegro_maestro::link::Driver,
    got: Vec<allegro_maestro::note::Note>,
}

impl Client {
    fn new(addr: &str) -> Self {
        use allegro_maestro::link::{uuid4, Link};
        use allegro_maestro::note::topics;
        let mut link = Link::new(topics::peer_id(&uuid4()), 30);
        for (t, q) in topics::CLIENT_SUBSCRIPTIONS {
            link.subscribe(t, q);
        }
        link.subscribe(topics::LOGS, allegro_wire::mqtt::QoS::AtLeastOnce);
        let mut c = Client {
            driver: allegro_maestro::link::Driver::new(
                allegro_maestro::link::Broker {
                    addr: addr.into(),
                    tls: None,
                },
                link,
            ),
            got: Vec::new(),
        };
        c.run_until(Duration::from_secs(10), |c| c.driver.link.is_up());
        c
    }

    fn run_until(&mut self, limit: Duration, done: impl Fn(&Client) -> bool) {
        let deadline = Instant::now() + limit;
        while !done(self) {
            assert!(Instant::now() < deadline, "timed out; got {:#?}", self.got);
            let mut got = Vec::new();
            self.driver.turn(&mut |e, _| {
                if let allegro_maestro::link::Event::Message { payload, .. } = e {
                    if let Ok(n) = allegro_maestro::note::decode(payload) {
                        got.push(n);
                    }
                }
            });
            self.got.extend(got);
        }
    }

    fn request(&mut self, topic: &str, req: allegro_maestro::note::Request) {
        use allegro_maestro::link::uuid4;
        let note = allegro_maestro::note::Note::request(uuid4(), uuid4(), req);
        let mut buf = Vec::new();
        allegro_maestro::note::encode(&note, &mut buf);
        assert!(self
            .driver
            .link
            .publish(topic, &buf, allegro_wire::mqtt::QoS::AtLeastOnce));
        // Let it go out and the answer come back.
        let until = Instant::now() + Duration::from_millis(60);
        self.run_until(Duration::from_secs(5), |_| Instant::now() >= until);
    }
}

/// What [`maestro_test`] leaves: the client (with everything it got), the worker ids, the
/// workers, the test and each worker's verdict.
type TestRun = (
    Client,
    Vec<String>,
    Worker,
    Worker,
    allegro_maestro::note::Test,
    Option<Result<allegro_maestro::note::Test, String>>,
    Option<Result<allegro_maestro::note::Test, String>>,
);

/// Two workers on the Maestro broker at `ep` run one Maestro test over an MQTT SUT on the
/// shared Mosquitto with the given duration, size, rate and FCL. With `broadcast`, START_TEST
/// goes once to `/mpt/peer` (as Maestro's clients send it) rather than to each worker.
fn maestro_test_on(
    ep: &str,
    broadcast: bool,
    duration: &str,
    size: &str,
    rate: &str,
    fcl: &str,
) -> TestRun {
    use allegro_maestro::note::{
        Body, Notification, Request, Role, SetOption, Test, TestExecutionInfo,
    };
    let maestro = format!("mqtt://{ep}");
    let (s, r) = (unique("ws"), unique("wr"));
    let ws = Worker::start(&maestro, &s);
    let wr = Worker::start(&maestro, &r);
    let ids = wait_for(&maestro, &[&s, &r], Duration::from_secs(10));
    let mut c = Client::new(ep);
    let by_id = |i: usize| format!("/mpt/peer/by-id/{}", ids[i]);
    c.request(&by_id(0), Request::RoleAssign { role: Role::Sender });
    c.request(
        &by_id(1),
        Request::RoleAssign {
            role: Role::Receiver,
        },
    );
    let sut = format!(
        "mqtt://{}/{}",
        endpoint("MOSQUITTO_MQTT"),
        unique("allegro/maestro-it")
    );
    for id in 0..2 {
        for (option, value) in [
            (SetOption::Broker, sut.clone()),
            (SetOption::DurationType, duration.into()),
            (SetOption::ParallelCount, "1".into()),
            (SetOption::MessageSize, size.into()),
            (SetOption::Rate, rate.into()),
            (SetOption::Fcl, fcl.into()),
        ] {
            c.request(&by_id(id), Request::Set { option, value });
        }
    }
    let test = Test {
        number: 7,
        iteration: 1,
        name: "fixed-rate-test".into(),
        ..Test::default()
    };
    let start = Request::StartTest(TestExecutionInfo {
        test: test.clone(),
        sut: None,
    });
    if broadcast {
        c.request("/mpt/peer", start);
    } else {
        // To each worker: on the shared broker, /mpt/peer would reach other tests' workers too.
        for id in 0..2 {
            c.request(&by_id(id), start.clone());
        }
    }
    c.request(
        &by_id(1),
        Request::StartWorker {
            worker_name: "JmsReceiver".into(),
        },
    );
    std::thread::sleep(Duration::from_millis(300));
    c.request(
        &by_id(0),
        Request::StartWorker {
            worker_name: "JmsSender".into(),
        },
    );
    let outcome = |c: &Client, id: &str| {
        c.got.iter().find_map(|n| match &n.body {
            Body::Notification {
                peer,
                notification: Notification::TestSuccessful { test: t, .. },
            } if peer.id == id => Some(Ok(t.clone())),
            Body::Notification {
                peer,
                notification: Notification::TestFailed { message, .. },
            } if peer.id == id => Some(Err(message.clone())),
            _ => None,
        })
    };
    c.run_until(Duration::from_secs(30), |c| {
        outcome(c, &ids[0]).is_some() && outcome(c, &ids[1]).is_some()
    });
    let (a, b) = (outcome(&c, &ids[0]), outcome(&c, &ids[1]));
    (c, ids, ws, wr, test, a, b)
}

#[test]
fn a_fixed_count_test_between_a_sender_worker_and_a_receiver_worker() {
    use allegro_maestro::note::{Body, Notification, Request};
    let (mut c, ids, ws, wr, test, sender, receiver) = maestro_test("500", "100", "1000", "0");
    let by_id = |i: usize| format!("/mpt/peer/by-id/{}", ids[i]);
    let outcome = |_: &Client, id: &str| {
        if id == ids[0] {
            sender.clone()
        } else {
            receiver.clone()
        }
    };
    assert_eq!(
        outcome(&c, &ids[0]),
        Some(Ok(test.clone())),
        "the sender's verdict"
    );
    assert_eq!(
        outcome(&c, &ids[1]),
        Some(Ok(test.clone())),
        "the receiver's verdict"
    );
    let started = c
        .got
        .iter()
        .filter(|n| {
            // Workers of other tests on the shared broker announce it too: count ours.
            matches!(
                &n.body,
                Body::Notification {
                    peer,
                    notification: Notification::TestStarted { .. },
                } if ids.contains(&peer.id)
            )
        })
        .count();
    assert_eq!(started, 2, "both announced the test");

    // Maestro's result files (§10), beside Allegro's summary.
    for (w, role) in [(&ws, "sender"), (&wr, "receiver")] {
        let dir = w.1.join("lastSuccessful");
        assert_eq!(
            std::fs::read_link(w.1.join("last")).unwrap(),
            std::fs::read_link(&dir).unwrap()
        );
        let props = std::fs::read_to_string(dir.join("test.properties")).unwrap();
        assert!(props.starts_with("#maestro-plotter\n"), "{props}");
        for line in [
            "durationType=count",
            "duration=500",
            "parallelCount=1",
            "messageSize=100",
            "rate=1000",
        ] {
            assert!(props.lines().any(|l| l == line), "{line} in {props}");
        }
        assert!(props.contains("brokerUri=mqtt\\://"), "{props}");
        let dat = std::fs::read(dir.join(format!("{role}.dat"))).unwrap();
        assert_eq!(&dat[..8], b" maestro");
        assert_eq!((dat.len() - 20) % 20, 0);
        let counts: i64 = dat[20..]
            .chunks(20)
            .map(|r| i64::from_be_bytes(r[4..12].try_into().unwrap()))
            .sum();
        assert_eq!(
            counts, 500,
            "{role}: the per-second records add up to the messages"
        );
        let summary: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap())
                .unwrap();
        assert_eq!(summary["status"], "completed");
    }
    // Java's own HdrHistogram log reader (the one Maestro's tools use) reads it, every value.
    let (intervals, total) = java_reads_latency_log(&wr.1.join("last/receiverd-latency.hdr"));
    assert!(intervals >= 1);
    assert_eq!(total, 500, "every received message's latency is in the log");
    let hdr = std::fs::read_to_string(wr.1.join("last/receiverd-latency.hdr")).unwrap();
    assert!(
        hdr.starts_with("#[mpt]\n#[Histogram log format version 1.3]\n"),
        "{hdr}"
    );
    let intervals: Vec<&str> = hdr
        .lines()
        .filter(|l| l.starts_with(|c: char| c.is_ascii_digit()))
        .collect();
    assert!(
        !intervals.is_empty()
            && intervals
                .iter()
                .all(|l| l.split(',').nth(3).unwrap().starts_with("HISTF")),
        "{hdr}"
    );

    // LOG: the receiver streams its last test directory, every file whole and hashed (§8.7).
    c.request(
        &by_id(1),
        Request::Log(allegro_maestro::note::LogLocation::Last),
    );
    let chunks = |c: &Client| -> Vec<allegro_maestro::note::LogChunk> {
        c.got
            .iter()
            .filter_map(|n| match &n.body {
                Body::Data {
                    peer,
                    data: allegro_maestro::note::Data::Log(l),
                } if peer.id == ids[1] => Some(l.clone()),
                _ => None,
            })
            .collect()
    };
    let files = maestro_files_of(&wr.1.join("last"));
    c.run_until(Duration::from_secs(10), |c| chunks(c).len() >= files.len());
    let got = chunks(&c);
    let mut names: Vec<String> = got.iter().map(|l| l.file_name.clone()).collect();
    names.sort();
    assert_eq!(names, files, "every file of the directory, once");
    for l in &got {
        let on_disk = std::fs::read(wr.1.join("last").join(&l.file_name)).unwrap();
        assert_eq!((l.chunk_index, l.chunk_total), (0, 1));
        assert_eq!(l.data, on_disk, "{}", l.file_name);
        assert_eq!(l.file_hash, allegro_maestro::files::sha1_hex(&on_disk));
        assert_eq!(l.info.file_count as usize, files.len());
    }
}

#[test]
fn stats_then_halt_on_a_private_maestro_broker() {
    let broker = Mosquitto::start();
    let maestro = format!("mqtt://127.0.0.1:{}", broker.1);
    let (a, b) = (unique("st"), unique("st"));
    let mut wa = Worker::start(&maestro, &a);
    let mut wb = Worker::start(&maestro, &b);
    wait_for(&maestro, &[&a, &b], Duration::from_secs(10));
    let out = Command::new(env!("CARGO_BIN_EXE_allegro"))
        .args(["stats", "--maestro", &maestro, "--wait", "1s"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.starts_with("2 worker(s) answered"), "{text}");
    assert!(text.contains(&a) && text.contains(&b), "{text}");
    let st = Command::new(env!("CARGO_BIN_EXE_allegro"))
        .args(["halt", "--maestro", &maestro])
        .status()
        .unwrap();
    assert_eq!(st.code(), Some(0));
    assert_eq!(wa.exited_within(Duration::from_secs(5)), Some(0));
    assert_eq!(wb.exited_within(Duration::from_secs(5)), Some(0));
}

fn maestro_files_of(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn a_latency_condition_that_cannot_hold_fails_the_receiver_with_the_reason() {
    // Unbounded 10 kB messages queue up in the broker: far above a 1 ms fail condition.
    let (_, _, _, _, test, sender, receiver) = maestro_test("20000", "10000", "0", "1");
    assert_eq!(
        sender,
        Some(Ok(test)),
        "the sender has no latency condition"
    );
    let why = receiver
        .expect("the receiver's verdict")
        .expect_err("the receiver fails");
    assert!(why.contains("over the fail condition of 1 ms"), "{why}");
}

/// `allegro test fixed-rate` against two fresh workers on a private Maestro broker.
fn fixed_rate_test(extra: &[&str], kill_one_after: Option<Duration>) -> (common::Ran, PathBuf) {
    fixed_rate_test_on(&sut_topic("allegro/ft"), extra, kill_one_after)
}

/// `allegro test fixed-rate` with `sut` as the send and receive URL.
fn fixed_rate_test_on(
    sut: &str,
    extra: &[&str],
    kill_one_after: Option<Duration>,
) -> (common::Ran, PathBuf) {
    let broker = Mosquitto::start();
    let maestro = format!("mqtt://127.0.0.1:{}", broker.1);
    let (a, b) = (unique("fa"), unique("fb"));
    let mut wa = Worker::start(&maestro, &a);
    let _wb = Worker::start(&maestro, &b);
    wait_for(&maestro, &[&a, &b], Duration::from_secs(10));
    let results = common::scratch("client");
    let mut args = vec![
        "test",
        "fixed-rate",
        "--maestro",
        &maestro,
        "--send-receive-url",
        sut,
        "--parallel-count",
        "1",
        "--quiet",
        "--results",
        results.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    // Kill worker A mid-test when asked; otherwise it lives until the run is over (a closure
    // given to `Option::map` would take it, and drop it, even for `None`).
    #[allow(clippy::manual_map)]
    let killer = match kill_one_after {
        Some(d) => Some(std::thread::spawn(move || {
            std::thread::sleep(d);
            let _ = wa.0.kill();
            let _ = wa.0.wait();
        })),
        None => None,
    };
    let ran = common::run(&args, Duration::from_secs(120));
    if let Some(k) = killer {
        let _ = k.join();
    }
    (ran, results)
}

#[test]
fn the_client_runs_a_fixed_rate_test_and_collects_every_result() {
    let (r, results) = fixed_rate_test(
        &[
            "--test-duration",
            "2s",
            "--rate",
            "300",
            "--message-size",
            "100",
        ],
        None,
    );
    check_fixed_rate_results(&r, &results);
}

/// A 2 s fixed-rate test at 300 msg/s with `sut` as the send and receive URL succeeded.
fn fixed_rate_over(sut: &str) {
    let (r, results) = fixed_rate_test_on(
        sut,
        &[
            "--test-duration",
            "2s",
            "--rate",
            "300",
            "--message-size",
            "100",
        ],
        None,
    );
    check_fixed_rate_results(&r, &results);
}

/// Workers SET a `stomp://` SUT URL (with options) and run the test over ActiveMQ's STOMP.
#[test]
fn a_fixed_rate_test_over_stomp() {
    let ep = common::endpoint("ACTIVEMQ_STOMP");
    fixed_rate_over(&format!(
        "stomp://{ep}/queue/{}?receipt=50&ack=client",
        unique("allegro-ft")
    ));
}

/// Workers SET an `amqp091://` SUT URL (with options) and run the test over RabbitMQ.
#[test]
fn a_fixed_rate_test_over_amqp091() {
    let ep = common::endpoint("RABBITMQ_AMQP");
    fixed_rate_over(&format!(
        "amqp091://{ep}/{}?confirm=true&ack=manual",
        unique("allegro-ft")
    ));
}

/// A 2 s test at 300 msg/s succeeded: every worker's files, and the counts match.
fn check_fixed_rate_results(r: &common::Ran, results: &std::path::Path) {
    assert_eq!(r.status, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("test successful"), "{}", r.stdout);
    assert!(r.stdout.contains("latency (all receivers"), "{}", r.stdout);
    let dir = results.join("lastSuccessful");
    let workers: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        // Worker directories (the client's report.html beside them).
        .filter(|e| e.path().is_dir())
        .map(|e| e.path())
        .collect();
    assert_eq!(workers.len(), 2, "{workers:?}");
    let files: Vec<String> = workers
        .iter()
        .flat_map(|w| {
            std::fs::read_dir(w)
                .unwrap()
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
        })
        .collect();
    // Counts match: what the sender worker sent is what the receiver worker received.
    let totals: Vec<serde_json::Value> = workers
        .iter()
        .map(|w| {
            serde_json::from_str::<serde_json::Value>(
                &std::fs::read_to_string(w.join("summary.json")).unwrap(),
            )
            .unwrap()["totals"]
                .clone()
        })
        .collect();
    let sent: u64 = totals.iter().map(|t| t["sent"].as_u64().unwrap()).sum();
    let received: u64 = totals.iter().map(|t| t["received"].as_u64().unwrap()).sum();
    assert_eq!(sent, 600, "2 s at 300/s: {totals:?}");
    assert_eq!(received, sent, "{totals:?}");
    for f in [
        "sender.dat",
        "receiver.dat",
        "receiverd-latency.hdr",
        "test.properties",
        "summary.json",
    ] {
        assert!(files.iter().any(|x| x == f), "{f} in {files:?}");
    }
}

/// What `tests/peers/read_xunit.py` (junitparser, as a CI system reads it) found in `path`.
fn read_xunit(path: &std::path::Path) -> serde_json::Value {
    let script = common::root().join("tests/peers/read_xunit.py");
    let out = Command::new("/usr/bin/python3")
        .arg(&script)
        .arg(path)
        .output()
        .expect("python3 (scripts/setup installs python3-junitparser)");
    assert!(
        out.status.success(),
        "{}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_client_exits_1_with_the_reason_when_the_latency_condition_cannot_hold() {
    let xunit = common::scratch("xunit-failed").join("fcl.xml");
    let (r, _) = fixed_rate_test(
        &[
            "--test-duration",
            "20000",
            "--rate",
            "0",
            "--message-size",
            "10000",
            "--maximum-latency",
            "1",
            "--xunit",
            xunit.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(r.status, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("over the fail condition of 1 ms"),
        "{}",
        r.stderr
    );
    // The xUnit file, as a CI system reads it: the receiver's case failed with the reason.
    let x = read_xunit(&xunit);
    let suite = &x["suites"][0];
    assert_eq!(
        (suite["tests"].as_u64(), suite["failures"].as_u64()),
        (Some(2), Some(1)),
        "{x}"
    );
    let failed: Vec<&serde_json::Value> = suite["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| !c["failure"].is_null())
        .collect();
    assert_eq!(failed[0]["classname"], "receiver", "{x}");
    assert!(
        failed[0]["failure"]
            .as_str()
            .unwrap()
            .contains("over the fail condition"),
        "{x}"
    );
}

#[test]
fn the_client_names_a_worker_that_vanished_mid_test_and_exits_1() {
    let (r, results) = fixed_rate_test(
        &["--test-duration", "60s", "--rate", "100"],
        Some(Duration::from_secs(4)),
    );
    assert_eq!(r.status, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("vanished"), "{}", r.stderr);
    assert!(r.elapsed < Duration::from_secs(30), "took {:?}", r.elapsed);
    // The worker that was stopped gave its files all the same; the vanished one is named.
    assert!(
        r.stderr.contains("no result files (it gave no verdict)"),
        "{}",
        r.stderr
    );
    let pulled: Vec<PathBuf> = std::fs::read_dir(results.join("lastFailed"))
        .unwrap()
        .flatten()
        // Worker directories (the client's report.html beside them).
        .filter(|e| e.path().is_dir())
        .map(|e| e.path())
        .collect();
    assert_eq!(pulled.len(), 1, "{pulled:?}");
    for f in ["test.properties", "summary.json"] {
        assert!(
            pulled[0].join(f).is_file(),
            "{f} in {}",
            pulled[0].display()
        );
    }
}

#[test]
fn drain_empties_a_queue_and_says_how_many() {
    use allegro_maestro::note::{Body, Notification, Request};
    let rabbit = endpoint("RABBITMQ_AMQP");
    let queue = format!(
        "amqp://guest:guest@{rabbit}/queue/{}",
        unique("allegro-drain")
    );
    // 200 messages waiting in a queue nobody reads.
    let r = common::run(
        &[
            "run",
            &queue,
            "--receivers",
            "0",
            "--duration",
            "200",
            "--size",
            "100",
            "--quiet",
            "--results",
            common::scratch("drain").to_str().unwrap(),
        ],
        Duration::from_secs(60),
    );
    assert_eq!(r.status, 0, "{}", r.stderr);
    let broker = Mosquitto::start();
    let addr = format!("127.0.0.1:{}", broker.1);
    let maestro = format!("mqtt://{addr}");
    let name = unique("wd");
    let _w = Worker::start(&maestro, &name);
    let ids = wait_for(&maestro, &[&name], Duration::from_secs(10));
    let mut c = Client::new(&addr);
    c.request(
        &format!("/mpt/peer/by-id/{}", ids[0]),
        Request::Drain {
            duration: "-1".into(),
            url: queue,
            parallel_count: "1".into(),
            worker_name: "JmsReceiver".into(),
        },
    );
    let done = |c: &Client| {
        c.got.iter().find_map(|n| match &n.body {
            Body::Notification {
                notification:
                    Notification::DrainComplete {
                        successful,
                        message,
                    },
                ..
            } => Some((*successful, message.clone())),
            _ => None,
        })
    };
    c.run_until(Duration::from_secs(30), |c| done(c).is_some());
    assert_eq!(done(&c), Some((true, "Drained 200 messages".to_string())));
}

#[test]
fn an_incremental_test_steps_the_rate_and_reports_the_highest_that_passed() {
    let broker = Mosquitto::start();
    let maestro = format!("mqtt://127.0.0.1:{}", broker.1);
    let (a, b) = (unique("ia"), unique("ib"));
    let _wa = Worker::start(&maestro, &a);
    let _wb = Worker::start(&maestro, &b);
    wait_for(&maestro, &[&a, &b], Duration::from_secs(10));
    let sut = sut_topic("allegro/inc");
    let results = common::scratch("incremental");
    let r = common::run(
        &[
            "test",
            "incremental",
            "--maestro",
            &maestro,
            "--send-receive-url",
            &sut,
            "--message-size",
            "100",
            "--test-duration",
            "1s",
            "--initial-rate",
            "100",
            "--ceiling-rate",
            "300",
            "--rate-increment",
            "100",
            "--maximum-latency",
            "1000",
            "--quiet",
            "--results",
            results.to_str().unwrap(),
        ],
        Duration::from_secs(120),
    );
    assert_eq!(r.status, 0, "{}\n{}", r.stdout, r.stderr);
    let steps: Vec<&str> = r.stdout.lines().filter(|l| l.starts_with("step")).collect();
    assert_eq!(steps.len(), 3, "{}", r.stdout);
    assert!(steps.iter().all(|l| l.ends_with("passed")), "{}", r.stdout);
    assert!(
        r.stdout
            .contains("highest rate that passed: 300 msg/s per connection with 1 connection(s)"),
        "{}",
        r.stdout
    );
    // Every step kept its own results.
    assert!(results.join("2").is_dir() && results.join("lastSuccessful").exists());
}

/// Compiles and runs `tests/peers/HdrLogCheck.java` against Debian's HdrHistogram jar
/// (installed by scripts/setup): (intervals, total count) as Java reads the log.
fn java_reads_latency_log(log: &std::path::Path) -> (u64, u64) {
    let jar = "/usr/share/java/hdrhistogram.jar";
    assert!(
        std::path::Path::new(jar).exists(),
        "{jar} missing: run scripts/setup"
    );
    let classes = common::scratch("hdr-java");
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/peers/HdrLogCheck.java");
    let javac = Command::new("javac")
        .args(["-cp", jar, "-d"])
        .arg(&classes)
        .arg(&src)
        .output()
        .expect("javac (scripts/setup installs a JDK)");
    assert!(
        javac.status.success(),
        "{}",
        String::from_utf8_lossy(&javac.stderr)
    );
    let cp = format!("{}:{jar}", classes.display());
    let out = Command::new("java")
        .args(["-cp", &cp, "HdrLogCheck"])
        .arg(log)
        .output()
        .expect("java");
    assert!(
        out.status.success(),
        "the Java reader refused the log: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let mut f = text.split_whitespace().map(|v| v.parse::<u64>().unwrap());
    (f.next().unwrap(), f.next().unwrap())
}

/// START_TEST sent once to `/mpt/peer` gives both workers one run id: the receiver counts the
/// sender's messages as its run's (stale ones would be counted apart). Each worker sent its own
/// START_TEST (the tests above) shares none, and its receivers count every run's messages.
#[test]
fn workers_of_one_test_share_its_run_id() {
    let broker = common::Mosquitto::start();
    let ep = format!("127.0.0.1:{}", broker.1);
    let (_c, _ids, ws, wr, test, sender, receiver) =
        maestro_test_on(&ep, true, "500", "100", "1000", "0");
    assert_eq!(sender, Some(Ok(test.clone())), "the sender's verdict");
    assert_eq!(receiver, Some(Ok(test)), "the receiver's verdict");
    let summary = |w: &Worker| -> serde_json::Value {
        let dir = w.1.join("lastSuccessful");
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap()
    };
    let (s, r) = (summary(&ws), summary(&wr));
    assert_eq!(s["config"]["run_id"], r["config"]["run_id"], "{s}\n{r}");
    assert_ne!(s["config"]["sender_id"], r["config"]["sender_id"]);
    assert_eq!(r["config"]["stale_filter"], true, "{r}");
    assert_eq!(s["totals"]["sent"], 500, "{s}");
    assert_eq!(r["totals"]["received"], 500, "{r}");
    assert_eq!(
        (r["totals"]["stale"].clone(), r["totals"]["lost"].clone()),
        (0.into(), 0.into())
    );
}

/// [`maestro_test_on`] the shared Mosquitto, START_TEST to each worker.
fn maestro_test(duration: &str, size: &str, rate: &str, fcl: &str) -> TestRun {
    let ep = endpoint("MOSQUITTO_MQTT");
    maestro_test_on(&ep, false, duration, size, rate, fcl)
}

/// Two receivers and a sender: the client waits, as Maestro's Java client does, for every
/// receiver's DRAIN_COMPLETE after the test (each receiver drains its destination when its test
/// ends), and the whole test still ends a few seconds after its duration.
#[test]
fn the_client_waits_for_every_receivers_drain_and_ends_promptly() {
    let c = cluster("d", 3);
    let maestro = c.maestro.clone();
    let results = common::scratch("client-drain");
    let sut = sut_topic("allegro/drain");
    let xunit_dir = common::scratch("xunit-dir");
    let started = Instant::now();
    let r = common::run(
        &[
            "test",
            "fixed-rate",
            "--maestro",
            &maestro,
            "--send-receive-url",
            &sut,
            "--xunit-dir",
            xunit_dir.to_str().unwrap(),
            "--test-duration",
            "3s",
            "--rate",
            "200",
            "--quiet",
            "--results",
            results.to_str().unwrap(),
        ],
        Duration::from_secs(120),
    );
    let took = started.elapsed();
    assert_eq!(r.status, 0, "{}\n{}", r.stdout, r.stderr);
    // Maestro's TEST_XUNIT_DIR: one case per worker, none failed.
    let x = read_xunit(&xunit_dir.join("fixed-rate-0-0.xml"));
    let suite = &x["suites"][0];
    assert_eq!(suite["name"], "fixed-rate", "{x}");
    assert_eq!(
        (suite["tests"].as_u64(), suite["failures"].as_u64()),
        (Some(3), Some(0)),
        "{x}"
    );
    assert!(
        !r.stderr.contains("drain was complete"),
        "every receiver said its drain was complete: {}",
        r.stderr
    );
    assert!(
        took < Duration::from_secs(3 + 15),
        "a 3 s test took {took:?}: {}",
        r.stderr
    );
    let workers = std::fs::read_dir(results.join("lastSuccessful"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir())
        .count();
    assert_eq!(workers, 3, "every worker's files were pulled");
}

/// The records of a Maestro rate file: (count, timestamp in µs), after the 20-byte header.
fn rate_records(path: &std::path::Path) -> Vec<(i64, i64)> {
    let dat = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(&dat[..8], b" maestro");
    assert_eq!((dat.len() - 20) % 20, 0, "{}", path.display());
    dat[20..]
        .chunks(20)
        .map(|r| {
            assert_eq!(&r[..4], &[0; 4], "record marker");
            (
                i64::from_be_bytes(r[4..12].try_into().unwrap()),
                i64::from_be_bytes(r[12..20].try_into().unwrap()),
            )
        })
        .collect()
}

/// A paced 5 s test: each rate file has one record per second of the engine's clock (on whole
/// seconds, none skipped), the records add up to the summary's count, and the seconds in
/// between the first and the last hold the asked rate within 2%.
#[test]
fn rate_files_add_up_to_the_counts_one_steady_record_a_second() {
    let (_c, _ids, ws, wr, test, sender, receiver) = maestro_test("5s", "100", "1000", "0");
    assert_eq!(sender, Some(Ok(test.clone())), "the sender's verdict");
    assert_eq!(receiver, Some(Ok(test)), "the receiver's verdict");
    for (w, role, key) in [(&ws, "sender", "sent"), (&wr, "receiver", "received")] {
        let dir = w.1.join("lastSuccessful");
        let records = rate_records(&dir.join(format!("{role}.dat")));
        let summary: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap())
                .unwrap();
        let total = summary["totals"][key].as_i64().unwrap();
        assert!(total >= 4_900, "{role}: {total}");
        let sum: i64 = records.iter().map(|r| r.0).sum();
        assert_eq!(sum, total, "{role}: the records add up: {records:?}");
        for pair in records.windows(2) {
            assert_eq!(
                pair[1].1 - pair[0].1,
                1_000_000,
                "{role}: one a second: {records:?}"
            );
        }
        assert!(records.iter().all(|r| r.1 % 1_000_000 == 0), "{records:?}");
        // A receiver keeps receiving 2 s past the duration (senders elsewhere start later):
        // those seconds are recorded too, as zeros.
        let busy: Vec<&(i64, i64)> = {
            let last = records.iter().rposition(|r| r.0 > 0).unwrap();
            records[..=last].iter().collect()
        };
        assert!((5..=6).contains(&busy.len()), "{role}: {records:?}");
        assert!(records.len() - busy.len() <= 3, "{role}: {records:?}");
        for r in &busy[1..busy.len() - 1] {
            assert!(
                (980..=1020).contains(&r.0),
                "{role}: a steady 1000/s: {records:?}"
            );
        }
    }
}

/// Ctrl-C on the client mid-test stops the workers, pulls their files, takes the roles back
/// and exits 130; a second test on the same workers then runs as if nothing happened.
#[test]
fn an_interrupted_client_leaves_the_workers_free() {
    let c = cluster("i", 2);
    let maestro = c.maestro.clone();
    let workers = &c.workers;
    let sut = sut_topic("allegro/int");
    let results = common::scratch("client-int");
    let test = |duration: &str| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_allegro"));
        c.args([
            "test",
            "fixed-rate",
            "--maestro",
            &maestro,
            "--send-receive-url",
            &sut,
            "--test-duration",
            duration,
            "--rate",
            "100",
            "--quiet",
            "--results",
            results.to_str().unwrap(),
        ]);
        c
    };
    let child = test("60s")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the client");
    std::thread::sleep(Duration::from_secs(5));
    let signalled = Instant::now();
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert!(
        signalled.elapsed() < Duration::from_secs(25),
        "took {:?} to stop: {stderr}",
        signalled.elapsed()
    );
    let pulled = std::fs::read_dir(results.join("lastFailed"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir())
        .count();
    assert_eq!(pulled, 2, "both workers' files were pulled");
    // A run stopped because its test failed is a failed run on the workers too.
    for w in workers {
        assert!(w.1.join("lastFailed").exists(), "{}", w.1.display());
        assert!(!w.1.join("lastSuccessful").exists(), "{}", w.1.display());
    }
    // The same workers take the next test.
    let again = test("2s").output().unwrap();
    assert_eq!(
        again.status.code(),
        Some(0),
        "{}\n{}",
        String::from_utf8_lossy(&again.stdout),
        String::from_utf8_lossy(&again.stderr)
    );
}

/// `--endpoint-resolver one-to-one` (Maestro's ENDPOINT_RESOLVER_NAME): with two senders and
/// two receivers on RabbitMQ, sender k and receiver k share queue `NAME.k`, each pair counting
/// exactly its own messages.
#[test]
fn one_to_one_endpoints_pair_each_sender_with_a_receiver_on_its_own_queue() {
    let c = cluster("o", 4);
    let maestro = c.maestro.clone();
    let queue = unique("allegro-it-1to1");
    let sut = format!(
        "amqp://guest:guest@{}/queue/{queue}",
        endpoint("RABBITMQ_AMQP")
    );
    let results = common::scratch("client-1to1");
    let r = common::run(
        &[
            "test",
            "fixed-rate",
            "--maestro",
            &maestro,
            "--send-receive-url",
            &sut,
            "--endpoint-resolver",
            "one-to-one",
            "--distribution-strategy",
            "balanced-exclusive",
            "--test-duration",
            "500",
            "--rate",
            "500",
            "--quiet",
            "--results",
            results.to_str().unwrap(),
        ],
        Duration::from_secs(120),
    );
    assert_eq!(r.status, 0, "{}\n{}", r.stdout, r.stderr);
    for k in [1, 2] {
        assert_eq!(common::rabbit_queue_depth(&format!("{queue}.{k}")), 0);
    }
    let received: Vec<u64> = std::fs::read_dir(results.join("lastSuccessful"))
        .unwrap()
        .flatten()
        // Worker directories (the client's report.html beside them).
        .filter(|e| e.path().is_dir())
        .filter_map(|w| {
            let s: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(w.path().join("summary.json")).ok()?)
                    .ok()?;
            (s["config"]["parallel"] == 0).then(|| s["totals"]["received"].as_u64().unwrap())
        })
        .collect();
    assert_eq!(
        received,
        vec![500, 500],
        "each receiver got its sender's 500"
    );
}

/// `--warm-up` (Maestro's WARM_UP=true): a warm-up run at 30% of the rate, ended once the
/// senders sent the warm-up count, then the test itself, each with its own results.
#[test]
fn a_warm_up_runs_before_the_test_at_a_third_of_the_rate() {
    let c = cluster("w", 2);
    let maestro = c.maestro.clone();
    let sut = sut_topic("allegro/warm");
    let results = common::scratch("client-warm");
    let r = common::run(
        &[
            "test",
            "fixed-rate",
            "--maestro",
            &maestro,
            "--send-receive-url",
            &sut,
            "--warm-up",
            "--warm-up-count",
            "600",
            "--rate",
            "1000",
            "--parallel-count",
            "2",
            "--test-duration",
            "2s",
            "--results",
            results.to_str().unwrap(),
        ],
        Duration::from_secs(120),
    );
    assert_eq!(r.status, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("warm-up: 300 msg/s"), "{}", r.stderr);
    // The warm-up's results, then the test's: the senders' properties say which was which.
    let sender_props = |n: u32| -> String {
        std::fs::read_dir(results.join(n.to_string()))
            .unwrap()
            .flatten()
            .filter(|e| e.path().is_dir())
            .map(|w| std::fs::read_to_string(w.path().join("test.properties")).unwrap())
            .find(|p| p.contains("rate="))
            .unwrap()
    };
    let warm = sender_props(0);
    assert!(warm.lines().any(|l| l == "rate=300"), "{warm}");
    let test = sender_props(1);
    assert!(test.lines().any(|l| l == "rate=1000"), "{test}");
    let link = std::fs::read_link(results.join("last")).unwrap();
    assert!(link.ends_with("1"), "{link:?}");
}

/// A sender worker shows load in STATS soon after START_WORKER: the engine reports its first
/// message at once rather than at its next once-a-second snapshot.
#[test]
fn a_sender_shows_its_first_messages_in_stats_promptly() {
    use allegro_maestro::note::{Body, Request, Response, Role, SetOption};
    let broker = Mosquitto::start();
    let ep = format!("127.0.0.1:{}", broker.1);
    let maestro = format!("mqtt://{ep}");
    let name = unique("ps");
    let _w = Worker::start(&maestro, &name);
    let ids = wait_for(&maestro, &[&name], Duration::from_secs(10));
    let by_id = format!("/mpt/peer/by-id/{}", ids[0]);
    let mut c = Client::new(&ep);
    c.request(&by_id, Request::RoleAssign { role: Role::Sender });
    let sut = sut_topic("allegro/prompt");
    for (option, value) in [
        (SetOption::Broker, sut.as_str()),
        (SetOption::DurationType, "5s"),
        (SetOption::ParallelCount, "1"),
        (SetOption::Rate, "1000"),
    ] {
        c.request(
            &by_id,
            Request::Set {
                option,
                value: value.into(),
            },
        );
    }
    c.request(
        &by_id,
        Request::StartWorker {
            worker_name: "JmsSender".into(),
        },
    );
    let started = Instant::now();
    let first = loop {
        c.got.clear();
        c.request(&by_id, Request::Stats);
        let count = c.got.iter().find_map(|n| match &n.body {
            Body::Response {
                peer,
                response: Response::Stats(s),
            } if peer.id == ids[0] => Some(s.count),
            _ => None,
        });
        if count.unwrap_or(0) > 0 {
            break started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "no messages in STATS after 5 s"
        );
    };
    eprintln!("first messages in STATS {first:?} after START_WORKER");
    assert!(first < Duration::from_millis(900), "{first:?}");
}
