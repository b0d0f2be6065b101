//! `begin` performative (§2.7.2): begins a session on a channel.

use super::codec::{non_default, required, Encoder, Fields, Sink};
use super::types::{ListView, MapView, Symbols};
use super::{descriptor, Error};

/// `begin` (§2.7.2, descriptor 0x11).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Begin<'a> {
    /// The remote channel for this session, when answering a `begin`.
    pub remote_channel: Option<u16>,
    /// Transfer-id of the first outgoing transfer (mandatory).
    pub next_outgoing_id: u32,
    /// Initial incoming window (mandatory).
    pub incoming_window: u32,
    /// Initial outgoing window (mandatory).
    pub outgoing_window: u32,
    /// Highest link handle; default `u32::MAX`.
    pub handle_max: u32,
    /// Extension capabilities the sender supports.
    pub offered_capabilities: Symbols<'a>,
    /// Extension capabilities the sender may use.
    pub desired_capabilities: Symbols<'a>,
    /// Session properties (`fields`).
    pub properties: Option<MapView<'a>>,
}

impl Default for Begin<'_> {
    fn default() -> Self {
        Begin::new(0, 0, 0)
    }
}

impl<'a> Begin<'a> {
    /// A `begin` with the mandatory fields and every other at its default.
    pub const fn new(next_outgoing_id: u32, incoming_window: u32, outgoing_window: u32) -> Self {
        Begin {
            remote_channel: None,
            next_outgoing_id,
            incoming_window,
            outgoing_window,
            handle_max: u32::MAX,
            offered_capabilities: Symbols::EMPTY,
            desired_capabilities: Symbols::EMPTY,
            properties: None,
        }
    }

    pub(crate) fn from_fields(list: &ListView<'a>) -> Result<Self, Error> {
        let mut f = Fields::new(list);
        let begin = Begin {
            remote_channel: f.ushort("begin.remote-channel")?,
            next_outgoing_id: required(
                f.uint("begin.next-outgoing-id")?,
                "begin.next-outgoing-id",
            )?,
            incoming_window: required(f.uint("begin.incoming-window")?, "begin.incoming-window")?,
            outgoing_window: required(f.uint("begin.outgoing-window")?, "begin.outgoing-window")?,
            handle_max: f.uint("begin.handle-max")?.unwrap_or(u32::MAX),
            offered_capabilities: f.symbols("begin.offered-capabilities")?,
            desired_capabilities: f.symbols("begin.desired-capabilities")?,
            properties: f.map("begin.properties")?,
        };
        f.finish()?;
        Ok(begin)
    }

    pub(crate) fn encode_to<S: Sink>(&self, e: &mut Encoder<'_, S>) {
        e.described_list(descriptor::BEGIN, |e| {
            e.field(self.remote_channel, Encoder::ushort);
            e.field(Some(self.next_outgoing_id), Encoder::uint);
            e.field(Some(self.incoming_window), Encoder::uint);
            e.field(Some(self.outgoing_window), Encoder::uint);
            e.field(non_default(self.handle_max, u32::MAX), Encoder::uint);
            e.symbols_field(&self.offered_capabilities);
            e.symbols_field(&self.desired_capabilities);
            e.field(self.properties, |e, m| e.map_view(&m));
        });
    }
}

encoding_methods!(Begin<'_>);

#[cfg(test)]
mod tests {
    use super::super::Performative;
    use super::*;

    fn both_ways(bytes: &[u8], begin: Begin<'_>) {
        let p = Performative::Begin(begin);
        assert_eq!(Performative::decode(bytes), Ok((p, &[][..])));
        let mut out = Vec::new();
        p.encode(&mut out);
        assert_eq!(out, bytes);
        assert_eq!(p.encoded_len(), bytes.len());
    }

    #[test]
    fn begin_both_ways() {
        // begin{remote-channel: null, next-outgoing-id: 0, windows 2048/2048}
        both_ways(
            &[
                0x00, 0x53, 0x11, 0xc0, 0x0a, 0x04, 0x40, 0x43, 0x70, 0x00, 0x00, 0x08, 0x00, 0x52,
                0xff,
            ],
            Begin::new(0, 2048, 255),
        );
        // Reply on remote channel 1, handle-max 7.
        both_ways(
            &[
                0x00, 0x53, 0x11, 0xc0, 0x0a, 0x05, 0x60, 0x00, 0x01, 0x52, 0x01, 0x43, 0x43, 0x52,
                0x07,
            ],
            Begin {
                remote_channel: Some(1),
                handle_max: 7,
                ..Begin::new(1, 0, 0)
            },
        );
    }

    #[test]
    fn mandatory_fields() {
        assert_eq!(
            Performative::decode(&[0x00, 0x53, 0x11, 0xc0, 0x03, 0x02, 0x40, 0x43]),
            Err(Error::MissingField("begin.incoming-window"))
        );
    }
}
