//! `allegro run` with no URL: AMQP 1.0 senders into Allegro's own loopback receiver. Needs no
//! broker at all.

mod common;

use common::{check_summary_schema, run, scratch};
use std::time::Duration;

#[test]
fn every_message_arrives_on_both_runtimes() {
    // Spread sizes take the general encoder; a fixed size the unbounded path's patched frames.
    for (backend, size) in [
        ("uring", "~300"),
        ("epoll", "~300"),
        ("uring", "100"),
        ("epoll", "100"),
    ] {
        let results = scratch("peer");
        let r = run(
            &[
                "run",
                "--duration",
                "5000",
                "--parallel",
                "2",
                "--size",
                size,
                "--backend",
                backend,
                "--output",
                "json",
                "--quiet",
                "--results",
                results.to_str().unwrap(),
            ],
            Duration::from_secs(60),
        );
        assert_eq!(r.status, 0, "{backend} {size}: {}\n{}", r.stderr, r.stdout);
        let s = r.json();
        check_summary_schema(&s);
        let t = &s["totals"];
        assert_eq!(s["config"]["mode"], "peer");
        assert_eq!(
            s["config"]["receivers"], 2,
            "one accepting receiver per sender"
        );
        assert_eq!(t["sent"], 10_000, "{t}");
        assert_eq!(t["expected_received"], 10_000, "{t}");
        assert_eq!(t["received"], 10_000, "{t}");
        assert_eq!(t["lost"], 0, "{t}");
        assert_eq!(t["duplicated"], 0, "{t}");
        assert_eq!(t["reordered"], 0, "{t}");
        assert_eq!(s["latency_us"]["corrected"]["count"], 10_000);
        assert!(s["config"]["url"]
            .as_str()
            .unwrap()
            .starts_with("amqp://127.0.0.1:"));
    }
}

#[test]
fn a_paced_peer_run_holds_its_rate() {
    let results = scratch("peer-paced");
    let r = run(
        &[
            "run",
            "--rate",
            "1000",
            "--duration",
            "2s",
            "--size",
            "100",
            "--output",
            "json",
            "--quiet",
            "--results",
            results.to_str().unwrap(),
        ],
        Duration::from_secs(30),
    );
    assert_eq!(r.status, 0, "{}\n{}", r.stderr, r.stdout);
    let s = r.json();
    let t = &s["totals"];
    assert_eq!(s["config"]["parallel"], 1, "paced: one sender unless told");
    assert_eq!(t["sent"], 2000, "{t}");
    assert_eq!(t["received"], 2000, "{t}");
    let rate = t["send_rate"].as_f64().unwrap();
    assert!((rate - 1000.0).abs() <= 20.0, "achieved {rate}/s of 1000/s");
    assert_eq!(s["latency_us"]["send_delay"]["count"], 2000);
}

#[test]
fn an_unbounded_peer_run_has_a_pair_per_core_unless_told() {
    for (parallel, pairs) in [(None, 2), (Some("1"), 1)] {
        let results = scratch("peer-pairs");
        let mut args = vec![
            "run",
            "--cores",
            "0-1",
            "--duration",
            "3000",
            "--size",
            "100",
            "--output",
            "json",
            "--quiet",
            "--results",
            results.to_str().unwrap(),
        ];
        if let Some(p) = parallel {
            args.extend(["--parallel", p]);
        }
        let r = run(&args, Duration::from_secs(30));
        assert_eq!(r.status, 0, "{parallel:?}: {}\n{}", r.stderr, r.stdout);
        let s = r.json();
        assert_eq!(s["config"]["parallel"], pairs);
        assert_eq!(s["config"]["receivers"], pairs);
        let t = &s["totals"];
        assert_eq!(t["sent"], 3000 * pairs, "{t}");
        assert_eq!(t["received"], 3000 * pairs, "{t}");
        assert_eq!(t["lost"], 0, "{t}");
        // The pairs are spread over the cores, and each shard receives what it sent: a sender's
        // receiving end is on its own shard.
        let shards = s["shards"].as_array().expect("shards");
        for sh in shards {
            assert_eq!(sh["sent"], sh["received"], "{sh}");
        }
        let sending = shards
            .iter()
            .filter(|sh| sh["sent"].as_u64().unwrap_or(0) > 0)
            .count();
        assert_eq!(sending, pairs as usize, "{}", s["shards"]);
    }
}

#[test]
fn receivers_option_is_refused_peer_to_peer() {
    let r = run(&["run", "--receivers", "3"], Duration::from_secs(10));
    assert_eq!(r.status, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("--receivers does not apply peer to peer"),
        "{}",
        r.stderr
    );
}
