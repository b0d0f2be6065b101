//! SASL frames (§5.3.3): mechanisms, init, challenge, response, outcome;
//! plus the PLAIN initial response (RFC 4616).

use super::codec::{read_composite, required, Encoder, Fields, Sink};
use super::types::Symbols;
use super::{descriptor, Error};

/// SASL outcome codes (§5.3.3.6).
pub mod sasl_code {
    /// 0: authentication succeeded.
    pub const OK: u8 = 0;
    /// 1: failed due to an unspecified problem with the supplied
    /// credentials.
    pub const AUTH: u8 = 1;
    /// 2: failed due to a system error.
    pub const SYS: u8 = 2;
    /// 3: failed due to an unrecoverable system error.
    pub const SYS_PERM: u8 = 3;
    /// 4: failed due to a transient system error.
    pub const SYS_TEMP: u8 = 4;
}

/// The body of a SASL frame (§5.3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaslFrame<'a> {
    /// `sasl-mechanisms` (§5.3.3.1, 0x40): mechanisms the server supports.
    Mechanisms(Symbols<'a>),
    /// `sasl-init` (§5.3.3.2, 0x41): the client's choice.
    Init {
        /// Selected mechanism, e.g. `PLAIN`.
        mechanism: &'a str,
        /// Initial response; see [`plain_response`].
        initial_response: Option<&'a [u8]>,
        /// The name of the target host.
        hostname: Option<&'a str>,
    },
    /// `sasl-challenge` (§5.3.3.3, 0x42).
    Challenge(&'a [u8]),
    /// `sasl-response` (§5.3.3.4, 0x43).
    Response(&'a [u8]),
    /// `sasl-outcome` (§5.3.3.5, 0x44).
    Outcome {
        /// See [`sasl_code`].
        code: u8,
        /// Additional data for a successful outcome.
        additional_data: Option<&'a [u8]>,
    },
}

impl<'a> SaslFrame<'a> {
    /// Decode the SASL frame body at the front of `input` (descriptors
    /// 0x40..=0x44); returns it and the bytes after it.
    pub fn decode(input: &'a [u8]) -> Result<(Self, &'a [u8]), Error> {
        const WHAT: &str = "SASL frame";
        let (code, list, rest) = read_composite(input, WHAT)?;
        let mut f = Fields::new(&list);
        let frame = match code {
            descriptor::SASL_MECHANISMS => {
                let value = required(f.next()?, "sasl-mechanisms.sasl-server-mechanisms")?;
                SaslFrame::Mechanisms(Symbols::from_value(value).ok_or(Error::InvalidField(
                    "sasl-mechanisms.sasl-server-mechanisms",
                ))?)
            }
            descriptor::SASL_INIT => SaslFrame::Init {
                mechanism: required(f.symbol("sasl-init.mechanism")?, "sasl-init.mechanism")?,
                initial_response: f.binary("sasl-init.initial-response")?,
                hostname: f.string("sasl-init.hostname")?,
            },
            descriptor::SASL_CHALLENGE => SaslFrame::Challenge(required(
                f.binary("sasl-challenge.challenge")?,
                "sasl-challenge.challenge",
            )?),
            descriptor::SASL_RESPONSE => SaslFrame::Response(required(
                f.binary("sasl-response.response")?,
                "sasl-response.response",
            )?),
            descriptor::SASL_OUTCOME => SaslFrame::Outcome {
                code: required(f.ubyte("sasl-outcome.code")?, "sasl-outcome.code")?,
                additional_data: f.binary("sasl-outcome.additional-data")?,
            },
            other => {
                return Err(Error::UnexpectedDescriptor {
                    expected: WHAT,
                    code: Some(other),
                })
            }
        };
        f.finish()?;
        Ok((frame, rest))
    }

    /// The numeric descriptor.
    pub const fn descriptor(&self) -> u64 {
        match self {
            SaslFrame::Mechanisms(_) => descriptor::SASL_MECHANISMS,
            SaslFrame::Init { .. } => descriptor::SASL_INIT,
            SaslFrame::Challenge(_) => descriptor::SASL_CHALLENGE,
            SaslFrame::Response(_) => descriptor::SASL_RESPONSE,
            SaslFrame::Outcome { .. } => descriptor::SASL_OUTCOME,
        }
    }

    pub(crate) fn encode_to<S: Sink>(&self, e: &mut Encoder<'_, S>) {
        e.described_list(self.descriptor(), |e| match self {
            // Mandatory: an empty list is still written (as an empty array).
            SaslFrame::Mechanisms(symbols) => e.field(Some(symbols), |e, s| e.symbols(s)),
            SaslFrame::Init {
                mechanism,
                initial_response,
                hostname,
            } => {
                e.field(Some(*mechanism), |e, v| e.symbol(v));
                e.field(*initial_response, |e, v| e.binary(v));
                e.field(*hostname, |e, v| e.string(v));
            }
            SaslFrame::Challenge(data) | SaslFrame::Response(data) => {
                e.field(Some(*data), |e, v| e.binary(v))
            }
            SaslFrame::Outcome {
                code,
                additional_data,
            } => {
                e.field(Some(*code), Encoder::ubyte);
                e.field(*additional_data, |e, v| e.binary(v));
            }
        });
    }

    /// True if this is a `sasl-outcome` with code [`sasl_code::OK`].
    pub const fn is_ok_outcome(&self) -> bool {
        matches!(
            self,
            SaslFrame::Outcome {
                code: sasl_code::OK,
                ..
            }
        )
    }
}

encoding_methods!(SaslFrame<'_>);

/// Write the SASL PLAIN initial response (RFC 4616) for `user` and
/// `password`, without an authorization identity: `\0user\0password`.
/// `buf` is cleared first; the returned slice borrows it, ready for
/// [`SaslFrame::Init`] `initial_response`.
pub fn plain_response<'b>(user: &str, password: &str, buf: &'b mut Vec<u8>) -> &'b [u8] {
    buf.clear();
    buf.reserve(2 + user.len() + password.len());
    buf.push(0);
    buf.extend_from_slice(user.as_bytes());
    buf.push(0);
    buf.extend_from_slice(password.as_bytes());
    buf
}

#[cfg(test)]
mod tests {
    use super::super::{decode_frame, encode_sasl_frame, Decode, Frame, FrameBody};
    use super::*;

    fn both_ways(bytes: &[u8], sasl: SaslFrame<'_>) {
        let frame = Frame {
            channel: 0,
            body: FrameBody::Sasl(sasl),
        };
        assert_eq!(
            decode_frame(bytes, 512),
            Ok(Decode::Complete(frame, bytes.len()))
        );
        let mut out = Vec::new();
        encode_sasl_frame(&sasl, &mut out);
        assert_eq!(out, bytes);
        assert_eq!(frame.encoded_len(), bytes.len());
    }

    #[test]
    fn mechanisms_anonymous_plain() {
        #[rustfmt::skip]
        both_ways(
            &[0x00, 0x00, 0x00, 0x22, 0x02, 0x01, 0x00, 0x00,
              0x00, 0x53, 0x40, 0xc0, 0x15, 0x01,
              0xe0, 0x12, 0x02, 0xa3,
              0x09, b'A', b'N', b'O', b'N', b'Y', b'M', b'O', b'U', b'S',
              0x05, b'P', b'L', b'A', b'I', b'N'],
            SaslFrame::Mechanisms(Symbols::List(&["ANONYMOUS", "PLAIN"])),
        );
        // A single bare symbol is accepted as well.
        let bytes = [
            0, 0, 0, 0x15, 2, 1, 0, 0, 0x00, 0x53, 0x40, 0xc0, 0x08, 0x01, 0xa3, 0x05, b'P', b'L',
            b'A', b'I', b'N',
        ];
        let Ok(Decode::Complete(frame, _)) = decode_frame(&bytes, 512) else {
            panic!()
        };
        let FrameBody::Sasl(SaslFrame::Mechanisms(m)) = frame.body else {
            panic!()
        };
        assert!(m.contains("PLAIN") && !m.contains("ANONYMOUS"));
    }

    #[test]
    fn init_plain() {
        let mut buf = Vec::new();
        let response = plain_response("user", "pass", &mut buf);
        assert_eq!(response, b"\0user\0pass");
        #[rustfmt::skip]
        both_ways(
            &[0x00, 0x00, 0x00, 0x21, 0x02, 0x01, 0x00, 0x00,
              0x00, 0x53, 0x41, 0xc0, 0x14, 0x02,
              0xa3, 0x05, b'P', b'L', b'A', b'I', b'N',
              0xa0, 0x0a, 0, b'u', b's', b'e', b'r', 0, b'p', b'a', b's', b's'],
            SaslFrame::Init {
                mechanism: "PLAIN",
                initial_response: Some(b"\0user\0pass"),
                hostname: None,
            },
        );
    }

    #[test]
    fn outcome_ok_and_challenge() {
        both_ways(
            &[
                0x00, 0x00, 0x00, 0x10, 0x02, 0x01, 0x00, 0x00, 0x00, 0x53, 0x44, 0xc0, 0x03, 0x01,
                0x50, 0x00,
            ],
            SaslFrame::Outcome {
                code: sasl_code::OK,
                additional_data: None,
            },
        );
        assert!(SaslFrame::Outcome {
            code: 0,
            additional_data: None
        }
        .is_ok_outcome());
        both_ways(
            &[
                0x00, 0x00, 0x00, 0x11, 0x02, 0x01, 0x00, 0x00, 0x00, 0x53, 0x42, 0xc0, 0x04, 0x01,
                0xa0, 0x01, b'?',
            ],
            SaslFrame::Challenge(b"?"),
        );
    }

    #[test]
    fn malformed() {
        // An AMQP performative in a SASL frame.
        let open = [
            0, 0, 0, 0x11, 2, 1, 0, 0, 0x00, 0x53, 0x10, 0xc0, 0x04, 0x01, 0xa1, 0x01, b'c',
        ];
        assert_eq!(
            decode_frame(&open, 512),
            Err(Error::UnexpectedDescriptor {
                expected: "SASL frame",
                code: Some(0x10)
            })
        );
        // Outcome without its code; mechanisms of strings; trailing bytes.
        let no_code = [0, 0, 0, 0x0c, 2, 1, 0, 0, 0x00, 0x53, 0x44, 0x45];
        assert_eq!(
            decode_frame(&no_code, 512),
            Err(Error::MissingField("sasl-outcome.code"))
        );
        let strings = [
            0, 0, 0, 0x11, 2, 1, 0, 0, 0x00, 0x53, 0x40, 0xc0, 0x04, 0x01, 0xa1, 0x01, b'x',
        ];
        assert_eq!(
            decode_frame(&strings, 512),
            Err(Error::InvalidField(
                "sasl-mechanisms.sasl-server-mechanisms"
            ))
        );
        let trailing = [
            0, 0, 0, 0x11, 2, 1, 0, 0, 0x00, 0x53, 0x44, 0xc0, 0x03, 0x01, 0x50, 0x00, 0x40,
        ];
        assert_eq!(decode_frame(&trailing, 512), Err(Error::TrailingBytes));
        // An empty SASL frame is not a heartbeat.
        assert!(decode_frame(&[0, 0, 0, 8, 2, 1, 0, 0], 512).is_err());
    }
}
