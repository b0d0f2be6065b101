//! Encode and decode throughput of AMQP 0-9-1 messages with a 100-byte body: a method frame
//! (`basic.publish` to encode, `basic.deliver` to decode), a content header (delivery-mode 2)
//! and one body frame, in batches that fill a 64 KiB buffer. Throughput is reported in
//! messages per second.

use std::hint::black_box;

use allegro_wire::amqp091::{
    decode, encode_body, encode_content_header, encode_method, BasicProperties, ContentHeader,
    FrameBody, Method,
};
use allegro_wire::Decode;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

const BODY: [u8; 100] = [0x5A; 100];
const BUFFER: usize = 64 * 1024;
const FRAME_MAX: u32 = 131_072;

const HEADER: ContentHeader<'static> = ContentHeader::new(
    BODY.len() as u64,
    BasicProperties {
        content_type: None,
        content_encoding: None,
        headers: None,
        delivery_mode: Some(2),
        priority: None,
        correlation_id: None,
        reply_to: None,
        expiration: None,
        message_id: None,
        timestamp: None,
        kind: None,
        user_id: None,
        app_id: None,
        cluster_id: None,
    },
);

const PUBLISH: Method<'static> = Method::BasicPublish {
    exchange: "bench",
    routing_key: "bench.key",
    mandatory: false,
    immediate: false,
};

fn deliver(delivery_tag: u64) -> Method<'static> {
    Method::BasicDeliver {
        consumer_tag: "amq.ctag-bench",
        delivery_tag,
        redelivered: false,
        exchange: "bench",
        routing_key: "bench.key",
    }
}

/// One message: method frame, content header frame, body frame.
fn message(method: &Method<'_>, out: &mut Vec<u8>) {
    encode_method(1, method, out);
    encode_content_header(1, &HEADER, out);
    encode_body(1, &BODY, FRAME_MAX, out);
}

/// Messages that fit in one 64 KiB buffer.
fn batch(method: &Method<'_>) -> usize {
    let mut out = Vec::new();
    message(method, &mut out);
    BUFFER / out.len()
}

fn encode_benches(c: &mut Criterion) {
    let n = batch(&PUBLISH);
    let mut group = c.benchmark_group("amqp091_publish_encode");
    group.throughput(Throughput::Elements(n as u64));
    let mut out = Vec::with_capacity(BUFFER);
    group.bench_function(
        BenchmarkId::new("encode_method+encode_content_header+encode_body", "100B"),
        |b| {
            b.iter(|| {
                out.clear();
                for _ in 0..n {
                    encode_method(1, black_box(&PUBLISH), &mut out);
                    encode_content_header(1, black_box(&HEADER), &mut out);
                    encode_body(1, black_box(&BODY), FRAME_MAX, &mut out);
                }
                black_box(out.len())
            })
        },
    );
    group.finish();
}

fn decode_benches(c: &mut Criterion) {
    let n = batch(&deliver(1 << 40));
    let mut buf = Vec::with_capacity(BUFFER);
    for i in 0..n as u64 {
        message(&deliver((1 << 40) + i), &mut buf);
    }
    let mut group = c.benchmark_group("amqp091_deliver_decode");
    group.throughput(Throughput::Elements(n as u64));
    group.bench_function(BenchmarkId::new("decode", "100B"), |b| {
        b.iter(|| {
            let mut rest = black_box(buf.as_slice());
            let (mut bytes, mut tags) = (0, 0u64);
            while let Ok(Decode::Complete(frame, used)) = decode(rest, FRAME_MAX as usize) {
                match frame.body {
                    FrameBody::Method(Method::BasicDeliver { delivery_tag, .. }) => {
                        tags = tags.wrapping_add(delivery_tag)
                    }
                    FrameBody::Body(body) => bytes += body.len(),
                    _ => {}
                }
                rest = rest.get(used..).unwrap_or_default();
            }
            assert_eq!(bytes, n * BODY.len());
            (bytes, tags)
        })
    });
    group.finish();
}

criterion_group!(benches, encode_benches, decode_benches);
criterion_main!(benches);
