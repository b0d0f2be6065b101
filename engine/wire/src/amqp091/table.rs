//! Field tables and field arrays (§4.2.5.5), with the field types of RabbitMQ's errata table
//! (which differs from the 0-9-1 grammar: `s` is a signed 16-bit integer, `l` a signed 64-bit
//! one, `x` a byte array, and there is no short string type).
//!
//! | type | letter | | type | letter |
//! | --- | --- | --- | --- | --- |
//! | boolean | `t` | | 64-bit float | `d` |
//! | i8 | `b` | | decimal | `D` |
//! | u8 | `B` | | long string | `S` |
//! | i16 | `s` | | array | `A` |
//! | u16 | `u` | | timestamp (u64) | `T` |
//! | i32 | `I` | | nested table | `F` |
//! | u32 | `i` | | void | `V` |
//! | i64 | `l` | | byte array | `x` |
//! | 32-bit float | `f` | | | |
//!
//! Tables and arrays are kept as raw bytes and read lazily, so decoding a frame never walks
//! them; errors inside them show up when they are iterated.

use super::codec::{put_long_str, put_short_str, put_u16, put_u32, put_u64, Reader};
use super::Error;

/// A field table (§4.2.5.5): the bytes of its entries, without the u32 length before them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Table<'a> {
    raw: &'a [u8],
}

impl Table<'static> {
    /// The table without entries.
    pub const EMPTY: Table<'static> = Table { raw: &[] };
}

impl<'a> Table<'a> {
    /// A table over `raw`, the entry bytes (not checked until iterated).
    pub const fn from_raw(raw: &'a [u8]) -> Self {
        Table { raw }
    }

    /// The entry bytes, without the u32 length that precedes them on the wire.
    pub const fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// Whether the table has no entries.
    pub const fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// The entries in order. A malformed entry yields one error and ends the iteration: an
    /// unknown type letter or a value past the end is [`Error::BadTable`], a name that is not
    /// UTF-8 [`Error::InvalidUtf8`].
    pub fn iter(&self) -> TableIter<'a> {
        TableIter {
            r: Reader::new(self.raw),
        }
    }

    /// The value of the first entry named `name`; an error met before it is returned.
    pub fn get(&self, name: &str) -> Result<Option<FieldValue<'a>>, Error> {
        for entry in self.iter() {
            let (n, v) = entry?;
            if n == name {
                return Ok(Some(v));
            }
        }
        Ok(None)
    }
}

impl<'a> IntoIterator for Table<'a> {
    type Item = Result<(&'a str, FieldValue<'a>), Error>;
    type IntoIter = TableIter<'a>;

    fn into_iter(self) -> TableIter<'a> {
        self.iter()
    }
}

/// The entries of a [`Table`].
#[derive(Debug, Clone)]
pub struct TableIter<'a> {
    r: Reader<'a>,
}

impl<'a> Iterator for TableIter<'a> {
    type Item = Result<(&'a str, FieldValue<'a>), Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.r.rest().is_empty() {
            return None;
        }
        let entry = self
            .r
            .short_str()
            .and_then(|name| Ok((name, read_value(&mut self.r)?)))
            .map_err(in_table);
        if entry.is_err() {
            self.r = Reader::new(&[]);
        }
        Some(entry)
    }
}

/// The values of a field array (§4.2.5.5, RabbitMQ's `A`), given its raw bytes (without the
/// u32 length). Errors are reported and end the iteration as for [`Table::iter`].
pub fn array_values(raw: &[u8]) -> ArrayIter<'_> {
    ArrayIter {
        r: Reader::new(raw),
    }
}

/// The values of a field array; see [`array_values`].
#[derive(Debug, Clone)]
pub struct ArrayIter<'a> {
    r: Reader<'a>,
}

impl<'a> Iterator for ArrayIter<'a> {
    type Item = Result<FieldValue<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.r.rest().is_empty() {
            return None;
        }
        let value = read_value(&mut self.r).map_err(in_table);
        if value.is_err() {
            self.r = Reader::new(&[]);
        }
        Some(value)
    }
}

/// Running out inside a table is a malformed table, not a truncated frame.
fn in_table(e: Error) -> Error {
    match e {
        Error::Truncated => Error::BadTable,
        e => e,
    }
}

/// A value in a field table or array, borrowing from the frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FieldValue<'a> {
    /// `t`: one octet, any non-zero value is true.
    Bool(bool),
    /// `b`
    I8(i8),
    /// `B`
    U8(u8),
    /// `s` (RabbitMQ's errata; a short string in the 0-9-1 grammar).
    I16(i16),
    /// `u`
    U16(u16),
    /// `I`
    I32(i32),
    /// `i`
    U32(u32),
    /// `l`
    I64(i64),
    /// `f`
    F32(f32),
    /// `d`
    F64(f64),
    /// `D`: scale (number of decimal digits after the point), then the unscaled value.
    Decimal(u8, u32),
    /// Text to write as a long string (`S`). RabbitMQ has no short string field type, so this
    /// variant is encode-only: the value decodes as [`FieldValue::LongStr`].
    ShortStr(&'a str),
    /// `S`: u32 length and octets (usually UTF-8 text).
    LongStr(&'a [u8]),
    /// `A`: the raw bytes of a field array (without the u32 length); see [`array_values`].
    Array(&'a [u8]),
    /// `T`: seconds since the epoch (§4.2.5.4).
    Timestamp(u64),
    /// `F`: a nested table.
    Table(Table<'a>),
    /// `V`: no value.
    Void,
    /// `x`: u32 length and octets (RabbitMQ).
    Bytes(&'a [u8]),
}

impl FieldValue<'_> {
    /// The type letter this value is written with.
    pub const fn type_letter(&self) -> u8 {
        match self {
            FieldValue::Bool(_) => b't',
            FieldValue::I8(_) => b'b',
            FieldValue::U8(_) => b'B',
            FieldValue::I16(_) => b's',
            FieldValue::U16(_) => b'u',
            FieldValue::I32(_) => b'I',
            FieldValue::U32(_) => b'i',
            FieldValue::I64(_) => b'l',
            FieldValue::F32(_) => b'f',
            FieldValue::F64(_) => b'd',
            FieldValue::Decimal(..) => b'D',
            FieldValue::ShortStr(_) | FieldValue::LongStr(_) => b'S',
            FieldValue::Array(_) => b'A',
            FieldValue::Timestamp(_) => b'T',
            FieldValue::Table(_) => b'F',
            FieldValue::Void => b'V',
            FieldValue::Bytes(_) => b'x',
        }
    }
}

/// Reads a type letter and the value after it.
fn read_value<'a>(r: &mut Reader<'a>) -> Result<FieldValue<'a>, Error> {
    Ok(match r.u8()? {
        b't' => FieldValue::Bool(r.u8()? != 0),
        b'b' => FieldValue::I8(r.u8()? as i8),
        b'B' => FieldValue::U8(r.u8()?),
        b's' => FieldValue::I16(r.u16()? as i16),
        b'u' => FieldValue::U16(r.u16()?),
        b'I' => FieldValue::I32(r.u32()? as i32),
        b'i' => FieldValue::U32(r.u32()?),
        b'l' => FieldValue::I64(r.u64()? as i64),
        b'f' => FieldValue::F32(f32::from_bits(r.u32()?)),
        b'd' => FieldValue::F64(f64::from_bits(r.u64()?)),
        b'D' => FieldValue::Decimal(r.u8()?, r.u32()?),
        b'S' => FieldValue::LongStr(r.long_str()?),
        b'A' => FieldValue::Array(r.long_str()?),
        b'T' => FieldValue::Timestamp(r.u64()?),
        b'F' => FieldValue::Table(r.table()?),
        b'V' => FieldValue::Void,
        b'x' => FieldValue::Bytes(r.long_str()?),
        _ => return Err(Error::BadTable),
    })
}

/// Appends `value`: its type letter, then the value.
pub fn encode_field_value(value: &FieldValue<'_>, out: &mut Vec<u8>) {
    out.push(value.type_letter());
    match *value {
        FieldValue::Bool(b) => out.push(u8::from(b)),
        FieldValue::I8(v) => out.push(v as u8),
        FieldValue::U8(v) => out.push(v),
        FieldValue::I16(v) => put_u16(out, v as u16),
        FieldValue::U16(v) => put_u16(out, v),
        FieldValue::I32(v) => put_u32(out, v as u32),
        FieldValue::U32(v) => put_u32(out, v),
        FieldValue::I64(v) => put_u64(out, v as u64),
        FieldValue::F32(v) => put_u32(out, v.to_bits()),
        FieldValue::F64(v) => put_u64(out, v.to_bits()),
        FieldValue::Decimal(scale, v) => {
            out.push(scale);
            put_u32(out, v);
        }
        FieldValue::ShortStr(s) => put_long_str(out, s.as_bytes()),
        FieldValue::LongStr(b) | FieldValue::Array(b) | FieldValue::Bytes(b) => {
            put_long_str(out, b)
        }
        FieldValue::Timestamp(v) => put_u64(out, v),
        FieldValue::Table(t) => put_long_str(out, t.raw()),
        FieldValue::Void => {}
    }
}

/// Appends a field table: the u32 length, then each entry's name (a short string, cut to 255
/// bytes if longer) and value. Decode the result with `Table::from_raw(&out[start + 4..])`.
pub fn encode_table(entries: &[(&str, FieldValue<'_>)], out: &mut Vec<u8>) {
    let start = out.len();
    put_u32(out, 0);
    for (name, value) in entries {
        put_short_str(out, name);
        encode_field_value(value, out);
    }
    patch_len(out, start);
}

/// Appends a field array: the u32 length, then each value.
pub fn encode_array(values: &[FieldValue<'_>], out: &mut Vec<u8>) {
    let start = out.len();
    put_u32(out, 0);
    for value in values {
        encode_field_value(value, out);
    }
    patch_len(out, start);
}

fn patch_len(out: &mut [u8], start: usize) {
    let n = u32::try_from(out.len() - start - 4).unwrap_or(u32::MAX);
    out[start..start + 4].copy_from_slice(&n.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_letter_reads_and_writes() {
        #[rustfmt::skip]
        let raw: &[u8] = &[
            1, b'a', b't', 2,
            1, b'b', b'b', 0xFF,
            1, b'c', b'B', 0xFF,
            1, b'd', b's', 0xFF, 0xFE,
            1, b'e', b'u', 0xFF, 0xFE,
            1, b'f', b'I', 0xFF, 0xFF, 0xFF, 0xFD,
            1, b'g', b'i', 0xFF, 0xFF, 0xFF, 0xFD,
            1, b'h', b'l', 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFC,
            1, b'i', b'f', 0x3F, 0x80, 0, 0,
            1, b'j', b'd', 0x40, 0, 0, 0, 0, 0, 0, 0,
            1, b'k', b'D', 2, 0, 0, 0x01, 0x00,
            1, b'l', b'S', 0, 0, 0, 2, b'h', b'i',
            1, b'm', b'A', 0, 0, 0, 4, b'V', b'b', 7, b'V',
            1, b'n', b'T', 0, 0, 0, 0, 0x65, 0, 0, 0,
            1, b'o', b'F', 0, 0, 0, 4, 1, b'z', b'B', 9,
            1, b'p', b'V',
            1, b'q', b'x', 0, 0, 0, 1, 0,
        ];
        let table = Table::from_raw(raw);
        let entries: Vec<_> = table.iter().collect::<Result<_, _>>().unwrap();
        let nested = [1, b'z', b'B', 9];
        let expected = [
            ("a", FieldValue::Bool(true)),
            ("b", FieldValue::I8(-1)),
            ("c", FieldValue::U8(255)),
            ("d", FieldValue::I16(-2)),
            ("e", FieldValue::U16(0xFFFE)),
            ("f", FieldValue::I32(-3)),
            ("g", FieldValue::U32(0xFFFF_FFFD)),
            ("h", FieldValue::I64(-4)),
            ("i", FieldValue::F32(1.0)),
            ("j", FieldValue::F64(2.0)),
            ("k", FieldValue::Decimal(2, 256)),
            ("l", FieldValue::LongStr(b"hi")),
            ("m", FieldValue::Array(&[b'V', b'b', 7, b'V'])),
            ("n", FieldValue::Timestamp(0x6500_0000)),
            ("o", FieldValue::Table(Table::from_raw(&nested))),
            ("p", FieldValue::Void),
            ("q", FieldValue::Bytes(&[0])),
        ];
        assert_eq!(entries, expected);
        let FieldValue::Array(array) = entries[12].1 else {
            panic!()
        };
        let values: Vec<_> = array_values(array).collect();
        assert_eq!(
            values,
            [
                Ok(FieldValue::Void),
                Ok(FieldValue::I8(7)),
                Ok(FieldValue::Void)
            ]
        );
        assert_eq!(
            table.get("o").unwrap().map(|v| match v {
                FieldValue::Table(t) => t.get("z"),
                _ => Ok(None),
            }),
            Some(Ok(Some(FieldValue::U8(9))))
        );
        // Writing gives the same bytes, but for the boolean written as 1.
        let mut out = Vec::new();
        encode_table(&expected, &mut out);
        assert_eq!(&out[..4], (raw.len() as u32).to_be_bytes());
        let mut canonical = raw.to_vec();
        canonical[3] = 1;
        assert_eq!(out[4..], canonical);
    }

    #[test]
    fn short_str_values_are_written_as_long_strings() {
        let mut out = Vec::new();
        encode_table(&[("product", FieldValue::ShortStr("Allegro"))], &mut out);
        let table = Table::from_raw(&out[4..]);
        assert_eq!(
            table.get("product"),
            Ok(Some(FieldValue::LongStr(b"Allegro")))
        );
        let mut out = Vec::new();
        encode_array(&[FieldValue::U16(5), FieldValue::Void], &mut out);
        assert_eq!(out, [0, 0, 0, 4, b'u', 0, 5, b'V']);
    }

    #[test]
    fn malformed_tables_yield_one_error_then_stop() {
        // Unknown type letter 'U' (16-bit in the 0-9-1 grammar, not in RabbitMQ's table).
        let t = Table::from_raw(&[1, b'a', b'V', 1, b'b', b'U', 0, 1]);
        let got: Vec<_> = t.iter().collect();
        assert_eq!(got, [Ok(("a", FieldValue::Void)), Err(Error::BadTable)]);
        assert_eq!(t.get("a"), Ok(Some(FieldValue::Void)));
        assert_eq!(t.get("b"), Err(Error::BadTable));
        // A value running past the table's end.
        let t = Table::from_raw(&[1, b'a', b'S', 0, 0, 0, 9, b'x']);
        assert_eq!(t.iter().collect::<Vec<_>>(), [Err(Error::BadTable)]);
        // A name running past the end, and a name that is not UTF-8.
        assert_eq!(
            Table::from_raw(&[5, b'a']).iter().next(),
            Some(Err(Error::BadTable))
        );
        assert_eq!(
            Table::from_raw(&[1, 0xC3, b'V']).iter().next(),
            Some(Err(Error::InvalidUtf8))
        );
        assert_eq!(
            array_values(&[b'I', 0]).collect::<Vec<_>>(),
            [Err(Error::BadTable)]
        );
        assert_eq!(Table::EMPTY.iter().next(), None);
    }
}
