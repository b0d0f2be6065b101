//! The receiver's fast path: a QoS 0 PUBLISH of MQTT 3.1.1 on one known topic name, which is
//! nearly every packet a busy subscriber reads.
//!
//! [`peek_publish`] answers only when the frame is exactly that (§3.3.1: first byte `0x30`, no
//! DUP, QoS 0, no RETAIN; §3.3.2: topic name equal to the expected one, so already valid UTF-8;
//! no packet identifier at QoS 0; no properties in 3.1.1) and complete. Anything else, including
//! every malformed frame, gets `None` and goes to [`decode`](super::decode), which has the
//! final word.

/// The body of the QoS 0 PUBLISH at the front of `input` on `topic`, and the frame's length;
/// `None` when the frame is anything else, incomplete, or longer than `max_packet`.
#[inline]
pub fn peek_publish<'a>(
    input: &'a [u8],
    topic: &[u8],
    max_packet: usize,
) -> Option<(&'a [u8], usize)> {
    if *input.first()? != 0x30 {
        return None;
    }
    // Remaining length (§2.2.3): at most four bytes, shortest form not required here.
    let mut remaining = 0usize;
    let mut i = 1;
    loop {
        let b = *input.get(i)?;
        remaining |= usize::from(b & 0x7F) << (7 * (i - 1));
        i += 1;
        if b & 0x80 == 0 {
            break;
        }
        if i == 5 {
            return None;
        }
    }
    let total = i + remaining;
    if total > max_packet {
        return None;
    }
    let frame = input.get(i..total)?;
    let name_len = usize::from(u16::from_be_bytes([*frame.first()?, *frame.get(1)?]));
    if frame.get(2..2 + name_len)? != topic {
        return None;
    }
    Some((&frame[2 + name_len..], total))
}

#[cfg(test)]
mod tests {
    use super::peek_publish;
    use crate::mqtt::{decode, encode_publish_header, Packet, Protocol, QoS};
    use crate::Decode;
    use proptest::prelude::*;

    fn frame(protocol: Protocol, qos: QoS, retain: bool, topic: &str, body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        encode_publish_header(protocol, qos, retain, false, topic, 7, body.len(), &mut out);
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn byte_literal() {
        // 0x30, remaining 8, topic "a/b", body "hello" — then the start of the next frame.
        let input = b"\x30\x0a\x00\x03a/bhello\x30";
        assert_eq!(
            peek_publish(input, b"a/b", 1 << 20),
            Some((&b"hello"[..], 12))
        );
        assert_eq!(peek_publish(input, b"a/c", 1 << 20), None);
        assert_eq!(
            peek_publish(&input[..11], b"a/b", 1 << 20),
            None,
            "incomplete"
        );
        assert_eq!(peek_publish(input, b"a/b", 11), None, "over the size limit");
        assert_eq!(
            peek_publish(b"\x31\x0a\x00\x03a/bhello", b"a/b", 1 << 20),
            None,
            "retain"
        );
        assert_eq!(
            peek_publish(b"\x30\xff\xff\xff\xff\x7f", b"a/b", usize::MAX),
            None,
            "five length bytes"
        );
    }

    #[test]
    fn other_kinds_are_left_to_the_decoder() {
        assert_eq!(
            peek_publish(
                &frame(Protocol::V311, QoS::AtLeastOnce, false, "t", b"x"),
                b"t",
                1 << 20
            ),
            None
        );
        assert_eq!(
            peek_publish(
                &frame(Protocol::V311, QoS::AtMostOnce, true, "t", b"x"),
                b"t",
                1 << 20
            ),
            None
        );
        assert_eq!(peek_publish(b"\xd0\x00", b"t", 1 << 20), None);
    }

    proptest! {
        /// Whenever the fast path answers, the full decoder agrees; on its own QoS 0 frames it
        /// always answers.
        #[test]
        fn agrees_with_the_decoder(
            topic in "[a-z/]{1,40}",
            body in proptest::collection::vec(any::<u8>(), 0..600),
            noise in proptest::collection::vec(any::<u8>(), 0..64),
            cut in 0usize..700,
        ) {
            let f = frame(Protocol::V311, QoS::AtMostOnce, false, &topic, &body);
            let (got, n) = peek_publish(&f, topic.as_bytes(), 1 << 20).unwrap();
            prop_assert_eq!(got, &body[..]);
            prop_assert_eq!(n, f.len());
            for input in [&f[..cut.min(f.len())], &noise[..]] {
                if let Some((got, n)) = peek_publish(input, topic.as_bytes(), 1 << 20) {
                    match decode(input, Protocol::V311, 1 << 20) {
                        Ok(Decode::Complete(Packet::Publish(p), m)) => {
                            prop_assert_eq!(p.payload, got);
                            prop_assert_eq!(m, n);
                            prop_assert_eq!(p.topic, topic.as_str());
                        }
                        other => prop_assert!(false, "fast path said PUBLISH, decoder said {:?}", other),
                    }
                }
            }
        }
    }
}
