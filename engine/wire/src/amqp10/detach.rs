//! `detach` performative (§2.7.7): detaches a link endpoint.

use super::codec::{flag, required, Encoder, Fields, Sink};
use super::error::AmqpError;
use super::types::ListView;
use super::{descriptor, Error};

/// `detach` (§2.7.7, descriptor 0x16).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Detach<'a> {
    /// Link handle (mandatory).
    pub handle: u32,
    /// Close the link rather than only detaching it (default false).
    pub closed: bool,
    /// Why the link is detached.
    pub error: Option<AmqpError<'a>>,
}

impl<'a> Detach<'a> {
    /// A detach of `handle` without closing and without error.
    pub const fn new(handle: u32) -> Self {
        Detach {
            handle,
            closed: false,
            error: None,
        }
    }

    pub(crate) fn from_fields(list: &ListView<'a>) -> Result<Self, Error> {
        let mut f = Fields::new(list);
        let detach = Detach {
            handle: required(f.uint("detach.handle")?, "detach.handle")?,
            closed: f.bool("detach.closed")?.unwrap_or(false),
            error: AmqpError::field(&mut f)?,
        };
        f.finish()?;
        Ok(detach)
    }

    pub(crate) fn encode_to<S: Sink>(&self, e: &mut Encoder<'_, S>) {
        e.described_list(descriptor::DETACH, |e| {
            e.field(Some(self.handle), Encoder::uint);
            e.field(flag(self.closed), Encoder::bool);
            e.field(self.error.as_ref(), |e, err| err.encode_to(e));
        });
    }
}

encoding_methods!(Detach<'_>);

#[cfg(test)]
mod tests {
    use super::super::{condition, Performative};
    use super::*;

    #[test]
    fn closed_with_error_both_ways() {
        // detach{handle 2, closed, error{amqp:link:stolen}}
        #[rustfmt::skip]
        let mut bytes = vec![
            0x00, 0x53, 0x16, 0xc0, 0x1c, 0x03,
            0x52, 0x02, 0x41,
            0x00, 0x53, 0x1d, 0xc0, 0x13, 0x01, 0xa3, 0x10,
        ];
        bytes.extend_from_slice(b"amqp:link:stolen");
        let detach = Detach {
            closed: true,
            error: Some(AmqpError::new(condition::LINK_STOLEN)),
            ..Detach::new(2)
        };
        let p = Performative::Detach(detach);
        assert_eq!(Performative::decode(&bytes), Ok((p, &[][..])));
        let mut out = Vec::new();
        p.encode(&mut out);
        assert_eq!(out, bytes);
        assert_eq!(p.encoded_len(), bytes.len());
        // Minimal form.
        let mut out = Vec::new();
        Detach::new(0).encode(&mut out);
        assert_eq!(out, [0x00, 0x53, 0x16, 0xc0, 0x02, 0x01, 0x43]);
    }
}
