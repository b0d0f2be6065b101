//! A fast path for the frame a receiver sees most: a `transfer` (§2.7.5) carrying one message
//! whose body is a single `data` section (§3.2.6).
//!
//! [`peek_transfer`] reads the common encodings straight from the bytes (descriptor as
//! smallulong, list8 or list32, handle and delivery-id as uint0/smalluint/uint, tag as vbin8,
//! booleans as true/false/null) and answers `None` for anything else, so that the caller falls
//! back to [`decode_frame`](super::decode_frame). It never panics and never allocates; what it
//! returns is exactly what the general decoder would have returned for the same bytes.

use super::types::code;

/// The fields of a transfer the receive path needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FastTransfer<'a> {
    pub channel: u16,
    pub handle: u32,
    pub delivery_id: Option<u32>,
    pub settled: bool,
    pub more: bool,
    /// The message bytes (everything after the performative).
    pub payload: &'a [u8],
    /// Bytes of the whole frame.
    pub frame_len: usize,
}

#[inline(always)]
fn uint(b: &[u8], at: &mut usize) -> Option<Option<u32>> {
    let c = *b.get(*at)?;
    let (v, len) = match c {
        code::NULL => (None, 1),
        code::UINT0 => (Some(0), 1),
        code::SMALLUINT => (Some(u32::from(*b.get(*at + 1)?)), 2),
        code::UINT => (
            Some(u32::from_be_bytes(
                b.get(*at + 1..*at + 5)?.try_into().ok()?,
            )),
            5,
        ),
        _ => return None,
    };
    *at += len;
    Some(v)
}

#[inline(always)]
fn boolean(b: &[u8], at: &mut usize) -> Option<bool> {
    let v = match *b.get(*at)? {
        code::TRUE => true,
        code::FALSE | code::NULL => false,
        // The one-byte `boolean` encoding (0x56) is rare enough to leave to the general path.
        _ => return None,
    };
    *at += 1;
    Some(v)
}

/// Reads a whole transfer frame at the front of `input` if it is in one of the common
/// encodings and complete; `None` otherwise (incomplete, another performative, an unusual
/// encoding, a malformed frame: the general decoder then says which).
#[inline]
pub fn peek_transfer(input: &[u8], max_frame_size: u32) -> Option<FastTransfer<'_>> {
    let h = input.get(..8)?;
    let size = u32::from_be_bytes([h[0], h[1], h[2], h[3]]);
    if h[4] != 2 || h[5] != 0 || size > max_frame_size {
        return None;
    }
    let frame = input.get(..size as usize)?;
    // Descriptor 0x00 0x53 0x14, then the field list.
    if frame.get(8..11)? != [code::DESCRIBED, code::SMALLULONG, 0x14] {
        return None;
    }
    let (list_end, count, mut at) = match *frame.get(11)? {
        0xc0 => (
            12 + usize::from(*frame.get(12)?) + 1,
            *frame.get(13)? as u32,
            14,
        ),
        0xd0 => {
            let n = u32::from_be_bytes(frame.get(12..16)?.try_into().ok()?) as usize;
            let c = u32::from_be_bytes(frame.get(16..20)?.try_into().ok()?);
            (16 + n, c, 20)
        }
        _ => return None,
    };
    if list_end > frame.len() || count == 0 {
        return None;
    }
    let fields = &frame[..list_end];
    let handle = uint(fields, &mut at)??;
    let mut delivery_id = None;
    let mut settled = false;
    let mut more = false;
    if count > 1 {
        delivery_id = uint(fields, &mut at)?;
    }
    if count > 2 {
        // delivery-tag: vbin8 or null.
        match *fields.get(at)? {
            code::NULL => at += 1,
            0xa0 => at += 2 + usize::from(*fields.get(at + 1)?),
            _ => return None,
        }
    }
    if count > 3 {
        uint(fields, &mut at)?; // message-format
    }
    if count > 4 {
        settled = boolean(fields, &mut at)?;
    }
    if count > 5 {
        more = boolean(fields, &mut at)?;
    }
    // Fields past `more` (rcv-settle-mode, state, resume, aborted, batchable) are rare on a
    // transfer; a frame that has them takes the general path.
    if count > 6 || at != list_end {
        return None;
    }
    Some(FastTransfer {
        channel: u16::from_be_bytes([h[6], h[7]]),
        handle,
        delivery_id,
        settled,
        more,
        payload: &frame[list_end..],
        frame_len: frame.len(),
    })
}

/// The body of a message that is exactly one `data` section (§3.2.6), else `None`.
#[inline]
pub fn single_data_body(message: &[u8]) -> Option<&[u8]> {
    if message.get(..3)? != [code::DESCRIBED, code::SMALLULONG, 0x75] {
        return None;
    }
    let (len, at) = match *message.get(3)? {
        0xa0 => (usize::from(*message.get(4)?), 5),
        0xb0 => (
            u32::from_be_bytes(message.get(4..8)?.try_into().ok()?) as usize,
            8,
        ),
        _ => return None,
    };
    (message.len() == at + len).then(|| &message[at..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::amqp10::{
        decode_frame, encode_transfer_head, FrameBody, MessageLayout, MessageView, Performative,
    };
    use crate::Decode;

    fn frame(id: u32, settled: bool, more: bool, body: &[u8]) -> Vec<u8> {
        let layout = MessageLayout::new(None, None);
        let mut out = Vec::new();
        encode_transfer_head(
            3,
            7,
            id,
            &id.to_be_bytes(),
            0,
            settled,
            more,
            layout.message_len(body.len()),
            &mut out,
        );
        layout.encode(body.len(), &mut out);
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn agrees_with_the_general_decoder() {
        for (id, settled, more, len) in [
            (0, true, false, 10),
            (255, false, false, 300),
            (70_000, true, true, 1),
        ] {
            let body: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let f = frame(id, settled, more, &body);
            let fast = peek_transfer(&f, 1 << 20).expect("common encoding");
            let Ok(Decode::Complete(general, used)) = decode_frame(&f, 1 << 20) else {
                panic!()
            };
            let FrameBody::Amqp {
                performative: Performative::Transfer(t),
                payload,
            } = general.body
            else {
                panic!()
            };
            assert_eq!((fast.channel, fast.frame_len), (general.channel, used));
            assert_eq!(
                (fast.handle, fast.delivery_id, fast.settled, fast.more),
                (t.handle, t.delivery_id, t.settled, t.more)
            );
            assert_eq!(fast.payload, payload);
            let data = single_data_body(fast.payload).expect("one data section");
            assert_eq!(data, &body[..]);
            assert_eq!(
                MessageView::decode(payload).unwrap().body,
                crate::amqp10::Body::Data(data)
            );
        }
    }

    #[test]
    fn declines_what_it_does_not_know() {
        let f = frame(1, true, false, b"abc");
        assert_eq!(
            peek_transfer(&f[..f.len() - 1], 1 << 20),
            None,
            "incomplete"
        );
        assert_eq!(peek_transfer(&f, 8), None, "over the frame size");
        let mut other = f.clone();
        other[10] = 0x13; // a flow
        assert_eq!(peek_transfer(&other, 1 << 20), None);
        for cut in 0..f.len() {
            let _ = peek_transfer(&f[..cut], 1 << 20);
            let _ = single_data_body(&f[cut..]);
        }
        assert_eq!(
            single_data_body(&[0x00, 0x53, 0x75, 0xa0, 5, 1]),
            None,
            "short body"
        );
        assert_eq!(
            single_data_body(&[0x00, 0x53, 0x77, 0x40]),
            None,
            "amqp-value"
        );
    }
}
