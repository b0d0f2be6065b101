//! `close` performative (§2.7.9): closes the connection.

use super::codec::{Encoder, Fields, Sink};
use super::error::AmqpError;
use super::types::ListView;
use super::{descriptor, Error};

/// `close` (§2.7.9, descriptor 0x18).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Close<'a> {
    /// Why, if because of an error.
    pub error: Option<AmqpError<'a>>,
}

impl<'a> Close<'a> {
    pub(crate) fn from_fields(list: &ListView<'a>) -> Result<Self, Error> {
        let mut f = Fields::new(list);
        let close = Close {
            error: AmqpError::field(&mut f)?,
        };
        f.finish()?;
        Ok(close)
    }

    pub(crate) fn encode_to<S: Sink>(&self, e: &mut Encoder<'_, S>) {
        e.described_list(descriptor::CLOSE, |e| {
            e.field(self.error.as_ref(), |e, err| err.encode_to(e));
        });
    }
}

encoding_methods!(Close<'_>);

#[cfg(test)]
mod tests {
    use super::super::{condition, Performative};
    use super::*;

    #[test]
    fn both_ways() {
        let empty = [0x00, 0x53, 0x18, 0x45];
        let p = Performative::Close(Close::default());
        assert_eq!(Performative::decode(&empty), Ok((p, &[][..])));
        let mut out = Vec::new();
        p.encode(&mut out);
        assert_eq!(out, empty);

        // With error{amqp:internal-error, description "x"}.
        #[rustfmt::skip]
        let mut bytes = vec![
            0x00, 0x53, 0x18, 0xc0, 0x1f, 0x01,
            0x00, 0x53, 0x1d, 0xc0, 0x19, 0x02, 0xa3, 0x13,
        ];
        bytes.extend_from_slice(b"amqp:internal-error");
        bytes.extend_from_slice(&[0xa1, 0x01, b'x']);
        let p = Performative::Close(Close {
            error: Some(AmqpError {
                description: Some("x"),
                ..AmqpError::new(condition::INTERNAL_ERROR)
            }),
        });
        assert_eq!(Performative::decode(&bytes), Ok((p, &[][..])));
        let mut out = Vec::new();
        p.encode(&mut out);
        assert_eq!(out, bytes);
        assert_eq!(p.encoded_len(), bytes.len());
    }

    #[test]
    fn error_of_the_wrong_type() {
        assert_eq!(
            Performative::decode(&[0x00, 0x53, 0x18, 0xc0, 0x03, 0x01, 0xa3, 0x00]),
            Err(Error::UnexpectedDescriptor {
                expected: "error",
                code: None
            })
        );
    }
}
