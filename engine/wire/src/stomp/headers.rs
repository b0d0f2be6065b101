//! Header blocks: borrowed, iterated lazily, unescaped on demand (§"Value Encoding").

use super::Error;
use std::borrow::Cow;

/// The header lines of one frame, as they arrived (without the blank line that ends them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Headers<'a> {
    pub(crate) raw: &'a [u8],
    /// CONNECT and CONNECTED headers are not escaped.
    pub(crate) escaped: bool,
}

impl<'a> Headers<'a> {
    /// Every header in order, names and values raw (still escaped). A line without `:` or
    /// with a CR before its end is [`Error::MalformedHeader`].
    pub fn raw_iter(&self) -> impl Iterator<Item = Result<(&'a [u8], &'a [u8]), Error>> + 'a {
        let raw = self.raw;
        raw.split(|&b| b == b'\n')
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
            .filter(|l| !l.is_empty())
            .map(|l| {
                // Only the line's end may hold a CR (§"Augmented BNF": names and values
                // exclude CR and LF); a CR within would not survive re-encoding.
                if l.contains(&b'\r') {
                    return Err(Error::MalformedHeader);
                }
                let colon = l
                    .iter()
                    .position(|&b| b == b':')
                    .ok_or(Error::MalformedHeader)?;
                Ok((&l[..colon], &l[colon + 1..]))
            })
    }

    /// The value of the first header named `name`, unescaped.
    pub fn get(&self, name: &str) -> Result<Option<Cow<'a, str>>, Error> {
        for h in self.raw_iter() {
            let (n, v) = h?;
            if self.unescape(n)?.as_bytes() == name.as_bytes() {
                return self.unescape(v).map(Some);
            }
        }
        Ok(None)
    }

    /// `bytes` unescaped (borrowed when it holds no escape).
    pub fn unescape(&self, bytes: &'a [u8]) -> Result<Cow<'a, str>, Error> {
        let text = core::str::from_utf8(bytes).map_err(|_| Error::InvalidUtf8)?;
        if !self.escaped || !bytes.contains(&b'\\') {
            return Ok(Cow::Borrowed(text));
        }
        let mut out = String::with_capacity(text.len());
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            out.push(match chars.next() {
                Some('r') => '\r',
                Some('n') => '\n',
                Some('c') => ':',
                Some('\\') => '\\',
                _ => return Err(Error::BadEscape),
            });
        }
        Ok(Cow::Owned(out))
    }
}

/// Appends `text` escaped as a STOMP 1.2 header name or value.
pub fn escape_into(text: &str, out: &mut Vec<u8>) {
    for b in text.bytes() {
        match b {
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b':' => out.extend_from_slice(b"\\c"),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b => out.push(b),
        }
    }
}
