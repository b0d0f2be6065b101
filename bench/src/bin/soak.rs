//! A soak run: `allegro run` at a fixed rate for MINUTES against a broker, its resident memory
//! sampled once a second from `/proc`; prints the memory at the end of the warm-up and at the
//! end, the largest growth after the warm-up, and the run's counts, and writes them with every
//! sample. (`tests/soak.rs` runs two minutes of it in CI.)
//!
//! `soak [--url mqtt://127.0.0.1:1883/allegro/soak] [--minutes 10] [--rate 2000] [--parallel 4]
//! [--receivers 2] [--qos 1] [--warmup-s 30]`

use allegro_bench::{arg, bin_dir, broker_endpoint, context, rss_kib, write_record};
use serde_json::{json, Value};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let default_url = format!(
        "mqtt://{}/allegro/soak",
        broker_endpoint("MOSQUITTO_MQTT", "127.0.0.1:1883")
    );
    let url = arg(&args, "--url", &default_url);
    let minutes: u64 = arg(&args, "--minutes", "10").parse().unwrap_or(10);
    let rate = arg(&args, "--rate", "2000");
    let parallel = arg(&args, "--parallel", "4");
    let receivers = arg(&args, "--receivers", "2");
    let qos = arg(&args, "--qos", "1");
    let warmup: f64 = arg(&args, "--warmup-s", "30").parse().unwrap_or(30.0);
    let results = std::env::temp_dir().join("allegro-bench-soak");
    let mut child = Command::new(bin_dir().join("allegro"))
        .args([
            "run",
            &url,
            "--rate",
            &rate,
            "--parallel",
            &parallel,
            "--receivers",
            &receivers,
        ])
        .args([
            "--qos",
            &qos,
            "--duration",
            &format!("{}s", minutes * 60),
            "--size",
            "200",
        ])
        .args(["--output", "json", "--quiet", "--results"])
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
        std::thread::sleep(Duration::from_secs(1));
    }
    let out = child.wait_with_output().expect("allegro's output");
    let s: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    let after: Vec<u64> = samples
        .iter()
        .filter(|(t, _)| *t >= warmup)
        .map(|(_, k)| *k)
        .collect();
    let (base, top, last) = (
        after.first().copied().unwrap_or(0),
        after.iter().max().copied().unwrap_or(0),
        after.last().copied().unwrap_or(0),
    );
    println!(
        "{} min at {rate}/s × {parallel} (QoS {qos}, {receivers} receivers): status {}, sent {}, received {}, lost {}",
        minutes, s["status"], s["totals"]["sent"], s["totals"]["received"], s["totals"]["lost"]
    );
    println!(
        "resident memory: {base} KiB after the {warmup} s warm-up, {last} KiB at the end, {top} KiB at most (growth {} KiB)",
        top.saturating_sub(base)
    );
    let rec = json!({
        "benchmark": "soak",
        "context": context(),
        "setup": {"url": url, "minutes": minutes, "rate": rate, "parallel": parallel, "receivers": receivers, "qos": qos, "warmup_s": warmup},
        "status": s["status"], "totals": s["totals"],
        "rss_kib": {"after_warmup": base, "end": last, "max": top, "growth": top.saturating_sub(base)},
        "samples": samples,
    });
    match write_record("soak", &rec) {
        Ok(p) => println!("wrote {}", p.display()),
        Err(e) => eprintln!("cannot write the record: {e}"),
    }
}
