//! Fixed header and Variable Byte Integer helpers (MQTT 3.1.1 §2.2,
//! MQTT 5.0 §2.1 and §1.5.5).

use super::{packet_type as t, Decode, Error, QoS};

/// Largest value a Variable Byte Integer can hold: four bytes of seven bits
/// (MQTT 3.1.1 §2.2.3, MQTT 5.0 §1.5.5).
pub const MAX_REMAINING_LEN: usize = 268_435_455;

/// The fixed header present in every MQTT control packet (§2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedHeader {
    /// Control packet type, the high nibble of byte 1 (§2.2.1).
    pub packet_type: u8,
    /// Packet-type specific flags, the low nibble of byte 1 (§2.2.2).
    pub flags: u8,
    /// Number of bytes after the fixed header (§2.2.3).
    pub remaining_len: usize,
    /// Size of the fixed header itself: 2 to 5 bytes.
    pub header_len: usize,
}

impl FixedHeader {
    /// Size of the whole packet: fixed header plus remaining length.
    pub const fn packet_len(&self) -> usize {
        self.header_len + self.remaining_len
    }
}

/// Peek the fixed header at the front of `input` (§2.2). On success the
/// consumed count equals `header_len`. Neither the packet type nor the flags
/// are checked here; see [`check_flags`].
pub fn peek_header(input: &[u8]) -> Result<Decode<FixedHeader>, Error> {
    let Some((&first, rest)) = input.split_first() else {
        return Ok(Decode::Incomplete(2));
    };
    match read_var_int(rest) {
        Ok(Decode::Complete(remaining_len, len)) => {
            let header = FixedHeader {
                packet_type: first >> 4,
                flags: first & 0x0F,
                remaining_len,
                header_len: 1 + len,
            };
            Ok(Decode::Complete(header, header.header_len))
        }
        Ok(Decode::Incomplete(more)) => Ok(Decode::Incomplete(more)),
        Err(e) => Err(e),
    }
}

/// Read a Variable Byte Integer (§2.2.3 / MQTT 5.0 §1.5.5) from the front of
/// `input`: `Complete(value, bytes used)`, `Incomplete(1)` if every byte so far
/// has its continuation bit set, or [`Error::MalformedRemainingLength`] if the
/// fourth byte still has it set. Non-minimal encodings are accepted.
pub fn read_var_int(input: &[u8]) -> Result<Decode<usize>, Error> {
    let mut value = 0usize;
    for (i, &byte) in input.iter().take(4).enumerate() {
        value |= usize::from(byte & 0x7F) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok(Decode::Complete(value, i + 1));
        }
    }
    if input.len() >= 4 {
        Err(Error::MalformedRemainingLength)
    } else {
        Ok(Decode::Incomplete(1))
    }
}

/// Append `value` as a Variable Byte Integer (§2.2.3). Values above
/// [`MAX_REMAINING_LEN`] are not representable on the wire; they are written
/// with more than four bytes, which every decoder rejects.
#[inline]
pub fn write_var_int(value: usize, out: &mut Vec<u8>) {
    if value < 0x80 {
        out.push(value as u8);
        return;
    }
    let mut buf = [0u8; 10];
    let mut len = 0;
    let mut rest = value;
    for slot in buf.iter_mut() {
        let byte = (rest & 0x7F) as u8;
        rest >>= 7;
        len += 1;
        if rest == 0 {
            *slot = byte;
            break;
        }
        *slot = byte | 0x80;
    }
    out.extend_from_slice(buf.get(..len).unwrap_or(&buf));
}

/// Number of bytes [`write_var_int`] writes for `value`.
#[inline]
pub const fn var_int_len(value: usize) -> usize {
    let mut len = 1;
    let mut rest = value >> 7;
    while rest != 0 {
        len += 1;
        rest >>= 7;
    }
    len
}

/// Check the fixed-header flags of `packet_type` (MQTT 3.1.1 §2.2.2 table,
/// MQTT 5.0 §2.1.3): PUBLISH carries DUP/QoS/RETAIN (QoS 3 invalid, DUP must
/// be 0 at QoS 0 per §3.3.1.1); PUBREL, SUBSCRIBE and UNSUBSCRIBE need 0b0010;
/// all others 0. Unknown types are not checked here.
pub fn check_flags(packet_type: u8, flags: u8) -> Result<(), Error> {
    let ok = match packet_type {
        t::PUBLISH => {
            let qos = QoS::try_from((flags >> 1) & 0b11)?;
            qos != QoS::AtMostOnce || flags & 0b1000 == 0
        }
        t::PUBREL | t::SUBSCRIBE | t::UNSUBSCRIBE => flags == 0b0010,
        _ => flags == 0,
    };
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidFlags { packet_type, flags })
    }
}

/// Append a fixed header: `first` byte then the remaining length.
#[inline]
pub(crate) fn put_fixed_header(first: u8, remaining_len: usize, out: &mut Vec<u8>) {
    out.push(first);
    write_var_int(remaining_len, out);
}

/// Whole packet size for a body of `remaining_len` bytes.
#[inline]
pub(crate) const fn packet_len(remaining_len: usize) -> usize {
    1 + var_int_len(remaining_len) + remaining_len
}

#[cfg(test)]
mod tests {
    use super::*;

    fn var_int(value: usize) -> Vec<u8> {
        let mut out = Vec::new();
        write_var_int(value, &mut out);
        assert_eq!(out.len(), var_int_len(value));
        out
    }

    #[test]
    fn var_int_boundaries_match_spec_table() {
        // MQTT 5.0 §1.5.5 table 1-1 / MQTT 3.1.1 §2.2.3 table 2.4.
        let cases: &[(usize, &[u8])] = &[
            (0, &[0x00]),
            (127, &[0x7F]),
            (128, &[0x80, 0x01]),
            (16_383, &[0xFF, 0x7F]),
            (16_384, &[0x80, 0x80, 0x01]),
            (2_097_151, &[0xFF, 0xFF, 0x7F]),
            (2_097_152, &[0x80, 0x80, 0x80, 0x01]),
            (268_435_455, &[0xFF, 0xFF, 0xFF, 0x7F]),
        ];
        for &(value, bytes) in cases {
            assert_eq!(var_int(value), bytes, "{value}");
            assert_eq!(
                read_var_int(bytes),
                Ok(Decode::Complete(value, bytes.len()))
            );
        }
    }

    #[test]
    fn var_int_too_long_or_short() {
        assert_eq!(
            read_var_int(&[0xFF, 0xFF, 0xFF, 0xFF, 0x7F]),
            Err(Error::MalformedRemainingLength)
        );
        assert_eq!(read_var_int(&[0xFF, 0xFF]), Ok(Decode::Incomplete(1)));
        assert_eq!(read_var_int(&[]), Ok(Decode::Incomplete(1)));
        assert_eq!(var_int_len(MAX_REMAINING_LEN + 1), 5);
    }

    #[test]
    fn peek() {
        assert_eq!(peek_header(&[]), Ok(Decode::Incomplete(2)));
        assert_eq!(peek_header(&[0x30]), Ok(Decode::Incomplete(1)));
        assert_eq!(peek_header(&[0x30, 0x80]), Ok(Decode::Incomplete(1)));
        let header = FixedHeader {
            packet_type: 3,
            flags: 0b1011,
            remaining_len: 200,
            header_len: 3,
        };
        assert_eq!(
            peek_header(&[0x3B, 0xC8, 0x01, 0xAA]),
            Ok(Decode::Complete(header, 3))
        );
        assert_eq!(header.packet_len(), 203);
        assert_eq!(
            peek_header(&[0x30, 0x80, 0x80, 0x80, 0x80]),
            Err(Error::MalformedRemainingLength)
        );
    }

    #[test]
    fn flags_table() {
        assert_eq!(check_flags(t::CONNECT, 0), Ok(()));
        assert_eq!(check_flags(t::PUBREL, 0b0010), Ok(()));
        assert_eq!(check_flags(t::PUBLISH, 0b1101), Ok(()));
        assert_eq!(check_flags(t::PUBLISH, 0b0110), Err(Error::InvalidQoS(3)));
        assert!(check_flags(t::PUBLISH, 0b1000).is_err());
        assert!(check_flags(t::SUBSCRIBE, 0).is_err());
        assert!(check_flags(t::PINGREQ, 1).is_err());
    }
}
