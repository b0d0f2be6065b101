//! RabbitMQ restarted under a run with `--reconnect`: `rabbitmqctl stop_app` closes every
//! connection (AMQP 0-9-1: reply 320 connection-forced; AMQP 1.0: RabbitMQ 3.10 ends the
//! session with `amqp:internal-error` "shutdown"), and `start_app` brings the broker back. The run goes on, each
//! loss is reported, and the counts add up. This test has a binary of its own: no other test
//! may meet the broker while it is down.

mod common;

use common::{endpoint, run_json, summary_on_disk, unique};
use serde_json::Value;
use std::process::Command;
use std::time::Duration;

fn rabbitmqctl(what: &str) {
    let out = Command::new("rabbitmqctl")
        .args(["-q", what])
        .output()
        .unwrap_or_else(|e| panic!("rabbitmqctl ({e}): run scripts/setup rabbitmq first"));
    assert!(
        out.status.success(),
        "rabbitmqctl {what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Stops the RabbitMQ application; starts it again when dropped (even when the test fails).
struct Stopped;

impl Stopped {
    fn now() -> Self {
        rabbitmqctl("stop_app");
        Stopped
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        rabbitmqctl("start_app");
        // Listeners up again before anything else runs.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(endpoint("RABBITMQ_AMQP")).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "RabbitMQ did not come back"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

#[test]
fn a_rabbitmq_restart_is_ridden_out_on_amqp091_and_amqp10() {
    for (scheme, key, extra) in [
        ("amqp091", "RABBITMQ_AMQP", "?confirm=true"),
        ("amqp", "RABBITMQ_AMQP", "?settle=unsettled"),
    ] {
        let queue = unique("reconnect");
        let path = if scheme == "amqp" {
            format!("/queue/{queue}")
        } else {
            format!("/{queue}")
        };
        let url = format!("{scheme}://{}{path}{extra}", endpoint(key));
        let restart = std::thread::spawn(|| {
            std::thread::sleep(Duration::from_millis(2500));
            let stopped = Stopped::now();
            std::thread::sleep(Duration::from_millis(1000));
            drop(stopped);
        });
        let (r, results) = run_json(
            &url,
            &[
                "--rate",
                "500",
                "--parallel",
                "2",
                "--duration",
                "8s",
                "--reconnect",
            ],
            Duration::from_secs(90),
        );
        restart.join().unwrap();
        assert_eq!(r.status, 0, "{scheme}: {}\n{}", r.stderr, r.stdout);
        let s = summary_on_disk(&results);
        let t = &s["totals"];
        assert_eq!(s["status"], "completed", "{scheme}: {s}");
        assert_eq!(n(&t["disconnects"]), 3, "{scheme}: {t}");
        assert_eq!(n(&t["reconnects"]), 3, "{scheme}: {t}");
        let lines = s["disconnects"].to_string();
        assert!(
            lines.contains("320 CONNECTION_FORCED") || lines.contains("(shutdown)"),
            "{scheme}: {lines}"
        );
        assert_eq!(n(&t["sent"]), 8_000, "{scheme}: {t}");
        assert_eq!(
            n(&t["acked"]) + n(&t["unconfirmed"]),
            n(&t["sent"]),
            "{scheme}: {t}"
        );
        assert_eq!(
            n(&t["received"]) - n(&t["duplicated"]) + n(&t["lost"]),
            n(&t["expected_received"]),
            "{scheme}: {t}"
        );
        assert!(n(&t["received"]) > 4_000, "{scheme}: {t}");
    }
}
