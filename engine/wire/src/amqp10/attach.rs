//! `attach` performative (§2.7.3): attaches a link to a session, plus the
//! link role and settlement modes (§2.8.1 to §2.8.3).

use super::codec::{flag, non_default, required, Encoder, Fields, Sink};
use super::terminus::{Source, Target};
use super::types::{ListView, MapView, Symbols};
use super::{descriptor, Error};

/// Link role (§2.8.1), a boolean on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// `false`: the endpoint sends messages.
    Sender,
    /// `true`: the endpoint receives messages.
    Receiver,
}

impl Role {
    /// The wire value: false for sender, true for receiver.
    pub const fn as_bool(self) -> bool {
        matches!(self, Role::Receiver)
    }

    /// The role for a wire value.
    pub const fn from_bool(receiver: bool) -> Self {
        if receiver {
            Role::Receiver
        } else {
            Role::Sender
        }
    }
}

/// Sender settlement mode (§2.8.2), a ubyte on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum SenderSettleMode {
    /// 0: the sender sends all deliveries unsettled.
    Unsettled = 0,
    /// 1: the sender sends all deliveries settled.
    Settled = 1,
    /// 2: the sender may send a mixture (the default).
    #[default]
    Mixed = 2,
}

/// Receiver settlement mode (§2.8.3), a ubyte on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum ReceiverSettleMode {
    /// 0: the receiver settles spontaneously (the default).
    #[default]
    First = 0,
    /// 1: the receiver settles only after the sender has.
    Second = 1,
}

impl SenderSettleMode {
    /// The mode for a wire value 0..=2.
    pub const fn from_u8(v: u8) -> Option<Self> {
        match v {
            0 => Some(SenderSettleMode::Unsettled),
            1 => Some(SenderSettleMode::Settled),
            2 => Some(SenderSettleMode::Mixed),
            _ => None,
        }
    }
}

impl ReceiverSettleMode {
    /// The mode for a wire value 0..=1.
    pub const fn from_u8(v: u8) -> Option<Self> {
        match v {
            0 => Some(ReceiverSettleMode::First),
            1 => Some(ReceiverSettleMode::Second),
            _ => None,
        }
    }

    pub(crate) fn field(f: &mut Fields<'_>, name: &'static str) -> Result<Option<Self>, Error> {
        f.ubyte(name)?
            .map(|v| Self::from_u8(v).ok_or(Error::InvalidField(name)))
            .transpose()
    }
}

/// `attach` (§2.7.3, descriptor 0x12).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attach<'a> {
    /// Link name, unique per direction between two containers (mandatory).
    pub name: &'a str,
    /// Handle for the link on this session (mandatory).
    pub handle: u32,
    /// Role of the sending endpoint (mandatory).
    pub role: Role,
    /// Default [`SenderSettleMode::Mixed`].
    pub snd_settle_mode: SenderSettleMode,
    /// Default [`ReceiverSettleMode::First`].
    pub rcv_settle_mode: ReceiverSettleMode,
    /// Source of the link.
    pub source: Option<Source<'a>>,
    /// Target of the link.
    pub target: Option<Target<'a>>,
    /// Unsettled delivery state map (delivery-tag to state), raw.
    pub unsettled: Option<MapView<'a>>,
    /// The unsettled map is incomplete (default false).
    pub incomplete_unsettled: bool,
    /// Sender's initial delivery count; required from senders.
    pub initial_delivery_count: Option<u32>,
    /// Largest message the endpoint accepts; `None` or 0 is no limit.
    pub max_message_size: Option<u64>,
    /// Extension capabilities the sender supports.
    pub offered_capabilities: Symbols<'a>,
    /// Extension capabilities the sender may use.
    pub desired_capabilities: Symbols<'a>,
    /// Link properties (`fields`).
    pub properties: Option<MapView<'a>>,
}

impl<'a> Attach<'a> {
    /// An `attach` with the mandatory fields and every other at its default.
    pub const fn new(name: &'a str, handle: u32, role: Role) -> Self {
        Attach {
            name,
            handle,
            role,
            snd_settle_mode: SenderSettleMode::Mixed,
            rcv_settle_mode: ReceiverSettleMode::First,
            source: None,
            target: None,
            unsettled: None,
            incomplete_unsettled: false,
            initial_delivery_count: None,
            max_message_size: None,
            offered_capabilities: Symbols::EMPTY,
            desired_capabilities: Symbols::EMPTY,
            properties: None,
        }
    }

    pub(crate) fn from_fields(list: &ListView<'a>) -> Result<Self, Error> {
        let mut f = Fields::new(list);
        let attach = Attach {
            name: required(f.string("attach.name")?, "attach.name")?,
            handle: required(f.uint("attach.handle")?, "attach.handle")?,
            role: Role::from_bool(required(f.bool("attach.role")?, "attach.role")?),
            snd_settle_mode: match f.ubyte("attach.snd-settle-mode")? {
                None => SenderSettleMode::Mixed,
                Some(v) => SenderSettleMode::from_u8(v)
                    .ok_or(Error::InvalidField("attach.snd-settle-mode"))?,
            },
            rcv_settle_mode: ReceiverSettleMode::field(&mut f, "attach.rcv-settle-mode")?
                .unwrap_or_default(),
            source: f.next()?.map(Source::from_value).transpose()?,
            target: f.next()?.map(Target::from_value).transpose()?,
            unsettled: f.map("attach.unsettled")?,
            incomplete_unsettled: f.bool("attach.incomplete-unsettled")?.unwrap_or(false),
            initial_delivery_count: f.uint("attach.initial-delivery-count")?,
            max_message_size: f.ulong("attach.max-message-size")?,
            offered_capabilities: f.symbols("attach.offered-capabilities")?,
            desired_capabilities: f.symbols("attach.desired-capabilities")?,
            properties: f.map("attach.properties")?,
        };
        f.finish()?;
        Ok(attach)
    }

    pub(crate) fn encode_to<S: Sink>(&self, e: &mut Encoder<'_, S>) {
        e.described_list(descriptor::ATTACH, |e| {
            e.field(Some(self.name), |e, v| e.string(v));
            e.field(Some(self.handle), Encoder::uint);
            e.field(Some(self.role.as_bool()), Encoder::bool);
            e.field(
                non_default(self.snd_settle_mode, SenderSettleMode::Mixed),
                |e, m| e.ubyte(m as u8),
            );
            e.field(
                non_default(self.rcv_settle_mode, ReceiverSettleMode::First),
                |e, m| e.ubyte(m as u8),
            );
            e.field(self.source.as_ref(), |e, s| s.encode_to(e));
            e.field(self.target.as_ref(), |e, t| t.encode_to(e));
            e.field(self.unsettled, |e, m| e.map_view(&m));
            e.field(flag(self.incomplete_unsettled), Encoder::bool);
            e.field(self.initial_delivery_count, Encoder::uint);
            e.field(self.max_message_size, Encoder::ulong);
            e.symbols_field(&self.offered_capabilities);
            e.symbols_field(&self.desired_capabilities);
            e.field(self.properties, |e, m| e.map_view(&m));
        });
    }
}

encoding_methods!(Attach<'_>);

#[cfg(test)]
mod tests {
    use super::super::Performative;
    use super::*;

    fn both_ways(bytes: &[u8], attach: Attach<'_>) {
        let p = Performative::Attach(attach);
        assert_eq!(Performative::decode(bytes), Ok((p, &[][..])));
        let mut out = Vec::new();
        p.encode(&mut out);
        assert_eq!(out, bytes);
        assert_eq!(p.encoded_len(), bytes.len());
    }

    #[test]
    fn sender_link() {
        // attach{name "l", handle 0, role sender, snd-settle-mode settled,
        //        source{}, target{address "q"}, initial-delivery-count 0}
        #[rustfmt::skip]
        both_ways(
            &[0x00, 0x53, 0x12, 0xc0, 0x19, 0x0a,
              0xa1, 0x01, b'l',
              0x43,
              0x42,
              0x50, 0x01,
              0x40,
              0x00, 0x53, 0x28, 0x45,
              0x00, 0x53, 0x29, 0xc0, 0x04, 0x01, 0xa1, 0x01, b'q',
              0x40, 0x40,
              0x43],
            Attach {
                snd_settle_mode: SenderSettleMode::Settled,
                source: Some(Source::default()),
                target: Some(Target::new("q")),
                initial_delivery_count: Some(0),
                ..Attach::new("l", 0, Role::Sender)
            },
        );
    }

    #[test]
    fn receiver_minimal() {
        both_ways(
            &[
                0x00, 0x53, 0x12, 0xc0, 0x07, 0x03, 0xa1, 0x01, b'r', 0x52, 0x05, 0x41,
            ],
            Attach::new("r", 5, Role::Receiver),
        );
    }

    #[test]
    fn malformed() {
        // Role as ubyte; settle mode 3; source of the wrong type.
        let cases: [(&[u8], Error); 3] = [
            (
                &[
                    0x00, 0x53, 0x12, 0xc0, 0x07, 0x03, 0xa1, 0x01, b'r', 0x43, 0x50, 0x01,
                ],
                Error::InvalidField("attach.role"),
            ),
            (
                &[
                    0x00, 0x53, 0x12, 0xc0, 0x08, 0x04, 0xa1, 0x01, b'r', 0x43, 0x41, 0x50, 0x03,
                ],
                Error::InvalidField("attach.snd-settle-mode"),
            ),
            (
                &[
                    0x00, 0x53, 0x12, 0xc0, 0x0a, 0x07, 0xa1, 0x01, b'r', 0x43, 0x41, 0x40, 0x40,
                    0x40, 0x52,
                ],
                Error::Truncated,
            ),
        ];
        for (bytes, want) in cases {
            assert_eq!(Performative::decode(bytes), Err(want));
        }
        let bytes = [
            0x00, 0x53, 0x12, 0xc0, 0x0a, 0x06, 0xa1, 0x01, b'r', 0x43, 0x41, 0x40, 0x40, 0x52,
            0x01,
        ];
        assert_eq!(
            Performative::decode(&bytes),
            Err(Error::UnexpectedDescriptor {
                expected: "source",
                code: None
            })
        );
    }
}
