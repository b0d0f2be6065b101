//! A [`Report`] as JSON (`docs/report.schema.json`), text or CSV: the same content each way.

use super::{Part, Report};
use crate::output::{count, latencies, micros};
use allegro_engine::stats::Histograms;
use hdrhistogram::Histogram;
use serde_json::{json, Value};
use std::fmt::Write as _;

/// Schema version of the JSON report.
pub const REPORT_VERSION: u32 = 1;

/// The percentiles of a latency distribution, spaced for the usual log-scaled axis (each
/// decade of "nines" gets the same room).
pub const PERCENTILES: [f64; 13] = [
    0.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.5, 99.9, 99.95, 99.99, 99.995, 99.999, 100.0,
];

fn distribution(h: &Histogram<u64>) -> Value {
    if h.is_empty() {
        return json!([]);
    }
    PERCENTILES
        .iter()
        .map(|&p| json!([p, h.value_at_percentile(p)]))
        .collect()
}

fn distributions(h: &Histograms) -> Value {
    json!({
        "service": distribution(&h.service),
        "corrected": distribution(&h.corrected),
        "send_delay": distribution(&h.send_delay),
    })
}

fn part_json(p: &Part) -> Value {
    let (sent, received) = p.totals();
    let config = match &p.summary {
        Some(s) if s["config"].is_object() => s["config"].clone(),
        _ => Value::Object(
            p.properties
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect(),
        ),
    };
    json!({
        "name": p.name,
        "kind": p.kind.as_str(),
        "role": p.role(),
        "status": p.summary.as_ref().and_then(|s| s["status"].as_str()),
        "config": config,
        "host": p.summary.as_ref().map(|s| s["host"].clone()).unwrap_or(Value::Null),
        "totals": {
            "sent": sent,
            "received": received,
            "lost": p.summary.as_ref().and_then(|s| s["totals"]["lost"].as_u64()),
        },
        "latency_us": latencies(&p.latency),
        "percentiles": distributions(&p.latency),
        "rate": p.rate.iter().map(|&(s, a, b)| json!([s, a, b])).collect::<Vec<_>>(),
        "over_time": p.over_time.iter().map(|i| json!([i.at_s, i.tag, i.p50, i.p99, i.max, i.count])).collect::<Vec<_>>(),
    })
}

/// The report as JSON.
pub fn json(r: &Report) -> Value {
    let (sent, received) = r.totals();
    let h = r.latency();
    json!({
        "version": REPORT_VERSION,
        "source": r.source.display().to_string(),
        "problems": r.problems,
        "totals": { "sent": sent, "received": received },
        "latency_us": latencies(&h),
        "percentiles": distributions(&h),
        "rate": r.rate().iter().map(|&(s, a, b)| json!([s, a, b])).collect::<Vec<_>>(),
        "parts": r.parts.iter().map(part_json).collect::<Vec<_>>(),
    })
}

/// Mean, lowest and highest of per-second counts, over the seconds from the first to the last
/// with any.
pub(super) fn per_second(v: &[u64]) -> Option<(f64, u64, u64)> {
    let first = v.iter().position(|&n| n > 0)?;
    let last = v.iter().rposition(|&n| n > 0)?;
    let s = &v[first..=last];
    let mean = s.iter().sum::<u64>() as f64 / s.len() as f64;
    Some((mean, *s.iter().min()?, *s.iter().max()?))
}

/// The report as text.
pub fn text(r: &Report) -> String {
    let mut out = String::new();
    let (sent, received) = r.totals();
    let _ = writeln!(
        out,
        "report of {}: {} part(s), sent {}, received {}",
        r.source.display(),
        r.parts.len(),
        count(sent),
        count(received)
    );
    let _ = writeln!(
        out,
        "\n{:<28} {:<15} {:<16} {:>12} {:>12}  status",
        "part", "kind", "role", "sent", "received"
    );
    for p in &r.parts {
        let (s, rc) = p.totals();
        let status = p
            .summary
            .as_ref()
            .and_then(|s| s["status"].as_str())
            .unwrap_or("-");
        let _ = writeln!(
            out,
            "{:<28} {:<15} {:<16} {:>12} {:>12}  {status}",
            p.name,
            p.kind.as_str(),
            p.role(),
            count(s),
            count(rc)
        );
    }
    let rate = r.rate();
    let sent_s: Vec<u64> = rate.iter().map(|r| r.1).collect();
    let recv_s: Vec<u64> = rate.iter().map(|r| r.2).collect();
    let _ = writeln!(
        out,
        "\nrate over {} second(s)        mean/s        lowest       highest",
        rate.len()
    );
    for (what, v) in [("sent", &sent_s), ("received", &recv_s)] {
        if let Some((mean, lo, hi)) = per_second(v) {
            let _ = writeln!(
                out,
                "{what:<28} {:>9} {:>13} {:>13}",
                count(mean.round() as u64),
                count(lo),
                count(hi)
            );
        }
    }
    let h = r.latency();
    let _ = writeln!(
        out,
        "\nlatency (all parts)   {}",
        PERCENTILES[1..PERCENTILES.len() - 1]
            .iter()
            .map(|p| format!("{:>9}", format!("p{p}")))
            .collect::<String>()
            + &format!("{:>9}", "max")
    );
    for (name, hist) in h.named() {
        if hist.is_empty() {
            continue;
        }
        let name = name.replace('_', " ");
        let row: String = PERCENTILES[1..PERCENTILES.len() - 1]
            .iter()
            .map(|&p| format!("{:>9}", micros(hist.value_at_percentile(p))))
            .collect();
        let _ = writeln!(out, "{name:<21} {row}{:>9}", micros(hist.max()));
    }
    if !r.problems.is_empty() {
        let _ = writeln!(out);
        for p in &r.problems {
            let _ = writeln!(out, "problem     {p}");
        }
    }
    out
}

/// The report as CSV: `part,series,x,y`, one row per point (the part `*` is every part added):
/// `rate_sent` and `rate_received` by epoch second, `<kind>_percentile` by percentile, and
/// `<kind>_p50`, `_p99`, `_max` by seconds from the part's first interval; values in
/// messages and microseconds.
pub fn csv(r: &Report) -> String {
    let mut out = String::from("part,series,x,y\n");
    let mut rows = |part: &str, rate: &[(i64, u64, u64)], h: &Histograms| {
        for &(s, a, b) in rate {
            let _ = writeln!(out, "{part},rate_sent,{s},{a}");
            let _ = writeln!(out, "{part},rate_received,{s},{b}");
        }
        for (kind, hist) in h.named() {
            if hist.is_empty() {
                continue;
            }
            for p in PERCENTILES {
                let _ = writeln!(
                    out,
                    "{part},{kind}_percentile,{p},{}",
                    hist.value_at_percentile(p)
                );
            }
        }
    };
    rows("*", &r.rate(), &r.latency());
    for p in &r.parts {
        let name = p.name.replace(',', ";");
        rows(&name, &p.rate, &p.latency);
    }
    for p in &r.parts {
        let name = p.name.replace(',', ";");
        for i in &p.over_time {
            for (stat, v) in [("p50", i.p50), ("p99", i.p99), ("max", i.max)] {
                let _ = writeln!(out, "{name},{}_{stat},{:.3},{v}", i.tag, i.at_s);
            }
        }
    }
    out
}
