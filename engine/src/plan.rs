//! What a run is asked to do: the load shape in Maestro's terms and the resolved plan a shard
//! executes. Parsers accept Maestro's syntax (`maestro-protocol.md`, SET options): durations
//! `30s`, `5m`, `1h`, `1d1h` or a plain message count, sizes `256` or `~256`.

use crate::clock::{Nanos, NANOS_PER_SEC};
use crate::url::Url;
use allegro_wire::mqtt::{Protocol, QoS};
use std::fmt;

/// How long each sender connection runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestDuration {
    /// Wall time from the common start.
    Time(Nanos),
    /// Number of messages per sender connection.
    Count(u64),
}

/// Message body size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageSize {
    /// Every message has this many bytes.
    Fixed(u32),
    /// Sizes spread uniformly over ±5% of this (Maestro's `~N`).
    Variable(u32),
}

impl MessageSize {
    /// Smallest and largest body a message can have.
    pub fn bounds(self) -> (u32, u32) {
        match self {
            MessageSize::Fixed(n) => (n, n),
            MessageSize::Variable(n) => {
                let d = n / 20;
                (n.saturating_sub(d).max(1), n + d)
            }
        }
    }
}

impl fmt::Display for MessageSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MessageSize::Fixed(n) => write!(f, "{n}"),
            MessageSize::Variable(n) => write!(f, "~{n}"),
        }
    }
}

impl fmt::Display for TestDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TestDuration::Count(n) => write!(f, "{n} messages"),
            TestDuration::Time(ns) => write!(f, "{}", format_duration(*ns)),
        }
    }
}

/// Formats nanoseconds as the shortest of `1d2h3m4s`, or milliseconds (microseconds) below a
/// second (millisecond).
pub fn format_duration(ns: Nanos) -> String {
    if ns < 1_000_000 {
        return format!("{}us", ns / 1_000);
    }
    if ns < NANOS_PER_SEC {
        return format!("{}ms", ns / 1_000_000);
    }
    let mut s = ns / NANOS_PER_SEC;
    let mut out = String::new();
    for (unit, len) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        if s >= len {
            out.push_str(&format!("{}{unit}", s / len));
            s %= len;
        }
    }
    out
}

/// A value that could not be parsed, with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(pub String);

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ParseError {}

fn err<T>(msg: String) -> Result<T, ParseError> {
    Err(ParseError(msg))
}

/// Parses `30s`, `500ms`, `5m`, `1h`, `1d1h` as a time, or a plain integer as a message count.
pub fn parse_duration(s: &str) -> Result<TestDuration, ParseError> {
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return match s.parse::<u64>() {
            Ok(0) => err("a message count must be at least 1".into()),
            Ok(n) => Ok(TestDuration::Count(n)),
            Err(_) => err(format!("'{s}' is too large")),
        };
    }
    match parse_time(s)? {
        0 => err("a duration must be longer than zero".into()),
        ns => Ok(TestDuration::Time(ns)),
    }
}

/// Parses a time span (`500ms`, `30s`, `1d1h`); a plain number is seconds. Zero is allowed.
pub fn parse_time(s: &str) -> Result<Nanos, ParseError> {
    let s = s.trim();
    if s.is_empty() {
        return err("empty duration".into());
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return s
            .parse::<i64>()
            .ok()
            .and_then(|n| n.checked_mul(NANOS_PER_SEC))
            .ok_or_else(|| ParseError(format!("'{s}' is too large")));
    }
    let mut total: i64 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return err(format!(
                "bad duration '{s}' (expected e.g. 30s, 5m, 1h, 1d1h)"
            ));
        }
        let n: i64 = rest[..digits]
            .parse()
            .map_err(|_| ParseError(format!("'{s}' is too large")))?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit = match &rest[..unit_len] {
            "us" | "µs" => 1_000,
            "ms" => 1_000_000,
            "s" => NANOS_PER_SEC,
            "m" => 60 * NANOS_PER_SEC,
            "h" => 3_600 * NANOS_PER_SEC,
            "d" => 86_400 * NANOS_PER_SEC,
            u => {
                return err(format!(
                    "bad duration unit '{u}' in '{s}' (use us, ms, s, m, h, d)"
                ))
            }
        };
        rest = &rest[unit_len..];
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| ParseError(format!("'{s}' is too large")))?;
    }
    Ok(total)
}

/// Parses `256` or `~256` (±5%). Zero is refused.
pub fn parse_size(s: &str) -> Result<MessageSize, ParseError> {
    let s = s.trim();
    let (variable, digits) = match s.strip_prefix('~') {
        Some(d) => (true, d),
        None => (false, s),
    };
    let n = parse_scaled(digits, 1024).map_err(|_| {
        ParseError(format!(
            "bad size '{s}' (expected a byte count such as 256, ~256 or 4k)"
        ))
    })?;
    match u32::try_from(n) {
        Ok(0) => err("size must be at least 1 byte".into()),
        Ok(n) if n <= MAX_MESSAGE_SIZE => Ok(if variable {
            MessageSize::Variable(n)
        } else {
            MessageSize::Fixed(n)
        }),
        _ => err(format!(
            "size {n} is larger than the {MAX_MESSAGE_SIZE}-byte maximum"
        )),
    }
}

/// Largest message body Allegro generates (MQTT allows 256 MiB; 64 MiB keeps buffers sane).
pub const MAX_MESSAGE_SIZE: u32 = 64 << 20;

/// Parses a rate in messages per second: `1000`, `50k`, `2M`. `0` means unbounded.
/// A list of IP addresses: `A,B,…`, each an address or an IPv4 range `127.0.0.1-127.0.0.8`
/// (or `127.0.0.1-8`, the last part of the range's end), at most 65,536 in all.
pub fn parse_addr_list(s: &str) -> Result<Vec<std::net::IpAddr>, ParseError> {
    use std::net::{IpAddr, Ipv4Addr};
    let bad = |part: &str, why: &str| {
        ParseError(format!(
            "bad address '{part}' in '{s}' ({why}; expected e.g. 127.0.0.1-127.0.0.8 or 10.0.0.5,10.0.0.6)"
        ))
    };
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            None => out.push(
                part.parse::<IpAddr>()
                    .map_err(|_| bad(part, "not an IP address"))?,
            ),
            Some((a, b)) => {
                let a: Ipv4Addr = a.parse().map_err(|_| bad(part, "a range is of IPv4"))?;
                let b: Ipv4Addr = match b.parse::<u8>() {
                    Ok(last) => {
                        let [x, y, z, _] = a.octets();
                        Ipv4Addr::new(x, y, z, last)
                    }
                    Err(_) => b.parse().map_err(|_| bad(part, "a range is of IPv4"))?,
                };
                let (lo, hi) = (u32::from(a), u32::from(b));
                if hi < lo || hi - lo >= 65_536 {
                    return Err(bad(part, "the range runs backwards or is too long"));
                }
                out.extend((lo..=hi).map(|n| IpAddr::V4(Ipv4Addr::from(n))));
            }
        }
        if out.len() > 65_536 {
            return Err(bad(part, "more than 65,536 addresses"));
        }
    }
    if out.is_empty() {
        return Err(ParseError(format!("no address in '{s}'")));
    }
    Ok(out)
}

pub fn parse_rate(s: &str) -> Result<u64, ParseError> {
    parse_scaled(s.trim(), 1000).map_err(|_| {
        ParseError(format!(
            "bad rate '{s}' (expected messages per second, e.g. 1000, 50k, or 0 for unbounded)"
        ))
    })
}

fn parse_scaled(s: &str, k: u64) -> Result<u64, ()> {
    let (num, mult) = match s.as_bytes().last() {
        Some(b'k' | b'K') => (&s[..s.len() - 1], k),
        Some(b'm' | b'M') => (&s[..s.len() - 1], k * k),
        _ => (s, 1),
    };
    if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) {
        return Err(());
    }
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .ok_or(())
}

/// The load shape, with Maestro's meanings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadShape {
    /// Messages per second per sender connection; 0 is unbounded.
    pub rate: u64,
    /// Sender connections.
    pub parallel: u32,
    /// Receiver connections (each subscribes to the whole destination).
    pub receivers: u32,
    pub size: MessageSize,
    pub duration: TestDuration,
    /// Time from the start during which nothing is recorded into the histograms.
    pub warmup: Nanos,
}

impl LoadShape {
    /// Messages per second all the senders together are paced at (0: unbounded).
    pub fn total_rate(&self) -> u64 {
        self.rate.saturating_mul(u64::from(self.parallel))
    }
}

/// MQTT specifics of a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MqttOptions {
    pub protocol: Protocol,
    pub qos: QoS,
    pub keep_alive_secs: u16,
    /// Unacknowledged QoS 1/2 publishes a sender keeps in flight.
    pub inflight: u16,
}

impl Default for MqttOptions {
    fn default() -> Self {
        MqttOptions {
            protocol: Protocol::V311,
            qos: QoS::AtMostOnce,
            keep_alive_secs: 30,
            inflight: 1000,
        }
    }
}

impl Plan {
    /// True when every receiver gets every message (MQTT topics, STOMP `/topic/` and
    /// `/exchange/` destinations, AMQP 0-9-1 exchanges: each subscription gets its own copy); false when
    /// receivers share the messages (queues, peer to peer).
    pub fn fanout(&self) -> bool {
        match self.protocol {
            ProtocolPlan::Mqtt(_) => !self.peer,
            ProtocolPlan::Stomp(_) => {
                let d = stomp_destination(&self.url.path);
                d.starts_with("/topic/") || d.starts_with("/exchange/")
            }
            ProtocolPlan::Amqp091(_) => matches!(
                Amqp091Target::from_path(&self.url.path),
                Amqp091Target::Exchange { .. }
            ),
            ProtocolPlan::Amqp(_) => false,
        }
    }

    /// Deliveries the receivers should see in all for `sent` messages.
    pub fn expected_deliveries(&self, sent: u64) -> u64 {
        match (self.shape.receivers, self.fanout(), self.shape.duration) {
            (0, _, _) => 0,
            // Receive only, a count per receiver, each seeing every message (a topic, or the one
            // receiver of a queue): that many, whatever this process sent.
            (r, fanout, TestDuration::Count(n))
                if self.shape.parallel == 0 && (fanout || r == 1) =>
            {
                n.saturating_mul(u64::from(r))
            }
            (r, true, _) => sent * u64::from(r),
            (_, false, _) => sent,
        }
    }
}

/// AMQP 1.0 specifics of a plan, from the URL's options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AmqpOptions {
    /// `settle=presettled` (default, at most once) or `settle=unsettled` (acknowledged).
    pub presettled: bool,
    /// `credit=N`: a receiver's credit window (default 1000; peer to peer, where no broker
    /// buffers, [`PEER_CREDIT`]).
    pub credit: u32,
    /// Maestro's `durable=true|false`.
    pub durable: bool,
    /// Maestro's `ttl=MS`.
    pub ttl_ms: Option<u32>,
    /// Maestro's `priority=0..9`.
    pub priority: Option<u8>,
    /// Senders: unsettled deliveries outstanding at most (`--inflight`).
    pub inflight: u32,
}

/// Credit window of the peer-to-peer receiver: large enough that a sender on another core does
/// not stall for a flow round trip between windows.
pub const PEER_CREDIT: u32 = 20_000;

impl Default for AmqpOptions {
    fn default() -> Self {
        AmqpOptions {
            presettled: true,
            credit: 1000,
            durable: false,
            ttl_ms: None,
            priority: None,
            inflight: 1000,
        }
    }
}

impl AmqpOptions {
    /// Reads the URL options; an unknown option or a bad value is an error naming it.
    /// `protocol` (Maestro's JMS client choice) and `limitDestinations` are accepted and ignored.
    pub fn from_options(options: &[(String, String)]) -> Result<Self, ParseError> {
        let mut o = AmqpOptions::default();
        let bad = |k: &str, v: &str, want: &str| {
            ParseError(format!("bad URL option {k}={v} (expected {want})"))
        };
        for (k, v) in options {
            match k.as_str() {
                "settle" => {
                    o.presettled = match v.as_str() {
                        "presettled" | "settled" | "pre-settled" => true,
                        "unsettled" => false,
                        _ => return Err(bad(k, v, "presettled or unsettled")),
                    }
                }
                "credit" => {
                    o.credit = v
                        .parse()
                        .ok()
                        .filter(|&c| c > 0)
                        .ok_or_else(|| bad(k, v, "a count above 0"))?
                }
                "durable" => {
                    o.durable = match v.as_str() {
                        "true" => true,
                        "false" => false,
                        _ => return Err(bad(k, v, "true or false")),
                    }
                }
                "ttl" => o.ttl_ms = Some(v.parse().map_err(|_| bad(k, v, "milliseconds"))?),
                "priority" => {
                    o.priority = Some(
                        v.parse()
                            .ok()
                            .filter(|&p| p <= 9)
                            .ok_or_else(|| bad(k, v, "0 to 9"))?,
                    )
                }
                "protocol" | "limitDestinations" => {}
                _ => {
                    return Err(ParseError(format!(
                    "unknown URL option '{k}' (AMQP takes settle, credit, durable, ttl, priority)"
                )))
                }
            }
        }
        Ok(o)
    }
}

/// The AMQP node address for a URL path: the path without its leading `/`, except that
/// RabbitMQ's own address forms (`/queue/..`, `/exchange/..`, `/topic/..`, `/amq/queue/..`) keep it.
pub fn amqp_address(path: &str) -> String {
    let p = path.trim_start_matches('/');
    let rabbit = ["queue/", "exchange/", "topic/", "amq/queue/"]
        .iter()
        .any(|x| p.starts_with(x));
    if rabbit {
        format!("/{p}")
    } else {
        p.to_owned()
    }
}

/// How a STOMP receiver acknowledges (STOMP 1.2 §"SUBSCRIBE ack Header").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StompAck {
    /// The broker counts a message acknowledged once sent.
    Auto,
    /// One ACK acknowledges every message up to it (cumulative).
    Client,
    /// One ACK per message.
    ClientIndividual,
}

impl StompAck {
    /// The value of SUBSCRIBE's `ack` header.
    pub fn as_str(self) -> &'static str {
        match self {
            StompAck::Auto => "auto",
            StompAck::Client => "client",
            StompAck::ClientIndividual => "client-individual",
        }
    }
}

/// STOMP specifics of a plan, from the URL's options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StompOptions {
    /// `receipt=none|each|N`: a sender asks for a RECEIPT every N messages (0: never; the
    /// DISCONNECT's receipt alone then confirms the broker took everything). Receipts come in
    /// order, so one confirms every message before it; at most `inflight` go unconfirmed.
    pub receipt_every: u32,
    /// `ack=auto|client|client-individual` for receivers.
    pub ack: StompAck,
    /// `prefetch=N`: messages the broker may send a receiver ahead of its ACKs (RabbitMQ's
    /// `prefetch-count`, ActiveMQ's `activemq.prefetchSize`; RabbitMQ applies it to client
    /// acknowledgement modes only).
    pub prefetch: u32,
    /// `vhost=NAME`: CONNECT's `host` header, the virtual host (default `/`, RabbitMQ's).
    pub vhost: String,
    /// `persistent=true|false`: SEND's `persistent` header.
    pub persistent: bool,
    /// `heartbeat=MS`: the heart-beat interval offered both ways (0: none).
    pub heartbeat_ms: u32,
    /// Senders: messages sent and not yet confirmed by a receipt, at most (`--inflight`).
    pub inflight: u32,
}

impl Default for StompOptions {
    fn default() -> Self {
        StompOptions {
            receipt_every: 0,
            ack: StompAck::Auto,
            prefetch: 1000,
            vhost: "/".into(),
            persistent: false,
            heartbeat_ms: 10_000,
            inflight: 1000,
        }
    }
}

impl StompOptions {
    /// Reads the URL options; an unknown option or a bad value is an error naming it.
    pub fn from_options(options: &[(String, String)]) -> Result<Self, ParseError> {
        let mut o = StompOptions::default();
        let bad = |k: &str, v: &str, want: &str| {
            ParseError(format!("bad URL option {k}={v} (expected {want})"))
        };
        let count = |k: &str, v: &str| {
            v.parse::<u32>()
                .ok()
                .filter(|&n| n > 0)
                .ok_or_else(|| bad(k, v, "a count above 0"))
        };
        let flag = |k: &str, v: &str| match v {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(bad(k, v, "true or false")),
        };
        for (k, v) in options {
            match k.as_str() {
                "receipt" => {
                    o.receipt_every = match v.as_str() {
                        "none" | "off" => 0,
                        "each" => 1,
                        n => n
                            .parse()
                            .ok()
                            .filter(|&n| n > 0)
                            .ok_or_else(|| bad(k, v, "none, each or a count above 0"))?,
                    }
                }
                "ack" => {
                    o.ack = match v.as_str() {
                        "auto" => StompAck::Auto,
                        "client" => StompAck::Client,
                        "client-individual" => StompAck::ClientIndividual,
                        _ => return Err(bad(k, v, "auto, client or client-individual")),
                    }
                }
                "prefetch" => o.prefetch = count(k, v)?,
                "vhost" => o.vhost = v.clone(),
                "persistent" | "durable" => o.persistent = flag(k, v)?,
                "heartbeat" => o.heartbeat_ms = v.parse().map_err(|_| bad(k, v, "milliseconds"))?,
                _ => {
                    return Err(ParseError(format!(
                        "unknown URL option '{k}' (STOMP takes receipt, ack, prefetch, vhost, persistent, heartbeat)"
                    )))
                }
            }
        }
        Ok(o)
    }
}

/// The STOMP destination for a URL path: the path with its leading `/` (`/queue/NAME`,
/// `/topic/NAME`, RabbitMQ's `/exchange/X/KEY` and `/amq/queue/NAME`); `/queue/allegro` when
/// the path is empty.
pub fn stomp_destination(path: &str) -> String {
    match path.trim_start_matches('/') {
        "" => "/queue/allegro".into(),
        p => format!("/{p}"),
    }
}

/// AMQP 0-9-1 specifics of a plan, from the URL's options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Amqp091Options {
    /// `confirm=true`: publisher confirms (RabbitMQ's `confirm.select`), at most `inflight`
    /// messages unconfirmed.
    pub confirm: bool,
    /// `ack=manual`: receivers acknowledge (one `basic.ack` with `multiple` per read);
    /// `ack=auto` (default): the broker counts a message acknowledged once sent (`no-ack`).
    pub manual_ack: bool,
    /// `prefetch=N`: `basic.qos` prefetch count (manual acknowledgement only).
    pub prefetch: u16,
    /// `durable=true`: the queue is declared durable.
    pub durable: bool,
    /// `passive=true`: the queue (or exchange) must exist; nothing is declared.
    pub passive: bool,
    /// `exchange-type=direct|fanout|topic|headers`: `/exchange/X/KEY` declares X of this type
    /// (without it, X must exist).
    pub exchange_type: Option<String>,
    /// `persistent=true`: messages are published with delivery mode 2.
    pub persistent: bool,
    /// `mandatory=true`: unroutable messages come back (`basic.return`) and count as errors.
    pub mandatory: bool,
    /// `vhost=NAME` (default `/`).
    pub vhost: String,
    /// `heartbeat=S`: the heart-beat interval asked for (the broker's proposal when lower; 0:
    /// none).
    pub heartbeat_s: u16,
    /// Senders: unconfirmed messages at most (`--inflight`, with confirms).
    pub inflight: u32,
}

impl Default for Amqp091Options {
    fn default() -> Self {
        Amqp091Options {
            confirm: false,
            manual_ack: false,
            prefetch: 1000,
            durable: false,
            passive: false,
            exchange_type: None,
            persistent: false,
            mandatory: false,
            vhost: "/".into(),
            heartbeat_s: 30,
            inflight: 1000,
        }
    }
}

impl Amqp091Options {
    /// Reads the URL options; an unknown option or a bad value is an error naming it.
    pub fn from_options(options: &[(String, String)]) -> Result<Self, ParseError> {
        let mut o = Amqp091Options::default();
        let bad = |k: &str, v: &str, want: &str| {
            ParseError(format!("bad URL option {k}={v} (expected {want})"))
        };
        let flag = |k: &str, v: &str| match v {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(bad(k, v, "true or false")),
        };
        for (k, v) in options {
            match k.as_str() {
                "confirm" => o.confirm = flag(k, v)?,
                "ack" => {
                    o.manual_ack = match v.as_str() {
                        "auto" => false,
                        "manual" => true,
                        _ => return Err(bad(k, v, "auto or manual")),
                    }
                }
                "prefetch" => {
                    o.prefetch = v
                        .parse()
                        .ok()
                        .filter(|&n| n > 0)
                        .ok_or_else(|| bad(k, v, "1 to 65535"))?
                }
                "durable" => o.durable = flag(k, v)?,
                "passive" => o.passive = flag(k, v)?,
                "exchange-type" => match v.as_str() {
                    "direct" | "fanout" | "topic" | "headers" => o.exchange_type = Some(v.clone()),
                    _ => return Err(bad(k, v, "direct, fanout, topic or headers")),
                },
                "persistent" => o.persistent = flag(k, v)?,
                "mandatory" => o.mandatory = flag(k, v)?,
                "vhost" => o.vhost = v.clone(),
                "heartbeat" => o.heartbeat_s = v.parse().map_err(|_| bad(k, v, "seconds"))?,
                _ => {
                    return Err(ParseError(format!(
                        "unknown URL option '{k}' (AMQP 0-9-1 takes confirm, ack, prefetch, durable, passive, exchange-type, persistent, mandatory, vhost, heartbeat)"
                    )))
                }
            }
        }
        Ok(o)
    }
}

/// Where an AMQP 0-9-1 URL path sends and receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Amqp091Target {
    /// `/NAME` or `/queue/NAME`: published through the default exchange to queue NAME, consumed
    /// from it (receivers share the messages).
    Queue(String),
    /// `/exchange/X/KEY`: published to exchange X with routing key KEY; each receiver consumes
    /// from a queue of its own bound to X with KEY.
    Exchange { exchange: String, key: String },
}

impl Amqp091Target {
    /// The target for a URL path; an empty path is queue `allegro`.
    pub fn from_path(path: &str) -> Self {
        let p = path.trim_start_matches('/');
        if let Some(rest) = p.strip_prefix("exchange/") {
            let (exchange, key) = rest.split_once('/').unwrap_or((rest, ""));
            return Amqp091Target::Exchange {
                exchange: exchange.into(),
                key: key.into(),
            };
        }
        match p.strip_prefix("queue/").unwrap_or(p) {
            "" => Amqp091Target::Queue("allegro".into()),
            q => Amqp091Target::Queue(q.into()),
        }
    }
}

impl fmt::Display for Amqp091Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Amqp091Target::Queue(q) => write!(f, "queue '{q}'"),
            Amqp091Target::Exchange { exchange, key } => {
                write!(f, "exchange '{exchange}' with routing key '{key}'")
            }
        }
    }
}

/// How a plan speaks to its broker: the settings of one scheme.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProtocolPlan {
    Mqtt(MqttOptions),
    Amqp(AmqpOptions),
    Stomp(StompOptions),
    Amqp091(Amqp091Options),
}

impl ProtocolPlan {
    /// The MQTT settings, when the plan speaks MQTT.
    pub fn mqtt(&self) -> Option<&MqttOptions> {
        match self {
            ProtocolPlan::Mqtt(m) => Some(m),
            _ => None,
        }
    }

    /// The AMQP 1.0 settings, when the plan speaks AMQP 1.0.
    pub fn amqp(&self) -> Option<&AmqpOptions> {
        match self {
            ProtocolPlan::Amqp(a) => Some(a),
            _ => None,
        }
    }

    /// Unacknowledged messages a sender keeps outstanding at most.
    pub fn inflight(&self) -> u32 {
        match self {
            ProtocolPlan::Mqtt(m) => u32::from(m.inflight),
            ProtocolPlan::Amqp(a) => a.inflight,
            ProtocolPlan::Stomp(s) => s.inflight,
            ProtocolPlan::Amqp091(a) => a.inflight,
        }
    }
}

/// Who a run is: every body its senders send carries `run` and `sender` (`payload`), and its
/// receivers tell its messages from those other runs left on the broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunIdentity {
    /// Shared by every sender and receiver of the run (every worker of a Maestro test).
    pub run: u32,
    /// This engine instance: its senders' id in bodies and part of its client ids, so that two
    /// processes of one run neither collide on a broker nor share sequence streams.
    pub sender: u32,
    /// Receivers count only messages of `run` and count the others apart as stale. Off where
    /// every message is wanted: a receive-only run given no run id, a Maestro DRAIN.
    pub filter: bool,
}

impl RunIdentity {
    /// The run id receivers keep to, if they keep to one.
    pub fn only(&self) -> Option<u32> {
        self.filter.then_some(self.run)
    }
}

/// Everything the engine needs to run one test.
#[derive(Debug, Clone)]
pub struct Plan {
    pub url: Url,
    pub shape: LoadShape,
    /// The settings of the URL's scheme.
    pub protocol: ProtocolPlan,
    /// Peer to peer: no broker; Allegro listens on loopback and each sender's connection is
    /// received by an accepting receiver of its own.
    pub peer: bool,
    /// What this run's messages carry and which messages its receivers count.
    pub run: RunIdentity,
    /// TLS for every connection (`mqtts://`, `amqps://`, `stomps://`, `amqp091s://`).
    pub tls: Option<crate::tls::TlsClient>,
    /// A connection whose bytes the peer has not taken for this long fails (0: wait forever).
    pub stall_timeout: Nanos,
    /// A connection not up (handshake included) within this fails the run.
    pub connect_timeout: Nanos,
    /// A connection to the broker lost mid-run is made again with back-off, for at most this
    /// long without one (`--reconnect`); `None` fails the run at the first loss.
    pub reconnect: Option<Nanos>,
    /// New connections per second over the run (`--connect-rate`); `None`: as fast as the
    /// broker takes them (at most [`MAX_HANDSHAKES`](crate::shard::launch::MAX_HANDSHAKES) per
    /// shard in their handshake at once).
    pub connect_rate: Option<f64>,
    /// Local addresses to connect from, in turn (`--source-addrs`); empty: the kernel's choice.
    /// Each address has its own ephemeral ports, so more of them pass the ~28,000 connections
    /// one address can open to one broker port.
    pub source_addrs: Vec<std::net::IpAddr>,
    /// After the senders finish, how long receivers wait with nothing arriving before they stop.
    pub drain_idle: Nanos,
    /// Receive coalescing window: while messages (a sender's: acknowledgements) stream in, a
    /// connection reads at most once per window (0: read whenever bytes arrive). Bounds how much
    /// later than its arrival a message may be read, so it is reported beside every latency
    /// figure.
    pub rx_coalesce: Nanos,
}

/// The default receive coalescing window: 1 ms.
pub const RX_COALESCE: Nanos = 1_000_000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_lists() {
        let ips = |v: &[&str]| -> Vec<std::net::IpAddr> {
            v.iter().map(|a| a.parse().unwrap()).collect()
        };
        assert_eq!(
            parse_addr_list("127.0.0.1-3"),
            Ok(ips(&["127.0.0.1", "127.0.0.2", "127.0.0.3"]))
        );
        assert_eq!(
            parse_addr_list("10.0.0.255-10.0.1.0, ::1"),
            Ok(ips(&["10.0.0.255", "10.0.1.0", "::1"]))
        );
        assert_eq!(parse_addr_list("192.168.1.7"), Ok(ips(&["192.168.1.7"])));
        for bad in [
            "",
            "127.0.0.5-2",
            "localhost",
            "::1-::2",
            "10.0.0.0-10.2.0.0",
            "1.2.3.4-x",
        ] {
            assert!(parse_addr_list(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations() {
        let s = NANOS_PER_SEC;
        assert_eq!(parse_duration("30s"), Ok(TestDuration::Time(30 * s)));
        assert_eq!(parse_duration("5m"), Ok(TestDuration::Time(300 * s)));
        assert_eq!(parse_duration("1h"), Ok(TestDuration::Time(3600 * s)));
        assert_eq!(parse_duration("1d1h"), Ok(TestDuration::Time(90_000 * s)));
        assert_eq!(parse_duration("250ms"), Ok(TestDuration::Time(250_000_000)));
        assert_eq!(parse_duration("1000"), Ok(TestDuration::Count(1000)));
        assert!(parse_duration("0").is_err());
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("h").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("99999999999999999999").is_err());
        assert_eq!(format_duration(90_061 * s), "1d1h1m1s");
        assert_eq!(format_duration(250_000), "250us");
        assert_eq!(format_duration(2_000_000), "2ms");
        assert_eq!(parse_time("0"), Ok(0));
        assert_eq!(parse_time("250us"), Ok(250_000));
        assert_eq!(parse_time("1ms500us"), Ok(1_500_000));
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("256"), Ok(MessageSize::Fixed(256)));
        assert_eq!(parse_size("~256"), Ok(MessageSize::Variable(256)));
        assert_eq!(parse_size("4k"), Ok(MessageSize::Fixed(4096)));
        assert_eq!(MessageSize::Variable(100).bounds(), (95, 105));
        assert!(parse_size("0").is_err());
        assert!(parse_size("-1").is_err());
        assert!(parse_size("~").is_err());
        assert!(parse_size("1G").is_err());
    }

    #[test]
    fn amqp_options_and_addresses() {
        let opts = |s: &[(&str, &str)]| {
            AmqpOptions::from_options(
                &s.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect::<Vec<_>>(),
            )
        };
        let o = opts(&[
            ("settle", "unsettled"),
            ("credit", "50"),
            ("durable", "true"),
            ("ttl", "5000"),
            ("priority", "7"),
        ])
        .unwrap();
        assert_eq!(
            o,
            AmqpOptions {
                presettled: false,
                credit: 50,
                durable: true,
                ttl_ms: Some(5000),
                priority: Some(7),
                inflight: 1000,
            }
        );
        assert_eq!(
            opts(&[("protocol", "AMQP"), ("limitDestinations", "1")]),
            Ok(AmqpOptions::default())
        );
        assert!(opts(&[("credit", "0")]).is_err());
        assert!(opts(&[("priority", "10")]).is_err());
        assert!(opts(&[("settle", "maybe")]).is_err());
        assert!(opts(&[("frobnicate", "1")])
            .unwrap_err()
            .0
            .contains("unknown URL option 'frobnicate'"));
        assert_eq!(amqp_address("queue/test"), "/queue/test");
        assert_eq!(
            amqp_address("/exchange/amq.topic/k"),
            "/exchange/amq.topic/k"
        );
        assert_eq!(
            amqp_address("test.performance.queue"),
            "test.performance.queue"
        );
    }

    #[test]
    fn rates() {
        assert_eq!(parse_rate("0"), Ok(0));
        assert_eq!(parse_rate("50k"), Ok(50_000));
        assert_eq!(parse_rate("2M"), Ok(2_000_000));
        assert!(parse_rate("-1").is_err());
        assert!(parse_rate("1.5").is_err());
        assert!(parse_rate("").is_err());
    }
}
