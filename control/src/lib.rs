//! Allegro's control plane: the command line, standalone runs, results and reports.
//!
//! `main` only parses options and calls [`main_with_args`]; tests call the same functions.

pub mod cli;
pub mod client;
pub mod link;
pub mod maestro;
pub mod maestro_files;
pub mod note;
pub mod output;
pub mod results;
pub mod run;

use std::ffi::OsString;

/// Exit status: the run completed.
pub const EXIT_OK: i32 = 0;
/// Exit status: the run failed (a connection failed, the broker vanished).
pub const EXIT_FAILED: i32 = 1;
/// Exit status: bad input (options, URL).
pub const EXIT_USAGE: i32 = 2;
/// Exit status: interrupted (Ctrl-C).
pub const EXIT_INTERRUPTED: i32 = 130;

/// Runs the command line `args` (program name first) and returns the exit status.
pub fn main_with_args<I: IntoIterator<Item = OsString>>(args: I) -> i32 {
    let cli = match cli::parse(args) {
        Ok(c) => c,
        Err(code) => return code,
    };
    match cli.command {
        cli::Command::Run(args) => match run::RunConfig::from_args(args) {
            Ok(cfg) => run::run(&cfg),
            Err(e) => {
                eprintln!("allegro: {e}");
                EXIT_USAGE
            }
        },
        cli::Command::Ping(a) => {
            let Some(addr) = maestro_addr(&a.maestro) else {
                return EXIT_USAGE;
            };
            match maestro::ping(&addr, std::time::Duration::from_nanos(a.wait as u64)) {
                Ok(pongs) => {
                    println!("{} peer(s) answered", pongs.len());
                    for p in pongs {
                        println!(
                            "{:<40} {:<9} {:>6} ms  {}",
                            format!("{}@{}", p.peer.name, p.peer.host),
                            p.peer.role.name(),
                            p.elapsed_ms,
                            p.peer.id
                        );
                    }
                    EXIT_OK
                }
                Err(e) => {
                    eprintln!("allegro: {e}");
                    EXIT_FAILED
                }
            }
        }
        cli::Command::Test(cli::TestKind::FixedRate(a)) => {
            let (send_url, receive_url) = match (a.send_receive_url, a.send_url, a.receive_url) {
                (_, Some(s), Some(r)) => (s, r),
                (Some(u), s, r) => (s.unwrap_or_else(|| u.clone()), r.unwrap_or(u)),
                _ => {
                    eprintln!("allegro: give the SUT with --send-receive-url (SEND_RECEIVE_URL) or both --send-url and --receive-url");
                    return EXIT_USAGE;
                }
            };
            for u in [&send_url, &receive_url] {
                if let Err(e) = u.parse::<allegro_engine::url::Url>() {
                    eprintln!("allegro: bad SUT URL '{u}': {e}");
                    return EXIT_USAGE;
                }
            }
            if maestro_addr(&a.maestro).is_none() {
                return EXIT_USAGE;
            }
            let t = client::FixedRate {
                maestro: a.maestro,
                send_url,
                receive_url,
                size: a.message_size,
                duration: a.test_duration,
                rate: a.rate,
                parallel: a.parallel_count.to_string(),
                max_latency: a.maximum_latency.to_string(),
                results: a.results,
            };
            match client::fixed_rate(&t, a.quiet) {
                Ok(v) => {
                    if let Some(h) = &v.latency {
                        println!(
                            "latency (all receivers, µs): p50 {}  p90 {}  p99 {}  p99.9 {}  max {}  count {}",
                            h.value_at_quantile(0.5),
                            h.value_at_quantile(0.9),
                            h.value_at_quantile(0.99),
                            h.value_at_quantile(0.999),
                            h.max(),
                            h.len()
                        );
                    }
                    println!("results {}", v.dir.display());
                    if v.success {
                        println!("test successful");
                        EXIT_OK
                    } else {
                        for r in &v.reasons {
                            println!("failed: {r}");
                        }
                        eprintln!("allegro: test failed: {}", v.reasons.join("; "));
                        EXIT_FAILED
                    }
                }
                Err(e) => {
                    eprintln!("allegro: {e}");
                    EXIT_FAILED
                }
            }
        }
        cli::Command::Stats(a) => {
            let Some(addr) = maestro_addr(&a.maestro) else {
                return EXIT_USAGE;
            };
            match maestro::stats(&addr, std::time::Duration::from_nanos(a.wait as u64)) {
                Ok(all) => {
                    println!("{} worker(s) answered", all.len());
                    for (p, s) in all {
                        println!(
                            "{:<40} {:<9} connections {:>4}  messages {:>12}  rate {:>10.1}/s  {}",
                            format!("{}@{}", p.name, p.host),
                            p.role.name(),
                            s.child_count,
                            s.count,
                            s.rate,
                            p.id
                        );
                    }
                    EXIT_OK
                }
                Err(e) => {
                    eprintln!("allegro: {e}");
                    EXIT_FAILED
                }
            }
        }
        cli::Command::Halt(a) => {
            let Some(addr) = maestro_addr(&a.maestro) else {
                return EXIT_USAGE;
            };
            match maestro::halt(&addr) {
                Ok(()) => EXIT_OK,
                Err(e) => {
                    eprintln!("allegro: {e}");
                    EXIT_FAILED
                }
            }
        }
        cli::Command::Worker(a) => {
            let Some(addr) = maestro_addr(&a.maestro) else {
                return EXIT_USAGE;
            };
            let host = a.host.unwrap_or_else(hostname);
            run::catch_sigint();
            match maestro::worker(&addr, &a.name, &host, &a.results, &run::interrupted) {
                Ok(()) => EXIT_OK,
                Err(e) => {
                    eprintln!("allegro: {e}");
                    EXIT_FAILED
                }
            }
        }
    }
}

/// The Maestro broker's `host:port`, or `None` after saying what is wrong with the URL.
fn maestro_addr(url: &str) -> Option<String> {
    maestro::broker_addr(url)
        .map_err(|e| eprintln!("allegro: {e}"))
        .ok()
}

/// This machine's host name.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "localhost".into())
}
