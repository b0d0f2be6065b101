//! The raw write limit: the same 100-byte-body MQTT PUBLISH frames Allegro sends, pre-encoded
//! into a 64 KiB block and written by a plain loop of `write(2)` calls.
//!
//! `raw-write --port P [--cpu C] [--seconds S] [--size N] [--topic T]` connects, does the MQTT
//! handshake, writes for S seconds, and prints one JSON line: bytes, frames, seconds.

use allegro_wire::mqtt::{encode_publish_header, Connect, Packet, Properties, Protocol, QoS};
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
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap_or_else(|e| {
        eprintln!("raw-write: cannot connect to port {port}: {e}");
        std::process::exit(1)
    });
    let _ = s.set_nodelay(true);
    let mut out = Vec::new();
    Packet::Connect(Connect {
        protocol: Protocol::V311,
        clean_start: true,
        keep_alive: 0,
        client_id: "raw-write",
        will: None,
        username: None,
        password: None,
        properties: Properties::EMPTY,
    })
    .encode(Protocol::V311, &mut out);
    s.write_all(&out).expect("write CONNECT");
    let mut ack = [0u8; 4];
    s.read_exact(&mut ack).expect("read CONNACK");
    // One 64 KiB block of whole frames.
    let body = allegro_engine::payload::template(size);
    let mut block = Vec::with_capacity(64 * 1024);
    let mut frame = Vec::new();
    encode_publish_header(
        Protocol::V311,
        QoS::AtMostOnce,
        false,
        false,
        &topic,
        0,
        size,
        &mut frame,
    );
    frame.extend_from_slice(&body);
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
