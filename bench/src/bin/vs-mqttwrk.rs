//! Allegro against `mqttwrk bench` on the same Mosquitto, in one run.
//!
//! Both tools get the same work: P publishers and one subscriber, 100-byte bodies, N messages per
//! publisher at QoS 0, unbounded rate. Rounds alternate Allegro, mqttwrk, Allegro, ... Each round
//! records the wall time of the whole process, its CPU time (rusage), and the messages the
//! subscriber received; the rate is received messages over wall time for both, so process start
//! and connection setup count the same for each.
//!
//! With `--rate R` (messages per second per publisher, at most 1000: mqttwrk paces in whole
//! milliseconds) both tools run the same paced load, which compares CPU per message at equal
//! throughput; unbounded runs (the default) compare the rates too. The broker's own CPU time per
//! round is recorded beside each tool's (its pid from `--broker-pid`, else the oldest
//! `mosquitto` process).
//!
//! Pinning is part of the setup: the broker runs on `--broker-cpu` (default 0; its affinity is
//! restored afterwards) and each load tool on `--load-cpu` (default 1: Allegro with `--cores`,
//! mqttwrk under `taskset`), so that the two tools get the same single core beside the broker.
//! `--load-cpu none` leaves everything unpinned.
//!
//! `vs-mqttwrk [--broker 127.0.0.1:1883] [--rounds 3] [--count 300000] [--publishers 1] [--size 100] [--rate 0] [--backend uring|epoll] [--rx-coalesce 1ms] [--load-cpu 1] [--broker-cpu 0]`
//! (the broker defaults to MOSQUITTO_MQTT from .brokers.env; `mqttwrk` must be on PATH or in
//! ~/.cargo/bin: `cargo install mqttwrk`).

use allegro_bench::{arg, bin_dir, broker_endpoint, context, run_measured, stats, write_record};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::Command;

fn mqttwrk() -> PathBuf {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    let cargo_bin = home.join(".cargo/bin/mqttwrk");
    if cargo_bin.exists() {
        cargo_bin
    } else {
        PathBuf::from("mqttwrk")
    }
}

#[derive(Debug, Clone, Copy)]
struct Round {
    msgs_per_s: f64,
    cpu_s_per_million: f64,
    broker_cpu_s_per_million: f64,
    received: u64,
}

/// CPU seconds a process has used so far (utime + stime from /proc).
fn proc_cpu_s(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    (ticks(11) + ticks(12)) / hz
}

fn broker_pid(args: &[String]) -> Option<u32> {
    if let Some(p) = args
        .iter()
        .position(|a| a == "--broker-pid")
        .and_then(|i| args.get(i + 1))
    {
        return p.parse().ok();
    }
    let out = Command::new("pgrep")
        .args(["-o", "-x", "mosquitto"])
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

/// Sets a process's CPU affinity to `cpus`; returns the old set to restore.
fn pin_pid(pid: u32, cpus: &[usize]) -> Option<libc::cpu_set_t> {
    // SAFETY: zeroed cpu_set_t is a valid empty set; the calls only read and write these sets.
    unsafe {
        let mut old: libc::cpu_set_t = std::mem::zeroed();
        let size = std::mem::size_of::<libc::cpu_set_t>();
        if libc::sched_getaffinity(pid as libc::pid_t, size, &mut old) != 0 {
            return None;
        }
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for &c in cpus {
            libc::CPU_SET(c, &mut set);
        }
        if libc::sched_setaffinity(pid as libc::pid_t, size, &set) != 0 {
            return None;
        }
        Some(old)
    }
}

fn restore_pid(pid: u32, set: &libc::cpu_set_t) {
    // SAFETY: `set` came from sched_getaffinity.
    unsafe {
        libc::sched_setaffinity(
            pid as libc::pid_t,
            std::mem::size_of::<libc::cpu_set_t>(),
            set,
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let broker = arg(
        &args,
        "--broker",
        &broker_endpoint("MOSQUITTO_MQTT", "127.0.0.1:1883"),
    );
    let rounds: usize = arg(&args, "--rounds", "3").parse().unwrap_or(3);
    let count: u64 = arg(&args, "--count", "300000").parse().unwrap_or(300_000);
    let pubs: u64 = arg(&args, "--publishers", "1").parse().unwrap_or(1);
    let size = arg(&args, "--size", "100");
    let rate: u64 = arg(&args, "--rate", "0").parse().unwrap_or(0);
    let backend = arg(&args, "--backend", "uring");
    let coalesce = arg(&args, "--rx-coalesce", "1ms");
    if rate > 1000 {
        eprintln!("--rate is per publisher and at most 1000 (mqttwrk paces in whole milliseconds)");
        std::process::exit(2);
    }
    let bpid = broker_pid(&args);
    let load_cpu = arg(&args, "--load-cpu", "1");
    let broker_cpu_arg = arg(&args, "--broker-cpu", "0");
    let pinned = load_cpu != "none";
    let restore = match (pinned, bpid, broker_cpu_arg.parse::<usize>()) {
        (true, Some(pid), Ok(cpu)) => pin_pid(pid, &[cpu]).map(|old| (pid, old)),
        _ => None,
    };
    if pinned && restore.is_none() {
        eprintln!("cannot pin the broker (pid {bpid:?}) to CPU {broker_cpu_arg}; it runs unpinned");
    }
    let unpin_broker = || {
        if let Some((pid, old)) = &restore {
            restore_pid(*pid, old);
        }
    };
    let broker_cpu = || bpid.map(proc_cpu_s).unwrap_or(0.0);
    let (host, port) = broker.rsplit_once(':').unwrap_or((&broker, "1883"));
    let expected = count * pubs;
    let results_dir = std::env::temp_dir().join("allegro-bench-vs-mqttwrk");
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    for round in 0..rounds {
        let topic = format!("bench/vs/{}/{round}", std::process::id());
        let b0 = broker_cpu();
        let mut allegro = Command::new("timeout");
        allegro.args(["300"]).arg(bin_dir().join("allegro"));
        allegro.arg("run");
        if pinned {
            allegro.args(["--cores", &load_cpu]);
        }
        let a = run_measured(allegro.args([
            &format!("mqtt://{broker}/{topic}"),
            "--parallel",
            &pubs.to_string(),
            "--receivers",
            "1",
            "--size",
            &size,
            "--duration",
            &count.to_string(),
            "--rate",
            &rate.to_string(),
            "--backend",
            &backend,
            "--rx-coalesce",
            &coalesce,
            "--qos",
            "0",
            "--quiet",
            "--output",
            "json",
            "--results",
            &results_dir.display().to_string(),
        ]))
        .expect("run allegro");
        let summary: Value = serde_json::from_str(&a.stdout).unwrap_or(Value::Null);
        let received = summary["totals"]["received"].as_u64().unwrap_or(0);
        if a.status != 0 || received == 0 {
            eprintln!(
                "allegro round {} failed ({}): {}",
                round + 1,
                a.status,
                a.stderr.trim()
            );
            unpin_broker();
            std::process::exit(1);
        }
        let a_broker = broker_cpu() - b0;
        let ra = Round {
            msgs_per_s: received as f64 / a.wall_s,
            cpu_s_per_million: a.cpu_s / received as f64 * 1e6,
            broker_cpu_s_per_million: a_broker / received as f64 * 1e6,
            received,
        };
        let b0 = broker_cpu();
        let mut wrk = Command::new("timeout");
        wrk.args(["300"]);
        if pinned {
            wrk.args(["taskset", "-c", &load_cpu]);
        }
        let b = run_measured(wrk.arg(mqttwrk()).args([
            "bench",
            "-S",
            host,
            "-P",
            port,
            "-n",
            &count.to_string(),
            "-p",
            &pubs.to_string(),
            "-s",
            "1",
            "-m",
            &size,
            "--publish-qos",
            "0",
            "--subscribe-qos",
            "0",
            "-r",
            &rate.to_string(),
        ]))
        .expect("run mqttwrk (cargo install mqttwrk)");
        if b.status != 0 {
            eprintln!(
                "mqttwrk round {} failed ({}): {}",
                round + 1,
                b.status,
                b.stderr.trim()
            );
            unpin_broker();
            std::process::exit(1);
        }
        // mqttwrk's subscriber waits for every publish before it exits.
        let b_broker = broker_cpu() - b0;
        let rb = Round {
            msgs_per_s: expected as f64 / b.wall_s,
            cpu_s_per_million: b.cpu_s / expected as f64 * 1e6,
            broker_cpu_s_per_million: b_broker / expected as f64 * 1e6,
            received: expected,
        };
        println!(
            "round {}: allegro {:.0} msg/s, {:.3} CPU s/M msgs ({} received; broker {:.3}) | mqttwrk {:.0} msg/s, {:.3} CPU s/M msgs (broker {:.3})",
            round + 1, ra.msgs_per_s, ra.cpu_s_per_million, ra.received, ra.broker_cpu_s_per_million,
            rb.msgs_per_s, rb.cpu_s_per_million, rb.broker_cpu_s_per_million
        );
        ours.push(ra);
        theirs.push(rb);
    }
    unpin_broker();
    let col = |v: &[Round], f: fn(&Round) -> f64| v.iter().map(f).collect::<Vec<_>>();
    let (ar, arl, arh) = stats(&col(&ours, |r| r.msgs_per_s));
    let (br, brl, brh) = stats(&col(&theirs, |r| r.msgs_per_s));
    let (ac, acl, ach) = stats(&col(&ours, |r| r.cpu_s_per_million));
    let (bc, bcl, bch) = stats(&col(&theirs, |r| r.cpu_s_per_million));
    let (abk, _, _) = stats(&col(&ours, |r| r.broker_cpu_s_per_million));
    let (bbk, _, _) = stats(&col(&theirs, |r| r.broker_cpu_s_per_million));
    println!(
        "\nmedian of {rounds}: rate allegro {ar:.0} [{arl:.0}-{arh:.0}] vs mqttwrk {br:.0} [{brl:.0}-{brh:.0}] msg/s (ratio {:.2}); CPU s per M msgs allegro {ac:.3} [{acl:.3}-{ach:.3}] vs mqttwrk {bc:.3} [{bcl:.3}-{bch:.3}] (ratio {:.2})",
        ar / br, ac / bc
    );
    println!("broker CPU s per M msgs: with allegro {abk:.3}, with mqttwrk {bbk:.3}");
    let rec = json!({
        "benchmark": "vs-mqttwrk",
        "context": context(),
        "setup": {"broker": broker, "count_per_publisher": count, "publishers": pubs, "subscribers": 1, "size": size, "qos": 0,
                  "rate_per_publisher": rate, "allegro_backend": backend, "allegro_rx_coalesce": coalesce,
                  "pinning": if pinned { json!({"load_tools_cpu": load_cpu, "broker_cpu": broker_cpu_arg, "broker_pinned": restore.is_some()}) } else { json!("none") }, "rate_measure": "messages received / process wall time", "cpu": "rusage user+sys of the load process"},
        "rounds": ours.iter().zip(&theirs).map(|(a, b)| json!({
            "allegro": {"msgs_per_s": a.msgs_per_s, "cpu_s_per_million": a.cpu_s_per_million, "received": a.received, "broker_cpu_s_per_million": a.broker_cpu_s_per_million},
            "mqttwrk": {"msgs_per_s": b.msgs_per_s, "cpu_s_per_million": b.cpu_s_per_million, "broker_cpu_s_per_million": b.broker_cpu_s_per_million},
        })).collect::<Vec<_>>(),
        "median": {"allegro_msgs_per_s": ar, "mqttwrk_msgs_per_s": br, "rate_ratio": ar / br,
                   "allegro_cpu_s_per_million": ac, "mqttwrk_cpu_s_per_million": bc, "cpu_ratio": ac / bc,
                   "broker_cpu_s_per_million_with_allegro": abk, "broker_cpu_s_per_million_with_mqttwrk": bbk},
    });
    match write_record("vs-mqttwrk", &rec) {
        Ok(p) => println!("wrote {}", p.display()),
        Err(e) => eprintln!("cannot write the record: {e}"),
    }
}
