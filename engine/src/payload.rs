//! Message bodies.
//!
//! ```text
//! 0..8    send time, i64 LE, microseconds since the Unix epoch   (what Maestro receivers read)
//! 8..12   magic "ALG2"                                            (Allegro's extension)
//! 12..16  run id, u32 LE: shared by every sender and receiver of one run (or Maestro test)
//! 16..20  sender id, u32 LE: one per engine instance, so that two processes of a run differ
//! 20..24  connection id, u32 LE
//! 24..32  sequence number, u64 LE, from 0 per connection
//! 32..40  intended send time, i64 LE, nanoseconds since the epoch
//! 40..    filler
//! ```
//! A body shorter than 40 bytes carries only what fits: 8 bytes or more carry the timestamp.
//! The run id lets a receiver tell this run's messages from those another run left on the
//! broker (counted apart as stale, see `session::account_message`).

use crate::clock::Nanos;

/// Bytes of a body that hold the Maestro timestamp.
pub const MAESTRO_LEN: usize = 8;
/// Bytes of a body that hold the timestamp and Allegro's extension.
pub const HEADER_LEN: usize = 40;
/// Marks a body that carries Allegro's extension (this layout; "ALG1" had no run id).
pub const MAGIC: [u8; 4] = *b"ALG2";

/// What a receiver reads from a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// Actual send time, microseconds since the epoch.
    pub sent_us: i64,
    /// Present when the body carries Allegro's extension.
    pub ext: Option<Extension>,
}

/// Allegro's sequence block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extension {
    pub run: u32,
    pub sender: u32,
    pub connection: u32,
    pub sequence: u64,
    pub intended_ns: Nanos,
}

/// Writes the header fields into the front of `body` (as much as fits); the rest is untouched.
#[inline]
pub fn write(body: &mut [u8], sent_ns: Nanos, ext: &Extension) {
    if let Some(h) = body.first_chunk_mut::<HEADER_LEN>() {
        let mut b = [0u8; HEADER_LEN];
        b[0..8].copy_from_slice(&(sent_ns / 1_000).to_le_bytes());
        b[8..12].copy_from_slice(&MAGIC);
        b[12..16].copy_from_slice(&ext.run.to_le_bytes());
        b[16..20].copy_from_slice(&ext.sender.to_le_bytes());
        b[20..24].copy_from_slice(&ext.connection.to_le_bytes());
        b[24..32].copy_from_slice(&ext.sequence.to_le_bytes());
        b[32..40].copy_from_slice(&ext.intended_ns.to_le_bytes());
        *h = b;
    } else if body.len() >= MAESTRO_LEN {
        body[0..8].copy_from_slice(&(sent_ns / 1_000).to_le_bytes());
    }
}

/// Writes the parts of the header that never change for a connection (magic, run, sender,
/// connection) into a template body, so that [`stamp`] only writes what changes per message.
pub fn prepare(body: &mut [u8], run: u32, sender: u32, connection: u32) {
    if let Some(h) = body.get_mut(8..24) {
        h[0..4].copy_from_slice(&MAGIC);
        h[4..8].copy_from_slice(&run.to_le_bytes());
        h[8..12].copy_from_slice(&sender.to_le_bytes());
        h[12..16].copy_from_slice(&connection.to_le_bytes());
    }
}

/// Per-message part of [`write`] for a body made from a [`prepare`]d template: the send time,
/// sequence number and intended time (as much as fits).
#[inline]
pub fn stamp(body: &mut [u8], sent_ns: Nanos, sequence: u64, intended_ns: Nanos) {
    if let Some(h) = body.first_chunk_mut::<HEADER_LEN>() {
        h[0..8].copy_from_slice(&(sent_ns / 1_000).to_le_bytes());
        h[24..32].copy_from_slice(&sequence.to_le_bytes());
        h[32..40].copy_from_slice(&intended_ns.to_le_bytes());
    } else if let Some(h) = body.first_chunk_mut::<MAESTRO_LEN>() {
        *h = (sent_ns / 1_000).to_le_bytes();
    }
}

/// Reads a body; `None` when it is too short to carry even the timestamp.
#[inline]
pub fn read(body: &[u8]) -> Option<Stamp> {
    let sent_us = i64::from_le_bytes(body.get(0..8)?.try_into().ok()?);
    let u32_at = |h: &[u8], i: usize| u32::from_le_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
    let ext = match body.get(8..HEADER_LEN) {
        Some(h) if h[0..4] == MAGIC => Some(Extension {
            run: u32_at(h, 4),
            sender: u32_at(h, 8),
            connection: u32_at(h, 12),
            sequence: u64::from_le_bytes(h[16..24].try_into().ok()?),
            intended_ns: i64::from_le_bytes(h[24..32].try_into().ok()?),
        }),
        _ => None,
    };
    Some(Stamp { sent_us, ext })
}

/// Fills a template body: printable filler so that broker consoles show something readable.
pub fn template(len: usize) -> Vec<u8> {
    (0..len).map(|i| b'a' + (i % 26) as u8).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_exact() {
        let mut b = template(44);
        let ext = Extension {
            run: 0x0a0b_0c0d,
            sender: 0x0102_0304,
            connection: 7,
            sequence: 0x1122_3344_5566_7788,
            intended_ns: 1_700_000_000_123_456_789,
        };
        write(&mut b, 1_700_000_000_123_999_000, &ext);
        assert_eq!(&b[0..8], &1_700_000_000_123_999i64.to_le_bytes());
        assert_eq!(&b[8..12], b"ALG2");
        assert_eq!(&b[12..16], &[0x0d, 0x0c, 0x0b, 0x0a]);
        assert_eq!(&b[16..20], &[4, 3, 2, 1]);
        assert_eq!(&b[20..24], &[7, 0, 0, 0]);
        assert_eq!(
            &b[24..32],
            &[0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11]
        );
        assert_eq!(&b[32..40], &1_700_000_000_123_456_789i64.to_le_bytes());
        assert_eq!(&b[40..], &template(44)[40..]);
        let s = read(&b).unwrap();
        assert_eq!(s.sent_us, 1_700_000_000_123_999);
        assert_eq!(s.ext, Some(ext));
    }

    #[test]
    fn prepared_template_plus_stamp_equals_write() {
        let ext = Extension {
            run: 5,
            sender: 7,
            connection: 9,
            sequence: 11,
            intended_ns: 13_000,
        };
        for len in [4, 8, 20, 40, 100] {
            let mut a = template(len);
            write(&mut a, 99_000, &ext);
            let mut b = template(len);
            prepare(&mut b, 5, 7, 9);
            stamp(&mut b, 99_000, 11, 13_000);
            if !(12..HEADER_LEN).contains(&len) {
                assert_eq!(a, b, "len {len}");
            }
            assert_eq!(read(&a).map(|s| s.sent_us), read(&b).map(|s| s.sent_us));
            assert_eq!(read(&a).and_then(|s| s.ext), read(&b).and_then(|s| s.ext));
        }
    }

    #[test]
    fn short_and_foreign_bodies() {
        let ext = Extension {
            run: 0,
            sender: 1,
            connection: 2,
            sequence: 3,
            intended_ns: 4,
        };
        let mut b = template(39);
        write(&mut b, 5_000, &ext);
        let s = read(&b).unwrap();
        assert_eq!((s.sent_us, s.ext), (5, None));
        let mut b = template(4);
        write(&mut b, 5_000, &ext);
        assert_eq!(b, template(4));
        assert_eq!(read(&b), None);
        // A Maestro body: only the timestamp, filler after it.
        let mut m = 99i64.to_le_bytes().to_vec();
        m.extend_from_slice(&template(100));
        assert_eq!(read(&m).unwrap().ext, None);
        // The earlier layout (no run id) is not read as this one.
        let mut old = template(100);
        old[8..12].copy_from_slice(b"ALG1");
        assert_eq!(read(&old).unwrap().ext, None);
    }
}
