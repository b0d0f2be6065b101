//! The link to the Maestro broker: an MQTT 3.1.1 client (`docs/maestro-protocol.md` §2.1) built on
//! `allegro-wire`'s codec.
//!
//! [`Link`] is sans-IO: it takes bytes and `now`, hands back bytes to write and the messages that
//! arrived, and keeps its subscriptions so that a new connection restores every one of them
//! (start-up, role and group topics alike). [`Driver`] runs one over a non-blocking socket on a
//! mio poll, reconnecting with back-off.

use allegro_engine::clock::{Clock, Nanos, NANOS_PER_SEC};
use allegro_engine::pump::{nonblocking, Transport};
use allegro_engine::tls::{TlsClient, TlsLayer};
use allegro_wire::mqtt::{
    self, encode_publish_header, Connect, Decode, Packet, Properties, Protocol, PubAck, PubComp,
    PubRec, PubRel, QoS, Subscribe, SubscribeOptions, Unsubscribe,
};
use std::io::{Read, Write};
use std::net::ToSocketAddrs;
use std::time::Duration;

/// Why a connection to the Maestro broker ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkError {
    Decode(String),
    Refused(u8),
    Protocol(&'static str),
    Timeout,
}

impl std::fmt::Display for LinkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LinkError::Decode(e) => write!(f, "malformed MQTT from the Maestro broker: {e}"),
            LinkError::Refused(c) => {
                write!(f, "the Maestro broker refused the connection (CONNACK {c})")
            }
            LinkError::Protocol(e) => write!(f, "MQTT protocol error: {e}"),
            LinkError::Timeout => write!(f, "the Maestro broker stopped answering (keep-alive)"),
        }
    }
}

/// What the link reports.
#[derive(Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// Connected and every subscription sent.
    Up,
    /// A message on a subscribed topic.
    Message { topic: &'a str, payload: &'a [u8] },
}

/// One MQTT client session (clean session, §2.1).
#[derive(Debug)]
pub struct Link {
    client_id: String,
    keep_alive_secs: u16,
    subs: Vec<(String, QoS)>,
    up: bool,
    /// SUBSCRIBEs not yet acknowledged.
    pending_subacks: usize,
    out: Vec<u8>,
    next_pkid: u16,
    last_tx: Nanos,
    last_rx: Nanos,
    ping_sent: bool,
}

impl Link {
    pub fn new(client_id: String, keep_alive_secs: u16) -> Self {
        Link {
            client_id,
            keep_alive_secs,
            subs: Vec::new(),
            up: false,
            pending_subacks: 0,
            out: Vec::new(),
            next_pkid: 1,
            last_tx: 0,
            last_rx: 0,
            ping_sent: false,
        }
    }

    /// A new TCP connection: forget the old one's state and send CONNECT.
    pub fn connected(&mut self, now: Nanos) {
        self.up = false;
        self.pending_subacks = 0;
        self.out.clear();
        self.ping_sent = false;
        self.last_rx = now;
        let connect = Connect {
            protocol: Protocol::V311,
            clean_start: true,
            keep_alive: self.keep_alive_secs,
            client_id: &self.client_id,
            will: None,
            username: None,
            password: None,
            properties: Properties::EMPTY,
        };
        Packet::Connect(connect).encode(Protocol::V311, &mut self.out);
        self.last_tx = now;
    }

    pub fn is_up(&self) -> bool {
        self.up
    }

    /// Up, and every subscription acknowledged: what is published now gets its answers.
    pub fn is_ready(&self) -> bool {
        self.up && self.pending_subacks == 0
    }

    fn pkid(&mut self) -> u16 {
        let id = self.next_pkid;
        self.next_pkid = if id == u16::MAX { 1 } else { id + 1 };
        id
    }

    fn write_subscribe(&mut self, topic: &str, qos: QoS) {
        let pkid = self.pkid();
        let opts = SubscribeOptions::new(qos);
        self.pending_subacks += 1;
        Subscribe::encode_filters(
            pkid,
            Properties::EMPTY,
            &[(topic, opts)],
            Protocol::V311,
            &mut self.out,
        );
    }

    /// Subscribes now (when up) and after every reconnection.
    pub fn subscribe(&mut self, topic: &str, qos: QoS) {
        if self.subs.iter().any(|(t, _)| t == topic) {
            return;
        }
        self.subs.push((topic.to_owned(), qos));
        if self.up {
            self.write_subscribe(topic, qos);
        }
    }

    /// Drops a subscription for good.
    pub fn unsubscribe(&mut self, topic: &str) {
        let before = self.subs.len();
        self.subs.retain(|(t, _)| t != topic);
        if self.up && self.subs.len() != before {
            let pkid = self.pkid();
            Unsubscribe::encode_filters(
                pkid,
                Properties::EMPTY,
                &[topic],
                Protocol::V311,
                &mut self.out,
            );
        }
    }

    /// Queues a publish (dropped while down: notes are not replayed across reconnections).
    pub fn publish(&mut self, topic: &str, payload: &[u8], qos: QoS) -> bool {
        if !self.up {
            return false;
        }
        let pkid = if qos == QoS::AtMostOnce {
            0
        } else {
            self.pkid()
        };
        encode_publish_header(
            Protocol::V311,
            qos,
            false,
            false,
            topic,
            pkid,
            payload.len(),
            &mut self.out,
        );
        self.out.extend_from_slice(payload);
        true
    }

    /// Reads whole packets from `input`; returns the bytes used.
    pub fn handle_input(
        &mut self,
        input: &[u8],
        now: Nanos,
        mut on_event: impl FnMut(Event<'_>),
    ) -> Result<usize, LinkError> {
        self.last_rx = now;
        let mut used = 0;
        while used < input.len() {
            let packet = match mqtt::decode(&input[used..], Protocol::V311, 256 << 20) {
                Ok(Decode::Complete(p, n)) => {
                    used += n;
                    p
                }
                Ok(Decode::Incomplete(_)) => break,
                Err(e) => return Err(LinkError::Decode(e.to_string())),
            };
            match packet {
                Packet::ConnAck(a) if a.code != 0 => return Err(LinkError::Refused(a.code)),
                Packet::ConnAck(_) => {
                    self.up = true;
                    for (topic, qos) in self.subs.clone() {
                        self.write_subscribe(&topic, qos);
                    }
                    on_event(Event::Up);
                }
                Packet::Publish(p) => {
                    match p.qos {
                        QoS::AtMostOnce => {}
                        QoS::AtLeastOnce => Packet::PubAck(PubAck::new(p.pkid))
                            .encode(Protocol::V311, &mut self.out),
                        QoS::ExactlyOnce => Packet::PubRec(PubRec::new(p.pkid))
                            .encode(Protocol::V311, &mut self.out),
                    }
                    on_event(Event::Message {
                        topic: p.topic,
                        payload: p.payload,
                    });
                }
                Packet::PubRel(r) => {
                    Packet::PubComp(PubComp::new(r.pkid)).encode(Protocol::V311, &mut self.out)
                }
                Packet::PubRec(r) => {
                    Packet::PubRel(PubRel::new(r.pkid)).encode(Protocol::V311, &mut self.out)
                }
                Packet::PingResp => self.ping_sent = false,
                Packet::SubAck(_) => self.pending_subacks = self.pending_subacks.saturating_sub(1),
                Packet::UnsubAck(_) | Packet::PubAck(_) | Packet::PubComp(_) => {}
                _ => return Err(LinkError::Protocol("unexpected packet from the broker")),
            }
        }
        Ok(used)
    }

    /// Bytes to write (keep-alive pings included); call [`sent`](Self::sent) after writing.
    pub fn poll_transmit(&mut self, now: Nanos) -> Result<&[u8], LinkError> {
        let ka = i64::from(self.keep_alive_secs) * NANOS_PER_SEC;
        if ka > 0 && now - self.last_rx > ka * 3 / 2 {
            return Err(LinkError::Timeout);
        }
        if ka > 0 && self.out.is_empty() && !self.ping_sent && now - self.last_tx >= ka / 2 {
            Packet::PingReq.encode(Protocol::V311, &mut self.out);
            self.ping_sent = true;
        }
        if !self.out.is_empty() {
            self.last_tx = now;
        }
        Ok(&self.out)
    }

    /// Bytes are waiting to be written.
    pub fn has_output(&self) -> bool {
        !self.out.is_empty()
    }

    pub fn sent(&mut self, n: usize) {
        self.out.drain(..n.min(self.out.len()));
    }
}

/// Where the Maestro broker is (`host:port`), and TLS to it for an `mqtts://` URL.
#[derive(Debug, Clone)]
pub struct Broker {
    pub addr: String,
    pub tls: Option<TlsClient>,
}

/// The mio socket as a [`Transport`] for the TLS layer.
struct MioIo<'a>(&'a mut mio::net::TcpStream);

impl Transport for MioIo<'_> {
    fn recv(&mut self, buf: &mut [u8]) -> std::io::Result<Option<usize>> {
        nonblocking(self.0.read(buf))
    }

    fn send(&mut self, buf: &[u8]) -> std::io::Result<Option<usize>> {
        nonblocking(self.0.write(buf))
    }
}

/// A [`Link`] over a non-blocking socket on a mio poll (TLS on it when the broker's URL asks),
/// reconnecting with back-off.
#[derive(Debug)]
pub struct Driver {
    pub link: Link,
    addr: String,
    tls: Option<TlsClient>,
    /// The connection's TLS state, made anew for each connection.
    layer: Option<TlsLayer>,
    poll: Option<mio::Poll>,
    events: mio::Events,
    stream: Option<mio::net::TcpStream>,
    /// The TCP connect completed (CONNECT was queued).
    connected: bool,
    buf: Vec<u8>,
    have: usize,
    clock: Clock,
    backoff: Duration,
    /// The last connection problem, for the caller to report.
    pub last_error: Option<String>,
}

/// How long one [`Driver::turn`] waits for the socket.
const TURN: Duration = Duration::from_millis(20);

impl Driver {
    pub fn new(broker: Broker, link: Link) -> Self {
        Driver {
            link,
            addr: broker.addr,
            tls: broker.tls,
            layer: None,
            poll: mio::Poll::new().ok(),
            events: mio::Events::with_capacity(16),
            stream: None,
            connected: false,
            buf: vec![0; 64 * 1024],
            have: 0,
            clock: Clock::new(),
            backoff: Duration::from_millis(100),
            last_error: None,
        }
    }

    pub fn now(&self) -> Nanos {
        self.clock.now()
    }

    fn fail_connect(&mut self, why: String) {
        self.last_error = Some(why);
        self.stream = None;
        std::thread::sleep(self.backoff);
        self.backoff = (self.backoff * 2).min(Duration::from_secs(5));
    }

    fn connect(&mut self) {
        let Some(poll) = &self.poll else {
            return self.fail_connect("cannot create an epoll instance".into());
        };
        let addr = match self.addr.to_socket_addrs().map(|mut a| a.next()) {
            Ok(Some(a)) => a,
            Ok(None) | Err(_) => {
                return self
                    .fail_connect(format!("cannot resolve the Maestro broker {}", self.addr))
            }
        };
        match mio::net::TcpStream::connect(addr) {
            Ok(mut s) => {
                if let Err(e) = poll.registry().register(
                    &mut s,
                    mio::Token(0),
                    mio::Interest::READABLE | mio::Interest::WRITABLE,
                ) {
                    return self
                        .fail_connect(format!("cannot watch the Maestro broker connection: {e}"));
                }
                self.stream = Some(s);
                self.layer = self.tls.clone().map(TlsLayer::new);
                self.connected = false;
                self.have = 0;
            }
            Err(e) => self.fail_connect(format!(
                "cannot connect to the Maestro broker at {}: {e}",
                self.addr
            )),
        }
    }

    fn drop_connection(&mut self, why: String) {
        self.last_error = Some(why);
        if let (Some(poll), Some(mut s)) = (&self.poll, self.stream.take()) {
            let _ = poll.registry().deregister(&mut s);
        }
        self.connected = false;
    }

    /// Waits up to 20 ms for the socket, moves what it can both ways and reports events.
    pub fn turn(&mut self, on_event: &mut dyn FnMut(Event<'_>, &mut Link)) {
        if self.stream.is_none() {
            self.connect();
            if self.stream.is_none() {
                return;
            }
        }
        // Replies queued by the last events go out now, not after a quiet wait.
        let wait = if self.connected && self.link.has_output() {
            Duration::ZERO
        } else {
            TURN
        };
        if let Some(poll) = &mut self.poll {
            if let Err(e) = poll.poll(&mut self.events, Some(wait)) {
                if e.kind() != std::io::ErrorKind::Interrupted {
                    return self.drop_connection(format!("epoll_wait failed: {e}"));
                }
            }
        }
        let Some(stream) = self.stream.as_mut() else {
            return;
        };
        if !self.connected {
            match stream.take_error() {
                Ok(Some(e)) | Err(e) => {
                    let why = format!("cannot connect to the Maestro broker at {}: {e}", self.addr);
                    self.drop_connection(why);
                    std::thread::sleep(self.backoff);
                    self.backoff = (self.backoff * 2).min(Duration::from_secs(5));
                    return;
                }
                Ok(None) => {}
            }
            if stream.peer_addr().is_err() {
                return; // still connecting
            }
            let _ = stream.set_nodelay(true);
            self.connected = true;
            self.backoff = Duration::from_millis(100);
            self.link.connected(self.clock.now());
        }
        // Write what the link has (a non-blocking write may take part of it).
        let out = match self.link.poll_transmit(self.clock.now()) {
            Ok(o) => o.to_vec(),
            Err(e) => return self.drop_connection(e.to_string()),
        };
        let sent = match (&mut self.layer, out.is_empty()) {
            (Some(tls), true) => tls.flush(&mut MioIo(stream)).map(|()| None),
            (Some(tls), false) => tls.send(&mut MioIo(stream), &out),
            (None, true) => Ok(None),
            (None, false) => nonblocking(stream.write(&out)),
        };
        match sent {
            Ok(Some(n)) => self.link.sent(n),
            Ok(None) => {}
            Err(e) => return self.drop_connection(format!("lost the Maestro broker: {e}")),
        }
        // Read until the socket is empty (the poll is edge-triggered).
        let mut events: Vec<(String, Vec<u8>)> = Vec::new();
        let mut up = false;
        loop {
            if self.have == self.buf.len() {
                self.buf.resize(self.buf.len() * 2, 0);
            }
            let Some(stream) = self.stream.as_mut() else {
                return;
            };
            let got = match &mut self.layer {
                Some(tls) => tls.recv(&mut MioIo(stream), false, &mut self.buf[self.have..]),
                None => nonblocking(stream.read(&mut self.buf[self.have..])),
            };
            match got {
                Ok(Some(0)) => {
                    self.drop_connection("the Maestro broker closed the connection".into());
                    break;
                }
                Ok(Some(n)) => {
                    self.have += n;
                    let now = self.clock.now();
                    let r = self
                        .link
                        .handle_input(&self.buf[..self.have], now, |e| match e {
                            Event::Up => up = true,
                            Event::Message { topic, payload } => {
                                events.push((topic.to_owned(), payload.to_vec()))
                            }
                        });
                    match r {
                        Ok(used) => {
                            self.buf.copy_within(used..self.have, 0);
                            self.have -= used;
                        }
                        Err(e) => {
                            self.drop_connection(e.to_string());
                            break;
                        }
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    self.drop_connection(format!("lost the Maestro broker: {e}"));
                    break;
                }
            }
        }
        if up {
            on_event(Event::Up, &mut self.link);
        }
        for (topic, payload) in &events {
            on_event(Event::Message { topic, payload }, &mut self.link);
        }
    }
}

/// A random UUID (version 4) from the kernel's generator.
pub fn uuid4() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connack() -> Vec<u8> {
        vec![0x20, 2, 0, 0]
    }

    #[test]
    fn subscriptions_survive_a_reconnection() {
        let mut l = Link::new("maestro.exchange.x".into(), 30);
        l.subscribe("/mpt/peer", QoS::AtLeastOnce);
        l.connected(0);
        let connect = l.poll_transmit(0).unwrap().to_vec();
        assert_eq!(connect[0], 0x10);
        l.sent(connect.len());
        let mut ups = 0;
        l.handle_input(&connack(), 1, |e| ups += usize::from(e == Event::Up))
            .unwrap();
        l.subscribe("/mpt/peer/by-role/sender", QoS::AtMostOnce);
        let subs = l.poll_transmit(1).unwrap().to_vec();
        assert_eq!(subs.iter().filter(|&&b| b == 0x82).count(), 2, "{subs:?}");
        l.sent(subs.len());
        // New connection: CONNECT, and after CONNACK both subscriptions again.
        l.connected(2);
        let c = l.poll_transmit(2).unwrap().to_vec();
        l.sent(c.len());
        l.handle_input(&connack(), 3, |e| ups += usize::from(e == Event::Up))
            .unwrap();
        let again = l.poll_transmit(3).unwrap().to_vec();
        let text = String::from_utf8_lossy(&again);
        assert!(
            text.contains("/mpt/peer") && text.contains("by-role/sender"),
            "{text}"
        );
        assert_eq!(ups, 2);
    }

    #[test]
    fn acknowledges_and_reports_messages_and_refusals() {
        let mut l = Link::new("c".into(), 30);
        l.connected(0);
        let c = l.poll_transmit(0).unwrap().len();
        l.sent(c);
        l.handle_input(&connack(), 0, |_| {}).unwrap();
        // QoS 1 publish on "t" with packet id 7 and payload "hi".
        let publish = [0x32, 7, 0, 1, b't', 0, 7, b'h', b'i'];
        let mut got = Vec::new();
        l.handle_input(&publish, 1, |e| {
            if let Event::Message { topic, payload } = e {
                got.push((topic.to_owned(), payload.to_vec()));
            }
        })
        .unwrap();
        assert_eq!(got, vec![("t".to_owned(), b"hi".to_vec())]);
        assert_eq!(l.poll_transmit(1).unwrap(), [0x40, 2, 0, 7]);
        let mut r = Link::new("c".into(), 30);
        r.connected(0);
        assert_eq!(
            r.handle_input(&[0x20, 2, 0, 5], 0, |_| {}),
            Err(LinkError::Refused(5))
        );
        assert!(r.handle_input(&[0xf0, 0], 0, |_| {}).is_err());
    }

    #[test]
    fn keep_alive() {
        let mut l = Link::new("c".into(), 10);
        l.connected(0);
        let c = l.poll_transmit(0).unwrap().len();
        l.sent(c);
        let s = NANOS_PER_SEC;
        assert_eq!(l.poll_transmit(5 * s).unwrap(), [0xc0, 0]);
        l.sent(2);
        assert_eq!(l.poll_transmit(16 * s), Err(LinkError::Timeout));
        assert_eq!(uuid4().len(), 36);
    }
}
