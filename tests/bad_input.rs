//! Bad input and failing brokers: a clear one-line error, the right exit status, and whatever
//! was measured still on disk.

mod common;

use common::{allegro, free_port, run, scratch, Mosquitto};
use serde_json::Value;
use std::process::Stdio;
use std::time::{Duration, Instant};

fn assert_usage_error(args: &[&str], needle: &str) {
    let r = run(args, Duration::from_secs(20));
    assert_eq!(r.status, 2, "{args:?} should exit 2: {}", r.stderr);
    let lines: Vec<&str> = r.stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(
        lines.len(),
        1,
        "{args:?}: one line expected, got:\n{}",
        r.stderr
    );
    assert!(lines[0].starts_with("allegro: "), "{}", lines[0]);
    assert!(
        lines[0].contains(needle),
        "{args:?}: '{}' does not mention '{needle}'",
        lines[0]
    );
    assert!(r.stdout.is_empty(), "nothing on stdout: {}", r.stdout);
}

#[test]
fn rejected_urls_never_show_their_password() {
    for args in [
        vec!["run", "mqtt://user:s3cret@127.0.0.1:70000/t"],
        vec!["run", "amqp://user:s3cret@127.0.0.1/q?settle=maybe"],
        vec!["run", "gopher://user:s3cret@127.0.0.1/t"],
        vec!["run", "mqtt://user:s3cret@127.0.0.1/bad%zz"],
        vec!["ping", "--maestro", "mqtt://user:s3cret@127.0.0.1:0"],
        vec![
            "test",
            "fixed-rate",
            "--maestro",
            "mqtt://127.0.0.1:1",
            "--send-receive-url",
            "mqtt://user:s3cret@127.0.0.1:99999/t",
        ],
    ] {
        let r = run(&args, Duration::from_secs(20));
        assert_eq!(r.status, 2, "{args:?}: {}", r.stderr);
        assert!(
            !r.stderr.contains("s3cret"),
            "{args:?} printed the password: {}",
            r.stderr
        );
        assert!(!r.stdout.contains("s3cret"), "{args:?}: {}", r.stdout);
    }
}

#[test]
fn an_mqtt_wildcard_is_refused_as_a_send_topic() {
    assert_usage_error(&["run", "mqtt://127.0.0.1/t/#"], "has a wildcard");
    assert_usage_error(&["run", "mqtt://127.0.0.1/t/+/x"], "has a wildcard");
}

#[test]
fn bad_arguments_exit_2_with_one_line() {
    assert_usage_error(&["run", "not a url"], "bad URL");
    assert_usage_error(&["run", "127.0.0.1:1883/t"], "missing scheme");
    assert_usage_error(&["run", "gopher://127.0.0.1/t"], "unknown scheme 'gopher'");
    assert_usage_error(&["run", "mqtt://127.0.0.1:70000/t"], "bad port");
    assert_usage_error(
        &["run", "mqtt://127.0.0.1/t", "--rate", "-1"],
        "bad rate '-1'",
    );
    assert_usage_error(
        &["run", "mqtt://127.0.0.1/t", "--size", "0"],
        "size must be at least 1 byte",
    );
    assert_usage_error(
        &["run", "mqtt://127.0.0.1/t", "--frobnicate"],
        "--frobnicate",
    );
    assert_usage_error(
        &["run", "mqtt://127.0.0.1/t", "--duration", "5x"],
        "bad duration unit",
    );
    assert_usage_error(&["run", "mqtt://127.0.0.1/t", "--qos", "3"], "--qos");
    assert_usage_error(
        &["run", "mqtt://127.0.0.1/t", "--rx-coalesce", "5x"],
        "bad duration unit",
    );
    assert_usage_error(
        &["run", "mqtt://127.0.0.1/t", "--cores", "999"],
        "CPU 999 is not online",
    );
    assert_usage_error(&["frobnicate"], "frobnicate");
}

fn failed_summary(results: &std::path::Path) -> Value {
    let text =
        std::fs::read_to_string(results.join("last/summary.json")).expect("summary.json written");
    let s: Value = serde_json::from_str(&text).expect("summary.json parses");
    common::check_summary_schema(&s);
    assert_eq!(s["status"], "failed", "{s}");
    s
}

#[test]
fn broker_not_listening_fails_within_the_connect_timeout() {
    for backend in ["uring", "epoll"] {
        let port = free_port();
        let results = scratch("refused");
        let r = run(
            &[
                "run",
                &format!("mqtt://127.0.0.1:{port}/t"),
                "--connect-timeout",
                "3s",
                "--backend",
                backend,
                "--quiet",
                "--results",
                results.to_str().unwrap(),
            ],
            Duration::from_secs(30),
        );
        assert_eq!(r.status, 1, "{backend}: {}\n{}", r.stderr, r.stdout);
        assert!(
            r.elapsed < Duration::from_secs(5),
            "{backend}: took {:?}",
            r.elapsed
        );
        assert!(
            r.stderr.contains(&format!(
                "cannot connect to 127.0.0.1:{port}: Connection refused"
            )),
            "{backend}: {}",
            r.stderr
        );
        let s = failed_summary(&results);
        assert_eq!(s["totals"]["sent"], 0);
    }
}

#[test]
fn a_peer_that_stops_reading_fails_the_sender_at_the_stall_timeout() {
    // Answers the MQTT CONNECT with a CONNACK, then never reads again: the sender's bytes stop
    // at what the socket buffers hold, and the connection fails at --stall-timeout.
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let _keep = std::thread::spawn(move || {
        let mut held = Vec::new();
        for mut s in listener.incoming().flatten() {
            let mut connect = [0u8; 512];
            let _ = s.read(&mut connect);
            let _ = s.write_all(&[0x20, 2, 0, 0]);
            held.push(s);
        }
    });
    for backend in ["uring", "epoll"] {
        let results = scratch("stalled");
        let r = run(
            &[
                "run",
                &format!("mqtt://127.0.0.1:{port}/t"),
                "--receivers",
                "0",
                "--duration",
                "2s",
                "--stall-timeout",
                "3s",
                "--backend",
                backend,
                "--output",
                "json",
                "--quiet",
                "--results",
                results.to_str().unwrap(),
            ],
            Duration::from_secs(60),
        );
        assert_eq!(r.status, 1, "{backend}: {}", r.stderr);
        assert!(
            r.elapsed < Duration::from_secs(15),
            "{backend}: took {:?}",
            r.elapsed
        );
        assert!(
            r.stderr
                .contains("the peer stopped reading (nothing could be written for 3s)"),
            "{backend}: {}",
            r.stderr
        );
        let s = failed_summary(&results);
        // What went into the socket before it filled was counted as sent: a bounded amount.
        let sent = s["totals"]["sent"].as_u64().unwrap();
        assert!(sent > 0 && sent < 1_000_000, "{backend}: {}", s["totals"]);
    }
}

#[test]
fn silent_peer_fails_the_handshake_within_the_connect_timeout() {
    // Accepts TCP connections and never answers the CONNECT.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let _keep = std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming().flatten() {
            held.push(s);
        }
    });
    for backend in ["uring", "epoll"] {
        let results = scratch("silent");
        let r = run(
            &[
                "run",
                &format!("mqtt://127.0.0.1:{port}/t"),
                "--connect-timeout",
                "2s",
                "--backend",
                backend,
                "--quiet",
                "--results",
                results.to_str().unwrap(),
            ],
            Duration::from_secs(30),
        );
        assert_eq!(r.status, 1, "{backend}: {}", r.stderr);
        assert!(
            r.elapsed < Duration::from_secs(5),
            "{backend}: took {:?}",
            r.elapsed
        );
        assert!(
            r.stderr.contains("handshake did not finish within 2s"),
            "{backend}: {}",
            r.stderr
        );
        failed_summary(&results);
    }
}

#[test]
fn broker_stopped_mid_run_ends_with_an_error_summary_and_results_on_disk() {
    for backend in ["uring", "epoll"] {
        let broker = Mosquitto::start();
        let results = scratch("vanish");
        let child = allegro()
            .args([
                "run",
                &format!("mqtt://127.0.0.1:{}/vanish", broker.1),
                "--rate",
                "500",
                "--duration",
                "60s",
                "--qos",
                "1",
                "--backend",
                backend,
                "--quiet",
                "--output",
                "json",
                "--results",
                results.to_str().unwrap(),
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(2500));
        let killed = Instant::now();
        drop(broker);
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            killed.elapsed() < Duration::from_secs(10),
            "{backend}: took {:?} to notice",
            killed.elapsed()
        );
        assert_eq!(out.status.code(), Some(1), "{backend}: {stderr}");
        assert!(stderr.contains("run failed:"), "{backend}: {stderr}");
        let s = failed_summary(&results);
        let sent = s["totals"]["sent"].as_u64().unwrap();
        assert!(
            sent >= 500,
            "{backend}: about 2.5 s at 500/s were sent before the broker died: {sent}"
        );
        assert!(s["totals"]["received"].as_u64().unwrap() > 0);
        let errors = s["errors"].as_array().unwrap();
        assert!(!errors.is_empty());
        let log = std::fs::read_to_string(results.join("last/latency.hlog")).unwrap();
        assert!(
            log.lines()
                .filter(|l| l.starts_with("Tag=corrected"))
                .count()
                >= 1,
            "{log}"
        );
    }
}

/// `allegro run` peer to peer for `duration`, results under `results`, stdout piped.
fn peer_run(duration: &str, results: &std::path::Path) -> std::process::Child {
    allegro()
        .args([
            "run",
            "--duration",
            duration,
            "--rate",
            "2000",
            "--quiet",
            "--results",
            results.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start allegro")
}

fn summary_status(results: &std::path::Path) -> String {
    let s: Value = serde_json::from_str(
        &std::fs::read_to_string(results.join("last/summary.json")).expect("summary.json"),
    )
    .unwrap();
    s["status"].as_str().unwrap().to_owned()
}

#[test]
fn a_closed_stdout_costs_neither_the_run_nor_its_results() {
    // As `allegro run ... | head -1`: the reader is gone before the report is written.
    let results = scratch("closed-stdout");
    let mut child = peer_run("1s", &results);
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(summary_status(&results), "completed");
}

#[test]
fn sighup_stops_the_run_with_its_summary_written() {
    let results = scratch("sighup");
    let child = peer_run("60s", &results);
    std::thread::sleep(Duration::from_secs(2));
    let hup = std::process::Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(summary_status(&results), "interrupted");
}

/// A small tmpfs, unmounted when dropped.
struct TinyFs(std::path::PathBuf);

impl Drop for TinyFs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_fails_the_run_and_leaves_whole_lines() {
    let mount = scratch("tinyfs");
    let ok = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
        .arg(&mount)
        .status()
        .expect("mount (this test needs root)");
    assert!(ok.success(), "mounting a tmpfs needs root");
    let fs = TinyFs(mount.clone());
    // Leave room for the results directory and a few intervals, not for a whole run.
    let avail = nix_avail(&fs.0);
    std::fs::write(fs.0.join("filler"), vec![0u8; (avail - 6 * 1024) as usize]).unwrap();
    let results = fs.0.join("results");
    let out = peer_run("5s", &results).wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a run that lost results: {stderr}"
    );
    assert!(stderr.contains("No space left"), "{stderr}");
    let dir = results.join("last");
    assert!(
        !dir.join(".summary.json.tmp").exists(),
        "no half-written summary left"
    );
    let log = std::fs::read_to_string(dir.join("latency.hlog")).unwrap();
    assert!(log.ends_with('\n'), "the interval log ends on a whole line");
    for line in log
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with('"'))
    {
        // [Tag=NAME,]start,length,max,histogram
        let fields: Vec<&str> = line.split(',').collect();
        let n = if fields[0].starts_with("Tag=") { 5 } else { 4 };
        assert_eq!(fields.len(), n, "{line}");
        let histogram = fields[n - 1];
        assert!(
            histogram.starts_with("HISTF") && histogram.len().is_multiple_of(4),
            "a whole base64 histogram: {line}"
        );
    }
}

/// Bytes free on the filesystem of `path`.
fn nix_avail(path: &std::path::Path) -> u64 {
    let out = std::process::Command::new("df")
        .args(["--output=avail", "-B1"])
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .nth(1)
        .and_then(|l| l.trim().parse().ok())
        .unwrap()
}

#[test]
fn a_name_that_does_not_resolve_writes_a_whole_failed_summary() {
    let results = scratch("unresolved");
    let r = run(
        &[
            "run",
            "mqtt://no-such-host.invalid/t",
            "--duration",
            "1s",
            "--output",
            "json",
            "--quiet",
            "--results",
            results.to_str().unwrap(),
        ],
        Duration::from_secs(30),
    );
    assert_eq!(r.status, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("cannot resolve no-such-host.invalid"),
        "{}",
        r.stderr
    );
    let s = r.json();
    common::check_summary_schema(&s);
    assert_eq!(s["status"], "failed");
    assert!(
        s["errors"][0].as_str().unwrap().contains("cannot resolve"),
        "{s}"
    );
    let on_disk: Value =
        serde_json::from_str(&std::fs::read_to_string(results.join("last/summary.json")).unwrap())
            .unwrap();
    assert_eq!(on_disk["errors"], s["errors"]);
}

/// `allegro ARGS` under an open-files limit of `soft:hard`.
fn under_limit(limit: &str, args: &[&str]) -> std::process::Output {
    std::process::Command::new("prlimit")
        .arg(format!("--nofile={limit}"))
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_allegro"))
        .args(args)
        .output()
        .expect("prlimit (util-linux)")
}

#[test]
fn the_open_files_limit_is_raised_and_what_cannot_fit_refused_up_front() {
    // 2,000 senders peer to peer are 4,000 descriptors: not under a hard limit of 1,024.
    let out = under_limit(
        "1024:1024",
        &["run", "--parallel", "2000", "--duration", "1s"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("open files") && stderr.contains("limit of 1024"),
        "{stderr}"
    );
    // 300 descriptors under a soft limit of 256: raised to the hard 4,096, and the run goes.
    let results = scratch("nofile");
    let out = under_limit(
        "256:4096",
        &[
            "run",
            "--parallel",
            "150",
            "--duration",
            "200",
            "--quiet",
            "--results",
            results.to_str().unwrap(),
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("Too many open files"), "{stderr}");
}

#[test]
fn small_defects_each_say_what_they_are() {
    // A `last` that is a directory someone made: the run goes on, says so, leaves no strays.
    let results = scratch("last-dir");
    std::fs::create_dir_all(results.join("last")).unwrap();
    let r = run(
        &[
            "run",
            "--duration",
            "100",
            "--quiet",
            "--results",
            results.to_str().unwrap(),
        ],
        Duration::from_secs(30),
    );
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert!(r.stderr.contains("cannot point"), "{}", r.stderr);
    let names: Vec<String> = std::fs::read_dir(&results)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().all(|n| !n.starts_with('.')),
        "stray files: {names:?}"
    );
    assert!(results.join("1/summary.json").is_file(), "{names:?}");
    // The Maestro broker speaks MQTT: an amqp:// one is refused, not dialled as MQTT.
    assert_usage_error(
        &["ping", "--maestro", "amqp://127.0.0.1:5672"],
        "spoken to over MQTT",
    );
    // A warm-up as long as the run would record nothing.
    assert_usage_error(
        &["run", "--duration", "2s", "--warmup", "2s"],
        "is not shorter than the duration",
    );
    // MQTT settings on an AMQP 1.0 run: said, not silently dropped.
    let r = run(
        &[
            "run",
            "--duration",
            "100",
            "--qos",
            "1",
            "--quiet",
            "--results",
            scratch("mqtt-opts").to_str().unwrap(),
        ],
        Duration::from_secs(30),
    );
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert!(r.stderr.contains("apply to MQTT"), "{}", r.stderr);
    // A sub-second connect timeout is printed as such, not as "0s".
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let _keep = std::thread::spawn(move || {
        let held: Vec<_> = listener.incoming().flatten().collect();
        drop(held);
    });
    let r = run(
        &[
            "run",
            &format!("mqtt://127.0.0.1:{port}/t"),
            "--connect-timeout",
            "300ms",
            "--quiet",
            "--results",
            scratch("subsecond").to_str().unwrap(),
        ],
        Duration::from_secs(30),
    );
    assert_eq!(r.status, 1, "{}", r.stderr);
    assert!(r.stderr.contains("within 300ms"), "{}", r.stderr);
}
