//! Encode throughput of STOMP SEND frames and decode throughput of MESSAGE frames with a
//! 100-byte body (and a `content-length` header), in batches that fill a 64 KiB buffer.
//! Throughput is reported in messages per second.

use std::hint::black_box;

use allegro_wire::stomp::{decode, encode, Command, Item};
use allegro_wire::Decode;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

const BODY: [u8; 100] = [0x5A; 100];
const BUFFER: usize = 64 * 1024;
const SEND_HEADERS: [(&str, &str); 1] = [("destination", "/queue/bench")];
const MESSAGE_HEADERS: [(&str, &str); 3] = [
    ("subscription", "0"),
    ("message-id", "T_0@@session-bench@@1"),
    ("destination", "/queue/bench"),
];

/// Frames that fit in one 64 KiB buffer.
fn batch(command: Command, headers: &[(&str, &str)]) -> usize {
    let mut out = Vec::new();
    encode(command, headers, &BODY, &mut out);
    BUFFER / out.len()
}

fn encode_benches(c: &mut Criterion) {
    let n = batch(Command::Send, &SEND_HEADERS);
    let mut group = c.benchmark_group("stomp_send_encode");
    group.throughput(Throughput::Elements(n as u64));
    let mut out = Vec::with_capacity(BUFFER);
    group.bench_function(BenchmarkId::new("encode", "100B"), |b| {
        b.iter(|| {
            out.clear();
            for _ in 0..n {
                encode(
                    Command::Send,
                    black_box(&SEND_HEADERS),
                    black_box(&BODY),
                    &mut out,
                );
            }
            black_box(out.len())
        })
    });
    group.finish();
}

fn decode_benches(c: &mut Criterion) {
    let n = batch(Command::Message, &MESSAGE_HEADERS);
    let mut buf = Vec::with_capacity(BUFFER);
    for _ in 0..n {
        encode(Command::Message, &MESSAGE_HEADERS, &BODY, &mut buf);
    }
    let mut group = c.benchmark_group("stomp_message_decode");
    group.throughput(Throughput::Elements(n as u64));
    group.bench_function(BenchmarkId::new("decode", "100B"), |b| {
        b.iter(|| {
            let mut rest = black_box(buf.as_slice());
            let mut bytes = 0;
            while let Ok(Decode::Complete(item, used)) = decode(rest, BUFFER) {
                if let Item::Frame(f) = item {
                    bytes += f.body.len();
                }
                rest = rest.get(used..).unwrap_or_default();
            }
            assert_eq!(bytes, n * BODY.len());
            bytes
        })
    });
    group.finish();
}

criterion_group!(benches, encode_benches, decode_benches);
criterion_main!(benches);
