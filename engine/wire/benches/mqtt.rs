//! Encode and decode throughput of a QoS 0 PUBLISH with a 100-byte payload on
//! topic "bench/topic", in batches that fill a 64 KiB buffer, for MQTT 3.1.1
//! and MQTT 5.0. Throughput is reported in messages per second.

use std::hint::black_box;

use allegro_wire::mqtt::{
    decode, encode_publish_header, publish_len, Decode, Packet, Protocol, Publish, QoS,
};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

const TOPIC: &str = "bench/topic";
const PAYLOAD: [u8; 100] = [0x5A; 100];
const BUFFER: usize = 64 * 1024;

fn protocols() -> [(Protocol, &'static str); 2] {
    [(Protocol::V311, "v3.1.1"), (Protocol::V5, "v5")]
}

/// Messages that fit in one 64 KiB buffer.
fn batch(protocol: Protocol) -> usize {
    BUFFER / publish_len(protocol, QoS::AtMostOnce, TOPIC.len(), PAYLOAD.len())
}

fn encode_benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("mqtt_publish_encode");
    for (protocol, name) in protocols() {
        let n = batch(protocol);
        group.throughput(Throughput::Elements(n as u64));
        let mut out = Vec::with_capacity(BUFFER);

        group.bench_function(BenchmarkId::new("encode_publish_header", name), |b| {
            b.iter(|| {
                out.clear();
                for _ in 0..n {
                    encode_publish_header(
                        protocol,
                        QoS::AtMostOnce,
                        false,
                        false,
                        black_box(TOPIC),
                        0,
                        PAYLOAD.len(),
                        &mut out,
                    );
                    out.extend_from_slice(black_box(&PAYLOAD));
                }
                black_box(out.len())
            })
        });

        let packet = Packet::Publish(Publish::new(TOPIC, &PAYLOAD));
        group.bench_function(BenchmarkId::new("Packet::encode", name), |b| {
            b.iter(|| {
                out.clear();
                for _ in 0..n {
                    black_box(&packet).encode(protocol, &mut out);
                }
                black_box(out.len())
            })
        });
    }
    group.finish();
}

fn decode_benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("mqtt_publish_decode");
    for (protocol, name) in protocols() {
        let n = batch(protocol);
        let mut buf = Vec::with_capacity(BUFFER);
        for _ in 0..n {
            Publish::new(TOPIC, &PAYLOAD).encode(protocol, &mut buf);
        }
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(BenchmarkId::new("decode", name), |b| {
            b.iter(|| {
                let mut rest = black_box(buf.as_slice());
                let mut bytes = 0;
                while let Ok(Decode::Complete(packet, used)) = decode(rest, protocol, BUFFER) {
                    if let Packet::Publish(p) = packet {
                        bytes += p.payload.len();
                    }
                    rest = rest.get(used..).unwrap_or_default();
                }
                assert_eq!(bytes, n * PAYLOAD.len());
                bytes
            })
        });
    }
    group.finish();
}

criterion_group!(benches, encode_benches, decode_benches);
criterion_main!(benches);
