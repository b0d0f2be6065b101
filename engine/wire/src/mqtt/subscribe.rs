//! SUBSCRIBE packet (MQTT 3.1.1 §3.8, MQTT 5.0 §3.8).

use super::codec::{
    properties_len, put_properties, put_str, put_u16, str_len, utf8, valid_topic_filter, Reader,
};
use super::header::{check_flags, packet_len, put_fixed_header};
use super::{packet_type, Error, Properties, Protocol, QoS};

/// Subscription options byte (MQTT 5.0 §3.8.3.1; MQTT 3.1.1 §3.8.3 has the
/// QoS bits only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SubscribeOptions {
    /// Maximum QoS, bits 0-1.
    pub qos: QoS,
    /// No Local, bit 2 (v5 only).
    pub no_local: bool,
    /// Retain As Published, bit 3 (v5 only).
    pub retain_as_published: bool,
    /// Retain Handling 0, 1 or 2, bits 4-5 (v5 only).
    pub retain_handling: u8,
}

impl SubscribeOptions {
    /// Only a maximum QoS; every v5 option off.
    pub const fn new(qos: QoS) -> Self {
        SubscribeOptions {
            qos,
            no_local: false,
            retain_as_published: false,
            retain_handling: 0,
        }
    }

    /// Parse an options byte. Reserved bits must be 0: bits 2-7 in 3.1.1
    /// (§3.8.3.1), bits 6-7 in 5.0, and retain handling 3 is a protocol
    /// error (MQTT 5.0 §3.8.3.1).
    pub fn from_byte(byte: u8, protocol: Protocol) -> Result<Self, Error> {
        let reserved = match protocol {
            Protocol::V311 => 0xFC,
            Protocol::V5 => 0xC0,
        };
        let retain_handling = (byte >> 4) & 0b11;
        if byte & reserved != 0 || retain_handling == 3 {
            return Err(Error::InvalidSubscribeOptions(byte));
        }
        Ok(SubscribeOptions {
            qos: QoS::try_from(byte & 0b11)?,
            no_local: byte & 0b0100 != 0,
            retain_as_published: byte & 0b1000 != 0,
            retain_handling,
        })
    }

    /// The options byte; under 3.1.1 only the QoS bits are written.
    pub const fn to_byte(self, protocol: Protocol) -> u8 {
        let qos = self.qos as u8;
        match protocol {
            Protocol::V311 => qos,
            Protocol::V5 => {
                qos | (self.no_local as u8) << 2
                    | (self.retain_as_published as u8) << 3
                    | (self.retain_handling & 0b11) << 4
            }
        }
    }
}

impl From<QoS> for SubscribeOptions {
    fn from(qos: QoS) -> Self {
        SubscribeOptions::new(qos)
    }
}

/// The SUBSCRIBE payload: topic filters with their options (§3.8.3).
///
/// `Raw` is what decoding produces, a view over bytes validated by
/// [`Filters::parse`]; `List` encodes from a slice without allocating.
/// Equality compares the filters, so a `List` equals the `Raw` it decodes to.
#[derive(Debug, Clone, Copy)]
pub enum Filters<'a> {
    /// Encoded payload: (length-prefixed filter, options byte) pairs.
    Raw(&'a [u8]),
    /// Filters to encode.
    List(&'a [(&'a str, SubscribeOptions)]),
}

impl<'a> Filters<'a> {
    /// Validate a SUBSCRIBE payload: at least one entry (§3.8.3-3), each a
    /// valid UTF-8 topic filter (§4.7) and a valid options byte.
    pub fn parse(payload: &'a [u8], protocol: Protocol) -> Result<Self, Error> {
        let mut r = Reader::new(payload);
        if r.is_empty() {
            return Err(Error::MalformedPacket("SUBSCRIBE without topic filters"));
        }
        while !r.is_empty() {
            if !valid_topic_filter(r.str()?) {
                return Err(Error::InvalidTopic);
            }
            SubscribeOptions::from_byte(r.u8()?, protocol)?;
        }
        Ok(Filters::Raw(payload))
    }

    /// Iterate `(topic filter, options)` in wire order.
    pub fn iter(&self) -> FiltersIter<'a> {
        match *self {
            Filters::Raw(bytes) => FiltersIter::Raw(bytes),
            Filters::List(list) => FiltersIter::List(list.iter()),
        }
    }

    /// True when there are no filters.
    pub fn is_empty(&self) -> bool {
        match self {
            Filters::Raw(bytes) => bytes.is_empty(),
            Filters::List(list) => list.is_empty(),
        }
    }

    /// Payload bytes [`Filters::encode`] writes.
    pub fn encoded_len(&self, protocol: Protocol) -> usize {
        match *self {
            Filters::Raw(bytes) if protocol == Protocol::V5 => bytes.len(),
            _ => self.iter().map(|(f, _)| str_len(f) + 1).sum(),
        }
    }

    /// Append the payload.
    pub fn encode(&self, protocol: Protocol, out: &mut Vec<u8>) {
        match *self {
            Filters::Raw(bytes) if protocol == Protocol::V5 => out.extend_from_slice(bytes),
            // Lists, and raw bytes written for 3.1.1 (they may come from a v5
            // decode): entry by entry, so v5-only option bits never reach a
            // 3.1.1 peer.
            _ => {
                for (filter, options) in self.iter() {
                    put_str(filter, out);
                    out.push(options.to_byte(protocol));
                }
            }
        }
    }
}

impl PartialEq for Filters<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for Filters<'_> {}

impl<'a> IntoIterator for &Filters<'a> {
    type Item = (&'a str, SubscribeOptions);
    type IntoIter = FiltersIter<'a>;

    fn into_iter(self) -> FiltersIter<'a> {
        self.iter()
    }
}

/// Iterator over [`Filters`]. Iterating a hand-built malformed `Raw` stops at
/// the first bad entry.
#[derive(Debug, Clone)]
pub enum FiltersIter<'a> {
    /// Over encoded bytes.
    Raw(&'a [u8]),
    /// Over a list.
    List(core::slice::Iter<'a, (&'a str, SubscribeOptions)>),
}

impl<'a> Iterator for FiltersIter<'a> {
    type Item = (&'a str, SubscribeOptions);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            FiltersIter::Raw(rest) => {
                let mut r = Reader::new(rest);
                let item = r
                    .binary()
                    .and_then(utf8)
                    .and_then(|f| Ok((f, SubscribeOptions::from_byte(r.u8()?, Protocol::V5)?)));
                match item {
                    Ok(item) => {
                        *rest = r.rest();
                        Some(item)
                    }
                    Err(_) => {
                        *rest = &[];
                        None
                    }
                }
            }
            FiltersIter::List(list) => list.next().copied(),
        }
    }
}

/// SUBSCRIBE (§3.8): fixed-header flags must be 0b0010 (§3.8.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subscribe<'a> {
    /// Packet identifier, nonzero (§2.3.1).
    pub pkid: u16,
    /// MQTT 5.0 properties (§3.8.2.1); empty under 3.1.1.
    pub properties: Properties<'a>,
    /// Topic filters and options (§3.8.3).
    pub filters: Filters<'a>,
}

impl<'a> Subscribe<'a> {
    /// Decode the body that follows the fixed header.
    pub fn decode(flags: u8, body: &'a [u8], protocol: Protocol) -> Result<Self, Error> {
        check_flags(packet_type::SUBSCRIBE, flags)?;
        let mut r = Reader::new(body);
        let pkid = r.packet_id()?;
        let properties = r.properties(protocol)?;
        let filters = Filters::parse(r.rest(), protocol)?;
        Ok(Subscribe {
            pkid,
            properties,
            filters,
        })
    }

    /// Encode a SUBSCRIBE straight from a slice of filters.
    pub fn encode_filters(
        pkid: u16,
        properties: Properties<'_>,
        filters: &[(&str, SubscribeOptions)],
        protocol: Protocol,
        out: &mut Vec<u8>,
    ) {
        Subscribe {
            pkid,
            properties,
            filters: Filters::List(filters),
        }
        .encode(protocol, out);
    }

    fn body_len(&self, protocol: Protocol) -> usize {
        2 + properties_len(&self.properties, protocol) + self.filters.encoded_len(protocol)
    }

    /// Append the whole packet.
    pub fn encode(&self, protocol: Protocol, out: &mut Vec<u8>) {
        let body = self.body_len(protocol);
        out.reserve(packet_len(body));
        put_fixed_header(0x82, body, out);
        put_u16(self.pkid, out);
        put_properties(&self.properties, protocol, out);
        self.filters.encode(protocol, out);
    }

    /// Exact number of bytes [`Self::encode`] appends.
    pub fn encoded_len(&self, protocol: Protocol) -> usize {
        packet_len(self.body_len(protocol))
    }
}

#[cfg(test)]
mod tests {
    use super::super::{decode, Decode, Packet, Property};
    use super::*;

    fn both_ways(bytes: &[u8], protocol: Protocol, subscribe: Subscribe<'_>) {
        assert_eq!(
            decode(bytes, protocol, 256),
            Ok(Decode::Complete(Packet::Subscribe(subscribe), bytes.len()))
        );
        let mut out = Vec::new();
        subscribe.encode(protocol, &mut out);
        assert_eq!(out, bytes);
        assert_eq!(subscribe.encoded_len(protocol), bytes.len());
    }

    #[test]
    fn v311_two_filters() {
        #[rustfmt::skip]
        let bytes = [
            0x82, 0x0E, 0x00, 0x0A,
            0x00, 0x03, b'a', b'/', b'b', 0x01,
            0x00, 0x03, b'c', b'/', b'#', 0x02,
        ];
        let list = [
            ("a/b", SubscribeOptions::new(QoS::AtLeastOnce)),
            ("c/#", SubscribeOptions::new(QoS::ExactlyOnce)),
        ];
        let subscribe = Subscribe {
            pkid: 10,
            properties: Properties::EMPTY,
            filters: Filters::List(&list),
        };
        both_ways(&bytes, Protocol::V311, subscribe);
        let mut out = Vec::new();
        Subscribe::encode_filters(10, Properties::EMPTY, &list, Protocol::V311, &mut out);
        assert_eq!(out, bytes);
    }

    #[test]
    fn v5_options_and_properties() {
        #[rustfmt::skip]
        let bytes = [
            0x82, 0x09, 0x00, 0x01,
            0x02, 0x0B, 0x05,                   // subscription identifier 5
            0x00, 0x01, b'+', 0b0010_1101,      // QoS 1, no local, RAP, handling 2
        ];
        let options = SubscribeOptions {
            qos: QoS::AtLeastOnce,
            no_local: true,
            retain_as_published: true,
            retain_handling: 2,
        };
        let list = [("+", options)];
        let props = [Property::SubscriptionIdentifier(5)];
        let subscribe = Subscribe {
            pkid: 1,
            properties: Properties::List(&props),
            filters: Filters::List(&list),
        };
        both_ways(&bytes, Protocol::V5, subscribe);
        // The v5-only bits are dropped when written for 3.1.1.
        assert_eq!(options.to_byte(Protocol::V311), 0x01);
    }

    #[test]
    fn malformed() {
        let v = Protocol::V311;
        // Flags must be 0b0010.
        assert!(matches!(
            decode(&[0x80, 0x06, 0x00, 0x01, 0x00, 0x01, b'a', 0x00], v, 64),
            Err(Error::InvalidFlags { .. })
        ));
        // No filters.
        assert!(decode(&[0x82, 0x02, 0x00, 0x01], v, 64).is_err());
        // Packet identifier 0.
        assert_eq!(
            decode(&[0x82, 0x06, 0x00, 0x00, 0x00, 0x01, b'a', 0x00], v, 64),
            Err(Error::ZeroPacketId)
        );
        // QoS 3, and v5 bits under 3.1.1.
        assert_eq!(
            decode(&[0x82, 0x06, 0x00, 0x01, 0x00, 0x01, b'a', 0x03], v, 64),
            Err(Error::InvalidQoS(3))
        );
        assert_eq!(
            decode(&[0x82, 0x06, 0x00, 0x01, 0x00, 0x01, b'a', 0x04], v, 64),
            Err(Error::InvalidSubscribeOptions(0x04))
        );
        // Retain handling 3 in v5.
        assert_eq!(
            decode(
                &[0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, b'a', 0x30],
                Protocol::V5,
                64
            ),
            Err(Error::InvalidSubscribeOptions(0x30))
        );
        // Bad wildcard placement.
        assert_eq!(
            decode(
                &[0x82, 0x07, 0x00, 0x01, 0x00, 0x02, b'#', b'a', 0x00],
                v,
                64
            ),
            Err(Error::InvalidTopic)
        );
        // Options byte missing.
        assert!(decode(&[0x82, 0x05, 0x00, 0x01, 0x00, 0x01, b'a'], v, 64).is_err());
    }
}
