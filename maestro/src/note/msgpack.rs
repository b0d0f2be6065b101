//! The MessagePack subset Maestro notes use (`docs/maestro-protocol.md` §3.1).
//!
//! The writer (the `rmp` crate's) always picks the smallest form, as Maestro's
//! Java peers do, so notes come out byte-identical to theirs. The reader tells
//! formats apart with `rmp`'s markers; what it adds is what notes need: it
//! borrows from the payload, names the field in every error, and is lenient
//! where Java is (§3.1): any integer encoding for any integer field, `str` or
//! `bin` for strings and binaries, `float32` or `float64` for doubles. A note is one whole MQTT payload, so running out of
//! bytes is an error ([`NoteError::Truncated`]), never "need more".

use super::NoteError;
use rmp::Marker;

/// `nil`.
pub const NIL: u8 = 0xc0;
/// The one marker the format reserves; never valid.
pub const RESERVED: u8 = 0xc1;
/// `false`.
pub const FALSE: u8 = 0xc2;
/// `true`.
pub const TRUE: u8 = 0xc3;
/// `bin 8`, `bin 16`, `bin 32`.
pub const BIN8: u8 = 0xc4;
/// `bin 16`.
pub const BIN16: u8 = 0xc5;
/// `bin 32`.
pub const BIN32: u8 = 0xc6;
/// `float 32`.
pub const FLOAT32: u8 = 0xca;
/// `float 64`.
pub const FLOAT64: u8 = 0xcb;
/// `uint 8`.
pub const UINT8: u8 = 0xcc;
/// `uint 16`.
pub const UINT16: u8 = 0xcd;
/// `uint 32`.
pub const UINT32: u8 = 0xce;
/// `uint 64`.
pub const UINT64: u8 = 0xcf;
/// `int 8`.
pub const INT8: u8 = 0xd0;
/// `int 16`.
pub const INT16: u8 = 0xd1;
/// `int 32`.
pub const INT32: u8 = 0xd2;
/// `int 64`.
pub const INT64: u8 = 0xd3;
/// `str 8`.
pub const STR8: u8 = 0xd9;
/// `str 16`.
pub const STR16: u8 = 0xda;
/// `str 32`.
pub const STR32: u8 = 0xdb;

// Writing goes through `rmp`, whose writers pick the smallest form as Java's packer does; a
// `Vec` never fails to take the bytes, so their results carry nothing.

/// Appends `v` in its smallest encoding: positive or negative fixint, else the narrowest
/// `uint*` for positive and `int*` for negative values (§3.1).
pub fn write_int(out: &mut Vec<u8>, v: i64) {
    let _ = rmp::encode::write_sint(out, v);
}

/// Appends a UTF-8 string with the smallest header (fixstr, str8, str16, str32).
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    let _ = rmp::encode::write_str(out, s);
}

/// Appends a binary with the smallest header (bin8, bin16, bin32).
pub fn write_bin(out: &mut Vec<u8>, data: &[u8]) {
    let _ = rmp::encode::write_bin(out, data);
}

/// Appends `true` or `false`.
pub fn write_bool(out: &mut Vec<u8>, b: bool) {
    let _ = rmp::encode::write_bool(out, b);
}

/// Appends a `float 64`.
pub fn write_f64(out: &mut Vec<u8>, v: f64) {
    let _ = rmp::encode::write_f64(out, v);
}

/// A short name for the MessagePack format a marker byte starts, for errors
/// and [`super::describe`].
pub fn marker_name(marker: u8) -> &'static str {
    match marker {
        0x00..=0x7f => "positive fixint",
        0x80..=0x8f => "fixmap",
        0x90..=0x9f => "fixarray",
        0xa0..=0xbf => "fixstr",
        NIL => "nil",
        RESERVED => "reserved 0xc1",
        FALSE | TRUE => "bool",
        BIN8 => "bin8",
        BIN16 => "bin16",
        BIN32 => "bin32",
        0xc7 => "ext8",
        0xc8 => "ext16",
        0xc9 => "ext32",
        FLOAT32 => "float32",
        FLOAT64 => "float64",
        UINT8 => "uint8",
        UINT16 => "uint16",
        UINT32 => "uint32",
        UINT64 => "uint64",
        INT8 => "int8",
        INT16 => "int16",
        INT32 => "int32",
        INT64 => "int64",
        0xd4 => "fixext1",
        0xd5 => "fixext2",
        0xd6 => "fixext4",
        0xd7 => "fixext8",
        0xd8 => "fixext16",
        STR8 => "str8",
        STR16 => "str16",
        STR32 => "str32",
        0xdc => "array16",
        0xdd => "array32",
        0xde => "map16",
        0xdf => "map32",
        0xe0..=0xff => "negative fixint",
    }
}

/// One MessagePack item as [`Reader::read_token`] sees it. Arrays and maps
/// are reported by their headers only (notes never contain them), so reading
/// tokens needs no recursion.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Token<'a> {
    /// `nil`.
    Nil,
    /// `true` / `false`.
    Bool(bool),
    /// Any integer that fits an `i64`.
    Int(i64),
    /// A `uint 64` above `i64::MAX`.
    BigUint(u64),
    /// `float 32`.
    F32(f32),
    /// `float 64`.
    F64(f64),
    /// A `str` item's raw bytes (not checked for UTF-8).
    Str(&'a [u8]),
    /// A `bin` item.
    Bin(&'a [u8]),
    /// An array header with its element count.
    Array(u32),
    /// A map header with its entry count.
    Map(u32),
    /// An extension item: type and data.
    Ext(i8, &'a [u8]),
    /// The reserved marker 0xc1.
    Reserved,
}

/// Borrowing, lenient reader over one note payload.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// Bytes consumed so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Whether every byte has been consumed.
    pub fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// The marker byte of the next item, if any.
    pub fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], NoteError> {
        let end = self
            .pos
            .checked_add(n)
            .ok_or(NoteError::Truncated { field })?;
        let bytes = self
            .buf
            .get(self.pos..end)
            .ok_or(NoteError::Truncated { field })?;
        self.pos = end;
        Ok(bytes)
    }

    fn take_array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], NoteError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N, field)?);
        Ok(a)
    }

    /// The next item's marker, as `rmp` reads the format.
    fn marker(&mut self, field: &'static str) -> Result<Marker, NoteError> {
        let m = self.peek().ok_or(NoteError::Truncated { field })?;
        self.pos += 1;
        Ok(Marker::from_u8(m))
    }

    /// The length that follows a string, binary or extension marker of `N`-byte length.
    fn len<const N: usize>(&mut self, field: &'static str) -> Result<usize, NoteError> {
        let b = self.take_array::<N>(field)?;
        Ok(b.iter().fold(0usize, |n, &x| (n << 8) | usize::from(x)))
    }

    /// The length of a `str` or `bin` item whose marker is `m` (`None`: not one).
    fn raw_len(&mut self, m: Marker, field: &'static str) -> Result<Option<usize>, NoteError> {
        Ok(Some(match m {
            Marker::FixStr(n) => usize::from(n),
            Marker::Str8 | Marker::Bin8 => self.len::<1>(field)?,
            Marker::Str16 | Marker::Bin16 => self.len::<2>(field)?,
            Marker::Str32 | Marker::Bin32 => self.len::<4>(field)?,
            _ => return Ok(None),
        }))
    }

    /// Reads an integer of any width (§3.1). A `uint 64` above `i64::MAX`
    /// is [`NoteError::OutOfRange`]; Java's `unpackLong` rejects it too.
    pub fn read_int(&mut self, field: &'static str) -> Result<i64, NoteError> {
        let start = self.pos;
        let m = self.marker(field)?;
        let v = match m {
            Marker::FixPos(v) => i64::from(v),
            Marker::FixNeg(v) => i64::from(v),
            Marker::U8 => self.take_array::<1>(field)?[0] as i64,
            Marker::U16 => u16::from_be_bytes(self.take_array(field)?) as i64,
            Marker::U32 => u32::from_be_bytes(self.take_array(field)?) as i64,
            Marker::U64 => {
                let v = u64::from_be_bytes(self.take_array(field)?);
                i64::try_from(v).map_err(|_| NoteError::OutOfRange {
                    field,
                    value: v as i128,
                })?
            }
            Marker::I8 => self.take_array::<1>(field)?[0] as i8 as i64,
            Marker::I16 => i16::from_be_bytes(self.take_array(field)?) as i64,
            Marker::I32 => i32::from_be_bytes(self.take_array(field)?) as i64,
            Marker::I64 => i64::from_be_bytes(self.take_array(field)?),
            other => {
                self.pos = start;
                return Err(wrong_type(field, "integer", other.to_u8()));
            }
        };
        Ok(v)
    }

    /// Reads an integer that must fit a Java `int`.
    pub fn read_i32(&mut self, field: &'static str) -> Result<i32, NoteError> {
        let v = self.read_int(field)?;
        i32::try_from(v).map_err(|_| NoteError::OutOfRange {
            field,
            value: v as i128,
        })
    }

    /// Reads an integer that must fit a Java `short`.
    pub fn read_i16(&mut self, field: &'static str) -> Result<i16, NoteError> {
        let v = self.read_int(field)?;
        i16::try_from(v).map_err(|_| NoteError::OutOfRange {
            field,
            value: v as i128,
        })
    }

    /// Reads a string: any `str` header, or a `bin` holding UTF-8 (§3.1).
    pub fn read_str(&mut self, field: &'static str) -> Result<&'a str, NoteError> {
        let bytes = self.read_raw(field, "string")?;
        std::str::from_utf8(bytes).map_err(|_| NoteError::InvalidUtf8 { field })
    }

    /// Reads a binary: any `bin` header, or a `str` (taken as its bytes).
    pub fn read_bin(&mut self, field: &'static str) -> Result<&'a [u8], NoteError> {
        self.read_raw(field, "binary")
    }

    fn read_raw(
        &mut self,
        field: &'static str,
        expected: &'static str,
    ) -> Result<&'a [u8], NoteError> {
        let start = self.pos;
        let m = self.marker(field)?;
        match self.raw_len(m, field)? {
            Some(len) => self.take(len, field),
            None => {
                self.pos = start;
                Err(wrong_type(field, expected, m.to_u8()))
            }
        }
    }

    /// Reads a boolean.
    pub fn read_bool(&mut self, field: &'static str) -> Result<bool, NoteError> {
        let start = self.pos;
        match self.marker(field)? {
            Marker::True => Ok(true),
            Marker::False => Ok(false),
            other => {
                self.pos = start;
                Err(wrong_type(field, "bool", other.to_u8()))
            }
        }
    }

    /// Reads a double: `float 64`, or a `float 32` widened.
    pub fn read_f64(&mut self, field: &'static str) -> Result<f64, NoteError> {
        let start = self.pos;
        match self.marker(field)? {
            Marker::F64 => Ok(f64::from_bits(u64::from_be_bytes(self.take_array(field)?))),
            Marker::F32 => Ok(f32::from_bits(u32::from_be_bytes(self.take_array(field)?)) as f64),
            other => {
                self.pos = start;
                Err(wrong_type(field, "double", other.to_u8()))
            }
        }
    }

    /// Reads an optional trailing string: `None` when the payload ends here
    /// or the item is `nil`.
    pub fn read_opt_str(&mut self, field: &'static str) -> Result<Option<&'a str>, NoteError> {
        if self.peek().map(Marker::from_u8) == Some(Marker::Null) {
            self.pos += 1;
            return Ok(None);
        }
        if self.is_empty() {
            return Ok(None);
        }
        self.read_str(field).map(Some)
    }

    /// Reads any one item, without recursing into arrays or maps.
    pub fn read_token(&mut self) -> Result<Token<'a>, NoteError> {
        const F: &str = "item";
        let start = self.pos;
        let m = self.marker(F)?;
        let token = match m {
            Marker::FixStr(_) | Marker::Str8 | Marker::Str16 | Marker::Str32 => {
                let len = self.raw_len(m, F)?.unwrap_or(0);
                Token::Str(self.take(len, F)?)
            }
            Marker::Bin8 | Marker::Bin16 | Marker::Bin32 => {
                let len = self.raw_len(m, F)?.unwrap_or(0);
                Token::Bin(self.take(len, F)?)
            }
            Marker::FixPos(_)
            | Marker::FixNeg(_)
            | Marker::U8
            | Marker::U16
            | Marker::U32
            | Marker::I8
            | Marker::I16
            | Marker::I32
            | Marker::I64 => {
                self.pos = start;
                Token::Int(self.read_int(F)?)
            }
            Marker::U64 => {
                let v = u64::from_be_bytes(self.take_array(F)?);
                i64::try_from(v).map_or(Token::BigUint(v), Token::Int)
            }
            Marker::FixMap(n) => Token::Map(u32::from(n)),
            Marker::FixArray(n) => Token::Array(u32::from(n)),
            Marker::Null => Token::Nil,
            Marker::Reserved => Token::Reserved,
            Marker::False => Token::Bool(false),
            Marker::True => Token::Bool(true),
            Marker::F32 => Token::F32(f32::from_bits(u32::from_be_bytes(self.take_array(F)?))),
            Marker::F64 => Token::F64(f64::from_bits(u64::from_be_bytes(self.take_array(F)?))),
            Marker::Ext8 | Marker::Ext16 | Marker::Ext32 => {
                let len = match m {
                    Marker::Ext8 => self.len::<1>(F)?,
                    Marker::Ext16 => self.len::<2>(F)?,
                    _ => self.len::<4>(F)?,
                };
                let ty = self.take_array::<1>(F)?[0] as i8;
                Token::Ext(ty, self.take(len, F)?)
            }
            Marker::FixExt1
            | Marker::FixExt2
            | Marker::FixExt4
            | Marker::FixExt8
            | Marker::FixExt16 => {
                let len = 1usize << (m.to_u8() - 0xd4);
                let ty = self.take_array::<1>(F)?[0] as i8;
                Token::Ext(ty, self.take(len, F)?)
            }
            Marker::Array16 => Token::Array(self.len::<2>(F)? as u32),
            Marker::Array32 => Token::Array(self.len::<4>(F)? as u32),
            Marker::Map16 => Token::Map(self.len::<2>(F)? as u32),
            Marker::Map32 => Token::Map(self.len::<4>(F)? as u32),
        };
        Ok(token)
    }
}

fn wrong_type(field: &'static str, expected: &'static str, found: u8) -> NoteError {
    NoteError::WrongType {
        field,
        expected,
        found,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(v: i64) -> Vec<u8> {
        let mut out = Vec::new();
        write_int(&mut out, v);
        out
    }

    #[test]
    fn integers_use_the_smallest_form() {
        let cases: &[(i64, &[u8])] = &[
            (0, &[0x00]),
            (127, &[0x7f]),
            (128, &[0xcc, 0x80]),
            (255, &[0xcc, 0xff]),
            (256, &[0xcd, 0x01, 0x00]),
            (1500, &[0xcd, 0x05, 0xdc]),
            (65535, &[0xcd, 0xff, 0xff]),
            (65536, &[0xce, 0, 1, 0, 0]),
            (123456, &[0xce, 0x00, 0x01, 0xe2, 0x40]),
            (u32::MAX as i64, &[0xce, 0xff, 0xff, 0xff, 0xff]),
            (1 << 32, &[0xcf, 0, 0, 0, 1, 0, 0, 0, 0]),
            (
                i64::MAX,
                &[0xcf, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
            ),
            (-1, &[0xff]),
            (-32, &[0xe0]),
            (-33, &[0xd0, 0xdf]),
            (-128, &[0xd0, 0x80]),
            (-129, &[0xd1, 0xff, 0x7f]),
            (-32768, &[0xd1, 0x80, 0x00]),
            (-32769, &[0xd2, 0xff, 0xff, 0x7f, 0xff]),
            (i32::MIN as i64, &[0xd2, 0x80, 0, 0, 0]),
            (
                i32::MIN as i64 - 1,
                &[0xd3, 0xff, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff],
            ),
            (i64::MIN, &[0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0]),
        ];
        for &(v, bytes) in cases {
            assert_eq!(int(v), bytes, "{v}");
            assert_eq!(Reader::new(bytes).read_int("v"), Ok(v), "{v}");
        }
    }

    #[test]
    fn strings_and_binaries_use_the_smallest_header() {
        for (len, header) in [
            (0usize, vec![0xa0]),
            (31, vec![0xbf]),
            (32, vec![STR8, 32]),
            (255, vec![STR8, 255]),
            (256, vec![STR16, 1, 0]),
            (65535, vec![STR16, 0xff, 0xff]),
            (65536, vec![STR32, 0, 1, 0, 0]),
        ] {
            let s = "x".repeat(len);
            let mut out = Vec::new();
            write_str(&mut out, &s);
            assert_eq!(out[..header.len()], header[..], "str {len}");
            assert_eq!(out.len(), header.len() + len);
            assert_eq!(Reader::new(&out).read_str("s"), Ok(s.as_str()));
        }
        for (len, header) in [
            (0usize, vec![BIN8, 0]),
            (255, vec![BIN8, 255]),
            (256, vec![BIN16, 1, 0]),
            (65536, vec![BIN32, 0, 1, 0, 0]),
        ] {
            let data = vec![7u8; len];
            let mut out = Vec::new();
            write_bin(&mut out, &data);
            assert_eq!(out[..header.len()], header[..], "bin {len}");
            assert_eq!(Reader::new(&out).read_bin("b"), Ok(&data[..]));
            // Lenient: a bin is accepted where a string is expected.
            assert_eq!(Reader::new(&out).read_str("b").map(str::len), Ok(len));
        }
    }

    #[test]
    fn doubles_and_booleans() {
        let mut out = Vec::new();
        write_f64(&mut out, 1000.0);
        write_bool(&mut out, true);
        write_bool(&mut out, false);
        assert_eq!(out, [0xcb, 0x40, 0x8f, 0x40, 0, 0, 0, 0, 0, 0xc3, 0xc2]);
        let mut r = Reader::new(&out);
        assert_eq!(r.read_f64("d"), Ok(1000.0));
        assert_eq!(r.read_bool("t"), Ok(true));
        assert_eq!(r.read_bool("f"), Ok(false));
        assert!(r.is_empty());
        let f32_bytes = [FLOAT32, 0x3f, 0xc0, 0, 0];
        assert_eq!(Reader::new(&f32_bytes).read_f64("d"), Ok(1.5));
    }

    #[test]
    fn errors_name_the_field_and_leave_the_reader_in_place() {
        let mut r = Reader::new(&[0xa1, b'x']);
        assert_eq!(
            r.read_int("option"),
            Err(NoteError::WrongType {
                field: "option",
                expected: "integer",
                found: 0xa1
            })
        );
        assert_eq!(r.position(), 0);
        assert_eq!(r.read_str("value"), Ok("x"));
        assert_eq!(
            r.read_int("next"),
            Err(NoteError::Truncated { field: "next" })
        );
        let huge = [UINT64, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
        assert!(matches!(
            Reader::new(&huge).read_int("count"),
            Err(NoteError::OutOfRange { field: "count", .. })
        ));
        assert_eq!(
            Reader::new(&[STR32, 0xff, 0xff, 0xff, 0xff, b'a']).read_str("s"),
            Err(NoteError::Truncated { field: "s" })
        );
        assert_eq!(
            Reader::new(&[0xa2, 0xff, 0xfe]).read_str("s"),
            Err(NoteError::InvalidUtf8 { field: "s" })
        );
        assert_eq!(
            Reader::new(&[0xcd, 0x80, 0x00]).read_i16("statsType"),
            Err(NoteError::OutOfRange {
                field: "statsType",
                value: 32768
            })
        );
    }

    #[test]
    fn tokens_cover_every_marker_without_panicking() {
        for m in 0..=u8::MAX {
            for tail in [&[][..], &[0u8; 3], &[0xffu8; 20]] {
                let mut bytes = vec![m];
                bytes.extend_from_slice(tail);
                let mut r = Reader::new(&bytes);
                while !r.is_empty() {
                    if r.read_token().is_err() {
                        break;
                    }
                }
            }
        }
    }
}
