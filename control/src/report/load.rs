//! Reading a results directory into a [`Report`].

use super::{Interval, Part, PartKind, Report};
use allegro_engine::stats::{Histograms, MAX_LATENCY_US};
use allegro_maestro::files::{read_intervals, read_properties, read_rate_file};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The files that make a directory a part.
const KNOWN: [&str; 7] = [
    "summary.json",
    "latency.hlog",
    "rate.csv",
    "test.properties",
    "sender.dat",
    "receiver.dat",
    "receiverd-latency.hdr",
];

/// How deep below the source parts are looked for.
const DEPTH: usize = 4;

pub(super) fn report(dir: &Path) -> Result<Report, String> {
    let meta = std::fs::metadata(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    if !meta.is_dir() {
        return Err(format!("{}: not a directory", dir.display()));
    }
    let mut dirs = Vec::new();
    walk(dir, 0, &mut dirs);
    let mut report = Report {
        source: dir.to_path_buf(),
        parts: Vec::new(),
        problems: Vec::new(),
    };
    for d in dirs {
        let name = match d.strip_prefix(dir) {
            Ok(p) if p.as_os_str().is_empty() => ".".to_string(),
            Ok(p) => p.display().to_string(),
            Err(_) => d.display().to_string(),
        };
        let part = part(&d, name, &mut report.problems);
        report.parts.push(part);
    }
    if report.parts.is_empty() {
        return Err(format!(
            "{}: no results here (looked for {} down to {DEPTH} levels)",
            dir.display(),
            KNOWN.join(", ")
        ));
    }
    Ok(report)
}

/// Directories holding result files, in name order; links (`last`, `lastSuccessful`) are not
/// followed below the source, so no run is counted twice.
fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    if KNOWN.iter().any(|f| dir.join(f).exists()) {
        out.push(dir.to_path_buf());
    }
    if depth == DEPTH {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut subs: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect();
    subs.sort_by_key(|p| natural(p));
    for s in subs {
        walk(&s, depth + 1, out);
    }
}

/// Numbered directories in number order, then the others by name.
fn natural(p: &Path) -> (u64, String) {
    let name = p
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    (name.parse().unwrap_or(u64::MAX), name)
}

fn part(dir: &Path, name: String, problems: &mut Vec<String>) -> Part {
    let maestro = [
        "test.properties",
        "sender.dat",
        "receiver.dat",
        "receiverd-latency.hdr",
    ]
    .iter()
    .any(|f| dir.join(f).exists());
    let mut p = Part {
        name,
        kind: if maestro {
            PartKind::MaestroWorker
        } else {
            PartKind::Run
        },
        summary: None,
        properties: Vec::new(),
        rate: Vec::new(),
        latency: Histograms::new(),
        over_time: Vec::new(),
    };
    let summary = dir.join("summary.json");
    if summary.exists() {
        match std::fs::read_to_string(&summary)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
        {
            Ok(v) => p.summary = Some(v),
            Err(e) => problems.push(format!(
                "{}: unreadable ({e}): the totals come from the other files",
                summary.display()
            )),
        }
    } else if !maestro {
        problems.push(format!(
            "{}: missing (the run did not finish?): the totals come from the other files",
            summary.display()
        ));
    }
    let props = dir.join("test.properties");
    if props.exists() {
        match read_properties(&props) {
            Ok(v) => p.properties = v,
            Err(e) => problems.push(e),
        }
    }
    let mut rate: BTreeMap<i64, (u64, u64)> = BTreeMap::new();
    let csv = dir.join("rate.csv");
    if csv.exists() {
        read_rate_csv(&csv, &mut rate, problems);
    }
    for (file, sent) in [("sender.dat", true), ("receiver.dat", false)] {
        let path = dir.join(file);
        if !path.exists() {
            continue;
        }
        match read_rate_file(&path) {
            Ok((records, cut)) => {
                for (second, n) in records {
                    let e = rate.entry(second).or_default();
                    if sent {
                        e.0 += n;
                    } else {
                        e.1 += n;
                    }
                }
                problems.extend(cut);
            }
            Err(e) => problems.push(e),
        }
    }
    p.rate = rate.into_iter().map(|(s, (a, b))| (s, a, b)).collect();
    for (file, untagged) in [
        ("latency.hlog", "service"),
        ("receiverd-latency.hdr", "service"),
    ] {
        let path = dir.join(file);
        if path.exists() {
            read_latency_log(&path, untagged, &mut p, problems);
        }
    }
    p
}

fn read_rate_csv(path: &Path, rate: &mut BTreeMap<i64, (u64, u64)>, problems: &mut Vec<String>) {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => return problems.push(format!("{}: {e}", path.display())),
    };
    for (i, line) in text.lines().enumerate().skip(1) {
        let mut f = line.split(',').map(|x| x.trim().parse::<i64>());
        match (f.next(), f.next(), f.next()) {
            (Some(Ok(s)), Some(Ok(a)), Some(Ok(b))) => {
                let e = rate.entry(s).or_default();
                e.0 += a.max(0) as u64;
                e.1 += b.max(0) as u64;
            }
            _ => {
                problems.push(format!(
                    "{}: line {} is not 'second,sent,received': the lines after it are left out",
                    path.display(),
                    i + 1
                ));
                return;
            }
        }
    }
}

/// Adds every interval of an HdrHistogram interval log to `p` (untagged intervals count as
/// `untagged`). A damaged line ends the reading: the intervals before it are kept and the
/// file is named with the line.
fn read_latency_log(path: &Path, untagged: &'static str, p: &mut Part, problems: &mut Vec<String>) {
    let intervals = match read_intervals(path) {
        Ok((intervals, problem)) => {
            problems.extend(problem);
            intervals
        }
        Err(e) => return problems.push(e),
    };
    let first = intervals.first().map_or(0.0, |i| i.start_s);
    for i in intervals {
        let tag = match i.tag.as_deref() {
            None => untagged,
            Some("service") => "service",
            Some("corrected") => "corrected",
            Some("send-delay") => "send_delay",
            Some(_) => continue,
        };
        let target = match tag {
            "service" => &mut p.latency.service,
            "corrected" => &mut p.latency.corrected,
            _ => &mut p.latency.send_delay,
        };
        let h = &i.histogram;
        // Values past the bounds are clamped, as the engine records them.
        for v in h.iter_recorded() {
            let value = v.value_iterated_to().clamp(1, MAX_LATENCY_US);
            let _ = target.record_n(value, v.count_at_value());
        }
        if !h.is_empty() {
            p.over_time.push(Interval {
                at_s: i.start_s - first,
                tag,
                p50: h.value_at_quantile(0.5),
                p99: h.value_at_quantile(0.99),
                max: h.max(),
                count: h.len(),
            });
        }
    }
}
