//! Allegro against Debian's python3-qpid-proton client on RabbitMQ's AMQP 1.0 plugin, in one
//! run: one sender and one receiver on one queue, COUNT pre-settled 100-byte messages, rounds
//! alternating. Rate = messages received / process wall time; CPU = the load process's rusage.
//! The proton side is `bench/peers/proton_throughput.py` (prefetch 5000) under /usr/bin/python3.
//!
//! `vs-proton [--broker 127.0.0.1:5672] [--rounds 3] [--count 20000] [--size 100]`
//! (the broker defaults to RABBITMQ_AMQP from .brokers.env).

use allegro_bench::{
    arg, bin_dir, broker_endpoint, context, repo_root, run_measured, stats, write_record,
};
use serde_json::{json, Value};
use std::process::Command;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let broker = arg(
        &args,
        "--broker",
        &broker_endpoint("RABBITMQ_AMQP", "127.0.0.1:5672"),
    );
    let rounds: usize = arg(&args, "--rounds", "3").parse().unwrap_or(3);
    let count: u64 = arg(&args, "--count", "20000").parse().unwrap_or(20_000);
    let size = arg(&args, "--size", "100");
    let script = repo_root().join("bench/peers/proton_throughput.py");
    let results_dir = std::env::temp_dir().join("allegro-bench-vs-proton");
    let mut rows = Vec::new();
    for round in 0..rounds {
        let q = format!("/queue/allegro-bench-{}-{round}", std::process::id());
        let a = run_measured(Command::new(bin_dir().join("allegro")).args([
            "run",
            &format!("amqp://guest:guest@{broker}{q}a"),
            "--parallel",
            "1",
            "--receivers",
            "1",
            "--size",
            &size,
            "--duration",
            &count.to_string(),
            "--quiet",
            "--output",
            "json",
            "--results",
            &results_dir.display().to_string(),
        ]))
        .expect("run allegro");
        let s: Value = serde_json::from_str(&a.stdout).unwrap_or(Value::Null);
        let a_rx = s["totals"]["received"].as_u64().unwrap_or(0);
        let b = run_measured(Command::new("/usr/bin/python3").arg(&script).args([
            &broker,
            &format!("{q}b"),
            &count.to_string(),
            &size,
        ]))
        .expect("run python3 (scripts/setup installs python3-qpid-proton)");
        let p: Value = serde_json::from_str(b.stdout.trim()).unwrap_or(Value::Null);
        let b_rx = p["received"].as_u64().unwrap_or(0);
        if a.status != 0 || b.status != 0 || a_rx == 0 || b_rx == 0 {
            eprintln!(
                "round {} failed: allegro {} {} | proton {} {}",
                round + 1,
                a.status,
                a.stderr.trim(),
                b.status,
                b.stderr.trim()
            );
            std::process::exit(1);
        }
        let ar = a_rx as f64 / a.wall_s;
        let br = b_rx as f64 / b.wall_s;
        let ac = a.cpu_s / a_rx as f64 * 1e6;
        let bc = b.cpu_s / b_rx as f64 * 1e6;
        println!(
            "round {}: allegro {ar:.0} msg/s, {ac:.2} CPU s/M ({a_rx} received) | proton {br:.0} msg/s, {bc:.2} CPU s/M ({b_rx} received)",
            round + 1
        );
        rows.push((ar, ac, br, bc));
    }
    let col = |f: fn(&(f64, f64, f64, f64)) -> f64| rows.iter().map(f).collect::<Vec<_>>();
    let (ar, arl, arh) = stats(&col(|r| r.0));
    let (ac, _, _) = stats(&col(|r| r.1));
    let (br, brl, brh) = stats(&col(|r| r.2));
    let (bc, _, _) = stats(&col(|r| r.3));
    println!(
        "\nmedian of {rounds}: allegro {ar:.0} [{arl:.0}-{arh:.0}] msg/s, {ac:.2} CPU s/M; proton {br:.0} [{brl:.0}-{brh:.0}] msg/s, {bc:.2} CPU s/M; rate ratio {:.2}, CPU ratio {:.2}",
        ar / br,
        ac / bc
    );
    let rec = json!({
        "benchmark": "vs-proton",
        "context": context(),
        "setup": {"broker": broker, "count": count, "size": size, "settle": "presettled", "senders": 1, "receivers": 1,
                  "proton": "python3-qpid-proton (Debian), prefetch 5000", "rate_measure": "received / process wall time"},
        "rounds": rows.iter().map(|r| json!({"allegro": {"msgs_per_s": r.0, "cpu_s_per_million": r.1}, "proton": {"msgs_per_s": r.2, "cpu_s_per_million": r.3}})).collect::<Vec<_>>(),
        "median": {"allegro_msgs_per_s": ar, "proton_msgs_per_s": br, "rate_ratio": ar / br, "allegro_cpu_s_per_million": ac, "proton_cpu_s_per_million": bc},
    });
    match write_record("vs-proton", &rec) {
        Ok(p) => println!("wrote {}", p.display()),
        Err(e) => eprintln!("cannot write the record: {e}"),
    }
}
