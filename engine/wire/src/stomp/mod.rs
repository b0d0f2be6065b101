//! STOMP 1.2 frames (STOMP Protocol Specification, Version 1.2), and the 1.0/1.1 forms a
//! broker may answer with.
//!
//! A frame is a command line, header lines, an empty line, a body and a NUL (§"STOMP Frames").
//! Lines end with LF or CR LF. The body runs to the first NUL unless a `content-length` header
//! gives its size in octets, in which case it may hold NULs (binary payloads). Between frames a
//! peer may send bare EOLs as heart-beats (§"Heart-beating"); [`decode`] reports them so that a
//! session can count them as traffic.
//!
//! Header names and values are escaped in every frame but CONNECT and CONNECTED
//! (§"Value Encoding"): `\r`, `\n`, `:` and `\` are written `\r`, `\n`, `\c` and `\\`. Decoding
//! borrows the raw header block; [`Headers::get`] unescapes on demand (without allocating when
//! a value holds no escape). When a header is repeated, the first one counts (§"Repeated
//! Header Entries").

mod frame;
mod fuzz;
mod headers;

pub use frame::{decode, encode, Command, Frame, Item};
pub use fuzz::fuzz_check;
pub use headers::{escape_into, Headers};

/// Why a byte sequence is not a valid STOMP frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The frame is larger than allowed.
    FrameTooLarge {
        /// The limit passed to [`decode`].
        max: usize,
    },
    /// The command line is not a known client or server command.
    UnknownCommand,
    /// A header line without a `:`, or with a CR before its end.
    MalformedHeader,
    /// An escape sequence other than `\r`, `\n`, `\c`, `\\` (an error in 1.2).
    BadEscape,
    /// `content-length` is not a decimal number.
    BadContentLength,
    /// The byte after a `content-length` body is not NUL.
    MissingNul,
    /// Text that is not UTF-8 where UTF-8 is required (command and headers).
    InvalidUtf8,
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::FrameTooLarge { max } => write!(f, "STOMP frame larger than {max} bytes"),
            Error::UnknownCommand => f.write_str("unknown STOMP command"),
            Error::MalformedHeader => {
                f.write_str("STOMP header line without ':' or with a CR inside")
            }
            Error::BadEscape => f.write_str("undefined escape sequence in a STOMP header"),
            Error::BadContentLength => f.write_str("STOMP content-length is not a number"),
            Error::MissingNul => f.write_str("STOMP body not followed by NUL"),
            Error::InvalidUtf8 => f.write_str("STOMP command or header is not UTF-8"),
        }
    }
}
