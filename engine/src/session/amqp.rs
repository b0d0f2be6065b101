//! AMQP 1.0 sender and receiver sessions (OASIS AMQP 1.0).
//!
//! A client connection: SASL (§5.3, ANONYMOUS or PLAIN), then the AMQP header, `open` (§2.7.1),
//! one session (`begin`, §2.7.2) and one link (`attach`, §2.7.3). A sender transfers its schedule
//! within the link credit and the peer's session window (§2.6.7, §2.5.6), pre-settled or
//! unsettled (acknowledged by `disposition`, §2.7.6, at most `inflight` outstanding); a message
//! larger than the peer's frame size is split over several `transfer` frames (§2.6.14). A
//! receiver grants credit in windows, settles what arrives unsettled, and accounts every message
//! like the MQTT receiver. Both send empty frames to honour the peer's idle time-out (§2.4.5) and
//! end with `detach`, `end` and `close`.
//!
//! A receiver that is done leaves so that the broker keeps nothing it counted: it takes its
//! credit back and asks for the sender's link state (`flow` with no credit and `echo`, §2.6.7,
//! §2.7.4), accepts whatever was already on the way, then detaches and waits for the peer's
//! `detach` (§2.6.5) before `end` and `close`. (Not `drain`: RabbitMQ 3.10 ends the session
//! with an internal error when asked to drain.)
//! A broker may act on a `close` before the accepts ahead of it (RabbitMQ requeued up to a few
//! hundred of them), so the answering `detach` is the proof that every accept was taken.

use super::load::{self, ReceiverLoad, SenderLoad, SenderPlan};
use super::txbuf::TxBuf;
use super::{Phase, Session, SessionError, TX_BLOCK};
use crate::clock::Nanos;
use crate::payload;

use crate::stats::ShardStats;
use allegro_wire::amqp10::{
    condition, decode_frame, encode_empty_frame, encode_frame, encode_sasl_frame,
    encode_transfer_head, peek_transfer, plain_response, single_data_body, AmqpError, Attach,
    Begin, Body, Close, DeliveryState, Detach, Disposition, End, Flow, FrameBody, HeaderSection,
    MessageLayout, MessageView, Open, Performative, ProtocolHeader, ProtocolId, ReceiverSettleMode,
    Role, SaslFrame, SenderSettleMode, Source, Symbols, Target, Transfer, AMQP_HEADER, SASL_HEADER,
};
use allegro_wire::Decode;

/// Settings of one AMQP connection.
#[derive(Debug, Clone)]
pub struct AmqpConfig {
    pub container_id: String,
    /// Sent in `open` and `sasl-init` (RabbitMQ maps it to a virtual host when it is `vhost:NAME`).
    pub hostname: String,
    /// The node address of the link (`/queue/NAME` for RabbitMQ).
    pub address: String,
    pub username: Option<String>,
    pub password: Option<String>,
    /// Senders: send pre-settled (at most once). Otherwise each delivery waits for a disposition.
    pub presettled: bool,
    /// Receivers: credit granted per window.
    pub credit: u32,
    /// Senders: unsettled deliveries outstanding at most.
    pub inflight: u32,
    /// Our largest accepted frame.
    pub max_frame: u32,
    /// Our idle time-out, announced in `open` (the peer must send something this often).
    pub idle_timeout_ms: u32,
    /// Message header fields (`durable`, `ttl`, `priority` URL options).
    pub durable: bool,
    pub ttl_ms: Option<u32>,
    pub priority: Option<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Server: waiting for the client's first protocol header (SASL or AMQP).
    SrvAwaitHeader,
    /// Server: mechanisms offered, waiting for `sasl-init`.
    SrvAwaitInit,
    /// Server: SASL done, waiting for the AMQP header.
    SrvAwaitAmqpHeader,
    SendSaslHeader,
    AwaitSaslHeader,
    AwaitMechanisms,
    AwaitOutcome,
    AwaitAmqpHeader,
    AwaitOpen,
    AwaitBegin,
    AwaitAttach,
    /// The peer answered the attach without a terminus: a detach with the reason follows.
    Refused,
    Ready,
    Running,
    /// A receiver that is done took its credit back (§2.6.7) and waits (at most
    /// [`LEAVE_WAIT`]) for the sender's echoed `flow`, behind every transfer it had sent.
    StopCredit,
    /// A receiver detaches next, after its last accepts.
    SendDetach,
    /// A receiver's `detach` is out; the peer's answer (§2.6.5) proves it took every accept
    /// before it (at most [`CLOSE_WAIT`]). `end` and `close` follow.
    AwaitDetach,
    SendClose,
    /// A sender whose schedule is done keeps its connection until the receivers have everything
    /// (or the linger time passes): a broker may drop pre-settled messages it has not yet routed
    /// when their connection closes.
    Lingering,
    /// Our close is sent; waiting for the peer's (§2.4.3), so that the socket is not torn down
    /// under data the peer has yet to read.
    AwaitClose,
    /// A close reporting our error is queued; the error is returned once it is written.
    Failing,
    Finished,
}

#[derive(Debug)]
struct Sender {
    load: SenderLoad,
    layout: MessageLayout,
    /// Link credit left (§2.6.7).
    credit: u32,
    delivery_count: u32,
    /// Deliveries sent and not yet settled by the peer.
    outstanding: u32,
    /// Settlement state by delivery id modulo the window: true while outstanding.
    unsettled: Vec<bool>,
}

#[derive(Debug)]
struct Receiver {
    load: ReceiverLoad,
    /// Deliveries that arrived unsettled and were taken (counted, this run's or stale): each
    /// is accepted.
    taken: u64,
    /// Accepts written so far (the peer has them once it answers a frame written after them).
    accepted: u64,
    /// Accepts the peer is known to have read (see [`unsettled`](Session::unsettled)).
    confirmed: u64,
    /// The last credit grant not yet known to be read: the delivery count up to which the
    /// previous grant allowed transfers, and `accepted` when the grant was written. A transfer
    /// past that count proves the peer read the grant, and so every accept before it.
    grant_mark: Option<(u32, u64)>,
    /// `accepted` when the stopping `flow` or the `detach` was written.
    leave_mark: u64,
    /// When a transfer last arrived, or credit was last granted.
    last_activity: Nanos,
    /// Credit left before the next window is granted.
    credit_left: u32,
    /// The sender's delivery count as we track it (§2.6.7).
    delivery_count: u32,
    /// Contiguous unsettled deliveries to accept in one disposition.
    to_settle: Option<(u32, u32)>,
    /// Reassembly of a delivery split over several frames (rare: only large messages).
    partial: Vec<u8>,
    partial_settled: bool,
    partial_id: u32,
}

#[derive(Debug)]
enum Link {
    Sender(Sender),
    Receiver(Receiver),
}

/// One AMQP 1.0 connection with one link.
#[derive(Debug)]
pub struct AmqpSession {
    cfg: AmqpConfig,
    link: Link,
    state: State,
    tx: TxBuf,
    /// Frame size limits: ours for decoding, the peer's for encoding.
    peer_max_frame: u32,
    /// Send an empty frame when nothing was sent for this long (half the peer's time-out).
    heartbeat: Option<Nanos>,
    last_tx: Nanos,
    last_rx: Nanos,
    /// Session flow state (§2.5.6).
    next_outgoing_id: u32,
    remote_incoming_window: u32,
    next_incoming_id: u32,
    failure: Option<SessionError>,
    /// The accepting end of a peer-to-peer connection (answers instead of asking).
    server: bool,
    /// When the current step of the goodbye began (drain asked, detach or close sent).
    step_since: Nanos,
    /// A lingering sender closes at this instant.
    linger_until: Nanos,
    drain_idle: Nanos,
}

/// The longest a finished sender keeps its connection open waiting for the end of the run.
const LINGER_MAX: Nanos = 30_000_000_000;

/// How long a closing connection waits for the peer's `detach` or `close`.
const CLOSE_WAIT: Nanos = 2_000_000_000;

/// A receiver holding credit that got nothing for this long grants its credit again, which
/// asks the sender for its link state: RabbitMQ answers with how many messages it holds for the
/// receiver (`available`, §2.7.4), which keeps a starved receiver waiting (see `Drain`), and
/// a stalled delivery restarts. Restating the credit is harmless anywhere (§2.6.7).
const CREDIT_REFRESH: Nanos = 250_000_000;

/// How long a leaving receiver waits for the sender's answer to its stop.
const LEAVE_WAIT: Nanos = 1_000_000_000;

const INCOMING_WINDOW: u32 = 1 << 20;
const OUTGOING_WINDOW: u32 = 1 << 20;

impl AmqpSession {
    /// A sender that transfers `plan` once started.
    pub fn sender(cfg: AmqpConfig, plan: SenderPlan) -> Self {
        let header = (cfg.durable || cfg.ttl_ms.is_some() || cfg.priority.is_some()).then(|| {
            HeaderSection {
                durable: cfg.durable,
                priority: cfg.priority.unwrap_or(4),
                ttl: cfg.ttl_ms,
                ..HeaderSection::default()
            }
        });
        let window = if cfg.presettled {
            0
        } else {
            cfg.inflight.max(1) as usize
        };
        let link = Link::Sender(Sender {
            layout: MessageLayout::new(header.as_ref(), None),
            load: SenderLoad::new(plan),
            credit: 0,
            delivery_count: 0,
            outstanding: 0,
            unsettled: vec![false; window],
        });
        Self::new(cfg, link)
    }

    /// A receiver; `drain_idle` ends it after the senders finished. With `run`, it counts only
    /// that run's messages (others are stale, and accepted all the same).
    pub fn receiver(cfg: AmqpConfig, drain_idle: Nanos, run: Option<u32>) -> Self {
        let link = Link::Receiver(Receiver {
            load: ReceiverLoad::new(drain_idle, run),
            taken: 0,
            accepted: 0,
            confirmed: 0,
            grant_mark: None,
            leave_mark: 0,
            last_activity: 0,
            credit_left: 0,
            delivery_count: 0,
            to_settle: None,
            partial: Vec::new(),
            partial_settled: false,
            partial_id: 0,
        });
        Self::new(cfg, link)
    }

    fn new(cfg: AmqpConfig, link: Link) -> Self {
        AmqpSession {
            cfg,
            link,
            state: State::SendSaslHeader,
            tx: TxBuf::default(),
            peer_max_frame: 512,
            heartbeat: None,
            last_tx: 0,
            last_rx: 0,
            next_outgoing_id: 0,
            remote_incoming_window: 0,
            next_incoming_id: 0,
            failure: None,
            server: false,
            step_since: 0,
            linger_until: Nanos::MAX,
            drain_idle: 2_000_000_000,
        }
    }

    /// The accepting end of a connection from an AMQP sender (Allegro's peer-to-peer receiver,
    /// or any client): offers SASL ANONYMOUS and PLAIN and accepts either, answers `open`,
    /// `begin` and `attach`, grants credit and receives like [`receiver`](Self::receiver).
    pub fn server(cfg: AmqpConfig, drain_idle: Nanos, run: Option<u32>) -> Self {
        let mut s = Self::receiver(cfg, drain_idle, run);
        s.server = true;
        s.state = State::SrvAwaitHeader;
        s
    }

    fn role(&self) -> Role {
        match self.link {
            Link::Sender(_) => Role::Sender,
            Link::Receiver(_) => Role::Receiver,
        }
    }

    /// Open, begin and attach, pipelined after the AMQP header (§2.4.1, §2.5.2, §2.6.3).
    fn write_open(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&AMQP_HEADER);
        let mut open = Open::new(&self.cfg.container_id);
        open.hostname = Some(&self.cfg.hostname);
        open.max_frame_size = self.cfg.max_frame;
        open.channel_max = 0;
        open.idle_time_out = Some(self.cfg.idle_timeout_ms);
        encode_frame(0, &Performative::Open(open), &[], out);
        let begin = Begin::new(0, INCOMING_WINDOW, OUTGOING_WINDOW);
        encode_frame(0, &Performative::Begin(begin), &[], out);
        let name = format!("{}-link", self.cfg.container_id);
        let mut attach = Attach::new(&name, 0, self.role());
        match self.link {
            Link::Sender(_) => {
                attach.snd_settle_mode = if self.cfg.presettled {
                    SenderSettleMode::Settled
                } else {
                    SenderSettleMode::Unsettled
                };
                attach.source = Some(Source::new(&self.cfg.container_id));
                attach.target = Some(Target::new(&self.cfg.address));
                attach.initial_delivery_count = Some(0);
            }
            Link::Receiver(_) => {
                attach.rcv_settle_mode = ReceiverSettleMode::First;
                attach.source = Some(Source::new(&self.cfg.address));
                attach.target = Some(Target::new(&self.cfg.container_id));
            }
        }
        encode_frame(0, &Performative::Attach(attach), &[], out);
    }

    /// Grants a new window of credit (§2.7.4), or with `stop` takes the credit back and asks
    /// for the sender's link state (`echo`), which comes after every transfer it had sent.
    fn write_credit(&mut self, stop: bool, now: Nanos, out: &mut Vec<u8>) {
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

    fn write_detach(out: &mut Vec<u8>) {
        let detach = Detach {
            handle: 0,
            closed: true,
            error: None,
        };
        encode_frame(0, &Performative::Detach(detach), &[], out);
    }

    fn write_end_close(out: &mut Vec<u8>) {
        encode_frame(0, &Performative::End(End { error: None }), &[], out);
        encode_frame(0, &Performative::Close(Close { error: None }), &[], out);
    }

    fn write_goodbye(&self, out: &mut Vec<u8>) {
        Self::write_detach(out);
        Self::write_end_close(out);
    }

    /// Queues a close carrying `condition` and remembers `err` for when it is written.
    fn fail(&mut self, out: &mut Vec<u8>, cond: &str, description: &str, err: SessionError) {
        let open_sent = !matches!(
            self.state,
            State::SendSaslHeader
                | State::AwaitSaslHeader
                | State::AwaitMechanisms
                | State::AwaitOutcome
        );
        if open_sent && !matches!(self.state, State::Failing | State::Finished) {
            let error = AmqpError {
                condition: cond,
                description: Some(description),
                info: None,
            };
            encode_frame(
                0,
                &Performative::Close(Close { error: Some(error) }),
                &[],
                out,
            );
        }
        self.state = State::Failing;
        self.failure = Some(err);
    }

    /// Server: the client's protocol header (§2.2, §5.3.1).
    fn on_client_header(&mut self, id: ProtocolId, out: &mut Vec<u8>) -> Result<(), SessionError> {
        match (self.state, id) {
            (State::SrvAwaitHeader, ProtocolId::Sasl) => {
                out.extend_from_slice(&SASL_HEADER);
                let offered = ["ANONYMOUS", "PLAIN"];
                encode_sasl_frame(&SaslFrame::Mechanisms(Symbols::List(&offered)), out);
                self.state = State::SrvAwaitInit;
            }
            (State::SrvAwaitHeader | State::SrvAwaitAmqpHeader, ProtocolId::Amqp) => {
                out.extend_from_slice(&AMQP_HEADER);
                self.state = State::AwaitOpen;
            }
            (_, id) => {
                // §2.2: answer with the header we support, then close the socket.
                out.extend_from_slice(&AMQP_HEADER);
                return Err(SessionError::Protocol(format!(
                    "client asked for protocol {id:?}"
                )));
            }
        }
        Ok(())
    }

    fn on_sasl(&mut self, frame: SaslFrame<'_>, out: &mut Vec<u8>) -> Result<(), SessionError> {
        match (self.state, frame) {
            (State::SrvAwaitInit, SaslFrame::Init { mechanism, .. }) => {
                // Anyone is welcome: this end only measures.
                let code = if matches!(mechanism, "ANONYMOUS" | "PLAIN") {
                    0
                } else {
                    1
                };
                encode_sasl_frame(
                    &SaslFrame::Outcome {
                        code,
                        additional_data: None,
                    },
                    out,
                );
                if code != 0 {
                    return Err(SessionError::Refused(format!(
                        "client chose unsupported SASL mechanism {mechanism}"
                    )));
                }
                self.state = State::SrvAwaitAmqpHeader;
            }
            (State::AwaitMechanisms, SaslFrame::Mechanisms(offered)) => {
                let creds = self
                    .cfg
                    .username
                    .as_deref()
                    .zip(self.cfg.password.as_deref());
                let mut buf = Vec::new();
                let (mechanism, response) = match creds {
                    Some((u, p)) if offered.contains("PLAIN") => {
                        ("PLAIN", Some(plain_response(u, p, &mut buf)))
                    }
                    None if offered.contains("ANONYMOUS") => ("ANONYMOUS", None),
                    _ => {
                        let names: Vec<&str> = offered.iter().filter_map(Result::ok).collect();
                        return Err(SessionError::Refused(format!(
                            "SASL: no usable mechanism among {names:?} ({})",
                            if creds.is_some() {
                                "PLAIN wanted"
                            } else {
                                "ANONYMOUS wanted; give user:password in the URL"
                            }
                        )));
                    }
                };
                let init = SaslFrame::Init {
                    mechanism,
                    initial_response: response,
                    hostname: Some(&self.cfg.hostname),
                };
                encode_sasl_frame(&init, out);
                self.state = State::AwaitOutcome;
            }
            (State::AwaitOutcome, SaslFrame::Outcome { code, .. }) => {
                if code != 0 {
                    let why = match code {
                        1 => "authentication failed",
                        2 => "system error",
                        3 => "permanent system error",
                        4 => "temporary system error",
                        _ => "refused",
                    };
                    return Err(SessionError::Refused(format!("SASL outcome {code}: {why}")));
                }
                self.write_open(out);
                self.state = State::AwaitAmqpHeader;
            }
            (State::AwaitOutcome, SaslFrame::Challenge(_)) => {
                return Err(SessionError::Protocol(
                    "SASL challenge for a mechanism without one".into(),
                ))
            }
            (state, f) => {
                return Err(SessionError::Protocol(format!(
                    "unexpected SASL frame {f:?} in state {state:?}"
                )))
            }
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn on_performative(
        &mut self,
        channel: u16,
        p: Performative<'_>,
        payload: &[u8],
        now: Nanos,
        out: &mut Vec<u8>,
        stats: &mut ShardStats,
    ) -> Result<(), SessionError> {
        match p {
            Performative::Open(o) if self.state == State::AwaitOpen => {
                self.peer_max_frame = o.max_frame_size.max(512);
                self.heartbeat = o
                    .idle_time_out
                    .filter(|&t| t > 0)
                    .map(|t| i64::from(t) * 1_000_000 / 2);
                if self.server {
                    let mut open = Open::new(&self.cfg.container_id);
                    open.max_frame_size = self.cfg.max_frame;
                    open.channel_max = 0;
                    open.idle_time_out = Some(self.cfg.idle_timeout_ms);
                    encode_frame(0, &Performative::Open(open), &[], out);
                }
                self.state = State::AwaitBegin;
            }
            Performative::Begin(b) if self.state == State::AwaitBegin => {
                self.next_incoming_id = b.next_outgoing_id;
                self.remote_incoming_window = b.incoming_window;
                if self.server {
                    let mut begin = Begin::new(0, INCOMING_WINDOW, OUTGOING_WINDOW);
                    begin.remote_channel = Some(channel);
                    encode_frame(0, &Performative::Begin(begin), &[], out);
                }
                self.state = State::AwaitAttach;
            }
            Performative::Attach(a) if self.state == State::AwaitAttach && self.server => {
                if a.role != Role::Sender {
                    return Err(SessionError::Protocol(
                        "the peer-to-peer receiver only accepts sending links".into(),
                    ));
                }
                let mut reply = Attach::new(a.name, 0, Role::Receiver);
                reply.snd_settle_mode = a.snd_settle_mode;
                reply.rcv_settle_mode = ReceiverSettleMode::First;
                reply.source = a.source;
                reply.target = a.target.or(Some(Target::new("allegro")));
                encode_frame(0, &Performative::Attach(reply), &[], out);
                if let Link::Receiver(r) = &mut self.link {
                    r.delivery_count = a.initial_delivery_count.unwrap_or(0);
                }
                self.write_credit(false, now, out);
                self.state = State::Ready;
            }
            Performative::Attach(a) if self.state == State::AwaitAttach => {
                let refused = match self.link {
                    Link::Sender(_) => a.target.is_none(),
                    Link::Receiver(_) => a.source.is_none(),
                };
                if refused {
                    self.state = State::Refused;
                    return Ok(());
                }
                self.state = State::Ready;
                match &mut self.link {
                    Link::Receiver(r) => {
                        r.delivery_count = a.initial_delivery_count.unwrap_or(0);
                        self.write_credit(false, now, out);
                    }
                    // Started before the handshake ended: run at once.
                    Link::Sender(s) if s.load.started() => self.state = State::Running,
                    Link::Sender(_) => {}
                }
            }
            Performative::Flow(f) => {
                if let Link::Receiver(r) = &mut self.link {
                    if f.available.is_some_and(|n| n > 0) && f.handle == Some(0) {
                        r.load.drain.hint(now);
                    }
                    // §2.7.4: the sender's state after our stop; what it had sent is here. No
                    // credit left confirms our accepts; RabbitMQ 3.10 answers with its old
                    // credit and goes on sending: the detach then settles that.
                    if self.state == State::StopCredit && f.handle == Some(0) {
                        if f.link_credit == Some(0) {
                            r.confirmed = r.confirmed.max(r.leave_mark);
                        }
                        self.state = State::SendDetach;
                    }
                }
                if let Some(next_in) = f.next_incoming_id {
                    self.remote_incoming_window = next_in
                        .wrapping_add(f.incoming_window)
                        .wrapping_sub(self.next_outgoing_id);
                } else {
                    self.remote_incoming_window = f.incoming_window;
                }
                if let (Link::Sender(s), Some(credit)) = (&mut self.link, f.link_credit) {
                    // §2.6.7: credit = delivery-count(receiver) + link-credit - delivery-count(sender).
                    let rcv_count = f.delivery_count.unwrap_or(0);
                    s.credit = rcv_count
                        .wrapping_add(credit)
                        .wrapping_sub(s.delivery_count);
                    if s.credit > u32::MAX / 2 {
                        s.credit = 0;
                    }
                }
            }
            Performative::Disposition(d) => {
                let Link::Sender(s) = &mut self.link else {
                    return Ok(());
                };
                if d.role != Role::Receiver || !d.settled || s.unsettled.is_empty() {
                    return Ok(());
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
            Performative::Transfer(t) => {
                self.on_transfer(t.delivery_id, t.settled, t.more, payload, now, out, stats)?
            }
            Performative::Detach(Detach { error, .. })
            | Performative::End(End { error })
            | Performative::Close(Close { error }) => {
                let what = match p {
                    Performative::Detach(_) => "detached the link",
                    Performative::End(_) => "ended the session",
                    _ => "closed the connection",
                };
                if self.state == State::AwaitDetach {
                    match p {
                        // §2.6.5: the answer to our detach; it read every accept before it.
                        Performative::Detach(_) => {
                            if let Link::Receiver(r) = &mut self.link {
                                r.confirmed = r.confirmed.max(r.leave_mark);
                            }
                            Self::write_end_close(out);
                            self.state = State::AwaitClose;
                            self.step_since = now;
                        }
                        Performative::Close(_) => {
                            Self::write_end_close(out);
                            self.state = State::Finished;
                        }
                        _ => {}
                    }
                    return Ok(());
                }
                if self.state == State::AwaitClose {
                    if matches!(p, Performative::Close(_)) {
                        self.state = State::Finished;
                    }
                    return Ok(());
                }
                if self.state == State::Finished || self.state == State::SendClose {
                    return Ok(());
                }
                if (self.server || self.state == State::Lingering) && error.is_none() {
                    if matches!(p, Performative::Close(_)) {
                        // The peer is done: answer and finish (§2.4.3).
                        self.write_goodbye(out);
                        self.state = State::Finished;
                    }
                    return Ok(()); // detach and end come before the close
                }
                let msg = match error {
                    Some(e) => format!(
                        "the peer {what}: {}{}",
                        e.condition,
                        e.description.map(|d| format!(" ({d})")).unwrap_or_default()
                    ),
                    None if self.state == State::Refused => {
                        format!("attach to '{}' refused", self.cfg.address)
                    }
                    None => format!("the peer {what}"),
                };
                return Err(if self.state == State::Refused || error.is_some() {
                    SessionError::Refused(msg)
                } else {
                    SessionError::Protocol(msg)
                });
            }
            other => {
                let name = match other {
                    Performative::Open(_) => "open",
                    Performative::Begin(_) => "begin",
                    Performative::Attach(_) => "attach",
                    _ => "performative",
                };
                return Err(SessionError::Protocol(format!(
                    "unexpected {name} in state {:?}",
                    self.state
                )));
            }
        }
        Ok(())
    }

    /// A transfer on the receiving link (§2.7.5): reassembles split messages, accounts the
    /// message, queues its settlement and replenishes credit.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn on_transfer(
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

    /// Transfers what is due at `now` into the data block; returns its length.
    fn fill_block(&mut self, now: Nanos, stats: &mut ShardStats) -> usize {
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
        block.clear();
        let (mut sent, mut bytes) = (0u64, 0u64);
        let max_frame = *peer_max_frame as usize;
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
}

impl Receiver {
    /// Accepts and settles deliveries `first..=last` (§2.7.6).
    fn write_accept(&mut self, first: u32, last: u32, out: &mut Vec<u8>) {
        let mut d = Disposition::new(Role::Receiver, first);
        d.last = (last != first).then_some(last);
        d.settled = true;
        d.state = Some(DeliveryState::Accepted);
        encode_frame(0, &Performative::Disposition(d), &[], out);
        self.accepted += u64::from(last.wrapping_sub(first)) + 1;
    }

    /// Writes the accepts still queued.
    fn flush_accepts(&mut self, out: &mut Vec<u8>) {
        if let Some((first, last)) = self.to_settle.take() {
            self.write_accept(first, last, out);
        }
    }

    fn on_message(
        &mut self,
        bytes: &[u8],
        now: Nanos,
        stats: &mut ShardStats,
    ) -> Result<(), SessionError> {
        let body = match single_data_body(bytes) {
            Some(b) => b,
            None => match MessageView::decode(bytes)
                .map_err(|e| SessionError::Decode(format!("message: {e}")))?
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

impl Session for AmqpSession {
    fn handle_input(
        &mut self,
        input: &[u8],
        now: Nanos,
        stats: &mut ShardStats,
    ) -> Result<usize, SessionError> {
        let mut out = std::mem::take(&mut self.tx.ctrl);
        let mut used = 0;
        let mut result = Ok(());
        self.last_rx = now;
        while used < input.len() && result.is_ok() && self.state != State::Failing {
            let rest = &input[used..];
            if matches!(
                self.state,
                State::SrvAwaitHeader | State::SrvAwaitAmqpHeader
            ) {
                match ProtocolHeader::decode(rest) {
                    Ok(Decode::Complete(h, n)) => {
                        used += n;
                        result = self.on_client_header(h.id, &mut out);
                    }
                    Ok(Decode::Incomplete(_)) => break,
                    Err(e) => result = Err(SessionError::Decode(format!("protocol header: {e}"))),
                }
                continue;
            }
            if matches!(self.state, State::AwaitSaslHeader | State::AwaitAmqpHeader) {
                match ProtocolHeader::decode(rest) {
                    Ok(Decode::Complete(h, n)) => {
                        used += n;
                        let want = if self.state == State::AwaitSaslHeader {
                            ProtocolId::Sasl
                        } else {
                            ProtocolId::Amqp
                        };
                        if h.id != want {
                            result = Err(SessionError::Refused(format!(
                                "the peer answered with protocol header {h:?}"
                            )));
                        }
                        self.state = if self.state == State::AwaitSaslHeader {
                            State::AwaitMechanisms
                        } else {
                            State::AwaitOpen
                        };
                    }
                    Ok(Decode::Incomplete(_)) => break,
                    Err(e) => result = Err(SessionError::Decode(format!("protocol header: {e}"))),
                }
                continue;
            }
            if self.state == State::Ready && matches!(self.link, Link::Receiver(_)) {
                if let Some(f) = peek_transfer(rest, self.cfg.max_frame) {
                    used += f.frame_len;
                    result = self.on_transfer(
                        f.delivery_id,
                        f.settled,
                        f.more,
                        f.payload,
                        now,
                        &mut out,
                        stats,
                    );
                    continue;
                }
            }
            match decode_frame(rest, self.cfg.max_frame) {
                Ok(Decode::Complete(frame, n)) => {
                    used += n;
                    result = match frame.body {
                        FrameBody::Empty => Ok(()),
                        FrameBody::Sasl(s) => self.on_sasl(s, &mut out),
                        FrameBody::Amqp {
                            performative,
                            payload,
                        } => self.on_performative(
                            frame.channel,
                            performative,
                            payload,
                            now,
                            &mut out,
                            stats,
                        ),
                    };
                    if let Err(SessionError::Decode(e)) = &result {
                        let e = e.clone();
                        self.fail(
                            &mut out,
                            condition::DECODE_ERROR,
                            &e,
                            SessionError::Decode(e.clone()),
                        );
                        result = Ok(());
                    }
                }
                Ok(Decode::Incomplete(_)) => break,
                Err(e) => {
                    let e = e.to_string();
                    self.fail(
                        &mut out,
                        condition::DECODE_ERROR,
                        &e,
                        SessionError::Decode(e.clone()),
                    );
                }
            }
        }
        if let Link::Receiver(r) = &mut self.link {
            r.flush_accepts(&mut out);
        }
        self.tx.ctrl = out;
        result.map(|()| used)
    }

    fn poll_transmit(&mut self, now: Nanos, stats: &mut ShardStats) -> Result<&[u8], SessionError> {
        if !self.tx.is_empty() {
            return Ok(self.tx.pending());
        }
        if self.state == State::Failing {
            return Err(self.failure.take().unwrap_or(SessionError::Closed));
        }
        if self.last_rx > 0
            && now - self.last_rx > 2 * i64::from(self.cfg.idle_timeout_ms) * 1_000_000
        {
            return Err(SessionError::Timeout(
                "any frame from the peer (idle time-out)",
            ));
        }
        let mut out = std::mem::take(&mut self.tx.ctrl);
        let mut data_len = 0;
        match self.state {
            State::SendSaslHeader => {
                out.extend_from_slice(&SASL_HEADER);
                self.last_rx = now;
                self.state = State::AwaitSaslHeader;
            }
            State::Running => {
                data_len = self.fill_block(now, stats);
                if let Link::Sender(s) = &self.link {
                    if s.load.finished(now) && s.outstanding == 0 {
                        self.state = State::Lingering;
                        self.linger_until = now + LINGER_MAX;
                    }
                }
            }
            State::Ready => {
                if let Link::Receiver(r) = &self.link {
                    if !self.server
                        && r.credit_left > 0
                        && now - r.last_activity >= CREDIT_REFRESH
                        && !r.load.done(now)
                    {
                        self.write_credit(false, now, &mut out);
                    }
                }
                if let Link::Receiver(r) = &self.link {
                    if r.load.done(now) {
                        // Allegro's accepting end closes at once: its peer holds no queue.
                        self.state = if self.server {
                            State::SendClose
                        } else if r.credit_left > 0 {
                            self.write_credit(true, now, &mut out);
                            self.step_since = now;
                            State::StopCredit
                        } else {
                            State::SendDetach
                        };
                    }
                }
            }
            _ => {}
        }
        if self.state == State::StopCredit && now - self.step_since > LEAVE_WAIT {
            self.state = State::SendDetach; // no echo: detach all the same
        }
        if self.state == State::SendDetach {
            if let Link::Receiver(r) = &mut self.link {
                r.flush_accepts(&mut out);
                r.leave_mark = r.accepted;
            }
            Self::write_detach(&mut out);
            self.state = State::AwaitDetach;
            self.step_since = now;
        }
        if self.state == State::AwaitDetach && now - self.step_since > CLOSE_WAIT {
            // No answer: the last accepts stay unconfirmed (`unsettled`).
            Self::write_end_close(&mut out);
            self.state = State::AwaitClose;
            self.step_since = now;
        }
        if self.state == State::Lingering && now >= self.linger_until {
            self.state = State::SendClose;
        }
        if self.state == State::SendClose && data_len == 0 {
            self.write_goodbye(&mut out);
            self.state = State::AwaitClose;
            self.step_since = now;
        }
        if self.state == State::AwaitClose && now - self.step_since > CLOSE_WAIT {
            self.state = State::Finished; // the peer never answered: give up waiting
        }
        if !out.is_empty() || data_len > 0 {
            self.last_tx = now;
        } else if let Some(hb) = self.heartbeat {
            if now - self.last_tx >= hb && self.state != State::Finished {
                encode_empty_frame(&mut out);
                self.last_tx = now;
            }
        }
        self.tx.ctrl = out;
        self.tx.send_data(data_len);
        Ok(self.tx.pending())
    }

    fn on_sent(&mut self, n: usize) {
        self.tx.consume(n);
    }

    fn tx_pending(&self) -> bool {
        !self.tx.is_empty()
    }

    fn next_timeout(&self, now: Nanos) -> Option<Nanos> {
        let heartbeat = self.heartbeat.map(|hb| self.last_tx + hb);
        let work = match (&self.link, self.state) {
            (_, State::SendSaslHeader | State::SendClose | State::SendDetach | State::Failing) => {
                Some(now)
            }
            (_, State::AwaitClose | State::AwaitDetach) => Some(self.step_since + CLOSE_WAIT + 1),
            (_, State::StopCredit) => Some(self.step_since + LEAVE_WAIT + 1),
            (_, State::Lingering) => Some(self.linger_until),
            (Link::Sender(s), State::Running) => {
                let blocked = s.credit == 0
                    || self.remote_incoming_window == 0
                    || (!self.cfg.presettled && s.outstanding as usize >= s.unsettled.len());
                match s.load.next_due(now) {
                    Some(_) if blocked => None,
                    Some(t) => Some(t),
                    None if s.outstanding == 0 => Some(now),
                    None => None,
                }
            }
            (Link::Receiver(r), State::Ready) => {
                let refresh =
                    (!self.server && r.credit_left > 0).then_some(r.last_activity + CREDIT_REFRESH);
                super::earliest(r.load.deadline(now), refresh)
            }
            _ => None,
        };
        super::earliest(heartbeat, work)
    }

    fn start(&mut self, t0: Nanos) {
        if let Link::Sender(s) = &mut self.link {
            if s.load.start(t0) && self.state == State::Ready {
                self.state = State::Running;
            }
        }
    }

    fn drain(&mut self, now: Nanos, expected: u64) {
        match &mut self.link {
            Link::Receiver(r) => r.load.drain.set(now, expected),
            // Everything arrived: a lingering sender may go. Otherwise it waits at most as long
            // as the receivers may idle, twice over.
            Link::Sender(_) if expected == 0 => self.linger_until = now,
            Link::Sender(_) => {
                self.linger_until = self
                    .linger_until
                    .min(now + 2 * self.drain_idle + 1_000_000_000);
            }
        }
    }

    fn sending_done(&self) -> bool {
        matches!(
            self.state,
            State::Lingering | State::SendClose | State::AwaitClose | State::Finished
        ) && self.is_sender()
    }

    fn phase(&self) -> Phase {
        match self.state {
            State::Ready => match &self.link {
                Link::Sender(s) if s.load.started() => Phase::Running,
                _ => Phase::Ready,
            },
            State::Running
            | State::StopCredit
            | State::SendDetach
            | State::AwaitDetach
            | State::Lingering
            | State::SendClose
            | State::AwaitClose
            | State::Failing => Phase::Running,
            State::Finished => Phase::Finished,
            _ => Phase::Handshake,
        }
    }

    fn close(&mut self) {
        let client_receiver = matches!(self.link, Link::Receiver(_)) && !self.server;
        self.state = match self.state {
            // A receiver still settles what it took (no drain: the run is being stopped).
            State::Ready | State::StopCredit if client_receiver => State::SendDetach,
            State::Ready | State::Running | State::Lingering | State::StopCredit => {
                State::SendClose
            }
            s @ (State::SendDetach
            | State::AwaitDetach
            | State::SendClose
            | State::AwaitClose
            | State::Failing
            | State::Finished) => s,
            // Before the AMQP `open` there is nothing to close politely.
            _ => State::Finished,
        };
    }

    fn is_sender(&self) -> bool {
        matches!(self.link, Link::Sender(_))
    }

    fn max_frame(&self) -> usize {
        self.cfg.max_frame as usize
    }

    /// Deliveries taken unsettled whose accept the peer is not known to have read: 0 once it
    /// answered our drain or detach. Allegro's accepting end reports none (no broker keeps
    /// its peer's messages).
    fn unsettled(&self) -> u64 {
        match &self.link {
            Link::Receiver(r) if !self.server => r.taken - r.confirmed.min(r.taken),
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    //! A client and Allegro's accepting end joined in memory under a virtual clock.

    use super::*;
    use crate::plan::{MessageSize, TestDuration};
    use crate::session::Session;
    use crate::stats::ShardStats;
    use allegro_wire::amqp10::Frame;

    const RUN: u32 = 0x5eed;

    fn cfg(name: &str, idle_ms: u32) -> AmqpConfig {
        AmqpConfig {
            container_id: name.into(),
            hostname: "localhost".into(),
            address: "q".into(),
            username: None,
            password: None,
            presettled: false,
            credit: 10,
            inflight: 5,
            max_frame: 4096,
            idle_timeout_ms: idle_ms,
            durable: false,
            ttl_ms: None,
            priority: None,
        }
    }

    /// Moves every pending byte both ways until nothing moves; returns the bytes each way.
    fn pump(
        a: &mut AmqpSession,
        b: &mut AmqpSession,
        now: Nanos,
        st: &mut ShardStats,
    ) -> (usize, usize) {
        let (mut ab, mut ba) = (0, 0);
        for _ in 0..1000 {
            let out = a.poll_transmit(now, st).unwrap().to_vec();
            a.on_sent(out.len());
            if !out.is_empty() {
                assert_eq!(b.handle_input(&out, now, st).unwrap(), out.len());
            }
            let back = b.poll_transmit(now, st).unwrap().to_vec();
            b.on_sent(back.len());
            if !back.is_empty() {
                assert_eq!(a.handle_input(&back, now, st).unwrap(), back.len());
            }
            ab += out.len();
            ba += back.len();
            if out.is_empty() && back.is_empty() {
                break;
            }
        }
        (ab, ba)
    }

    fn sender(idle_ms: u32, count: u64, size: u32) -> AmqpSession {
        AmqpSession::sender(
            cfg("client", idle_ms),
            SenderPlan {
                rate: 0,
                duration: TestDuration::Count(count),
                size: MessageSize::Fixed(size),
                run_id: RUN,
                sender_id: 1,
                connection_id: 0,
            },
        )
    }

    #[test]
    fn unsettled_transfers_within_credit_and_window_then_close() {
        let mut st = ShardStats::new(i64::MIN);
        let mut c = sender(60_000, 25, 100);
        let mut s = AmqpSession::server(cfg("server", 60_000), 1_000_000_000, Some(RUN));
        pump(&mut c, &mut s, 1, &mut st);
        assert_eq!((c.phase(), s.phase()), (Phase::Ready, Phase::Ready));
        c.start(10);
        pump(&mut c, &mut s, 10, &mut st);
        // Credit 10 re-granted at half, 5 unsettled at most: all 25 go through settled.
        assert_eq!(st.counters.sent, 25);
        assert_eq!(st.counters.received, 25);
        assert_eq!(st.counters.acked, 25);
        assert_eq!((st.counters.lost, st.counters.duplicated), (0, 0));
        assert!(c.sending_done());
        c.drain(20, 0); // everything arrived: the lingering sender may close
        pump(&mut c, &mut s, 20, &mut st);
        assert_eq!((c.phase(), s.phase()), (Phase::Finished, Phase::Finished));
    }

    #[test]
    fn a_message_larger_than_the_frame_is_split_and_rebuilt() {
        let mut st = ShardStats::new(i64::MIN);
        let mut c = sender(60_000, 3, 10_000); // max frame 4096 on both ends
        let mut s = AmqpSession::server(cfg("server", 60_000), 1_000_000_000, Some(RUN));
        pump(&mut c, &mut s, 1, &mut st);
        c.start(2);
        pump(&mut c, &mut s, 2, &mut st);
        assert_eq!(
            (st.counters.received, st.counters.bytes_received),
            (3, 30_000)
        );
        assert_eq!(st.counters.unstamped, 0);
    }

    #[test]
    fn empty_frames_keep_an_idle_connection_alive_and_silence_times_out() {
        let mut st = ShardStats::new(i64::MIN);
        // The server asks for a frame at least every 100 ms (§2.4.5): the client sends empty
        // frames every 50 ms of silence.
        let mut c = sender(60_000, 1, 10);
        let mut s = AmqpSession::server(cfg("server", 100), 1_000_000_000, Some(RUN));
        pump(&mut c, &mut s, 1, &mut st);
        let ms = 1_000_000;
        assert_eq!(c.next_timeout(2), Some(1 + 50 * ms));
        let out = c.poll_transmit(1 + 50 * ms, &mut st).unwrap().to_vec();
        assert_eq!(out, [0, 0, 0, 8, 2, 0, 0, 0]);
        c.on_sent(out.len());
        assert_eq!(s.handle_input(&out, 1 + 50 * ms, &mut st).unwrap(), 8);
        // The server hears nothing more: after twice its time-out it gives up on the client.
        let e = s
            .poll_transmit(1 + 50 * ms + 201 * ms, &mut st)
            .unwrap_err();
        assert!(matches!(e, SessionError::Timeout(_)), "{e}");
    }

    #[test]
    fn garbage_gets_a_decode_error_close() {
        let mut st = ShardStats::new(i64::MIN);
        let mut c = sender(60_000, 1, 10);
        let mut s = AmqpSession::server(cfg("server", 60_000), 1_000_000_000, Some(RUN));
        pump(&mut c, &mut s, 1, &mut st);
        // A frame header that promises 12 bytes, then a body that is no performative.
        let garbage = [0, 0, 0, 12, 2, 0, 0, 0, 0xff, 0xff, 0xff, 0xff];
        s.handle_input(&garbage, 2, &mut st).unwrap();
        let out = s.poll_transmit(2, &mut st).unwrap().to_vec();
        s.on_sent(out.len());
        let Ok(Decode::Complete(frame, _)) = decode_frame(&out, 1 << 20) else {
            panic!("{out:?}")
        };
        let FrameBody::Amqp {
            performative: Performative::Close(Close { error: Some(e) }),
            ..
        } = frame.body
        else {
            panic!("{frame:?}")
        };
        assert_eq!(e.condition, condition::DECODE_ERROR);
        assert!(matches!(
            s.poll_transmit(3, &mut st),
            Err(SessionError::Decode(_))
        ));
    }

    // --- A client receiver against a scripted broker ----------------------------------------

    /// What one frame the receiver wrote says, in a few words.
    fn describe(frame: &Frame<'_>) -> String {
        match &frame.body {
            FrameBody::Amqp { performative, .. } => match performative {
                Performative::Disposition(d) => format!(
                    "accept {}..={} settled={}",
                    d.first,
                    d.last.unwrap_or(d.first),
                    d.settled
                ),
                Performative::Flow(f) => {
                    format!("flow credit={} echo={}", f.link_credit.unwrap_or(0), f.echo)
                }
                Performative::Detach(_) => "detach".into(),
                Performative::End(_) => "end".into(),
                Performative::Close(_) => "close".into(),
                other => format!("{other:?}"),
            },
            other => format!("{other:?}"),
        }
    }

    /// Takes everything the receiver has to write at `now`, frame by frame.
    fn written(r: &mut AmqpSession, now: Nanos, st: &mut ShardStats) -> Vec<String> {
        let out = crate::session::written_bytes(r, now, st);
        let mut at = 0;
        let mut said = Vec::new();
        while at < out.len() {
            if out[at..].starts_with(b"AMQP") {
                at += 8;
                said.push("header".into());
                continue;
            }
            let Ok(Decode::Complete(f, n)) = decode_frame(&out[at..], 1 << 20) else {
                panic!("undecodable output {:?}", &out[at..]);
            };
            said.push(describe(&f));
            at += n;
        }
        said
    }

    /// A receiver of the test's run, through SASL, open, begin and attach with credit 10.
    fn attached_receiver(st: &mut ShardStats) -> AmqpSession {
        let mut c = cfg("client", 60_000);
        c.credit = 10;
        let mut r = AmqpSession::receiver(c, 1_000_000_000, Some(RUN));
        assert_eq!(written(&mut r, 1, st), ["header"]);
        let mut b = SASL_HEADER.to_vec();
        encode_sasl_frame(
            &SaslFrame::Mechanisms(Symbols::List(&["ANONYMOUS"])),
            &mut b,
        );
        r.handle_input(&b, 1, st).unwrap();
        written(&mut r, 1, st); // sasl-init
        let mut b = Vec::new();
        encode_sasl_frame(
            &SaslFrame::Outcome {
                code: 0,
                additional_data: None,
            },
            &mut b,
        );
        r.handle_input(&b, 1, st).unwrap();
        written(&mut r, 1, st); // AMQP header, open, begin, attach
        let mut b = AMQP_HEADER.to_vec();
        encode_frame(0, &Performative::Open(Open::new("broker")), &[], &mut b);
        let mut begin = Begin::new(0, 1 << 20, 1 << 20);
        begin.remote_channel = Some(0);
        encode_frame(0, &Performative::Begin(begin), &[], &mut b);
        let mut attach = Attach::new("client-link", 0, Role::Sender);
        attach.source = Some(Source::new("q"));
        attach.target = Some(Target::new("client"));
        attach.initial_delivery_count = Some(0);
        encode_frame(0, &Performative::Attach(attach), &[], &mut b);
        r.handle_input(&b, 1, st).unwrap();
        assert_eq!(written(&mut r, 1, st), ["flow credit=10 echo=false"]);
        assert_eq!(r.phase(), Phase::Ready);
        r
    }

    /// Unsettled transfers with delivery ids `ids`, bodies of `run` numbered from `first_seq`.
    fn transfers(ids: std::ops::Range<u32>, run: u32, first_seq: u64) -> Vec<u8> {
        let layout = MessageLayout::new(None, None);
        let mut b = Vec::new();
        for (k, id) in ids.enumerate() {
            let mut body = payload::template(64);
            let ext = payload::Extension {
                run,
                sender: 3,
                connection: 0,
                sequence: first_seq + k as u64,
                intended_ns: 5,
            };
            payload::write(&mut body, 5, &ext);
            encode_transfer_head(
                0,
                0,
                id,
                &id.to_be_bytes(),
                0,
                false,
                false,
                layout.message_len(body.len()),
                &mut b,
            );
            layout.encode(body.len(), &mut b);
            b.extend_from_slice(&body);
        }
        b
    }

    fn frame(p: Performative<'_>) -> Vec<u8> {
        let mut b = Vec::new();
        encode_frame(0, &p, &[], &mut b);
        b
    }

    #[test]
    fn a_leaving_receiver_settles_everything_before_it_detaches() {
        let mut st = ShardStats::new(i64::MIN);
        let mut r = attached_receiver(&mut st);
        r.handle_input(&transfers(0..4, RUN, 0), 2, &mut st)
            .unwrap();
        assert_eq!(written(&mut r, 2, &mut st), ["accept 0..=3 settled=true"]);
        // Everything arrived: the receiver takes back the 6 credits it has left and asks for
        // the sender's state, and says nothing else yet.
        r.drain(3, 0);
        assert_eq!(written(&mut r, 3, &mut st), ["flow credit=0 echo=true"]);
        // Two more deliveries were on the way (stale ones, left by another run), then comes
        // the sender's answer.
        let mut b = transfers(4..6, RUN + 1, 900);
        let mut flow = Flow {
            handle: Some(0),
            delivery_count: Some(10),
            link_credit: Some(0),
            ..Flow::default()
        };
        flow.next_incoming_id = Some(0);
        b.extend_from_slice(&frame(Performative::Flow(flow)));
        r.handle_input(&b, 4, &mut st).unwrap();
        // Accepts first, then the detach alone: no end or close before the peer's detach.
        assert_eq!(
            written(&mut r, 4, &mut st),
            ["accept 4..=5 settled=true", "detach"]
        );
        assert_eq!(written(&mut r, 5, &mut st), Vec::<String>::new());
        assert_eq!(r.phase(), Phase::Running);
        // A transfer the broker sent before it saw our detach: not taken, the broker keeps it.
        r.handle_input(&transfers(6..7, RUN, 4), 6, &mut st)
            .unwrap();
        let detach = Detach {
            handle: 0,
            closed: true,
            error: None,
        };
        r.handle_input(&frame(Performative::Detach(detach)), 6, &mut st)
            .unwrap();
        assert_eq!(written(&mut r, 6, &mut st), ["end", "close"]);
        r.handle_input(
            &frame(Performative::Close(Close { error: None })),
            7,
            &mut st,
        )
        .unwrap();
        assert_eq!(r.phase(), Phase::Finished);
        // This run's four counted, in order; the other run's two apart as stale.
        let c = st.counters;
        assert_eq!((c.received, c.stale, c.lost, c.duplicated), (4, 2, 0, 0));
        assert_eq!(r.unsettled(), 0, "the detach confirmed every accept");
    }

    #[test]
    fn a_receiver_whose_detach_goes_unanswered_reports_what_may_come_back() {
        let mut st = ShardStats::new(i64::MIN);
        let mut r = attached_receiver(&mut st);
        r.handle_input(&transfers(0..3, RUN, 0), 2, &mut st)
            .unwrap();
        written(&mut r, 2, &mut st);
        // The broker never answers the stop: after LEAVE_WAIT the receiver detaches anyway.
        r.drain(3, 0);
        assert_eq!(written(&mut r, 3, &mut st), ["flow credit=0 echo=true"]);
        assert_eq!(r.next_timeout(3), Some(3 + LEAVE_WAIT + 1));
        assert_eq!(written(&mut r, 4 + LEAVE_WAIT, &mut st), ["detach"]);
        // ... nor the detach: end and close after CLOSE_WAIT, and the three accepts are
        // reported as unsettled (the broker may deliver them again).
        let t = 5 + LEAVE_WAIT + CLOSE_WAIT;
        assert_eq!(written(&mut r, t, &mut st), ["end", "close"]);
        assert_eq!(r.unsettled(), 3);
        assert_eq!(st.counters.received, 3);
    }

    #[test]
    fn stopping_a_receiver_accepts_then_detaches_at_once() {
        let mut st = ShardStats::new(i64::MIN);
        let mut r = attached_receiver(&mut st);
        r.handle_input(&transfers(0..2, RUN, 0), 2, &mut st)
            .unwrap();
        r.close();
        assert_eq!(
            written(&mut r, 2, &mut st),
            ["accept 0..=1 settled=true", "detach"]
        );
    }

    #[test]
    fn messages_of_another_run_are_stale_and_touch_no_stream() {
        let mut st = ShardStats::new(i64::MIN);
        let mut r = attached_receiver(&mut st);
        // The previous run's last messages (high sequence numbers), then this run's from 0.
        let mut b = transfers(0..3, RUN - 1, 99_997);
        b.extend_from_slice(&transfers(3..8, RUN, 0));
        r.handle_input(&b, 2, &mut st).unwrap();
        let c = st.counters;
        assert_eq!((c.received, c.stale), (5, 3));
        assert_eq!((c.lost, c.duplicated, c.reordered), (0, 0, 0));
        assert_eq!(c.bytes_received, 5 * 64);
        // Stale deliveries are accepted all the same (they leave the queue), and count against
        // the credit like any other.
        assert_eq!(
            written(&mut r, 2, &mut st),
            ["flow credit=10 echo=false", "accept 0..=7 settled=true"]
        );
        // Latency was recorded for this run's messages only.
        assert_eq!(st.interval.corrected.len(), 5);
    }
}
