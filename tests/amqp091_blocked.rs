//! A RabbitMQ memory alarm blocks publishing (`connection.blocked`): Allegro's AMQP 0-9-1
//! sender stalls, and the run ends with the broker's reason once the block outlasts its limit
//! (10 s), the summary on disk. The alarm is raised and cleared with `rabbitmqctl eval` on the
//! broker `scripts/setup` started; this test has a binary of its own so that no other test's
//! publishers meet the alarm.

mod common;

use common::{completed_run, endpoint, refused_run, run_json, unique};
use std::process::Command;
use std::time::Duration;

fn rabbit_eval(expr: &str) {
    let out = Command::new("rabbitmqctl")
        .args(["eval", expr])
        .output()
        .unwrap_or_else(|e| panic!("rabbitmqctl ({e}): run scripts/setup rabbitmq first"));
    assert!(
        out.status.success(),
        "rabbitmqctl eval {expr}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Raises RabbitMQ's memory alarm; clears it when dropped (even when the test fails).
struct MemoryAlarm;

impl MemoryAlarm {
    fn raise() -> Self {
        rabbit_eval("rabbit_alarm:set_alarm({{resource_limit, memory, node()}, []}).");
        MemoryAlarm
    }
}

impl Drop for MemoryAlarm {
    fn drop(&mut self) {
        rabbit_eval("rabbit_alarm:clear_alarm({resource_limit, memory, node()}).");
    }
}

#[test]
fn a_broker_that_blocks_publishing_ends_the_run_with_its_reason() {
    let ep = endpoint("RABBITMQ_AMQP");
    let url = format!("amqp091://{ep}/{}", unique("allegro-it-blocked"));
    let alarm = MemoryAlarm::raise();
    let (r, results) = run_json(
        &url,
        &["--rate", "1000", "--duration", "30s"],
        Duration::from_secs(90),
    );
    drop(alarm);
    let s = refused_run(
        &r,
        &results,
        "the broker blocked publishing for more than 10 s",
        "blocked",
    );
    assert!(
        s["errors"].to_string().contains("memory"),
        "{}",
        s["errors"]
    );
    assert!(
        r.elapsed < Duration::from_secs(25),
        "the stall ended at the limit, not the run's end: {:?}",
        r.elapsed
    );
    // Nothing published while blocked reached the receiver.
    let t = &s["totals"];
    assert!(
        t["received"].as_u64().unwrap() <= t["sent"].as_u64().unwrap(),
        "{t}"
    );
    // The alarm is gone: the same URL works again.
    let (ok, results) = run_json(&url, &["--duration", "100"], Duration::from_secs(60));
    completed_run(&ok, &results, "amqp091", "after the alarm");
}
