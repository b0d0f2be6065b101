//! Many connections from one process: thousands come up against a private Mosquitto (at most 64
//! per shard in their handshake at once, so the broker's accept queue does not overflow),
//! `--connect-rate` paces them, and `--source-addrs` spreads them over local addresses.

mod common;

use common::{allegro, free_port, run_json, scratch, summary_on_disk, Mosquitto};
use std::process::Stdio;
use std::time::Duration;

#[test]
fn four_thousand_idle_receivers_all_come_up_on_both_runtimes() {
    let broker = Mosquitto::start();
    for backend in ["uring", "epoll"] {
        let url = format!("mqtt://127.0.0.1:{}/scale", broker.1);
        let (r, results) = run_json(
            &url,
            &[
                "--parallel",
                "0",
                "--receivers",
                "4000",
                "--duration",
                "2s",
                "--run-id",
                "1",
                "--backend",
                backend,
            ],
            Duration::from_secs(90),
        );
        assert_eq!(r.status, 0, "{backend}: {}", r.stderr);
        let s = summary_on_disk(&results);
        let cm = &s["totals"]["connect_ms"];
        assert_eq!(cm["count"], 4000, "{backend}: {cm}");
        assert!(cm["all_up"].as_f64().unwrap() > 0.0, "{backend}: {cm}");
        assert_eq!(s["totals"]["connections"]["done"], 4000, "{backend}: {s}");
    }
}

#[test]
fn a_connect_rate_spaces_the_connections() {
    let broker = Mosquitto::start();
    let url = format!("mqtt://127.0.0.1:{}/paced-connects", broker.1);
    // 10 connections at 20/s: the last begins 450 ms after the first, at the earliest.
    let (r, results) = run_json(
        &url,
        &[
            "--parallel",
            "5",
            "--receivers",
            "5",
            "--duration",
            "50",
            "--rate",
            "100",
            "--connect-rate",
            "20",
        ],
        Duration::from_secs(60),
    );
    assert_eq!(r.status, 0, "{}", r.stderr);
    let s = summary_on_disk(&results);
    let all_up = s["totals"]["connect_ms"]["all_up"].as_f64().unwrap();
    assert!(
        all_up >= 400.0,
        "all up after {all_up} ms at 20 connections/s"
    );
    assert_eq!(s["config"]["connect_rate"], 20.0);
    assert_eq!(s["totals"]["received"], 250 * 5, "{s}");
}

/// Local addresses of the established connections to `port`, as `ss` shows them.
fn sources_of_connections_to(port: u16) -> Vec<String> {
    let out = std::process::Command::new("ss")
        .args([
            "-Htn",
            "state",
            "established",
            &format!("( dport = :{port} )"),
        ])
        .output()
        .expect("ss (iproute2)");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2))
        .filter_map(|local| local.rsplit_once(':').map(|(ip, _)| ip.to_owned()))
        .collect()
}

#[test]
fn source_addresses_are_used_in_turn_on_both_runtimes() {
    for backend in ["uring", "epoll"] {
        let broker = Mosquitto::start();
        let port = broker.1;
        let results = scratch("sources");
        let child = allegro()
            .args(["run", &format!("mqtt://127.0.0.1:{port}/sources")])
            .args(["--parallel", "0", "--receivers", "6", "--duration", "3s"])
            .args(["--run-id", "1", "--source-addrs", "127.0.0.2-3,127.0.0.5"])
            .args([
                "--backend",
                backend,
                "--quiet",
                "--output",
                "json",
                "--results",
            ])
            .arg(&results)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(1500));
        let mut sources = sources_of_connections_to(port);
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{backend}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        sources.sort();
        assert_eq!(
            sources,
            [
                "127.0.0.2",
                "127.0.0.2",
                "127.0.0.3",
                "127.0.0.3",
                "127.0.0.5",
                "127.0.0.5"
            ],
            "{backend}"
        );
        let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            s["config"]["source_addrs"],
            serde_json::json!(["127.0.0.2", "127.0.0.3", "127.0.0.5"])
        );
    }
}

#[test]
fn a_source_address_that_is_not_local_fails_with_its_reason() {
    let port = free_port();
    let _broker = Mosquitto::start_on(port);
    let out = allegro()
        .args(["run", &format!("mqtt://127.0.0.1:{port}/x")])
        .args([
            "--duration",
            "100",
            "--source-addrs",
            "192.0.2.7",
            "--quiet",
        ])
        .arg("--results")
        .arg(scratch("not-local"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot connect from 192.0.2.7"), "{stderr}");
}
