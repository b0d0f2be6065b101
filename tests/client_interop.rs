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

use common::{completed_run, endpoint, root, run_json, unique};
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

/// `allegro run URL ARGS...`: the completed summary.
fn allegro(url: &str, protocol: &str, args: &[&str]) -> Value {
    let (r, results) = run_json(url, args, Duration::from_secs(120));
    completed_run(&r, &results, protocol, url)
}

const COUNT: u64 = 2_000;

/// Allegro sends COUNT messages of 300 bytes on one connection to `url`; `script`, receiving
/// from `dest` on the broker at `key`, checks each.
fn allegro_to_client(key: &str, script: &str, dest: &str, url: &str, protocol: &str) {
    let ep = endpoint(key);
    let (host, port) = ep.split_once(':').unwrap();
    let count = COUNT.to_string();
    let mut client = Client::start(script, &["receive", host, port, dest, &count, "5"]);
    assert_eq!(client.expect("subscribed", Duration::from_secs(30)), true);
    let s = allegro(
        url,
        protocol,
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
    assert_eq!(s["totals"]["acked"], COUNT, "{url}: confirmed");
    let r = client.expect("result", Duration::from_secs(60));
    assert_eq!(r["count"], COUNT, "{url}: {r}");
    for k in ["bad_count", "duplicates", "gaps"] {
        assert_eq!(r[k], 0, "{url}: {k}: {r}");
    }
    let sender = s["config"]["sender_id"].as_str().unwrap();
    assert_eq!(r["streams"][format!("{sender}:0")], COUNT, "{url}: {r}");
}

/// `script` sends COUNT messages to `dest` (confirmed); Allegro, receiving from `url` with the
/// client's run id, counts every one.
fn client_to_allegro(key: &str, script: &str, dest: &str, url: &str, protocol: &str) {
    let ep = endpoint(key);
    let (host, port) = ep.split_once(':').unwrap();
    let count = COUNT.to_string();
    let run_id = "5eed1e55";
    let mut client = Client::start(script, &["send", host, port, dest, &count, "256", run_id]);
    let r = client.expect("result", Duration::from_secs(60));
    assert_eq!(r["confirmed"], true, "{url}: {r}");
    let s = allegro(
        url,
        protocol,
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
    assert_eq!(t["received"], COUNT, "{url}: {t}");
    for k in ["lost", "duplicated", "stale", "unstamped", "unsettled"] {
        assert_eq!(t[k], 0, "{url}: {k}: {t}");
    }
    assert_eq!(t["bytes_received"], COUNT * 256, "{url}: {t}");
}

/// A fresh STOMP queue on the broker at `key`: the client's destination and Allegro's URL.
fn stomp_queue(key: &str, query: &str) -> (String, String) {
    let dest = format!("/queue/{}", unique("allegro-it-py"));
    let url = format!("stomp://{}{dest}?{query}", endpoint(key));
    (dest, url)
}

#[test]
fn stomp_rabbitmq_allegro_to_stomp_py() {
    let (dest, url) = stomp_queue("RABBITMQ_STOMP", "receipt=100");
    allegro_to_client("RABBITMQ_STOMP", "stomp_client.py", &dest, &url, "stomp");
}

#[test]
fn stomp_rabbitmq_stomp_py_to_allegro() {
    let (dest, url) = stomp_queue("RABBITMQ_STOMP", "ack=client");
    client_to_allegro("RABBITMQ_STOMP", "stomp_client.py", &dest, &url, "stomp");
}

#[test]
fn stomp_activemq_allegro_to_stomp_py() {
    let (dest, url) = stomp_queue("ACTIVEMQ_STOMP", "receipt=100");
    allegro_to_client("ACTIVEMQ_STOMP", "stomp_client.py", &dest, &url, "stomp");
}

#[test]
fn stomp_activemq_stomp_py_to_allegro() {
    let (dest, url) = stomp_queue("ACTIVEMQ_STOMP", "ack=client");
    client_to_allegro("ACTIVEMQ_STOMP", "stomp_client.py", &dest, &url, "stomp");
}

#[test]
fn amqp091_rabbitmq_allegro_to_pika() {
    let queue = unique("allegro-it-pika");
    let url = format!(
        "amqp091://{}/{queue}?confirm=true",
        endpoint("RABBITMQ_AMQP")
    );
    allegro_to_client("RABBITMQ_AMQP", "pika_client.py", &queue, &url, "amqp091");
}

#[test]
fn amqp091_rabbitmq_pika_to_allegro() {
    let queue = unique("allegro-it-pika");
    let url = format!("amqp091://{}/{queue}?ack=manual", endpoint("RABBITMQ_AMQP"));
    client_to_allegro("RABBITMQ_AMQP", "pika_client.py", &queue, &url, "amqp091");
    assert_eq!(
        common::rabbit_queue_depth(&queue),
        0,
        "nothing left on the queue"
    );
}
