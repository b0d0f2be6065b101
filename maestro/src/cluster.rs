//! One-shot cluster commands over the Maestro broker: `ping`, `stats` and `halt`
//! (`docs/maestro-protocol.md`), and the request/answer exchange they share.

use crate::link::{uuid4, Broker, Driver, Event, Link};
use crate::note::{self, topics, Body, Note, PeerInfo, Request, Response, Stats};
use crate::Error;
use allegro_engine::tls::{TlsClient, TlsOptions};
use allegro_engine::url::{Scheme, Url};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The Maestro broker of a URL: `mqtt://host:port` (or `tcp://`), or `mqtts://host:port` (or
/// `ssl://`) for MQTT over TLS, verified as `tls` says.
pub fn broker(url: &str, tls: &TlsOptions) -> Result<Broker, Error> {
    let shown = allegro_engine::url::redact(url);
    let u: Url = url
        .parse()
        .map_err(|e| Error::BadBrokerUrl(format!("bad Maestro broker URL '{shown}': {e}")))?;
    if u.scheme != Scheme::Mqtt {
        return Err(Error::BadBrokerUrl(format!(
            "the Maestro broker is spoken to over MQTT: give mqtt://host:port (or mqtts:// for TLS), not '{shown}'"
        )));
    }
    let tls = match u.tls {
        true => Some(TlsClient::new(tls, &u.host).map_err(Error::BadBrokerUrl)?),
        false => None,
    };
    Ok(Broker {
        addr: u.authority(),
        tls,
    })
}

pub(crate) fn epoch_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

pub(crate) fn send(link: &mut Link, topic: &str, note: &Note) {
    let mut buf = Vec::new();
    note::encode(note, &mut buf);
    link.publish(topic, &buf, topics::publish_qos(note));
}

/// One peer's answer to a PING.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pong {
    pub peer: PeerInfo,
    pub elapsed_ms: i64,
}

/// Publishes one request made by `make` (called once connected) to `topic` and collects, for
/// `wait`, every response that carries its correlation id.
pub fn ask(
    broker: &Broker,
    topic: &str,
    make: impl Fn() -> Request,
    wait: Duration,
) -> Result<Vec<(PeerInfo, Response)>, Error> {
    ask_until(broker, topic, make, wait, usize::MAX).map(|(answers, _)| answers)
}

/// [`ask`], returning as soon as `enough` answers arrived; also says how long after the
/// request the last answer came.
pub fn ask_until(
    broker: &Broker,
    topic: &str,
    make: impl Fn() -> Request,
    wait: Duration,
    enough: usize,
) -> Result<(Vec<(PeerInfo, Response)>, Duration), Error> {
    let id = topics::peer_id(&uuid4());
    let mut link = Link::new(id, 30);
    for (t, q) in topics::CLIENT_SUBSCRIPTIONS {
        link.subscribe(t, q);
    }
    let mut driver = Driver::new(broker.clone(), link);
    let correlation = uuid4();
    let start = Instant::now();
    let mut asked: Option<Instant> = None;
    let mut answers = Vec::new();
    let mut last_answer = Duration::ZERO;
    while answers.len() < enough
        && asked.map_or(start.elapsed() < wait.max(Duration::from_secs(5)), |t| {
            t.elapsed() < wait
        })
    {
        // Ask once every subscription is in place, so that no answer is missed.
        if asked.is_none() && driver.link.is_ready() {
            send(
                &mut driver.link,
                topic,
                &Note::request(correlation.clone(), uuid4(), make()),
            );
            asked = Some(Instant::now());
        }
        driver.turn(&mut |event, _| match event {
            Event::Up => {}
            Event::Message { topic, payload } => match note::decode(payload) {
                Ok(Note {
                    correlation_id,
                    body: Body::Response { peer, response },
                    ..
                }) if correlation_id == correlation => {
                    answers.push((peer, response));
                    last_answer = asked.map_or(Duration::ZERO, |t| t.elapsed());
                }
                Ok(_) => {}
                Err(e) => eprintln!("allegro: dropped a malformed note on {topic}: {e}"),
            },
        });
    }
    if asked.is_none() {
        return Err(Error::Broker(driver.last_error.unwrap_or_else(|| {
            format!("no answer from the Maestro broker at {}", broker.addr)
        })));
    }
    // A request nobody answers (HALT) still needs a moment on the wire.
    let linger = Instant::now() + Duration::from_millis(100);
    while Instant::now() < linger {
        driver.turn(&mut |_, _| {});
    }
    Ok((answers, last_answer))
}

/// A PING request stamped with the current time, as the Java client sends it (§6).
pub fn ping_request() -> Request {
    let us = epoch_us();
    Request::Ping {
        sec: us / 1_000_000,
        usec: us % 1_000_000,
    }
}

/// Publishes a PING to every peer and collects the answers for `wait`.
pub fn ping(broker: &Broker, wait: Duration) -> Result<Vec<Pong>, Error> {
    let req = ping_request;
    Ok(ask(broker, topics::ALL_PEERS, req, wait)?
        .into_iter()
        .filter_map(|(peer, r)| match r {
            Response::Ping { elapsed } => Some(Pong {
                peer,
                elapsed_ms: elapsed,
            }),
            _ => None,
        })
        .collect())
}

/// Asks every worker for its STATS (§8.5).
pub fn stats(broker: &Broker, wait: Duration) -> Result<Vec<(PeerInfo, Stats)>, Error> {
    Ok(ask(broker, topics::WORKERS, || Request::Stats, wait)?
        .into_iter()
        .filter_map(|(peer, r)| match r {
            Response::Stats(s) => Some((peer, s)),
            _ => None,
        })
        .collect())
}

/// Tells every peer to HALT (they do not answer, §8.5).
pub fn halt(broker: &Broker) -> Result<(), Error> {
    ask(
        broker,
        topics::ALL_PEERS,
        || Request::Halt,
        Duration::from_millis(200),
    )
    .map(|_| ())
}
