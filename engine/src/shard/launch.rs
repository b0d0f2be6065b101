//! When a shard opens its connections: not all at once. A broker takes new connections from a
//! short accept queue (Mosquitto listens with a backlog of 100), and thousands of handshakes
//! begun in the same instant overflow it: the client's side is established, the broker's is
//! dropped and retried seconds later, and handshakes miss their deadline. So a shard keeps at
//! most [`MAX_HANDSHAKES`] of its connections in their handshake at once and, when asked
//! (`--connect-rate`), begins them no faster than its share of the rate.

use crate::clock::Nanos;
use std::collections::VecDeque;

/// Connections of one shard in their handshake (TCP, TLS, the protocol's) at once, at most.
pub const MAX_HANDSHAKES: u32 = 64;

/// How far behind its pace a launcher may catch up at once.
const CATCH_UP: Nanos = 1_000_000;

/// The connections a shard has yet to begin (whatever the runtime keeps of each: `T`), and the
/// pace it begins them at.
#[derive(Debug)]
pub struct Launcher<T> {
    pending: VecDeque<T>,
    /// Between two connections begun (0: no pace, the handshake cap alone).
    interval: Nanos,
    next_at: Nanos,
    cap: u32,
}

impl<T> Launcher<T> {
    /// `conns` to begin from `now` on, `interval` apart at least, with at most `cap` of them in
    /// their handshake at once.
    pub fn new(conns: impl IntoIterator<Item = T>, interval: Nanos, cap: u32, now: Nanos) -> Self {
        Launcher {
            pending: conns.into_iter().collect(),
            interval,
            next_at: now,
            cap: cap.max(1),
        }
    }

    /// The next connection to begin at `now`, with `handshaking` of the shard's connections in
    /// their handshake; `None` when none may begin now.
    pub fn next(&mut self, now: Nanos, handshaking: u32) -> Option<T> {
        if handshaking >= self.cap || now < self.next_at {
            return None;
        }
        let spec = self.pending.pop_front()?;
        if self.interval > 0 {
            // A turn catches up what fell due since the last one, but no more than a
            // millisecond's worth: a long hold-up does not end in a burst.
            self.next_at = self.next_at.max(now - CATCH_UP) + self.interval;
        }
        Some(spec)
    }

    /// Connections not begun yet.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// When the pace lets the next one begin (`None`: nothing pending).
    pub fn next_at(&self) -> Option<Nanos> {
        (!self.pending.is_empty()).then_some(self.next_at)
    }

    /// Takes every connection not begun (the run is being stopped).
    pub fn drain(&mut self) -> impl Iterator<Item = T> + '_ {
        self.pending.drain(..)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shard::ConnSpec;

    fn specs(n: u32) -> Vec<ConnSpec> {
        (0..n).map(ConnSpec::Sender).collect()
    }

    #[test]
    fn the_handshake_cap_holds_connections_back_until_others_come_up() {
        let mut l = Launcher::new(specs(5), 0, 2, 0);
        assert_eq!(l.next(0, 0), Some(ConnSpec::Sender(0)));
        assert_eq!(l.next(0, 1), Some(ConnSpec::Sender(1)));
        assert_eq!(l.next(0, 2), None);
        // One came up.
        assert_eq!(l.next(1, 1), Some(ConnSpec::Sender(2)));
        assert_eq!(l.pending(), 2);
    }

    #[test]
    fn a_pace_spaces_them_and_a_late_turn_does_not_bunch_them() {
        const MS: Nanos = 1_000_000;
        let mut l = Launcher::new(specs(7), MS / 2, 100, 0);
        assert_eq!(l.next(0, 0), Some(ConnSpec::Sender(0)));
        assert_eq!(l.next(MS / 4, 0), None);
        assert_eq!(l.next_at(), Some(MS / 2));
        assert_eq!(l.next(MS / 2, 0), Some(ConnSpec::Sender(1)));
        // A turn 10 ms late begins the one due now and a millisecond's worth (two), not twenty.
        for i in 2..5 {
            assert_eq!(l.next(11 * MS, 0), Some(ConnSpec::Sender(i)));
        }
        assert_eq!(l.next(11 * MS, 0), None);
        assert_eq!(l.next(11 * MS + MS / 2, 0), Some(ConnSpec::Sender(5)));
        assert_eq!(l.drain().count(), 1);
        assert_eq!(l.next_at(), None);
    }
}
