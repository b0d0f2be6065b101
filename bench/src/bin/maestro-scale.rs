//! One Maestro client and many workers: `N` real `allegro worker` loops run as threads of this
//! process (one Maestro link each) against the Maestro broker; the client PINGs them all and
//! times how long until every one has answered. Also prints the memory each worker costs
//! (resident set growth over N).
//!
//! `maestro-scale [--workers 500] [--rounds 3] [--broker 127.0.0.1:1883]` (the broker defaults
//! to MOSQUITTO_MQTT from .brokers.env; Mosquitto's default limits take 500 connections).

use allegro_bench::{arg, broker_endpoint, context, stats, write_record};
use allegro_engine::placement::Policy;
use allegro_maestro::{cluster as maestro, worker};
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

static STOP: AtomicBool = AtomicBool::new(false);

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = arg(&args, "--workers", "500").parse().unwrap_or(500);
    let rounds: usize = arg(&args, "--rounds", "3").parse().unwrap_or(3);
    let addr = arg(
        &args,
        "--broker",
        &broker_endpoint("MOSQUITTO_MQTT", "127.0.0.1:1883"),
    );
    let broker = allegro_maestro::link::Broker {
        addr: addr.clone(),
        tls: None,
    };
    let results = std::env::temp_dir().join("allegro-bench-maestro-scale");
    let before = rss_kib();
    let start = Instant::now();
    let threads: Vec<_> = (0..n)
        .map(|i| {
            let (broker, results) = (broker.clone(), results.join(i.to_string()));
            std::thread::Builder::new()
                .stack_size(256 * 1024)
                .spawn(move || {
                    let name = format!("scale-{}-{i}", std::process::id());
                    let tls = Default::default();
                    let daemon = worker::Daemon {
                        broker: &broker,
                        name: &name,
                        host: "scale-host",
                        results: &results,
                        cores: &Policy::AllCores,
                        tls: &tls,
                        metrics: None,
                        reconnect: None,
                    };
                    let _ = worker::run(
                        &daemon,
                        &|| STOP.load(Ordering::Relaxed),
                        std::sync::Arc::new(|_, _, _, _| {}),
                    );
                })
                .expect("spawn a worker thread")
        })
        .collect();
    // Wait until every worker answers.
    let ping = maestro::ping_request;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (answers, _) =
            maestro::ask_until(&broker, "/mpt/peer", ping, Duration::from_secs(3), n)
                .expect("ping");
        let ours = answers
            .iter()
            .filter(|(p, _)| {
                p.name
                    .starts_with(&format!("scale-{}-", std::process::id()))
            })
            .count();
        if ours >= n {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {ours} of {n} workers answered"
        );
    }
    let up = start.elapsed();
    let per_worker_kib = (rss_kib().saturating_sub(before)) as f64 / n as f64;
    println!(
        "{n} workers up and answering in {:.2} s; {per_worker_kib:.0} KiB resident per worker",
        up.as_secs_f64()
    );
    let mut times = Vec::new();
    for round in 0..rounds {
        let (answers, last) =
            maestro::ask_until(&broker, "/mpt/peer", ping, Duration::from_secs(10), n)
                .expect("ping");
        println!(
            "round {}: {} answers, the last {:.1} ms after the PING",
            round + 1,
            answers.len(),
            last.as_secs_f64() * 1e3
        );
        times.push(last.as_secs_f64() * 1e3);
    }
    let (m, lo, hi) = stats(&times);
    println!("median time for all {n} PING answers: {m:.1} ms [{lo:.1}-{hi:.1}]");
    STOP.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    let rec = json!({
        "benchmark": "maestro-scale",
        "context": context(),
        "setup": {"workers": n, "broker": addr, "workers_are": "allegro worker loops as threads of one process, one MQTT link each"},
        "startup_s": up.as_secs_f64(),
        "resident_kib_per_worker": per_worker_kib,
        "rounds_ms_until_every_ping_answer": times,
        "median_ms": m,
    });
    match write_record("maestro-scale", &rec) {
        Ok(p) => println!("wrote {}", p.display()),
        Err(e) => eprintln!("cannot write the record: {e}"),
    }
}
