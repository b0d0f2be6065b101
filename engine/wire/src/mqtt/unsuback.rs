//! UNSUBACK packet (MQTT 3.1.1 §3.11, MQTT 5.0 §3.11).

use super::codec::{properties_len, put_properties, put_u16, Reader};
use super::header::{check_flags, packet_len, put_fixed_header};
use super::{packet_type, Error, Properties, Protocol};

/// UNSUBACK (§3.11). Under 3.1.1 only the packet identifier (remaining
/// length 2); under 5.0 also properties and one reason code per filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnsubAck<'a> {
    /// Packet identifier of the UNSUBSCRIBE, nonzero (§2.3.1).
    pub pkid: u16,
    /// MQTT 5.0 properties (§3.11.2.1); empty under 3.1.1.
    pub properties: Properties<'a>,
    /// MQTT 5.0 reason codes (§3.11.3); empty under 3.1.1.
    pub codes: &'a [u8],
}

impl<'a> UnsubAck<'a> {
    /// Decode the body that follows the fixed header.
    pub fn decode(flags: u8, body: &'a [u8], protocol: Protocol) -> Result<Self, Error> {
        check_flags(packet_type::UNSUBACK, flags)?;
        let mut r = Reader::new(body);
        let pkid = r.packet_id()?;
        let properties = r.properties(protocol)?;
        let codes = match protocol {
            Protocol::V311 => {
                r.finish()?;
                &[]
            }
            Protocol::V5 => {
                let codes = r.rest();
                if codes.is_empty() {
                    return Err(Error::MalformedPacket("UNSUBACK without reason codes"));
                }
                codes
            }
        };
        Ok(UnsubAck {
            pkid,
            properties,
            codes,
        })
    }

    fn body_len(&self, protocol: Protocol) -> usize {
        match protocol {
            Protocol::V311 => 2,
            Protocol::V5 => 2 + properties_len(&self.properties, protocol) + self.codes.len(),
        }
    }

    /// Append the whole packet; codes and properties only under 5.0.
    pub fn encode(&self, protocol: Protocol, out: &mut Vec<u8>) {
        let body = self.body_len(protocol);
        out.reserve(packet_len(body));
        put_fixed_header(0xB0, body, out);
        put_u16(self.pkid, out);
        if protocol == Protocol::V5 {
            put_properties(&self.properties, protocol, out);
            out.extend_from_slice(self.codes);
        }
    }

    /// Exact number of bytes [`Self::encode`] appends.
    pub fn encoded_len(&self, protocol: Protocol) -> usize {
        packet_len(self.body_len(protocol))
    }
}

#[cfg(test)]
mod tests {
    use super::super::{decode, Decode, Packet};
    use super::*;

    fn both_ways(bytes: &[u8], protocol: Protocol, ack: UnsubAck<'_>) {
        assert_eq!(
            decode(bytes, protocol, 64),
            Ok(Decode::Complete(Packet::UnsubAck(ack), bytes.len()))
        );
        let mut out = Vec::new();
        ack.encode(protocol, &mut out);
        assert_eq!(out, bytes);
        assert_eq!(ack.encoded_len(protocol), bytes.len());
    }

    #[test]
    fn v311() {
        let ack = UnsubAck {
            pkid: 0x0102,
            properties: Properties::EMPTY,
            codes: &[],
        };
        both_ways(&[0xB0, 0x02, 0x01, 0x02], Protocol::V311, ack);
    }

    #[test]
    fn v5() {
        let ack = UnsubAck {
            pkid: 3,
            properties: Properties::EMPTY,
            codes: &[0x00, 0x11], // success, no subscription existed
        };
        both_ways(
            &[0xB0, 0x05, 0x00, 0x03, 0x00, 0x00, 0x11],
            Protocol::V5,
            ack,
        );
    }

    #[test]
    fn malformed() {
        // 3.1.1 UNSUBACK has exactly two bytes.
        assert!(decode(&[0xB0, 0x03, 0x00, 0x01, 0x00], Protocol::V311, 64).is_err());
        // v5 needs reason codes.
        assert!(decode(&[0xB0, 0x03, 0x00, 0x01, 0x00], Protocol::V5, 64).is_err());
        // Packet identifier 0.
        assert_eq!(
            decode(&[0xB0, 0x02, 0x00, 0x00], Protocol::V311, 64),
            Err(Error::ZeroPacketId)
        );
        // Flags.
        assert!(matches!(
            decode(&[0xB2, 0x02, 0x00, 0x01], Protocol::V311, 64),
            Err(Error::InvalidFlags { .. })
        ));
    }
}
