//! Allegro against `amqprs` (the fastest independent AMQP 0-9-1 client found here, a Rust
//! crate; `bench/peers/amqprs-client`, built by this runner, outside the workspace) on
//! RabbitMQ, in one run: one publisher and one consumer (auto acknowledgement) on one queue,
//! COUNT 100-byte messages, without publisher confirms and with a window of 1,000, rounds
//! alternating. Rate = messages received / process wall time; CPU = the load process's rusage,
//! and the broker's CPU over the same run (the process listening on its port).
//!
//! `vs-amqprs [--broker RABBITMQ_AMQP] [--rounds 3] [--count 100000] [--size 100] [--window 1000]`

use allegro_bench::{
    arg, bin_dir, broker_endpoint, context, pid_listening_on, repo_root, stats, with_broker_cpu,
    write_record, Side,
};
use serde_json::{json, Value};
use std::process::Command;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let key = arg(&args, "--broker", "RABBITMQ_AMQP");
    let ep = if key.contains(':') {
        key.clone()
    } else {
        broker_endpoint(&key, "127.0.0.1:5672")
    };
    let rounds: usize = arg(&args, "--rounds", "3").parse().unwrap_or(3);
    let count: u64 = arg(&args, "--count", "100000").parse().unwrap_or(100_000);
    let size = arg(&args, "--size", "100");
    let window = arg(&args, "--window", "1000");
    let manifest = repo_root().join("bench/peers/amqprs-client/Cargo.toml");
    let built = Command::new("cargo")
        .args(["build", "--release", "--quiet", "--manifest-path"])
        .arg(&manifest)
        .status();
    if !matches!(built, Ok(s) if s.success()) {
        eprintln!("vs-amqprs: cannot build {} ({built:?})", manifest.display());
        std::process::exit(1);
    }
    let client = repo_root().join("bench/peers/amqprs-client/target/release/amqprs-client");
    let (host, port) = ep.rsplit_once(':').unwrap_or(("127.0.0.1", "5672"));
    let pid = pid_listening_on(port.parse().unwrap_or(0));
    if pid.is_none() {
        eprintln!("vs-amqprs: no process of this user listens on {ep}: broker CPU not measured");
    }
    let results_dir = std::env::temp_dir().join("allegro-bench-vs-amqprs");
    let mut modes = Vec::new();
    for confirm in [false, true] {
        let mode = if confirm { "confirms" } else { "no confirms" };
        let mut rows: Vec<(Side, Side)> = Vec::new();
        for round in 0..rounds {
            let q = format!(
                "allegro-bench-{}-{}-{round}",
                std::process::id(),
                u8::from(confirm)
            );
            let query = if confirm { "?confirm=true" } else { "" };
            let (a, a_broker) = with_broker_cpu(
                pid,
                Command::new(bin_dir().join("allegro")).args([
                    "run",
                    &format!("amqp091://{ep}/{q}a{query}"),
                    "--parallel",
                    "1",
                    "--receivers",
                    "1",
                    "--size",
                    &size,
                    "--duration",
                    &count.to_string(),
                    "--inflight",
                    &window,
                    "--quiet",
                    "--output",
                    "json",
                    "--results",
                    &results_dir.display().to_string(),
                ]),
            );
            let s: Value = serde_json::from_str(&a.stdout).unwrap_or(Value::Null);
            let a_rx = s["totals"]["received"].as_u64().unwrap_or(0);
            let (b, b_broker) = with_broker_cpu(
                pid,
                Command::new(&client).args([
                    host,
                    port,
                    &format!("{q}b"),
                    &count.to_string(),
                    &size,
                    if confirm { "1" } else { "0" },
                    &window,
                ]),
            );
            let p: Value = serde_json::from_str(b.stdout.trim()).unwrap_or(Value::Null);
            let b_rx = p["received"].as_u64().unwrap_or(0);
            if a.status != 0 || b.status != 0 || a_rx == 0 || b_rx == 0 {
                eprintln!(
                    "{mode} round {} failed: allegro {} {} | amqprs {} {}",
                    round + 1,
                    a.status,
                    a.stderr.trim(),
                    b.status,
                    b.stderr.trim()
                );
                std::process::exit(1);
            }
            let (x, y) = (Side::of(&a, a_rx, a_broker), Side::of(&b, b_rx, b_broker));
            println!(
                "{mode} round {}: allegro {:.0} msg/s, {:.2} CPU s/M (broker {:.1} CPU s/M, {:.2} cores) | amqprs {:.0} msg/s, {:.2} CPU s/M (broker {:.1} CPU s/M, {:.2} cores)",
                round + 1,
                x.msgs_per_s, x.cpu_s_per_million, x.broker_cpu_s_per_million, x.broker_cores,
                y.msgs_per_s, y.cpu_s_per_million, y.broker_cpu_s_per_million, y.broker_cores,
            );
            rows.push((x, y));
        }
        let med =
            |f: &dyn Fn(&(Side, Side)) -> f64| stats(&rows.iter().map(f).collect::<Vec<_>>()).0;
        let (ar, ac, an) = (
            med(&|r| r.0.msgs_per_s),
            med(&|r| r.0.cpu_s_per_million),
            med(&|r| r.0.broker_cores),
        );
        let (br, bc, bn) = (
            med(&|r| r.1.msgs_per_s),
            med(&|r| r.1.cpu_s_per_million),
            med(&|r| r.1.broker_cores),
        );
        let rr = med(&|r| r.0.msgs_per_s / r.1.msgs_per_s);
        let cr = med(&|r| r.0.cpu_s_per_million / r.1.cpu_s_per_million);
        println!(
            "\n{mode}, median of {rounds}: allegro {ar:.0} msg/s, {ac:.2} CPU s/M (broker at {an:.2} cores); amqprs {br:.0} msg/s, {bc:.2} CPU s/M (broker at {bn:.2} cores); rate ratio {rr:.2}, CPU-per-message ratio {cr:.2}\n"
        );
        modes.push(json!({
            "confirms": confirm,
            "rounds": rows.iter().map(|(x, y)| json!({"allegro": x.json(), "amqprs": y.json()})).collect::<Vec<_>>(),
            "median": {"allegro_msgs_per_s": ar, "amqprs_msgs_per_s": br, "rate_ratio": rr,
                       "allegro_cpu_s_per_million": ac, "amqprs_cpu_s_per_million": bc, "cpu_ratio": cr,
                       "broker_cores_allegro": an, "broker_cores_amqprs": bn},
        }));
    }
    let rec = json!({
        "benchmark": "vs-amqprs",
        "context": context(),
        "setup": {"broker": key, "endpoint": ep, "count": count, "size": size, "window": window,
                  "senders": 1, "receivers": 1, "ack": "auto",
                  "peer": "amqprs 2.1 (bench/peers/amqprs-client, tokio current-thread)",
                  "rate_measure": "received / process wall time"},
        "modes": modes,
    });
    match write_record("vs-amqprs", &rec) {
        Ok(p) => println!("wrote {}", p.display()),
        Err(e) => eprintln!("cannot write the record: {e}"),
    }
}
