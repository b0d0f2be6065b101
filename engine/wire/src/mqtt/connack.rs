//! CONNACK packet (MQTT 3.1.1 §3.2, MQTT 5.0 §3.2).

use super::codec::{properties_len, put_properties, Reader};
use super::header::{check_flags, packet_len, put_fixed_header};
use super::{packet_type, Error, Properties, Protocol};

/// CONNACK (§3.2): the server's answer to CONNECT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnAck<'a> {
    /// Session Present flag, bit 0 of the acknowledge flags (§3.2.2.2).
    pub session_present: bool,
    /// Return code (3.1.1 §3.2.2.3) or reason code (5.0 §3.2.2.2); 0 = accepted.
    pub code: u8,
    /// MQTT 5.0 properties (§3.2.2.3); empty under 3.1.1.
    pub properties: Properties<'a>,
}

impl<'a> ConnAck<'a> {
    /// Decode the body that follows the fixed header. Bits 7-1 of the
    /// acknowledge flags are reserved and must be 0 (§3.2.2.1). A v5 CONNACK
    /// without a Property Length is accepted as having no properties.
    pub fn decode(flags: u8, body: &'a [u8], protocol: Protocol) -> Result<Self, Error> {
        check_flags(packet_type::CONNACK, flags)?;
        let mut r = Reader::new(body);
        let ack_flags = r.u8()?;
        if ack_flags & 0xFE != 0 {
            return Err(Error::MalformedPacket("CONNACK reserved flag bits set"));
        }
        let code = r.u8()?;
        let properties = if r.is_empty() {
            Properties::EMPTY
        } else {
            r.properties(protocol)?
        };
        r.finish()?;
        Ok(ConnAck {
            session_present: ack_flags & 1 != 0,
            code,
            properties,
        })
    }

    fn body_len(&self, protocol: Protocol) -> usize {
        2 + properties_len(&self.properties, protocol)
    }

    /// Append the whole packet.
    pub fn encode(&self, protocol: Protocol, out: &mut Vec<u8>) {
        let body = self.body_len(protocol);
        out.reserve(packet_len(body));
        put_fixed_header(0x20, body, out);
        out.push(u8::from(self.session_present));
        out.push(self.code);
        put_properties(&self.properties, protocol, out);
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

    fn both_ways(bytes: &[u8], protocol: Protocol, ack: ConnAck<'_>) {
        assert_eq!(
            decode(bytes, protocol, 64),
            Ok(Decode::Complete(Packet::ConnAck(ack), bytes.len()))
        );
        let mut out = Vec::new();
        ack.encode(protocol, &mut out);
        assert_eq!(out, bytes);
        assert_eq!(ack.encoded_len(protocol), bytes.len());
    }

    #[test]
    fn v311() {
        let ack = ConnAck {
            session_present: true,
            code: 0,
            properties: Properties::EMPTY,
        };
        both_ways(&[0x20, 0x02, 0x01, 0x00], Protocol::V311, ack);
        // Return code 5: not authorized.
        let refused = ConnAck {
            session_present: false,
            code: 5,
            properties: Properties::EMPTY,
        };
        both_ways(&[0x20, 0x02, 0x00, 0x05], Protocol::V311, refused);
    }

    #[test]
    fn v5() {
        let props = [
            Property::ReceiveMaximum(10),
            Property::AssignedClientIdentifier("c1"),
        ];
        let ack = ConnAck {
            session_present: false,
            code: 0,
            properties: Properties::List(&props),
        };
        #[rustfmt::skip]
        both_ways(
            &[0x20, 0x0B, 0x00, 0x00, 0x08,
              0x21, 0x00, 0x0A,
              0x12, 0x00, 0x02, b'c', b'1'],
            Protocol::V5,
            ack,
        );
        let bare = ConnAck {
            session_present: false,
            code: 0x87, // not authorized
            properties: Properties::EMPTY,
        };
        both_ways(&[0x20, 0x03, 0x00, 0x87, 0x00], Protocol::V5, bare);
    }

    #[test]
    fn malformed() {
        // Reserved acknowledge flag bit.
        assert!(decode(&[0x20, 0x02, 0x02, 0x00], Protocol::V311, 64).is_err());
        // Truncated.
        assert!(decode(&[0x20, 0x01, 0x00], Protocol::V311, 64).is_err());
        // Trailing byte in 3.1.1.
        assert!(decode(&[0x20, 0x03, 0x00, 0x00, 0x00], Protocol::V311, 64).is_err());
        // Flags.
        assert!(matches!(
            decode(&[0x21, 0x02, 0x00, 0x00], Protocol::V5, 64),
            Err(Error::InvalidFlags { .. })
        ));
    }
}
