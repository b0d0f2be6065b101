//! AUTH packet (MQTT 5.0 §3.15). Packet type 15 is reserved in MQTT 3.1.1.

use super::codec::Reader;
use super::header::{check_flags, packet_len, put_fixed_header};
use super::{packet_type, Error, Properties, Protocol};

/// AUTH (MQTT 5.0 §3.15): extended authentication exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Auth<'a> {
    /// Reason code: 0x00 success, 0x18 continue, 0x19 re-authenticate.
    pub reason: u8,
    /// Properties, normally Authentication Method and Data.
    pub properties: Properties<'a>,
}

impl<'a> Auth<'a> {
    /// Decode the body that follows the fixed header. Under MQTT 3.1.1 this is
    /// [`Error::UnknownPacketType`]. Remaining length 0 means reason 0x00 and
    /// no properties (§3.15.2.1).
    pub fn decode(flags: u8, body: &'a [u8], protocol: Protocol) -> Result<Self, Error> {
        if protocol == Protocol::V311 {
            return Err(Error::UnknownPacketType(packet_type::AUTH));
        }
        check_flags(packet_type::AUTH, flags)?;
        let mut r = Reader::new(body);
        let mut packet = Auth::default();
        if !r.is_empty() {
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
            _ if self.reason == 0 && self.properties.is_empty() => 0,
            // There is no AUTH in 3.1.1; write the reason alone.
            Protocol::V311 => 1,
            Protocol::V5 => 1 + self.properties.encoded_len(),
        }
    }

    /// Append the whole packet; the short form (remaining length 0) is used
    /// for success without properties (§3.15.2.1).
    pub fn encode(&self, protocol: Protocol, out: &mut Vec<u8>) {
        let body = self.body_len(protocol);
        out.reserve(packet_len(body));
        put_fixed_header(0xF0, body, out);
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

    #[test]
    fn v5_byte_literals() {
        #[rustfmt::skip]
        let bytes = [
            0xF0, 0x0A, 0x18, // continue authentication
            0x08, 0x15, 0x00, 0x05, b'S', b'C', b'R', b'A', b'M',
        ];
        let props = [Property::AuthenticationMethod("SCRAM")];
        let auth = Auth {
            reason: 0x18,
            properties: Properties::List(&props),
        };
        assert_eq!(
            decode(&bytes, Protocol::V5, 64),
            Ok(Decode::Complete(Packet::Auth(auth), bytes.len()))
        );
        let mut out = Vec::new();
        auth.encode(Protocol::V5, &mut out);
        assert_eq!(out, bytes);
        assert_eq!(auth.encoded_len(Protocol::V5), bytes.len());

        let success = Auth::default();
        assert_eq!(
            decode(&[0xF0, 0x00], Protocol::V5, 64),
            Ok(Decode::Complete(Packet::Auth(success), 2))
        );
        out.clear();
        success.encode(Protocol::V5, &mut out);
        assert_eq!(out, [0xF0, 0x00]);
    }

    #[test]
    fn malformed() {
        assert_eq!(
            decode(&[0xF0, 0x00], Protocol::V311, 64),
            Err(Error::UnknownPacketType(15))
        );
        assert!(matches!(
            decode(&[0xF1, 0x00], Protocol::V5, 64),
            Err(Error::InvalidFlags { .. })
        ));
        // Unknown property identifier 0x7F.
        assert_eq!(
            decode(&[0xF0, 0x03, 0x18, 0x01, 0x7F], Protocol::V5, 64),
            Err(Error::UnknownProperty(0x7F))
        );
    }
}
