//! `allegro run stomp://...` against RabbitMQ's STOMP plugin (`RABBITMQ_STOMP`) and ActiveMQ's
//! STOMP connector (`ACTIVEMQ_STOMP`), started by `scripts/setup`, on both runtimes: fixed
//! counts arrive exactly once with receipts and acknowledgements on and off, on queues and
//! topics; paced runs hold their rate within 2%; an ERROR frame or a refused login ends the run
//! with the broker's words, the counts adding up and the summary on disk.

mod common;

use common::{assert_paced, completed_run, endpoint, refused_run, run, run_json, unique, Ran};
use std::path::PathBuf;
use std::time::Duration;

/// `allegro run stomp://EP/KIND/NAME?QUERY --backend B ARGS...` with a fresh destination.
fn stomp_run(key: &str, kind: &str, query: &str, backend: &str, args: &[&str]) -> (Ran, PathBuf) {
    let ep = endpoint(key);
    let url = format!("stomp://{ep}/{kind}/{}?{query}", unique("allegro-it-stomp"));
    let mut all = vec!["--backend", backend];
    all.extend_from_slice(args);
    run_json(&url, &all, Duration::from_secs(120))
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
    let s = completed_run(&r, &dir, "stomp", &what);
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
    let s = completed_run(&r, &dir, "stomp", key);
    assert_paced(&s, 2, 400, 3, key);
    assert_eq!(s["totals"]["acked"], 2400);
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
    let url = format!("stomp://{ep}/nowhere/{}", unique("x"));
    let (r, dir) = run_json(&url, &["--duration", "100"], Duration::from_secs(60));
    let s = refused_run(
        &r,
        &dir,
        "STOMP ERROR: Unknown destination",
        "unknown destination",
    );
    assert_eq!(s["totals"]["received"], 0);
}

#[test]
fn rabbitmq_refused_login_ends_the_run_without_printing_the_password() {
    let ep = endpoint("RABBITMQ_STOMP");
    let url = format!("stomp://guest:s3cret-word@{ep}/queue/{}", unique("x"));
    let (r, dir) = run_json(&url, &["--duration", "100"], Duration::from_secs(60));
    let s = refused_run(&r, &dir, "Access refused", "refused login");
    assert_eq!(s["totals"]["sent"], 0);
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
