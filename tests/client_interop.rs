//! Allegro against independent clients through real brokers, both ways: Debian's python3-stomp
//! on RabbitMQ's and ActiveMQ's STOMP (`tests/peers/stomp_client.py`) and Debian's python3-pika
//! on RabbitMQ's AMQP 0-9-1 (`tests/peers/pika_client.py`). The peers build and check
//! bodies in Allegro's layout (`tests/peers/allegro_body.py`: the 8-byte send timestamp first,
//! then the sequence block and the filler).
//!
//! - Allegro sends, the client receives: every body arrives intact, in order, each sequence
//!   number once, its timestamps near now.
//! - The client sends, Allegro receives (a receive-only run given the client's run id): every
//!   message counted, none lost, duplicated, stale or unstamped.

mod common;

use common::{check_summary_schema, endpoint, root, run, scratch, unique};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Debian's Python, which the python3-* client packages install for.
const PYTHON: &str = "/usr/bin/python3";

/// A client script from tests/peers/, its stdout lines read as JSON; killed when dropped.
struct Client {
    child: Child,
    lines: mpsc::Receiver<Value>,
}

impl Client {
    fn start(script: &str, args: &[&str]) -> Client {
        let mut child = Command::new(PYTHON)
            .arg(root().join("tests/peers").join(script))
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {PYTHON} {script} ({e}): run scripts/setup"));
        let out = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let v = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("client said {line:?}, not JSON: {e}"));
                if tx.send(v).is_err() {
                    break;
                }
            }
        });
        Client { child, lines }
    }

    /// The next line with member `key`, within `limit`.
    fn expect(&mut self, key: &str, limit: Duration) -> Value {
        let deadline = std::time::Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(v) if v.get(key).is_some() => return v[key].clone(),
                Ok(_) => {}
                Err(e) => panic!(
                    "client: no '{key}' line within {limit:?} ({e}); exit status {:?}",
                    self.child.try_wait()
                ),
            }
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `allegro run URL ARGS... --output json`: the completed summary.
fn allegro(url: &str, args: &[&str]) -> Value {
    let results = scratch("interop");
    let mut all = vec!["run", url];
    all.extend_from_slice(args);
    all.extend_from_slice(&[
        "--output",
        "json",
        "--quiet",
        "--results",
        results.to_str().unwrap(),
    ]);
    let r = run(&all, Duration::from_secs(120));
    assert_eq!(r.status, 0, "{url}: {}\n{}", r.stderr, r.stdout);
    let s = r.json();
    check_summary_schema(&s);
    assert_eq!(s["status"], "completed", "{s}");
    s
}

const COUNT: u64 = 2_000;

/// Allegro sends COUNT messages of 300 bytes on one connection; the client checks each.
fn stomp_allegro_to_client(key: &str) {
    let ep = endpoint(key);
    let (host, port) = ep.split_once(':').unwrap();
    let dest = format!("/queue/{}", unique("allegro-it-py"));
    let count = COUNT.to_string();
    let mut client = Client::start(
        "stomp_client.py",
        &["receive", host, port, &dest, &count, "5"],
    );
    assert_eq!(client.expect("subscribed", Duration::from_secs(30)), true);
    let s = allegro(
        &format!("stomp://{ep}{dest}?receipt=100"),
        &[
            "--parallel",
            "1",
            "--receivers",
            "0",
            "--duration",
            &count,
            "--size",
            "300",
        ],
    );
    assert_eq!(s["totals"]["sent"], COUNT);
    assert_eq!(s["totals"]["acked"], COUNT);
    let r = client.expect("result", Duration::from_secs(60));
    assert_eq!(r["count"], COUNT, "{key}: {r}");
    assert_eq!(r["bad_count"], 0, "{key}: {r}");
    assert_eq!(r["duplicates"], 0, "{key}: {r}");
    assert_eq!(r["gaps"], 0, "{key}: {r}");
    let sender = s["config"]["sender_id"].as_str().unwrap();
    assert_eq!(r["streams"][format!("{sender}:0")], COUNT, "{key}: {r}");
}

/// The client sends COUNT messages (a receipt on the last); Allegro, given the client's run id,
/// receives them.
fn stomp_client_to_allegro(key: &str) {
    let ep = endpoint(key);
    let (host, port) = ep.split_once(':').unwrap();
    let dest = format!("/queue/{}", unique("allegro-it-py"));
    let count = COUNT.to_string();
    let run_id = "5eed1e55";
    let mut client = Client::start(
        "stomp_client.py",
        &["send", host, port, &dest, &count, "256", run_id],
    );
    let r = client.expect("result", Duration::from_secs(60));
    assert_eq!(r["confirmed"], true, "{key}: {r}");
    let s = allegro(
        &format!("stomp://{ep}{dest}?ack=client"),
        &[
            "--parallel",
            "0",
            "--receivers",
            "1",
            "--duration",
            &count,
            "--run-id",
            run_id,
        ],
    );
    let t = &s["totals"];
    assert_eq!(t["received"], COUNT, "{key}: {t}");
    for k in ["lost", "duplicated", "stale", "unstamped", "unsettled"] {
        assert_eq!(t[k], 0, "{key}: {k}: {t}");
    }
    assert_eq!(t["bytes_received"], COUNT * 256, "{key}: {t}");
}

#[test]
fn stomp_rabbitmq_allegro_to_stomp_py() {
    stomp_allegro_to_client("RABBITMQ_STOMP");
}

#[test]
fn stomp_rabbitmq_stomp_py_to_allegro() {
    stomp_client_to_allegro("RABBITMQ_STOMP");
}

#[test]
fn stomp_activemq_allegro_to_stomp_py() {
    stomp_allegro_to_client("ACTIVEMQ_STOMP");
}

#[test]
fn stomp_activemq_stomp_py_to_allegro() {
    stomp_client_to_allegro("ACTIVEMQ_STOMP");
}

/// Allegro sends COUNT messages with publisher confirms; pika consumes with manual acks.
#[test]
fn amqp091_rabbitmq_allegro_to_pika() {
    let ep = endpoint("RABBITMQ_AMQP");
    let (host, port) = ep.split_once(':').unwrap();
    let queue = unique("allegro-it-pika");
    let count = COUNT.to_string();
    let mut client = Client::start(
        "pika_client.py",
        &["receive", host, port, &queue, &count, "5"],
    );
    assert_eq!(client.expect("subscribed", Duration::from_secs(30)), true);
    let s = allegro(
        &format!("amqp091://{ep}/{queue}?confirm=true"),
        &[
            "--parallel",
            "1",
            "--receivers",
            "0",
            "--duration",
            &count,
            "--size",
            "300",
        ],
    );
    assert_eq!(s["totals"]["sent"], COUNT);
    assert_eq!(s["totals"]["acked"], COUNT);
    let r = client.expect("result", Duration::from_secs(60));
    assert_eq!(r["count"], COUNT, "{r}");
    assert_eq!(r["bad_count"], 0, "{r}");
    assert_eq!(r["duplicates"], 0, "{r}");
    assert_eq!(r["gaps"], 0, "{r}");
    let sender = s["config"]["sender_id"].as_str().unwrap();
    assert_eq!(r["streams"][format!("{sender}:0")], COUNT, "{r}");
}

/// pika sends COUNT messages with confirms; Allegro, given pika's run id, receives them.
#[test]
fn amqp091_rabbitmq_pika_to_allegro() {
    let ep = endpoint("RABBITMQ_AMQP");
    let (host, port) = ep.split_once(':').unwrap();
    let queue = unique("allegro-it-pika");
    let count = COUNT.to_string();
    let run_id = "0a1b2c3d";
    let mut client = Client::start(
        "pika_client.py",
        &["send", host, port, &queue, &count, "256", run_id],
    );
    let r = client.expect("result", Duration::from_secs(60));
    assert_eq!(r["confirmed"], true, "{r}");
    let s = allegro(
        &format!("amqp091://{ep}/{queue}?ack=manual"),
        &[
            "--parallel",
            "0",
            "--receivers",
            "1",
            "--duration",
            &count,
            "--run-id",
            run_id,
        ],
    );
    let t = &s["totals"];
    assert_eq!(t["received"], COUNT, "{t}");
    for k in ["lost", "duplicated", "stale", "unstamped", "unsettled"] {
        assert_eq!(t[k], 0, "{k}: {t}");
    }
    assert_eq!(t["bytes_received"], COUNT * 256, "{t}");
    assert_eq!(
        common::rabbit_queue_depth(&queue),
        0,
        "nothing left on the queue"
    );
}
