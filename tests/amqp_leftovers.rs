//! Receivers leave nothing behind and are not fooled by what others left (RabbitMQ's AMQP 1.0
//! plugin, `RABBITMQ_AMQP`, started by `scripts/setup`).
//!
//! Back-to-back runs through one queue leave it empty after each and count exactly; messages
//! left on the queue by an interrupted run are counted apart as stale by the next run, which
//! still reports its own counts exactly. The queue's depth is the broker's own word
//! (`rabbitmqctl`), not Allegro's.

mod common;

use common::{allegro, check_summary_schema, endpoint, rabbit_queue_depth, scratch, unique};
use serde_json::Value;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// `allegro run URL ARGS --output json --quiet`; the run must complete.
fn run_completed(url: &str, args: &[&str], what: &str) -> Value {
    let results = scratch("leftovers");
    let mut all = vec!["run", url];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--output", "json", "--quiet", "--results"]);
    all.push(results.to_str().unwrap());
    let r = common::run(&all, Duration::from_secs(120));
    assert_eq!(
        r.status, 0,
        "{what}: exit {}\nstderr:\n{}\nstdout:\n{}",
        r.status, r.stderr, r.stdout
    );
    let s = r.json();
    check_summary_schema(&s);
    assert_eq!(s["status"], "completed", "{what}: {s}");
    s
}

/// A completed run of `n` 100-byte messages per sender on `backend`.
fn counted_run(url: &str, n: u64, backend: &str, what: &str) -> Value {
    let n = n.to_string();
    let args = ["--duration", &n, "--size", "100", "--backend", backend];
    run_completed(url, &args, what)
}

/// This run's counts are exact: every message sent was received once, nothing lost.
fn assert_own_counts(s: &Value, sent: u64, what: &str) {
    let t = &s["totals"];
    assert_eq!(t["sent"], sent, "{what}: {t}");
    assert_eq!(t["received"], sent, "{what}: {t}");
    assert_eq!(t["lost"], 0, "{what}: {t}");
    assert_eq!(t["duplicated"], 0, "{what}: {t}");
    assert_eq!(t["reordered"], 0, "{what}: {t}");
    assert_eq!(t["unsettled"], 0, "{what}: {t}");
}

fn back_to_back(backend: &str) {
    let ep = endpoint("RABBITMQ_AMQP");
    let queue = unique("allegro-it-b2b");
    let n = 30_000u64;
    for (round, credit) in ["", "?credit=10000", "", "?credit=10000"]
        .iter()
        .enumerate()
    {
        let what = format!("{backend} round {round} {credit}");
        let url = format!("amqp://guest:guest@{ep}/queue/{queue}{credit}");
        let s = counted_run(&url, n, backend, &what);
        assert_own_counts(&s, n, &what);
        assert_eq!(s["totals"]["stale"], 0, "{what}: {}", s["totals"]);
        assert_eq!(
            rabbit_queue_depth(&queue),
            0,
            "{what}: the queue holds messages the run counted as received"
        );
    }
}

fn stale_after_an_interrupted_run(backend: &str) {
    let ep = endpoint("RABBITMQ_AMQP");
    let queue = unique("allegro-it-stale");
    let url = format!("amqp://guest:guest@{ep}/queue/{queue}");
    // A sending run, stopped with SIGINT part-way: what it sent stays on the queue.
    let results = scratch("stale-first");
    let child = allegro()
        .args([
            "run",
            &url,
            "--receivers",
            "0",
            "--rate",
            "4000",
            "--duration",
            "60s",
            "--size",
            "100",
            "--backend",
            backend,
            "--quiet",
            "--output",
            "json",
            "--results",
            results.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start allegro");
    std::thread::sleep(Duration::from_millis(2000));
    let interrupted_at = Instant::now();
    let kill = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill -INT");
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    assert!(interrupted_at.elapsed() < Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(130), "{backend}: interrupted");
    let first: Value = serde_json::from_slice(&out.stdout).expect("a JSON summary");
    assert_eq!(first["status"], "interrupted");
    let left = rabbit_queue_depth(&queue);
    let first_sent = first["totals"]["sent"].as_u64().unwrap();
    assert!(
        left > 1_000 && left <= first_sent,
        "{backend}: the interrupted run left {left} of its {first_sent} on the queue"
    );
    // The next run reads the leftovers first: they are stale, and its own counts are exact.
    let n = 20_000u64;
    let what = format!("{backend} after an interrupted run");
    let s = counted_run(&url, n, backend, &what);
    assert_own_counts(&s, n, &what);
    assert_eq!(s["totals"]["stale"], left, "{what}: {}", s["totals"]);
    assert_eq!(s["latency_us"]["corrected"]["count"], n, "{what}: {s}");
    assert_eq!(rabbit_queue_depth(&queue), 0, "{what}");
}

macro_rules! backend_tests {
    ($module:ident, $backend:literal) => {
        mod $module {
            use super::*;
            #[test]
            fn back_to_back_runs_leave_the_queue_empty() {
                back_to_back($backend);
            }
            #[test]
            fn stale_messages_of_an_interrupted_run_are_counted_apart() {
                stale_after_an_interrupted_run($backend);
            }
        }
    };
}

backend_tests!(uring, "uring");
backend_tests!(epoll, "epoll");

/// A receiver started after its sender (another process of the same run, `--run-id`) times
/// every message, those sent before it started included.
#[test]
fn a_receiver_started_after_its_sender_times_every_message() {
    let ep = endpoint("RABBITMQ_AMQP");
    let queue = unique("allegro-it-late");
    // Unsettled: the sender ends only once RabbitMQ has taken every message (pre-settled ones
    // not yet routed when their connection closes may be dropped, at most once).
    let url = format!("amqp://guest:guest@{ep}/queue/{queue}?settle=unsettled");
    let n = 2_000u64;
    let sent = run_completed(
        &url,
        &[
            "--receivers",
            "0",
            "--duration",
            &n.to_string(),
            "--size",
            "100",
            "--run-id",
            "1a7e0001",
        ],
        "sender",
    );
    assert_eq!(sent["totals"]["sent"], n);
    let got = run_completed(
        &url,
        &[
            "--parallel",
            "0",
            "--receivers",
            "1",
            "--duration",
            &n.to_string(),
            "--size",
            "100",
            "--run-id",
            "1a7e0001",
            // A broker busy with other tests may pause a consumer for seconds.
            "--drain-idle",
            "15s",
        ],
        "late receiver",
    );
    let t = &got["totals"];
    assert_eq!(
        (t["received"].as_u64(), t["stale"].as_u64()),
        (Some(n), Some(0)),
        "{t}"
    );
    let l = &got["latency_us"];
    assert_eq!(l["service"]["count"], n, "every message timed: {l}");
    assert_eq!(l["corrected"]["count"], n, "{l}");
    assert_eq!(rabbit_queue_depth(&queue), 0);
}
