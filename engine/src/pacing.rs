//! Open-model pacing.
//!
//! Message `i` of a connection at rate `R` is due at `t0 + i/R`, whatever happened to the
//! messages before it. An engine that falls behind sends as fast as it can until it catches up;
//! it never shifts the schedule, so latency measured from the intended time includes the delay a
//! late engine caused (no coordinated omission). Rate 0 is unbounded: every message is due now
//! and its intended time is its actual send time.

use crate::clock::{Nanos, NANOS_PER_SEC};
use crate::plan::TestDuration;

/// One connection's schedule.
#[derive(Debug, Clone)]
pub struct Pacer {
    t0: Nanos,
    rate: u64,
    next: u64,
    /// Index of the first message that will not be sent.
    limit: u64,
    /// For unbounded time-limited runs: no message goes out at or after this instant.
    end: Nanos,
}

impl Pacer {
    /// A schedule starting at `t0`.
    pub fn new(t0: Nanos, rate: u64, duration: TestDuration) -> Self {
        let (limit, end) = match duration {
            TestDuration::Count(n) => (n, Nanos::MAX),
            TestDuration::Time(d) if rate == 0 => (u64::MAX, t0.saturating_add(d)),
            // Messages whose intended time falls inside [t0, t0 + d).
            TestDuration::Time(d) => {
                let n = (d as u128 * rate as u128).div_ceil(NANOS_PER_SEC as u128);
                (u64::try_from(n).unwrap_or(u64::MAX), t0.saturating_add(d))
            }
        };
        Pacer {
            t0,
            rate,
            next: 0,
            limit,
            end,
        }
    }

    /// Index of the next message to send.
    pub fn next_index(&self) -> u64 {
        self.next
    }

    /// True once every message of the schedule has been taken.
    pub fn finished(&self, now: Nanos) -> bool {
        self.next >= self.limit || (self.rate == 0 && now >= self.end)
    }

    /// Intended send time of message `i`.
    #[inline]
    pub fn intended(&self, i: u64) -> Nanos {
        if self.rate == 0 {
            return self.t0;
        }
        // The same quotient in 64 bits while `i` seconds' worth of nanoseconds fits (18 billion
        // messages per connection), which costs a fraction of the 128-bit division.
        let span = match i.checked_mul(NANOS_PER_SEC as u64) {
            Some(ns) => ns / self.rate,
            None => ((i as u128 * NANOS_PER_SEC as u128) / self.rate as u128) as u64,
        };
        self.t0 + span as Nanos
    }

    /// Takes the next message if it is due at `now`; returns its index and intended time.
    #[inline]
    pub fn take(&mut self, now: Nanos) -> Option<(u64, Nanos)> {
        if self.finished(now) {
            return None;
        }
        let i = self.next;
        let intended = if self.rate == 0 {
            now.max(self.t0)
        } else {
            self.intended(i)
        };
        if intended > now {
            return None;
        }
        self.next += 1;
        Some((i, intended))
    }

    /// Unbounded schedules only: takes up to `max` messages at once (all due now); returns the
    /// first index, how many, and their common intended time. `None` for a paced schedule.
    #[inline]
    pub fn take_unbounded(&mut self, now: Nanos, max: u64) -> Option<(u64, u64, Nanos)> {
        if self.rate != 0 {
            return None;
        }
        let first = self.next;
        if self.finished(now) || now < self.t0 {
            return Some((first, 0, now));
        }
        let n = max.min(self.limit - self.next);
        self.next += n;
        Some((first, n, now))
    }

    /// When the next message falls due (`None` when finished; `t0` or earlier means now).
    pub fn next_due(&self, now: Nanos) -> Option<Nanos> {
        if self.finished(now) {
            None
        } else if self.rate == 0 {
            Some(now.max(self.t0))
        } else {
            Some(self.intended(self.next))
        }
    }
}

/// The spacing of [`phase`]'s slots: a shard's paced connections fall due together on
/// instants this far apart, and it wakes once for each.
pub const PHASE_STEP: Nanos = 1_000_000;

/// Where connection `connection_id`'s schedule starts when the run's senders start at `t0`,
/// at `rate`.
///
/// Paced schedules start on a multiple of [`PHASE_STEP`] on the clock, the instants a
/// coalescing receiver reads on, so a shard wakes once for both. A period longer than the step
/// is cut into slots that far apart, and a run's connections take them in turn: a thousand
/// connections at 100/s send a hundred messages every millisecond, not a thousand every ten
/// (which would make the last of them late by the time the kernel has taken the first
/// hundreds). Connections sharing a slot fall due at the same instant, so a shard wakes once
/// for all of them. Unbounded schedules start at `t0`.
pub fn start(t0: Nanos, rate: u64, connection_id: u32) -> Nanos {
    if rate == 0 {
        return t0;
    }
    let period = NANOS_PER_SEC / rate.min(NANOS_PER_SEC as u64) as Nanos;
    let slots = (period / PHASE_STEP).max(1);
    let aligned = (t0 + PHASE_STEP - 1).div_euclid(PHASE_STEP) * PHASE_STEP;
    aligned + Nanos::from(connection_id) % slots * (period / slots)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paced_starts_fall_on_whole_steps_spread_over_the_period() {
        let t0 = 5 * S + 123_456;
        let first = 5 * S + PHASE_STEP;
        // 100/s: ten slots one step apart, taken in turn.
        let p: Vec<Nanos> = (0..12).map(|c| start(t0, 100, c)).collect();
        let slots: Vec<Nanos> = (0..10).map(|k| first + k * PHASE_STEP).collect();
        assert_eq!(p[..10], slots[..]);
        assert_eq!(p[10..], [first, first + PHASE_STEP]);
        // A period of one step or less: every connection starts on the same step.
        assert!((0..5).all(|c| start(t0, 1000, c) == first && start(t0, 50_000, c) == first));
        assert_eq!(start(first, 1000, 3), first, "already on a step");
        // Unbounded: at once.
        assert_eq!(start(t0, 0, 7), t0);
        // 300/s: three slots over 3.33 ms.
        assert_eq!(start(t0, 300, 2), first + 2 * (S / 300 / 3));
    }

    const S: Nanos = NANOS_PER_SEC;

    #[test]
    fn intended_times_are_exact_on_both_sides_of_64_bits() {
        let p = Pacer::new(7, 3, TestDuration::Count(u64::MAX));
        let exact = |i: u64| 7 + (u128::from(i) * S as u128 / 3) as Nanos;
        // 18,446,744,073 is the last index whose nanoseconds fit in 64 bits.
        for i in [
            0,
            1,
            2,
            3,
            1_000,
            18_446_744_073,
            18_446_744_074,
            20_000_000_000,
        ] {
            assert_eq!(p.intended(i), exact(i), "message {i}");
        }
    }

    #[test]
    fn schedule_is_fixed_and_catches_up() {
        let mut p = Pacer::new(10 * S, 4, TestDuration::Count(10));
        assert_eq!(p.take(10 * S - 1), None);
        assert_eq!(p.take(10 * S), Some((0, 10 * S)));
        assert_eq!(p.take(10 * S), None);
        assert_eq!(p.next_due(10 * S), Some(10 * S + S / 4));
        // A second late: four messages due at once, each keeping its own intended time.
        let late = 11 * S + S / 4;
        let taken: Vec<_> = std::iter::from_fn(|| p.take(late)).collect();
        assert_eq!(
            taken,
            vec![
                (1, 10 * S + S / 4),
                (2, 10 * S + S / 2),
                (3, 10 * S + 3 * S / 4),
                (4, 11 * S),
                (5, late)
            ]
        );
    }

    #[test]
    fn unbounded_batches() {
        let mut p = Pacer::new(10, 0, TestDuration::Count(5));
        assert_eq!(
            p.take_unbounded(9, 3),
            Some((0, 0, 9)),
            "nothing before the start"
        );
        assert_eq!(p.take_unbounded(10, 3), Some((0, 3, 10)));
        assert_eq!(p.take_unbounded(11, 3), Some((3, 2, 11)));
        assert_eq!(p.take_unbounded(12, 3), Some((5, 0, 12)));
        assert!(p.finished(12));
        assert_eq!(
            Pacer::new(0, 10, TestDuration::Count(5)).take_unbounded(1, 3),
            None
        );
    }

    #[test]
    fn limits() {
        let mut p = Pacer::new(5, 0, TestDuration::Count(3));
        assert_eq!(p.take(4), None, "nothing before the start");
        assert_eq!(p.next_due(4), Some(5));
        assert_eq!(std::iter::from_fn(|| p.take(7)).count(), 3);
        assert!(p.finished(7));
        let mut p = Pacer::new(0, 10, TestDuration::Time(S));
        assert_eq!(std::iter::from_fn(|| p.take(100 * S)).count(), 10);
        let mut p = Pacer::new(0, 0, TestDuration::Time(S));
        assert!(p.take(S - 1).is_some());
        assert!(p.take(S).is_none());
        assert_eq!(p.next_due(S), None);
    }
}
