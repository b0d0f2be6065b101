//! Shared pieces of Allegro's benchmarks: process pinning, child CPU accounting, the JSON record
//! every benchmark writes under `bench/results/`, and median/min/max over rounds.

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// What a finished child process used.
#[derive(Debug, Clone)]
pub struct ChildRun {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
    pub wall_s: f64,
    /// User + system CPU seconds.
    pub cpu_s: f64,
}

/// Runs `cmd` to completion, measuring its wall time and CPU (via `wait4`'s rusage).
pub fn run_measured(cmd: &mut Command) -> std::io::Result<ChildRun> {
    let start = Instant::now();
    let child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
    let pid = child.id() as libc::pid_t;
    let mut stdout_pipe = child.stdout.expect("piped");
    let mut stderr_pipe = child.stderr.expect("piped");
    let out_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stdout_pipe, &mut s);
        s
    });
    let err_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr_pipe, &mut s);
        s
    });
    let mut status = 0;
    // SAFETY: a zeroed rusage is valid; wait4 fills it for our own child `pid`.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our child, not yet reaped (std's Child was dropped without waiting).
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let wall_s = start.elapsed().as_secs_f64();
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Ok(ChildRun {
        status: if libc::WIFEXITED(status) {
            libc::WEXITSTATUS(status)
        } else {
            -1
        },
        stdout: out_t.join().unwrap_or_default(),
        stderr: err_t.join().unwrap_or_default(),
        wall_s,
        cpu_s: tv(ru.ru_utime) + tv(ru.ru_stime),
    })
}

/// Median, min and max of `v` (which must not be empty).
pub fn stats(v: &[f64]) -> (f64, f64, f64) {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let mid = if s.len() % 2 == 1 {
        s[s.len() / 2]
    } else {
        (s[s.len() / 2 - 1] + s[s.len() / 2]) / 2.0
    };
    (mid, s[0], s[s.len() - 1])
}

/// Directory holding the workspace's binaries (the one this benchmark runs from).
pub fn bin_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("target/release"))
}

fn sh(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

/// Date, commit and machine facts for a benchmark record.
pub fn context() -> Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_default();
    json!({
        "date": sh("date", &["-u", "+%Y-%m-%dT%H:%M:%SZ"]),
        "commit": sh("git", &["rev-parse", "--short", "HEAD"]),
        "kernel": sh("uname", &["-r"]),
        "cpu": cpu,
        "cpus_online": std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap_or_default().trim(),
    })
}

/// Writes `record` to `bench/results/NAME-DATE.json` (relative to the working directory's
/// workspace root when found) and returns the path.
pub fn write_record(name: &str, record: &Value) -> std::io::Result<PathBuf> {
    let root = sh("git", &["rev-parse", "--show-toplevel"]);
    let dir = if root.is_empty() {
        PathBuf::from("bench/results")
    } else {
        Path::new(&root).join("bench/results")
    };
    std::fs::create_dir_all(&dir)?;
    let stamp = sh("date", &["-u", "+%Y%m%dT%H%M%SZ"]);
    let path = dir.join(format!("{name}-{stamp}.json"));
    std::fs::write(&path, serde_json::to_string_pretty(record)? + "\n")?;
    Ok(path)
}

/// The value after `--name` on the command line, or `default`.
pub fn arg(args: &[String], name: &str, default: &str) -> String {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_owned())
}

/// The repository's root (where `.brokers.env` and `bench/` live).
pub fn repo_root() -> PathBuf {
    PathBuf::from(sh("git", &["rev-parse", "--show-toplevel"]))
}

/// An endpoint `scripts/setup` wrote to `.brokers.env` (e.g. `MOSQUITTO_MQTT`), or `default`.
pub fn broker_endpoint(key: &str, default: &str) -> String {
    let prefix = format!("{key}=");
    std::fs::read_to_string(repo_root().join(".brokers.env"))
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix(&prefix).map(|v| v.trim().to_owned()))
        })
        .unwrap_or_else(|| default.to_owned())
}

/// Resident memory of process `pid` in KiB (`VmRSS`), while it lives.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// MQTT 3.1.1 CONNECT (clean session, no keep-alive) on a blocking stream, then its CONNACK.
pub fn mqtt_connect(s: &mut std::net::TcpStream, client_id: &str) {
    use allegro_wire::mqtt::{Connect, Packet, Properties, Protocol};
    use std::io::{Read, Write};
    let mut out = Vec::new();
    Packet::Connect(Connect {
        protocol: Protocol::V311,
        clean_start: true,
        keep_alive: 0,
        client_id,
        will: None,
        username: None,
        password: None,
        properties: Properties::EMPTY,
    })
    .encode(Protocol::V311, &mut out);
    s.write_all(&out).expect("write CONNECT");
    let mut ack = [0u8; 4];
    s.read_exact(&mut ack).expect("read CONNACK");
}

/// An MQTT 3.1.1 QoS 0 PUBLISH of `body` on `topic`, encoded whole.
pub fn mqtt_publish_frame(topic: &str, body: &[u8]) -> Vec<u8> {
    use allegro_wire::mqtt::{encode_publish_header, Protocol, QoS};
    let mut frame = Vec::new();
    encode_publish_header(
        Protocol::V311,
        QoS::AtMostOnce,
        false,
        false,
        topic,
        0,
        body.len(),
        &mut frame,
    );
    frame.extend_from_slice(body);
    frame
}

/// Runs `cmd` (stdin closed) and parses its standard output as one JSON value; the error names
/// `what` and carries its standard error.
pub fn json_output(cmd: &mut Command, what: &str) -> Result<Value, String> {
    let o = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot start {what}: {e}"))?;
    serde_json::from_slice(&o.stdout).map_err(|e| {
        format!(
            "{what} said no JSON ({e}, {}): {}",
            o.status,
            String::from_utf8_lossy(&o.stderr).trim()
        )
    })
}

/// The calling thread's CPU time so far (user + system seconds).
pub fn thread_cpu_s() -> f64 {
    // SAFETY: rusage is plain integers, for which all-zero bytes are a valid value.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a valid, writable rusage; getrusage fills it for the calling thread.
    unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// A running `discard-sink` on loopback; killed when dropped unless [`Sink::finish`] saw it
/// end.
#[derive(Debug)]
pub struct Sink {
    child: std::process::Child,
    lines: std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
    pub port: u16,
}

impl Sink {
    /// Starts a sink pinned to `cpu` that ends after `connections` have closed.
    pub fn start(cpu: &str, connections: usize) -> Result<Sink, String> {
        use std::io::BufRead;
        let mut child = Command::new(bin_dir().join("discard-sink"))
            .args(["--port", "0", "--cpu", cpu, "--connections"])
            .arg(connections.to_string())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start discard-sink: {e}"))?;
        let stdout = child.stdout.take().expect("piped");
        let mut sink = Sink {
            child,
            lines: std::io::BufReader::new(stdout).lines(),
            port: 0,
        };
        let first = sink.lines.next().and_then(Result::ok).unwrap_or_default();
        sink.port = first
            .strip_prefix("listening ")
            .and_then(|p| p.trim().parse().ok())
            .ok_or_else(|| format!("discard-sink said '{first}'"))?;
        Ok(sink)
    }

    /// Waits for the sink to end and returns its one JSON line (what it received).
    pub fn finish(mut self) -> Result<Value, String> {
        let line = self.lines.next().and_then(Result::ok).unwrap_or_default();
        let _ = self.child.wait();
        serde_json::from_str(&line).map_err(|e| format!("sink output '{line}': {e}"))
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_min_max() {
        assert_eq!(stats(&[3.0, 1.0, 2.0]), (2.0, 1.0, 3.0));
        assert_eq!(stats(&[4.0, 1.0, 2.0, 3.0]), (2.5, 1.0, 4.0));
    }

    #[test]
    fn measures_a_child() {
        let r = run_measured(Command::new("sh").args(["-c", "echo hi; exit 3"])).unwrap();
        assert_eq!((r.status, r.stdout.trim()), (3, "hi"));
    }
}

/// The process listening on TCP `port` (a local broker), found through `/proc/net/tcp{,6}` and
/// the sockets in `/proc/*/fd`.
pub fn pid_listening_on(port: u16) -> Option<u32> {
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            // local_address is HEX_IP:HEX_PORT; state 0A is LISTEN; the inode is field 9.
            let listening = f.get(3) == Some(&"0A");
            let on_port = f
                .get(1)
                .and_then(|a| a.rsplit_once(':'))
                .and_then(|(_, p)| u16::from_str_radix(p, 16).ok())
                == Some(port);
            if let (true, true, Some(inode)) = (listening, on_port, f.get(9)) {
                inodes.push(format!("socket:[{inode}]"));
            }
        }
    }
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if let Ok(target) = std::fs::read_link(fd.path()) {
                if inodes.iter().any(|i| target.as_os_str() == i.as_str()) {
                    return Some(pid);
                }
            }
        }
    }
    None
}

/// User + system CPU seconds process `pid` has used so far (`/proc/PID/stat`), 0 if unknown.
pub fn process_cpu_s(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the command name (which may hold spaces) start at state (field 3).
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return 0.0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    // utime and stime are fields 14 and 15, i.e. 11 and 12 after the state.
    (ticks(11) + ticks(12)) / hz
}

/// One side of a round: rate, its CPU per million, the broker's CPU per million and its load.
#[derive(Debug, Clone, Copy)]
pub struct Side {
    pub msgs_per_s: f64,
    pub cpu_s_per_million: f64,
    pub broker_cpu_s_per_million: f64,
    /// Broker CPU seconds per wall second during the run (1.0 = one core busy).
    pub broker_cores: f64,
}

impl Side {
    /// From a finished load process that received `received` messages while the broker used
    /// `broker_cpu_s`.
    pub fn of(run: &ChildRun, received: u64, broker_cpu_s: f64) -> Side {
        let m = received as f64 / 1e6;
        Side {
            msgs_per_s: received as f64 / run.wall_s,
            cpu_s_per_million: run.cpu_s / m,
            broker_cpu_s_per_million: broker_cpu_s / m,
            broker_cores: broker_cpu_s / run.wall_s,
        }
    }

    pub fn json(&self) -> Value {
        json!({"msgs_per_s": self.msgs_per_s, "cpu_s_per_million": self.cpu_s_per_million,
               "broker_cpu_s_per_million": self.broker_cpu_s_per_million, "broker_cores": self.broker_cores})
    }
}

/// Runs `cmd` and measures the broker process's CPU over it.
pub fn with_broker_cpu(pid: Option<u32>, cmd: &mut Command) -> (ChildRun, f64) {
    let before = pid.map_or(0.0, process_cpu_s);
    let run = run_measured(cmd).expect("start the load process");
    let after = pid.map_or(0.0, process_cpu_s);
    (run, after - before)
}
