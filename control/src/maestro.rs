//! Allegro in a Maestro cluster: `allegro ping` (a client command) and `allegro worker` (the
//! worker daemon), over the Maestro broker link.
//!
//! The worker answers PING, ROLE_ASSIGN/ROLE_UNASSIGN (subscribing to its role topic, §2.3) and
//! HALT; every other request is refused with INTERNAL_ERROR naming it, as the Java worker refuses
//! what it cannot do (`maestro-protocol.md` §3.5). A malformed note is logged with its topic and
//! dropped (§3).

use crate::link::{uuid4, Driver, Event, Link};
use crate::note::{self, topics, Body, ErrorCode, Note, PeerInfo, Request, Response, Role};
use allegro_engine::url::Url;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// `host:port` of a Maestro broker URL (`mqtt://host:port`, `tcp://host:port`).
pub fn broker_addr(url: &str) -> Result<String, String> {
    let url = url.replacen("tcp://", "mqtt://", 1);
    let u: Url = url
        .parse()
        .map_err(|e| format!("bad Maestro broker URL '{url}': {e}"))?;
    Ok(u.authority())
}

fn epoch_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

fn send(link: &mut Link, topic: &str, note: &Note) {
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

/// Publishes a PING to every peer and collects the answers for `wait`.
pub fn ping(addr: &str, wait: Duration) -> Result<Vec<Pong>, String> {
    let id = topics::peer_id(&uuid4());
    let mut link = Link::new(id, 30);
    for (t, q) in topics::CLIENT_SUBSCRIPTIONS {
        link.subscribe(t, q);
    }
    let mut driver = Driver::new(addr.to_owned(), link);
    let correlation = uuid4();
    let start = Instant::now();
    let mut asked: Option<Instant> = None;
    let mut pongs = Vec::new();
    while asked.map_or(start.elapsed() < wait.max(Duration::from_secs(5)), |t| {
        t.elapsed() < wait
    }) {
        driver.turn(&mut |event, link| match event {
            Event::Up if asked.is_none() => {
                let us = epoch_us();
                let req = Note::request(
                    correlation.clone(),
                    uuid4(),
                    Request::Ping {
                        sec: us / 1_000_000,
                        usec: us % 1_000_000,
                    },
                );
                send(link, topics::ALL_PEERS, &req);
                asked = Some(Instant::now());
            }
            Event::Up => {}
            Event::Message { topic, payload } => match note::decode(payload) {
                Ok(Note {
                    correlation_id,
                    body:
                        Body::Response {
                            peer,
                            response: Response::Ping { elapsed },
                        },
                    ..
                }) if correlation_id == correlation => pongs.push(Pong {
                    peer,
                    elapsed_ms: elapsed,
                }),
                Ok(_) => {}
                Err(e) => eprintln!("allegro: dropped a malformed note on {topic}: {e}"),
            },
        });
    }
    if asked.is_none() {
        return Err(driver
            .last_error
            .unwrap_or_else(|| format!("no answer from the Maestro broker at {addr}")));
    }
    Ok(pongs)
}

/// Runs the worker daemon until HALT (or the process is stopped).
pub fn worker(addr: &str, name: &str, host: &str, stop: &dyn Fn() -> bool) -> Result<(), String> {
    let id = topics::peer_id(&uuid4());
    let mut link = Link::new(id.clone(), 30);
    for (t, q) in topics::worker_subscriptions(&id) {
        link.subscribe(&t, q);
    }
    let mut peer = PeerInfo {
        id,
        member_name: String::new(),
        group_name: "all".into(),
        role: Role::Other,
        name: name.into(),
        host: host.into(),
    };
    let mut driver = Driver::new(addr.to_owned(), link);
    let mut halted = false;
    let mut reported: Option<String> = None;
    while !halted && !stop() {
        driver.turn(&mut |event, link| match event {
            Event::Up => eprintln!(
                "allegro worker {}: connected to the Maestro broker at {addr}",
                peer.id
            ),
            Event::Message { topic, payload } => {
                let note = match note::decode(payload) {
                    Ok(n) => n,
                    Err(e) => {
                        return eprintln!(
                            "allegro worker: dropped a malformed note on {topic}: {e}"
                        )
                    }
                };
                let Body::Request(req) = &note.body else {
                    return;
                };
                let reply = match req {
                    Request::Ping { sec, usec } => {
                        let elapsed = (epoch_us() - (sec * 1_000_000 + usec)) / 1_000;
                        Response::Ping { elapsed }
                    }
                    Request::RoleAssign { role } => {
                        if peer.role != Role::Other {
                            link.unsubscribe(&topics::by_role(peer.role));
                        }
                        peer.role = *role;
                        link.subscribe(&topics::by_role(*role), topics::ROLE_GROUP_SUBSCRIBE_QOS);
                        Response::Ok
                    }
                    Request::RoleUnassign => {
                        if peer.role != Role::Other {
                            link.unsubscribe(&topics::by_role(peer.role));
                        }
                        peer.role = Role::Other;
                        Response::Ok
                    }
                    Request::Halt => {
                        halted = true;
                        return;
                    }
                    other => Response::InternalError {
                        code: ErrorCode::Unspecified,
                        message: format!(
                            "{} is not supported by the Allegro worker yet",
                            other.command().name()
                        ),
                    },
                };
                send(link, topics::RESPONSES, &note.reply(peer.clone(), reply));
            }
        });
        if driver.last_error != reported {
            if let Some(e) = &driver.last_error {
                eprintln!("allegro worker: {e}; reconnecting");
            }
            reported = driver.last_error.clone();
        }
    }
    // Let the last replies go out.
    let deadline = Instant::now() + Duration::from_millis(200);
    while Instant::now() < deadline && driver.link.is_up() {
        driver.turn(&mut |_, _| {});
    }
    Ok(())
}
