//! Receive coalescing on and off, side by side: `allegro run` with `--rx-coalesce 0` and with
//! the default window, alternating, for each scenario:
//!
//! - `paced`: Mosquitto, one sender at 20k msg/s for 2 s: the service latency a coalescing
//!   receiver adds (p50, p90, max), and CPU per message;
//! - `unbounded`: Mosquitto, 200k messages as fast as they go, `--cores 1`: rate and CPU;
//! - `peer`: no broker, 4 s peer to peer: that a stream too fast to hold is left alone;
//! - `rabbitmq-mqtt`, `activemq-mqtt`, `rabbitmq-amqp` (AMQP 1.0 on a queue): as `unbounded`
//!   with 100k messages, when `.brokers.env` names them (skipped with a line otherwise).
//!
//! `coalesce [--rounds 3] [--window 1ms] [--backend uring|epoll] [--only NAME]`

use allegro_bench::{arg, bin_dir, broker_endpoint, context, run_measured, stats, write_record};
use serde_json::{json, Value};
use std::process::Command;

struct Scenario {
    name: &'static str,
    /// Arguments after `run` (URL first, when there is one).
    args: Vec<String>,
}

#[derive(Default)]
struct Side {
    rate: Vec<f64>,
    cpu_s_per_million: Vec<f64>,
    p50_us: Vec<f64>,
    p90_us: Vec<f64>,
    max_us: Vec<f64>,
}

fn scenarios() -> Vec<Scenario> {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let mosquitto = broker_endpoint("MOSQUITTO_MQTT", "127.0.0.1:1883");
    let mut out = vec![
        Scenario {
            name: "paced",
            args: s(&[
                &format!("mqtt://{mosquitto}/bench/coalesce/paced"),
                "--rate",
                "20k",
                "--duration",
                "2s",
            ]),
        },
        Scenario {
            name: "unbounded",
            args: s(&[
                &format!("mqtt://{mosquitto}/bench/coalesce/unbounded"),
                "--duration",
                "200000",
                "--cores",
                "1",
            ]),
        },
        Scenario {
            name: "peer",
            args: s(&["--duration", "4s"]),
        },
    ];
    for (name, key, url) in [
        (
            "rabbitmq-mqtt",
            "RABBITMQ_MQTT",
            "mqtt://{}/bench/coalesce/rabbitmq",
        ),
        (
            "activemq-mqtt",
            "ACTIVEMQ_MQTT",
            "mqtt://{}/bench/coalesce/activemq",
        ),
        (
            "rabbitmq-amqp",
            "RABBITMQ_AMQP",
            "amqp://{}/queue/bench-coalesce",
        ),
    ] {
        let ep = broker_endpoint(key, "");
        if ep.is_empty() {
            println!("{name}: no {key} in .brokers.env, skipped");
            continue;
        }
        let url = url.replace("{}", &ep);
        out.push(Scenario {
            name,
            args: s(&[&url, "--duration", "100000", "--cores", "1"]),
        });
    }
    out
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rounds: usize = arg(&args, "--rounds", "3").parse().unwrap_or(3);
    let window = arg(&args, "--window", "1ms");
    let backend = arg(&args, "--backend", "uring");
    let only = arg(&args, "--only", "");
    let results_dir = std::env::temp_dir().join("allegro-bench-coalesce");
    let mut record = serde_json::Map::new();
    for sc in scenarios()
        .into_iter()
        .filter(|s| only.is_empty() || s.name == only)
    {
        let mut sides = [Side::default(), Side::default()];
        for round in 0..rounds {
            for (side, w) in sides.iter_mut().zip(["0", window.as_str()]) {
                let r = run_measured(
                    Command::new(bin_dir().join("allegro"))
                        .arg("run")
                        .args(&sc.args)
                        .args(["--size", "100", "--rx-coalesce", w, "--backend", &backend])
                        .args(["--quiet", "--output", "json", "--results"])
                        .arg(&results_dir),
                )
                .expect("run allegro");
                let s: Value = serde_json::from_str(&r.stdout).unwrap_or(Value::Null);
                let received = s["totals"]["received"].as_u64().unwrap_or(0);
                if r.status != 0 || received == 0 {
                    eprintln!(
                        "{} round {} window {w} failed ({}): {}",
                        sc.name,
                        round + 1,
                        r.status,
                        r.stderr.trim()
                    );
                    std::process::exit(1);
                }
                let lat = &s["latency_us"]["service"];
                let f = |v: &Value| v.as_f64().unwrap_or(0.0);
                side.rate.push(f(&s["totals"]["receive_rate"]));
                side.cpu_s_per_million.push(r.cpu_s / received as f64 * 1e6);
                side.p50_us.push(f(&lat["p50"]));
                side.p90_us.push(f(&lat["p90"]));
                side.max_us.push(f(&lat["max"]));
                println!(
                    "{} round {} window {w}: {:.0} msg/s, {:.3} CPU s/M, service p50 {} p90 {} max {} µs",
                    sc.name, round + 1, f(&s["totals"]["receive_rate"]), r.cpu_s / received as f64 * 1e6,
                    lat["p50"], lat["p90"], lat["max"]
                );
            }
        }
        let med = |v: &[f64]| stats(v);
        let [off, on] = &sides;
        let summary = |x: &Side| {
            json!({
                "msgs_per_s": med(&x.rate), "cpu_s_per_million": med(&x.cpu_s_per_million),
                "service_p50_us": med(&x.p50_us), "service_p90_us": med(&x.p90_us), "service_max_us": med(&x.max_us),
            })
        };
        let (ro, co) = (med(&off.rate).0, med(&off.cpu_s_per_million).0);
        let (rn, cn) = (med(&on.rate).0, med(&on.cpu_s_per_million).0);
        println!(
            "{}: median rate {ro:.0} -> {rn:.0} msg/s ({:.2}x), CPU {co:.3} -> {cn:.3} s/M ({:.2}x), p50 {:.0} -> {:.0} µs, p90 {:.0} -> {:.0} µs (off -> {window})\n",
            sc.name, rn / ro, cn / co, med(&off.p50_us).0, med(&on.p50_us).0, med(&off.p90_us).0, med(&on.p90_us).0
        );
        record.insert(
            sc.name.to_string(),
            json!({"args": sc.args, "off": summary(off), "on": summary(on),
            "rate_ratio": rn / ro, "cpu_ratio": cn / co}),
        );
    }
    let rec = json!({
        "benchmark": "coalesce",
        "context": context(),
        "setup": {"window": window, "backend": backend, "rounds": rounds, "size": 100,
                  "compare": "--rx-coalesce 0 (off) against the window (on), alternating; medians with min-max",
                  "cpu": "rusage user+sys of the allegro process"},
        "scenarios": record,
    });
    match write_record("coalesce", &rec) {
        Ok(p) => println!("wrote {}", p.display()),
        Err(e) => eprintln!("cannot write the record: {e}"),
    }
}
