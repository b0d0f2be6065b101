//! The AMQP 1.0 type system, encoding side (§1.2, §1.6): an [`Encoder`] that
//! always picks the smallest encoding, and the field reader the composite
//! types (§1.4) decode with.
//!
//! Compound values are written with a placeholder header that is patched
//! (and shrunk to the one-byte form when it fits) once the elements are
//! known, so nothing is measured twice. The same code also runs over a
//! [`Counter`] to compute exact encoded sizes without writing.

use super::types::{
    code, decode_at, read_descriptor_code, read_shaped, Descriptor, Iter, ListView, MapView,
    Shaped, Symbols, Value,
};
use super::Error;

/// Where an [`Encoder`] writes: a `Vec<u8>`, or a [`Counter`] that only
/// counts.
pub trait Sink {
    /// Append bytes.
    fn put(&mut self, bytes: &[u8]);
    /// Number of bytes written so far.
    fn position(&self) -> usize;
    /// Replace the `placeholder` bytes written at `at` by `header`, moving
    /// what follows when the lengths differ.
    fn patch(&mut self, at: usize, placeholder: usize, header: &[u8]);
}

impl Sink for Vec<u8> {
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }

    #[inline]
    fn position(&self) -> usize {
        self.len()
    }

    #[inline]
    fn patch(&mut self, at: usize, placeholder: usize, header: &[u8]) {
        let end = at.saturating_add(placeholder);
        if end > self.len() {
            return;
        }
        if header.len() == placeholder {
            if let Some(slot) = self.get_mut(at..end) {
                slot.copy_from_slice(header);
            }
        } else {
            self.splice(at..end, header.iter().copied());
        }
    }
}

/// A [`Sink`] that only counts bytes: `Encoder::new(&mut counter)` runs an
/// encoding to learn its exact size.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counter(pub usize);

impl Sink for Counter {
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        self.0 += bytes.len();
    }

    #[inline]
    fn position(&self) -> usize {
        self.0
    }

    #[inline]
    fn patch(&mut self, _at: usize, placeholder: usize, header: &[u8]) {
        self.0 = (self.0 + header.len()).saturating_sub(placeholder);
    }
}

/// Writes AMQP values in their smallest encoding (§1.6): `true`/`false` as
/// 0x41/0x42, `uint`/`ulong` 0 as 0x43/0x44 and below 256 as 0x52/0x53,
/// `int`/`long` in -128..=127 as 0x54/0x55, one-byte lengths and sizes
/// (vbin8, str8, sym8, list8, map8, array8) whenever they fit, and `list0`
/// for an empty list.
///
/// Every method writes exactly one value; inside [`Encoder::list`] and
/// [`Encoder::map`] the number of calls is the element count.
///
/// ```
/// use allegro_wire::amqp10::{decode_value, Encoder, Value};
///
/// let mut out = Vec::new();
/// Encoder::new(&mut out).list(|e| {
///     e.uint(7);
///     e.symbol("x");
/// });
/// assert_eq!(out, [0xc0, 0x06, 0x02, 0x52, 0x07, 0xa3, 0x01, b'x']);
/// let (Value::List(list), _) = decode_value(&out).unwrap() else { panic!() };
/// assert_eq!(list.len(), 2);
/// ```
#[derive(Debug)]
pub struct Encoder<'s, S: Sink = Vec<u8>> {
    sink: &'s mut S,
    count: u32,
    /// Nulls not yet written: trailing absent fields of a composite list are
    /// dropped (§1.4 list encodings may be truncated).
    pending_nulls: u32,
}

impl<'s, S: Sink> Encoder<'s, S> {
    /// An encoder appending to `sink`.
    #[inline]
    pub fn new(sink: &'s mut S) -> Self {
        Encoder {
            sink,
            count: 0,
            pending_nulls: 0,
        }
    }

    /// Number of values written through this encoder.
    #[inline]
    pub const fn count(&self) -> u32 {
        self.count
    }

    #[inline]
    fn one(&mut self, bytes: &[u8]) {
        self.sink.put(bytes);
        self.count += 1;
    }

    /// null (§1.6.1).
    #[inline]
    pub fn null(&mut self) {
        self.one(&[code::NULL]);
    }

    /// boolean (§1.6.2): 0x41 or 0x42.
    #[inline]
    pub fn bool(&mut self, v: bool) {
        self.one(&[if v { code::TRUE } else { code::FALSE }]);
    }

    /// ubyte (§1.6.3).
    #[inline]
    pub fn ubyte(&mut self, v: u8) {
        self.one(&[code::UBYTE, v]);
    }

    /// ushort (§1.6.4).
    #[inline]
    pub fn ushort(&mut self, v: u16) {
        let [a, b] = v.to_be_bytes();
        self.one(&[code::USHORT, a, b]);
    }

    /// uint (§1.6.5): uint0, smalluint or uint.
    #[inline]
    pub fn uint(&mut self, v: u32) {
        // Fixed-size writes in every branch: no length-dependent copy.
        match v {
            0 => self.one(&[code::UINT0]),
            1..=255 => self.one(&[code::SMALLUINT, v as u8]),
            _ => {
                let [a, b, c, d] = v.to_be_bytes();
                self.one(&[code::UINT, a, b, c, d]);
            }
        }
    }

    /// ulong (§1.6.6): ulong0, smallulong or ulong.
    #[inline]
    pub fn ulong(&mut self, v: u64) {
        match v {
            0 => self.one(&[code::ULONG0]),
            1..=255 => self.one(&[code::SMALLULONG, v as u8]),
            _ => self.fixed8(code::ULONG, v.to_be_bytes()),
        }
    }

    /// byte (§1.6.7).
    #[inline]
    pub fn byte(&mut self, v: i8) {
        self.one(&[code::BYTE, v as u8]);
    }

    /// short (§1.6.8).
    #[inline]
    pub fn short(&mut self, v: i16) {
        let [a, b] = v.to_be_bytes();
        self.one(&[code::SHORT, a, b]);
    }

    /// int (§1.6.9): smallint or int.
    #[inline]
    pub fn int(&mut self, v: i32) {
        match i8::try_from(v) {
            Ok(small) => self.one(&[code::SMALLINT, small as u8]),
            Err(_) => {
                let [a, b, c, d] = v.to_be_bytes();
                self.one(&[code::INT, a, b, c, d]);
            }
        }
    }

    /// long (§1.6.10): smalllong or long.
    #[inline]
    pub fn long(&mut self, v: i64) {
        match i8::try_from(v) {
            Ok(small) => self.one(&[code::SMALLLONG, small as u8]),
            Err(_) => self.fixed8(code::LONG, v.to_be_bytes()),
        }
    }

    /// float (§1.6.11).
    #[inline]
    pub fn float(&mut self, v: f32) {
        let [a, b, c, d] = v.to_be_bytes();
        self.one(&[code::FLOAT, a, b, c, d]);
    }

    /// double (§1.6.12).
    #[inline]
    pub fn double(&mut self, v: f64) {
        self.fixed8(code::DOUBLE, v.to_be_bytes());
    }

    /// decimal32 (§1.6.13), raw bytes.
    #[inline]
    pub fn decimal32(&mut self, v: [u8; 4]) {
        let [a, b, c, d] = v;
        self.one(&[code::DECIMAL32, a, b, c, d]);
    }

    /// decimal64 (§1.6.14), raw bytes.
    #[inline]
    pub fn decimal64(&mut self, v: [u8; 8]) {
        self.fixed8(code::DECIMAL64, v);
    }

    /// decimal128 (§1.6.15), raw bytes.
    #[inline]
    pub fn decimal128(&mut self, v: [u8; 16]) {
        self.sink.put(&[code::DECIMAL128]);
        self.one(&v);
    }

    /// char (§1.6.16), UTF-32BE.
    #[inline]
    pub fn char(&mut self, v: char) {
        let [a, b, c, d] = u32::from(v).to_be_bytes();
        self.one(&[code::CHAR, a, b, c, d]);
    }

    /// timestamp (§1.6.17): milliseconds since the Unix epoch.
    #[inline]
    pub fn timestamp(&mut self, ms: i64) {
        self.fixed8(code::TIMESTAMP, ms.to_be_bytes());
    }

    /// uuid (§1.6.18).
    #[inline]
    pub fn uuid(&mut self, v: [u8; 16]) {
        self.sink.put(&[code::UUID]);
        self.one(&v);
    }

    #[inline]
    fn fixed8(&mut self, code: u8, v: [u8; 8]) {
        let [a, b, c, d, e, f, g, h] = v;
        self.one(&[code, a, b, c, d, e, f, g, h]);
    }

    #[inline]
    fn sized(&mut self, code8: u8, code32: u8, bytes: &[u8]) {
        match u8::try_from(bytes.len()) {
            Ok(len) => self.sink.put(&[code8, len]),
            Err(_) => {
                let [a, b, c, d] = u32_len(bytes.len()).to_be_bytes();
                self.sink.put(&[code32, a, b, c, d]);
            }
        }
        self.one(bytes);
    }

    /// binary (§1.6.19): vbin8 or vbin32.
    #[inline]
    pub fn binary(&mut self, v: &[u8]) {
        self.sized(code::VBIN8, code::VBIN32, v);
    }

    /// string (§1.6.20): str8-utf8 or str32-utf8.
    #[inline]
    pub fn string(&mut self, v: &str) {
        self.sized(code::STR8, code::STR32, v.as_bytes());
    }

    /// symbol (§1.6.21): sym8 or sym32. Symbols are ASCII; other text is
    /// written as given and will not decode.
    #[inline]
    pub fn symbol(&mut self, v: &str) {
        self.sized(code::SYM8, code::SYM32, v.as_bytes());
    }

    /// Write a compound with a placeholder one-byte size/count header, run
    /// `f` for the elements, then patch the header (§1.6.22, §1.6.23): in
    /// place for the usual small compound, moving the elements only for
    /// list0 or a four-byte header.
    #[inline]
    fn compound(
        &mut self,
        code8: u8,
        code32: u8,
        list0: bool,
        f: impl FnOnce(&mut Encoder<'_, S>),
    ) {
        let at = self.sink.position();
        self.sink.put(&[code8, 0, 0]);
        let mut inner = Encoder::new(&mut *self.sink);
        f(&mut inner);
        let count = inner.count;
        let body = self.sink.position().saturating_sub(at + 3);
        if count <= 255 && body < 255 && !(list0 && count == 0) {
            // The usual case: the placeholder is the right size.
            self.sink
                .patch(at, 3, &[code8, (body + 1) as u8, count as u8]);
        } else {
            let mut header = [0u8; 9];
            let n = compound_header(code8, code32, list0, count, body, &mut header);
            self.sink.patch(at, 3, header.get(..n).unwrap_or_default());
        }
        self.count += 1;
    }

    /// list (§1.6.22): `f` writes the elements. Empty lists are list0.
    #[inline]
    pub fn list(&mut self, f: impl FnOnce(&mut Encoder<'_, S>)) {
        self.compound(code::LIST8, code::LIST32, true, f);
    }

    /// map (§1.6.23): `f` writes keys and values alternately.
    #[inline]
    pub fn map(&mut self, f: impl FnOnce(&mut Encoder<'_, S>)) {
        self.compound(code::MAP8, code::MAP32, false, f);
    }

    /// A compound whose elements are already encoded.
    #[inline]
    fn compound_raw(&mut self, code8: u8, code32: u8, list0: bool, count: u32, body: &[u8]) {
        let mut header = [0u8; 9];
        let n = compound_header(code8, code32, list0, count, body.len(), &mut header);
        self.sink.put(header.get(..n).unwrap_or_default());
        self.one(body);
    }

    /// array (§1.6.24) from an element constructor and `count` elements
    /// already encoded without constructors.
    #[inline]
    pub fn array_raw(&mut self, constructor: &[u8], count: u32, elements: &[u8]) {
        let size = 1 + constructor.len() + elements.len();
        if count <= 255 && size <= 255 {
            self.sink.put(&[code::ARRAY8, size as u8, count as u8]);
        } else {
            let mut head = [0u8; 9];
            head[0] = code::ARRAY32;
            head[1..5].copy_from_slice(&u32_len(size + 3).to_be_bytes());
            head[5..9].copy_from_slice(&count.to_be_bytes());
            self.sink.put(&head);
        }
        self.sink.put(constructor);
        self.one(elements);
    }

    /// An array of symbols (§1.6.24), sym8 elements unless one is longer
    /// than 255 bytes.
    #[inline]
    pub fn symbol_array(&mut self, symbols: &[&str]) {
        let wide = symbols.iter().any(|s| s.len() > 255);
        let prefix = if wide { 4 } else { 1 };
        let elements: usize = symbols.iter().map(|s| prefix + s.len()).sum();
        let size = 2 + elements;
        let count = u32_len(symbols.len());
        let ctor = if wide { code::SYM32 } else { code::SYM8 };
        if count <= 255 && size <= 255 {
            self.sink
                .put(&[code::ARRAY8, size as u8, count as u8, ctor]);
        } else {
            let mut head = [0u8; 10];
            head[0] = code::ARRAY32;
            head[1..5].copy_from_slice(&u32_len(size + 3).to_be_bytes());
            head[5..9].copy_from_slice(&count.to_be_bytes());
            head[9] = ctor;
            self.sink.put(&head);
        }
        for s in symbols {
            if wide {
                self.sink.put(&u32_len(s.len()).to_be_bytes());
            } else {
                self.sink.put(&[s.len() as u8]);
            }
            self.sink.put(s.as_bytes());
        }
        self.count += 1;
    }

    /// A `multiple` symbol field (§1.4): a bare symbol for
    /// [`Symbols::One`], an array otherwise.
    #[inline]
    pub fn symbols(&mut self, symbols: &Symbols<'_>) {
        match *symbols {
            Symbols::List(list) => self.symbol_array(list),
            Symbols::One(s) => self.symbol(s),
            Symbols::Array(a) => self.array_raw(a.constructor(), a.len() as u32, a.raw()),
        }
    }

    /// A descriptor (§1.5) without counting it as a value.
    #[inline]
    fn descriptor(&mut self, descriptor: Descriptor<'_>) {
        let mut inner = Encoder::new(&mut *self.sink);
        match descriptor {
            Descriptor::Code(c) => inner.ulong(c),
            Descriptor::Symbol(s) => inner.symbol(s),
        }
    }

    /// A described value (§1.2): 0x00, the descriptor, then the one value
    /// `f` writes.
    #[inline]
    pub fn described(&mut self, descriptor: Descriptor<'_>, f: impl FnOnce(&mut Encoder<'_, S>)) {
        self.sink.put(&[code::DESCRIBED]);
        self.descriptor(descriptor);
        let mut inner = Encoder::new(&mut *self.sink);
        f(&mut inner);
        self.count += 1;
    }

    /// A described list with a numeric descriptor: the shape of every
    /// composite type (§1.4). `f` writes the fields.
    #[inline]
    pub fn described_list(&mut self, descriptor: u64, f: impl FnOnce(&mut Encoder<'_, S>)) {
        self.sink.put(&[code::DESCRIBED]);
        self.descriptor(Descriptor::Code(descriptor));
        self.list(f);
    }

    /// Any decoded value, in its smallest encoding. Compound values keep
    /// their element bytes as they are and get the smallest header;
    /// described values are re-encoded one level down (their descriptor and
    /// value), or copied if they do not decode.
    #[inline]
    pub fn value(&mut self, value: &Value<'_>) {
        match *value {
            Value::Null => self.null(),
            Value::Bool(v) => self.bool(v),
            Value::Ubyte(v) => self.ubyte(v),
            Value::Ushort(v) => self.ushort(v),
            Value::Uint(v) => self.uint(v),
            Value::Ulong(v) => self.ulong(v),
            Value::Byte(v) => self.byte(v),
            Value::Short(v) => self.short(v),
            Value::Int(v) => self.int(v),
            Value::Long(v) => self.long(v),
            Value::Float(v) => self.float(v),
            Value::Double(v) => self.double(v),
            Value::Decimal32(v) => self.decimal32(v),
            Value::Decimal64(v) => self.decimal64(v),
            Value::Decimal128(v) => self.decimal128(v),
            Value::Char(v) => self.char(v),
            Value::Timestamp(v) => self.timestamp(v),
            Value::Uuid(v) => self.uuid(v),
            Value::Binary(v) => self.binary(v),
            Value::String(v) => self.string(v),
            Value::Symbol(v) => self.symbol(v),
            Value::List(l) => self.list_view(&l),
            Value::Map(m) => self.map_view(&m),
            Value::Array(a) => self.array_raw(a.constructor(), a.len() as u32, a.raw()),
            Value::Described(d) => {
                self.sink.put(&[code::DESCRIBED]);
                match d.descriptor() {
                    Ok(descriptor) => self.descriptor(descriptor),
                    Err(_) => self.sink.put(d.raw_descriptor()),
                }
                match d.value() {
                    Ok(inner) => Encoder::new(&mut *self.sink).value(&inner),
                    Err(_) => {
                        self.sink.put(d.raw_constructor());
                        self.sink.put(d.raw_body());
                    }
                }
                self.count += 1;
            }
        }
    }

    /// A decoded list with the smallest header.
    #[inline]
    pub fn list_view(&mut self, list: &ListView<'_>) {
        self.compound_raw(
            code::LIST8,
            code::LIST32,
            true,
            list.len() as u32,
            list.raw(),
        );
    }

    /// A decoded map with the smallest header.
    #[inline]
    pub fn map_view(&mut self, map: &MapView<'_>) {
        self.compound_raw(code::MAP8, code::MAP32, false, map.count(), map.raw());
    }

    /// Write a composite field (§1.4): `None` is an absent field, written as
    /// null only if a later field is present.
    #[inline]
    pub(crate) fn field<T>(&mut self, value: Option<T>, write: impl FnOnce(&mut Self, T)) {
        match value {
            None => self.pending_nulls += 1,
            Some(v) => {
                for _ in 0..self.pending_nulls {
                    self.null();
                }
                self.pending_nulls = 0;
                write(self, v);
            }
        }
    }

    /// A `multiple` symbol field: absent when empty.
    #[inline]
    pub(crate) fn symbols_field(&mut self, symbols: &Symbols<'_>) {
        self.field((!symbols.is_empty()).then_some(symbols), |e, s| {
            e.symbols(s)
        });
    }
}

/// `Some(value)` unless it equals the field's default, which is then left
/// out (§1.4: an absent field takes its default).
#[inline]
pub(crate) fn non_default<T: PartialEq>(value: T, default: T) -> Option<T> {
    (value != default).then_some(value)
}

/// `Some(true)` for true flags whose default is false.
#[inline]
pub(crate) fn flag(value: bool) -> Option<bool> {
    value.then_some(true)
}

#[inline]
pub(crate) fn u32_len(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

/// A small stack buffer for hot-path encoders: bytes beyond `N` are
/// dropped (callers size `N` for the largest case).
pub(crate) struct Scratch<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> Scratch<N> {
    #[inline]
    pub(crate) const fn new() -> Self {
        Scratch {
            buf: [0; N],
            len: 0,
        }
    }

    /// A fixed number of bytes: compiles to plain stores.
    #[inline]
    pub(crate) fn put_array<const M: usize>(&mut self, bytes: [u8; M]) {
        if let Some(slot) = self.buf.get_mut(self.len..self.len + M) {
            slot.copy_from_slice(&bytes);
            self.len += M;
        }
    }

    /// Smallest uint encoding.
    #[inline]
    pub(crate) fn uint(&mut self, v: u32) {
        match v {
            0 => self.put_array([code::UINT0]),
            1..=255 => self.put_array([code::SMALLUINT, v as u8]),
            _ => {
                let [a, b, c, d] = v.to_be_bytes();
                self.put_array([code::UINT, a, b, c, d]);
            }
        }
    }

    #[inline]
    pub(crate) fn as_slice(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }

    /// Append the bytes to `out`. With room to spare, all `N` bytes are
    /// copied (a fixed-size copy) and the excess cut off again.
    #[inline]
    pub(crate) fn flush_into(&self, out: &mut Vec<u8>) {
        if out.capacity() - out.len() >= N {
            out.extend_from_slice(&self.buf);
            out.truncate(out.len() - (N - self.len));
        } else {
            out.extend_from_slice(self.as_slice());
        }
    }
}

/// Size of the smallest uint encoding.
#[inline]
pub(crate) const fn uint_len(v: u32) -> usize {
    if v == 0 {
        1
    } else if v < 256 {
        2
    } else {
        5
    }
}

/// Header of a list or map with `count` elements taking `body` bytes;
/// returns its length (1, 3 or 9).
#[inline]
pub(crate) fn compound_header(
    code8: u8,
    code32: u8,
    list0: bool,
    count: u32,
    body: usize,
    buf: &mut [u8; 9],
) -> usize {
    if list0 && count == 0 && body == 0 {
        buf[0] = code::LIST0;
        1
    } else if count <= 255 && body < 255 {
        buf[0] = code8;
        buf[1] = (body + 1) as u8;
        buf[2] = count as u8;
        3
    } else {
        buf[0] = code32;
        buf[1..5].copy_from_slice(&u32_len(body.saturating_add(4)).to_be_bytes());
        buf[5..9].copy_from_slice(&count.to_be_bytes());
        9
    }
}

/// Reads the fields of a composite list (§1.4) in order. Missing trailing
/// fields and nulls are `None`; a field of the wrong type is
/// [`Error::InvalidField`] naming it. The common encodings of scalar fields
/// are read straight from the bytes; everything else goes through
/// [`decode_at`].
pub(crate) struct Fields<'a> {
    rest: &'a [u8],
    remaining: u32,
    depth: u8,
}

impl<'a> Fields<'a> {
    pub(crate) fn new(list: &ListView<'a>) -> Self {
        Fields {
            rest: list.raw(),
            remaining: list.len() as u32,
            depth: list.depth().saturating_add(1),
        }
    }

    /// The constructor byte of the next field, if there is a next field. A
    /// field missing from the bytes reads as `0x00`, which no fast path
    /// handles, so the general path reports it.
    #[inline]
    fn peek(&self) -> Option<u8> {
        if self.remaining == 0 {
            None
        } else {
            Some(self.rest.first().copied().unwrap_or(code::DESCRIBED))
        }
    }

    /// Consume a field of `len` bytes (constructor included) read by a fast
    /// path.
    #[inline]
    fn advance(&mut self, len: usize) -> Result<&'a [u8], Error> {
        let (field, rest) = self.rest.split_at_checked(len).ok_or(Error::Truncated)?;
        self.rest = rest;
        self.remaining -= 1;
        Ok(field)
    }

    /// The next field, `None` when absent or null.
    pub(crate) fn next(&mut self) -> Result<Option<Value<'a>>, Error> {
        if self.remaining == 0 {
            return Ok(None);
        }
        let (value, rest) = decode_at(self.rest, self.depth)?;
        self.rest = rest;
        self.remaining -= 1;
        Ok(match value {
            Value::Null => None,
            v => Some(v),
        })
    }

    fn typed<T>(
        &mut self,
        name: &'static str,
        f: impl FnOnce(Value<'a>) -> Option<T>,
    ) -> Result<Option<T>, Error> {
        match self.next()? {
            None => Ok(None),
            Some(v) => f(v).map(Some).ok_or(Error::InvalidField(name)),
        }
    }

    pub(crate) fn bool(&mut self, name: &'static str) -> Result<Option<bool>, Error> {
        match self.peek() {
            None => Ok(None),
            Some(code::NULL) => self.advance(1).map(|_| None),
            Some(code::TRUE) => self.advance(1).map(|_| Some(true)),
            Some(code::FALSE) => self.advance(1).map(|_| Some(false)),
            Some(_) => self.typed(name, |v| match v {
                Value::Bool(b) => Some(b),
                _ => None,
            }),
        }
    }

    pub(crate) fn ubyte(&mut self, name: &'static str) -> Result<Option<u8>, Error> {
        self.typed(name, |v| match v {
            Value::Ubyte(b) => Some(b),
            _ => None,
        })
    }

    pub(crate) fn ushort(&mut self, name: &'static str) -> Result<Option<u16>, Error> {
        self.typed(name, |v| match v {
            Value::Ushort(b) => Some(b),
            _ => None,
        })
    }

    pub(crate) fn uint(&mut self, name: &'static str) -> Result<Option<u32>, Error> {
        match self.peek() {
            None => Ok(None),
            Some(code::NULL) => self.advance(1).map(|_| None),
            Some(code::UINT0) => self.advance(1).map(|_| Some(0)),
            Some(code::SMALLUINT) => match *self.advance(2)? {
                [_, v] => Ok(Some(u32::from(v))),
                _ => Err(Error::Truncated),
            },
            Some(code::UINT) => match *self.advance(5)? {
                [_, a, b, c, d] => Ok(Some(u32::from_be_bytes([a, b, c, d]))),
                _ => Err(Error::Truncated),
            },
            Some(_) => self.typed(name, |v| match v {
                Value::Uint(b) => Some(b),
                _ => None,
            }),
        }
    }

    pub(crate) fn ulong(&mut self, name: &'static str) -> Result<Option<u64>, Error> {
        self.typed(name, |v| match v {
            Value::Ulong(b) => Some(b),
            _ => None,
        })
    }

    pub(crate) fn timestamp(&mut self, name: &'static str) -> Result<Option<i64>, Error> {
        self.typed(name, |v| match v {
            Value::Timestamp(t) => Some(t),
            _ => None,
        })
    }

    pub(crate) fn string(&mut self, name: &'static str) -> Result<Option<&'a str>, Error> {
        self.typed(name, |v| match v {
            Value::String(s) => Some(s),
            _ => None,
        })
    }

    pub(crate) fn symbol(&mut self, name: &'static str) -> Result<Option<&'a str>, Error> {
        self.typed(name, |v| match v {
            Value::Symbol(s) => Some(s),
            _ => None,
        })
    }

    pub(crate) fn binary(&mut self, name: &'static str) -> Result<Option<&'a [u8]>, Error> {
        match self.peek() {
            Some(code::VBIN8) => {
                let len = usize::from(*self.rest.get(1).ok_or(Error::Truncated)?);
                Ok(self.advance(2 + len)?.get(2..))
            }
            _ => self.typed(name, |v| match v {
                Value::Binary(b) => Some(b),
                _ => None,
            }),
        }
    }

    pub(crate) fn map(&mut self, name: &'static str) -> Result<Option<MapView<'a>>, Error> {
        self.typed(name, |v| match v {
            Value::Map(m) => Some(m),
            _ => None,
        })
    }

    pub(crate) fn symbols(&mut self, name: &'static str) -> Result<Symbols<'a>, Error> {
        Ok(self
            .typed(name, Symbols::from_value)?
            .unwrap_or(Symbols::EMPTY))
    }

    /// Check that the remaining (unknown, ignored) fields are well-formed
    /// and that the list holds nothing after its last element.
    pub(crate) fn finish(self) -> Result<(), Error> {
        if self.remaining == 0 && self.rest.is_empty() {
            return Ok(());
        }
        for item in Iter::new(self.rest, self.remaining, self.depth) {
            item?;
        }
        Ok(())
    }
}

/// Decode the composite (§1.4: a described list) at the front of `input`:
/// its numeric descriptor, its fields and the bytes after it.
#[inline]
pub(crate) fn read_composite<'a>(
    input: &'a [u8],
    expected: &'static str,
) -> Result<(u64, ListView<'a>, &'a [u8]), Error> {
    let (code, rest) = read_descriptor_code(input, expected)?;
    match read_shaped(rest, 1)? {
        Some((Shaped::List(list), rest)) => Ok((code, list, rest)),
        Some(_) => Err(NOT_A_LIST),
        // A described value or another type: decode it to report why.
        None => match decode_at(rest, 1)? {
            (Value::List(list), rest) => Ok((code, list, rest)),
            _ => Err(NOT_A_LIST),
        },
    }
}

const NOT_A_LIST: Error = Error::Malformed("composite value is not a list");

/// Split a decoded composite field value into descriptor code and fields.
pub(crate) fn composite<'a>(
    value: Value<'a>,
    expected: &'static str,
) -> Result<(u64, ListView<'a>), Error> {
    match value {
        Value::Described(d) => composite_parts(Some(d.descriptor()?), d.value()?, expected),
        other => composite_parts(None, other, expected),
    }
}

fn composite_parts<'a>(
    descriptor: Option<Descriptor<'_>>,
    value: Value<'a>,
    expected: &'static str,
) -> Result<(u64, ListView<'a>), Error> {
    let code = descriptor
        .and_then(|d| d.code())
        .ok_or(Error::UnexpectedDescriptor {
            expected,
            code: None,
        })?;
    match value {
        Value::List(list) => Ok((code, list)),
        _ => Err(NOT_A_LIST),
    }
}

/// A mandatory field (§1.4 `mandatory="true"`).
#[inline]
pub(crate) fn required<T>(value: Option<T>, name: &'static str) -> Result<T, Error> {
    value.ok_or(Error::MissingField(name))
}

#[cfg(test)]
mod tests {
    use super::super::types::decode_value;
    use super::*;

    fn enc(f: impl FnOnce(&mut Encoder<'_>)) -> Vec<u8> {
        let mut out = Vec::new();
        f(&mut Encoder::new(&mut out));
        out
    }

    fn len(f: impl FnOnce(&mut Encoder<'_, Counter>)) -> usize {
        let mut c = Counter::default();
        f(&mut Encoder::new(&mut c));
        c.0
    }

    #[test]
    fn smallest_encodings() {
        assert_eq!(enc(|e| e.uint(0)), [0x43]);
        assert_eq!(enc(|e| e.uint(255)), [0x52, 0xff]);
        assert_eq!(enc(|e| e.uint(256)), [0x70, 0, 0, 1, 0]);
        assert_eq!(enc(|e| e.ulong(0)), [0x44]);
        assert_eq!(enc(|e| e.ulong(1)), [0x53, 1]);
        assert_eq!(enc(|e| e.ulong(1 << 40)), [0x80, 0, 0, 1, 0, 0, 0, 0, 0]);
        assert_eq!(enc(|e| e.int(-128)), [0x54, 0x80]);
        assert_eq!(enc(|e| e.int(128)), [0x71, 0, 0, 0, 128]);
        assert_eq!(enc(|e| e.long(-1)), [0x55, 0xff]);
        assert_eq!(enc(|e| e.bool(true)), [0x41]);
        assert_eq!(enc(|e| e.bool(false)), [0x42]);
        assert_eq!(enc(|e| e.binary(&[1, 2])), [0xa0, 2, 1, 2]);
        assert_eq!(enc(|e| e.string("hi")), [0xa1, 2, b'h', b'i']);
        assert_eq!(enc(|e| e.symbol("s")), [0xa3, 1, b's']);
        let long = "x".repeat(256);
        let bytes = enc(|e| e.string(&long));
        assert_eq!(bytes[..5], [0xb1, 0, 0, 1, 0]);
        assert_eq!(enc(|e| e.list(|_| {})), [0x45]);
        assert_eq!(enc(|e| e.map(|_| {})), [0xc1, 1, 0]);
        assert_eq!(
            enc(|e| e.symbol_array(&["a", "bc"])),
            [0xe0, 7, 2, 0xa3, 1, b'a', 2, b'b', b'c']
        );
        assert_eq!(enc(|e| e.symbol_array(&[])), [0xe0, 2, 0, 0xa3]);
        assert_eq!(
            enc(|e| e.described_list(0x24, |_| {})),
            [0x00, 0x53, 0x24, 0x45]
        );
    }

    #[test]
    fn list_header_is_patched_and_shrunk() {
        let small = enc(|e| {
            e.list(|e| {
                e.uint(1);
                e.null();
            })
        });
        assert_eq!(small, [0xc0, 0x04, 0x02, 0x52, 0x01, 0x40]);
        // 254 bytes of elements is the most list8 can carry (size = 255).
        let payload = vec![0u8; 252];
        let edge = enc(|e| e.list(|e| e.binary(&payload)));
        assert_eq!(edge[..3], [0xc0, 255, 1]);
        let payload = vec![0u8; 253];
        let big = enc(|e| e.list(|e| e.binary(&payload)));
        assert_eq!(big[..9], [0xd0, 0, 0, 1, 3, 0, 0, 0, 1]);
        for bytes in [&small, &edge, &big] {
            let (_, rest) = decode_value(bytes).unwrap();
            assert!(rest.is_empty());
        }
        // Nested lists patch inner headers first.
        let nested = enc(|e| e.list(|e| e.list(|e| e.list(|e| e.ubyte(9)))));
        assert_eq!(
            nested,
            [0xc0, 0x09, 0x01, 0xc0, 0x06, 0x01, 0xc0, 0x03, 0x01, 0x50, 0x09]
        );
    }

    #[test]
    fn counter_matches_vec() {
        let payload = vec![7u8; 300];
        let a = enc(|e| {
            e.list(|e| {
                e.binary(&payload);
                e.map(|e| {
                    e.symbol("k");
                    e.list(|e| e.uint(300));
                });
            })
        });
        let n = len(|e| {
            e.list(|e| {
                e.binary(&payload);
                e.map(|e| {
                    e.symbol("k");
                    e.list(|e| e.uint(300));
                });
            })
        });
        assert_eq!(a.len(), n);
    }

    #[test]
    fn trailing_absent_fields_are_dropped() {
        let bytes = enc(|e| {
            e.list(|e| {
                e.field(Some(1u32), Encoder::uint);
                e.field(None::<u32>, Encoder::uint);
                e.field(Some("x"), |e, s| e.string(s));
                e.field(None::<u32>, Encoder::uint);
                e.field(None::<bool>, Encoder::bool);
            })
        });
        assert_eq!(
            bytes,
            [0xc0, 0x07, 0x03, 0x52, 0x01, 0x40, 0xa1, 0x01, b'x']
        );
    }

    #[test]
    fn reencoding_picks_smallest() {
        // uint as 0x70, list as list32: re-encoded to 0x52 and list8.
        let wide = [0xd0, 0, 0, 0, 9, 0, 0, 0, 1, 0x70, 0, 0, 0, 5];
        let (value, _) = decode_value(&wide).unwrap();
        let out = enc(|e| e.value(&value));
        assert_eq!(out, [0xc0, 0x06, 0x01, 0x70, 0, 0, 0, 5]);
        let (value, _) = decode_value(&[0x70, 0, 0, 0, 5]).unwrap();
        assert_eq!(enc(|e| e.value(&value)), [0x52, 5]);
        // Described: descriptor 0x80 becomes 0x53.
        let d = [
            0x00, 0x80, 0, 0, 0, 0, 0, 0, 0, 0x24, 0xd0, 0, 0, 0, 4, 0, 0, 0, 0,
        ];
        let (value, _) = decode_value(&d).unwrap();
        assert_eq!(enc(|e| e.value(&value)), [0x00, 0x53, 0x24, 0x45]);
    }
}
