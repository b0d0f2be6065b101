//! `allegro run amqp://...` against RabbitMQ's AMQP 1.0 plugin (`RABBITMQ_AMQP`, started by
//! `scripts/setup`): fixed counts arrive exactly once, pre-settled and unsettled, on both runtimes;
//! large messages; a paced run holds its rate; a refused attach and a wrong password fail the run
//! with a clear error and a failed summary.
//!
//! On an AMQP queue receivers compete for messages, so exact-count runs have one receiver. Each
//! test uses a fresh queue (`/queue/allegro-it-...`): RabbitMQ declares it on the first attach.

mod common;

use common::{check_summary_schema, endpoint, run, scratch, unique, Ran};
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

/// `amqp://[guest:guest@]HOST:PORT/queue/allegro-it-NAME-...[?query]`.
fn queue_url(name: &str, credentials: bool, query: &str) -> String {
    let ep = endpoint("RABBITMQ_AMQP");
    let user = if credentials { "guest:guest@" } else { "" };
    let queue = unique(&format!("allegro-it-{name}"));
    let q = if query.is_empty() {
        String::new()
    } else {
        format!("?{query}")
    };
    format!("amqp://{user}{ep}/queue/{queue}{q}")
}

/// Runs `allegro run URL ARGS... --output json --quiet --results DIR`.
fn allegro_run(url: &str, args: &[&str], results: &Path, limit: Duration) -> Ran {
    let mut all = vec!["run", url];
    all.extend_from_slice(args);
    all.extend_from_slice(&[
        "--output",
        "json",
        "--quiet",
        "--results",
        results.to_str().unwrap(),
    ]);
    run(&all, limit)
}

/// A completed run's summary, checked against the schema and against the copy on disk.
fn completed(r: &Ran, results: &Path, what: &str) -> Value {
    assert_eq!(
        r.status, 0,
        "{what}: exit {}\nstderr:\n{}\nstdout:\n{}",
        r.status, r.stderr, r.stdout
    );
    let s = r.json();
    check_summary_schema(&s);
    assert_eq!(s["status"], "completed", "{what}: {s}");
    assert_eq!(s["errors"], serde_json::json!([]), "{what}: {s}");
    assert_eq!(s["config"]["protocol"], "amqp", "{what}");
    let dir = results.join("last");
    let on_disk: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    check_summary_schema(&on_disk);
    assert_eq!(on_disk["totals"], s["totals"], "{what}: summary.json");
    assert!(std::fs::metadata(dir.join("latency.hlog")).unwrap().len() > 0);
    s
}

/// Every message sent arrived exactly once at the one receiver; unsettled ones were all
/// accepted by the broker.
fn assert_exact(s: &Value, sent: u64, presettled: bool, what: &str) {
    let t = &s["totals"];
    assert_eq!(t["sent"], sent, "{what}: {t}");
    assert_eq!(t["received"], sent, "{what}: {t}");
    assert_eq!(t["expected_received"], sent, "{what}: {t}");
    assert_eq!(t["lost"], 0, "{what}: {t}");
    assert_eq!(t["duplicated"], 0, "{what}: {t}");
    assert_eq!(t["unstamped"], 0, "{what}: {t}");
    assert_eq!(t["connection_errors"], 0, "{what}: {t}");
    assert_eq!(t["bytes_received"], t["bytes_sent"], "{what}: {t}");
    if presettled {
        assert_eq!(
            t["acked"], 0,
            "{what}: pre-settled sends get no outcome: {t}"
        );
    } else {
        assert_eq!(t["acked"], sent, "{what}: every delivery accepted: {t}");
    }
    assert_eq!(s["latency_us"]["corrected"]["count"], sent, "{what}: {s}");
}

/// 2 senders × 2000 messages of ~200 bytes into a fresh queue, one receiver, SASL PLAIN.
fn exact_count(backend: &str, presettled: bool) {
    let settle = if presettled {
        "presettled"
    } else {
        "unsettled"
    };
    let what = format!("{backend} {settle}");
    let url = queue_url(
        &format!("count-{settle}"),
        true,
        &format!("settle={settle}"),
    );
    let results = scratch("amqp-count");
    let count = 2_000u64;
    let r = allegro_run(
        &url,
        &[
            "--duration",
            &count.to_string(),
            "--parallel",
            "2",
            "--receivers",
            "1",
            "--size",
            "~200",
            "--backend",
            backend,
        ],
        &results,
        Duration::from_secs(120),
    );
    let s = completed(&r, &results, &what);
    assert_eq!(s["config"]["backend"], backend);
    assert_exact(&s, 2 * count, presettled, &what);
}

/// `count` unsettled messages of `size` bytes through one queue.
fn large(backend: &str, size: u32, count: u64) {
    let what = format!("{backend} {count} × {size} B");
    let url = queue_url("large", true, "settle=unsettled");
    let results = scratch("amqp-large");
    let r = allegro_run(
        &url,
        &[
            "--duration",
            &count.to_string(),
            "--receivers",
            "1",
            "--size",
            &size.to_string(),
            "--backend",
            backend,
        ],
        &results,
        Duration::from_secs(120),
    );
    let s = completed(&r, &results, &what);
    assert_exact(&s, count, false, &what);
    assert_eq!(
        s["totals"]["bytes_received"],
        count * u64::from(size),
        "{what}"
    );
}

/// 2 senders at 300/s for 3 s (SASL ANONYMOUS): 600/s within 2%, every message received.
fn paced(backend: &str) {
    let url = queue_url("paced", false, "");
    let results = scratch("amqp-paced");
    let r = allegro_run(
        &url,
        &[
            "--rate",
            "300",
            "--duration",
            "3s",
            "--parallel",
            "2",
            "--receivers",
            "1",
            "--size",
            "100",
            "--backend",
            backend,
        ],
        &results,
        Duration::from_secs(60),
    );
    let s = completed(&r, &results, backend);
    let t = &s["totals"];
    assert_eq!(t["requested_rate"], 600, "{t}");
    assert_eq!(t["sent"], 1800, "{backend}: {t}");
    assert_exact(&s, 1800, true, backend);
    let rate = t["send_rate"].as_f64().unwrap();
    assert!(
        (rate - 600.0).abs() <= 12.0,
        "{backend}: sent at {rate}/s of 600/s asked"
    );
    assert_eq!(t["rate_short"], false, "{t}");
    // The receive rate spans first to last arrival, so the broker's delivery jitter on those two
    // messages moves it: it only has to follow the send rate, within 5%.
    let rx = t["receive_rate"].as_f64().unwrap();
    assert!(
        (rx - 600.0).abs() <= 30.0,
        "{backend}: received at {rx}/s of 600/s sent"
    );
    assert_eq!(s["latency_us"]["send_delay"]["count"], 1800, "{s}");
}

/// A run that must fail: exit 1, quickly, the error on one `allegro: run failed:` line that
/// contains every needle, and a failed summary (stdout and summary.json) with nothing sent.
fn refused(url: &str, backend: &str, needles: &[&str]) {
    let results = scratch("amqp-refused");
    let r = allegro_run(
        url,
        &[
            "--duration",
            "100",
            "--receivers",
            "1",
            "--backend",
            backend,
        ],
        &results,
        Duration::from_secs(30),
    );
    assert_eq!(
        r.status, 1,
        "{url} {backend}: exit {}\nstderr:\n{}",
        r.status, r.stderr
    );
    assert!(
        r.elapsed < Duration::from_secs(10),
        "{url} {backend}: took {:?}",
        r.elapsed
    );
    let line = r
        .stderr
        .lines()
        .find(|l| l.starts_with("allegro: run failed: "))
        .unwrap_or_else(|| panic!("{url} {backend}: no 'run failed' line:\n{}", r.stderr));
    for n in needles {
        assert!(line.contains(n), "{url} {backend}: '{line}' lacks '{n}'");
    }
    assert!(
        !r.stderr.contains(":guest@") && !r.stderr.contains(":wrong@"),
        "password shown: {}",
        r.stderr
    );
    let printed = r.json();
    check_summary_schema(&printed);
    assert_eq!(printed["status"], "failed", "{printed}");
    let s: Value = serde_json::from_str(
        &std::fs::read_to_string(results.join("last/summary.json")).expect("summary.json written"),
    )
    .expect("summary.json parses");
    check_summary_schema(&s);
    assert_eq!(s["status"], "failed", "{s}");
    assert_eq!(s["totals"]["sent"], 0, "{s}");
    let errors = s["errors"].as_array().unwrap();
    assert!(!errors.is_empty(), "{s}");
    for e in errors {
        let e = e.as_str().unwrap();
        assert!(
            needles.iter().all(|n| e.contains(n)),
            "{url} {backend}: error '{e}' lacks one of {needles:?}"
        );
    }
}

/// An address form RabbitMQ does not know: the broker refuses the attach (it ends the session
/// with `amqp:invalid-field` "Attach rejected: {unknown_destination,...}").
fn unknown_address(backend: &str) {
    let ep = endpoint("RABBITMQ_AMQP");
    refused(
        &format!("amqp://guest:guest@{ep}/nosuch/thing"),
        backend,
        &["refused by the broker", "Attach rejected", "nosuch/thing"],
    );
}

fn wrong_password(backend: &str) {
    let ep = endpoint("RABBITMQ_AMQP");
    let queue = unique("allegro-it-auth");
    refused(
        &format!("amqp://guest:wrong@{ep}/queue/{queue}"),
        backend,
        &["refused by the broker", "SASL", "authentication failed"],
    );
}

macro_rules! backend_tests {
    ($module:ident, $backend:literal) => {
        mod $module {
            use super::*;
            #[test]
            fn presettled_exact_count() {
                exact_count($backend, true);
            }
            #[test]
            fn unsettled_exact_count() {
                exact_count($backend, false);
            }
            /// 300 kB bodies: larger than RabbitMQ's own frame_max (131072), but RabbitMQ
            /// echoes the client's max-frame-size (Allegro asks for 1 MiB), so these still
            /// travel in one frame each way.
            #[test]
            fn large_messages_300k() {
                large($backend, 300_000, 50);
            }
            /// 2.5 MB bodies: above Allegro's and the broker's 1 MiB max-frame-size, so each
            /// message is split over several transfer frames both ways (§2.6.14).
            #[test]
            fn multi_frame_messages() {
                large($backend, 2_500_000, 20);
            }
            #[test]
            fn paced_600_per_second() {
                paced($backend);
            }
            #[test]
            fn unknown_address_refused() {
                unknown_address($backend);
            }
            #[test]
            fn wrong_password_refused() {
                wrong_password($backend);
            }
        }
    };
}

backend_tests!(uring, "uring");
backend_tests!(epoll, "epoll");
