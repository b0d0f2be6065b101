//! AMQP 0-9-1: whatever is encoded decodes to the same value (every method, content headers
//! with any properties, tables with nested values, body frames), and every proper prefix of a
//! frame asks for more rather than failing.

use std::collections::BTreeSet;

use allegro_wire::amqp091::{
    array_values, body_frames_len, decode, encode_array, encode_body, encode_content_header,
    encode_heartbeat, encode_method, encode_table, BasicProperties, ContentHeader, Error,
    FieldValue, Frame, FrameBody, Method, Table,
};
use allegro_wire::Decode;
use proptest::prelude::*;

/// An owned field value, for generating tables.
#[derive(Debug, Clone)]
enum Value {
    Bool(bool),
    I8(i8),
    U8(u8),
    I16(i16),
    U16(u16),
    I32(i32),
    U32(u32),
    I64(i64),
    F32(f32),
    F64(f64),
    Decimal(u8, u32),
    /// Written as `FieldValue::ShortStr`, read back as `LongStr`.
    Text(String),
    Long(Vec<u8>),
    Timestamp(u64),
    Void,
    Bytes(Vec<u8>),
    Table(Vec<(String, Value)>),
    Array(Vec<Value>),
}

fn short_str() -> impl Strategy<Value = String> {
    // At most 60 chars of at most 4 bytes: always fits a short string.
    "(?s).{0,60}"
}

fn value() -> impl Strategy<Value = Value> {
    let bytes = || prop::collection::vec(any::<u8>(), 0..40);
    let leaf = prop_oneof![
        any::<bool>().prop_map(Value::Bool),
        any::<i8>().prop_map(Value::I8),
        any::<u8>().prop_map(Value::U8),
        any::<i16>().prop_map(Value::I16),
        any::<u16>().prop_map(Value::U16),
        any::<i32>().prop_map(Value::I32),
        any::<u32>().prop_map(Value::U32),
        any::<i64>().prop_map(Value::I64),
        any::<u32>().prop_map(|b| Value::F32(f32::from_bits(b))),
        any::<u64>().prop_map(|b| Value::F64(f64::from_bits(b))),
        (any::<u8>(), any::<u32>()).prop_map(|(s, v)| Value::Decimal(s, v)),
        short_str().prop_map(Value::Text),
        bytes().prop_map(Value::Long),
        any::<u64>().prop_map(Value::Timestamp),
        Just(Value::Void),
        bytes().prop_map(Value::Bytes),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec((short_str(), inner.clone()), 0..6).prop_map(Value::Table),
            prop::collection::vec(inner, 0..6).prop_map(Value::Array),
        ]
    })
}

fn table() -> impl Strategy<Value = Vec<(String, Value)>> {
    prop::collection::vec((short_str(), value()), 0..8)
}

/// The bytes of a nested table or array (with their length), empty for other values.
fn nested_bytes(v: &Value) -> Vec<u8> {
    match v {
        Value::Table(entries) => table_bytes(entries),
        Value::Array(values) => {
            let nested: Vec<Vec<u8>> = values.iter().map(nested_bytes).collect();
            let fields: Vec<FieldValue<'_>> = values
                .iter()
                .zip(&nested)
                .map(|(v, b)| field(v, b))
                .collect();
            let mut out = Vec::new();
            encode_array(&fields, &mut out);
            out
        }
        _ => Vec::new(),
    }
}

/// A table, length first, as `encode_table` writes it.
fn table_bytes(entries: &[(String, Value)]) -> Vec<u8> {
    let nested: Vec<Vec<u8>> = entries.iter().map(|(_, v)| nested_bytes(v)).collect();
    let fields: Vec<(&str, FieldValue<'_>)> = entries
        .iter()
        .zip(&nested)
        .map(|((n, v), b)| (n.as_str(), field(v, b)))
        .collect();
    let mut out = Vec::new();
    encode_table(&fields, &mut out);
    out
}

/// The field value to write for `v`, with `nested` from [`nested_bytes`].
fn field<'a>(v: &'a Value, nested: &'a [u8]) -> FieldValue<'a> {
    match v {
        Value::Bool(b) => FieldValue::Bool(*b),
        Value::I8(n) => FieldValue::I8(*n),
        Value::U8(n) => FieldValue::U8(*n),
        Value::I16(n) => FieldValue::I16(*n),
        Value::U16(n) => FieldValue::U16(*n),
        Value::I32(n) => FieldValue::I32(*n),
        Value::U32(n) => FieldValue::U32(*n),
        Value::I64(n) => FieldValue::I64(*n),
        Value::F32(n) => FieldValue::F32(*n),
        Value::F64(n) => FieldValue::F64(*n),
        Value::Decimal(s, n) => FieldValue::Decimal(*s, *n),
        Value::Text(s) => FieldValue::ShortStr(s),
        Value::Long(b) => FieldValue::LongStr(b),
        Value::Timestamp(t) => FieldValue::Timestamp(*t),
        Value::Void => FieldValue::Void,
        Value::Bytes(b) => FieldValue::Bytes(b),
        Value::Table(_) => FieldValue::Table(Table::from_raw(&nested[4..])),
        Value::Array(_) => FieldValue::Array(&nested[4..]),
    }
}

/// `got` holds what `want` describes.
fn check_value(got: FieldValue<'_>, want: &Value) {
    match (want, got) {
        (Value::Table(entries), FieldValue::Table(t)) => check_table(t, entries),
        (Value::Array(values), FieldValue::Array(raw)) => {
            let got: Vec<_> = array_values(raw).collect::<Result<_, _>>().unwrap();
            assert_eq!(got.len(), values.len());
            for (g, w) in got.into_iter().zip(values) {
                check_value(g, w);
            }
        }
        (Value::Text(s), got) => assert_eq!(got, FieldValue::LongStr(s.as_bytes())),
        (Value::F32(x), FieldValue::F32(y)) => assert_eq!(x.to_bits(), y.to_bits()),
        (Value::F64(x), FieldValue::F64(y)) => assert_eq!(x.to_bits(), y.to_bits()),
        (want, got) => assert_eq!(got, field(want, &[])),
    }
}

fn check_table(table: Table<'_>, entries: &[(String, Value)]) {
    let got: Vec<_> = table.iter().collect::<Result<_, _>>().unwrap();
    assert_eq!(got.len(), entries.len());
    for ((name, value), (n, v)) in entries.iter().zip(got) {
        assert_eq!(n, name);
        check_value(v, value);
    }
    if let Some((name, _)) = entries.first() {
        assert!(table.get(name).unwrap().is_some());
    }
}

/// Every proper prefix of `frame` is `Incomplete`, asking for no more than the rest.
fn assert_prefixes_incomplete(frame: &[u8]) {
    for cut in 0..frame.len() {
        match decode(&frame[..cut], usize::MAX) {
            Ok(Decode::Incomplete(more)) => {
                assert!(more >= 1 && cut + more <= frame.len(), "cut {cut}: {more}")
            }
            other => panic!("cut {cut} of {frame:02x?}: {other:?}"),
        }
    }
}

/// Decodes `bytes` as exactly one frame; checks its prefixes and the size limit.
fn one_frame(bytes: &[u8]) -> Frame<'_> {
    assert_prefixes_incomplete(bytes);
    assert_eq!(
        decode(bytes, bytes.len() - 1),
        Err(Error::FrameTooLarge {
            max: bytes.len() - 1
        })
    );
    match decode(bytes, bytes.len()) {
        Ok(Decode::Complete(f, n)) if n == bytes.len() => f,
        other => panic!("{bytes:02x?}: {other:?}"),
    }
}

/// Arguments for building every method.
#[derive(Debug, Clone)]
struct Pool {
    s: [String; 4],
    b: [Vec<u8>; 3],
    bits: [bool; 5],
    n8: [u8; 2],
    n16: [u16; 3],
    n32: [u32; 2],
    n64: u64,
    table: Vec<(String, Value)>,
}

fn pool() -> impl Strategy<Value = Pool> {
    let bytes = || prop::collection::vec(any::<u8>(), 0..64);
    (
        [short_str(), short_str(), short_str(), short_str()],
        [bytes(), bytes(), bytes()],
        any::<[bool; 5]>(),
        any::<[u8; 2]>(),
        any::<[u16; 3]>(),
        any::<[u32; 2]>(),
        any::<u64>(),
        table(),
    )
        .prop_map(|(s, b, bits, n8, n16, n32, n64, table)| Pool {
            s,
            b,
            bits,
            n8,
            n16,
            n32,
            n64,
            table,
        })
}

/// Every method variant, its fields taken from `p`.
fn every_method<'a>(p: &'a Pool, t: Table<'a>) -> Vec<Method<'a>> {
    let [s0, s1, s2, s3] = [&*p.s[0], &*p.s[1], &*p.s[2], &*p.s[3]];
    let [b0, b1, b2] = [&*p.b[0], &*p.b[1], &*p.b[2]];
    let [f0, f1, f2, f3, f4] = p.bits;
    let [n16a, n16b, n16c] = p.n16;
    let [n32a, n32b] = p.n32;
    vec![
        Method::ConnectionStart {
            version_major: p.n8[0],
            version_minor: p.n8[1],
            server_properties: t,
            mechanisms: b0,
            locales: b1,
        },
        Method::ConnectionStartOk {
            client_properties: t,
            mechanism: s0,
            response: b2,
            locale: s1,
        },
        Method::ConnectionSecure { challenge: b0 },
        Method::ConnectionSecureOk { response: b1 },
        Method::ConnectionTune {
            channel_max: n16a,
            frame_max: n32a,
            heartbeat: n16b,
        },
        Method::ConnectionTuneOk {
            channel_max: n16b,
            frame_max: n32b,
            heartbeat: n16c,
        },
        Method::ConnectionOpen { virtual_host: s2 },
        Method::ConnectionOpenOk,
        Method::ConnectionClose {
            reply_code: n16a,
            reply_text: s3,
            class_id: n16b,
            method_id: n16c,
        },
        Method::ConnectionCloseOk,
        Method::ConnectionBlocked { reason: s0 },
        Method::ConnectionUnblocked,
        Method::ChannelOpen,
        Method::ChannelOpenOk,
        Method::ChannelFlow { active: f0 },
        Method::ChannelFlowOk { active: f1 },
        Method::ChannelClose {
            reply_code: n16c,
            reply_text: s1,
            class_id: n16a,
            method_id: n16b,
        },
        Method::ChannelCloseOk,
        Method::ExchangeDeclare {
            exchange: s0,
            kind: s1,
            passive: f0,
            durable: f1,
            auto_delete: f2,
            internal: f3,
            no_wait: f4,
            arguments: t,
        },
        Method::ExchangeDeclareOk,
        Method::QueueDeclare {
            queue: s2,
            passive: f4,
            durable: f3,
            exclusive: f2,
            auto_delete: f1,
            no_wait: f0,
            arguments: t,
        },
        Method::QueueDeclareOk {
            queue: s3,
            message_count: n32a,
            consumer_count: n32b,
        },
        Method::QueueBind {
            queue: s0,
            exchange: s1,
            routing_key: s2,
            no_wait: f2,
            arguments: t,
        },
        Method::QueueBindOk,
        Method::QueueDelete {
            queue: s3,
            if_unused: f0,
            if_empty: f2,
            no_wait: f4,
        },
        Method::QueueDeleteOk {
            message_count: n32b,
        },
        Method::BasicQos {
            prefetch_size: n32a,
            prefetch_count: n16a,
            global: f3,
        },
        Method::BasicQosOk,
        Method::BasicConsume {
            queue: s1,
            consumer_tag: s2,
            no_local: f1,
            no_ack: f2,
            exclusive: f3,
            no_wait: f4,
            arguments: t,
        },
        Method::BasicConsumeOk { consumer_tag: s3 },
        Method::BasicCancel {
            consumer_tag: s0,
            no_wait: f1,
        },
        Method::BasicCancelOk { consumer_tag: s1 },
        Method::BasicPublish {
            exchange: s2,
            routing_key: s3,
            mandatory: f0,
            immediate: f4,
        },
        Method::BasicReturn {
            reply_code: n16b,
            reply_text: s0,
            exchange: s1,
            routing_key: s2,
        },
        Method::BasicDeliver {
            consumer_tag: s3,
            delivery_tag: p.n64,
            redelivered: f2,
            exchange: s0,
            routing_key: s1,
        },
        Method::BasicAck {
            delivery_tag: p.n64,
            multiple: f3,
        },
        Method::BasicReject {
            delivery_tag: p.n64,
            requeue: f1,
        },
        Method::BasicNack {
            delivery_tag: p.n64,
            multiple: f0,
            requeue: f3,
        },
        Method::ConfirmSelect { no_wait: f2 },
        Method::ConfirmSelectOk,
    ]
}

/// Optional short strings for the properties.
fn opt_str() -> impl Strategy<Value = Option<String>> {
    prop::option::of(short_str())
}

#[derive(Debug, Clone)]
struct Props {
    strings: [Option<String>; 10],
    headers: Option<Vec<(String, Value)>>,
    delivery_mode: Option<u8>,
    priority: Option<u8>,
    timestamp: Option<u64>,
}

fn props() -> impl Strategy<Value = Props> {
    (
        [
            opt_str(),
            opt_str(),
            opt_str(),
            opt_str(),
            opt_str(),
            opt_str(),
            opt_str(),
            opt_str(),
            opt_str(),
            opt_str(),
        ],
        prop::option::of(table()),
        any::<Option<u8>>(),
        any::<Option<u8>>(),
        any::<Option<u64>>(),
    )
        .prop_map(
            |(strings, headers, delivery_mode, priority, timestamp)| Props {
                strings,
                headers,
                delivery_mode,
                priority,
                timestamp,
            },
        )
}

fn frame_max() -> impl Strategy<Value = u32> {
    prop_oneof![Just(0u32), 9u32..300, Just(4096u32), Just(131_072u32)]
}

proptest! {
    #[test]
    fn every_method_round_trips(p in pool(), channel in any::<u16>()) {
        let table_raw = table_bytes(&p.table);
        let t = Table::from_raw(&table_raw[4..]);
        let methods = every_method(&p, t);
        let names: BTreeSet<&str> = methods.iter().map(Method::name).collect();
        prop_assert_eq!(names.len(), 40);
        for m in &methods {
            let mut out = Vec::new();
            encode_method(channel, m, &mut out);
            let f = one_frame(&out);
            prop_assert_eq!(f, Frame { channel, body: FrameBody::Method(*m) });
            let (class, method) = m.ids();
            prop_assert_eq!(&out[7..11], &[class.to_be_bytes(), method.to_be_bytes()].concat()[..]);
            let arguments = match f.body {
                FrameBody::Method(
                    Method::ConnectionStart { server_properties: t, .. }
                    | Method::ConnectionStartOk { client_properties: t, .. }
                    | Method::ExchangeDeclare { arguments: t, .. }
                    | Method::QueueDeclare { arguments: t, .. }
                    | Method::QueueBind { arguments: t, .. }
                    | Method::BasicConsume { arguments: t, .. },
                ) => Some(t),
                _ => None,
            };
            if let Some(t) = arguments {
                check_table(t, &p.table);
            }
        }
    }

    #[test]
    fn tables_with_nested_values_round_trip(entries in table()) {
        let bytes = table_bytes(&entries);
        prop_assert_eq!(bytes.len() - 4, u32::from_be_bytes(bytes[..4].try_into().unwrap()) as usize);
        check_table(Table::from_raw(&bytes[4..]), &entries);
    }

    #[test]
    fn content_headers_round_trip(pr in props(), body_size in any::<u64>(), channel in any::<u16>()) {
        let headers_raw = pr.headers.as_deref().map(table_bytes);
        let [s0, s1, s2, s3, s4, s5, s6, s7, s8, s9] = pr.strings.each_ref().map(|s| s.as_deref());
        let header = ContentHeader::new(body_size, BasicProperties {
            content_type: s0,
            content_encoding: s1,
            headers: headers_raw.as_deref().map(|b| Table::from_raw(&b[4..])),
            delivery_mode: pr.delivery_mode,
            priority: pr.priority,
            correlation_id: s2,
            reply_to: s3,
            expiration: s4,
            message_id: s5,
            timestamp: pr.timestamp,
            kind: s6,
            user_id: s7,
            app_id: s8,
            cluster_id: s9,
        });
        let mut out = Vec::new();
        encode_content_header(channel, &header, &mut out);
        let f = one_frame(&out);
        prop_assert_eq!(f, Frame { channel, body: FrameBody::Header(header) });
        if let (FrameBody::Header(h), Some(entries)) = (f.body, &pr.headers) {
            check_table(h.properties.headers.unwrap(), entries);
        }
    }

    #[test]
    fn bodies_split_and_join(
        body in prop::collection::vec(any::<u8>(), 0..12_000),
        frame_max in frame_max(),
        channel in any::<u16>(),
    ) {
        let mut out = Vec::new();
        encode_body(channel, &body, frame_max, &mut out);
        prop_assert_eq!(out.len(), body_frames_len(body.len(), frame_max));
        let limit = if frame_max == 0 { usize::MAX } else { frame_max as usize };
        let mut rest = &out[..];
        let mut joined = Vec::new();
        while !rest.is_empty() {
            let Ok(Decode::Complete(f, n)) = decode(rest, limit) else { panic!("{rest:02x?}") };
            let FrameBody::Body(part) = f.body else { panic!("{f:?}") };
            prop_assert_eq!(f.channel, channel);
            // All frames are full but the last.
            prop_assert!(n == limit || n == rest.len());
            assert_prefixes_incomplete(&rest[..n]);
            joined.extend_from_slice(part);
            rest = &rest[n..];
        }
        prop_assert_eq!(joined, body);
    }
}

#[test]
fn heartbeat_round_trips() {
    let mut out = Vec::new();
    encode_heartbeat(&mut out);
    assert_eq!(
        one_frame(&out),
        Frame {
            channel: 0,
            body: FrameBody::Heartbeat
        }
    );
}
