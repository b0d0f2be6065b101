//! The `error` composite (§2.8.14) carried by `close`, `end`, `detach` and
//! `rejected`, and the well-known error conditions (§2.8.15 to §2.8.18).

use super::codec::{composite, required, Encoder, Fields, Sink};
use super::types::{ListView, MapView, Value};
use super::{descriptor, Error};

/// Details of an error (§2.8.14).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AmqpError<'a> {
    /// Error condition symbol, e.g. [`condition::NOT_FOUND`].
    pub condition: &'a str,
    /// Human-readable description.
    pub description: Option<&'a str>,
    /// Map of further information (`fields`, symbol keys).
    pub info: Option<MapView<'a>>,
}

/// Well-known error conditions (§2.8.15 amqp-error, §2.8.16
/// connection-error, §2.8.17 session-error, §2.8.18 link-error).
pub mod condition {
    /// An internal error occurred (§2.8.15).
    pub const INTERNAL_ERROR: &str = "amqp:internal-error";
    /// A peer attempted to work with a remote entity that does not exist.
    pub const NOT_FOUND: &str = "amqp:not-found";
    /// A peer attempted to work with a remote entity without access rights.
    pub const UNAUTHORIZED_ACCESS: &str = "amqp:unauthorized-access";
    /// Data could not be decoded.
    pub const DECODE_ERROR: &str = "amqp:decode-error";
    /// A peer exceeded its resource allocation.
    pub const RESOURCE_LIMIT_EXCEEDED: &str = "amqp:resource-limit-exceeded";
    /// The peer tried to use a frame in a manner that is inconsistent with
    /// the semantics defined in the specification.
    pub const NOT_ALLOWED: &str = "amqp:not-allowed";
    /// An invalid field was passed in a frame body.
    pub const INVALID_FIELD: &str = "amqp:invalid-field";
    /// The peer tried to use functionality that is not implemented.
    pub const NOT_IMPLEMENTED: &str = "amqp:not-implemented";
    /// The client attempted to work with a server entity to which it has
    /// no access because another client is working with it.
    pub const RESOURCE_LOCKED: &str = "amqp:resource-locked";
    /// The client made a request that was not allowed because some
    /// precondition failed.
    pub const PRECONDITION_FAILED: &str = "amqp:precondition-failed";
    /// A server entity the client is working with has been deleted.
    pub const RESOURCE_DELETED: &str = "amqp:resource-deleted";
    /// The peer sent a frame that is not permitted in the current state.
    pub const ILLEGAL_STATE: &str = "amqp:illegal-state";
    /// The peer cannot send a frame because the smallest encoding of the
    /// performative with the currently valid values would be too large.
    pub const FRAME_SIZE_TOO_SMALL: &str = "amqp:frame-size-too-small";
    /// An operator intervened to close the connection (§2.8.16).
    pub const CONNECTION_FORCED: &str = "amqp:connection:forced";
    /// A valid frame header cannot be formed from the incoming byte stream.
    pub const CONNECTION_FRAMING_ERROR: &str = "amqp:connection:framing-error";
    /// The container is no longer available on the current connection.
    pub const CONNECTION_REDIRECT: &str = "amqp:connection:redirect";
    /// The peer violated incoming window for the session (§2.8.17).
    pub const SESSION_WINDOW_VIOLATION: &str = "amqp:session:window-violation";
    /// Input was received for a link that was detached with an error.
    pub const SESSION_ERRANT_LINK: &str = "amqp:session:errant-link";
    /// An attach was received using a handle that is already in use.
    pub const SESSION_HANDLE_IN_USE: &str = "amqp:session:handle-in-use";
    /// A frame (other than attach) was received referencing an unattached
    /// handle.
    pub const SESSION_UNATTACHED_HANDLE: &str = "amqp:session:unattached-handle";
    /// An operator intervened to detach for some reason (§2.8.18).
    pub const LINK_DETACH_FORCED: &str = "amqp:link:detach-forced";
    /// The peer sent more message transfers than currently allowed on the
    /// link.
    pub const LINK_TRANSFER_LIMIT_EXCEEDED: &str = "amqp:link:transfer-limit-exceeded";
    /// The peer sent a larger message than is supported on the link.
    pub const LINK_MESSAGE_SIZE_EXCEEDED: &str = "amqp:link:message-size-exceeded";
    /// The address provided cannot be resolved to a terminus at the
    /// current container.
    pub const LINK_REDIRECT: &str = "amqp:link:redirect";
    /// The link has been attached elsewhere, causing the existing
    /// attachment to be forcibly closed.
    pub const LINK_STOLEN: &str = "amqp:link:stolen";
}

impl<'a> AmqpError<'a> {
    /// An error with only a condition.
    pub const fn new(condition: &'a str) -> Self {
        AmqpError {
            condition,
            description: None,
            info: None,
        }
    }

    /// Decode from a field value holding a described `error`.
    pub fn from_value(value: Value<'a>) -> Result<Self, Error> {
        const WHAT: &str = "error";
        match composite(value, WHAT)? {
            (descriptor::ERROR, list) => Self::from_fields(&list),
            (code, _) => Err(Error::UnexpectedDescriptor {
                expected: WHAT,
                code: Some(code),
            }),
        }
    }

    pub(crate) fn from_fields(list: &ListView<'a>) -> Result<Self, Error> {
        let mut f = Fields::new(list);
        let error = AmqpError {
            condition: required(f.symbol("error.condition")?, "error.condition")?,
            description: f.string("error.description")?,
            info: f.map("error.info")?,
        };
        f.finish()?;
        Ok(error)
    }

    /// Decode an optional error field.
    pub(crate) fn field(f: &mut Fields<'a>) -> Result<Option<Self>, Error> {
        f.next()?.map(Self::from_value).transpose()
    }

    pub(crate) fn encode_to<S: Sink>(&self, e: &mut Encoder<'_, S>) {
        e.described_list(descriptor::ERROR, |e| {
            e.field(Some(self.condition), |e, v| e.symbol(v));
            e.field(self.description, |e, v| e.string(v));
            e.field(self.info, |e, m| e.map_view(&m));
        });
    }
}

encoding_methods!(AmqpError<'_>);

#[cfg(test)]
mod tests {
    use super::super::types::decode_value;
    use super::*;

    #[test]
    fn error_both_ways() {
        // error{condition: amqp:not-found, description: "q"}
        let mut bytes = vec![0x00, 0x53, 0x1d, 0xc0, 0x14, 0x02, 0xa3, 0x0e];
        bytes.extend_from_slice(b"amqp:not-found");
        bytes.extend_from_slice(&[0xa1, 0x01, b'q']);
        let error = AmqpError {
            description: Some("q"),
            ..AmqpError::new(condition::NOT_FOUND)
        };
        let (value, rest) = decode_value(&bytes).unwrap();
        assert!(rest.is_empty());
        assert_eq!(AmqpError::from_value(value), Ok(error));
        let mut out = Vec::new();
        error.encode(&mut out);
        assert_eq!(out, bytes);
        assert_eq!(error.encoded_len(), bytes.len());
    }

    #[test]
    fn malformed() {
        // Missing condition; condition as a string; wrong descriptor.
        for (bytes, want) in [
            (
                &[0x00, 0x53, 0x1d, 0x45][..],
                Error::MissingField("error.condition"),
            ),
            (
                &[0x00, 0x53, 0x1d, 0xc0, 0x04, 0x01, 0xa1, 0x01, b'x'][..],
                Error::InvalidField("error.condition"),
            ),
            (
                &[0x00, 0x53, 0x24, 0x45][..],
                Error::UnexpectedDescriptor {
                    expected: "error",
                    code: Some(0x24),
                },
            ),
        ] {
            let (value, _) = decode_value(bytes).unwrap();
            assert_eq!(AmqpError::from_value(value), Err(want));
        }
    }
}
