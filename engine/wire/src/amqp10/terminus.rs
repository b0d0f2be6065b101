//! Link termini (§3.5.3 `source`, §3.5.4 `target`), carried by `attach`.
//! Commonly used fields are typed; the rest stay raw views.

use super::codec::{composite, flag, non_default, Encoder, Fields, Sink};
use super::types::{ListView, MapView, Symbols, Value};
use super::{descriptor, Error};

/// The source of a link (§3.5.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Source<'a> {
    /// Address of the node (§3.5.3 address; a string, symbols accepted).
    pub address: Option<&'a str>,
    /// Terminus durability (§3.5.5): 0 none (default), 1 configuration,
    /// 2 unsettled-state.
    pub durable: u32,
    /// Expiry policy symbol (§3.5.6); `None` means `session-end`.
    pub expiry_policy: Option<&'a str>,
    /// Seconds before an expired terminus is destroyed (default 0).
    pub timeout: u32,
    /// Ask the peer to create the node (default false).
    pub dynamic: bool,
    /// Properties of the dynamically created node (§3.5.9).
    pub dynamic_node_properties: Option<MapView<'a>>,
    /// Distribution mode symbol: `move` or `copy` (§3.5.7).
    pub distribution_mode: Option<&'a str>,
    /// Filter set (§3.5.8): symbol keys, described filter values.
    pub filter: Option<MapView<'a>>,
    /// Default outcome for unsettled transfers, raw (§3.5.3).
    pub default_outcome: Option<Value<'a>>,
    /// Outcomes the source supports.
    pub outcomes: Symbols<'a>,
    /// Extension capabilities.
    pub capabilities: Symbols<'a>,
}

/// The target of a link (§3.5.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Target<'a> {
    /// Address of the node (a string, symbols accepted).
    pub address: Option<&'a str>,
    /// Terminus durability (§3.5.5), default 0.
    pub durable: u32,
    /// Expiry policy symbol (§3.5.6); `None` means `session-end`.
    pub expiry_policy: Option<&'a str>,
    /// Seconds before an expired terminus is destroyed (default 0).
    pub timeout: u32,
    /// Ask the peer to create the node (default false).
    pub dynamic: bool,
    /// Properties of the dynamically created node (§3.5.9).
    pub dynamic_node_properties: Option<MapView<'a>>,
    /// Extension capabilities.
    pub capabilities: Symbols<'a>,
}

/// The fields source and target share, in order (§3.5.3, §3.5.4).
struct Common<'a> {
    address: Option<&'a str>,
    durable: u32,
    expiry_policy: Option<&'a str>,
    timeout: u32,
    dynamic: bool,
    dynamic_node_properties: Option<MapView<'a>>,
}

fn read_common<'a>(f: &mut Fields<'a>, what: &'static str) -> Result<Common<'a>, Error> {
    let address = match f.next()? {
        None => None,
        Some(Value::String(s) | Value::Symbol(s)) => Some(s),
        Some(_) => return Err(Error::InvalidField(what)),
    };
    Ok(Common {
        address,
        durable: f.uint(what)?.unwrap_or(0),
        expiry_policy: f.symbol(what)?,
        timeout: f.uint(what)?.unwrap_or(0),
        dynamic: f.bool(what)?.unwrap_or(false),
        dynamic_node_properties: f.map(what)?,
    })
}

fn write_common<S: Sink>(c: &Common<'_>, e: &mut Encoder<'_, S>) {
    e.field(c.address, |e, v| e.string(v));
    e.field(non_default(c.durable, 0), Encoder::uint);
    e.field(c.expiry_policy, |e, v| e.symbol(v));
    e.field(non_default(c.timeout, 0), Encoder::uint);
    e.field(flag(c.dynamic), Encoder::bool);
    e.field(c.dynamic_node_properties, |e, m| e.map_view(&m));
}

fn terminus<'a>(value: Value<'a>, code: u64, what: &'static str) -> Result<ListView<'a>, Error> {
    match composite(value, what)? {
        (found, list) if found == code => Ok(list),
        (found, _) => Err(Error::UnexpectedDescriptor {
            expected: what,
            code: Some(found),
        }),
    }
}

impl<'a> Source<'a> {
    /// A source for `address` with every other field at its default.
    pub fn new(address: &'a str) -> Self {
        Source {
            address: Some(address),
            ..Source::default()
        }
    }

    /// Decode from a field value holding a described `source` (0x28).
    pub fn from_value(value: Value<'a>) -> Result<Self, Error> {
        const WHAT: &str = "source";
        let list = terminus(value, descriptor::SOURCE, WHAT)?;
        let mut f = Fields::new(&list);
        let c = read_common(&mut f, WHAT)?;
        let source = Source {
            address: c.address,
            durable: c.durable,
            expiry_policy: c.expiry_policy,
            timeout: c.timeout,
            dynamic: c.dynamic,
            dynamic_node_properties: c.dynamic_node_properties,
            distribution_mode: f.symbol("source.distribution-mode")?,
            filter: f.map("source.filter")?,
            default_outcome: f.next()?,
            outcomes: f.symbols("source.outcomes")?,
            capabilities: f.symbols("source.capabilities")?,
        };
        f.finish()?;
        Ok(source)
    }

    pub(crate) fn encode_to<S: Sink>(&self, e: &mut Encoder<'_, S>) {
        e.described_list(descriptor::SOURCE, |e| {
            write_common(
                &Common {
                    address: self.address,
                    durable: self.durable,
                    expiry_policy: self.expiry_policy,
                    timeout: self.timeout,
                    dynamic: self.dynamic,
                    dynamic_node_properties: self.dynamic_node_properties,
                },
                e,
            );
            e.field(self.distribution_mode, |e, v| e.symbol(v));
            e.field(self.filter, |e, m| e.map_view(&m));
            e.field(self.default_outcome.as_ref(), |e, v| e.value(v));
            e.symbols_field(&self.outcomes);
            e.symbols_field(&self.capabilities);
        });
    }
}

impl<'a> Target<'a> {
    /// A target for `address` with every other field at its default.
    pub fn new(address: &'a str) -> Self {
        Target {
            address: Some(address),
            ..Target::default()
        }
    }

    /// Decode from a field value holding a described `target` (0x29).
    pub fn from_value(value: Value<'a>) -> Result<Self, Error> {
        const WHAT: &str = "target";
        let list = terminus(value, descriptor::TARGET, WHAT)?;
        let mut f = Fields::new(&list);
        let c = read_common(&mut f, WHAT)?;
        let target = Target {
            address: c.address,
            durable: c.durable,
            expiry_policy: c.expiry_policy,
            timeout: c.timeout,
            dynamic: c.dynamic,
            dynamic_node_properties: c.dynamic_node_properties,
            capabilities: f.symbols("target.capabilities")?,
        };
        f.finish()?;
        Ok(target)
    }

    pub(crate) fn encode_to<S: Sink>(&self, e: &mut Encoder<'_, S>) {
        e.described_list(descriptor::TARGET, |e| {
            write_common(
                &Common {
                    address: self.address,
                    durable: self.durable,
                    expiry_policy: self.expiry_policy,
                    timeout: self.timeout,
                    dynamic: self.dynamic,
                    dynamic_node_properties: self.dynamic_node_properties,
                },
                e,
            );
            e.symbols_field(&self.capabilities);
        });
    }
}

encoding_methods!(Source<'_>);
encoding_methods!(Target<'_>);

#[cfg(test)]
mod tests {
    use super::super::types::decode_value;
    use super::*;

    #[test]
    fn source_and_target_both_ways() {
        // source{address: "q"}
        let bytes = [0x00, 0x53, 0x28, 0xc0, 0x04, 0x01, 0xa1, 0x01, b'q'];
        let source = Source::new("q");
        let (value, _) = decode_value(&bytes).unwrap();
        assert_eq!(Source::from_value(value), Ok(source));
        let mut out = Vec::new();
        source.encode(&mut out);
        assert_eq!(out, bytes);

        // target{address: "q", durable: 2, expiry-policy: never,
        //        capabilities: [queue]}
        #[rustfmt::skip]
        let bytes = [
            0x00, 0x53, 0x29, 0xc0, 0x1a, 0x07,
            0xa1, 0x01, b'q',
            0x52, 0x02,
            0xa3, 0x05, b'n', b'e', b'v', b'e', b'r',
            0x40, 0x40, 0x40,
            0xe0, 0x08, 0x01, 0xa3, 0x05, b'q', b'u', b'e', b'u', b'e',
        ];
        let target = Target {
            durable: 2,
            expiry_policy: Some("never"),
            capabilities: Symbols::List(&["queue"]),
            ..Target::new("q")
        };
        let (value, _) = decode_value(&bytes).unwrap();
        assert_eq!(Target::from_value(value), Ok(target));
        let mut out = Vec::new();
        target.encode(&mut out);
        assert_eq!(out, bytes);
        assert_eq!(target.encoded_len(), bytes.len());
    }

    #[test]
    fn symbol_address_and_raw_fields() {
        // source{address: sym "a", ..., default-outcome: released}
        #[rustfmt::skip]
        let bytes = [
            0x00, 0x53, 0x28, 0xc0, 0x0f, 0x09,
            0xa3, 0x01, b'a', 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40,
            0x00, 0x53, 0x26, 0x45,
        ];
        let (value, _) = decode_value(&bytes).unwrap();
        let source = Source::from_value(value).unwrap();
        assert_eq!(source.address, Some("a"));
        let Some(Value::Described(d)) = source.default_outcome else {
            panic!("{source:?}")
        };
        assert_eq!(d.descriptor().map(|d| d.code()), Ok(Some(0x26)));
    }

    #[test]
    fn wrong_descriptor() {
        // A coordinator (0x30) where a target is expected.
        let (value, _) = decode_value(&[0x00, 0x53, 0x30, 0x45]).unwrap();
        assert_eq!(
            Target::from_value(value),
            Err(Error::UnexpectedDescriptor {
                expected: "target",
                code: Some(0x30)
            })
        );
    }
}
