//! What a run reports: the summary (JSON, schema in `docs/summary.schema.json`), the final text
//! table per shard and in total, and the live progress line.

use crate::run::RunConfig;
use allegro_engine::clock::{Nanos, NANOS_PER_SEC};
use allegro_engine::run::{Outcome, ShardTotals, Status, Totals};
use allegro_engine::stats::{Counters, Histograms};
use hdrhistogram::Histogram;
use serde_json::{json, Value};
use std::fmt::Write as _;

/// Quantiles reported for every histogram.
pub const QUANTILES: [(&str, f64); 5] = [
    ("p50", 0.5),
    ("p90", 0.9),
    ("p99", 0.99),
    ("p99.9", 0.999),
    ("p99.99", 0.9999),
];

/// Schema version of `summary.json`.
pub const SUMMARY_VERSION: u32 = 1;

pub fn latency(h: &Histogram<u64>) -> Value {
    let mut m = serde_json::Map::new();
    m.insert("count".into(), json!(h.len()));
    if h.is_empty() {
        return Value::Object(m);
    }
    m.insert("min".into(), json!(h.min()));
    m.insert("mean".into(), json!((h.mean() * 10.0).round() / 10.0));
    for (name, q) in QUANTILES {
        m.insert(name.into(), json!(h.value_at_quantile(q)));
    }
    m.insert("max".into(), json!(h.max()));
    Value::Object(m)
}

pub fn latencies(h: &Histograms) -> Value {
    json!({
        "service": latency(&h.service),
        "corrected": latency(&h.corrected),
        "send_delay": latency(&h.send_delay),
    })
}

/// Rates achieved: senders over their schedule, receivers from first to last arrival.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rates {
    pub send: f64,
    pub receive: f64,
}

fn rates(
    rate: u64,
    t0: Option<Nanos>,
    c: &Counters,
    first_sent: Option<Nanos>,
    last_sent: Option<Nanos>,
    first_rx: Option<Nanos>,
    last_rx: Option<Nanos>,
) -> Rates {
    let per_sec = |n: u64, from: Option<Nanos>, to: Option<Nanos>, pad: Nanos| match (from, to) {
        (Some(a), Some(b)) if b + pad > a => n as f64 * NANOS_PER_SEC as f64 / (b + pad - a) as f64,
        _ => 0.0,
    };
    // A paced schedule of N messages spans N periods from t0; an unbounded one spans from its
    // first write to its last.
    let send = if rate > 0 {
        per_sec(
            c.sent,
            t0.or(first_sent),
            last_sent,
            NANOS_PER_SEC / rate as i64,
        )
    } else {
        per_sec(c.sent, first_sent, last_sent, 0)
    };
    let receive = per_sec(c.received, first_rx, last_rx, 0);
    Rates { send, receive }
}

/// Messages the receivers should have had: every receiver gets every message on an MQTT topic;
/// receivers share them on an AMQP queue and peer to peer.
pub fn expected_received(cfg: &RunConfig, c: &Counters) -> u64 {
    cfg.plan.expected_deliveries(c.sent)
}

/// Messages that never arrived: the larger of the gaps seen and what is missing at the end.
pub fn lost(cfg: &RunConfig, c: &Counters) -> u64 {
    if cfg.plan.shape.receivers == 0 {
        return 0;
    }
    let unique = c.received.saturating_sub(c.duplicated);
    c.lost.max(expected_received(cfg, c).saturating_sub(unique))
}

fn status_str(s: &Status) -> &'static str {
    match s {
        Status::Completed => "completed",
        Status::Failed => "failed",
        Status::Interrupted => "interrupted",
    }
}

fn shard_json(cfg: &RunConfig, t0: Option<Nanos>, s: &ShardTotals) -> Value {
    let r = rates(
        cfg.plan.shape.rate,
        t0,
        &s.counters,
        s.first_sent,
        s.last_sent,
        s.first_received,
        s.last_received,
    );
    json!({
        "shard": s.shard,
        "cpu": s.cpu,
        "sent": s.counters.sent,
        "acked": s.counters.acked,
        "received": s.counters.received,
        "send_rate": r.send.round(),
        "receive_rate": r.receive.round(),
        "errors": s.counters.errors,
        "connections": {
            "done": s.conns.done, "failed": s.conns.failed,
        },
        "latency_us": latencies(&s.histograms),
    })
}

/// The summary of a run, as written to `summary.json` and printed by `--output json`.
pub fn summary(cfg: &RunConfig, o: &Outcome, results: Option<&std::path::Path>) -> Value {
    let t = &o.totals;
    let c = t.counters();
    let shape = &cfg.plan.shape;
    let r = rates(
        shape.rate,
        o.t0,
        &c,
        t.first_sent(),
        t.last_sent(),
        t.first_received(),
        t.last_received(),
    );
    let requested = shape.rate * u64::from(shape.parallel);
    let short = requested > 0 && r.send < requested as f64 * 0.99;
    let conns = t.conns();
    json!({
        "version": SUMMARY_VERSION,
        "allegro": env!("CARGO_PKG_VERSION"),
        "status": status_str(&o.status),
        "errors": grouped(&t.errors),
        "disconnects": grouped(&t.disconnects),
        "results_dir": results.map(|p| p.display().to_string()),
        "config": cfg.to_json(o),
        "started_at_ns": o.began,
        "elapsed_s": (o.ended - o.began) as f64 / NANOS_PER_SEC as f64,
        "totals": {
            "sent": c.sent,
            "acked": c.acked,
            "received": c.received,
            "expected_received": expected_received(cfg, &c),
            "lost": lost(cfg, &c),
            "duplicated": c.duplicated,
            "reordered": c.reordered,
            "unstamped": c.unstamped,
            "stale": c.stale,
            "unsettled": c.unsettled,
            "unconfirmed": c.unconfirmed,
            "disconnects": c.disconnects,
            "tls_sessions": { "full": c.tls_handshakes - c.tls_resumed, "resumed": c.tls_resumed },
            "reconnects": c.reconnects,
            "bytes_sent": c.bytes_sent,
            "bytes_received": c.bytes_received,
            "connection_errors": c.errors,
            "connections": { "done": conns.done, "failed": conns.failed },
            "connect_ms": {
                "count": c.connects,
                "mean": if c.connects > 0 { ((c.connect_ns_sum as f64 / c.connects as f64) / 1e4).round() / 100.0 } else { 0.0 },
                "max": (c.connect_ns_max as f64 / 1e4).round() / 100.0,
                "all_up": o.all_up.map(|t| ((t - o.began) as f64 / 1e4).round() / 100.0),
            },
            "requested_rate": requested,
            "send_rate": (r.send * 10.0).round() / 10.0,
            "receive_rate": (r.receive * 10.0).round() / 10.0,
            "rate_short": short,
        },
        "latency_us": latencies(&t.histograms()),
        "shards": t.shards.iter().map(|s| shard_json(cfg, o.t0, s)).collect::<Vec<_>>(),
    })
}

/// Errors as reported, each distinct one once in order of first arrival, with `(×N)` when it
/// came N times: 88,703 failed connections are one line, not megabytes of the same one.
pub fn grouped(errors: &[String]) -> Vec<String> {
    let mut order: Vec<(&str, u64)> = Vec::new();
    let mut seen: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for e in errors {
        match seen.get(e.as_str()) {
            Some(&i) => order[i].1 += 1,
            None => {
                seen.insert(e.as_str(), order.len());
                order.push((e, 1));
            }
        }
    }
    order
        .into_iter()
        .map(|(e, n)| {
            if n == 1 {
                e.to_owned()
            } else {
                format!("{e} (×{n})")
            }
        })
        .collect()
}

/// A number with thousands separators.
pub fn count(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// Microseconds in the most readable unit.
pub fn micros(us: u64) -> String {
    if us >= 1_000_000 {
        format!("{:.2}s", us as f64 / 1e6)
    } else if us >= 1_000 {
        format!("{:.2}ms", us as f64 / 1e3)
    } else {
        format!("{us}µs")
    }
}

fn q(h: &Histogram<u64>, quantile: f64) -> String {
    if h.is_empty() {
        "-".into()
    } else {
        micros(h.value_at_quantile(quantile))
    }
}

/// The final report as text.
pub fn text(cfg: &RunConfig, o: &Outcome, results: Option<&std::path::Path>) -> String {
    let s = summary(cfg, o, results);
    let tot = &s["totals"];
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n{:<6} {:>4} {:>12} {:>12} {:>12} {:>12} {:>9} {:>9} {:>9}",
        "shard", "cpu", "sent", "received", "send/s", "recv/s", "p50", "p99", "max"
    );
    let row = |out: &mut String, name: &str, cpu: &str, v: &Value, h: &Histogram<u64>| {
        let _ = writeln!(
            out,
            "{:<6} {:>4} {:>12} {:>12} {:>12} {:>12} {:>9} {:>9} {:>9}",
            name,
            cpu,
            count(v["sent"].as_u64().unwrap_or(0)),
            count(v["received"].as_u64().unwrap_or(0)),
            count(v["send_rate"].as_f64().unwrap_or(0.0) as u64),
            count(v["receive_rate"].as_f64().unwrap_or(0.0) as u64),
            q(h, 0.5),
            q(h, 0.99),
            if h.is_empty() {
                "-".into()
            } else {
                micros(h.max())
            },
        );
    };
    for (shard, v) in o
        .totals
        .shards
        .iter()
        .zip(s["shards"].as_array().into_iter().flatten())
    {
        // The latency columns are the corrected latency of what the shard received, as in the
        // total row; a shard that only sends shows none (its send delay is in the table below).
        row(
            &mut out,
            &shard.shard.to_string(),
            &shard.cpu.to_string(),
            v,
            &shard.histograms.corrected,
        );
    }
    let all = o.totals.histograms();
    row(&mut out, "total", "", tot, &all.corrected);
    let _ = writeln!(
        out,
        "\nlatency     {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>12}",
        "p50", "p90", "p99", "p99.9", "p99.99", "max", "count"
    );
    for (name, h) in [
        ("corrected", &all.corrected),
        ("service", &all.service),
        ("send delay", &all.send_delay),
    ] {
        let max = if h.is_empty() {
            "-".into()
        } else {
            micros(h.max())
        };
        let _ = writeln!(
            out,
            "{name:<11} {:>9} {:>9} {:>9} {:>9} {:>9} {max:>9} {:>12}",
            q(h, 0.5),
            q(h, 0.9),
            q(h, 0.99),
            q(h, 0.999),
            q(h, 0.9999),
            count(h.len())
        );
    }
    let _ = writeln!(
        out,
        "\nmessages    sent {}  received {} of {}  lost {}  duplicated {}  reordered {}",
        count(tot["sent"].as_u64().unwrap_or(0)),
        count(tot["received"].as_u64().unwrap_or(0)),
        count(tot["expected_received"].as_u64().unwrap_or(0)),
        count(tot["lost"].as_u64().unwrap_or(0)),
        count(tot["duplicated"].as_u64().unwrap_or(0)),
        count(tot["reordered"].as_u64().unwrap_or(0)),
    );
    let cm = &tot["connect_ms"];
    if cm["count"].as_u64().unwrap_or(0) > 0 {
        let _ = writeln!(
            out,
            "connect     {} connection(s) up in {} ms on average, {} ms at most (handshakes included){}",
            count(cm["count"].as_u64().unwrap_or(0)),
            cm["mean"],
            cm["max"],
            match cm["all_up"].as_f64() {
                Some(ms) if cm["count"].as_u64().unwrap_or(0) > 1 => {
                    format!("; all up {:.2} s after the start", ms / 1e3)
                }
                _ => String::new(),
            }
        );
    }
    let tls = &tot["tls_sessions"];
    let (full, resumed) = (
        tls["full"].as_u64().unwrap_or(0),
        tls["resumed"].as_u64().unwrap_or(0),
    );
    if full + resumed > 0 {
        let _ = writeln!(
            out,
            "tls         {} full handshake(s), {} resumed an earlier session",
            count(full),
            count(resumed)
        );
    }
    let (stale, unsettled) = (
        tot["stale"].as_u64().unwrap_or(0),
        tot["unsettled"].as_u64().unwrap_or(0),
    );
    if stale > 0 {
        let _ = writeln!(
            out,
            "stale       {} messages of other runs were on the broker (settled, not counted above)",
            count(stale)
        );
    }
    if unsettled > 0 {
        let _ = writeln!(
            out,
            "unsettled   {} received messages whose settlement the broker did not confirm (they may be delivered again)",
            count(unsettled)
        );
    }
    let unconfirmed = tot["unconfirmed"].as_u64().unwrap_or(0);
    if unconfirmed > 0 {
        let _ = writeln!(
            out,
            "unconfirmed {} sent messages whose acknowledgement never came (their connection was lost first)",
            count(unconfirmed)
        );
    }
    let disconnects = grouped(&o.totals.disconnects);
    if !disconnects.is_empty() {
        let _ = writeln!(
            out,
            "reconnect   {} connection(s) lost, {} made again",
            count(tot["disconnects"].as_u64().unwrap_or(0)),
            count(tot["reconnects"].as_u64().unwrap_or(0))
        );
        for d in disconnects.iter().take(10) {
            let _ = writeln!(out, "lost        {d}");
        }
        if disconnects.len() > 10 {
            let _ = writeln!(out, "lost        … and {} more", disconnects.len() - 10);
        }
    }
    if tot["rate_short"].as_bool() == Some(true) {
        let _ = writeln!(
            out,
            "rate        SHORT: achieved {}/s of the {}/s asked",
            count(tot["send_rate"].as_f64().unwrap_or(0.0) as u64),
            count(tot["requested_rate"].as_u64().unwrap_or(0))
        );
    }
    let _ = writeln!(out, "status      {}", s["status"].as_str().unwrap_or("?"));
    let errors = grouped(&o.totals.errors);
    for e in errors.iter().take(10) {
        let _ = writeln!(out, "error       {e}");
    }
    if errors.len() > 10 {
        let _ = writeln!(
            out,
            "error       ... and {} more (see summary.json)",
            errors.len() - 10
        );
    }
    if let Some(p) = results {
        let _ = writeln!(out, "results     {}", p.display());
    }
    out
}

/// One line of live progress.
pub fn progress(
    elapsed: Nanos,
    prev: &Counters,
    now: &Counters,
    dt: Nanos,
    interval: &Histograms,
    totals: &Totals,
) -> String {
    let per_s = |a: u64, b: u64| {
        if dt > 0 {
            (b - a.min(b)) as f64 * NANOS_PER_SEC as f64 / dt as f64
        } else {
            0.0
        }
    };
    let h = if interval.corrected.is_empty() {
        &interval.send_delay
    } else {
        &interval.corrected
    };
    let conns = totals.conns();
    format!(
        "[{:>5.1}s] sent {:>10}/s  recv {:>10}/s  p50 {:>8}  p99 {:>8}  conns {} up {} failed{}  errors {}",
        elapsed as f64 / NANOS_PER_SEC as f64,
        count(per_s(prev.sent, now.sent) as u64),
        count(per_s(prev.received, now.received) as u64),
        q(h, 0.5),
        q(h, 0.99),
        conns.up,
        conns.failed,
        if conns.stalled > 0 {
            format!(" {} stalled (the peer is not reading)", conns.stalled)
        } else {
            String::new()
        },
        now.errors,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(count(0), "0");
        assert_eq!(count(1234567), "1,234,567");
        assert_eq!(count(999), "999");
        assert_eq!(micros(12), "12µs");
        assert_eq!(micros(1_500), "1.50ms");
        assert_eq!(micros(2_000_000), "2.00s");
    }

    #[test]
    fn paced_rate_is_exact_on_schedule() {
        // 1000 messages at 100/s: last one at t0 + 9.99 s.
        let c = Counters {
            sent: 1000,
            ..Default::default()
        };
        let r = rates(100, Some(0), &c, Some(0), Some(9_990_000_000), None, None);
        assert!((r.send - 100.0).abs() < 1e-9, "{}", r.send);
    }

    #[test]
    fn repeated_errors_are_counted_once() {
        let e = |s: &str| s.to_owned();
        let errors = [e("refused"), e("reset"), e("refused"), e("refused")];
        assert_eq!(super::grouped(&errors), ["refused (×3)", "reset"]);
    }
}
