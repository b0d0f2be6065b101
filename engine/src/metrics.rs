//! Live metrics for a Prometheus server: the run's totals rendered in the text exposition
//! format (version 0.0.4) and served over HTTP at `/metrics` by a thread of their own.
//!
//! The shards never see any of it: the control thread renders the merged totals it already
//! has (once a second and at the end) and swaps the text in; a scrape only copies the latest
//! text out. So a slow or stuck scraper costs a shard nothing.

use crate::clock::{Nanos, NANOS_PER_SEC};
use crate::run::Totals;
use crate::stats::Counters;
use hdrhistogram::Histogram;
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The text a scrape gets.
type Body = Arc<Mutex<Arc<str>>>;

/// An HTTP endpoint serving the latest metrics; it stops with the process.
#[derive(Debug, Clone)]
pub struct Exporter {
    body: Body,
    addr: SocketAddr,
}

impl Exporter {
    /// Listens on `addr` and serves `GET /metrics` (anything else: 404) from a thread.
    pub fn serve(addr: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr)?;
        let addr = listener.local_addr()?;
        let body: Body = Arc::new(Mutex::new(Arc::from("")));
        let shared = body.clone();
        std::thread::Builder::new()
            .name("allegro-metrics".into())
            .spawn(move || {
                for stream in listener.incoming().flatten() {
                    let text = shared.lock().unwrap_or_else(|e| e.into_inner()).clone();
                    // One scraper at a time; a slow one is cut off by the timeouts.
                    let _ = answer(stream, &text);
                }
            })?;
        Ok(Exporter { body, addr })
    }

    /// Where it listens (the port chosen, when asked for port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// What scrapes get from now on.
    pub fn publish(&self, text: String) {
        *self.body.lock().unwrap_or_else(|e| e.into_inner()) = Arc::from(text);
    }
}

/// Reads one request and answers it.
fn answer(mut s: TcpStream, body: &str) -> std::io::Result<()> {
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    s.set_write_timeout(Some(Duration::from_secs(2)))?;
    let mut req = Vec::with_capacity(512);
    let mut buf = [0u8; 512];
    while !req.windows(4).any(|w| w == b"\r\n\r\n") && req.len() < 16 * 1024 {
        match s.read(&mut buf)? {
            0 => break,
            n => req.extend_from_slice(&buf[..n]),
        }
    }
    let line = req.split(|&b| b == b'\r').next().unwrap_or_default();
    let mut parts = line.split(|&b| b == b' ');
    let (method, path) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let path = path.split(|&b| b == b'?').next().unwrap_or_default();
    let head = if method == b"GET" && (path == b"/metrics" || path == b"/") {
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
    } else {
        let msg = "only GET /metrics is served here\n";
        s.write_all(
            format!(
                "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{msg}",
                msg.len()
            )
            .as_bytes(),
        )?;
        return Ok(());
    };
    s.write_all(head.as_bytes())?;
    s.write_all(body.as_bytes())
}

/// Renders totals as metrics, with rates over the time between two renderings.
#[derive(Debug, Default)]
pub struct Renderer {
    /// Per shard: the counters and the time of the previous rendering.
    prev: Vec<(Counters, Nanos)>,
    /// `name="value"` pairs put on every series (the run's id, the protocol).
    info: Vec<(String, String)>,
}

/// A counter family: its name, help text and value.
type CounterDef = (&'static str, &'static str, fn(&Counters) -> u64);

/// The latency quantiles given.
const QUANTILES: [f64; 5] = [0.5, 0.9, 0.99, 0.999, 0.9999];

impl Renderer {
    /// `info` labels go on an `allegro_run_info` series (value 1).
    pub fn new(info: Vec<(String, String)>) -> Self {
        Renderer {
            prev: Vec::new(),
            info,
        }
    }

    /// The metrics of `totals` at `now`.
    pub fn render(&mut self, totals: &Totals, now: Nanos) -> String {
        let mut out = String::with_capacity(8 * 1024);
        let info: Vec<String> = self
            .info
            .iter()
            .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
            .collect();
        family(
            &mut out,
            "allegro_run_info",
            "gauge",
            "The run: its id and protocol",
        );
        let _ = writeln!(out, "allegro_run_info{{{}}} 1", info.join(","));
        let counters: [CounterDef; 10] = [
            (
                "allegro_messages_sent_total",
                "Messages written to a socket",
                |c| c.sent,
            ),
            (
                "allegro_messages_acked_total",
                "Sent messages the broker acknowledged",
                |c| c.acked,
            ),
            (
                "allegro_messages_received_total",
                "Messages of this run received",
                |c| c.received,
            ),
            (
                "allegro_messages_lost_total",
                "Gaps in the sequences received (net of late arrivals)",
                |c| c.lost,
            ),
            (
                "allegro_messages_duplicated_total",
                "Messages received more than once",
                |c| c.duplicated,
            ),
            (
                "allegro_messages_reordered_total",
                "Messages received after a later one",
                |c| c.reordered,
            ),
            ("allegro_bytes_sent_total", "Message body bytes sent", |c| {
                c.bytes_sent
            }),
            (
                "allegro_bytes_received_total",
                "Message body bytes received",
                |c| c.bytes_received,
            ),
            (
                "allegro_connection_errors_total",
                "Connections that failed",
                |c| c.errors,
            ),
            (
                "allegro_reconnects_total",
                "Lost connections made again (--reconnect)",
                |c| c.reconnects,
            ),
        ];
        for (name, help, get) in counters {
            family(&mut out, name, "counter", help);
            for s in &totals.shards {
                let _ = writeln!(out, "{name}{{shard=\"{}\"}} {}", s.shard, get(&s.counters));
            }
        }
        family(
            &mut out,
            "allegro_connections",
            "gauge",
            "Connections by state",
        );
        for s in &totals.shards {
            let c = &s.conns;
            for (state, n) in [
                ("connecting", c.connecting),
                ("up", c.up),
                ("done", c.done),
                ("failed", c.failed),
                ("stalled", c.stalled),
            ] {
                let _ = writeln!(
                    out,
                    "allegro_connections{{shard=\"{}\",state=\"{state}\"}} {n}",
                    s.shard
                );
            }
        }
        self.prev
            .resize(totals.shards.len(), (Counters::default(), now));
        let mut rates = String::new();
        family(
            &mut out,
            "allegro_send_rate",
            "gauge",
            "Messages sent per second since the last update",
        );
        family(
            &mut rates,
            "allegro_receive_rate",
            "gauge",
            "Messages received per second since the last update",
        );
        for (s, prev) in totals.shards.iter().zip(self.prev.iter_mut()) {
            let dt = (now - prev.1) as f64 / NANOS_PER_SEC as f64;
            let per_s = |a: u64, b: u64| {
                if dt > 0.0 {
                    a.saturating_sub(b) as f64 / dt
                } else {
                    0.0
                }
            };
            let _ = writeln!(
                out,
                "allegro_send_rate{{shard=\"{}\"}} {}",
                s.shard,
                per_s(s.counters.sent, prev.0.sent)
            );
            let _ = writeln!(
                rates,
                "allegro_receive_rate{{shard=\"{}\"}} {}",
                s.shard,
                per_s(s.counters.received, prev.0.received)
            );
            *prev = (s.counters, now);
        }
        out.push_str(&rates);
        let h = totals.histograms();
        family(
            &mut out,
            "allegro_latency_seconds",
            "summary",
            "Latency since the start, every shard: service (receive - send), corrected (receive - intended send), send_delay (send - intended send)",
        );
        for (kind, hist) in h.named() {
            summary(&mut out, kind, hist);
        }
        out
    }
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// One summary series of microsecond histogram `h`, in seconds.
fn summary(out: &mut String, kind: &str, h: &Histogram<u64>) {
    let name = "allegro_latency_seconds";
    for q in QUANTILES {
        let v = if h.is_empty() {
            f64::NAN
        } else {
            h.value_at_quantile(q) as f64 / 1e6
        };
        let _ = writeln!(
            out,
            "{name}{{kind=\"{kind}\",quantile=\"{q}\"}} {}",
            number(v)
        );
    }
    let sum = h.mean() * h.len() as f64 / 1e6;
    let _ = writeln!(out, "{name}_sum{{kind=\"{kind}\"}} {}", number(sum));
    let _ = writeln!(out, "{name}_count{{kind=\"{kind}\"}} {}", h.len());
}

/// A sample value as the format spells it.
fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else {
        format!("{v}")
    }
}

/// A label value with `\`, `"` and newlines escaped.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scrape_gets_the_latest_text_and_other_paths_a_404() {
        let e = Exporter::serve("127.0.0.1:0".parse().unwrap()).unwrap();
        e.publish("allegro_x 1\n".into());
        e.publish("allegro_x 2\n".into());
        let get = |path: &str| {
            let mut s = TcpStream::connect(e.addr()).unwrap();
            write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
            let mut r = String::new();
            s.read_to_string(&mut r).unwrap();
            r
        };
        let ok = get("/metrics");
        assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
        assert!(ok.contains("version=0.0.4"));
        assert!(ok.ends_with("\r\n\r\nallegro_x 2\n"), "{ok}");
        assert!(get("/other").starts_with("HTTP/1.1 404"));
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
