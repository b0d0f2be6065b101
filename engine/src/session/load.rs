//! The load core every session shares: what a sender sends and when (the plan, the pacer, the
//! body template and its sizes, the send delay), and what a receiver keeps (the sequence
//! streams, this run's count, the end of its drain, the run it counts).
//!
//! Rate 0 means unbounded: the pacer hands out messages as fast as they can be written, and
//! no send delay is recorded (there is no schedule to be late against).

use crate::clock::Nanos;
use crate::pacing::Pacer;
use crate::payload;
use crate::plan::{MessageSize, TestDuration};
use crate::seq::{Arrival, Tracker};
use crate::stats::{record_ns, ShardStats};

/// What one sender connection sends.
#[derive(Debug, Clone, Copy)]
pub struct SenderPlan {
    /// Messages per second (0: unbounded).
    pub rate: u64,
    pub duration: TestDuration,
    pub size: MessageSize,
    /// Go into every body's sequence block (`payload`).
    pub run_id: u32,
    pub sender_id: u32,
    pub connection_id: u32,
}

/// A sender's schedule and bodies.
#[derive(Debug)]
pub struct SenderLoad {
    pub(crate) plan: SenderPlan,
    /// Set by [`start`](Self::start).
    pub(crate) pacer: Option<Pacer>,
    /// Template body of the largest size, its sequence block's fixed part written.
    pub(crate) body: Vec<u8>,
    pub(crate) sizes: Sizes,
}

impl SenderLoad {
    pub(crate) fn new(plan: SenderPlan) -> Self {
        let (_, max) = plan.size.bounds();
        let mut body = payload::template(max as usize);
        payload::prepare(&mut body, plan.run_id, plan.sender_id, plan.connection_id);
        SenderLoad {
            sizes: Sizes::new(plan.size, plan.connection_id),
            plan,
            pacer: None,
            body,
        }
    }

    /// Starts the schedule when the run's senders start at `t0` (every sender of a run shares
    /// it; see [`pacing::start`](crate::pacing::start)); true the first time.
    pub(crate) fn start(&mut self, t0: Nanos) -> bool {
        if self.pacer.is_some() {
            return false;
        }
        let t0 = crate::pacing::start(t0, self.plan.rate, self.plan.connection_id);
        self.pacer = Some(Pacer::new(t0, self.plan.rate, self.plan.duration));
        true
    }

    pub(crate) fn started(&self) -> bool {
        self.pacer.is_some()
    }

    /// Every message of the schedule was taken.
    pub(crate) fn finished(&self, now: Nanos) -> bool {
        self.pacer.as_ref().is_some_and(|p| p.finished(now))
    }

    /// When the next message is due (`None`: not started, or nothing left).
    pub(crate) fn next_due(&self, now: Nanos) -> Option<Nanos> {
        self.pacer.as_ref().and_then(|p| p.next_due(now))
    }
}

/// Records a paced message's send delay (actual − intended send time) once past the warm-up.
#[inline]
pub(crate) fn record_send_delay(rate: u64, stats: &mut ShardStats, now: Nanos, intended: Nanos) {
    if rate > 0 && intended >= stats.record_from {
        record_ns(&mut stats.interval.send_delay, now - intended);
    }
}

/// A sender's body sizes: fixed, or spread uniformly over the `~N` bounds (xorshift).
#[derive(Debug, Clone)]
pub(crate) struct Sizes {
    size: MessageSize,
    rng: u64,
}

impl Sizes {
    pub(crate) fn new(size: MessageSize, connection_id: u32) -> Self {
        let seed =
            0x9E37_79B9_7F4A_7C15 ^ u64::from(connection_id).wrapping_mul(0xA24B_AED4_963E_E407);
        Sizes {
            size,
            rng: seed | 1,
        }
    }

    #[inline]
    pub(crate) fn next(&mut self) -> usize {
        match self.size {
            MessageSize::Fixed(n) => n as usize,
            MessageSize::Variable(_) => {
                let (lo, hi) = self.size.bounds();
                self.rng ^= self.rng << 13;
                self.rng ^= self.rng >> 7;
                self.rng ^= self.rng << 17;
                (lo + (self.rng % u64::from(hi - lo + 1)) as u32) as usize
            }
        }
    }
}

/// When a receiver stops: once told the senders are done, after the `expected` messages or
/// `idle` time without any. The broker saying it holds messages for the receiver (an AMQP
/// sender's `available`, §2.7.4) also keeps it waiting, up to [`HINT_CAP`] idle times in all:
/// RabbitMQ starves a consumer for seconds while its queue takes in a fast publisher's backlog.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Drain {
    idle: Nanos,
    /// How many to expect, and when the idle clock last restarted.
    state: Option<(u64, Nanos)>,
    /// When the broker last said it held messages for this receiver.
    hinted: Nanos,
}

/// How many idle times at most the broker's word that messages are coming keeps a receiver.
const HINT_CAP: Nanos = 10;

impl Drain {
    pub(crate) fn new(idle: Nanos) -> Self {
        Drain {
            idle,
            state: None,
            hinted: Nanos::MIN,
        }
    }

    /// The broker says it holds messages for this receiver.
    pub(crate) fn hint(&mut self, now: Nanos) {
        self.hinted = now;
    }

    /// The senders are done (again, with a new expectation: the idle clock keeps running).
    pub(crate) fn set(&mut self, now: Nanos, expected: u64) {
        self.state = Some((expected, self.state.map_or(now, |(_, since)| since)));
    }

    /// A message arrived: restart the idle clock.
    #[inline]
    pub(crate) fn arrived(&mut self, now: Nanos) {
        if let Some((expected, _)) = self.state {
            self.state = Some((expected, now));
        }
    }

    pub(crate) fn done(&self, got: u64, now: Nanos) -> bool {
        self.deadline(got, now).is_some_and(|t| now >= t)
    }

    /// When [`done`](Self::done) turns true without another arrival.
    pub(crate) fn deadline(&self, got: u64, now: Nanos) -> Option<Nanos> {
        self.state.map(|(expected, since)| {
            if got >= expected {
                now
            } else {
                let quiet = since.max(self.hinted).saturating_add(self.idle);
                quiet.min(since.saturating_add(HINT_CAP * self.idle))
            }
        })
    }
}

/// What a batch of received bodies held of this run, counted at its end.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    ours: u64,
    bytes: u64,
    any: bool,
}

/// What every receiving session keeps: the sequence streams it follows, this run's messages
/// counted so far, when to stop, and which run it counts.
#[derive(Debug)]
pub struct ReceiverLoad {
    pub(crate) tracker: Tracker,
    /// This run's messages received (what [`Drain`] compares with the expectation).
    pub(crate) got: u64,
    pub(crate) drain: Drain,
    /// Count only messages of this run; `None`: every message is this run's.
    run: Option<u32>,
}

impl ReceiverLoad {
    pub(crate) fn new(drain_idle: Nanos, run: Option<u32>) -> Self {
        ReceiverLoad {
            tracker: Tracker::new(),
            got: 0,
            drain: Drain::new(drain_idle),
            run,
        }
    }

    /// Accounts one message body (see [`account_message`]); true when it was this run's.
    #[inline]
    pub(crate) fn on_body(&mut self, body: &[u8], now: Nanos, stats: &mut ShardStats) -> bool {
        let ours = account_message(&mut self.tracker, self.run, body, now, stats);
        if ours {
            self.got += 1;
        }
        // Stale messages keep the receiver busy too: this run's may be queued behind them.
        self.drain.arrived(now);
        ours
    }

    /// [`on_body`](Self::on_body) for a batch read at one instant: checks, tracks and times
    /// each body as it comes, and counts what was this run's at [`end_batch`](Self::end_batch).
    #[inline(always)]
    pub(crate) fn batch_body(
        &mut self,
        batch: &mut Batch,
        body: &[u8],
        now: Nanos,
        stats: &mut ShardStats,
    ) {
        if check_message(&mut self.tracker, self.run, body, now, stats) {
            batch.ours += 1;
            batch.bytes += body.len() as u64;
        }
        batch.any = true;
    }

    /// Counts a batch's messages (see [`batch_body`](Self::batch_body)).
    #[inline]
    pub(crate) fn end_batch(&mut self, batch: Batch, now: Nanos, stats: &mut ShardStats) {
        stats.on_received(batch.ours, batch.bytes, now);
        self.got += batch.ours;
        if batch.any {
            self.drain.arrived(now);
        }
    }

    pub(crate) fn done(&self, now: Nanos) -> bool {
        self.drain.done(self.got, now)
    }

    pub(crate) fn deadline(&self, now: Nanos) -> Option<Nanos> {
        self.drain.deadline(self.got, now)
    }
}

/// Accounts one received message body: counters, loss/duplicate/reorder from its sequence block,
/// and its latencies (from the actual and the intended send time) when past the warm-up.
///
/// A body whose sequence block names another run than `run` was left on the broker by another
/// run: it counts as stale and nowhere else (not received, not timed, not in any stream).
/// Returns false for such a body.
#[inline]
pub(crate) fn account_message(
    tracker: &mut Tracker,
    run: Option<u32>,
    body: &[u8],
    now: Nanos,
    stats: &mut ShardStats,
) -> bool {
    let ours = check_message(tracker, run, body, now, stats);
    if ours {
        stats.on_received(1, body.len() as u64, now);
    }
    ours
}

/// [`account_message`] but for the counts of what was received, which the caller adds for a
/// batch with [`ShardStats::on_received`].
#[inline(always)]
pub(crate) fn check_message(
    tracker: &mut Tracker,
    run: Option<u32>,
    body: &[u8],
    now: Nanos,
    stats: &mut ShardStats,
) -> bool {
    let stamp = payload::read(body);
    if let (Some(run), Some(ext)) = (run, stamp.and_then(|s| s.ext)) {
        if ext.run != run {
            stats.counters.stale += 1;
            return false;
        }
    }
    let c = &mut stats.counters;
    let Some(stamp) = stamp else {
        c.unstamped += 1;
        return true;
    };
    let sent = stamp.sent_us.saturating_mul(1_000);
    let intended = match stamp.ext {
        Some(ext) => {
            match tracker.observe(ext.sender, ext.connection, ext.sequence) {
                Arrival::InOrder { lost } => c.lost += lost,
                Arrival::Late => {
                    c.lost = c.lost.saturating_sub(1);
                    c.reordered += 1;
                }
                Arrival::Duplicate => c.duplicated += 1,
            }
            ext.intended_ns
        }
        // A Maestro body carries only the send time.
        None => sent,
    };
    if intended >= stats.record_from {
        stats.record_latency(now - sent, now - intended);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::Drain;

    #[test]
    fn drain_ends_on_the_count_on_silence_or_at_the_hints_cap() {
        let mut d = Drain::new(100);
        assert!(!d.done(5, 1_000)); // not told the senders are done
        d.set(1_000, 3);
        assert!(d.done(3, 1_000));
        assert_eq!(d.deadline(2, 1_000), Some(1_100));
        d.arrived(1_050);
        assert!(!d.done(2, 1_100));
        assert!(d.done(2, 1_150));
        // The broker says it holds messages: wait on, but not past ten idle times.
        for t in (1_100..3_000).step_by(50) {
            d.hint(t);
        }
        assert!(!d.done(2, 2_000));
        assert_eq!(d.deadline(2, 2_000), Some(1_050 + 1_000));
        assert!(d.done(2, 2_050));
    }
}
