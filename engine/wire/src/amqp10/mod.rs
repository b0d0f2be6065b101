//! OASIS AMQP 1.0 codec: protocol headers, frames, performatives, SASL
//! frames, delivery states and messages.
//!
//! Like [`crate::mqtt`] the codec is sans-IO and zero-copy: [`decode_frame`]
//! looks at the front of a byte slice and either returns a [`Frame`]
//! borrowing from it together with the number of bytes used, or says how
//! many more bytes it needs. Compound values (lists, maps, arrays, described
//! values) are decoded lazily through views (§1.6, see [`Value`]).
//!
//! Encoding always uses the smallest encoding of every value (§1.6), leaves
//! out fields that are absent or equal to their default and truncates the
//! trailing ones (§1.4), and is infallible. The hot path for senders is
//! [`encode_transfer_head`] followed by [`MessageLayout::encode`] (or
//! [`encode_data_message`]) and the body bytes, with no backpatching.
//!
//! ```
//! use allegro_wire::amqp10::{
//!     decode_frame, encode_transfer_head, Body, FrameBody, HeaderSection, MessageLayout,
//!     MessageView, Performative,
//! };
//! use allegro_wire::Decode;
//!
//! let header = HeaderSection { durable: true, ..HeaderSection::default() };
//! let layout = MessageLayout::new(Some(&header), None);
//! let body = b"hello";
//!
//! let mut out = Vec::new();
//! encode_transfer_head(1, 0, 42, &[0, 0, 0, 42], 0, true, false, layout.message_len(body.len()), &mut out);
//! layout.encode(body.len(), &mut out);
//! out.extend_from_slice(body);
//!
//! let Decode::Complete(frame, used) = decode_frame(&out, 65_536).unwrap() else { panic!() };
//! assert_eq!((frame.channel, used), (1, out.len()));
//! let FrameBody::Amqp { performative: Performative::Transfer(t), payload } = frame.body else {
//!     panic!()
//! };
//! assert_eq!((t.delivery_id, t.settled), (Some(42), true));
//! let message = MessageView::decode(payload).unwrap();
//! assert_eq!(message.header.map(|h| h.durable), Some(true));
//! assert_eq!(message.body, Body::Data(b"hello"));
//! ```

use core::fmt;

/// `encode` and `encoded_len` for a type with an `encode_to` over any sink.
macro_rules! encoding_methods {
    ($ty:ty) => {
        impl $ty {
            /// Append the encoded value (descriptor and fields) to `out`.
            pub fn encode(&self, out: &mut Vec<u8>) {
                self.encode_to(&mut $crate::amqp10::Encoder::new(out));
            }

            /// Exact number of bytes `encode` appends.
            pub fn encoded_len(&self) -> usize {
                let mut counter = $crate::amqp10::Counter::default();
                self.encode_to(&mut $crate::amqp10::Encoder::new(&mut counter));
                counter.0
            }
        }
    };
}

mod attach;
mod begin;
mod close;
mod codec;
mod detach;
mod disposition;
mod end;
mod error;
mod fast;
mod flow;
mod frame;
mod header;
mod message;
mod open;
mod sasl;
mod state;
mod terminus;
mod transfer;
mod types;

/// The decode outcome shared by every codec, re-exported from the crate root.
pub use crate::Decode;

pub use attach::{Attach, ReceiverSettleMode, Role, SenderSettleMode};
pub use begin::Begin;
pub use close::Close;
pub use codec::{Counter, Encoder, Sink};
pub use detach::Detach;
pub use disposition::Disposition;
pub use end::End;
pub use error::{condition, AmqpError};
pub use fast::{peek_transfer, single_data_body, FastTransfer};
pub use flow::Flow;
pub use frame::{
    decode_frame, encode_empty_frame, encode_frame, encode_sasl_frame, peek_frame_header, Frame,
    FrameBody, FrameHeader, FrameType, EMPTY_FRAME, FRAME_HEADER_LEN,
};
pub use header::{ProtocolHeader, ProtocolId, AMQP_HEADER, SASL_HEADER, TLS_HEADER};
pub use message::{
    data_message_overhead, encode_data_message, Body, BodySections, DataSections, HeaderSection,
    MessageLayout, MessageView, PropertiesSection,
};
pub use open::Open;
pub use sasl::{plain_response, sasl_code, SaslFrame};
pub use state::DeliveryState;
pub use terminus::{Source, Target};
pub use transfer::{encode_transfer_head, encode_transfer_slots, Transfer, TransferSlots};
pub use types::{
    code, decode_value, ArrayIter, ArrayView, DescribedView, Descriptor, Iter, ListView, MapIter,
    MapView, Symbols, SymbolsIter, Value, MAX_DEPTH,
};

use codec::read_composite;

/// Numeric descriptors of the AMQP-defined composite types (§2.7, §2.8.14,
/// §3.2, §3.4, §3.5, §5.3.3). The low 32 bits are the descriptor id; the
/// domain id (high 32 bits) is 0 for AMQP.
pub mod descriptor {
    /// `open` performative (§2.7.1).
    pub const OPEN: u64 = 0x10;
    /// `begin` performative (§2.7.2).
    pub const BEGIN: u64 = 0x11;
    /// `attach` performative (§2.7.3).
    pub const ATTACH: u64 = 0x12;
    /// `flow` performative (§2.7.4).
    pub const FLOW: u64 = 0x13;
    /// `transfer` performative (§2.7.5).
    pub const TRANSFER: u64 = 0x14;
    /// `disposition` performative (§2.7.6).
    pub const DISPOSITION: u64 = 0x15;
    /// `detach` performative (§2.7.7).
    pub const DETACH: u64 = 0x16;
    /// `end` performative (§2.7.8).
    pub const END: u64 = 0x17;
    /// `close` performative (§2.7.9).
    pub const CLOSE: u64 = 0x18;
    /// `error` (§2.8.14).
    pub const ERROR: u64 = 0x1d;
    /// `received` delivery state (§3.4.1).
    pub const RECEIVED: u64 = 0x23;
    /// `accepted` outcome (§3.4.2).
    pub const ACCEPTED: u64 = 0x24;
    /// `rejected` outcome (§3.4.3).
    pub const REJECTED: u64 = 0x25;
    /// `released` outcome (§3.4.4).
    pub const RELEASED: u64 = 0x26;
    /// `modified` outcome (§3.4.5).
    pub const MODIFIED: u64 = 0x27;
    /// `source` terminus (§3.5.3).
    pub const SOURCE: u64 = 0x28;
    /// `target` terminus (§3.5.4).
    pub const TARGET: u64 = 0x29;
    /// `sasl-mechanisms` (§5.3.3.1).
    pub const SASL_MECHANISMS: u64 = 0x40;
    /// `sasl-init` (§5.3.3.2).
    pub const SASL_INIT: u64 = 0x41;
    /// `sasl-challenge` (§5.3.3.3).
    pub const SASL_CHALLENGE: u64 = 0x42;
    /// `sasl-response` (§5.3.3.4).
    pub const SASL_RESPONSE: u64 = 0x43;
    /// `sasl-outcome` (§5.3.3.5).
    pub const SASL_OUTCOME: u64 = 0x44;
    /// `header` message section (§3.2.1).
    pub const HEADER: u64 = 0x70;
    /// `delivery-annotations` section (§3.2.2).
    pub const DELIVERY_ANNOTATIONS: u64 = 0x71;
    /// `message-annotations` section (§3.2.3).
    pub const MESSAGE_ANNOTATIONS: u64 = 0x72;
    /// `properties` section (§3.2.4).
    pub const PROPERTIES: u64 = 0x73;
    /// `application-properties` section (§3.2.5).
    pub const APPLICATION_PROPERTIES: u64 = 0x74;
    /// `data` body section (§3.2.6).
    pub const DATA: u64 = 0x75;
    /// `amqp-sequence` body section (§3.2.7).
    pub const AMQP_SEQUENCE: u64 = 0x76;
    /// `amqp-value` body section (§3.2.8).
    pub const AMQP_VALUE: u64 = 0x77;
    /// `footer` section (§3.2.9).
    pub const FOOTER: u64 = 0x78;

    /// The numeric code of a symbolic descriptor the specification defines
    /// for one of the types above, e.g. `amqp:transfer:list`.
    pub fn code_of(name: &str) -> Option<u64> {
        Some(match name {
            "amqp:open:list" => OPEN,
            "amqp:begin:list" => BEGIN,
            "amqp:attach:list" => ATTACH,
            "amqp:flow:list" => FLOW,
            "amqp:transfer:list" => TRANSFER,
            "amqp:disposition:list" => DISPOSITION,
            "amqp:detach:list" => DETACH,
            "amqp:end:list" => END,
            "amqp:close:list" => CLOSE,
            "amqp:error:list" => ERROR,
            "amqp:received:list" => RECEIVED,
            "amqp:accepted:list" => ACCEPTED,
            "amqp:rejected:list" => REJECTED,
            "amqp:released:list" => RELEASED,
            "amqp:modified:list" => MODIFIED,
            "amqp:source:list" => SOURCE,
            "amqp:target:list" => TARGET,
            "amqp:sasl-mechanisms:list" => SASL_MECHANISMS,
            "amqp:sasl-init:list" => SASL_INIT,
            "amqp:sasl-challenge:list" => SASL_CHALLENGE,
            "amqp:sasl-response:list" => SASL_RESPONSE,
            "amqp:sasl-outcome:list" => SASL_OUTCOME,
            "amqp:header:list" => HEADER,
            "amqp:delivery-annotations:map" => DELIVERY_ANNOTATIONS,
            "amqp:message-annotations:map" => MESSAGE_ANNOTATIONS,
            "amqp:properties:list" => PROPERTIES,
            "amqp:application-properties:map" => APPLICATION_PROPERTIES,
            "amqp:data:binary" => DATA,
            "amqp:amqp-sequence:list" => AMQP_SEQUENCE,
            "amqp:amqp-value:*" => AMQP_VALUE,
            "amqp:footer:map" => FOOTER,
            _ => return None,
        })
    }
}

/// Why a byte sequence is not valid AMQP 1.0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The 8-byte protocol header is not `AMQP` followed by protocol id 0,
    /// 2 or 3 (§2.2, §5.2.1, §5.3.1).
    InvalidProtocolHeader,
    /// The frame is larger than the maximum frame size (§2.7.1
    /// max-frame-size), judged from its header alone.
    FrameTooLarge {
        /// SIZE field of the frame header.
        size: u32,
        /// The limit passed to [`decode_frame`].
        max: u32,
    },
    /// SIZE below 8 or smaller than the data offset (§2.3.1).
    InvalidFrameSize(u32),
    /// DOFF below 2 (§2.3.1).
    InvalidDataOffset(u8),
    /// Frame type other than 0 (AMQP, §2.3.2) or 1 (SASL, §5.3.1).
    UnknownFrameType(u8),
    /// A value runs past the end of its frame, section or container.
    Truncated,
    /// Bytes left after the last element of a compound value, after a
    /// described value, or after a SASL frame body.
    TrailingBytes,
    /// An unknown or reserved format code (§1.6).
    InvalidConstructor(u8),
    /// A string that is not valid UTF-8 (§1.6.20).
    InvalidUtf8,
    /// A symbol that is not ASCII (§1.6.21).
    InvalidSymbol,
    /// A descriptor that is neither a ulong nor a symbol (§1.5).
    InvalidDescriptor,
    /// A described value that is not the expected composite type: missing,
    /// unknown or out of place (e.g. a SASL frame in an AMQP frame).
    UnexpectedDescriptor {
        /// What was expected ("performative", "delivery state", ...).
        expected: &'static str,
        /// The numeric descriptor found, if any.
        code: Option<u64>,
    },
    /// Compound or described values nested deeper than [`MAX_DEPTH`].
    TooDeep,
    /// A mandatory field is absent or null (§1.4); the text names it.
    MissingField(&'static str),
    /// A field holds a value of the wrong type or out of range; the text
    /// names it.
    InvalidField(&'static str),
    /// Any other structural problem; the text says which.
    Malformed(&'static str),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::InvalidProtocolHeader => f.write_str("invalid AMQP protocol header"),
            Error::FrameTooLarge { size, max } => {
                write!(f, "frame of {size} bytes exceeds the {max} byte limit")
            }
            Error::InvalidFrameSize(size) => write!(f, "invalid frame size {size}"),
            Error::InvalidDataOffset(doff) => write!(f, "invalid data offset {doff}"),
            Error::UnknownFrameType(t) => write!(f, "unknown frame type {t}"),
            Error::Truncated => f.write_str("value runs past the end of its container"),
            Error::TrailingBytes => f.write_str("unexpected bytes after the last value"),
            Error::InvalidConstructor(c) => write!(f, "invalid format code {c:#04x}"),
            Error::InvalidUtf8 => f.write_str("string is not valid UTF-8"),
            Error::InvalidSymbol => f.write_str("symbol is not ASCII"),
            Error::InvalidDescriptor => f.write_str("descriptor is neither ulong nor symbol"),
            Error::UnexpectedDescriptor {
                expected,
                code: Some(code),
            } => write!(f, "expected {expected}, found descriptor {code:#x}"),
            Error::UnexpectedDescriptor {
                expected,
                code: None,
            } => write!(f, "expected {expected}, found another value"),
            Error::TooDeep => write!(f, "values nested deeper than {MAX_DEPTH}"),
            Error::MissingField(name) => write!(f, "mandatory field {name} is missing"),
            Error::InvalidField(name) => write!(f, "invalid value for field {name}"),
            Error::Malformed(why) => write!(f, "malformed: {why}"),
        }
    }
}

impl std::error::Error for Error {}

/// Any AMQP performative (§2.7): the body of an AMQP frame.
///
/// `attach` (with its source and target) is much larger than the others;
/// boxing it would allocate while decoding, so the enum stays flat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)]
pub enum Performative<'a> {
    /// `open` (§2.7.1).
    Open(Open<'a>),
    /// `begin` (§2.7.2).
    Begin(Begin<'a>),
    /// `attach` (§2.7.3).
    Attach(Attach<'a>),
    /// `flow` (§2.7.4).
    Flow(Flow<'a>),
    /// `transfer` (§2.7.5).
    Transfer(Transfer<'a>),
    /// `disposition` (§2.7.6).
    Disposition(Disposition<'a>),
    /// `detach` (§2.7.7).
    Detach(Detach<'a>),
    /// `end` (§2.7.8).
    End(End<'a>),
    /// `close` (§2.7.9).
    Close(Close<'a>),
}

impl<'a> Performative<'a> {
    /// Decode the performative at the front of a frame body (descriptor
    /// codes 0x10..=0x18, numeric or symbolic); returns it and the bytes
    /// after it (the payload of a transfer).
    #[inline]
    pub fn decode(input: &'a [u8]) -> Result<(Self, &'a [u8]), Error> {
        const WHAT: &str = "performative";
        let (code, list, rest) = read_composite(input, WHAT)?;
        let performative = match code {
            descriptor::OPEN => Performative::Open(Open::from_fields(&list)?),
            descriptor::BEGIN => Performative::Begin(Begin::from_fields(&list)?),
            descriptor::ATTACH => Performative::Attach(Attach::from_fields(&list)?),
            descriptor::FLOW => Performative::Flow(Flow::from_fields(&list)?),
            descriptor::TRANSFER => Performative::Transfer(Transfer::from_fields(&list)?),
            descriptor::DISPOSITION => Performative::Disposition(Disposition::from_fields(&list)?),
            descriptor::DETACH => Performative::Detach(Detach::from_fields(&list)?),
            descriptor::END => Performative::End(End::from_fields(&list)?),
            descriptor::CLOSE => Performative::Close(Close::from_fields(&list)?),
            other => {
                return Err(Error::UnexpectedDescriptor {
                    expected: WHAT,
                    code: Some(other),
                })
            }
        };
        Ok((performative, rest))
    }

    /// The numeric descriptor (see [`descriptor`]).
    pub const fn descriptor(&self) -> u64 {
        match self {
            Performative::Open(_) => descriptor::OPEN,
            Performative::Begin(_) => descriptor::BEGIN,
            Performative::Attach(_) => descriptor::ATTACH,
            Performative::Flow(_) => descriptor::FLOW,
            Performative::Transfer(_) => descriptor::TRANSFER,
            Performative::Disposition(_) => descriptor::DISPOSITION,
            Performative::Detach(_) => descriptor::DETACH,
            Performative::End(_) => descriptor::END,
            Performative::Close(_) => descriptor::CLOSE,
        }
    }

    pub(crate) fn encode_to<S: Sink>(&self, e: &mut Encoder<'_, S>) {
        match self {
            Performative::Open(p) => p.encode_to(e),
            Performative::Begin(p) => p.encode_to(e),
            Performative::Attach(p) => p.encode_to(e),
            Performative::Flow(p) => p.encode_to(e),
            Performative::Transfer(p) => p.encode_to(e),
            Performative::Disposition(p) => p.encode_to(e),
            Performative::Detach(p) => p.encode_to(e),
            Performative::End(p) => p.encode_to(e),
            Performative::Close(p) => p.encode_to(e),
        }
    }
}

encoding_methods!(Performative<'_>);

/// Visit `value` and everything nested in it, at most `budget` values in
/// all (arrays of zero-width elements may claim billions). Returns the first
/// error found.
fn walk(value: Value<'_>, budget: &mut usize) -> Result<(), Error> {
    if *budget == 0 {
        return Ok(());
    }
    *budget -= 1;
    match value {
        Value::List(list) => walk_items(list.iter(), budget),
        Value::Array(array) => walk_items(array.iter(), budget),
        Value::Map(map) => {
            for entry in map.iter() {
                if *budget == 0 {
                    break;
                }
                let (k, v) = entry?;
                walk(k, budget)?;
                walk(v, budget)?;
            }
            Ok(())
        }
        Value::Described(d) => {
            d.descriptor()?;
            walk(d.value()?, budget)
        }
        _ => Ok(()),
    }
}

/// Walk the elements of a list or array until the budget runs out.
fn walk_items<'a>(
    items: impl Iterator<Item = Result<Value<'a>, Error>>,
    budget: &mut usize,
) -> Result<(), Error> {
    for item in items {
        if *budget == 0 {
            break;
        }
        walk(item?, budget)?;
    }
    Ok(())
}

/// Walk every value in `bytes` (a run of encoded values) with a budget.
fn walk_all(mut bytes: &[u8], budget: &mut usize) -> Result<(), Error> {
    while !bytes.is_empty() && *budget > 0 {
        let (value, rest) = decode_value(bytes)?;
        walk(value, budget)?;
        bytes = rest;
    }
    Ok(())
}

/// Shared check for the `amqp10_frame` fuzz target and the corpus replay
/// test: decode one frame from `data`; if one comes out, walk every value it
/// holds, re-encode it, decode that again and require the same frame, the
/// same bytes on a second encode, an exact `encoded_len`, `Incomplete` for
/// every prefix and `FrameTooLarge` one byte under the size. A transfer's
/// payload also goes through [`fuzz_check_message`] (any outcome allowed).
/// Panics on any mismatch. Returns the outcome with the performative or SASL
/// descriptor code (`None` for an empty frame) in place of the frame.
#[doc(hidden)]
pub fn fuzz_check_frame(data: &[u8]) -> Result<Decode<Option<u64>>, Error> {
    let (frame, used) = match decode_frame(data, u32::MAX)? {
        Decode::Incomplete(more) => {
            assert!(more >= 1, "Incomplete(0)");
            return Ok(Decode::Incomplete(more));
        }
        Decode::Complete(frame, used) => (frame, used),
    };
    assert!(used >= 8 && used <= data.len(), "consumed {used}");
    let max = u32::try_from(used).unwrap_or(u32::MAX) - 1;
    assert_eq!(
        decode_frame(data, max),
        Err(Error::FrameTooLarge { size: max + 1, max })
    );
    let code = match frame.body {
        FrameBody::Empty => None,
        FrameBody::Amqp {
            performative,
            payload,
        } => {
            let mut bytes = Vec::new();
            performative.encode(&mut bytes);
            // Nested views are decoded lazily; malformed content deep inside
            // may only show up here, which is fine as long as nothing panics.
            let mut budget = 1 << 16;
            let _ = walk_all(&bytes, &mut budget);
            if let Performative::Transfer(_) = performative {
                let _ = fuzz_check_message(payload);
            }
            Some(performative.descriptor())
        }
        FrameBody::Sasl(sasl) => Some(sasl.descriptor()),
    };
    let mut first = Vec::new();
    frame.encode(&mut first);
    assert_eq!(first.len(), frame.encoded_len(), "encoded_len");
    let again = match decode_frame(&first, u32::MAX) {
        Ok(Decode::Complete(again, n)) => {
            assert_eq!(n, first.len(), "re-decode consumed");
            again
        }
        other => panic!("re-decode of {frame:?} from {first:02x?} gave {other:?}"),
    };
    assert_eq!(again, frame, "re-decoded frame differs");
    let mut second = Vec::new();
    again.encode(&mut second);
    assert_eq!(first, second, "encoding is not canonical");
    for cut in 0..first.len() {
        match decode_frame(first.get(..cut).unwrap_or_default(), u32::MAX) {
            Ok(Decode::Incomplete(more)) => {
                assert!(more >= 1 && cut + more <= first.len(), "Incomplete({more})")
            }
            other => panic!("prefix {cut} of {first:02x?} gave {other:?}"),
        }
    }
    Ok(Decode::Complete(code, used))
}

/// Shared check for the `amqp10_message` fuzz target and the corpus replay
/// test: decode `data` as a whole message; if it decodes, visit every nested
/// value of every section, re-encode it, decode that again and require the
/// same message, the same bytes on a second encode and an exact
/// `encoded_len`. Panics on any mismatch. Returns the number of bytes the
/// re-encoded message takes.
#[doc(hidden)]
pub fn fuzz_check_message(data: &[u8]) -> Result<usize, Error> {
    let message = MessageView::decode(data)?;
    // Errors deep inside annotations or bodies are not errors of the
    // message itself; walking must merely terminate without panicking.
    let mut budget = 1 << 16;
    let _ = walk_all(data, &mut budget);
    for section in message.body_sections() {
        section.expect("body sections were checked by decode");
    }
    for data in message.data_sections() {
        data.expect("data sections were checked by decode");
    }
    let mut first = Vec::new();
    message.encode(&mut first);
    assert_eq!(first.len(), message.encoded_len(), "encoded_len");
    let again = match MessageView::decode(&first) {
        Ok(again) => again,
        Err(e) => panic!("re-decode of {message:?} from {first:02x?} gave {e:?}"),
    };
    assert_eq!(again, message, "re-decoded message differs");
    let mut second = Vec::new();
    again.encode(&mut second);
    assert_eq!(first, second, "encoding is not canonical");
    Ok(first.len())
}
