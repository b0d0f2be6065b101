//! `allegro run --metrics`: the live metrics, scraped over HTTP during a run and read with
//! Python's `prometheus_client` parser (tests/peers/prom_parse.py), agree with the summary at
//! the end; `allegro worker --metrics` serves a Maestro test's.

mod common;

use common::{allegro, free_port, root, scratch, Mosquitto};
use serde_json::Value;
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The body of `GET /metrics` at `addr`, or `None` while nothing listens.
fn scrape(addr: &str) -> Option<String> {
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    write!(s, "GET /metrics HTTP/1.1\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut r = String::new();
    s.read_to_string(&mut r).ok()?;
    let (head, body) = r.split_once("\r\n\r\n")?;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("text/plain; version=0.0.4"), "{head}");
    Some(body.to_owned())
}

/// The samples of `text` as prometheus_client reads them: (name, labels, value, type).
fn parse(text: &str) -> Vec<(String, Value, Option<f64>, String)> {
    let mut child = Command::new("/usr/bin/python3")
        .arg(root().join("tests/peers/prom_parse.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 (scripts/setup installs python3-prometheus-client)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "prometheus_client rejects the exposition: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    v.into_iter()
        .map(|s| {
            (
                s[0].as_str().unwrap().to_owned(),
                s[1].clone(),
                s[2].as_f64(),
                s[3].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// The sum over shards of sample `name` (with `label=value` too, when given).
fn total(
    samples: &[(String, Value, Option<f64>, String)],
    name: &str,
    label: Option<(&str, &str)>,
) -> f64 {
    samples
        .iter()
        .filter(|(n, l, _, _)| n == name && label.is_none_or(|(k, v)| l[k] == v))
        .map(|(_, _, v, _)| v.unwrap_or(0.0))
        .sum()
}

#[test]
fn scraped_during_a_run_and_equal_to_the_summary_at_its_end() {
    let broker = Mosquitto::start();
    let addr = format!("127.0.0.1:{}", free_port());
    let results = scratch("metrics");
    let mut child = allegro()
        .args(["run", &format!("mqtt://127.0.0.1:{}/metrics", broker.1)])
        .args([
            "--rate",
            "500",
            "--parallel",
            "2",
            "--qos",
            "1",
            "--duration",
            "4s",
        ])
        .args(["--metrics", &addr, "--metrics-linger", "10s", "--quiet"])
        .arg("--results")
        .arg(&results)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // During the run: counters moving, three connections up, latency quantiles.
    std::thread::sleep(Duration::from_millis(2500));
    let during = parse(&scrape(&addr).expect("the endpoint is up during the run"));
    assert!(total(&during, "allegro_messages_sent_total", None) > 0.0);
    assert_eq!(
        total(&during, "allegro_connections", Some(("state", "up"))),
        3.0
    );
    let p99 = during
        .iter()
        .find(|(n, l, _, _)| {
            n == "allegro_latency_seconds" && l["kind"] == "service" && l["quantile"] == "0.99"
        })
        .expect("a service latency p99");
    assert!(p99.2.unwrap() > 0.0 && p99.3 == "summary", "{p99:?}");
    assert!(during
        .iter()
        .any(|(n, l, _, _)| n == "allegro_run_info" && l["protocol"] == "mqtt"));
    // At the end (the summary written, the endpoint lingering): the same numbers.
    let path = results.join("last/summary.json");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !path.exists() {
        assert!(Instant::now() < deadline, "no summary");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(200));
    let s: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let end = parse(&scrape(&addr).expect("the endpoint lingers after the run"));
    let t = &s["totals"];
    for (metric, key) in [
        ("allegro_messages_sent_total", "sent"),
        ("allegro_messages_acked_total", "acked"),
        ("allegro_messages_received_total", "received"),
        ("allegro_bytes_sent_total", "bytes_sent"),
        ("allegro_connection_errors_total", "connection_errors"),
    ] {
        assert_eq!(
            total(&end, metric, None),
            t[key].as_f64().unwrap(),
            "{metric}"
        );
    }
    assert_eq!(
        total(&end, "allegro_connections", Some(("state", "done"))),
        3.0
    );
    let count = end
        .iter()
        .find(|(n, l, _, _)| n == "allegro_latency_seconds_count" && l["kind"] == "service")
        .unwrap();
    assert_eq!(
        count.2,
        s["latency_us"]["service"]["count"].as_f64(),
        "{count:?}"
    );
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn an_address_in_use_is_refused_before_anything_runs() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let results = scratch("metrics-taken");
    let out = allegro()
        .args(["run", "--duration", "100", "--metrics", &addr, "--results"])
        .arg(&results)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("cannot serve metrics on {addr}")),
        "{stderr}"
    );
    assert!(
        !results.join("last").exists(),
        "no results directory for a run that never ran"
    );
}

#[test]
fn a_worker_serves_its_tests_metrics() {
    let broker = Mosquitto::start();
    let maestro = format!("mqtt://127.0.0.1:{}", broker.1);
    let addr = format!("127.0.0.1:{}", free_port());
    let names = [
        format!("metrics-a-{}", std::process::id()),
        format!("metrics-b-{}", std::process::id()),
    ];
    let mut workers: Vec<std::process::Child> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let mut c = allegro();
            c.args(["worker", "--maestro", &maestro, "--name", name, "--results"])
                .arg(scratch("metrics-worker"));
            if i == 0 {
                c.args(["--metrics", &addr]);
            }
            c.stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    // Both answer a ping before the test goes out.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = allegro()
            .args(["ping", "--maestro", &maestro, "--wait", "1s"])
            .output()
            .unwrap();
        let seen = String::from_utf8_lossy(&out.stdout).into_owned();
        if names.iter().all(|n| seen.contains(n.as_str())) {
            break;
        }
        assert!(Instant::now() < deadline, "workers did not answer: {seen}");
    }
    // Up before any test, with nothing to say yet.
    assert_eq!(
        parse(&scrape(&addr).expect("the worker serves metrics")).len(),
        0
    );
    let results = scratch("metrics-client");
    let mut test = allegro()
        .args(["test", "fixed-rate", "--maestro", &maestro])
        .args([
            "--send-receive-url",
            &format!("{maestro}/allegro/metrics-sut"),
        ])
        .args([
            "--test-duration",
            "4s",
            "--rate",
            "200",
            "--parallel-count",
            "1",
        ])
        .args(["--quiet", "--results"])
        .arg(&results)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let moving = loop {
        let samples = parse(&scrape(&addr).unwrap_or_default());
        let n = total(&samples, "allegro_messages_sent_total", None)
            + total(&samples, "allegro_messages_received_total", None);
        if n > 0.0 {
            break samples;
        }
        assert!(
            Instant::now() < deadline,
            "no messages in the worker's metrics"
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    assert!(moving.iter().any(|(n, _, _, _)| n == "allegro_run_info"));
    assert_eq!(test.wait().unwrap().code(), Some(0));
    // The client wrote the test's report beside the workers' files it pulled: both roles.
    let page = find(&results, "report.html").expect("the client's report.html");
    let out = allegro()
        .args([
            "report",
            page.parent().unwrap().to_str().unwrap(),
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    let roles: Vec<&str> = j["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["role"].as_str().unwrap())
        .collect();
    assert!(
        roles.contains(&"sender") && roles.contains(&"receiver"),
        "{roles:?}"
    );
    assert!(j["totals"]["received"].as_u64().unwrap() > 0);
    for w in &mut workers {
        let _ = w.kill();
        let _ = w.wait();
    }
}

/// The first file named `name` below `dir`.
fn find(dir: &std::path::Path, name: &str) -> Option<std::path::PathBuf> {
    for e in std::fs::read_dir(dir).ok()?.flatten() {
        let p = e.path();
        if p.file_name().is_some_and(|n| n == name) {
            return Some(p);
        }
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            if let Some(f) = find(&p, name) {
                return Some(f);
            }
        }
    }
    None
}
