//! Property tests for the AMQP 1.0 codec: values re-encode to the same
//! (smallest) bytes, every performative, SASL frame and message round-trips
//! through encode/decode with an exact `encoded_len`, every strict prefix of
//! a frame is `Incomplete`, and arbitrary or mutated bytes never make any
//! decoder panic.

use allegro_wire::amqp10::{
    condition, decode_frame, decode_value, encode_data_message, encode_frame, encode_sasl_frame,
    encode_transfer_head, fuzz_check_frame, fuzz_check_message, AmqpError, Attach, Begin, Body,
    Close, Counter, DeliveryState, Descriptor, Detach, Disposition, Encoder, End, Error, Flow,
    Frame, FrameBody, HeaderSection, MapView, MessageLayout, MessageView, Open, Performative,
    PropertiesSection, ProtocolHeader, ReceiverSettleMode, Role, SaslFrame, SenderSettleMode,
    Source, Symbols, Target, Transfer, Value,
};
use allegro_wire::Decode;
use proptest::collection::vec;
use proptest::option::of;
use proptest::prelude::*;

// Generated structs borrow `'static` data: leaking a few bytes per case keeps
// the strategies simple and is fine in a test process.
fn leak_str(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

fn leak<T>(v: Vec<T>) -> &'static [T] {
    Box::leak(v.into_boxed_slice())
}

fn text() -> impl Strategy<Value = &'static str> {
    "[a-zA-Z0-9 _/:.é€😀-]{0,12}".prop_map(leak_str)
}

fn sym() -> impl Strategy<Value = &'static str> {
    "[a-z][a-z0-9:._-]{0,15}".prop_map(leak_str)
}

fn binary(max: usize) -> impl Strategy<Value = &'static [u8]> {
    vec(any::<u8>(), 0..max).prop_map(leak)
}

fn symbols() -> BoxedStrategy<Symbols<'static>> {
    prop_oneof![
        3 => vec(sym(), 0..4).prop_map(|v| Symbols::List(leak(v))),
        1 => sym().prop_map(Symbols::One),
    ]
    .boxed()
}

/// A `fields` map (symbol keys, simple values), decoded from its encoding.
fn fields_map() -> BoxedStrategy<MapView<'static>> {
    vec((sym(), text(), any::<u32>()), 0..4)
        .prop_map(|entries| {
            let mut bytes = Vec::new();
            Encoder::new(&mut bytes).map(|e| {
                for (k, s, n) in &entries {
                    e.symbol(k);
                    if n % 2 == 0 {
                        e.string(s);
                    } else {
                        e.uint(*n);
                    }
                }
            });
            match decode_value(leak(bytes)) {
                Ok((Value::Map(map), [])) => map,
                other => panic!("{other:?}"),
            }
        })
        .boxed()
}

// ---------------------------------------------------------------- values

/// A test-side value tree, encoded through the `Encoder`.
#[derive(Debug, Clone)]
enum Tree {
    Null,
    Bool(bool),
    Ubyte(u8),
    Ushort(u16),
    Uint(u32),
    Ulong(u64),
    Byte(i8),
    Short(i16),
    Int(i32),
    Long(i64),
    Float(u32),
    Double(u64),
    Decimal32([u8; 4]),
    Decimal64([u8; 8]),
    Decimal128([u8; 16]),
    Char(char),
    Timestamp(i64),
    Uuid([u8; 16]),
    Binary(Vec<u8>),
    String(String),
    Symbol(String),
    List(Vec<Tree>),
    Map(Vec<(Tree, Tree)>),
    Symbols(Vec<String>),
    Uints(Vec<u32>),
    Described(Result<u64, String>, Box<Tree>),
}

fn leaf() -> BoxedStrategy<Tree> {
    prop_oneof![
        Just(Tree::Null),
        any::<bool>().prop_map(Tree::Bool),
        any::<u8>().prop_map(Tree::Ubyte),
        any::<u16>().prop_map(Tree::Ushort),
        prop_oneof![Just(0u32), 0..256u32, any::<u32>()].prop_map(Tree::Uint),
        prop_oneof![Just(0u64), 0..256u64, any::<u64>()].prop_map(Tree::Ulong),
        any::<i8>().prop_map(Tree::Byte),
        any::<i16>().prop_map(Tree::Short),
        prop_oneof![-128..128i32, any::<i32>()].prop_map(Tree::Int),
        prop_oneof![-128..128i64, any::<i64>()].prop_map(Tree::Long),
        any::<u32>().prop_map(Tree::Float),
        any::<u64>().prop_map(Tree::Double),
        any::<[u8; 4]>().prop_map(Tree::Decimal32),
        any::<[u8; 8]>().prop_map(Tree::Decimal64),
        any::<[u8; 16]>().prop_map(Tree::Decimal128),
        any::<char>().prop_map(Tree::Char),
        any::<i64>().prop_map(Tree::Timestamp),
        any::<[u8; 16]>().prop_map(Tree::Uuid),
        prop_oneof![vec(any::<u8>(), 0..8), vec(any::<u8>(), 250..300)].prop_map(Tree::Binary),
        prop_oneof!["\\PC{0,8}", "[a-z]{250,300}"].prop_map(Tree::String),
        prop_oneof!["[ -~]{0,8}", "[a-z]{256,260}"].prop_map(Tree::Symbol),
        vec("[a-z]{0,6}", 0..4).prop_map(Tree::Symbols),
        vec(any::<u32>(), 0..4).prop_map(Tree::Uints),
    ]
    .boxed()
}

fn tree() -> BoxedStrategy<Tree> {
    leaf()
        .prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                vec(inner.clone(), 0..8).prop_map(Tree::List),
                vec((inner.clone(), inner.clone()), 0..4).prop_map(Tree::Map),
                (
                    prop_oneof![any::<u64>().prop_map(Ok), "[a-z:]{1,20}".prop_map(Err)],
                    inner
                )
                    .prop_map(|(d, t)| Tree::Described(d, Box::new(t))),
            ]
        })
        .boxed()
}

impl Tree {
    fn encode<S: allegro_wire::amqp10::Sink>(&self, e: &mut Encoder<'_, S>) {
        match self {
            Tree::Null => e.null(),
            Tree::Bool(v) => e.bool(*v),
            Tree::Ubyte(v) => e.ubyte(*v),
            Tree::Ushort(v) => e.ushort(*v),
            Tree::Uint(v) => e.uint(*v),
            Tree::Ulong(v) => e.ulong(*v),
            Tree::Byte(v) => e.byte(*v),
            Tree::Short(v) => e.short(*v),
            Tree::Int(v) => e.int(*v),
            Tree::Long(v) => e.long(*v),
            Tree::Float(bits) => e.float(f32::from_bits(*bits)),
            Tree::Double(bits) => e.double(f64::from_bits(*bits)),
            Tree::Decimal32(v) => e.decimal32(*v),
            Tree::Decimal64(v) => e.decimal64(*v),
            Tree::Decimal128(v) => e.decimal128(*v),
            Tree::Char(v) => e.char(*v),
            Tree::Timestamp(v) => e.timestamp(*v),
            Tree::Uuid(v) => e.uuid(*v),
            Tree::Binary(v) => e.binary(v),
            Tree::String(v) => e.string(v),
            Tree::Symbol(v) => e.symbol(v),
            Tree::List(items) => e.list(|e| items.iter().for_each(|t| t.encode(e))),
            Tree::Map(entries) => e.map(|e| {
                for (k, v) in entries {
                    k.encode(e);
                    v.encode(e);
                }
            }),
            Tree::Symbols(list) => {
                let refs: Vec<&str> = list.iter().map(String::as_str).collect();
                e.symbol_array(&refs);
            }
            Tree::Uints(list) => {
                let elements: Vec<u8> = list.iter().flat_map(|v| v.to_be_bytes()).collect();
                e.array_raw(&[0x70], list.len() as u32, &elements);
            }
            Tree::Described(d, inner) => {
                let descriptor = match d {
                    Ok(code) => Descriptor::Code(*code),
                    Err(name) => Descriptor::Symbol(name),
                };
                e.described(descriptor, |e| inner.encode(e));
            }
        }
    }

    /// Does the decoded `value` hold exactly this tree?
    fn matches(&self, value: &Value<'_>) -> bool {
        match (self, *value) {
            (Tree::Null, Value::Null) => true,
            (Tree::Bool(a), Value::Bool(b)) => *a == b,
            (Tree::Ubyte(a), Value::Ubyte(b)) => *a == b,
            (Tree::Ushort(a), Value::Ushort(b)) => *a == b,
            (Tree::Uint(a), Value::Uint(b)) => *a == b,
            (Tree::Ulong(a), Value::Ulong(b)) => *a == b,
            (Tree::Byte(a), Value::Byte(b)) => *a == b,
            (Tree::Short(a), Value::Short(b)) => *a == b,
            (Tree::Int(a), Value::Int(b)) => *a == b,
            (Tree::Long(a), Value::Long(b)) => *a == b,
            (Tree::Float(a), Value::Float(b)) => *a == b.to_bits(),
            (Tree::Double(a), Value::Double(b)) => *a == b.to_bits(),
            (Tree::Decimal32(a), Value::Decimal32(b)) => *a == b,
            (Tree::Decimal64(a), Value::Decimal64(b)) => *a == b,
            (Tree::Decimal128(a), Value::Decimal128(b)) => *a == b,
            (Tree::Char(a), Value::Char(b)) => *a == b,
            (Tree::Timestamp(a), Value::Timestamp(b)) => *a == b,
            (Tree::Uuid(a), Value::Uuid(b)) => *a == b,
            (Tree::Binary(a), Value::Binary(b)) => a == b,
            (Tree::String(a), Value::String(b)) => a == b,
            (Tree::Symbol(a), Value::Symbol(b)) => a == b,
            (Tree::List(items), Value::List(list)) => {
                let decoded: Result<Vec<_>, _> = list.iter().collect();
                decoded.is_ok_and(|d| {
                    d.len() == items.len() && items.iter().zip(&d).all(|(t, v)| t.matches(v))
                })
            }
            (Tree::Map(entries), Value::Map(map)) => {
                let decoded: Result<Vec<_>, _> = map.iter().collect();
                decoded.is_ok_and(|d| {
                    d.len() == entries.len()
                        && entries
                            .iter()
                            .zip(&d)
                            .all(|((tk, tv), (k, v))| tk.matches(k) && tv.matches(v))
                })
            }
            (Tree::Symbols(list), Value::Array(array)) => {
                let decoded: Result<Vec<_>, _> = array.iter().collect();
                decoded.is_ok_and(|d| {
                    d.len() == list.len()
                        && list
                            .iter()
                            .zip(&d)
                            .all(|(s, v)| *v == Value::Symbol(s.as_str()))
                })
            }
            (Tree::Uints(list), Value::Array(array)) => {
                let decoded: Result<Vec<_>, _> = array.iter().collect();
                decoded.is_ok_and(|d| {
                    d.len() == list.len() && list.iter().zip(&d).all(|(n, v)| *v == Value::Uint(*n))
                })
            }
            (Tree::Described(d, inner), Value::Described(view)) => {
                let descriptor_ok = match (d, view.descriptor()) {
                    (Ok(code), Ok(Descriptor::Code(c))) => *code == c,
                    (Err(name), Ok(Descriptor::Symbol(s))) => name == s,
                    _ => false,
                };
                descriptor_ok && view.value().is_ok_and(|v| inner.matches(&v))
            }
            _ => false,
        }
    }
}

fn encode_tree(tree: &Tree) -> Vec<u8> {
    let mut bytes = Vec::new();
    tree.encode(&mut Encoder::new(&mut bytes));
    let mut counter = Counter::default();
    tree.encode(&mut Encoder::new(&mut counter));
    assert_eq!(counter.0, bytes.len(), "Counter agrees with Vec");
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn values_roundtrip_in_smallest_encoding(tree in tree()) {
        let bytes = encode_tree(&tree);
        let (value, rest) = decode_value(&bytes).map_err(|e| TestCaseError::fail(format!("{e}")))?;
        prop_assert!(rest.is_empty());
        prop_assert!(tree.matches(&value), "{tree:?} decoded as {value:?}");
        let mut again = Vec::new();
        Encoder::new(&mut again).value(&value);
        prop_assert_eq!(&again, &bytes);
        let (value2, _) = decode_value(&again).unwrap();
        prop_assert_eq!(value2, value);
    }

    #[test]
    fn wide_encodings_shrink(v in any::<u32>(), l in any::<u64>(), i in any::<i32>(), s in "[a-z]{0,20}") {
        let mut out = Vec::new();
        let mut reencode = |wide: &[u8], smallest: &dyn Fn(&mut Encoder<'_>)| {
            let (value, rest) = decode_value(wide).unwrap();
            assert!(rest.is_empty());
            out.clear();
            Encoder::new(&mut out).value(&value);
            let mut want = Vec::new();
            smallest(&mut Encoder::new(&mut want));
            assert_eq!(out, want, "{wide:02x?}");
        };
        let mut wide = vec![0x70];
        wide.extend_from_slice(&v.to_be_bytes());
        reencode(&wide, &|e| e.uint(v));
        let mut wide = vec![0x80];
        wide.extend_from_slice(&l.to_be_bytes());
        reencode(&wide, &|e| e.ulong(l));
        let mut wide = vec![0x71];
        wide.extend_from_slice(&i.to_be_bytes());
        reencode(&wide, &|e| e.int(i));
        reencode(&[0x56, (v % 2) as u8], &|e| e.bool(v % 2 == 1));
        let wide32 = |code: u8| {
            let mut wide = vec![code];
            wide.extend_from_slice(&(s.len() as u32).to_be_bytes());
            wide.extend_from_slice(s.as_bytes());
            wide
        };
        reencode(&wide32(0xb0), &|e| e.binary(s.as_bytes()));
        reencode(&wide32(0xb1), &|e| e.string(&s));
        reencode(&wide32(0xb3), &|e| e.symbol(&s));
        // list32 and map32 with small contents get one-byte headers; their
        // element bytes are kept as they are.
        let small = v as u8;
        let wide = [0xd0, 0, 0, 0, 6, 0, 0, 0, 1, 0x52, small];
        let (value, _) = decode_value(&wide).unwrap();
        let mut out = Vec::new();
        Encoder::new(&mut out).value(&value);
        prop_assert_eq!(out, vec![0xc0, 0x03, 0x01, 0x52, small]);
        let (value, _) = decode_value(&[0xd1, 0, 0, 0, 6, 0, 0, 0, 2, 0x40, 0x41]).unwrap();
        let mut out = Vec::new();
        Encoder::new(&mut out).value(&value);
        prop_assert_eq!(out, vec![0xc1, 0x03, 0x02, 0x40, 0x41]);
    }
}

// ---------------------------------------------------------------- performatives

fn error() -> BoxedStrategy<AmqpError<'static>> {
    (
        prop_oneof![
            Just(condition::NOT_FOUND),
            Just(condition::DECODE_ERROR),
            Just(condition::CONNECTION_FORCED),
            sym()
        ],
        of(text()),
        of(fields_map()),
    )
        .prop_map(|(condition, description, info)| AmqpError {
            condition,
            description,
            info,
        })
        .boxed()
}

fn state() -> BoxedStrategy<DeliveryState<'static>> {
    prop_oneof![
        (any::<u32>(), any::<u64>()).prop_map(|(section_number, section_offset)| {
            DeliveryState::Received {
                section_number,
                section_offset,
            }
        }),
        Just(DeliveryState::Accepted),
        of(error()).prop_map(|error| DeliveryState::Rejected { error }),
        Just(DeliveryState::Released),
        (any::<bool>(), any::<bool>(), of(fields_map())).prop_map(|(f, u, m)| {
            DeliveryState::Modified {
                delivery_failed: f,
                undeliverable_here: u,
                message_annotations: m,
            }
        }),
    ]
    .boxed()
}

fn outcome_value() -> BoxedStrategy<Value<'static>> {
    state()
        .prop_map(|s| {
            let mut bytes = Vec::new();
            s.encode(&mut bytes);
            decode_value(leak(bytes)).unwrap().0
        })
        .boxed()
}

fn source() -> BoxedStrategy<Source<'static>> {
    (
        (of(text()), 0..3u32, of(sym()), any::<u32>(), any::<bool>()),
        (
            of(fields_map()),
            of(prop_oneof![Just("move"), Just("copy")]),
            of(fields_map()),
            of(outcome_value()),
            symbols(),
            symbols(),
        ),
    )
        .prop_map(
            |(
                (address, durable, expiry_policy, timeout, dynamic),
                (dnp, distribution_mode, filter, default_outcome, outcomes, capabilities),
            )| Source {
                address,
                durable,
                expiry_policy,
                timeout,
                dynamic,
                dynamic_node_properties: dnp,
                distribution_mode,
                filter,
                default_outcome,
                outcomes,
                capabilities,
            },
        )
        .boxed()
}

fn target() -> BoxedStrategy<Target<'static>> {
    (
        of(text()),
        0..3u32,
        of(sym()),
        any::<u32>(),
        any::<bool>(),
        of(fields_map()),
        symbols(),
    )
        .prop_map(
            |(address, durable, expiry_policy, timeout, dynamic, dnp, capabilities)| Target {
                address,
                durable,
                expiry_policy,
                timeout,
                dynamic,
                dynamic_node_properties: dnp,
                capabilities,
            },
        )
        .boxed()
}

fn role() -> impl Strategy<Value = Role> {
    any::<bool>().prop_map(Role::from_bool)
}

fn rcv_mode() -> impl Strategy<Value = ReceiverSettleMode> {
    (0..2u8).prop_map(|v| ReceiverSettleMode::from_u8(v).unwrap())
}

fn open() -> BoxedStrategy<Performative<'static>> {
    (
        (
            text(),
            of(text()),
            any::<u32>(),
            any::<u16>(),
            of(any::<u32>()),
        ),
        (symbols(), symbols(), symbols(), symbols(), of(fields_map())),
    )
        .prop_map(|((c, h, mfs, cm, idle), (ol, il, oc, dc, props))| {
            Performative::Open(Open {
                container_id: c,
                hostname: h,
                max_frame_size: mfs,
                channel_max: cm,
                idle_time_out: idle,
                outgoing_locales: ol,
                incoming_locales: il,
                offered_capabilities: oc,
                desired_capabilities: dc,
                properties: props,
            })
        })
        .boxed()
}

fn begin() -> BoxedStrategy<Performative<'static>> {
    (
        of(any::<u16>()),
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        symbols(),
        symbols(),
        of(fields_map()),
    )
        .prop_map(|(rc, next, inw, outw, hmax, oc, dc, props)| {
            Performative::Begin(Begin {
                remote_channel: rc,
                next_outgoing_id: next,
                incoming_window: inw,
                outgoing_window: outw,
                handle_max: hmax,
                offered_capabilities: oc,
                desired_capabilities: dc,
                properties: props,
            })
        })
        .boxed()
}

fn attach() -> BoxedStrategy<Performative<'static>> {
    (
        (text(), any::<u32>(), role(), 0..3u8, rcv_mode()),
        (of(source()), of(target()), of(fields_map()), any::<bool>()),
        (
            of(any::<u32>()),
            of(any::<u64>()),
            symbols(),
            symbols(),
            of(fields_map()),
        ),
    )
        .prop_map(
            |(
                (name, handle, role, snd, rcv),
                (source, target, unsettled, iu),
                (idc, mms, oc, dc, props),
            )| {
                Performative::Attach(Attach {
                    name,
                    handle,
                    role,
                    snd_settle_mode: SenderSettleMode::from_u8(snd).unwrap(),
                    rcv_settle_mode: rcv,
                    source,
                    target,
                    unsettled,
                    incomplete_unsettled: iu,
                    initial_delivery_count: idc,
                    max_message_size: mms,
                    offered_capabilities: oc,
                    desired_capabilities: dc,
                    properties: props,
                })
            },
        )
        .boxed()
}

fn flow() -> BoxedStrategy<Performative<'static>> {
    (
        (of(any::<u32>()), any::<u32>(), any::<u32>(), any::<u32>()),
        (
            of(any::<u32>()),
            of(any::<u32>()),
            of(any::<u32>()),
            of(any::<u32>()),
        ),
        (any::<bool>(), any::<bool>(), of(fields_map())),
    )
        .prop_map(
            |((nin, inw, nout, outw), (h, dc, lc, av), (drain, echo, props))| {
                Performative::Flow(Flow {
                    next_incoming_id: nin,
                    incoming_window: inw,
                    next_outgoing_id: nout,
                    outgoing_window: outw,
                    handle: h,
                    delivery_count: dc,
                    link_credit: lc,
                    available: av,
                    drain,
                    echo,
                    properties: props,
                })
            },
        )
        .boxed()
}

fn transfer() -> BoxedStrategy<Performative<'static>> {
    (
        (
            any::<u32>(),
            of(any::<u32>()),
            of(binary(33)),
            of(any::<u32>()),
        ),
        (any::<bool>(), any::<bool>(), of(rcv_mode()), of(state())),
        (any::<bool>(), any::<bool>(), any::<bool>()),
    )
        .prop_map(
            |((h, id, tag, fmt), (settled, more, rcv, state), (resume, aborted, batchable))| {
                Performative::Transfer(Transfer {
                    handle: h,
                    delivery_id: id,
                    delivery_tag: tag,
                    message_format: fmt,
                    settled,
                    more,
                    rcv_settle_mode: rcv,
                    state,
                    resume,
                    aborted,
                    batchable,
                })
            },
        )
        .boxed()
}

fn disposition() -> BoxedStrategy<Performative<'static>> {
    (
        role(),
        any::<u32>(),
        of(any::<u32>()),
        any::<bool>(),
        of(state()),
        any::<bool>(),
    )
        .prop_map(|(role, first, last, settled, state, batchable)| {
            Performative::Disposition(Disposition {
                role,
                first,
                last,
                settled,
                state,
                batchable,
            })
        })
        .boxed()
}

fn detach() -> BoxedStrategy<Performative<'static>> {
    (any::<u32>(), any::<bool>(), of(error()))
        .prop_map(|(handle, closed, error)| {
            Performative::Detach(Detach {
                handle,
                closed,
                error,
            })
        })
        .boxed()
}

fn end_close() -> BoxedStrategy<Performative<'static>> {
    (any::<bool>(), of(error()))
        .prop_map(|(end, error)| {
            if end {
                Performative::End(End { error })
            } else {
                Performative::Close(Close { error })
            }
        })
        .boxed()
}

fn performative() -> BoxedStrategy<Performative<'static>> {
    prop_oneof![
        open(),
        begin(),
        attach(),
        flow(),
        transfer(),
        disposition(),
        detach(),
        end_close()
    ]
    .boxed()
}

fn sasl() -> BoxedStrategy<SaslFrame<'static>> {
    prop_oneof![
        symbols().prop_map(SaslFrame::Mechanisms),
        (sym(), of(binary(40)), of(text())).prop_map(|(mechanism, initial_response, hostname)| {
            SaslFrame::Init {
                mechanism,
                initial_response,
                hostname,
            }
        }),
        binary(300).prop_map(SaslFrame::Challenge),
        binary(40).prop_map(SaslFrame::Response),
        (0..5u8, of(binary(20))).prop_map(|(code, additional_data)| SaslFrame::Outcome {
            code,
            additional_data
        }),
    ]
    .boxed()
}

fn frame() -> BoxedStrategy<Frame<'static>> {
    prop_oneof![
        8 => (any::<u16>(), performative(), binary(64)).prop_map(|(channel, performative, payload)| {
            Frame {
                channel,
                body: FrameBody::Amqp {
                    performative,
                    payload,
                },
            }
        }),
        2 => sasl().prop_map(|s| Frame {
            channel: 0,
            body: FrameBody::Sasl(s),
        }),
        1 => any::<u16>().prop_map(|channel| Frame {
            channel,
            body: FrameBody::Empty,
        }),
    ]
    .boxed()
}

fn check_frame(frame: Frame<'static>) -> Result<Vec<u8>, TestCaseError> {
    let mut bytes = Vec::new();
    match &frame.body {
        FrameBody::Amqp {
            performative,
            payload,
        } => {
            encode_frame(frame.channel, performative, payload, &mut bytes);
            prop_assert_eq!(performative.encoded_len() + 8 + payload.len(), bytes.len());
        }
        FrameBody::Sasl(sasl) => encode_sasl_frame(sasl, &mut bytes),
        FrameBody::Empty => frame.encode(&mut bytes),
    }
    prop_assert_eq!(frame.encoded_len(), bytes.len());
    prop_assert_eq!(
        decode_frame(&bytes, u32::MAX),
        Ok(Decode::Complete(frame, bytes.len()))
    );
    // Re-encode, prefixes, size limit: the fuzz target's checks.
    prop_assert!(
        matches!(fuzz_check_frame(&bytes), Ok(Decode::Complete(_, n)) if n == bytes.len())
    );
    Ok(bytes)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn frames_roundtrip(frame in frame()) {
        check_frame(frame)?;
    }

    #[test]
    fn strict_prefixes_are_incomplete(frame in frame()) {
        let bytes = check_frame(frame)?;
        for cut in 0..bytes.len() {
            match decode_frame(&bytes[..cut], u32::MAX) {
                Ok(Decode::Incomplete(more)) => prop_assert!(more >= 1 && cut + more <= bytes.len()),
                other => prop_assert!(false, "prefix {} gave {:?}", cut, other),
            }
        }
    }

    #[test]
    fn streams_decode_in_order(frames in vec(frame(), 1..6)) {
        let mut stream = Vec::new();
        for f in &frames {
            f.encode(&mut stream);
        }
        let mut rest = &stream[..];
        for f in &frames {
            match decode_frame(rest, u32::MAX) {
                Ok(Decode::Complete(got, n)) => {
                    prop_assert_eq!(&got, f);
                    rest = &rest[n..];
                }
                other => prop_assert!(false, "{:?}", other),
            }
        }
        prop_assert!(rest.is_empty());
    }
}

// ---------------------------------------------------------------- messages

fn header() -> BoxedStrategy<HeaderSection> {
    (
        any::<bool>(),
        any::<u8>(),
        of(any::<u32>()),
        any::<bool>(),
        any::<u32>(),
    )
        .prop_map(
            |(durable, priority, ttl, first_acquirer, delivery_count)| HeaderSection {
                durable,
                priority,
                ttl,
                first_acquirer,
                delivery_count,
            },
        )
        .boxed()
}

fn message_id() -> BoxedStrategy<Value<'static>> {
    prop_oneof![
        any::<u64>().prop_map(Value::Ulong),
        any::<[u8; 16]>().prop_map(Value::Uuid),
        binary(16).prop_map(Value::Binary),
        text().prop_map(Value::String),
    ]
    .boxed()
}

fn properties() -> BoxedStrategy<PropertiesSection<'static>> {
    (
        (
            of(message_id()),
            of(binary(8)),
            of(text()),
            of(text()),
            of(text()),
        ),
        (
            of(message_id()),
            of(sym()),
            of(sym()),
            of(any::<i64>()),
            of(any::<i64>()),
        ),
        (of(text()), of(any::<u32>()), of(text())),
    )
        .prop_map(
            |((mid, uid, to, subject, reply_to), (cid, ct, ce, aet, ctime), (gid, gseq, rtgid))| {
                PropertiesSection {
                    message_id: mid,
                    user_id: uid,
                    to,
                    subject,
                    reply_to,
                    correlation_id: cid,
                    content_type: ct,
                    content_encoding: ce,
                    absolute_expiry_time: aet,
                    creation_time: ctime,
                    group_id: gid,
                    group_sequence: gseq,
                    reply_to_group_id: rtgid,
                }
            },
        )
        .boxed()
}

fn body() -> BoxedStrategy<Body<'static>> {
    prop_oneof![
        1 => Just(Body::Empty),
        3 => prop_oneof![binary(40), binary(400)].prop_map(Body::Data),
        1 => tree().prop_map(|t| {
            let bytes = leak(encode_tree(&t));
            Body::AmqpValue(decode_value(bytes).unwrap().0)
        }),
        1 => vec(tree(), 0..4).prop_map(|items| {
            let bytes = leak(encode_tree(&Tree::List(items)));
            match decode_value(bytes).unwrap().0 {
                Value::List(list) => Body::Sequence(list),
                other => panic!("{other:?}"),
            }
        }),
    ]
    .boxed()
}

fn message() -> BoxedStrategy<MessageView<'static>> {
    (
        (of(header()), of(fields_map()), of(fields_map())),
        (of(properties()), of(fields_map()), body(), of(fields_map())),
    )
        .prop_map(|((h, da, ma), (p, ap, body, footer))| {
            let mut m = MessageView::new(body);
            m.header = h;
            m.delivery_annotations = da;
            m.message_annotations = ma;
            m.properties = p;
            m.application_properties = ap;
            m.footer = footer;
            m
        })
        .boxed()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn messages_roundtrip(m in message()) {
        let mut bytes = Vec::new();
        m.encode(&mut bytes);
        prop_assert_eq!(m.encoded_len(), bytes.len());
        prop_assert_eq!(MessageView::decode(&bytes), Ok(m));
        prop_assert_eq!(fuzz_check_message(&bytes), Ok(bytes.len()));
    }

    #[test]
    fn several_data_sections(
        m in message(),
        first in binary(300),
        extra in vec(binary(300), 1..4),
    ) {
        // Same sections, with a multi-section data body before the footer.
        let mut m = m;
        m.body = Body::Data(first);
        let footer = m.footer.take();
        let mut bytes = Vec::new();
        m.encode(&mut bytes);
        for data in &extra {
            Encoder::new(&mut bytes).described(Descriptor::Code(0x75), |e| e.binary(data));
        }
        if let Some(footer) = footer {
            Encoder::new(&mut bytes).described(Descriptor::Code(0x78), |e| e.map_view(&footer));
        }
        let decoded = MessageView::decode(&bytes).map_err(|e| TestCaseError::fail(format!("{e}")))?;
        prop_assert_eq!(decoded.body, Body::Data(first));
        prop_assert_eq!(decoded.footer, footer);
        let data: Vec<&[u8]> = decoded.data_sections().map(Result::unwrap).collect();
        let mut want = vec![first];
        want.extend(extra.iter().copied());
        prop_assert_eq!(data, want);
        prop_assert_eq!(fuzz_check_message(&bytes), Ok(bytes.len()));
    }

    #[test]
    fn hot_path_sender_frames_decode(
        (channel, handle, delivery_id) in (any::<u16>(), any::<u32>(), any::<u32>()),
        tag in binary(33),
        (settled, more) in (any::<bool>(), any::<bool>()),
        h in of(header()),
        p in of(properties()),
        body in prop_oneof![binary(300), Just(&[0x5a; 1000][..])],
    ) {
        let layout = MessageLayout::new(h.as_ref(), p.as_ref());
        let mut out = Vec::new();
        encode_transfer_head(channel, handle, delivery_id, tag, 0, settled, more, layout.message_len(body.len()), &mut out);
        let head = out.len();
        layout.encode(body.len(), &mut out);
        out.extend_from_slice(body);
        // The per-message encoder writes the same message bytes.
        let mut direct = Vec::new();
        encode_data_message(h.as_ref(), p.as_ref(), body.len(), &mut direct);
        direct.extend_from_slice(body);
        prop_assert_eq!(&out[head..], &direct[..]);

        let Ok(Decode::Complete(frame, n)) = decode_frame(&out, u32::MAX) else {
            return Err(TestCaseError::fail("frame does not decode"));
        };
        prop_assert_eq!(n, out.len());
        prop_assert_eq!(frame.channel, channel);
        let FrameBody::Amqp { performative: Performative::Transfer(t), payload } = frame.body else {
            return Err(TestCaseError::fail("not a transfer"));
        };
        prop_assert_eq!(t, Transfer { settled, more, ..Transfer::first(handle, delivery_id, tag) });
        let m = MessageView::decode(payload).map_err(|e| TestCaseError::fail(format!("{e}")))?;
        prop_assert_eq!(m.header, h);
        prop_assert_eq!(m.properties, p);
        prop_assert_eq!(m.body, Body::Data(body));
    }
}

// ---------------------------------------------------------------- robustness

/// Walk a value with a budget; errors are fine, panics are not. The budget
/// also bounds iteration: an array of zero-width elements may claim 2^32 of
/// them in a few bytes.
fn walk(value: Value<'_>, budget: &mut usize) {
    if *budget == 0 {
        return;
    }
    *budget -= 1;
    match value {
        Value::List(l) => {
            for v in l.iter().flatten() {
                if *budget == 0 {
                    break;
                }
                walk(v, budget);
            }
        }
        Value::Array(a) => {
            for v in a.iter().flatten() {
                if *budget == 0 {
                    break;
                }
                walk(v, budget);
            }
        }
        Value::Map(m) => {
            for (k, v) in m.iter().flatten() {
                if *budget == 0 {
                    break;
                }
                walk(k, budget);
                walk(v, budget);
            }
        }
        Value::Described(d) => {
            let _ = d.descriptor();
            if let Ok(v) = d.value() {
                walk(v, budget);
            }
        }
        _ => {}
    }
}

fn everything(bytes: &[u8]) {
    let _ = fuzz_check_frame(bytes);
    let _ = fuzz_check_message(bytes);
    let _ = ProtocolHeader::decode(bytes);
    let _ = Performative::decode(bytes);
    let _ = SaslFrame::decode(bytes);
    let mut rest = bytes;
    while let Ok((value, next)) = decode_value(rest) {
        walk(value, &mut 10_000);
        if next.len() == rest.len() {
            break;
        }
        rest = next;
    }
    for max in [0, 8, 512, u32::MAX] {
        let _ = decode_frame(bytes, max);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..256)) {
        everything(&bytes);
    }

    #[test]
    fn framed_garbage_never_panics(channel in any::<u16>(), ty in 0..2u8, body in vec(any::<u8>(), 0..200)) {
        // A valid frame header around random bytes reaches the body decoders.
        let mut bytes = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        bytes.extend_from_slice(&[2, ty]);
        bytes.extend_from_slice(&channel.to_be_bytes());
        bytes.extend_from_slice(&body);
        everything(&bytes);
        // A described-list prefix reaches the performative field decoders.
        let mut bytes = ((body.len() + 12) as u32).to_be_bytes().to_vec();
        bytes.extend_from_slice(&[2, ty, 0, 0, 0x00, 0x53, 0x10 + (channel % 9) as u8, 0xc0]);
        bytes.extend_from_slice(&body);
        everything(&bytes);
    }

    #[test]
    fn mutated_frames_never_panic(
        frame in frame(),
        flips in vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut bytes = Vec::new();
        frame.encode(&mut bytes);
        for (at, byte) in flips {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        everything(&bytes);
    }

    #[test]
    fn mutated_messages_never_panic(
        m in message(),
        flips in vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut bytes = Vec::new();
        m.encode(&mut bytes);
        if bytes.is_empty() {
            return Ok(());
        }
        for (at, byte) in flips {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        everything(&bytes);
    }
}

#[test]
fn depth_bombs_are_errors_not_crashes() {
    // 100,000 nested list8 headers that each claim one element: every size
    // lies, the first level already does not fit.
    let bomb: Vec<u8> = [0xc0, 0xff, 0x01].repeat(100_000);
    everything(&bomb);
    // Properly sized nesting, 10,000 deep (list32 headers).
    let levels = 10_000usize;
    let mut bytes = Vec::new();
    for i in 0..levels {
        let inner = 9 * (levels - i - 1) + 1;
        bytes.push(0xd0);
        bytes.extend_from_slice(&(inner as u32 + 4).to_be_bytes());
        bytes.extend_from_slice(&1u32.to_be_bytes());
    }
    bytes.push(0x40);
    everything(&bytes);
    let (value, _) = decode_value(&bytes).unwrap();
    let mut depth = 0;
    let mut current = value;
    let error = loop {
        let Value::List(list) = current else { panic!() };
        match list.iter().next() {
            Some(Ok(v)) => {
                current = v;
                depth += 1;
            }
            Some(Err(e)) => break e,
            None => panic!(),
        }
    };
    assert_eq!(error, Error::TooDeep);
    assert_eq!(depth, 31);
    // The same bomb as the body of an open frame and as a message section.
    let mut frame = ((bytes.len() + 11) as u32).to_be_bytes().to_vec();
    frame.extend_from_slice(&[2, 0, 0, 0, 0x00, 0x53, 0x10]);
    frame.extend_from_slice(&bytes);
    assert_eq!(
        decode_frame(&frame, u32::MAX),
        Err(Error::InvalidField("open.container-id"))
    );
    everything(&frame);
    let mut message = vec![0x00, 0x53, 0x77];
    message.extend_from_slice(&bytes);
    assert!(fuzz_check_message(&message).is_ok());
}
