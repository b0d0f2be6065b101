//! A broker that goes away mid-run, with and without `--reconnect`: a private Mosquitto is
//! killed (SIGKILL) and, where the test says, started again on the same port. Without
//! `--reconnect` the run fails at the first loss; with it the schedule goes on, every loss is
//! reported, and sent, acknowledged, unconfirmed, received and lost add up.

mod common;

use common::{allegro, free_port, scratch, summary_on_disk, Mosquitto};
use serde_json::Value;
use std::process::{Child, Stdio};
use std::time::Duration;

/// `allegro run` of 2 QoS 1 senders at 500/s each and a receiver for `secs`, on `port`.
fn start_run(port: u16, secs: u64, backend: &str, extra: &[&str]) -> (Child, std::path::PathBuf) {
    let results = scratch("reconnect");
    let mut args = vec![
        "run".to_string(),
        format!("mqtt://127.0.0.1:{port}/reconnect"),
        "--rate".into(),
        "500".into(),
        "--parallel".into(),
        "2".into(),
        "--qos".into(),
        "1".into(),
        "--duration".into(),
        format!("{secs}s"),
        "--backend".into(),
        backend.into(),
        "--quiet".into(),
        "--output".into(),
        "json".into(),
        "--results".into(),
        results.display().to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let child = allegro()
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    (child, results)
}

fn finish(child: Child) -> (i32, String) {
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

/// Every message sent was acknowledged or left unconfirmed by a lost connection, and every one
/// expected at the receiver was received or counted lost.
fn assert_counts_add_up(s: &Value, what: &str) {
    let t = &s["totals"];
    assert_eq!(
        n(&t["acked"]) + n(&t["unconfirmed"]),
        n(&t["sent"]),
        "{what}: acked + unconfirmed = sent: {t}"
    );
    assert_eq!(
        n(&t["received"]) - n(&t["duplicated"]) + n(&t["lost"]),
        n(&t["expected_received"]),
        "{what}: received + lost = expected: {t}"
    );
}

#[test]
fn without_reconnect_a_broker_restart_fails_the_run_and_the_counts_add_up() {
    let port = free_port();
    let broker = Mosquitto::start_on(port);
    let (child, results) = start_run(port, 20, "uring", &[]);
    std::thread::sleep(Duration::from_millis(2000));
    drop(broker);
    let _again = Mosquitto::start_on(port);
    let (code, stderr) = finish(child);
    assert_eq!(code, 1, "{stderr}");
    let s = summary_on_disk(&results);
    assert_eq!(s["status"], "failed", "{s}");
    // The killed broker's connections end with a FIN or a reset, as the timing falls.
    let errors = s["errors"].as_array().unwrap();
    assert!(
        errors.iter().any(|e| {
            let e = e.as_str().unwrap();
            e.contains("closed by the broker") || e.contains("reset by peer")
        }),
        "{s}"
    );
    assert_eq!(n(&s["totals"]["disconnects"]), 0);
    assert!(s["disconnects"].as_array().unwrap().is_empty());
    assert!(n(&s["totals"]["sent"]) >= 1000, "{s}");
    assert_counts_add_up(&s, "no --reconnect");
}

#[test]
fn with_reconnect_the_schedule_goes_on_across_a_broker_restart() {
    for backend in ["uring", "epoll"] {
        let port = free_port();
        let broker = Mosquitto::start_on(port);
        let (child, results) = start_run(port, 6, backend, &["--reconnect"]);
        std::thread::sleep(Duration::from_millis(2000));
        drop(broker);
        std::thread::sleep(Duration::from_millis(1000));
        let _again = Mosquitto::start_on(port);
        let (code, stderr) = finish(child);
        assert_eq!(code, 0, "{backend}: {stderr}");
        let s = summary_on_disk(&results);
        let t = &s["totals"];
        assert_eq!(s["status"], "completed", "{backend}: {s}");
        assert!(s["errors"].as_array().unwrap().is_empty(), "{backend}: {s}");
        // Both senders and the receiver were lost once and came back.
        assert_eq!(n(&t["disconnects"]), 3, "{backend}: {t}");
        assert_eq!(n(&t["reconnects"]), 3, "{backend}: {t}");
        assert_eq!(n(&t["connect_ms"]["count"]), 6, "{backend}: {t}");
        let lines = s["disconnects"].as_array().unwrap();
        assert!(
            lines
                .iter()
                .any(|l| l.as_str().unwrap().starts_with("sender to"))
                && lines
                    .iter()
                    .any(|l| l.as_str().unwrap().starts_with("receiver to")),
            "{backend}: {lines:?}"
        );
        // The schedule was kept: every message of 6 s at 2 × 500/s went out.
        assert_eq!(n(&t["sent"]), 6_000, "{backend}: {t}");
        assert_eq!(t["connections"]["done"], 3, "{backend}: {t}");
        // What the receiver missed while it was away is counted lost, and only that: it came
        // back and the senders' catch-up after the outage reached it.
        assert!(n(&t["received"]) > 3_000, "{backend}: {t}");
        assert_counts_add_up(&s, backend);
        assert_eq!(s["config"]["reconnect_s"], 60.0);
    }
}

#[test]
fn a_broker_that_stays_away_ends_the_run_when_the_window_is_over() {
    let port = free_port();
    let broker = Mosquitto::start_on(port);
    let (child, results) = start_run(port, 30, "epoll", &["--reconnect=2s"]);
    std::thread::sleep(Duration::from_millis(1500));
    drop(broker);
    let gone = std::time::Instant::now();
    let (code, stderr) = finish(child);
    let took = gone.elapsed();
    assert_eq!(code, 1, "{stderr}");
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(6),
        "gave up after {took:?} with a 2 s window"
    );
    assert!(stderr.contains("gave up reconnecting"), "{stderr}");
    let s = summary_on_disk(&results);
    assert_eq!(s["status"], "failed");
    assert!(n(&s["totals"]["disconnects"]) >= 1, "{s}");
    assert!(
        s["errors"][0].as_str().unwrap().contains("down for 2s"),
        "{s}"
    );
    assert_counts_add_up(&s, "gave up");
}

#[test]
fn a_signal_during_the_back_off_stops_the_run_with_its_summary() {
    let port = free_port();
    let broker = Mosquitto::start_on(port);
    let (child, results) = start_run(port, 30, "uring", &["--reconnect"]);
    std::thread::sleep(Duration::from_millis(1500));
    drop(broker);
    std::thread::sleep(Duration::from_millis(1500));
    let term = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let (code, stderr) = finish(child);
    assert_eq!(code, 130, "{stderr}");
    let s = summary_on_disk(&results);
    assert_eq!(s["status"], "interrupted", "{s}");
    assert_eq!(n(&s["totals"]["disconnects"]), 3, "{s}");
    assert_eq!(n(&s["totals"]["reconnects"]), 0, "{s}");
    assert_counts_add_up(&s, "stopped while reconnecting");
}

#[test]
fn reconnect_is_refused_peer_to_peer() {
    let out = allegro()
        .args(["run", "--reconnect", "--duration", "1000"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--reconnect applies to a broker"),
        "{stderr}"
    );
}

/// Two workers on a private Maestro broker, with `extra` flags; gone when dropped.
struct Workers(Vec<Child>);

impl Drop for Workers {
    fn drop(&mut self) {
        for w in &mut self.0 {
            let _ = w.kill();
            let _ = w.wait();
        }
    }
}

fn workers(maestro: &str, extra: &[&str]) -> Workers {
    let names: Vec<String> = (0..2)
        .map(|i| format!("reconnect-{i}-{}", std::process::id()))
        .collect();
    let children = names
        .iter()
        .map(|name| {
            allegro()
                .args(["worker", "--maestro", maestro, "--name", name, "--results"])
                .arg(scratch("reconnect-worker"))
                .args(extra)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let out = allegro()
            .args(["ping", "--maestro", maestro, "--wait", "1s"])
            .output()
            .unwrap();
        let seen = String::from_utf8_lossy(&out.stdout).into_owned();
        if names.iter().all(|n| seen.contains(n.as_str())) {
            return Workers(children);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "workers did not answer: {seen}"
        );
    }
}

#[test]
fn maestro_workers_with_reconnect_ride_out_a_sut_broker_restart() {
    let maestro_broker = Mosquitto::start();
    let maestro = format!("mqtt://127.0.0.1:{}", maestro_broker.1);
    let _workers = workers(&maestro, &["--reconnect"]);
    let port = free_port();
    let sut = Mosquitto::start_on(port);
    let results = scratch("reconnect-client");
    let test = allegro()
        .args(["test", "fixed-rate", "--maestro", &maestro])
        .args([
            "--send-receive-url",
            &format!("mqtt://127.0.0.1:{port}/sut"),
        ])
        .args([
            "--test-duration",
            "8s",
            "--rate",
            "200",
            "--parallel-count",
            "1",
        ])
        .args(["--quiet", "--no-report", "--results"])
        .arg(&results)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(3500));
    drop(sut);
    std::thread::sleep(Duration::from_millis(1000));
    let _again = Mosquitto::start_on(port);
    let out = test.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("test successful"), "{stdout}");
    // The workers' summaries say what happened: each connection lost once and made again.
    let summaries: Vec<Value> = std::fs::read_dir(results.join("lastSuccessful"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|w| summary_on_disk_at(&w.path().join("summary.json")))
        .collect();
    assert_eq!(summaries.len(), 2);
    for s in &summaries {
        assert_eq!(s["totals"]["disconnects"], 1, "{s}");
        assert_eq!(s["totals"]["reconnects"], 1, "{s}");
        assert_eq!(s["config"]["reconnect_s"], 60.0);
    }
}

fn summary_on_disk_at(path: &std::path::Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}
