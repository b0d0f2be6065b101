//! Body shared by PUBACK, PUBREC, PUBREL and PUBCOMP (MQTT 3.1.1 §3.4-§3.7,
//! MQTT 5.0 §3.4.2-§3.7.2): packet identifier, then (v5 only) an optional
//! reason code and optional properties.

use super::codec::{put_u16, Reader};
use super::header::{packet_len, put_fixed_header};
use super::{Error, Properties, Protocol};

/// Decoded ack body: packet id, reason code, properties.
pub(crate) fn decode_ack(
    body: &[u8],
    protocol: Protocol,
) -> Result<(u16, u8, Properties<'_>), Error> {
    let mut r = Reader::new(body);
    let pkid = r.packet_id()?;
    let (reason, properties) = match protocol {
        // MQTT 3.1.1: remaining length is exactly 2.
        Protocol::V311 => (0, Properties::EMPTY),
        // MQTT 5.0 §3.4.2.1: remaining length 2 means reason 0x00 and no
        // properties; §3.4.2.2.1: below 4 there is no Property Length.
        Protocol::V5 => {
            let reason = if r.is_empty() { 0 } else { r.u8()? };
            let properties = if r.is_empty() {
                Properties::EMPTY
            } else {
                r.properties(protocol)?
            };
            (reason, properties)
        }
    };
    r.finish()?;
    Ok((pkid, reason, properties))
}

/// Remaining length of an ack body as [`encode_ack`] writes it.
pub(crate) fn ack_body_len(reason: u8, properties: &Properties<'_>, protocol: Protocol) -> usize {
    match protocol {
        Protocol::V311 => 2,
        Protocol::V5 if properties.is_empty() => {
            if reason == 0 {
                2
            } else {
                3
            }
        }
        Protocol::V5 => 3 + properties.encoded_len(),
    }
}

/// Whole packet size of an ack.
pub(crate) fn ack_len(reason: u8, properties: &Properties<'_>, protocol: Protocol) -> usize {
    packet_len(ack_body_len(reason, properties, protocol))
}

/// Append a whole ack packet with first byte `first`, using the shortest form
/// the specification allows (MQTT 5.0 §3.4.2.1).
pub(crate) fn encode_ack(
    first: u8,
    pkid: u16,
    reason: u8,
    properties: &Properties<'_>,
    protocol: Protocol,
    out: &mut Vec<u8>,
) {
    let body = ack_body_len(reason, properties, protocol);
    out.reserve(packet_len(body));
    put_fixed_header(first, body, out);
    put_u16(pkid, out);
    if body > 2 {
        out.push(reason);
    }
    if body > 3 {
        properties.encode(out);
    }
}

/// Defines one of the four ack packets over the shared body above: the struct, `new`,
/// `decode` (which checks the packet's fixed-header flags, §2.2.2) and `encode`/`encoded_len`.
/// `$first` is the packet's first byte; `$section` its clause, for the docs.
macro_rules! ack_packet {
    ($(#[$doc:meta])* $name:ident, $packet_type:ident, $first:literal, $section:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct $name<'a> {
            /// Packet identifier being acknowledged, nonzero (§2.3.1).
            pub pkid: u16,
            /// MQTT 5.0 reason code (0x00 = success); always 0 under MQTT 3.1.1.
            pub reason: u8,
            /// MQTT 5.0 properties; always empty under MQTT 3.1.1.
            pub properties: $crate::mqtt::Properties<'a>,
        }

        impl<'a> $name<'a> {
            /// Reason 0x00 and no properties.
            pub const fn new(pkid: u16) -> Self {
                $name {
                    pkid,
                    reason: 0,
                    properties: $crate::mqtt::Properties::EMPTY,
                }
            }

            #[doc = concat!(
                "Decode the body that follows the fixed header. MQTT 3.1.1 requires a remaining ",
                "length of 2; MQTT 5.0 accepts 2, 3 or more (", $section, ".2)."
            )]
            pub fn decode(
                flags: u8,
                body: &'a [u8],
                protocol: $crate::mqtt::Protocol,
            ) -> Result<Self, $crate::mqtt::Error> {
                $crate::mqtt::header::check_flags($crate::mqtt::packet_type::$packet_type, flags)?;
                let (pkid, reason, properties) = $crate::mqtt::ack::decode_ack(body, protocol)?;
                Ok($name {
                    pkid,
                    reason,
                    properties,
                })
            }

            #[doc = concat!(
                "Append the whole packet; v5 reason and properties are left out when the reason ",
                "is 0x00 and there are no properties (MQTT 5.0 ", $section, ".2.1)."
            )]
            pub fn encode(&self, protocol: $crate::mqtt::Protocol, out: &mut Vec<u8>) {
                $crate::mqtt::ack::encode_ack(
                    $first,
                    self.pkid,
                    self.reason,
                    &self.properties,
                    protocol,
                    out,
                );
            }

            /// Exact number of bytes [`Self::encode`] appends.
            pub fn encoded_len(&self, protocol: $crate::mqtt::Protocol) -> usize {
                $crate::mqtt::ack::ack_len(self.reason, &self.properties, protocol)
            }
        }
    };
}
pub(crate) use ack_packet;
