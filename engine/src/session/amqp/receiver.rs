//! The receiving link: credit in windows, transfers reassembled and accounted, accepts in
//! ranges (§2.7.4, §2.7.5, §2.7.6), and the leaving steps that settle everything before the
//! link closes.

use super::*;

#[derive(Debug)]
pub(super) struct Receiver {
    pub(super) load: ReceiverLoad,
    /// Deliveries that arrived unsettled and were taken (counted, this run's or stale): each
    /// is accepted.
    pub(super) taken: u64,
    /// Accepts written so far (the peer has them once it answers a frame written after them).
    pub(super) accepted: u64,
    /// Accepts the peer is known to have read (see [`unsettled`](Session::unsettled)).
    pub(super) confirmed: u64,
    /// The last credit grant not yet known to be read: the delivery count up to which the
    /// previous grant allowed transfers, and `accepted` when the grant was written. A transfer
    /// past that count proves the peer read the grant, and so every accept before it.
    pub(super) grant_mark: Option<(u32, u64)>,
    /// `accepted` when the stopping `flow` or the `detach` was written.
    pub(super) leave_mark: u64,
    /// When a transfer last arrived, or credit was last granted.
    pub(super) last_activity: Nanos,
    /// Credit left before the next window is granted.
    pub(super) credit_left: u32,
    /// The sender's delivery count as we track it (§2.6.7).
    pub(super) delivery_count: u32,
    /// Contiguous unsettled deliveries to accept in one disposition.
    pub(super) to_settle: Option<(u32, u32)>,
    /// Reassembly of a delivery split over several frames (rare: only large messages).
    pub(super) partial: Vec<u8>,
    pub(super) partial_settled: bool,
    pub(super) partial_id: u32,
}

impl AmqpSession {
    /// Grants a new window of credit (§2.7.4), or with `stop` takes the credit back and asks
    /// for the sender's link state (`echo`), which comes after every transfer it had sent.
    pub(super) fn write_credit(&mut self, stop: bool, now: Nanos, out: &mut Vec<u8>) {
        let Link::Receiver(r) = &mut self.link else {
            return;
        };
        r.last_activity = now;
        if stop {
            r.leave_mark = r.accepted;
            r.credit_left = 0;
        } else {
            if r.grant_mark.is_none() {
                let limit = r.delivery_count.wrapping_add(r.credit_left);
                r.grant_mark = Some((limit, r.accepted));
            }
            r.credit_left = self.cfg.credit;
        }
        let flow = Flow {
            next_incoming_id: Some(self.next_incoming_id),
            incoming_window: INCOMING_WINDOW,
            next_outgoing_id: self.next_outgoing_id,
            outgoing_window: OUTGOING_WINDOW,
            handle: Some(0),
            delivery_count: Some(r.delivery_count),
            link_credit: Some(r.credit_left),
            echo: stop,
            ..Flow::default()
        };
        encode_frame(0, &Performative::Flow(flow), &[], out);
    }

    pub(super) fn write_detach(out: &mut Vec<u8>) {
        let detach = Detach {
            handle: 0,
            closed: true,
            error: None,
        };
        encode_frame(0, &Performative::Detach(detach), &[], out);
    }

    pub(super) fn write_end_close(out: &mut Vec<u8>) {
        encode_frame(0, &Performative::End(End { error: None }), &[], out);
        encode_frame(0, &Performative::Close(Close { error: None }), &[], out);
    }

    /// A transfer on the receiving link (§2.7.5): reassembles split messages, accounts the
    /// message, queues its settlement and replenishes credit.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub(super) fn on_transfer(
        &mut self,
        delivery_id: Option<u32>,
        settled_flag: bool,
        more: bool,
        payload: &[u8],
        now: Nanos,
        out: &mut Vec<u8>,
        stats: &mut ShardStats,
    ) -> Result<(), SessionError> {
        self.next_incoming_id = self.next_incoming_id.wrapping_add(1);
        let Link::Receiver(r) = &mut self.link else {
            return Err(SessionError::Protocol(
                "transfer received on a sending link".into(),
            ));
        };
        // Past our detach the link is going away: an unsettled delivery is the broker's to
        // release (§2.6.12), so it is not taken; a settled one is ours.
        let leaving = matches!(
            self.state,
            State::AwaitDetach | State::SendClose | State::AwaitClose | State::Finished
        );
        let (id, settled) = match delivery_id {
            Some(id) => (id, settled_flag),
            None => (r.partial_id, r.partial_settled),
        };
        let take = settled || !leaving;
        if more || !r.partial.is_empty() {
            if r.partial.is_empty() {
                r.partial_id = id;
                r.partial_settled = settled;
            }
            r.partial.extend_from_slice(payload);
            if more {
                return Ok(());
            }
            let whole = std::mem::take(&mut r.partial);
            let taken = if take {
                r.on_message(&whole, now, stats)
            } else {
                Ok(())
            };
            r.partial = whole;
            r.partial.clear();
            taken?;
        } else if take {
            r.on_message(payload, now, stats)?;
        }
        r.delivery_count = r.delivery_count.wrapping_add(1);
        r.credit_left = r.credit_left.saturating_sub(1);
        r.last_activity = now;
        if let Some((limit, accepted)) = r.grant_mark {
            // A transfer past what the previous grant allowed: the peer read the new grant.
            if r.delivery_count.wrapping_sub(limit) as i32 > 0 {
                r.confirmed = r.confirmed.max(accepted);
                r.grant_mark = None;
            }
        }
        if !settled && take {
            r.taken += 1;
            r.to_settle = match r.to_settle {
                Some((first, last)) if last.wrapping_add(1) == id => Some((first, id)),
                Some((first, last)) => {
                    r.write_accept(first, last, out);
                    Some((id, id))
                }
                None => Some((id, id)),
            };
        }
        if self.state == State::Ready && r.credit_left <= self.cfg.credit / 2 {
            self.write_credit(false, now, out);
        }
        Ok(())
    }

    /// The receive path's common case, taken in one pass: consecutive whole settled transfers,
    /// each one message with a single `data` body, accounted one by one and booked for the link
    /// together (§2.7.5; the same effect as [`on_transfer`](Self::on_transfer) for each).
    /// Returns the bytes taken; anything else (an unsettled or split delivery, another body
    /// or performative, an incomplete frame) is left to the general path.
    #[inline]
    pub(super) fn take_settled_run(
        &mut self,
        input: &[u8],
        now: Nanos,
        out: &mut Vec<u8>,
        stats: &mut ShardStats,
    ) -> usize {
        let Link::Receiver(r) = &mut self.link else {
            return 0;
        };
        if !r.partial.is_empty() {
            return 0;
        }
        let (mut used, mut n) = (0, 0u32);
        let mut batch = load::Batch::default();
        while let Some(f) = peek_transfer(&input[used..], self.cfg.max_frame) {
            let body = match single_data_body(f.payload) {
                Some(body) if f.settled && !f.more && f.delivery_id.is_some() => body,
                _ => break,
            };
            r.load.batch_body(&mut batch, body, now, stats);
            used += f.frame_len;
            n += 1;
        }
        r.load.end_batch(batch, now, stats);
        if n > 0 {
            self.next_incoming_id = self.next_incoming_id.wrapping_add(n);
            r.delivery_count = r.delivery_count.wrapping_add(n);
            r.credit_left = r.credit_left.saturating_sub(n);
            r.last_activity = now;
            if let Some((limit, accepted)) = r.grant_mark {
                if r.delivery_count.wrapping_sub(limit) as i32 > 0 {
                    r.confirmed = r.confirmed.max(accepted);
                    r.grant_mark = None;
                }
            }
            if r.credit_left <= self.cfg.credit / 2 {
                self.write_credit(false, now, out);
            }
        }
        used
    }

    /// What the sender says of the link: that it holds messages for us (`available`, which
    /// keeps the idle clock from running out), or its state after our stop (§2.7.4): what it
    /// had sent is here. No credit left confirms our accepts; RabbitMQ 3.10 answers with its
    /// old credit and goes on sending, and the detach then settles that.
    pub(super) fn on_receiver_flow(&mut self, f: &Flow<'_>, now: Nanos) {
        let Link::Receiver(r) = &mut self.link else {
            return;
        };
        if f.available.is_some_and(|n| n > 0) && f.handle == Some(0) {
            r.load.drain.hint(now);
        }
        if self.state == State::StopCredit && f.handle == Some(0) {
            if f.link_credit == Some(0) {
                r.confirmed = r.confirmed.max(r.leave_mark);
            }
            self.state = State::SendDetach;
        }
    }
}

impl Receiver {
    /// Accepts and settles deliveries `first..=last` (§2.7.6).
    pub(super) fn write_accept(&mut self, first: u32, last: u32, out: &mut Vec<u8>) {
        let mut d = Disposition::new(Role::Receiver, first);
        d.last = (last != first).then_some(last);
        d.settled = true;
        d.state = Some(DeliveryState::Accepted);
        encode_frame(0, &Performative::Disposition(d), &[], out);
        self.accepted += u64::from(last.wrapping_sub(first)) + 1;
    }

    /// Writes the accepts still queued.
    pub(super) fn flush_accepts(&mut self, out: &mut Vec<u8>) {
        if let Some((first, last)) = self.to_settle.take() {
            self.write_accept(first, last, out);
        }
    }

    pub(super) fn on_message(
        &mut self,
        bytes: &[u8],
        now: Nanos,
        stats: &mut ShardStats,
    ) -> Result<(), SessionError> {
        let body = match single_data_body(bytes) {
            Some(b) => b,
            None => match MessageView::decode(bytes)
                .map_err(|error| {
                    SessionError::Decode(DecodeError::Amqp {
                        what: "message",
                        error,
                    })
                })?
                .body
            {
                Body::Data(d) => d,
                _ => &[],
            },
        };
        self.load.on_body(body, now, stats);
        Ok(())
    }
}
