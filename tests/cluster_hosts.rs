//! A Maestro cluster whose members are hosts of their own: the Maestro broker, the SUT broker,
//! each worker and the client run in network namespaces of their own (`ip netns`), joined by
//! veth pairs on a bridge, as separate machines on one switch would be. The client's timing,
//! the workers' links and the merged histograms cross a real (virtual) network path, not
//! loopback.
//!
//! Latency between hosts: these machines' kernel has no `sch_netem` for `tc netem`, so a relay
//! on the SUT host (`tests/peers/delay_proxy.py`) holds the senders' bytes 20 ms each way.
//! Needs root (CI runs as root); it fails, never skips, without it.

mod common;

use common::{scratch, unique};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Namespaces on a bridge, each with one address in a /24 of their own, and what runs in them;
/// all of it is taken down when dropped.
struct Hosts {
    bridge: String,
    hosts: Vec<(String, String)>,
    children: Vec<Child>,
}

fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .output()
        .expect("ip (iproute2)");
    assert!(
        out.status.success(),
        "ip {}: {} (this test needs root and network namespaces)",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Hosts {
    fn new(names: &[&str]) -> Hosts {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tag = (std::process::id() % 1_000) * 10 + n;
        let net = 100 + (std::process::id() + n) % 150;
        let bridge = format!("alb{tag}");
        ip(&["link", "add", &bridge, "type", "bridge"]);
        let mut hosts = Hosts {
            bridge: bridge.clone(),
            hosts: Vec::new(),
            children: Vec::new(),
        };
        ip(&["link", "set", &bridge, "up"]);
        for (i, name) in names.iter().enumerate() {
            let ns = format!("al{tag}{name}");
            let (inner, outer) = (format!("al{tag}h{i}"), format!("al{tag}p{i}"));
            let addr = format!("10.201.{net}.{}", i + 1);
            ip(&["netns", "add", &ns]);
            hosts.hosts.push((ns.clone(), addr.clone()));
            ip(&[
                "link", "add", &inner, "type", "veth", "peer", "name", &outer,
            ]);
            ip(&["link", "set", &inner, "netns", &ns]);
            ip(&["link", "set", &outer, "master", &bridge]);
            ip(&["link", "set", &outer, "up"]);
            ip(&["-n", &ns, "link", "set", "lo", "up"]);
            ip(&[
                "-n",
                &ns,
                "addr",
                "add",
                &format!("{addr}/24"),
                "dev",
                &inner,
            ]);
            ip(&["-n", &ns, "link", "set", &inner, "up"]);
        }
        hosts
    }

    fn addr(&self, i: usize) -> &str {
        &self.hosts[i].1
    }

    /// `program args` run on host `i`.
    fn on(&self, i: usize, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.hosts[i].0, program]);
        c
    }

    fn spawn(&mut self, mut c: Command) -> &mut Child {
        let child = c.spawn().expect("spawn in a namespace");
        self.children.push(child);
        self.children.last_mut().unwrap()
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        for (ns, _) in &self.hosts {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
        let _ = Command::new("ip")
            .args(["link", "del", &self.bridge])
            .status();
    }
}

/// A Mosquitto on host `i`, port 1883, open to the network.
fn mosquitto_on(hosts: &mut Hosts, i: usize) {
    let conf = scratch("netns-mosquitto").join("mosquitto.conf");
    std::fs::write(&conf, "listener 1883 0.0.0.0\nallow_anonymous true\n").unwrap();
    let mut c = hosts.on(i, "mosquitto");
    c.arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    hosts.spawn(c);
}

/// A 3 s test at 500/s on a cluster of separate hosts; with `delay_ms`, the senders reach the
/// SUT broker through a relay that delays each way. Returns the client's stdout.
fn cluster_test(delay_ms: Option<u32>) -> String {
    // 0: Maestro broker, 1: SUT broker, 2 and 3: workers, 4: client.
    let mut hosts = Hosts::new(&["mb", "sut", "w1", "w2", "cl"]);
    mosquitto_on(&mut hosts, 0);
    mosquitto_on(&mut hosts, 1);
    let maestro = format!("mqtt://{}:1883", hosts.addr(0));
    let allegro = env!("CARGO_BIN_EXE_allegro");
    for (i, host) in [(2, "host-1"), (3, "host-2")] {
        let mut c = hosts.on(i, allegro);
        c.args([
            "worker",
            "--maestro",
            &maestro,
            "--name",
            &unique("nw"),
            "--host",
            host,
            "--results",
        ])
        .arg(scratch("netns-worker"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
        let child = hosts.spawn(c);
        // Up once it says it reached the Maestro broker across the bridge.
        let err = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if line.contains("connected to the Maestro broker") {
                    let _ = tx.send(());
                }
            }
        });
        rx.recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("the worker on {host} did not reach {maestro}"));
    }
    let results: PathBuf = scratch("netns-client");
    let topic = unique("allegro/hosts");
    let receive_url = format!("mqtt://{}:1883/{topic}", hosts.addr(1));
    let send_url = match delay_ms {
        None => receive_url.clone(),
        Some(ms) => {
            let relay = common::root().join("tests/peers/delay_proxy.py");
            let mut c = hosts.on(1, "/usr/bin/python3");
            c.arg(relay)
                .args(["0.0.0.0", "1884", "127.0.0.1", "1883", &ms.to_string()])
                .stdout(Stdio::piped());
            let child = hosts.spawn(c);
            let mut line = String::new();
            BufReader::new(child.stdout.take().unwrap())
                .read_line(&mut line)
                .unwrap();
            assert_eq!(line.trim(), "listening");
            format!("mqtt://{}:1884/{topic}", hosts.addr(1))
        }
    };
    let started = Instant::now();
    let out = hosts
        .on(4, allegro)
        .args([
            "test",
            "fixed-rate",
            "--maestro",
            &maestro,
            "--send-url",
            &send_url,
            "--receive-url",
            &receive_url,
            "--test-duration",
            "3s",
            "--rate",
            "500",
            "--quiet",
            "--results",
        ])
        .arg(&results)
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(started.elapsed() < Duration::from_secs(60));
    assert!(stdout.contains("test successful"), "{stdout}");
    assert!(stdout.contains("latency (all receivers"), "{stdout}");
    // Each worker's files came across, under its own host name, and the counts match.
    let mut dirs: Vec<String> = std::fs::read_dir(results.join("lastSuccessful"))
        .unwrap()
        .flatten()
        // Worker directories (the client's report.html beside them).
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    dirs.sort();
    assert_eq!(dirs.len(), 2, "{dirs:?}");
    assert!(
        dirs[0].ends_with("@host-1") && dirs[1].ends_with("@host-2"),
        "{dirs:?}"
    );
    let total = |key: &str| -> u64 {
        dirs.iter()
            .map(|d| {
                let s: serde_json::Value = serde_json::from_str(
                    &std::fs::read_to_string(
                        results.join("lastSuccessful").join(d).join("summary.json"),
                    )
                    .unwrap(),
                )
                .unwrap();
                s["totals"][key].as_u64().unwrap()
            })
            .sum()
    };
    assert_eq!(total("sent"), 1_500, "3 s at 500/s");
    assert_eq!(total("received"), 1_500);
    stdout.into_owned()
}

/// The merged median latency in µs the client printed.
fn p50(stdout: &str) -> u64 {
    let line = stdout
        .lines()
        .find(|l| l.starts_with("latency (all receivers"))
        .unwrap_or_else(|| panic!("{stdout}"));
    line.split("p50 ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{line}"))
}

#[test]
fn a_cluster_of_separate_hosts_runs_a_test_across_the_network() {
    let out = cluster_test(None);
    assert!(p50(&out) < 20_000, "{out}");
}

#[test]
fn latency_added_between_hosts_shows_in_the_merged_histogram() {
    let out = cluster_test(Some(20));
    // 20 ms from sender to broker; the broker to receiver path is not delayed.
    let median = p50(&out);
    assert!((20_000..60_000).contains(&median), "{out}");
}
