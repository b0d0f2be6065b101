//! Encode and decode throughput of AMQP 1.0 transfer frames carrying a data
//! message with a 100-byte body (header section `durable`, 4-byte delivery
//! tag, settled), in batches that fill a 64 KiB buffer. Throughput is
//! reported in messages per second.

use std::hint::black_box;

use allegro_wire::amqp10::{
    data_message_overhead, decode_frame, encode_data_message, encode_frame, encode_transfer_head,
    Body, FrameBody, HeaderSection, MessageLayout, MessageView, Performative, PropertiesSection,
    Transfer, Value,
};
use allegro_wire::Decode;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

const BODY: [u8; 100] = [0x5A; 100];
const BUFFER: usize = 64 * 1024;
const HEADER: HeaderSection = HeaderSection {
    durable: true,
    priority: 4,
    ttl: None,
    first_acquirer: false,
    delivery_count: 0,
};

/// One frame: transfer head, header section, data section, body.
fn frame_len(layout: &MessageLayout) -> usize {
    let mut out = Vec::new();
    let message_len = layout.message_len(BODY.len());
    encode_transfer_head(
        1,
        0,
        1 << 20,
        &[0; 4],
        0,
        true,
        false,
        message_len,
        &mut out,
    );
    out.len() + message_len
}

fn encode_benches(c: &mut Criterion) {
    let layout = MessageLayout::new(Some(&HEADER), None);
    let n = BUFFER / frame_len(&layout);
    let mut group = c.benchmark_group("amqp10_transfer_encode");
    group.throughput(Throughput::Elements(n as u64));
    let mut out = Vec::with_capacity(BUFFER);

    group.bench_function(
        BenchmarkId::new("encode_transfer_head+MessageLayout", "100B"),
        |b| {
            b.iter(|| {
                out.clear();
                for i in 0..n as u32 {
                    let id = (1 << 20) + i;
                    let message_len = layout.message_len(BODY.len());
                    encode_transfer_head(
                        1,
                        0,
                        id,
                        &id.to_be_bytes(),
                        0,
                        true,
                        false,
                        message_len,
                        &mut out,
                    );
                    layout.encode(BODY.len(), &mut out);
                    out.extend_from_slice(black_box(&BODY));
                }
                black_box(out.len())
            })
        },
    );

    group.bench_function(
        BenchmarkId::new(
            "encode_transfer_head+encode_data_message(message-id)",
            "100B",
        ),
        |b| {
            b.iter(|| {
                out.clear();
                for i in 0..n as u32 {
                    let id = (1 << 20) + i;
                    let properties = PropertiesSection {
                        message_id: Some(Value::Ulong(u64::from(id))),
                        ..PropertiesSection::default()
                    };
                    let message_len =
                        data_message_overhead(Some(&HEADER), Some(&properties), BODY.len())
                            + BODY.len();
                    encode_transfer_head(
                        1,
                        0,
                        id,
                        &id.to_be_bytes(),
                        0,
                        true,
                        false,
                        message_len,
                        &mut out,
                    );
                    encode_data_message(Some(&HEADER), Some(&properties), BODY.len(), &mut out);
                    out.extend_from_slice(black_box(&BODY));
                }
                black_box(out.len())
            })
        },
    );

    let mut message = Vec::new();
    group.bench_function(
        BenchmarkId::new("encode_frame(Transfer)+MessageView::encode", "100B"),
        |b| {
            b.iter(|| {
                out.clear();
                for i in 0..n as u32 {
                    let id = (1 << 20) + i;
                    let tag = id.to_be_bytes();
                    let mut m = MessageView::new(Body::Data(black_box(&BODY)));
                    m.header = Some(HEADER);
                    message.clear();
                    m.encode(&mut message);
                    let transfer = Transfer {
                        settled: true,
                        ..Transfer::first(0, id, &tag)
                    };
                    encode_frame(1, &Performative::Transfer(transfer), &message, &mut out);
                }
                black_box(out.len())
            })
        },
    );
    group.finish();
}

fn decode_benches(c: &mut Criterion) {
    let layout = MessageLayout::new(Some(&HEADER), None);
    let n = BUFFER / frame_len(&layout);
    let mut buf = Vec::with_capacity(BUFFER);
    for i in 0..n as u32 {
        let id = (1 << 20) + i;
        encode_transfer_head(
            1,
            0,
            id,
            &id.to_be_bytes(),
            0,
            true,
            false,
            layout.message_len(BODY.len()),
            &mut buf,
        );
        layout.encode(BODY.len(), &mut buf);
        buf.extend_from_slice(&BODY);
    }
    let mut group = c.benchmark_group("amqp10_transfer_decode");
    group.throughput(Throughput::Elements(n as u64));
    group.bench_function(
        BenchmarkId::new("decode_frame+MessageView::decode", "100B"),
        |b| {
            b.iter(|| {
                let mut rest = black_box(buf.as_slice());
                let mut bytes = 0;
                while let Ok(Decode::Complete(frame, used)) = decode_frame(rest, BUFFER as u32) {
                    if let FrameBody::Amqp {
                        performative: Performative::Transfer(t),
                        payload,
                    } = frame.body
                    {
                        if let (Some(_), Ok(m)) = (t.delivery_id, MessageView::decode(payload)) {
                            if let Body::Data(body) = m.body {
                                bytes += body.len();
                            }
                        }
                    }
                    rest = rest.get(used..).unwrap_or_default();
                }
                assert_eq!(bytes, n * BODY.len());
                bytes
            })
        },
    );
    group.finish();
}

criterion_group!(benches, encode_benches, decode_benches);
criterion_main!(benches);
