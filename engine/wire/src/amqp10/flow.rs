//! `flow` performative (§2.7.4): session and link flow control.

use super::codec::{flag, required, Encoder, Fields, Sink};
use super::types::{ListView, MapView};
use super::{descriptor, Error};

/// `flow` (§2.7.4, descriptor 0x13). Link fields are absent for a
/// session-only flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Flow<'a> {
    /// Next incoming transfer-id expected; absent before `begin` is seen.
    pub next_incoming_id: Option<u32>,
    /// Incoming window (mandatory).
    pub incoming_window: u32,
    /// Next outgoing transfer-id (mandatory).
    pub next_outgoing_id: u32,
    /// Outgoing window (mandatory).
    pub outgoing_window: u32,
    /// Link handle, for link flow state.
    pub handle: Option<u32>,
    /// Link delivery count.
    pub delivery_count: Option<u32>,
    /// Link credit.
    pub link_credit: Option<u32>,
    /// Messages available at the sender.
    pub available: Option<u32>,
    /// Drain mode (default false).
    pub drain: bool,
    /// Request a flow in reply (default false).
    pub echo: bool,
    /// Link state properties (`fields`).
    pub properties: Option<MapView<'a>>,
}

impl<'a> Flow<'a> {
    pub(crate) fn from_fields(list: &ListView<'a>) -> Result<Self, Error> {
        let mut f = Fields::new(list);
        let flow = Flow {
            next_incoming_id: f.uint("flow.next-incoming-id")?,
            incoming_window: required(f.uint("flow.incoming-window")?, "flow.incoming-window")?,
            next_outgoing_id: required(f.uint("flow.next-outgoing-id")?, "flow.next-outgoing-id")?,
            outgoing_window: required(f.uint("flow.outgoing-window")?, "flow.outgoing-window")?,
            handle: f.uint("flow.handle")?,
            delivery_count: f.uint("flow.delivery-count")?,
            link_credit: f.uint("flow.link-credit")?,
            available: f.uint("flow.available")?,
            drain: f.bool("flow.drain")?.unwrap_or(false),
            echo: f.bool("flow.echo")?.unwrap_or(false),
            properties: f.map("flow.properties")?,
        };
        f.finish()?;
        Ok(flow)
    }

    pub(crate) fn encode_to<S: Sink>(&self, e: &mut Encoder<'_, S>) {
        e.described_list(descriptor::FLOW, |e| {
            e.field(self.next_incoming_id, Encoder::uint);
            e.field(Some(self.incoming_window), Encoder::uint);
            e.field(Some(self.next_outgoing_id), Encoder::uint);
            e.field(Some(self.outgoing_window), Encoder::uint);
            e.field(self.handle, Encoder::uint);
            e.field(self.delivery_count, Encoder::uint);
            e.field(self.link_credit, Encoder::uint);
            e.field(self.available, Encoder::uint);
            e.field(flag(self.drain), Encoder::bool);
            e.field(flag(self.echo), Encoder::bool);
            e.field(self.properties, |e, m| e.map_view(&m));
        });
    }
}

encoding_methods!(Flow<'_>);

#[cfg(test)]
mod tests {
    use super::super::Performative;
    use super::*;

    #[test]
    fn link_credit_both_ways() {
        // flow{next-incoming-id 1, in 2048, next-out 0, out 2048,
        //      handle 0, delivery-count 0, link-credit 100, drain true}
        #[rustfmt::skip]
        let bytes = [
            0x00, 0x53, 0x13, 0xc0, 0x14, 0x09,
            0x52, 0x01,
            0x70, 0x00, 0x00, 0x08, 0x00,
            0x43,
            0x70, 0x00, 0x00, 0x08, 0x00,
            0x43, 0x43, 0x52, 0x64,
            0x40,
            0x41,
        ];
        let flow = Flow {
            next_incoming_id: Some(1),
            incoming_window: 2048,
            next_outgoing_id: 0,
            outgoing_window: 2048,
            handle: Some(0),
            delivery_count: Some(0),
            link_credit: Some(100),
            drain: true,
            ..Flow::default()
        };
        let p = Performative::Flow(flow);
        assert_eq!(Performative::decode(&bytes), Ok((p, &[][..])));
        let mut out = Vec::new();
        p.encode(&mut out);
        assert_eq!(out, bytes);
        assert_eq!(p.encoded_len(), bytes.len());
    }

    #[test]
    fn mandatory_and_types() {
        assert_eq!(
            Performative::decode(&[0x00, 0x53, 0x13, 0x45]),
            Err(Error::MissingField("flow.incoming-window"))
        );
        assert_eq!(
            Performative::decode(&[0x00, 0x53, 0x13, 0xc0, 0x03, 0x01, 0x50, 0x01]),
            Err(Error::InvalidField("flow.next-incoming-id"))
        );
    }
}
