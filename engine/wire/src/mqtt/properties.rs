//! MQTT 5.0 properties (MQTT 5.0 §2.2.2). Absent from MQTT 3.1.1.

use super::codec::{bin_len, clamp_str, put_bin, put_str, put_u16, put_var_int, str_len, Reader};
use super::header::var_int_len;
use super::Error;

/// One MQTT 5.0 property (MQTT 5.0 §2.2.2.2, table 2-4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Property<'a> {
    /// 0x01, byte 0 or 1 (§3.3.2.3.2).
    PayloadFormatIndicator(u8),
    /// 0x02, four-byte seconds (§3.3.2.3.3).
    MessageExpiryInterval(u32),
    /// 0x03, UTF-8 string (§3.3.2.3.9).
    ContentType(&'a str),
    /// 0x08, UTF-8 topic name (§3.3.2.3.5).
    ResponseTopic(&'a str),
    /// 0x09, binary (§3.3.2.3.6).
    CorrelationData(&'a [u8]),
    /// 0x0B, variable byte integer 1..=268,435,455 (§3.3.2.3.8).
    SubscriptionIdentifier(u32),
    /// 0x11, four-byte seconds (§3.1.2.11.2).
    SessionExpiryInterval(u32),
    /// 0x12, UTF-8 string (§3.2.2.3.7).
    AssignedClientIdentifier(&'a str),
    /// 0x13, two-byte seconds (§3.2.2.3.14).
    ServerKeepAlive(u16),
    /// 0x15, UTF-8 string (§3.1.2.11.9).
    AuthenticationMethod(&'a str),
    /// 0x16, binary (§3.1.2.11.10).
    AuthenticationData(&'a [u8]),
    /// 0x17, byte 0 or 1 (§3.1.2.11.7).
    RequestProblemInformation(u8),
    /// 0x18, four-byte seconds (§3.1.3.2.2).
    WillDelayInterval(u32),
    /// 0x19, byte 0 or 1 (§3.1.2.11.6).
    RequestResponseInformation(u8),
    /// 0x1A, UTF-8 string (§3.2.2.3.15).
    ResponseInformation(&'a str),
    /// 0x1C, UTF-8 string (§3.2.2.3.16).
    ServerReference(&'a str),
    /// 0x1F, UTF-8 string (§3.2.2.3.9).
    ReasonString(&'a str),
    /// 0x21, two-byte, nonzero (§3.1.2.11.3).
    ReceiveMaximum(u16),
    /// 0x22, two-byte (§3.1.2.11.5).
    TopicAliasMaximum(u16),
    /// 0x23, two-byte, nonzero (§3.3.2.3.4).
    TopicAlias(u16),
    /// 0x24, byte 0 or 1 (§3.2.2.3.4).
    MaximumQoS(u8),
    /// 0x25, byte 0 or 1 (§3.2.2.3.5).
    RetainAvailable(u8),
    /// 0x26, UTF-8 string pair; may repeat (§3.1.2.11.8).
    UserProperty(&'a str, &'a str),
    /// 0x27, four-byte, nonzero (§3.1.2.11.4).
    MaximumPacketSize(u32),
    /// 0x28, byte 0 or 1 (§3.2.2.3.11).
    WildcardSubscriptionAvailable(u8),
    /// 0x29, byte 0 or 1 (§3.2.2.3.12).
    SubscriptionIdentifierAvailable(u8),
    /// 0x2A, byte 0 or 1 (§3.2.2.3.13).
    SharedSubscriptionAvailable(u8),
}

/// The value shape of a property (MQTT 5.0 §2.2.2.2, "Type" column).
enum Value<'a> {
    Byte(u8),
    Two(u16),
    Four(u32),
    Var(u32),
    Str(&'a str),
    Bin(&'a [u8]),
    Pair(&'a str, &'a str),
}

impl<'a> Property<'a> {
    /// The property identifier (MQTT 5.0 §2.2.2.2).
    pub const fn id(&self) -> u8 {
        use Property::*;
        match self {
            PayloadFormatIndicator(_) => 0x01,
            MessageExpiryInterval(_) => 0x02,
            ContentType(_) => 0x03,
            ResponseTopic(_) => 0x08,
            CorrelationData(_) => 0x09,
            SubscriptionIdentifier(_) => 0x0B,
            SessionExpiryInterval(_) => 0x11,
            AssignedClientIdentifier(_) => 0x12,
            ServerKeepAlive(_) => 0x13,
            AuthenticationMethod(_) => 0x15,
            AuthenticationData(_) => 0x16,
            RequestProblemInformation(_) => 0x17,
            WillDelayInterval(_) => 0x18,
            RequestResponseInformation(_) => 0x19,
            ResponseInformation(_) => 0x1A,
            ServerReference(_) => 0x1C,
            ReasonString(_) => 0x1F,
            ReceiveMaximum(_) => 0x21,
            TopicAliasMaximum(_) => 0x22,
            TopicAlias(_) => 0x23,
            MaximumQoS(_) => 0x24,
            RetainAvailable(_) => 0x25,
            UserProperty(..) => 0x26,
            MaximumPacketSize(_) => 0x27,
            WildcardSubscriptionAvailable(_) => 0x28,
            SubscriptionIdentifierAvailable(_) => 0x29,
            SharedSubscriptionAvailable(_) => 0x2A,
        }
    }

    fn value(&self) -> Value<'a> {
        use Property::*;
        match *self {
            PayloadFormatIndicator(v)
            | RequestProblemInformation(v)
            | RequestResponseInformation(v)
            | MaximumQoS(v)
            | RetainAvailable(v)
            | WildcardSubscriptionAvailable(v)
            | SubscriptionIdentifierAvailable(v)
            | SharedSubscriptionAvailable(v) => Value::Byte(v),
            ServerKeepAlive(v) | ReceiveMaximum(v) | TopicAliasMaximum(v) | TopicAlias(v) => {
                Value::Two(v)
            }
            MessageExpiryInterval(v)
            | SessionExpiryInterval(v)
            | WillDelayInterval(v)
            | MaximumPacketSize(v) => Value::Four(v),
            SubscriptionIdentifier(v) => Value::Var(v),
            ContentType(s)
            | ResponseTopic(s)
            | AssignedClientIdentifier(s)
            | AuthenticationMethod(s)
            | ResponseInformation(s)
            | ServerReference(s)
            | ReasonString(s) => Value::Str(s),
            CorrelationData(b) | AuthenticationData(b) => Value::Bin(b),
            UserProperty(k, v) => Value::Pair(k, v),
        }
    }

    /// Bytes this property takes on the wire, identifier included.
    pub fn encoded_len(&self) -> usize {
        1 + match self.value() {
            Value::Byte(_) => 1,
            Value::Two(_) => 2,
            Value::Four(_) => 4,
            Value::Var(v) => var_int_len(v as usize),
            Value::Str(s) => str_len(s),
            Value::Bin(b) => bin_len(b),
            Value::Pair(k, v) => str_len(k) + str_len(v),
        }
    }

    /// Append identifier and value.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(self.id());
        match self.value() {
            Value::Byte(v) => out.push(v),
            Value::Two(v) => put_u16(v, out),
            Value::Four(v) => out.extend_from_slice(&v.to_be_bytes()),
            Value::Var(v) => put_var_int(v as usize, out),
            Value::Str(s) => put_str(s, out),
            Value::Bin(b) => put_bin(b, out),
            Value::Pair(k, v) => {
                put_bin(clamp_str(k), out);
                put_bin(clamp_str(v), out);
            }
        }
    }

    /// Parse one property from the front of `input`, returning it and the
    /// rest. Checks the identifier, the value length and the value ranges the
    /// specification makes a protocol error.
    pub fn parse(input: &'a [u8]) -> Result<(Self, &'a [u8]), Error> {
        use Property::*;
        let mut r = Reader::new(input);
        // Identifiers are Variable Byte Integers, but all defined ones fit in
        // one byte; anything with the continuation bit is unknown.
        let id = r.u8()?;
        let bool_byte = |r: &mut Reader<'a>| match r.u8()? {
            v @ (0 | 1) => Ok(v),
            _ => Err(Error::InvalidPropertyValue(id)),
        };
        let nonzero_u16 = |r: &mut Reader<'a>| match r.u16()? {
            0 => Err(Error::InvalidPropertyValue(id)),
            v => Ok(v),
        };
        let property = match id {
            0x01 => PayloadFormatIndicator(bool_byte(&mut r)?),
            0x02 => MessageExpiryInterval(r.u32()?),
            0x03 => ContentType(r.str()?),
            0x08 => ResponseTopic(r.str()?),
            0x09 => CorrelationData(r.binary()?),
            0x0B => match r.var_int()? {
                0 => return Err(Error::InvalidPropertyValue(id)),
                v => SubscriptionIdentifier(v as u32),
            },
            0x11 => SessionExpiryInterval(r.u32()?),
            0x12 => AssignedClientIdentifier(r.str()?),
            0x13 => ServerKeepAlive(r.u16()?),
            0x15 => AuthenticationMethod(r.str()?),
            0x16 => AuthenticationData(r.binary()?),
            0x17 => RequestProblemInformation(bool_byte(&mut r)?),
            0x18 => WillDelayInterval(r.u32()?),
            0x19 => RequestResponseInformation(bool_byte(&mut r)?),
            0x1A => ResponseInformation(r.str()?),
            0x1C => ServerReference(r.str()?),
            0x1F => ReasonString(r.str()?),
            0x21 => ReceiveMaximum(nonzero_u16(&mut r)?),
            0x22 => TopicAliasMaximum(r.u16()?),
            0x23 => TopicAlias(nonzero_u16(&mut r)?),
            0x24 => MaximumQoS(bool_byte(&mut r)?),
            0x25 => RetainAvailable(bool_byte(&mut r)?),
            0x26 => UserProperty(r.str()?, r.str()?),
            0x27 => match r.u32()? {
                0 => return Err(Error::InvalidPropertyValue(id)),
                v => MaximumPacketSize(v),
            },
            0x28 => WildcardSubscriptionAvailable(bool_byte(&mut r)?),
            0x29 => SubscriptionIdentifierAvailable(bool_byte(&mut r)?),
            0x2A => SharedSubscriptionAvailable(bool_byte(&mut r)?),
            other => return Err(Error::UnknownProperty(other)),
        };
        Ok((property, r.rest()))
    }
}

/// A v5 property block: the bytes after the Property Length (MQTT 5.0
/// §2.2.2). Under MQTT 3.1.1 it is always empty and never written.
///
/// `Raw` is what decoding produces: a borrowed view over bytes already
/// validated by [`Properties::parse`]. `List` lets callers encode properties
/// from a slice without allocating. Equality compares the properties, so a
/// `List` equals the `Raw` it decodes to. Iterating a `Raw` built by hand from
/// malformed bytes stops at the first bad property.
#[derive(Debug, Clone, Copy)]
pub enum Properties<'a> {
    /// Encoded properties without the length prefix.
    Raw(&'a [u8]),
    /// Properties to encode, in order.
    List(&'a [Property<'a>]),
}

impl<'a> Properties<'a> {
    /// No properties.
    pub const EMPTY: Self = Properties::Raw(&[]);

    /// Validate a property block (without its length prefix): known
    /// identifiers, well-formed values, and no repeats except User Property
    /// and Subscription Identifier (MQTT 5.0 §2.2.2.2).
    pub fn parse(bytes: &'a [u8]) -> Result<Self, Error> {
        let mut seen = 0u64;
        let mut rest = bytes;
        while !rest.is_empty() {
            let (property, tail) = Property::parse(rest)?;
            let id = property.id();
            let bit = 1u64 << id; // all identifiers are below 64
            if seen & bit != 0 && id != 0x26 && id != 0x0B {
                return Err(Error::DuplicateProperty(id));
            }
            seen |= bit;
            rest = tail;
        }
        Ok(Properties::Raw(bytes))
    }

    /// Iterate the properties in wire order.
    pub fn iter(&self) -> PropertiesIter<'a> {
        match *self {
            Properties::Raw(bytes) => PropertiesIter::Raw(bytes),
            Properties::List(list) => PropertiesIter::List(list.iter()),
        }
    }

    /// True when there are no properties.
    pub fn is_empty(&self) -> bool {
        match self {
            Properties::Raw(bytes) => bytes.is_empty(),
            Properties::List(list) => list.is_empty(),
        }
    }

    /// Bytes of the properties without the Property Length prefix.
    pub fn content_len(&self) -> usize {
        match self {
            Properties::Raw(bytes) => bytes.len(),
            Properties::List(list) => list.iter().map(Property::encoded_len).sum(),
        }
    }

    /// Bytes of the whole block: Property Length prefix plus properties.
    pub fn encoded_len(&self) -> usize {
        let len = self.content_len();
        var_int_len(len) + len
    }

    /// Append the whole block: Property Length prefix plus properties.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match *self {
            Properties::Raw(bytes) => {
                put_var_int(bytes.len(), out);
                out.extend_from_slice(bytes);
            }
            Properties::List(list) => Self::encode_list(list, out),
        }
    }

    /// Append a block (Property Length prefix plus properties) made from
    /// `list`, without allocating beyond `out`'s growth.
    pub fn encode_list(list: &[Property<'_>], out: &mut Vec<u8>) {
        let len: usize = list.iter().map(Property::encoded_len).sum();
        out.reserve(var_int_len(len) + len);
        put_var_int(len, out);
        for property in list {
            property.encode(out);
        }
    }

    /// The first property with identifier `id`, if any.
    pub fn find(&self, id: u8) -> Option<Property<'a>> {
        self.iter().find(|p| p.id() == id)
    }
}

impl Default for Properties<'_> {
    fn default() -> Self {
        Properties::EMPTY
    }
}

impl PartialEq for Properties<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for Properties<'_> {}

impl<'a> IntoIterator for &Properties<'a> {
    type Item = Property<'a>;
    type IntoIter = PropertiesIter<'a>;

    fn into_iter(self) -> PropertiesIter<'a> {
        self.iter()
    }
}

/// Iterator over [`Properties`].
#[derive(Debug, Clone)]
pub enum PropertiesIter<'a> {
    /// Over encoded bytes.
    Raw(&'a [u8]),
    /// Over a list.
    List(core::slice::Iter<'a, Property<'a>>),
}

impl<'a> Iterator for PropertiesIter<'a> {
    type Item = Property<'a>;

    fn next(&mut self) -> Option<Property<'a>> {
        match self {
            PropertiesIter::Raw(rest) => {
                if rest.is_empty() {
                    return None;
                }
                match Property::parse(rest) {
                    Ok((property, tail)) => {
                        *rest = tail;
                        Some(property)
                    }
                    Err(_) => {
                        *rest = &[];
                        None
                    }
                }
            }
            PropertiesIter::List(list) => list.next().copied(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_encode_each_value_shape() {
        #[rustfmt::skip]
        let bytes: &[u8] = &[
            0x01, 0x01,                         // payload format indicator = 1
            0x02, 0x00, 0x00, 0x00, 0x3C,       // message expiry = 60
            0x03, 0x00, 0x02, b't', b'x',       // content type "tx"
            0x09, 0x00, 0x01, 0xFF,             // correlation data
            0x0B, 0x80, 0x01,                   // subscription id = 128
            0x13, 0x00, 0x0A,                   // server keep alive = 10
            0x26, 0x00, 0x01, b'k', 0x00, 0x01, b'v', // user property
            0x26, 0x00, 0x01, b'k', 0x00, 0x00, // repeated user property
        ];
        let props = Properties::parse(bytes).unwrap();
        let list = [
            Property::PayloadFormatIndicator(1),
            Property::MessageExpiryInterval(60),
            Property::ContentType("tx"),
            Property::CorrelationData(&[0xFF]),
            Property::SubscriptionIdentifier(128),
            Property::ServerKeepAlive(10),
            Property::UserProperty("k", "v"),
            Property::UserProperty("k", ""),
        ];
        assert!(props.iter().eq(list.iter().copied()));
        assert_eq!(props, Properties::List(&list));
        let mut out = Vec::new();
        Properties::encode_list(&list, &mut out);
        assert_eq!(out.first(), Some(&(bytes.len() as u8)));
        assert_eq!(out.get(1..), Some(bytes));
        assert_eq!(Properties::List(&list).encoded_len(), out.len());
        assert_eq!(props.find(0x13), Some(Property::ServerKeepAlive(10)));
    }

    #[test]
    fn malformed_blocks() {
        assert_eq!(
            Properties::parse(&[0x05, 0x00]),
            Err(Error::UnknownProperty(5))
        );
        assert_eq!(
            Properties::parse(&[0x01, 0x01, 0x01, 0x00]),
            Err(Error::DuplicateProperty(1))
        );
        assert_eq!(
            Properties::parse(&[0x01, 0x02]),
            Err(Error::InvalidPropertyValue(1))
        );
        assert_eq!(
            Properties::parse(&[0x21, 0x00, 0x00]),
            Err(Error::InvalidPropertyValue(0x21))
        );
        assert_eq!(
            Properties::parse(&[0x0B, 0x00]),
            Err(Error::InvalidPropertyValue(0x0B))
        );
        assert!(Properties::parse(&[0x02, 0x00, 0x00]).is_err()); // truncated
        assert_eq!(
            Properties::parse(&[0x03, 0x00, 0x01, 0xFF]),
            Err(Error::InvalidUtf8)
        );
        // A hand-built Raw of garbage iterates to nothing instead of panicking.
        assert_eq!(Properties::Raw(&[0xFF, 0x00]).iter().count(), 0);
    }
}
