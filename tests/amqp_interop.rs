//! Allegro's AMQP 1.0 client against peers it did not write: Qpid Proton (Debian's
//! python3-qpid-proton, run with /usr/bin/python3) listening as a receiver and as a sender, and a
//! hand-written peer that sends a malformed frame. The peers are in tests/peers/; each prints
//! `{"listening": PORT}` once bound and `{"result": {...}}` at its end.
//!
//! - proton as receiver: every body Allegro sends arrives intact (length, magic, filler,
//!   sequence numbers 0..N-1 per connection), pre-settled or unsettled, and split over frames
//!   when proton's max-frame-size is small;
//! - proton as sender: Allegro's receiver counts what proton sends (in Allegro's body layout)
//!   while Allegro's sender (every run has one) sends to proton, which forwards nothing;
//! - malformed peer: Allegro answers a nonsense frame with `close` carrying `amqp:decode-error`
//!   and fails the run.

mod common;

use common::{check_summary_schema, root, run, scratch, Ran};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Debian's Python, which python3-qpid-proton installs for (not a pyenv python3 on PATH).
const PYTHON: &str = "/usr/bin/python3";

fn require_proton() {
    let out = Command::new(PYTHON)
        .args(["-c", "import proton"])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {PYTHON} ({e}): run scripts/setup"));
    assert!(
        out.status.success(),
        "{PYTHON} cannot import proton (Debian package python3-qpid-proton): run scripts/setup\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A peer script from tests/peers/, killed when dropped.
struct Peer {
    name: String,
    child: Child,
    lines: mpsc::Receiver<String>,
    stderr: Arc<Mutex<String>>,
    stderr_reader: Option<std::thread::JoinHandle<()>>,
}

impl Peer {
    fn start(script: &str, args: &[String]) -> Peer {
        let path = root().join("tests/peers").join(script);
        let mut child = Command::new(PYTHON)
            .arg(&path)
            .args(args)
            // No __pycache__ left in tests/peers/.
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {PYTHON} {}: {e}", path.display()));
        let (tx, lines) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err = child.stderr.take().unwrap();
        let keep = stderr.clone();
        let stderr_reader = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                keep.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Peer {
            name: format!("{script} {}", args.join(" ")),
            child,
            lines,
            stderr,
            stderr_reader: Some(stderr_reader),
        }
    }

    /// The next JSON line that has `key`, within `limit`.
    fn wait_for(&mut self, key: &str, limit: Duration) -> Value {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| {
                        panic!("{}: stdout line is not JSON ({e}): {line}", self.name)
                    });
                    if let Some(x) = v.get(key) {
                        return x.clone();
                    }
                }
                Err(e) => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    // Everything the peer wrote to stderr, up to its end.
                    if let Some(h) = self.stderr_reader.take() {
                        let _ = h.join();
                    }
                    panic!(
                        "{}: no '{key}' line ({e:?}; {}); stderr:\n{}",
                        self.name,
                        if e == mpsc::RecvTimeoutError::Timeout {
                            format!("waited {limit:?}")
                        } else {
                            "the peer exited".to_string()
                        },
                        self.stderr.lock().unwrap()
                    );
                }
            }
        }
    }

    fn port(&mut self) -> u16 {
        let p = self.wait_for("listening", Duration::from_secs(20));
        p.as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .unwrap_or_else(|| panic!("{}: bad port {p}", self.name))
    }

    fn result(&mut self) -> Value {
        self.wait_for("result", Duration::from_secs(90))
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

/// Runs `allegro run URL ARGS... --output json --quiet --results DIR` (killed after 90 s).
fn allegro_run(url: &str, extra: &[&str]) -> (Ran, std::path::PathBuf) {
    let results = scratch("amqp-interop");
    let mut all = vec!["run", url];
    all.extend_from_slice(extra);
    all.extend_from_slice(&[
        "--output",
        "json",
        "--quiet",
        "--results",
        results.to_str().unwrap(),
    ]);
    (run(&all, Duration::from_secs(90)), results)
}

/// A completed run's summary, schema-checked.
fn completed(r: &Ran, what: &str) -> Value {
    assert_eq!(
        r.status, 0,
        "{what}: exit {}\nstderr:\n{}\nstdout:\n{}",
        r.status, r.stderr, r.stdout
    );
    let s = r.json();
    check_summary_schema(&s);
    assert_eq!(s["status"], "completed", "{what}: {s}");
    assert_eq!(s["errors"], json!([]), "{what}: {s}");
    s
}

/// The peer saw `n` messages from each of Allegro's `connections` sender connections, every
/// body intact and in sequence.
fn assert_bodies(p: &Value, sender_id: &str, connections: u32, n: u64, what: &str) {
    let rx = &p["received"];
    assert_eq!(rx["bad_count"], 0, "{what}: bad bodies: {p:#}");
    assert_eq!(rx["duplicates"], 0, "{what}: {p:#}");
    assert_eq!(rx["gaps"], 0, "{what}: {p:#}");
    let streams: serde_json::Map<String, Value> = (0..connections)
        .map(|c| (format!("{sender_id}:{c}"), json!(n)))
        .collect();
    assert_eq!(
        rx["streams"],
        Value::Object(streams),
        "{what}: sequence 0..{n} from every sender connection: {p:#}"
    );
    assert_eq!(rx["count"], u64::from(connections) * n, "{what}: {p:#}");
}

fn assert_peer_clean(p: &Value, connections: u32, what: &str) {
    assert_eq!(p["timed_out"], false, "{what}: the peer timed out: {p:#}");
    assert_eq!(p["errors"], json!([]), "{what}: {p:#}");
    assert_eq!(p["connections"], connections, "{what}: {p:#}");
    assert_eq!(p["connections_closed"], connections, "{what}: {p:#}");
}

/// Allegro's links as the peer saw them, ordered by role.
fn links(p: &Value) -> Vec<Value> {
    let mut l = p["links"].as_array().cloned().unwrap_or_default();
    l.sort_by_key(|x| x["role"].as_str().unwrap_or("").to_string());
    l
}

// --- (a) proton as a listening receiver ---------------------------------------------------------

/// `--parallel 2 --receivers 0`, `n` messages of `size` bytes per sender, into proton.
fn into_proton_receiver(backend: &str, presettled: bool, n: u64, size: u32, max_frame: u32) {
    require_proton();
    let settle = if presettled {
        "presettled"
    } else {
        "unsettled"
    };
    let what = format!("{backend} {settle} {n} × {size} B, proton max-frame {max_frame}");
    let mut peer = Peer::start(
        "proton_listener.py",
        &args(&[
            "--connections",
            "2",
            "--expect",
            &(2 * n).to_string(),
            "--size",
            &size.to_string(),
            "--prefetch",
            "300",
            "--max-frame",
            &max_frame.to_string(),
            "--timeout",
            "60",
        ]),
    );
    let port = peer.port();
    let url = format!("amqp://127.0.0.1:{port}/interop/anycast?settle={settle}");
    let (r, _) = allegro_run(
        &url,
        &[
            "--parallel",
            "2",
            "--receivers",
            "0",
            "--duration",
            &n.to_string(),
            "--size",
            &size.to_string(),
            "--backend",
            backend,
        ],
    );
    let s = completed(&r, &what);
    let p = peer.result();
    let t = &s["totals"];
    assert_eq!(t["sent"], 2 * n, "{what}: {t}");
    assert_eq!(t["received"], 0, "{what}: {t}");
    assert_eq!(
        t["acked"],
        if presettled { 0 } else { 2 * n },
        "{what}: {t}"
    );
    assert_eq!(t["bytes_sent"], 2 * n * u64::from(size), "{what}: {t}");
    let sender_id = s["config"]["sender_id"].as_str().unwrap();
    assert_peer_clean(&p, 2, &what);
    assert_bodies(&p, sender_id, 2, n, &what);
    if presettled {
        assert_eq!(p["arrived_settled"], 2 * n, "{what}: {p:#}");
    } else {
        assert_eq!(p["arrived_unsettled"], 2 * n, "{what}: {p:#}");
    }
    let mode = if presettled { "settled" } else { "unsettled" };
    for l in links(&p) {
        assert_eq!(l["role"], "sender", "{what}: {p:#}");
        assert_eq!(l["target"], "interop/anycast", "{what}: {p:#}");
        assert_eq!(l["snd_settle_mode"], mode, "{what}: {p:#}");
    }
    assert_eq!(links(&p).len(), 2, "{what}: {p:#}");
}

// --- (b) proton as a listening sender ------------------------------------------------------------

/// `--parallel 1 --receivers 1`, `n` messages per side: Allegro's sender sends `n` (unsettled,
/// so that what proton got is known for sure) to proton, which forwards nothing; proton sends
/// its own `n` bodies of 150 bytes (Allegro sends 200) to Allegro's receiver, `proton_settle`.
fn from_proton_sender(backend: &str, proton_settle: &str) {
    require_proton();
    let n = 1_500u64;
    let what = format!("{backend}, proton sends {proton_settle}");
    let proton_sender_id = "0xc0ffee01";
    // Allegro's receiver counts only its run's messages: proton's bodies carry its run id.
    let run_id = "5eed0001";
    let mut peer = Peer::start(
        "proton_listener.py",
        &args(&[
            "--connections",
            "2",
            "--expect",
            &n.to_string(),
            "--size",
            "200",
            "--send",
            &n.to_string(),
            "--send-size",
            "150",
            "--send-settle",
            proton_settle,
            "--sender-id",
            proton_sender_id,
            "--run-id",
            &format!("0x{run_id}"),
            "--timeout",
            "60",
        ]),
    );
    let port = peer.port();
    // A credit window of 200 makes Allegro's receiver grant credit several times over.
    let url = format!("amqp://127.0.0.1:{port}/interop/fanout?settle=unsettled&credit=200");
    let (r, _) = allegro_run(
        &url,
        &[
            "--parallel",
            "1",
            "--receivers",
            "1",
            "--duration",
            &n.to_string(),
            "--size",
            "200",
            "--backend",
            backend,
            "--drain-idle",
            "5s",
            "--run-id",
            run_id,
        ],
    );
    let s = completed(&r, &what);
    assert_eq!(s["config"]["run_id"], run_id, "{what}");
    assert_eq!(s["totals"]["stale"], 0, "{what}");
    let p = peer.result();
    let t = &s["totals"];
    // Allegro's sender → proton.
    assert_eq!(t["sent"], n, "{what}: {t}");
    assert_eq!(t["acked"], n, "{what}: {t}");
    assert_eq!(t["bytes_sent"], n * 200, "{what}: {t}");
    // proton → Allegro's receiver: exactly proton's messages (150-byte bodies, not Allegro's
    // 200-byte ones), each once, in order.
    assert_eq!(t["received"], n, "{what}: {t}");
    assert_eq!(t["bytes_received"], n * 150, "{what}: {t}");
    assert_eq!(t["lost"], 0, "{what}: {t}");
    assert_eq!(t["duplicated"], 0, "{what}: {t}");
    assert_eq!(t["reordered"], 0, "{what}: {t}");
    assert_eq!(t["unstamped"], 0, "{what}: {t}");
    // Latencies are recorded from the run's start on; proton may send some of its messages
    // before that (as soon as the receiver's link has credit), and those are only counted.
    let recorded = &s["latency_us"]["corrected"]["count"];
    assert!(recorded.as_u64().unwrap() <= n, "{what}: {s}");
    assert_eq!(
        s["latency_us"]["service"]["count"], *recorded,
        "{what}: {s}"
    );
    // The peer's side of it.
    let sender_id = s["config"]["sender_id"].as_str().unwrap();
    assert_peer_clean(&p, 2, &what);
    assert_bodies(&p, sender_id, 1, n, &what);
    assert_eq!(p["sent"], n, "{what}: {p:#}");
    assert_eq!(p["other_outcomes"], 0, "{what}: {p:#}");
    if proton_settle == "unsettled" {
        assert_eq!(
            p["accepted"], n,
            "{what}: Allegro accepts what arrives unsettled: {p:#}"
        );
    } else {
        assert_eq!(p["accepted"], 0, "{what}: {p:#}");
    }
    let l = links(&p);
    assert_eq!(l.len(), 2, "{what}: {p:#}");
    assert_eq!(l[0]["role"], "receiver", "{what}: {p:#}");
    assert_eq!(l[0]["source"], "interop/fanout", "{what}: {p:#}");
    assert_eq!(l[1]["role"], "sender", "{what}: {p:#}");
    assert_eq!(l[1]["target"], "interop/fanout", "{what}: {p:#}");
}

// --- (c) a peer that sends a malformed frame -----------------------------------------------------

/// What a run against the malformed peer left: Allegro's exit, its summary and the peer's report
/// on each connection.
struct Malformed {
    what: String,
    ran: Ran,
    summary: Value,
    reports: Vec<Value>,
}

impl Malformed {
    /// The report on the connection of Allegro's `role` link.
    fn conn(&self, role: &str) -> &Value {
        self.reports
            .iter()
            .find(|c| c["role"] == role)
            .unwrap_or_else(|| panic!("{}: no {role} connection: {:#?}", self.what, self.reports))
    }
}

/// Runs Allegro (`--parallel 1 --receivers R --duration 100`) against the malformed peer, which
/// sends its nonsense frame on the connection of Allegro's `garbage_to` link. Checks what every
/// such run must show: exit 1 with the malformed data named on the `run failed` line, a failed
/// summary, and on that connection a `close` carrying `amqp:decode-error` as Allegro's last
/// frame before it closes the socket.
fn against_malformed_peer(
    backend: &str,
    receivers: u32,
    garbage_to: &str,
    peer_args: &[&str],
) -> Malformed {
    let connections = 1 + receivers;
    let what = format!("{backend}, garbage to the {garbage_to} {peer_args:?}");
    let mut all = args(&[
        "--connections",
        &connections.to_string(),
        "--garbage-to",
        garbage_to,
        "--timeout",
        "20",
    ]);
    all.extend(args(peer_args));
    let mut peer = Peer::start("malformed_peer.py", &all);
    let port = peer.port();
    let (r, results) = allegro_run(
        &format!("amqp://127.0.0.1:{port}/interop/malformed"),
        &[
            "--parallel",
            "1",
            "--receivers",
            &receivers.to_string(),
            "--duration",
            "100",
            "--backend",
            backend,
        ],
    );
    let p = peer.result();
    assert_eq!(
        r.status, 1,
        "{what}: exit {}\nstderr:\n{}\npeer: {p:#}",
        r.status, r.stderr
    );
    let line = r
        .stderr
        .lines()
        .find(|l| l.starts_with("allegro: run failed: "))
        .unwrap_or_else(|| panic!("{what}: no 'run failed' line:\n{}", r.stderr));
    let named = format!("{garbage_to} to 127.0.0.1:{port}: malformed data from the broker");
    assert!(line.contains(&named), "{what}: '{line}' lacks '{named}'");
    let printed = r.json();
    check_summary_schema(&printed);
    assert_eq!(printed["status"], "failed", "{printed}");
    let s: Value = serde_json::from_str(
        &std::fs::read_to_string(results.join("last/summary.json")).expect("summary.json written"),
    )
    .expect("summary.json parses");
    check_summary_schema(&s);
    assert_eq!(s["status"], "failed", "{s}");
    assert!(
        s["errors"][0].as_str().unwrap_or("").contains(&named),
        "{what}: {s}"
    );
    let reports = p["connections"].as_array().cloned().unwrap_or_default();
    assert_eq!(reports.len(), connections as usize, "{what}: {p:#}");
    for c in &reports {
        assert!(c.get("error").is_none(), "{what}: {c:#}");
        assert_eq!(c["sasl_mechanism"], "ANONYMOUS", "{what}: {c:#}");
        assert_eq!(c["address"], "interop/malformed", "{what}: {c:#}");
    }
    let m = Malformed {
        what,
        ran: r,
        summary: s,
        reports,
    };
    let bad = m.conn(garbage_to);
    assert_eq!(bad["garbage_sent"], true, "{}: {bad:#}", m.what);
    assert!(bad.get("timed_out").is_none(), "{}: {bad:#}", m.what);
    let after = bad["after_handshake"].as_array().unwrap();
    assert_eq!(
        after.last(),
        Some(&json!("close")),
        "{}: Allegro's last frame is a close: {bad:#}",
        m.what
    );
    assert_eq!(
        bad["close_condition"], "amqp:decode-error",
        "{}: the close carries amqp:decode-error: {bad:#}",
        m.what
    );
    assert_eq!(
        bad["eof_after_close"], true,
        "{}: Allegro closes the socket after its close: {bad:#}",
        m.what
    );
    m
}

/// The sender's connection gets the garbage right after the attach.
fn malformed_frame_to_sender(backend: &str) {
    let m = against_malformed_peer(backend, 0, "sender", &[]);
    assert!(
        m.ran.elapsed < Duration::from_secs(10),
        "{}: took {:?}",
        m.what,
        m.ran.elapsed
    );
}

/// The receiver's connection gets the garbage once the sender (with credit for everything) is
/// transferring: the receiver fails, the sender sends its 100 messages and says goodbye
/// properly (detach, end, close), and the run ends as failed within the sender's linger time.
fn malformed_frame_to_receiver(backend: &str) {
    let m = against_malformed_peer(
        backend,
        1,
        "receiver",
        &["--credit", "1000", "--garbage-after-transfer"],
    );
    assert_eq!(m.conn("receiver")["sender_was_transferring"], true);
    let sender = m.conn("sender");
    assert_eq!(sender["transfers"], 100, "{}: {sender:#}", m.what);
    assert_eq!(
        sender["after_handshake"],
        json!(["detach", "end", "close"]),
        "{}: {sender:#}",
        m.what
    );
    assert_eq!(sender["close_condition"], Value::Null, "{sender:#}");
    assert_eq!(sender["eof_after_close"], true, "{sender:#}");
    assert_eq!(m.summary["totals"]["sent"], 100, "{}", m.summary);
    assert!(
        m.ran.elapsed < Duration::from_secs(15),
        "{}: took {:?}",
        m.what,
        m.ran.elapsed
    );
}

/// As above, but the peer grants the sender credit for 10 messages only. Once the receiver has
/// failed the run cannot complete; Allegro should end it rather than wait for credit that
/// never comes (the peer gives up after 20 s).
fn malformed_frame_to_receiver_sender_out_of_credit(backend: &str) {
    let m = against_malformed_peer(
        backend,
        1,
        "receiver",
        &["--credit", "10", "--garbage-after-transfer"],
    );
    let sender = m.conn("sender");
    assert_eq!(sender["transfers"], 10, "{}: {sender:#}", m.what);
    assert!(
        sender.get("timed_out").is_none(),
        "{}: Allegro left its stalled sender's connection open until the peer gave up \
         ({:?}):\n{sender:#}\nstderr:\n{}",
        m.what,
        m.ran.elapsed,
        m.ran.stderr
    );
    assert!(
        m.ran.elapsed < Duration::from_secs(15),
        "{}: took {:?}",
        m.what,
        m.ran.elapsed
    );
}

macro_rules! backend_tests {
    ($module:ident, $backend:literal) => {
        mod $module {
            use super::*;
            #[test]
            fn proton_receiver_presettled() {
                into_proton_receiver($backend, true, 1_500, 200, 0);
            }
            #[test]
            fn proton_receiver_unsettled() {
                into_proton_receiver($backend, false, 1_500, 200, 0);
            }
            /// proton announces a 4 KiB max-frame-size: every 20 kB message is split (§2.6.14).
            #[test]
            fn proton_receiver_multi_frame() {
                into_proton_receiver($backend, false, 50, 20_000, 4_096);
            }
            #[test]
            fn proton_sender_presettled() {
                from_proton_sender($backend, "presettled");
            }
            #[test]
            fn proton_sender_unsettled() {
                from_proton_sender($backend, "unsettled");
            }
            #[test]
            fn malformed_frame_to_the_sender() {
                malformed_frame_to_sender($backend);
            }
            #[test]
            fn malformed_frame_to_the_receiver() {
                malformed_frame_to_receiver($backend);
            }
            #[test]
            fn malformed_frame_to_the_receiver_sender_out_of_credit() {
                malformed_frame_to_receiver_sender_out_of_credit($backend);
            }
        }
    };
}

backend_tests!(uring, "uring");
backend_tests!(epoll, "epoll");
