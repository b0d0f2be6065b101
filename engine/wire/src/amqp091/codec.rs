//! The data fields of §4.2.5 (integers, bits, short and long strings) read from and written to
//! byte slices, and the frame envelope writer shared by every encoder.

use super::table::Table;
use super::{Error, FRAME_END, SHORT_STR_MAX};

/// Reads fields from the front of a slice; running out is [`Error::Truncated`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) const fn new(bytes: &'a [u8]) -> Self {
        Reader { rest: bytes }
    }

    pub(crate) const fn rest(&self) -> &'a [u8] {
        self.rest
    }

    pub(crate) fn bytes(&mut self, n: usize) -> Result<&'a [u8], Error> {
        if n > self.rest.len() {
            return Err(Error::Truncated);
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        let (head, tail) = self.rest.split_first_chunk::<N>().ok_or(Error::Truncated)?;
        self.rest = tail;
        Ok(*head)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, Error> {
        self.array::<1>().map(|[b]| b)
    }

    pub(crate) fn u16(&mut self) -> Result<u16, Error> {
        self.array().map(u16::from_be_bytes)
    }

    pub(crate) fn u32(&mut self) -> Result<u32, Error> {
        self.array().map(u32::from_be_bytes)
    }

    pub(crate) fn u64(&mut self) -> Result<u64, Error> {
        self.array().map(u64::from_be_bytes)
    }

    /// `shortstr` (§4.2.5.3): octet length, then UTF-8 text.
    pub(crate) fn short_str(&mut self) -> Result<&'a str, Error> {
        let n = self.u8()?;
        let bytes = self.bytes(usize::from(n))?;
        core::str::from_utf8(bytes).map_err(|_| Error::InvalidUtf8)
    }

    /// `longstr` (§4.2.5.3): u32 length, then octets (any content).
    pub(crate) fn long_str(&mut self) -> Result<&'a [u8], Error> {
        let n = self.u32()?;
        self.bytes(usize::try_from(n).map_err(|_| Error::Truncated)?)
    }

    /// `table` (§4.2.5.5): u32 length, then the entries, kept raw.
    pub(crate) fn table(&mut self) -> Result<Table<'a>, Error> {
        self.long_str().map(Table::from_raw)
    }

    /// One octet of packed bits (§4.2.5.2), low bit first.
    pub(crate) fn bits<const N: usize>(&mut self) -> Result<[bool; N], Error> {
        let octet = self.u8()?;
        Ok(core::array::from_fn(|i| octet & (1 << i) != 0))
    }
}

pub(crate) fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

pub(crate) fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes());
}

pub(crate) fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// Writes `shortstr`. Text over [`SHORT_STR_MAX`] bytes cannot be encoded: it is cut at the
/// last char boundary that fits (callers check lengths beforehand).
pub(crate) fn put_short_str(out: &mut Vec<u8>, s: &str) {
    let mut n = s.len().min(SHORT_STR_MAX);
    while !s.is_char_boundary(n) {
        n -= 1;
    }
    out.push(n as u8);
    out.extend_from_slice(&s.as_bytes()[..n]);
}

/// Writes a u32 length prefix and `bytes` (`longstr`, tables, arrays). Lengths over
/// `u32::MAX` cannot be encoded: the bytes are cut to fit.
pub(crate) fn put_long_str(out: &mut Vec<u8>, bytes: &[u8]) {
    let n = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    put_u32(out, n);
    out.extend_from_slice(&bytes[..n as usize]);
}

/// Packs up to eight bits into one octet, the first in the low bit (§4.2.5.2).
pub(crate) fn put_bits(out: &mut Vec<u8>, bits: &[bool]) {
    let octet = bits
        .iter()
        .enumerate()
        .fold(0u8, |acc, (i, &b)| acc | (u8::from(b) << i));
    out.push(octet);
}

/// Writes a frame's type, channel and a size placeholder; returns where the frame starts, for
/// [`end_frame`].
pub(crate) fn begin_frame(out: &mut Vec<u8>, frame_type: u8, channel: u16) -> usize {
    let start = out.len();
    out.push(frame_type);
    put_u16(out, channel);
    put_u32(out, 0);
    start
}

/// Fills in the size of the frame begun at `start` and writes the frame-end octet.
pub(crate) fn end_frame(out: &mut Vec<u8>, start: usize) {
    let size = out.len() - start - 7;
    let size = u32::try_from(size).unwrap_or(u32::MAX);
    out[start + 3..start + 7].copy_from_slice(&size.to_be_bytes());
    out.push(FRAME_END);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_big_endian_and_strings_length_prefixed() {
        let bytes = [
            0x01, 0x02, 0x00, 0x00, 0x00, 0x03, 0x02, b'h', b'i', 0, 0, 0, 1, 0xFF, 0b101,
        ];
        let mut r = Reader::new(&bytes);
        assert_eq!(r.u16(), Ok(0x0102));
        assert_eq!(r.u32(), Ok(3));
        assert_eq!(r.short_str(), Ok("hi"));
        assert_eq!(r.long_str(), Ok(&[0xFF][..]));
        assert_eq!(r.bits::<3>(), Ok([true, false, true]));
        assert_eq!(r.u8(), Err(Error::Truncated));
        assert_eq!(Reader::new(&[1, 0xFF]).short_str(), Err(Error::InvalidUtf8));
        assert_eq!(Reader::new(&[3, b'a']).short_str(), Err(Error::Truncated));
        assert_eq!(Reader::new(&[0, 0, 0, 9]).long_str(), Err(Error::Truncated));
    }

    #[test]
    fn over_long_short_strings_are_cut_at_a_char_boundary() {
        let s = "é".repeat(200); // 400 bytes
        let mut out = Vec::new();
        put_short_str(&mut out, &s);
        assert_eq!(out[0], 254);
        assert_eq!(Reader::new(&out).short_str(), Ok(&s[..254]));
    }

    #[test]
    fn bits_pack_low_bit_first() {
        let mut out = Vec::new();
        put_bits(&mut out, &[true, false, false, true, true]);
        assert_eq!(out, [0b11001]);
    }
}
