//! Allegro against Debian's python3-stomp client on RabbitMQ's and ActiveMQ's STOMP, in one
//! run: one sender and one receiver on one queue, COUNT 100-byte messages without receipts,
//! auto acknowledgement, rounds alternating. Rate = messages received / process wall time; CPU =
//! the load process's rusage, and the broker's own CPU over the same run (`/proc/PID/stat` of
//! the process listening on the broker's port), which shows when the broker is the limit.
//! The python3-stomp side is `bench/peers/stomp_throughput.py` under /usr/bin/python3.
//!
//! `vs-stomp [--brokers RABBITMQ_STOMP,ACTIVEMQ_STOMP] [--rounds 3] [--count 20000] [--size 100]`
//! (each broker a `.brokers.env` key or `host:port`).

use allegro_bench::{
    arg, bin_dir, broker_endpoint, context, pid_listening_on, repo_root, stats, with_broker_cpu,
    write_record, Side,
};
use serde_json::{json, Value};
use std::process::Command;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let brokers = arg(&args, "--brokers", "RABBITMQ_STOMP,ACTIVEMQ_STOMP");
    let rounds: usize = arg(&args, "--rounds", "3").parse().unwrap_or(3);
    let count: u64 = arg(&args, "--count", "20000").parse().unwrap_or(20_000);
    let size = arg(&args, "--size", "100");
    let script = repo_root().join("bench/peers/stomp_throughput.py");
    let results_dir = std::env::temp_dir().join("allegro-bench-vs-stomp");
    let mut records = Vec::new();
    for key in brokers.split(',') {
        let ep = if key.contains(':') {
            key.to_string()
        } else {
            broker_endpoint(key, "")
        };
        if ep.is_empty() {
            eprintln!("vs-stomp: {key} is not in .brokers.env: run scripts/setup");
            std::process::exit(1);
        }
        let port: u16 = ep
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        let pid = pid_listening_on(port);
        if pid.is_none() {
            eprintln!("vs-stomp: no process of this user listens on {ep}: broker CPU not measured");
        }
        let mut rows: Vec<(Side, Side)> = Vec::new();
        for round in 0..rounds {
            let q = format!("/queue/allegro-bench-{}-{round}", std::process::id());
            let (a, a_broker) = with_broker_cpu(
                pid,
                Command::new(bin_dir().join("allegro")).args([
                    "run",
                    &format!("stomp://{ep}{q}a"),
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
                ]),
            );
            let s: Value = serde_json::from_str(&a.stdout).unwrap_or(Value::Null);
            let a_rx = s["totals"]["received"].as_u64().unwrap_or(0);
            let (b, b_broker) = with_broker_cpu(
                pid,
                Command::new("/usr/bin/python3").arg(&script).args([
                    &ep,
                    &format!("{q}b"),
                    &count.to_string(),
                    &size,
                ]),
            );
            let p: Value = serde_json::from_str(b.stdout.trim()).unwrap_or(Value::Null);
            let b_rx = p["received"].as_u64().unwrap_or(0);
            if a.status != 0 || b.status != 0 || a_rx == 0 || b_rx == 0 {
                eprintln!(
                    "{key} round {} failed: allegro {} {} | python3-stomp {} {}",
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
                "{key} round {}: allegro {:.0} msg/s, {:.2} CPU s/M (broker {:.2} CPU s/M, {:.2} cores) | python3-stomp {:.0} msg/s, {:.2} CPU s/M (broker {:.2} CPU s/M, {:.2} cores)",
                round + 1,
                x.msgs_per_s, x.cpu_s_per_million, x.broker_cpu_s_per_million, x.broker_cores,
                y.msgs_per_s, y.cpu_s_per_million, y.broker_cpu_s_per_million, y.broker_cores,
            );
            rows.push((x, y));
        }
        let col =
            |f: &dyn Fn(&(Side, Side)) -> f64| stats(&rows.iter().map(f).collect::<Vec<_>>()).0;
        let (ar, ac, ab, an) = (
            col(&|r| r.0.msgs_per_s),
            col(&|r| r.0.cpu_s_per_million),
            col(&|r| r.0.broker_cpu_s_per_million),
            col(&|r| r.0.broker_cores),
        );
        let (br, bc, bb, bn) = (
            col(&|r| r.1.msgs_per_s),
            col(&|r| r.1.cpu_s_per_million),
            col(&|r| r.1.broker_cpu_s_per_million),
            col(&|r| r.1.broker_cores),
        );
        let rate_ratios: Vec<f64> = rows
            .iter()
            .map(|r| r.0.msgs_per_s / r.1.msgs_per_s)
            .collect();
        let cpu_ratios: Vec<f64> = rows
            .iter()
            .map(|r| r.0.cpu_s_per_million / r.1.cpu_s_per_million)
            .collect();
        let (rr, _, _) = stats(&rate_ratios);
        let (cr, _, _) = stats(&cpu_ratios);
        println!(
            "\n{key} median of {rounds}: allegro {ar:.0} msg/s, {ac:.2} CPU s/M, broker {ab:.2} CPU s/M at {an:.2} cores; python3-stomp {br:.0} msg/s, {bc:.2} CPU s/M, broker {bb:.2} CPU s/M at {bn:.2} cores; rate ratio {rr:.2}, CPU-per-message ratio {cr:.2}\n"
        );
        records.push(json!({
            "broker": key, "endpoint": ep,
            "rounds": rows.iter().map(|(x, y)| json!({
                "allegro": x.json(),
                "python3_stomp": y.json(),
            })).collect::<Vec<_>>(),
            "median": {"allegro_msgs_per_s": ar, "python3_stomp_msgs_per_s": br, "rate_ratio": rr,
                       "allegro_cpu_s_per_million": ac, "python3_stomp_cpu_s_per_million": bc, "cpu_ratio": cr,
                       "broker_cores_allegro": an, "broker_cores_python3_stomp": bn},
        }));
    }
    let rec = json!({
        "benchmark": "vs-stomp",
        "context": context(),
        "setup": {"count": count, "size": size, "receipts": "none", "ack": "auto", "senders": 1, "receivers": 1,
                  "peer": "python3-stomp (Debian) 8.0, bench/peers/stomp_throughput.py", "rate_measure": "received / process wall time"},
        "brokers": records,
    });
    match write_record("vs-stomp", &rec) {
        Ok(p) => println!("wrote {}", p.display()),
        Err(e) => eprintln!("cannot write the record: {e}"),
    }
}
