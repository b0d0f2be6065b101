//! PUBREL packet (MQTT 3.1.1 §3.6, MQTT 5.0 §3.6).

use super::ack::ack_packet;

ack_packet! {
    /// PUBREL (§3.6): second step of the QoS 2 flow; fixed-header flags must be 0b0010 (§3.6.1).
    PubRel, PUBREL, 0x62, "§3.6"
}

#[cfg(test)]
mod tests {
    use super::super::{decode, Decode, Error, Packet, Properties, Property, Protocol};
    use super::*;

    fn both_ways(bytes: &[u8], protocol: Protocol, ack: PubRel<'_>) {
        assert_eq!(
            decode(bytes, protocol, 64),
            Ok(Decode::Complete(Packet::PubRel(ack), bytes.len()))
        );
        let mut out = Vec::new();
        ack.encode(protocol, &mut out);
        assert_eq!(out, bytes);
        assert_eq!(ack.encoded_len(protocol), bytes.len());
    }

    #[test]
    fn v311() {
        both_ways(&[0x62, 0x02, 0x00, 0x0A], Protocol::V311, PubRel::new(10));
    }

    #[test]
    fn v5_short_and_long_forms() {
        // §3.4.2.1: reason 0x00 without properties is the 2-byte form.
        both_ways(&[0x62, 0x02, 0x12, 0x34], Protocol::V5, PubRel::new(0x1234));
        let reason_only = PubRel {
            reason: 0x92, // packet identifier not found
            ..PubRel::new(1)
        };
        both_ways(&[0x62, 0x03, 0x00, 0x01, 0x92], Protocol::V5, reason_only);
        let props = [Property::ReasonString("x")];
        let full = PubRel {
            reason: 0x10,
            properties: Properties::List(&props),
            ..PubRel::new(10)
        };
        #[rustfmt::skip]
        both_ways(
            &[0x62, 0x08, 0x00, 0x0A, 0x10, 0x04, 0x1F, 0x00, 0x01, b'x'],
            Protocol::V5,
            full,
        );
        // An explicit empty property block decodes like the short form.
        assert_eq!(
            decode(&[0x62, 0x04, 0x00, 0x01, 0x00, 0x00], Protocol::V5, 64),
            Ok(Decode::Complete(Packet::PubRel(PubRel::new(1)), 6))
        );
    }

    #[test]
    fn malformed() {
        assert!(matches!(
            decode(&[0x60, 0x02, 0x00, 0x01], Protocol::V311, 64),
            Err(Error::InvalidFlags { .. })
        ));
        assert_eq!(
            decode(&[0x62, 0x02, 0x00, 0x00], Protocol::V5, 64),
            Err(Error::ZeroPacketId)
        );
        // 3.1.1 has no reason code.
        assert!(decode(&[0x62, 0x03, 0x00, 0x01, 0x00], Protocol::V311, 64).is_err());
        // Truncated packet identifier.
        assert!(decode(&[0x62, 0x01, 0x00], Protocol::V5, 64).is_err());
        // Property block longer than the packet.
        assert!(decode(&[0x62, 0x04, 0x00, 0x01, 0x00, 0x03], Protocol::V5, 64).is_err());
    }
}
