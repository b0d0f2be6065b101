//! `allegro run` against real MQTT brokers (Mosquitto, RabbitMQ's MQTT plugin, ActiveMQ's MQTT
//! transport), started by `scripts/setup`: every message sent is received, none lost or
//! duplicated, at every QoS and on both runtimes; paced runs hold their rate.

mod common;

use common::{check_summary_schema, endpoint, run, scratch, unique};
use serde_json::Value;
use std::time::Duration;

/// Runs a fixed count per sender and checks that every message arrived exactly once.
fn exact_count(key: &str, qos: u8, backend: &str, version: &str) {
    let ep = endpoint(key);
    let topic = unique(&format!("allegro/it/q{qos}"));
    let results = scratch("count");
    let url = format!("mqtt://{ep}/{topic}");
    let count = 2_000;
    let r = run(
        &[
            "run",
            &url,
            "--duration",
            &count.to_string(),
            "--parallel",
            "2",
            "--receivers",
            "1",
            "--size",
            "~200",
            "--qos",
            &qos.to_string(),
            "--backend",
            backend,
            "--mqtt-version",
            version,
            "--rate",
            "0",
            "--output",
            "json",
            "--quiet",
            "--results",
            results.to_str().unwrap(),
        ],
        Duration::from_secs(120),
    );
    assert_eq!(
        r.status, 0,
        "{key} qos {qos} {backend}: exit {}\n{}\n{}",
        r.status, r.stderr, r.stdout
    );
    let s = r.json();
    check_summary_schema(&s);
    let t = &s["totals"];
    let sent = 2 * count;
    assert_eq!(s["status"], "completed", "{s}");
    assert_eq!(t["sent"], sent, "{key} qos {qos}: {t}");
    assert_eq!(t["received"], sent, "{key} qos {qos}: {t}");
    assert_eq!(t["lost"], 0, "{t}");
    assert_eq!(t["duplicated"], 0, "{t}");
    assert_eq!(t["unstamped"], 0, "{t}");
    if qos > 0 {
        assert_eq!(
            t["acked"], sent,
            "every QoS {qos} publish acknowledged: {t}"
        );
    }
    // Every message's latency was recorded, and the results are on disk.
    assert_eq!(s["latency_us"]["corrected"]["count"], sent, "{s}");
    let dir = results.join("last");
    let on_disk: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(on_disk["totals"]["received"], sent);
    assert!(std::fs::metadata(dir.join("latency.hlog")).unwrap().len() > 0);
}

/// A paced run: 2 senders at 400 msg/s for 3 s each must achieve 800 msg/s within 2%.
fn paced(key: &str, backend: &str) {
    let ep = endpoint(key);
    let url = format!("mqtt://{ep}/{}", unique("allegro/it/paced"));
    let results = scratch("paced");
    let r = run(
        &[
            "run",
            &url,
            "--rate",
            "400",
            "--duration",
            "3s",
            "--parallel",
            "2",
            "--qos",
            "1",
            "--size",
            "100",
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
    assert_eq!(r.status, 0, "{key} paced: {}\n{}", r.stderr, r.stdout);
    let s = r.json();
    let t = &s["totals"];
    assert_eq!(t["requested_rate"], 800);
    assert_eq!(t["sent"], 2400, "{t}");
    assert_eq!(t["received"], 2400, "{t}");
    let rate = t["send_rate"].as_f64().unwrap();
    assert!(
        (rate - 800.0).abs() <= 16.0,
        "{key}: achieved {rate}/s of 800/s asked"
    );
    assert_eq!(t["rate_short"], false);
    // The receive rate spans first to last arrival, so the broker's delivery jitter on those two
    // messages moves it: it only has to follow the send rate, within 5%.
    let rx = t["receive_rate"].as_f64().unwrap();
    assert!(
        (rx - 800.0).abs() <= 40.0,
        "{key}: received at {rx}/s of 800/s sent"
    );
    assert!(s["latency_us"]["send_delay"]["count"].as_u64().unwrap() == 2400);
    // Without --cores, 800 msg/s is one shard's work: one CPU is used, whatever the machine has.
    assert_eq!(
        s["config"]["cores"].as_array().map(Vec::len),
        Some(1),
        "{}",
        s["config"]
    );
}

macro_rules! broker_tests {
    ($module:ident, $key:literal) => {
        mod $module {
            use super::*;
            #[test]
            fn qos0_uring() {
                exact_count($key, 0, "uring", "3");
            }
            #[test]
            fn qos1_uring() {
                exact_count($key, 1, "uring", "3");
            }
            #[test]
            fn qos2_uring() {
                exact_count($key, 2, "uring", "3");
            }
            #[test]
            fn qos0_epoll() {
                exact_count($key, 0, "epoll", "3");
            }
            #[test]
            fn qos1_epoll() {
                exact_count($key, 1, "epoll", "3");
            }
            #[test]
            fn qos2_epoll() {
                exact_count($key, 2, "epoll", "3");
            }
            #[test]
            fn paced_uring() {
                paced($key, "uring");
            }
            #[test]
            fn paced_epoll() {
                paced($key, "epoll");
            }
        }
    };
}

broker_tests!(mosquitto, "MOSQUITTO_MQTT");
broker_tests!(rabbitmq, "RABBITMQ_MQTT");
broker_tests!(activemq, "ACTIVEMQ_MQTT");

/// MQTT 5.0 end to end (Mosquitto is the broker here that speaks it).
#[test]
fn mosquitto_mqtt5_all_qos() {
    for qos in 0..=2 {
        exact_count("MOSQUITTO_MQTT", qos, "uring", "5");
    }
}

/// One paced run on Mosquitto with a receive coalescing window; returns the summary.
fn coalesced_run(backend: &str, rate: &str, window: &str) -> Value {
    let ep = endpoint("MOSQUITTO_MQTT");
    let url = format!("mqtt://{ep}/{}", unique("allegro/it/coalesce"));
    let results = scratch("coalesce");
    let r = run(
        &[
            "run",
            &url,
            "--rate",
            rate,
            "--duration",
            "2s",
            "--parallel",
            "1",
            "--size",
            "100",
            "--rx-coalesce",
            window,
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
    assert_eq!(
        r.status, 0,
        "{backend} {rate}/s {window}: {}\n{}",
        r.stderr, r.stdout
    );
    let s = r.json();
    check_summary_schema(&s);
    let t = &s["totals"];
    assert_eq!(t["received"], t["sent"], "{t}");
    assert_eq!(t["lost"], 0, "{t}");
    assert_eq!(t["duplicated"], 0, "{t}");
    s
}

fn p50_service_us(s: &Value) -> f64 {
    s["latency_us"]["service"]["p50"].as_f64().unwrap()
}

/// A busy stream (5k msg/s: 200 messages, 22 KB per 40 ms window) is read once per window: half
/// its messages wait more than a quarter of the window. A slow one (100/s, 4 messages per window,
/// under the threshold of 8) is read as it lands with the same window, and so is the busy one
/// with coalescing off. The window is reported in the configuration.
fn coalescing(backend: &str) {
    let window_us = 40_000.0;
    let busy = coalesced_run(backend, "5k", "40ms");
    assert_eq!(busy["config"]["rx_coalesce_us"], 40_000);
    let p50 = p50_service_us(&busy);
    assert!(
        p50 > window_us / 4.0,
        "{backend}: a busy stream was not coalesced (p50 {p50} µs with a 40 ms window)"
    );
    let slow = coalesced_run(backend, "100", "40ms");
    let p50 = p50_service_us(&slow);
    assert!(
        p50 < window_us / 4.0,
        "{backend}: a slow stream was held back (p50 {p50} µs with a 40 ms window)"
    );
    let off = coalesced_run(backend, "5k", "0");
    assert_eq!(off["config"]["rx_coalesce_us"], 0);
    let p50 = p50_service_us(&off);
    assert!(
        p50 < window_us / 4.0,
        "{backend}: with coalescing off the busy stream waited (p50 {p50} µs)"
    );
}

#[test]
fn mosquitto_receive_coalescing_uring() {
    coalescing("uring");
}

#[test]
fn mosquitto_receive_coalescing_epoll() {
    coalescing("epoll");
}
