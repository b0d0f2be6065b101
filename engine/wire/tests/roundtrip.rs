//! Property tests: every packet type round-trips through encode/decode under
//! both protocol versions, `encoded_len` is exact, every proper prefix of an
//! encoding is `Incomplete`, and arbitrary bytes never make the decoder panic.

use allegro_wire::mqtt::{
    decode, fuzz_check, read_var_int, Auth, ConnAck, Connect, Decode, Disconnect, Error, Filters,
    Packet, Properties, Property, Protocol, PubAck, PubComp, PubRec, PubRel, Publish, QoS, SubAck,
    Subscribe, SubscribeOptions, UnsubAck, Unsubscribe, UnsubscribeFilters, Will,
};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;

use Protocol::{V311, V5};

// Generated packets borrow `'static` data: leaking a few bytes per case keeps
// the strategies simple and is fine in a test process.
fn leak_str(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

fn leak<T>(v: Vec<T>) -> &'static [T] {
    Box::leak(v.into_boxed_slice())
}

/// UTF-8 text without control characters (so no U+0000), some multi-byte.
fn text() -> impl Strategy<Value = &'static str> {
    "[a-zA-Z0-9 _/é€😀-]{0,12}".prop_map(leak_str)
}

fn binary(max: usize) -> impl Strategy<Value = &'static [u8]> {
    vec(any::<u8>(), 0..max).prop_map(leak)
}

fn topic_name() -> impl Strategy<Value = &'static str> {
    "[a-z0-9/é€ $_-]{1,16}".prop_map(leak_str)
}

fn topic_filter() -> impl Strategy<Value = &'static str> {
    (
        vec(prop_oneof!["[a-z0-9é]{0,5}", Just("+".to_string())], 1..4),
        any::<bool>(),
    )
        .prop_map(|(mut levels, hash)| {
            if hash {
                levels.push("#".to_string());
            }
            let filter = levels.join("/");
            // §4.7.3: a filter has at least one character.
            leak_str(if filter.is_empty() {
                "x".into()
            } else {
                filter
            })
        })
}

fn qos() -> impl Strategy<Value = QoS> {
    select(vec![QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce])
}

fn pkid() -> impl Strategy<Value = u16> {
    1..=u16::MAX
}

fn flag() -> impl Strategy<Value = u8> {
    0..=1u8
}

fn property() -> impl Strategy<Value = Property<'static>> {
    use Property::*;
    prop_oneof![
        flag().prop_map(PayloadFormatIndicator),
        any::<u32>().prop_map(MessageExpiryInterval),
        text().prop_map(ContentType),
        topic_name().prop_map(ResponseTopic),
        binary(16).prop_map(CorrelationData),
        (1..=268_435_455u32).prop_map(SubscriptionIdentifier),
        any::<u32>().prop_map(SessionExpiryInterval),
        text().prop_map(AssignedClientIdentifier),
        any::<u16>().prop_map(ServerKeepAlive),
        text().prop_map(AuthenticationMethod),
        binary(16).prop_map(AuthenticationData),
        flag().prop_map(RequestProblemInformation),
        any::<u32>().prop_map(WillDelayInterval),
        flag().prop_map(RequestResponseInformation),
        text().prop_map(ResponseInformation),
        text().prop_map(ServerReference),
        text().prop_map(ReasonString),
        (1..=u16::MAX).prop_map(ReceiveMaximum),
        any::<u16>().prop_map(TopicAliasMaximum),
        (1..=u16::MAX).prop_map(TopicAlias),
        flag().prop_map(MaximumQoS),
        flag().prop_map(RetainAvailable),
        (text(), text()).prop_map(|(k, v)| UserProperty(k, v)),
        (1..=u32::MAX).prop_map(MaximumPacketSize),
        flag().prop_map(WildcardSubscriptionAvailable),
        flag().prop_map(SubscriptionIdentifierAvailable),
        flag().prop_map(SharedSubscriptionAvailable),
    ]
}

/// A valid property block: `List` or the `Raw` bytes of the same list. Only
/// User Property and Subscription Identifier may repeat (MQTT 5.0 §2.2.2.2).
fn properties(protocol: Protocol) -> BoxedStrategy<Properties<'static>> {
    if protocol == V311 {
        return Just(Properties::EMPTY).boxed();
    }
    (vec(property(), 0..6), any::<bool>())
        .prop_map(|(list, raw)| {
            let mut seen = Vec::new();
            let list: Vec<_> = list
                .into_iter()
                .filter(|p| {
                    let id = p.id();
                    let repeatable = id == 0x26 || id == 0x0B;
                    let fresh = !seen.contains(&id);
                    seen.push(id);
                    repeatable || fresh
                })
                .collect();
            let list = leak(list);
            if raw {
                let mut block = Vec::new();
                Properties::encode_list(list, &mut block);
                let Ok(Decode::Complete(_, prefix)) = read_var_int(&block) else {
                    unreachable!("encode_list writes a length prefix")
                };
                Properties::Raw(leak(block.split_off(prefix)))
            } else {
                Properties::List(list)
            }
        })
        .boxed()
}

fn will(protocol: Protocol) -> impl Strategy<Value = Will<'static>> {
    (
        topic_name(),
        binary(20),
        qos(),
        any::<bool>(),
        properties(protocol),
    )
        .prop_map(|(topic, payload, qos, retain, properties)| Will {
            topic,
            payload,
            qos,
            retain,
            properties,
        })
}

fn connect(protocol: Protocol) -> BoxedStrategy<Packet<'static>> {
    (
        (any::<bool>(), any::<u16>(), text()),
        proptest::option::of(will(protocol)),
        proptest::option::of(text()),
        proptest::option::of(binary(12)),
        properties(protocol),
    )
        .prop_map(
            move |((clean_start, keep_alive, client_id), will, username, password, properties)| {
                // MQTT 3.1.1 §3.1.2-22: no password without a user name.
                let password = if protocol == V311 && username.is_none() {
                    None
                } else {
                    password
                };
                Packet::Connect(Connect {
                    protocol,
                    clean_start,
                    keep_alive,
                    client_id,
                    will,
                    username,
                    password,
                    properties,
                })
            },
        )
        .boxed()
}

fn connack(protocol: Protocol) -> BoxedStrategy<Packet<'static>> {
    (any::<bool>(), any::<u8>(), properties(protocol))
        .prop_map(|(session_present, code, properties)| {
            Packet::ConnAck(ConnAck {
                session_present,
                code,
                properties,
            })
        })
        .boxed()
}

fn publish(protocol: Protocol) -> BoxedStrategy<Packet<'static>> {
    (
        (any::<bool>(), qos(), any::<bool>()),
        topic_name(),
        pkid(),
        properties(protocol),
        // Up to 300 bytes so the remaining length sometimes takes two bytes.
        binary(300),
    )
        .prop_map(|((dup, qos, retain), topic, pkid, properties, payload)| {
            let qos0 = qos == QoS::AtMostOnce;
            Packet::Publish(Publish {
                dup: dup && !qos0,
                qos,
                retain,
                topic,
                pkid: if qos0 { 0 } else { pkid },
                properties,
                payload,
            })
        })
        .boxed()
}

/// `(pkid, reason, properties)` for the four publish acks.
fn ack(protocol: Protocol) -> BoxedStrategy<(u16, u8, Properties<'static>)> {
    match protocol {
        V311 => pkid().prop_map(|id| (id, 0, Properties::EMPTY)).boxed(),
        V5 => (pkid(), any::<u8>(), properties(V5)).boxed(),
    }
}

fn puback(protocol: Protocol) -> BoxedStrategy<Packet<'static>> {
    ack(protocol)
        .prop_map(|(pkid, reason, properties)| {
            Packet::PubAck(PubAck {
                pkid,
                reason,
                properties,
            })
        })
        .boxed()
}

fn pubrec(protocol: Protocol) -> BoxedStrategy<Packet<'static>> {
    ack(protocol)
        .prop_map(|(pkid, reason, properties)| {
            Packet::PubRec(PubRec {
                pkid,
                reason,
                properties,
            })
        })
        .boxed()
}

fn pubrel(protocol: Protocol) -> BoxedStrategy<Packet<'static>> {
    ack(protocol)
        .prop_map(|(pkid, reason, properties)| {
            Packet::PubRel(PubRel {
                pkid,
                reason,
                properties,
            })
        })
        .boxed()
}

fn pubcomp(protocol: Protocol) -> BoxedStrategy<Packet<'static>> {
    ack(protocol)
        .prop_map(|(pkid, reason, properties)| {
            Packet::PubComp(PubComp {
                pkid,
                reason,
                properties,
            })
        })
        .boxed()
}

fn subscribe_options(protocol: Protocol) -> BoxedStrategy<SubscribeOptions> {
    match protocol {
        V311 => qos().prop_map(SubscribeOptions::new).boxed(),
        V5 => (qos(), any::<bool>(), any::<bool>(), 0..=2u8)
            .prop_map(
                |(qos, no_local, retain_as_published, retain_handling)| SubscribeOptions {
                    qos,
                    no_local,
                    retain_as_published,
                    retain_handling,
                },
            )
            .boxed(),
    }
}

fn subscribe(protocol: Protocol) -> BoxedStrategy<Packet<'static>> {
    (
        pkid(),
        properties(protocol),
        vec((topic_filter(), subscribe_options(protocol)), 1..5),
    )
        .prop_map(|(pkid, properties, filters)| {
            Packet::Subscribe(Subscribe {
                pkid,
                properties,
                filters: Filters::List(leak(filters)),
            })
        })
        .boxed()
}

fn suback(protocol: Protocol) -> BoxedStrategy<Packet<'static>> {
    let code = match protocol {
        V311 => select(vec![0x00u8, 0x01, 0x02, 0x80]).boxed(),
        V5 => any::<u8>().boxed(),
    };
    (pkid(), properties(protocol), vec(code, 1..5))
        .prop_map(|(pkid, properties, codes)| {
            Packet::SubAck(SubAck {
                pkid,
                properties,
                codes: leak(codes),
            })
        })
        .boxed()
}

fn unsubscribe(protocol: Protocol) -> BoxedStrategy<Packet<'static>> {
    (pkid(), properties(protocol), vec(topic_filter(), 1..5))
        .prop_map(|(pkid, properties, filters)| {
            Packet::Unsubscribe(Unsubscribe {
                pkid,
                properties,
                filters: UnsubscribeFilters::List(leak(filters)),
            })
        })
        .boxed()
}

fn unsuback(protocol: Protocol) -> BoxedStrategy<Packet<'static>> {
    match protocol {
        V311 => pkid()
            .prop_map(|pkid| {
                Packet::UnsubAck(UnsubAck {
                    pkid,
                    properties: Properties::EMPTY,
                    codes: &[],
                })
            })
            .boxed(),
        V5 => (pkid(), properties(V5), vec(any::<u8>(), 1..5))
            .prop_map(|(pkid, properties, codes)| {
                Packet::UnsubAck(UnsubAck {
                    pkid,
                    properties,
                    codes: leak(codes),
                })
            })
            .boxed(),
    }
}

fn ping(_protocol: Protocol) -> BoxedStrategy<Packet<'static>> {
    select(vec![Packet::PingReq, Packet::PingResp]).boxed()
}

fn disconnect(protocol: Protocol) -> BoxedStrategy<Packet<'static>> {
    match protocol {
        V311 => Just(Packet::Disconnect(Disconnect::NORMAL)).boxed(),
        V5 => (any::<u8>(), properties(V5))
            .prop_map(|(reason, properties)| Packet::Disconnect(Disconnect { reason, properties }))
            .boxed(),
    }
}

/// AUTH exists only in MQTT 5.0; under 3.1.1 this yields other packets.
fn auth(protocol: Protocol) -> BoxedStrategy<Packet<'static>> {
    match protocol {
        V311 => ping(V311),
        V5 => (any::<u8>(), properties(V5))
            .prop_map(|(reason, properties)| Packet::Auth(Auth { reason, properties }))
            .boxed(),
    }
}

fn any_packet(protocol: Protocol) -> BoxedStrategy<Packet<'static>> {
    prop_oneof![
        connect(protocol),
        connack(protocol),
        publish(protocol),
        puback(protocol),
        pubrec(protocol),
        pubrel(protocol),
        pubcomp(protocol),
        subscribe(protocol),
        suback(protocol),
        unsubscribe(protocol),
        unsuback(protocol),
        ping(protocol),
        disconnect(protocol),
        auth(protocol),
    ]
    .boxed()
}

fn roundtrip(packet: Packet<'static>, protocol: Protocol) -> Result<(), TestCaseError> {
    // Encoding appends: keep a sentinel in front.
    let mut buf = vec![0xEE];
    packet.encode(protocol, &mut buf);
    let bytes = buf.get(1..).unwrap_or_default();
    let len = bytes.len();
    prop_assert_eq!(buf.first(), Some(&0xEE));
    prop_assert_eq!(len, packet.encoded_len(protocol), "encoded_len");
    prop_assert_eq!(
        decode(bytes, protocol, usize::MAX),
        Ok(Decode::Complete(packet, len))
    );
    prop_assert_eq!(
        decode(bytes, protocol, len),
        Ok(Decode::Complete(packet, len))
    );

    // Bytes after the packet are left alone.
    let mut longer = bytes.to_vec();
    longer.extend_from_slice(&[0xC0, 0x00, 0x30]);
    prop_assert_eq!(
        decode(&longer, protocol, usize::MAX),
        Ok(Decode::Complete(packet, len))
    );

    // Every proper prefix asks for more, never more than is really missing.
    for cut in 0..len {
        match decode(bytes.get(..cut).unwrap_or_default(), protocol, usize::MAX) {
            Ok(Decode::Incomplete(more)) => {
                prop_assert!(more >= 1 && cut + more <= len, "cut {} more {}", cut, more)
            }
            other => prop_assert!(false, "prefix {} of {:?} gave {:?}", cut, bytes, other),
        }
    }

    // The size limit applies to the whole packet.
    prop_assert_eq!(
        decode(bytes, protocol, len - 1),
        Err(Error::PacketTooLarge {
            size: len,
            max: len - 1
        })
    );
    prop_assert_eq!(
        fuzz_check(bytes, protocol),
        Ok(Decode::Complete(packet.packet_type(), len))
    );
    Ok(())
}

macro_rules! roundtrip_tests {
    ($($strategy:ident: $v311:ident, $v5:ident;)*) => {
        proptest! {
            $(
                #[test]
                fn $v311(packet in $strategy(V311)) {
                    roundtrip(packet, V311)?;
                }

                #[test]
                fn $v5(packet in $strategy(V5)) {
                    roundtrip(packet, V5)?;
                }
            )*
        }
    };
}

roundtrip_tests! {
    connect: connect_v311, connect_v5;
    connack: connack_v311, connack_v5;
    publish: publish_v311, publish_v5;
    puback: puback_v311, puback_v5;
    pubrec: pubrec_v311, pubrec_v5;
    pubrel: pubrel_v311, pubrel_v5;
    pubcomp: pubcomp_v311, pubcomp_v5;
    subscribe: subscribe_v311, subscribe_v5;
    suback: suback_v311, suback_v5;
    unsubscribe: unsubscribe_v311, unsubscribe_v5;
    unsuback: unsuback_v311, unsuback_v5;
    ping: ping_v311, ping_v5;
    disconnect: disconnect_v311, disconnect_v5;
    auth: auth_is_not_generated_for_v311, auth_v5;
}

fn protocol() -> impl Strategy<Value = Protocol> {
    select(vec![V311, V5])
}

/// A valid packet with the protocol it was generated for.
fn packet_and_protocol() -> impl Strategy<Value = (Packet<'static>, Protocol)> {
    protocol().prop_flat_map(|p| (any_packet(p), Just(p)))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..256), p in protocol()) {
        let _ = fuzz_check(&bytes, p);
        let _ = decode(&bytes, p, 64);
    }

    /// Random bodies behind a well-formed fixed header reach every body
    /// decoder instead of dying at the header.
    #[test]
    fn random_bodies_never_panic(
        first in any::<u8>(),
        body in vec(any::<u8>(), 0..200),
        p in protocol(),
    ) {
        let mut bytes = vec![first];
        allegro_wire::mqtt::write_var_int(body.len(), &mut bytes);
        bytes.extend_from_slice(&body);
        let _ = fuzz_check(&bytes, p);
    }

    /// Single-byte corruptions and truncations of valid packets are either
    /// rejected or decode to something that itself round-trips.
    #[test]
    fn mutated_packets_never_panic(
        (packet, p) in packet_and_protocol(),
        index in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = Vec::new();
        packet.encode(p, &mut bytes);
        let i = index.index(bytes.len());
        if let Some(slot) = bytes.get_mut(i) {
            *slot = byte;
        }
        let _ = fuzz_check(&bytes, p);
        bytes.truncate(cut.index(bytes.len() + 1));
        let _ = fuzz_check(&bytes, p);
    }

    /// Several packets back to back decode one after another.
    #[test]
    fn streams_decode_in_order(
        (packets, p) in protocol().prop_flat_map(|p| (vec(any_packet(p), 1..8), Just(p)))
    ) {
        let mut stream = Vec::new();
        for packet in &packets {
            packet.encode(p, &mut stream);
        }
        let mut rest = stream.as_slice();
        for packet in &packets {
            match decode(rest, p, usize::MAX) {
                Ok(Decode::Complete(got, used)) => {
                    prop_assert_eq!(&got, packet);
                    rest = rest.get(used..).unwrap_or_default();
                }
                other => prop_assert!(false, "{:?}", other),
            }
        }
        prop_assert!(rest.is_empty());
    }
}

#[test]
fn v5_only_fields_are_dropped_for_v311() {
    // A v5-flavoured ack written for a 3.1.1 peer loses reason and properties.
    let props = [Property::ReasonString("r")];
    let ack = PubAck {
        pkid: 5,
        reason: 0x10,
        properties: Properties::List(&props),
    };
    let mut out = Vec::new();
    ack.encode(V311, &mut out);
    assert_eq!(out, [0x40, 0x02, 0x00, 0x05]);
    // Subscribe options keep only the QoS bits, also when re-encoding the
    // raw bytes of a decoded v5 SUBSCRIBE.
    let v5 = [0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, b'a', 0x2E];
    let Ok(Decode::Complete(Packet::Subscribe(subscribe), _)) = decode(&v5, V5, 64) else {
        panic!("valid v5 SUBSCRIBE")
    };
    out.clear();
    subscribe.encode(V311, &mut out);
    assert_eq!(out, [0x82, 0x06, 0x00, 0x01, 0x00, 0x01, b'a', 0x02]);
    assert_eq!(out.len(), subscribe.encoded_len(V311));
}
