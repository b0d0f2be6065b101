//! `allegro run URL`: senders and receivers in one process against a broker.

use crate::cli::{Output, RunArgs};
use crate::output;
use crate::results::{self, ResultsDir};
use allegro_engine::clock::{Clock, Nanos};
use allegro_engine::engine::Engine;
use allegro_engine::metrics::{Exporter, Renderer};
use allegro_engine::placement::{self, Placement, Policy};
use allegro_engine::plan::{
    self, Amqp091Options, Amqp091Target, AmqpOptions, LoadShape, MqttOptions, Plan, ProtocolPlan,
    RunIdentity, StompOptions,
};
use allegro_engine::run::{self, Observer, Outcome, Status, Totals};
use allegro_engine::runtime::Backend;
use allegro_engine::stats::{Counters, Histograms};
use allegro_engine::url::Scheme;
use allegro_wire::mqtt::Protocol;
use serde_json::{json, Value};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// What is wrong with a run's options (exit status 2), in one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadInput(pub String);

impl std::fmt::Display for BadInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadInput {}

/// A run, fully resolved.
#[derive(Debug, Clone)]
pub struct RunConfig {
    pub plan: Plan,
    pub placement: Placement,
    pub backend: Option<Backend>,
    pub results: PathBuf,
    pub output: Output,
    pub quiet: bool,
    /// How TLS connections verify the broker (for the banner), when the URL asks for TLS.
    pub tls: Option<allegro_engine::tls::TlsOptions>,
    /// Write `report.html` into the run's directory at the end.
    pub report: bool,
    /// `--metrics`: where to serve live metrics, and how long to keep serving after the run.
    pub metrics: Option<std::net::SocketAddr>,
    pub metrics_linger: Nanos,
}

impl RunConfig {
    /// Resolves the placement and builds the plan; errors are bad input.
    pub fn from_args(a: RunArgs) -> Result<Self, BadInput> {
        let policy = match (a.cores, a.numa_node) {
            (Some(c), _) => Policy::Cores(c.0),
            (None, Some(n)) => Policy::Node(n),
            (None, None) => Policy::AllCores,
        };
        let allowed = placement::allowed_cpus().ok();
        let placement = placement::resolve(&policy, Path::new("/"), allowed.as_deref())
            .map_err(|e| BadInput(e.to_string()))?;
        let peer = a.url.is_none();
        let url = match a.url {
            Some(u) => u.parse::<allegro_engine::url::Url>().map_err(|e| {
                BadInput(format!(
                    "bad URL '{}': {e}",
                    allegro_engine::url::redact(&u)
                ))
            })?,
            // The port is chosen when the loopback receiver starts listening.
            None => "amqp://127.0.0.1:1/allegro"
                .parse::<allegro_engine::url::Url>()
                .map_err(|e| BadInput(e.to_string()))?,
        };
        let url_tls = url.tls.then(|| url.host.clone());
        let url_tls_options = url.tls.then(|| a.tls.options());
        // One pair per shard peer to peer: a receiver's work per message is several times its
        // sender's, so a single pair leaves the sending core half idle.
        let parallel = a.parallel.unwrap_or(if peer && a.rate == 0 {
            placement.cpus.len().try_into().unwrap_or(1)
        } else {
            1
        });
        let receivers = if peer { parallel } else { a.receivers };
        if parallel == 0 && (peer || receivers == 0) {
            return Err(BadInput(if peer {
                "--parallel 0 needs a broker URL (peer to peer, Allegro's senders are the load)"
                    .into()
            } else {
                "--parallel 0 with --receivers 0 would do nothing".into()
            }));
        }
        if peer && a.reconnect.is_some() {
            return Err(BadInput(
                "--reconnect applies to a broker's connections (peer to peer there is none to lose)"
                    .into(),
            ));
        }
        if peer && a.receivers != 1 {
            return Err(BadInput(
                "--receivers does not apply peer to peer (each sender gets its own receiver)"
                    .into(),
            ));
        }
        let protocol = match url.scheme {
            Scheme::Amqp if peer => ProtocolPlan::Amqp(AmqpOptions {
                credit: plan::PEER_CREDIT,
                inflight: u32::from(a.inflight),
                ..AmqpOptions::default()
            }),
            Scheme::Amqp => ProtocolPlan::Amqp(AmqpOptions {
                inflight: u32::from(a.inflight),
                ..AmqpOptions::from_options(&url.options).map_err(|e| BadInput(e.to_string()))?
            }),
            Scheme::Amqp091 => ProtocolPlan::Amqp091(Amqp091Options {
                inflight: u32::from(a.inflight),
                ..Amqp091Options::from_options(&url.options).map_err(|e| BadInput(e.to_string()))?
            }),
            Scheme::Stomp => ProtocolPlan::Stomp(StompOptions {
                inflight: u32::from(a.inflight),
                ..StompOptions::from_options(&url.options).map_err(|e| BadInput(e.to_string()))?
            }),
            Scheme::Mqtt => {
                let topic = url.path.trim_start_matches('/');
                if parallel > 0 && topic.contains(['#', '+']) {
                    return Err(BadInput(format!(
                        "MQTT topic '{topic}' has a wildcard: senders publish to one topic (a receive-only run, --parallel 0, may subscribe to one)"
                    )));
                }
                if let Some((k, _)) = url.options.first() {
                    return Err(BadInput(format!(
                        "unknown URL option '{k}' (MQTT URLs take none)"
                    )));
                }
                ProtocolPlan::Mqtt(MqttOptions {
                    protocol: a.mqtt_version,
                    qos: a.qos,
                    keep_alive_secs: a.keep_alive,
                    inflight: a.inflight,
                })
            }
        };
        let spread = loopback_spread(&url.host, u64::from(parallel) + u64::from(receivers));
        let plan = Plan {
            url,
            shape: LoadShape {
                rate: a.rate,
                parallel,
                receivers,
                size: a.size,
                duration: a.duration,
                warmup: a.warmup,
            },
            protocol,
            peer,
            run: {
                let instance = run_id();
                RunIdentity {
                    run: a.run_id.unwrap_or(instance),
                    sender: instance,
                    // Receivers of a receive-only run get their messages from other
                    // processes: without the run's id they cannot tell which are stale.
                    filter: a.run_id.is_some() || parallel > 0 || peer,
                }
            },
            tls: match url_tls {
                Some(host) => Some(
                    allegro_engine::tls::TlsClient::new(&a.tls.options(), &host)
                        .map_err(BadInput)?,
                ),
                None => None,
            },
            stall_timeout: a.stall_timeout,
            connect_timeout: a.connect_timeout,
            reconnect: a.reconnect,
            connect_rate: a.connect_rate,
            source_addrs: match &a.source_addrs {
                Some(list) => list.0.clone(),
                None => spread,
            },
            drain_idle: a.drain_idle,
            rx_coalesce: a.rx_coalesce,
        };
        if let (plan::TestDuration::Time(d), true) = (a.duration, a.warmup > 0) {
            if a.warmup >= d {
                return Err(BadInput(format!(
                    "the warm-up ({}) is not shorter than the duration ({}): no latency would be recorded",
                    plan::format_duration(a.warmup),
                    plan::format_duration(d)
                )));
            }
        }
        let mqtt_set = a.qos != allegro_wire::mqtt::QoS::AtMostOnce
            || a.mqtt_version != Protocol::V311
            || a.keep_alive != 30;
        if mqtt_set && plan.protocol.mqtt().is_none() {
            eprintln!(
                "allegro: --qos, --mqtt-version and --keep-alive apply to MQTT; this {} run ignores them",
            plan.url.scheme.as_str()
            );
        }
        // Every connection is a descriptor (two peer to peer: the accepted end too): refuse up
        // front what the open-files limit cannot hold, once the soft limit is raised.
        let connections = u64::from(plan.shape.parallel) * if peer { 2 } else { 1 }
            + u64::from(if peer { 0 } else { plan.shape.receivers });
        // CPUs left to Allegro: a paced load gets the shards its rate needs.
        let placement = match policy {
            Policy::AllCores => placement.fitted(plan.shape.total_rate()),
            _ => placement,
        };
        let needed =
            allegro_engine::sys::descriptors_needed(connections, placement.cpus.len() as u64);
        let limit = allegro_engine::sys::raise_open_files_limit().unwrap_or(u64::MAX);
        if needed > limit {
            return Err(BadInput(format!(
                "{connections} connections need about {needed} open files, above this process's limit of {limit} (raise it with ulimit -n or in /etc/security/limits.conf)"
            )));
        }
        Ok(RunConfig {
            plan,
            placement,
            backend: a.backend,
            results: a.results,
            metrics: a.metrics,
            metrics_linger: a.metrics_linger,
            report: !a.no_report,
            output: a.output,
            quiet: a.quiet,
            tls: url_tls_options,
        })
    }

    /// The resolved configuration as JSON (also the `config` member of the summary).
    pub fn to_json(&self, o: &Outcome) -> Value {
        let p = &self.plan;
        let s = &p.shape;
        // The summary's MQTT fields keep their defaults on an AMQP run.
        let mqtt = p.protocol.mqtt().copied().unwrap_or_default();
        json!({
            "mode": if p.peer { "peer" } else { "broker" },
            "url": if p.peer { format!("amqp://{}/allegro", o.addr) } else { p.url.to_string() },
            "protocol": p.url.scheme.as_str(),
            "mqtt_version": if mqtt.protocol == Protocol::V5 { "5.0" } else { "3.1.1" },
            "qos": mqtt.qos as u8,
            "rate": s.rate,
            "parallel": s.parallel,
            "receivers": s.receivers,
            "size": s.size.to_string(),
            "duration": s.duration.to_string(),
            "warmup_ms": s.warmup / 1_000_000,
            "inflight": p.protocol.inflight(),
            "rx_coalesce_us": p.rx_coalesce / 1_000,
            "cores": self.placement.cpus,
            "numa_nodes": self.placement.nodes,
            "backend": o.backend.to_string(),
            "backend_fallback": o.fallback,
            "broker_address": o.addr.to_string(),
            "run_id": format!("{:08x}", p.run.run),
            "sender_id": format!("{:08x}", p.run.sender),
            "stale_filter": p.run.filter,
            "tls": p.tls.is_some(),
            "reconnect_s": p.reconnect.map(|w| w as f64 / 1e9),
            "connect_rate": p.connect_rate,
            "source_addrs": p.source_addrs.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
        })
    }

    fn describe(&self) -> String {
        let p = &self.plan;
        let s = &p.shape;
        let rate = if s.rate == 0 {
            "unbounded".to_string()
        } else {
            format!("{}/s per connection", output::count(s.rate))
        };
        let protocol = match &p.protocol {
            ProtocolPlan::Mqtt(m) => format!(
                "mqtt      {} QoS {}, keep-alive {}s, inflight {}",
                if m.protocol == Protocol::V5 {
                    "5.0"
                } else {
                    "3.1.1"
                },
                m.qos as u8,
                m.keep_alive_secs,
                m.inflight
            ),
            ProtocolPlan::Amqp(a) => format!(
                "amqp      1.0 address {}, {}, receiver credit {}",
                plan::amqp_address(&p.url.path),
                if a.presettled {
                    "pre-settled".to_string()
                } else {
                    format!("unsettled (at most {} in flight)", a.inflight)
                },
                a.credit
            ),
            ProtocolPlan::Stomp(o) => format!(
                "stomp     1.2 destination {}, {}, ack {}, prefetch {}{}",
                plan::stomp_destination(&p.url.path),
                match o.receipt_every {
                    0 => "receipts off".to_string(),
                    1 => format!("a receipt per message (at most {} unconfirmed)", o.inflight),
                    n => format!(
                        "a receipt every {n} messages (at most {} unconfirmed)",
                        o.inflight
                    ),
                },
                o.ack.as_str(),
                o.prefetch,
                if o.persistent { ", persistent" } else { "" }
            ),
            ProtocolPlan::Amqp091(o) => format!(
                "amqp091   {}, {}, {} ack{}{}",
                Amqp091Target::from_path(&p.url.path),
                if o.confirm {
                    format!("publisher confirms (at most {} unconfirmed)", o.inflight)
                } else {
                    "no confirms".to_string()
                },
                if o.manual_ack {
                    format!("manual (prefetch {})", o.prefetch)
                } else {
                    "auto".to_string()
                },
                if o.passive {
                    ", passive"
                } else if o.durable {
                    ", durable"
                } else {
                    ""
                },
                if o.persistent { ", persistent" } else { "" }
            ),
        };
        format!(
            "allegro run {}\n  load      {} sender(s), {} receiver(s), rate {rate}, size {}, duration {}{}\n  {protocol}{}\n  receive   {}{}{}\n  run id    {:08x} ({})\n  cores     {:?}\n  results   {}",
            if p.peer { "(peer to peer: AMQP 1.0 into Allegro's own loopback receiver)".to_string() } else { p.url.to_string() },
            s.parallel,
            s.receivers,
            s.size,
            s.duration,
            if s.warmup > 0 { format!(", warm-up {}", plan::format_duration(s.warmup)) } else { String::new() },
            match &self.tls {
                Some(t) => format!("\n  tls       {}{}{}",
                    match (&t.ca_file, t.insecure) {
                        (_, true) => "the broker's certificate NOT verified (--tls-insecure)".to_string(),
                        (Some(ca), false) => format!("verified against {}", ca.display()),
                        (None, false) => "verified against the system's CA certificates".to_string(),
                    },
                    t.server_name.as_deref().map(|n| format!(" as {n}")).unwrap_or_default(),
                    t.cert_file.as_ref().map(|c| format!(", client certificate {}", c.display())).unwrap_or_default(),
                ),
                None => String::new(),
            },
            if p.rx_coalesce > 0 {
                format!(
                    "coalesced over {} from {} messages up to {} KiB per window (a message is read at most that late)",
                    plan::format_duration(p.rx_coalesce),
                    allegro_engine::pump::COALESCE_FROM,
                    allegro_engine::pump::COALESCE_UP_TO / 1024
                )
            } else {
                "every read as bytes arrive".to_string()
            },
            match (&p.connect_rate, p.source_addrs.as_slice()) {
                (None, []) => String::new(),
                (rate, addrs) => format!(
                    "\n  connect   {}{}",
                    rate.map(|r| format!("{r}/s")).unwrap_or_else(|| "as fast as the broker takes them".into()),
                    match addrs {
                        [] => String::new(),
                        [one] => format!(", from {one}"),
                        [first, .., last] => format!(", from {} addresses ({first} .. {last})", addrs.len()),
                    }
                ),
            },
            match p.reconnect {
                Some(w) => format!(
                    "\n  reconnect lost connections are made again for up to {} each (back-off {}..{})",
                    plan::format_duration(w),
                    plan::format_duration(allegro_engine::shard::conn::BACKOFF_FIRST),
                    plan::format_duration(allegro_engine::shard::conn::BACKOFF_MAX)
                ),
                None => String::new(),
            },
            p.run.run,
            if p.run.filter {
                "messages of other runs are counted apart as stale"
            } else {
                "messages of every run are counted: give --run-id to tell them apart"
            },
            self.placement.cpus,
            self.results.display(),
        )
    }
}

fn run_id() -> u32 {
    let t = Clock::new().now() as u64;
    let mix = t ^ (u64::from(std::process::id()) << 32) ^ (t >> 29);
    (mix.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as u32
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// True once SIGINT, SIGTERM or SIGHUP arrived.
pub(crate) fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::Relaxed)
}

/// A second SIGINT or SIGTERM ends the process at once (exit status 130).
static EXIT_ON_SECOND: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigint(_: libc::c_int) {
    if INTERRUPTED.swap(true, Ordering::Relaxed) && EXIT_ON_SECOND.load(Ordering::Relaxed) {
        // SAFETY: _exit is async-signal-safe; nothing is left to flush that a second Ctrl-C
        // did not ask to abandon.
        unsafe { libc::_exit(crate::EXIT_INTERRUPTED) };
    }
}

/// After this, a second SIGINT or SIGTERM exits at once.
pub(crate) fn exit_on_second_sigint() {
    EXIT_ON_SECOND.store(true, Ordering::Relaxed);
}

pub(crate) fn catch_sigint() {
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, on_sigint as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_sigint as *const () as libc::sighandler_t);
        // A closed ssh session: stop as for Ctrl-C, with the results written.
        libc::signal(libc::SIGHUP, on_sigint as *const () as libc::sighandler_t);
    }
}

/// Live progress, the interval log and the live metrics, fed by the engine once a second.
struct Progress<'a> {
    live: bool,
    metrics: Option<(Exporter, Renderer)>,
    results: Option<&'a mut ResultsDir>,
    began: Nanos,
    prev: Counters,
    prev_at: Nanos,
    log_error: Option<String>,
}

impl Observer for Progress<'_> {
    fn started(&mut self, engine: &Engine) {
        if let Some(why) = &engine.fallback {
            eprintln!("allegro: io_uring unavailable ({why}); using the epoll backend");
        }
    }

    fn interval(&mut self, now: Nanos, totals: &Totals, interval: &Histograms) {
        let c = totals.counters();
        if self.live {
            let line = output::progress(
                now - self.began,
                &self.prev,
                &c,
                now - self.prev_at,
                interval,
                totals,
            );
            eprintln!("{line}");
        }
        self.prev = c;
        self.prev_at = now;
        if let Some((e, r)) = &mut self.metrics {
            e.publish(r.render(totals, now));
        }
        if let Some(r) = self.results.as_deref_mut() {
            if let Err(e) = r.write_interval(now, interval) {
                self.log_error
                    .get_or_insert(format!("cannot write the latency log: {e}"));
            }
            if let Err(e) = r.write_rates(&totals.seconds, totals.complete_before(now)) {
                self.log_error
                    .get_or_insert(format!("cannot write the rate file: {e}"));
            }
        }
    }

    fn finished(&mut self, totals: &Totals) {
        // Every shard has reported every second: the rest of them.
        let last = totals.seconds.keys().next_back().copied();
        if let (Some(r), Some(last)) = (self.results.as_deref_mut(), last) {
            if let Err(e) = r.write_rates(&totals.seconds, last) {
                self.log_error
                    .get_or_insert(format!("cannot write the rate file: {e}"));
            }
        }
    }
}

/// Runs the test and prints the report; returns the exit status.
pub fn run(cfg: &RunConfig) -> i32 {
    catch_sigint();
    let clock = Clock::new();
    let began = clock.now();
    match cfg.output {
        Output::Text => say(&format!("{}\n", cfg.describe())),
        Output::Json => eprintln!("{}", cfg.describe()),
    }
    let exporter = match cfg.metrics.map(Exporter::serve) {
        Some(Ok(e)) => {
            if cfg.output == Output::Text {
                say(&format!("  metrics   http://{}/metrics\n", e.addr()));
            }
            Some(e)
        }
        Some(Err(e)) => {
            eprintln!(
                "allegro: cannot serve metrics on {}: {e}",
                cfg.metrics.map(|a| a.to_string()).unwrap_or_default()
            );
            return crate::EXIT_USAGE;
        }
        None => None,
    };
    let mut dir = match results::create(&cfg.results, began) {
        Ok(d) => Some(d),
        Err(e) => {
            eprintln!(
                "allegro: cannot create a results directory under {}: {e}",
                cfg.results.display()
            );
            return crate::EXIT_FAILED;
        }
    };
    let mut progress = Progress {
        live: !cfg.quiet && std::io::stderr().is_terminal(),
        metrics: exporter.clone().map(|e| {
            let info = vec![
                ("run_id".to_string(), format!("{:08x}", cfg.plan.run.run)),
                (
                    "protocol".to_string(),
                    cfg.plan.url.scheme_name().to_string(),
                ),
            ];
            (e, Renderer::new(info))
        }),
        results: dir.as_mut(),
        began,
        prev: Counters::default(),
        prev_at: began,
        log_error: None,
    };
    let outcome = run::execute(
        Arc::new(cfg.plan.clone()),
        &cfg.placement,
        cfg.backend,
        clock,
        &INTERRUPTED,
        &mut progress,
    );
    let log_error = progress.log_error.take();
    // A run that could not start is reported like any failed run: a whole summary.
    let mut outcome = outcome.unwrap_or_else(|e| {
        run::Outcome::failed_to_start(cfg.backend, began, clock.now(), e.to_string())
    });
    if let Some(e) = log_error {
        // What was measured is not all on disk: the run did not complete.
        outcome.totals.errors.push(e);
        if outcome.status == Status::Completed {
            outcome.status = Status::Failed;
        }
    }
    let path = dir.as_ref().map(|d| d.path.clone());
    let mut summary = output::summary(cfg, &outcome, path.as_deref());
    summary["process"] = process_usage();
    summary["host"] = host_facts(outcome.addr);
    let mut summary_lost = false;
    if let Some(d) = &dir {
        if let Err(e) = d.write_summary(&summary) {
            eprintln!(
                "allegro: cannot write {}: {e}",
                d.path.join(results::SUMMARY).display()
            );
            summary_lost = true;
        }
    }
    if let (Some(d), true, false) = (&dir, cfg.report, summary_lost) {
        crate::report::html::write_into(&d.path, cfg.quiet);
    }
    match cfg.output {
        Output::Text => say(&output::text(cfg, &outcome, path.as_deref())),
        Output::Json => say(&format!(
            "{}\n",
            serde_json::to_string_pretty(&summary).unwrap_or_default()
        )),
    }
    if outcome.status == Status::Failed {
        if let Some(e) = outcome.totals.errors.first() {
            eprintln!("allegro: run failed: {e}");
        }
    }
    if let (Some(_), false) = (&exporter, interrupted()) {
        // The last values stay up for the last scrape (a signal ends the wait).
        let until = clock.now() + cfg.metrics_linger;
        while clock.now() < until && !interrupted() {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    match outcome.status {
        // A run whose summary could not be written lost its results.
        Status::Completed if summary_lost => crate::EXIT_FAILED,
        Status::Completed => crate::EXIT_OK,
        Status::Failed => crate::EXIT_FAILED,
        Status::Interrupted => crate::EXIT_INTERRUPTED,
    }
}

/// Writes `text` to stdout. A reader that went away (`| head`) or a full stdout must not end
/// the run or cost its results: the results directory holds them, so such errors are ignored.
fn say(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

/// The worker's summary hook: Allegro's `summary.json` for a run a Maestro worker made, in its
/// test directory.
pub fn write_worker_summary(plan: &Plan, placement: &Placement, o: &Outcome, dir: &Path) {
    let cfg = RunConfig {
        plan: plan.clone(),
        placement: placement.clone(),
        backend: None,
        results: dir.to_path_buf(),
        output: Output::Json,
        quiet: true,
        tls: None,
        metrics: None,
        metrics_linger: 0,
        report: false,
    };
    let mut summary = output::summary(&cfg, o, Some(dir));
    summary["host"] = host_facts(o.addr);
    if let Err(e) = std::fs::write(
        dir.join("summary.json"),
        serde_json::to_string_pretty(&summary).unwrap_or_default(),
    ) {
        eprintln!(
            "allegro worker: cannot write summary.json in {}: {e}",
            dir.display()
        );
    }
}

/// Source addresses for `connections` to a broker on loopback when one address's ephemeral
/// ports (`ip_local_port_range`) would not reach: 127.0.0.1, 127.0.0.2, … as many as needed.
/// Empty when one address does, or the broker is elsewhere.
fn loopback_spread(host: &str, connections: u64) -> Vec<std::net::IpAddr> {
    let on_loopback = host == "localhost"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback());
    let ports = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| {
            let mut it = r.split_whitespace().map(|n| n.parse::<u64>().ok());
            Some(it.next()??.abs_diff(it.next()??) + 1)
        })
        .unwrap_or(28_232);
    if !on_loopback {
        return Vec::new();
    }
    loopback_addrs(connections, ports)
}

/// 127.0.0.1, 127.0.0.2, … enough for `connections` at nine tenths of `ports` each (a tenth is
/// left to whatever else on the host connects); none when one address's ports suffice.
fn loopback_addrs(connections: u64, ports: u64) -> Vec<std::net::IpAddr> {
    if connections <= ports {
        return Vec::new();
    }
    let per_addr = (ports * 9 / 10).max(1);
    (1..=connections.div_ceil(per_addr).min(250) as u8)
        .map(|i| std::net::IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, i)))
        .collect()
}

/// The machine and its way to the broker, as the summary has them.
fn host_facts(broker: std::net::SocketAddr) -> Value {
    let h = allegro_engine::host::host(broker);
    json!({
        "hostname": h.hostname,
        "kernel": h.kernel,
        "cpus_online": h.cpus_online,
        "cpus_allowed": h.cpus_allowed,
        "container": h.container,
        "network": {
            "local_addr": h.network.local_addr.map(|a| a.to_string()),
            "interface": h.network.interface,
            "loopback": h.network.loopback,
            "container_mode": h.network.container_mode,
        },
    })
}

/// This process's CPU time (user + system, every thread) and peak resident memory so far.
fn process_usage() -> Value {
    // SAFETY: a zeroed rusage is valid, and getrusage fills it for this process.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a valid, writable rusage.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return Value::Null;
    }
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    json!({
        "cpu_s": ((tv(ru.ru_utime) + tv(ru.ru_stime)) * 1e3).round() / 1e3,
        "max_rss_kib": ru.ru_maxrss,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn loopback_connections_spread_once_one_address_runs_out_of_ports() {
        assert!(super::loopback_addrs(19_900, 28_232).is_empty());
        let addrs = super::loopback_addrs(100_000, 28_232);
        assert_eq!(addrs.len(), 4);
        assert_eq!(addrs[3].to_string(), "127.0.0.4");
    }
}
