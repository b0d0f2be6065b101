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
use super::LoadMut;
use super::{DecodeError, Idle, Phase, Session, SessionError, TX_BLOCK};
use crate::clock::Nanos;
use crate::payload;
use receiver::Receiver;
use sender::Sender;

use crate::stats::ShardStats;
use allegro_wire::amqp10::{
    condition, decode_frame, encode_empty_frame, encode_frame, encode_sasl_frame,
    encode_transfer_head, peek_transfer, plain_response, single_data_body, AmqpError, Attach,
    Begin, Body, Close, DeliveryState, Detach, Disposition, End, Flow, FrameBody, HeaderSection,
    MessageLayout, MessageView, Open, Performative, ProtocolHeader, ProtocolId, ReceiverSettleMode,
    Role, SaslFrame, SenderSettleMode, Source, Symbols, Target, Transfer, AMQP_HEADER, SASL_HEADER,
};

mod handshake;
mod receiver;
mod sender;
#[cfg(test)]
mod tests;

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
    idle: Idle,
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
            tpl: Default::default(),
            slots: Default::default(),
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
            idle: Idle::default(),
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

    /// A `flow` (§2.7.4): the peer's session window (§2.5.6), then what it says of the link.
    fn on_flow(&mut self, f: &Flow<'_>, now: Nanos) {
        if let Some(next_in) = f.next_incoming_id {
            self.remote_incoming_window = next_in
                .wrapping_add(f.incoming_window)
                .wrapping_sub(self.next_outgoing_id);
        } else {
            self.remote_incoming_window = f.incoming_window;
        }
        match self.link {
            Link::Sender(_) => self.on_sender_flow(f),
            Link::Receiver(_) => self.on_receiver_flow(f, now),
        }
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
            Performative::Open(_) | Performative::Begin(_) | Performative::Attach(_)
                if self.in_handshake() =>
            {
                self.on_handshake(channel, p, now, out)?
            }
            Performative::Flow(f) => self.on_flow(&f, now),
            Performative::Disposition(d) => self.on_disposition(&d, stats),
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
                // §2.8.15: amqp:connection:forced, an operator or a shutdown; RabbitMQ 3.x
                // ends its sessions on shutdown with amqp:internal-error "shutdown".
                if error.is_some_and(|e| {
                    e.condition == "amqp:connection:forced" || e.description == Some("shutdown")
                }) {
                    return Err(SessionError::Forced(msg));
                }
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
                State::SrvAwaitHeader
                    | State::SrvAwaitAmqpHeader
                    | State::AwaitSaslHeader
                    | State::AwaitAmqpHeader
            ) {
                match ProtocolHeader::decode(rest) {
                    Ok(Decode::Complete(h, n)) => {
                        used += n;
                        result = self.on_header(h, &mut out);
                    }
                    Ok(Decode::Incomplete(_)) => break,
                    Err(error) => {
                        result = Err(SessionError::Decode(DecodeError::Amqp {
                            what: "protocol header",
                            error,
                        }))
                    }
                }
                continue;
            }
            if self.state == State::Ready && matches!(self.link, Link::Receiver(_)) {
                let n = self.take_settled_run(rest, now, &mut out, stats);
                if n > 0 {
                    used += n;
                    continue;
                }
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
                    if let Err(SessionError::Decode(e)) = result {
                        self.fail(
                            &mut out,
                            condition::DECODE_ERROR,
                            &e.to_string(),
                            SessionError::Decode(e),
                        );
                        result = Ok(());
                    }
                }
                Ok(Decode::Incomplete(_)) => break,
                Err(error) => {
                    let e = DecodeError::Amqp {
                        what: "frame",
                        error,
                    };
                    self.fail(
                        &mut out,
                        condition::DECODE_ERROR,
                        &e.to_string(),
                        SessionError::Decode(e),
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
        // §2.4.5: an empty frame when nothing was sent for half the peer's idle time-out.
        let heartbeat = self.heartbeat.filter(|_| self.state != State::Finished);
        if self
            .idle
            .keep_alive_due(now, !out.is_empty() || data_len > 0, heartbeat)
        {
            encode_empty_frame(&mut out);
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
        let heartbeat = self.heartbeat.map(|hb| self.idle.last_tx + hb);
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
            s.load.start(t0);
            // Also a session that took a started load over (a connection made again).
            if self.state == State::Ready {
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

    /// Deliveries taken unsettled whose accept the peer is not known to have read: 0 once it
    /// answered our drain or detach. Allegro's accepting end reports none (no broker keeps
    /// its peer's messages).
    fn unsettled(&self) -> u64 {
        match &self.link {
            Link::Receiver(r) if !self.server => r.taken - r.confirmed.min(r.taken),
            _ => 0,
        }
    }

    fn unconfirmed(&self) -> u64 {
        match &self.link {
            Link::Sender(s) => u64::from(s.outstanding),
            Link::Receiver(_) => 0,
        }
    }

    fn load_mut(&mut self) -> LoadMut<'_> {
        match &mut self.link {
            Link::Sender(s) => LoadMut::Sender(&mut s.load),
            Link::Receiver(r) => LoadMut::Receiver(&mut r.load),
        }
    }
}
