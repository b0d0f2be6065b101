//! A [`Report`] as one self-contained HTML page: the report's JSON, the charting library
//! (uPlot, `control/assets/uplot`) and the page's own script inlined, so it opens with no
//! network. Three charts: the rate per second, the latency distribution on the usual
//! log-scaled percentile axis, and latency over time; then the parts, their latency and what
//! each ran with.

use super::Report;
use crate::output::{count, micros};
use std::fmt::Write as _;

const UPLOT_JS: &str = include_str!("../../assets/uplot/uPlot.iife.min.js");
const UPLOT_CSS: &str = include_str!("../../assets/uplot/uPlot.min.css");
const PAGE_JS: &str = include_str!("report.js");
/// What both pages' scripts share (`AllegroChart`).
const CHART_JS: &str = include_str!("chart.js");

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222;max-width:1100px}\
h1{font-size:1.4em}h2{font-size:1.1em;margin-top:2em}table{border-collapse:collapse;margin:.5em 0}\
td,th{padding:.2em .8em;border-bottom:1px solid #ddd;text-align:right}td:first-child,th:first-child{text-align:left}\
.chart{margin:1em 0}.problem{color:#a00}pre{background:#f6f6f6;padding:.8em;overflow:auto;font-size:12px}";

/// Text safe inside HTML.
pub(super) fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The machine (from the summary's `host`) and the per-shard table of an Allegro run.
fn host_and_shards(body: &mut String, s: &serde_json::Value) {
    let h = &s["host"];
    let c = &s["config"];
    let str_of = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => esc(s),
        serde_json::Value::Null => "-".into(),
        v => esc(&v.to_string()),
    };
    if h.is_object() {
        let (container, path) = super::ran_where(h);
        let container = esc(&container);
        let _ = write!(
            body,
            "<table class=\"host\"><tr><td>host</td><td>{}</td></tr><tr><td>kernel</td><td>{}</td></tr>\
             <tr><td>CPUs online</td><td>{}</td></tr><tr><td>CPUs allowed</td><td>{}</td></tr><tr><td>shards on CPUs</td><td>{}</td></tr>\
             <tr><td>NUMA nodes</td><td>{}</td></tr><tr><td>runtime</td><td>{}</td></tr>\
             <tr><td>container</td><td>{container}</td></tr><tr><td>network path to the broker</td><td>{}</td></tr></table>",
            str_of(&h["hostname"]),
            str_of(&h["kernel"]),
            str_of(&h["cpus_online"]),
            str_of(&h["cpus_allowed"]),
            str_of(&c["cores"]),
            str_of(&c["numa_nodes"]),
            str_of(&c["backend"]),
            esc(&path),
        );
    }
    if let Some(shards) = s["shards"].as_array().filter(|a| !a.is_empty()) {
        body.push_str("<table class=\"shards\"><tr><th>shard</th><th>CPU</th><th>sent</th><th>received</th><th>send/s</th><th>receive/s</th><th>errors</th></tr>");
        for sh in shards {
            let n = |k: &str| {
                sh[k]
                    .as_f64()
                    .map(|v| count(v.round() as u64))
                    .unwrap_or_else(|| "-".into())
            };
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                n("shard"), n("cpu"), n("sent"), n("received"), n("send_rate"), n("receive_rate"), n("errors")
            );
        }
        body.push_str("</table>");
    }
}

/// The report as a page.
pub fn html(r: &Report) -> String {
    let data = super::render::json(r);
    // Inside <script>, a "</" would end the element: JSON allows "<\/" for it.
    let data = serde_json::to_string(&data)
        .unwrap_or_default()
        .replace("</", "<\\/");
    let (sent, received) = r.totals();
    let mut body = String::new();
    let _ = writeln!(
        body,
        "<h1>Allegro report: {}</h1><p>{} part(s), {} sent, {} received.</p>",
        esc(&r.source.display().to_string()),
        r.parts.len(),
        count(sent),
        count(received)
    );
    if !r.problems.is_empty() {
        body.push_str("<h2>Problems</h2><ul>");
        for p in &r.problems {
            let _ = write!(body, "<li class=\"problem\">{}</li>", esc(p));
        }
        body.push_str("</ul>");
    }
    body.push_str(
        "<h2>Rate per second</h2><div class=\"chart\" id=\"rate\"></div>\
         <h2>Latency distribution</h2><div class=\"chart\" id=\"distribution\"></div>\
         <h2>Latency over time (99th percentile of each interval)</h2><div class=\"chart\" id=\"over-time\"></div>",
    );
    body.push_str("<h2>Parts</h2><table><tr><th>part</th><th>kind</th><th>role</th><th>status</th><th>sent</th><th>received</th><th>lost</th><th>duplicated</th><th>reordered</th><th>service p50</th><th>p99</th><th>p99.9</th><th>max</th><th>corrected p99</th></tr>");
    for p in &r.parts {
        let (s, rc) = p.totals();
        let total = |k: &str| {
            p.summary
                .as_ref()
                .and_then(|s| s["totals"][k].as_u64())
                .map(count)
                .unwrap_or_else(|| "-".into())
        };
        let (lost, duplicated, reordered) =
            (total("lost"), total("duplicated"), total("reordered"));
        let q = |h: &hdrhistogram::Histogram<u64>, quantile: f64| {
            if h.is_empty() {
                "-".to_string()
            } else if quantile >= 1.0 {
                micros(h.max())
            } else {
                micros(h.value_at_quantile(quantile))
            }
        };
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{lost}</td><td>{duplicated}</td><td>{reordered}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&p.name),
            p.kind.as_str(),
            p.role(),
            esc(p.summary.as_ref().and_then(|s| s["status"].as_str()).unwrap_or("-")),
            count(s),
            count(rc),
            q(&p.latency.service, 0.5),
            q(&p.latency.service, 0.99),
            q(&p.latency.service, 0.999),
            q(&p.latency.service, 1.0),
            q(&p.latency.corrected, 0.99),
        );
    }
    body.push_str("</table>");
    for p in &r.parts {
        let config = match &p.summary {
            Some(s) if s["config"].is_object() => {
                serde_json::to_string_pretty(&s["config"]).unwrap_or_default()
            }
            _ => p
                .properties
                .iter()
                .map(|(k, v)| format!("{k} = {v}"))
                .collect::<Vec<_>>()
                .join("\n"),
        };
        let _ = write!(body, "<h2>{} ran with</h2>", esc(&p.name));
        if let Some(s) = &p.summary {
            host_and_shards(&mut body, s);
        }
        let _ = write!(body, "<pre>{}</pre>", esc(&config));
    }
    page(
        &format!("Allegro report: {}", r.source.display()),
        &body,
        &data,
        PAGE_JS,
    )
}

/// A page: `body`, then `data` (JSON, with any `</` already escaped) as `#report-data`, uPlot,
/// the shared chart helpers and `script`.
pub(super) fn page(title: &str, body: &str, data: &str, script: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\
         <style>{UPLOT_CSS}{STYLE}</style></head><body>\n{body}\n\
         <script type=\"application/json\" id=\"report-data\">{data}</script>\n\
         <script>{UPLOT_JS}</script>\n<script>{CHART_JS}</script>\n<script>{script}</script>\n</body></html>\n",
        esc(title)
    )
}

/// Writes `dir/report.html` (the report of `dir`) and, unless `quiet`, says where; a report
/// that cannot be made costs the run nothing but a warning.
pub fn write_into(dir: &std::path::Path, quiet: bool) {
    let path = dir.join("report.html");
    let written = Report::load(dir).and_then(|r| {
        std::fs::write(&path, html(&r)).map_err(|e| format!("{}: {e}", path.display()))
    });
    match written {
        Ok(()) if quiet => {}
        Ok(()) => eprintln!("allegro: report {}", path.display()),
        Err(e) => eprintln!("allegro: no report.html: {e}"),
    }
}
