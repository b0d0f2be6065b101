//! One frame: command, headers, body (§"STOMP Frames", §"Augmented BNF").

use super::{Error, Headers};
use crate::Decode;

/// The commands of STOMP 1.2 (client frames, then server frames).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Connect,
    Stomp,
    Send,
    Subscribe,
    Unsubscribe,
    Ack,
    Nack,
    Begin,
    Commit,
    Abort,
    Disconnect,
    Connected,
    Message,
    Receipt,
    Error,
}

impl Command {
    pub const fn as_str(self) -> &'static str {
        match self {
            Command::Connect => "CONNECT",
            Command::Stomp => "STOMP",
            Command::Send => "SEND",
            Command::Subscribe => "SUBSCRIBE",
            Command::Unsubscribe => "UNSUBSCRIBE",
            Command::Ack => "ACK",
            Command::Nack => "NACK",
            Command::Begin => "BEGIN",
            Command::Commit => "COMMIT",
            Command::Abort => "ABORT",
            Command::Disconnect => "DISCONNECT",
            Command::Connected => "CONNECTED",
            Command::Message => "MESSAGE",
            Command::Receipt => "RECEIPT",
            Command::Error => "ERROR",
        }
    }

    fn parse(line: &[u8]) -> Result<Command, Error> {
        const ALL: [Command; 15] = [
            Command::Connect,
            Command::Stomp,
            Command::Send,
            Command::Subscribe,
            Command::Unsubscribe,
            Command::Ack,
            Command::Nack,
            Command::Begin,
            Command::Commit,
            Command::Abort,
            Command::Disconnect,
            Command::Connected,
            Command::Message,
            Command::Receipt,
            Command::Error,
        ];
        ALL.into_iter()
            .find(|c| c.as_str().as_bytes() == line)
            .ok_or(Error::UnknownCommand)
    }

    /// CONNECT and CONNECTED carry their headers unescaped (§"Value Encoding").
    const fn escapes_headers(self) -> bool {
        !matches!(self, Command::Connect | Command::Stomp | Command::Connected)
    }
}

/// A decoded frame, borrowing from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    pub command: Command,
    pub headers: Headers<'a>,
    pub body: &'a [u8],
}

/// What the front of the input holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Item<'a> {
    Frame(Frame<'a>),
    /// An EOL between frames: a heart-beat.
    HeartBeat,
}

/// Decodes the item at the front of `input`; a frame larger than `max` bytes is an error.
pub fn decode(input: &[u8], max: usize) -> Result<Decode<Item<'_>>, Error> {
    match input.first() {
        None => return Ok(Decode::Incomplete(1)),
        Some(b'\n') => return Ok(Decode::Complete(Item::HeartBeat, 1)),
        Some(b'\r') => {
            return match input.get(1) {
                None => Ok(Decode::Incomplete(1)),
                Some(b'\n') => Ok(Decode::Complete(Item::HeartBeat, 2)),
                Some(_) => Err(Error::UnknownCommand),
            }
        }
        Some(_) => {}
    }
    let too_large = |seen: usize| {
        if seen > max {
            Err(Error::FrameTooLarge { max })
        } else {
            Ok(())
        }
    };
    // The command line.
    let Some(eol) = input.iter().position(|&b| b == b'\n') else {
        too_large(input.len())?;
        return Ok(Decode::Incomplete(1));
    };
    let line = &input[..eol];
    let command = Command::parse(line.strip_suffix(b"\r").unwrap_or(line))?;
    // Header lines up to the blank line, checked as they are passed (§"Augmented BNF": a name,
    // `:`, a value; no CR but the line's end), the first `content-length` read on the way (the
    // first of repeated headers counts).
    let start = eol + 1;
    let mut at = start;
    let mut length = None;
    let headers_end = loop {
        let Some(n) = input[at..].iter().position(|&b| b == b'\n') else {
            too_large(input.len())?;
            return Ok(Decode::Incomplete(1));
        };
        let raw = &input[at..at + n];
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        if line.is_empty() {
            break at;
        }
        if line.contains(&b'\r') || !line.contains(&b':') {
            return Err(Error::MalformedHeader);
        }
        if length.is_none() {
            if let Some(v) = line.strip_prefix(b"content-length:") {
                length = Some(parse_length(v)?);
            }
        }
        at += n + 1;
    };
    let body_start = at + input[at..].iter().position(|&b| b == b'\n').unwrap_or(0) + 1;
    let headers = Headers {
        raw: &input[start..headers_end],
        escaped: command.escapes_headers(),
    };
    let (body, end) = match length {
        Some(len) => {
            let end = body_start.checked_add(len).ok_or(Error::BadContentLength)?;
            too_large(end + 1)?;
            match input.get(end) {
                None => return Ok(Decode::Incomplete(end + 1 - input.len())),
                Some(0) => (&input[body_start..end], end + 1),
                Some(_) => return Err(Error::MissingNul),
            }
        }
        None => match input[body_start..].iter().position(|&b| b == 0) {
            Some(n) => (&input[body_start..body_start + n], body_start + n + 1),
            None => {
                too_large(input.len())?;
                return Ok(Decode::Incomplete(1));
            }
        },
    };
    too_large(end)?;
    Ok(Decode::Complete(
        Item::Frame(Frame {
            command,
            headers,
            body,
        }),
        end,
    ))
}

/// A `content-length` value: decimal octets, blanks around allowed.
fn parse_length(v: &[u8]) -> Result<usize, Error> {
    let v = v.trim_ascii();
    if v.is_empty() || v.len() > 19 || !v.iter().all(u8::is_ascii_digit) {
        return Err(Error::BadContentLength);
    }
    Ok(v.iter()
        .fold(0usize, |n, &d| n * 10 + usize::from(d - b'0')))
}

/// Appends a frame: `command`, the `headers` (escaped unless the command forbids it), a
/// `content-length` header when `body` is not empty (so that it may hold NULs), the body and
/// the NUL.
pub fn encode(command: Command, headers: &[(&str, &str)], body: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(command.as_str().as_bytes());
    out.push(b'\n');
    let escape = command.escapes_headers();
    for (name, value) in headers {
        for (i, part) in [name, value].into_iter().enumerate() {
            if escape {
                super::escape_into(part, out);
            } else {
                out.extend_from_slice(part.as_bytes());
            }
            out.push(if i == 0 { b':' } else { b'\n' });
        }
    }
    if !body.is_empty() {
        out.extend_from_slice(b"content-length:");
        out.extend_from_slice(body.len().to_string().as_bytes());
        out.push(b'\n');
    }
    out.push(b'\n');
    out.extend_from_slice(body);
    out.push(0);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(bytes: &[u8]) -> (Frame<'_>, usize) {
        match decode(bytes, 1 << 20) {
            Ok(Decode::Complete(Item::Frame(f), n)) => (f, n),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_message_with_headers_and_a_nul_terminated_body() {
        let bytes = b"MESSAGE\nsubscription:0\nmessage-id:007\ndestination:/queue/a\n\nhello\0";
        let (f, n) = frame(bytes);
        assert_eq!(n, bytes.len());
        assert_eq!(f.command, Command::Message);
        assert_eq!(f.body, b"hello");
        assert_eq!(f.headers.get("message-id").unwrap().as_deref(), Some("007"));
        assert_eq!(f.headers.get("missing").unwrap(), None);
    }

    #[test]
    fn content_length_bodies_carry_nuls_and_crlf_lines_are_read() {
        let bytes = b"SEND\r\ndestination:/queue/a\r\ncontent-length:5\r\n\r\na\0b\0c\0NEXT";
        let (f, n) = frame(bytes);
        assert_eq!(f.body, b"a\0b\0c");
        assert_eq!(n, bytes.len() - 4);
        // Missing the NUL after the counted body.
        let bad = b"SEND\ncontent-length:1\n\nab";
        assert_eq!(decode(bad, 1 << 20), Err(Error::MissingNul));
    }

    #[test]
    fn partial_input_asks_for_more_and_heart_beats_are_items() {
        let bytes = b"MESSAGE\ncontent-length:4\n\nab";
        assert_eq!(decode(bytes, 1 << 20), Ok(Decode::Incomplete(3)));
        assert_eq!(decode(b"MESS", 1 << 20), Ok(Decode::Incomplete(1)));
        assert_eq!(
            decode(b"\n", 1 << 20),
            Ok(Decode::Complete(Item::HeartBeat, 1))
        );
        assert_eq!(
            decode(b"\r\n", 1 << 20),
            Ok(Decode::Complete(Item::HeartBeat, 2))
        );
        assert_eq!(decode(b"\r", 1 << 20), Ok(Decode::Incomplete(1)));
    }

    #[test]
    fn headers_are_escaped_except_in_connect_frames() {
        let mut out = Vec::new();
        encode(Command::Send, &[("a:b", "line\nnext\\")], b"", &mut out);
        assert_eq!(out, b"SEND\na\\cb:line\\nnext\\\\\n\n\0");
        let (f, _) = frame(&out);
        assert_eq!(
            f.headers.get("a:b").unwrap().as_deref(),
            Some("line\nnext\\")
        );
        let mut out = Vec::new();
        encode(Command::Connect, &[("passcode", "a:b\\c")], b"", &mut out);
        assert_eq!(out, b"CONNECT\npasscode:a:b\\c\n\n\0");
        let (f, _) = frame(&out);
        assert_eq!(
            f.headers.get("passcode").unwrap().as_deref(),
            Some("a:b\\c")
        );
    }

    #[test]
    fn bad_frames_are_errors() {
        assert_eq!(decode(b"FROB\n\n\0", 1 << 20), Err(Error::UnknownCommand));
        assert_eq!(
            decode(b"SEND\nnocolon\n\n\0", 1 << 20),
            Err(Error::MalformedHeader)
        );
        let (f, _) = frame(b"SEND\na:\\t\n\n\0");
        assert_eq!(f.headers.get("a"), Err(Error::BadEscape));
        assert_eq!(
            decode(b"SEND\ncontent-length:x\n\n\0", 1 << 20),
            Err(Error::BadContentLength)
        );
        assert_eq!(
            decode(b"SEND\n\n0123456789", 8),
            Err(Error::FrameTooLarge { max: 8 })
        );
    }

    #[test]
    fn the_first_of_repeated_headers_counts() {
        let (f, _) = frame(b"MESSAGE\nfoo:World\nfoo:Hello\n\n\0");
        assert_eq!(f.headers.get("foo").unwrap().as_deref(), Some("World"));
    }

    #[test]
    fn encode_then_decode_gives_the_frame_back() {
        let body: Vec<u8> = (0..=255u8).collect();
        let mut out = Vec::new();
        encode(
            Command::Send,
            &[("destination", "/topic/t"), ("receipt", "r:1")],
            &body,
            &mut out,
        );
        let (f, n) = frame(&out);
        assert_eq!((n, f.body), (out.len(), &body[..]));
        assert_eq!(f.headers.get("receipt").unwrap().as_deref(), Some("r:1"));
        assert_eq!(
            f.headers.get("content-length").unwrap().as_deref(),
            Some("256")
        );
    }
}
