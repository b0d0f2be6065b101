//! What one sleep and wake-up costs in CPU on this machine, the figure behind receive
//! coalescing: a thread that sleeps `--us` microseconds in a loop, once with plain
//! `nanosleep` and once as a glommio executor awaiting a `Timer`, for `--seconds` each,
//! alternating, pinned to `--cpu`. Prints CPU microseconds per sleep (the thread's rusage).
//!
//! `wake-cost [--rounds 3] [--seconds 2] [--us 100,1000] [--cpu 1]`

use allegro_bench::{arg, context, stats, thread_cpu_s, write_record};
use glommio::{timer::Timer, LocalExecutorBuilder, Placement};
use serde_json::json;
use std::time::{Duration, Instant};

/// CPU microseconds per sleep of `us` over `secs`, with plain nanosleep on a pinned thread.
fn plain(us: u64, secs: u64, cpu: usize) -> f64 {
    std::thread::spawn(move || {
        allegro_engine::placement::pin_current_thread(cpu).expect("pin");
        let (t0, c0, mut n) = (Instant::now(), thread_cpu_s(), 0u64);
        while t0.elapsed() < Duration::from_secs(secs) {
            std::thread::sleep(Duration::from_micros(us));
            n += 1;
        }
        (thread_cpu_s() - c0) / n as f64 * 1e6
    })
    .join()
    .expect("sleeper")
}

/// The same with a glommio executor awaiting a `Timer` (Allegro's io_uring shards park so).
fn glommio(us: u64, secs: u64, cpu: usize) -> f64 {
    LocalExecutorBuilder::new(Placement::Fixed(cpu))
        .io_memory(64 * 1024)
        .spawn(move || async move {
            let (t0, c0, mut n) = (Instant::now(), thread_cpu_s(), 0u64);
            while t0.elapsed() < Duration::from_secs(secs) {
                Timer::new(Duration::from_micros(us)).await;
                n += 1;
            }
            (thread_cpu_s() - c0) / n as f64 * 1e6
        })
        .expect("glommio executor")
        .join()
        .expect("glommio sleeper")
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rounds: usize = arg(&args, "--rounds", "3").parse().unwrap_or(3);
    let secs: u64 = arg(&args, "--seconds", "2").parse().unwrap_or(2);
    let cpu: usize = arg(&args, "--cpu", "1").parse().unwrap_or(1);
    let periods: Vec<u64> = arg(&args, "--us", "100,1000")
        .split(',')
        .filter_map(|v| v.trim().parse().ok())
        .collect();
    let mut out = Vec::new();
    for &us in &periods {
        let (mut p, mut g) = (Vec::new(), Vec::new());
        for round in 0..rounds {
            p.push(plain(us, secs, cpu));
            g.push(glommio(us, secs, cpu));
            println!(
                "{us} µs, round {}: nanosleep {:.1} µs CPU per sleep, glommio timer {:.1}",
                round + 1,
                p[round],
                g[round]
            );
        }
        let (ps, gs) = (stats(&p), stats(&g));
        println!(
            "{us} µs: median CPU per sleep nanosleep {:.1} [{:.1}-{:.1}] µs, glommio {:.1} [{:.1}-{:.1}] µs (ratio {:.2})\n",
            ps.0, ps.1, ps.2, gs.0, gs.1, gs.2, gs.0 / ps.0
        );
        out.push(
            json!({"sleep_us": us, "nanosleep_cpu_us_per_sleep": ps, "glommio_cpu_us_per_sleep": gs,
                        "rounds": {"nanosleep": p, "glommio": g}}),
        );
    }
    let rec = json!({"benchmark": "wake-cost", "context": context(),
                     "setup": {"seconds": secs, "cpu": cpu, "cpu_measure": "getrusage(RUSAGE_THREAD) of the sleeping thread"},
                     "periods": out});
    match write_record("wake-cost", &rec) {
        Ok(p) => println!("wrote {}", p.display()),
        Err(e) => eprintln!("cannot write the record: {e}"),
    }
}
