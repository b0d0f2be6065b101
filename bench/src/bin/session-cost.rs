//! What a message costs Allegro's own code, with no socket between the two ends: an AMQP 1.0
//! sender joined in memory to the accepting end that `allegro run` without a URL uses
//! (pre-settled, credit 20,000, fixed-size bodies, unbounded), each side's calls timed apart:
//! nanoseconds per message on the sending path (`poll_transmit`: the frames laid, patched and
//! stamped) and on the receiving path (`handle_input`: frames read, every message accounted and
//! its latency recorded). What `peer` measures adds the kernel's part: each byte copied into a
//! socket on one core and out of it on the other.
//!
//! `session-cost [--rounds 5] [--messages 4000000] [--size 100]`

use allegro_bench::{arg, context, stats, write_record};
use allegro_engine::clock::Clock;
use allegro_engine::plan::{MessageSize, TestDuration, PEER_CREDIT};
use allegro_engine::session::amqp::{AmqpConfig, AmqpSession};
use allegro_engine::session::load::SenderPlan;
use allegro_engine::session::{Phase, Session};
use allegro_engine::stats::ShardStats;
use serde_json::json;
use std::time::Instant;

fn config(name: &str) -> AmqpConfig {
    AmqpConfig {
        container_id: name.into(),
        hostname: "localhost".into(),
        address: "allegro".into(),
        username: None,
        password: None,
        presettled: true,
        credit: PEER_CREDIT,
        inflight: 1000,
        max_frame: 1 << 20,
        idle_timeout_ms: 30_000,
        durable: false,
        ttl_ms: None,
        priority: None,
    }
}

/// Moves what `from` has to write into `to`; returns the bytes moved.
fn carry(
    from: &mut AmqpSession,
    to: &mut AmqpSession,
    now: i64,
    st: &mut ShardStats,
) -> Result<usize, String> {
    let out = from
        .poll_transmit(now, st)
        .map_err(|e| e.to_string())?
        .to_vec();
    from.on_sent(out.len());
    if !out.is_empty() {
        to.handle_input(&out, now, st).map_err(|e| e.to_string())?;
    }
    Ok(out.len())
}

/// One round: (send ns per message, receive ns per message).
fn round(messages: u64, size: u32) -> Result<(f64, f64), String> {
    let clock = Clock::new();
    let plan = SenderPlan {
        rate: 0,
        duration: TestDuration::Count(messages),
        size: MessageSize::Fixed(size),
        run_id: 1,
        sender_id: 1,
        connection_id: 0,
    };
    let mut st = ShardStats::new(i64::MIN);
    let mut tx = AmqpSession::sender(config("sender"), plan);
    let mut rx = AmqpSession::server(config("receiver"), 1_000_000_000, Some(1));
    for _ in 0..100 {
        let now = clock.now();
        if carry(&mut tx, &mut rx, now, &mut st)? + carry(&mut rx, &mut tx, now, &mut st)? == 0 {
            break;
        }
    }
    if tx.phase() != Phase::Ready {
        return Err(format!("the handshake did not finish: {:?}", tx.phase()));
    }
    tx.start(clock.now());
    let (mut send_ns, mut recv_ns) = (0u128, 0u128);
    let mut block = Vec::new();
    while st.counters.received < messages {
        let now = clock.now();
        let t = Instant::now();
        let out = tx.poll_transmit(now, &mut st).map_err(|e| e.to_string())?;
        send_ns += t.elapsed().as_nanos();
        // The copy stands in for the socket's (the kernel's share), outside both timings.
        block.clear();
        block.extend_from_slice(out);
        tx.on_sent(block.len());
        let t = Instant::now();
        rx.handle_input(&block, clock.now(), &mut st)
            .map_err(|e| e.to_string())?;
        recv_ns += t.elapsed().as_nanos();
        let moved = block.len() + carry(&mut rx, &mut tx, now, &mut st)?;
        if moved == 0 {
            return Err(format!(
                "stuck after {} of {messages} messages",
                st.counters.received
            ));
        }
    }
    let c = st.counters;
    if (c.lost, c.duplicated, c.reordered) != (0, 0, 0)
        || st.take_interval().service.len() != c.received
    {
        return Err(format!("messages went astray: {c:?}"));
    }
    Ok((
        send_ns as f64 / messages as f64,
        recv_ns as f64 / messages as f64,
    ))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rounds: usize = arg(&args, "--rounds", "5").parse().unwrap_or(5);
    let messages: u64 = arg(&args, "--messages", "4000000")
        .parse()
        .unwrap_or(4_000_000);
    let size: u32 = arg(&args, "--size", "100").parse().unwrap_or(100);
    let (mut sends, mut recvs) = (Vec::new(), Vec::new());
    for r in 0..rounds {
        match round(messages, size) {
            Ok((s, v)) => {
                println!(
                    "round {}: send {s:.1} ns per message, receive {v:.1} ns per message",
                    r + 1
                );
                sends.push(s);
                recvs.push(v);
            }
            Err(e) => {
                eprintln!("round {} failed: {e}", r + 1);
                std::process::exit(1);
            }
        }
    }
    let (s, slo, shi) = stats(&sends);
    let (v, vlo, vhi) = stats(&recvs);
    println!(
        "median of {rounds}: send {s:.1} ns per message [{slo:.1}-{shi:.1}], receive {v:.1} [{vlo:.1}-{vhi:.1}]"
    );
    let rec = json!({
        "benchmark": "session-cost",
        "context": context(),
        "setup": {"protocol": "amqp10", "settle": "presettled", "size": size, "messages": messages,
                  "credit": PEER_CREDIT, "sockets": "none: the two sessions joined in memory"},
        "rounds": sends.iter().zip(&recvs).map(|(s, v)| json!({"send_ns_per_msg": s, "receive_ns_per_msg": v})).collect::<Vec<_>>(),
        "median": {"send_ns_per_msg": s, "receive_ns_per_msg": v},
    });
    match write_record("session-cost", &rec) {
        Ok(p) => println!("wrote {}", p.display()),
        Err(e) => eprintln!("cannot write the record: {e}"),
    }
}
