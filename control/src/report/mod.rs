//! `allegro report`: a results directory read back into one model, rendered as text, JSON or
//! CSV, and compared with others.
//!
//! A directory is one *part* per directory that holds result files: an `allegro run`'s
//! (`summary.json`, `latency.hlog`, `rate.csv`) or a Maestro worker's test directory
//! (`test.properties`, `sender.dat` / `receiver.dat`, `receiverd-latency.hdr`, and Allegro's
//! `summary.json` when an Allegro worker wrote it), found down to four levels (an `allegro test`
//! directory holds each worker's). A file that is missing or damaged is named in `problems`,
//! and everything else still renders.

pub mod compare;
pub mod html;
mod load;
pub mod render;

use allegro_engine::stats::Histograms;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Where a run ran, from its summary's `host` facts: the container (`none`, `docker (bridge
/// network)`) and the way to the broker (`loopback`, `eth0 (172.30.0.3)`, `-` when unknown).
pub fn ran_where(h: &Value) -> (String, String) {
    let n = &h["network"];
    let path = match (n["loopback"].as_bool(), n["interface"].as_str()) {
        (Some(true), _) => "loopback".to_string(),
        (_, Some(i)) => format!("{i} ({})", n["local_addr"].as_str().unwrap_or("-")),
        _ => "-".into(),
    };
    let container = match (h["container"].as_str(), n["container_mode"].as_str()) {
        (Some(c), Some(m)) => format!("{c} ({m} network)"),
        (Some(c), None) => c.to_string(),
        _ => "none".into(),
    };
    (container, path)
}

/// One directory of result files.
#[derive(Debug)]
pub struct Part {
    /// The directory, relative to the report's source (`.` for the source itself).
    pub name: String,
    /// `allegro run`, or a Maestro worker's test directory.
    pub kind: PartKind,
    /// Allegro's summary, when there is one.
    pub summary: Option<Value>,
    /// `test.properties` (§10.2 of the Maestro protocol), when there is one.
    pub properties: Vec<(String, String)>,
    /// Messages per second of the clock: (epoch second, sent, received).
    pub rate: Vec<(i64, u64, u64)>,
    /// The run's latency, every interval added.
    pub latency: Histograms,
    /// Per interval: (seconds from the first interval's start, service, corrected) in µs
    /// quantiles (p50, p99, max), when the interval had any.
    pub over_time: Vec<Interval>,
}

/// One interval of a latency log.
#[derive(Debug, Clone, PartialEq)]
pub struct Interval {
    /// Seconds from the start of the log.
    pub at_s: f64,
    pub tag: &'static str,
    pub p50: u64,
    pub p99: u64,
    pub max: u64,
    pub count: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartKind {
    Run,
    MaestroWorker,
}

impl PartKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PartKind::Run => "allegro-run",
            PartKind::MaestroWorker => "maestro-worker",
        }
    }
}

impl Part {
    /// Sent and received in all: the summary's, or the rate file's sums.
    pub fn totals(&self) -> (u64, u64) {
        let t = self.summary.as_ref().map(|s| &s["totals"]);
        match t {
            Some(t) if t.is_object() => (
                t["sent"].as_u64().unwrap_or(0),
                t["received"].as_u64().unwrap_or(0),
            ),
            _ => self
                .rate
                .iter()
                .fold((0, 0), |(s, r), &(_, a, b)| (s + a, r + b)),
        }
    }

    /// What the part did: sender, receiver or both.
    pub fn role(&self) -> &'static str {
        match self.totals() {
            (s, r) if s > 0 && r > 0 => "sender+receiver",
            (s, _) if s > 0 => "sender",
            (_, r) if r > 0 => "receiver",
            _ => "idle",
        }
    }

    /// A setting of the run: the summary's `config` member, or the Maestro properties.
    pub fn setting(&self, summary_key: &str, property: &str) -> Option<String> {
        let from_summary = self
            .summary
            .as_ref()
            .map(|s| &s["config"][summary_key])
            .filter(|v| !v.is_null())
            .map(|v| match v {
                Value::String(s) => s.clone(),
                v => v.to_string(),
            });
        from_summary.or_else(|| {
            self.properties
                .iter()
                .find(|(k, _)| k == property)
                .map(|(_, v)| v.clone())
        })
    }
}

/// A results directory read back.
#[derive(Debug)]
pub struct Report {
    pub source: PathBuf,
    pub parts: Vec<Part>,
    /// Files missing or damaged, each named, with what was lost.
    pub problems: Vec<String>,
}

impl Report {
    /// Reads `dir`. `Err` only when nothing in it can be reported.
    pub fn load(dir: &Path) -> Result<Report, String> {
        load::report(dir)
    }

    /// Every part's latency added.
    pub fn latency(&self) -> Histograms {
        let mut h = Histograms::new();
        for p in &self.parts {
            h.add(&p.latency);
        }
        h
    }

    /// Sent and received over every part.
    pub fn totals(&self) -> (u64, u64) {
        self.parts.iter().fold((0, 0), |(s, r), p| {
            let (a, b) = p.totals();
            (s + a, r + b)
        })
    }

    /// Per second over every part: (epoch second, sent, received).
    pub fn rate(&self) -> Vec<(i64, u64, u64)> {
        let mut m = std::collections::BTreeMap::<i64, (u64, u64)>::new();
        for p in &self.parts {
            for &(s, a, b) in &p.rate {
                let e = m.entry(s).or_default();
                e.0 += a;
                e.1 += b;
            }
        }
        m.into_iter().map(|(s, (a, b))| (s, a, b)).collect()
    }
}
