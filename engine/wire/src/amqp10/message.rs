//! Messages (§3.2): the sections of a transfer's message bytes, decoded
//! into a [`MessageView`], and the hot-path encoder for data messages
//! ([`MessageLayout`], [`encode_data_message`]).
//!
//! Section order (§3.2): header, delivery-annotations, message-annotations,
//! properties, application-properties, body (one or more `data`, one or
//! more `amqp-sequence`, or one `amqp-value`), footer; every section is
//! optional.

use super::codec::{flag, non_default, Counter, Encoder, Fields, Sink};
use super::types::{
    code, decode_at, read_descriptor_code, read_shaped, Descriptor, ListView, MapView, Shaped,
    Value,
};
use super::{descriptor, Error};

/// The `header` section (§3.2.1): transport headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HeaderSection {
    /// Durable delivery (default false).
    pub durable: bool,
    /// Relative priority (default 4).
    pub priority: u8,
    /// Time to live in milliseconds.
    pub ttl: Option<u32>,
    /// The message has not been acquired before (default false).
    pub first_acquirer: bool,
    /// Failed delivery attempts (default 0).
    pub delivery_count: u32,
}

impl Default for HeaderSection {
    fn default() -> Self {
        HeaderSection {
            durable: false,
            priority: 4,
            ttl: None,
            first_acquirer: false,
            delivery_count: 0,
        }
    }
}

impl HeaderSection {
    fn from_fields(list: &ListView<'_>) -> Result<Self, Error> {
        let mut f = Fields::new(list);
        let header = HeaderSection {
            durable: f.bool("header.durable")?.unwrap_or(false),
            priority: f.ubyte("header.priority")?.unwrap_or(4),
            ttl: f.uint("header.ttl")?,
            first_acquirer: f.bool("header.first-acquirer")?.unwrap_or(false),
            delivery_count: f.uint("header.delivery-count")?.unwrap_or(0),
        };
        f.finish()?;
        Ok(header)
    }

    pub(crate) fn encode_to<S: Sink>(&self, e: &mut Encoder<'_, S>) {
        e.described_list(descriptor::HEADER, |e| {
            e.field(flag(self.durable), Encoder::bool);
            e.field(non_default(self.priority, 4), Encoder::ubyte);
            e.field(self.ttl, Encoder::uint);
            e.field(flag(self.first_acquirer), Encoder::bool);
            e.field(non_default(self.delivery_count, 0), Encoder::uint);
        });
    }
}

encoding_methods!(HeaderSection);

/// The `properties` section (§3.2.4): immutable standard properties.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PropertiesSection<'a> {
    /// Message id: a ulong, uuid, binary or string (§3.2.11 to §3.2.14).
    pub message_id: Option<Value<'a>>,
    /// Identity of the user that produced the message.
    pub user_id: Option<&'a [u8]>,
    /// Destination address (a string; symbols are accepted).
    pub to: Option<&'a str>,
    /// Application-specific subject.
    pub subject: Option<&'a str>,
    /// Address to reply to (a string; symbols are accepted).
    pub reply_to: Option<&'a str>,
    /// Correlation id, same types as `message_id`.
    pub correlation_id: Option<Value<'a>>,
    /// MIME content type (a symbol).
    pub content_type: Option<&'a str>,
    /// MIME content encoding (a symbol).
    pub content_encoding: Option<&'a str>,
    /// Absolute expiry time, ms since the Unix epoch.
    pub absolute_expiry_time: Option<i64>,
    /// Creation time, ms since the Unix epoch.
    pub creation_time: Option<i64>,
    /// Group the message belongs to.
    pub group_id: Option<&'a str>,
    /// Position within the group.
    pub group_sequence: Option<u32>,
    /// Group to reply to.
    pub reply_to_group_id: Option<&'a str>,
}

/// An address field: a string, or leniently a symbol.
fn address<'a>(f: &mut Fields<'a>, name: &'static str) -> Result<Option<&'a str>, Error> {
    match f.next()? {
        None => Ok(None),
        Some(Value::String(s) | Value::Symbol(s)) => Ok(Some(s)),
        Some(_) => Err(Error::InvalidField(name)),
    }
}

impl<'a> PropertiesSection<'a> {
    fn from_fields(list: &ListView<'a>) -> Result<Self, Error> {
        let mut f = Fields::new(list);
        let properties = PropertiesSection {
            message_id: f.next()?,
            user_id: f.binary("properties.user-id")?,
            to: address(&mut f, "properties.to")?,
            subject: f.string("properties.subject")?,
            reply_to: address(&mut f, "properties.reply-to")?,
            correlation_id: f.next()?,
            content_type: f.symbol("properties.content-type")?,
            content_encoding: f.symbol("properties.content-encoding")?,
            absolute_expiry_time: f.timestamp("properties.absolute-expiry-time")?,
            creation_time: f.timestamp("properties.creation-time")?,
            group_id: f.string("properties.group-id")?,
            group_sequence: f.uint("properties.group-sequence")?,
            reply_to_group_id: f.string("properties.reply-to-group-id")?,
        };
        f.finish()?;
        Ok(properties)
    }

    pub(crate) fn encode_to<S: Sink>(&self, e: &mut Encoder<'_, S>) {
        // A null id is an absent id.
        let id = |v: &Option<Value<'a>>| v.filter(|v| !v.is_null());
        e.described_list(descriptor::PROPERTIES, |e| {
            e.field(id(&self.message_id), |e, v| e.value(&v));
            e.field(self.user_id, |e, v| e.binary(v));
            e.field(self.to, |e, v| e.string(v));
            e.field(self.subject, |e, v| e.string(v));
            e.field(self.reply_to, |e, v| e.string(v));
            e.field(id(&self.correlation_id), |e, v| e.value(&v));
            e.field(self.content_type, |e, v| e.symbol(v));
            e.field(self.content_encoding, |e, v| e.symbol(v));
            e.field(self.absolute_expiry_time, Encoder::timestamp);
            e.field(self.creation_time, Encoder::timestamp);
            e.field(self.group_id, |e, v| e.string(v));
            e.field(self.group_sequence, Encoder::uint);
            e.field(self.reply_to_group_id, |e, v| e.string(v));
        });
    }
}

encoding_methods!(PropertiesSection<'_>);

/// One body section (§3.2.6 to §3.2.8); also the first body section of a
/// [`MessageView`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body<'a> {
    /// No body section.
    Empty,
    /// A `data` section: opaque bytes (§3.2.6).
    Data(&'a [u8]),
    /// An `amqp-sequence` section: a list of values (§3.2.7).
    Sequence(ListView<'a>),
    /// An `amqp-value` section: a single value (§3.2.8).
    AmqpValue(Value<'a>),
}

impl<'a> Body<'a> {
    fn encode_to<S: Sink>(&self, e: &mut Encoder<'_, S>) {
        match self {
            Body::Empty => {}
            Body::Data(bytes) => {
                e.described(Descriptor::Code(descriptor::DATA), |e| e.binary(bytes))
            }
            Body::Sequence(list) => e.described(Descriptor::Code(descriptor::AMQP_SEQUENCE), |e| {
                e.list_view(list)
            }),
            Body::AmqpValue(value) => {
                e.described(Descriptor::Code(descriptor::AMQP_VALUE), |e| e.value(value))
            }
        }
    }
}

/// A decoded message (§3.2): the sections of a transfer's message bytes,
/// borrowing from them. Map-valued sections stay raw views.
///
/// Several `data` (or `amqp-sequence`) sections form one body: [`Self::body`]
/// holds the first, [`Self::body_sections`] and [`Self::data_sections`]
/// iterate over all of them.
#[derive(Debug, Clone, Copy)]
pub struct MessageView<'a> {
    /// `header` section (§3.2.1).
    pub header: Option<HeaderSection>,
    /// `delivery-annotations` section (§3.2.2).
    pub delivery_annotations: Option<MapView<'a>>,
    /// `message-annotations` section (§3.2.3).
    pub message_annotations: Option<MapView<'a>>,
    /// `properties` section (§3.2.4).
    pub properties: Option<PropertiesSection<'a>>,
    /// `application-properties` section (§3.2.5).
    pub application_properties: Option<MapView<'a>>,
    /// The first body section (§3.2.6 to §3.2.8).
    pub body: Body<'a>,
    /// `footer` section (§3.2.9).
    pub footer: Option<MapView<'a>>,
    /// Encoded body sections after the first.
    more_body: &'a [u8],
}

/// Messages compare by their sections; body sections after the first
/// compare decoded, not by their bytes.
impl PartialEq for MessageView<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.header == other.header
            && self.delivery_annotations == other.delivery_annotations
            && self.message_annotations == other.message_annotations
            && self.properties == other.properties
            && self.application_properties == other.application_properties
            && self.footer == other.footer
            && self.body_sections().eq(other.body_sections())
    }
}
impl Eq for MessageView<'_> {}

const SECTION: &str = "message section";

/// Position of a section kind in the order §3.2 prescribes.
fn section_rank(code: u64) -> Result<u8, Error> {
    Ok(match code {
        descriptor::HEADER => 1,
        descriptor::DELIVERY_ANNOTATIONS => 2,
        descriptor::MESSAGE_ANNOTATIONS => 3,
        descriptor::PROPERTIES => 4,
        descriptor::APPLICATION_PROPERTIES => 5,
        descriptor::DATA | descriptor::AMQP_SEQUENCE | descriptor::AMQP_VALUE => 6,
        descriptor::FOOTER => 7,
        other => {
            return Err(Error::UnexpectedDescriptor {
                expected: SECTION,
                code: Some(other),
            })
        }
    })
}

/// What one section holds.
enum Section<'a> {
    Header(ListView<'a>),
    Properties(ListView<'a>),
    /// delivery-annotations, message-annotations, application-properties or
    /// footer.
    Map(MapView<'a>),
    Body(Body<'a>),
}

/// Read one section: its descriptor code, its content and what follows.
/// Lists, maps and binaries are read directly, without a [`Value`].
fn read_section(input: &[u8]) -> Result<(u64, Section<'_>, &[u8]), Error> {
    let (code, rest) = read_descriptor_code(input, SECTION)?;
    let name = match code {
        descriptor::HEADER => "header",
        descriptor::DELIVERY_ANNOTATIONS => "delivery-annotations",
        descriptor::MESSAGE_ANNOTATIONS => "message-annotations",
        descriptor::PROPERTIES => "properties",
        descriptor::APPLICATION_PROPERTIES => "application-properties",
        descriptor::DATA => "data",
        descriptor::AMQP_SEQUENCE => "amqp-sequence",
        descriptor::FOOTER => "footer",
        descriptor::AMQP_VALUE => {
            let (value, rest) = decode_at(rest, 1)?;
            return Ok((code, Section::Body(Body::AmqpValue(value)), rest));
        }
        other => {
            return Err(Error::UnexpectedDescriptor {
                expected: SECTION,
                code: Some(other),
            })
        }
    };
    let (shaped, rest) = read_shaped(rest, 1)?.ok_or(Error::InvalidField(name))?;
    let section = match (code, shaped) {
        (descriptor::HEADER, Shaped::List(list)) => Section::Header(list),
        (descriptor::PROPERTIES, Shaped::List(list)) => Section::Properties(list),
        (descriptor::AMQP_SEQUENCE, Shaped::List(list)) => Section::Body(Body::Sequence(list)),
        (descriptor::DATA, Shaped::Binary(bytes)) => Section::Body(Body::Data(bytes)),
        (
            descriptor::DELIVERY_ANNOTATIONS
            | descriptor::MESSAGE_ANNOTATIONS
            | descriptor::APPLICATION_PROPERTIES
            | descriptor::FOOTER,
            Shaped::Map(map),
        ) => Section::Map(map),
        _ => return Err(Error::InvalidField(name)),
    };
    Ok((code, section, rest))
}

impl<'a> MessageView<'a> {
    /// A message with only a body.
    pub const fn new(body: Body<'a>) -> Self {
        MessageView {
            header: None,
            delivery_annotations: None,
            message_annotations: None,
            properties: None,
            application_properties: None,
            body,
            footer: None,
            more_body: &[],
        }
    }

    /// Decode all of `bytes` (a transfer's message bytes, §2.7.5) as a
    /// message. Checks the section order, that every section holds the
    /// right type, and that a body is all `data`, all `amqp-sequence` or a
    /// single `amqp-value`. Maps and lists inside sections are checked only
    /// when iterated.
    #[inline]
    pub fn decode(bytes: &'a [u8]) -> Result<Self, Error> {
        let mut message = MessageView::new(Body::Empty);
        let mut rank = 0;
        let mut rest = bytes;
        let mut more_start = None;
        let mut more_end = 0;
        while !rest.is_empty() {
            let start = bytes.len() - rest.len();
            let (code, section, after) = read_section(rest)?;
            let this = section_rank(code)?;
            if this < rank || (this == rank && this != 6) {
                return Err(Error::Malformed(
                    "message sections out of order or repeated",
                ));
            }
            match (code, section) {
                (_, Section::Header(list)) => {
                    message.header = Some(HeaderSection::from_fields(&list)?)
                }
                (_, Section::Properties(list)) => {
                    message.properties = Some(PropertiesSection::from_fields(&list)?)
                }
                (descriptor::DELIVERY_ANNOTATIONS, Section::Map(map)) => {
                    message.delivery_annotations = Some(map)
                }
                (descriptor::MESSAGE_ANNOTATIONS, Section::Map(map)) => {
                    message.message_annotations = Some(map)
                }
                (descriptor::APPLICATION_PROPERTIES, Section::Map(map)) => {
                    message.application_properties = Some(map)
                }
                (_, Section::Map(map)) => message.footer = Some(map),
                (_, Section::Body(body)) => {
                    if rank == 6 {
                        let same = matches!(
                            (message.body, body),
                            (Body::Data(_), Body::Data(_)) | (Body::Sequence(_), Body::Sequence(_))
                        );
                        if !same {
                            return Err(Error::Malformed("mixed or repeated body sections"));
                        }
                        more_start.get_or_insert(start);
                        more_end = bytes.len() - after.len();
                    } else {
                        message.body = body;
                    }
                }
            }
            rank = this;
            rest = after;
        }
        if let Some(start) = more_start {
            message.more_body = bytes.get(start..more_end).unwrap_or_default();
        }
        Ok(message)
    }

    /// Every body section in order: the first ([`Self::body`]) and any
    /// further `data` or `amqp-sequence` sections.
    pub fn body_sections(&self) -> BodySections<'a> {
        BodySections {
            first: match self.body {
                Body::Empty => None,
                body => Some(body),
            },
            rest: self.more_body,
        }
    }

    /// The bytes of every `data` section in order (§3.2.6); nothing for a
    /// body of another kind.
    pub fn data_sections(&self) -> DataSections<'a> {
        DataSections {
            inner: self.body_sections(),
        }
    }

    /// Total length of all `data` sections.
    pub fn data_len(&self) -> usize {
        self.data_sections()
            .filter_map(Result::ok)
            .map(<[u8]>::len)
            .sum()
    }

    pub(crate) fn encode_to<S: Sink>(&self, e: &mut Encoder<'_, S>) {
        if let Some(header) = &self.header {
            header.encode_to(e);
        }
        let map_section = |e: &mut Encoder<'_, S>, code: u64, map: &Option<MapView<'_>>| {
            if let Some(map) = map {
                e.described(Descriptor::Code(code), |e| e.map_view(map));
            }
        };
        map_section(
            e,
            descriptor::DELIVERY_ANNOTATIONS,
            &self.delivery_annotations,
        );
        map_section(
            e,
            descriptor::MESSAGE_ANNOTATIONS,
            &self.message_annotations,
        );
        if let Some(properties) = &self.properties {
            properties.encode_to(e);
        }
        map_section(
            e,
            descriptor::APPLICATION_PROPERTIES,
            &self.application_properties,
        );
        for section in self.body_sections() {
            match section {
                Ok(body) => body.encode_to(e),
                // Checked by `decode`; not reachable for decoded messages.
                Err(_) => break,
            }
        }
        map_section(e, descriptor::FOOTER, &self.footer);
    }
}

encoding_methods!(MessageView<'_>);

/// Iterator over the body sections of a [`MessageView`].
#[derive(Debug, Clone)]
pub struct BodySections<'a> {
    first: Option<Body<'a>>,
    rest: &'a [u8],
}

impl<'a> Iterator for BodySections<'a> {
    type Item = Result<Body<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(first) = self.first.take() {
            return Some(Ok(first));
        }
        if self.rest.is_empty() {
            return None;
        }
        let item = match read_section(self.rest) {
            Ok((_, Section::Body(body), rest)) => {
                self.rest = rest;
                Ok(body)
            }
            Ok((code, ..)) => Err(Error::UnexpectedDescriptor {
                expected: "body section",
                code: Some(code),
            }),
            Err(e) => Err(e),
        };
        if item.is_err() {
            self.rest = &[];
        }
        Some(item)
    }
}

/// Iterator over the `data` sections of a [`MessageView`].
#[derive(Debug, Clone)]
pub struct DataSections<'a> {
    inner: BodySections<'a>,
}

impl<'a> Iterator for DataSections<'a> {
    type Item = Result<&'a [u8], Error>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            match self.inner.next()? {
                Ok(Body::Data(bytes)) => return Some(Ok(bytes)),
                Ok(_) => {}
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

/// Append the `data` section descriptor and binary prefix for a body of
/// `len` bytes: `00 53 75 a0 len` or `00 53 75 b0 len32` (§3.2.6).
#[inline]
fn put_data_prefix(len: usize, out: &mut Vec<u8>) {
    match u8::try_from(len) {
        Ok(len) => {
            out.extend_from_slice(&[code::DESCRIBED, code::SMALLULONG, 0x75, code::VBIN8, len])
        }
        Err(_) => {
            let [a, b, c, d] = super::codec::u32_len(len).to_be_bytes();
            out.extend_from_slice(&[
                code::DESCRIBED,
                code::SMALLULONG,
                0x75,
                code::VBIN32,
                a,
                b,
                c,
                d,
            ]);
        }
    }
}

/// Size of what [`put_data_prefix`] writes.
#[inline]
const fn data_prefix_len(len: usize) -> usize {
    if len <= 255 {
        5
    } else {
        8
    }
}

/// Hot path: append the sections of a data message that come before the
/// body bytes: the optional header and properties sections, then the `data`
/// section's descriptor and binary length prefix for `body_len` bytes. The
/// caller appends exactly `body_len` body bytes next. For sections that
/// repeat across messages, [`MessageLayout`] encodes them once.
pub fn encode_data_message(
    header: Option<&HeaderSection>,
    properties: Option<&PropertiesSection<'_>>,
    body_len: usize,
    out: &mut Vec<u8>,
) {
    let mut e = Encoder::new(out);
    if let Some(header) = header {
        header.encode_to(&mut e);
    }
    if let Some(properties) = properties {
        properties.encode_to(&mut e);
    }
    put_data_prefix(body_len, out);
}

/// Number of bytes [`encode_data_message`] writes: the whole message is
/// this plus `body_len`.
pub fn data_message_overhead(
    header: Option<&HeaderSection>,
    properties: Option<&PropertiesSection<'_>>,
    body_len: usize,
) -> usize {
    let mut counter = Counter::default();
    let mut e = Encoder::new(&mut counter);
    if let Some(header) = header {
        header.encode_to(&mut e);
    }
    if let Some(properties) = properties {
        properties.encode_to(&mut e);
    }
    counter.0 + data_prefix_len(body_len)
}

/// Pre-encoded header and properties sections of a data message, for
/// senders whose messages differ only in their body: per message,
/// [`Self::encode`] is two `extend_from_slice` calls.
///
/// ```
/// use allegro_wire::amqp10::{HeaderSection, MessageLayout, MessageView, Body};
///
/// let layout = MessageLayout::new(Some(&HeaderSection { durable: true, ..Default::default() }), None);
/// let mut out = Vec::new();
/// layout.encode(3, &mut out);
/// out.extend_from_slice(b"abc");
/// assert_eq!(out.len(), layout.message_len(3));
/// assert_eq!(MessageView::decode(&out).unwrap().body, Body::Data(b"abc"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MessageLayout {
    sections: Vec<u8>,
}

impl MessageLayout {
    /// Encode the sections that precede the body once.
    pub fn new(header: Option<&HeaderSection>, properties: Option<&PropertiesSection<'_>>) -> Self {
        let mut sections = Vec::new();
        let mut e = Encoder::new(&mut sections);
        if let Some(header) = header {
            header.encode_to(&mut e);
        }
        if let Some(properties) = properties {
            properties.encode_to(&mut e);
        }
        MessageLayout { sections }
    }

    /// The pre-encoded sections.
    pub fn sections(&self) -> &[u8] {
        &self.sections
    }

    /// Length of a whole message with a `body_len`-byte body: what to pass
    /// as `message_len` to [`super::encode_transfer_head`].
    #[inline]
    pub fn message_len(&self, body_len: usize) -> usize {
        self.sections.len() + data_prefix_len(body_len) + body_len
    }

    /// Append the sections and the `data` prefix for `body_len` bytes; the
    /// caller appends the body next.
    #[inline]
    pub fn encode(&self, body_len: usize, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.sections);
        put_data_prefix(body_len, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[rustfmt::skip]
    const SMALL: [u8; 29] = [
        // header{durable: true}
        0x00, 0x53, 0x70, 0xc0, 0x02, 0x01, 0x41,
        // properties{message-id: ulong 1, user-id: null, to: "q"}
        0x00, 0x53, 0x73, 0xc0, 0x07, 0x03, 0x53, 0x01, 0x40, 0xa1, 0x01, b'q',
        // application-properties{}
        0x00, 0x53, 0x74, 0xc1, 0x01, 0x00,
        // data "hi": descriptor and vbin8 constructor; `small()` adds the rest
        0x00, 0x53, 0x75, 0xa0,
    ];

    fn small() -> Vec<u8> {
        let mut bytes = SMALL.to_vec();
        bytes.extend_from_slice(&[0x02, b'h', b'i']);
        bytes
    }

    #[test]
    fn small_message_both_ways() {
        let bytes = small();
        let m = MessageView::decode(&bytes).unwrap();
        let header = HeaderSection {
            durable: true,
            ..HeaderSection::default()
        };
        let properties = PropertiesSection {
            message_id: Some(Value::Ulong(1)),
            to: Some("q"),
            ..PropertiesSection::default()
        };
        assert_eq!(m.header, Some(header));
        assert_eq!(m.properties, Some(properties));
        assert!(m.application_properties.is_some_and(|p| p.is_empty()));
        assert_eq!(m.body, Body::Data(b"hi"));
        assert_eq!(m.data_len(), 2);
        let mut out = Vec::new();
        m.encode(&mut out);
        assert_eq!(out, bytes);
        assert_eq!(m.encoded_len(), bytes.len());

        // The general builder path gives the same bytes.
        let mut built = MessageView::new(Body::Data(b"hi"));
        built.header = Some(header);
        built.properties = Some(properties);
        built.application_properties = m.application_properties;
        assert_eq!(built, m);
        let mut out = Vec::new();
        built.encode(&mut out);
        assert_eq!(out, bytes);
    }

    #[test]
    fn hot_path_matches_general_path() {
        let header = HeaderSection {
            durable: true,
            ttl: Some(60_000),
            ..HeaderSection::default()
        };
        let properties = PropertiesSection {
            message_id: Some(Value::String("id-1")),
            creation_time: Some(1_700_000_000_000),
            ..PropertiesSection::default()
        };
        for body_len in [0usize, 100, 255, 256, 70_000] {
            let body = vec![0xab; body_len];
            for (h, p) in [
                (None, None),
                (Some(&header), None),
                (None, Some(&properties)),
                (Some(&header), Some(&properties)),
            ] {
                let mut fast = Vec::new();
                encode_data_message(h, p, body_len, &mut fast);
                assert_eq!(fast.len(), data_message_overhead(h, p, body_len));
                fast.extend_from_slice(&body);

                let layout = MessageLayout::new(h, p);
                let mut laid = Vec::new();
                layout.encode(body_len, &mut laid);
                laid.extend_from_slice(&body);
                assert_eq!(laid, fast);
                assert_eq!(layout.message_len(body_len), fast.len());

                let mut slow = MessageView::new(Body::Data(&body));
                slow.header = h.copied();
                slow.properties = p.copied();
                let mut out = Vec::new();
                slow.encode(&mut out);
                assert_eq!(out, fast);
                assert_eq!(MessageView::decode(&fast), Ok(slow));
            }
        }
    }

    #[test]
    fn multiple_data_sections() {
        let mut bytes = vec![0x00, 0x53, 0x75, 0xa0, 0x01, b'a'];
        bytes.extend_from_slice(&[0x00, 0x53, 0x75, 0xb0, 0, 0, 0, 2, b'b', b'c']);
        bytes.extend_from_slice(&[0x00, 0x53, 0x75, 0xa0, 0x00]);
        bytes.extend_from_slice(&[0x00, 0x53, 0x78, 0xc1, 0x01, 0x00]);
        let m = MessageView::decode(&bytes).unwrap();
        assert_eq!(m.body, Body::Data(b"a"));
        let data: Result<Vec<_>, _> = m.data_sections().collect();
        assert_eq!(data, Ok(vec![&b"a"[..], b"bc", b""]));
        assert_eq!(m.data_len(), 3);
        assert!(m.footer.is_some());
        // Re-encoding shrinks the vbin32 and decodes to the same message.
        let mut out = Vec::new();
        m.encode(&mut out);
        assert_eq!(out.len(), bytes.len() - 3);
        assert_eq!(MessageView::decode(&out), Ok(m));
    }

    #[test]
    fn value_and_sequence_bodies() {
        // amqp-value "x", with message-annotations before it.
        let bytes = [
            0x00, 0x53, 0x72, 0xc1, 0x06, 0x02, 0xa3, 0x01, b'k', 0x52, 0x01, 0x00, 0x53, 0x77,
            0xa1, 0x01, b'x',
        ];
        let m = MessageView::decode(&bytes).unwrap();
        assert_eq!(m.body, Body::AmqpValue(Value::String("x")));
        assert_eq!(
            m.message_annotations.unwrap().get(&Value::Symbol("k")),
            Ok(Some(Value::Uint(1)))
        );
        assert_eq!(m.data_sections().count(), 0);
        // Two amqp-sequence sections.
        let bytes = [
            0x00, 0x53, 0x76, 0xc0, 0x02, 0x01, 0x41, 0x00, 0x53, 0x76, 0x45,
        ];
        let m = MessageView::decode(&bytes).unwrap();
        assert_eq!(m.body_sections().count(), 2);
        let mut out = Vec::new();
        m.encode(&mut out);
        assert_eq!(out, bytes);
        // No sections at all: an empty body.
        assert_eq!(MessageView::decode(&[]), Ok(MessageView::new(Body::Empty)));
    }

    #[test]
    fn malformed() {
        let err = |bytes: &[u8]| MessageView::decode(bytes).unwrap_err();
        // Properties before header; two headers.
        assert!(matches!(
            err(&[0x00, 0x53, 0x73, 0x45, 0x00, 0x53, 0x70, 0x45]),
            Error::Malformed(_)
        ));
        assert!(matches!(
            err(&[0x00, 0x53, 0x70, 0x45, 0x00, 0x53, 0x70, 0x45]),
            Error::Malformed(_)
        ));
        // Data then amqp-value; two amqp-values.
        assert!(matches!(
            err(&[0x00, 0x53, 0x75, 0xa0, 0x00, 0x00, 0x53, 0x77, 0x40]),
            Error::Malformed(_)
        ));
        assert!(matches!(
            err(&[0x00, 0x53, 0x77, 0x40, 0x00, 0x53, 0x77, 0x40]),
            Error::Malformed(_)
        ));
        // Data holding a string; header holding a map.
        assert_eq!(
            err(&[0x00, 0x53, 0x75, 0xa1, 0x00]),
            Error::InvalidField("data")
        );
        assert_eq!(
            err(&[0x00, 0x53, 0x70, 0xc1, 0x01, 0x00]),
            Error::InvalidField("header")
        );
        // Unknown section, a performative descriptor, a bare value.
        assert_eq!(
            err(&[0x00, 0x53, 0x79, 0x45]),
            Error::UnexpectedDescriptor {
                expected: SECTION,
                code: Some(0x79)
            }
        );
        assert_eq!(
            err(&[0x00, 0x53, 0x14, 0x45]),
            Error::UnexpectedDescriptor {
                expected: SECTION,
                code: Some(0x14)
            }
        );
        assert!(matches!(
            err(&[0xa0, 0x00]),
            Error::UnexpectedDescriptor { code: None, .. }
        ));
        // Truncated data section, size field lies.
        let bytes = small();
        assert_eq!(err(&bytes[..bytes.len() - 1]), Error::Truncated);
        assert_eq!(
            err(&[0x00, 0x53, 0x75, 0xb0, 0xff, 0xff, 0xff, 0xff, 0x00]),
            Error::Truncated
        );
        // Header with a wrong field type.
        assert_eq!(
            err(&[0x00, 0x53, 0x70, 0xc0, 0x03, 0x01, 0x52, 0x01]),
            Error::InvalidField("header.durable")
        );
    }
}
