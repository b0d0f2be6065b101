//! `allegro run amqp091://...` against RabbitMQ's AMQP 0-9-1 (`RABBITMQ_AMQP`, started by
//! `scripts/setup`) on both runtimes: fixed counts arrive exactly once with confirms and manual
//! acknowledgement on and off, through a queue and through an exchange (a copy per receiver),
//! bodies larger than a frame; nothing is left on the queue; paced runs hold their rate within
//! 2%; a missing queue (passive), a refused login and an unroutable mandatory message end the
//! run with the broker's words and the summary on disk.

mod common;

use common::{
    assert_paced, completed_run, endpoint, rabbit_queue_depth, refused_run, run, run_json, unique,
    Ran,
};
use std::path::PathBuf;
use std::time::Duration;

/// `allegro run amqp091://EP/PATH?QUERY --backend B ARGS...`.
fn amqp091_run(path: &str, query: &str, backend: &str, args: &[&str]) -> (Ran, PathBuf) {
    let url = format!("amqp091://{}/{path}?{query}", endpoint("RABBITMQ_AMQP"));
    let mut all = vec!["--backend", backend];
    all.extend_from_slice(args);
    run_json(&url, &all, Duration::from_secs(120))
}

/// 2 senders × `count` messages of `size` bytes: each arrives exactly once at each receiver
/// (an exchange) or at one of them (a queue); confirmed when asked; the queue left empty.
fn exact(query: &str, exchange: bool, receivers: u32, size: &str, count: u64, backend: &str) {
    let queue = unique("allegro-it-091");
    let path = if exchange {
        format!("exchange/amq.topic/{queue}")
    } else {
        queue.clone()
    };
    let what = format!("/{path}?{query} size {size} {backend}");
    let (rx, n) = (receivers.to_string(), count.to_string());
    let (r, dir) = amqp091_run(
        &path,
        query,
        backend,
        &[
            "--duration",
            &n,
            "--parallel",
            "2",
            "--receivers",
            &rx,
            "--size",
            size,
        ],
    );
    let s = completed_run(&r, &dir, "amqp091", &what);
    let t = &s["totals"];
    let sent = 2 * count;
    let copies = if exchange { u64::from(receivers) } else { 1 };
    assert_eq!(t["sent"], sent, "{what}: {t}");
    assert_eq!(t["expected_received"], sent * copies, "{what}: {t}");
    assert_eq!(t["received"], sent * copies, "{what}: {t}");
    for k in ["lost", "duplicated", "unstamped", "stale", "unsettled"] {
        assert_eq!(t[k], 0, "{what}: {k}: {t}");
    }
    let confirms = query.contains("confirm=true");
    assert_eq!(t["acked"], if confirms { sent } else { 0 }, "{what}: {t}");
    assert_eq!(
        t["bytes_received"],
        t["bytes_sent"].as_u64().unwrap() * copies
    );
    if !exchange {
        assert_eq!(rabbit_queue_depth(&queue), 0, "{what}: left on the queue");
    }
}

/// 2 senders at 400 msg/s for 3 s with confirms: 800 msg/s within 2%.
fn paced(backend: &str) {
    let (r, dir) = amqp091_run(
        &unique("allegro-it-091-paced"),
        "confirm=true",
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
    let s = completed_run(&r, &dir, "amqp091", "paced");
    assert_paced(&s, 2, 400, 3, "paced");
    assert_eq!(s["totals"]["acked"], 2400);
}

macro_rules! backend_tests {
    ($module:ident, $backend:literal) => {
        mod $module {
            use super::*;
            #[test]
            fn queue_no_confirms_auto_ack() {
                exact("", false, 1, "~200", 2_000, $backend);
            }
            #[test]
            fn queue_confirms_manual_ack_small_prefetch() {
                exact(
                    "confirm=true&ack=manual&prefetch=20",
                    false,
                    1,
                    "~200",
                    2_000,
                    $backend,
                );
            }
            #[test]
            fn durable_queue_persistent_messages() {
                exact(
                    "durable=true&persistent=true&confirm=true",
                    false,
                    1,
                    "256",
                    1_000,
                    $backend,
                );
            }
            #[test]
            fn bodies_larger_than_a_frame() {
                // 300 KiB bodies over 128 KiB frames: three body frames each.
                exact("confirm=true&ack=manual", false, 1, "300k", 50, $backend);
            }
            #[test]
            fn exchange_every_receiver_gets_every_message() {
                exact("ack=manual", true, 2, "100", 2_000, $backend);
            }
            #[test]
            fn paced_within_two_percent() {
                paced($backend);
            }
        }
    };
}

backend_tests!(uring, "uring");
backend_tests!(epoll, "epoll");

#[test]
fn a_missing_queue_declared_passive_ends_the_run_with_not_found() {
    let (r, dir) = amqp091_run(
        &unique("allegro-it-091-missing"),
        "passive=true",
        "uring",
        &["--duration", "100"],
    );
    let s = refused_run(&r, &dir, "404 NOT_FOUND", "passive");
    assert!(s["errors"]
        .to_string()
        .contains("in reply to queue.declare"));
    assert_eq!(s["totals"]["sent"], 0);
}

#[test]
fn a_refused_login_ends_the_run_without_printing_the_password() {
    let ep = endpoint("RABBITMQ_AMQP");
    let url = format!("amqp091://guest:n0t-the-pw@{ep}/{}", unique("q"));
    let (r, dir) = run_json(&url, &["--duration", "100"], Duration::from_secs(60));
    refused_run(&r, &dir, "403 ACCESS_REFUSED", "login");
    assert!(!r.stdout.contains("n0t-the-pw") && !r.stderr.contains("n0t-the-pw"));
}

#[test]
fn unroutable_mandatory_messages_are_errors() {
    // amq.direct exists; no queue is bound with this key.
    let (r, dir) = amqp091_run(
        &format!("exchange/amq.direct/{}", unique("nobody")),
        "mandatory=true",
        "uring",
        &["--duration", "10", "--receivers", "0"],
    );
    let s = refused_run(&r, &dir, "returned an unroutable message", "mandatory");
    assert_eq!(s["totals"]["sent"], 10);
}

#[test]
fn bad_amqp091_options_are_refused_up_front() {
    for (query, words) in [
        ("ack=sometimes", "bad URL option ack=sometimes"),
        ("prefetch=0", "bad URL option prefetch=0"),
        ("exchange-type=round", "bad URL option exchange-type=round"),
        ("settle=unsettled", "unknown URL option 'settle'"),
    ] {
        let url = format!("amqp091://127.0.0.1:1/q?{query}");
        let r = run(&["run", &url, "--duration", "10"], Duration::from_secs(20));
        assert_eq!(r.status, 2, "{query}: {}", r.stderr);
        assert!(r.stderr.contains(words), "{query}: {}", r.stderr);
    }
}
