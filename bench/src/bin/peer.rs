//! Allegro's own ceiling end to end, with no broker: `allegro run` with no URL (AMQP 1.0,
//! pre-settled, 100-byte bodies, latency recorded for every message; by default a sender and
//! its loopback receiver on every core, as the run itself chooses; `--parallel 1`: one pair on
//! one core), alternating the io_uring and epoll runtimes, and in
//! each round the raw write loop (`raw-write`: pre-encoded MQTT frames of the same body size,
//! one `write` per 64 KiB, from CPU 0) into `discard-sink` (CPU 1) as the baseline, so that the
//! end-to-end rate is a ratio to it measured in the same run.
//!
//! `peer [--rounds 3] [--seconds 5] [--size 100] [--parallel N]`

use allegro_bench::{arg, bin_dir, context, run_measured, stats, write_record, Sink};
use serde_json::{json, Value};
use std::process::Command;

/// The raw write loop from CPU 0 into a fresh sink on CPU 1: frames per second.
fn raw_loop(seconds: &str, size: &str) -> Result<f64, String> {
    let sink = Sink::start("1", 1)?;
    let port = sink.port.to_string();
    let r = run_measured(Command::new(bin_dir().join("raw-write")).args([
        "--port",
        &port,
        "--cpu",
        "0",
        "--seconds",
        seconds,
        "--size",
        size,
    ]))
    .map_err(|e| format!("raw-write: {e}"))?;
    drop(sink);
    let v: Value = serde_json::from_str(r.stdout.trim())
        .map_err(|e| format!("raw-write said '{}' ({e}): {}", r.stdout.trim(), r.stderr))?;
    match (v["frames"].as_f64(), v["seconds"].as_f64()) {
        (Some(f), Some(s)) if s > 0.0 => Ok(f / s),
        _ => Err(format!("raw-write: {v}")),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rounds: usize = arg(&args, "--rounds", "3").parse().unwrap_or(3);
    let seconds = arg(&args, "--seconds", "5");
    let size = arg(&args, "--size", "100");
    let parallel = arg(&args, "--parallel", "");
    let results_dir = std::env::temp_dir().join("allegro-bench-peer");
    let mut rows: Vec<(String, f64, f64, u64)> = Vec::new();
    let mut raws: Vec<f64> = Vec::new();
    for round in 0..rounds {
        match raw_loop(&seconds, &size) {
            Ok(r) => {
                println!(
                    "round {} raw write loop: {:.2} M msg/s into the sink",
                    round + 1,
                    r / 1e6
                );
                raws.push(r);
            }
            Err(e) => {
                eprintln!("round {} raw write loop failed: {e}", round + 1);
                std::process::exit(1);
            }
        }
        for backend in ["uring", "epoll"] {
            let r = run_measured(
                Command::new(bin_dir().join("allegro"))
                    .args([
                        "run",
                        "--size",
                        &size,
                        "--duration",
                        &format!("{seconds}s"),
                        "--backend",
                        backend,
                        "--quiet",
                        "--output",
                        "json",
                        "--results",
                        &results_dir.display().to_string(),
                    ])
                    .args(if parallel.is_empty() {
                        vec![]
                    } else {
                        vec!["--parallel", parallel.as_str()]
                    }),
            )
            .expect("run allegro");
            let s: Value = serde_json::from_str(&r.stdout).unwrap_or(Value::Null);
            let received = s["totals"]["received"].as_u64().unwrap_or(0);
            if r.status != 0 || received == 0 {
                eprintln!(
                    "round {} {backend} failed ({}): {}",
                    round + 1,
                    r.status,
                    r.stderr.trim()
                );
                std::process::exit(1);
            }
            let rate = s["totals"]["receive_rate"].as_f64().unwrap_or(0.0);
            let cpu = r.cpu_s / received as f64 * 1e6;
            let p99 = s["latency_us"]["corrected"]["p99"].as_u64().unwrap_or(0);
            println!(
                "round {} {backend}: {:.2} M msg/s end to end, {:.3} CPU s per M msgs (both ends), p99 {} µs, {} messages",
                round + 1, rate / 1e6, cpu, p99, received
            );
            rows.push((backend.to_string(), rate, cpu, p99));
        }
    }
    let mut medians = serde_json::Map::new();
    for backend in ["uring", "epoll"] {
        let rates: Vec<f64> = rows
            .iter()
            .filter(|r| r.0 == backend)
            .map(|r| r.1)
            .collect();
        let cpus: Vec<f64> = rows
            .iter()
            .filter(|r| r.0 == backend)
            .map(|r| r.2)
            .collect();
        let (m, lo, hi) = stats(&rates);
        let (c, _, _) = stats(&cpus);
        // Each round's end-to-end rate over the same round's raw loop.
        let ratios: Vec<f64> = rates.iter().zip(&raws).map(|(a, r)| a / r).collect();
        let (rm, rlo, rhi) = stats(&ratios);
        println!(
            "median {backend}: {:.2} M msg/s [{:.2}-{:.2}], {c:.3} CPU s per M msgs, {rm:.2} of the raw write loop [{rlo:.2}-{rhi:.2}]",
            m / 1e6,
            lo / 1e6,
            hi / 1e6
        );
        medians.insert(
            backend.into(),
            json!({"msgs_per_s": m, "min": lo, "max": hi, "cpu_s_per_million": c,
                   "to_raw_loop": {"median": rm, "min": rlo, "max": rhi}}),
        );
    }
    let rec = json!({
        "benchmark": "peer",
        "context": context(),
        "setup": {"size": size, "seconds": seconds,
                  "parallel": if parallel.is_empty() { "the run's default: one pair per core" } else { parallel.as_str() },
                  "settle": "presettled", "latency": "recorded for every message",
                  "cores": "every online CPU; a sender and its receiving end on the same shard"},
        "rounds": rows.iter().map(|(b, r, c, p)| json!({"backend": b, "msgs_per_s": r, "cpu_s_per_million": c, "p99_us": p})).collect::<Vec<_>>(),
        "raw_loop_msgs_per_s": raws,
        "median": medians,
    });
    match write_record("peer", &rec) {
        Ok(p) => println!("wrote {}", p.display()),
        Err(e) => eprintln!("cannot write the record: {e}"),
    }
}
