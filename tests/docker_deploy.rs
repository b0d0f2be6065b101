//! The container deployment (`deploy/docker/`), end to end on a real Docker engine: the images
//! are built from Debian's packages and this test's own `allegro` binary, the Compose
//! deployment (Maestro broker, Mosquitto as the system under test, two workers) comes up, the
//! one-shot client runs a fixed-rate test through it, and everything comes down again, with the
//! results on the host. The scripts install Docker (Debian's `docker.io`) and start the engine
//! themselves; this test stops the engine again if they started it.

mod common;

use common::{check_schema, root, scratch};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn script(name: &str) -> Command {
    let mut c = Command::new(root().join("deploy/docker").join(name));
    c.env("ALLEGRO_TAG", "test")
        .env("ALLEGRO_PROJECT", "allegro-test");
    c
}

fn run(mut c: Command, what: &str) -> std::process::Output {
    c.output()
        .unwrap_or_else(|e| panic!("{what}: cannot start: {e}"))
}

/// Takes the test's deployment down, and stops the Docker engine if none was answering when
/// the test began (the scripts then started it), however the test ends.
struct Engine {
    was_running: bool,
}

impl Engine {
    fn note() -> Engine {
        let was_running = Command::new("/usr/bin/docker")
            .arg("info")
            .output()
            .is_ok_and(|o| o.status.success());
        Engine { was_running }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        let _ = script("down").output();
        if !self.was_running {
            let _ = script("engine").arg("stop").output();
        }
    }
}

fn summaries(dir: &Path) -> Vec<(PathBuf, Value)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let p = e.unwrap().path().join("summary.json");
        if p.exists() {
            let v = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            out.push((p, v));
        }
    }
    out
}

#[test]
fn a_fixed_rate_test_runs_through_the_compose_deployment() {
    let _engine = Engine::note();
    let results = scratch("docker");
    let build = run(
        {
            let mut c = script("build");
            c.args(["--binary", env!("CARGO_BIN_EXE_allegro")]);
            c
        },
        "deploy/docker/build",
    );
    assert!(
        build.status.success(),
        "deploy/docker/build failed:\n{}",
        String::from_utf8_lossy(&build.stderr)
    );

    let mut c = script("run-test");
    c.args(["--workers", "2"])
        .env("ALLEGRO_RESULTS", &results)
        .env("TEST_DURATION", "5s")
        .env("RATE", "100")
        .env("PARALLEL_COUNT", "2")
        .env("MESSAGE_SIZE", "256");
    let out = run(c, "deploy/docker/run-test");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        out.status.success(),
        "the test through the deployment failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    assert!(stdout.contains("test successful"), "{stdout}\n{stderr}");

    // The client collected both workers' files into test/0, on the host.
    let collected = results.join("test/0");
    assert!(
        collected.join("report.html").is_file(),
        "no report.html in {}",
        collected.display()
    );
    let got = summaries(&collected);
    assert_eq!(
        got.len(),
        2,
        "one summary per worker in {}",
        collected.display()
    );
    let (mut sent, mut received) = (0, 0);
    for (path, s) in &got {
        check_schema(s, "docs/summary.schema.json");
        assert_eq!(s["status"], "completed", "{}", path.display());
        let h = &s["host"];
        // Detected by the engine inside its container: Docker, on the deployment's bridges.
        assert_eq!(h["container"], "docker", "{}: {h}", path.display());
        assert_eq!(
            h["network"]["container_mode"],
            "bridge",
            "{}: {h}",
            path.display()
        );
        assert_eq!(h["network"]["loopback"], false, "{}: {h}", path.display());
        sent += s["totals"]["sent"].as_u64().unwrap();
        received += s["totals"]["received"].as_u64().unwrap();
        assert_eq!(s["totals"]["lost"], 0, "{}", path.display());
        assert_eq!(s["config"]["url"], "mqtt://sut:1883/test.performance.queue");
    }
    // 2 connections × 100/s × 5 s, and on an MQTT topic both receivers get every message.
    assert_eq!(sent, 1000, "messages sent");
    assert_eq!(received, 2000, "messages received");

    // Each worker kept its own copy too, under workers/<container>/.
    let workers: Vec<_> = std::fs::read_dir(results.join("workers"))
        .unwrap()
        .collect();
    assert_eq!(workers.len(), 2, "a results directory per worker container");

    // On the host's network, confined to one CPU: the engine says so, and places its shards on
    // that CPU alone (a peer-to-peer run, no broker needed).
    let online = std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap();
    let last_cpu = online.trim().rsplit([',', '-']).next().unwrap().to_string();
    let out = Command::new("/usr/bin/docker")
        .args([
            "run",
            "--rm",
            "--network",
            "host",
            "--cpuset-cpus",
            &last_cpu,
        ])
        .args([
            "allegro:test",
            "run",
            "--duration",
            "1s",
            "--quiet",
            "--no-report",
        ])
        .args(["--output", "json", "--results", "/tmp/results"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "allegro run in a host-network container failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    check_schema(&s, "docs/summary.schema.json");
    assert_eq!(s["host"]["container"], "docker", "{}", s["host"]);
    assert_eq!(
        s["host"]["network"]["container_mode"], "host",
        "{}",
        s["host"]
    );
    assert_eq!(
        s["host"]["cpus_allowed"],
        last_cpu.as_str(),
        "{}",
        s["host"]
    );
    let cpu: u64 = last_cpu.parse().unwrap();
    assert_eq!(
        s["config"]["cores"],
        serde_json::json!([cpu]),
        "{}",
        s["config"]
    );
    assert!(s["totals"]["received"].as_u64().unwrap() > 0);

    // And the deployment is gone.
    let ps = Command::new("/usr/bin/docker")
        .args([
            "ps",
            "-q",
            "--filter",
            "label=com.docker.compose.project=allegro-test",
        ])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&ps.stdout).trim().is_empty(),
        "containers left running: {}",
        String::from_utf8_lossy(&ps.stdout)
    );
}
