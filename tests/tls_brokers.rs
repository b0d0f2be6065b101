//! Every scheme over TLS against real brokers with the test certificates `scripts/setup` makes
//! (`ALLEGRO_TLS_DIR`): Mosquitto (`mqtts`, and a listener that requires a client
//! certificate) and RabbitMQ (`amqps` for AMQP 1.0, `amqp091s`, `stomps`, `mqtts`), on both
//! runtimes, the broker's certificate verified against the test CA. A certificate from another
//! CA, or for another name, is refused with a clear error; `--tls-insecure` is the explicit
//! opt-out; a listener that requires a client certificate takes Allegro's.

mod common;

use common::{brokers, completed_run, endpoint, refused_run, run_json, unique};
use std::path::PathBuf;
use std::time::Duration;

/// A file of the test TLS material.
fn tls_file(name: &str) -> String {
    let dir = brokers()
        .remove("ALLEGRO_TLS_DIR")
        .expect("ALLEGRO_TLS_DIR is missing from .brokers.env: run scripts/setup");
    let path = PathBuf::from(dir).join(name);
    assert!(path.exists(), "{}: run scripts/setup", path.display());
    path.to_string_lossy().into_owned()
}

/// 2 senders × 1,000 messages over TLS to `url` (host `localhost`, the certificate's name),
/// verified against the test CA: every message arrives once.
fn exact(url: &str, protocol: &str, backend: &str) {
    let ca = tls_file("ca.pem");
    let what = format!("{url} {backend}");
    let (r, results) = run_json(
        url,
        &[
            "--tls-ca",
            &ca,
            "--backend",
            backend,
            "--duration",
            "1000",
            "--parallel",
            "2",
            "--size",
            "~200",
        ],
        Duration::from_secs(120),
    );
    let s = completed_run(&r, &results, protocol, &what);
    let t = &s["totals"];
    assert_eq!(t["sent"], 2000, "{what}: {t}");
    assert_eq!(t["received"], 2000, "{what}: {t}");
    for k in ["lost", "duplicated", "unstamped", "stale"] {
        assert_eq!(t[k], 0, "{what}: {k}: {t}");
    }
    assert!(s["config"]["url"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{protocol}s://")));
    assert_eq!(s["config"]["tls"], true);
    // Every connection's time to come up, the TLS handshake included, is in the summary.
    let cm = &t["connect_ms"];
    assert_eq!(cm["count"], 3, "{what}: {cm}");
    assert!(cm["mean"].as_f64().unwrap() > 0.0 && cm["max"].as_f64() >= cm["mean"].as_f64());
    let tls = &t["tls_sessions"];
    assert_eq!(
        tls["full"].as_u64().unwrap() + tls["resumed"].as_u64().unwrap(),
        3,
        "{what}: {tls}"
    );
}

#[test]
fn later_connections_resume_the_first_ones_tls_session() {
    // One shard, paced at 5 a second: each connection begins after the first one's handshake
    // gave it a session ticket (Mosquitto issues TLS 1.3 tickets), and the rest resume it.
    let ca = tls_file("ca.pem");
    let url = format!(
        "mqtts://{}/t/{}",
        local("MOSQUITTO_MQTTS"),
        unique("resume")
    );
    let (r, results) = run_json(
        &url,
        &[
            "--tls-ca",
            &ca,
            "--parallel",
            "4",
            "--duration",
            "20",
            "--connect-rate",
            "5",
            "--cores",
            "0",
        ],
        Duration::from_secs(60),
    );
    let s = completed_run(&r, &results, "mqtt", "resumption");
    let tls = &s["totals"]["tls_sessions"];
    assert_eq!(tls["full"], 1, "{tls}");
    assert_eq!(tls["resumed"], 4, "{tls}");
}

/// `localhost:PORT` of `key` (the certificate is for localhost and 127.0.0.1).
fn local(key: &str) -> String {
    endpoint(key).replace("127.0.0.1", "localhost")
}

macro_rules! backend_tests {
    ($module:ident, $backend:literal) => {
        mod $module {
            use super::*;
            #[test]
            fn mqtts_mosquitto() {
                exact(
                    &format!("mqtts://{}/t/{}", local("MOSQUITTO_MQTTS"), unique("tls")),
                    "mqtt",
                    $backend,
                );
            }
            #[test]
            fn mqtts_rabbitmq() {
                exact(
                    &format!("mqtts://{}/t/{}", local("RABBITMQ_MQTTS"), unique("tls")),
                    "mqtt",
                    $backend,
                );
            }
            #[test]
            fn amqps_rabbitmq() {
                let q = unique("allegro-it-tls");
                exact(
                    &format!("amqps://guest:guest@{}/queue/{q}", local("RABBITMQ_AMQPS")),
                    "amqp",
                    $backend,
                );
            }
            #[test]
            fn amqp091s_rabbitmq_with_confirms() {
                let q = unique("allegro-it-tls");
                exact(
                    &format!("amqp091s://{}/{q}?confirm=true", local("RABBITMQ_AMQPS")),
                    "amqp091",
                    $backend,
                );
            }
            #[test]
            fn mqtts_activemq() {
                exact(
                    &format!("mqtts://{}/t/{}", local("ACTIVEMQ_MQTTS"), unique("tls")),
                    "mqtt",
                    $backend,
                );
            }
            #[test]
            fn stomps_activemq_with_receipts() {
                let q = unique("allegro-it-tls");
                exact(
                    &format!("stomps://{}/queue/{q}?receipt=50", local("ACTIVEMQ_STOMPS")),
                    "stomp",
                    $backend,
                );
            }
            #[test]
            fn stomps_rabbitmq_with_receipts() {
                let q = unique("allegro-it-tls");
                exact(
                    &format!("stomps://{}/queue/{q}?receipt=50", local("RABBITMQ_STOMPS")),
                    "stomp",
                    $backend,
                );
            }
        }
    };
}

backend_tests!(uring, "uring");
backend_tests!(epoll, "epoll");

/// `allegro run URL --duration 100 ARGS...`.
fn short_run(url: &str, args: &[&str]) -> (common::Ran, PathBuf) {
    let mut all = vec!["--duration", "100"];
    all.extend_from_slice(args);
    run_json(url, &all, Duration::from_secs(60))
}

#[test]
fn a_certificate_from_another_ca_is_refused_and_the_opt_out_takes_it() {
    let url = format!("mqtts://{}/t", local("MOSQUITTO_MQTTS"));
    let other = tls_file("other-ca.pem");
    let (r, results) = short_run(&url, &["--tls-ca", &other]);
    let s = refused_run(
        &r,
        &results,
        "TLS: invalid peer certificate: UnknownIssuer",
        "other CA",
    );
    assert_eq!(s["totals"]["sent"], 0);
    // The system's roots do not know the test CA either.
    let (r, results) = short_run(&url, &[]);
    refused_run(&r, &results, "UnknownIssuer", "system roots");
    let (r, results) = short_run(&url, &["--tls-insecure"]);
    completed_run(&r, &results, "mqtt", "--tls-insecure");
}

#[test]
fn a_certificate_for_another_name_is_refused_naming_both() {
    let url = format!("mqtts://{}/t", local("MOSQUITTO_MQTTS"));
    let ca = tls_file("ca.pem");
    let (r, results) = short_run(
        &url,
        &["--tls-ca", &ca, "--tls-server-name", "broker.example"],
    );
    refused_run(
        &r,
        &results,
        "certificate not valid for name \\\"broker.example\\\"",
        "name",
    );
}

#[test]
fn a_listener_that_requires_a_client_certificate_takes_allegros() {
    let url = format!("mqtts://{}/t", local("MOSQUITTO_MQTTS_CLIENT_CERT"));
    let ca = tls_file("ca.pem");
    let (r, results) = short_run(&url, &["--tls-ca", &ca]);
    refused_run(&r, &results, "CertificateRequired", "no client certificate");
    let (cert, key) = (tls_file("client.pem"), tls_file("client.key"));
    let (r, results) = short_run(
        &url,
        &["--tls-ca", &ca, "--tls-cert", &cert, "--tls-key", &key],
    );
    let s = completed_run(&r, &results, "mqtt", "client certificate");
    assert_eq!(s["totals"]["received"], 100);
}

#[test]
fn bad_tls_files_are_bad_input() {
    let url = format!("mqtts://{}/t", local("MOSQUITTO_MQTTS"));
    let (r, _) = short_run(&url, &["--tls-ca", "/nonexistent/ca.pem"]);
    assert_eq!(r.status, 2, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("cannot read certificates from /nonexistent/ca.pem"),
        "{}",
        r.stderr
    );
    let ca = tls_file("ca.pem");
    let (r, _) = short_run(&url, &["--tls-ca", &ca, "--tls-cert", &ca]);
    assert_eq!(r.status, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--tls-key"), "{}", r.stderr);
}

/// `allegro ping --maestro URL --tls-ca CA`: (status, stdout, stderr).
fn ping_tls(maestro: &str, ca: &str) -> (i32, String, String) {
    let r = common::run(
        &["ping", "--maestro", maestro, "--tls-ca", ca, "--wait", "1s"],
        Duration::from_secs(30),
    );
    (r.status, r.stdout, r.stderr)
}

/// Kills the worker daemons it holds when dropped.
struct Daemons(Vec<std::process::Child>);

impl Drop for Daemons {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

#[test]
fn a_maestro_cluster_over_tls_runs_a_test() {
    let maestro = format!("mqtts://{}", local("MOSQUITTO_MQTTS"));
    let ca = tls_file("ca.pem");
    let names = [unique("tls-a"), unique("tls-b")];
    let mut daemons = Daemons(Vec::new());
    for name in &names {
        let results = common::scratch("tls-worker");
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_allegro"))
            .args([
                "worker",
                "--maestro",
                &maestro,
                "--tls-ca",
                &ca,
                "--name",
                name,
            ])
            .arg("--results")
            .arg(&results)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start allegro worker");
        daemons.0.push(child);
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let (status, out, err) = ping_tls(&maestro, &ca);
        assert_eq!(status, 0, "{err}");
        if names.iter().all(|n| out.contains(n.as_str())) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "workers not seen: {out}"
        );
    }
    // Another CA: the link is refused with rustls's words.
    let (status, _, err) = ping_tls(&maestro, &tls_file("other-ca.pem"));
    assert_eq!(status, 1, "{err}");
    assert!(err.contains("UnknownIssuer"), "{err}");
    // A fixed-rate test through the TLS Maestro broker, the SUT plain MQTT.
    let sut = format!("mqtt://{}/{}", endpoint("MOSQUITTO_MQTT"), unique("tls-ft"));
    let results = common::scratch("tls-client");
    let r = common::run(
        &[
            "test",
            "fixed-rate",
            "--maestro",
            &maestro,
            "--tls-ca",
            &ca,
            "--send-receive-url",
            &sut,
            "--test-duration",
            "2s",
            "--rate",
            "100",
            "--parallel-count",
            "1",
            "--quiet",
            "--results",
            results.to_str().unwrap(),
        ],
        Duration::from_secs(120),
    );
    assert_eq!(r.status, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("test successful"), "{}", r.stdout);
    drop(daemons);
}
