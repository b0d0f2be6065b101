//! `allegro run stomp://...` against RabbitMQ's STOMP plugin (`RABBITMQ_STOMP`) and ActiveMQ's
//! STOMP connector (`ACTIVEMQ_STOMP`), started by `scripts/setup`, on both runtimes: fixed
//! counts arrive exactly once with receipts and acknowledgements on and off, on queues and
//! topics; paced runs hold their rate within 2%; an ERROR frame or a refused login ends the run
//! with the broker's words, the counts adding up and the summary on disk.

mod common;

use common::{check_summary_schema, endpoint, run, scratch, unique, Ran};
use serde_json::Value;
use std::time::Duration;

/// `allegro run stomp://EP/KIND/NAME?QUERY ARGS... --output json` with a fresh destination.
fn stomp_run(key: &str, kind: &str, query: &str, backend: &str, args: &[&str]) -> (Ran, String) {
    let ep = endpoint(key);
    let name = unique("allegro-it-stomp");
    let q = if query.is_empty() {
        String::new()
    } else {
        format!("?{query}")
    };
    let url = format!("stomp://{ep}/{kind}/{name}{q}");
    let results = scratch("stomp");
    let mut all = vec!["run", &url, "--backend", backend];
    all.extend_from_slice(args);
    let dir = results.to_str().unwrap().to_owned();
    all.extend_from_slice(&["--output", "json", "--quiet", "--results", &dir]);
    (run(&all, Duration::from_secs(120)), dir)
}

/// A completed run's summary, checked against the schema and the copy on disk.
fn completed(r: &Ran, dir: &str, what: &str) -> Value {
    assert_eq!(
        r.status, 0,
        "{what}: exit {}\nstderr:\n{}\nstdout:\n{}",
        r.status, r.stderr, r.stdout
    );
    let s = r.json();
    check_summary_schema(&s);
    assert_eq!(s["status"], "completed", "{what}: {s}");
    assert_eq!(s["errors"], serde_json::json!([]), "{what}");
    assert_eq!(s["config"]["protocol"], "stomp", "{what}");
    let on_disk: Value = serde_json::from_str(
        &std::fs::read_to_string(std::path::Path::new(dir).join("last/summary.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(on_disk["totals"], s["totals"], "{what}: summary.json");
    s
}

/// 2 senders × 2,000 messages of ~200 bytes, `receivers` receivers: every message arrives
/// exactly once at each receiver (a topic) or at one of them (a queue).
fn exact(key: &str, kind: &str, query: &str, receivers: u32, backend: &str) {
    let what = format!("{key} /{kind}?{query} {backend}");
    let rx = receivers.to_string();
    let (r, dir) = stomp_run(
        key,
        kind,
        query,
        backend,
        &[
            "--duration",
            "2000",
            "--parallel",
            "2",
            "--receivers",
            &rx,
            "--size",
            "~200",
        ],
    );
    let s = completed(&r, &dir, &what);
    let t = &s["totals"];
    let sent = 4_000u64;
    let copies = if kind == "topic" {
        u64::from(receivers)
    } else {
        1
    };
    assert_eq!(t["sent"], sent, "{what}: {t}");
    assert_eq!(t["expected_received"], sent * copies, "{what}: {t}");
    assert_eq!(t["received"], sent * copies, "{what}: {t}");
    for k in ["lost", "duplicated", "unstamped", "stale", "unsettled"] {
        assert_eq!(t[k], 0, "{what}: {k}: {t}");
    }
    let receipts = query.contains("receipt=");
    assert_eq!(
        t["acked"],
        if receipts { sent } else { 0 },
        "{what}: every message confirmed by a receipt when asked: {t}"
    );
    assert_eq!(s["latency_us"]["corrected"]["count"], sent * copies);
}

/// 2 senders at 400 msg/s for 3 s, with a receipt every 10 messages: 800 msg/s within 2%.
fn paced(key: &str, backend: &str) {
    let (r, dir) = stomp_run(
        key,
        "queue",
        "receipt=10",
        backend,
        &[
            "--rate",
            "400",
            "--duration",
            "3s",
            "--parallel",
            "2",
            "--size",
            "100",
        ],
    );
    let s = completed(&r, &dir, key);
    let t = &s["totals"];
    assert_eq!(t["requested_rate"], 800);
    assert_eq!(t["sent"], 2400, "{t}");
    assert_eq!(t["received"], 2400, "{t}");
    assert_eq!(t["acked"], 2400, "{t}");
    let rate = t["send_rate"].as_f64().unwrap();
    assert!(
        (rate - 800.0).abs() <= 16.0,
        "{key}: achieved {rate}/s of 800/s asked"
    );
    assert_eq!(t["rate_short"], false);
}

/// A run the broker refuses: exit 1, one line naming the broker's reason, a failed summary on
/// disk whose counts add up.
fn refused(r: &Ran, dir: &str, words: &str, what: &str) {
    assert_eq!(r.status, 1, "{what}: {}\n{}", r.stderr, r.stdout);
    let s = r.json();
    check_summary_schema(&s);
    assert_eq!(s["status"], "failed", "{what}");
    let errors = s["errors"].to_string();
    assert!(errors.contains(words), "{what}: {errors}");
    assert!(!errors.contains("\\n"), "{what}: one line each: {errors}");
    let t = &s["totals"];
    assert_eq!(t["sent"], 0, "{what}: {t}");
    assert_eq!(t["received"], 0, "{what}: {t}");
    let on_disk = std::fs::read_to_string(std::path::Path::new(dir).join("last/summary.json"))
        .expect("summary on disk");
    assert!(on_disk.contains("\"failed\""));
}

macro_rules! broker_tests {
    ($module:ident, $key:literal) => {
        mod $module {
            use super::*;
            #[test]
            fn queue_no_receipts_auto_ack() {
                for backend in ["uring", "epoll"] {
                    exact($key, "queue", "", 1, backend);
                }
            }
            #[test]
            fn queue_receipt_each_client_individual() {
                for backend in ["uring", "epoll"] {
                    exact(
                        $key,
                        "queue",
                        "receipt=each&ack=client-individual",
                        1,
                        backend,
                    );
                }
            }
            #[test]
            fn queue_receipt_window_client_ack_small_prefetch() {
                for backend in ["uring", "epoll"] {
                    exact(
                        $key,
                        "queue",
                        "receipt=50&ack=client&prefetch=20",
                        1,
                        backend,
                    );
                }
            }
            #[test]
            fn topic_every_receiver_gets_every_message() {
                for backend in ["uring", "epoll"] {
                    exact($key, "topic", "", 2, backend);
                }
            }
            #[test]
            fn paced_within_two_percent() {
                for backend in ["uring", "epoll"] {
                    paced($key, backend);
                }
            }
        }
    };
}

broker_tests!(rabbitmq, "RABBITMQ_STOMP");
broker_tests!(activemq, "ACTIVEMQ_STOMP");

#[test]
fn rabbitmq_error_frame_for_an_unknown_destination_ends_the_run() {
    let ep = endpoint("RABBITMQ_STOMP");
    let results = scratch("stomp-error");
    let dir = results.to_str().unwrap();
    let url = format!("stomp://{ep}/nowhere/{}", unique("x"));
    let r = run(
        &[
            "run",
            &url,
            "--duration",
            "100",
            "--output",
            "json",
            "--quiet",
            "--results",
            dir,
        ],
        Duration::from_secs(60),
    );
    refused(
        &r,
        dir,
        "STOMP ERROR: Unknown destination",
        "unknown destination",
    );
}

#[test]
fn rabbitmq_refused_login_ends_the_run_without_printing_the_password() {
    let ep = endpoint("RABBITMQ_STOMP");
    let results = scratch("stomp-login");
    let dir = results.to_str().unwrap();
    let url = format!("stomp://guest:s3cret-word@{ep}/queue/{}", unique("x"));
    let r = run(
        &[
            "run",
            &url,
            "--duration",
            "100",
            "--output",
            "json",
            "--quiet",
            "--results",
            dir,
        ],
        Duration::from_secs(60),
    );
    refused(&r, dir, "Access refused", "refused login");
    assert!(!r.stdout.contains("s3cret-word") && !r.stderr.contains("s3cret-word"));
}

#[test]
fn bad_stomp_options_are_refused_up_front() {
    for (query, words) in [
        ("ack=sometimes", "bad URL option ack=sometimes"),
        ("receipt=0", "bad URL option receipt=0"),
        ("prefetch=x", "bad URL option prefetch=x"),
        ("credit=5", "unknown URL option 'credit'"),
    ] {
        let url = format!("stomp://127.0.0.1:1/queue/q?{query}");
        let r = run(&["run", &url, "--duration", "10"], Duration::from_secs(20));
        assert_eq!(r.status, 2, "{query}: {}", r.stderr);
        assert!(r.stderr.contains(words), "{query}: {}", r.stderr);
    }
}
