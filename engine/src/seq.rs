//! Loss, duplicate and reorder accounting from Allegro's sequence block.
//!
//! Each (sender, connection) pair is a stream whose sequence numbers start at 0. A receiver
//! remembers the highest number seen and which of the last [`WINDOW`] numbers arrived: a gap
//! counts as lost until the missing message turns up late (then it counts as reordered), and a
//! number seen twice is a duplicate.

use std::collections::HashMap;

/// How far back a late message is still told apart from a duplicate.
pub const WINDOW: u64 = 4096;
const WORDS: usize = (WINDOW / 64) as usize;

/// What one arrival meant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// The next number, or one after a gap (the gap's size is in `lost`).
    InOrder { lost: u64 },
    /// A number below the highest seen that had not arrived before: fills a gap.
    Late,
    /// A number already seen.
    Duplicate,
}

#[derive(Debug, Clone)]
struct Stream {
    next: u64,
    seen: Box<[u64; WORDS]>,
}

impl Stream {
    fn new() -> Self {
        Stream {
            next: 0,
            seen: Box::new([0; WORDS]),
        }
    }

    fn bit(seq: u64) -> (usize, u64) {
        let i = seq % WINDOW;
        ((i / 64) as usize, 1 << (i % 64))
    }

    fn observe(&mut self, seq: u64) -> Arrival {
        if seq >= self.next {
            let lost = seq - self.next;
            if lost >= WINDOW {
                self.seen.fill(0);
            } else {
                for s in self.next..seq {
                    let (w, m) = Self::bit(s);
                    self.seen[w] &= !m;
                }
            }
            let (w, m) = Self::bit(seq);
            self.seen[w] |= m;
            self.next = seq + 1;
            return Arrival::InOrder { lost };
        }
        if self.next - seq > WINDOW {
            // Too old to tell; a broker replaying that far back is rare enough to call it late.
            return Arrival::Late;
        }
        let (w, m) = Self::bit(seq);
        if self.seen[w] & m != 0 {
            Arrival::Duplicate
        } else {
            self.seen[w] |= m;
            Arrival::Late
        }
    }
}

/// Every stream one receiver connection sees.
#[derive(Debug, Default)]
pub struct Tracker {
    /// Streams of the first sender seen, by connection id (the common case: one run).
    primary: Option<u32>,
    by_conn: Vec<Stream>,
    others: HashMap<(u32, u32), Stream>,
}

/// Connection ids above this go to the hash map rather than the dense vector.
const DENSE_LIMIT: u32 = 1 << 16;

impl Tracker {
    pub fn new() -> Self {
        Self::default()
    }

    /// Accounts one arrival.
    #[inline]
    pub fn observe(&mut self, sender: u32, conn: u32, seq: u64) -> Arrival {
        if self.primary == Some(sender) {
            if let Some(stream) = self.by_conn.get_mut(conn as usize) {
                return stream.observe(seq);
            }
        }
        self.observe_new(sender, conn, seq)
    }

    /// [`observe`](Self::observe) for a stream not seen before or of another sender.
    #[cold]
    #[inline(never)]
    fn observe_new(&mut self, sender: u32, conn: u32, seq: u64) -> Arrival {
        let primary = *self.primary.get_or_insert(sender);
        if primary == sender && conn < DENSE_LIMIT {
            let c = conn as usize;
            if c >= self.by_conn.len() {
                self.by_conn.resize_with(c + 1, Stream::new);
            }
            return self.by_conn[c].observe(seq);
        }
        self.others
            .entry((sender, conn))
            .or_insert_with(Stream::new)
            .observe(seq)
    }

    /// Messages each stream would have had by now (highest number seen + 1), summed.
    pub fn expected(&self) -> u64 {
        self.by_conn
            .iter()
            .chain(self.others.values())
            .map(|s| s.next)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_order_gap_late_duplicate() {
        let mut t = Tracker::new();
        assert_eq!(t.observe(9, 0, 0), Arrival::InOrder { lost: 0 });
        assert_eq!(t.observe(9, 0, 1), Arrival::InOrder { lost: 0 });
        assert_eq!(t.observe(9, 0, 4), Arrival::InOrder { lost: 2 });
        assert_eq!(t.observe(9, 0, 2), Arrival::Late);
        assert_eq!(t.observe(9, 0, 2), Arrival::Duplicate);
        assert_eq!(t.observe(9, 0, 4), Arrival::Duplicate);
        assert_eq!(t.observe(9, 0, 3), Arrival::Late);
        // Streams are independent, other senders included.
        assert_eq!(t.observe(9, 1, 0), Arrival::InOrder { lost: 0 });
        assert_eq!(t.observe(7, 0, 1), Arrival::InOrder { lost: 1 });
        assert_eq!(t.observe(7, 0, 0), Arrival::Late);
        assert_eq!(t.expected(), 5 + 1 + 2);
    }

    #[test]
    fn window_wraps() {
        let mut t = Tracker::new();
        for s in 0..3 * WINDOW {
            assert_eq!(t.observe(1, 0, s), Arrival::InOrder { lost: 0 });
        }
        assert_eq!(t.observe(1, 0, 3 * WINDOW - 5), Arrival::Duplicate);
        assert_eq!(
            t.observe(1, 0, 5 * WINDOW),
            Arrival::InOrder { lost: 2 * WINDOW }
        );
        assert_eq!(t.observe(1, 0, 5 * WINDOW - 1), Arrival::Late);
        assert_eq!(t.observe(1, 0, 5 * WINDOW - 1), Arrival::Duplicate);
    }
}
