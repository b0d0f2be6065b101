//! PINGREQ and PINGRESP packets (MQTT 3.1.1 §3.12-§3.13, MQTT 5.0
//! §3.12-§3.13): a fixed header with remaining length 0 and nothing else.

use super::header::check_flags;
use super::{packet_type, Error, Protocol};

const EMPTY_BODY: Error = Error::MalformedPacket("PINGREQ/PINGRESP must have remaining length 0");

/// PINGREQ (§3.12): keep-alive probe from the client. Wire form `C0 00`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PingReq;

/// PINGRESP (§3.13): the server's answer to PINGREQ. Wire form `D0 00`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PingResp;

impl PingReq {
    /// The whole packet.
    pub const BYTES: [u8; 2] = [0xC0, 0x00];

    /// Decode the (empty) body that follows the fixed header.
    pub fn decode(flags: u8, body: &[u8], _protocol: Protocol) -> Result<Self, Error> {
        check_flags(packet_type::PINGREQ, flags)?;
        if body.is_empty() {
            Ok(PingReq)
        } else {
            Err(EMPTY_BODY)
        }
    }

    /// Append the whole packet.
    pub fn encode(&self, _protocol: Protocol, out: &mut Vec<u8>) {
        out.extend_from_slice(&Self::BYTES);
    }

    /// Always 2.
    pub fn encoded_len(&self, _protocol: Protocol) -> usize {
        Self::BYTES.len()
    }
}

impl PingResp {
    /// The whole packet.
    pub const BYTES: [u8; 2] = [0xD0, 0x00];

    /// Decode the (empty) body that follows the fixed header.
    pub fn decode(flags: u8, body: &[u8], _protocol: Protocol) -> Result<Self, Error> {
        check_flags(packet_type::PINGRESP, flags)?;
        if body.is_empty() {
            Ok(PingResp)
        } else {
            Err(EMPTY_BODY)
        }
    }

    /// Append the whole packet.
    pub fn encode(&self, _protocol: Protocol, out: &mut Vec<u8>) {
        out.extend_from_slice(&Self::BYTES);
    }

    /// Always 2.
    pub fn encoded_len(&self, _protocol: Protocol) -> usize {
        Self::BYTES.len()
    }
}

#[cfg(test)]
mod tests {
    use super::super::{decode, Decode, Packet};
    use super::*;

    #[test]
    fn byte_literals_both_versions() {
        for protocol in [Protocol::V311, Protocol::V5] {
            assert_eq!(
                decode(&[0xC0, 0x00], protocol, 16),
                Ok(Decode::Complete(Packet::PingReq, 2))
            );
            assert_eq!(
                decode(&[0xD0, 0x00, 0xC0], protocol, 16),
                Ok(Decode::Complete(Packet::PingResp, 2))
            );
            let mut out = Vec::new();
            Packet::PingReq.encode(protocol, &mut out);
            Packet::PingResp.encode(protocol, &mut out);
            assert_eq!(out, [0xC0, 0x00, 0xD0, 0x00]);
            assert_eq!(Packet::PingReq.encoded_len(protocol), 2);
        }
    }

    #[test]
    fn malformed() {
        let p = Protocol::V311;
        assert_eq!(
            decode(&[0xC1, 0x00], p, 16),
            Err(Error::InvalidFlags {
                packet_type: 12,
                flags: 1
            })
        );
        assert_eq!(decode(&[0xD0, 0x01, 0x00], p, 16), Err(EMPTY_BODY));
        assert_eq!(decode(&[0xC0], p, 16), Ok(Decode::Incomplete(1)));
    }
}
