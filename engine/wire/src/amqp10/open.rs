//! `open` performative (§2.7.1): negotiates connection parameters.

use super::codec::{non_default, required, Encoder, Fields, Sink};
use super::types::{ListView, MapView, Symbols};
use super::{descriptor, Error};

/// `open` (§2.7.1, descriptor 0x10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Open<'a> {
    /// The id of the source container (mandatory).
    pub container_id: &'a str,
    /// The name of the target host.
    pub hostname: Option<&'a str>,
    /// Largest frame the sender accepts; default `u32::MAX` (no limit
    /// beyond 32 bits).
    pub max_frame_size: u32,
    /// Highest channel number; default 65535.
    pub channel_max: u16,
    /// Idle timeout in milliseconds; `None` means none (§2.4.5).
    pub idle_time_out: Option<u32>,
    /// Locales available for outgoing text.
    pub outgoing_locales: Symbols<'a>,
    /// Desired locales for incoming text, in order of preference.
    pub incoming_locales: Symbols<'a>,
    /// Extension capabilities the sender supports.
    pub offered_capabilities: Symbols<'a>,
    /// Extension capabilities the sender may use if the receiver supports
    /// them.
    pub desired_capabilities: Symbols<'a>,
    /// Connection properties (`fields`: symbol keys).
    pub properties: Option<MapView<'a>>,
}

impl Default for Open<'_> {
    fn default() -> Self {
        Open::new("")
    }
}

impl<'a> Open<'a> {
    /// An `open` for `container_id` with every other field at its default.
    pub const fn new(container_id: &'a str) -> Self {
        Open {
            container_id,
            hostname: None,
            max_frame_size: u32::MAX,
            channel_max: u16::MAX,
            idle_time_out: None,
            outgoing_locales: Symbols::EMPTY,
            incoming_locales: Symbols::EMPTY,
            offered_capabilities: Symbols::EMPTY,
            desired_capabilities: Symbols::EMPTY,
            properties: None,
        }
    }

    pub(crate) fn from_fields(list: &ListView<'a>) -> Result<Self, Error> {
        let mut f = Fields::new(list);
        let open = Open {
            container_id: required(f.string("open.container-id")?, "open.container-id")?,
            hostname: f.string("open.hostname")?,
            max_frame_size: f.uint("open.max-frame-size")?.unwrap_or(u32::MAX),
            channel_max: f.ushort("open.channel-max")?.unwrap_or(u16::MAX),
            idle_time_out: f.uint("open.idle-time-out")?,
            outgoing_locales: f.symbols("open.outgoing-locales")?,
            incoming_locales: f.symbols("open.incoming-locales")?,
            offered_capabilities: f.symbols("open.offered-capabilities")?,
            desired_capabilities: f.symbols("open.desired-capabilities")?,
            properties: f.map("open.properties")?,
        };
        f.finish()?;
        Ok(open)
    }

    pub(crate) fn encode_to<S: Sink>(&self, e: &mut Encoder<'_, S>) {
        e.described_list(descriptor::OPEN, |e| {
            e.field(Some(self.container_id), |e, v| e.string(v));
            e.field(self.hostname, |e, v| e.string(v));
            e.field(non_default(self.max_frame_size, u32::MAX), Encoder::uint);
            e.field(non_default(self.channel_max, u16::MAX), Encoder::ushort);
            e.field(self.idle_time_out, Encoder::uint);
            e.symbols_field(&self.outgoing_locales);
            e.symbols_field(&self.incoming_locales);
            e.symbols_field(&self.offered_capabilities);
            e.symbols_field(&self.desired_capabilities);
            e.field(self.properties, |e, m| e.map_view(&m));
        });
    }
}

encoding_methods!(Open<'_>);

#[cfg(test)]
mod tests {
    use super::super::{decode_frame, Decode, Frame, FrameBody, Performative, Value};
    use super::*;

    fn both_ways(bytes: &[u8], open: Open<'_>) {
        let frame = Frame {
            channel: 0,
            body: FrameBody::Amqp {
                performative: Performative::Open(open),
                payload: &[],
            },
        };
        assert_eq!(
            decode_frame(bytes, 512),
            Ok(Decode::Complete(frame, bytes.len()))
        );
        let mut out = Vec::new();
        frame.encode(&mut out);
        assert_eq!(out, bytes);
        assert_eq!(frame.encoded_len(), bytes.len());
        assert_eq!(open.encoded_len() + 8, bytes.len());
    }

    #[test]
    fn container_and_hostname() {
        #[rustfmt::skip]
        both_ways(
            &[0x00, 0x00, 0x00, 0x14, 0x02, 0x00, 0x00, 0x00,
              0x00, 0x53, 0x10, 0xc0, 0x07, 0x02,
              0xa1, 0x01, b'c',
              0xa1, 0x01, b'h'],
            Open { hostname: Some("h"), ..Open::new("c") },
        );
    }

    #[test]
    fn limits_and_capabilities() {
        #[rustfmt::skip]
        both_ways(
            &[0x00, 0x00, 0x00, 0x2d, 0x02, 0x00, 0x00, 0x00,
              0x00, 0x53, 0x10, 0xc0, 0x20, 0x08,
              0xa1, 0x01, b'c',
              0x40,
              0x70, 0x00, 0x01, 0x00, 0x00,
              0x60, 0x00, 0xff,
              0x70, 0x00, 0x00, 0x75, 0x30,
              0x40, 0x40,
              0xa3, 0x0a, b'A', b'N', b'O', b'N', b'Y', b'M', b'O', b'U', b'S', b'-'],
            Open {
                max_frame_size: 65_536,
                channel_max: 255,
                idle_time_out: Some(30_000),
                offered_capabilities: Symbols::One("ANONYMOUS-"),
                ..Open::new("c")
            },
        );
    }

    #[test]
    fn properties_stay_raw() {
        // open{"c", properties: {product: "x"}}
        #[rustfmt::skip]
        let body = [
            0x00, 0x53, 0x10, 0xc0, 0x1b, 0x0a,
            0xa1, 0x01, b'c',
            0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40,
            0xc1, 0x0d, 0x02, 0xa3, 0x07, b'p', b'r', b'o', b'd', b'u', b'c', b't', 0xa1, 0x01, b'x',
        ];
        let (Performative::Open(open), rest) = Performative::decode(&body).unwrap() else {
            panic!()
        };
        assert!(rest.is_empty());
        let props = open.properties.unwrap();
        assert_eq!(
            props.get(&Value::Symbol("product")),
            Ok(Some(Value::String("x")))
        );
        let mut out = Vec::new();
        open.encode(&mut out);
        assert_eq!(out, body);
    }

    #[test]
    fn malformed() {
        // Missing container-id, container-id as symbol, channel-max as uint.
        let cases: [(&[u8], Error); 3] = [
            (
                &[0x00, 0x53, 0x10, 0x45],
                Error::MissingField("open.container-id"),
            ),
            (
                &[0x00, 0x53, 0x10, 0xc0, 0x04, 0x01, 0xa3, 0x01, b'c'],
                Error::InvalidField("open.container-id"),
            ),
            (
                &[
                    0x00, 0x53, 0x10, 0xc0, 0x08, 0x04, 0xa1, 0x01, b'c', 0x40, 0x40, 0x52, 0x01,
                ],
                Error::InvalidField("open.channel-max"),
            ),
        ];
        for (bytes, want) in cases {
            assert_eq!(Performative::decode(bytes), Err(want));
        }
    }
}
