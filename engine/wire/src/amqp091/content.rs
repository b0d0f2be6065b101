//! Content header frames (§4.2.6.1) and the properties of the Basic class (class 60, §1.8.1
//! of the class reference), the only class with content in 0-9-1.
//!
//! The payload is the class id, a weight (always 0), the body size, the property flags and the
//! properties present, in flag order. Flag bit 15 is the first property (content-type) and bit
//! 2 the fourteenth (cluster-id); bit 0 would announce another flags word, which Basic never
//! needs.

use super::codec::{begin_frame, end_frame, put_long_str, put_short_str, put_u16, put_u64, Reader};
use super::frame::FRAME_HEADER;
use super::table::Table;
use super::Error;

/// The Basic class id, the class of every content header.
pub const BASIC_CLASS: u16 = 60;

/// A content header: what follows a `basic.publish`, `basic.deliver` or `basic.return`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentHeader<'a> {
    /// The class of the method the content belongs to: [`BASIC_CLASS`].
    pub class_id: u16,
    /// Total size of the body frames' payloads that follow.
    pub body_size: u64,
    /// The message properties.
    pub properties: BasicProperties<'a>,
}

/// Basic's message properties; `None` is a property left out (its flag clear).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BasicProperties<'a> {
    /// MIME content type (flag bit 15).
    pub content_type: Option<&'a str>,
    /// MIME content encoding (bit 14).
    pub content_encoding: Option<&'a str>,
    /// Application headers (bit 13).
    pub headers: Option<Table<'a>>,
    /// 1 non-persistent, 2 persistent (bit 12).
    pub delivery_mode: Option<u8>,
    /// Message priority, 0 to 9 (bit 11).
    pub priority: Option<u8>,
    /// Application correlation identifier (bit 10).
    pub correlation_id: Option<&'a str>,
    /// Address to reply to (bit 9).
    pub reply_to: Option<&'a str>,
    /// Message expiration; RabbitMQ wants a TTL in milliseconds, as text (bit 8).
    pub expiration: Option<&'a str>,
    /// Application message identifier (bit 7).
    pub message_id: Option<&'a str>,
    /// Message timestamp, seconds since the epoch (bit 6).
    pub timestamp: Option<u64>,
    /// Message type name, the `type` property (bit 5).
    pub kind: Option<&'a str>,
    /// Creating user id (bit 4).
    pub user_id: Option<&'a str>,
    /// Creating application id (bit 3).
    pub app_id: Option<&'a str>,
    /// Reserved in 0-9-1, must be empty (bit 2).
    pub cluster_id: Option<&'a str>,
}

impl<'a> ContentHeader<'a> {
    /// A Basic content header for a body of `body_size` bytes.
    pub const fn new(body_size: u64, properties: BasicProperties<'a>) -> Self {
        ContentHeader {
            class_id: BASIC_CLASS,
            body_size,
            properties,
        }
    }

    /// Decodes a content header frame's payload. The weight is ignored; the class must be
    /// Basic ([`Error::UnknownContentClass`]) and the flags Basic's
    /// ([`Error::BadPropertyFlags`]). Bytes after the last property are ignored.
    pub fn decode(payload: &'a [u8]) -> Result<Self, Error> {
        let mut r = Reader::new(payload);
        let class_id = r.u16()?;
        if class_id != BASIC_CLASS {
            return Err(Error::UnknownContentClass(class_id));
        }
        let _weight = r.u16()?;
        let body_size = r.u64()?;
        let flags = r.u16()?;
        if flags & 0b11 != 0 {
            return Err(Error::BadPropertyFlags(flags));
        }
        let r = &mut r;
        let when = |bit: u16| flags & (1 << bit) != 0;
        let properties = BasicProperties {
            content_type: when(15).then(|| r.short_str()).transpose()?,
            content_encoding: when(14).then(|| r.short_str()).transpose()?,
            headers: when(13).then(|| r.table()).transpose()?,
            delivery_mode: when(12).then(|| r.u8()).transpose()?,
            priority: when(11).then(|| r.u8()).transpose()?,
            correlation_id: when(10).then(|| r.short_str()).transpose()?,
            reply_to: when(9).then(|| r.short_str()).transpose()?,
            expiration: when(8).then(|| r.short_str()).transpose()?,
            message_id: when(7).then(|| r.short_str()).transpose()?,
            timestamp: when(6).then(|| r.u64()).transpose()?,
            kind: when(5).then(|| r.short_str()).transpose()?,
            user_id: when(4).then(|| r.short_str()).transpose()?,
            app_id: when(3).then(|| r.short_str()).transpose()?,
            cluster_id: when(2).then(|| r.short_str()).transpose()?,
        };
        Ok(ContentHeader {
            class_id,
            body_size,
            properties,
        })
    }
}

/// Appends a content header frame on `channel` (§4.2.6.1), weight 0, with a flag set for each
/// property present.
pub fn encode_content_header(channel: u16, h: &ContentHeader<'_>, out: &mut Vec<u8>) {
    let start = begin_frame(out, FRAME_HEADER, channel);
    let p = &h.properties;
    put_u16(out, h.class_id);
    put_u16(out, 0);
    put_u64(out, h.body_size);
    let present = [
        p.content_type.is_some(),
        p.content_encoding.is_some(),
        p.headers.is_some(),
        p.delivery_mode.is_some(),
        p.priority.is_some(),
        p.correlation_id.is_some(),
        p.reply_to.is_some(),
        p.expiration.is_some(),
        p.message_id.is_some(),
        p.timestamp.is_some(),
        p.kind.is_some(),
        p.user_id.is_some(),
        p.app_id.is_some(),
        p.cluster_id.is_some(),
    ];
    let flags = present
        .iter()
        .enumerate()
        .fold(0u16, |acc, (i, &set)| acc | (u16::from(set) << (15 - i)));
    put_u16(out, flags);
    let short = |out: &mut Vec<u8>, v: Option<&str>| {
        if let Some(s) = v {
            put_short_str(out, s);
        }
    };
    short(out, p.content_type);
    short(out, p.content_encoding);
    if let Some(t) = p.headers {
        put_long_str(out, t.raw());
    }
    out.extend(p.delivery_mode);
    out.extend(p.priority);
    short(out, p.correlation_id);
    short(out, p.reply_to);
    short(out, p.expiration);
    short(out, p.message_id);
    if let Some(ts) = p.timestamp {
        put_u64(out, ts);
    }
    short(out, p.kind);
    short(out, p.user_id);
    short(out, p.app_id);
    short(out, p.cluster_id);
    end_frame(out, start);
}

#[cfg(test)]
mod tests {
    use super::super::{decode, FieldValue, Frame, FrameBody};
    use super::*;
    use crate::Decode;

    #[test]
    fn persistent_message_with_headers() {
        #[rustfmt::skip]
        let bytes: &[u8] = &[
            2, 0, 1, 0, 0, 0, 49,        // header frame, channel 1, size 49
            0, 60, 0, 0,                 // class basic, weight 0
            0, 0, 0, 0, 0, 0, 0, 100,    // body size 100
            0b1011_0000, 0b0000_0000,    // content-type, headers, delivery-mode
            16, b'a', b'p', b'p', b'l', b'i', b'c', b'a', b't', b'i', b'o', b'n',
            b'/', b'j', b's', b'o', b'n',
            0, 0, 0, 13,                 // headers: 13 bytes
            4, b'x', b'-', b'i', b'd', b'I', 0, 0, 0, 42,
            1, b'v', b'V',
            2,                           // delivery-mode 2 (persistent)
            0xCE,
        ];
        let raw_headers = &bytes[42..55];
        let header = ContentHeader::new(
            100,
            BasicProperties {
                content_type: Some("application/json"),
                headers: Some(Table::from_raw(raw_headers)),
                delivery_mode: Some(2),
                ..BasicProperties::default()
            },
        );
        assert_eq!(
            decode(bytes, 4096),
            Ok(Decode::Complete(
                Frame {
                    channel: 1,
                    body: FrameBody::Header(header)
                },
                bytes.len()
            ))
        );
        let headers = header.properties.headers.unwrap();
        assert_eq!(headers.get("x-id"), Ok(Some(FieldValue::I32(42))));
        let mut out = Vec::new();
        encode_content_header(1, &header, &mut out);
        assert_eq!(out, bytes);
    }

    #[test]
    fn every_property_in_flag_order() {
        let header = ContentHeader::new(
            7,
            BasicProperties {
                content_type: Some("a"),
                content_encoding: Some("b"),
                headers: Some(Table::EMPTY),
                delivery_mode: Some(1),
                priority: Some(9),
                correlation_id: Some("c"),
                reply_to: Some("d"),
                expiration: Some("60000"),
                message_id: Some("e"),
                timestamp: Some(0x0102_0304),
                kind: Some("f"),
                user_id: Some("g"),
                app_id: Some("h"),
                cluster_id: Some(""),
            },
        );
        let mut out = Vec::new();
        encode_content_header(0, &header, &mut out);
        assert_eq!(out[19..21], [0xFF, 0xFC]);
        #[rustfmt::skip]
        assert_eq!(out[21..out.len() - 1], [
            1, b'a', 1, b'b', 0, 0, 0, 0, 1, 9, 1, b'c', 1, b'd',
            5, b'6', b'0', b'0', b'0', b'0', 1, b'e', 0, 0, 0, 0, 1, 2, 3, 4,
            1, b'f', 1, b'g', 1, b'h', 0,
        ]);
        assert_eq!(ContentHeader::decode(&out[7..out.len() - 1]), Ok(header));
        // No properties at all.
        let bare = ContentHeader::new(0, BasicProperties::default());
        out.clear();
        encode_content_header(3, &bare, &mut out);
        assert_eq!(out.len(), 8 + 14);
        assert_eq!(ContentHeader::decode(&out[7..21]), Ok(bare));
    }

    #[test]
    fn malformed_headers() {
        let mut payload = vec![0, 60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 0x80, 0x00, 3, b'a'];
        assert_eq!(ContentHeader::decode(&payload), Err(Error::Truncated));
        payload[14] = 1;
        payload.push(0xFF);
        payload[15] = 0xFF;
        assert_eq!(ContentHeader::decode(&payload), Err(Error::InvalidUtf8));
        payload[12..14].copy_from_slice(&[0x00, 0x01]);
        assert_eq!(
            ContentHeader::decode(&payload),
            Err(Error::BadPropertyFlags(1))
        );
        payload[1] = 50;
        assert_eq!(
            ContentHeader::decode(&payload),
            Err(Error::UnknownContentClass(50))
        );
        assert_eq!(
            ContentHeader::decode(&[0, 60, 0, 0, 0]),
            Err(Error::Truncated)
        );
    }
}
