//! Shared helpers of the integration tests: the broker endpoints written by `scripts/setup`,
//! running the `allegro` binary, and reading what it wrote.
//!
//! A test that needs a broker reads its endpoint from `.brokers.env` and fails loudly when the
//! broker is not there: run `scripts/setup` (the README's test command does) first.

#![allow(dead_code)]

use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("control/ has a parent")
        .to_path_buf()
}

/// Endpoints written by `scripts/setup` (`ALLEGRO_BROKERS_ENV` overrides the file).
pub fn brokers() -> HashMap<String, String> {
    let path = std::env::var_os("ALLEGRO_BROKERS_ENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".brokers.env"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {} ({e}): run scripts/setup first to start the brokers",
            path.display()
        )
    });
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().trim_matches('"').to_owned()))
        .collect()
}

/// `host:port` of `key` (e.g. `MOSQUITTO_MQTT`), checked to accept connections.
pub fn endpoint(key: &str) -> String {
    let all = brokers();
    let ep = all
        .get(key)
        .unwrap_or_else(|| panic!("{key} is missing from .brokers.env: run scripts/setup"))
        .clone();
    let addr: std::net::SocketAddr = ep.parse().unwrap_or_else(|e| panic!("{key}={ep}: {e}"));
    std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(3)).unwrap_or_else(|e| {
        panic!("{key} at {ep} does not accept connections ({e}): run scripts/setup")
    });
    ep
}

/// A name no other test (or earlier run) uses.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format!(
        "{prefix}-{}-{}-{}",
        std::process::id(),
        t.as_millis() % 100_000_000,
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A fresh scratch directory.
pub fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(unique(&format!("allegro-test-{name}")));
    std::fs::create_dir_all(&d).expect("create scratch dir");
    d
}

/// The `allegro` binary built for these tests.
pub fn allegro() -> Command {
    Command::new(env!("CARGO_BIN_EXE_allegro"))
}

/// What a finished `allegro` run left.
#[derive(Debug)]
pub struct Ran {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Ran {
    /// The JSON summary printed with `--output json`.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not a JSON summary ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

/// Runs `allegro` with `args`, killing it after `limit`.
pub fn run(args: &[&str], limit: Duration) -> Ran {
    let start = Instant::now();
    let out: Output = Command::new("timeout")
        .arg("--signal=KILL")
        .arg(format!("{}", limit.as_secs().max(1)))
        .arg(env!("CARGO_BIN_EXE_allegro"))
        .args(args)
        .output()
        .expect("run allegro");
    Ran {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed: start.elapsed(),
    }
}

/// A loopback port with no listener.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// Checks `v` against `docs/summary.schema.json` (the subset of JSON Schema it uses: type,
/// required, properties, items, enum, minimum, maximum, local `$ref`). Panics with the path of
/// the first mismatch.
pub fn check_summary_schema(v: &Value) {
    check_schema(v, "docs/summary.schema.json");
}

/// Checks `v` against the checked-in schema at `path` (from the repository's root), as
/// [`check_summary_schema`] does.
pub fn check_schema(v: &Value, path: &str) {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join(path)).expect("schema is checked in"),
    )
    .expect("schema parses");
    if let Err(e) = check(&schema, &schema, v, "$") {
        panic!("{path}: no match: {e}\n{v:#}");
    }
}

fn check(root: &Value, s: &Value, v: &Value, at: &str) -> Result<(), String> {
    if let Some(r) = s.get("$ref").and_then(Value::as_str) {
        let name = r
            .strip_prefix("#/$defs/")
            .ok_or(format!("{at}: unsupported $ref {r}"))?;
        return check(root, &root["$defs"][name], v, at);
    }
    if let Some(t) = s.get("type") {
        let types: Vec<&str> = match t {
            Value::String(t) => vec![t.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let ok = types.iter().any(|t| match *t {
            "object" => v.is_object(),
            "array" => v.is_array(),
            "string" => v.is_string(),
            "integer" => v.is_u64() || v.is_i64(),
            "number" => v.is_number(),
            "boolean" => v.is_boolean(),
            "null" => v.is_null(),
            _ => false,
        });
        if !ok {
            return Err(format!("{at}: {v} is not of type {t}"));
        }
    }
    if let Some(e) = s.get("enum").and_then(Value::as_array) {
        if !e.contains(v) {
            return Err(format!("{at}: {v} not in {e:?}"));
        }
    }
    if let (Some(min), Some(x)) = (s.get("minimum").and_then(Value::as_f64), v.as_f64()) {
        if x < min {
            return Err(format!("{at}: {x} < {min}"));
        }
    }
    if let (Some(max), Some(x)) = (s.get("maximum").and_then(Value::as_f64), v.as_f64()) {
        if x > max {
            return Err(format!("{at}: {x} > {max}"));
        }
    }
    if let Some(req) = s.get("required").and_then(Value::as_array) {
        for k in req.iter().filter_map(Value::as_str) {
            if v.get(k).is_none() {
                return Err(format!("{at}: missing '{k}'"));
            }
        }
    }
    if let (Some(props), Some(obj)) = (
        s.get("properties").and_then(Value::as_object),
        v.as_object(),
    ) {
        for (k, sub) in props {
            if let Some(x) = obj.get(k) {
                check(root, sub, x, &format!("{at}.{k}"))?;
            }
        }
        for k in obj.keys() {
            if !props.contains_key(k) {
                return Err(format!("{at}: '{k}' is not in the schema"));
            }
        }
    }
    if let (Some(items), Some(arr)) = (s.get("items"), v.as_array()) {
        for (i, x) in arr.iter().enumerate() {
            check(root, items, x, &format!("{at}[{i}]"))?;
        }
    }
    Ok(())
}

/// A private Mosquitto on `port` (killed when dropped); `mosquitto` comes from scripts/setup.
pub struct Mosquitto(pub std::process::Child, pub u16);

impl Mosquitto {
    pub fn start_on(port: u16) -> Self {
        let child = Command::new("mosquitto")
            .args(["-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("mosquitto is installed by scripts/setup");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "private mosquitto did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Mosquitto(child, port)
    }

    pub fn start() -> Self {
        Self::start_on(free_port())
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Messages in RabbitMQ queue `name` (default virtual host), asked of the broker that
/// `scripts/setup` started (`rabbitmqctl`, installed with it).
pub fn rabbit_queue_depth(name: &str) -> u64 {
    let out = Command::new("rabbitmqctl")
        .args(["-q", "list_queues", "name", "messages"])
        .output()
        .unwrap_or_else(|e| panic!("rabbitmqctl ({e}): run scripts/setup rabbitmq first"));
    assert!(
        out.status.success(),
        "rabbitmqctl list_queues failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .filter_map(|l| l.split_once('\t'))
        .find(|(q, _)| *q == name)
        .map(|(_, n)| n.trim().parse().expect("a message count"))
        .unwrap_or_else(|| panic!("queue {name} is not on the broker:\n{text}"))
}

/// `allegro run URL ARGS... --output json --quiet --results DIR` into a fresh scratch
/// directory, killed after `limit`; the run and its results root.
pub fn run_json(url: &str, args: &[&str], limit: Duration) -> (Ran, PathBuf) {
    let results = scratch("run");
    let mut all = vec!["run", url];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--output", "json", "--quiet", "--results"]);
    all.push(results.to_str().expect("a UTF-8 temp dir"));
    (run(&all, limit), results)
}

/// The summary under `results/last`.
pub fn summary_on_disk(results: &Path) -> Value {
    let path = results.join("last/summary.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A completed run of `protocol`: exit 0, its summary valid against the schema, no errors,
/// and the same totals on disk.
pub fn completed_run(r: &Ran, results: &Path, protocol: &str, what: &str) -> Value {
    assert_eq!(
        r.status, 0,
        "{what}: exit {}\nstderr:\n{}\nstdout:\n{}",
        r.status, r.stderr, r.stdout
    );
    let s = r.json();
    check_summary_schema(&s);
    assert_eq!(s["status"], "completed", "{what}: {s}");
    assert_eq!(s["errors"], serde_json::json!([]), "{what}");
    assert_eq!(s["config"]["protocol"], protocol, "{what}");
    assert_eq!(
        summary_on_disk(results)["totals"],
        s["totals"],
        "{what}: summary.json"
    );
    s
}

/// A run the broker refused: exit 1, `words` among its errors (one line each), a failed
/// summary valid against the schema, on disk as well.
pub fn refused_run(r: &Ran, results: &Path, words: &str, what: &str) -> Value {
    assert_eq!(r.status, 1, "{what}: {}\n{}", r.stderr, r.stdout);
    let s = r.json();
    check_summary_schema(&s);
    assert_eq!(s["status"], "failed", "{what}");
    let errors = s["errors"].to_string();
    assert!(errors.contains(words), "{what}: {errors}");
    assert!(!errors.contains("\\n"), "{what}: one line each: {errors}");
    assert_eq!(summary_on_disk(results)["status"], "failed", "{what}");
    s
}

/// A paced run of `senders` at `rate` each for `seconds`: every message sent and received, the
/// rate held within 2%.
pub fn assert_paced(s: &Value, senders: u64, rate: u64, seconds: u64, what: &str) {
    let t = &s["totals"];
    let total = senders * rate;
    assert_eq!(t["requested_rate"], total, "{what}: {t}");
    assert_eq!(t["sent"], total * seconds, "{what}: {t}");
    assert_eq!(t["received"], total * seconds, "{what}: {t}");
    let achieved = t["send_rate"].as_f64().unwrap();
    assert!(
        (achieved - total as f64).abs() <= total as f64 * 0.02,
        "{what}: achieved {achieved}/s of {total}/s asked"
    );
    assert_eq!(t["rate_short"], false, "{what}: {t}");
}
