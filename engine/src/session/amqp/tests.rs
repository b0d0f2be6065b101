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
fn unbounded_presettled_transfers_are_one_frame_patched_per_delivery() {
    // Credit 300 granted again at half: blocks end on credit as well as on the block's size.
    let presettled = |name| AmqpConfig {
        presettled: true,
        credit: 300,
        ..cfg(name, 60_000)
    };
    let mut st = ShardStats::new(i64::MIN);
    let plan = SenderPlan {
        rate: 0,
        duration: TestDuration::Count(2_500),
        size: MessageSize::Fixed(100),
        run_id: RUN,
        sender_id: 1,
        connection_id: 0,
    };
    let mut c = AmqpSession::sender(presettled("client"), plan);
    let mut s = AmqpSession::server(presettled("server"), 1_000_000_000, Some(RUN));
    pump(&mut c, &mut s, 1, &mut st);
    c.start(2);
    let mut ids = Vec::new();
    for _ in 0..1_000 {
        let out = c.poll_transmit(2, &mut st).unwrap().to_vec();
        c.on_sent(out.len());
        let mut at = 0;
        while at < out.len() {
            let Ok(Decode::Complete(f, n)) = decode_frame(&out[at..], u32::MAX) else {
                panic!("undecodable bytes at {at}");
            };
            if let FrameBody::Amqp {
                performative: Performative::Transfer(t),
                payload,
            } = f.body
            {
                let id = t.delivery_id.expect("a delivery id on every transfer");
                assert_eq!(t.delivery_tag, Some(&id.to_be_bytes()[..]));
                assert!(t.settled && !t.more);
                let body = single_data_body(payload).expect("one data section");
                let ext = payload::read(body).and_then(|p| p.ext).expect("stamped");
                assert_eq!(ext.sequence, u64::from(id));
                ids.push(id);
            }
            at += n;
        }
        if !out.is_empty() {
            assert_eq!(s.handle_input(&out, 2, &mut st).unwrap(), out.len());
        }
        let back = s.poll_transmit(2, &mut st).unwrap().to_vec();
        s.on_sent(back.len());
        if !back.is_empty() {
            assert_eq!(c.handle_input(&back, 2, &mut st).unwrap(), back.len());
        }
        if out.is_empty() && back.is_empty() {
            break;
        }
    }
    assert_eq!(ids, (0..2_500).collect::<Vec<u32>>());
    let k = st.counters;
    assert_eq!(
        (k.sent, k.received, k.bytes_received),
        (2_500, 2_500, 250_000)
    );
    assert_eq!((k.lost, k.duplicated, k.reordered), (0, 0, 0));
    assert_eq!(st.take_interval().corrected.len(), 2_500);
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
    assert_eq!(st.take_interval().corrected.len(), 5);
}
