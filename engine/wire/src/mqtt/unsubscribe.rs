//! UNSUBSCRIBE packet (MQTT 3.1.1 §3.10, MQTT 5.0 §3.10).

use super::codec::{
    properties_len, put_properties, put_str, put_u16, str_len, utf8, valid_topic_filter, Reader,
};
use super::header::{check_flags, packet_len, put_fixed_header};
use super::{packet_type, Error, Properties, Protocol};

/// The UNSUBSCRIBE payload: topic filters (§3.10.3).
///
/// `Raw` is what decoding produces, a view over bytes validated by
/// [`UnsubscribeFilters::parse`]; `List` encodes from a slice without
/// allocating. Equality compares the filters.
#[derive(Debug, Clone, Copy)]
pub enum UnsubscribeFilters<'a> {
    /// Encoded payload: length-prefixed topic filters.
    Raw(&'a [u8]),
    /// Filters to encode.
    List(&'a [&'a str]),
}

impl<'a> UnsubscribeFilters<'a> {
    /// Validate an UNSUBSCRIBE payload: at least one filter (§3.10.3-2), each
    /// a valid UTF-8 topic filter (§4.7).
    pub fn parse(payload: &'a [u8]) -> Result<Self, Error> {
        let mut r = Reader::new(payload);
        if r.is_empty() {
            return Err(Error::MalformedPacket("UNSUBSCRIBE without topic filters"));
        }
        while !r.is_empty() {
            if !valid_topic_filter(r.str()?) {
                return Err(Error::InvalidTopic);
            }
        }
        Ok(UnsubscribeFilters::Raw(payload))
    }

    /// Iterate the topic filters in wire order.
    pub fn iter(&self) -> UnsubscribeFiltersIter<'a> {
        match *self {
            UnsubscribeFilters::Raw(bytes) => UnsubscribeFiltersIter::Raw(bytes),
            UnsubscribeFilters::List(list) => UnsubscribeFiltersIter::List(list.iter()),
        }
    }

    /// True when there are no filters.
    pub fn is_empty(&self) -> bool {
        match self {
            UnsubscribeFilters::Raw(bytes) => bytes.is_empty(),
            UnsubscribeFilters::List(list) => list.is_empty(),
        }
    }

    /// Payload bytes [`Self::encode`] writes.
    pub fn encoded_len(&self) -> usize {
        match self {
            UnsubscribeFilters::Raw(bytes) => bytes.len(),
            UnsubscribeFilters::List(list) => list.iter().map(|f| str_len(f)).sum(),
        }
    }

    /// Append the payload.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match *self {
            UnsubscribeFilters::Raw(bytes) => out.extend_from_slice(bytes),
            UnsubscribeFilters::List(list) => {
                for filter in list {
                    put_str(filter, out);
                }
            }
        }
    }
}

impl PartialEq for UnsubscribeFilters<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for UnsubscribeFilters<'_> {}

impl<'a> IntoIterator for &UnsubscribeFilters<'a> {
    type Item = &'a str;
    type IntoIter = UnsubscribeFiltersIter<'a>;

    fn into_iter(self) -> UnsubscribeFiltersIter<'a> {
        self.iter()
    }
}

/// Iterator over [`UnsubscribeFilters`]. Iterating a hand-built malformed
/// `Raw` stops at the first bad entry.
#[derive(Debug, Clone)]
pub enum UnsubscribeFiltersIter<'a> {
    /// Over encoded bytes.
    Raw(&'a [u8]),
    /// Over a list.
    List(core::slice::Iter<'a, &'a str>),
}

impl<'a> Iterator for UnsubscribeFiltersIter<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        match self {
            UnsubscribeFiltersIter::Raw(rest) => {
                let mut r = Reader::new(rest);
                match r.binary().and_then(utf8) {
                    Ok(filter) => {
                        *rest = r.rest();
                        Some(filter)
                    }
                    Err(_) => {
                        *rest = &[];
                        None
                    }
                }
            }
            UnsubscribeFiltersIter::List(list) => list.next().copied(),
        }
    }
}

/// UNSUBSCRIBE (§3.10): fixed-header flags must be 0b0010 (§3.10.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unsubscribe<'a> {
    /// Packet identifier, nonzero (§2.3.1).
    pub pkid: u16,
    /// MQTT 5.0 properties (§3.10.2.1); empty under 3.1.1.
    pub properties: Properties<'a>,
    /// Topic filters (§3.10.3).
    pub filters: UnsubscribeFilters<'a>,
}

impl<'a> Unsubscribe<'a> {
    /// Decode the body that follows the fixed header.
    pub fn decode(flags: u8, body: &'a [u8], protocol: Protocol) -> Result<Self, Error> {
        check_flags(packet_type::UNSUBSCRIBE, flags)?;
        let mut r = Reader::new(body);
        let pkid = r.packet_id()?;
        let properties = r.properties(protocol)?;
        let filters = UnsubscribeFilters::parse(r.rest())?;
        Ok(Unsubscribe {
            pkid,
            properties,
            filters,
        })
    }

    /// Encode an UNSUBSCRIBE straight from a slice of filters.
    pub fn encode_filters(
        pkid: u16,
        properties: Properties<'_>,
        filters: &[&str],
        protocol: Protocol,
        out: &mut Vec<u8>,
    ) {
        Unsubscribe {
            pkid,
            properties,
            filters: UnsubscribeFilters::List(filters),
        }
        .encode(protocol, out);
    }

    fn body_len(&self, protocol: Protocol) -> usize {
        2 + properties_len(&self.properties, protocol) + self.filters.encoded_len()
    }

    /// Append the whole packet.
    pub fn encode(&self, protocol: Protocol, out: &mut Vec<u8>) {
        let body = self.body_len(protocol);
        out.reserve(packet_len(body));
        put_fixed_header(0xA2, body, out);
        put_u16(self.pkid, out);
        put_properties(&self.properties, protocol, out);
        self.filters.encode(out);
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

    fn both_ways(bytes: &[u8], protocol: Protocol, unsubscribe: Unsubscribe<'_>) {
        assert_eq!(
            decode(bytes, protocol, 64),
            Ok(Decode::Complete(
                Packet::Unsubscribe(unsubscribe),
                bytes.len()
            ))
        );
        let mut out = Vec::new();
        unsubscribe.encode(protocol, &mut out);
        assert_eq!(out, bytes);
        assert_eq!(unsubscribe.encoded_len(protocol), bytes.len());
    }

    #[test]
    fn v311() {
        #[rustfmt::skip]
        let bytes = [
            0xA2, 0x0A, 0x00, 0x07,
            0x00, 0x01, b'a',
            0x00, 0x03, b'b', b'/', b'+',
        ];
        let list = ["a", "b/+"];
        let unsubscribe = Unsubscribe {
            pkid: 7,
            properties: Properties::EMPTY,
            filters: UnsubscribeFilters::List(&list),
        };
        both_ways(&bytes, Protocol::V311, unsubscribe);
        let mut out = Vec::new();
        Unsubscribe::encode_filters(7, Properties::EMPTY, &list, Protocol::V311, &mut out);
        assert_eq!(out, bytes);
    }

    #[test]
    fn v5() {
        #[rustfmt::skip]
        let bytes = [
            0xA2, 0x0D, 0x00, 0x07,
            0x07, 0x26, 0x00, 0x01, b'k', 0x00, 0x01, b'v',
            0x00, 0x01, b'#',
        ];
        let props = [Property::UserProperty("k", "v")];
        let list = ["#"];
        let unsubscribe = Unsubscribe {
            pkid: 7,
            properties: Properties::List(&props),
            filters: UnsubscribeFilters::List(&list),
        };
        both_ways(&bytes, Protocol::V5, unsubscribe);
    }

    #[test]
    fn malformed() {
        let v = Protocol::V311;
        assert!(matches!(
            decode(&[0xA0, 0x05, 0x00, 0x01, 0x00, 0x01, b'a'], v, 64),
            Err(Error::InvalidFlags { .. })
        ));
        // No filters.
        assert!(decode(&[0xA2, 0x02, 0x00, 0x01], v, 64).is_err());
        // Empty filter (§4.7.3).
        assert_eq!(
            decode(&[0xA2, 0x04, 0x00, 0x01, 0x00, 0x00], v, 64),
            Err(Error::InvalidTopic)
        );
        // Filter runs past the end.
        assert!(decode(&[0xA2, 0x05, 0x00, 0x01, 0x00, 0x02, b'a'], v, 64).is_err());
    }
}
