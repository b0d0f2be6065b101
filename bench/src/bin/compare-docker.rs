//! What the container costs a load generator at full speed: the same `allegro run` on bare
//! metal and in Docker, per network mode, in alternating rounds of one run.
//!
//! Modes (where Allegro runs; the far end stays put):
//! - `bare`: the `allegro` binary on the host;
//! - `host`: the `allegro:TAG` image with `--network host`;
//! - `cpuset`: the same with `--cpuset-cpus` set to the shard's CPU (as the bare run pins it);
//! - `bridge`: the image on a user-defined bridge network, with the far end on the same bridge
//!   (container to container through veth pairs and the bridge, as Maestro's deployment runs).
//!
//! The far end always runs in a container pinned to `--far-cpu`: on the host network (reached on
//! loopback) for `bare`, `host` and `cpuset`, on the bridge for `bridge`. Loads:
//! - `ceiling`: no broker, one MQTT QoS 0 sender into `discard-sink`;
//! - `mosquitto`: MQTT QoS 1, one sender and one receiver, through Mosquitto;
//! - `rabbitmq`: AMQP 0-9-1, one publisher with confirms (so that the queue does not grow
//!   without bound and the rate is the broker's steady one) and one consumer, through RabbitMQ.
//!
//! Every load runs unbounded (the highest rate the path takes) with Allegro's one shard pinned
//! to `--load-cpu`. The raw network path is measured the same way first: `iperf3` (one stream,
//! 128 KiB writes) from each mode's place to the far end's.
//!
//! Each round runs every mode once, in turn, so that a drift of the shared machine falls on
//! every mode alike; ratios are taken to `bare` within a round, then the median and the spread
//! (min–max) over rounds are reported. Writes `bench/results/compare-docker-DATE.json`, and per
//! load an `allegro report compare` of each mode's median round (`compare.txt`, `compare.html`)
//! under the output directory.
//!
//! `compare-docker [--rounds 3] [--seconds 5] [--loads ceiling,mosquitto,rabbitmq]
//! [--modes bare,host,cpuset,bridge] [--size 100] [--far-cpu 0] [--load-cpu 1] [--tag local]
//! [--out DIR]`. Needs a running Docker engine and the images of `deploy/docker/build` made
//! from this build's `allegro` (checked): `scripts/compare-docker` sees to both.

use allegro_bench::{
    arg, bin_dir, context, free_port, json_output, repo_root, stats, write_record,
};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const DOCKER: &str = "/usr/bin/docker";
const NETWORK: &str = "allegro-compare";
const MODES: [&str; 4] = ["bare", "host", "cpuset", "bridge"];
const LOADS: [&str; 3] = ["ceiling", "mosquitto", "rabbitmq"];

struct Cfg {
    rounds: usize,
    seconds: u64,
    size: String,
    far_cpu: String,
    load_cpu: String,
    tag: String,
    out: PathBuf,
}

/// `docker ARGS`, its stdout; an error says what failed.
fn docker(args: &[&str]) -> Result<String, String> {
    let o = Command::new(DOCKER)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {DOCKER}: {e}"))?;
    if !o.status.success() {
        return Err(format!(
            "docker {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&o.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&o.stdout).trim().to_owned())
}

fn remove(name: &str) {
    let _ = Command::new(DOCKER)
        .args(["rm", "-f", name])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Where the far end listens and how a mode reaches it.
#[derive(Clone, Copy, PartialEq)]
enum Net {
    Host,
    Bridge,
}

fn net_of(mode: &str) -> Net {
    if mode == "bridge" {
        Net::Bridge
    } else {
        Net::Host
    }
}

/// A far end: a container, and the host:port each network reaches it at.
struct Far {
    name: String,
    addr: String,
}

impl Drop for Far {
    fn drop(&mut self) {
        remove(&self.name);
    }
}

/// Starts a far-end container pinned to the far CPU, on `net`, running `cmd`.
fn start_far(
    c: &Cfg,
    name: &str,
    net: Net,
    image: &str,
    extra: &[&str],
    cmd: &[&str],
    port: u16,
) -> Result<Far, String> {
    remove(name);
    let mut args = vec!["run", "-d", "--name", name, "--cpuset-cpus", &c.far_cpu];
    args.extend_from_slice(match net {
        Net::Host => &["--network", "host"],
        Net::Bridge => &["--network", NETWORK],
    });
    args.extend_from_slice(extra);
    args.push(image);
    args.extend_from_slice(cmd);
    docker(&args)?;
    let addr = match net {
        Net::Host => format!("127.0.0.1:{port}"),
        Net::Bridge => format!("{name}:{port}"),
    };
    Ok(Far {
        name: name.to_owned(),
        addr,
    })
}

/// Waits until `check` passes (at most `limit`), else fails with the container's last log lines.
fn wait_until(far: &Far, limit: Duration, mut check: impl FnMut() -> bool) -> Result<(), String> {
    let t = Instant::now();
    while t.elapsed() < limit {
        if check() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    let logs = Command::new(DOCKER)
        .args(["logs", "--tail", "15", &far.name])
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
        })
        .unwrap_or_default();
    Err(format!(
        "{} did not come up in {}s:\n{logs}",
        far.name,
        limit.as_secs()
    ))
}

/// The address the host reaches `far` at: loopback on the host network, the container's own
/// address on the bridge (the host holds the bridge's gateway address).
fn reach(far: &Far, net: Net) -> Result<String, String> {
    let port = far.addr.rsplit_once(':').map_or("", |(_, p)| p);
    match net {
        Net::Host => Ok(far.addr.clone()),
        Net::Bridge => {
            let ip = docker(&[
                "inspect",
                "-f",
                "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
                &far.name,
            ])?;
            Ok(format!("{ip}:{port}"))
        }
    }
}

/// Does an AMQP 0-9-1 server at `addr` answer the protocol header with a method frame
/// (`connection.start`)?
fn amqp_answers(addr: &str) -> bool {
    use std::io::{Read, Write};
    let Ok(sa) = addr.parse::<std::net::SocketAddr>() else {
        return false;
    };
    let Ok(mut s) = std::net::TcpStream::connect_timeout(&sa, Duration::from_secs(1)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let mut b = [0u8; 1];
    s.write_all(b"AMQP\x00\x00\x09\x01").is_ok() && s.read_exact(&mut b).is_ok() && b[0] == 1
}

/// One measurement: what the summary says.
#[derive(Clone, Debug)]
struct Meas {
    dir: PathBuf,
    send_rate: f64,
    receive_rate: f64,
    cpu_us_per_msg: f64,
    p99_us: f64,
    /// Where the engine says it ran: `bare metal`, or `docker/host`, `docker/bridge`.
    ran: String,
}

fn summary_of(dir: &Path) -> Result<Meas, String> {
    let path = dir.join("summary.json");
    let s: Value = serde_json::from_str(
        &std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?,
    )
    .map_err(|e| format!("{}: {e}", path.display()))?;
    if s["status"] != "completed" {
        return Err(format!(
            "{}: the run {}: {}",
            dir.display(),
            s["status"],
            s["errors"]
        ));
    }
    let t = &s["totals"];
    let msgs = t["sent"]
        .as_f64()
        .unwrap_or(0.0)
        .max(t["received"].as_f64().unwrap_or(0.0));
    let cpu = s["process"]["cpu_s"].as_f64().unwrap_or(f64::NAN);
    let p99 = s["latency_us"]["corrected"]["p99"]
        .as_f64()
        .or_else(|| s["latency_us"]["service"]["p99"].as_f64())
        .unwrap_or(f64::NAN);
    Ok(Meas {
        dir: dir.to_path_buf(),
        send_rate: t["send_rate"].as_f64().unwrap_or(0.0),
        receive_rate: t["receive_rate"].as_f64().unwrap_or(0.0),
        cpu_us_per_msg: if msgs > 0.0 {
            cpu * 1e6 / msgs
        } else {
            f64::NAN
        },
        p99_us: p99,
        ran: match (
            s["host"]["container"].as_str(),
            s["host"]["network"]["container_mode"].as_str(),
        ) {
            (None, _) => "bare metal".into(),
            (Some(c), m) => format!("{c}/{}", m.unwrap_or("?")),
        },
    })
}

/// `program ARGS` run from `mode`'s place: on the host for `bare`, else in `image` on the
/// mode's network (pinned to the load CPU for `cpuset`), with `mount` (`host:container`) when
/// given. `program` is the host's path; in the container it is the image's program (`None`:
/// the image's entrypoint is the program).
fn at_place(
    c: &Cfg,
    mode: &str,
    program: &Path,
    in_image: (&str, Option<&str>),
    mount: Option<&str>,
    args: &[&str],
) -> Command {
    if mode == "bare" {
        let mut cmd = Command::new(program);
        cmd.args(args);
        return cmd;
    }
    let (image, inside) = in_image;
    let mut cmd = Command::new(DOCKER);
    cmd.args(["run", "--rm"]);
    if let Some(m) = mount {
        cmd.args(["-v", m]);
    }
    cmd.arg("--network").arg(match net_of(mode) {
        Net::Bridge => NETWORK,
        Net::Host => "host",
    });
    if mode == "cpuset" {
        cmd.args(["--cpuset-cpus", &c.load_cpu]);
    }
    cmd.arg(image).args(inside).args(args);
    cmd
}

/// `allegro run URL ARGS` from `mode`'s place, results under `dir`; the run's own directory.
fn allegro_run(c: &Cfg, mode: &str, url: &str, args: &[&str], dir: &Path) -> Result<Meas, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let d = dir.display().to_string();
    let secs = format!("{}s", c.seconds);
    let mut common: Vec<&str> = vec!["run", url];
    common.extend_from_slice(args);
    common.extend_from_slice(&[
        "--size",
        &c.size,
        "--duration",
        &secs,
        "--cores",
        &c.load_cpu,
        "--quiet",
        "--no-report",
        "--output",
        "json",
        "--results",
        &d,
    ]);
    let image = format!("allegro:{}", c.tag);
    let mount = format!("{d}:{d}");
    let mut cmd = at_place(
        c,
        mode,
        &bin_dir().join("allegro"),
        (&image, None),
        Some(&mount),
        &common,
    );
    let o = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot start allegro ({mode}): {e}"))?;
    if !o.status.success() {
        return Err(format!(
            "allegro ({mode}) exited with {}: {}",
            o.status,
            String::from_utf8_lossy(&o.stderr).trim()
        ));
    }
    let run_dir = std::fs::canonicalize(dir.join("last"))
        .map_err(|e| format!("{}/last: {e}", dir.display()))?;
    summary_of(&run_dir)
}

/// iperf3 from `mode`'s place to a fresh server: bits per second received.
fn iperf(c: &Cfg, mode: &str, round: usize) -> Result<f64, String> {
    let port = free_port().to_string();
    let net = net_of(mode);
    let base = "allegro-base:bookworm";
    let bind: &[&str] = if net == Net::Host {
        &["-B", "127.0.0.1"]
    } else {
        &[]
    };
    let mut server = vec![
        "iperf3",
        "-s",
        "-1",
        "--forceflush",
        "-p",
        &port,
        "-A",
        &c.far_cpu,
    ];
    server.extend_from_slice(bind);
    let far = start_far(
        c,
        &format!("cmp-iperf-{round}"),
        net,
        base,
        &[],
        &server,
        port.parse().unwrap_or(0),
    )?;
    let (host, _) = far.addr.rsplit_once(':').unwrap_or((&far.addr, ""));
    let host = host.to_owned();
    wait_until(&far, Duration::from_secs(10), || {
        docker(&["logs", &far.name]).is_ok_and(|l| l.contains("Server listening"))
    })?;
    let secs = c.seconds.to_string();
    let client = [
        "iperf3",
        "-c",
        &host,
        "-p",
        &port,
        "-t",
        &secs,
        "-l",
        "128K",
        "-A",
        &c.load_cpu,
        "-J",
    ];
    let mut cmd = at_place(
        c,
        mode,
        Path::new(client[0]),
        (base, Some(client[0])),
        None,
        &client[1..],
    );
    let v = json_output(&mut cmd, &format!("iperf3 ({mode})"))?;
    v["end"]["sum_received"]["bits_per_second"]
        .as_f64()
        .ok_or_else(|| format!("iperf3 ({mode}): {}", v["error"]))
}

/// The far ends of a load, one per network the modes use, alive through all its rounds (the
/// ceiling's sink is started per measurement instead: it serves one connection).
fn brokers(c: &Cfg, load: &str, nets: &[Net]) -> Result<Vec<(Net, Far)>, String> {
    let mut out = Vec::new();
    for &net in nets {
        let tag = match net {
            Net::Host => "host",
            Net::Bridge => "bridge",
        };
        let name = format!("cmp-{load}-{tag}");
        let far = match (load, net) {
            ("mosquitto", _) => {
                let (port, conf) = match net {
                    Net::Host => (free_port(), c.out.join("mosquitto-host.conf")),
                    Net::Bridge => (1883, c.out.join("mosquitto-bridge.conf")),
                };
                let base =
                    std::fs::read_to_string(repo_root().join("deploy/docker/mosquitto.conf"))
                        .map_err(|e| format!("deploy/docker/mosquitto.conf: {e}"))?;
                let listen = match net {
                    Net::Host => format!("listener {port} 127.0.0.1"),
                    Net::Bridge => "listener 1883 0.0.0.0".to_string(),
                };
                let conf_text = base.replace("listener 1883 0.0.0.0", &listen);
                std::fs::write(&conf, conf_text).map_err(|e| format!("{}: {e}", conf.display()))?;
                let mount = format!("{}:/etc/allegro/mosquitto.conf:ro", conf.display());
                let far = start_far(
                    c,
                    &name,
                    net,
                    &format!("allegro-mosquitto:{}", c.tag),
                    &["-v", &mount],
                    &[],
                    port,
                )?;
                let probe = reach(&far, net)?;
                wait_until(&far, Duration::from_secs(15), || {
                    std::net::TcpStream::connect(&probe).is_ok()
                })?;
                far
            }
            ("rabbitmq", Net::Host) => {
                // On the host's network beside any RabbitMQ of scripts/setup: a node name, an
                // epmd port and a distribution port of its own, AMQP only, on loopback.
                let port = free_port();
                let conf = c.out.join("rabbitmq-host.conf");
                std::fs::write(
                    &conf,
                    format!("listeners.tcp.1 = 127.0.0.1:{port}\nloopback_users = none\n"),
                )
                .map_err(|e| format!("{}: {e}", conf.display()))?;
                let plugins = c.out.join("rabbitmq-no-plugins");
                std::fs::write(&plugins, "[].\n")
                    .map_err(|e| format!("{}: {e}", plugins.display()))?;
                let m1 = format!("{}:/etc/allegro-cmp/rabbitmq.conf:ro", conf.display());
                let m2 = format!("{}:/etc/allegro-cmp/enabled_plugins", plugins.display());
                let epmd = free_port().to_string();
                let dist = free_port().to_string();
                let far = start_far(
                    c,
                    &name,
                    net,
                    &format!("allegro-rabbitmq:{}", c.tag),
                    &[
                        "-v",
                        &m1,
                        "-v",
                        &m2,
                        "-e",
                        "RABBITMQ_CONFIG_FILE=/etc/allegro-cmp/rabbitmq.conf",
                        "-e",
                        "RABBITMQ_ENABLED_PLUGINS_FILE=/etc/allegro-cmp/enabled_plugins",
                        "-e",
                        "RABBITMQ_NODENAME=allegro-cmp@localhost",
                        "-e",
                        &format!("ERL_EPMD_PORT={epmd}"),
                        "-e",
                        &format!("RABBITMQ_DIST_PORT={dist}"),
                        "--no-healthcheck",
                    ],
                    &[],
                    port,
                )?;
                let addr = reach(&far, net)?;
                wait_until(&far, Duration::from_secs(90), || amqp_answers(&addr))?;
                far
            }
            ("rabbitmq", Net::Bridge) => {
                let far = start_far(
                    c,
                    &name,
                    net,
                    &format!("allegro-rabbitmq:{}", c.tag),
                    &["--hostname", &name, "--no-healthcheck"],
                    &[],
                    5672,
                )?;
                let addr = reach(&far, net)?;
                wait_until(&far, Duration::from_secs(90), || amqp_answers(&addr))?;
                far
            }
            _ => unreachable!("brokers are started for broker loads only"),
        };
        out.push((net, far));
    }
    Ok(out)
}

/// A fresh `discard-sink` for one connection, where `mode`'s far end goes.
fn sink(c: &Cfg, mode: &str, round: usize, who: &str) -> Result<Far, String> {
    let net = net_of(mode);
    let port = if net == Net::Host { free_port() } else { 9000 };
    let bin = bin_dir().join("discard-sink");
    let mount = format!("{}:/usr/local/bin/discard-sink:ro", bin.display());
    let p = port.to_string();
    let bind = if net == Net::Host {
        "127.0.0.1"
    } else {
        "0.0.0.0"
    };
    let far = start_far(
        c,
        &format!("cmp-sink-{who}-{mode}-{round}"),
        net,
        "allegro-base:bookworm",
        &["-v", &mount],
        &[
            "discard-sink",
            "--port",
            &p,
            "--bind",
            bind,
            "--connections",
            "1",
        ],
        port,
    )?;
    wait_until(&far, Duration::from_secs(10), || {
        docker(&["logs", &far.name]).is_ok_and(|l| l.contains("listening"))
    })?;
    Ok(far)
}

/// The raw write loop (`raw-write`: the same MQTT frames, pre-encoded, one `write(2)` per
/// 64 KiB) from `mode`'s place into a fresh sink: frames per second.
fn raw(c: &Cfg, mode: &str, round: usize) -> Result<f64, String> {
    let far = sink(c, mode, round, "raw")?;
    let (host, port) = far.addr.rsplit_once(':').unwrap_or((&far.addr, ""));
    let secs = c.seconds.to_string();
    let args = [
        "--host",
        host,
        "--port",
        port,
        "--cpu",
        &c.load_cpu,
        "--seconds",
        &secs,
        "--size",
        &c.size,
        "--protocol",
        "mqtt",
    ];
    let bin = bin_dir().join("raw-write");
    let mount = format!("{}:/usr/local/bin/raw-write:ro", bin.display());
    let mut cmd = at_place(
        c,
        mode,
        &bin,
        ("allegro-base:bookworm", Some("raw-write")),
        Some(&mount),
        &args,
    );
    let v = json_output(&mut cmd, &format!("raw-write ({mode})"))?;
    match (v["frames"].as_f64(), v["seconds"].as_f64()) {
        (Some(f), Some(s)) if s > 0.0 => Ok(f / s),
        _ => Err(format!("raw-write ({mode}): {v}")),
    }
}

/// One measurement of `load` from `mode`.
fn measure(
    c: &Cfg,
    load: &str,
    mode: &str,
    round: usize,
    fars: &[(Net, Far)],
) -> Result<Meas, String> {
    let dir = c.out.join(load).join(mode).join(format!("r{round}"));
    let net = net_of(mode);
    let broker = || &fars.iter().find(|(n, _)| *n == net).expect("started").1;
    let (url, args): (String, &[&str]) = match load {
        "ceiling" => {
            let far = sink(c, mode, round, "allegro")?;
            let url = format!("mqtt://{}/bench", far.addr);
            // The sink lives through the run.
            let args: &[&str] = &["--parallel", "1", "--receivers", "0", "--qos", "0"];
            return allegro_run(c, mode, &url, args, &dir);
        }
        "mosquitto" => (
            format!("mqtt://{}/cmp/{mode}/{round}", broker().addr),
            &["--parallel", "1", "--receivers", "1", "--qos", "1"],
        ),
        "rabbitmq" => (
            format!(
                "amqp091://{}/cmp-{mode}-{round}?confirm=true",
                broker().addr
            ),
            &["--parallel", "1", "--receivers", "1"],
        ),
        _ => return Err(format!("unknown load '{load}'")),
    };
    allegro_run(c, mode, &url, args, &dir)
}

/// Median and spread of `mode`'s ratios to `bare`, round by round.
fn ratios(base: &[f64], other: &[f64]) -> Value {
    let r: Vec<f64> = base
        .iter()
        .zip(other)
        .filter(|(b, o)| **b > 0.0 && b.is_finite() && o.is_finite())
        .map(|(b, o)| o / b)
        .collect();
    if r.is_empty() {
        return Value::Null;
    }
    let (med, min, max) = stats(&r);
    json!({ "median": med, "min": min, "max": max })
}

/// The median of the finite values (NaN when none is).
fn median(v: &[f64]) -> f64 {
    let f: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if f.is_empty() {
        f64::NAN
    } else {
        stats(&f).0
    }
}

fn fmt_ratio(v: &Value) -> String {
    match (v["median"].as_f64(), v["min"].as_f64(), v["max"].as_f64()) {
        (Some(m), Some(a), Some(b)) => format!("{m:.2} ({a:.2}–{b:.2})"),
        _ => "-".into(),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let list = |name: &str, all: &[&str]| -> Vec<String> {
        let v = arg(&args, name, &all.join(","));
        v.split(',').map(str::to_owned).collect()
    };
    let modes = list("--modes", &MODES);
    let loads = list("--loads", &LOADS);
    for m in &modes {
        if !MODES.contains(&m.as_str()) {
            eprintln!(
                "compare-docker: unknown mode '{m}' (expected {})",
                MODES.join(",")
            );
            std::process::exit(2);
        }
    }
    for l in &loads {
        if !LOADS.contains(&l.as_str()) {
            eprintln!(
                "compare-docker: unknown load '{l}' (expected {})",
                LOADS.join(",")
            );
            std::process::exit(2);
        }
    }
    if modes.first().map(String::as_str) != Some("bare") {
        eprintln!("compare-docker: --modes must start with bare (the base of every ratio)");
        std::process::exit(2);
    }
    let stamp = Command::new("date")
        .args(["-u", "+%Y%m%dT%H%M%SZ"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let c = Cfg {
        rounds: arg(&args, "--rounds", "3").parse().unwrap_or(3).max(1),
        seconds: arg(&args, "--seconds", "5").parse().unwrap_or(5).max(1),
        size: arg(&args, "--size", "100"),
        far_cpu: arg(&args, "--far-cpu", "0"),
        load_cpu: arg(&args, "--load-cpu", "1"),
        tag: arg(&args, "--tag", "local"),
        out: PathBuf::from(arg(
            &args,
            "--out",
            &repo_root()
                .join("results/compare-docker")
                .join(&stamp)
                .display()
                .to_string(),
        )),
    };
    if let Err(e) = std::fs::create_dir_all(&c.out) {
        eprintln!("compare-docker: {}: {e}", c.out.display());
        std::process::exit(1);
    }
    let c = Cfg {
        out: std::fs::canonicalize(&c.out).unwrap_or(c.out.clone()),
        ..c
    };
    if let Err(e) = check_image(&c) {
        eprintln!("compare-docker: {e}");
        std::process::exit(1);
    }
    remove_network();
    if let Err(e) = docker(&["network", "create", NETWORK]) {
        eprintln!("compare-docker: {e}");
        std::process::exit(1);
    }
    let code = match run_all(&c, &modes, &loads) {
        Ok(record) => {
            let lost = match write_record("compare-docker", &record) {
                Ok(p) => {
                    println!("record: {}", p.display());
                    false
                }
                Err(e) => {
                    eprintln!("compare-docker: cannot write the record: {e}");
                    true
                }
            };
            i32::from(lost || record["failures"].as_array().is_some_and(|f| !f.is_empty()))
        }
        Err(e) => {
            eprintln!("compare-docker: {e}");
            1
        }
    };
    remove_network();
    std::process::exit(code);
}

fn remove_network() {
    let _ = Command::new(DOCKER)
        .args(["network", "rm", NETWORK])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// The image must hold this build's `allegro`, or the comparison compares two programs.
fn check_image(c: &Cfg) -> Result<(), String> {
    let local = Command::new("sha256sum")
        .arg(bin_dir().join("allegro"))
        .output()
        .map_err(|e| format!("sha256sum: {e}"))?;
    let local = String::from_utf8_lossy(&local.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned();
    let image = format!("allegro:{}", c.tag);
    let inside = docker(&[
        "run",
        "--rm",
        "--entrypoint",
        "sha256sum",
        &image,
        "/usr/local/bin/allegro",
    ])?;
    if inside.split_whitespace().next() != Some(local.as_str()) || local.is_empty() {
        return Err(format!(
            "{image} does not hold {} (rebuild it: deploy/docker/build --binary {})",
            bin_dir().join("allegro").display(),
            bin_dir().join("allegro").display()
        ));
    }
    Ok(())
}

fn run_all(c: &Cfg, modes: &[String], loads: &[String]) -> Result<Value, String> {
    let mut failures: Vec<String> = Vec::new();
    let mut report = String::new();

    // The raw path, measured the same way.
    let mut gbps: Vec<Vec<f64>> = vec![Vec::new(); modes.len()];
    for round in 0..c.rounds {
        for (i, m) in modes.iter().enumerate() {
            match iperf(c, m, round) {
                Ok(b) => {
                    eprintln!("iperf3 round {round} {m:>7}: {:.1} Gbit/s", b / 1e9);
                    gbps[i].push(b / 1e9);
                }
                Err(e) => {
                    failures.push(format!("iperf3 {m} round {round}: {e}"));
                    gbps[i].push(f64::NAN);
                }
            }
        }
    }
    let mut iperf_json = serde_json::Map::new();
    report.push_str("\nraw network path (iperf3, one stream, 128 KiB writes), Gbit/s; ratio to bare: median (min–max)\n");
    for (i, m) in modes.iter().enumerate() {
        let med = median(&gbps[i]);
        let r = ratios(&gbps[0], &gbps[i]);
        report.push_str(&format!("  {m:<8} {med:>6.1}   {}\n", fmt_ratio(&r)));
        iperf_json.insert(
            m.clone(),
            json!({ "gbit_per_s": gbps[i], "median": med, "ratio_to_bare": r }),
        );
    }

    let mut loads_json = serde_json::Map::new();
    for load in loads {
        let nets: Vec<Net> = {
            let mut v: Vec<Net> = modes.iter().map(|m| net_of(m)).collect();
            v.dedup();
            v.sort_by_key(|n| *n == Net::Bridge);
            v.dedup();
            v
        };
        let fars = if load == "ceiling" {
            Vec::new()
        } else {
            match brokers(c, load, &nets) {
                Ok(f) => f,
                Err(e) => {
                    failures.push(format!("{load}: {e}"));
                    continue;
                }
            }
        };
        let mut got: Vec<Vec<Option<Meas>>> = vec![Vec::new(); modes.len()];
        let mut raws: Vec<Vec<f64>> = vec![Vec::new(); modes.len()];
        for round in 0..c.rounds {
            for (i, m) in modes.iter().enumerate() {
                if load == "ceiling" {
                    match raw(c, m, round) {
                        Ok(r) => {
                            eprintln!("raw-write round {round} {m:>7}: {r:>10.0}/s");
                            raws[i].push(r);
                        }
                        Err(e) => {
                            failures.push(format!("raw-write {m} round {round}: {e}"));
                            raws[i].push(f64::NAN);
                        }
                    }
                }
                match measure(c, load, m, round, &fars) {
                    Ok(r) => {
                        eprintln!(
                            "{load} round {round} {m:>7}: send {:>10.0}/s  receive {:>10.0}/s  {:.3} CPU µs/msg  p99 {:.0} µs  [{}]",
                            r.send_rate, r.receive_rate, r.cpu_us_per_msg, r.p99_us, r.ran
                        );
                        got[i].push(Some(r));
                    }
                    Err(e) => {
                        eprintln!("{load} round {round} {m}: {e}");
                        failures.push(format!("{load} {m} round {round}: {e}"));
                        got[i].push(None);
                    }
                }
            }
        }
        drop(fars);
        let col = |i: usize, f: &dyn Fn(&Meas) -> f64| -> Vec<f64> {
            got[i]
                .iter()
                .map(|m| m.as_ref().map_or(f64::NAN, f))
                .collect()
        };
        let main_rate = |m: &Meas| {
            if load == "ceiling" {
                m.send_rate
            } else {
                m.receive_rate
            }
        };
        report.push_str(&format!(
            "\n{load}: ratio to bare, median (min–max) of {} rounds\n  {:<8} {:>12} {:>18} {:>18} {:>18}  detected\n",
            c.rounds, "mode", "msgs/s", "rate ratio", "CPU/msg ratio", "p99 ratio"
        ));
        let mut modes_json = serde_json::Map::new();
        let mut picked: Vec<PathBuf> = Vec::new();
        for (i, m) in modes.iter().enumerate() {
            let rates = col(i, &main_rate);
            let med = median(&rates);
            let rr = ratios(&col(0, &main_rate), &rates);
            let cr = ratios(
                &col(0, &|m: &Meas| m.cpu_us_per_msg),
                &col(i, &|m: &Meas| m.cpu_us_per_msg),
            );
            let pr = ratios(&col(0, &|m: &Meas| m.p99_us), &col(i, &|m: &Meas| m.p99_us));
            // The median round's results, for `allegro report compare`.
            let best = got[i].iter().flatten().min_by(|a, b| {
                (main_rate(a) - med)
                    .abs()
                    .total_cmp(&(main_rate(b) - med).abs())
            });
            let detected = best.map(|b| b.ran.clone()).unwrap_or_default();
            if let Some(b) = best {
                picked.push(b.dir.clone());
            }
            report.push_str(&format!(
                "  {m:<8} {med:>12.0} {:>18} {:>18} {:>18}  {detected}\n",
                fmt_ratio(&rr),
                fmt_ratio(&cr),
                fmt_ratio(&pr)
            ));
            let raw_json = if load == "ceiling" {
                json!({
                    "msgs_per_s": raws[i],
                    "ratio_to_bare": ratios(&raws[0], &raws[i]),
                    "allegro_to_raw": ratios(&raws[i], &rates),
                })
            } else {
                Value::Null
            };
            modes_json.insert(
                m.clone(),
                json!({
                    "raw_write": raw_json,
                    "msgs_per_s": rates,
                    "cpu_us_per_msg": col(i, &|m: &Meas| m.cpu_us_per_msg),
                    "p99_us": col(i, &|m: &Meas| m.p99_us),
                    "median_msgs_per_s": med,
                    "ratio_to_bare": { "rate": rr, "cpu_per_msg": cr, "p99": pr },
                    "detected": detected,
                    "dirs": got[i].iter().map(|m| m.as_ref().map(|m| m.dir.display().to_string())).collect::<Vec<_>>(),
                }),
            );
        }
        if load == "ceiling" {
            report.push_str(&format!(
                "  the raw write loop into the same sink, from the same place (the path's own limit):\n  {:<8} {:>12} {:>18} {:>18}\n",
                "mode", "msgs/s", "ratio to bare", "Allegro ÷ raw"
            ));
            for (i, m) in modes.iter().enumerate() {
                report.push_str(&format!(
                    "  {m:<8} {:>12.0} {:>18} {:>18}\n",
                    median(&raws[i]),
                    fmt_ratio(&ratios(&raws[0], &raws[i])),
                    fmt_ratio(&ratios(&raws[i], &col(i, &|m: &Meas| m.send_rate)))
                ));
            }
        }
        if picked.len() == modes.len() && picked.len() > 1 {
            for (format, file) in [("text", "compare.txt"), ("html", "compare.html")] {
                let out = c.out.join(load).join(file);
                let o = Command::new(bin_dir().join("allegro"))
                    .args(["report", "compare"])
                    .args(&picked)
                    .args(["--anyway", "--format", format, "--out"])
                    .arg(&out)
                    .output();
                match o {
                    Ok(o) if o.status.success() => {
                        if format == "text" {
                            if let Err(e) = std::fs::write(&out, &o.stdout) {
                                failures.push(format!("{}: {e}", out.display()));
                            }
                        }
                    }
                    Ok(o) => failures.push(format!(
                        "{load}: allegro report compare: {}",
                        String::from_utf8_lossy(&o.stderr).trim()
                    )),
                    Err(e) => failures.push(format!("{load}: allegro report compare: {e}")),
                }
            }
            report.push_str(&format!(
                "  allegro report compare of each mode's median round: {}\n",
                c.out.join(load).join("compare.txt").display()
            ));
        }
        loads_json.insert(load.clone(), Value::Object(modes_json));
    }
    print!("{report}");
    if !failures.is_empty() {
        eprintln!("compare-docker: {} failure(s):", failures.len());
        for f in &failures {
            eprintln!("  {f}");
        }
    }
    Ok(json!({
        "benchmark": "compare-docker",
        "context": context(),
        "rounds": c.rounds,
        "seconds": c.seconds,
        "size": c.size,
        "far_cpu": c.far_cpu,
        "load_cpu": c.load_cpu,
        "modes": modes,
        "out": c.out.display().to_string(),
        "iperf3": iperf_json,
        "loads": loads_json,
        "failures": failures,
    }))
}
