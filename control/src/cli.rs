//! Command-line options. Every value is validated here so that bad input ends with status 2
//! and one line saying what is wrong.

use allegro_engine::plan::{self, MessageSize, TestDuration};
use allegro_engine::runtime::Backend;
use allegro_wire::mqtt::{Protocol, QoS};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::ffi::OsString;
use std::path::PathBuf;

/// A thread-per-core load engine for message brokers.
#[derive(Debug, Parser)]
#[command(name = "allegro", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a load test against a broker, standalone (no Maestro cluster).
    Run(RunArgs),
    /// Ask every peer of a Maestro cluster to answer a PING.
    Ping(PingArgs),
    /// Run a test on a Maestro cluster as its client.
    #[command(subcommand)]
    Test(TestKind),
    /// Ask every worker of a Maestro cluster for its statistics.
    Stats(PingArgs),
    /// Tell every peer of a Maestro cluster to exit.
    Halt(HaltArgs),
    /// Run as a Maestro worker daemon.
    Worker(WorkerArgs),
    /// Render a results directory (an `allegro run`'s, or an `allegro test`'s with every
    /// worker's files), or compare several: `allegro report compare A B [C...]`.
    Report(ReportArgs),
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ReportArgs {
    #[command(subcommand)]
    pub compare: Option<ReportCommand>,
    /// The results directory (e.g. results/last).
    pub dir: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: ReportFormat,
    /// Where `--format html` writes the page (default: DIR/report.html).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// The same figures of several results side by side, with ratios to the first; refused
    /// (saying what differs) when they differ in protocol, message size, rate or broker.
    Compare(CompareArgs),
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Two results directories or more; the first is the base of the ratios.
    #[arg(required = true, num_args = 2..)]
    pub dirs: Vec<PathBuf>,
    /// text, json, or html (a page with the table and the latency distributions, written to
    /// --out, default compare.html).
    #[arg(long, value_enum, default_value = "text")]
    pub format: CompareFormat,
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Compare even results that differ in what they measured.
    #[arg(long)]
    pub anyway: bool,
}

/// How `allegro report compare` renders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompareFormat {
    Text,
    Json,
    Html,
}

/// How `allegro report` renders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Text,
    Json,
    Csv,
    /// One self-contained page with charts, written to DIR/report.html (or --out).
    Html,
}

#[derive(Debug, Args)]
pub struct PingArgs {
    /// The Maestro broker, e.g. mqtt://127.0.0.1:1883 or mqtts:// (default: $MAESTRO_BROKER).
    #[arg(long, env = "MAESTRO_BROKER")]
    pub maestro: String,
    #[command(flatten)]
    pub tls: TlsArgs,
    /// How long to collect answers.
    #[arg(long, default_value = "2s", value_parser = parse_positive_time)]
    pub wait: i64,
}

/// Maestro test types.
#[derive(Debug, Subcommand)]
pub enum TestKind {
    /// One run at a fixed rate; exits 0 when every worker succeeded, 1 otherwise.
    FixedRate(FixedRateArgs),
    /// Runs at rising rates (then parallel counts) until the latency condition fails; reports
    /// the highest rate that passed.
    Incremental(IncrementalArgs),
    /// An incremental test whose per-connection rates derive from combined rates and the size.
    FairIncremental(FairIncrementalArgs),
}

/// What every test type takes; every option also reads Maestro's environment variable.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// The Maestro broker, e.g. mqtt://127.0.0.1:1883, or mqtts:// (verified as the --tls-*
    /// flags say; TLS SUT URLs are the workers' to verify).
    #[arg(long, env = "MAESTRO_BROKER")]
    pub maestro: String,
    #[command(flatten)]
    pub tls: TlsArgs,
    /// The SUT URL for senders and receivers.
    #[arg(long = "send-receive-url", env = "SEND_RECEIVE_URL")]
    pub send_receive_url: Option<String>,
    /// The SUT URL for senders (instead of --send-receive-url).
    #[arg(long = "send-url", env = "SEND_URL")]
    pub send_url: Option<String>,
    /// The SUT URL for receivers (instead of --send-receive-url).
    #[arg(long = "receive-url", env = "RECEIVE_URL")]
    pub receive_url: Option<String>,
    /// Message size: 256 or ~256.
    #[arg(long = "message-size", env = "MESSAGE_SIZE", default_value = "256", value_parser = parse_size)]
    pub message_size: MessageSize,
    /// Duration of each run: 30s, 5m, 1h, or a message count per connection.
    #[arg(long = "test-duration", env = "TEST_DURATION", default_value = "30s", value_parser = parse_duration)]
    pub test_duration: TestDuration,
    /// Maximum latency in ms at the 90th percentile of each interval (fixed rate: 0 = none;
    /// incremental: default 600).
    #[arg(long = "maximum-latency", env = "MAXIMUM_LATENCY")]
    pub maximum_latency: Option<u64>,
    /// How roles are given: `balanced` or `balanced-exclusive` (both alternate receiver and
    /// sender; Allegro always sends each worker its parameters on its own topic).
    #[arg(long = "distribution-strategy", env = "DISTRIBUTION_STRATEGY", default_value = "balanced", value_parser = ["balanced", "balanced-exclusive"])]
    pub distribution_strategy: String,
    /// How endpoints get their SUT URL: `role` (every endpoint of a role the same) or
    /// `one-to-one` (`.<k>` after the URL's path for endpoint k of each role, so that sender k
    /// and receiver k share a destination of their own).
    #[arg(long = "endpoint-resolver", env = "ENDPOINT_RESOLVER_NAME", default_value = "role", value_parser = ["role", "one-to-one"])]
    pub endpoint_resolver: String,
    /// Where each run's collected files go.
    #[arg(long, default_value = "results/test")]
    pub results: PathBuf,
    /// Write the verdicts as an xUnit (JUnit XML) file here.
    #[arg(long)]
    pub xunit: Option<PathBuf>,
    /// Or into this directory, as `<test>-0-<iteration>.xml` (Maestro's TEST_XUNIT_DIR).
    #[arg(long = "xunit-dir", env = "TEST_XUNIT_DIR")]
    pub xunit_dir: Option<PathBuf>,
    /// With --xunit-dir: the file's name without `.xml` (Maestro's TEST_XUNIT_NAME).
    #[arg(long = "xunit-name", env = "TEST_XUNIT_NAME")]
    pub xunit_name: Option<String>,
    /// No progress lines on stderr.
    #[arg(long, short)]
    pub quiet: bool,
    /// Do not write report.html into the results directory at the end.
    #[arg(long = "no-report")]
    pub no_report: bool,
}

#[derive(Debug, Args)]
pub struct FixedRateArgs {
    #[command(flatten)]
    pub common: TestArgs,
    /// Messages per second per connection (0 = unbounded).
    #[arg(long, env = "RATE", default_value = "0", value_parser = parse_rate)]
    pub rate: u64,
    /// Connections per worker.
    #[arg(long = "parallel-count", env = "PARALLEL_COUNT", default_value = "1", value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub parallel_count: u32,
    /// Run Maestro's warm-up first: 30% of the rate on at most 30 connections per worker until
    /// the senders sent --warm-up-count messages, a 1 s cool-down, then the test.
    #[arg(long = "warm-up", env = "WARM_UP", value_parser = clap::builder::BoolishValueParser::new(), default_value = "false", num_args = 0..=1, default_missing_value = "true")]
    pub warm_up: bool,
    /// Messages the warm-up sends in all.
    #[arg(long = "warm-up-count", default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub warm_up_count: u64,
}

/// Parallel-count steps shared by both incremental kinds.
#[derive(Debug, Args)]
pub struct ParallelSteps {
    #[arg(
        long = "initial-parallel-count",
        env = "INITIAL_PARALLEL_COUNT",
        default_value_t = 1
    )]
    pub initial_parallel_count: u32,
    #[arg(
        long = "ceiling-parallel-count",
        env = "CEILING_PARALLEL_COUNT",
        default_value_t = 1
    )]
    pub ceiling_parallel_count: u32,
    #[arg(
        long = "parallel-count-increment",
        env = "PARALLEL_COUNT_INCREMENT",
        default_value_t = 1
    )]
    pub parallel_count_increment: u32,
}

#[derive(Debug, Args)]
pub struct IncrementalArgs {
    #[command(flatten)]
    pub common: TestArgs,
    #[arg(long = "initial-rate", env = "INITIAL_RATE", value_parser = parse_rate)]
    pub initial_rate: u64,
    #[arg(long = "ceiling-rate", env = "CEILING_RATE", value_parser = parse_rate)]
    pub ceiling_rate: u64,
    #[arg(long = "rate-increment", env = "RATE_INCREMENT", value_parser = parse_rate)]
    pub rate_increment: u64,
    #[command(flatten)]
    pub parallel: ParallelSteps,
}

#[derive(Debug, Args)]
pub struct FairIncrementalArgs {
    #[command(flatten)]
    pub common: TestArgs,
    #[arg(long = "combined-initial-rate", env = "COMBINED_INITIAL_RATE", value_parser = parse_rate)]
    pub combined_initial_rate: u64,
    #[arg(long = "combined-ceiling-rate", env = "COMBINED_CEILING_RATE", value_parser = parse_rate)]
    pub combined_ceiling_rate: u64,
    #[arg(long, env = "STEPS", default_value_t = 10)]
    pub steps: u32,
    #[command(flatten)]
    pub parallel: ParallelSteps,
}

#[derive(Debug, Args)]
pub struct HaltArgs {
    /// The Maestro broker, e.g. mqtt://127.0.0.1:1883 or mqtts:// (default: $MAESTRO_BROKER).
    #[arg(long, env = "MAESTRO_BROKER")]
    pub maestro: String,
    #[command(flatten)]
    pub tls: TlsArgs,
}

#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// The Maestro broker, e.g. mqtt://127.0.0.1:1883 or mqtts:// (default: $MAESTRO_BROKER).
    #[arg(long, env = "MAESTRO_BROKER")]
    pub maestro: String,
    /// Peer name reported to the cluster.
    #[arg(long, default_value = "worker")]
    pub name: String,
    /// Host name reported to the cluster (default: this machine's).
    #[arg(long)]
    pub host: Option<String>,
    /// Where each test's result directory goes (0, 1, ... with last, lastSuccessful, lastFailed).
    #[arg(long, default_value = "results/worker")]
    pub results: PathBuf,
    /// CPUs for the engine's shards: 0-3, 1,3 (default: every online CPU the process may use;
    /// a paced test only as many as its rate needs, one per 100,000 msg/s sent).
    #[arg(long, value_parser = parse_cores)]
    pub cores: Option<CpuList>,
    /// Serve each test's live metrics for a Prometheus server at http://ADDR/metrics.
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<std::net::SocketAddr>,
    /// Make a test's SUT connection that is lost mid-test again (100 ms doubling to 5 s
    /// between tries) for at most this long (`--reconnect` alone: 1m). Without it the first
    /// loss fails the test, as Maestro's own workers do.
    #[arg(long, value_parser = parse_positive_time, num_args = 0..=1, require_equals = true, default_missing_value = "1m", value_name = "WINDOW")]
    pub reconnect: Option<i64>,
    #[command(flatten)]
    pub tls: TlsArgs,
}

/// How connections to `mqtts://`, `amqps://`, `stomps://` and `amqp091s://` URLs verify the
/// broker and present themselves.
#[derive(Debug, Clone, Args)]
pub struct TlsArgs {
    /// PEM file of the CA certificates to trust (default: the system's).
    #[arg(long = "tls-ca")]
    pub ca: Option<PathBuf>,
    /// PEM file of a client certificate chain, presented when the broker asks (with --tls-key).
    #[arg(long = "tls-cert", requires = "key")]
    pub cert: Option<PathBuf>,
    /// PEM file of the client certificate's private key.
    #[arg(long = "tls-key", requires = "cert")]
    pub key: Option<PathBuf>,
    /// Do not verify the broker's certificate (an explicit opt-out: anyone in the path can read
    /// and change the traffic).
    #[arg(long = "tls-insecure")]
    pub insecure: bool,
    /// The name to verify in the broker's certificate and send as SNI (default: the URL's host).
    #[arg(long = "tls-server-name")]
    pub server_name: Option<String>,
}

impl TlsArgs {
    pub fn options(&self) -> allegro_engine::tls::TlsOptions {
        allegro_engine::tls::TlsOptions {
            ca_file: self.ca.clone(),
            cert_file: self.cert.clone(),
            key_file: self.key.clone(),
            insecure: self.insecure,
            server_name: self.server_name.clone(),
        }
    }
}

/// Output format of the final report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Broker URL: mqtt://[user:pass@]host[:port]/topic or amqp://[user:pass@]host[:port]/address.
    /// Without one, Allegro runs peer to peer: AMQP 1.0 senders into its own loopback receiver.
    /// (Parsed after the command line, so that a rejected one is shown without its password.)
    pub url: Option<String>,

    /// Messages per second per sender connection (0 = unbounded); accepts 50k, 2M.
    #[arg(long, default_value = "0", value_parser = parse_rate, allow_hyphen_values = true)]
    pub rate: u64,

    /// Sender connections [default: 1; peer to peer and unbounded, one per shard, so that
    /// every core sends and receives]; 0 receives only (what senders elsewhere send: give them
    /// the same --run-id).
    #[arg(long, value_parser = clap::value_parser!(u32).range(0..=1_000_000))]
    pub parallel: Option<u32>,

    /// Receiver connections; each subscribes to the destination (MQTT: every receiver gets
    /// every message). 0 sends only.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(0..=1_000_000))]
    pub receivers: u32,

    /// Message size in bytes: 256, or ~256 for sizes spread over ±5%.
    #[arg(long, default_value = "256", value_parser = parse_size, allow_hyphen_values = true)]
    pub size: MessageSize,

    /// How long each sender runs: 30s, 5m, 1h, 1d1h, or a plain message count per connection.
    #[arg(long, default_value = "10s", value_parser = parse_duration, allow_hyphen_values = true)]
    pub duration: TestDuration,

    /// Time at the start whose latencies are not recorded (500ms, 5s).
    #[arg(long, default_value = "0", value_parser = parse_time)]
    pub warmup: i64,

    /// MQTT quality of service: 0, 1 or 2.
    #[arg(long, default_value = "0", value_parser = parse_qos)]
    pub qos: QoS,

    /// MQTT protocol version: 3 (3.1.1) or 5.
    #[arg(long = "mqtt-version", default_value = "3", value_parser = parse_mqtt_version)]
    pub mqtt_version: Protocol,

    /// MQTT keep-alive in seconds (0 disables it).
    #[arg(long = "keep-alive", default_value_t = 30)]
    pub keep_alive: u16,

    /// Unacknowledged QoS 1/2 messages per sender connection.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u16).range(1..=65_000))]
    pub inflight: u16,

    /// CPUs to run shards on: 0-3, 1,3 (default: every online CPU the process may use; a paced
    /// run only as many as its rate needs, one per 100,000 msg/s sent).
    #[arg(long, value_parser = parse_cores, conflicts_with = "numa_node")]
    pub cores: Option<CpuList>,

    /// Run shards on every CPU of this NUMA node.
    #[arg(long = "numa-node")]
    pub numa_node: Option<usize>,

    /// Shard runtime: uring (io_uring: a tick's writes and wait in one system call) or epoll.
    /// Default: uring when the kernel allows it.
    #[arg(long, value_parser = parse_backend)]
    pub backend: Option<Backend>,

    /// A connection not established (handshake included) within this fails the run.
    #[arg(long = "connect-timeout", default_value = "5s", value_parser = parse_positive_time)]
    pub connect_timeout: i64,

    /// A connection whose bytes the peer has not taken for this long fails (the peer stopped
    /// reading); from a second on it counts as stalled in the progress line. 0 waits forever.
    #[arg(long = "stall-timeout", default_value = "30s", value_parser = parse_time)]
    pub stall_timeout: i64,

    /// Make a connection to the broker that is lost mid-run again, waiting 100 ms doubling to
    /// 5 s between tries, for at most this long without one (`--reconnect` alone: 1m).
    /// Without it the first loss ends the run. What a lost sender had unconfirmed is counted
    /// as `unconfirmed`; the receivers' counts say what arrived.
    #[arg(long, value_parser = parse_positive_time, num_args = 0..=1, require_equals = true, default_missing_value = "1m", value_name = "WINDOW")]
    pub reconnect: Option<i64>,

    /// New connections per second over the run (default: as fast as the broker takes them,
    /// at most 64 per shard in their handshake at once).
    #[arg(long = "connect-rate", value_parser = parse_connect_rate)]
    pub connect_rate: Option<f64>,

    /// Local addresses to connect from, in turn: 127.0.0.1-127.0.0.8, 127.0.0.1-8, or a list
    /// (each address has its own ~28,000 ephemeral ports to a broker port). Default: the
    /// kernel's choice; on loopback, spread over 127.0.0.x when one address would not do.
    #[arg(long = "source-addrs", value_parser = parse_source_addrs)]
    pub source_addrs: Option<AddrList>,

    /// Serve live metrics for a Prometheus server at http://ADDR/metrics (e.g.
    /// 127.0.0.1:9464): messages, bytes, rates, connections and errors per shard, latency
    /// quantiles.
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<std::net::SocketAddr>,

    /// Do not write report.html into the results directory at the end.
    #[arg(long = "no-report")]
    pub no_report: bool,

    /// After the run, keep serving the final metrics this long, so that the last scrape sees
    /// them.
    #[arg(long = "metrics-linger", default_value = "0", value_parser = parse_time)]
    pub metrics_linger: i64,

    /// After the senders finish, receivers stop once nothing arrived for this long.
    #[arg(long = "drain-idle", default_value = "2s", value_parser = parse_positive_time)]
    pub drain_idle: i64,

    /// The run's identity (8 hex digits, as `run_id` in a summary): give the same to the
    /// sending and the receiving processes of one run on different hosts. Receivers count
    /// only messages of their run; what other runs left on the broker is counted as stale.
    /// Default: a fresh one. A receive-only run without it counts every run's messages.
    #[arg(long = "run-id", value_parser = parse_run_id)]
    pub run_id: Option<u32>,

    /// Receive coalescing: a receiver getting at least 8 messages (and at most 64 KiB) per
    /// window reads at most once per window (250us, 1ms). A message is then read at most this
    /// long after it arrived; slower streams are read as they land. 0 reads whenever bytes
    /// arrive, at more CPU.
    #[arg(long = "rx-coalesce", default_value = "1ms", value_parser = parse_time)]
    pub rx_coalesce: i64,

    #[command(flatten)]
    pub tls: TlsArgs,

    /// Directory under which each run gets a numbered results directory.
    #[arg(long, default_value = "results")]
    pub results: PathBuf,

    /// Format of the final report on stdout.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,

    /// No live progress on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

fn parse_run_id(s: &str) -> Result<u32, String> {
    let hex = s.trim_start_matches("0x");
    if hex.is_empty() || hex.len() > 8 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!(
            "'{s}' is not a run id (up to 8 hex digits, e.g. 1a2b3c4d)"
        ));
    }
    u32::from_str_radix(hex, 16).map_err(|e| format!("'{s}': {e}"))
}

fn parse_rate(s: &str) -> Result<u64, String> {
    plan::parse_rate(s).map_err(|e| e.to_string())
}

fn parse_size(s: &str) -> Result<MessageSize, String> {
    plan::parse_size(s).map_err(|e| e.to_string())
}

fn parse_duration(s: &str) -> Result<TestDuration, String> {
    plan::parse_duration(s).map_err(|e| e.to_string())
}

fn parse_time(s: &str) -> Result<i64, String> {
    plan::parse_time(s).map_err(|e| e.to_string())
}

fn parse_connect_rate(s: &str) -> Result<f64, String> {
    match plan::parse_rate(s) {
        Ok(0) => Err("must be above zero (connections per second)".into()),
        r => r.map(|n| n as f64).map_err(|e| e.to_string()),
    }
}

/// `--source-addrs`, parsed.
#[derive(Debug, Clone)]
pub struct AddrList(pub Vec<std::net::IpAddr>);

fn parse_source_addrs(s: &str) -> Result<AddrList, String> {
    plan::parse_addr_list(s)
        .map(AddrList)
        .map_err(|e| e.to_string())
}

fn parse_positive_time(s: &str) -> Result<i64, String> {
    match plan::parse_time(s) {
        Ok(0) => Err("must be longer than zero".into()),
        r => r.map_err(|e| e.to_string()),
    }
}

fn parse_mqtt_version(s: &str) -> Result<Protocol, String> {
    match s {
        "3" | "3.1.1" | "4" => Ok(Protocol::V311),
        "5" | "5.0" => Ok(Protocol::V5),
        _ => Err(format!("unknown MQTT version '{s}' (expected 3 or 5)")),
    }
}

fn parse_qos(s: &str) -> Result<QoS, String> {
    let bad = || format!("'{s}' is not an MQTT QoS (expected 0, 1 or 2)");
    let n: u8 = s.trim().parse().map_err(|_| bad())?;
    QoS::try_from(n).map_err(|_| bad())
}

/// A CPU list as given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuList(pub Vec<usize>);

fn parse_cores(s: &str) -> Result<CpuList, String> {
    allegro_engine::placement::parse_cpu_list(s)
        .map(CpuList)
        .map_err(|e| e.to_string())
}

fn parse_backend(s: &str) -> Result<Backend, String> {
    s.parse()
}

/// Parses `args`; on error or `--help`/`--version` prints and returns the exit status.
pub fn parse<I: IntoIterator<Item = OsString>>(args: I) -> Result<Cli, i32> {
    match Cli::try_parse_from(args) {
        Ok(c) => Ok(c),
        Err(e) => {
            use clap::error::ErrorKind;
            match e.kind() {
                ErrorKind::DisplayHelp
                | ErrorKind::DisplayVersion
                | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                    let _ = e.print();
                    Err(if e.use_stderr() {
                        crate::EXIT_USAGE
                    } else {
                        crate::EXIT_OK
                    })
                }
                _ => {
                    eprintln!("allegro: {}", one_line(&e.to_string()));
                    Err(crate::EXIT_USAGE)
                }
            }
        }
    }
}

/// A clap error on one line, without its `error: ` prefix: the first line, and when it ends
/// with a colon (a list follows, as for missing arguments) the list joined to it.
fn one_line(s: &str) -> String {
    let mut lines = s.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines
        .next()
        .unwrap_or("invalid arguments")
        .trim_start_matches("error: ");
    if !first.ends_with(':') {
        return first.to_owned();
    }
    let list: Vec<&str> = lines.take_while(|l| !l.starts_with("Usage:")).collect();
    format!("{first} {}", list.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<OsString> {
        std::iter::once("allegro")
            .chain(a.iter().copied())
            .map(OsString::from)
            .collect()
    }

    #[test]
    fn a_missing_argument_is_named_on_the_one_line() {
        let msg = "error: the following required arguments were not provided:\n  --tls-key <KEY>\n\nUsage: allegro run --tls-cert <CERT> --tls-key <KEY> [URL]\n";
        assert_eq!(
            one_line(msg),
            "the following required arguments were not provided: --tls-key <KEY>"
        );
    }

    #[test]
    fn accepts_maestro_syntax() {
        let c = parse(args(&[
            "run",
            "mqtt://h/t",
            "--rate",
            "50k",
            "--size",
            "~100",
            "--duration",
            "1d1h",
            "--cores",
            "0-1",
        ]))
        .unwrap();
        let Command::Run(r) = c.command else {
            panic!("parsed as another command")
        };
        assert_eq!(r.rate, 50_000);
        assert_eq!(r.size, MessageSize::Variable(100));
        assert_eq!(r.duration, TestDuration::Time(90_000 * 1_000_000_000));
        assert_eq!(r.cores, Some(CpuList(vec![0, 1])));
    }

    #[test]
    fn refuses_bad_values() {
        // (URLs are checked after parsing, by `RunConfig::from_args`, to keep passwords out
        // of the messages.)
        for bad in [
            &["run", "mqtt://h/t", "--rate", "-1"][..],
            &["run", "mqtt://h/t", "--size", "0"],
            &["run", "mqtt://h/t", "--frobnicate"],
            &["run", "mqtt://h/t", "--qos", "3"],
            &["run", "mqtt://h/t", "--duration", "0"],
            &["run", "mqtt://h/t", "--cores", "x"],
        ] {
            assert_eq!(parse(args(bad)).err(), Some(crate::EXIT_USAGE), "{bad:?}");
        }
    }

    #[test]
    fn one_line_errors() {
        assert_eq!(one_line("error: bad thing\n\nUsage: x\n"), "bad thing");
    }
}
