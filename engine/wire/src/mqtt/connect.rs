//! CONNECT packet (MQTT 3.1.1 §3.1, MQTT 5.0 §3.1).

use super::codec::{
    bin_len, properties_len, put_bin, put_properties, put_str, put_u16, str_len, valid_topic_name,
    Reader,
};
use super::header::{check_flags, packet_len, put_fixed_header};
use super::{packet_type, Error, Properties, Protocol, QoS};

/// Protocol name field: length 4, "MQTT" (§3.1.2.1).
const PROTOCOL_NAME: [u8; 6] = [0x00, 0x04, b'M', b'Q', b'T', b'T'];

/// Connect flag bits (§3.1.2.3).
const USERNAME: u8 = 0x80;
const PASSWORD: u8 = 0x40;
const WILL_RETAIN: u8 = 0x20;
const WILL_FLAG: u8 = 0x04;
const CLEAN_START: u8 = 0x02;
const RESERVED: u8 = 0x01;

/// CONNECT (§3.1): the first packet a client sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Connect<'a> {
    /// Protocol version, from the protocol level byte (§3.1.2.2).
    pub protocol: Protocol,
    /// Clean Session (3.1.1 §3.1.2.4) / Clean Start (5.0 §3.1.2.4).
    pub clean_start: bool,
    /// Keep alive in seconds (§3.1.2.10).
    pub keep_alive: u16,
    /// Client identifier (§3.1.3.1); may be empty.
    pub client_id: &'a str,
    /// Will message (§3.1.2.5, §3.1.3.2-§3.1.3.4).
    pub will: Option<Will<'a>>,
    /// User name (§3.1.3.5).
    pub username: Option<&'a str>,
    /// Password, binary (§3.1.3.6).
    pub password: Option<&'a [u8]>,
    /// MQTT 5.0 CONNECT properties (§3.1.2.11); empty under 3.1.1.
    pub properties: Properties<'a>,
}

/// The Will message carried by CONNECT (§3.1.2.5-§3.1.2.7, §3.1.3.2-§3.1.3.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Will<'a> {
    /// Will topic, a topic name without wildcards (§3.1.3.3).
    pub topic: &'a str,
    /// Will payload, binary (§3.1.3.4).
    pub payload: &'a [u8],
    /// Will QoS (§3.1.2.6).
    pub qos: QoS,
    /// Will Retain (§3.1.2.7).
    pub retain: bool,
    /// MQTT 5.0 Will properties (§3.1.3.2); empty under 3.1.1.
    pub properties: Properties<'a>,
}

impl<'a> Connect<'a> {
    /// A CONNECT with clean start, no will, no credentials, no properties.
    pub const fn new(protocol: Protocol, client_id: &'a str, keep_alive: u16) -> Self {
        Connect {
            protocol,
            clean_start: true,
            keep_alive,
            client_id,
            will: None,
            username: None,
            password: None,
            properties: Properties::EMPTY,
        }
    }

    /// Decode the body that follows the fixed header. The version comes from
    /// the packet's own protocol level (4 or 5), not from `_protocol`.
    pub fn decode(flags: u8, body: &'a [u8], _protocol: Protocol) -> Result<Self, Error> {
        check_flags(packet_type::CONNECT, flags)?;
        let mut r = Reader::new(body);
        let name = r.binary()?;
        let level = r.u8()?;
        let protocol = match (name, Protocol::from_level(level)) {
            (b"MQTT", Some(protocol)) => protocol,
            (b"MQTT" | b"MQIsdp", _) => return Err(Error::UnsupportedProtocolLevel(level)),
            _ => return Err(Error::InvalidProtocolName),
        };
        let connect_flags = r.u8()?;
        // §3.1.2.3: the reserved flag must be 0.
        if connect_flags & RESERVED != 0 {
            return Err(Error::MalformedPacket("CONNECT reserved flag set"));
        }
        let will_flag = connect_flags & WILL_FLAG != 0;
        let will_qos = QoS::try_from((connect_flags >> 3) & 0b11)?;
        let will_retain = connect_flags & WILL_RETAIN != 0;
        // §3.1.2-11/13/15 (5.0: §3.1.2.6-7): QoS and retain need the will flag.
        if !will_flag && (will_qos != QoS::AtMostOnce || will_retain) {
            return Err(Error::MalformedPacket(
                "will QoS or retain without will flag",
            ));
        }
        let has_username = connect_flags & USERNAME != 0;
        let has_password = connect_flags & PASSWORD != 0;
        // MQTT 3.1.1 §3.1.2-22: no password without a user name.
        if protocol == Protocol::V311 && has_password && !has_username {
            return Err(Error::MalformedPacket("password without user name"));
        }
        let keep_alive = r.u16()?;
        let properties = r.properties(protocol)?;
        let client_id = r.str()?;
        let will = if will_flag {
            let properties = r.properties(protocol)?;
            let topic = r.str()?;
            if topic.is_empty() || !valid_topic_name(topic) {
                return Err(Error::InvalidTopic);
            }
            Some(Will {
                topic,
                payload: r.binary()?,
                qos: will_qos,
                retain: will_retain,
                properties,
            })
        } else {
            None
        };
        let username = if has_username { Some(r.str()?) } else { None };
        let password = if has_password {
            Some(r.binary()?)
        } else {
            None
        };
        r.finish()?;
        Ok(Connect {
            protocol,
            clean_start: connect_flags & CLEAN_START != 0,
            keep_alive,
            client_id,
            will,
            username,
            password,
            properties,
        })
    }

    fn flags(&self) -> u8 {
        let mut flags = 0;
        if self.clean_start {
            flags |= CLEAN_START;
        }
        if let Some(will) = &self.will {
            flags |= WILL_FLAG | (will.qos as u8) << 3;
            if will.retain {
                flags |= WILL_RETAIN;
            }
        }
        if self.username.is_some() {
            flags |= USERNAME;
        }
        if self.password.is_some() {
            flags |= PASSWORD;
        }
        flags
    }

    fn body_len(&self) -> usize {
        let p = self.protocol;
        let mut len = PROTOCOL_NAME.len() + 1 + 1 + 2;
        len += properties_len(&self.properties, p);
        len += str_len(self.client_id);
        if let Some(will) = &self.will {
            len += properties_len(&will.properties, p);
            len += str_len(will.topic) + bin_len(will.payload);
        }
        len += self.username.map_or(0, str_len);
        len += self.password.map_or(0, bin_len);
        len
    }

    /// Append the whole packet as "MQTT" + the level of `self.protocol`; the
    /// `_protocol` argument is ignored.
    pub fn encode(&self, _protocol: Protocol, out: &mut Vec<u8>) {
        let p = self.protocol;
        let body = self.body_len();
        out.reserve(packet_len(body));
        put_fixed_header(0x10, body, out);
        out.extend_from_slice(&PROTOCOL_NAME);
        out.push(p.level());
        out.push(self.flags());
        put_u16(self.keep_alive, out);
        put_properties(&self.properties, p, out);
        put_str(self.client_id, out);
        if let Some(will) = &self.will {
            put_properties(&will.properties, p, out);
            put_str(will.topic, out);
            put_bin(will.payload, out);
        }
        if let Some(username) = self.username {
            put_str(username, out);
        }
        if let Some(password) = self.password {
            put_bin(password, out);
        }
    }

    /// Exact number of bytes [`Self::encode`] appends.
    pub fn encoded_len(&self, _protocol: Protocol) -> usize {
        packet_len(self.body_len())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{decode, Decode, Packet, Property};
    use super::*;

    fn both_ways(bytes: &[u8], connect: Connect<'_>) {
        // The protocol argument does not matter for CONNECT.
        for protocol in [Protocol::V311, Protocol::V5] {
            assert_eq!(
                decode(bytes, protocol, 256),
                Ok(Decode::Complete(Packet::Connect(connect), bytes.len()))
            );
            let mut out = Vec::new();
            connect.encode(protocol, &mut out);
            assert_eq!(out, bytes);
            assert_eq!(connect.encoded_len(protocol), bytes.len());
        }
    }

    #[test]
    fn v311_minimal() {
        #[rustfmt::skip]
        let bytes = [
            0x10, 0x10,
            0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, // protocol name + level
            0x02,                                     // clean session
            0x00, 0x3C,                               // keep alive 60
            0x00, 0x04, b'c', b'l', b'i', b'd',       // client id
        ];
        both_ways(&bytes, Connect::new(Protocol::V311, "clid", 60));
    }

    #[test]
    fn v311_full() {
        #[rustfmt::skip]
        let bytes = [
            0x10, 0x20,
            0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04,
            0xF4,                   // user, pass, will retain, will QoS 2, will
            0x00, 0x0A,
            0x00, 0x01, b'c',       // client id
            0x00, 0x03, b'a', b'/', b'b', // will topic
            0x00, 0x02, 0xDE, 0xAD, // will payload
            0x00, 0x04, b'u', b's', b'e', b'r', // user name
            0x00, 0x02, b'p', b'w', // password
        ];
        let connect = Connect {
            protocol: Protocol::V311,
            clean_start: false,
            keep_alive: 10,
            client_id: "c",
            will: Some(Will {
                topic: "a/b",
                payload: &[0xDE, 0xAD],
                qos: QoS::ExactlyOnce,
                retain: true,
                properties: Properties::EMPTY,
            }),
            username: Some("user"),
            password: Some(b"pw"),
            properties: Properties::EMPTY,
        };
        both_ways(&bytes, connect);
    }

    #[test]
    fn v5_with_properties_and_will() {
        #[rustfmt::skip]
        let bytes = [
            0x10, 0x20,
            0x00, 0x04, b'M', b'Q', b'T', b'T', 0x05,
            0x4E,                               // password, will QoS 1, will, clean start
            0x00, 0x1E,
            0x05, 0x11, 0x00, 0x00, 0x0E, 0x10, // session expiry 3600
            0x00, 0x00,                         // empty client id
            0x05, 0x18, 0x00, 0x00, 0x00, 0x05, // will delay 5
            0x00, 0x01, b't',
            0x00, 0x00,                         // empty will payload
            0x00, 0x01, 0x00,                   // password
        ];
        let props = [Property::SessionExpiryInterval(3600)];
        let will_props = [Property::WillDelayInterval(5)];
        let connect = Connect {
            protocol: Protocol::V5,
            clean_start: true,
            keep_alive: 30,
            client_id: "",
            will: Some(Will {
                topic: "t",
                payload: &[],
                qos: QoS::AtLeastOnce,
                retain: false,
                properties: Properties::List(&will_props),
            }),
            username: None,
            password: Some(&[0x00]),
            properties: Properties::List(&props),
        };
        both_ways(&bytes, connect);
    }

    #[test]
    fn malformed() {
        let v = Protocol::V311;
        let good = [
            0x10, 0x0D, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x02, 0x00, 0x3C, 0x00, 0x01,
            b'c',
        ];
        assert!(decode(&good, v, 64).is_ok());
        let with = |i: usize, b: u8| {
            let mut bytes = good;
            if let Some(slot) = bytes.get_mut(i) {
                *slot = b;
            }
            decode(&bytes, v, 64).map(|_| ())
        };
        assert_eq!(
            with(0, 0x11),
            Err(Error::InvalidFlags {
                packet_type: 1,
                flags: 1
            })
        );
        assert_eq!(with(4, b'X'), Err(Error::InvalidProtocolName));
        assert_eq!(with(8, 3), Err(Error::UnsupportedProtocolLevel(3)));
        assert!(with(9, 0x03).is_err()); // reserved connect flag
        assert!(with(9, 0x22).is_err()); // will retain without will
        assert!(with(9, 0x42).is_err()); // 3.1.1: password without user name
        assert_eq!(with(9, 0x1E), Err(Error::InvalidQoS(3)));
        assert_eq!(with(14, 0xFF), Err(Error::InvalidUtf8));
        assert!(with(13, 0x02).is_err()); // client id runs past the end
        assert!(decode(&good[..good.len() - 1], v, 64)
            .map(|d| matches!(d, Decode::Incomplete(1)))
            .unwrap_or(false));
    }
}
