//! Protocol headers (§2.2 version negotiation, §5.2.1 TLS, §5.3.1 SASL):
//! the 8 bytes `AMQP`, protocol id, major, minor, revision.

use super::{Decode, Error};

/// AMQP 1.0.0 over a plain connection: `AMQP 0 1 0 0` (§2.2).
pub const AMQP_HEADER: [u8; 8] = *b"AMQP\x00\x01\x00\x00";
/// TLS negotiation: `AMQP 2 1 0 0` (§5.2.1).
pub const TLS_HEADER: [u8; 8] = *b"AMQP\x02\x01\x00\x00";
/// SASL negotiation: `AMQP 3 1 0 0` (§5.3.1).
pub const SASL_HEADER: [u8; 8] = *b"AMQP\x03\x01\x00\x00";

/// The protocol id byte (§2.2, §5.2.1, §5.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ProtocolId {
    /// 0: AMQP frames follow.
    Amqp = 0,
    /// 2: a TLS handshake follows.
    Tls = 2,
    /// 3: SASL frames follow.
    Sasl = 3,
}

impl TryFrom<u8> for ProtocolId {
    type Error = Error;

    fn try_from(id: u8) -> Result<Self, Error> {
        match id {
            0 => Ok(ProtocolId::Amqp),
            2 => Ok(ProtocolId::Tls),
            3 => Ok(ProtocolId::Sasl),
            _ => Err(Error::InvalidProtocolHeader),
        }
    }
}

/// A protocol header (§2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProtocolHeader {
    /// Which protocol layer follows.
    pub id: ProtocolId,
    /// Major version; 1 for AMQP 1.0.
    pub major: u8,
    /// Minor version; 0 for AMQP 1.0.
    pub minor: u8,
    /// Revision; 0 for AMQP 1.0.0.
    pub revision: u8,
}

impl ProtocolHeader {
    /// Length of a protocol header on the wire.
    pub const LEN: usize = 8;

    /// AMQP 1.0.0 with protocol id `id`.
    pub const fn new(id: ProtocolId) -> Self {
        ProtocolHeader {
            id,
            major: 1,
            minor: 0,
            revision: 0,
        }
    }

    /// Plain AMQP 1.0.0 ([`AMQP_HEADER`]).
    pub const AMQP: Self = Self::new(ProtocolId::Amqp);
    /// SASL layer, AMQP 1.0.0 ([`SASL_HEADER`]).
    pub const SASL: Self = Self::new(ProtocolId::Sasl);
    /// TLS layer, AMQP 1.0.0 ([`TLS_HEADER`]).
    pub const TLS: Self = Self::new(ProtocolId::Tls);

    /// True for version 1.0.0, the only one this codec speaks.
    pub const fn is_1_0_0(&self) -> bool {
        self.major == 1 && self.minor == 0 && self.revision == 0
    }

    /// Decode a protocol header from the front of `input`. Bytes that cannot
    /// start a header (anything but `AMQP` and a known id) are rejected as
    /// soon as they are seen, before all 8 bytes arrive. The version is not
    /// checked; see [`Self::is_1_0_0`].
    pub fn decode(input: &[u8]) -> Result<Decode<ProtocolHeader>, Error> {
        for (got, want) in input.iter().zip(b"AMQP") {
            if got != want {
                return Err(Error::InvalidProtocolHeader);
            }
        }
        if let Some(&id) = input.get(4) {
            ProtocolId::try_from(id)?;
        }
        match *input {
            [_, _, _, _, id, major, minor, revision, ..] => Ok(Decode::Complete(
                ProtocolHeader {
                    id: ProtocolId::try_from(id)?,
                    major,
                    minor,
                    revision,
                },
                Self::LEN,
            )),
            _ => Ok(Decode::Incomplete(Self::LEN - input.len())),
        }
    }

    /// The 8 header bytes.
    pub const fn to_bytes(&self) -> [u8; 8] {
        [
            b'A',
            b'M',
            b'Q',
            b'P',
            self.id as u8,
            self.major,
            self.minor,
            self.revision,
        ]
    }

    /// Append the 8 header bytes.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_bytes());
    }

    /// Always 8.
    pub const fn encoded_len(&self) -> usize {
        Self::LEN
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_headers_both_ways() {
        for (bytes, header) in [
            (AMQP_HEADER, ProtocolHeader::AMQP),
            (SASL_HEADER, ProtocolHeader::SASL),
            (TLS_HEADER, ProtocolHeader::TLS),
        ] {
            assert_eq!(
                ProtocolHeader::decode(&bytes),
                Ok(Decode::Complete(header, 8))
            );
            let mut out = Vec::new();
            header.encode(&mut out);
            assert_eq!(out, bytes);
            assert!(header.is_1_0_0());
        }
        assert_eq!(AMQP_HEADER, [b'A', b'M', b'Q', b'P', 0, 1, 0, 0]);
        assert_eq!(SASL_HEADER, [b'A', b'M', b'Q', b'P', 3, 1, 0, 0]);
    }

    #[test]
    fn prefixes_and_garbage() {
        for cut in 0..8 {
            assert_eq!(
                ProtocolHeader::decode(&SASL_HEADER[..cut]),
                Ok(Decode::Incomplete(8 - cut))
            );
        }
        // An AMQP 0-9-1 header, an HTTP request, an unknown protocol id.
        assert_eq!(
            ProtocolHeader::decode(b"AMQP\x00\x00\x09\x01"),
            Ok(Decode::Complete(
                ProtocolHeader {
                    id: ProtocolId::Amqp,
                    major: 0,
                    minor: 9,
                    revision: 1
                },
                8
            ))
        );
        assert_eq!(
            ProtocolHeader::decode(b"GET"),
            Err(Error::InvalidProtocolHeader)
        );
        assert_eq!(
            ProtocolHeader::decode(b"AMQP\x01"),
            Err(Error::InvalidProtocolHeader)
        );
    }
}
