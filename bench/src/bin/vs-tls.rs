//! TLS against plain TCP on each scheme, in one run, rounds alternating: Allegro's rate and CPU
//! per message with one sender and one receiver (COUNT 100-byte messages), and the cost of a
//! connection (CONNS senders of one message each, no receivers: wall and CPU time per
//! connection, the TLS handshake included). The brokers and the test CA are the ones
//! `scripts/setup` started and made (`.brokers.env`).
//!
//! `vs-tls [--rounds 3] [--count 50000] [--conns 200]`

use allegro_bench::{arg, bin_dir, broker_endpoint, context, run_measured, stats, write_record};
use serde_json::{json, Value};
use std::process::Command;

/// One side of a round: msgs/s, CPU s per M messages, wall ms and CPU ms per connection.
type Measure = (f64, f64, f64, f64);

/// One scheme's plain and TLS URLs (`{q}` is replaced by a fresh destination).
struct Pair {
    name: &'static str,
    plain: String,
    tls: String,
}

fn pairs() -> Vec<Pair> {
    let ep = |k: &str| broker_endpoint(k, "").replace("127.0.0.1", "localhost");
    vec![
        Pair {
            name: "MQTT, Mosquitto",
            plain: format!("mqtt://{}/bench/{{q}}", ep("MOSQUITTO_MQTT")),
            tls: format!("mqtts://{}/bench/{{q}}", ep("MOSQUITTO_MQTTS")),
        },
        Pair {
            name: "AMQP 0-9-1, RabbitMQ",
            plain: format!("amqp091://{}/{{q}}", ep("RABBITMQ_AMQP")),
            tls: format!("amqp091s://{}/{{q}}", ep("RABBITMQ_AMQPS")),
        },
        Pair {
            name: "STOMP, RabbitMQ",
            plain: format!("stomp://{}/queue/{{q}}", ep("RABBITMQ_STOMP")),
            tls: format!("stomps://{}/queue/{{q}}", ep("RABBITMQ_STOMPS")),
        },
        Pair {
            name: "AMQP 1.0, RabbitMQ",
            plain: format!("amqp://guest:guest@{}/queue/{{q}}", ep("RABBITMQ_AMQP")),
            tls: format!("amqps://guest:guest@{}/queue/{{q}}", ep("RABBITMQ_AMQPS")),
        },
    ]
}

/// Runs allegro on `url` with `args`; returns (wall s, CPU s, messages received, connections done).
fn allegro(url: &str, args: &[&str], ca: &str) -> Result<(f64, f64, u64, u64), String> {
    let results = std::env::temp_dir().join("allegro-bench-vs-tls");
    let r = run_measured(
        Command::new(bin_dir().join("allegro"))
            .args([
                "run",
                url,
                "--tls-ca",
                ca,
                "--quiet",
                "--output",
                "json",
                "--results",
            ])
            .arg(&results)
            .args(args),
    )
    .map_err(|e| format!("run allegro: {e}"))?;
    let s: Value = serde_json::from_str(&r.stdout).unwrap_or(Value::Null);
    if r.status != 0 || s["status"] != "completed" {
        return Err(format!("{url}: exit {} {}", r.status, r.stderr.trim()));
    }
    let t = &s["totals"];
    Ok((
        r.wall_s,
        r.cpu_s,
        t["received"].as_u64().unwrap_or(0),
        t["connections"]["done"].as_u64().unwrap_or(0),
    ))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rounds: usize = arg(&args, "--rounds", "3").parse().unwrap_or(3);
    let count = arg(&args, "--count", "50000");
    let conns = arg(&args, "--conns", "200");
    let ca = format!("{}/ca.pem", broker_endpoint("ALLEGRO_TLS_DIR", ""));
    if !std::path::Path::new(&ca).exists() {
        eprintln!("vs-tls: no test CA at {ca}: run scripts/setup");
        std::process::exit(1);
    }
    let mut records = Vec::new();
    for (k, p) in pairs().into_iter().enumerate() {
        // (plain, tls) per round: msgs/s, CPU s per M msgs, wall ms per connection, CPU ms per connection.
        let mut rows: Vec<[Measure; 2]> = Vec::new();
        for round in 0..rounds {
            let mut row = [(0.0, 0.0, 0.0, 0.0); 2];
            for (i, url) in [&p.plain, &p.tls].into_iter().enumerate() {
                let q = format!("allegro-bench-tls-{}-{k}-{round}-{i}", std::process::id());
                let url = url.replace("{q}", &q);
                let load = [
                    "--parallel",
                    "1",
                    "--receivers",
                    "1",
                    "--size",
                    "100",
                    "--duration",
                    &count,
                ];
                let connect = [
                    "--parallel",
                    &conns,
                    "--receivers",
                    "0",
                    "--duration",
                    "1",
                    "--size",
                    "100",
                ];
                match (
                    allegro(&url, &load, &ca),
                    allegro(&format!("{url}c"), &connect, &ca),
                ) {
                    (Ok((w, c, rx, _)), Ok((cw, cc, _, done))) => {
                        let n = done.max(1) as f64;
                        row[i] = (
                            rx as f64 / w,
                            c / rx.max(1) as f64 * 1e6,
                            cw / n * 1e3,
                            cc / n * 1e3,
                        );
                    }
                    (a, b) => {
                        eprintln!(
                            "{} round {}: {:?} {:?}",
                            p.name,
                            round + 1,
                            a.err(),
                            b.err()
                        );
                        std::process::exit(1);
                    }
                }
            }
            println!(
                "{} round {}: plain {:.0} msg/s, {:.2} CPU s/M, {:.2} ms and {:.2} CPU ms per connection | TLS {:.0} msg/s, {:.2} CPU s/M, {:.2} ms and {:.2} CPU ms per connection",
                p.name, round + 1,
                row[0].0, row[0].1, row[0].2, row[0].3, row[1].0, row[1].1, row[1].2, row[1].3
            );
            rows.push(row);
        }
        let med =
            |f: &dyn Fn(&[Measure; 2]) -> f64| stats(&rows.iter().map(f).collect::<Vec<_>>()).0;
        let rate = med(&|r| r[1].0 / r[0].0);
        let cpu = med(&|r| r[1].1 / r[0].1);
        let conn_cpu = med(&|r| r[1].3 / r[0].3);
        println!(
            "\n{} median of {rounds}: TLS / plain rate {rate:.2}, CPU per message {cpu:.2}, CPU per connection {conn_cpu:.2} ({:.2} vs {:.2} CPU ms)\n",
            p.name, med(&|r| r[1].3), med(&|r| r[0].3)
        );
        let side = |s: &Measure| json!({"msgs_per_s": s.0, "cpu_s_per_million": s.1, "ms_per_connection": s.2, "cpu_ms_per_connection": s.3});
        records.push(json!({
            "scheme": p.name,
            "rounds": rows.iter().map(|r| json!({"plain": side(&r[0]), "tls": side(&r[1])})).collect::<Vec<_>>(),
            "median": {"rate_ratio": rate, "cpu_per_message_ratio": cpu, "cpu_per_connection_ratio": conn_cpu},
        }));
    }
    let rec = json!({
        "benchmark": "vs-tls",
        "context": context(),
        "setup": {"count": count, "size": 100, "connections": conns, "senders": 1, "receivers": 1,
                  "rate_measure": "received / process wall time", "tls": "rustls (ring), test CA, TLS 1.3"},
        "schemes": records,
    });
    match write_record("vs-tls", &rec) {
        Ok(p) => println!("wrote {}", p.display()),
        Err(e) => eprintln!("cannot write the record: {e}"),
    }
}
