//! MQTT 3.1.1 and MQTT 5.0 control packet codec.
//!
//! The codec is sans-IO and zero-copy: [`decode`] looks at the front of a byte
//! slice and either returns a [`Packet`] borrowing from that slice together
//! with the number of bytes it used, or says how many more bytes it needs.
//! Encoders append whole packets (fixed header included) to a `Vec<u8>`.
//!
//! Decoding validates everything the specifications make a hard rule for the
//! wire format: reserved fixed-header flag bits (MQTT 3.1.1 §2.2.2,
//! MQTT 5.0 §2.1.3), QoS 3 (§3.3.1.2), the remaining length encoding
//! (§2.2.3 / §1.5.5), UTF-8 strings (§1.5.3), nonzero packet identifiers
//! (§2.3.1 / §2.2.1), v5 property identifiers and lengths (MQTT 5.0 §2.2.2)
//! and topic names/filters (§4.7). Reason codes are carried as plain `u8`.
//!
//! Encoding is infallible. Strings and binary fields longer than 65,535 bytes
//! (§1.5.3) are cut to fit (strings at a character boundary); under
//! [`Protocol::V311`] v5-only fields (properties, reason codes) are not written.
//!
//! ```
//! use allegro_wire::mqtt::{self, Decode, Packet, Property, Properties, Protocol, Publish, QoS};
//!
//! // Hot path: header straight into the output buffer, then the payload.
//! let mut out = Vec::with_capacity(256);
//! mqtt::encode_publish_header(Protocol::V5, QoS::AtLeastOnce, false, false, "a/b", 7, 2, &mut out);
//! out.extend_from_slice(b"hi");
//!
//! // General path: any packet, properties from a slice.
//! let props = [Property::MessageExpiryInterval(30)];
//! let publish = Publish { properties: Properties::List(&props), ..Publish::new("a/b", b"hi") };
//! Packet::Publish(publish).encode(Protocol::V5, &mut out);
//!
//! // Decoding borrows from the buffer and reports how much it used.
//! let mut rest = &out[..];
//! while let Decode::Complete(packet, used) = mqtt::decode(rest, Protocol::V5, 1 << 20).unwrap() {
//!     let Packet::Publish(p) = packet else { unreachable!() };
//!     assert_eq!((p.topic, p.payload), ("a/b", &b"hi"[..]));
//!     rest = &rest[used..];
//! }
//! assert!(rest.is_empty());
//! ```

mod ack;
mod auth;
mod codec;
mod connack;
mod connect;
mod disconnect;
pub mod fast;
pub mod header;
mod ping;
mod properties;
mod puback;
mod pubcomp;
mod publish;
mod pubrec;
mod pubrel;
mod suback;
mod subscribe;
mod unsuback;
mod unsubscribe;

use core::fmt;

/// The decode outcome shared by every codec, re-exported from the crate root.
pub use crate::Decode;

pub use auth::Auth;
pub use connack::ConnAck;
pub use connect::{Connect, Will};
pub use disconnect::Disconnect;
pub use header::{
    check_flags, peek_header, read_var_int, var_int_len, write_var_int, FixedHeader,
    MAX_REMAINING_LEN,
};
pub use ping::{PingReq, PingResp};
pub use properties::{Properties, PropertiesIter, Property};
pub use puback::PubAck;
pub use pubcomp::PubComp;
pub use publish::{encode_publish_header, publish_len, Publish};
pub use pubrec::PubRec;
pub use pubrel::PubRel;
pub use suback::SubAck;
pub use subscribe::{Filters, FiltersIter, Subscribe, SubscribeOptions};
pub use unsuback::UnsubAck;
pub use unsubscribe::{Unsubscribe, UnsubscribeFilters, UnsubscribeFiltersIter};

/// Control packet type numbers, the high nibble of the first fixed-header
/// byte (MQTT 3.1.1 §2.2.1, MQTT 5.0 §2.1.2).
pub mod packet_type {
    /// CONNECT, client to server (§3.1).
    pub const CONNECT: u8 = 1;
    /// CONNACK (§3.2).
    pub const CONNACK: u8 = 2;
    /// PUBLISH (§3.3).
    pub const PUBLISH: u8 = 3;
    /// PUBACK (§3.4).
    pub const PUBACK: u8 = 4;
    /// PUBREC (§3.5).
    pub const PUBREC: u8 = 5;
    /// PUBREL (§3.6).
    pub const PUBREL: u8 = 6;
    /// PUBCOMP (§3.7).
    pub const PUBCOMP: u8 = 7;
    /// SUBSCRIBE (§3.8).
    pub const SUBSCRIBE: u8 = 8;
    /// SUBACK (§3.9).
    pub const SUBACK: u8 = 9;
    /// UNSUBSCRIBE (§3.10).
    pub const UNSUBSCRIBE: u8 = 10;
    /// UNSUBACK (§3.11).
    pub const UNSUBACK: u8 = 11;
    /// PINGREQ (§3.12).
    pub const PINGREQ: u8 = 12;
    /// PINGRESP (§3.13).
    pub const PINGRESP: u8 = 13;
    /// DISCONNECT (§3.14).
    pub const DISCONNECT: u8 = 14;
    /// AUTH, MQTT 5.0 only (MQTT 5.0 §3.15); reserved in MQTT 3.1.1.
    pub const AUTH: u8 = 15;
}

/// Protocol version, the protocol level byte of CONNECT (MQTT 3.1.1 §3.1.2.2,
/// MQTT 5.0 §3.1.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// MQTT 3.1.1, protocol level 4.
    V311,
    /// MQTT 5.0, protocol level 5.
    V5,
}

impl Protocol {
    /// The protocol level byte written in CONNECT (§3.1.2.2).
    pub const fn level(self) -> u8 {
        match self {
            Protocol::V311 => 4,
            Protocol::V5 => 5,
        }
    }

    /// The protocol for a CONNECT protocol level byte, if supported.
    pub const fn from_level(level: u8) -> Option<Self> {
        match level {
            4 => Some(Protocol::V311),
            5 => Some(Protocol::V5),
            _ => None,
        }
    }
}

/// Quality of service level (MQTT 3.1.1 §4.3, MQTT 5.0 §4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum QoS {
    /// QoS 0: fire and forget.
    AtMostOnce = 0,
    /// QoS 1: acknowledged by PUBACK.
    AtLeastOnce = 1,
    /// QoS 2: four-way PUBREC/PUBREL/PUBCOMP handshake.
    ExactlyOnce = 2,
}

impl TryFrom<u8> for QoS {
    type Error = Error;

    /// QoS 3 is reserved and malformed (§3.3.1.2).
    fn try_from(value: u8) -> Result<Self, Error> {
        match value {
            0 => Ok(QoS::AtMostOnce),
            1 => Ok(QoS::AtLeastOnce),
            2 => Ok(QoS::ExactlyOnce),
            other => Err(Error::InvalidQoS(other)),
        }
    }
}

/// Why a byte sequence is not a valid MQTT packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The whole packet (fixed header included) is larger than allowed.
    PacketTooLarge {
        /// Size of the packet announced by its fixed header.
        size: usize,
        /// The limit passed to [`decode`].
        max: usize,
    },
    /// The remaining length uses more than four bytes (§2.2.3 / §1.5.5).
    MalformedRemainingLength,
    /// Packet type 0, or 15 under MQTT 3.1.1 (§2.2.1).
    UnknownPacketType(u8),
    /// Fixed-header flag bits that the packet type reserves (§2.2.2).
    InvalidFlags {
        /// Packet type (high nibble of the first byte).
        packet_type: u8,
        /// The offending flags (low nibble of the first byte).
        flags: u8,
    },
    /// QoS value 3 (§3.3.1.2, §3.1.2.6, §3.8.3.1).
    InvalidQoS(u8),
    /// A string that is not well-formed UTF-8 or contains U+0000 (§1.5.3).
    InvalidUtf8,
    /// CONNECT protocol name is not "MQTT" (§3.1.2.1).
    InvalidProtocolName,
    /// CONNECT protocol level other than 4 or 5 (§3.1.2.2).
    UnsupportedProtocolLevel(u8),
    /// Packet identifier 0 where a nonzero one is required (§2.3.1).
    ZeroPacketId,
    /// Unknown MQTT 5.0 property identifier (MQTT 5.0 §2.2.2.2).
    UnknownProperty(u8),
    /// A property that may appear only once appears again (MQTT 5.0 §3.x.2.2).
    DuplicateProperty(u8),
    /// A property value the specification forbids, e.g. Receive Maximum 0.
    InvalidPropertyValue(u8),
    /// A topic name with wildcards, an empty topic, or a badly placed
    /// wildcard in a topic filter (§4.7).
    InvalidTopic,
    /// SUBSCRIBE options byte with reserved bits set or retain handling 3
    /// (MQTT 3.1.1 §3.8.3.1, MQTT 5.0 §3.8.3.1).
    InvalidSubscribeOptions(u8),
    /// Any other structural problem; the text says which.
    MalformedPacket(&'static str),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::PacketTooLarge { size, max } => {
                write!(f, "packet of {size} bytes exceeds the {max} byte limit")
            }
            Error::MalformedRemainingLength => f.write_str("malformed remaining length"),
            Error::UnknownPacketType(t) => write!(f, "unknown packet type {t}"),
            Error::InvalidFlags { packet_type, flags } => {
                write!(
                    f,
                    "invalid flags {flags:#06b} for packet type {packet_type}"
                )
            }
            Error::InvalidQoS(q) => write!(f, "invalid QoS {q}"),
            Error::InvalidUtf8 => f.write_str("invalid UTF-8 string"),
            Error::InvalidProtocolName => f.write_str("invalid protocol name"),
            Error::UnsupportedProtocolLevel(l) => write!(f, "unsupported protocol level {l}"),
            Error::ZeroPacketId => f.write_str("packet identifier 0"),
            Error::UnknownProperty(id) => write!(f, "unknown property identifier {id:#04x}"),
            Error::DuplicateProperty(id) => write!(f, "duplicate property {id:#04x}"),
            Error::InvalidPropertyValue(id) => write!(f, "invalid value for property {id:#04x}"),
            Error::InvalidTopic => f.write_str("invalid topic name or filter"),
            Error::InvalidSubscribeOptions(o) => write!(f, "invalid subscribe options {o:#04x}"),
            Error::MalformedPacket(why) => write!(f, "malformed packet: {why}"),
        }
    }
}

impl std::error::Error for Error {}

/// Any MQTT control packet (MQTT 3.1.1 §3, MQTT 5.0 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Packet<'a> {
    /// CONNECT (§3.1).
    Connect(Connect<'a>),
    /// CONNACK (§3.2).
    ConnAck(ConnAck<'a>),
    /// PUBLISH (§3.3).
    Publish(Publish<'a>),
    /// PUBACK (§3.4).
    PubAck(PubAck<'a>),
    /// PUBREC (§3.5).
    PubRec(PubRec<'a>),
    /// PUBREL (§3.6).
    PubRel(PubRel<'a>),
    /// PUBCOMP (§3.7).
    PubComp(PubComp<'a>),
    /// SUBSCRIBE (§3.8).
    Subscribe(Subscribe<'a>),
    /// SUBACK (§3.9).
    SubAck(SubAck<'a>),
    /// UNSUBSCRIBE (§3.10).
    Unsubscribe(Unsubscribe<'a>),
    /// UNSUBACK (§3.11).
    UnsubAck(UnsubAck<'a>),
    /// PINGREQ (§3.12).
    PingReq,
    /// PINGRESP (§3.13).
    PingResp,
    /// DISCONNECT (§3.14).
    Disconnect(Disconnect<'a>),
    /// AUTH (MQTT 5.0 §3.15).
    Auth(Auth<'a>),
}

/// Decode one packet from the front of `input`.
///
/// Checks the packet type and flags of the first byte (§2.2.1, §2.2.2), then
/// peeks the fixed header (§2.2) and rejects a packet whose total size exceeds
/// `max_packet` before looking at the body. CONNECT carries its own protocol
/// level; every other packet is decoded as `protocol`.
pub fn decode(
    input: &[u8],
    protocol: Protocol,
    max_packet: usize,
) -> Result<Decode<Packet<'_>>, Error> {
    if let Some(&first) = input.first() {
        check_type(first >> 4, protocol)?;
        check_flags(first >> 4, first & 0x0F)?;
    }
    let header = match peek_header(input)? {
        Decode::Complete(header, _) => header,
        Decode::Incomplete(more) => return Ok(Decode::Incomplete(more)),
    };
    let total = header.packet_len();
    if total > max_packet {
        return Err(Error::PacketTooLarge {
            size: total,
            max: max_packet,
        });
    }
    let Some(body) = input.get(header.header_len..total) else {
        return Ok(Decode::Incomplete(total.saturating_sub(input.len()).max(1)));
    };
    let packet = Packet::decode_body(header.packet_type, header.flags, body, protocol)?;
    Ok(Decode::Complete(packet, total))
}

/// Rejects packet types that do not exist in `protocol` (§2.2.1).
fn check_type(packet_type: u8, protocol: Protocol) -> Result<(), Error> {
    match (packet_type, protocol) {
        (0, _) | (packet_type::AUTH, Protocol::V311) => Err(Error::UnknownPacketType(packet_type)),
        _ => Ok(()),
    }
}

impl<'a> Packet<'a> {
    /// Decode a packet body (the bytes after the fixed header) given the
    /// fixed-header packet type and flags, e.g. from [`peek_header`].
    pub fn decode_body(
        packet_type: u8,
        flags: u8,
        body: &'a [u8],
        protocol: Protocol,
    ) -> Result<Self, Error> {
        use self::packet_type as t;
        check_type(packet_type, protocol)?;
        Ok(match packet_type {
            t::CONNECT => Packet::Connect(Connect::decode(flags, body, protocol)?),
            t::CONNACK => Packet::ConnAck(ConnAck::decode(flags, body, protocol)?),
            t::PUBLISH => Packet::Publish(Publish::decode(flags, body, protocol)?),
            t::PUBACK => Packet::PubAck(PubAck::decode(flags, body, protocol)?),
            t::PUBREC => Packet::PubRec(PubRec::decode(flags, body, protocol)?),
            t::PUBREL => Packet::PubRel(PubRel::decode(flags, body, protocol)?),
            t::PUBCOMP => Packet::PubComp(PubComp::decode(flags, body, protocol)?),
            t::SUBSCRIBE => Packet::Subscribe(Subscribe::decode(flags, body, protocol)?),
            t::SUBACK => Packet::SubAck(SubAck::decode(flags, body, protocol)?),
            t::UNSUBSCRIBE => Packet::Unsubscribe(Unsubscribe::decode(flags, body, protocol)?),
            t::UNSUBACK => Packet::UnsubAck(UnsubAck::decode(flags, body, protocol)?),
            t::PINGREQ => {
                PingReq::decode(flags, body, protocol)?;
                Packet::PingReq
            }
            t::PINGRESP => {
                PingResp::decode(flags, body, protocol)?;
                Packet::PingResp
            }
            t::DISCONNECT => Packet::Disconnect(Disconnect::decode(flags, body, protocol)?),
            t::AUTH => Packet::Auth(Auth::decode(flags, body, protocol)?),
            other => return Err(Error::UnknownPacketType(other)),
        })
    }

    /// The fixed-header packet type number (see [`packet_type`]).
    pub fn packet_type(&self) -> u8 {
        use self::packet_type as t;
        match self {
            Packet::Connect(_) => t::CONNECT,
            Packet::ConnAck(_) => t::CONNACK,
            Packet::Publish(_) => t::PUBLISH,
            Packet::PubAck(_) => t::PUBACK,
            Packet::PubRec(_) => t::PUBREC,
            Packet::PubRel(_) => t::PUBREL,
            Packet::PubComp(_) => t::PUBCOMP,
            Packet::Subscribe(_) => t::SUBSCRIBE,
            Packet::SubAck(_) => t::SUBACK,
            Packet::Unsubscribe(_) => t::UNSUBSCRIBE,
            Packet::UnsubAck(_) => t::UNSUBACK,
            Packet::PingReq => t::PINGREQ,
            Packet::PingResp => t::PINGRESP,
            Packet::Disconnect(_) => t::DISCONNECT,
            Packet::Auth(_) => t::AUTH,
        }
    }

    /// Append the whole packet, fixed header included, to `out`. CONNECT is
    /// always written in its own `protocol` field's version.
    pub fn encode(&self, protocol: Protocol, out: &mut Vec<u8>) {
        match self {
            Packet::Connect(p) => p.encode(protocol, out),
            Packet::ConnAck(p) => p.encode(protocol, out),
            Packet::Publish(p) => p.encode(protocol, out),
            Packet::PubAck(p) => p.encode(protocol, out),
            Packet::PubRec(p) => p.encode(protocol, out),
            Packet::PubRel(p) => p.encode(protocol, out),
            Packet::PubComp(p) => p.encode(protocol, out),
            Packet::Subscribe(p) => p.encode(protocol, out),
            Packet::SubAck(p) => p.encode(protocol, out),
            Packet::Unsubscribe(p) => p.encode(protocol, out),
            Packet::UnsubAck(p) => p.encode(protocol, out),
            Packet::PingReq => PingReq.encode(protocol, out),
            Packet::PingResp => PingResp.encode(protocol, out),
            Packet::Disconnect(p) => p.encode(protocol, out),
            Packet::Auth(p) => p.encode(protocol, out),
        }
    }

    /// Exact number of bytes [`Packet::encode`] appends.
    pub fn encoded_len(&self, protocol: Protocol) -> usize {
        match self {
            Packet::Connect(p) => p.encoded_len(protocol),
            Packet::ConnAck(p) => p.encoded_len(protocol),
            Packet::Publish(p) => p.encoded_len(protocol),
            Packet::PubAck(p) => p.encoded_len(protocol),
            Packet::PubRec(p) => p.encoded_len(protocol),
            Packet::PubRel(p) => p.encoded_len(protocol),
            Packet::PubComp(p) => p.encoded_len(protocol),
            Packet::Subscribe(p) => p.encoded_len(protocol),
            Packet::SubAck(p) => p.encoded_len(protocol),
            Packet::Unsubscribe(p) => p.encoded_len(protocol),
            Packet::UnsubAck(p) => p.encoded_len(protocol),
            Packet::PingReq => PingReq.encoded_len(protocol),
            Packet::PingResp => PingResp.encoded_len(protocol),
            Packet::Disconnect(p) => p.encoded_len(protocol),
            Packet::Auth(p) => p.encoded_len(protocol),
        }
    }
}

/// Shared check for the fuzz targets and the corpus replay test: decode
/// `data`; if a packet comes out, re-encode it, decode that again and require
/// the same packet, the same bytes on a second encode, and
/// `encoded_len == bytes written`. Panics on any mismatch. Returns the decode
/// outcome with the packet type in place of the packet.
#[doc(hidden)]
pub fn fuzz_check(data: &[u8], protocol: Protocol) -> Result<Decode<u8>, Error> {
    match decode(data, protocol, usize::MAX)? {
        Decode::Incomplete(more) => {
            assert!(more >= 1, "Incomplete(0)");
            Ok(Decode::Incomplete(more))
        }
        Decode::Complete(packet, used) => {
            assert!(
                used >= 2 && used <= data.len(),
                "consumed {used} of {}",
                data.len()
            );
            // The size limit is applied before the body is looked at.
            assert_eq!(
                decode(data, protocol, used - 1),
                Err(Error::PacketTooLarge {
                    size: used,
                    max: used - 1
                })
            );
            let mut first = Vec::with_capacity(packet.encoded_len(protocol));
            packet.encode(protocol, &mut first);
            assert_eq!(first.len(), packet.encoded_len(protocol), "encoded_len");
            let again = match decode(&first, protocol, usize::MAX) {
                Ok(Decode::Complete(again, n)) => {
                    assert_eq!(n, first.len(), "re-decode consumed");
                    again
                }
                other => panic!("re-decode of {packet:?} from {first:?} gave {other:?}"),
            };
            assert_eq!(again, packet, "re-decoded packet differs");
            let mut second = Vec::new();
            again.encode(protocol, &mut second);
            assert_eq!(first, second, "encoding is not canonical");
            for cut in 0..first.len() {
                let prefix = first.get(..cut).unwrap_or_default();
                match decode(prefix, protocol, usize::MAX) {
                    Ok(Decode::Incomplete(more)) => {
                        assert!(more >= 1 && cut + more <= first.len(), "Incomplete({more})")
                    }
                    other => panic!("prefix {cut} of {first:?} gave {other:?}"),
                }
            }
            Ok(Decode::Complete(packet.packet_type(), used))
        }
    }
}
