//! `disposition` performative (§2.7.6): settles or updates a range of
//! deliveries.

use super::attach::Role;
use super::codec::{flag, required, Encoder, Fields, Sink};
use super::state::DeliveryState;
use super::types::ListView;
use super::{descriptor, Error};

/// `disposition` (§2.7.6, descriptor 0x15).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Disposition<'a> {
    /// Role of the endpoint whose deliveries are meant (mandatory).
    pub role: Role,
    /// First delivery-id of the range (mandatory).
    pub first: u32,
    /// Last delivery-id of the range; absent means `first`.
    pub last: Option<u32>,
    /// The deliveries are settled (default false).
    pub settled: bool,
    /// New delivery state.
    pub state: Option<DeliveryState<'a>>,
    /// Batchable hint (default false).
    pub batchable: bool,
}

impl<'a> Disposition<'a> {
    /// A disposition of the single delivery `first`, unsettled, no state.
    pub const fn new(role: Role, first: u32) -> Self {
        Disposition {
            role,
            first,
            last: None,
            settled: false,
            state: None,
            batchable: false,
        }
    }

    pub(crate) fn from_fields(list: &ListView<'a>) -> Result<Self, Error> {
        let mut f = Fields::new(list);
        let disposition = Disposition {
            role: Role::from_bool(required(f.bool("disposition.role")?, "disposition.role")?),
            first: required(f.uint("disposition.first")?, "disposition.first")?,
            last: f.uint("disposition.last")?,
            settled: f.bool("disposition.settled")?.unwrap_or(false),
            state: DeliveryState::field(&mut f)?,
            batchable: f.bool("disposition.batchable")?.unwrap_or(false),
        };
        f.finish()?;
        Ok(disposition)
    }

    pub(crate) fn encode_to<S: Sink>(&self, e: &mut Encoder<'_, S>) {
        e.described_list(descriptor::DISPOSITION, |e| {
            e.field(Some(self.role.as_bool()), Encoder::bool);
            e.field(Some(self.first), Encoder::uint);
            e.field(self.last, Encoder::uint);
            e.field(flag(self.settled), Encoder::bool);
            e.field(self.state.as_ref(), |e, s| s.encode_to(e));
            e.field(flag(self.batchable), Encoder::bool);
        });
    }
}

encoding_methods!(Disposition<'_>);

#[cfg(test)]
mod tests {
    use super::super::Performative;
    use super::*;

    #[test]
    fn accepted_range_both_ways() {
        // disposition{role receiver, first 0, last 9, settled, accepted}
        #[rustfmt::skip]
        let bytes = [
            0x00, 0x53, 0x15, 0xc0, 0x0a, 0x05,
            0x41, 0x43, 0x52, 0x09, 0x41,
            0x00, 0x53, 0x24, 0x45,
        ];
        let d = Disposition {
            last: Some(9),
            settled: true,
            state: Some(DeliveryState::Accepted),
            ..Disposition::new(Role::Receiver, 0)
        };
        let p = Performative::Disposition(d);
        assert_eq!(Performative::decode(&bytes), Ok((p, &[][..])));
        let mut out = Vec::new();
        p.encode(&mut out);
        assert_eq!(out, bytes);
        assert_eq!(p.encoded_len(), bytes.len());
    }

    #[test]
    fn wrong_state_descriptor() {
        // A `source` (0x28) where the state goes.
        let bytes = [
            0x00, 0x53, 0x15, 0xc0, 0x09, 0x05, 0x41, 0x43, 0x40, 0x40, 0x00, 0x53, 0x28, 0x45,
        ];
        assert_eq!(
            Performative::decode(&bytes),
            Err(Error::UnexpectedDescriptor {
                expected: "delivery state",
                code: Some(0x28)
            })
        );
        assert_eq!(
            Performative::decode(&[0x00, 0x53, 0x15, 0xc0, 0x02, 0x01, 0x41]),
            Err(Error::MissingField("disposition.first"))
        );
    }
}
