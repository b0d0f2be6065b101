//! Delivery states and outcomes (§3.4): `received`, `accepted`, `rejected`,
//! `released` and `modified`, carried by `transfer` and `disposition`.

use super::codec::{composite, flag, required, Encoder, Fields, Sink};
use super::error::AmqpError;
use super::types::{MapView, Value};
use super::{descriptor, Error};

/// The state of a delivery at a link endpoint (§3.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState<'a> {
    /// `received` (§3.4.1, 0x23): how much of the message arrived, for
    /// resuming partial deliveries.
    Received {
        /// Index of the first section not completely received.
        section_number: u32,
        /// Bytes of that section received.
        section_offset: u64,
    },
    /// `accepted` outcome (§3.4.2, 0x24).
    Accepted,
    /// `rejected` outcome (§3.4.3, 0x25): the message is invalid.
    Rejected {
        /// Why.
        error: Option<AmqpError<'a>>,
    },
    /// `released` outcome (§3.4.4, 0x26): not (and will not be) processed.
    Released,
    /// `modified` outcome (§3.4.5, 0x27): released with changes.
    Modified {
        /// Count the transfer as an unsuccessful delivery attempt.
        delivery_failed: bool,
        /// Do not redeliver to this link endpoint.
        undeliverable_here: bool,
        /// Message annotations to merge into the message.
        message_annotations: Option<MapView<'a>>,
    },
}

impl<'a> DeliveryState<'a> {
    /// Decode from a field value holding a described delivery state
    /// (descriptor 0x23..=0x27).
    pub fn from_value(value: Value<'a>) -> Result<Self, Error> {
        const WHAT: &str = "delivery state";
        let (code, list) = composite(value, WHAT)?;
        let mut f = Fields::new(&list);
        let state = match code {
            descriptor::RECEIVED => DeliveryState::Received {
                section_number: required(
                    f.uint("received.section-number")?,
                    "received.section-number",
                )?,
                section_offset: required(
                    f.ulong("received.section-offset")?,
                    "received.section-offset",
                )?,
            },
            descriptor::ACCEPTED => DeliveryState::Accepted,
            descriptor::REJECTED => DeliveryState::Rejected {
                error: AmqpError::field(&mut f)?,
            },
            descriptor::RELEASED => DeliveryState::Released,
            descriptor::MODIFIED => DeliveryState::Modified {
                delivery_failed: f.bool("modified.delivery-failed")?.unwrap_or(false),
                undeliverable_here: f.bool("modified.undeliverable-here")?.unwrap_or(false),
                message_annotations: f.map("modified.message-annotations")?,
            },
            other => {
                return Err(Error::UnexpectedDescriptor {
                    expected: WHAT,
                    code: Some(other),
                })
            }
        };
        f.finish()?;
        Ok(state)
    }

    /// Decode an optional state field.
    pub(crate) fn field(f: &mut Fields<'a>) -> Result<Option<Self>, Error> {
        f.next()?.map(Self::from_value).transpose()
    }

    /// The numeric descriptor.
    pub const fn descriptor(&self) -> u64 {
        match self {
            DeliveryState::Received { .. } => descriptor::RECEIVED,
            DeliveryState::Accepted => descriptor::ACCEPTED,
            DeliveryState::Rejected { .. } => descriptor::REJECTED,
            DeliveryState::Released => descriptor::RELEASED,
            DeliveryState::Modified { .. } => descriptor::MODIFIED,
        }
    }

    /// True for the terminal outcomes (all but `received`, §3.4).
    pub const fn is_outcome(&self) -> bool {
        !matches!(self, DeliveryState::Received { .. })
    }

    pub(crate) fn encode_to<S: Sink>(&self, e: &mut Encoder<'_, S>) {
        e.described_list(self.descriptor(), |e| match self {
            DeliveryState::Received {
                section_number,
                section_offset,
            } => {
                e.field(Some(*section_number), Encoder::uint);
                e.field(Some(*section_offset), Encoder::ulong);
            }
            DeliveryState::Accepted | DeliveryState::Released => {}
            DeliveryState::Rejected { error } => {
                e.field(error.as_ref(), |e, err| err.encode_to(e));
            }
            DeliveryState::Modified {
                delivery_failed,
                undeliverable_here,
                message_annotations,
            } => {
                e.field(flag(*delivery_failed), Encoder::bool);
                e.field(flag(*undeliverable_here), Encoder::bool);
                e.field(*message_annotations, |e, m| e.map_view(&m));
            }
        });
    }
}

encoding_methods!(DeliveryState<'_>);

#[cfg(test)]
mod tests {
    use super::super::condition;
    use super::super::types::decode_value;
    use super::*;

    fn both_ways(bytes: &[u8], state: DeliveryState<'_>) {
        let (value, rest) = decode_value(bytes).unwrap();
        assert!(rest.is_empty());
        assert_eq!(DeliveryState::from_value(value), Ok(state));
        let mut out = Vec::new();
        state.encode(&mut out);
        assert_eq!(out, bytes);
        assert_eq!(state.encoded_len(), bytes.len());
    }

    #[test]
    fn outcomes() {
        both_ways(&[0x00, 0x53, 0x24, 0x45], DeliveryState::Accepted);
        both_ways(&[0x00, 0x53, 0x26, 0x45], DeliveryState::Released);
        both_ways(
            &[0x00, 0x53, 0x25, 0x45],
            DeliveryState::Rejected { error: None },
        );
        both_ways(
            &[0x00, 0x53, 0x23, 0xc0, 0x05, 0x02, 0x52, 0x01, 0x53, 0x10],
            DeliveryState::Received {
                section_number: 1,
                section_offset: 16,
            },
        );
        // modified{delivery-failed: true}; undeliverable-here=false trimmed.
        both_ways(
            &[0x00, 0x53, 0x27, 0xc0, 0x02, 0x01, 0x41],
            DeliveryState::Modified {
                delivery_failed: true,
                undeliverable_here: false,
                message_annotations: None,
            },
        );
        // rejected{error{amqp:decode-error}}
        let mut bytes = vec![0x00, 0x53, 0x25, 0xc0, 0x1a, 0x01];
        bytes.extend_from_slice(&[0x00, 0x53, 0x1d, 0xc0, 0x14, 0x01, 0xa3, 0x11]);
        bytes.extend_from_slice(b"amqp:decode-error");
        both_ways(
            &bytes,
            DeliveryState::Rejected {
                error: Some(AmqpError::new(condition::DECODE_ERROR)),
            },
        );
    }

    #[test]
    fn malformed() {
        fn err(bytes: &[u8]) -> Result<DeliveryState<'_>, Error> {
            DeliveryState::from_value(decode_value(bytes).unwrap().0)
        }
        // received without its mandatory fields.
        assert_eq!(
            err(&[0x00, 0x53, 0x23, 0x45]),
            Err(Error::MissingField("received.section-number"))
        );
        // Unknown descriptor (transactional-state 0x34).
        assert_eq!(
            err(&[0x00, 0x53, 0x34, 0x45]),
            Err(Error::UnexpectedDescriptor {
                expected: "delivery state",
                code: Some(0x34)
            })
        );
        // Field of the wrong type.
        assert_eq!(
            err(&[0x00, 0x53, 0x27, 0xc0, 0x03, 0x01, 0x52, 0x01]),
            Err(Error::InvalidField("modified.delivery-failed"))
        );
        // Not described.
        assert!(err(&[0x45]).is_err());
    }
}
