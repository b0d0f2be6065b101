//! AMQP 0-9-1 codec (AMQP specification 0-9-1, 2008, with RabbitMQ's extensions): frames,
//! the methods a load-generating client exchanges with a broker, content headers with the
//! Basic properties, field tables, body frames and heartbeats.
//!
//! Like the other codecs of this crate it is sans-IO and zero-copy: [`decode`] looks at the
//! front of a byte slice and returns either a [`Frame`] borrowing from it with the number of
//! bytes used, or how many more bytes it needs. Field tables are kept raw ([`Table`]) and read
//! lazily. Encoders append whole frames to a caller-owned `Vec<u8>` and cannot fail.
//!
//! A connection starts with the client's [`PROTOCOL_HEADER`] (§4.2.2). A server that does not
//! speak this version answers with its own header and closes; [`decode`] reports that as
//! [`Error::ProtocolHeader`]. Every frame after it is (§4.2.3):
//!
//! ```text
//! +------+---------+---------+-----------------+-----------+
//! | type | channel |  size   |     payload     | frame-end |
//! |  u8  |   u16   |   u32   |   size octets   |   0xCE    |
//! +------+---------+---------+-----------------+-----------+
//! ```
//!
//! A message is a `basic.publish` (or `basic.deliver`) method frame, a content header frame
//! and zero or more body frames (§4.2.6). The hot path of a publisher is [`encode_method`],
//! [`encode_content_header`] and [`encode_body`]:
//!
//! ```
//! use allegro_wire::amqp091::{
//!     decode, encode_body, encode_content_header, encode_method, BasicProperties,
//!     ContentHeader, FrameBody, Method, FRAME_MIN_SIZE,
//! };
//! use allegro_wire::Decode;
//!
//! let body = b"hello";
//! let header = ContentHeader {
//!     class_id: 60,
//!     body_size: body.len() as u64,
//!     properties: BasicProperties { delivery_mode: Some(2), ..BasicProperties::default() },
//! };
//! let publish = Method::BasicPublish {
//!     exchange: "",
//!     routing_key: "q",
//!     mandatory: false,
//!     immediate: false,
//! };
//! let mut out = Vec::new();
//! encode_method(1, &publish, &mut out);
//! encode_content_header(1, &header, &mut out);
//! encode_body(1, body, FRAME_MIN_SIZE, &mut out);
//!
//! let mut rest = &out[..];
//! let mut frames = Vec::new();
//! while let Ok(Decode::Complete(frame, used)) = decode(rest, FRAME_MIN_SIZE as usize) {
//!     frames.push(frame.body);
//!     rest = &rest[used..];
//! }
//! assert_eq!(frames[0], FrameBody::Method(publish));
//! assert_eq!(frames[1], FrameBody::Header(header));
//! assert_eq!(frames[2], FrameBody::Body(b"hello"));
//! ```

mod codec;
mod content;
mod frame;
mod fuzz;
mod method;
mod table;

pub use crate::Decode;
pub use content::{encode_content_header, BasicProperties, ContentHeader, BASIC_CLASS};
pub use frame::{
    body_frames_len, decode, encode_body, encode_heartbeat, Frame, FrameBody, FRAME_BODY,
    FRAME_HEADER, FRAME_HEARTBEAT, FRAME_METHOD, FRAME_OVERHEAD, HEARTBEAT,
};
pub use fuzz::fuzz_check;
pub use method::{encode_method, Method};
pub use table::{
    array_values, encode_array, encode_field_value, encode_table, ArrayIter, FieldValue, Table,
    TableIter,
};

/// The header a client sends before its first frame (§4.2.2): "AMQP", 0, then version 0-9-1.
pub const PROTOCOL_HEADER: [u8; 8] = *b"AMQP\x00\x00\x09\x01";

/// The octet that ends every frame (§4.2.3).
pub const FRAME_END: u8 = 0xCE;

/// The smallest `frame-max` a peer may negotiate, and the largest frame a peer may send before
/// `connection.tune` is done (§4.2.3, `frame-min-size`).
pub const FRAME_MIN_SIZE: u32 = 4096;

/// The longest short string (§4.2.5.3): its length is one octet.
pub const SHORT_STR_MAX: usize = 255;

/// Why a byte sequence is not a valid AMQP 0-9-1 frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The frame (header, payload and frame-end) is larger than allowed.
    FrameTooLarge {
        /// The limit passed to [`decode`].
        max: usize,
    },
    /// The octet after the payload is not [`FRAME_END`] (§4.2.3).
    BadFrameEnd,
    /// A frame type other than method (1), header (2), body (3) or heartbeat (8) (§4.2.3).
    UnknownFrameType(u8),
    /// A class and method id pair this codec does not know (§4.2.4).
    UnknownMethod {
        /// The class id.
        class: u16,
        /// The method id.
        method: u16,
    },
    /// A field runs past the end of its frame (or of the table or array holding it).
    Truncated,
    /// A field table or array is malformed: an unknown field type (§4.2.5.5, RabbitMQ's
    /// errata table) or a value that runs past the table's end.
    BadTable,
    /// A short string that is not UTF-8 (§4.2.5.3).
    InvalidUtf8,
    /// The input starts with a protocol header rather than a frame: the server does not speak
    /// 0-9-1 and answered with the version it does speak (§4.2.2).
    ProtocolHeader {
        /// Major version the server offers.
        major: u8,
        /// Minor version the server offers.
        minor: u8,
        /// Revision the server offers.
        revision: u8,
    },
    /// A heartbeat frame on a channel other than 0 or with a payload (§4.2.7).
    BadHeartbeat,
    /// A content header for a class other than Basic (60), the only class with content in
    /// 0-9-1 (§4.2.6.1).
    UnknownContentClass(u16),
    /// Content header property flags with bits set that Basic does not define (bits 1 and 0,
    /// the latter a continuation flag Basic never needs) (§4.2.6.1).
    BadPropertyFlags(u16),
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::FrameTooLarge { max } => write!(f, "AMQP 0-9-1 frame larger than {max} bytes"),
            Error::BadFrameEnd => f.write_str("AMQP 0-9-1 frame does not end with 0xCE"),
            Error::UnknownFrameType(t) => write!(f, "unknown AMQP 0-9-1 frame type {t}"),
            Error::UnknownMethod { class, method } => {
                write!(f, "unknown AMQP 0-9-1 method {class}/{method}")
            }
            Error::Truncated => f.write_str("AMQP 0-9-1 field runs past the end of its frame"),
            Error::BadTable => f.write_str("malformed AMQP 0-9-1 field table or array"),
            Error::InvalidUtf8 => f.write_str("AMQP 0-9-1 short string is not UTF-8"),
            Error::ProtocolHeader {
                major,
                minor,
                revision,
            } => write!(
                f,
                "server answered with protocol header {major}-{minor}-{revision} instead of 0-9-1"
            ),
            Error::BadHeartbeat => {
                f.write_str("AMQP 0-9-1 heartbeat frame not on channel 0 or not empty")
            }
            Error::UnknownContentClass(c) => {
                write!(f, "AMQP 0-9-1 content header for class {c}, not basic (60)")
            }
            Error::BadPropertyFlags(flags) => {
                write!(
                    f,
                    "AMQP 0-9-1 property flags {flags:#06x} set undefined bits"
                )
            }
        }
    }
}
