//! SUBACK packet (MQTT 3.1.1 §3.9, MQTT 5.0 §3.9).

use super::codec::{properties_len, put_properties, put_u16, Reader};
use super::header::{check_flags, packet_len, put_fixed_header};
use super::{packet_type, Error, Properties, Protocol};

/// SUBACK (§3.9): one return/reason code per filter of the SUBSCRIBE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubAck<'a> {
    /// Packet identifier of the SUBSCRIBE, nonzero (§2.3.1).
    pub pkid: u16,
    /// MQTT 5.0 properties (§3.9.2.1); empty under 3.1.1.
    pub properties: Properties<'a>,
    /// Return codes (3.1.1 §3.9.3: 0x00-0x02 granted QoS, 0x80 failure) or
    /// v5 reason codes (§3.9.3), one per filter.
    pub codes: &'a [u8],
}

impl<'a> SubAck<'a> {
    /// Decode the body that follows the fixed header. At least one code is
    /// required; under 3.1.1 only 0x00, 0x01, 0x02 and 0x80 are allowed
    /// (§3.9.3).
    pub fn decode(flags: u8, body: &'a [u8], protocol: Protocol) -> Result<Self, Error> {
        check_flags(packet_type::SUBACK, flags)?;
        let mut r = Reader::new(body);
        let pkid = r.packet_id()?;
        let properties = r.properties(protocol)?;
        let codes = r.rest();
        if codes.is_empty() {
            return Err(Error::MalformedPacket("SUBACK without return codes"));
        }
        if protocol == Protocol::V311 && codes.iter().any(|c| !matches!(c, 0..=2 | 0x80)) {
            return Err(Error::MalformedPacket("reserved SUBACK return code"));
        }
        Ok(SubAck {
            pkid,
            properties,
            codes,
        })
    }

    fn body_len(&self, protocol: Protocol) -> usize {
        2 + properties_len(&self.properties, protocol) + self.codes.len()
    }

    /// Append the whole packet.
    pub fn encode(&self, protocol: Protocol, out: &mut Vec<u8>) {
        let body = self.body_len(protocol);
        out.reserve(packet_len(body));
        put_fixed_header(0x90, body, out);
        put_u16(self.pkid, out);
        put_properties(&self.properties, protocol, out);
        out.extend_from_slice(self.codes);
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

    fn both_ways(bytes: &[u8], protocol: Protocol, ack: SubAck<'_>) {
        assert_eq!(
            decode(bytes, protocol, 64),
            Ok(Decode::Complete(Packet::SubAck(ack), bytes.len()))
        );
        let mut out = Vec::new();
        ack.encode(protocol, &mut out);
        assert_eq!(out, bytes);
        assert_eq!(ack.encoded_len(protocol), bytes.len());
    }

    #[test]
    fn v311() {
        let ack = SubAck {
            pkid: 10,
            properties: Properties::EMPTY,
            codes: &[0x00, 0x02, 0x80],
        };
        both_ways(
            &[0x90, 0x05, 0x00, 0x0A, 0x00, 0x02, 0x80],
            Protocol::V311,
            ack,
        );
    }

    #[test]
    fn v5() {
        let props = [Property::ReasonString("no")];
        let ack = SubAck {
            pkid: 2,
            properties: Properties::List(&props),
            codes: &[0x87], // not authorized
        };
        #[rustfmt::skip]
        both_ways(
            &[0x90, 0x09, 0x00, 0x02, 0x05, 0x1F, 0x00, 0x02, b'n', b'o', 0x87],
            Protocol::V5,
            ack,
        );
    }

    #[test]
    fn malformed() {
        // 0x87 is not a 3.1.1 return code.
        assert!(decode(&[0x90, 0x03, 0x00, 0x01, 0x87], Protocol::V311, 64).is_err());
        // No codes.
        assert!(decode(&[0x90, 0x03, 0x00, 0x01, 0x00], Protocol::V5, 64).is_err());
        // Flags.
        assert!(matches!(
            decode(&[0x92, 0x03, 0x00, 0x01, 0x00], Protocol::V311, 64),
            Err(Error::InvalidFlags { .. })
        ));
        // Property length past the end.
        assert!(decode(&[0x90, 0x04, 0x00, 0x01, 0x09, 0x00], Protocol::V5, 64).is_err());
    }
}
