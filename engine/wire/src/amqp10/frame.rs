//! Frames (§2.3.1 frame layout, §2.3.2 AMQP frames, §5.3.1 SASL frames).
//!
//! ```text
//! +-------------+------+------+----------+------------------+-----------+
//! | SIZE (u32)  | DOFF | TYPE | channel  | extended header  |   body    |
//! +-------------+------+------+----------+------------------+-----------+
//!   0             4      5      6..8       8..DOFF*4          DOFF*4..SIZE
//! ```

use super::codec::{u32_len, Encoder};
use super::sasl::SaslFrame;
use super::{Decode, Error, Performative};

/// Size of the fixed frame header (§2.3.1).
pub const FRAME_HEADER_LEN: usize = 8;

/// An empty AMQP frame on channel 0, the heartbeat (§2.4.5).
pub const EMPTY_FRAME: [u8; 8] = [0, 0, 0, 8, 2, 0, 0, 0];

/// Frame type byte (§2.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum FrameType {
    /// 0x00: AMQP frame (§2.3.2).
    Amqp = 0,
    /// 0x01: SASL frame (§5.3.1).
    Sasl = 1,
}

/// The fixed 8-byte frame header (§2.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// Total frame size, header included.
    pub size: u32,
    /// Data offset in 4-byte words: where the body starts (>= 2).
    pub doff: u8,
    /// Frame type.
    pub frame_type: FrameType,
    /// Channel for AMQP frames; ignored (reported as read) for SASL frames.
    pub channel: u16,
}

impl FrameHeader {
    /// Offset of the body from the start of the frame.
    pub const fn body_offset(&self) -> usize {
        self.doff as usize * 4
    }

    /// Size of the body.
    pub const fn body_len(&self) -> usize {
        (self.size as usize).saturating_sub(self.body_offset())
    }
}

/// Peek the frame header at the front of `input` (§2.3.1). Checks that SIZE
/// is at least 8 and at least DOFF*4, that DOFF is at least 2 and that the
/// type is AMQP or SASL. On success the consumed count is 8.
pub fn peek_frame_header(input: &[u8]) -> Result<Decode<FrameHeader>, Error> {
    let Some(&[s0, s1, s2, s3, doff, frame_type, c0, c1]) = input.first_chunk::<8>() else {
        return Ok(Decode::Incomplete(FRAME_HEADER_LEN - input.len()));
    };
    let size = u32::from_be_bytes([s0, s1, s2, s3]);
    if size < 8 {
        return Err(Error::InvalidFrameSize(size));
    }
    if doff < 2 {
        return Err(Error::InvalidDataOffset(doff));
    }
    if u32::from(doff) * 4 > size {
        return Err(Error::InvalidFrameSize(size));
    }
    let frame_type = match frame_type {
        0 => FrameType::Amqp,
        1 => FrameType::Sasl,
        other => return Err(Error::UnknownFrameType(other)),
    };
    Ok(Decode::Complete(
        FrameHeader {
            size,
            doff,
            frame_type,
            channel: u16::from_be_bytes([c0, c1]),
        },
        FRAME_HEADER_LEN,
    ))
}

/// One decoded frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// Channel of an AMQP frame; 0 for SASL frames, whose channel bytes are
    /// ignored (§5.3.1).
    pub channel: u16,
    /// What the frame carries.
    pub body: FrameBody<'a>,
}

/// The body of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)] // See `Performative`.
pub enum FrameBody<'a> {
    /// An AMQP frame without a body: a heartbeat (§2.4.5).
    Empty,
    /// An AMQP frame (§2.3.2): a performative and the bytes after it (the
    /// message bytes of a transfer, §2.7.5).
    Amqp {
        /// The performative.
        performative: Performative<'a>,
        /// Bytes after the performative, up to the end of the frame.
        payload: &'a [u8],
    },
    /// A SASL frame (§5.3.1).
    Sasl(SaslFrame<'a>),
}

/// Decode one frame from the front of `input`. The header is checked and
/// its size compared with `max_frame_size` before the body is looked at, so
/// an oversized frame is rejected after 8 bytes. The extended header
/// (bytes 8..DOFF*4) is skipped.
#[inline]
pub fn decode_frame(input: &[u8], max_frame_size: u32) -> Result<Decode<Frame<'_>>, Error> {
    let header = match peek_frame_header(input)? {
        Decode::Complete(header, _) => header,
        Decode::Incomplete(more) => return Ok(Decode::Incomplete(more)),
    };
    if header.size > max_frame_size {
        return Err(Error::FrameTooLarge {
            size: header.size,
            max: max_frame_size,
        });
    }
    let size = header.size as usize;
    let Some(body) = input.get(header.body_offset()..size) else {
        return Ok(Decode::Incomplete(size - input.len()));
    };
    let frame = match header.frame_type {
        FrameType::Amqp if body.is_empty() => Frame {
            channel: header.channel,
            body: FrameBody::Empty,
        },
        FrameType::Amqp => {
            let (performative, payload) = Performative::decode(body)?;
            Frame {
                channel: header.channel,
                body: FrameBody::Amqp {
                    performative,
                    payload,
                },
            }
        }
        FrameType::Sasl => {
            let (sasl, rest) = SaslFrame::decode(body)?;
            if !rest.is_empty() {
                return Err(Error::TrailingBytes);
            }
            Frame {
                channel: 0,
                body: FrameBody::Sasl(sasl),
            }
        }
    };
    Ok(Decode::Complete(frame, size))
}

/// Append a frame header with a zero size; returns where the frame starts.
#[inline]
fn start_frame(frame_type: FrameType, channel: u16, out: &mut Vec<u8>) -> usize {
    let at = out.len();
    let [c0, c1] = channel.to_be_bytes();
    out.extend_from_slice(&[0, 0, 0, 0, 2, frame_type as u8, c0, c1]);
    at
}

/// Write the size of the frame that starts at `at` and ends at the end of
/// `out`.
#[inline]
fn finish_frame(at: usize, out: &mut [u8]) {
    let size = u32_len(out.len() - at);
    if let Some(slot) = out.get_mut(at..at + 4) {
        slot.copy_from_slice(&size.to_be_bytes());
    }
}

/// Append a whole AMQP frame (§2.3.2): header with DOFF 2, `performative`,
/// then `payload` (message bytes for a transfer, empty otherwise). The size
/// is patched in at the end.
pub fn encode_frame(
    channel: u16,
    performative: &Performative<'_>,
    payload: &[u8],
    out: &mut Vec<u8>,
) {
    let at = start_frame(FrameType::Amqp, channel, out);
    performative.encode_to(&mut Encoder::new(out));
    out.extend_from_slice(payload);
    finish_frame(at, out);
}

/// Append a whole SASL frame (§5.3.1), channel bytes 0.
pub fn encode_sasl_frame(frame: &SaslFrame<'_>, out: &mut Vec<u8>) {
    let at = start_frame(FrameType::Sasl, 0, out);
    frame.encode_to(&mut Encoder::new(out));
    finish_frame(at, out);
}

/// Append an empty AMQP frame on channel 0, the heartbeat (§2.4.5):
/// `00 00 00 08 02 00 00 00`.
pub fn encode_empty_frame(out: &mut Vec<u8>) {
    out.extend_from_slice(&EMPTY_FRAME);
}

impl Frame<'_> {
    /// Append the whole frame.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match &self.body {
            FrameBody::Empty => {
                let [c0, c1] = self.channel.to_be_bytes();
                out.extend_from_slice(&[0, 0, 0, 8, 2, 0, c0, c1]);
            }
            FrameBody::Amqp {
                performative,
                payload,
            } => encode_frame(self.channel, performative, payload, out),
            FrameBody::Sasl(sasl) => encode_sasl_frame(sasl, out),
        }
    }

    /// Exact number of bytes [`Self::encode`] appends.
    pub fn encoded_len(&self) -> usize {
        FRAME_HEADER_LEN
            + match &self.body {
                FrameBody::Empty => 0,
                FrameBody::Amqp {
                    performative,
                    payload,
                } => performative.encoded_len() + payload.len(),
                FrameBody::Sasl(sasl) => sasl.encoded_len(),
            }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Close, Open, Transfer};
    use super::*;

    #[test]
    fn heartbeat() {
        let mut out = Vec::new();
        encode_empty_frame(&mut out);
        assert_eq!(out, [0x00, 0x00, 0x00, 0x08, 0x02, 0x00, 0x00, 0x00]);
        let frame = Frame {
            channel: 0,
            body: FrameBody::Empty,
        };
        assert_eq!(decode_frame(&out, 512), Ok(Decode::Complete(frame, 8)));
        assert_eq!(frame.encoded_len(), 8);
        // An empty frame with a 4-byte extended header, on channel 5.
        let ext = [0, 0, 0, 12, 3, 0, 0, 5, 0xaa, 0xbb, 0xcc, 0xdd];
        assert_eq!(
            decode_frame(&ext, 512),
            Ok(Decode::Complete(
                Frame {
                    channel: 5,
                    body: FrameBody::Empty
                },
                12
            ))
        );
    }

    #[test]
    fn close_frame_both_ways() {
        // §2.7.9 close with no error: 00 53 18 45 on channel 0.
        let bytes = [0, 0, 0, 12, 2, 0, 0, 0, 0x00, 0x53, 0x18, 0x45];
        let frame = Frame {
            channel: 0,
            body: FrameBody::Amqp {
                performative: Performative::Close(Close::default()),
                payload: &[],
            },
        };
        assert_eq!(decode_frame(&bytes, 512), Ok(Decode::Complete(frame, 12)));
        let mut out = Vec::new();
        frame.encode(&mut out);
        assert_eq!(out, bytes);
        assert_eq!(frame.encoded_len(), 12);
    }

    #[test]
    fn header_checks() {
        let header = |size: u32, doff: u8, ty: u8| {
            let mut h = size.to_be_bytes().to_vec();
            h.extend_from_slice(&[doff, ty, 0, 1]);
            h
        };
        assert_eq!(
            decode_frame(&header(7, 2, 0), 512),
            Err(Error::InvalidFrameSize(7))
        );
        assert_eq!(
            decode_frame(&header(8, 1, 0), 512),
            Err(Error::InvalidDataOffset(1))
        );
        assert_eq!(
            decode_frame(&header(12, 4, 0), 512),
            Err(Error::InvalidFrameSize(12))
        );
        assert_eq!(
            decode_frame(&header(8, 2, 2), 512),
            Err(Error::UnknownFrameType(2))
        );
        // Size against the limit, before any body byte is there.
        assert_eq!(
            decode_frame(&header(100_000, 2, 0), 65_536),
            Err(Error::FrameTooLarge {
                size: 100_000,
                max: 65_536
            })
        );
        // Size field lies (claims more than is there): Incomplete.
        assert_eq!(
            decode_frame(&header(20, 2, 0), 512),
            Ok(Decode::Incomplete(12))
        );
        for cut in 0..8 {
            assert_eq!(
                decode_frame(&EMPTY_FRAME[..cut], 512),
                Ok(Decode::Incomplete(8 - cut))
            );
        }
    }

    #[test]
    fn size_field_shorter_than_the_performative() {
        // A close frame whose size cuts the performative's list in half.
        let bytes = [
            0, 0, 0, 13, 2, 0, 0, 0, 0x00, 0x53, 0x18, 0xc0, 0x03, 0x01, 0x40,
        ];
        assert_eq!(decode_frame(&bytes, 512), Err(Error::Truncated));
    }

    #[test]
    fn wrong_descriptor_in_amqp_frame() {
        // A sasl-outcome (0x44) inside an AMQP frame, and an `accepted`.
        for code in [0x44u8, 0x24] {
            let bytes = [0, 0, 0, 12, 2, 0, 0, 0, 0x00, 0x53, code, 0x45];
            assert_eq!(
                decode_frame(&bytes, 512),
                Err(Error::UnexpectedDescriptor {
                    expected: "performative",
                    code: Some(u64::from(code))
                })
            );
        }
        // Not described at all.
        let bytes = [0, 0, 0, 9, 2, 0, 0, 0, 0x45];
        assert!(matches!(
            decode_frame(&bytes, 512),
            Err(Error::UnexpectedDescriptor { code: None, .. })
        ));
    }

    #[test]
    fn transfer_payload_and_channel() {
        let transfer = Transfer {
            delivery_id: Some(0),
            delivery_tag: Some(b"t"),
            message_format: Some(0),
            ..Transfer::new(3)
        };
        let mut out = Vec::new();
        encode_frame(7, &Performative::Transfer(transfer), b"MSG", &mut out);
        let Ok(Decode::Complete(frame, used)) = decode_frame(&out, 512) else {
            panic!()
        };
        assert_eq!(used, out.len());
        assert_eq!(frame.channel, 7);
        assert_eq!(
            frame.body,
            FrameBody::Amqp {
                performative: Performative::Transfer(transfer),
                payload: b"MSG"
            }
        );
        // Two frames back to back decode in order.
        let open = Performative::Open(Open::new("c"));
        encode_frame(0, &open, &[], &mut out);
        let Ok(Decode::Complete(second, n)) = decode_frame(&out[used..], 512) else {
            panic!()
        };
        assert_eq!(n, out.len() - used);
        assert!(
            matches!(second.body, FrameBody::Amqp { performative, .. } if performative == open)
        );
    }
}
