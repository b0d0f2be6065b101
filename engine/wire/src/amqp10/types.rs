//! The AMQP 1.0 type system, decoding side (§1.2 type encodings, §1.6
//! primitive type definitions): the borrowed [`Value`], its lazy compound
//! views and [`decode_value`].
//!
//! Decoding is lazy and never recursive on its own: a list, map or array
//! value only checks its size and count and keeps its element bytes; the
//! elements are decoded one by one by the view's iterator. Every view records
//! how deep it sits, and compound or described values deeper than
//! [`MAX_DEPTH`] are rejected with [`Error::TooDeep`], so any recursive walk
//! over a decoded value is bounded no matter what the input looks like.

use core::fmt;

use super::Error;

/// Deepest nesting of compound and described values that is decoded. A
/// compound or described value at depth `MAX_DEPTH` (the top level is depth
/// 0) is [`Error::TooDeep`].
pub const MAX_DEPTH: u8 = 32;

/// Format codes of the primitive type encodings (§1.6), plus the described
/// type constructor (§1.2).
pub mod code {
    /// Described type constructor: descriptor then value (§1.2).
    pub const DESCRIBED: u8 = 0x00;
    /// null (§1.6.1).
    pub const NULL: u8 = 0x40;
    /// boolean true, zero-width (§1.6.2).
    pub const TRUE: u8 = 0x41;
    /// boolean false, zero-width (§1.6.2).
    pub const FALSE: u8 = 0x42;
    /// uint 0, zero-width (§1.6.5).
    pub const UINT0: u8 = 0x43;
    /// ulong 0, zero-width (§1.6.6).
    pub const ULONG0: u8 = 0x44;
    /// Empty list (§1.6.22).
    pub const LIST0: u8 = 0x45;
    /// ubyte (§1.6.3).
    pub const UBYTE: u8 = 0x50;
    /// byte (§1.6.7).
    pub const BYTE: u8 = 0x51;
    /// uint in one byte (§1.6.5).
    pub const SMALLUINT: u8 = 0x52;
    /// ulong in one byte (§1.6.6).
    pub const SMALLULONG: u8 = 0x53;
    /// int in one byte (§1.6.9).
    pub const SMALLINT: u8 = 0x54;
    /// long in one byte (§1.6.10).
    pub const SMALLLONG: u8 = 0x55;
    /// boolean as one byte 0x00 or 0x01 (§1.6.2).
    pub const BOOLEAN: u8 = 0x56;
    /// ushort (§1.6.4).
    pub const USHORT: u8 = 0x60;
    /// short (§1.6.8).
    pub const SHORT: u8 = 0x61;
    /// uint (§1.6.5).
    pub const UINT: u8 = 0x70;
    /// int (§1.6.9).
    pub const INT: u8 = 0x71;
    /// float, IEEE 754 binary32 (§1.6.11).
    pub const FLOAT: u8 = 0x72;
    /// char, UTF-32BE code point (§1.6.16).
    pub const CHAR: u8 = 0x73;
    /// decimal32, IEEE 754 decimal32 (§1.6.13).
    pub const DECIMAL32: u8 = 0x74;
    /// ulong (§1.6.6).
    pub const ULONG: u8 = 0x80;
    /// long (§1.6.10).
    pub const LONG: u8 = 0x81;
    /// double, IEEE 754 binary64 (§1.6.12).
    pub const DOUBLE: u8 = 0x82;
    /// timestamp, ms since the Unix epoch (§1.6.17).
    pub const TIMESTAMP: u8 = 0x83;
    /// decimal64 (§1.6.14).
    pub const DECIMAL64: u8 = 0x84;
    /// decimal128 (§1.6.15).
    pub const DECIMAL128: u8 = 0x94;
    /// uuid (§1.6.18).
    pub const UUID: u8 = 0x98;
    /// binary, one-byte length (§1.6.19).
    pub const VBIN8: u8 = 0xa0;
    /// string, one-byte length (§1.6.20).
    pub const STR8: u8 = 0xa1;
    /// symbol, one-byte length (§1.6.21).
    pub const SYM8: u8 = 0xa3;
    /// binary, four-byte length (§1.6.19).
    pub const VBIN32: u8 = 0xb0;
    /// string, four-byte length (§1.6.20).
    pub const STR32: u8 = 0xb1;
    /// symbol, four-byte length (§1.6.21).
    pub const SYM32: u8 = 0xb3;
    /// list, one-byte size and count (§1.6.22).
    pub const LIST8: u8 = 0xc0;
    /// map, one-byte size and count (§1.6.23).
    pub const MAP8: u8 = 0xc1;
    /// list, four-byte size and count (§1.6.22).
    pub const LIST32: u8 = 0xd0;
    /// map, four-byte size and count (§1.6.23).
    pub const MAP32: u8 = 0xd1;
    /// array, one-byte size and count (§1.6.24).
    pub const ARRAY8: u8 = 0xe0;
    /// array, four-byte size and count (§1.6.24).
    pub const ARRAY32: u8 = 0xf0;
}

/// One decoded AMQP value (§1.6), borrowing from the input.
///
/// Floating-point values compare by bit pattern, so `NaN == NaN` and the type
/// is `Eq`: a value compares equal to its own re-encoding.
#[derive(Debug, Clone, Copy)]
pub enum Value<'a> {
    /// null (§1.6.1).
    Null,
    /// boolean (§1.6.2).
    Bool(bool),
    /// ubyte (§1.6.3).
    Ubyte(u8),
    /// ushort (§1.6.4).
    Ushort(u16),
    /// uint (§1.6.5).
    Uint(u32),
    /// ulong (§1.6.6).
    Ulong(u64),
    /// byte (§1.6.7).
    Byte(i8),
    /// short (§1.6.8).
    Short(i16),
    /// int (§1.6.9).
    Int(i32),
    /// long (§1.6.10).
    Long(i64),
    /// float (§1.6.11).
    Float(f32),
    /// double (§1.6.12).
    Double(f64),
    /// decimal32, raw IEEE 754 bytes in network order (§1.6.13).
    Decimal32([u8; 4]),
    /// decimal64, raw bytes (§1.6.14).
    Decimal64([u8; 8]),
    /// decimal128, raw bytes (§1.6.15).
    Decimal128([u8; 16]),
    /// char (§1.6.16).
    Char(char),
    /// timestamp: milliseconds since the Unix epoch (§1.6.17).
    Timestamp(i64),
    /// uuid, RFC 4122 byte order (§1.6.18).
    Uuid([u8; 16]),
    /// binary (§1.6.19).
    Binary(&'a [u8]),
    /// string, validated UTF-8 (§1.6.20).
    String(&'a str),
    /// symbol, validated ASCII (§1.6.21).
    Symbol(&'a str),
    /// list (§1.6.22).
    List(ListView<'a>),
    /// map (§1.6.23).
    Map(MapView<'a>),
    /// array (§1.6.24).
    Array(ArrayView<'a>),
    /// described type (§1.2).
    Described(DescribedView<'a>),
}

impl PartialEq for Value<'_> {
    fn eq(&self, other: &Self) -> bool {
        use Value::*;
        match (self, other) {
            (Null, Null) => true,
            (Bool(a), Bool(b)) => a == b,
            (Ubyte(a), Ubyte(b)) => a == b,
            (Ushort(a), Ushort(b)) => a == b,
            (Uint(a), Uint(b)) => a == b,
            (Ulong(a), Ulong(b)) => a == b,
            (Byte(a), Byte(b)) => a == b,
            (Short(a), Short(b)) => a == b,
            (Int(a), Int(b)) => a == b,
            (Long(a), Long(b)) => a == b,
            (Float(a), Float(b)) => a.to_bits() == b.to_bits(),
            (Double(a), Double(b)) => a.to_bits() == b.to_bits(),
            (Decimal32(a), Decimal32(b)) => a == b,
            (Decimal64(a), Decimal64(b)) => a == b,
            (Decimal128(a), Decimal128(b)) => a == b,
            (Char(a), Char(b)) => a == b,
            (Timestamp(a), Timestamp(b)) => a == b,
            (Uuid(a), Uuid(b)) => a == b,
            (Binary(a), Binary(b)) => a == b,
            (String(a), String(b)) => a == b,
            (Symbol(a), Symbol(b)) => a == b,
            (List(a), List(b)) => a == b,
            (Map(a), Map(b)) => a == b,
            (Array(a), Array(b)) => a == b,
            (Described(a), Described(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for Value<'_> {}

impl<'a> Value<'a> {
    /// True for [`Value::Null`].
    pub const fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The text of a string or symbol.
    pub const fn as_str(&self) -> Option<&'a str> {
        match *self {
            Value::String(s) | Value::Symbol(s) => Some(s),
            _ => None,
        }
    }

    /// The bytes of a binary.
    pub const fn as_binary(&self) -> Option<&'a [u8]> {
        match *self {
            Value::Binary(b) => Some(b),
            _ => None,
        }
    }

    /// Any unsigned integer widened to `u64`.
    pub const fn as_u64(&self) -> Option<u64> {
        match *self {
            Value::Ubyte(v) => Some(v as u64),
            Value::Ushort(v) => Some(v as u64),
            Value::Uint(v) => Some(v as u64),
            Value::Ulong(v) => Some(v),
            _ => None,
        }
    }

    /// Any signed integer widened to `i64`.
    pub const fn as_i64(&self) -> Option<i64> {
        match *self {
            Value::Byte(v) => Some(v as i64),
            Value::Short(v) => Some(v as i64),
            Value::Int(v) => Some(v as i64),
            Value::Long(v) => Some(v),
            _ => None,
        }
    }
}

/// The descriptor of a described type (§1.2, §1.5): numeric or symbolic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Descriptor<'a> {
    /// Numeric descriptor: domain id in the high 32 bits, descriptor id in
    /// the low 32 (§1.5). The AMQP-defined ones are the small codes in
    /// [`super::descriptor`].
    Code(u64),
    /// Symbolic descriptor such as `amqp:open:list`.
    Symbol(&'a str),
}

impl Descriptor<'_> {
    /// The numeric code: the code itself, or the code of a symbolic name
    /// that the specification defines (`amqp:transfer:list` is 0x14).
    pub fn code(&self) -> Option<u64> {
        match *self {
            Descriptor::Code(code) => Some(code),
            Descriptor::Symbol(name) => super::descriptor::code_of(name),
        }
    }
}

/// A list (§1.6.22): element count and the encoded elements.
#[derive(Debug, Clone, Copy)]
pub struct ListView<'a> {
    count: u32,
    body: &'a [u8],
    depth: u8,
}

/// A map (§1.6.23): element count (keys and values, always even) and the
/// encoded elements.
#[derive(Debug, Clone, Copy)]
pub struct MapView<'a> {
    count: u32,
    body: &'a [u8],
    depth: u8,
}

/// An array (§1.6.24): element count, the shared element constructor and the
/// encoded elements (each without a constructor).
///
/// The count is checked against the element bytes, except for zero-width
/// element encodings (null, true, false, uint0, ulong0, list0), where a few
/// bytes may legally claim up to 2^32 elements: bound the work when
/// iterating untrusted arrays.
#[derive(Debug, Clone, Copy)]
pub struct ArrayView<'a> {
    count: u32,
    code: u8,
    depth: u8,
    ctor: &'a [u8],
    body: &'a [u8],
}

/// A described value (§1.2): the encoded descriptor and the encoded value,
/// split into its constructor and the bytes after it (for described array
/// elements the two are not next to each other on the wire).
#[derive(Debug, Clone, Copy)]
pub struct DescribedView<'a> {
    /// The encoded descriptor followed by the value's constructor.
    head: &'a [u8],
    /// Length of the descriptor within `head`.
    split: u32,
    depth: u8,
    body: &'a [u8],
}

impl PartialEq for ListView<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.count == other.count && self.body == other.body
    }
}
impl Eq for ListView<'_> {}

impl PartialEq for MapView<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.count == other.count && self.body == other.body
    }
}
impl Eq for MapView<'_> {}

impl PartialEq for ArrayView<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.count == other.count && self.ctor == other.ctor && self.body == other.body
    }
}
impl Eq for ArrayView<'_> {}

/// Described values compare by decoded descriptor and value, so a numeric
/// descriptor written as `0x80` equals the same one written as `0x53`; parts
/// that do not decode compare by their bytes.
impl PartialEq for DescribedView<'_> {
    fn eq(&self, other: &Self) -> bool {
        let descriptors = match (self.descriptor(), other.descriptor()) {
            (Ok(a), Ok(b)) => a == b,
            _ => self.raw_descriptor() == other.raw_descriptor(),
        };
        descriptors
            && match (self.value(), other.value()) {
                (Ok(a), Ok(b)) => a == b,
                _ => self.raw_constructor() == other.raw_constructor() && self.body == other.body,
            }
    }
}
impl Eq for DescribedView<'_> {}

impl<'a> ListView<'a> {
    /// The empty list.
    pub const EMPTY: ListView<'static> = ListView {
        count: 0,
        body: &[],
        depth: 0,
    };

    /// Number of elements.
    pub const fn len(&self) -> usize {
        self.count as usize
    }

    /// True if the list has no elements.
    pub const fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The encoded elements, back to back.
    pub const fn raw(&self) -> &'a [u8] {
        self.body
    }

    /// Nesting depth of this list (0 at the top level).
    pub const fn depth(&self) -> u8 {
        self.depth
    }

    /// Decode the elements one by one. An error ends the iteration.
    pub fn iter(&self) -> Iter<'a> {
        Iter::new(self.body, self.count, self.depth.saturating_add(1))
    }
}

impl<'a> MapView<'a> {
    /// Number of key/value pairs.
    pub const fn len(&self) -> usize {
        (self.count / 2) as usize
    }

    /// True if the map has no entries.
    pub const fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Number of encoded elements: twice [`Self::len`].
    pub const fn count(&self) -> u32 {
        self.count
    }

    /// The encoded keys and values, alternating.
    pub const fn raw(&self) -> &'a [u8] {
        self.body
    }

    /// Nesting depth of this map (0 at the top level).
    pub const fn depth(&self) -> u8 {
        self.depth
    }

    /// Decode the entries one by one as `(key, value)`. An error ends the
    /// iteration.
    pub fn iter(&self) -> MapIter<'a> {
        MapIter {
            inner: Iter::new(self.body, self.count, self.depth.saturating_add(1)),
        }
    }

    /// The value of the first entry whose key equals `key`.
    pub fn get(&self, key: &Value<'_>) -> Result<Option<Value<'a>>, Error> {
        for entry in self.iter() {
            let (k, v) = entry?;
            if k == *key {
                return Ok(Some(v));
            }
        }
        Ok(None)
    }
}

impl<'a> ArrayView<'a> {
    /// Number of elements.
    pub const fn len(&self) -> usize {
        self.count as usize
    }

    /// True if the array has no elements.
    pub const fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The encoded element constructor (a format code, or `0x00`,
    /// descriptor and constructor for described elements).
    pub const fn constructor(&self) -> &'a [u8] {
        self.ctor
    }

    /// The primitive format code of the elements, after any descriptors.
    pub const fn element_code(&self) -> u8 {
        self.code
    }

    /// True if the elements are described values.
    pub const fn is_described(&self) -> bool {
        matches!(self.ctor.first(), Some(&code::DESCRIBED))
    }

    /// The encoded elements, back to back, without constructors.
    pub const fn raw(&self) -> &'a [u8] {
        self.body
    }

    /// Nesting depth of this array (0 at the top level).
    pub const fn depth(&self) -> u8 {
        self.depth
    }

    /// Decode the elements one by one. An error ends the iteration.
    pub fn iter(&self) -> ArrayIter<'a> {
        let depth = self.depth.saturating_add(1);
        ArrayIter {
            // Checked when the array was decoded.
            ctor: read_ctor(self.ctor, depth).map(|(ctor, _)| ctor),
            rest: self.body,
            remaining: self.count,
            depth,
            failed: false,
        }
    }
}

impl<'a> DescribedView<'a> {
    /// The descriptor (§1.5).
    pub fn descriptor(&self) -> Result<Descriptor<'a>, Error> {
        match read_descriptor(self.raw_descriptor())? {
            (descriptor, []) => Ok(descriptor),
            _ => Err(Error::TrailingBytes),
        }
    }

    /// The encoded descriptor.
    pub fn raw_descriptor(&self) -> &'a [u8] {
        self.head.get(..self.split as usize).unwrap_or_default()
    }

    /// The constructor of the described value (usually one format code).
    pub fn raw_constructor(&self) -> &'a [u8] {
        self.head.get(self.split as usize..).unwrap_or_default()
    }

    /// The encoded described value after its constructor.
    pub const fn raw_body(&self) -> &'a [u8] {
        self.body
    }

    /// Nesting depth of this described value (0 at the top level).
    pub const fn depth(&self) -> u8 {
        self.depth
    }

    /// Decode the described value, one level deeper.
    pub fn value(&self) -> Result<Value<'a>, Error> {
        let depth = self.depth.saturating_add(1);
        let (ctor, rest) = read_ctor(self.raw_constructor(), depth)?;
        if !rest.is_empty() {
            return Err(Error::TrailingBytes);
        }
        match decode_with(&ctor, self.body, depth)? {
            (value, []) => Ok(value),
            _ => Err(Error::TrailingBytes),
        }
    }
}

/// Iterator over the elements of a [`ListView`] (or any run of encoded
/// values with a known count). Yields at most one error, then stops.
#[derive(Debug, Clone)]
pub struct Iter<'a> {
    rest: &'a [u8],
    remaining: u32,
    depth: u8,
    failed: bool,
}

impl<'a> Iter<'a> {
    pub(crate) const fn new(body: &'a [u8], count: u32, depth: u8) -> Self {
        Iter {
            rest: body,
            remaining: count,
            depth,
            failed: false,
        }
    }

    /// Elements not yet yielded.
    pub const fn remaining(&self) -> u32 {
        self.remaining
    }
}

impl<'a> Iterator for Iter<'a> {
    type Item = Result<Value<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        if self.remaining == 0 {
            if self.rest.is_empty() {
                return None;
            }
            // The size field covers more bytes than `count` elements use.
            self.failed = true;
            return Some(Err(Error::TrailingBytes));
        }
        match decode_at(self.rest, self.depth) {
            Ok((value, rest)) => {
                self.rest = rest;
                self.remaining -= 1;
                Some(Ok(value))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.failed {
            (0, Some(0))
        } else {
            (0, Some(self.remaining as usize + 1))
        }
    }
}

/// Iterator over the entries of a [`MapView`].
#[derive(Debug, Clone)]
pub struct MapIter<'a> {
    inner: Iter<'a>,
}

impl<'a> Iterator for MapIter<'a> {
    type Item = Result<(Value<'a>, Value<'a>), Error>;

    fn next(&mut self) -> Option<Self::Item> {
        let key = match self.inner.next()? {
            Ok(key) => key,
            Err(e) => return Some(Err(e)),
        };
        match self.inner.next() {
            Some(Ok(value)) => Some(Ok((key, value))),
            Some(Err(e)) => Some(Err(e)),
            // Maps always have an even count, checked when decoding.
            None => Some(Err(Error::Truncated)),
        }
    }
}

/// Iterator over the elements of an [`ArrayView`].
#[derive(Debug, Clone)]
pub struct ArrayIter<'a> {
    ctor: Result<Ctor<'a>, Error>,
    rest: &'a [u8],
    remaining: u32,
    depth: u8,
    failed: bool,
}

impl<'a> Iterator for ArrayIter<'a> {
    type Item = Result<Value<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        if self.remaining == 0 {
            if self.rest.is_empty() {
                return None;
            }
            self.failed = true;
            return Some(Err(Error::TrailingBytes));
        }
        let ctor = match self.ctor {
            Ok(ctor) => ctor,
            Err(e) => {
                self.failed = true;
                return Some(Err(e));
            }
        };
        match decode_with(&ctor, self.rest, self.depth) {
            Ok((value, rest)) => {
                self.rest = rest;
                self.remaining -= 1;
                Some(Ok(value))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

/// A `multiple` symbol field (§1.4 "multiple", e.g. capabilities, locales,
/// SASL mechanisms): absent, one symbol, or an array of symbols. Decoders
/// produce [`Symbols::One`] or [`Symbols::Array`]; encoders usually build
/// [`Symbols::List`]. Two values compare equal when they hold the same
/// symbols in the same order, whatever the representation.
#[derive(Debug, Clone, Copy)]
pub enum Symbols<'a> {
    /// A list given by the caller; written as an array. Empty means absent.
    List(&'a [&'a str]),
    /// A single symbol, as a bare symbol on the wire.
    One(&'a str),
    /// A decoded symbol array.
    Array(ArrayView<'a>),
}

impl Default for Symbols<'_> {
    fn default() -> Self {
        Symbols::EMPTY
    }
}

impl<'a> Symbols<'a> {
    /// No symbols (the field is absent).
    pub const EMPTY: Symbols<'static> = Symbols::List(&[]);

    /// Interpret a decoded field value: null, a symbol or an array of
    /// symbols.
    pub fn from_value(value: Value<'a>) -> Option<Self> {
        match value {
            Value::Null => Some(Symbols::EMPTY),
            Value::Symbol(s) => Some(Symbols::One(s)),
            Value::Array(a)
                if !a.is_described()
                    && (a.element_code() == code::SYM8 || a.element_code() == code::SYM32) =>
            {
                Some(Symbols::Array(a))
            }
            _ => None,
        }
    }

    /// Number of symbols.
    pub const fn len(&self) -> usize {
        match self {
            Symbols::List(list) => list.len(),
            Symbols::One(_) => 1,
            Symbols::Array(a) => a.len(),
        }
    }

    /// True if there are no symbols.
    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The symbols, in order. A malformed array element ends the iteration
    /// with an error.
    pub fn iter(&self) -> SymbolsIter<'a> {
        SymbolsIter {
            inner: match *self {
                Symbols::List(list) => SymbolsInner::List(list.iter()),
                Symbols::One(s) => SymbolsInner::One(Some(s)),
                Symbols::Array(a) => SymbolsInner::Array(a.iter()),
            },
        }
    }

    /// True if `symbol` is one of the symbols (malformed elements are
    /// skipped).
    pub fn contains(&self, symbol: &str) -> bool {
        self.iter().any(|s| s == Ok(symbol))
    }
}

impl PartialEq for Symbols<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}
impl Eq for Symbols<'_> {}

/// Iterator over [`Symbols`].
#[derive(Debug, Clone)]
pub struct SymbolsIter<'a> {
    inner: SymbolsInner<'a>,
}

#[derive(Debug, Clone)]
enum SymbolsInner<'a> {
    List(core::slice::Iter<'a, &'a str>),
    One(Option<&'a str>),
    Array(ArrayIter<'a>),
}

impl<'a> Iterator for SymbolsIter<'a> {
    type Item = Result<&'a str, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.inner {
            SymbolsInner::List(iter) => iter.next().map(|s| Ok(*s)),
            SymbolsInner::One(one) => one.take().map(Ok),
            SymbolsInner::Array(iter) => iter.next().map(|item| match item? {
                Value::Symbol(s) => Ok(s),
                _ => Err(Error::InvalidField("symbol array element")),
            }),
        }
    }
}

impl fmt::Display for Descriptor<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Descriptor::Code(code) => write!(f, "{code:#x}"),
            Descriptor::Symbol(name) => f.write_str(name),
        }
    }
}

/// Decode one value from the front of `input`; returns it and the bytes
/// after it. Compound values are checked for a consistent size and count but
/// their elements are decoded only when iterated.
pub fn decode_value(input: &[u8]) -> Result<(Value<'_>, &[u8]), Error> {
    decode_at(input, 0)
}

/// A parsed constructor (§1.2): the primitive format code and, for a
/// described type, the encoded outermost descriptor followed by the rest of
/// the constructor (`head`, empty when not described) and the descriptor's
/// length within it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ctor<'a> {
    code: u8,
    head: &'a [u8],
    split: u32,
}

/// How many bytes follow a format code (§1.2 "fixed width" and "variable
/// width" / "compound" / "array" categories): a fixed number, or a 1- or
/// 4-byte size followed by that many bytes.
enum Shape {
    Fixed(usize),
    Sized1,
    Sized4,
}

const fn shape(code: u8) -> Option<Shape> {
    use code::*;
    Some(match code {
        NULL | TRUE | FALSE | UINT0 | ULONG0 | LIST0 => Shape::Fixed(0),
        UBYTE | BYTE | SMALLUINT | SMALLULONG | SMALLINT | SMALLLONG | BOOLEAN => Shape::Fixed(1),
        USHORT | SHORT => Shape::Fixed(2),
        UINT | INT | FLOAT | CHAR | DECIMAL32 => Shape::Fixed(4),
        ULONG | LONG | DOUBLE | TIMESTAMP | DECIMAL64 => Shape::Fixed(8),
        DECIMAL128 | UUID => Shape::Fixed(16),
        VBIN8 | STR8 | SYM8 | LIST8 | MAP8 | ARRAY8 => Shape::Sized1,
        VBIN32 | STR32 | SYM32 | LIST32 | MAP32 | ARRAY32 => Shape::Sized4,
        _ => return None,
    })
}

#[inline]
fn split(input: &[u8], n: usize) -> Result<(&[u8], &[u8]), Error> {
    input.split_at_checked(n).ok_or(Error::Truncated)
}

#[inline]
fn fixed<const N: usize>(input: &[u8]) -> Result<([u8; N], &[u8]), Error> {
    match input.split_first_chunk::<N>() {
        Some((head, rest)) => Ok((*head, rest)),
        None => Err(Error::Truncated),
    }
}

#[inline]
fn byte(input: &[u8]) -> Result<(u8, &[u8]), Error> {
    match input.split_first() {
        Some((&b, rest)) => Ok((b, rest)),
        None => Err(Error::Truncated),
    }
}

/// Read a 1- or 4-byte size, then split off that many bytes.
#[inline]
fn sized(input: &[u8], wide: bool) -> Result<(&[u8], &[u8]), Error> {
    if wide {
        let (len, rest) = fixed::<4>(input)?;
        split(rest, u32::from_be_bytes(len) as usize)
    } else {
        let (len, rest) = byte(input)?;
        split(rest, usize::from(len))
    }
}

/// Number of bytes after the constructor for format `code`.
fn body_len(code: u8, input: &[u8]) -> Result<usize, Error> {
    match shape(code) {
        Some(Shape::Fixed(n)) => Ok(n),
        Some(Shape::Sized1) => Ok(1 + usize::from(byte(input)?.0)),
        Some(Shape::Sized4) => {
            Ok((u32::from_be_bytes(fixed::<4>(input)?.0) as usize).saturating_add(4))
        }
        None => Err(Error::InvalidConstructor(code)),
    }
}

/// Read a descriptor (§1.5): a ulong or a symbol; other types are reserved.
pub(crate) fn read_descriptor(input: &[u8]) -> Result<(Descriptor<'_>, &[u8]), Error> {
    let (first, rest) = byte(input)?;
    match first {
        code::SMALLULONG => {
            let (v, rest) = byte(rest)?;
            Ok((Descriptor::Code(u64::from(v)), rest))
        }
        code::ULONG => {
            let (v, rest) = fixed::<8>(rest)?;
            Ok((Descriptor::Code(u64::from_be_bytes(v)), rest))
        }
        code::ULONG0 => Ok((Descriptor::Code(0), rest)),
        code::SYM8 | code::SYM32 => {
            let (name, rest) = sized(rest, first == code::SYM32)?;
            Ok((Descriptor::Symbol(symbol(name)?), rest))
        }
        _ => Err(Error::InvalidDescriptor),
    }
}

/// Parse a constructor at `depth`: a format code, or `0x00` descriptor
/// constructor (§1.2), with described chains bounded by [`MAX_DEPTH`].
fn read_ctor(input: &[u8], depth: u8) -> Result<(Ctor<'_>, &[u8]), Error> {
    let (first, rest) = byte(input)?;
    if first != code::DESCRIBED {
        return Ok((
            Ctor {
                code: first,
                head: &[],
                split: 0,
            },
            rest,
        ));
    }
    if depth >= MAX_DEPTH {
        return Err(Error::TooDeep);
    }
    let (_, after) = read_descriptor(rest)?;
    let split = (rest.len() - after.len()) as u32;
    // The described value's own constructor may be described again.
    let mut cursor = after;
    let mut level = depth.saturating_add(1);
    let code = loop {
        let (b, next) = byte(cursor)?;
        if b != code::DESCRIBED {
            cursor = next;
            break b;
        }
        if level >= MAX_DEPTH {
            return Err(Error::TooDeep);
        }
        cursor = read_descriptor(next)?.1;
        level += 1;
    };
    let head = rest.get(..rest.len() - cursor.len()).unwrap_or_default();
    Ok((Ctor { code, head, split }, cursor))
}

/// Decode one value (constructor included) at nesting `depth`.
#[inline]
pub(crate) fn decode_at(input: &[u8], depth: u8) -> Result<(Value<'_>, &[u8]), Error> {
    match input.split_first() {
        Some((&first, rest)) if first != code::DESCRIBED => decode_body(first, rest, depth),
        _ => {
            let (ctor, rest) = read_ctor(input, depth)?;
            decode_with(&ctor, rest, depth)
        }
    }
}

/// Decode the bytes after constructor `ctor`.
fn decode_with<'a>(
    ctor: &Ctor<'a>,
    input: &'a [u8],
    depth: u8,
) -> Result<(Value<'a>, &'a [u8]), Error> {
    if ctor.head.is_empty() {
        return decode_body(ctor.code, input, depth);
    }
    let (body, rest) = split(input, body_len(ctor.code, input)?)?;
    Ok((
        Value::Described(DescribedView {
            head: ctor.head,
            split: ctor.split,
            depth,
            body,
        }),
        rest,
    ))
}

fn string(bytes: &[u8]) -> Result<&str, Error> {
    core::str::from_utf8(bytes).map_err(|_| Error::InvalidUtf8)
}

fn symbol(bytes: &[u8]) -> Result<&str, Error> {
    if !bytes.is_ascii() {
        return Err(Error::InvalidSymbol);
    }
    core::str::from_utf8(bytes).map_err(|_| Error::InvalidSymbol)
}

/// Size, count and elements of a list or map body (§1.6.22, §1.6.23): the
/// size covers the count field and the elements.
fn compound(input: &[u8], wide: bool) -> Result<(u32, &[u8], &[u8]), Error> {
    let (body, rest) = sized(input, wide)?;
    let (count, elements) = if wide {
        let (count, elements) = fixed::<4>(body).map_err(|_| SIZE_TOO_SMALL)?;
        (u32::from_be_bytes(count), elements)
    } else {
        let (count, elements) = byte(body).map_err(|_| SIZE_TOO_SMALL)?;
        (u32::from(count), elements)
    };
    Ok((count, elements, rest))
}

const SIZE_TOO_SMALL: Error = Error::Malformed("compound size smaller than its count field");
const COUNT_TOO_LARGE: Error = Error::Malformed("element count does not fit in the size");

/// Element count against the element bytes of a list or map: every element
/// takes at least its one-byte constructor, and no elements means no bytes.
#[inline]
fn check_count(count: u32, body: &[u8]) -> Result<(), Error> {
    if count as usize > body.len() {
        Err(COUNT_TOO_LARGE)
    } else if count == 0 && !body.is_empty() {
        Err(Error::TrailingBytes)
    } else {
        Ok(())
    }
}

/// The bytes after a list constructor (list0, list8 or list32).
#[inline]
fn list_body(code: u8, input: &[u8], depth: u8) -> Result<(ListView<'_>, &[u8]), Error> {
    if depth >= MAX_DEPTH {
        return Err(Error::TooDeep);
    }
    if code == code::LIST0 {
        let list = ListView {
            count: 0,
            body: &[],
            depth,
        };
        return Ok((list, input));
    }
    let (count, body, rest) = compound(input, code == code::LIST32)?;
    check_count(count, body)?;
    Ok((ListView { count, body, depth }, rest))
}

/// The bytes after a map constructor (map8 or map32).
#[inline]
fn map_body(code: u8, input: &[u8], depth: u8) -> Result<(MapView<'_>, &[u8]), Error> {
    if depth >= MAX_DEPTH {
        return Err(Error::TooDeep);
    }
    let (count, body, rest) = compound(input, code == code::MAP32)?;
    if count % 2 != 0 {
        return Err(Error::Malformed("map with an odd number of elements"));
    }
    check_count(count, body)?;
    Ok((MapView { count, body, depth }, rest))
}

/// The shapes a described section or composite holds, read without going
/// through [`Value`] (the hot paths for performatives and message
/// sections). `None` when the constructor is of another kind.
pub(crate) enum Shaped<'a> {
    List(ListView<'a>),
    Map(MapView<'a>),
    Binary(&'a [u8]),
}

/// Read a list, map or binary at `depth` from the front of `input`;
/// `Ok(None)` when the value is something else (not consumed).
#[inline]
pub(crate) fn read_shaped(input: &[u8], depth: u8) -> Result<Option<(Shaped<'_>, &[u8])>, Error> {
    let Some((&first, rest)) = input.split_first() else {
        return Err(Error::Truncated);
    };
    Ok(Some(match first {
        code::LIST0 | code::LIST8 | code::LIST32 => {
            let (list, rest) = list_body(first, rest, depth)?;
            (Shaped::List(list), rest)
        }
        code::MAP8 | code::MAP32 => {
            let (map, rest) = map_body(first, rest, depth)?;
            (Shaped::Map(map), rest)
        }
        code::VBIN8 | code::VBIN32 => {
            let (bytes, rest) = sized(rest, first == code::VBIN32)?;
            (Shaped::Binary(bytes), rest)
        }
        _ => return Ok(None),
    }))
}

/// A described value's numeric descriptor at the front of `input`: the
/// fast `00 53 xx` form, any other ulong, or a symbol the specification
/// defines. Returns the code and the bytes after the descriptor; a value
/// that is not described, or an unknown symbol, is
/// [`Error::UnexpectedDescriptor`] naming `expected`.
#[inline]
pub(crate) fn read_descriptor_code<'a>(
    input: &'a [u8],
    expected: &'static str,
) -> Result<(u64, &'a [u8]), Error> {
    if let Some((&[code::DESCRIBED, code::SMALLULONG, c], rest)) = input.split_first_chunk::<3>() {
        return Ok((u64::from(c), rest));
    }
    let unexpected = Error::UnexpectedDescriptor {
        expected,
        code: None,
    };
    match input.split_first() {
        Some((&code::DESCRIBED, rest)) => {
            let (descriptor, rest) = read_descriptor(rest)?;
            Ok((descriptor.code().ok_or(unexpected)?, rest))
        }
        Some(_) => Err(unexpected),
        None => Err(Error::Truncated),
    }
}

/// Decode the bytes after a primitive format `code`.
fn decode_body(code: u8, input: &[u8], depth: u8) -> Result<(Value<'_>, &[u8]), Error> {
    use code::*;
    let compound_depth = || {
        if depth >= MAX_DEPTH {
            Err(Error::TooDeep)
        } else {
            Ok(depth)
        }
    };
    Ok(match code {
        NULL => (Value::Null, input),
        TRUE => (Value::Bool(true), input),
        FALSE => (Value::Bool(false), input),
        UINT0 => (Value::Uint(0), input),
        ULONG0 => (Value::Ulong(0), input),
        LIST0 => (
            Value::List(ListView {
                count: 0,
                body: &[],
                depth: compound_depth()?,
            }),
            input,
        ),
        BOOLEAN => match byte(input)? {
            (0, rest) => (Value::Bool(false), rest),
            (1, rest) => (Value::Bool(true), rest),
            _ => return Err(Error::Malformed("boolean byte other than 0x00 or 0x01")),
        },
        UBYTE => {
            let (v, rest) = byte(input)?;
            (Value::Ubyte(v), rest)
        }
        BYTE => {
            let (v, rest) = byte(input)?;
            (Value::Byte(v as i8), rest)
        }
        SMALLUINT => {
            let (v, rest) = byte(input)?;
            (Value::Uint(u32::from(v)), rest)
        }
        SMALLULONG => {
            let (v, rest) = byte(input)?;
            (Value::Ulong(u64::from(v)), rest)
        }
        SMALLINT => {
            let (v, rest) = byte(input)?;
            (Value::Int(i32::from(v as i8)), rest)
        }
        SMALLLONG => {
            let (v, rest) = byte(input)?;
            (Value::Long(i64::from(v as i8)), rest)
        }
        USHORT => {
            let (v, rest) = fixed::<2>(input)?;
            (Value::Ushort(u16::from_be_bytes(v)), rest)
        }
        SHORT => {
            let (v, rest) = fixed::<2>(input)?;
            (Value::Short(i16::from_be_bytes(v)), rest)
        }
        UINT => {
            let (v, rest) = fixed::<4>(input)?;
            (Value::Uint(u32::from_be_bytes(v)), rest)
        }
        INT => {
            let (v, rest) = fixed::<4>(input)?;
            (Value::Int(i32::from_be_bytes(v)), rest)
        }
        FLOAT => {
            let (v, rest) = fixed::<4>(input)?;
            (Value::Float(f32::from_be_bytes(v)), rest)
        }
        CHAR => {
            let (v, rest) = fixed::<4>(input)?;
            let c = char::from_u32(u32::from_be_bytes(v))
                .ok_or(Error::Malformed("char is not a Unicode scalar value"))?;
            (Value::Char(c), rest)
        }
        DECIMAL32 => {
            let (v, rest) = fixed::<4>(input)?;
            (Value::Decimal32(v), rest)
        }
        ULONG => {
            let (v, rest) = fixed::<8>(input)?;
            (Value::Ulong(u64::from_be_bytes(v)), rest)
        }
        LONG => {
            let (v, rest) = fixed::<8>(input)?;
            (Value::Long(i64::from_be_bytes(v)), rest)
        }
        DOUBLE => {
            let (v, rest) = fixed::<8>(input)?;
            (Value::Double(f64::from_be_bytes(v)), rest)
        }
        TIMESTAMP => {
            let (v, rest) = fixed::<8>(input)?;
            (Value::Timestamp(i64::from_be_bytes(v)), rest)
        }
        DECIMAL64 => {
            let (v, rest) = fixed::<8>(input)?;
            (Value::Decimal64(v), rest)
        }
        DECIMAL128 => {
            let (v, rest) = fixed::<16>(input)?;
            (Value::Decimal128(v), rest)
        }
        UUID => {
            let (v, rest) = fixed::<16>(input)?;
            (Value::Uuid(v), rest)
        }
        VBIN8 | VBIN32 => {
            let (bytes, rest) = sized(input, code == VBIN32)?;
            (Value::Binary(bytes), rest)
        }
        STR8 | STR32 => {
            let (bytes, rest) = sized(input, code == STR32)?;
            (Value::String(string(bytes)?), rest)
        }
        SYM8 | SYM32 => {
            let (bytes, rest) = sized(input, code == SYM32)?;
            (Value::Symbol(symbol(bytes)?), rest)
        }
        LIST8 | LIST32 => {
            let (list, rest) = list_body(code, input, depth)?;
            (Value::List(list), rest)
        }
        MAP8 | MAP32 => {
            let (map, rest) = map_body(code, input, depth)?;
            (Value::Map(map), rest)
        }
        ARRAY8 | ARRAY32 => {
            let depth = compound_depth()?;
            let (count, after_count, rest) = compound(input, code == ARRAY32)?;
            let (ctor, body) = read_ctor(after_count, depth.saturating_add(1))?;
            let ctor_bytes = after_count
                .get(..after_count.len() - body.len())
                .unwrap_or_default();
            match shape(ctor.code) {
                None => return Err(Error::InvalidConstructor(ctor.code)),
                Some(Shape::Fixed(width)) => {
                    if u64::from(count) * width as u64 != body.len() as u64 {
                        return Err(COUNT_TOO_LARGE);
                    }
                }
                Some(_) => check_count(count, body)?,
            }
            (
                Value::Array(ArrayView {
                    count,
                    code: ctor.code,
                    depth,
                    ctor: ctor_bytes,
                    body,
                }),
                rest,
            )
        }
        other => return Err(Error::InvalidConstructor(other)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(bytes: &[u8]) -> Value<'_> {
        match decode_value(bytes) {
            Ok((value, [])) => value,
            other => panic!("{bytes:02x?}: {other:?}"),
        }
    }

    #[test]
    fn fixed_width_primitives() {
        // §1.6: every encoding of each primitive type.
        let cases: &[(&[u8], Value<'_>)] = &[
            (&[0x40], Value::Null),
            (&[0x41], Value::Bool(true)),
            (&[0x42], Value::Bool(false)),
            (&[0x56, 0x01], Value::Bool(true)),
            (&[0x56, 0x00], Value::Bool(false)),
            (&[0x50, 0xff], Value::Ubyte(255)),
            (&[0x60, 0x12, 0x34], Value::Ushort(0x1234)),
            (&[0x70, 0, 0, 1, 0], Value::Uint(256)),
            (&[0x52, 7], Value::Uint(7)),
            (&[0x43], Value::Uint(0)),
            (&[0x80, 0, 0, 0, 0, 0, 0, 1, 0], Value::Ulong(256)),
            (&[0x53, 9], Value::Ulong(9)),
            (&[0x44], Value::Ulong(0)),
            (&[0x51, 0xff], Value::Byte(-1)),
            (&[0x61, 0xff, 0xfe], Value::Short(-2)),
            (&[0x71, 0xff, 0xff, 0xff, 0x00], Value::Int(-256)),
            (&[0x54, 0x80], Value::Int(-128)),
            (&[0x81, 0x80, 0, 0, 0, 0, 0, 0, 0], Value::Long(i64::MIN)),
            (&[0x55, 0x7f], Value::Long(127)),
            (&[0x72, 0x3f, 0x80, 0, 0], Value::Float(1.0)),
            (&[0x82, 0x40, 0, 0, 0, 0, 0, 0, 0], Value::Double(2.0)),
            (&[0x73, 0, 0x01, 0xf6, 0x00], Value::Char('😀')),
            (
                &[0x83, 0, 0, 0, 0, 0, 0, 0x03, 0xe8],
                Value::Timestamp(1000),
            ),
            (&[0x74, 1, 2, 3, 4], Value::Decimal32([1, 2, 3, 4])),
        ];
        for (bytes, value) in cases {
            assert_eq!(one(bytes), *value, "{bytes:02x?}");
        }
        let mut uuid = vec![0x98];
        uuid.extend(1..=16u8);
        assert!(matches!(one(&uuid), Value::Uuid(u) if u[0] == 1 && u[15] == 16));
    }

    #[test]
    fn variable_width() {
        assert_eq!(one(&[0xa0, 2, 0xde, 0xad]), Value::Binary(&[0xde, 0xad]));
        assert_eq!(
            one(&[0xb0, 0, 0, 0, 2, 0xde, 0xad]),
            Value::Binary(&[0xde, 0xad])
        );
        assert_eq!(one(&[0xa1, 2, 0xc3, 0xa9,]), Value::String("é"));
        assert_eq!(one(&[0xb1, 0, 0, 0, 1, b'x']), Value::String("x"));
        assert_eq!(one(&[0xa3, 3, b'a', b':', b'b']), Value::Symbol("a:b"));
        assert_eq!(one(&[0xb3, 0, 0, 0, 0]), Value::Symbol(""));
    }

    #[test]
    fn compounds_iterate_lazily() {
        // list8 [uint 1, "a", null]
        let bytes = [0xc0, 0x07, 0x03, 0x52, 0x01, 0xa1, 0x01, b'a', 0x40];
        let Value::List(list) = one(&bytes) else {
            panic!()
        };
        assert_eq!(list.len(), 3);
        let items: Result<Vec<_>, _> = list.iter().collect();
        assert_eq!(
            items,
            Ok(vec![Value::Uint(1), Value::String("a"), Value::Null])
        );
        // map8 {sym "k": ulong 5}
        let bytes = [0xc1, 0x06, 0x02, 0xa3, 0x01, b'k', 0x53, 0x05];
        let Value::Map(map) = one(&bytes) else {
            panic!()
        };
        assert_eq!(map.len(), 1);
        assert_eq!(map.get(&Value::Symbol("k")), Ok(Some(Value::Ulong(5))));
        assert_eq!(map.get(&Value::Symbol("x")), Ok(None));
        // array8 of two sym8
        let bytes = [0xe0, 0x07, 0x02, 0xa3, 0x01, b'a', 0x02, b'b', b'c'];
        let Value::Array(array) = one(&bytes) else {
            panic!()
        };
        let items: Result<Vec<_>, _> = array.iter().collect();
        assert_eq!(items, Ok(vec![Value::Symbol("a"), Value::Symbol("bc")]));
        let symbols = Symbols::from_value(Value::Array(array)).unwrap();
        assert_eq!(symbols, Symbols::List(&["a", "bc"]));
        assert!(symbols.contains("bc"));
        // list32 and list0
        let bytes = [0xd0, 0, 0, 0, 5, 0, 0, 0, 1, 0x41];
        let Value::List(list) = one(&bytes) else {
            panic!()
        };
        assert_eq!(list.iter().collect::<Vec<_>>(), vec![Ok(Value::Bool(true))]);
        assert!(matches!(one(&[0x45]), Value::List(l) if l.is_empty()));
    }

    #[test]
    fn described_values() {
        // 0x00 smallulong 0x24 list0: `accepted` (§3.4.2).
        let Value::Described(d) = one(&[0x00, 0x53, 0x24, 0x45]) else {
            panic!()
        };
        assert_eq!(d.descriptor(), Ok(Descriptor::Code(0x24)));
        assert!(matches!(d.value(), Ok(Value::List(l)) if l.is_empty()));
        // Symbolic descriptor.
        let mut bytes = vec![0x00, 0xa3, 18];
        bytes.extend_from_slice(b"amqp:accepted:list");
        bytes.push(0x45);
        let Value::Described(d2) = one(&bytes) else {
            panic!()
        };
        assert_eq!(d2.descriptor().map(|d| d.code()), Ok(Some(0x24)));
        // Array of described ulongs: constructor 0x00 0x53 0x07 0x80.
        let mut bytes = vec![0xe0, 21, 2, 0x00, 0x53, 0x07, 0x80];
        bytes.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2]);
        let Value::Array(array) = one(&bytes) else {
            panic!()
        };
        assert!(array.is_described());
        let values: Vec<_> = array
            .iter()
            .map(|v| match v {
                Ok(Value::Described(d)) => (d.descriptor(), d.value()),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            values,
            vec![
                (Ok(Descriptor::Code(7)), Ok(Value::Ulong(1))),
                (Ok(Descriptor::Code(7)), Ok(Value::Ulong(2)))
            ]
        );
    }

    #[test]
    fn malformed() {
        let err = |bytes: &[u8]| decode_value(bytes).map(|(v, _)| v).unwrap_err();
        assert_eq!(err(&[]), Error::Truncated);
        assert_eq!(err(&[0x70, 0, 0]), Error::Truncated);
        assert_eq!(err(&[0x46]), Error::InvalidConstructor(0x46));
        assert_eq!(err(&[0xa2, 0]), Error::InvalidConstructor(0xa2));
        assert_eq!(err(&[0xa1, 1, 0xff]), Error::InvalidUtf8);
        assert_eq!(err(&[0xa3, 1, 0xc3]), Error::InvalidSymbol);
        assert_eq!(err(&[0x56, 2]), err(&[0x56, 3]));
        assert_eq!(err(&[0x73, 0, 0, 0xd8, 0]), err(&[0x73, 0x11, 0, 0, 0]));
        // Size field longer than the input.
        assert_eq!(err(&[0xb0, 0, 0, 1, 0, 1]), Error::Truncated);
        assert_eq!(err(&[0xc0, 5, 1, 0x40]), Error::Truncated);
        // Size too small for the count, count larger than the bytes.
        assert_eq!(err(&[0xc0, 0]), SIZE_TOO_SMALL);
        assert_eq!(err(&[0xd0, 0, 0, 0, 2, 0, 0]), SIZE_TOO_SMALL);
        assert_eq!(err(&[0xc0, 2, 5, 0x40]), COUNT_TOO_LARGE);
        assert!(matches!(err(&[0xc1, 2, 1, 0x40]), Error::Malformed(_)));
        // No elements but element bytes (list, map, array).
        assert_eq!(err(&[0xc0, 2, 0, 0x40]), Error::TrailingBytes);
        assert_eq!(err(&[0xc1, 2, 0, 0x40]), Error::TrailingBytes);
        assert_eq!(err(&[0xe0, 4, 0, 0xa3, 1, b'a']), Error::TrailingBytes);
        // Array count not matching fixed-width elements.
        assert_eq!(err(&[0xe0, 4, 3, 0x52, 1, 2]), COUNT_TOO_LARGE);
        // Array without a constructor, with a bad constructor.
        assert_eq!(err(&[0xe0, 1, 0]), Error::Truncated);
        assert_eq!(err(&[0xe0, 2, 0, 0xff]), Error::InvalidConstructor(0xff));
        // Descriptor that is neither ulong nor symbol.
        assert_eq!(err(&[0x00, 0xa1, 1, b'x', 0x40]), Error::InvalidDescriptor);
        assert_eq!(err(&[0x00, 0x53]), Error::Truncated);
        // Described value with a bad constructor.
        assert_eq!(err(&[0x00, 0x53, 1, 0xff]), Error::InvalidConstructor(0xff));
    }

    #[test]
    fn lying_sizes_surface_while_iterating() {
        // list8 claiming 2 elements but holding 1 byte of element data + junk
        // is caught by the count check; one holding more than `count`
        // elements is caught at the end of the iteration.
        let bytes = [0xc0, 0x04, 0x01, 0x41, 0x41, 0x41];
        let Value::List(list) = one(&bytes) else {
            panic!()
        };
        let items: Vec<_> = list.iter().collect();
        assert_eq!(
            items,
            vec![Ok(Value::Bool(true)), Err(Error::TrailingBytes)]
        );
        // An element whose own size runs past the list.
        let bytes = [0xc0, 0x03, 0x01, 0xa0, 0x05];
        let Value::List(list) = one(&bytes) else {
            panic!()
        };
        assert_eq!(list.iter().collect::<Vec<_>>(), vec![Err(Error::Truncated)]);
    }

    /// Walk a value recursively; returns the deepest error.
    fn walk(value: Value<'_>) -> Result<usize, Error> {
        Ok(match value {
            Value::List(l) => {
                let mut n = 1;
                for item in l.iter() {
                    n += walk(item?)?;
                }
                n
            }
            Value::Described(d) => walk(d.value()?)? + 1,
            _ => 1,
        })
    }

    #[test]
    fn depth_bomb_is_bounded() {
        // 10,000 nested list8s: each is `c0 size 01 <inner>`; sizes saturate,
        // so build them as list32s.
        let levels = 10_000usize;
        let mut bytes = Vec::new();
        for i in 0..levels {
            let inner = 9 * (levels - i - 1) + 1;
            bytes.push(0xd0);
            bytes.extend_from_slice(&(inner as u32 + 4).to_be_bytes());
            bytes.extend_from_slice(&1u32.to_be_bytes());
        }
        bytes.push(0x40);
        let (value, rest) = decode_value(&bytes).unwrap();
        assert!(rest.is_empty());
        assert_eq!(walk(value), Err(Error::TooDeep));
        // A shallow one is fine.
        let ok = [0xc0, 0x04, 0x01, 0xc0, 0x01, 0x00];
        assert_eq!(walk(one(&ok)), Ok(2));
        // Described chains: 0x00 0x53 0x01 repeated.
        let mut chain = Vec::new();
        for _ in 0..1000 {
            chain.extend_from_slice(&[0x00, 0x53, 0x01]);
        }
        chain.push(0x40);
        assert_eq!(decode_value(&chain).map(|_| ()), Err(Error::TooDeep));
        // Just under the limit decodes and walks.
        let mut chain = Vec::new();
        for _ in 0..MAX_DEPTH {
            chain.extend_from_slice(&[0x00, 0x53, 0x01]);
        }
        chain.push(0x40);
        assert_eq!(walk(one(&chain)), Ok(MAX_DEPTH as usize + 1));
    }
}
