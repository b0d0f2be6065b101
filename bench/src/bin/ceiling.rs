//! The engine's ceiling beside the raw write limit, in one run.
//!
//! Each round starts a fresh `discard-sink` pinned to the sink CPU, then runs, alternately,
//! `allegro run` with one shard (QoS 0, no receivers) and `raw-write` (a plain loop of 64 KiB
//! `write` calls of the same pre-encoded frames), each pinned to the load CPU. Both are measured
//! by the same sink (bytes from first to last arrival) and by their own CPU time.
//!
//! With `--protocol stomp` both send STOMP SEND frames (no receipts) to `/queue/bench`, with
//! `--protocol amqp091` AMQP 0-9-1 publishes (method, content header, body frame) to queue
//! `bench`, instead of MQTT QoS 0 PUBLISH frames.
//!
//! `ceiling [--rounds 3] [--seconds 5] [--size 100] [--sink-cpu 0] [--load-cpu 1] [--backend uring]
//! [--protocol mqtt|stomp|amqp091]`

use allegro_bench::{arg, bin_dir, context, run_measured, stats, write_record, ChildRun, Sink};
use serde_json::json;
use std::process::Command;

const TOPIC: &str = "bench";

struct Round {
    bytes_per_s: f64,
    msgs_per_s: f64,
    cpu_s_per_million: f64,
}

/// Runs `load` (given the sink's port) against a fresh sink; returns what the sink saw.
fn measure(
    sink_cpu: &str,
    frame_len: f64,
    load: impl FnOnce(u16) -> ChildRun,
) -> Result<Round, String> {
    let sink = Sink::start(sink_cpu, 1)?;
    let run = load(sink.port);
    if run.status != 0 {
        return Err(format!(
            "load exited with {}: {}{}",
            run.status,
            run.stderr.trim(),
            run.stdout.trim()
        ));
    }
    let v = sink.finish()?;
    let bytes = v["bytes"].as_f64().unwrap_or(0.0);
    let bps = v["bytes_per_second"].as_f64().unwrap_or(0.0);
    let msgs = bytes / frame_len;
    Ok(Round {
        bytes_per_s: bps,
        msgs_per_s: bps / frame_len,
        cpu_s_per_million: if msgs > 0.0 {
            run.cpu_s / msgs * 1e6
        } else {
            0.0
        },
    })
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rounds: usize = arg(&args, "--rounds", "3").parse().unwrap_or(3);
    let seconds = arg(&args, "--seconds", "5");
    let size: usize = arg(&args, "--size", "100").parse().unwrap_or(100);
    let sink_cpu = arg(&args, "--sink-cpu", "0");
    let load_cpu = arg(&args, "--load-cpu", "1");
    let backend = arg(&args, "--backend", "uring");
    let protocol = arg(&args, "--protocol", "mqtt");
    let (frame_len, url_path, extra): (f64, String, &[&str]) = match protocol.as_str() {
        "stomp" => (
            format!("SEND\ndestination:/queue/{TOPIC}\ncontent-length:{size}\n\n").len() as f64
                + size as f64
                + 1.0,
            format!("stomp://127.0.0.1:{{port}}/queue/{TOPIC}?heartbeat=0"),
            &[],
        ),
        "amqp091" => (
            // basic.publish (7 + 4 + 2 + 1 + 1 + len(TOPIC) + 1 + 1), content header (7 + 14 + 1),
            // body frame (7 + size + 1).
            (7 + 4 + 2 + 1 + 1 + TOPIC.len() + 1 + 1) as f64 + 22.0 + 8.0 + size as f64,
            format!("amqp091://127.0.0.1:{{port}}/{TOPIC}?heartbeat=0"),
            &[],
        ),
        "mqtt" => {
            // PUBLISH QoS 0: fixed header (2 bytes below 128 B of remaining length, else 3)
            // + topic.
            let remaining = 2 + TOPIC.len() + size;
            (
                (1 + if remaining < 128 { 1 } else { 2 } + remaining) as f64,
                format!("mqtt://127.0.0.1:{{port}}/{TOPIC}"),
                &["--keep-alive", "0"],
            )
        }
        p => {
            eprintln!("ceiling: unknown --protocol '{p}' (mqtt, stomp or amqp091)");
            std::process::exit(2);
        }
    };
    let results_dir = std::env::temp_dir().join("allegro-bench-ceiling");
    let mut engine = Vec::new();
    let mut raw = Vec::new();
    for round in 0..rounds {
        let a = measure(&sink_cpu, frame_len, |port| {
            run_measured(
                Command::new(bin_dir().join("allegro"))
                    .args([
                        "run",
                        &url_path.replace("{port}", &port.to_string()),
                        "--receivers",
                        "0",
                        "--parallel",
                        "1",
                        "--size",
                        &size.to_string(),
                        "--duration",
                        &format!("{seconds}s"),
                        "--cores",
                        &load_cpu,
                        "--backend",
                        &backend,
                        "--quiet",
                        "--output",
                        "json",
                        "--results",
                        &results_dir.display().to_string(),
                    ])
                    .args(extra),
            )
            .expect("run allegro")
        });
        let b = measure(&sink_cpu, frame_len, |port| {
            run_measured(Command::new(bin_dir().join("raw-write")).args([
                "--port",
                &port.to_string(),
                "--cpu",
                &load_cpu,
                "--seconds",
                &seconds,
                "--size",
                &size.to_string(),
                "--topic",
                TOPIC,
                "--protocol",
                &protocol,
            ]))
            .expect("run raw-write")
        });
        match (a, b) {
            (Ok(a), Ok(b)) => {
                println!(
                    "round {}: allegro {:.2} M msg/s ({:.2} GB/s, {:.3} CPU s/M msgs)   raw {:.2} M msg/s ({:.2} GB/s, {:.3} CPU s/M)   ratio {:.2}",
                    round + 1,
                    a.msgs_per_s / 1e6, a.bytes_per_s / 1e9, a.cpu_s_per_million,
                    b.msgs_per_s / 1e6, b.bytes_per_s / 1e9, b.cpu_s_per_million,
                    a.bytes_per_s / b.bytes_per_s
                );
                engine.push(a);
                raw.push(b);
            }
            (a, b) => {
                eprintln!("round {} failed: {:?} {:?}", round + 1, a.err(), b.err());
                std::process::exit(1);
            }
        }
    }
    let col = |v: &[Round], f: fn(&Round) -> f64| v.iter().map(f).collect::<Vec<_>>();
    let (em, emin, emax) = stats(&col(&engine, |r| r.msgs_per_s));
    let (rm, rmin, rmax) = stats(&col(&raw, |r| r.msgs_per_s));
    let (ec, _, _) = stats(&col(&engine, |r| r.cpu_s_per_million));
    let (rc, _, _) = stats(&col(&raw, |r| r.cpu_s_per_million));
    let ratios: Vec<f64> = engine
        .iter()
        .zip(&raw)
        .map(|(a, b)| a.bytes_per_s / b.bytes_per_s)
        .collect();
    let (ratio, rlo, rhi) = stats(&ratios);
    println!(
        "\nmedian of {rounds}: allegro {:.2} M msg/s [{:.2}-{:.2}], raw write loop {:.2} M msg/s [{:.2}-{:.2}], allegro/raw {:.2} [{:.2}-{:.2}]; CPU s per M msgs: allegro {ec:.3}, raw {rc:.3}",
        em / 1e6, emin / 1e6, emax / 1e6, rm / 1e6, rmin / 1e6, rmax / 1e6, ratio, rlo, rhi
    );
    let rec = json!({
        "benchmark": "ceiling",
        "context": context(),
        "setup": {
            "size": size, "frame_len": frame_len, "seconds": seconds, "sink_cpu": sink_cpu,
            "load_cpu": load_cpu, "backend": backend, "protocol": protocol, "shards": 1,
            "sink": "discard-sink: recv(MSG_TRUNC) after CONNACK or CONNECTED",
        },
        "rounds": engine.iter().zip(&raw).map(|(a, b)| json!({
            "allegro": {"msgs_per_s": a.msgs_per_s, "bytes_per_s": a.bytes_per_s, "cpu_s_per_million": a.cpu_s_per_million},
            "raw": {"msgs_per_s": b.msgs_per_s, "bytes_per_s": b.bytes_per_s, "cpu_s_per_million": b.cpu_s_per_million},
        })).collect::<Vec<_>>(),
        "median": {"allegro_msgs_per_s": em, "raw_msgs_per_s": rm, "ratio": ratio, "allegro_cpu_s_per_million": ec, "raw_cpu_s_per_million": rc},
    });
    match write_record("ceiling", &rec) {
        Ok(p) => println!("wrote {}", p.display()),
        Err(e) => eprintln!("cannot write the record: {e}"),
    }
}
