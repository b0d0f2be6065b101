//! PUBLISH packet (MQTT 3.1.1 §3.3, MQTT 5.0 §3.3) and the allocation-free
//! hot-path header encoder.

use super::codec::{clamp_str, put_u16, valid_topic_name, Reader};
use super::header::{check_flags, packet_len, write_var_int};
use super::{packet_type, Error, Properties, Protocol, QoS};

/// PUBLISH (§3.3): an application message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Publish<'a> {
    /// DUP flag (§3.3.1.1); must be false at QoS 0.
    pub dup: bool,
    /// QoS level (§3.3.1.2).
    pub qos: QoS,
    /// RETAIN flag (§3.3.1.3).
    pub retain: bool,
    /// Topic name (§3.3.2.1); no wildcards. May be empty in v5 only when a
    /// Topic Alias property is present (MQTT 5.0 §3.3.2.3.4).
    pub topic: &'a str,
    /// Packet identifier (§3.3.2.2): 0 and absent on the wire at QoS 0,
    /// nonzero otherwise.
    pub pkid: u16,
    /// MQTT 5.0 properties (§3.3.2.3); empty under 3.1.1.
    pub properties: Properties<'a>,
    /// Application payload (§3.3.3).
    pub payload: &'a [u8],
}

/// First fixed-header byte for a PUBLISH (§3.3.1).
#[inline]
const fn first_byte(qos: QoS, retain: bool, dup: bool) -> u8 {
    0x30 | (dup as u8) << 3 | (qos as u8) << 1 | retain as u8
}

/// Remaining length of a PUBLISH whose property block takes `props_len`
/// bytes (Property Length prefix included; 0 under 3.1.1).
#[inline]
const fn remaining_len(qos: QoS, topic_len: usize, props_len: usize, payload_len: usize) -> usize {
    let pkid_len = match qos {
        QoS::AtMostOnce => 0,
        _ => 2,
    };
    2 + topic_len + pkid_len + props_len + payload_len
}

/// Whole-packet size of a PUBLISH without properties, as written by
/// [`encode_publish_header`] followed by the payload.
#[inline]
pub const fn publish_len(
    protocol: Protocol,
    qos: QoS,
    topic_len: usize,
    payload_len: usize,
) -> usize {
    let props_len = match protocol {
        Protocol::V311 => 0,
        Protocol::V5 => 1,
    };
    packet_len(remaining_len(qos, topic_len, props_len, payload_len))
}

/// Hot path: append everything of a PUBLISH except the payload; under v5 the
/// property block is empty (a single 0 byte). The caller appends exactly
/// `payload_len` payload bytes next. `pkid` is ignored at QoS 0. Does not
/// allocate when `out` has room for the whole packet (see [`publish_len`]).
#[inline]
#[allow(clippy::too_many_arguments)]
pub fn encode_publish_header(
    protocol: Protocol,
    qos: QoS,
    retain: bool,
    dup: bool,
    topic: &str,
    pkid: u16,
    payload_len: usize,
    out: &mut Vec<u8>,
) {
    let topic = clamp_str(topic);
    let props_len = match protocol {
        Protocol::V311 => 0,
        Protocol::V5 => 1,
    };
    let remaining = remaining_len(qos, topic.len(), props_len, payload_len);
    out.reserve(packet_len(remaining));
    out.push(first_byte(qos, retain, dup));
    write_var_int(remaining, out);
    put_u16(topic.len() as u16, out);
    out.extend_from_slice(topic);
    match (qos, protocol) {
        (QoS::AtMostOnce, Protocol::V311) => {}
        (QoS::AtMostOnce, Protocol::V5) => out.push(0),
        (_, Protocol::V311) => put_u16(pkid, out),
        (_, Protocol::V5) => {
            let [hi, lo] = pkid.to_be_bytes();
            out.extend_from_slice(&[hi, lo, 0]);
        }
    }
}

impl<'a> Publish<'a> {
    /// A QoS 0 publish without properties.
    pub const fn new(topic: &'a str, payload: &'a [u8]) -> Self {
        Publish {
            dup: false,
            qos: QoS::AtMostOnce,
            retain: false,
            topic,
            pkid: 0,
            properties: Properties::EMPTY,
            payload,
        }
    }

    /// Decode the body that follows the fixed header. `flags` carries DUP,
    /// QoS and RETAIN (§3.3.1); the payload is whatever follows the variable
    /// header (§3.3.3).
    pub fn decode(flags: u8, body: &'a [u8], protocol: Protocol) -> Result<Self, Error> {
        check_flags(packet_type::PUBLISH, flags)?;
        let qos = QoS::try_from((flags >> 1) & 0b11)?;
        let mut r = Reader::new(body);
        let topic = r.str()?;
        let pkid = match qos {
            QoS::AtMostOnce => 0,
            _ => r.packet_id()?,
        };
        let properties = r.properties(protocol)?;
        // §3.3.2-2: no wildcards. 3.1.1 §4.7.3-1: not empty. 5.0 §3.3.2.3.4:
        // empty only together with a Topic Alias.
        if !valid_topic_name(topic)
            || (topic.is_empty() && (protocol == Protocol::V311 || properties.find(0x23).is_none()))
        {
            return Err(Error::InvalidTopic);
        }
        Ok(Publish {
            dup: flags & 0b1000 != 0,
            qos,
            retain: flags & 0b0001 != 0,
            topic,
            pkid,
            properties,
            payload: r.rest(),
        })
    }

    fn props_len(&self, protocol: Protocol) -> usize {
        match protocol {
            Protocol::V311 => 0,
            Protocol::V5 => self.properties.encoded_len(),
        }
    }

    /// Append the whole packet.
    pub fn encode(&self, protocol: Protocol, out: &mut Vec<u8>) {
        if self.properties.is_empty() {
            encode_publish_header(
                protocol,
                self.qos,
                self.retain,
                self.dup,
                self.topic,
                self.pkid,
                self.payload.len(),
                out,
            );
            out.extend_from_slice(self.payload);
            return;
        }
        let topic = clamp_str(self.topic);
        let remaining = remaining_len(
            self.qos,
            topic.len(),
            self.props_len(protocol),
            self.payload.len(),
        );
        out.reserve(packet_len(remaining));
        out.push(first_byte(self.qos, self.retain, self.dup));
        write_var_int(remaining, out);
        put_u16(topic.len() as u16, out);
        out.extend_from_slice(topic);
        if self.qos != QoS::AtMostOnce {
            put_u16(self.pkid, out);
        }
        if protocol == Protocol::V5 {
            self.properties.encode(out);
        }
        out.extend_from_slice(self.payload);
    }

    /// Exact number of bytes [`Self::encode`] appends.
    pub fn encoded_len(&self, protocol: Protocol) -> usize {
        packet_len(remaining_len(
            self.qos,
            clamp_str(self.topic).len(),
            self.props_len(protocol),
            self.payload.len(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::super::{decode, Decode, Packet, Property};
    use super::*;

    fn both_ways(bytes: &[u8], protocol: Protocol, publish: Publish<'_>) {
        assert_eq!(
            decode(bytes, protocol, 1024),
            Ok(Decode::Complete(Packet::Publish(publish), bytes.len()))
        );
        let mut out = Vec::new();
        publish.encode(protocol, &mut out);
        assert_eq!(out, bytes);
        assert_eq!(publish.encoded_len(protocol), bytes.len());
    }

    #[test]
    fn qos0_both_versions() {
        let publish = Publish::new("a/b", b"hi");
        both_ways(
            &[0x30, 0x07, 0x00, 0x03, b'a', b'/', b'b', b'h', b'i'],
            Protocol::V311,
            publish,
        );
        both_ways(
            &[0x30, 0x08, 0x00, 0x03, b'a', b'/', b'b', 0x00, b'h', b'i'],
            Protocol::V5,
            publish,
        );
    }

    #[test]
    fn qos1_retain_dup_v311() {
        let publish = Publish {
            dup: true,
            qos: QoS::AtLeastOnce,
            retain: true,
            topic: "t",
            pkid: 10,
            properties: Properties::EMPTY,
            payload: &[],
        };
        both_ways(
            &[0x3B, 0x05, 0x00, 0x01, b't', 0x00, 0x0A],
            Protocol::V311,
            publish,
        );
    }

    #[test]
    fn qos2_v5_with_alias_and_empty_topic() {
        let props = [Property::TopicAlias(7), Property::PayloadFormatIndicator(1)];
        let publish = Publish {
            dup: false,
            qos: QoS::ExactlyOnce,
            retain: false,
            topic: "",
            pkid: 0x1234,
            properties: Properties::List(&props),
            payload: b"x",
        };
        #[rustfmt::skip]
        both_ways(
            &[0x34, 0x0B, 0x00, 0x00, 0x12, 0x34,
              0x05, 0x23, 0x00, 0x07, 0x01, 0x01,
              b'x'],
            Protocol::V5,
            publish,
        );
    }

    #[test]
    fn hot_path_header_matches_encode() {
        let payload = [0xAB; 100];
        for protocol in [Protocol::V311, Protocol::V5] {
            for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
                let pkid = if qos == QoS::AtMostOnce { 0 } else { 9 };
                let mut fast = Vec::with_capacity(publish_len(protocol, qos, 11, 100));
                let capacity = fast.capacity();
                encode_publish_header(
                    protocol,
                    qos,
                    false,
                    false,
                    "bench/topic",
                    pkid,
                    100,
                    &mut fast,
                );
                fast.extend_from_slice(&payload);
                assert_eq!(fast.capacity(), capacity, "no reallocation");
                assert_eq!(fast.len(), publish_len(protocol, qos, 11, 100));
                let publish = Publish {
                    qos,
                    pkid,
                    ..Publish::new("bench/topic", &payload)
                };
                let mut slow = Vec::new();
                publish.encode(protocol, &mut slow);
                assert_eq!(fast, slow);
            }
        }
    }

    #[test]
    fn malformed() {
        let v = Protocol::V311;
        // QoS 3.
        assert_eq!(
            decode(&[0x36, 0x03, 0x00, 0x01, b't'], v, 64),
            Err(Error::InvalidQoS(3))
        );
        // DUP at QoS 0.
        assert!(matches!(
            decode(&[0x38, 0x03, 0x00, 0x01, b't'], v, 64),
            Err(Error::InvalidFlags { .. })
        ));
        // Wildcard in topic name.
        assert_eq!(
            decode(&[0x30, 0x03, 0x00, 0x01, b'#'], v, 64),
            Err(Error::InvalidTopic)
        );
        // Empty topic: invalid in 3.1.1, and in v5 without a Topic Alias.
        assert_eq!(
            decode(&[0x30, 0x02, 0x00, 0x00], v, 64),
            Err(Error::InvalidTopic)
        );
        assert_eq!(
            decode(&[0x30, 0x03, 0x00, 0x00, 0x00], Protocol::V5, 64),
            Err(Error::InvalidTopic)
        );
        // Packet identifier 0 at QoS 1.
        assert_eq!(
            decode(&[0x32, 0x05, 0x00, 0x01, b't', 0x00, 0x00], v, 64),
            Err(Error::ZeroPacketId)
        );
        // Invalid UTF-8 topic.
        assert_eq!(
            decode(&[0x30, 0x03, 0x00, 0x01, 0xC0], v, 64),
            Err(Error::InvalidUtf8)
        );
        // Truncated topic length.
        assert!(decode(&[0x30, 0x01, 0x00], v, 64).is_err());
        // Too large: rejected from the header alone.
        assert_eq!(
            decode(&[0x30, 0xC8, 0x01], v, 100),
            Err(Error::PacketTooLarge {
                size: 203,
                max: 100
            })
        );
        // Incomplete body.
        assert_eq!(
            decode(&[0x30, 0x07, 0x00, 0x03, b'a'], v, 64),
            Ok(Decode::Incomplete(4))
        );
    }
}
