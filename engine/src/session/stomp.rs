//! STOMP sender and receiver sessions (STOMP 1.2; 1.1 and 1.0 brokers negotiated down).
//!
//! Both roles CONNECT offering versions 1.0 to 1.2 and heart-beats both ways, and use what the
//! broker's CONNECTED chose (§"Protocol Negotiation", §"Heart-beating"). A sender SENDs its
//! schedule to one destination; with receipts on it asks for a RECEIPT every N messages, and
//! since a broker answers frames in order one receipt confirms every message before it: at
//! most `inflight` messages go unconfirmed. A receiver SUBSCRIBEs with a receipt (it is ready
//! once the broker confirmed the subscription), acknowledges as its ack mode asks and accounts
//! every message. Both leave with a DISCONNECT carrying a receipt (§"DISCONNECT": once it
//! arrives, every earlier frame was received); a receiver first UNSUBSCRIBEs with a receipt
//! and acknowledges what arrived before it.
//!
//! Version differences handled: 1.0 has no heart-beats, no header escaping and no
//! `client-individual`; an ACK names the message by `id` (the MESSAGE's `ack` header) in 1.2,
//! by `message-id` (and `subscription` in 1.1) before.

use super::load::{self, ReceiverLoad, SenderLoad, SenderPlan};
use super::template::FrameTemplate;
use super::txbuf::TxBuf;
use super::LoadMut;
use super::{DecodeError, Idle, Phase, Session, SessionError, TX_BLOCK};
use crate::clock::Nanos;
use crate::payload;
use crate::plan::{MessageSize, StompAck};
use crate::stats::ShardStats;
use allegro_wire::stomp::{self, Command, Frame, Item};
use allegro_wire::Decode;

/// Settings shared by both roles.
#[derive(Debug, Clone)]
pub struct StompConfig {
    /// `/queue/NAME`, `/topic/NAME`...
    pub destination: String,
    /// CONNECT's `host` header.
    pub vhost: String,
    pub username: Option<String>,
    pub password: Option<String>,
    /// Senders: a receipt every this many messages (0: none but the DISCONNECT's).
    pub receipt_every: u32,
    /// Senders: messages not yet confirmed by a receipt, at most (with receipts on).
    pub inflight: u32,
    pub ack: StompAck,
    pub prefetch: u32,
    pub persistent: bool,
    /// Heart-beat interval offered both ways (0: none).
    pub heartbeat_ms: u32,
    /// Largest frame accepted from the broker.
    pub max_frame: usize,
}

/// The protocol version the broker chose (CONNECTED's `version`; absent means 1.0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Version {
    V10,
    V11,
    V12,
}

#[derive(Debug)]
struct Sender {
    load: SenderLoad,
    /// SEND frames without and with a receipt header.
    plain: FrameTemplate,
    receipted: FrameTemplate,
    /// Messages written, and messages a receipt confirmed (receipts name a message count).
    sent: u64,
    confirmed: u64,
}

impl Sender {
    fn unconfirmed(&self) -> u64 {
        self.sent - self.confirmed
    }
}

#[derive(Debug)]
struct Receiver {
    load: ReceiverLoad,
    /// `client` mode: the ack id of the last message not yet acknowledged, and how many.
    last_ack: Vec<u8>,
    unacked: u32,
    /// ACKs written since the last receipt (the DISCONNECT's confirms them).
    acks_unconfirmed: u64,
}

#[derive(Debug)]
enum Role {
    Sender(Sender),
    Receiver(Receiver),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    SendConnect,
    AwaitConnected,
    AwaitSubscribed,
    Ready,
    Running,
    /// A receiver that is done sends UNSUBSCRIBE and acknowledges what arrives before its receipt.
    Unsubscribe,
    AwaitUnsubscribed,
    SendDisconnect,
    AwaitBye,
    Finished,
}

/// How long a session that is leaving waits for each receipt before it goes anyway.
const CLOSE_WAIT: Nanos = 2_000_000_000;

/// A broker that promised heart-beats and sent nothing for this many intervals is gone.
const MISSED_BEATS: Nanos = 3;

const SUB_ID: &str = "0";
const RECEIPT_SUB: &[u8] = b"sub";
const RECEIPT_UNSUB: &[u8] = b"unsub";
const RECEIPT_BYE: &[u8] = b"bye";

/// Digits of a sender's receipt id (a message count, zero-padded so that it is patched in place).
const RECEIPT_DIGITS: usize = 20;

/// One STOMP connection's session.
#[derive(Debug)]
pub struct StompSession {
    cfg: StompConfig,
    role: Role,
    state: State,
    version: Version,
    /// Negotiated heart-beats: how often we must send something, and how often the broker will.
    send_every: Option<Nanos>,
    expect_every: Option<Nanos>,
    idle: Idle,
    last_rx: Nanos,
    /// When the session began waiting for its current leaving receipt.
    leaving_since: Option<Nanos>,
    tx: TxBuf,
}

impl StompSession {
    fn new(cfg: StompConfig, role: Role) -> Self {
        StompSession {
            cfg,
            role,
            state: State::SendConnect,
            version: Version::V12,
            send_every: None,
            expect_every: None,
            idle: Idle::default(),
            last_rx: 0,
            leaving_since: None,
            tx: TxBuf::default(),
        }
    }

    /// A sender that sends `plan` once started.
    pub fn sender(cfg: StompConfig, plan: SenderPlan) -> Self {
        let role = Role::Sender(Sender {
            load: SenderLoad::new(plan),
            plain: FrameTemplate::default(),
            receipted: FrameTemplate::default(),
            sent: 0,
            confirmed: 0,
        });
        Self::new(cfg, role)
    }

    /// A receiver that subscribes to the destination; `drain_idle` ends it after the senders
    /// finished. With `run`, it counts only that run's messages (others are stale).
    pub fn receiver(cfg: StompConfig, drain_idle: Nanos, run: Option<u32>) -> Self {
        let role = Role::Receiver(Receiver {
            load: ReceiverLoad::new(drain_idle, run),
            last_ack: Vec::new(),
            unacked: 0,
            acks_unconfirmed: 0,
        });
        Self::new(cfg, role)
    }

    fn write_connect(&self, out: &mut Vec<u8>) {
        let hb = format!("{0},{0}", self.cfg.heartbeat_ms);
        let mut h = vec![
            ("accept-version", "1.0,1.1,1.2"),
            ("host", self.cfg.vhost.as_str()),
            ("heart-beat", hb.as_str()),
        ];
        if let Some(u) = &self.cfg.username {
            h.push(("login", u));
        }
        if let Some(p) = &self.cfg.password {
            h.push(("passcode", p));
        }
        stomp::encode(Command::Connect, &h, b"", out);
    }

    fn write_subscribe(&self, out: &mut Vec<u8>) {
        let prefetch = self.cfg.prefetch.to_string();
        let ack = match (self.cfg.ack, self.version) {
            // 1.0 knows auto and client only.
            (StompAck::ClientIndividual, Version::V10) => StompAck::Client,
            (a, _) => a,
        };
        self.encode(
            Command::Subscribe,
            &[
                ("id", SUB_ID),
                ("destination", &self.cfg.destination),
                ("ack", ack.as_str()),
                ("receipt", "sub"),
                ("prefetch-count", &prefetch),
                ("activemq.prefetchSize", &prefetch),
            ],
            out,
        );
    }

    /// Appends a body-less frame, its headers escaped where the version escapes them.
    fn encode(&self, command: Command, headers: &[(&str, &str)], out: &mut Vec<u8>) {
        if self.version == Version::V10 {
            out.extend_from_slice(command.as_str().as_bytes());
            out.push(b'\n');
            for (k, v) in headers {
                out.extend_from_slice(k.as_bytes());
                out.push(b':');
                out.extend_from_slice(v.as_bytes());
                out.push(b'\n');
            }
            out.extend_from_slice(b"\n\0");
        } else {
            stomp::encode(command, headers, b"", out);
        }
    }

    /// Appends an ACK for the message whose id (raw, as the broker wrote it) is `id`.
    fn write_ack(version: Version, id: &[u8], out: &mut Vec<u8>) {
        out.extend_from_slice(match version {
            Version::V12 => b"ACK\nid:".as_slice(),
            Version::V11 => b"ACK\nsubscription:0\nmessage-id:",
            Version::V10 => b"ACK\nmessage-id:",
        });
        out.extend_from_slice(id);
        out.extend_from_slice(b"\n\n\0");
    }

    /// Prepares the messages due at `now` in the data block (at most one block's worth, within
    /// the window of unconfirmed messages) and returns the block's length.
    fn fill_block(&mut self, now: Nanos, stats: &mut ShardStats) -> usize {
        let StompSession {
            cfg,
            role,
            tx,
            version,
            ..
        } = self;
        let Role::Sender(s) = role else { return 0 };
        let Some(pacer) = s.load.pacer.as_mut() else {
            return 0;
        };
        let block = &mut tx.data;
        let every = u64::from(cfg.receipt_every);
        let window = u64::from(cfg.inflight.max(1));
        // Fixed size without receipts: copies of one frame laid over the block once; per
        // message only the stamp is written.
        let laid = every == 0 && matches!(s.load.plan.size, MessageSize::Fixed(_));
        let build = |t: &mut FrameTemplate, body: &[u8], receipt: bool| {
            build_send(t, *version, cfg, body, receipt);
        };
        if laid {
            if s.plain.body_len != s.load.body.len() {
                build(&mut s.plain, &s.load.body, false);
            }
            s.plain.lay(block);
            let (flen, body_off) = (s.plain.frame.len(), s.plain.body_off);
            if let Some((first, n, intended)) =
                pacer.take_unbounded(now, s.plain.block_frames as u64)
            {
                for (k, frame) in block.chunks_exact_mut(flen).take(n as usize).enumerate() {
                    payload::stamp(&mut frame[body_off..], now, first + k as u64, intended);
                }
                s.sent += n;
                stats.on_sent(n, n * s.plain.body_len as u64, now);
                s.plain.used(n as usize);
                return n as usize * flen;
            }
        } else {
            block.clear();
        }
        let (mut at, mut sent, mut bytes) = (0usize, 0u64, 0u64);
        loop {
            let room = if laid {
                (sent as usize) < s.plain.block_frames
            } else {
                at < TX_BLOCK
            };
            if !room || (every > 0 && s.sent - s.confirmed >= window) {
                break;
            }
            let Some((seq, intended)) = pacer.take(now) else {
                break;
            };
            let len = s.load.sizes.next();
            s.sent += 1;
            // A receipt every `every` messages, and on the one that fills the window (so
            // that the window always reopens).
            let receipt = every > 0 && (s.sent % every == 0 || s.sent - s.confirmed >= window);
            let t = if receipt {
                &mut s.receipted
            } else {
                &mut s.plain
            };
            if t.body_len != len {
                build(t, &s.load.body[..len], receipt);
            }
            if !laid {
                block.extend_from_slice(&t.frame);
            }
            let frame = &mut block[at..at + t.frame.len()];
            if receipt {
                write_digits(
                    &mut frame[t.patch_off..t.patch_off + RECEIPT_DIGITS],
                    s.sent,
                );
            }
            payload::stamp(&mut frame[t.body_off..], now, seq, intended);
            at += t.frame.len();
            sent += 1;
            bytes += len as u64;
            load::record_send_delay(s.load.plan.rate, stats, now, intended);
        }
        if laid {
            s.plain.used(sent as usize);
        }
        stats.on_sent(sent, bytes, now);
        at
    }

    fn on_frame(
        &mut self,
        f: Frame<'_>,
        now: Nanos,
        out: &mut Vec<u8>,
        stats: &mut ShardStats,
    ) -> Result<(), SessionError> {
        let header = |name: &str| f.headers.get(name).ok().flatten();
        match (self.state, f.command) {
            (_, Command::Error) => {
                let message = header("message").unwrap_or_default();
                let body = String::from_utf8_lossy(f.body);
                let body = body.trim();
                // One line: the broker's text may span several.
                let detail: String = body
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
                    .chars()
                    .take(300)
                    .collect();
                return Err(SessionError::Refused(if detail.is_empty() {
                    format!("STOMP ERROR: {message}")
                } else {
                    format!("STOMP ERROR: {message}: {detail}")
                }));
            }
            (State::AwaitConnected, Command::Connected) => {
                self.version = match header("version").as_deref() {
                    None | Some("1.0") => Version::V10,
                    Some("1.1") => Version::V11,
                    Some("1.2") => Version::V12,
                    Some(v) => {
                        return Err(SessionError::Protocol(format!(
                            "CONNECTED with version {v}, not one offered (1.0, 1.1, 1.2)"
                        )))
                    }
                };
                self.negotiate_heart_beats(header("heart-beat").as_deref())?;
                match &self.role {
                    Role::Sender(s) => {
                        self.state = if s.load.started() {
                            State::Running
                        } else {
                            State::Ready
                        };
                    }
                    Role::Receiver(_) => {
                        self.write_subscribe(out);
                        self.state = State::AwaitSubscribed;
                    }
                }
            }
            (_, Command::Receipt) => {
                let id = f
                    .headers
                    .raw_iter()
                    .flatten()
                    .find(|(n, _)| *n == b"receipt-id")
                    .map(|(_, v)| v)
                    .ok_or_else(|| SessionError::Protocol("RECEIPT without receipt-id".into()))?;
                self.on_receipt(id, stats)?;
            }
            // A broker may deliver what its queue holds before it confirms the subscription.
            (
                State::AwaitSubscribed
                | State::Ready
                | State::Unsubscribe
                | State::AwaitUnsubscribed
                | State::SendDisconnect
                | State::AwaitBye,
                Command::Message,
            ) => {
                let version = self.version;
                let ack = self.cfg.ack;
                let Role::Receiver(r) = &mut self.role else {
                    return Err(SessionError::Protocol(
                        "MESSAGE received on a sender connection".into(),
                    ));
                };
                r.load.on_body(f.body, now, stats);
                if ack == StompAck::Auto {
                    return Ok(());
                }
                let key: &[u8] = if version == Version::V12 {
                    b"ack"
                } else {
                    b"message-id"
                };
                let id = f
                    .headers
                    .raw_iter()
                    .flatten()
                    .find(|(n, _)| *n == key)
                    .map(|(_, v)| v)
                    .ok_or_else(|| {
                        SessionError::Protocol(format!(
                            "MESSAGE without {} header in {} ack mode",
                            String::from_utf8_lossy(key),
                            ack.as_str()
                        ))
                    })?;
                let individual = ack == StompAck::ClientIndividual && version != Version::V10;
                // Past the DISCONNECT no frame may follow: what arrives then stays unacknowledged.
                if matches!(self.state, State::AwaitBye) {
                    r.unacked += 1;
                } else if individual {
                    Self::write_ack(version, id, out);
                    r.acks_unconfirmed += 1;
                } else {
                    // `client`: one cumulative ACK per read, for the last message of it.
                    r.last_ack.clear();
                    r.last_ack.extend_from_slice(id);
                    r.unacked += 1;
                }
            }
            (State::AwaitConnected, c) | (State::AwaitSubscribed, c) => {
                return Err(SessionError::Protocol(format!(
                    "unexpected {} during the handshake",
                    c.as_str()
                )))
            }
            (state, c) => {
                return Err(SessionError::Protocol(format!(
                    "unexpected {} in state {state:?}",
                    c.as_str()
                )))
            }
        }
        Ok(())
    }

    /// `client` mode: acknowledges, with one ACK, every message counted and not yet
    /// acknowledged (§"ACK": in `client` mode an ACK covers every earlier message).
    fn ack_pending(&mut self, out: &mut Vec<u8>) {
        if let Role::Receiver(r) = &mut self.role {
            if r.unacked > 0 && !r.last_ack.is_empty() {
                Self::write_ack(self.version, &r.last_ack, out);
                r.acks_unconfirmed += u64::from(r.unacked);
                r.unacked = 0;
            }
        }
    }

    /// §"Heart-beating": each side sends at the larger of what it offered and what the other
    /// wants, 0 on either side meaning none.
    fn negotiate_heart_beats(&mut self, header: Option<&str>) -> Result<(), SessionError> {
        let ours = i64::from(self.cfg.heartbeat_ms);
        let Some(h) = header.filter(|_| self.version != Version::V10 && ours > 0) else {
            return Ok(());
        };
        let bad = || SessionError::Protocol(format!("CONNECTED heart-beat '{h}' is not 'x,y'"));
        let (sx, sy) = h.split_once(',').ok_or_else(bad)?;
        let sx: i64 = sx.trim().parse().map_err(|_| bad())?;
        let sy: i64 = sy.trim().parse().map_err(|_| bad())?;
        let ms = |other: i64| (other > 0).then(|| other.max(ours) * 1_000_000);
        self.send_every = ms(sy);
        self.expect_every = ms(sx);
        Ok(())
    }

    fn on_receipt(&mut self, id: &[u8], stats: &mut ShardStats) -> Result<(), SessionError> {
        match (self.state, id, &mut self.role) {
            (State::AwaitSubscribed, RECEIPT_SUB, _) => self.state = State::Ready,
            (State::AwaitUnsubscribed, RECEIPT_UNSUB, Role::Receiver(_)) => {
                // What arrived before the subscription ended was acknowledged as it came.
                self.state = State::SendDisconnect;
                self.leaving_since = None;
            }
            (State::AwaitBye, RECEIPT_BYE, role) => {
                match role {
                    Role::Sender(s) if self.cfg.receipt_every > 0 => {
                        stats.counters.acked += s.unconfirmed();
                        s.confirmed = s.sent;
                    }
                    Role::Sender(_) => {}
                    Role::Receiver(r) => r.acks_unconfirmed = 0,
                }
                self.state = State::Finished;
            }
            (_, digits, Role::Sender(s)) => {
                let n = std::str::from_utf8(digits)
                    .ok()
                    .and_then(|d| d.parse::<u64>().ok())
                    .filter(|&n| n > s.confirmed && n <= s.sent)
                    .ok_or_else(|| {
                        SessionError::Protocol(format!(
                            "RECEIPT for '{}', not a receipt in flight",
                            String::from_utf8_lossy(digits)
                        ))
                    })?;
                stats.counters.acked += n - s.confirmed;
                s.confirmed = n;
            }
            (_, other, _) => {
                return Err(SessionError::Protocol(format!(
                    "unexpected RECEIPT for '{}'",
                    String::from_utf8_lossy(other)
                )))
            }
        }
        Ok(())
    }

    /// Moves a leaving session on when its receipt is overdue.
    fn leave_step(&mut self, now: Nanos, stats: &mut ShardStats) {
        let Some(since) = self.leaving_since else {
            return;
        };
        if now - since <= CLOSE_WAIT {
            return;
        }
        self.leaving_since = None;
        match self.state {
            State::AwaitUnsubscribed => self.state = State::SendDisconnect,
            State::AwaitBye => {
                if let Role::Sender(s) = &self.role {
                    if s.unconfirmed() > 0 && self.cfg.receipt_every > 0 {
                        stats.on_error(format!(
                            "no RECEIPT for DISCONNECT within {} ms: {} message(s) sent were never confirmed",
                            CLOSE_WAIT / 1_000_000,
                            s.unconfirmed()
                        ));
                    }
                }
                self.state = State::Finished;
            }
            _ => {}
        }
    }
}

/// Writes `n` as zero-padded decimal over `out`.
fn write_digits(out: &mut [u8], mut n: u64) {
    for d in out.iter_mut().rev() {
        *d = b'0' + (n % 10) as u8;
        n /= 10;
    }
}

/// Encodes a SEND for `body` into `t` (§"SEND": `destination`, `content-length` (bodies hold
/// NULs), `persistent` when asked, a `receipt` when asked (its id is the patch), the body and
/// its NUL).
fn build_send(
    t: &mut FrameTemplate,
    version: Version,
    cfg: &StompConfig,
    body: &[u8],
    receipt: bool,
) {
    let f = t.rebuild(body.len());
    f.extend_from_slice(b"SEND\ndestination:");
    if version == Version::V10 {
        f.extend_from_slice(cfg.destination.as_bytes());
    } else {
        stomp::escape_into(&cfg.destination, f);
    }
    f.extend_from_slice(b"\ncontent-length:");
    f.extend_from_slice(body.len().to_string().as_bytes());
    f.push(b'\n');
    if cfg.persistent {
        f.extend_from_slice(b"persistent:true\n");
    }
    let mut patch_off = 0;
    if receipt {
        f.extend_from_slice(b"receipt:");
        patch_off = f.len();
        f.extend_from_slice(&[b'0'; RECEIPT_DIGITS]);
        f.push(b'\n');
    }
    f.push(b'\n');
    let body_off = f.len();
    f.extend_from_slice(body);
    f.push(0);
    t.body_off = body_off;
    t.patch_off = patch_off;
}

impl Session for StompSession {
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
            match stomp::decode(&input[used..], self.cfg.max_frame) {
                Ok(Decode::Complete(Item::HeartBeat, n)) => used += n,
                Ok(Decode::Complete(Item::Frame(f), n)) => {
                    used += n;
                    result = self.on_frame(f, now, &mut out, stats);
                    if result.is_err() {
                        break;
                    }
                }
                Ok(Decode::Incomplete(_)) => break,
                Err(e) => {
                    result = Err(SessionError::Decode(DecodeError::Stomp(e)));
                    break;
                }
            }
        }
        if result.is_ok() && self.state != State::AwaitBye {
            self.ack_pending(&mut out);
        }
        self.tx.ctrl = out;
        result.map(|()| used)
    }

    fn poll_transmit(&mut self, now: Nanos, stats: &mut ShardStats) -> Result<&[u8], SessionError> {
        if let Some(every) = self.expect_every {
            if now - self.last_rx > MISSED_BEATS * every {
                return Err(SessionError::Timeout("heart-beats from the broker"));
            }
        }
        if !self.tx.is_empty() {
            return Ok(self.tx.pending());
        }
        self.leave_step(now, stats);
        let mut out = std::mem::take(&mut self.tx.ctrl);
        let mut data_len = 0;
        match self.state {
            State::SendConnect => {
                self.write_connect(&mut out);
                self.last_rx = now;
                self.state = State::AwaitConnected;
            }
            State::Running => {
                data_len = self.fill_block(now, stats);
                if let Role::Sender(s) = &self.role {
                    if s.load.finished(now) && data_len == 0 {
                        self.state = State::SendDisconnect;
                    }
                }
            }
            State::Ready => {
                if let Role::Receiver(r) = &self.role {
                    if r.load.done(now) {
                        self.state = State::Unsubscribe;
                    }
                }
            }
            _ => {}
        }
        if self.state == State::Unsubscribe {
            self.encode(
                Command::Unsubscribe,
                &[("id", SUB_ID), ("receipt", "unsub")],
                &mut out,
            );
            self.state = State::AwaitUnsubscribed;
            self.leaving_since = Some(now);
        }
        if self.state == State::SendDisconnect {
            self.encode(Command::Disconnect, &[("receipt", "bye")], &mut out);
            self.state = State::AwaitBye;
            self.leaving_since = Some(now);
        }
        // §"Heart-beating": an EOL when nothing else went out for the negotiated interval.
        let beat_after = self.send_every.filter(|_| self.state != State::Finished);
        if self
            .idle
            .keep_alive_due(now, !out.is_empty() || data_len > 0, beat_after)
        {
            out.push(b'\n');
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
        let beat = self.send_every.map(|e| self.idle.last_tx + e);
        let silent = self
            .expect_every
            .map(|e| self.last_rx + MISSED_BEATS * e + 1);
        let work = match (&self.role, self.state) {
            (_, State::SendConnect | State::Unsubscribe | State::SendDisconnect) => Some(now),
            (Role::Sender(s), State::Running) => {
                let window = u64::from(self.cfg.inflight.max(1));
                match s.load.next_due(now) {
                    Some(_) if self.cfg.receipt_every > 0 && s.unconfirmed() >= window => None,
                    Some(t) => Some(t),
                    None => Some(now),
                }
            }
            (Role::Receiver(r), State::Ready) => r.load.deadline(now),
            (_, State::AwaitUnsubscribed | State::AwaitBye) => {
                self.leaving_since.map(|t| t + CLOSE_WAIT + 1)
            }
            _ => None,
        };
        super::earliest(super::earliest(beat, silent), work)
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
            State::SendConnect | State::AwaitConnected | State::AwaitSubscribed => Phase::Handshake,
            State::Ready => match &self.role {
                Role::Sender(s) if s.load.started() => Phase::Running,
                _ => Phase::Ready,
            },
            State::Running
            | State::Unsubscribe
            | State::AwaitUnsubscribed
            | State::SendDisconnect
            | State::AwaitBye => Phase::Running,
            State::Finished => Phase::Finished,
        }
    }

    fn close(&mut self) {
        self.state = match (self.state, &self.role) {
            (State::SendConnect | State::AwaitConnected | State::AwaitSubscribed, _) => {
                State::Finished
            }
            (State::Ready, Role::Receiver(_)) => State::Unsubscribe,
            (State::Ready | State::Running, Role::Sender(_)) => State::SendDisconnect,
            (s, _) => s,
        };
    }

    fn sending_done(&self) -> bool {
        match &self.role {
            Role::Sender(_) => matches!(self.state, State::AwaitBye | State::Finished),
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
            Role::Sender(s) if self.cfg.receipt_every > 0 => s.unconfirmed(),
            _ => 0,
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
