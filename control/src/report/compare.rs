//! `allegro report compare`: the same figures of several results side by side, with ratios to
//! the first, refused when the runs differ in what they measured.

use super::Report;
use crate::output::micros;
use serde_json::{json, Value};
use std::fmt::Write as _;

/// What must match for two results to compare: (label, summary `config` key, Maestro property).
const LIKE: [(&str, &str, &str); 4] = [
    ("protocol", "protocol", "protocol"),
    ("message size", "size", "messageSize"),
    ("rate per connection", "rate", "rate"),
    ("broker", "url", "brokerUri"),
];

/// One result's figures.
#[derive(Debug, Clone)]
pub struct Figures {
    /// The distribution of `latency_kind` latency: (percentile, µs), as the report has it.
    pub distribution: Vec<(f64, u64)>,
    pub source: String,
    /// Where the first part with host facts ran: container, and the way to the broker.
    pub ran: Option<(String, String)>,
    pub settings: Vec<(&'static str, Option<String>)>,
    pub send_rate: f64,
    pub receive_rate: f64,
    /// Process CPU microseconds per message (sent or received, the larger), when known.
    pub cpu_us_per_msg: Option<f64>,
    /// (label, µs) per quantile of the corrected latency, or the service one without it.
    pub latency: Vec<(String, u64)>,
    pub latency_kind: &'static str,
}

/// Mean messages per second of one column of `rate`, over the seconds from the first to the
/// last with any.
fn rate_per_s(rate: &[(i64, u64, u64)], pick: impl Fn(&(i64, u64, u64)) -> u64) -> f64 {
    let seconds: Vec<u64> = rate.iter().map(pick).collect();
    super::render::per_second(&seconds).map_or(0.0, |(mean, _, _)| mean)
}

/// The figures of `r`.
pub fn figures(r: &Report) -> Figures {
    let first = &r.parts[0];
    let settings = LIKE
        .iter()
        .map(|&(label, key, prop)| (label, first.setting(key, prop)))
        .collect();
    let rate = r.rate();
    // Summaries' own rates when every part has one (a run's, over its schedule).
    let summed = |key: &str| -> Option<f64> {
        r.parts
            .iter()
            .map(|p| p.summary.as_ref().and_then(|s| s["totals"][key].as_f64()))
            .sum()
    };
    let send_rate = summed("send_rate").unwrap_or_else(|| rate_per_s(&rate, |r| r.1));
    let receive_rate = summed("receive_rate").unwrap_or_else(|| rate_per_s(&rate, |r| r.2));
    let (sent, received) = r.totals();
    let cpu: Option<f64> = r
        .parts
        .iter()
        .map(|p| {
            p.summary
                .as_ref()
                .and_then(|s| s["process"]["cpu_s"].as_f64())
        })
        .sum();
    let h = r.latency();
    let (hist, kind) = if h.corrected.is_empty() {
        (&h.service, "service")
    } else {
        (&h.corrected, "corrected")
    };
    let distribution = if hist.is_empty() {
        Vec::new()
    } else {
        super::render::PERCENTILES
            .iter()
            .map(|&p| (p, hist.value_at_percentile(p)))
            .collect()
    };
    let latency = if hist.is_empty() {
        Vec::new()
    } else {
        crate::output::QUANTILES
            .iter()
            .map(|&(l, q)| (l.to_string(), hist.value_at_quantile(q)))
            .chain(std::iter::once(("max".to_string(), hist.max())))
            .collect()
    };
    let ran = r
        .parts
        .iter()
        .filter_map(|p| p.summary.as_ref())
        .find(|s| s["host"].is_object())
        .map(|s| super::ran_where(&s["host"]));
    Figures {
        distribution,
        source: r.source.display().to_string(),
        ran,
        settings,
        send_rate,
        receive_rate,
        cpu_us_per_msg: cpu
            .filter(|_| sent.max(received) > 0)
            .map(|c| c * 1e6 / sent.max(received) as f64),
        latency,
        latency_kind: kind,
    }
}

/// Settings in which the results differ, said: `protocol: mqtt vs amqp`.
pub fn differences(all: &[Figures]) -> Vec<String> {
    let mut out = Vec::new();
    for (i, (label, _)) in all[0].settings.iter().enumerate() {
        let values: Vec<String> = all
            .iter()
            .map(|f| f.settings[i].1.clone().unwrap_or_else(|| "?".into()))
            .collect();
        if values.iter().any(|v| v != &values[0]) {
            out.push(format!("{label}: {}", values.join(" vs ")));
        }
    }
    out
}

fn ratio(a: f64, b: f64) -> Option<f64> {
    (a > 0.0).then(|| b / a)
}

/// The comparison as JSON: each result's figures, and each one's ratios to the first.
pub fn json(all: &[Figures]) -> Value {
    let base = &all[0];
    json!({
        "version": super::render::REPORT_VERSION,
        "differences": differences(all),
        "results": all.iter().map(|f| json!({
            "source": f.source,
            "container": f.ran.as_ref().map(|r| &r.0),
            "network_path": f.ran.as_ref().map(|r| &r.1),
            "settings": f.settings.iter().map(|(l, v)| (l.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
            "send_rate": f.send_rate,
            "receive_rate": f.receive_rate,
            "cpu_us_per_msg": f.cpu_us_per_msg,
            "latency_kind": f.latency_kind,
            "latency_us": f.latency.iter().map(|(l, v)| (l.clone(), json!(v))).collect::<serde_json::Map<_, _>>(),
            "ratios": {
                "send_rate": ratio(base.send_rate, f.send_rate),
                "receive_rate": ratio(base.receive_rate, f.receive_rate),
                "cpu_per_msg": match (base.cpu_us_per_msg, f.cpu_us_per_msg) { (Some(a), Some(b)) => ratio(a, b), _ => None },
                "latency": f.latency.iter().zip(&base.latency).map(|((l, v), (_, b))| (l.clone(), json!(ratio(*b as f64, *v as f64)))).collect::<serde_json::Map<_, _>>(),
            },
        })).collect::<Vec<_>>(),
    })
}

/// The comparison as a table: a row per figure, a column per result, ratios to the first.
pub fn text(all: &[Figures]) -> String {
    let mut out = String::new();
    for (i, f) in all.iter().enumerate() {
        let _ = write!(out, "{}  {}", (b'A' + i as u8) as char, f.source);
        let _ = match &f.ran {
            Some((container, path)) => {
                writeln!(out, "  [container: {container}; to the broker: {path}]")
            }
            None => writeln!(out),
        };
    }
    let head: String = (0..all.len())
        .map(|i| {
            let c = (b'A' + i as u8) as char;
            if i == 0 {
                format!("{c:>14}")
            } else {
                format!("{c:>14}{:>9}", format!("{c}/A"))
            }
        })
        .collect();
    let _ = writeln!(out, "\n{:<24}{head}", "");
    let row =
        |out: &mut String, name: &str, vals: Vec<Option<f64>>, fmt: &dyn Fn(f64) -> String| {
            let base = vals[0];
            let cells: String = vals
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let cell = v.map(fmt).unwrap_or_else(|| "-".into());
                    if i == 0 {
                        format!("{cell:>14}")
                    } else {
                        let r = match (base, *v) {
                            (Some(a), Some(b)) => ratio(a, b).map(|r| format!("{r:.2}")),
                            _ => None,
                        };
                        format!("{cell:>14}{:>9}", r.unwrap_or_else(|| "-".into()))
                    }
                })
                .collect();
            let _ = writeln!(out, "{name:<24}{cells}");
        };
    let n = |v: f64| crate::output::count(v.round() as u64);
    row(
        &mut out,
        "send rate /s",
        all.iter().map(|f| Some(f.send_rate)).collect(),
        &n,
    );
    row(
        &mut out,
        "receive rate /s",
        all.iter().map(|f| Some(f.receive_rate)).collect(),
        &n,
    );
    row(
        &mut out,
        "CPU µs per message",
        all.iter().map(|f| f.cpu_us_per_msg).collect(),
        &|v| format!("{v:.3}"),
    );
    for (i, (label, _)) in all[0].latency.iter().enumerate() {
        let name = format!("{} {label}", all[0].latency_kind);
        row(
            &mut out,
            &name,
            all.iter()
                .map(|f| f.latency.get(i).map(|(_, v)| *v as f64))
                .collect(),
            &|v| micros(v as u64),
        );
    }
    out
}

/// The comparison as one self-contained page: the table of [`text`] and the results' latency
/// distributions on one log-scaled percentile axis.
pub fn html(all: &[Figures]) -> String {
    let esc = super::html::esc;
    let data = json!({
        "kind": all[0].latency_kind,
        "results": all.iter().map(|f| json!({
            "source": f.source,
            "distribution": f.distribution.iter().map(|&(p, v)| json!([p, v])).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    });
    let data = serde_json::to_string(&data)
        .unwrap_or_default()
        .replace("</", "<\\/");
    let differ = differences(all);
    let note = if differ.is_empty() {
        String::new()
    } else {
        format!(
            "<p class=\"problem\">Compared although they differ: {}</p>",
            esc(&differ.join("; "))
        )
    };
    super::html::page(
        "Allegro comparison",
        &format!(
            "<h1>Allegro comparison</h1>{note}<pre>{}</pre>\
             <h2>Latency distribution ({})</h2><div class=\"chart\" id=\"compare\"></div>",
            esc(&text(all)),
            all[0].latency_kind
        ),
        &data,
        COMPARE_JS,
    )
}

const COMPARE_JS: &str = include_str!("compare.js");
