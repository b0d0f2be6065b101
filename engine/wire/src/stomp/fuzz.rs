//! The shared check behind the `stomp_frame` fuzz target and its corpus replay.

use super::{decode, encode, Command, Error, Item};
use crate::Decode;
use std::borrow::Cow;

/// Decodes one item from `data`. If a frame comes out, every header must unescape (or the
/// outcome is that error), and then the frame must re-encode and decode to the same command,
/// headers and body; every strict prefix (of a long frame, 256 spread over it and the last 16)
/// must be `Incomplete` with a non-zero need, and a limit
/// one byte under its size must give `FrameTooLarge`. Panics on any mismatch. Returns the
/// outcome with the command (`None` for a heart-beat) in place of the item.
#[doc(hidden)]
pub fn fuzz_check(data: &[u8]) -> Result<Decode<Option<Command>>, Error> {
    let (item, used) = match decode(data, usize::MAX)? {
        Decode::Incomplete(more) => {
            assert!(more >= 1, "Incomplete(0)");
            return Ok(Decode::Incomplete(more));
        }
        Decode::Complete(item, used) => (item, used),
    };
    assert!(used >= 1 && used <= data.len(), "consumed {used}");
    // A STOMP prefix has no length to stop at: each decode scans it, so checking every prefix
    // costs the square of the frame's length. Long frames get 256 prefixes spread over them,
    // plus the last 16 (where a frame is nearly whole).
    let step = (used / 256).max(1);
    let ends = (0..used).step_by(step).chain(used.saturating_sub(16)..used);
    for end in ends {
        match decode(&data[..end], usize::MAX) {
            Ok(Decode::Incomplete(more)) => assert!(more >= 1, "prefix {end}: Incomplete(0)"),
            other => panic!("prefix of {end} bytes of {used}: {other:?}"),
        }
    }
    let Item::Frame(frame) = item else {
        assert!(data[..used] == *b"\n" || data[..used] == *b"\r\n");
        return Ok(Decode::Complete(None, used));
    };
    assert_eq!(
        decode(data, used - 1),
        Err(Error::FrameTooLarge { max: used - 1 })
    );
    let mut headers: Vec<(Cow<'_, str>, Cow<'_, str>)> = Vec::new();
    for header in frame.headers.raw_iter() {
        let (name, value) = header?;
        headers.push((
            frame.headers.unescape(name)?,
            frame.headers.unescape(value)?,
        ));
    }
    let pairs: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (&**n, &**v)).collect();
    let mut bytes = Vec::new();
    encode(frame.command, &pairs, frame.body, &mut bytes);
    let again = match decode(&bytes, usize::MAX) {
        Ok(Decode::Complete(Item::Frame(again), n)) if n == bytes.len() => again,
        other => panic!("re-encoded {bytes:?}: {other:?}"),
    };
    assert_eq!(again.command, frame.command);
    assert_eq!(again.body, frame.body);
    let mut reread = again.headers.raw_iter().map(|h| {
        let (n, v) = h.expect("re-encoded header");
        let n = again.headers.unescape(n).expect("re-encoded name");
        let v = again.headers.unescape(v).expect("re-encoded value");
        (n.into_owned(), v.into_owned())
    });
    for (name, value) in &headers {
        assert_eq!(reread.next(), Some((name.to_string(), value.to_string())));
    }
    // All that may follow is the content-length `encode` adds for a body.
    if !frame.body.is_empty() {
        let length = (String::from("content-length"), frame.body.len().to_string());
        assert_eq!(reread.next(), Some(length));
    }
    assert_eq!(reread.next(), None);
    Ok(Decode::Complete(Some(frame.command), used))
}
