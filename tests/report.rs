//! `allegro report`: a real run's directory rendered as JSON (valid against
//! docs/report.schema.json, its numbers the summary's), text and CSV; `report compare` of two
//! real runs with their ratios, and unlike runs refused; a Java Maestro worker's files
//! (tests/data/java-worker, written byte for byte as the protocol lays them out); and damaged
//! or missing files named while the rest still renders.

mod common;

use common::{allegro, check_schema, root, run_json, scratch, Mosquitto};
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

/// A paced run of 2 senders × `rate`/s for 3 s with one receiver; its results directory.
fn real_run(broker: &Mosquitto, rate: &str, size: &str) -> std::path::PathBuf {
    let url = format!("mqtt://127.0.0.1:{}/report", broker.1);
    let (r, results) = run_json(
        &url,
        &[
            "--rate",
            rate,
            "--parallel",
            "2",
            "--duration",
            "3s",
            "--size",
            size,
        ],
        Duration::from_secs(60),
    );
    assert_eq!(r.status, 0, "{}", r.stderr);
    results.join("last")
}

fn report(args: &[&str]) -> (i32, String, String) {
    let out = allegro().arg("report").args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn summary(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap()
}

#[test]
fn a_real_run_renders_the_same_numbers_as_json_text_and_csv() {
    let broker = Mosquitto::start();
    let dir = real_run(&broker, "300", "100");
    let s = summary(&dir);
    let d = dir.to_str().unwrap();
    let (code, out, err) = report(&[d, "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let j: Value = serde_json::from_str(&out).unwrap();
    check_schema(&j, "docs/report.schema.json");
    assert_eq!(j["totals"]["sent"], s["totals"]["sent"]);
    assert_eq!(j["totals"]["received"], s["totals"]["received"]);
    assert_eq!(j["parts"][0]["status"], "completed");
    assert_eq!(j["parts"][0]["config"]["protocol"], "mqtt");
    // The rate file adds up to the totals, second by second.
    let rate = j["rate"].as_array().unwrap();
    let sum = |k: usize| rate.iter().map(|r| r[k].as_u64().unwrap()).sum::<u64>();
    assert_eq!(sum(1), s["totals"]["sent"].as_u64().unwrap());
    assert_eq!(sum(2), s["totals"]["received"].as_u64().unwrap());
    assert!(rate.len() >= 3, "{rate:?}");
    // The distribution's ends are the summary's.
    for kind in ["service", "corrected"] {
        let dist = j["percentiles"][kind].as_array().unwrap();
        assert_eq!(dist.len(), 13);
        assert_eq!(dist[12][1], s["latency_us"][kind]["max"], "{kind}");
        assert_eq!(
            j["latency_us"][kind]["p99"], s["latency_us"][kind]["p99"],
            "{kind}"
        );
    }
    assert!(!j["parts"][0]["over_time"].as_array().unwrap().is_empty());
    let (code, text, _) = report(&[d]);
    assert_eq!(code, 0);
    assert!(text.contains("allegro-run"), "{text}");
    assert!(text.contains("service"), "{text}");
    let (code, csv, _) = report(&[d, "--format", "csv"]);
    assert_eq!(code, 0);
    let sent: u64 = csv
        .lines()
        .filter(|l| l.starts_with("*,rate_sent,"))
        .map(|l| l.rsplit(',').next().unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(sent, s["totals"]["sent"].as_u64().unwrap());
}

#[test]
fn compare_shows_the_ratios_of_two_real_runs_and_refuses_unlike_ones() {
    let broker = Mosquitto::start();
    let a = real_run(&broker, "200", "100");
    let b = real_run(&broker, "200", "100");
    let (sa, sb) = (summary(&a), summary(&b));
    let (code, out, err) = report(&[
        "compare",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let j: Value = serde_json::from_str(&out).unwrap();
    let r = &j["results"][1]["ratios"];
    let send = |s: &Value| s["totals"]["send_rate"].as_f64().unwrap();
    let want = send(&sb) / send(&sa);
    assert!(
        (r["send_rate"].as_f64().unwrap() - want).abs() < 1e-9,
        "{r} vs {want}"
    );
    let cpu = |s: &Value| {
        s["process"]["cpu_s"].as_f64().unwrap() * 1e6 / s["totals"]["sent"].as_f64().unwrap()
    };
    let want = cpu(&sb) / cpu(&sa);
    assert!(
        (r["cpu_per_msg"].as_f64().unwrap() - want).abs() < 1e-6,
        "{r} vs {want}"
    );
    let p99 = |s: &Value| s["latency_us"]["corrected"]["p99"].as_f64().unwrap();
    assert!((r["latency"]["p99"].as_f64().unwrap() - p99(&sb) / p99(&sa)).abs() < 1e-9);
    assert_eq!(j["results"][0]["ratios"]["send_rate"], 1.0);
    let (code, text, _) = report(&["compare", a.to_str().unwrap(), b.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(
        text.contains("send rate /s") && text.contains("B/A"),
        "{text}"
    );
    // As a page: the table, and both distributions drawn, each ending at its run's maximum.
    let page = scratch("compare").join("compare.html");
    let (code, _, err) = report(&[
        "compare",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--format",
        "html",
        "--out",
        page.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let (dom, log) = chromium_dom(&page);
    assert!(!log.lines().any(|l| l.contains("CONSOLE")), "{log}");
    assert!(
        dom.contains("data-rendered=\"1\""),
        "{}",
        &dom[..dom.len().min(1500)]
    );
    assert!(dom.contains("send rate /s"));
    for (i, s) in [&sa, &sb].iter().enumerate() {
        assert_eq!(
            attr(&dom, "compare", &format!("data-max{i}")).as_deref(),
            Some(s["latency_us"]["corrected"]["max"].to_string().as_str())
        );
    }
    // Another message size: refused, saying so; --anyway compares all the same.
    let c = real_run(&broker, "200", "200");
    let (code, _, err) = report(&["compare", a.to_str().unwrap(), c.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("message size: 100 vs 200"), "{err}");
    let (code, _, _) = report(&[
        "compare",
        a.to_str().unwrap(),
        c.to_str().unwrap(),
        "--anyway",
    ]);
    assert_eq!(code, 0);
}

#[test]
fn a_java_workers_files_render() {
    let dir = root().join("tests/data/java-worker");
    let (code, out, err) = report(&[dir.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let j: Value = serde_json::from_str(&out).unwrap();
    check_schema(&j, "docs/report.schema.json");
    assert_eq!(j["totals"]["sent"], 5000);
    assert_eq!(j["totals"]["received"], 5000);
    let parts = j["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[0]["kind"], "maestro-worker");
    assert_eq!(parts[0]["role"], "receiver");
    assert_eq!(
        parts[0]["config"]["brokerUri"],
        "amqp://sut:5672/test.performance.queue"
    );
    assert_eq!(parts[0]["latency_us"]["service"]["count"], 5000);
    // 100..1099 µs, evenly: the 99th percentile near 1,089 µs, the largest 1,099.
    let p99 = parts[0]["latency_us"]["service"]["p99"].as_u64().unwrap();
    assert!((1085..=1093).contains(&p99), "{p99}");
    assert_eq!(parts[0]["latency_us"]["service"]["max"], 1099);
    assert_eq!(
        parts[1]["rate"][0],
        serde_json::json!([1_796_600_000, 990, 0])
    );
}

#[test]
fn missing_and_damaged_files_are_named_and_the_rest_renders() {
    let broker = Mosquitto::start();
    let run = real_run(&broker, "300", "100");
    let dir = scratch("report-damaged");
    std::fs::create_dir_all(&dir).unwrap();
    // The latency log cut in the middle of its last service interval's line (a cut at a fixed
    // fraction of the file could fall on a line's end and leave whole lines), the summary gone.
    let log = std::fs::read_to_string(run.join("latency.hlog")).unwrap();
    let last = log.rfind("Tag=service").expect("a service interval");
    let end = log[last..].find('\n').map_or(log.len(), |e| last + e);
    std::fs::write(dir.join("latency.hlog"), &log[..last + (end - last) / 2]).unwrap();
    std::fs::copy(run.join("rate.csv"), dir.join("rate.csv")).unwrap();
    let (code, out, err) = report(&[dir.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("latency.hlog: line "), "{err}");
    assert!(err.contains("summary.json: missing"), "{err}");
    let j: Value = serde_json::from_str(&out).unwrap();
    check_schema(&j, "docs/report.schema.json");
    assert_eq!(j["problems"].as_array().unwrap().len(), 2);
    // What was whole is reported: the rate file's totals and the intervals before the cut.
    let s = summary(&run);
    assert_eq!(j["totals"]["sent"], s["totals"]["sent"]);
    let kept = j["latency_us"]["service"]["count"].as_u64().unwrap();
    assert!(
        kept > 0 && kept < s["latency_us"]["service"]["count"].as_u64().unwrap(),
        "{kept}"
    );
    // Nothing there at all: exit 2, one line.
    let (code, _, err) = report(&[scratch("report-none").to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("report-none"), "{err}");
}

/// `chromium --headless --dump-dom` of `page`: the DOM after its scripts ran, and the
/// browser's log (console messages included).
fn chromium_dom(page: &Path) -> (String, String) {
    let out = std::process::Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=3000",
            "--dump-dom",
        ])
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium (scripts/setup installs Debian's chromium)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The value of attribute `attr` on the element with id `id` in a dumped DOM.
fn attr(dom: &str, id: &str, attr: &str) -> Option<String> {
    let start = dom.find(&format!("id=\"{id}\""))?;
    let tag_start = dom[..start].rfind('<')?;
    let tag = &dom[tag_start..tag_start + dom[tag_start..].find('>')?];
    let key = format!("{attr}=\"");
    let at = tag.find(&key)? + key.len();
    Some(tag[at..at + tag[at..].find('"')?].to_owned())
}

#[test]
fn the_html_report_of_a_real_run_draws_every_chart_with_the_summarys_numbers() {
    let broker = Mosquitto::start();
    let dir = real_run(&broker, "300", "100");
    let s = summary(&dir);
    // `allegro run` wrote it at the end.
    let page = dir.join("report.html");
    assert!(page.is_file(), "no report.html in {}", dir.display());
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        !html.contains("src=\"http") && !html.contains("href=\"http"),
        "it must open with no network"
    );
    let (dom, log) = chromium_dom(&page);
    let console: Vec<&str> = log.lines().filter(|l| l.contains("CONSOLE")).collect();
    assert!(console.is_empty(), "console messages: {console:?}");
    assert!(
        dom.contains("data-rendered=\"3\""),
        "not every chart was drawn: {}",
        &dom[..dom.len().min(2000)]
    );
    let body = &dom[dom.find("<body").unwrap()..];
    let body = &body[..body.find('>').unwrap()];
    assert!(!body.contains("data-error"), "script error: {body}");
    assert_eq!(
        attr(&dom, "rate", "data-sum-sent").as_deref(),
        Some(s["totals"]["sent"].to_string().as_str())
    );
    assert_eq!(
        attr(&dom, "rate", "data-sum-received").as_deref(),
        Some(s["totals"]["received"].to_string().as_str())
    );
    for (kind, a) in [
        ("service", "data-max-service"),
        ("corrected", "data-max-corrected"),
    ] {
        assert_eq!(
            attr(&dom, "distribution", a).as_deref(),
            Some(s["latency_us"][kind]["max"].to_string().as_str()),
            "{kind}"
        );
    }
    assert_eq!(
        attr(&dom, "distribution", "data-points").as_deref(),
        Some("13")
    );
    // One point per interval of the log with corrected latencies (how many a 3 s run has
    // depends on how the shards' snapshots fall into the control thread's seconds).
    let over_time: usize = attr(&dom, "over-time", "data-points")
        .unwrap()
        .parse()
        .unwrap();
    let log = std::fs::read_to_string(dir.join("latency.hlog")).unwrap();
    let intervals = log
        .lines()
        .filter(|l| l.starts_with("Tag=corrected,"))
        .count();
    assert!(intervals >= 2, "{log}");
    assert_eq!(over_time, intervals);
    // A Java worker's files make a page too.
    let out = scratch("java-report").join("report.html");
    let (code, _, err) = report(&[
        root().join("tests/data/java-worker").to_str().unwrap(),
        "--format",
        "html",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let (dom, _) = chromium_dom(&out);
    assert!(dom.contains("data-rendered=\"3\""));
    assert_eq!(
        attr(&dom, "rate", "data-sum-received").as_deref(),
        Some("5000")
    );
    // The totals, then the sender's sent and the receiver's received.
    assert_eq!(attr(&dom, "rate", "data-series").as_deref(), Some("4"));
    assert_eq!(
        attr(&dom, "distribution", "data-max-service").as_deref(),
        Some("1099")
    );
}
