//! Per-shard counters and fixed-bound HDR histograms, and the snapshots that carry them to the
//! control thread. Histograms are in microseconds, 1 µs to 1 hour, 3 significant digits; they
//! are merged with `add`, never rebuilt from samples.

use crate::clock::{Nanos, NANOS_PER_SEC};
use hdrhistogram::Histogram;

/// Highest latency a histogram holds, in microseconds (1 hour); larger values are clamped.
pub const MAX_LATENCY_US: u64 = 3_600_000_000;

/// Monotonic counters of one shard (or of a merge of shards).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Messages written to a socket.
    pub sent: u64,
    /// Sent messages the broker acknowledged (QoS 1 PUBACK, QoS 2 PUBCOMP).
    pub acked: u64,
    pub received: u64,
    /// Messages missing from a stream's sequence (net of those that arrived late).
    pub lost: u64,
    pub duplicated: u64,
    pub reordered: u64,
    /// Received bodies without a readable timestamp.
    pub unstamped: u64,
    /// Messages another run left on the broker (their bodies name another run id): settled
    /// and counted here only, never as received, lost, duplicated or reordered.
    pub stale: u64,
    /// Messages counted as received whose settlement the broker may not have taken (the
    /// connection ended before the accept or PUBCOMP was confirmed): they may be delivered again.
    pub unsettled: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    /// Connection failures (refused, reset, protocol errors, timeouts).
    pub errors: u64,
    /// Connections that came up, and the time each took from its start to the end of its
    /// handshakes (TCP, TLS, the protocol's): their sum and the longest.
    pub connects: u64,
    pub connect_ns_sum: u64,
    pub connect_ns_max: u64,
    /// Connections lost mid-run and retried (`--reconnect`), and retries that came back up.
    pub disconnects: u64,
    pub reconnects: u64,
    /// Messages a sender wrote whose acknowledgement never came because the connection was
    /// lost first: the broker may or may not have taken them (the receivers' counts say).
    pub unconfirmed: u64,
    /// TLS handshakes of connections that came up, and those that resumed an earlier session
    /// of the run (no certificate checked, no key exchange).
    pub tls_handshakes: u64,
    pub tls_resumed: u64,
}

impl Counters {
    /// Adds `other` field by field.
    pub fn add(&mut self, o: &Counters) {
        self.sent += o.sent;
        self.acked += o.acked;
        self.received += o.received;
        self.lost += o.lost;
        self.duplicated += o.duplicated;
        self.reordered += o.reordered;
        self.unstamped += o.unstamped;
        self.stale += o.stale;
        self.unsettled += o.unsettled;
        self.bytes_sent += o.bytes_sent;
        self.bytes_received += o.bytes_received;
        self.errors += o.errors;
        self.connects += o.connects;
        self.connect_ns_sum += o.connect_ns_sum;
        self.connect_ns_max = self.connect_ns_max.max(o.connect_ns_max);
        self.disconnects += o.disconnects;
        self.reconnects += o.reconnects;
        self.unconfirmed += o.unconfirmed;
        self.tls_handshakes += o.tls_handshakes;
        self.tls_resumed += o.tls_resumed;
    }

    /// A connection came up `took` after it started.
    pub fn on_connected(&mut self, took: i64) {
        let took = took.max(0) as u64;
        self.connects += 1;
        self.connect_ns_sum += took;
        self.connect_ns_max = self.connect_ns_max.max(took);
    }
}

/// The three latency views: service, corrected for coordinated omission, send delay.
#[derive(Debug, Clone)]
pub struct Histograms {
    /// Receive time minus actual send time.
    pub service: Histogram<u64>,
    /// Receive time minus intended send time (corrected for coordinated omission).
    pub corrected: Histogram<u64>,
    /// Actual minus intended send time, on the sender.
    pub send_delay: Histogram<u64>,
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("static histogram bounds are valid")
}

impl Histograms {
    /// The three with their names (`service`, `corrected`, `send_delay`), in that order: the
    /// order and keys of the summary, the CSV, the metrics and (with `-` for `_`) the interval
    /// log's tags.
    pub fn named(&self) -> [(&'static str, &Histogram<u64>); 3] {
        [
            ("service", &self.service),
            ("corrected", &self.corrected),
            ("send_delay", &self.send_delay),
        ]
    }

    pub fn new() -> Self {
        Histograms {
            service: histogram(),
            corrected: histogram(),
            send_delay: histogram(),
        }
    }

    /// Adds every count of `other`.
    pub fn add(&mut self, o: &Histograms) {
        // Same bounds on both sides: `add` cannot fail.
        let _ = self.service.add(&o.service);
        let _ = self.corrected.add(&o.corrected);
        let _ = self.send_delay.add(&o.send_delay);
    }

    pub fn reset(&mut self) {
        self.service.reset();
        self.corrected.reset();
        self.send_delay.reset();
    }
}

impl Default for Histograms {
    fn default() -> Self {
        Self::new()
    }
}

/// A nanosecond span as a histogram value: microseconds, clamped to the bounds.
#[inline]
fn to_us(ns: i64) -> u64 {
    (ns.max(0) as u64 / 1_000).clamp(1, MAX_LATENCY_US)
}

/// Records a nanosecond span into a microsecond histogram, clamped to its bounds.
#[inline]
pub fn record_ns(h: &mut Histogram<u64>, ns: i64) {
    h.record(to_us(ns))
        .expect("value clamped into the histogram's bounds");
}

/// Received messages in a row whose two latencies (service, corrected) are equal to the
/// microsecond, not yet in the histograms. Messages written in one block carry one send stamp
/// and are read at one instant, so a fast receiver's batch is one run: each message is still
/// counted at its own value, with one histogram update per run.
#[derive(Debug, Default, Clone, Copy)]
struct LatencyRun {
    service_us: u64,
    corrected_us: u64,
    count: u64,
}

/// Messages sent and received in each second of the engine's clock (epoch seconds), so that
/// per-second records add up to the totals exactly. Only a second's first event pays a
/// comparison more than a counter increment.
#[derive(Debug, Default, Clone)]
pub struct Seconds {
    /// The second being counted, and when the next one starts.
    current: Option<i64>,
    next_at: Nanos,
    sent: u64,
    received: u64,
    /// Seconds counted to the end: (second, sent, received), oldest first.
    done: Vec<(i64, u64, u64)>,
}

impl Seconds {
    #[inline]
    fn at(&mut self, now: Nanos) {
        if self.current.is_none() || now >= self.next_at {
            self.roll(now);
        }
    }

    #[cold]
    fn roll(&mut self, now: Nanos) {
        if let Some(s) = self.current {
            self.done.push((s, self.sent, self.received));
        }
        let second = now.div_euclid(NANOS_PER_SEC);
        self.current = Some(second);
        self.next_at = (second + 1) * NANOS_PER_SEC;
        self.sent = 0;
        self.received = 0;
    }

    #[inline]
    pub fn sent(&mut self, now: Nanos, n: u64) {
        self.at(now);
        self.sent += n;
    }

    #[inline]
    pub fn received(&mut self, now: Nanos, n: u64) {
        self.at(now);
        self.received += n;
    }

    /// The seconds counted to the end since the last call (the current one is closed when the
    /// clock moved past it, even without an event); with `all`, the current one too.
    pub fn take(&mut self, now: Nanos, all: bool) -> Vec<(i64, u64, u64)> {
        if self.current.is_some() && now >= self.next_at {
            self.roll(now);
        }
        if all {
            if let Some(s) = self.current.take() {
                self.done.push((s, self.sent, self.received));
                self.sent = 0;
                self.received = 0;
            }
        }
        std::mem::take(&mut self.done)
    }
}

/// What one shard accumulates. Sessions update it; the shard ships it out once a second.
#[derive(Debug)]
pub struct ShardStats {
    pub counters: Counters,
    /// Since the last snapshot; received latencies reach it through
    /// [`record_latency`](Self::record_latency) and are all in it after
    /// [`take_interval`](Self::take_interval).
    pub interval: Histograms,
    run: LatencyRun,
    /// Histogram samples are kept only for messages intended at or after this instant (warm-up).
    pub record_from: Nanos,
    /// Actual time of the first and last message sent and received.
    pub first_sent: Option<Nanos>,
    pub last_sent: Option<Nanos>,
    pub first_received: Option<Nanos>,
    pub last_received: Option<Nanos>,
    /// Errors not yet reported.
    pub new_errors: Vec<String>,
    /// Lost connections being retried, not yet reported.
    pub new_disconnects: Vec<String>,
    /// Messages per second of the engine's clock.
    pub seconds: Seconds,
}

impl ShardStats {
    pub fn new(record_from: Nanos) -> Self {
        ShardStats {
            counters: Counters::default(),
            interval: Histograms::new(),
            run: LatencyRun::default(),
            record_from,
            first_sent: None,
            last_sent: None,
            first_received: None,
            last_received: None,
            new_errors: Vec::new(),
            new_disconnects: Vec::new(),
            seconds: Seconds::default(),
        }
    }

    /// Notes `n` messages written at `now`.
    #[inline]
    pub fn on_sent(&mut self, n: u64, bytes: u64, now: Nanos) {
        if n > 0 {
            self.counters.sent += n;
            self.first_sent.get_or_insert(now);
            self.last_sent = Some(now);
            self.seconds.sent(now, n);
        }
        self.counters.bytes_sent += bytes;
    }

    /// Notes `n` messages of this run received at `now`, `bytes` of bodies in all.
    #[inline]
    pub fn on_received(&mut self, n: u64, bytes: u64, now: Nanos) {
        if n > 0 {
            self.seconds.received(now, n);
            self.counters.received += n;
            self.counters.bytes_received += bytes;
            self.first_received.get_or_insert(now);
            self.last_received = Some(now);
        }
    }

    /// Records a received message's service and corrected latencies (nanosecond spans).
    #[inline]
    pub fn record_latency(&mut self, service_ns: i64, corrected_ns: i64) {
        let (service_us, corrected_us) = (to_us(service_ns), to_us(corrected_ns));
        let r = &mut self.run;
        if r.count > 0 && r.service_us == service_us && r.corrected_us == corrected_us {
            r.count += 1;
            return;
        }
        self.settle_latency();
        self.run = LatencyRun {
            service_us,
            corrected_us,
            count: 1,
        };
    }

    /// Puts the latencies recorded so far into `interval`.
    #[inline(never)]
    fn settle_latency(&mut self) {
        let r = std::mem::take(&mut self.run);
        if r.count > 0 {
            // Both values were clamped into the bounds: recording cannot fail.
            let _ = self.interval.service.record_n(r.service_us, r.count);
            let _ = self.interval.corrected.record_n(r.corrected_us, r.count);
        }
    }

    /// Everything recorded since the last call, leaving empty histograms.
    pub fn take_interval(&mut self) -> Histograms {
        self.settle_latency();
        std::mem::take(&mut self.interval)
    }

    /// Notes a connection failure.
    pub fn on_error(&mut self, what: String) {
        self.counters.errors += 1;
        self.new_errors.push(what);
    }

    /// Notes a lost connection that will be retried (`--reconnect`): not an error of the run.
    pub fn on_disconnect(&mut self, what: String) {
        self.counters.disconnects += 1;
        self.new_disconnects.push(what);
    }
}

/// Connections of a shard by state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConnCounts {
    /// Connecting or in the protocol handshake.
    pub connecting: u32,
    /// Handshake done, waiting for the start or running.
    pub up: u32,
    /// Ended normally.
    pub done: u32,
    /// Ended with an error.
    pub failed: u32,
    /// Senders that have not finished their schedule.
    pub senders_active: u32,
    /// Up connections whose bytes the peer has not taken for a second or more.
    pub stalled: u32,
}

impl ConnCounts {
    pub fn add(&mut self, o: &ConnCounts) {
        self.connecting += o.connecting;
        self.up += o.up;
        self.done += o.done;
        self.failed += o.failed;
        self.senders_active += o.senders_active;
        self.stalled += o.stalled;
    }
}

/// One shard's report, sent up about once a second and once at the end.
#[derive(Debug)]
pub struct Snapshot {
    pub shard: usize,
    pub cpu: usize,
    pub at: Nanos,
    /// Cumulative since the start.
    pub counters: Counters,
    /// Only what was recorded since the previous snapshot.
    pub interval: Histograms,
    pub conns: ConnCounts,
    pub first_sent: Option<Nanos>,
    pub last_sent: Option<Nanos>,
    pub first_received: Option<Nanos>,
    pub last_received: Option<Nanos>,
    pub errors: Vec<String>,
    /// Lost connections being retried.
    pub disconnects: Vec<String>,
    /// Seconds counted to the end since the previous snapshot (all of them in the last one):
    /// (epoch second, sent, received).
    pub seconds: Vec<(i64, u64, u64)>,
    /// The shard has stopped: no snapshot follows.
    pub last: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clamps_and_merges() {
        let mut a = Histograms::new();
        record_ns(&mut a.service, -5);
        record_ns(&mut a.service, 1_500_000);
        record_ns(&mut a.service, i64::MAX);
        assert_eq!(a.service.len(), 3);
        assert_eq!(a.service.min(), 1);
        assert!(a.service.max() >= MAX_LATENCY_US);
        let mut b = Histograms::new();
        b.add(&a);
        b.add(&a);
        assert_eq!(b.service.len(), 6);
        assert_eq!(
            b.service.value_at_quantile(0.5),
            a.service.value_at_quantile(0.5)
        );
        let mut c = Counters {
            sent: 1,
            errors: 2,
            ..Default::default()
        };
        c.add(&Counters {
            sent: 3,
            lost: 1,
            ..Default::default()
        });
        assert_eq!((c.sent, c.errors, c.lost), (4, 2, 1));
    }

    #[test]
    fn latencies_in_runs_count_as_one_by_one() {
        let spans = [
            (5_400, 9_000),
            (5_999, 9_100), // the same microseconds as the one before
            (5_000, 9_000),
            (7_000, 7_000),
            (7_000, 7_000),
            (-3, 0), // clamped to 1 µs
            (7_000, 7_000),
        ];
        let mut st = ShardStats::new(0);
        let mut one_by_one = Histograms::new();
        for (service, corrected) in spans {
            st.record_latency(service, corrected);
            record_ns(&mut one_by_one.service, service);
            record_ns(&mut one_by_one.corrected, corrected);
        }
        let h = st.take_interval();
        for (got, want) in [
            (&h.service, &one_by_one.service),
            (&h.corrected, &one_by_one.corrected),
        ] {
            assert_eq!(got.len(), spans.len() as u64);
            let got: Vec<_> = got
                .iter_recorded()
                .map(|v| (v.value_iterated_to(), v.count_at_value()))
                .collect();
            let want: Vec<_> = want
                .iter_recorded()
                .map(|v| (v.value_iterated_to(), v.count_at_value()))
                .collect();
            assert_eq!(got, want);
        }
        // Nothing is left behind for the next interval.
        assert!(st.take_interval().service.is_empty());
    }
}
