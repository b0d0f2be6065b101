//! MQTT sender and receiver sessions (MQTT 3.1.1 and 5.0, QoS 0, 1 and 2).
//!
//! A sender connects (§3.1), waits for the run's start, then publishes its schedule to one topic,
//! keeping at most `inflight` QoS 1/2 publishes unacknowledged (§4.3.2, §4.3.3), and disconnects
//! (§3.14) once everything is sent and acknowledged. A receiver connects, subscribes to the topic
//! (§3.8), acknowledges what QoS requires and accounts every message: latency from the body's
//! timestamps and loss, duplicates and reordering from Allegro's sequence block. A QoS 2
//! receiver that is done waits (a bounded time) for the PUBREL of every PUBREC it sent and
//! answers it with PUBCOMP before its DISCONNECT, so that each exchange it counted is complete
//! (§4.3.3).

use super::load::{self, ReceiverLoad, SenderLoad, SenderPlan};
use super::template::FrameTemplate;
use super::txbuf::TxBuf;
use super::LoadMut;
use super::{DecodeError, Idle, Phase, Session, SessionError, TX_BLOCK};
use crate::clock::{Nanos, NANOS_PER_SEC};
use crate::payload;
use crate::plan::MessageSize;
use crate::stats::ShardStats;
use allegro_wire::mqtt::{
    self, encode_publish_header, Connect, Decode, Disconnect, Packet, Properties, Protocol, PubAck,
    PubComp, PubRec, PubRel, QoS, Subscribe, SubscribeOptions,
};

/// Settings shared by both roles.
#[derive(Debug, Clone)]
pub struct MqttConfig {
    pub protocol: Protocol,
    pub qos: QoS,
    pub keep_alive_secs: u16,
    pub client_id: String,
    pub username: Option<String>,
    pub password: Option<String>,
    pub topic: String,
    /// QoS 1/2 publishes a sender keeps unacknowledged (1..=65535).
    pub inflight: u16,
    /// Largest packet accepted from the broker.
    pub max_packet: usize,
}

#[derive(Debug)]
struct Sender {
    load: SenderLoad,
    tpl: FrameTemplate,
    /// State per packet id: 0 free, 1 awaiting PUBACK/PUBREC, 2 awaiting PUBCOMP.
    slots: Vec<u8>,
    in_flight: u32,
    next_pkid: u16,
}

#[derive(Debug)]
struct Receiver {
    load: ReceiverLoad,
    /// QoS 2: packet ids whose PUBREC went out and whose PUBREL has not come yet (a bit each).
    awaiting_rel: Vec<u64>,
    pending_rel: u32,
    /// When the receiver started waiting for the last PUBRELs before its DISCONNECT.
    leaving_since: Option<Nanos>,
}

impl Receiver {
    fn rel_bit(pkid: u16) -> (usize, u64) {
        (usize::from(pkid / 64), 1 << (pkid % 64))
    }

    /// A QoS 2 PUBLISH was answered with PUBREC: its PUBREL is due.
    fn await_rel(&mut self, pkid: u16) {
        let (w, m) = Self::rel_bit(pkid);
        if self.awaiting_rel.len() <= w {
            // Grown to the highest packet id the broker uses, not set aside up front.
            self.awaiting_rel.resize(w + 1, 0);
        }
        if let Some(word) = self.awaiting_rel.get_mut(w) {
            if *word & m == 0 {
                *word |= m;
                self.pending_rel += 1;
            }
        }
    }

    fn released(&mut self, pkid: u16) {
        let (w, m) = Self::rel_bit(pkid);
        if let Some(word) = self.awaiting_rel.get_mut(w) {
            if *word & m != 0 {
                *word &= !m;
                self.pending_rel -= 1;
            }
        }
    }
}

#[derive(Debug)]
enum Role {
    Sender(Sender),
    Receiver(Receiver),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    SendConnect,
    AwaitConnAck,
    AwaitSubAck,
    Ready,
    Running,
    /// A QoS 2 receiver that is done waits for the PUBRELs still due (at most [`CLOSE_WAIT`]).
    AwaitRelease,
    SendDisconnect,
    Finished,
}

/// How long a receiver that is done waits for the last PUBRELs before it disconnects anyway.
const CLOSE_WAIT: Nanos = 2_000_000_000;

/// One MQTT connection's session.
#[derive(Debug)]
pub struct MqttSession {
    cfg: MqttConfig,
    role: Role,
    state: State,
    idle: Idle,
    ping_sent: Option<Nanos>,
    tx: TxBuf,
}

const SUBSCRIBE_PKID: u16 = 1;

impl MqttSession {
    /// A sender that publishes `plan` once started.
    pub fn sender(cfg: MqttConfig, plan: SenderPlan) -> Self {
        // Packet ids 1..=inflight, in turn: a slot each (and slot 0, never used).
        let slots = if cfg.qos == QoS::AtMostOnce {
            Vec::new()
        } else {
            vec![0; usize::from(cfg.inflight.max(1)) + 1]
        };
        MqttSession {
            role: Role::Sender(Sender {
                load: SenderLoad::new(plan),
                tpl: FrameTemplate::default(),
                slots,
                in_flight: 0,
                next_pkid: 1,
            }),
            cfg,
            state: State::SendConnect,
            idle: Idle::default(),
            ping_sent: None,
            tx: TxBuf::default(),
        }
    }

    /// A receiver that subscribes to the topic; `drain_idle` ends it after the senders finished.
    /// With `run`, it counts only that run's messages (others are stale).
    pub fn receiver(cfg: MqttConfig, drain_idle: Nanos, run: Option<u32>) -> Self {
        MqttSession {
            role: Role::Receiver(Receiver {
                load: ReceiverLoad::new(drain_idle, run),
                awaiting_rel: Vec::new(),
                pending_rel: 0,
                leaving_since: None,
            }),
            cfg,
            state: State::SendConnect,
            idle: Idle::default(),
            ping_sent: None,
            tx: TxBuf::default(),
        }
    }

    fn keep_alive_ns(&self) -> Option<Nanos> {
        (self.cfg.keep_alive_secs > 0).then(|| i64::from(self.cfg.keep_alive_secs) * NANOS_PER_SEC)
    }

    fn write_connect(&self, out: &mut Vec<u8>) {
        Packet::Connect(Connect {
            protocol: self.cfg.protocol,
            clean_start: true,
            keep_alive: self.cfg.keep_alive_secs,
            client_id: &self.cfg.client_id,
            will: None,
            username: self.cfg.username.as_deref(),
            password: self.cfg.password.as_deref().map(str::as_bytes),
            properties: Properties::EMPTY,
        })
        .encode(self.cfg.protocol, out);
    }

    fn write_subscribe(&self, out: &mut Vec<u8>) {
        let opts = SubscribeOptions {
            qos: self.cfg.qos,
            no_local: false,
            retain_as_published: false,
            retain_handling: 0,
        };
        Subscribe::encode_filters(
            SUBSCRIBE_PKID,
            Properties::EMPTY,
            &[(self.cfg.topic.as_str(), opts)],
            self.cfg.protocol,
            out,
        );
    }

    /// Prepares the messages due at `now` in the data block (at most one block's worth, within
    /// the in-flight window) and returns the block's length.
    fn fill_block(&mut self, now: Nanos, stats: &mut ShardStats) -> usize {
        let MqttSession { cfg, role, tx, .. } = self;
        let (protocol, qos) = (cfg.protocol, cfg.qos);
        let window = u32::from(cfg.inflight.max(1));
        let Role::Sender(s) = role else { return 0 };
        let Some(pacer) = s.load.pacer.as_mut() else {
            return 0;
        };
        let block = &mut tx.data;
        let fixed = matches!(s.load.plan.size, MessageSize::Fixed(_));
        if fixed {
            if s.tpl.body_len != s.load.body.len() {
                build_publish(&mut s.tpl, protocol, qos, &cfg.topic, &s.load.body);
            }
            s.tpl.lay(block);
        } else {
            block.clear();
        }
        let (mut at, mut sent, mut bytes) = (0usize, 0u64, 0u64);
        // The ceiling's path: fixed size, QoS 0, unbounded: a block's worth taken at once, and
        // per message only the stamp.
        if fixed && qos == QoS::AtMostOnce {
            let (flen, body_off) = (s.tpl.frame.len(), s.tpl.body_off);
            if let Some((first, n, intended)) = pacer.take_unbounded(now, s.tpl.block_frames as u64)
            {
                for (k, frame) in block.chunks_exact_mut(flen).take(n as usize).enumerate() {
                    payload::stamp(&mut frame[body_off..], now, first + k as u64, intended);
                }
                stats.on_sent(n, n * s.tpl.body_len as u64, now);
                s.tpl.used(n as usize);
                return n as usize * flen;
            }
        }
        loop {
            let room = if fixed {
                (sent as usize) < s.tpl.block_frames
            } else {
                at < TX_BLOCK
            };
            if !room || (qos != QoS::AtMostOnce && s.in_flight >= window) {
                break;
            }
            let Some((seq, intended)) = pacer.take(now) else {
                break;
            };
            if !fixed {
                let len = s.load.sizes.next();
                if len != s.tpl.body_len {
                    build_publish(&mut s.tpl, protocol, qos, &cfg.topic, &s.load.body[..len]);
                }
                block.extend_from_slice(&s.tpl.frame);
            }
            let frame = &mut block[at..at + s.tpl.frame.len()];
            if qos != QoS::AtMostOnce {
                // A free packet id exists: fewer than `inflight` are in flight.
                let last = (s.slots.len() - 1) as u16;
                let pkid = loop {
                    let id = s.next_pkid;
                    s.next_pkid = if id >= last { 1 } else { id + 1 };
                    if s.slots[id as usize] == 0 {
                        s.slots[id as usize] = 1;
                        s.in_flight += 1;
                        break id;
                    }
                };
                frame[s.tpl.patch_off..s.tpl.patch_off + 2].copy_from_slice(&pkid.to_be_bytes());
            }
            payload::stamp(&mut frame[s.tpl.body_off..], now, seq, intended);
            at += s.tpl.frame.len();
            sent += 1;
            bytes += s.tpl.body_len as u64;
            // Unbounded senders have no schedule to be late against.
            load::record_send_delay(s.load.plan.rate, stats, now, intended);
        }
        if fixed {
            s.tpl.used(sent as usize);
        }
        stats.on_sent(sent, bytes, now);
        at
    }

    fn on_packet(
        &mut self,
        packet: Packet<'_>,
        now: Nanos,
        out: &mut Vec<u8>,
        stats: &mut ShardStats,
    ) -> Result<(), SessionError> {
        let protocol = self.cfg.protocol;
        match (self.state, packet) {
            (State::AwaitConnAck, Packet::ConnAck(ack)) => {
                if ack.code != 0 {
                    return Err(SessionError::Refused(format!(
                        "CONNACK return code {:#04x} ({})",
                        ack.code,
                        connack_reason(protocol, ack.code)
                    )));
                }
                match &self.role {
                    Role::Sender(s) => {
                        // Started before the handshake ended: run at once.
                        self.state = if s.load.started() {
                            State::Running
                        } else {
                            State::Ready
                        };
                    }
                    Role::Receiver(_) => {
                        self.write_subscribe(out);
                        self.idle.last_tx = now;
                        self.state = State::AwaitSubAck;
                    }
                }
            }
            (State::AwaitSubAck, Packet::SubAck(ack)) => {
                if ack.pkid != SUBSCRIBE_PKID {
                    return Err(SessionError::Protocol(format!(
                        "SUBACK for unknown packet id {}",
                        ack.pkid
                    )));
                }
                match ack.codes.first() {
                    Some(&c) if c < 0x80 => self.state = State::Ready,
                    c => {
                        return Err(SessionError::Refused(format!(
                            "subscription to '{}' refused (SUBACK code {:#04x})",
                            self.cfg.topic,
                            c.copied().unwrap_or(0x80)
                        )))
                    }
                }
            }
            (_, Packet::PingResp) => self.ping_sent = None,
            // 5.0 §3.14.2.1: 0x8B, the server is shutting down.
            (_, Packet::Disconnect(d)) if d.reason == 0x8B => {
                return Err(SessionError::Forced(
                    "DISCONNECT reason 0x8b (server shutting down)".into(),
                ))
            }
            (_, Packet::Disconnect(d)) => {
                return Err(SessionError::Refused(format!(
                    "DISCONNECT reason {:#04x}",
                    d.reason
                )))
            }
            (
                State::Ready | State::Running | State::AwaitRelease | State::SendDisconnect,
                Packet::Publish(p),
            ) => {
                let Role::Receiver(r) = &mut self.role else {
                    return Err(SessionError::Protocol(
                        "PUBLISH received on a sender connection".into(),
                    ));
                };
                r.load.on_body(p.payload, now, stats);
                if p.qos == QoS::ExactlyOnce {
                    r.await_rel(p.pkid);
                }
                match p.qos {
                    QoS::AtMostOnce => {}
                    QoS::AtLeastOnce => Packet::PubAck(PubAck {
                        pkid: p.pkid,
                        reason: 0,
                        properties: Properties::EMPTY,
                    })
                    .encode(protocol, out),
                    QoS::ExactlyOnce => Packet::PubRec(PubRec {
                        pkid: p.pkid,
                        reason: 0,
                        properties: Properties::EMPTY,
                    })
                    .encode(protocol, out),
                }
            }
            (_, Packet::PubRel(rel)) => {
                if let Role::Receiver(r) = &mut self.role {
                    r.released(rel.pkid);
                }
                Packet::PubComp(PubComp {
                    pkid: rel.pkid,
                    reason: 0,
                    properties: Properties::EMPTY,
                })
                .encode(protocol, out);
            }
            (_, Packet::PubAck(a)) => self.sender_ack(a.pkid, 1, a.reason, stats)?,
            (_, Packet::PubRec(a)) => {
                let Role::Sender(s) = &mut self.role else {
                    return Err(SessionError::Protocol(
                        "PUBREC received on a receiver connection".into(),
                    ));
                };
                match s.slots.get_mut(a.pkid as usize) {
                    Some(slot) if *slot == 1 && a.reason < 0x80 => {
                        // Received by the broker; release it and wait for PUBCOMP (§4.3.3).
                        *slot = 2;
                        Packet::PubRel(PubRel {
                            pkid: a.pkid,
                            reason: 0,
                            properties: Properties::EMPTY,
                        })
                        .encode(protocol, out);
                    }
                    // A refused QoS 2 publish ends with the PUBREC (MQTT 5.0 §4.3.3).
                    Some(slot) if *slot == 1 => self.sender_ack(a.pkid, 1, a.reason, stats)?,
                    _ => {
                        return Err(SessionError::Protocol(format!(
                            "PUBREC for packet id {} not in flight",
                            a.pkid
                        )))
                    }
                }
            }
            (_, Packet::PubComp(a)) => self.sender_ack(a.pkid, 2, a.reason, stats)?,
            (state, p) => {
                return Err(SessionError::Protocol(format!(
                    "unexpected {} in state {state:?}",
                    packet_name(&p)
                )))
            }
        }
        Ok(())
    }

    /// Frees packet id `pkid`, which must be in slot state `want`.
    fn sender_ack(
        &mut self,
        pkid: u16,
        want: u8,
        reason: u8,
        stats: &mut ShardStats,
    ) -> Result<(), SessionError> {
        let Role::Sender(s) = &mut self.role else {
            return Err(SessionError::Protocol(
                "acknowledgement received on a receiver connection".into(),
            ));
        };
        match s.slots.get_mut(pkid as usize) {
            Some(slot) if *slot == want => {
                *slot = 0;
                s.in_flight -= 1;
                stats.counters.acked += 1;
                if reason >= 0x80 {
                    stats.on_error(format!(
                        "broker rejected publish {pkid} with reason {reason:#04x}"
                    ));
                }
                Ok(())
            }
            _ => Err(SessionError::Protocol(format!(
                "acknowledgement for packet id {pkid} not in flight"
            ))),
        }
    }
}

/// Encodes the PUBLISH for `body` into `t` (§3.3: fixed header, topic name, packet identifier
/// for QoS > 0, properties for 5.0, payload); the packet id is its patch.
fn build_publish(t: &mut FrameTemplate, protocol: Protocol, qos: QoS, topic: &str, body: &[u8]) {
    let f = t.rebuild(body.len());
    let pkid = if qos == QoS::AtMostOnce { 0 } else { 1 };
    encode_publish_header(protocol, qos, false, false, topic, pkid, body.len(), f);
    let body_off = f.len();
    f.extend_from_slice(body);
    t.body_off = body_off;
    t.patch_off = body_off - usize::from(protocol == Protocol::V5) - 2;
}

impl Session for MqttSession {
    fn handle_input(
        &mut self,
        input: &[u8],
        now: Nanos,
        stats: &mut ShardStats,
    ) -> Result<usize, SessionError> {
        let mut out = std::mem::take(&mut self.tx.ctrl);
        let mut used = 0;
        let mut result = Ok(());
        // The fast path for what a subscribed 3.1.1 receiver mostly reads: QoS 0 PUBLISH on
        // its topic (`mqtt::fast`); anything else goes through the full decoder.
        let fast = self.cfg.protocol == Protocol::V311
            && matches!(
                self.state,
                State::Ready | State::Running | State::AwaitRelease | State::SendDisconnect
            );
        while used < input.len() {
            if let (true, Role::Receiver(r)) = (fast, &mut self.role) {
                let topic = self.cfg.topic.as_bytes();
                if let Some((body, n)) =
                    mqtt::fast::peek_publish(&input[used..], topic, self.cfg.max_packet)
                {
                    used += n;
                    r.load.on_body(body, now, stats);
                    continue;
                }
            }
            match mqtt::decode(&input[used..], self.cfg.protocol, self.cfg.max_packet) {
                Ok(Decode::Complete(packet, n)) => {
                    used += n;
                    result = self.on_packet(packet, now, &mut out, stats);
                    if result.is_err() {
                        break;
                    }
                }
                Ok(Decode::Incomplete(_)) => break,
                Err(e) => {
                    result = Err(SessionError::Decode(DecodeError::Mqtt(e)));
                    break;
                }
            }
        }
        self.tx.ctrl = out;
        result.map(|()| used)
    }

    fn poll_transmit(&mut self, now: Nanos, stats: &mut ShardStats) -> Result<&[u8], SessionError> {
        if let (Some(ka), Some(at)) = (self.keep_alive_ns(), self.ping_sent) {
            if now - at > ka {
                return Err(SessionError::Timeout("PINGRESP"));
            }
        }
        if !self.tx.is_empty() {
            return Ok(self.tx.pending());
        }
        let mut out = std::mem::take(&mut self.tx.ctrl);
        let mut data_len = 0;
        match self.state {
            State::SendConnect => {
                self.write_connect(&mut out);
                self.state = State::AwaitConnAck;
            }
            State::Running => {
                data_len = self.fill_block(now, stats);
                if let Role::Sender(s) = &self.role {
                    if s.load.finished(now) && s.in_flight == 0 {
                        self.state = State::SendDisconnect;
                    }
                }
            }
            State::Ready => {
                if let Role::Receiver(r) = &self.role {
                    if r.load.done(now) {
                        self.state = State::AwaitRelease;
                    }
                }
            }
            _ => {}
        }
        if self.state == State::AwaitRelease {
            // §4.3.3: complete every exchange that was counted before saying goodbye.
            if let Role::Receiver(r) = &mut self.role {
                let since = *r.leaving_since.get_or_insert(now);
                if r.pending_rel == 0 || now - since > CLOSE_WAIT {
                    self.state = State::SendDisconnect;
                }
            } else {
                self.state = State::SendDisconnect;
            }
        }
        if self.state == State::SendDisconnect && data_len == 0 {
            Packet::Disconnect(Disconnect {
                reason: 0,
                properties: Properties::EMPTY,
            })
            .encode(self.cfg.protocol, &mut out);
            self.state = State::Finished;
        }
        // §3.1.2.10: keep the connection alive when nothing else was sent.
        let ping_after = self
            .keep_alive_ns()
            .filter(|_| self.ping_sent.is_none() && self.state != State::Finished)
            .map(|ka| ka / 2);
        if self
            .idle
            .keep_alive_due(now, !out.is_empty() || data_len > 0, ping_after)
        {
            Packet::PingReq.encode(self.cfg.protocol, &mut out);
            self.ping_sent = Some(now);
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
        let ping = self.keep_alive_ns().map(|ka| match self.ping_sent {
            Some(at) => at + ka + 1,
            None => self.idle.last_tx + ka / 2,
        });
        let work = match (&self.role, self.state) {
            (_, State::SendConnect | State::SendDisconnect) => Some(now),
            (Role::Sender(s), State::Running) => {
                let window = u32::from(self.cfg.inflight.max(1));
                match s.load.next_due(now) {
                    Some(_) if self.cfg.qos != QoS::AtMostOnce && s.in_flight >= window => None,
                    Some(t) => Some(t),
                    // Schedule done: finish once the last acknowledgement arrives (input wakes us).
                    None if s.in_flight == 0 => Some(now),
                    None => None,
                }
            }
            (Role::Receiver(r), State::Ready) => r.load.deadline(now),
            (Role::Receiver(r), State::AwaitRelease) => match r.leaving_since {
                Some(t) => Some(t + CLOSE_WAIT + 1),
                None => Some(now),
            },
            _ => None,
        };
        super::earliest(ping, work)
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
            State::SendConnect | State::AwaitConnAck | State::AwaitSubAck => Phase::Handshake,
            State::Ready => match &self.role {
                // A sender that was started before its handshake ended runs now.
                Role::Sender(s) if s.load.started() => Phase::Running,
                _ => Phase::Ready,
            },
            State::Running | State::AwaitRelease | State::SendDisconnect => Phase::Running,
            State::Finished => Phase::Finished,
        }
    }

    fn close(&mut self) {
        self.state = match (self.state, &self.role) {
            (State::SendConnect | State::AwaitConnAck, _) => State::Finished,
            (State::Finished, _) => State::Finished,
            (State::Ready | State::AwaitRelease, Role::Receiver(_)) => State::AwaitRelease,
            _ => State::SendDisconnect,
        };
    }

    fn unsettled(&self) -> u64 {
        match &self.role {
            Role::Receiver(r) => u64::from(r.pending_rel),
            Role::Sender(_) => 0,
        }
    }

    fn unconfirmed(&self) -> u64 {
        match &self.role {
            Role::Sender(s) => u64::from(s.in_flight),
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

fn packet_name(p: &Packet<'_>) -> &'static str {
    match p {
        Packet::Connect(_) => "CONNECT",
        Packet::ConnAck(_) => "CONNACK",
        Packet::Publish(_) => "PUBLISH",
        Packet::PubAck(_) => "PUBACK",
        Packet::PubRec(_) => "PUBREC",
        Packet::PubRel(_) => "PUBREL",
        Packet::PubComp(_) => "PUBCOMP",
        Packet::Subscribe(_) => "SUBSCRIBE",
        Packet::SubAck(_) => "SUBACK",
        Packet::Unsubscribe(_) => "UNSUBSCRIBE",
        Packet::UnsubAck(_) => "UNSUBACK",
        Packet::PingReq => "PINGREQ",
        Packet::PingResp => "PINGRESP",
        Packet::Disconnect(_) => "DISCONNECT",
        Packet::Auth(_) => "AUTH",
    }
}

/// Human words for CONNACK codes (3.1.1 §3.2.2.3, 5.0 §3.2.2.2).
fn connack_reason(protocol: Protocol, code: u8) -> &'static str {
    match (protocol, code) {
        (Protocol::V311, 1) => "unacceptable protocol version",
        (Protocol::V311, 2) => "client identifier rejected",
        (Protocol::V311, 3) => "server unavailable",
        (Protocol::V311, 4) => "bad user name or password",
        (Protocol::V311, 5) => "not authorized",
        (Protocol::V5, 0x84) => "unsupported protocol version",
        (Protocol::V5, 0x85) => "client identifier not valid",
        (Protocol::V5, 0x86) => "bad user name or password",
        (Protocol::V5, 0x87) => "not authorized",
        (Protocol::V5, 0x88) => "server unavailable",
        (Protocol::V5, 0x89) => "server busy",
        (Protocol::V5, 0x8A) => "banned",
        _ => "refused",
    }
}

#[cfg(test)]
mod tests {
    //! A receiver against a scripted broker, in memory under a virtual clock.

    use super::*;
    use crate::session::AnySession;
    use allegro_wire::mqtt::{ConnAck, Publish, SubAck};

    const RUN: u32 = 0xabc;
    const MS: Nanos = 1_000_000;

    fn cfg(qos: QoS) -> MqttConfig {
        MqttConfig {
            protocol: Protocol::V311,
            qos,
            keep_alive_secs: 0,
            client_id: "r".into(),
            username: None,
            password: None,
            topic: "t".into(),
            inflight: 10,
            max_packet: 4096,
        }
    }

    fn packet(p: Packet<'_>) -> Vec<u8> {
        let mut b = Vec::new();
        p.encode(Protocol::V311, &mut b);
        b
    }

    /// Everything the session has to write at `now`, as packet names (with packet ids).
    fn written(s: &mut MqttSession, now: Nanos, st: &mut ShardStats) -> Vec<String> {
        let out = crate::session::written_bytes(s, now, st);
        let mut at = 0;
        let mut said = Vec::new();
        while at < out.len() {
            let Ok(Decode::Complete(p, n)) = mqtt::decode(&out[at..], Protocol::V311, 1 << 20)
            else {
                panic!("undecodable {:?}", &out[at..]);
            };
            said.push(match p {
                Packet::PubAck(a) => format!("PUBACK {}", a.pkid),
                Packet::PubRec(a) => format!("PUBREC {}", a.pkid),
                Packet::PubComp(a) => format!("PUBCOMP {}", a.pkid),
                p => packet_name(&p).to_string(),
            });
            at += n;
        }
        said
    }

    fn subscribed(qos: QoS, st: &mut ShardStats) -> MqttSession {
        let mut s = MqttSession::receiver(cfg(qos), 100 * MS, Some(RUN));
        assert_eq!(written(&mut s, 0, st), ["CONNECT"]);
        let ack = packet(Packet::ConnAck(ConnAck {
            session_present: false,
            code: 0,
            properties: Properties::EMPTY,
        }));
        s.handle_input(&ack, 1, st).unwrap();
        assert_eq!(written(&mut s, 1, st), ["SUBSCRIBE"]);
        let codes = [qos as u8];
        let suback = packet(Packet::SubAck(SubAck {
            pkid: SUBSCRIBE_PKID,
            properties: Properties::EMPTY,
            codes: &codes,
        }));
        s.handle_input(&suback, 2, st).unwrap();
        assert_eq!(s.phase(), Phase::Ready);
        s
    }

    fn publish(qos: QoS, pkid: u16, run: u32, seq: u64) -> Vec<u8> {
        let mut body = payload::template(64);
        let ext = payload::Extension {
            run,
            sender: 1,
            connection: 0,
            sequence: seq,
            intended_ns: 3,
        };
        payload::write(&mut body, 3, &ext);
        packet(Packet::Publish(Publish {
            dup: false,
            qos,
            retain: false,
            topic: "t",
            pkid,
            properties: Properties::EMPTY,
            payload: &body,
        }))
    }

    #[test]
    fn a_qos2_receiver_completes_every_exchange_before_it_disconnects() {
        let mut st = ShardStats::new(i64::MIN);
        let mut s = subscribed(QoS::ExactlyOnce, &mut st);
        let mut b = publish(QoS::ExactlyOnce, 7, RUN, 0);
        b.extend_from_slice(&publish(QoS::ExactlyOnce, 8, RUN, 1));
        s.handle_input(&b, 10, &mut st).unwrap();
        assert_eq!(written(&mut s, 10, &mut st), ["PUBREC 7", "PUBREC 8"]);
        // Everything arrived, but two PUBRELs are still due: no DISCONNECT yet.
        s.drain(11, 0);
        assert_eq!(written(&mut s, 11, &mut st), Vec::<String>::new());
        assert_eq!(s.unsettled(), 2);
        let rel = |pkid| {
            packet(Packet::PubRel(PubRel {
                pkid,
                reason: 0,
                properties: Properties::EMPTY,
            }))
        };
        s.handle_input(&rel(7), 12, &mut st).unwrap();
        assert_eq!(written(&mut s, 12, &mut st), ["PUBCOMP 7"]);
        s.handle_input(&rel(8), 13, &mut st).unwrap();
        assert_eq!(written(&mut s, 13, &mut st), ["PUBCOMP 8", "DISCONNECT"]);
        assert_eq!(s.phase(), Phase::Finished);
        assert_eq!(s.unsettled(), 0);
        assert_eq!(st.counters.received, 2);
    }

    #[test]
    fn a_missing_pubrel_holds_the_goodbye_a_bounded_time_and_is_reported() {
        let mut st = ShardStats::new(i64::MIN);
        let mut s = subscribed(QoS::ExactlyOnce, &mut st);
        s.handle_input(&publish(QoS::ExactlyOnce, 3, RUN, 0), 10, &mut st)
            .unwrap();
        written(&mut s, 10, &mut st);
        s.close(); // the run is being stopped
        assert_eq!(written(&mut s, 20, &mut st), Vec::<String>::new());
        assert_eq!(s.next_timeout(21), Some(20 + CLOSE_WAIT + 1));
        assert_eq!(written(&mut s, 21 + CLOSE_WAIT, &mut st), ["DISCONNECT"]);
        assert_eq!(s.unsettled(), 1);
    }

    /// The sequence numbers of the PUBLISHes in `out`.
    fn sequences(out: &[u8]) -> Vec<u64> {
        let mut at = 0;
        let mut seqs = Vec::new();
        while let Ok(Decode::Complete(p, n)) = mqtt::decode(&out[at..], Protocol::V311, 1 << 20) {
            if let Packet::Publish(p) = p {
                seqs.push(payload::read(p.payload).unwrap().ext.unwrap().sequence);
            }
            at += n;
        }
        seqs
    }

    fn connected_sender(st: &mut ShardStats) -> AnySession {
        let plan = SenderPlan {
            rate: 1000,
            duration: crate::plan::TestDuration::Count(10),
            size: crate::plan::MessageSize::Fixed(64),
            run_id: RUN,
            sender_id: 1,
            connection_id: 0,
        };
        let mut s = AnySession::Mqtt(MqttSession::sender(cfg(QoS::AtLeastOnce), plan));
        let connect = crate::session::written_bytes(&mut s, 0, st);
        assert!(!connect.is_empty());
        let ack = packet(Packet::ConnAck(ConnAck {
            session_present: false,
            code: 0,
            properties: Properties::EMPTY,
        }));
        s.handle_input(&ack, 1, st).unwrap();
        s
    }

    #[test]
    fn a_sender_made_again_goes_on_with_its_schedule_and_sequence() {
        let mut st = ShardStats::new(i64::MIN);
        let mut s = connected_sender(&mut st);
        s.start(10 * MS);
        // Three due (10, 11, 12 ms), one acknowledged, then the connection is lost.
        let out = crate::session::written_bytes(&mut s, 12 * MS, &mut st);
        assert_eq!(sequences(&out), [0, 1, 2]);
        let puback = packet(Packet::PubAck(allegro_wire::mqtt::PubAck {
            pkid: 1,
            reason: 0,
            properties: Properties::EMPTY,
        }));
        s.handle_input(&puback, 12 * MS, &mut st).unwrap();
        assert_eq!(s.unconfirmed(), 2);
        // A fresh session takes the load: after its handshake it sends what fell due while
        // the connection was down, and the schedule goes on.
        let mut again = connected_sender(&mut st);
        crate::session::carry_load(&mut s, &mut again);
        again.start(10 * MS); // the run's start, given again: changes nothing
        assert_eq!(again.phase(), Phase::Running);
        assert_eq!(again.unconfirmed(), 0);
        let out = crate::session::written_bytes(&mut again, 15 * MS, &mut st);
        assert_eq!(sequences(&out), [3, 4, 5]);
        let out = crate::session::written_bytes(&mut again, 30 * MS, &mut st);
        assert_eq!(sequences(&out), [6, 7, 8, 9]);
        assert_eq!(st.counters.sent, 10);
    }

    #[test]
    fn a_receiver_made_again_keeps_its_streams_and_counts() {
        let mut st = ShardStats::new(i64::MIN);
        let mut s = AnySession::Mqtt(subscribed(QoS::AtMostOnce, &mut st));
        for i in 0..2 {
            s.handle_input(&publish(QoS::AtMostOnce, 0, RUN, i), 10, &mut st)
                .unwrap();
        }
        s.drain(10, 6);
        let mut again = AnySession::Mqtt(subscribed(QoS::AtMostOnce, &mut st));
        crate::session::carry_load(&mut s, &mut again);
        // Two were published while it was away: a gap in the same stream.
        for i in 4..6 {
            again
                .handle_input(&publish(QoS::AtMostOnce, 0, RUN, i), 20, &mut st)
                .unwrap();
        }
        let c = st.counters;
        assert_eq!((c.received, c.lost), (4, 2));
        // The drain carried over: not done at 4 of 6, done once the idle time passed.
        assert_ne!(again.phase(), Phase::Finished);
        let bye = crate::session::written_bytes(&mut again, 20 + 100 * MS, &mut st);
        assert!(!bye.is_empty());
        assert_eq!(again.phase(), Phase::Finished);
    }

    #[test]
    fn qos1_acks_go_out_ahead_of_the_disconnect() {
        let mut st = ShardStats::new(i64::MIN);
        let mut s = subscribed(QoS::AtLeastOnce, &mut st);
        s.handle_input(&publish(QoS::AtLeastOnce, 5, RUN, 0), 10, &mut st)
            .unwrap();
        s.drain(10, 0);
        assert_eq!(written(&mut s, 10, &mut st), ["PUBACK 5", "DISCONNECT"]);
        assert_eq!(s.unsettled(), 0);
    }

    #[test]
    fn stale_messages_count_apart_and_keep_the_receiver_waiting() {
        let mut st = ShardStats::new(i64::MIN);
        let mut s = subscribed(QoS::AtMostOnce, &mut st);
        s.drain(10, 3); // three of this run's are expected
                        // Another run's leftovers arrive first, with sequence numbers far along.
        for (i, t) in [(500, 20), (501, 90 * MS)] {
            s.handle_input(&publish(QoS::AtMostOnce, 0, RUN + 1, i), t, &mut st)
                .unwrap();
        }
        // They restart the idle clock: not done 100 ms after the drain began.
        assert!(s.next_timeout(100 * MS).unwrap() > 100 * MS);
        for i in 0..3 {
            s.handle_input(&publish(QoS::AtMostOnce, 0, RUN, i), 120 * MS, &mut st)
                .unwrap();
        }
        let c = st.counters;
        assert_eq!((c.received, c.stale, c.lost, c.reordered), (3, 2, 0, 0));
        assert_eq!(written(&mut s, 120 * MS, &mut st), ["DISCONNECT"]);
    }
}
