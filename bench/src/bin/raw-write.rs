//! The raw write limit: the same frames Allegro sends (an MQTT QoS 0 PUBLISH, a STOMP SEND
//! without receipt, or an AMQP 0-9-1 `basic.publish` with its content header and body frame),
//! pre-encoded into a 64 KiB block and written by a plain loop of `write(2)`
//! calls.
//!
//! `raw-write --port P [--host H] [--cpu C] [--seconds S] [--size N] [--topic T] [--protocol mqtt|stomp|amqp091]`
//! connects, does the handshake, writes for S seconds, and prints one JSON line: bytes, frames,
//! seconds. A STOMP frame goes to destination `/queue/T`, an AMQP 0-9-1 one to queue T.

use allegro_wire::stomp;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let port: u16 = arg(&args, "--port")
        .and_then(|p| p.parse().ok())
        .unwrap_or(1883);
    let secs: f64 = arg(&args, "--seconds")
        .and_then(|p| p.parse().ok())
        .unwrap_or(5.0);
    let size: usize = arg(&args, "--size")
        .and_then(|p| p.parse().ok())
        .unwrap_or(100);
    let topic = arg(&args, "--topic").unwrap_or_else(|| "bench".into());
    if let Some(cpu) = arg(&args, "--cpu").and_then(|c| c.parse().ok()) {
        if let Err(e) = allegro_engine::placement::pin_current_thread(cpu) {
            eprintln!("raw-write: cannot pin to CPU {cpu}: {e}");
        }
    }
    let host = arg(&args, "--host").unwrap_or_else(|| "127.0.0.1".into());
    let mut s = TcpStream::connect((host.as_str(), port)).unwrap_or_else(|e| {
        eprintln!("raw-write: cannot connect to {host} port {port}: {e}");
        std::process::exit(1)
    });
    let _ = s.set_nodelay(true);
    let body = allegro_engine::payload::template(size);
    let frame = match arg(&args, "--protocol").as_deref() {
        Some("stomp") => {
            stomp_handshake(&mut s);
            stomp_frame(&topic, &body)
        }
        Some("amqp091") => {
            amqp091_handshake(&mut s);
            amqp091_frame(&topic, &body)
        }
        _ => {
            allegro_bench::mqtt_connect(&mut s, "raw-write");
            allegro_bench::mqtt_publish_frame(&topic, &body)
        }
    };
    // One 64 KiB block of whole frames.
    let mut block = Vec::with_capacity(64 * 1024);
    let per_block = (64 * 1024) / frame.len();
    for _ in 0..per_block {
        block.extend_from_slice(&frame);
    }
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(secs);
    let mut bytes = 0u64;
    while Instant::now() < deadline {
        for _ in 0..64 {
            s.write_all(&block).expect("write");
            bytes += block.len() as u64;
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let _ = s.shutdown(std::net::Shutdown::Both);
    println!(
        "{{\"bytes\":{bytes},\"frames\":{},\"frame_len\":{},\"seconds\":{elapsed:.6}}}",
        bytes / frame.len() as u64,
        frame.len()
    );
}

fn stomp_handshake(s: &mut TcpStream) {
    let mut out = Vec::new();
    stomp::encode(
        stomp::Command::Connect,
        &[
            ("accept-version", "1.2"),
            ("host", "/"),
            ("heart-beat", "0,0"),
        ],
        b"",
        &mut out,
    );
    s.write_all(&out).expect("write CONNECT");
    let mut b = [0u8; 1];
    loop {
        s.read_exact(&mut b).expect("read CONNECTED");
        if b[0] == 0 {
            break;
        }
    }
}

/// A STOMP SEND of `body` to `/queue/{topic}`, as Allegro's sender writes it without receipts.
fn stomp_frame(topic: &str, body: &[u8]) -> Vec<u8> {
    let mut frame = Vec::new();
    let dest = format!("/queue/{topic}");
    stomp::encode(
        stomp::Command::Send,
        &[("destination", &dest)],
        body,
        &mut frame,
    );
    frame
}

/// Reads one AMQP 0-9-1 frame (whole) from `s`.
fn read_frame(s: &mut TcpStream) -> Vec<u8> {
    let mut head = [0u8; 7];
    s.read_exact(&mut head).expect("read a frame");
    let size = u32::from_be_bytes([head[3], head[4], head[5], head[6]]) as usize;
    let mut rest = vec![0u8; size + 1];
    s.read_exact(&mut rest).expect("read a frame");
    let mut f = head.to_vec();
    f.extend_from_slice(&rest);
    f
}

/// The client's side of an AMQP 0-9-1 opening up to an open channel 1 (§2.2.4).
fn amqp091_handshake(s: &mut TcpStream) {
    use allegro_wire::amqp091::{self as w, Method, Table};
    s.write_all(&w::PROTOCOL_HEADER).expect("write the header");
    let _start = read_frame(s);
    let mut out = Vec::new();
    w::encode_method(
        0,
        &Method::ConnectionStartOk {
            client_properties: Table::EMPTY,
            mechanism: "PLAIN",
            response: b"\0guest\0guest",
            locale: "en_US",
        },
        &mut out,
    );
    s.write_all(&out).expect("write start-ok");
    let _tune = read_frame(s);
    out.clear();
    w::encode_method(
        0,
        &Method::ConnectionTuneOk {
            channel_max: 1,
            frame_max: 131_072,
            heartbeat: 0,
        },
        &mut out,
    );
    w::encode_method(0, &Method::ConnectionOpen { virtual_host: "/" }, &mut out);
    s.write_all(&out).expect("write open");
    let _open_ok = read_frame(s);
    out.clear();
    w::encode_method(1, &Method::ChannelOpen, &mut out);
    s.write_all(&out).expect("write channel.open");
    let _channel_ok = read_frame(s);
}

/// A `basic.publish` of `body` to queue `topic` through the default exchange, as Allegro's
/// sender writes it without confirms.
fn amqp091_frame(topic: &str, body: &[u8]) -> Vec<u8> {
    use allegro_wire::amqp091::{self as w, BasicProperties, ContentHeader, Method};
    let mut f = Vec::new();
    w::encode_method(
        1,
        &Method::BasicPublish {
            exchange: "",
            routing_key: topic,
            mandatory: false,
            immediate: false,
        },
        &mut f,
    );
    w::encode_content_header(
        1,
        &ContentHeader {
            class_id: 60,
            body_size: body.len() as u64,
            properties: BasicProperties::default(),
        },
        &mut f,
    );
    w::encode_body(1, body, 131_072, &mut f);
    f
}
