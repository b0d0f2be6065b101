//! Replays the cargo-fuzz seed corpora (`fuzz/corpus/*`) through the same
//! check the fuzz targets run, so CI exercises them without cargo-fuzz.
//! Seeds named `valid-*` must decode completely; `malformed-*` must not.

use std::fs;
use std::path::Path;

use allegro_wire::amqp091;
use allegro_wire::amqp10::{fuzz_check_frame, fuzz_check_message};
use allegro_wire::mqtt::{fuzz_check, Protocol};
use allegro_wire::stomp;
use allegro_wire::Decode;

/// Run `check` over every seed of `target`; it says whether the seed decoded
/// completely, using all of its bytes (and panics if an invariant breaks).
fn replay(target: &str, check: impl Fn(&[u8]) -> (bool, String)) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<_> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("corpus entry").path())
        .collect();
    files.sort();
    assert!(
        files.len() >= 15,
        "{}: only {} seeds",
        dir.display(),
        files.len()
    );
    for path in files {
        let data = fs::read(&path).expect("corpus file");
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let (complete, outcome) = check(&data);
        if name.starts_with("valid-") {
            assert!(complete, "{name}: {outcome}");
        } else if name.starts_with("malformed-") {
            assert!(!complete, "{name}: {outcome}");
        }
    }
}

fn mqtt(protocol: Protocol) -> impl Fn(&[u8]) -> (bool, String) {
    move |data| {
        let outcome = fuzz_check(data, protocol);
        (
            matches!(outcome, Ok(Decode::Complete(_, n)) if n == data.len()),
            format!("{outcome:?}"),
        )
    }
}

#[test]
fn corpus_v311() {
    replay("mqtt_decode_v311", mqtt(Protocol::V311));
}

#[test]
fn corpus_v5() {
    replay("mqtt_decode_v5", mqtt(Protocol::V5));
}

#[test]
fn corpus_amqp10_frame() {
    replay("amqp10_frame", |data| {
        let outcome = fuzz_check_frame(data);
        (
            matches!(outcome, Ok(Decode::Complete(_, n)) if n == data.len()),
            format!("{outcome:?}"),
        )
    });
}

#[test]
fn corpus_amqp10_message() {
    replay("amqp10_message", |data| {
        let outcome = fuzz_check_message(data);
        (outcome.is_ok(), format!("{outcome:?}"))
    });
}

#[test]
fn corpus_stomp_frame() {
    replay("stomp_frame", |data| {
        let outcome = stomp::fuzz_check(data);
        (
            matches!(outcome, Ok(Decode::Complete(_, n)) if n == data.len()),
            format!("{outcome:?}"),
        )
    });
}

#[test]
fn corpus_amqp091_frame() {
    replay("amqp091_frame", |data| {
        let outcome = amqp091::fuzz_check(data);
        (
            matches!(outcome, Ok(Decode::Complete(_, n)) if n == data.len()),
            format!("{outcome:?}"),
        )
    });
}

/// The seeds of `fuzz/corpus/amqp091_frame`, by file name.
fn amqp091_seeds() -> Vec<(&'static str, Vec<u8>)> {
    use amqp091::{
        encode_body, encode_content_header, encode_heartbeat, encode_method, encode_table,
        BasicProperties, ContentHeader, FieldValue as V, Method, Table,
    };
    let method = |channel: u16, m: Method<'_>| {
        let mut out = Vec::new();
        encode_method(channel, &m, &mut out);
        out
    };
    let table = |entries: &[(&str, V<'_>)]| {
        let mut out = Vec::new();
        encode_table(entries, &mut out);
        out
    };
    let capabilities = table(&[
        ("publisher_confirms", V::Bool(true)),
        ("exchange_exchange_bindings", V::Bool(true)),
        ("basic.nack", V::Bool(true)),
        ("consumer_cancel_notify", V::Bool(true)),
        ("connection.blocked", V::Bool(true)),
        ("authentication_failure_close", V::Bool(true)),
    ]);
    let server_properties = table(&[
        (
            "capabilities",
            V::Table(Table::from_raw(&capabilities[4..])),
        ),
        ("cluster_name", V::LongStr(b"rabbit@broker-1")),
        ("platform", V::LongStr(b"Erlang/OTP 26.2.5")),
        ("product", V::LongStr(b"RabbitMQ")),
        ("version", V::LongStr(b"3.13.7")),
    ]);
    let client_properties = table(&[
        ("product", V::ShortStr("Allegro")),
        (
            "capabilities",
            V::Table(Table::from_raw(&capabilities[4..])),
        ),
        ("connection_name", V::LongStr(b"allegro-0")),
    ]);
    let mut array = Vec::new();
    amqp091::encode_array(
        &[V::I32(1), V::LongStr(b"x"), V::Void, V::F64(0.5)],
        &mut array,
    );
    let queue_arguments = table(&[
        ("x-queue-type", V::LongStr(b"quorum")),
        ("x-message-ttl", V::I32(60_000)),
        ("x-max-length", V::I64(1 << 40)),
        ("x-list", V::Array(&array[4..])),
    ]);
    let headers = table(&[
        ("t", V::Bool(false)),
        ("b", V::I8(-1)),
        ("B", V::U8(1)),
        ("s", V::I16(-2)),
        ("u", V::U16(2)),
        ("I", V::I32(-3)),
        ("i", V::U32(3)),
        ("l", V::I64(-4)),
        ("f", V::F32(1.5)),
        ("d", V::F64(f64::NAN)),
        ("D", V::Decimal(2, 314)),
        ("S", V::LongStr("ünïcode".as_bytes())),
        ("A", V::Array(&array[4..])),
        ("T", V::Timestamp(1_700_000_000)),
        ("F", V::Table(Table::from_raw(&capabilities[4..]))),
        ("V", V::Void),
        ("x", V::Bytes(&[0, 1, 2, 0xFF])),
    ]);
    // A table that decodes as a frame but fails when iterated: unknown type 'Z'.
    let bad_table: &[u8] = &[1, b'a', b'I', 0, 0, 0, 1, 1, b'b', b'Z', 0];
    fn t(raw: &[u8]) -> Table<'_> {
        Table::from_raw(&raw[4..])
    }
    let content = |channel: u16, h: ContentHeader<'_>| {
        let mut out = Vec::new();
        encode_content_header(channel, &h, &mut out);
        out
    };
    let mut body = Vec::new();
    encode_body(1, b"hello, broker", 4096, &mut body);
    let mut heartbeat = Vec::new();
    encode_heartbeat(&mut heartbeat);
    let mut trailing = vec![
        1, 0, 1, 0, 0, 0, 11, 0, 60, 0, 40, 0, 0, 0, 1, b'q', 0b11, 0xAB,
    ];
    trailing.push(0xCE);
    let mut bad_end = method(
        1,
        Method::BasicAck {
            delivery_tag: 1,
            multiple: false,
        },
    );
    *bad_end.last_mut().unwrap() = 0xCD;

    vec![
        (
            "valid-connection-start.bin",
            method(
                0,
                Method::ConnectionStart {
                    version_major: 0,
                    version_minor: 9,
                    server_properties: t(&server_properties),
                    mechanisms: b"AMQPLAIN PLAIN",
                    locales: b"en_US",
                },
            ),
        ),
        (
            "valid-connection-start-ok.bin",
            method(
                0,
                Method::ConnectionStartOk {
                    client_properties: t(&client_properties),
                    mechanism: "PLAIN",
                    response: b"\0guest\0guest",
                    locale: "en_US",
                },
            ),
        ),
        (
            "valid-connection-tune.bin",
            method(
                0,
                Method::ConnectionTune {
                    channel_max: 2047,
                    frame_max: 131_072,
                    heartbeat: 60,
                },
            ),
        ),
        (
            "valid-connection-open.bin",
            method(0, Method::ConnectionOpen { virtual_host: "/" }),
        ),
        (
            "valid-connection-close.bin",
            method(
                0,
                Method::ConnectionClose {
                    reply_code: 320,
                    reply_text: "CONNECTION_FORCED - broker forced connection closure",
                    class_id: 0,
                    method_id: 0,
                },
            ),
        ),
        (
            "valid-connection-blocked.bin",
            method(
                0,
                Method::ConnectionBlocked {
                    reason: "low on memory",
                },
            ),
        ),
        (
            "valid-channel-open-ok.bin",
            method(1, Method::ChannelOpenOk),
        ),
        (
            "valid-channel-flow.bin",
            method(1, Method::ChannelFlow { active: true }),
        ),
        (
            "valid-exchange-declare.bin",
            method(
                1,
                Method::ExchangeDeclare {
                    exchange: "bench",
                    kind: "topic",
                    passive: false,
                    durable: true,
                    auto_delete: false,
                    internal: false,
                    no_wait: false,
                    arguments: t(&table(&[("alternate-exchange", V::LongStr(b"ae"))])),
                },
            ),
        ),
        (
            "valid-queue-declare.bin",
            method(
                1,
                Method::QueueDeclare {
                    queue: "bench.q",
                    passive: false,
                    durable: true,
                    exclusive: false,
                    auto_delete: false,
                    no_wait: false,
                    arguments: t(&queue_arguments),
                },
            ),
        ),
        (
            "valid-queue-declare-ok.bin",
            method(
                1,
                Method::QueueDeclareOk {
                    queue: "amq.gen-JzTY20BRgKO-HjmUJj0wLg",
                    message_count: 0,
                    consumer_count: 1,
                },
            ),
        ),
        (
            "valid-queue-bind.bin",
            method(
                1,
                Method::QueueBind {
                    queue: "bench.q",
                    exchange: "bench",
                    routing_key: "a.*.c",
                    no_wait: true,
                    arguments: Table::EMPTY,
                },
            ),
        ),
        (
            "valid-basic-qos.bin",
            method(
                1,
                Method::BasicQos {
                    prefetch_size: 0,
                    prefetch_count: 250,
                    global: false,
                },
            ),
        ),
        (
            "valid-basic-consume.bin",
            method(
                1,
                Method::BasicConsume {
                    queue: "bench.q",
                    consumer_tag: "",
                    no_local: false,
                    no_ack: true,
                    exclusive: true,
                    no_wait: false,
                    arguments: t(&table(&[("x-priority", V::I32(10))])),
                },
            ),
        ),
        (
            "valid-basic-publish.bin",
            method(
                1,
                Method::BasicPublish {
                    exchange: "bench",
                    routing_key: "a.b.c",
                    mandatory: true,
                    immediate: false,
                },
            ),
        ),
        (
            "valid-basic-deliver.bin",
            method(
                1,
                Method::BasicDeliver {
                    consumer_tag: "amq.ctag-m4N2ZqYyJh7kL9fWx3Rr1A",
                    delivery_tag: 1_000_001,
                    redelivered: true,
                    exchange: "bench",
                    routing_key: "a.b.c",
                },
            ),
        ),
        (
            "valid-basic-ack-multiple.bin",
            method(
                1,
                Method::BasicAck {
                    delivery_tag: 512,
                    multiple: true,
                },
            ),
        ),
        (
            "valid-basic-nack.bin",
            method(
                1,
                Method::BasicNack {
                    delivery_tag: 7,
                    multiple: true,
                    requeue: true,
                },
            ),
        ),
        (
            "valid-confirm-select.bin",
            method(1, Method::ConfirmSelect { no_wait: false }),
        ),
        (
            "valid-content-header-persistent.bin",
            content(
                1,
                ContentHeader::new(
                    13,
                    BasicProperties {
                        content_type: Some("application/octet-stream"),
                        headers: Some(t(&headers)),
                        delivery_mode: Some(2),
                        ..BasicProperties::default()
                    },
                ),
            ),
        ),
        (
            "valid-content-header-all-properties.bin",
            content(
                1,
                ContentHeader::new(
                    1 << 33,
                    BasicProperties {
                        content_type: Some("text/plain"),
                        content_encoding: Some("gzip"),
                        headers: Some(Table::EMPTY),
                        delivery_mode: Some(1),
                        priority: Some(9),
                        correlation_id: Some("c-1"),
                        reply_to: Some("amq.rabbitmq.reply-to"),
                        expiration: Some("60000"),
                        message_id: Some("m-1"),
                        timestamp: Some(1_700_000_000),
                        kind: Some("bench"),
                        user_id: Some("guest"),
                        app_id: Some("allegro"),
                        cluster_id: Some(""),
                    },
                ),
            ),
        ),
        ("valid-body.bin", body),
        ("valid-heartbeat.bin", heartbeat),
        ("valid-trailing-bytes.bin", trailing),
        (
            "valid-arguments-bad-inside.bin",
            method(
                1,
                Method::QueueDeclare {
                    queue: "q",
                    passive: true,
                    durable: false,
                    exclusive: false,
                    auto_delete: false,
                    no_wait: false,
                    arguments: Table::from_raw(bad_table),
                },
            ),
        ),
        ("malformed-bad-frame-end.bin", bad_end),
        // basic.get (60/70) is not among the methods this codec knows.
        (
            "malformed-unknown-method.bin",
            vec![1, 0, 1, 0, 0, 0, 7, 0, 60, 0, 70, 0, 0, 0, 0xCE],
        ),
        (
            "malformed-truncated-ack.bin",
            vec![1, 0, 1, 0, 0, 0, 8, 0, 60, 0, 80, 0, 0, 0, 1, 0xCE],
        ),
        (
            "malformed-unknown-frame-type.bin",
            vec![4, 0, 1, 0, 0, 0, 0, 0xCE],
        ),
        (
            "malformed-protocol-header.bin",
            b"AMQP\x00\x00\x09\x01".to_vec(),
        ),
        (
            "malformed-heartbeat-on-channel.bin",
            vec![8, 0, 1, 0, 0, 0, 0, 0xCE],
        ),
        (
            "malformed-content-class.bin",
            vec![
                2, 0, 1, 0, 0, 0, 14, 0, 50, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xCE,
            ],
        ),
        (
            "malformed-invalid-utf8.bin",
            vec![1, 0, 1, 0, 0, 0, 6, 0, 60, 0, 21, 1, 0xC0, 0xCE],
        ),
        ("malformed-incomplete-deliver.bin", {
            let mut v = method(
                1,
                Method::BasicDeliver {
                    consumer_tag: "c",
                    delivery_tag: 1,
                    redelivered: false,
                    exchange: "",
                    routing_key: "q",
                },
            );
            v.truncate(v.len() - 3);
            v
        }),
    ]
}

/// The seeds on disk are the ones `amqp091_seeds` makes. After changing `amqp091_seeds`, run
/// `ALLEGRO_WRITE_CORPUS=1 cargo test -p allegro-wire --test fuzz_corpus amqp091_corpus` once
/// to write them.
#[test]
fn amqp091_corpus_is_up_to_date() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/amqp091_frame");
    let write = std::env::var_os("ALLEGRO_WRITE_CORPUS").is_some();
    if write {
        fs::create_dir_all(&dir).expect("corpus directory");
    }
    for (name, bytes) in amqp091_seeds() {
        if write {
            fs::write(dir.join(name), &bytes).expect("seed");
        }
        let on_disk = fs::read(dir.join(name)).unwrap_or_default();
        assert!(
            on_disk == bytes,
            "{name} differs: run with ALLEGRO_WRITE_CORPUS=1 to write the seeds"
        );
    }
}
