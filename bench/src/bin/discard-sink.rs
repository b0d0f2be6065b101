//! A minimal broker sink for measuring a sender's ceiling: accepts connections, answers an MQTT
//! CONNECT with CONNACK, a STOMP CONNECT with CONNECTED (no heart-beats), or an AMQP 0-9-1
//! client's opening up to its first `basic.publish` (start, tune without heart-beats, open,
//! channel, queue.declare, confirm.select), then discards every byte with `recv(MSG_TRUNC)` (the kernel drops the data
//! without copying it), so the sender, not the sink, is what gets measured.
//!
//! `discard-sink --port P [--bind ADDR] [--cpu C] [--connections N]` (ADDR default 127.0.0.1)
//! prints `listening PORT` once ready, and
//! after N connections have closed one JSON line: bytes, seconds (first to last byte), and the
//! rate.

use allegro_wire::mqtt::{self, Decode, Packet, Protocol};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::time::Instant;

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let port: u16 = arg(&args, "--port")
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let conns: usize = arg(&args, "--connections")
        .and_then(|p| p.parse().ok())
        .unwrap_or(1);
    if let Some(cpu) = arg(&args, "--cpu").and_then(|c| c.parse().ok()) {
        if let Err(e) = allegro_engine::placement::pin_current_thread(cpu) {
            eprintln!("discard-sink: cannot pin to CPU {cpu}: {e}");
        }
    }
    let bind = arg(&args, "--bind").unwrap_or_else(|| "127.0.0.1".into());
    let listener = TcpListener::bind((bind.as_str(), port)).unwrap_or_else(|e| {
        eprintln!("discard-sink: cannot listen on {bind} port {port}: {e}");
        std::process::exit(1)
    });
    println!(
        "listening {}",
        listener.local_addr().map(|a| a.port()).unwrap_or(0)
    );
    let _ = std::io::stdout().flush();
    let mut handles = Vec::new();
    for _ in 0..conns {
        let Ok((s, _)) = listener.accept() else { break };
        handles.push(std::thread::spawn(move || serve(s)));
    }
    let mut bytes = 0u64;
    let mut first: Option<Instant> = None;
    let mut last: Option<Instant> = None;
    for h in handles {
        if let Ok(Some((b, f, l))) = h.join() {
            bytes += b;
            first = Some(first.map_or(f, |x: Instant| x.min(f)));
            last = Some(last.map_or(l, |x: Instant| x.max(l)));
        }
    }
    let secs = match (first, last) {
        (Some(f), Some(l)) => (l - f).as_secs_f64(),
        _ => 0.0,
    };
    let rate = if secs > 0.0 { bytes as f64 / secs } else { 0.0 };
    println!("{{\"bytes\":{bytes},\"seconds\":{secs:.6},\"bytes_per_second\":{rate:.0}}}");
}

/// Handshake, then discard; returns bytes after the CONNECT and the first/last arrival times.
fn serve(mut s: TcpStream) -> Option<(u64, Instant, Instant)> {
    let _ = s.set_nodelay(true);
    let mut buf = vec![0u8; 256 * 1024];
    let mut have = 0;
    let (protocol, used) = loop {
        let n = s.read(&mut buf[have..]).ok()?;
        if n == 0 {
            return None;
        }
        have += n;
        if buf[0] == b'A' {
            if have < 8 {
                continue;
            }
            let used = amqp091_opening(&mut s, &mut buf, &mut have)?;
            break (None, used);
        }
        // STOMP: CONNECT (or STOMP) up to its NUL.
        if matches!(buf[0], b'C' | b'S') {
            match buf[..have].iter().position(|&b| b == 0) {
                Some(end) => break (None, end + 1),
                None if have < buf.len() => continue,
                None => return None,
            }
        }
        // The level byte decides how the CONNECT is read; both are accepted.
        match mqtt::decode(&buf[..have], Protocol::V311, buf.len()) {
            Ok(Decode::Complete(Packet::Connect(c), used)) => break (Some(c.protocol), used),
            Ok(Decode::Incomplete(_)) if have < buf.len() => continue,
            _ => return None,
        }
    };
    let connack: &[u8] = match protocol {
        Some(Protocol::V5) => &[0x20, 3, 0, 0, 0],
        Some(Protocol::V311) => &[0x20, 2, 0, 0],
        None => b"CONNECTED\nversion:1.2\nheart-beat:0,0\n\n\0",
    };
    if buf[0] != b'A' {
        s.write_all(connack).ok()?;
    }
    let mut bytes = (have - used) as u64;
    let mut first = (bytes > 0).then(Instant::now);
    let mut last = Instant::now();
    let fd = s.as_raw_fd();
    loop {
        // SAFETY: `buf` is valid for `buf.len()` bytes; with MSG_TRUNC the kernel discards TCP
        // data instead of copying it, and never writes past the length given.
        let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_TRUNC) };
        if n <= 0 {
            break;
        }
        let now = Instant::now();
        first.get_or_insert(now);
        last = now;
        bytes += n as u64;
    }
    Some((bytes, first.unwrap_or(last), last))
}

/// Plays the broker's side of an AMQP 0-9-1 opening (§2.2.4) until the client's first
/// `basic.publish`; returns where that frame starts in `buf[..have]`.
fn amqp091_opening(s: &mut TcpStream, buf: &mut [u8], have: &mut usize) -> Option<usize> {
    use allegro_wire::amqp091::{self as w, Method, Table};
    let mut out = Vec::new();
    w::encode_method(
        0,
        &Method::ConnectionStart {
            version_major: 0,
            version_minor: 9,
            server_properties: Table::EMPTY,
            mechanisms: b"PLAIN",
            locales: b"en_US",
        },
        &mut out,
    );
    s.write_all(&out).ok()?;
    let mut at = 8;
    loop {
        let frame = match w::decode(&buf[at..*have], buf.len()) {
            Ok(Decode::Complete(f, n)) => Some((f, n)),
            Ok(Decode::Incomplete(_)) => None,
            Err(_) => return None,
        };
        let Some((f, n)) = frame else {
            let got = s.read(&mut buf[*have..]).ok()?;
            if got == 0 {
                return None;
            }
            *have += got;
            continue;
        };
        out.clear();
        let reply = match f.body {
            w::FrameBody::Method(Method::BasicPublish { .. }) => return Some(at),
            w::FrameBody::Method(Method::ConnectionStartOk { .. }) => {
                Some(Method::ConnectionTune {
                    channel_max: 16,
                    frame_max: 131_072,
                    heartbeat: 0,
                })
            }
            w::FrameBody::Method(Method::ConnectionOpen { .. }) => Some(Method::ConnectionOpenOk),
            w::FrameBody::Method(Method::ChannelOpen) => Some(Method::ChannelOpenOk),
            w::FrameBody::Method(Method::QueueDeclare { queue, .. }) => {
                Some(Method::QueueDeclareOk {
                    queue,
                    message_count: 0,
                    consumer_count: 0,
                })
            }
            w::FrameBody::Method(Method::ConfirmSelect { .. }) => Some(Method::ConfirmSelectOk),
            _ => None,
        };
        if let Some(m) = reply {
            w::encode_method(f.channel, &m, &mut out);
            s.write_all(&out).ok()?;
        }
        at += n;
    }
}
