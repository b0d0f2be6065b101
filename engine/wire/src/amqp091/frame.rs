//! Frames (§4.2.3): method, content header, content body and heartbeat frames; splitting a
//! message body into body frames (§4.2.6.2).

use super::codec::{begin_frame, end_frame, put_u16, put_u32};
use super::content::ContentHeader;
use super::method::{encode_method, Method};
use super::{encode_content_header, Error, FRAME_END, PROTOCOL_HEADER};
use crate::Decode;

/// Frame type of a method frame (§4.2.4).
pub const FRAME_METHOD: u8 = 1;
/// Frame type of a content header frame (§4.2.6.1).
pub const FRAME_HEADER: u8 = 2;
/// Frame type of a content body frame (§4.2.6.2).
pub const FRAME_BODY: u8 = 3;
/// Frame type of a heartbeat frame (§4.2.7).
pub const FRAME_HEARTBEAT: u8 = 8;

/// Bytes a frame adds around its payload: type, channel, size (7) and frame-end (1).
pub const FRAME_OVERHEAD: usize = 8;

/// The heartbeat frame (§4.2.7): type 8, channel 0, empty payload.
pub const HEARTBEAT: [u8; 8] = [FRAME_HEARTBEAT, 0, 0, 0, 0, 0, 0, FRAME_END];

/// A decoded frame, borrowing from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The channel (0 for the connection itself and for heartbeats).
    pub channel: u16,
    /// What the frame carries.
    pub body: FrameBody<'a>,
}

/// The payload of a frame, by frame type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameBody<'a> {
    /// Type 1: a method (§4.2.4).
    Method(Method<'a>),
    /// Type 2: the content header that follows a content-bearing method (§4.2.6.1).
    Header(ContentHeader<'a>),
    /// Type 3: a slice of the message body (§4.2.6.2).
    Body(&'a [u8]),
    /// Type 8: a heartbeat (§4.2.7).
    Heartbeat,
}

impl Frame<'_> {
    /// Appends this frame as one frame (a body frame is not split, and an empty one is
    /// written). The inverse of [`decode`].
    pub fn encode(&self, out: &mut Vec<u8>) {
        match &self.body {
            FrameBody::Method(m) => encode_method(self.channel, m, out),
            FrameBody::Header(h) => encode_content_header(self.channel, h, out),
            FrameBody::Body(b) => body_frame(self.channel, b, out),
            FrameBody::Heartbeat => {
                let start = begin_frame(out, FRAME_HEARTBEAT, self.channel);
                end_frame(out, start);
            }
        }
    }
}

/// Decodes the frame at the front of `input` (§4.2.3: type u8, channel u16, size u32, payload,
/// 0xCE). A frame whose size exceeds `max_frame` (the whole frame, as `frame-max` counts it)
/// is [`Error::FrameTooLarge`], reported as soon as its header is in. If `input` starts with
/// `b"AMQP"` the server answered with its protocol header (§4.2.2): that is
/// [`Error::ProtocolHeader`] once its 8 bytes are in, `Incomplete` before.
///
/// A method or content header payload longer than its fields is accepted and the excess
/// ignored; one too short for them is [`Error::Truncated`]. Tables are not checked here (see
/// [`super::Table`]).
pub fn decode(input: &[u8], max_frame: usize) -> Result<Decode<Frame<'_>>, Error> {
    let magic = input.len().min(4);
    if magic > 0 && input[..magic] == PROTOCOL_HEADER[..magic] {
        return match input.first_chunk::<8>() {
            None => Ok(Decode::Incomplete(8 - input.len())),
            Some(&[.., major, minor, revision]) => Err(Error::ProtocolHeader {
                major,
                minor,
                revision,
            }),
        };
    }
    let Some(&[frame_type, c0, c1, s0, s1, s2, s3]) = input.first_chunk::<7>() else {
        if let Some(&frame_type) = input.first() {
            check_type(frame_type)?;
        }
        return Ok(Decode::Incomplete(FRAME_OVERHEAD - input.len()));
    };
    check_type(frame_type)?;
    let channel = u16::from_be_bytes([c0, c1]);
    let size = u32::from_be_bytes([s0, s1, s2, s3]);
    if frame_type == FRAME_HEARTBEAT && (channel != 0 || size != 0) {
        return Err(Error::BadHeartbeat);
    }
    let total = usize::try_from(size)
        .unwrap_or(usize::MAX)
        .saturating_add(FRAME_OVERHEAD);
    if total > max_frame {
        return Err(Error::FrameTooLarge { max: max_frame });
    }
    let Some(frame) = input.get(..total) else {
        return Ok(Decode::Incomplete(total - input.len()));
    };
    if frame.last() != Some(&FRAME_END) {
        return Err(Error::BadFrameEnd);
    }
    let payload = &frame[7..total - 1];
    let body = match frame_type {
        FRAME_METHOD => FrameBody::Method(Method::decode(payload)?),
        FRAME_HEADER => FrameBody::Header(ContentHeader::decode(payload)?),
        FRAME_BODY => FrameBody::Body(payload),
        _ => FrameBody::Heartbeat,
    };
    Ok(Decode::Complete(Frame { channel, body }, total))
}

fn check_type(frame_type: u8) -> Result<(), Error> {
    match frame_type {
        FRAME_METHOD | FRAME_HEADER | FRAME_BODY | FRAME_HEARTBEAT => Ok(()),
        other => Err(Error::UnknownFrameType(other)),
    }
}

/// Appends the heartbeat frame [`HEARTBEAT`] (§4.2.7).
pub fn encode_heartbeat(out: &mut Vec<u8>) {
    out.extend_from_slice(&HEARTBEAT);
}

/// The most body bytes one frame carries at `frame_max`. 0 means no limit (`frame-max` of
/// `connection.tune`): a frame then carries up to `u32::MAX` bytes. Limits under 9 leave no
/// room for a payload and are taken as 9 (one byte per frame).
fn body_chunk(frame_max: u32) -> usize {
    let payload = match frame_max {
        0 => u32::MAX,
        n => n.max(FRAME_OVERHEAD as u32 + 1) - FRAME_OVERHEAD as u32,
    };
    usize::try_from(payload).unwrap_or(usize::MAX)
}

/// Appends body frames carrying `body`, each at most `frame_max` bytes in all (so a payload of
/// at most `frame_max - 8`), all full but the last (§4.2.6.2). An empty body writes no frame.
/// `frame_max` 0 means no limit; see [`body_frames_len`] for the exact length written.
pub fn encode_body(channel: u16, body: &[u8], frame_max: u32, out: &mut Vec<u8>) {
    out.reserve(body_frames_len(body.len(), frame_max));
    for chunk in body.chunks(body_chunk(frame_max)) {
        body_frame(channel, chunk, out);
    }
}

/// One body frame around `payload`, which must fit the u32 size.
fn body_frame(channel: u16, payload: &[u8], out: &mut Vec<u8>) {
    out.push(FRAME_BODY);
    put_u16(out, channel);
    put_u32(out, u32::try_from(payload.len()).unwrap_or(u32::MAX));
    out.extend_from_slice(payload);
    out.push(FRAME_END);
}

/// The byte length of the frames [`encode_body`] writes for `body_len` bytes at `frame_max`:
/// the body plus [`FRAME_OVERHEAD`] per frame (for a sender's templates).
pub fn body_frames_len(body_len: usize, frame_max: u32) -> usize {
    body_len + body_len.div_ceil(body_chunk(frame_max)) * FRAME_OVERHEAD
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(bytes: &[u8]) -> Frame<'_> {
        match decode(bytes, 1 << 20) {
            Ok(Decode::Complete(f, n)) if n == bytes.len() => f,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn heartbeat_frame() {
        let mut out = Vec::new();
        encode_heartbeat(&mut out);
        assert_eq!(out, [8, 0, 0, 0, 0, 0, 0, 0xCE]);
        assert_eq!(
            one(&out),
            Frame {
                channel: 0,
                body: FrameBody::Heartbeat
            }
        );
        let mut again = Vec::new();
        one(&out).encode(&mut again);
        assert_eq!(again, out);
        // On a channel, or with a payload, it is a frame error (§4.2.7).
        assert_eq!(
            decode(&[8, 0, 1, 0, 0, 0, 0, 0xCE], 1 << 20),
            Err(Error::BadHeartbeat)
        );
        assert_eq!(
            decode(&[8, 0, 0, 0, 0, 0, 1], 1 << 20),
            Err(Error::BadHeartbeat)
        );
    }

    #[test]
    fn a_10000_byte_body_at_frame_max_4096() {
        let body: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
        let mut out = Vec::new();
        encode_body(5, &body, 4096, &mut out);
        // 4088 + 4088 + 1824 bytes of payload.
        assert_eq!(out.len(), 10_000 + 3 * 8);
        assert_eq!(body_frames_len(10_000, 4096), out.len());
        assert_eq!(out[..7], [3, 0, 5, 0, 0, 0x0F, 0xF8]);
        let mut rest = &out[..];
        let mut sizes = Vec::new();
        let mut joined = Vec::new();
        while !rest.is_empty() {
            let Ok(Decode::Complete(f, n)) = decode(rest, 4096) else {
                panic!()
            };
            let FrameBody::Body(b) = f.body else { panic!() };
            assert_eq!(f.channel, 5);
            sizes.push(n);
            joined.extend_from_slice(b);
            rest = &rest[n..];
        }
        assert_eq!(sizes, [4096, 4096, 1832]);
        assert_eq!(joined, body);
    }

    #[test]
    fn body_splitting_edges() {
        let mut out = Vec::new();
        encode_body(1, b"", 4096, &mut out);
        assert!(out.is_empty());
        assert_eq!(body_frames_len(0, 4096), 0);
        // Exactly one full frame.
        encode_body(1, &[7; 4088], 4096, &mut out);
        assert_eq!(out.len(), 4096);
        // No limit: one frame.
        out.clear();
        encode_body(1, &[7; 10_000], 0, &mut out);
        assert_eq!((out.len(), body_frames_len(10_000, 0)), (10_008, 10_008));
        // A limit too small for a payload still makes progress.
        out.clear();
        encode_body(1, b"abc", 3, &mut out);
        assert_eq!(out.len(), 27);
        assert_eq!(body_frames_len(3, 3), 27);
        // An empty body frame still decodes, and `Frame::encode` writes it.
        let f = one(&[3, 0, 1, 0, 0, 0, 0, 0xCE]);
        assert_eq!(f.body, FrameBody::Body(b""));
        out.clear();
        f.encode(&mut out);
        assert_eq!(out, [3, 0, 1, 0, 0, 0, 0, 0xCE]);
    }

    #[test]
    fn frame_errors() {
        assert_eq!(
            decode(&[3, 0, 1, 0, 0, 0, 1, b'x', 0xCF], 1 << 20),
            Err(Error::BadFrameEnd)
        );
        assert_eq!(decode(&[4], 1 << 20), Err(Error::UnknownFrameType(4)));
        assert_eq!(
            decode(&[0, 0, 0, 0, 0, 0, 0, 0xCE], 1 << 20),
            Err(Error::UnknownFrameType(0))
        );
        // Too large is known from the header alone; the limit counts the whole frame.
        assert_eq!(
            decode(&[3, 0, 1, 0, 0, 0x10, 0x00], 4096),
            Err(Error::FrameTooLarge { max: 4096 })
        );
        assert_eq!(
            decode(&[3, 0, 1, 0, 0, 0x0F, 0xF8], 4096),
            Ok(Decode::Incomplete(4089))
        );
        // A method payload too short for its class and method ids.
        assert_eq!(
            decode(&[1, 0, 0, 0, 0, 0, 2, 0, 10, 0xCE], 1 << 20),
            Err(Error::Truncated)
        );
    }

    #[test]
    fn a_protocol_header_answer_is_a_version_mismatch() {
        let answer = b"AMQP\x00\x00\x09\x01";
        assert_eq!(
            decode(answer, 4096),
            Err(Error::ProtocolHeader {
                major: 0,
                minor: 9,
                revision: 1
            })
        );
        for cut in 0..8 {
            assert_eq!(
                decode(&answer[..cut], 4096),
                Ok(Decode::Incomplete(8 - cut))
            );
        }
        assert_eq!(
            decode(b"AMQP\x00\x01\x00\x00", 4096),
            Err(Error::ProtocolHeader {
                major: 1,
                minor: 0,
                revision: 0
            })
        );
    }
}
