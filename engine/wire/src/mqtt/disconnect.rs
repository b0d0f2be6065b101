//! DISCONNECT packet (MQTT 3.1.1 §3.14, MQTT 5.0 §3.14).

use super::codec::Reader;
use super::header::{check_flags, packet_len, put_fixed_header};
use super::{packet_type, Error, Properties, Protocol};

/// DISCONNECT (§3.14). Empty body under MQTT 3.1.1; under MQTT 5.0 an
/// optional reason code and optional properties (§3.14.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Disconnect<'a> {
    /// MQTT 5.0 reason code (0x00 = normal disconnection); 0 under 3.1.1.
    pub reason: u8,
    /// MQTT 5.0 properties; empty under 3.1.1.
    pub properties: Properties<'a>,
}

impl<'a> Disconnect<'a> {
    /// Normal disconnection without properties.
    pub const NORMAL: Disconnect<'static> = Disconnect {
        reason: 0,
        properties: Properties::EMPTY,
    };

    /// Decode the body that follows the fixed header. MQTT 5.0 §3.14.2.1:
    /// remaining length 0 means reason 0x00; §3.14.2.2.1: below 2 there is no
    /// Property Length.
    pub fn decode(flags: u8, body: &'a [u8], protocol: Protocol) -> Result<Self, Error> {
        check_flags(packet_type::DISCONNECT, flags)?;
        let mut r = Reader::new(body);
        let mut packet = Disconnect::default();
        if protocol == Protocol::V5 && !r.is_empty() {
            packet.reason = r.u8()?;
            if !r.is_empty() {
                packet.properties = r.properties(protocol)?;
            }
        }
        r.finish()?;
        Ok(packet)
    }

    fn body_len(&self, protocol: Protocol) -> usize {
        match protocol {
            Protocol::V311 => 0,
            Protocol::V5 if self.properties.is_empty() => usize::from(self.reason != 0),
            Protocol::V5 => 1 + self.properties.encoded_len(),
        }
    }

    /// Append the whole packet in its shortest allowed form.
    pub fn encode(&self, protocol: Protocol, out: &mut Vec<u8>) {
        let body = self.body_len(protocol);
        out.reserve(packet_len(body));
        put_fixed_header(0xE0, body, out);
        if body > 0 {
            out.push(self.reason);
        }
        if body > 1 {
            self.properties.encode(out);
        }
    }

    /// Exact number of bytes [`Self::encode`] appends.
    pub fn encoded_len(&self, protocol: Protocol) -> usize {
        packet_len(self.body_len(protocol))
    }
}

#[cfg(test)]
mod tests {
    use super::super::{decode, Decode, Packet, Property};
    use super::*;

    fn roundtrip(bytes: &[u8], protocol: Protocol, expected: Disconnect<'_>) {
        assert_eq!(
            decode(bytes, protocol, 64),
            Ok(Decode::Complete(Packet::Disconnect(expected), bytes.len()))
        );
        let mut out = Vec::new();
        expected.encode(protocol, &mut out);
        assert_eq!(out, bytes);
        assert_eq!(expected.encoded_len(protocol), bytes.len());
    }

    #[test]
    fn v311() {
        roundtrip(&[0xE0, 0x00], Protocol::V311, Disconnect::NORMAL);
    }

    #[test]
    fn v5_forms() {
        roundtrip(&[0xE0, 0x00], Protocol::V5, Disconnect::NORMAL);
        // 0x04: disconnect with will message, no properties.
        let with_will = Disconnect {
            reason: 0x04,
            properties: Properties::EMPTY,
        };
        roundtrip(&[0xE0, 0x01, 0x04], Protocol::V5, with_will);
        let props = [Property::SessionExpiryInterval(0)];
        let with_props = Disconnect {
            reason: 0x00,
            properties: Properties::List(&props),
        };
        #[rustfmt::skip]
        roundtrip(
            &[0xE0, 0x07, 0x00, 0x05, 0x11, 0x00, 0x00, 0x00, 0x00],
            Protocol::V5,
            with_props,
        );
        // Explicit empty property length decodes to the short form.
        assert_eq!(
            decode(&[0xE0, 0x02, 0x00, 0x00], Protocol::V5, 64),
            Ok(Decode::Complete(Packet::Disconnect(Disconnect::NORMAL), 4))
        );
    }

    #[test]
    fn malformed() {
        // v3.1.1 DISCONNECT has no body.
        assert!(decode(&[0xE0, 0x01, 0x00], Protocol::V311, 64).is_err());
        // Reserved flags.
        assert!(matches!(
            decode(&[0xE2, 0x00], Protocol::V5, 64),
            Err(Error::InvalidFlags { .. })
        ));
        // Property length runs past the body.
        assert!(decode(&[0xE0, 0x02, 0x00, 0x05], Protocol::V5, 64).is_err());
    }
}
