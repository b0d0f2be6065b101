//! `transfer` performative (§2.7.5) and the allocation-free hot-path frame
//! head encoder for senders.

use super::attach::ReceiverSettleMode;
use super::codec::{
    compound_header, flag, required, u32_len, uint_len, Encoder, Fields, Scratch, Sink,
};
use super::state::DeliveryState;
use super::types::{code, ListView};
use super::{descriptor, Error};

/// `transfer` (§2.7.5, descriptor 0x14): one frame of a delivery. The
/// message bytes follow the performative in the frame ([`super::FrameBody`]
/// `payload`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transfer<'a> {
    /// Link handle (mandatory).
    pub handle: u32,
    /// Delivery-id; required on the first transfer of a delivery.
    pub delivery_id: Option<u32>,
    /// Delivery-tag (up to 32 bytes); required on the first transfer of a
    /// delivery, absent on continuations.
    pub delivery_tag: Option<&'a [u8]>,
    /// Message format (§2.7.5, 0 for AMQP messages); required on the first
    /// transfer of a delivery.
    pub message_format: Option<u32>,
    /// The delivery is settled at the sender (absent means false).
    pub settled: bool,
    /// More transfers follow for this delivery (default false).
    pub more: bool,
    /// Receiver settlement mode override for this delivery.
    pub rcv_settle_mode: Option<ReceiverSettleMode>,
    /// Delivery state at the sender.
    pub state: Option<DeliveryState<'a>>,
    /// Resumes a delivery (default false).
    pub resume: bool,
    /// Aborts the delivery (default false).
    pub aborted: bool,
    /// Batchable hint (default false).
    pub batchable: bool,
}

impl<'a> Transfer<'a> {
    /// A transfer on `handle` with every other field absent or at its
    /// default (a continuation frame).
    pub const fn new(handle: u32) -> Self {
        Transfer {
            handle,
            delivery_id: None,
            delivery_tag: None,
            message_format: None,
            settled: false,
            more: false,
            rcv_settle_mode: None,
            state: None,
            resume: false,
            aborted: false,
            batchable: false,
        }
    }

    /// The first transfer of a delivery: handle, delivery-id, tag and
    /// message format 0, unsettled.
    pub const fn first(handle: u32, delivery_id: u32, delivery_tag: &'a [u8]) -> Self {
        Transfer {
            delivery_id: Some(delivery_id),
            delivery_tag: Some(delivery_tag),
            message_format: Some(0),
            ..Transfer::new(handle)
        }
    }

    #[inline]
    pub(crate) fn from_fields(list: &ListView<'a>) -> Result<Self, Error> {
        let mut f = Fields::new(list);
        let transfer = Transfer {
            handle: required(f.uint("transfer.handle")?, "transfer.handle")?,
            delivery_id: f.uint("transfer.delivery-id")?,
            delivery_tag: f.binary("transfer.delivery-tag")?,
            message_format: f.uint("transfer.message-format")?,
            settled: f.bool("transfer.settled")?.unwrap_or(false),
            more: f.bool("transfer.more")?.unwrap_or(false),
            rcv_settle_mode: ReceiverSettleMode::field(&mut f, "transfer.rcv-settle-mode")?,
            state: DeliveryState::field(&mut f)?,
            resume: f.bool("transfer.resume")?.unwrap_or(false),
            aborted: f.bool("transfer.aborted")?.unwrap_or(false),
            batchable: f.bool("transfer.batchable")?.unwrap_or(false),
        };
        f.finish()?;
        Ok(transfer)
    }

    pub(crate) fn encode_to<S: Sink>(&self, e: &mut Encoder<'_, S>) {
        e.described_list(descriptor::TRANSFER, |e| {
            e.field(Some(self.handle), Encoder::uint);
            e.field(self.delivery_id, Encoder::uint);
            e.field(self.delivery_tag, |e, v| e.binary(v));
            e.field(self.message_format, Encoder::uint);
            e.field(flag(self.settled), Encoder::bool);
            e.field(flag(self.more), Encoder::bool);
            e.field(self.rcv_settle_mode, |e, m| e.ubyte(m as u8));
            e.field(self.state.as_ref(), |e, s| s.encode_to(e));
            e.field(flag(self.resume), Encoder::bool);
            e.field(flag(self.aborted), Encoder::bool);
            e.field(flag(self.batchable), Encoder::bool);
        });
    }
}

encoding_methods!(Transfer<'_>);

/// Hot path: append the frame header and `transfer` performative of a
/// delivery whose message takes `message_len` bytes; the caller appends
/// exactly that many message bytes next (e.g. [`super::MessageLayout`] and
/// the body). The frame size covers the message, so nothing is patched
/// afterwards. The bytes are those [`super::encode_frame`] writes for
/// `Transfer { delivery_id, delivery_tag, message_format, settled, more,
/// ..Transfer::new(handle) }`. Reserves room for the whole frame; does not
/// allocate when `out` already has it.
#[allow(clippy::too_many_arguments)]
#[inline]
pub fn encode_transfer_head(
    channel: u16,
    handle: u32,
    delivery_id: u32,
    delivery_tag: &[u8],
    message_format: u32,
    settled: bool,
    more: bool,
    message_len: usize,
    out: &mut Vec<u8>,
) {
    let tag_prefix = if delivery_tag.len() <= 255 { 2 } else { 5 };
    // list8 unless the tag is long (list0 is impossible: four fields).
    let (flags, flags_len): ([u8; 2], usize) = match (settled, more) {
        (false, false) => ([0, 0], 0),
        (true, false) => ([code::TRUE, 0], 1),
        (settled, true) => (
            [if settled { code::TRUE } else { code::NULL }, code::TRUE],
            2,
        ),
    };
    let count = 4 + flags_len as u32;
    let body = uint_len(handle)
        + uint_len(delivery_id)
        + tag_prefix
        + delivery_tag.len()
        + uint_len(message_format)
        + flags_len;
    let mut list_header = [0u8; 9];
    let list_header_len = compound_header(
        code::LIST8,
        code::LIST32,
        true,
        count,
        body,
        &mut list_header,
    );
    let frame_len = 8 + 3 + list_header_len + body + message_len;

    // Everything before the tag bytes, then the tag, then the rest, each
    // piece built on the stack with fixed-size writes.
    let mut head = Scratch::<48>::new();
    let [s0, s1, s2, s3] = u32_len(frame_len).to_be_bytes();
    let [c0, c1] = channel.to_be_bytes();
    head.put_array([s0, s1, s2, s3, 2, 0, c0, c1]);
    head.put_array([code::DESCRIBED, code::SMALLULONG, 0x14]);
    match list_header_len {
        3 => head.put_array([code::LIST8, (body + 1) as u8, count as u8]),
        _ => head.put_array(list_header),
    }
    head.uint(handle);
    head.uint(delivery_id);
    match u8::try_from(delivery_tag.len()) {
        Ok(len) => head.put_array([code::VBIN8, len]),
        Err(_) => {
            let [a, b, c, d] = u32_len(delivery_tag.len()).to_be_bytes();
            head.put_array([code::VBIN32, a, b, c, d]);
        }
    }
    let mut tail = Scratch::<8>::new();
    tail.uint(message_format);
    match flags_len {
        0 => {}
        1 => tail.put_array([flags[0]]),
        _ => tail.put_array(flags),
    }

    out.reserve(frame_len + 48);
    head.flush_into(out);
    out.extend_from_slice(delivery_tag);
    tail.flush_into(out);
}

/// Where a delivery's own fields sit in a frame written by [`encode_transfer_slots`], from the
/// frame's first byte: the same for every delivery, so one frame is a template for all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TransferSlots {
    delivery_id: usize,
    delivery_tag: usize,
}

impl TransferSlots {
    /// Makes `frame` (as [`encode_transfer_slots`] wrote it) the frame of delivery `id`.
    #[inline]
    pub fn patch(self, frame: &mut [u8], id: u32) {
        let id = id.to_be_bytes();
        frame[self.delivery_id..self.delivery_id + 4].copy_from_slice(&id);
        frame[self.delivery_tag..self.delivery_tag + 4].copy_from_slice(&id);
    }
}

/// [`encode_transfer_head`] for a delivery whose tag is its id's 4 big-endian bytes, with the
/// id always in the 4-byte `uint` encoding (0x70; any width is a valid encoding, §1.6.10), so
/// that the frames of all deliveries have one length and layout. Appends to `out`; returns
/// where the id and the tag are, from the frame's start. [`TransferSlots::patch`] fills them.
pub fn encode_transfer_slots(
    channel: u16,
    handle: u32,
    message_format: u32,
    settled: bool,
    message_len: usize,
    out: &mut Vec<u8>,
) -> TransferSlots {
    let start = out.len();
    // An id above 255 takes the 4-byte encoding.
    let placeholder = u32::MAX;
    encode_transfer_head(
        channel,
        handle,
        placeholder,
        &placeholder.to_be_bytes(),
        message_format,
        settled,
        false,
        message_len,
        out,
    );
    // Frame header (8), descriptor (3), list8 header (3: the fields take at most 18 bytes),
    // the handle, then the id's code and value, the tag's code and length, and the tag.
    let delivery_id = 8 + 3 + 3 + uint_len(handle) + 1;
    let slots = TransferSlots {
        delivery_id,
        delivery_tag: delivery_id + 4 + 2,
    };
    let frame = &out[start..];
    debug_assert_eq!(frame[slots.delivery_id - 1], code::UINT);
    debug_assert_eq!(
        frame[slots.delivery_tag - 2..slots.delivery_tag],
        [code::VBIN8, 4]
    );
    slots
}

#[cfg(test)]
mod tests {
    use super::super::{decode_frame, encode_frame, Decode, FrameBody, Performative};
    use super::*;

    #[test]
    fn tagged_settled_transfer() {
        // transfer{handle 0, delivery-id 1, delivery-tag "t1", format 0,
        //          settled true}
        #[rustfmt::skip]
        let bytes = [
            0x00, 0x53, 0x14, 0xc0, 0x0a, 0x05,
            0x43,
            0x52, 0x01,
            0xa0, 0x02, b't', b'1',
            0x43,
            0x41,
        ];
        let transfer = Transfer {
            settled: true,
            ..Transfer::first(0, 1, b"t1")
        };
        let p = Performative::Transfer(transfer);
        assert_eq!(Performative::decode(&bytes), Ok((p, &[][..])));
        let mut out = Vec::new();
        p.encode(&mut out);
        assert_eq!(out, bytes);
        assert_eq!(p.encoded_len(), bytes.len());
    }

    #[test]
    fn payload_follows_performative() {
        let body = [0x00, 0x53, 0x14, 0xc0, 0x03, 0x01, 0x52, 0x07, 0xde, 0xad];
        let (p, payload) = Performative::decode(&body).unwrap();
        assert_eq!(p, Performative::Transfer(Transfer::new(7)));
        assert_eq!(payload, [0xde, 0xad]);
    }

    #[test]
    fn with_state_and_flags() {
        let transfer = Transfer {
            more: true,
            rcv_settle_mode: Some(ReceiverSettleMode::Second),
            state: Some(DeliveryState::Accepted),
            aborted: true,
            ..Transfer::new(1)
        };
        let mut out = Vec::new();
        transfer.encode(&mut out);
        #[rustfmt::skip]
        assert_eq!(out, [
            0x00, 0x53, 0x14, 0xc0, 0x10, 0x0a,
            0x52, 0x01, 0x40, 0x40, 0x40, 0x40, 0x41, 0x50, 0x01,
            0x00, 0x53, 0x24, 0x45,
            0x40, 0x41,
        ]);
        assert_eq!(
            Performative::decode(&out),
            Ok((Performative::Transfer(transfer), &[][..]))
        );
    }

    #[test]
    fn slotted_frames_decode_as_their_delivery() {
        let message = [0x5a; 100];
        let mut frame = Vec::new();
        let slots = encode_transfer_slots(0, 0, 0, true, message.len(), &mut frame);
        frame.extend_from_slice(&message);
        for id in [0, 1, 255, 256, 70_000, u32::MAX - 1] {
            slots.patch(&mut frame, id);
            let Ok(Decode::Complete(f, n)) = decode_frame(&frame, u32::MAX) else {
                panic!("frame for {id} does not decode");
            };
            assert_eq!(n, frame.len());
            let FrameBody::Amqp {
                performative: Performative::Transfer(t),
                payload,
            } = f.body
            else {
                panic!("not a transfer: {:?}", f.body);
            };
            let tag = id.to_be_bytes();
            let want = Transfer {
                message_format: Some(0),
                settled: true,
                ..Transfer::first(0, id, &tag)
            };
            assert_eq!(t, want);
            assert_eq!(payload, message);
        }
    }

    #[test]
    fn hot_path_head_matches_encode_frame() {
        let message = [0x5a; 300];
        let tags: [&[u8]; 3] = [b"", b"\x00\x00\x00\x01", &[7; 32]];
        for (handle, delivery_id, format) in [(0, 0, 0), (1, 255, 0), (70_000, 1 << 30, 0x1234)] {
            for tag in tags {
                for (settled, more) in [(false, false), (true, false), (false, true), (true, true)]
                {
                    let mut fast = Vec::new();
                    encode_transfer_head(
                        3,
                        handle,
                        delivery_id,
                        tag,
                        format,
                        settled,
                        more,
                        message.len(),
                        &mut fast,
                    );
                    let capacity = fast.capacity();
                    fast.extend_from_slice(&message);
                    assert_eq!(fast.capacity(), capacity, "no reallocation");
                    let transfer = Transfer {
                        settled,
                        more,
                        message_format: Some(format),
                        ..Transfer::first(handle, delivery_id, tag)
                    };
                    let mut slow = Vec::new();
                    encode_frame(3, &Performative::Transfer(transfer), &message, &mut slow);
                    assert_eq!(
                        fast, slow,
                        "{handle} {delivery_id} {tag:?} {settled} {more}"
                    );
                    let Ok(Decode::Complete(frame, n)) = decode_frame(&fast, u32::MAX) else {
                        panic!()
                    };
                    assert_eq!(n, fast.len());
                    assert_eq!(
                        frame.body,
                        FrameBody::Amqp {
                            performative: Performative::Transfer(transfer),
                            payload: &message
                        }
                    );
                }
            }
        }
        // A tag longer than 255 bytes uses vbin32 and list32.
        let long_tag = [1u8; 300];
        let mut fast = Vec::new();
        encode_transfer_head(0, 0, 0, &long_tag, 0, true, false, 0, &mut fast);
        let mut slow = Vec::new();
        encode_frame(
            0,
            &Performative::Transfer(Transfer {
                settled: true,
                ..Transfer::first(0, 0, &long_tag)
            }),
            &[],
            &mut slow,
        );
        assert_eq!(fast, slow);
    }

    #[test]
    fn malformed() {
        // Handle missing; delivery-tag as a string; bad rcv-settle-mode.
        let cases: [(&[u8], Error); 3] = [
            (
                &[0x00, 0x53, 0x14, 0x45],
                Error::MissingField("transfer.handle"),
            ),
            (
                &[
                    0x00, 0x53, 0x14, 0xc0, 0x06, 0x03, 0x43, 0x43, 0xa1, 0x01, b't',
                ],
                Error::InvalidField("transfer.delivery-tag"),
            ),
            (
                &[
                    0x00, 0x53, 0x14, 0xc0, 0x09, 0x07, 0x43, 0x40, 0x40, 0x40, 0x40, 0x40, 0x50,
                    0x02,
                ],
                Error::InvalidField("transfer.rcv-settle-mode"),
            ),
        ];
        for (bytes, want) in cases {
            assert_eq!(Performative::decode(bytes), Err(want));
        }
    }
}
