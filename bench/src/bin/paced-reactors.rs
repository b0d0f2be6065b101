//! Paced load on one shard, the candidate reactors side by side: N connections at R msg/s each
//! (MQTT QoS 0 PUBLISH, 100-byte bodies) into `discard-sink`, measured by CPU per message and
//! send delay (when a message was handed over for sending, less when it was due).
//!
//! Candidates, each a single thread pinned to `--load-cpu` (the sink on `--sink-cpu`):
//! - `ring`: `allegro run --backend uring` as shipped (the io_uring reactor: a tick's writes
//!   staged and submitted with its wait in one `io_uring_enter`; records before 2026-12-07T18
//!   name this candidate `glommio`, the glommio runtime it replaced, which parked on a glommio
//!   `Timer` between ticks and made a `send` per due connection);
//! - `epoll`: `allegro run --backend epoll` as shipped;
//! - `sleep-send`: a plain loop: at each tick one `send(2)` per due connection (its due frames
//!   together), then `clock_nanosleep` to the next tick;
//! - `uring-batch`: a direct io_uring loop: at each tick one `send` SQE per due connection and
//!   an absolute `timeout` SQE for the next tick, submitted and waited for in one
//!   `io_uring_enter`: one system call per tick for the whole shard.
//!
//! The two loops pace as the engine does: connection c's message i is due at t0 + i/R, on ticks
//! of `--tick-us` shared by every connection. Send delay is read where each design hands a
//! connection's messages over: the engine and `sleep-send` just before that connection's write;
//! `uring-batch` when its SQE is queued, the kernel then issuing the tick's sends in order
//! within the same call (so the last of N goes out up to N sends' time later than recorded).
//! CPU is the measuring thread's own from its first tick (`ring` and `epoll`: the whole
//! process, start-up and handshakes included, as the summary's `process.cpu_s`). Rounds
//! alternate the candidates; writes `bench/results/paced-reactors-DATE.json`; exits 1 when a
//! run failed.
//!
//! `paced-reactors [--rounds 3] [--seconds 5] [--conns 10,100,1000] [--rate 1000]
//! [--tick-us 1000] [--only ring,epoll,sleep-send,uring-batch] [--sink-cpu 0] [--load-cpu 1]`

use allegro_bench::{arg, bin_dir, context, json_output, stats, thread_cpu_s, write_record, Sink};
use hdrhistogram::Histogram;
use io_uring::{opcode, types, IoUring};
use serde_json::{json, Value};
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::process::Command;
use std::time::{Duration, Instant};

const CANDIDATES: [&str; 4] = ["ring", "epoll", "sleep-send", "uring-batch"];
/// Frames one connection may send in one call (more due are sent at the next tick).
const MAX_BATCH: usize = 64;
/// `user_data` of tick k's timeout: TICK + k (connections use their index).
const TICK: u64 = 1 << 62;

struct Setup {
    seconds: u64,
    rate: u64,
    tick_ns: u64,
    sink_cpu: String,
    load_cpu: usize,
}

/// What one run measured.
struct Outcome {
    messages: u64,
    cpu_s: f64,
    /// Send delay quantiles in µs: p50, p99, p99.9, max.
    delay_us: [f64; 4],
}

fn monotonic_ns() -> u64 {
    // SAFETY: a zeroed timespec is valid; clock_gettime fills it.
    let mut t: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: `t` is a valid, writable timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut t) };
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

/// `allegro run` with `backend` as shipped.
fn allegro(s: &Setup, backend: &str, conns: usize, port: u16) -> Result<Outcome, String> {
    let dir = std::env::temp_dir().join("allegro-bench-paced");
    let mut cmd = Command::new(bin_dir().join("allegro"));
    cmd.args(["run", &format!("mqtt://127.0.0.1:{port}/bench")])
        .args([
            "--parallel",
            &conns.to_string(),
            "--receivers",
            "0",
            "--qos",
            "0",
        ])
        .args(["--rate", &s.rate.to_string(), "--size", "100"])
        .args(["--duration", &format!("{}s", s.seconds)])
        .args(["--cores", &s.load_cpu.to_string(), "--backend", backend])
        .args(["--quiet", "--no-report", "--output", "json", "--results"])
        .arg(&dir);
    let v = json_output(&mut cmd, &format!("allegro ({backend})"))?;
    if v["status"] != "completed" {
        return Err(format!(
            "allegro ({backend}): {} {}",
            v["status"], v["errors"]
        ));
    }
    let d = &v["latency_us"]["send_delay"];
    let q = |k: &str| d[k].as_f64().unwrap_or(f64::NAN);
    Ok(Outcome {
        messages: v["totals"]["sent"].as_u64().unwrap_or(0),
        cpu_s: v["process"]["cpu_s"].as_f64().unwrap_or(f64::NAN),
        delay_us: [q("p50"), q("p99"), q("p99.9"), q("max")],
    })
}

/// One paced connection of the hand-written loops.
struct Conn {
    stream: TcpStream,
    /// Messages sent so far (the next one's index).
    sent: u64,
    /// Bytes of the current call already sent (a short write's remainder goes next tick).
    offset: usize,
    /// The frames of the current call.
    len: usize,
    /// A send of this connection is in the ring.
    in_flight: bool,
}

fn connect_all(conns: usize, port: u16) -> Vec<Conn> {
    (0..conns)
        .map(|i| {
            let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to the sink");
            let _ = stream.set_nodelay(true);
            allegro_bench::mqtt_connect(&mut stream, &format!("paced-{i}"));
            stream.set_nonblocking(true).expect("non-blocking");
            Conn {
                stream,
                sent: 0,
                offset: 0,
                len: 0,
                in_flight: false,
            }
        })
        .collect()
}

/// The messages of a connection due by `now` (ns since t0), capped per call; records each
/// one's delay.
fn due(c: &Conn, now: u64, rate: u64, limit: u64, hist: &mut Histogram<u64>) -> u64 {
    let by_now = (now as u128 * rate as u128 / 1_000_000_000) as u64 + 1;
    let n = by_now
        .min(limit)
        .saturating_sub(c.sent)
        .min(MAX_BATCH as u64);
    for i in c.sent..c.sent + n {
        let at = (i as u128 * 1_000_000_000 / rate as u128) as u64;
        let _ = hist.record(now.saturating_sub(at) / 1000);
    }
    n
}

fn block(frame: &[u8]) -> Vec<u8> {
    frame.repeat(MAX_BATCH)
}

/// The plain loop: a `send` per due connection, then sleep to the next tick.
fn sleep_send(s: &Setup, conns: &mut [Conn], frame: &[u8]) -> Outcome {
    let buf = block(frame);
    let limit = s.rate * s.seconds;
    let mut hist = Histogram::<u64>::new(3).expect("histogram");
    let t0 = Instant::now();
    let c0 = thread_cpu_s();
    let mut tick = 0u64;
    loop {
        let mut left = false;
        for c in conns.iter_mut() {
            if c.offset == 0 {
                // Read just before this connection's own send.
                let now = t0.elapsed().as_nanos() as u64;
                let n = due(c, now, s.rate, limit, &mut hist);
                c.len = n as usize * frame.len();
                c.sent += n;
            }
            if c.len > c.offset {
                // SAFETY: `buf` holds at least `c.len` bytes; the socket is ours.
                let r = unsafe {
                    libc::send(
                        c.stream.as_raw_fd(),
                        buf[c.offset..].as_ptr().cast(),
                        c.len - c.offset,
                        libc::MSG_DONTWAIT,
                    )
                };
                if r > 0 {
                    c.offset += r as usize;
                }
                if c.offset >= c.len {
                    (c.offset, c.len) = (0, 0);
                }
            }
            left |= c.sent < limit || c.len > 0;
        }
        if !left {
            break;
        }
        tick += 1;
        let next = t0 + Duration::from_nanos(tick * s.tick_ns);
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    outcome(conns, thread_cpu_s() - c0, &hist)
}

/// The direct io_uring loop: each tick's sends and its wait in one `io_uring_enter`.
fn uring_batch(s: &Setup, conns: &mut [Conn], frame: &[u8]) -> Outcome {
    let buf = block(frame);
    let limit = s.rate * s.seconds;
    let mut hist = Histogram::<u64>::new(3).expect("histogram");
    let entries = (conns.len() + 1).next_power_of_two().max(8) as u32;
    let mut ring = IoUring::new(entries).expect("io_uring");
    let t0 = Instant::now();
    let c0 = thread_cpu_s();
    let mut tick = 0u64;
    // The ticks as CLOCK_MONOTONIC times, for the ring's absolute timeout.
    let mono0 = monotonic_ns() - t0.elapsed().as_nanos() as u64;
    loop {
        let now = t0.elapsed().as_nanos() as u64;
        let mut pushed = 0usize;
        let mut left = false;
        for (i, c) in conns.iter_mut().enumerate() {
            if !c.in_flight {
                if c.offset == 0 {
                    let n = due(c, now, s.rate, limit, &mut hist);
                    c.len = n as usize * frame.len();
                    c.sent += n;
                }
                if c.len > c.offset {
                    let e = opcode::Send::new(
                        types::Fd(c.stream.as_raw_fd()),
                        buf[c.offset..].as_ptr(),
                        (c.len - c.offset) as u32,
                    )
                    .build()
                    .user_data(i as u64);
                    // SAFETY: `buf` outlives the ring's use of it (it lives until this function
                    // returns, after every completion was reaped); the ring has an entry per
                    // connection and each connection has at most one send in it.
                    unsafe { ring.submission().push(&e).expect("a free entry") };
                    c.in_flight = true;
                    pushed += 1;
                }
            }
            left |= c.sent < limit || c.len > 0;
        }
        if !left {
            break;
        }
        tick += 1;
        // The next tick as an absolute timeout in the ring, after the sends: a relative one
        // would start only once the sends before it were done in the same call.
        let at = mono0 + tick * s.tick_ns;
        let ts = types::Timespec::new()
            .sec(at / 1_000_000_000)
            .nsec((at % 1_000_000_000) as u32);
        let e = opcode::Timeout::new(&ts)
            .flags(types::TimeoutFlags::ABS)
            .build()
            .user_data(TICK + tick);
        // SAFETY: the kernel copies `ts` when it takes the SQE in, which happens in the
        // `submit_and_wait` below, in this iteration (no SQPOLL).
        unsafe { ring.submission().push(&e).expect("a free entry") };
        // One call submits the tick's sends and waits for them and the tick's timeout; a
        // late completion of an earlier send can end a wait early, so wait until this tick's
        // own timeout is reaped.
        let mut want = pushed + 1;
        loop {
            match ring.submit_and_wait(want) {
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
                Err(e) => panic!("io_uring_enter: {e}"),
            }
            let mut ticked = false;
            for cqe in ring.completion() {
                if cqe.user_data() >= TICK {
                    ticked |= cqe.user_data() == TICK + tick;
                    continue;
                }
                reaped(&mut conns[cqe.user_data() as usize], cqe.result());
            }
            if ticked {
                break;
            }
            want = 1;
        }
    }
    // Every send reaped before `buf` goes.
    while conns.iter().any(|c| c.in_flight) {
        ring.submit_and_wait(1).expect("io_uring_enter");
        for cqe in ring.completion() {
            if cqe.user_data() < TICK {
                reaped(&mut conns[cqe.user_data() as usize], cqe.result());
            }
        }
    }
    outcome(conns, thread_cpu_s() - c0, &hist)
}

/// A connection's send completed with `r` (bytes, or a negative errno).
fn reaped(c: &mut Conn, r: i32) {
    c.in_flight = false;
    if r > 0 {
        c.offset += r as usize;
    } else if r < 0 && r != -libc::EAGAIN {
        panic!("send: {}", std::io::Error::from_raw_os_error(-r));
    }
    if c.offset >= c.len {
        (c.offset, c.len) = (0, 0);
    }
}

fn outcome(conns: &[Conn], cpu_s: f64, hist: &Histogram<u64>) -> Outcome {
    Outcome {
        messages: conns.iter().map(|c| c.sent).sum(),
        cpu_s,
        delay_us: [
            hist.value_at_quantile(0.5) as f64,
            hist.value_at_quantile(0.99) as f64,
            hist.value_at_quantile(0.999) as f64,
            hist.max() as f64,
        ],
    }
}

/// One hand-written loop on its own thread pinned to the load CPU.
fn hand_loop(s: &Setup, which: &'static str, conns: usize, port: u16) -> Result<Outcome, String> {
    let setup = Setup {
        sink_cpu: s.sink_cpu.clone(),
        ..*s
    };
    std::thread::spawn(move || {
        allegro_engine::placement::pin_current_thread(setup.load_cpu).expect("pin");
        let body = allegro_engine::payload::template(100);
        let frame = allegro_bench::mqtt_publish_frame("bench", &body);
        let mut all = connect_all(conns, port);
        let o = match which {
            "sleep-send" => sleep_send(&setup, &mut all, &frame),
            _ => uring_batch(&setup, &mut all, &frame),
        };
        drop(all);
        o
    })
    .join()
    .map_err(|_| format!("{which}: the load thread panicked (its message is above)"))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rounds: usize = arg(&args, "--rounds", "3").parse().unwrap_or(3);
    let s = Setup {
        seconds: arg(&args, "--seconds", "5").parse().unwrap_or(5),
        rate: arg(&args, "--rate", "1000").parse().unwrap_or(1000).max(1),
        tick_ns: arg(&args, "--tick-us", "1000")
            .parse::<u64>()
            .unwrap_or(1000)
            .max(1)
            * 1000,
        sink_cpu: arg(&args, "--sink-cpu", "0"),
        load_cpu: arg(&args, "--load-cpu", "1").parse().unwrap_or(1),
    };
    let conn_counts: Vec<usize> = arg(&args, "--conns", "10,100,1000")
        .split(',')
        .filter_map(|c| c.parse().ok())
        .collect();
    let only = arg(&args, "--only", &CANDIDATES.join(","));
    let candidates: Vec<&str> = CANDIDATES
        .iter()
        .copied()
        .filter(|c| only.split(',').any(|o| o == *c))
        .collect();
    let _ = allegro_engine::sys::raise_open_files_limit();
    let mut rows = Vec::new();
    let mut summary = serde_json::Map::new();
    let mut failed = 0;
    for &conns in &conn_counts {
        let mut per: Vec<Vec<(f64, [f64; 4])>> = vec![Vec::new(); candidates.len()];
        for round in 0..rounds {
            for (k, &cand) in candidates.iter().enumerate() {
                let o = Sink::start(&s.sink_cpu, conns).and_then(|sink| match cand {
                    "ring" => allegro(&s, "uring", conns, sink.port),
                    "epoll" => allegro(&s, "epoll", conns, sink.port),
                    other => hand_loop(&s, other, conns, sink.port),
                });
                match o {
                    Ok(o) if o.messages > 0 => {
                        let us = o.cpu_s * 1e6 / o.messages as f64;
                        println!(
                            "{conns:>5} conns round {} {cand:>11}: {:>9} msgs  {us:6.2} CPU µs/msg  send delay p50 {:.0} p99 {:.0} p99.9 {:.0} max {:.0} µs",
                            round + 1,
                            o.messages,
                            o.delay_us[0],
                            o.delay_us[1],
                            o.delay_us[2],
                            o.delay_us[3]
                        );
                        rows.push(json!({"conns": conns, "round": round + 1, "candidate": cand,
                            "messages": o.messages, "cpu_s": o.cpu_s, "cpu_us_per_msg": us,
                            "send_delay_us": {"p50": o.delay_us[0], "p99": o.delay_us[1], "p99.9": o.delay_us[2], "max": o.delay_us[3]}}));
                        per[k].push((us, o.delay_us));
                    }
                    Ok(_) => {
                        eprintln!("{conns} conns {cand}: no message sent");
                        failed += 1;
                    }
                    Err(e) => {
                        eprintln!("{conns} conns {cand}: {e}");
                        failed += 1;
                    }
                }
            }
        }
        let mut at = serde_json::Map::new();
        for (k, &cand) in candidates.iter().enumerate() {
            if per[k].is_empty() {
                continue;
            }
            let cpu: Vec<f64> = per[k].iter().map(|p| p.0).collect();
            let p99: Vec<f64> = per[k].iter().map(|p| p.1[1]).collect();
            let (m, lo, hi) = stats(&cpu);
            let (d, _, dmax) = stats(&p99);
            println!(
                "{conns:>5} conns median {cand:>11}: {m:6.2} CPU µs/msg [{lo:.2}-{hi:.2}]  send delay p99 {d:.0} µs (worst round {dmax:.0})"
            );
            at.insert(
                cand.into(),
                json!({"cpu_us_per_msg": {"median": m, "min": lo, "max": hi}, "send_delay_p99_us": {"median": d, "max": dmax}}),
            );
        }
        summary.insert(conns.to_string(), Value::Object(at));
    }
    let rec = json!({
        "benchmark": "paced-reactors",
        "context": context(),
        "setup": {"seconds": s.seconds, "rate_per_conn": s.rate, "tick_us": s.tick_ns / 1000, "size": 100,
                  "sink_cpu": s.sink_cpu, "load_cpu": s.load_cpu, "conns": conn_counts},
        "rounds": rows,
        "failed_runs": failed,
        "median": summary,
    });
    match write_record("paced-reactors", &rec) {
        Ok(p) => println!("wrote {}", p.display()),
        Err(e) => {
            eprintln!("cannot write the record: {e}");
            failed += 1;
        }
    }
    if failed > 0 {
        eprintln!("paced-reactors: {failed} failure(s)");
        std::process::exit(1);
    }
}
