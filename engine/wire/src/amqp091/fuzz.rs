//! The shared check behind the `amqp091_frame` fuzz target and its corpus replay.

use super::{
    array_values, body_frames_len, decode, encode_body, encode_table, Error, FieldValue, Frame,
    FrameBody, Table, HEARTBEAT,
};
use crate::Decode;

/// How deep nested tables and arrays are walked.
const MAX_DEPTH: u32 = 32;

/// Decodes one frame from the front of `data` and checks it; panics on any mismatch.
///
/// If a frame comes out: every strict prefix must be `Incomplete` (asking for no more than the
/// frame's size), a limit one byte under its size must give `FrameTooLarge`, it must re-encode
/// and decode to the same frame (and re-encode to the same bytes again), and every table in it
/// is walked, nested values included: whatever decodes must re-encode and decode to equal
/// entries. Body frames and heartbeats must re-encode to the very input bytes, and a body must
/// survive being split into smaller frames. Returns the outcome with the method name (or
/// `"content-header"`, `"content-body"`, `"heartbeat"`) in place of the frame.
#[doc(hidden)]
pub fn fuzz_check(data: &[u8]) -> Result<Decode<&'static str>, Error> {
    let (frame, used) = match decode(data, usize::MAX) {
        Err(e) => {
            assert!(!e.to_string().is_empty());
            return Err(e);
        }
        Ok(Decode::Incomplete(more)) => {
            assert!(more >= 1, "Incomplete(0)");
            return Ok(Decode::Incomplete(more));
        }
        Ok(Decode::Complete(frame, used)) => (frame, used),
    };
    assert!(used >= 8 && used <= data.len(), "consumed {used}");
    assert_prefixes_incomplete(&data[..used]);
    assert_eq!(
        decode(data, used - 1),
        Err(Error::FrameTooLarge { max: used - 1 })
    );

    let mut first = Vec::new();
    frame.encode(&mut first);
    match decode(&first, usize::MAX) {
        Ok(Decode::Complete(again, n)) if n == first.len() => {
            assert_eq!(again, frame, "re-decoded frame differs");
            let mut second = Vec::new();
            again.encode(&mut second);
            assert_eq!(first, second, "encoding is not stable");
        }
        other => panic!("re-decode of {frame:?} from {first:02x?} gave {other:?}"),
    }
    assert_prefixes_incomplete(&first);

    let kind = match frame.body {
        FrameBody::Method(m) => {
            let (class, method) = m.ids();
            assert_eq!(data[7..9], class.to_be_bytes());
            assert_eq!(data[9..11], method.to_be_bytes());
            assert!(m.name().contains('.'));
            use super::Method::*;
            match m {
                ConnectionStart {
                    server_properties: t,
                    ..
                }
                | ConnectionStartOk {
                    client_properties: t,
                    ..
                }
                | ExchangeDeclare { arguments: t, .. }
                | QueueDeclare { arguments: t, .. }
                | QueueBind { arguments: t, .. }
                | BasicConsume { arguments: t, .. } => walk_table(t, 0),
                _ => {}
            }
            m.name()
        }
        FrameBody::Header(h) => {
            if let Some(t) = h.properties.headers {
                walk_table(t, 0);
            }
            "content-header"
        }
        FrameBody::Body(body) => {
            assert_eq!(first, data[..used], "body frames are canonical");
            check_split(frame, body);
            "content-body"
        }
        FrameBody::Heartbeat => {
            assert_eq!(first, HEARTBEAT);
            "heartbeat"
        }
    };
    Ok(Decode::Complete(kind, used))
}

fn assert_prefixes_incomplete(frame: &[u8]) {
    for cut in 0..frame.len() {
        match decode(&frame[..cut], usize::MAX) {
            Ok(Decode::Incomplete(more)) => assert!(
                more >= 1 && cut + more <= frame.len(),
                "prefix {cut} of {}: Incomplete({more})",
                frame.len()
            ),
            other => panic!("prefix {cut} of {frame:02x?} gave {other:?}"),
        }
    }
}

/// `encode_body` at a few limits gives frames of the announced length that carry `body`.
fn check_split(frame: Frame<'_>, body: &[u8]) {
    for frame_max in [0, 9, 8 + body.len().div_ceil(3), 4096] {
        let frame_max = u32::try_from(frame_max).unwrap_or(0);
        let mut out = Vec::new();
        encode_body(frame.channel, body, frame_max, &mut out);
        assert_eq!(out.len(), body_frames_len(body.len(), frame_max));
        let mut rest = &out[..];
        let mut joined = Vec::new();
        while !rest.is_empty() {
            let limit = match frame_max {
                0 => usize::MAX,
                n => (n as usize).max(9),
            };
            match decode(rest, limit) {
                Ok(Decode::Complete(
                    Frame {
                        channel,
                        body: FrameBody::Body(part),
                    },
                    n,
                )) if channel == frame.channel && !part.is_empty() => {
                    joined.extend_from_slice(part);
                    rest = &rest[n..];
                }
                other => panic!("split at {frame_max}: {other:?}"),
            }
        }
        assert_eq!(joined, body);
    }
}

/// Equal, with floats compared by bits (so that NaNs are equal to themselves).
fn same(a: &FieldValue<'_>, b: &FieldValue<'_>) -> bool {
    match (a, b) {
        (FieldValue::F32(x), FieldValue::F32(y)) => x.to_bits() == y.to_bits(),
        (FieldValue::F64(x), FieldValue::F64(y)) => x.to_bits() == y.to_bits(),
        _ => a == b,
    }
}

fn walk_table(table: Table<'_>, depth: u32) {
    let mut entries = Vec::new();
    let mut complete = true;
    for entry in table.iter() {
        match entry {
            Ok(entry) => entries.push(entry),
            Err(e) => {
                assert!(matches!(e, Error::BadTable | Error::InvalidUtf8), "{e:?}");
                complete = false;
            }
        }
    }
    if complete {
        let mut bytes = Vec::new();
        encode_table(&entries, &mut bytes);
        let again = Table::from_raw(&bytes[4..]);
        let mut reread = again.iter();
        for (name, value) in &entries {
            let (n, v) = reread
                .next()
                .and_then(Result::ok)
                .expect("re-encoded entry");
            assert!(
                n == *name && same(&v, value),
                "{name}: {value:?} became {v:?}"
            );
        }
        assert!(reread.next().is_none());
        if let Some((name, _)) = entries.first() {
            assert!(matches!(again.get(name), Ok(Some(_))));
        }
    }
    for (_, value) in entries {
        walk_value(value, depth);
    }
}

fn walk_value(value: FieldValue<'_>, depth: u32) {
    if depth >= MAX_DEPTH {
        return;
    }
    match value {
        FieldValue::Table(t) => walk_table(t, depth + 1),
        FieldValue::Array(raw) => {
            for v in array_values(raw) {
                match v {
                    Ok(v) => walk_value(v, depth + 1),
                    Err(e) => assert!(matches!(e, Error::BadTable | Error::InvalidUtf8)),
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_frames_of_every_type_and_passes_errors_through() {
        assert_eq!(fuzz_check(&HEARTBEAT), Ok(Decode::Complete("heartbeat", 8)));
        assert_eq!(
            fuzz_check(&[3, 0, 1, 0, 0, 0, 3, 1, 2, 3, 0xCE, 0xFF]),
            Ok(Decode::Complete("content-body", 11))
        );
        assert_eq!(
            fuzz_check(&[1, 0, 1, 0, 0, 0, 5, 0, 85, 0, 10, 1, 0xCE]),
            Ok(Decode::Complete("confirm.select", 13))
        );
        assert_eq!(fuzz_check(&[1, 0, 1]), Ok(Decode::Incomplete(5)));
        assert_eq!(fuzz_check(&[9]), Err(Error::UnknownFrameType(9)));
    }
}
