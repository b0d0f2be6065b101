//! One clock for the whole process: CLOCK_MONOTONIC shifted onto the Unix epoch.
//!
//! Pacing needs a clock that never steps back; payload timestamps need epoch time (Maestro
//! receivers read microseconds since the epoch, `maestro-protocol.md` §SUT payload). Reading the
//! monotonic clock and adding a fixed offset taken once at start gives both from one vDSO call.
//! Every shard of a process shares the same offset, so in-process latencies are exact.

/// Nanoseconds since the Unix epoch.
pub type Nanos = i64;

/// Nanoseconds in one second.
pub const NANOS_PER_SEC: i64 = 1_000_000_000;

/// A monotonic clock expressed in epoch nanoseconds. Cheap to copy into every shard.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    offset: i64,
}

impl Clock {
    /// Takes the offset between the realtime and monotonic clocks now.
    pub fn new() -> Self {
        let real = read(libc::CLOCK_REALTIME);
        let mono = read(libc::CLOCK_MONOTONIC);
        Clock {
            offset: real - mono,
        }
    }

    /// `t` (epoch nanoseconds of this clock) on `CLOCK_MONOTONIC`, for kernel timers.
    pub fn monotonic(&self, t: Nanos) -> Nanos {
        t - self.offset
    }

    /// Current time in epoch nanoseconds (monotonic between calls of one `Clock`).
    #[inline]
    pub fn now(&self) -> Nanos {
        read(libc::CLOCK_MONOTONIC) + self.offset
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

/// The first multiple of `period` after `now`. Periodic wake-ups of a shard are put on such
/// ticks so that its connections' timers fall together and the shard sleeps once for all of
/// them (each sleep and wake-up costs tens of microseconds of CPU on a virtual machine).
pub fn next_tick(now: Nanos, period: Nanos) -> Nanos {
    (now.div_euclid(period) + 1) * period
}

#[inline]
fn read(id: libc::clockid_t) -> i64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; both clock ids exist on every Linux kernel.
    unsafe { libc::clock_gettime(id, &mut ts) };
    ts.tv_sec * NANOS_PER_SEC + ts.tv_nsec
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_to_realtime_and_monotonic() {
        let c = Clock::new();
        let a = c.now();
        let real = read(libc::CLOCK_REALTIME);
        let b = c.now();
        assert!(b >= a);
        assert!(
            (real - a).abs() < 50_000_000,
            "offset drifted: {}",
            real - a
        );
    }
}
