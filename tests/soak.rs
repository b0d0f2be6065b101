//! A soak run in CI: two minutes at a fixed rate against Mosquitto (QoS 1, 4 senders at
//! 2,000 msg/s each, 2 receivers), the process's resident memory sampled once a second from
//! `/proc`: after a 30 s warm-up it stays flat (grows by less than 4 MiB or 5%), and the run
//! completes with every message received. `bench/src/bin/soak.rs` runs the same for longer.

mod common;

use common::{endpoint, scratch, unique};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Resident memory of `pid` in KiB (`VmRSS`), if it still runs.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

#[test]
fn resident_memory_stays_flat_through_a_paced_run() {
    let url = format!(
        "mqtt://{}/{}",
        endpoint("MOSQUITTO_MQTT"),
        unique("allegro/soak")
    );
    let results = scratch("soak");
    let mut child = Command::new(env!("CARGO_BIN_EXE_allegro"))
        .args([
            "run",
            &url,
            "--qos",
            "1",
            "--rate",
            "2000",
            "--parallel",
            "4",
            "--receivers",
            "2",
            "--duration",
            "120s",
            "--size",
            "200",
            "--output",
            "json",
            "--quiet",
            "--results",
        ])
        .arg(&results)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start allegro");
    let started = Instant::now();
    let mut samples: Vec<(f64, u64)> = Vec::new();
    while let Some(kib) = rss_kib(child.id()) {
        if child.try_wait().ok().flatten().is_some() {
            break;
        }
        samples.push((started.elapsed().as_secs_f64(), kib));
        assert!(
            started.elapsed() < Duration::from_secs(240),
            "the run did not end"
        );
        std::thread::sleep(Duration::from_secs(1));
    }
    let out = child.wait_with_output().expect("allegro's output");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a JSON summary");
    let t = &s["totals"];
    assert_eq!(t["sent"], 4 * 2000 * 120, "{t}");
    assert_eq!(t["received"], 2 * 4 * 2000 * 120, "{t}");
    assert_eq!(t["lost"], 0, "{t}");
    let after_warmup: Vec<u64> = samples
        .iter()
        .filter(|(at, _)| *at >= 30.0 && *at <= 118.0)
        .map(|(_, k)| *k)
        .collect();
    assert!(after_warmup.len() >= 60, "too few samples: {samples:?}");
    let base = after_warmup[0];
    let top = *after_warmup.iter().max().unwrap();
    let allowed = (base / 20).max(4 * 1024);
    assert!(
        top <= base + allowed,
        "resident memory grew from {base} KiB at 30 s to {top} KiB (allowed {allowed} KiB): {samples:?}"
    );
}
