//! Primitive data representations shared by all packets (MQTT 3.1.1 §1.5,
//! MQTT 5.0 §1.5): a bounds-checked body reader and the matching writers.

use super::header::{read_var_int, write_var_int};
use super::{Decode, Error, Properties, Protocol};

/// The body ended before a field did.
pub(crate) const TRUNCATED: Error = Error::MalformedPacket("field runs past the end of the packet");
/// Bytes left after the last field of a packet with a fixed layout.
pub(crate) const TRAILING: Error = Error::MalformedPacket("unexpected bytes after the last field");

/// Longest string or binary field: a two-byte length prefix (§1.5.3, §1.5.6).
pub(crate) const MAX_FIELD: usize = 65_535;

/// Cursor over a packet body. Every read is bounds-checked and never panics.
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(body: &'a [u8]) -> Self {
        Reader { rest: body }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        let head = self.rest.get(..n).ok_or(TRUNCATED)?;
        self.rest = self.rest.get(n..).unwrap_or_default();
        Ok(head)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, Error> {
        let (&byte, rest) = self.rest.split_first().ok_or(TRUNCATED)?;
        self.rest = rest;
        Ok(byte)
    }

    /// Two Byte Integer, big-endian (§1.5.2).
    pub(crate) fn u16(&mut self) -> Result<u16, Error> {
        match *self.take(2)? {
            [hi, lo] => Ok(u16::from_be_bytes([hi, lo])),
            _ => Err(TRUNCATED),
        }
    }

    /// Four Byte Integer, big-endian (MQTT 5.0 §1.5.3).
    pub(crate) fn u32(&mut self) -> Result<u32, Error> {
        match *self.take(4)? {
            [a, b, c, d] => Ok(u32::from_be_bytes([a, b, c, d])),
            _ => Err(TRUNCATED),
        }
    }

    /// Variable Byte Integer (MQTT 5.0 §1.5.5).
    pub(crate) fn var_int(&mut self) -> Result<usize, Error> {
        match read_var_int(self.rest) {
            Ok(Decode::Complete(value, len)) => {
                self.rest = self.rest.get(len..).unwrap_or_default();
                Ok(value)
            }
            Ok(Decode::Incomplete(_)) => Err(TRUNCATED),
            Err(_) => Err(Error::MalformedPacket(
                "variable byte integer longer than 4 bytes",
            )),
        }
    }

    /// Binary Data: two-byte length then bytes (MQTT 5.0 §1.5.6, 3.1.1 §3.1.3).
    pub(crate) fn binary(&mut self) -> Result<&'a [u8], Error> {
        let len = self.u16()?;
        self.take(usize::from(len))
    }

    /// UTF-8 Encoded String (§1.5.3 / MQTT 5.0 §1.5.4).
    pub(crate) fn str(&mut self) -> Result<&'a str, Error> {
        utf8(self.binary()?)
    }

    /// Nonzero Packet Identifier (MQTT 3.1.1 §2.3.1, MQTT 5.0 §2.2.1).
    pub(crate) fn packet_id(&mut self) -> Result<u16, Error> {
        match self.u16()? {
            0 => Err(Error::ZeroPacketId),
            id => Ok(id),
        }
    }

    /// Property Length then Properties (MQTT 5.0 §2.2.2); always empty and
    /// absent from the wire under MQTT 3.1.1.
    pub(crate) fn properties(&mut self, protocol: Protocol) -> Result<Properties<'a>, Error> {
        match protocol {
            Protocol::V311 => Ok(Properties::EMPTY),
            Protocol::V5 => {
                let len = self.var_int()?;
                Properties::parse(self.take(len)?)
            }
        }
    }

    /// Everything that is left (PUBLISH payload, SUBACK codes...).
    pub(crate) fn rest(self) -> &'a [u8] {
        self.rest
    }

    /// Require that the body was used up.
    pub(crate) fn finish(self) -> Result<(), Error> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(TRAILING)
        }
    }
}

/// Validate a UTF-8 Encoded String: well-formed UTF-8 (no surrogates) and no
/// U+0000 (MQTT 3.1.1 §1.5.3, MQTT 5.0 §1.5.4).
pub(crate) fn utf8(bytes: &[u8]) -> Result<&str, Error> {
    if bytes.contains(&0) {
        return Err(Error::InvalidUtf8);
    }
    core::str::from_utf8(bytes).map_err(|_| Error::InvalidUtf8)
}

/// A Topic Name has no wildcard characters (§4.7.1, §3.3.2.1).
pub(crate) fn valid_topic_name(topic: &str) -> bool {
    !topic.bytes().any(|b| b == b'+' || b == b'#')
}

/// A Topic Filter is non-empty (§4.7.3), `#` only as a whole last level and
/// `+` only as a whole level (§4.7.1.2, §4.7.1.3).
pub(crate) fn valid_topic_filter(filter: &str) -> bool {
    if filter.is_empty() {
        return false;
    }
    let mut levels = filter.split('/').peekable();
    while let Some(level) = levels.next() {
        if level.contains('#') && (level != "#" || levels.peek().is_some()) {
            return false;
        }
        if level.contains('+') && level != "+" {
            return false;
        }
    }
    true
}

/// Bytes of a binary field as written: at most [`MAX_FIELD`].
#[inline]
pub(crate) fn clamp_bin(bytes: &[u8]) -> &[u8] {
    bytes.get(..MAX_FIELD).unwrap_or(bytes)
}

/// Bytes of a string field as written: at most [`MAX_FIELD`], cut at a
/// character boundary so the result stays valid UTF-8.
#[inline]
pub(crate) fn clamp_str(s: &str) -> &[u8] {
    if s.len() <= MAX_FIELD {
        return s.as_bytes();
    }
    let mut end = MAX_FIELD;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.as_bytes().get(..end).unwrap_or_default()
}

#[inline]
pub(crate) fn put_u16(value: u16, out: &mut Vec<u8>) {
    out.extend_from_slice(&value.to_be_bytes());
}

/// Write a Binary Data field (length prefix + bytes).
#[inline]
pub(crate) fn put_bin(bytes: &[u8], out: &mut Vec<u8>) {
    let bytes = clamp_bin(bytes);
    put_u16(bytes.len() as u16, out);
    out.extend_from_slice(bytes);
}

/// Write a UTF-8 Encoded String field (length prefix + bytes).
#[inline]
pub(crate) fn put_str(s: &str, out: &mut Vec<u8>) {
    put_bin(clamp_str(s), out);
}

#[inline]
pub(crate) fn bin_len(bytes: &[u8]) -> usize {
    2 + clamp_bin(bytes).len()
}

#[inline]
pub(crate) fn str_len(s: &str) -> usize {
    2 + clamp_str(s).len()
}

/// Write a v5 property block (length prefix + properties); nothing under
/// MQTT 3.1.1.
#[inline]
pub(crate) fn put_properties(props: &Properties<'_>, protocol: Protocol, out: &mut Vec<u8>) {
    if protocol == Protocol::V5 {
        props.encode(out);
    }
}

/// Size of what [`put_properties`] writes.
#[inline]
pub(crate) fn properties_len(props: &Properties<'_>, protocol: Protocol) -> usize {
    match protocol {
        Protocol::V311 => 0,
        Protocol::V5 => props.encoded_len(),
    }
}

/// Write a var int inside a body (property values, property lengths).
#[inline]
pub(crate) fn put_var_int(value: usize, out: &mut Vec<u8>) {
    write_var_int(value, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_rules() {
        assert_eq!(utf8(b"a/b"), Ok("a/b"));
        assert_eq!(utf8(b"a\0b"), Err(Error::InvalidUtf8));
        // Encoded surrogate U+D800 (§1.5.3: MUST NOT include surrogates).
        assert_eq!(utf8(&[0xED, 0xA0, 0x80]), Err(Error::InvalidUtf8));
        assert_eq!(utf8(&[0xC3]), Err(Error::InvalidUtf8));
    }

    #[test]
    fn topic_rules() {
        assert!(valid_topic_name("a/b/c"));
        assert!(valid_topic_name(""));
        assert!(!valid_topic_name("a/+/c"));
        assert!(!valid_topic_name("a/#"));
        for ok in ["#", "+", "a/#", "+/+", "/+", "a/+/b", "sport/tennis/#", "/"] {
            assert!(valid_topic_filter(ok), "{ok}");
        }
        for bad in ["", "a#", "a/#/b", "sport/tennis#", "a+", "+a/b", "#/"] {
            assert!(!valid_topic_filter(bad), "{bad}");
        }
    }

    #[test]
    fn long_fields_are_clamped() {
        let long = "é".repeat(40_000); // 80,000 bytes of two-byte chars
        let clamped = clamp_str(&long);
        assert!(clamped.len() <= MAX_FIELD);
        assert!(core::str::from_utf8(clamped).is_ok());
        let mut out = Vec::new();
        put_str(&long, &mut out);
        assert_eq!(out.len(), str_len(&long));
        let mut r = Reader::new(&out);
        assert_eq!(r.str().map(str::len), Ok(clamped.len()));
        assert!(r.finish().is_ok());
    }

    #[test]
    fn reader_never_overruns() {
        let mut r = Reader::new(&[0x00, 0x05, b'a']);
        assert_eq!(r.str(), Err(TRUNCATED));
        let mut r = Reader::new(&[0x00]);
        assert_eq!(r.u16(), Err(TRUNCATED));
        let mut r = Reader::new(&[0x00, 0x00]);
        assert_eq!(r.packet_id(), Err(Error::ZeroPacketId));
        let mut r = Reader::new(&[0xFF, 0xFF, 0xFF, 0xFF, 0x01]);
        assert!(r.var_int().is_err());
    }
}
