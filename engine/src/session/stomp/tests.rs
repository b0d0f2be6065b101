//! STOMP sessions against a scripted broker, in memory under a virtual clock.

use super::*;
use crate::plan::TestDuration;
use allegro_wire::stomp::Headers;

const RUN: u32 = 0x570b;
const MS: Nanos = 1_000_000;
const SEC: Nanos = 1_000 * MS;

fn cfg(receipt_every: u32, inflight: u32, ack: StompAck) -> StompConfig {
    StompConfig {
        destination: "/queue/q".into(),
        vhost: "/".into(),
        username: Some("u".into()),
        password: Some("p".into()),
        receipt_every,
        inflight,
        ack,
        prefetch: 10,
        persistent: false,
        heartbeat_ms: 10_000,
        max_frame: 1 << 16,
    }
}

fn sender(receipt_every: u32, inflight: u32, count: u64) -> StompSession {
    StompSession::sender(
        cfg(receipt_every, inflight, StompAck::Auto),
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

/// A frame the scripted broker sends.
fn frame(command: Command, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    stomp::encode(command, headers, body, &mut b);
    b
}

/// What the session wrote: each frame as its command and headers (`CMD k:v k:v`, without
/// `content-length`), heart-beats as `EOL`.
fn written(s: &mut StompSession, now: Nanos, st: &mut ShardStats) -> Vec<String> {
    let out = crate::session::written_bytes(s, now, st);
    let mut at = 0;
    let mut said = Vec::new();
    while at < out.len() {
        match stomp::decode(&out[at..], 1 << 20) {
            Ok(Decode::Complete(Item::HeartBeat, n)) => {
                said.push("EOL".to_string());
                at += n;
            }
            Ok(Decode::Complete(Item::Frame(f), n)) => {
                said.push(describe(f.command, &f.headers));
                at += n;
            }
            other => panic!("undecodable {other:?} in {:?}", &out[at..]),
        }
    }
    said
}

fn describe(c: Command, h: &Headers<'_>) -> String {
    let mut s = c.as_str().to_string();
    for (k, v) in h.raw_iter().flatten() {
        if k != b"content-length" {
            s.push_str(&format!(
                " {}:{}",
                String::from_utf8_lossy(k),
                String::from_utf8_lossy(v)
            ));
        }
    }
    s
}

fn connected(s: &mut StompSession, headers: &[(&str, &str)], st: &mut ShardStats) {
    let said = written(s, 0, st);
    assert_eq!(
        said,
        ["CONNECT accept-version:1.0,1.1,1.2 host:/ heart-beat:10000,10000 login:u passcode:p"]
    );
    s.handle_input(&frame(Command::Connected, headers, b""), 1, st)
        .unwrap();
}

fn message(id: u32, seq: u64, version12: bool) -> Vec<u8> {
    let mut body = payload::template(64);
    let ext = payload::Extension {
        run: RUN,
        sender: 1,
        connection: 0,
        sequence: seq,
        intended_ns: 3,
    };
    payload::write(&mut body, 3, &ext);
    let id = id.to_string();
    let ack_key = if version12 { "ack" } else { "message-id" };
    frame(
        Command::Message,
        &[("subscription", "0"), ("message-id", &id), (ack_key, &id)],
        &body,
    )
}

fn receipt(id: &str) -> Vec<u8> {
    frame(Command::Receipt, &[("receipt-id", id)], b"")
}

#[test]
fn a_sender_keeps_its_window_of_receipts_and_leaves_with_a_confirmed_disconnect() {
    let mut st = ShardStats::new(i64::MIN);
    let mut s = sender(2, 4, 7);
    connected(
        &mut s,
        &[("version", "1.2"), ("heart-beat", "0,0")],
        &mut st,
    );
    assert_eq!(s.phase(), Phase::Ready);
    s.start(10);
    // A receipt every 2 messages; the window of 4 unconfirmed stops the fifth.
    let said = written(&mut s, 10, &mut st);
    let receipts: Vec<_> = said
        .iter()
        .map(|f| f.split(" receipt:").nth(1).unwrap_or("-").to_string())
        .collect();
    assert_eq!(
        receipts,
        ["-", "00000000000000000002", "-", "00000000000000000004"]
    );
    assert!(said[0].starts_with("SEND destination:/queue/q"));
    assert_eq!(s.next_timeout(10), None, "window full: wait for a receipt");
    s.handle_input(&receipt("00000000000000000002"), 11, &mut st)
        .unwrap();
    assert_eq!(st.counters.acked, 2);
    // Two more fit; the third of them is the schedule's last (7), no receipt asked for it.
    let said = written(&mut s, 12, &mut st);
    assert_eq!(said.len(), 2);
    s.handle_input(&receipt("00000000000000000004"), 13, &mut st)
        .unwrap();
    let said = written(&mut s, 14, &mut st);
    assert_eq!(said.len(), 2, "{said:?}");
    assert_eq!(said[1], "DISCONNECT receipt:bye");
    assert!(s.sending_done());
    assert_eq!(st.counters.acked, 4);
    // The DISCONNECT's receipt confirms everything before it.
    s.handle_input(&receipt("bye"), 15, &mut st).unwrap();
    assert_eq!(s.phase(), Phase::Finished);
    assert_eq!((st.counters.sent, st.counters.acked), (7, 7));
    // A receipt nobody asked for is a protocol error.
    let mut s = sender(1, 4, 3);
    connected(&mut s, &[("version", "1.2")], &mut st);
    s.start(10);
    written(&mut s, 10, &mut st);
    let e = s.handle_input(&receipt("00000000000000000009"), 11, &mut st);
    assert!(matches!(e, Err(SessionError::Protocol(_))), "{e:?}");
}

#[test]
fn a_client_mode_receiver_acknowledges_once_per_read_and_unsubscribes_before_it_leaves() {
    let mut st = ShardStats::new(i64::MIN);
    let mut s = StompSession::receiver(cfg(0, 0, StompAck::Client), 100 * MS, Some(RUN));
    connected(&mut s, &[("version", "1.2")], &mut st);
    assert_eq!(
        written(&mut s, 1, &mut st),
        ["SUBSCRIBE id:0 destination:/queue/q ack:client receipt:sub prefetch-count:10 activemq.prefetchSize:10"]
    );
    assert_eq!(s.phase(), Phase::Handshake);
    // A queue's backlog may arrive before the subscription's receipt.
    let mut input = message(1, 0, true);
    input.extend_from_slice(&receipt("sub"));
    input.extend_from_slice(&message(2, 1, true));
    s.handle_input(&input, 2, &mut st).unwrap();
    assert_eq!(s.phase(), Phase::Ready);
    assert_eq!(written(&mut s, 2, &mut st), ["ACK id:2"]);
    s.handle_input(&message(3, 2, true), 3, &mut st).unwrap();
    assert_eq!(written(&mut s, 3, &mut st), ["ACK id:3"]);
    s.drain(4, 3);
    assert_eq!(
        written(&mut s, 4, &mut st),
        ["UNSUBSCRIBE id:0 receipt:unsub"]
    );
    // What comes before the UNSUBSCRIBE's receipt is counted and acknowledged.
    s.handle_input(&message(4, 3, true), 5, &mut st).unwrap();
    s.handle_input(&receipt("unsub"), 5, &mut st).unwrap();
    assert_eq!(
        written(&mut s, 5, &mut st),
        ["ACK id:4", "DISCONNECT receipt:bye"]
    );
    assert_eq!(s.unsettled(), 4, "ACKs not yet confirmed");
    s.handle_input(&receipt("bye"), 6, &mut st).unwrap();
    assert_eq!((s.phase(), s.unsettled()), (Phase::Finished, 0));
    let c = st.counters;
    assert_eq!((c.received, c.lost, c.duplicated), (4, 0, 0));
}

#[test]
fn a_stomp_1_0_broker_gets_message_id_acks_and_no_heart_beats() {
    let mut st = ShardStats::new(i64::MIN);
    let mut s = StompSession::receiver(cfg(0, 0, StompAck::ClientIndividual), 100 * MS, Some(RUN));
    // No version header: 1.0. Its heart-beat header (if any) means nothing.
    connected(&mut s, &[("heart-beat", "1000,1000")], &mut st);
    let said = written(&mut s, 1, &mut st);
    assert!(
        said[0].contains("ack:client "),
        "1.0 knows no client-individual: {said:?}"
    );
    s.handle_input(&receipt("sub"), 2, &mut st).unwrap();
    s.handle_input(&message(7, 0, false), 3, &mut st).unwrap();
    assert_eq!(written(&mut s, 3, &mut st), ["ACK message-id:7"]);
    assert_eq!(s.next_timeout(4), None, "no heart-beats, no drain yet");
    // 1.1: the subscription is named as well; client-individual acknowledges each message.
    let mut s = StompSession::receiver(cfg(0, 0, StompAck::ClientIndividual), 100 * MS, Some(RUN));
    connected(
        &mut s,
        &[("version", "1.1"), ("heart-beat", "0,0")],
        &mut st,
    );
    written(&mut s, 1, &mut st);
    s.handle_input(&receipt("sub"), 2, &mut st).unwrap();
    let mut two = message(8, 1, false);
    two.extend_from_slice(&message(9, 2, false));
    s.handle_input(&two, 3, &mut st).unwrap();
    assert_eq!(
        written(&mut s, 3, &mut st),
        [
            "ACK subscription:0 message-id:8",
            "ACK subscription:0 message-id:9"
        ]
    );
}

#[test]
fn heart_beats_go_out_when_idle_and_a_silent_broker_times_out() {
    let mut st = ShardStats::new(i64::MIN);
    let mut s = sender(0, 10, 1);
    // The broker sends every 4 s and wants ours every 12 s: we send every 12 s (the larger of
    // 10 s offered and 12 s wanted) and expect its every 10 s.
    connected(
        &mut s,
        &[("version", "1.2"), ("heart-beat", "4000,12000")],
        &mut st,
    );
    assert_eq!(written(&mut s, 2, &mut st), Vec::<String>::new());
    assert_eq!(s.next_timeout(2), Some(12 * SEC));
    assert_eq!(written(&mut s, 12 * SEC, &mut st), ["EOL"]);
    // A heart-beat from the broker keeps it alive.
    s.handle_input(b"\n", 20 * SEC, &mut st).unwrap();
    assert!(s.poll_transmit(49 * SEC, &mut st).is_ok());
    s.on_sent(s.tx.pending().len());
    let e = s.poll_transmit(50 * SEC + 1, &mut st);
    assert_eq!(
        e.err(),
        Some(SessionError::Timeout("heart-beats from the broker"))
    );
}

#[test]
fn an_error_frame_ends_the_session_with_the_brokers_words_on_one_line() {
    let mut st = ShardStats::new(i64::MIN);
    let mut s = sender(0, 10, 1);
    written(&mut s, 0, &mut st);
    let e = s.handle_input(
        &frame(
            Command::Error,
            &[("message", "Bad CONNECT")],
            b"Access refused\nfor user 'guest'\n",
        ),
        1,
        &mut st,
    );
    assert_eq!(
        e,
        Err(SessionError::Refused(
            "STOMP ERROR: Bad CONNECT: Access refused for user 'guest'".into()
        ))
    );
    // Malformed bytes are a decode error naming the STOMP fault.
    let mut s = sender(0, 10, 1);
    written(&mut s, 0, &mut st);
    let e = s.handle_input(b"FROB\n\n\0", 1, &mut st);
    assert_eq!(
        e,
        Err(SessionError::Decode(DecodeError::Stomp(
            stomp::Error::UnknownCommand
        )))
    );
}

#[test]
fn a_missing_disconnect_receipt_is_waited_for_a_bounded_time_and_reported() {
    let mut st = ShardStats::new(i64::MIN);
    let mut s = sender(1, 10, 2);
    connected(
        &mut s,
        &[("version", "1.2"), ("heart-beat", "0,0")],
        &mut st,
    );
    s.start(10);
    let said = written(&mut s, 10, &mut st);
    assert_eq!(
        said.last().map(String::as_str),
        Some("DISCONNECT receipt:bye")
    );
    assert_eq!(s.phase(), Phase::Running);
    assert_eq!(s.next_timeout(11), Some(10 + CLOSE_WAIT + 1));
    written(&mut s, 11 + CLOSE_WAIT, &mut st);
    assert_eq!(s.phase(), Phase::Finished);
    assert_eq!(st.counters.acked, 0);
    assert_eq!(st.counters.errors, 1, "{:?}", st.new_errors);
    assert!(st.new_errors[0].contains("2 message(s) sent were never confirmed"));
}
