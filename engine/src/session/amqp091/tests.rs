//! AMQP 0-9-1 sessions against a scripted broker, in memory under a virtual clock.

use super::*;
use crate::plan::TestDuration;

const RUN: u32 = 0x0091;
const MS: Nanos = 1_000_000;
const SEC: Nanos = 1_000 * MS;

fn cfg(target: Amqp091Target) -> Amqp091Config {
    Amqp091Config {
        target,
        vhost: "/".into(),
        username: "guest".into(),
        password: "guest".into(),
        connection_name: "t".into(),
        confirm: false,
        inflight: 3,
        manual_ack: false,
        prefetch: 10,
        durable: false,
        passive: false,
        exchange_type: None,
        persistent: false,
        mandatory: false,
        heartbeat_s: 0,
        frame_max: 4096,
    }
}

fn queue() -> Amqp091Target {
    Amqp091Target::Queue("q".into())
}

fn sender(c: Amqp091Config, count: u64) -> Amqp091Session {
    Amqp091Session::sender(
        c,
        SenderPlan {
            rate: 0,
            duration: TestDuration::Count(count),
            size: MessageSize::Fixed(64),
            run_id: RUN,
            sender_id: 1,
            connection_id: 0,
        },
    )
}

fn method(channel: u16, m: Method<'_>) -> Vec<u8> {
    let mut b = Vec::new();
    wire::encode_method(channel, &m, &mut b);
    b
}

/// What the session wrote, one entry per frame: a method's name, `header`, `body N`,
/// `heartbeat`; the protocol header as `AMQP`.
fn written(s: &mut Amqp091Session, now: Nanos, st: &mut ShardStats) -> Vec<String> {
    let out = crate::session::written_bytes(s, now, st);
    let mut at = 0;
    let mut said = Vec::new();
    if out.starts_with(b"AMQP") {
        said.push("AMQP".to_string());
        at = 8;
    }
    while at < out.len() {
        match wire::decode(&out[at..], 1 << 20) {
            Ok(Decode::Complete(f, n)) => {
                said.push(match f.body {
                    FrameBody::Method(Method::BasicAck {
                        delivery_tag,
                        multiple,
                    }) => format!("basic.ack {delivery_tag} {multiple}"),
                    FrameBody::Method(Method::QueueBind { queue, .. }) => {
                        format!("queue.bind {queue}")
                    }
                    FrameBody::Method(Method::ConnectionTuneOk { heartbeat, .. }) => {
                        format!("connection.tune-ok {heartbeat}")
                    }
                    FrameBody::Method(m) => m.name().to_string(),
                    FrameBody::Header(h) => format!("header {}", h.body_size),
                    FrameBody::Body(b) => format!("body {}", b.len()),
                    FrameBody::Heartbeat => "heartbeat".to_string(),
                });
                at += n;
            }
            other => panic!("undecodable {other:?} at {at} of {}", out.len()),
        }
    }
    said
}

/// Scripts the connection's opening up to the channel: start, tune (heart-beat `hb` s), open.
fn open(s: &mut Amqp091Session, hb: u16, st: &mut ShardStats) {
    assert_eq!(written(s, 0, st), ["AMQP"]);
    let start = method(
        0,
        Method::ConnectionStart {
            version_major: 0,
            version_minor: 9,
            server_properties: Table::EMPTY,
            mechanisms: b"AMQPLAIN PLAIN",
            locales: b"en_US",
        },
    );
    s.handle_input(&start, 1, st).unwrap();
    assert_eq!(written(s, 1, st), ["connection.start-ok"]);
    let tune = method(
        0,
        Method::ConnectionTune {
            channel_max: 2047,
            frame_max: 131_072,
            heartbeat: hb,
        },
    );
    s.handle_input(&tune, 2, st).unwrap();
    let said = written(s, 2, st);
    assert_eq!(said[1], "connection.open");
    s.handle_input(&method(0, Method::ConnectionOpenOk), 3, st)
        .unwrap();
    assert_eq!(written(s, 3, st), ["channel.open"]);
    s.handle_input(&method(CH, Method::ChannelOpenOk), 4, st)
        .unwrap();
}

fn declare_ok(queue: &str) -> Vec<u8> {
    method(
        CH,
        Method::QueueDeclareOk {
            queue,
            message_count: 0,
            consumer_count: 0,
        },
    )
}

/// A delivery of a stamped 64-byte body, the body split over `parts` frames.
fn delivery(tag: u64, seq: u64, parts: usize) -> Vec<u8> {
    let mut body = payload::template(64);
    let ext = payload::Extension {
        run: RUN,
        sender: 1,
        connection: 0,
        sequence: seq,
        intended_ns: 3,
    };
    payload::write(&mut body, 3, &ext);
    let mut b = method(
        CH,
        Method::BasicDeliver {
            consumer_tag: CONSUMER_TAG,
            delivery_tag: tag,
            redelivered: false,
            exchange: "",
            routing_key: "q",
        },
    );
    wire::encode_content_header(
        CH,
        &ContentHeader {
            class_id: 60,
            body_size: 64,
            properties: BasicProperties::default(),
        },
        &mut b,
    );
    let step = 64 / parts;
    for chunk in body.chunks(step) {
        // One body frame per chunk (frame_max large enough for each).
        wire::encode_body(CH, chunk, 4096, &mut b);
    }
    b
}

#[test]
fn a_sender_with_confirms_keeps_its_window_and_leaves_once_all_are_confirmed() {
    let mut st = ShardStats::new(i64::MIN);
    let mut s = sender(
        Amqp091Config {
            confirm: true,
            ..cfg(queue())
        },
        5,
    );
    open(&mut s, 0, &mut st);
    assert_eq!(written(&mut s, 5, &mut st), ["confirm.select"]);
    s.handle_input(&method(CH, Method::ConfirmSelectOk), 6, &mut st)
        .unwrap();
    assert_eq!(written(&mut s, 6, &mut st), ["queue.declare"]);
    s.handle_input(&declare_ok("q"), 7, &mut st).unwrap();
    assert_eq!(s.phase(), Phase::Ready);
    s.start(10);
    // A window of 3: three publishes (method, header, body each).
    let said = written(&mut s, 10, &mut st);
    assert_eq!(said.len(), 9, "{said:?}");
    assert_eq!(&said[..3], ["basic.publish", "header 64", "body 64"]);
    assert_eq!(s.next_timeout(11), None, "window full");
    let ack = |tag, multiple| {
        method(
            CH,
            Method::BasicAck {
                delivery_tag: tag,
                multiple,
            },
        )
    };
    // Out of order: tag 2 alone frees nothing at the front, then 1 frees both.
    s.handle_input(&ack(2, false), 11, &mut st).unwrap();
    assert_eq!(st.counters.acked, 1);
    s.handle_input(&ack(1, false), 12, &mut st).unwrap();
    assert_eq!(written(&mut s, 12, &mut st).len(), 6, "two more fit");
    s.handle_input(&ack(5, true), 13, &mut st).unwrap();
    assert_eq!(st.counters.acked, 5);
    assert_eq!(written(&mut s, 13, &mut st), ["connection.close"]);
    assert!(s.sending_done());
    s.handle_input(&method(0, Method::ConnectionCloseOk), 14, &mut st)
        .unwrap();
    assert_eq!(s.phase(), Phase::Finished);
    assert_eq!((st.counters.sent, st.counters.acked), (5, 5));
    // A confirm for a tag never published is a protocol error.
    let e = s.handle_input(&ack(9, false), 15, &mut st);
    assert!(matches!(e, Err(SessionError::Protocol(_))), "{e:?}");
}

#[test]
fn a_nack_counts_as_an_error_and_unconfirmed_messages_are_reported() {
    let mut st = ShardStats::new(i64::MIN);
    let mut s = sender(
        Amqp091Config {
            confirm: true,
            ..cfg(queue())
        },
        2,
    );
    open(&mut s, 0, &mut st);
    s.handle_input(&method(CH, Method::ConfirmSelectOk), 6, &mut st)
        .unwrap();
    s.handle_input(&declare_ok("q"), 7, &mut st).unwrap();
    s.start(10);
    written(&mut s, 10, &mut st);
    let nack = method(
        CH,
        Method::BasicNack {
            delivery_tag: 1,
            multiple: false,
            requeue: false,
        },
    );
    s.handle_input(&nack, 11, &mut st).unwrap();
    assert_eq!(st.counters.acked, 0);
    assert!(st.new_errors[0].contains("refused 1 message(s) (basic.nack)"));
    // Tag 2 is never confirmed: the sender waits a bounded time, reports it and leaves.
    assert_eq!(written(&mut s, 12, &mut st), Vec::<String>::new());
    assert_eq!(
        written(&mut s, 13 + CLOSE_WAIT, &mut st),
        ["connection.close"]
    );
    assert!(st.new_errors[1].contains("1 message(s) never confirmed"));
}

#[test]
fn a_manual_ack_receiver_reassembles_bodies_acks_once_per_read_and_cancels_before_it_leaves() {
    let mut st = ShardStats::new(i64::MIN);
    let mut s = Amqp091Session::receiver(
        Amqp091Config {
            manual_ack: true,
            ..cfg(queue())
        },
        100 * MS,
        Some(RUN),
    );
    open(&mut s, 0, &mut st);
    assert_eq!(written(&mut s, 5, &mut st), ["queue.declare"]);
    s.handle_input(&declare_ok("q"), 6, &mut st).unwrap();
    assert_eq!(written(&mut s, 6, &mut st), ["basic.qos"]);
    s.handle_input(&method(CH, Method::BasicQosOk), 7, &mut st)
        .unwrap();
    assert_eq!(written(&mut s, 7, &mut st), ["basic.consume"]);
    let ok = method(
        CH,
        Method::BasicConsumeOk {
            consumer_tag: CONSUMER_TAG,
        },
    );
    s.handle_input(&ok, 8, &mut st).unwrap();
    assert_eq!(s.phase(), Phase::Ready);
    // Two deliveries in one read, the second's body over four frames; a third split across
    // reads.
    let mut input = delivery(1, 0, 1);
    input.extend_from_slice(&delivery(2, 1, 4));
    s.handle_input(&input, 9, &mut st).unwrap();
    assert_eq!(written(&mut s, 9, &mut st), ["basic.ack 2 true"]);
    let third = delivery(3, 2, 2);
    let cut = third.len() - 20;
    let used = s.handle_input(&third[..cut], 10, &mut st).unwrap();
    assert_eq!(written(&mut s, 10, &mut st), Vec::<String>::new());
    assert_eq!(
        s.handle_input(&third[used..], 10, &mut st).unwrap(),
        third.len() - used
    );
    assert_eq!(written(&mut s, 10, &mut st), ["basic.ack 3 true"]);
    s.drain(11, 3);
    assert_eq!(written(&mut s, 11, &mut st), ["basic.cancel"]);
    // A delivery before cancel-ok is counted and acknowledged before the close.
    s.handle_input(&delivery(4, 3, 1), 12, &mut st).unwrap();
    let cancel_ok = method(
        CH,
        Method::BasicCancelOk {
            consumer_tag: CONSUMER_TAG,
        },
    );
    s.handle_input(&cancel_ok, 12, &mut st).unwrap();
    assert_eq!(
        written(&mut s, 12, &mut st),
        ["basic.ack 4 true", "connection.close"]
    );
    assert_eq!(s.unsettled(), 4);
    s.handle_input(&method(0, Method::ConnectionCloseOk), 13, &mut st)
        .unwrap();
    assert_eq!((s.phase(), s.unsettled()), (Phase::Finished, 0));
    let c = st.counters;
    assert_eq!(
        (c.received, c.lost, c.duplicated, c.bytes_received),
        (4, 0, 0, 256)
    );
}

#[test]
fn an_exchange_receiver_binds_a_queue_of_its_own() {
    let mut st = ShardStats::new(i64::MIN);
    let target = Amqp091Target::Exchange {
        exchange: "amq.topic".into(),
        key: "k".into(),
    };
    let mut s = Amqp091Session::receiver(cfg(target), 100 * MS, Some(RUN));
    open(&mut s, 0, &mut st);
    assert_eq!(written(&mut s, 5, &mut st), ["exchange.declare"]);
    s.handle_input(&method(CH, Method::ExchangeDeclareOk), 6, &mut st)
        .unwrap();
    assert_eq!(written(&mut s, 6, &mut st), ["queue.declare"]);
    s.handle_input(&declare_ok("amq.gen-XYZ"), 7, &mut st)
        .unwrap();
    assert_eq!(written(&mut s, 7, &mut st), ["queue.bind amq.gen-XYZ"]);
    s.handle_input(&method(CH, Method::QueueBindOk), 8, &mut st)
        .unwrap();
    assert_eq!(written(&mut s, 8, &mut st), ["basic.consume"]);
}

#[test]
fn a_blocked_sender_stalls_then_fails_with_the_brokers_reason() {
    let mut st = ShardStats::new(i64::MIN);
    // Paced, 1,000 msg/s: a few messages due at a time.
    let mut s = Amqp091Session::sender(
        cfg(queue()),
        SenderPlan {
            rate: 1_000,
            duration: TestDuration::Count(1_000_000),
            size: MessageSize::Fixed(64),
            run_id: RUN,
            sender_id: 1,
            connection_id: 0,
        },
    );
    open(&mut s, 0, &mut st);
    written(&mut s, 5, &mut st);
    s.handle_input(&declare_ok("q"), 6, &mut st).unwrap();
    // Paced schedules start on a whole millisecond: this one at 0.
    s.start(0);
    assert!(!written(&mut s, 10, &mut st).is_empty());
    let blocked = method(
        0,
        Method::ConnectionBlocked {
            reason: "low on memory",
        },
    );
    s.handle_input(&blocked, 11, &mut st).unwrap();
    assert_eq!(written(&mut s, 12, &mut st), Vec::<String>::new());
    assert_eq!(s.next_timeout(12), Some(11 + BLOCKED_LIMIT + 1));
    // Unblocked in time: publishing resumes.
    s.handle_input(&method(0, Method::ConnectionUnblocked), SEC, &mut st)
        .unwrap();
    assert!(!written(&mut s, SEC, &mut st).is_empty());
    s.handle_input(&blocked, 2 * SEC, &mut st).unwrap();
    let e = s.poll_transmit(2 * SEC + BLOCKED_LIMIT + 1, &mut st).err();
    assert_eq!(
        e,
        Some(SessionError::Refused(
            "the broker blocked publishing for more than 10 s (connection.blocked: low on memory)"
                .into()
        ))
    );
}

#[test]
fn the_brokers_closes_and_a_wrong_protocol_end_the_session_with_their_words() {
    let mut st = ShardStats::new(i64::MIN);
    let mut s = sender(
        Amqp091Config {
            passive: true,
            ..cfg(queue())
        },
        1,
    );
    open(&mut s, 0, &mut st);
    written(&mut s, 5, &mut st);
    let close = method(
        CH,
        Method::ChannelClose {
            reply_code: 404,
            reply_text: "NOT_FOUND - no queue 'q' in vhost '/'",
            class_id: 50,
            method_id: 10,
        },
    );
    assert_eq!(
        s.handle_input(&close, 6, &mut st),
        Err(SessionError::Refused(
            "channel closed by the broker: 404 NOT_FOUND - no queue 'q' in vhost '/' (in reply to queue.declare)".into()
        ))
    );
    let mut s = sender(cfg(queue()), 1);
    written(&mut s, 0, &mut st);
    let e = s.handle_input(b"AMQP\x00\x01\x00\x00", 1, &mut st);
    assert!(
        matches!(&e, Err(SessionError::Refused(m)) if m.contains("does not take AMQP 0-9-1")),
        "{e:?}"
    );
    let mut s = sender(cfg(queue()), 1);
    written(&mut s, 0, &mut st);
    let refused = method(
        0,
        Method::ConnectionClose {
            reply_code: 403,
            reply_text: "ACCESS_REFUSED - Login was refused",
            class_id: 10,
            method_id: 11,
        },
    );
    let e = s.handle_input(&refused, 1, &mut st);
    assert_eq!(
        e,
        Err(SessionError::Refused(
            "connection closed by the broker: 403 ACCESS_REFUSED - Login was refused (in reply to connection.start-ok)".into()
        ))
    );
}

#[test]
fn heart_beats_are_negotiated_sent_when_idle_and_missed_ones_end_the_session() {
    let mut st = ShardStats::new(i64::MIN);
    let mut s = sender(
        Amqp091Config {
            heartbeat_s: 30,
            ..cfg(queue())
        },
        1,
    );
    // The broker proposes 10 s: the lower wins.
    assert_eq!(written(&mut s, 0, &mut st), ["AMQP"]);
    let start = method(
        0,
        Method::ConnectionStart {
            version_major: 0,
            version_minor: 9,
            server_properties: Table::EMPTY,
            mechanisms: b"PLAIN",
            locales: b"en_US",
        },
    );
    s.handle_input(&start, 1, &mut st).unwrap();
    written(&mut s, 1, &mut st);
    let tune = method(
        0,
        Method::ConnectionTune {
            channel_max: 0,
            frame_max: 0,
            heartbeat: 10,
        },
    );
    s.handle_input(&tune, 2, &mut st).unwrap();
    assert_eq!(
        written(&mut s, 2, &mut st),
        ["connection.tune-ok 10", "connection.open"]
    );
    // Half the interval after the last write the session itself made (the protocol header).
    assert_eq!(s.next_timeout(3), Some(5 * SEC));
    assert_eq!(written(&mut s, 5 * SEC, &mut st), ["heartbeat"]);
    s.handle_input(&[8, 0, 0, 0, 0, 0, 0, 0xCE], 15 * SEC, &mut st)
        .unwrap();
    assert!(s.poll_transmit(35 * SEC, &mut st).is_ok());
    s.on_sent(s.tx.pending().len());
    assert_eq!(
        s.poll_transmit(35 * SEC + 1, &mut st).err(),
        Some(SessionError::Timeout("heart-beats from the broker"))
    );
}
