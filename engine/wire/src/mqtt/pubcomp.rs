//! PUBCOMP packet (MQTT 3.1.1 §3.7, MQTT 5.0 §3.7).

use super::ack::{ack_len, decode_ack, encode_ack};
use super::header::check_flags;
use super::{packet_type, Error, Properties, Protocol};

/// PUBCOMP (§3.7): completes the QoS 2 flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PubComp<'a> {
    /// Packet identifier being acknowledged, nonzero (§2.3.1).
    pub pkid: u16,
    /// MQTT 5.0 reason code (0x00 = success); always 0 under MQTT 3.1.1.
    pub reason: u8,
    /// MQTT 5.0 properties; always empty under MQTT 3.1.1.
    pub properties: Properties<'a>,
}

impl<'a> PubComp<'a> {
    /// Reason 0x00 and no properties.
    pub const fn new(pkid: u16) -> Self {
        PubComp {
            pkid,
            reason: 0,
            properties: Properties::EMPTY,
        }
    }

    /// Decode the body that follows the fixed header. MQTT 3.1.1 requires a
    /// remaining length of 2; MQTT 5.0 accepts 2, 3 or more (§3.7.2).
    pub fn decode(flags: u8, body: &'a [u8], protocol: Protocol) -> Result<Self, Error> {
        check_flags(packet_type::PUBCOMP, flags)?;
        let (pkid, reason, properties) = decode_ack(body, protocol)?;
        Ok(PubComp {
            pkid,
            reason,
            properties,
        })
    }

    /// Append the whole packet; v5 reason and properties are left out when
    /// the reason is 0x00 and there are no properties (MQTT 5.0 §3.7.2.1).
    pub fn encode(&self, protocol: Protocol, out: &mut Vec<u8>) {
        encode_ack(
            0x70,
            self.pkid,
            self.reason,
            &self.properties,
            protocol,
            out,
        );
    }

    /// Exact number of bytes [`Self::encode`] appends.
    pub fn encoded_len(&self, protocol: Protocol) -> usize {
        ack_len(self.reason, &self.properties, protocol)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{decode, Decode, Packet, Property};
    use super::*;

    fn both_ways(bytes: &[u8], protocol: Protocol, ack: PubComp<'_>) {
        assert_eq!(
            decode(bytes, protocol, 64),
            Ok(Decode::Complete(Packet::PubComp(ack), bytes.len()))
        );
        let mut out = Vec::new();
        ack.encode(protocol, &mut out);
        assert_eq!(out, bytes);
        assert_eq!(ack.encoded_len(protocol), bytes.len());
    }

    #[test]
    fn v311() {
        both_ways(&[0x70, 0x02, 0x00, 0x0A], Protocol::V311, PubComp::new(10));
    }

    #[test]
    fn v5_short_and_long_forms() {
        // §3.4.2.1: reason 0x00 without properties is the 2-byte form.
        both_ways(
            &[0x70, 0x02, 0x12, 0x34],
            Protocol::V5,
            PubComp::new(0x1234),
        );
        let reason_only = PubComp {
            reason: 0x92, // packet identifier not found
            ..PubComp::new(1)
        };
        both_ways(&[0x70, 0x03, 0x00, 0x01, 0x92], Protocol::V5, reason_only);
        let props = [Property::ReasonString("x")];
        let full = PubComp {
            reason: 0x10,
            properties: Properties::List(&props),
            ..PubComp::new(10)
        };
        #[rustfmt::skip]
        both_ways(
            &[0x70, 0x08, 0x00, 0x0A, 0x10, 0x04, 0x1F, 0x00, 0x01, b'x'],
            Protocol::V5,
            full,
        );
        // An explicit empty property block decodes like the short form.
        assert_eq!(
            decode(&[0x70, 0x04, 0x00, 0x01, 0x00, 0x00], Protocol::V5, 64),
            Ok(Decode::Complete(Packet::PubComp(PubComp::new(1)), 6))
        );
    }

    #[test]
    fn malformed() {
        assert!(matches!(
            decode(&[0x71, 0x02, 0x00, 0x01], Protocol::V311, 64),
            Err(Error::InvalidFlags { .. })
        ));
        assert_eq!(
            decode(&[0x70, 0x02, 0x00, 0x00], Protocol::V5, 64),
            Err(Error::ZeroPacketId)
        );
        // 3.1.1 has no reason code.
        assert!(decode(&[0x70, 0x03, 0x00, 0x01, 0x00], Protocol::V311, 64).is_err());
        // Truncated packet identifier.
        assert!(decode(&[0x70, 0x01, 0x00], Protocol::V5, 64).is_err());
        // Property block longer than the packet.
        assert!(decode(&[0x70, 0x04, 0x00, 0x01, 0x00, 0x03], Protocol::V5, 64).is_err());
    }
}
