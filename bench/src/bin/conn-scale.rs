//! Connection scale: many MQTT connections from one `allegro run` to a private Mosquitto.
//! Measures how long they take to come up (each one's connect time, and until all are up) and
//! what each costs in resident memory: the largest VmRSS of a run of N connections less that of
//! a run of 100, over the difference in connections. Two loads: idle receivers (subscribed,
//! nothing arriving), and senders at 1 message a second each.
//!
//! `conn-scale [--connections N] [--hold-s 10] [--connect-rate R]`
//!
//! N defaults to what this process's open-files limit allows (one descriptor per connection on
//! each side: Allegro's and Mosquitto's, both under the same limit).

use allegro_bench::{arg, bin_dir, context, free_port, rss_kib, write_record};
use serde_json::{json, Value};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

struct Round {
    connections: u64,
    max_rss_kib: u64,
    summary: Value,
    wall_s: f64,
}

/// One `allegro run` of `n` connections on `port`, its memory sampled every 200 ms.
fn round(port: u16, n: u64, senders: bool, hold_s: u64, connect_rate: &str) -> Round {
    let (parallel, receivers, rate) = if senders { (n, 0, "1") } else { (0, n, "0") };
    // Receive-only: counted until the duration ends; the time covers connecting and holding.
    let secs = hold_s + n / 1000 + 5;
    let results = std::env::temp_dir().join("allegro-bench-conn-scale");
    let mut cmd = Command::new(bin_dir().join("allegro"));
    cmd.args(["run", &format!("mqtt://127.0.0.1:{port}/scale")])
        .args(["--parallel", &parallel.to_string()])
        .args(["--receivers", &receivers.to_string()])
        .args([
            "--rate",
            rate,
            "--duration",
            &format!("{secs}s"),
            "--size",
            "64",
        ])
        .args(["--run-id", "1", "--connect-timeout", "30s"])
        .args(["--output", "json", "--quiet", "--results"])
        .arg(&results);
    if !connect_rate.is_empty() {
        cmd.args(["--connect-rate", connect_rate]);
    }
    let started = Instant::now();
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start allegro");
    let mut max_rss = 0;
    while let Some(kib) = rss_kib(child.id()) {
        if child.try_wait().ok().flatten().is_some() {
            break;
        }
        max_rss = max_rss.max(kib);
        std::thread::sleep(Duration::from_millis(200));
    }
    let out = child.wait_with_output().expect("allegro's output");
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    if summary["status"] != "completed" {
        eprintln!(
            "run of {n} ended {}: {}",
            summary["status"],
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        );
    }
    Round {
        connections: n,
        max_rss_kib: max_rss,
        summary,
        wall_s: started.elapsed().as_secs_f64(),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let limit = allegro_engine::sys::open_files_limit().map_or(1024, |(_, hard)| hard);
    // Allegro keeps 16 descriptors a shard and 64 for itself (`sys::descriptors_needed`);
    // Mosquitto a few of its own.
    let most = limit.saturating_sub(200);
    let n: u64 = arg(&args, "--connections", &most.min(100_000).to_string())
        .parse()
        .unwrap_or(most);
    let hold_s: u64 = arg(&args, "--hold-s", "10").parse().unwrap_or(10);
    let connect_rate = arg(&args, "--connect-rate", "");
    let port = free_port();
    let mut broker = Command::new("mosquitto")
        .args(["-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("mosquitto (scripts/setup installs it)");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    println!(
        "{n} MQTT connections from one process to a private Mosquitto (open-files limit {limit}: at most {most} here)"
    );
    let mut rows = Vec::new();
    for (load, senders) in [("idle receivers", false), ("senders at 1 msg/s", true)] {
        let base = round(port, 100, senders, 3, "");
        let big = round(port, n, senders, hold_s, &connect_rate);
        let per_conn = (big.max_rss_kib.saturating_sub(base.max_rss_kib)) as f64
            / (big.connections - base.connections) as f64;
        let cm = &big.summary["totals"]["connect_ms"];
        println!(
            "{load:<20} {} up of {n}, all up after {} ms; connect {} ms mean, {} ms max; resident {} KiB ({} KiB with 100): {per_conn:.2} KiB per connection; status {}",
            cm["count"], cm["all_up"], cm["mean"], cm["max"], big.max_rss_kib, base.max_rss_kib, big.summary["status"]
        );
        rows.push(json!({
            "load": load,
            "connections": n,
            "status": big.summary["status"],
            "errors": big.summary["errors"],
            "connect_ms": cm,
            "sent": big.summary["totals"]["sent"],
            "received": big.summary["totals"]["received"],
            "max_rss_kib": big.max_rss_kib,
            "baseline_connections": base.connections,
            "baseline_max_rss_kib": base.max_rss_kib,
            "kib_per_connection": (per_conn * 100.0).round() / 100.0,
            "wall_s": big.wall_s,
        }));
    }
    let _ = broker.kill();
    let _ = broker.wait();
    let rec = json!({
        "benchmark": "conn-scale",
        "context": context(),
        "setup": {"connections": n, "hold_s": hold_s, "connect_rate": connect_rate, "open_files_limit": limit},
        "rows": rows,
    });
    match write_record("conn-scale", &rec) {
        Ok(p) => println!("wrote {}", p.display()),
        Err(e) => eprintln!("cannot write the record: {e}"),
    }
}
