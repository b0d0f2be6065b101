//! AMQP 0-9-1 sender and receiver sessions (RabbitMQ's protocol, with its extensions:
//! publisher confirms, `basic.nack`, `connection.blocked`, consumer cancel notification).
//!
//! Both roles open a connection (§2.2.4: protocol header, start/start-ok with SASL PLAIN,
//! tune/tune-ok, open) and one channel, then declare what the URL names (a queue, or an
//! exchange; `passive` only checks that it exists). A sender publishes its schedule on the
//! channel; with confirms on (`confirm.select`) the broker acknowledges each delivery tag and at
//! most `inflight` go unconfirmed. A receiver sets its prefetch (`basic.qos`) when it
//! acknowledges, consumes, reassembles bodies split over frames, and acknowledges once per read
//! with `multiple`. Both leave with `connection.close` and wait (bounded) for `close-ok`: a
//! receiver first cancels its consumer and acknowledges what arrives before `cancel-ok`.
//!
//! A broker that blocks publishing (`connection.blocked`, a resource alarm) stalls the sender;
//! past [`BLOCKED_LIMIT`] the session ends with the broker's reason.

use super::load::{self, ReceiverLoad, SenderLoad, SenderPlan};
use super::template::FrameTemplate;
use super::txbuf::TxBuf;
use super::LoadMut;
use super::{DecodeError, Idle, Phase, Session, SessionError, TX_BLOCK};
use crate::clock::{Nanos, NANOS_PER_SEC};
use crate::payload;
use crate::plan::{Amqp091Target, MessageSize};
use crate::stats::ShardStats;
use allegro_wire::amqp091::{
    self as wire, BasicProperties, ContentHeader, FieldValue, Frame, FrameBody, Method, Table,
};
use allegro_wire::Decode;
use std::collections::VecDeque;

/// Settings shared by both roles.
#[derive(Debug, Clone)]
pub struct Amqp091Config {
    pub target: Amqp091Target,
    pub vhost: String,
    pub username: String,
    pub password: String,
    /// Shown by the broker as the connection's name.
    pub connection_name: String,
    pub confirm: bool,
    /// Senders with confirms: unconfirmed messages at most.
    pub inflight: u32,
    pub manual_ack: bool,
    pub prefetch: u16,
    pub durable: bool,
    pub passive: bool,
    pub exchange_type: Option<String>,
    pub persistent: bool,
    pub mandatory: bool,
    /// Heart-beat interval asked for, in seconds (0: none).
    pub heartbeat_s: u16,
    /// Largest frame proposed (and accepted) in tune-ok.
    pub frame_max: u32,
}

/// The channel everything but the connection's methods travels on.
const CH: u16 = 1;

/// How long a session that is leaving waits for each reply before it goes anyway.
const CLOSE_WAIT: Nanos = 2 * NANOS_PER_SEC;

/// How long a sender stays blocked by the broker (`connection.blocked`) before the session
/// ends with the broker's reason.
pub const BLOCKED_LIMIT: Nanos = 10 * NANOS_PER_SEC;

/// RabbitMQ's consumer tag for our one consumer.
const CONSUMER_TAG: &str = "allegro";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    SendHeader,
    AwaitStart,
    AwaitTune,
    AwaitOpenOk,
    AwaitChannelOpenOk,
    AwaitSelectOk,
    AwaitExchangeOk,
    AwaitQueueOk,
    AwaitBindOk,
    AwaitQosOk,
    AwaitConsumeOk,
    Ready,
    Running,
    /// A receiver that is done cancels its consumer.
    Cancel,
    AwaitCancelOk,
    SendClose,
    AwaitCloseOk,
    Finished,
}

/// Publisher confirms: which delivery tags are still unconfirmed (§"confirm" class, RabbitMQ).
#[derive(Debug, Default)]
struct Confirms {
    /// The lowest tag not yet confirmed; tags start at 1.
    base: u64,
    /// Tags from `base` on: true while unconfirmed.
    open: VecDeque<bool>,
    outstanding: u64,
}

impl Confirms {
    fn new() -> Self {
        Confirms {
            base: 1,
            ..Confirms::default()
        }
    }

    #[inline]
    fn published(&mut self) {
        self.open.push_back(true);
        self.outstanding += 1;
    }

    /// Confirms `tag` (and every earlier one with `multiple`); returns how many were newly
    /// confirmed, or `None` for a tag never published.
    fn settle(&mut self, tag: u64, multiple: bool) -> Option<u64> {
        let end = tag.checked_sub(self.base)?;
        if end >= self.open.len() as u64 {
            return None;
        }
        let start = if multiple { 0 } else { end };
        let mut n = 0;
        for slot in self.open.range_mut(start as usize..=end as usize) {
            if std::mem::replace(slot, false) {
                n += 1;
            }
        }
        while self.open.front() == Some(&false) {
            self.open.pop_front();
            self.base += 1;
        }
        self.outstanding -= n;
        Some(n)
    }
}

#[derive(Debug)]
struct Sender {
    load: SenderLoad,
    tpl: FrameTemplate,
    confirms: Confirms,
    /// The window filled up: publish again once half of it is confirmed (fewer, larger writes
    /// than one small write per confirm).
    refill: bool,
    /// When the schedule was found finished (the wait for the last confirms starts).
    done_at: Option<Nanos>,
}

impl Sender {
    /// With confirms: no publishing until confirms arrive (the window is full, or refilling
    /// from half).
    fn window_closed(&self, inflight: u32) -> bool {
        let window = u64::from(inflight.max(1));
        let o = self.confirms.outstanding;
        o >= window || (self.refill && o > window / 2)
    }
}

/// A message arriving over several frames: a `basic.deliver` or `basic.return`, its content
/// header, then body frames.
#[derive(Debug, Default)]
struct Incoming {
    /// A delivery (with its tag) or a returned message (`None`).
    tag: Option<u64>,
    /// Body bytes still to come; `None` until the content header arrived.
    remaining: Option<u64>,
    /// The body so far, when it spans frames (reused).
    buf: Vec<u8>,
    active: bool,
}

#[derive(Debug)]
struct Receiver {
    load: ReceiverLoad,
    /// The queue consumed (server-named for an exchange target).
    queue: String,
    /// Manual acknowledgement: the last tag counted, and how many since the last `basic.ack`.
    last_tag: u64,
    unacked: u32,
    /// Acknowledgements written that no `close-ok` confirmed yet.
    acks_unconfirmed: u64,
}

#[derive(Debug)]
enum Role {
    Sender(Sender),
    Receiver(Receiver),
}

/// One AMQP 0-9-1 connection's session.
#[derive(Debug)]
pub struct Amqp091Session {
    cfg: Amqp091Config,
    role: Role,
    state: State,
    incoming: Incoming,
    /// Negotiated in tune-ok.
    frame_max: u32,
    heartbeat: Option<Nanos>,
    idle: Idle,
    last_rx: Nanos,
    /// Since when, and why, the broker blocks publishing.
    blocked: Option<(Nanos, String)>,
    /// When the session began waiting for its current leaving reply.
    leaving_since: Option<Nanos>,
    tx: TxBuf,
}

impl Amqp091Session {
    fn new(cfg: Amqp091Config, role: Role) -> Self {
        Amqp091Session {
            frame_max: cfg.frame_max,
            cfg,
            role,
            state: State::SendHeader,
            incoming: Incoming::default(),
            heartbeat: None,
            idle: Idle::default(),
            last_rx: 0,
            blocked: None,
            leaving_since: None,
            tx: TxBuf::default(),
        }
    }

    /// A sender that publishes `plan` once started.
    pub fn sender(cfg: Amqp091Config, plan: SenderPlan) -> Self {
        let role = Role::Sender(Sender {
            load: SenderLoad::new(plan),
            tpl: FrameTemplate::default(),
            confirms: Confirms::new(),
            refill: false,
            done_at: None,
        });
        Self::new(cfg, role)
    }

    /// A receiver that consumes from the target; `drain_idle` ends it after the senders
    /// finished. With `run`, it counts only that run's messages (others are stale).
    pub fn receiver(cfg: Amqp091Config, drain_idle: Nanos, run: Option<u32>) -> Self {
        let queue = match &cfg.target {
            Amqp091Target::Queue(q) => q.clone(),
            Amqp091Target::Exchange { .. } => String::new(),
        };
        let role = Role::Receiver(Receiver {
            load: ReceiverLoad::new(drain_idle, run),
            queue,
            last_tag: 0,
            unacked: 0,
            acks_unconfirmed: 0,
        });
        Self::new(cfg, role)
    }

    fn method(out: &mut Vec<u8>, channel: u16, m: Method<'_>) {
        wire::encode_method(channel, &m, out);
    }

    /// §4.2.2 start-ok: client properties (with the capabilities RabbitMQ looks for) and
    /// SASL PLAIN.
    fn write_start_ok(&self, out: &mut Vec<u8>) {
        let mut caps = Vec::new();
        wire::encode_table(
            &[
                ("publisher_confirms", FieldValue::Bool(true)),
                ("consumer_cancel_notify", FieldValue::Bool(true)),
                ("basic.nack", FieldValue::Bool(true)),
                ("connection.blocked", FieldValue::Bool(true)),
                ("authentication_failure_close", FieldValue::Bool(true)),
            ],
            &mut caps,
        );
        let mut props = Vec::new();
        wire::encode_table(
            &[
                ("product", FieldValue::LongStr(b"allegro")),
                (
                    "version",
                    FieldValue::LongStr(env!("CARGO_PKG_VERSION").as_bytes()),
                ),
                ("platform", FieldValue::LongStr(b"Rust")),
                (
                    "connection_name",
                    FieldValue::LongStr(self.cfg.connection_name.as_bytes()),
                ),
                (
                    "capabilities",
                    FieldValue::Table(Table::from_raw(&caps[4..])),
                ),
            ],
            &mut props,
        );
        let mut response =
            Vec::with_capacity(2 + self.cfg.username.len() + self.cfg.password.len());
        response.push(0);
        response.extend_from_slice(self.cfg.username.as_bytes());
        response.push(0);
        response.extend_from_slice(self.cfg.password.as_bytes());
        Self::method(
            out,
            0,
            Method::ConnectionStartOk {
                client_properties: Table::from_raw(&props[4..]),
                mechanism: "PLAIN",
                response: &response,
                locale: "en_US",
            },
        );
    }

    /// After the channel opened: confirms for a sender, then what the target needs declared.
    fn after_channel_open(&mut self, out: &mut Vec<u8>) {
        if self.cfg.confirm && matches!(self.role, Role::Sender(_)) {
            Self::method(out, CH, Method::ConfirmSelect { no_wait: false });
            self.state = State::AwaitSelectOk;
        } else {
            self.declare(out);
        }
    }

    /// §1.6/§1.7: declares (or checks, passive) the exchange or the queue of the target.
    fn declare(&mut self, out: &mut Vec<u8>) {
        let cfg = &self.cfg;
        match &cfg.target {
            Amqp091Target::Queue(q) => {
                Self::method(
                    out,
                    CH,
                    Method::QueueDeclare {
                        queue: q,
                        passive: cfg.passive,
                        durable: cfg.durable,
                        exclusive: false,
                        auto_delete: false,
                        no_wait: false,
                        arguments: Table::EMPTY,
                    },
                );
                self.state = State::AwaitQueueOk;
            }
            Amqp091Target::Exchange { exchange, .. } => {
                let declare = cfg.exchange_type.as_deref();
                Self::method(
                    out,
                    CH,
                    Method::ExchangeDeclare {
                        exchange,
                        kind: declare.unwrap_or(""),
                        passive: declare.is_none() || cfg.passive,
                        durable: cfg.durable,
                        auto_delete: false,
                        internal: false,
                        no_wait: false,
                        arguments: Table::EMPTY,
                    },
                );
                self.state = State::AwaitExchangeOk;
            }
        }
    }

    /// The target is there: a sender is ready; a receiver of an exchange declares its own
    /// queue, one of a queue consumes.
    fn after_exchange(&mut self, out: &mut Vec<u8>) {
        match &self.role {
            Role::Sender(_) => self.sender_ready(),
            Role::Receiver(_) => {
                // A server-named queue of this connection's own (§1.7.2.1).
                Self::method(
                    out,
                    CH,
                    Method::QueueDeclare {
                        queue: "",
                        passive: false,
                        durable: false,
                        exclusive: true,
                        auto_delete: true,
                        no_wait: false,
                        arguments: Table::EMPTY,
                    },
                );
                self.state = State::AwaitQueueOk;
            }
        }
    }

    fn sender_ready(&mut self) {
        if let Role::Sender(s) = &self.role {
            self.state = if s.load.started() {
                State::Running
            } else {
                State::Ready
            };
        }
    }

    /// §1.8.3.1 qos (manual acknowledgement), then §1.8.3.3 consume.
    fn consume(&mut self, out: &mut Vec<u8>, qos_done: bool) {
        if self.cfg.manual_ack && !qos_done {
            Self::method(
                out,
                CH,
                Method::BasicQos {
                    prefetch_size: 0,
                    prefetch_count: self.cfg.prefetch,
                    global: false,
                },
            );
            self.state = State::AwaitQosOk;
            return;
        }
        let Role::Receiver(r) = &self.role else {
            return;
        };
        Self::method(
            out,
            CH,
            Method::BasicConsume {
                queue: &r.queue,
                consumer_tag: CONSUMER_TAG,
                no_local: false,
                no_ack: !self.cfg.manual_ack,
                exclusive: false,
                no_wait: false,
                arguments: Table::EMPTY,
            },
        );
        self.state = State::AwaitConsumeOk;
    }

    /// Manual acknowledgement: one `basic.ack` with `multiple` for everything counted since the
    /// last one.
    fn ack_pending(&mut self, out: &mut Vec<u8>) {
        if let Role::Receiver(r) = &mut self.role {
            if r.unacked > 0 {
                Self::method(
                    out,
                    CH,
                    Method::BasicAck {
                        delivery_tag: r.last_tag,
                        multiple: true,
                    },
                );
                r.acks_unconfirmed += u64::from(r.unacked);
                r.unacked = 0;
            }
        }
    }

    fn on_frame(
        &mut self,
        f: Frame<'_>,
        now: Nanos,
        out: &mut Vec<u8>,
        stats: &mut ShardStats,
    ) -> Result<(), SessionError> {
        match f.body {
            FrameBody::Heartbeat => Ok(()),
            FrameBody::Method(m) => self.on_method(f.channel, m, now, out, stats),
            FrameBody::Header(h) => {
                if !self.incoming.active || self.incoming.remaining.is_some() {
                    return Err(SessionError::Protocol(
                        "content header without a delivery before it".into(),
                    ));
                }
                self.incoming.remaining = Some(h.body_size);
                self.incoming.buf.clear();
                if h.body_size == 0 {
                    self.complete(&[], now, stats);
                }
                Ok(())
            }
            FrameBody::Body(b) => {
                let Some(left) = self.incoming.remaining.filter(|_| self.incoming.active) else {
                    return Err(SessionError::Protocol(
                        "body frame without a content header before it".into(),
                    ));
                };
                let n = b.len() as u64;
                if n > left {
                    return Err(SessionError::Protocol(format!(
                        "body frame of {n} bytes where {left} were left"
                    )));
                }
                if n == left && self.incoming.buf.is_empty() {
                    // The whole body in one frame: account it where it lies.
                    self.complete(b, now, stats);
                } else {
                    self.incoming.buf.extend_from_slice(b);
                    self.incoming.remaining = Some(left - n);
                    if n == left {
                        let body = std::mem::take(&mut self.incoming.buf);
                        self.complete(&body, now, stats);
                        self.incoming.buf = body;
                    }
                }
                Ok(())
            }
        }
    }

    /// A whole message arrived: a delivery is counted (and queued for acknowledgement), a
    /// returned message is an error.
    fn complete(&mut self, body: &[u8], now: Nanos, stats: &mut ShardStats) {
        self.incoming.active = false;
        self.incoming.remaining = None;
        match (self.incoming.tag, &mut self.role) {
            (Some(tag), Role::Receiver(r)) => {
                r.load.on_body(body, now, stats);
                if self.cfg.manual_ack {
                    r.last_tag = tag;
                    r.unacked += 1;
                }
            }
            _ => stats.on_error(format!(
                "the broker returned an unroutable message ({}; mandatory=true)",
                self.cfg.target
            )),
        }
    }

    fn on_method(
        &mut self,
        channel: u16,
        m: Method<'_>,
        now: Nanos,
        out: &mut Vec<u8>,
        stats: &mut ShardStats,
    ) -> Result<(), SessionError> {
        if self.incoming.active {
            return Err(SessionError::Protocol(format!(
                "{} in the middle of a message's content",
                m.name()
            )));
        }
        match (self.state, m) {
            (
                _,
                Method::ConnectionClose {
                    reply_code,
                    reply_text,
                    class_id,
                    method_id,
                },
            ) => {
                Self::method(out, 0, Method::ConnectionCloseOk);
                let why = format!(
                    "{reply_code} {reply_text}{}",
                    in_reply_to(class_id, method_id)
                );
                // §1.2 of the constants: 320 connection-forced, an operator or a shutdown.
                return Err(if reply_code == 320 {
                    SessionError::Forced(why)
                } else {
                    SessionError::Refused(format!("connection closed by the broker: {why}"))
                });
            }
            (
                _,
                Method::ChannelClose {
                    reply_code,
                    reply_text,
                    class_id,
                    method_id,
                },
            ) => {
                Self::method(out, channel, Method::ChannelCloseOk);
                return Err(SessionError::Refused(format!(
                    "channel closed by the broker: {reply_code} {reply_text}{}",
                    in_reply_to(class_id, method_id)
                )));
            }
            (_, Method::ConnectionBlocked { reason }) => {
                self.blocked.get_or_insert((now, reason.to_string()));
            }
            (_, Method::ConnectionUnblocked) => self.blocked = None,
            (_, Method::ChannelFlow { active }) => {
                Self::method(out, channel, Method::ChannelFlowOk { active });
                if active {
                    self.blocked = None;
                } else {
                    self.blocked.get_or_insert((now, "channel.flow".into()));
                }
            }
            (State::AwaitStart, Method::ConnectionStart { mechanisms, .. }) => {
                if !mechanisms.split(|&b| b == b' ').any(|m| m == b"PLAIN") {
                    return Err(SessionError::Refused(format!(
                        "the broker offers no SASL PLAIN (mechanisms: {})",
                        String::from_utf8_lossy(mechanisms)
                    )));
                }
                self.write_start_ok(out);
                self.state = State::AwaitTune;
            }
            (
                State::AwaitTune,
                Method::ConnectionTune {
                    channel_max,
                    frame_max,
                    heartbeat,
                },
            ) => {
                // §4.2.3: the lower of the two frame sizes (0: no limit); heart-beats at the
                // lower non-zero interval, none when we asked for none.
                self.frame_max = match frame_max {
                    0 => self.cfg.frame_max,
                    f => f.min(self.cfg.frame_max),
                }
                .max(wire::FRAME_MIN_SIZE);
                let hb = match (self.cfg.heartbeat_s, heartbeat) {
                    (0, _) => 0,
                    (ours, 0) => ours,
                    (ours, theirs) => ours.min(theirs),
                };
                self.heartbeat = (hb > 0).then(|| i64::from(hb) * NANOS_PER_SEC);
                Self::method(
                    out,
                    0,
                    Method::ConnectionTuneOk {
                        channel_max: if channel_max == 0 {
                            1
                        } else {
                            channel_max.min(1)
                        },
                        frame_max: self.frame_max,
                        heartbeat: hb,
                    },
                );
                Self::method(
                    out,
                    0,
                    Method::ConnectionOpen {
                        virtual_host: &self.cfg.vhost,
                    },
                );
                self.state = State::AwaitOpenOk;
            }
            (State::AwaitOpenOk, Method::ConnectionOpenOk) => {
                Self::method(out, CH, Method::ChannelOpen);
                self.state = State::AwaitChannelOpenOk;
            }
            (State::AwaitChannelOpenOk, Method::ChannelOpenOk) => self.after_channel_open(out),
            (State::AwaitSelectOk, Method::ConfirmSelectOk) => self.declare(out),
            (State::AwaitExchangeOk, Method::ExchangeDeclareOk) => self.after_exchange(out),
            (State::AwaitQueueOk, Method::QueueDeclareOk { queue, .. }) => match &mut self.role {
                Role::Sender(_) => self.sender_ready(),
                Role::Receiver(r) => match &self.cfg.target {
                    Amqp091Target::Queue(_) => self.consume(out, false),
                    Amqp091Target::Exchange { exchange, key } => {
                        r.queue = queue.to_string();
                        Self::method(
                            out,
                            CH,
                            Method::QueueBind {
                                queue: &r.queue,
                                exchange,
                                routing_key: key,
                                no_wait: false,
                                arguments: Table::EMPTY,
                            },
                        );
                        self.state = State::AwaitBindOk;
                    }
                },
            },
            (State::AwaitBindOk, Method::QueueBindOk) => self.consume(out, false),
            (State::AwaitQosOk, Method::BasicQosOk) => self.consume(out, true),
            (State::AwaitConsumeOk, Method::BasicConsumeOk { .. }) => self.state = State::Ready,
            (_, Method::BasicDeliver { delivery_tag, .. }) => {
                if !matches!(self.role, Role::Receiver(_)) {
                    return Err(SessionError::Protocol(
                        "basic.deliver on a sender connection".into(),
                    ));
                }
                self.incoming.tag = Some(delivery_tag);
                self.incoming.active = true;
            }
            (_, Method::BasicReturn { .. }) => {
                self.incoming.tag = None;
                self.incoming.active = true;
            }
            (
                _,
                Method::BasicAck {
                    delivery_tag,
                    multiple,
                },
            ) => {
                self.confirmed(delivery_tag, multiple, stats)?;
            }
            (
                _,
                Method::BasicNack {
                    delivery_tag,
                    multiple,
                    ..
                },
            ) => {
                let n = self.confirmed(delivery_tag, multiple, stats)?;
                stats.counters.acked -= n;
                stats.on_error(format!(
                    "the broker refused {n} message(s) (basic.nack) on {}",
                    self.cfg.target
                ));
            }
            (State::AwaitCancelOk, Method::BasicCancelOk { .. }) => {
                self.state = State::SendClose;
                self.leaving_since = None;
            }
            // consumer_cancel_notify: the broker ended the consumer (its queue was deleted).
            (_, Method::BasicCancel { .. }) => {
                return Err(SessionError::Refused(format!(
                    "the broker cancelled the consumer of {} (deleted?)",
                    self.cfg.target
                )))
            }
            (State::AwaitCloseOk, Method::ConnectionCloseOk) => {
                if let Role::Receiver(r) = &mut self.role {
                    r.acks_unconfirmed = 0;
                }
                self.state = State::Finished;
            }
            (state, m) => {
                return Err(SessionError::Protocol(format!(
                    "unexpected {} in state {state:?}",
                    m.name()
                )))
            }
        }
        Ok(())
    }

    /// A publisher confirm for `tag`: returns how many messages it confirmed.
    fn confirmed(
        &mut self,
        tag: u64,
        multiple: bool,
        stats: &mut ShardStats,
    ) -> Result<u64, SessionError> {
        let Role::Sender(s) = &mut self.role else {
            return Err(SessionError::Protocol(
                "publisher confirm on a receiver connection".into(),
            ));
        };
        let n = s.confirms.settle(tag, multiple).ok_or_else(|| {
            SessionError::Protocol(format!("confirm for delivery tag {tag}, never published"))
        })?;
        stats.counters.acked += n;
        Ok(n)
    }

    /// Prepares the messages due at `now` in the data block (at most one block's worth, within
    /// the window of unconfirmed messages) and returns the block's length.
    fn fill_block(&mut self, now: Nanos, stats: &mut ShardStats) -> usize {
        let Amqp091Session {
            cfg,
            role,
            tx,
            frame_max,
            ..
        } = self;
        let Role::Sender(s) = role else { return 0 };
        let Some(pacer) = s.load.pacer.as_mut() else {
            return 0;
        };
        let (exchange, key) = match &cfg.target {
            Amqp091Target::Queue(q) => ("", q.as_str()),
            Amqp091Target::Exchange { exchange, key } => (exchange.as_str(), key.as_str()),
        };
        let window = if cfg.confirm {
            u64::from(cfg.inflight.max(1))
        } else {
            u64::MAX
        };
        if s.refill && s.confirms.outstanding > window / 2 {
            return 0;
        }
        s.refill = false;
        let room = window.saturating_sub(s.confirms.outstanding);
        let block = &mut tx.data;
        let fixed = matches!(s.load.plan.size, MessageSize::Fixed(_));
        let build = |t: &mut FrameTemplate, body: &[u8]| {
            build_publish(t, (exchange, key), cfg, body, *frame_max);
        };
        if fixed {
            if s.tpl.body_len != s.load.body.len() {
                build(&mut s.tpl, &s.load.body);
            }
            s.tpl.lay(block);
            let (flen, body_off) = (s.tpl.frame.len(), s.tpl.body_off);
            let most = (s.tpl.block_frames as u64).min(room);
            if let Some((first, n, intended)) = pacer.take_unbounded(now, most) {
                for (k, frame) in block.chunks_exact_mut(flen).take(n as usize).enumerate() {
                    payload::stamp(&mut frame[body_off..], now, first + k as u64, intended);
                }
                if cfg.confirm {
                    for _ in 0..n {
                        s.confirms.published();
                    }
                    s.refill = s.confirms.outstanding >= window;
                }
                stats.on_sent(n, n * s.tpl.body_len as u64, now);
                return n as usize * flen;
            }
        } else {
            block.clear();
        }
        let (mut at, mut sent, mut bytes) = (0usize, 0u64, 0u64);
        loop {
            let more = if fixed {
                (sent as usize) < s.tpl.block_frames
            } else {
                at < TX_BLOCK
            };
            if !more || sent >= room {
                break;
            }
            let Some((seq, intended)) = pacer.take(now) else {
                break;
            };
            let len = s.load.sizes.next();
            if s.tpl.body_len != len {
                build(&mut s.tpl, &s.load.body[..len]);
            }
            if !fixed {
                block.extend_from_slice(&s.tpl.frame);
            }
            let frame = &mut block[at..at + s.tpl.frame.len()];
            payload::stamp(&mut frame[s.tpl.body_off..], now, seq, intended);
            if cfg.confirm {
                s.confirms.published();
            }
            at += s.tpl.frame.len();
            sent += 1;
            bytes += len as u64;
            load::record_send_delay(s.load.plan.rate, stats, now, intended);
        }
        s.refill = cfg.confirm && s.confirms.outstanding >= window;
        stats.on_sent(sent, bytes, now);
        at
    }

    /// Moves a leaving session on when its reply is overdue.
    fn leave_step(&mut self, now: Nanos) {
        if let Some(since) = self.leaving_since {
            if now - since > CLOSE_WAIT {
                self.leaving_since = None;
                self.state = match self.state {
                    State::AwaitCancelOk => State::SendClose,
                    State::AwaitCloseOk => State::Finished,
                    s => s,
                };
            }
        }
    }
}

/// ` (in reply to queue.declare)` for the method a broker's close names, when it names one.
fn in_reply_to(class: u16, method: u16) -> String {
    let name = match (class, method) {
        (0, _) => return String::new(),
        (10, 11) => "connection.start-ok",
        (10, 40) => "connection.open",
        (20, 10) => "channel.open",
        (40, 10) => "exchange.declare",
        (50, 10) => "queue.declare",
        (50, 20) => "queue.bind",
        (60, 10) => "basic.qos",
        (60, 20) => "basic.consume",
        (60, 40) => "basic.publish",
        (60, 80) => "basic.ack",
        (85, 10) => "confirm.select",
        _ => return format!(" (in reply to method {class}.{method})"),
    };
    format!(" (in reply to {name})")
}

/// Encodes a whole publish of `body` into `t` (§4.2.6: a `basic.publish` frame, a content
/// header frame and body frames of at most frame-max bytes); only the body's stamp changes per
/// message.
fn build_publish(
    t: &mut FrameTemplate,
    target: (&str, &str),
    cfg: &Amqp091Config,
    body: &[u8],
    frame_max: u32,
) {
    let (exchange, routing_key) = target;
    let f = t.rebuild(body.len());
    wire::encode_method(
        CH,
        &Method::BasicPublish {
            exchange,
            routing_key,
            mandatory: cfg.mandatory,
            immediate: false,
        },
        f,
    );
    wire::encode_content_header(
        CH,
        &ContentHeader {
            class_id: 60,
            body_size: body.len() as u64,
            properties: BasicProperties {
                delivery_mode: cfg.persistent.then_some(2),
                ..BasicProperties::default()
            },
        },
        f,
    );
    // After the body frame's type, channel and size.
    let body_off = f.len() + 7;
    wire::encode_body(CH, body, frame_max, f);
    t.body_off = body_off;
}

impl Session for Amqp091Session {
    fn handle_input(
        &mut self,
        input: &[u8],
        now: Nanos,
        stats: &mut ShardStats,
    ) -> Result<usize, SessionError> {
        if !input.is_empty() {
            self.last_rx = now;
        }
        let mut out = std::mem::take(&mut self.tx.ctrl);
        let mut used = 0;
        let mut result = Ok(());
        while used < input.len() {
            match wire::decode(&input[used..], self.cfg.frame_max as usize) {
                Ok(Decode::Complete(f, n)) => {
                    used += n;
                    result = self.on_frame(f, now, &mut out, stats);
                    if result.is_err() {
                        break;
                    }
                }
                Ok(Decode::Incomplete(_)) => break,
                Err(wire::Error::ProtocolHeader {
                    major,
                    minor,
                    revision,
                }) => {
                    result = Err(SessionError::Refused(format!(
                        "the broker answered with its protocol header ({major}-{minor}-{revision}): it does not take AMQP 0-9-1 here"
                    )));
                    break;
                }
                Err(e) => {
                    result = Err(SessionError::Decode(DecodeError::Amqp091(e)));
                    break;
                }
            }
        }
        if result.is_ok() && self.state != State::AwaitCloseOk {
            self.ack_pending(&mut out);
        }
        self.tx.ctrl = out;
        result.map(|()| used)
    }

    fn poll_transmit(&mut self, now: Nanos, stats: &mut ShardStats) -> Result<&[u8], SessionError> {
        if let Some(hb) = self.heartbeat {
            // §4.2.7: a peer silent for two intervals is gone.
            if now - self.last_rx > 2 * hb {
                return Err(SessionError::Timeout("heart-beats from the broker"));
            }
        }
        if let Some((since, reason)) = &self.blocked {
            if now - since > BLOCKED_LIMIT && matches!(self.role, Role::Sender(_)) {
                return Err(SessionError::Refused(format!(
                    "the broker blocked publishing for more than {} s (connection.blocked: {reason})",
                    BLOCKED_LIMIT / NANOS_PER_SEC
                )));
            }
        }
        if !self.tx.is_empty() {
            return Ok(self.tx.pending());
        }
        self.leave_step(now);
        let mut out = std::mem::take(&mut self.tx.ctrl);
        let mut data_len = 0;
        match self.state {
            State::SendHeader => {
                out.extend_from_slice(&wire::PROTOCOL_HEADER);
                self.last_rx = now;
                self.state = State::AwaitStart;
            }
            State::Running if self.blocked.is_none() => {
                data_len = self.fill_block(now, stats);
                if let Role::Sender(s) = &mut self.role {
                    if s.load.finished(now) && data_len == 0 {
                        let since = *s.done_at.get_or_insert(now);
                        let left = s.confirms.outstanding;
                        if left == 0 {
                            self.state = State::SendClose;
                        } else if now - since > CLOSE_WAIT {
                            stats.on_error(format!(
                                "{left} message(s) never confirmed by the broker within {} s",
                                CLOSE_WAIT / NANOS_PER_SEC
                            ));
                            self.state = State::SendClose;
                        }
                    }
                }
            }
            State::Ready => {
                if let Role::Receiver(r) = &self.role {
                    if r.load.done(now) {
                        self.state = State::Cancel;
                    }
                }
            }
            _ => {}
        }
        if self.state == State::Cancel {
            Self::method(
                &mut out,
                CH,
                Method::BasicCancel {
                    consumer_tag: CONSUMER_TAG,
                    no_wait: false,
                },
            );
            self.state = State::AwaitCancelOk;
            self.leaving_since = Some(now);
        }
        if self.state == State::SendClose {
            self.ack_pending(&mut out);
            Self::method(
                &mut out,
                0,
                Method::ConnectionClose {
                    reply_code: 200,
                    reply_text: "done",
                    class_id: 0,
                    method_id: 0,
                },
            );
            self.state = State::AwaitCloseOk;
            self.leaving_since = Some(now);
        }
        // §4.2.7: a heart-beat frame when nothing else went out for half the interval.
        let beat_after = self
            .heartbeat
            .filter(|_| self.state != State::Finished)
            .map(|hb| hb / 2);
        if self
            .idle
            .keep_alive_due(now, !out.is_empty() || data_len > 0, beat_after)
        {
            wire::encode_heartbeat(&mut out);
        }
        Ok(self.tx.queue(out, data_len))
    }

    fn txbuf(&self) -> &TxBuf {
        &self.tx
    }

    fn txbuf_mut(&mut self) -> &mut TxBuf {
        &mut self.tx
    }

    fn next_timeout(&self, now: Nanos) -> Option<Nanos> {
        let beat = self.heartbeat.map(|hb| self.idle.last_tx + hb / 2);
        let silent = self.heartbeat.map(|hb| self.last_rx + 2 * hb + 1);
        let blocked = self
            .blocked
            .as_ref()
            .filter(|_| matches!(self.role, Role::Sender(_)))
            .map(|(since, _)| since + BLOCKED_LIMIT + 1);
        let work = match (&self.role, self.state) {
            (_, State::SendHeader | State::Cancel | State::SendClose) => Some(now),
            (Role::Sender(_), State::Running) if self.blocked.is_some() => None,
            (Role::Sender(s), State::Running) => match s.load.next_due(now) {
                Some(_) if self.cfg.confirm && s.window_closed(self.cfg.inflight) => None,
                Some(t) => Some(t),
                None if s.confirms.outstanding == 0 => Some(now),
                None => Some(s.done_at.map_or(now, |t| t + CLOSE_WAIT + 1)),
            },
            (Role::Receiver(r), State::Ready) => r.load.deadline(now),
            (_, State::AwaitCancelOk | State::AwaitCloseOk) => {
                self.leaving_since.map(|t| t + CLOSE_WAIT + 1)
            }
            _ => None,
        };
        super::earliest(
            super::earliest(beat, silent),
            super::earliest(blocked, work),
        )
    }

    fn start(&mut self, t0: Nanos) {
        if let Role::Sender(s) = &mut self.role {
            s.load.start(t0);
            // Also a session that took a started load over (a connection made again).
            if self.state == State::Ready {
                self.state = State::Running;
            }
        }
    }

    fn drain(&mut self, now: Nanos, expected: u64) {
        if let Role::Receiver(r) = &mut self.role {
            r.load.drain.set(now, expected);
        }
    }

    fn phase(&self) -> Phase {
        match self.state {
            State::SendHeader
            | State::AwaitStart
            | State::AwaitTune
            | State::AwaitOpenOk
            | State::AwaitChannelOpenOk
            | State::AwaitSelectOk
            | State::AwaitExchangeOk
            | State::AwaitQueueOk
            | State::AwaitBindOk
            | State::AwaitQosOk
            | State::AwaitConsumeOk => Phase::Handshake,
            State::Ready => match &self.role {
                Role::Sender(s) if s.load.started() => Phase::Running,
                _ => Phase::Ready,
            },
            State::Running
            | State::Cancel
            | State::AwaitCancelOk
            | State::SendClose
            | State::AwaitCloseOk => Phase::Running,
            State::Finished => Phase::Finished,
        }
    }

    fn close(&mut self) {
        self.state = match (self.state, &self.role) {
            _ if self.phase() == Phase::Handshake => State::Finished,
            (State::Ready, Role::Receiver(_)) => State::Cancel,
            (State::Ready | State::Running, Role::Sender(_)) => State::SendClose,
            (s, _) => s,
        };
    }

    fn sending_done(&self) -> bool {
        match &self.role {
            Role::Sender(_) => matches!(self.state, State::AwaitCloseOk | State::Finished),
            Role::Receiver(_) => false,
        }
    }

    fn unsettled(&self) -> u64 {
        match &self.role {
            Role::Receiver(r) => u64::from(r.unacked) + r.acks_unconfirmed,
            Role::Sender(_) => 0,
        }
    }

    fn unconfirmed(&self) -> u64 {
        match &self.role {
            Role::Sender(s) => s.confirms.outstanding,
            Role::Receiver(_) => 0,
        }
    }

    fn load_mut(&mut self) -> LoadMut<'_> {
        match &mut self.role {
            Role::Sender(s) => LoadMut::Sender(&mut s.load),
            Role::Receiver(r) => LoadMut::Receiver(&mut r.load),
        }
    }

    fn is_sender(&self) -> bool {
        matches!(self.role, Role::Sender(_))
    }
}

#[cfg(test)]
mod tests;
