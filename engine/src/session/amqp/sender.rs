//! The sending link: transfers within credit and the session window, split when larger than
//! the peer's frames (§2.6.7, §2.5.6, §2.6.14), at most `inflight` unsettled.

use super::*;
use crate::plan::MessageSize;
use crate::session::template::FrameTemplate;
use allegro_wire::amqp10::{encode_transfer_slots, TransferSlots};

#[derive(Debug)]
pub(super) struct Sender {
    pub(super) load: SenderLoad,
    pub(super) layout: MessageLayout,
    /// One whole transfer frame for a fixed-size pre-settled message, and where its delivery's
    /// fields are: the unbounded path lays copies and patches them.
    pub(super) tpl: FrameTemplate,
    pub(super) slots: TransferSlots,
    /// Link credit left (§2.6.7).
    pub(super) credit: u32,
    pub(super) delivery_count: u32,
    /// Deliveries sent and not yet settled by the peer.
    pub(super) outstanding: u32,
    /// Settlement state by delivery id modulo the window: true while outstanding.
    pub(super) unsettled: Vec<bool>,
}

impl AmqpSession {
    /// Transfers what is due at `now` into the data block; returns its length.
    pub(super) fn fill_block(&mut self, now: Nanos, stats: &mut ShardStats) -> usize {
        let AmqpSession {
            cfg,
            link,
            tx,
            peer_max_frame,
            next_outgoing_id,
            remote_incoming_window,
            ..
        } = self;
        let Link::Sender(s) = link else { return 0 };
        let Some(pacer) = s.load.pacer.as_mut() else {
            return 0;
        };
        let block = &mut tx.data;
        let max_frame = *peer_max_frame as usize;
        let body_len = s.load.body.len();
        // The peer-to-peer path: unbounded, pre-settled, fixed size, one frame per message.
        // A block of copies of one frame, and per message only its delivery id, tag and stamp.
        if s.load.plan.rate == 0
            && cfg.presettled
            && matches!(s.load.plan.size, MessageSize::Fixed(_))
            && s.layout.message_len(body_len) + 64 <= max_frame
        {
            if s.tpl.body_len != body_len {
                let f = s.tpl.rebuild(body_len);
                let message_len = s.layout.message_len(body_len);
                s.slots = encode_transfer_slots(0, 0, 0, true, message_len, f);
                s.layout.encode(body_len, f);
                let body_off = f.len();
                f.extend_from_slice(&s.load.body);
                s.tpl.body_off = body_off;
            }
            s.tpl.lay(block);
            let room = s.credit.min(*remote_incoming_window);
            let max = (s.tpl.block_frames as u64).min(u64::from(room));
            let (first, n, intended) = pacer.take_unbounded(now, max).unwrap_or((0, 0, now));
            let (flen, body_off) = (s.tpl.frame.len(), s.tpl.body_off);
            let mut id = *next_outgoing_id;
            for (k, frame) in block.chunks_exact_mut(flen).take(n as usize).enumerate() {
                s.slots.patch(frame, id);
                payload::stamp(&mut frame[body_off..], now, first + k as u64, intended);
                id = id.wrapping_add(1);
            }
            // `n` is at most `room`, a u32.
            let n32 = n as u32;
            *next_outgoing_id = id;
            *remote_incoming_window -= n32;
            s.credit -= n32;
            s.delivery_count = s.delivery_count.wrapping_add(n32);
            stats.on_sent(n, n * body_len as u64, now);
            s.tpl.used(n as usize);
            return n as usize * flen;
        }
        block.clear();
        s.tpl.block_frames = 0;
        let (mut sent, mut bytes) = (0u64, 0u64);
        while block.len() < TX_BLOCK {
            let window_full = !cfg.presettled && s.outstanding as usize >= s.unsettled.len();
            if s.credit == 0 || *remote_incoming_window == 0 || window_full {
                break;
            }
            let Some((seq, intended)) = pacer.take(now) else {
                break;
            };
            let len = s.load.sizes.next();
            let id = *next_outgoing_id;
            let tag = id.to_be_bytes();
            let message_len = s.layout.message_len(len);
            payload::stamp(&mut s.load.body[..len], now, seq, intended);
            // Frame header (8) + transfer performative (at most ~40 bytes with a 4-byte tag).
            if message_len + 64 <= max_frame {
                encode_transfer_head(0, 0, id, &tag, 0, cfg.presettled, false, message_len, block);
                s.layout.encode(len, block);
                block.extend_from_slice(&s.load.body[..len]);
                *remote_incoming_window -= 1;
            } else {
                // §2.6.14: split the message over frames of at most the peer's size.
                let mut message = Vec::with_capacity(message_len);
                s.layout.encode(len, &mut message);
                message.extend_from_slice(&s.load.body[..len]);
                let chunk = max_frame - 64;
                let mut parts = message.chunks(chunk).peekable();
                let mut first = true;
                while let Some(part) = parts.next() {
                    let more = parts.peek().is_some();
                    let mut t = if first {
                        Transfer::first(0, id, &tag)
                    } else {
                        Transfer::new(0)
                    };
                    if first {
                        t.message_format = Some(0);
                        t.settled = cfg.presettled;
                    }
                    t.more = more;
                    encode_frame(0, &Performative::Transfer(t), part, block);
                    *remote_incoming_window = remote_incoming_window.saturating_sub(1);
                    first = false;
                }
            }
            *next_outgoing_id = id.wrapping_add(1);
            s.credit -= 1;
            s.delivery_count = s.delivery_count.wrapping_add(1);
            if !cfg.presettled {
                let window = s.unsettled.len() as u32;
                s.unsettled[(id % window) as usize] = true;
                s.outstanding += 1;
            }
            sent += 1;
            bytes += len as u64;
            load::record_send_delay(s.load.plan.rate, stats, now, intended);
        }
        stats.on_sent(sent, bytes, now);
        block.len()
    }

    /// The receiver's credit (§2.6.7): delivery-count(receiver) + link-credit −
    /// delivery-count(sender).
    pub(super) fn on_sender_flow(&mut self, f: &Flow<'_>) {
        if let (Link::Sender(s), Some(credit)) = (&mut self.link, f.link_credit) {
            let rcv_count = f.delivery_count.unwrap_or(0);
            s.credit = rcv_count
                .wrapping_add(credit)
                .wrapping_sub(s.delivery_count);
            if s.credit > u32::MAX / 2 {
                s.credit = 0;
            }
        }
    }

    /// The receiver settled deliveries `first..=last` (§2.7.6): they leave the unsettled
    /// window; a rejection or modification is reported.
    pub(super) fn on_disposition(&mut self, d: &Disposition<'_>, stats: &mut ShardStats) {
        let Link::Sender(s) = &mut self.link else {
            return;
        };
        if d.role != Role::Receiver || !d.settled || s.unsettled.is_empty() {
            return;
        }
        let rejected = matches!(
            d.state,
            Some(DeliveryState::Rejected { .. } | DeliveryState::Modified { .. })
        );
        let last = d.last.unwrap_or(d.first);
        let window = s.unsettled.len() as u32;
        let mut id = d.first;
        loop {
            let slot = &mut s.unsettled[(id % window) as usize];
            if *slot {
                *slot = false;
                s.outstanding -= 1;
                stats.counters.acked += 1;
            }
            if id == last || last.wrapping_sub(id) > window {
                break;
            }
            id = id.wrapping_add(1);
        }
        if rejected {
            stats.on_error(format!(
                "the peer rejected deliveries {}..={last}: {:?}",
                d.first, d.state
            ));
        }
    }
}
