//! Allegro's control plane: the command line, standalone runs, results and reports.
//!
//! `main` only parses options and calls [`main_with_args`]; tests call the same functions.

pub mod cli;
pub mod output;
pub mod report;
pub mod results;
pub mod run;

use allegro_maestro::{client, cluster as maestro, worker};
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
            let Some(broker) = maestro_broker(&a.maestro, &a.tls) else {
                return EXIT_USAGE;
            };
            match maestro::ping(&broker, std::time::Duration::from_nanos(a.wait as u64)) {
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
        cli::Command::Test(kind) => run_test(kind),
        cli::Command::Stats(a) => {
            let Some(broker) = maestro_broker(&a.maestro, &a.tls) else {
                return EXIT_USAGE;
            };
            match maestro::stats(&broker, std::time::Duration::from_nanos(a.wait as u64)) {
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
        cli::Command::Report(a) => report(a),
        cli::Command::Halt(a) => {
            let Some(broker) = maestro_broker(&a.maestro, &a.tls) else {
                return EXIT_USAGE;
            };
            match maestro::halt(&broker) {
                Ok(()) => EXIT_OK,
                Err(e) => {
                    eprintln!("allegro: {e}");
                    EXIT_FAILED
                }
            }
        }
        cli::Command::Worker(a) => {
            let Some(broker) = maestro_broker(&a.maestro, &a.tls) else {
                return EXIT_USAGE;
            };
            let host = a.host.unwrap_or_else(hostname);
            run::catch_sigint();
            let policy = match a.cores {
                Some(c) => allegro_engine::placement::Policy::Cores(c.0),
                None => allegro_engine::placement::Policy::AllCores,
            };
            let tls = a.tls.options();
            let metrics = match a.metrics.map(allegro_engine::metrics::Exporter::serve) {
                Some(Ok(e)) => Some(e),
                Some(Err(e)) => {
                    eprintln!(
                        "allegro: cannot serve metrics on {}: {e}",
                        a.metrics.map(|m| m.to_string()).unwrap_or_default()
                    );
                    return EXIT_USAGE;
                }
                None => None,
            };
            let daemon = worker::Daemon {
                broker: &broker,
                name: &a.name,
                host: &host,
                results: &a.results,
                cores: &policy,
                tls: &tls,
                metrics,
                reconnect: a.reconnect,
            };
            match worker::run(
                &daemon,
                &run::interrupted,
                std::sync::Arc::new(run::write_worker_summary),
            ) {
                Ok(()) => EXIT_OK,
                Err(e) => {
                    eprintln!("allegro: {e}");
                    EXIT_FAILED
                }
            }
        }
    }
}

/// The Maestro broker of `url` (TLS verified as `tls` says), or `None` after saying what is
/// wrong with it.
fn maestro_broker(url: &str, tls: &cli::TlsArgs) -> Option<allegro_maestro::link::Broker> {
    maestro::broker(url, &tls.options())
        .map_err(|e| eprintln!("allegro: {e}"))
        .ok()
}

/// This machine's host name.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "localhost".into())
}

/// `allegro test ...`: validates the common options, then runs the test type.
fn run_test(kind: cli::TestKind) -> i32 {
    // Ctrl-C stops the test cleanly (workers stopped, files pulled, roles back); a second one
    // exits at once.
    run::catch_sigint();
    run::exit_on_second_sigint();
    let common = match &kind {
        cli::TestKind::FixedRate(a) => &a.common,
        cli::TestKind::Incremental(a) => &a.common,
        cli::TestKind::FairIncremental(a) => &a.common,
    };
    let (send_url, receive_url) = match (
        &common.send_receive_url,
        &common.send_url,
        &common.receive_url,
    ) {
        (_, Some(s), Some(r)) => (s.clone(), r.clone()),
        (Some(u), s, r) => (
            s.clone().unwrap_or_else(|| u.clone()),
            r.clone().unwrap_or_else(|| u.clone()),
        ),
        _ => {
            eprintln!("allegro: give the SUT with --send-receive-url (SEND_RECEIVE_URL) or both --send-url and --receive-url");
            return EXIT_USAGE;
        }
    };
    for u in [&send_url, &receive_url] {
        if let Err(e) = u.parse::<allegro_engine::url::Url>() {
            eprintln!(
                "allegro: bad SUT URL '{}': {e}",
                allegro_engine::url::redact(u)
            );
            return EXIT_USAGE;
        }
    }
    let Some(broker) = maestro_broker(&common.maestro, &common.tls) else {
        return EXIT_USAGE;
    };
    let incremental = !matches!(kind, cli::TestKind::FixedRate(_));
    let base = client::FixedRate {
        maestro: broker,
        send_url,
        receive_url,
        size: common.message_size,
        duration: common.test_duration,
        rate: 0,
        parallel: 1,
        max_latency_ms: common
            .maximum_latency
            .unwrap_or(if incremental { 600 } else { 0 }),
        results: common.results.clone(),
        resolver: if common.endpoint_resolver == "one-to-one" {
            client::Resolver::OneToOne
        } else {
            client::Resolver::Role
        },
        stop_after_sent: None,
    };
    let quiet = common.quiet;
    let steps = match &kind {
        cli::TestKind::FixedRate(a) => {
            let t = client::FixedRate {
                rate: a.rate,
                parallel: a.parallel_count,
                ..base
            };
            if a.warm_up {
                let w = t.warm_up(a.warm_up_count);
                if !quiet {
                    eprintln!(
                        "warm-up: {} msg/s per connection, {} connection(s) per worker, until {} messages are sent",
                        w.rate, w.parallel, a.warm_up_count
                    );
                }
                match client::fixed_rate(&w, quiet, &run::interrupted) {
                    Ok(v) if v.interrupted => return report_fixed(&v),
                    Ok(v) if !v.success => {
                        eprintln!("allegro: the warm-up failed: {}", v.reasons.join("; "));
                        return EXIT_FAILED;
                    }
                    Ok(_) => std::thread::sleep(std::time::Duration::from_secs(1)), // cool-down
                    Err(e) => {
                        eprintln!("allegro: warm-up: {e}");
                        return EXIT_FAILED;
                    }
                }
            }
            return match client::fixed_rate(&t, quiet, &run::interrupted) {
                Ok(v) => {
                    let xunit = write_xunit(common, "fixed-rate", 0, &v.cases, v.seconds);
                    if !common.no_report {
                        report::html::write_into(&v.dir, common.quiet);
                    }
                    let code = report_fixed(&v);
                    if code == EXIT_OK && !xunit {
                        EXIT_FAILED
                    } else {
                        code
                    }
                }
                Err(e) => {
                    eprintln!("allegro: {e}");
                    EXIT_FAILED
                }
            };
        }
        cli::TestKind::Incremental(a) => client::Steps {
            initial_rate: a.initial_rate,
            ceiling_rate: a.ceiling_rate,
            rate_increment: a.rate_increment,
            initial_parallel: a.parallel.initial_parallel_count,
            ceiling_parallel: a.parallel.ceiling_parallel_count,
            parallel_increment: a.parallel.parallel_count_increment,
        },
        cli::TestKind::FairIncremental(a) => {
            let size = match base.size {
                allegro_engine::plan::MessageSize::Fixed(n) => n,
                allegro_engine::plan::MessageSize::Variable(_) => {
                    eprintln!("allegro: a fair incremental test needs a fixed message size (no ~)");
                    return EXIT_USAGE;
                }
            };
            let p = &a.parallel;
            client::Steps::fair(
                a.combined_initial_rate,
                a.combined_ceiling_rate,
                a.steps,
                size,
                (
                    p.initial_parallel_count,
                    p.ceiling_parallel_count,
                    p.parallel_count_increment,
                ),
            )
        }
    };
    if steps.initial_rate == 0 || steps.initial_rate > steps.ceiling_rate {
        eprintln!("allegro: the initial rate must be above 0 and at most the ceiling rate");
        return EXIT_USAGE;
    }
    let suite = match kind {
        cli::TestKind::FixedRate(_) => "fixed-rate",
        cli::TestKind::Incremental(_) => "incremental",
        cli::TestKind::FairIncremental(_) => "fair-incremental",
    };
    let ran = client::incremental(&base, &steps, quiet, &run::interrupted);
    if let Ok(all) = &ran {
        let written = all
            .iter()
            .enumerate()
            .all(|(k, s)| write_xunit(common, suite, k, &s.cases, s.seconds));
        if !written {
            return EXIT_FAILED;
        }
    }
    match ran {
        Ok(all) if all.last().is_some_and(|s| s.interrupted) => {
            eprintln!("allegro: interrupted; the workers were stopped and their roles taken back");
            EXIT_INTERRUPTED
        }
        Ok(all) => {
            for s in &all {
                println!(
                    "step {:>8} msg/s x {:>3} connection(s): {}",
                    s.rate,
                    s.parallel,
                    if s.success {
                        "passed".to_string()
                    } else {
                        format!("failed: {}", s.reasons.join("; "))
                    }
                );
            }
            match all.iter().rev().find(|s| s.success) {
                Some(best) => {
                    println!(
                        "highest rate that passed: {} msg/s per connection with {} connection(s)",
                        best.rate, best.parallel
                    );
                    EXIT_OK
                }
                None => {
                    eprintln!(
                        "allegro: no step passed: {}",
                        all.first()
                            .map(|s| s.reasons.join("; "))
                            .unwrap_or_default()
                    );
                    EXIT_FAILED
                }
            }
        }
        Err(e) => {
            eprintln!("allegro: {e}");
            EXIT_FAILED
        }
    }
}

/// Writes the xUnit file asked for (`--xunit`, or `--xunit-dir`/TEST_XUNIT_DIR with
/// `<test>-0-<iteration>.xml` or TEST_XUNIT_NAME); false when it could not be written.
fn write_xunit(
    common: &cli::TestArgs,
    suite: &str,
    iteration: usize,
    cases: &[allegro_maestro::xunit::Case],
    seconds: f64,
) -> bool {
    let path = match (&common.xunit, &common.xunit_dir) {
        (Some(f), _) => f.clone(),
        (None, Some(dir)) => dir.join(match &common.xunit_name {
            Some(n) => format!("{n}.xml"),
            None => format!("{suite}-0-{iteration}.xml"),
        }),
        (None, None) => return true,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let _ = std::fs::create_dir_all(dir);
    }
    match std::fs::write(&path, allegro_maestro::xunit::report(suite, cases, seconds)) {
        Ok(()) => true,
        Err(e) => {
            eprintln!(
                "allegro: cannot write the xUnit file {}: {e}",
                path.display()
            );
            false
        }
    }
}

fn report_fixed(v: &client::Verdict) -> i32 {
    if v.interrupted {
        println!("results {}", v.dir.display());
        eprintln!("allegro: interrupted; the workers were stopped and their roles taken back");
        return EXIT_INTERRUPTED;
    }
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

/// `allegro report`: prints the rendering; 1 when files were missing or damaged (the rest is
/// printed all the same), 2 when nothing could be read or the comparison was refused.
fn report(a: cli::ReportArgs) -> i32 {
    use crate::report as r;
    let say = |text: &str| {
        let mut out = std::io::stdout().lock();
        let _ = std::io::Write::write_all(&mut out, text.as_bytes());
    };
    // A page goes to its file, whose path is printed; false when it could not be written.
    let page = |path: &std::path::Path, html: String| match std::fs::write(path, html) {
        Ok(()) => {
            say(&format!("{}\n", path.display()));
            true
        }
        Err(e) => {
            eprintln!("allegro: report: cannot write {}: {e}", path.display());
            false
        }
    };
    // Every problem met on the way is named; any makes the status 1.
    let finish = |problems: &[&String]| {
        for p in problems {
            eprintln!("allegro: report: {p}");
        }
        if problems.is_empty() {
            EXIT_OK
        } else {
            EXIT_FAILED
        }
    };
    if let Some(cli::ReportCommand::Compare(c)) = a.compare {
        let mut loaded = Vec::new();
        for d in &c.dirs {
            match r::Report::load(d) {
                Ok(rep) => loaded.push(rep),
                Err(e) => {
                    eprintln!("allegro: report: {e}");
                    return EXIT_USAGE;
                }
            }
        }
        let figures: Vec<_> = loaded.iter().map(r::compare::figures).collect();
        let differ = r::compare::differences(&figures);
        if !differ.is_empty() && !c.anyway {
            eprintln!(
                "allegro: report compare: these results measured different things ({}); --anyway compares them all the same",
                differ.join("; ")
            );
            return EXIT_USAGE;
        }
        match c.format {
            cli::CompareFormat::Text => say(&r::compare::text(&figures)),
            cli::CompareFormat::Json => say(&format!(
                "{}\n",
                serde_json::to_string_pretty(&r::compare::json(&figures)).unwrap_or_default()
            )),
            cli::CompareFormat::Html => {
                let path = c.out.unwrap_or_else(|| "compare.html".into());
                if !page(&path, r::compare::html(&figures)) {
                    return EXIT_FAILED;
                }
            }
        }
        let problems: Vec<&String> = loaded.iter().flat_map(|l| &l.problems).collect();
        return finish(&problems);
    }
    let Some(dir) = a.dir else {
        eprintln!("allegro: report: give a results directory (e.g. results/last), or compare A B");
        return EXIT_USAGE;
    };
    let rep = match r::Report::load(&dir) {
        Ok(rep) => rep,
        Err(e) => {
            eprintln!("allegro: report: {e}");
            return EXIT_USAGE;
        }
    };
    match a.format {
        cli::ReportFormat::Text => say(&r::render::text(&rep)),
        cli::ReportFormat::Json => say(&format!(
            "{}\n",
            serde_json::to_string_pretty(&r::render::json(&rep)).unwrap_or_default()
        )),
        cli::ReportFormat::Csv => say(&r::render::csv(&rep)),
        cli::ReportFormat::Html => {
            let path = a.out.unwrap_or_else(|| dir.join("report.html"));
            if !page(&path, r::html::html(&rep)) {
                return EXIT_FAILED;
            }
        }
    }
    finish(&rep.problems.iter().collect::<Vec<_>>())
}
