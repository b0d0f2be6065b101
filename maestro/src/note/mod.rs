//! Maestro 1.5 notes: the control messages of the Maestro protocol
//! (`docs/maestro-protocol.md`), byte for byte as Maestro's Java peers write them.
//!
//! Sans-IO: a note is the whole payload of one MQTT message. [`encode`]
//! appends the exact bytes Java would produce; [`decode`] is lenient the way
//! Java's decoders are (§3.1) and never panics. A caller that gets a
//! [`NoteError`] logs it with the topic and [`describe`] of the payload, and
//! drops the note. [`topics`] has the topic names and QoS levels (§2).
//!
//! ```
//! use allegro_maestro::note::{self, Note, PeerInfo, Request, Response, Role};
//!
//! let ping = Note::request("corr", "msg", Request::Ping { sec: 1_700_000_000, usec: 5 });
//! let mut payload = Vec::new();
//! note::encode(&ping, &mut payload);
//!
//! let received = note::decode(&payload).unwrap();
//! let me = PeerInfo { role: Role::Sender, group_name: "all".into(), ..PeerInfo::default() };
//! let reply = received.reply(me, Response::Ping { elapsed: 3 });
//! assert_eq!(reply.correlation_id, "corr");
//! assert_eq!(note::topics::peer_topic(&reply), Some("/mpt/maestro"));
//! ```

mod codec;
mod codes;
mod model;
pub mod msgpack;
pub mod topics;

use core::fmt;
use core::fmt::Write as _;

pub use codec::{decode, encode};
pub use codes::{Command, ErrorCode, GetOption, LocationType, NoteType, Role, SetOption};
pub use model::{
    Body, Data, LocationTypeInfo, LogChunk, LogLocation, Note, Notification, PeerInfo, Request,
    Response, Stats, SutDetails, Test, TestDetails, TestExecutionInfo,
};

/// Why a payload is not a note Java would accept (§3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NoteError {
    /// The payload ends before this field (or inside it).
    Truncated {
        /// Java name of the field, e.g. `correlationId`.
        field: &'static str,
    },
    /// The field holds a value of another MessagePack type.
    WrongType {
        /// Java name of the field.
        field: &'static str,
        /// What the field needs: `integer`, `string`, `bool`, ….
        expected: &'static str,
        /// The marker byte found instead.
        found: u8,
    },
    /// An integer outside the field's Java type (`int`, `short`, `long`).
    OutOfRange {
        /// Java name of the field.
        field: &'static str,
        /// The value found.
        value: i128,
    },
    /// A string field whose bytes are not UTF-8.
    InvalidUtf8 {
        /// Java name of the field.
        field: &'static str,
    },
    /// A note type other than 0–3 (§3.2).
    UnknownNoteType(i64),
    /// A command Java does not accept for this note type (§4).
    UnknownCommand {
        /// The note type.
        note_type: NoteType,
        /// The command code.
        command: i64,
    },
}

impl fmt::Display for NoteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            NoteError::Truncated { field } => write!(f, "note truncated: no {field}"),
            NoteError::WrongType {
                field,
                expected,
                found,
            } => write!(
                f,
                "{field}: expected {expected}, found {} (0x{found:02x})",
                msgpack::marker_name(found)
            ),
            NoteError::OutOfRange { field, value } => {
                write!(f, "{field}: {value} is out of range")
            }
            NoteError::InvalidUtf8 { field } => write!(f, "{field}: invalid UTF-8"),
            NoteError::UnknownNoteType(t) => write!(f, "unknown note type {t}"),
            NoteError::UnknownCommand { note_type, command } => match Command::from(command) {
                Command::Unknown(_) => write!(f, "unknown command {command} in a {note_type} note"),
                known => write!(f, "command {known} is not valid in a {note_type} note"),
            },
        }
    }
}

impl std::error::Error for NoteError {}

/// Items [`describe`] lists before it stops.
const DESCRIBE_ITEMS: usize = 40;
/// Characters of a string [`describe`] shows.
const DESCRIBE_CHARS: usize = 60;

/// A one-line, human-readable dump of any payload, for logging a note that
/// did not decode: its length and its MessagePack items (note type and
/// command named), strings shortened, binaries summarised. Never panics.
pub fn describe(payload: &[u8]) -> String {
    let mut s = format!("{} bytes:", payload.len());
    let mut r = msgpack::Reader::new(payload);
    let mut note_type = None;
    for i in 0.. {
        if r.is_empty() {
            break;
        }
        let at = r.position();
        if i == DESCRIBE_ITEMS {
            let _ = write!(s, " … {} more bytes", payload.len() - at);
            break;
        }
        s.push_str(if i == 0 { " " } else { ", " });
        let marker = r.peek().unwrap_or_default();
        let token = match r.read_token() {
            Ok(token) => token,
            Err(_) => {
                let _ = write!(
                    s,
                    "<{} truncated at byte {at}>",
                    msgpack::marker_name(marker)
                );
                break;
            }
        };
        describe_token(&mut s, token, i, &mut note_type);
    }
    s
}

fn describe_token(
    s: &mut String,
    token: msgpack::Token<'_>,
    index: usize,
    note_type: &mut Option<NoteType>,
) {
    use msgpack::Token;
    let _ = match token {
        Token::Int(v) => {
            let _ = write!(s, "{v}");
            match index {
                0 => {
                    *note_type = NoteType::try_from(v).ok();
                    match note_type {
                        Some(t) => write!(s, " ({})", t.name()),
                        None => Ok(()),
                    }
                }
                1 if note_type.is_some() => match Command::from(v) {
                    Command::Unknown(_) => Ok(()),
                    c => write!(s, " ({})", c.name()),
                },
                _ => Ok(()),
            }
        }
        Token::BigUint(v) => write!(s, "{v}"),
        Token::Nil => write!(s, "nil"),
        Token::Bool(b) => write!(s, "{b}"),
        Token::F32(v) => write!(s, "{v:?}f32"),
        Token::F64(v) => write!(s, "{v:?}"),
        Token::Str(bytes) => {
            let text = String::from_utf8_lossy(bytes);
            let mut shown: String = text.chars().take(DESCRIBE_CHARS).collect();
            if shown.len() < text.len() {
                shown.push('…');
            }
            write!(s, "{shown:?}")
        }
        Token::Bin(bytes) => {
            let _ = write!(s, "bin[{}]", bytes.len());
            if !bytes.is_empty() {
                s.push(' ');
            }
            for b in bytes.iter().take(16) {
                let _ = write!(s, "{b:02x}");
            }
            if bytes.len() > 16 {
                s.push('…');
            }
            Ok(())
        }
        Token::Array(n) => write!(s, "array({n})"),
        Token::Map(n) => write!(s, "map({n})"),
        Token::Ext(t, data) => write!(s, "ext({t}, {} bytes)", data.len()),
        Token::Reserved => write!(s, "reserved(0xc1)"),
    };
}

/// Shared check for the fuzz target and the corpus replay test: describe and
/// decode `data`; if a note comes out, encode it, decode that again and
/// require the same note, the same bytes from a second encode, the same note
/// with junk appended (unless it ends before an optional field, which the
/// junk would fill) and an error when the
/// note type or command is cut off. Panics on any
/// mismatch. Returns the decode outcome with the command in place of the note.
#[doc(hidden)]
pub fn fuzz_check(data: &[u8]) -> Result<Command, NoteError> {
    let _ = describe(data);
    let note = decode(data)?;
    let mut first = Vec::new();
    encode(&note, &mut first);
    let again = match decode(&first) {
        Ok(again) => again,
        Err(e) => panic!("re-decode of {note:?} from {first:02x?} failed: {e}"),
    };
    // Debug text rather than `==`, so that a NaN rate compares equal.
    assert_eq!(
        format!("{again:?}"),
        format!("{note:?}"),
        "re-decoded note differs"
    );
    let mut second = Vec::new();
    encode(&again, &mut second);
    assert_eq!(first, second, "encoding is not canonical");
    // Without an absent optional field at the end, what follows is ignored.
    let open_tail = matches!(
        note.body,
        Body::Request(Request::AgentSource { branch: None, .. })
            | Body::Request(Request::UserCommand1 { payload: None, .. })
    );
    if !open_tail {
        let mut padded = first.clone();
        padded.extend_from_slice(&[msgpack::RESERVED, 0xa1]);
        match decode(&padded) {
            Ok(n) => assert_eq!(format!("{n:?}"), format!("{note:?}"), "trailing junk"),
            Err(e) => panic!("trailing junk after {note:?} gave {e}"),
        }
    }
    for cut in 0..2 {
        assert!(
            decode(first.get(..cut).unwrap_or_default()).is_err(),
            "prefix {cut} of {first:02x?} decoded"
        );
    }
    Ok(note.command())
}
