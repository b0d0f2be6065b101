//! A Maestro cluster whose members are hosts of their own: the Maestro broker, the SUT broker,
//! each worker and the client run in network namespaces of their own (`ip netns`), joined by
//! veth pairs on a bridge, as separate machines on one switch would be. The client's timing,
//! the workers' links and the merged histograms cross a real (virtual) network path, not
//! loopback.
//!
//! Added latency (`tc netem`) is not tested here: these machines' kernel has no `sch_netem`.
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
        let tag = std::process::id() % 10_000;
        let net = 100 + std::process::id() % 150;
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

#[test]
fn a_cluster_of_separate_hosts_runs_a_test_across_the_network() {
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
    let sut = format!("mqtt://{}:1883/{}", hosts.addr(1), unique("allegro/hosts"));
    let started = Instant::now();
    let out = hosts
        .on(4, allegro)
        .args([
            "test",
            "fixed-rate",
            "--maestro",
            &maestro,
            "--send-receive-url",
            &sut,
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
}
