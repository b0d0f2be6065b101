//! Method frames (§4.2.4): class id, method id and the arguments, for the methods of the
//! connection (10), channel (20), exchange (40), queue (50) and basic (60) classes a client
//! needs, plus RabbitMQ's extensions `connection.blocked`/`unblocked`, `basic.nack` and the
//! confirm class (85).
//!
//! Arguments are encoded in order (§4.2.5); consecutive bits share octets, low bit first
//! (§4.2.5.2). Reserved arguments (the `ticket` short of exchange, queue and basic methods,
//! the `reserved-1` strings of `connection.open`, `connection.open-ok`, `channel.open` and
//! `channel.open-ok`, the `insist` bit) are written as zero or empty and skipped when read.
//! Bits an octet holds beyond the method's own are ignored.

use super::codec::{begin_frame, end_frame, put_bits, put_long_str, put_short_str, put_u16};
use super::codec::{put_u32, put_u64, Reader};
use super::frame::FRAME_METHOD;
use super::table::Table;
use super::Error;

/// A method with its arguments, borrowing from the frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method<'a> {
    /// `connection.start` (10/10): the server's greeting.
    ConnectionStart {
        version_major: u8,
        version_minor: u8,
        server_properties: Table<'a>,
        /// Space-separated SASL mechanisms (a long string).
        mechanisms: &'a [u8],
        /// Space-separated message locales (a long string).
        locales: &'a [u8],
    },
    /// `connection.start-ok` (10/11).
    ConnectionStartOk {
        client_properties: Table<'a>,
        mechanism: &'a str,
        /// The SASL response, e.g. `\0user\0password` for PLAIN.
        response: &'a [u8],
        locale: &'a str,
    },
    /// `connection.secure` (10/20).
    ConnectionSecure { challenge: &'a [u8] },
    /// `connection.secure-ok` (10/21).
    ConnectionSecureOk { response: &'a [u8] },
    /// `connection.tune` (10/30): the server's limits; 0 means none.
    ConnectionTune {
        channel_max: u16,
        frame_max: u32,
        /// Heartbeat delay in seconds.
        heartbeat: u16,
    },
    /// `connection.tune-ok` (10/31): the limits the client settles on.
    ConnectionTuneOk {
        channel_max: u16,
        frame_max: u32,
        heartbeat: u16,
    },
    /// `connection.open` (10/40).
    ConnectionOpen { virtual_host: &'a str },
    /// `connection.open-ok` (10/41).
    ConnectionOpenOk,
    /// `connection.close` (10/50): a reply code and text, and the method that caused it.
    ConnectionClose {
        reply_code: u16,
        reply_text: &'a str,
        class_id: u16,
        method_id: u16,
    },
    /// `connection.close-ok` (10/51).
    ConnectionCloseOk,
    /// `connection.blocked` (10/60, RabbitMQ): publishing is blocked.
    ConnectionBlocked { reason: &'a str },
    /// `connection.unblocked` (10/61, RabbitMQ).
    ConnectionUnblocked,
    /// `channel.open` (20/10).
    ChannelOpen,
    /// `channel.open-ok` (20/11).
    ChannelOpenOk,
    /// `channel.flow` (20/20).
    ChannelFlow { active: bool },
    /// `channel.flow-ok` (20/21).
    ChannelFlowOk { active: bool },
    /// `channel.close` (20/40).
    ChannelClose {
        reply_code: u16,
        reply_text: &'a str,
        class_id: u16,
        method_id: u16,
    },
    /// `channel.close-ok` (20/41).
    ChannelCloseOk,
    /// `exchange.declare` (40/10).
    ExchangeDeclare {
        exchange: &'a str,
        /// The exchange type: `direct`, `fanout`, `topic`, `headers`, ...
        kind: &'a str,
        passive: bool,
        durable: bool,
        auto_delete: bool,
        internal: bool,
        no_wait: bool,
        arguments: Table<'a>,
    },
    /// `exchange.declare-ok` (40/11).
    ExchangeDeclareOk,
    /// `queue.declare` (50/10).
    QueueDeclare {
        queue: &'a str,
        passive: bool,
        durable: bool,
        exclusive: bool,
        auto_delete: bool,
        no_wait: bool,
        arguments: Table<'a>,
    },
    /// `queue.declare-ok` (50/11).
    QueueDeclareOk {
        queue: &'a str,
        message_count: u32,
        consumer_count: u32,
    },
    /// `queue.bind` (50/20).
    QueueBind {
        queue: &'a str,
        exchange: &'a str,
        routing_key: &'a str,
        no_wait: bool,
        arguments: Table<'a>,
    },
    /// `queue.bind-ok` (50/21).
    QueueBindOk,
    /// `queue.delete` (50/40).
    QueueDelete {
        queue: &'a str,
        if_unused: bool,
        if_empty: bool,
        no_wait: bool,
    },
    /// `queue.delete-ok` (50/41).
    QueueDeleteOk { message_count: u32 },
    /// `basic.qos` (60/10).
    BasicQos {
        prefetch_size: u32,
        prefetch_count: u16,
        global: bool,
    },
    /// `basic.qos-ok` (60/11).
    BasicQosOk,
    /// `basic.consume` (60/20).
    BasicConsume {
        queue: &'a str,
        consumer_tag: &'a str,
        no_local: bool,
        no_ack: bool,
        exclusive: bool,
        no_wait: bool,
        arguments: Table<'a>,
    },
    /// `basic.consume-ok` (60/21).
    BasicConsumeOk { consumer_tag: &'a str },
    /// `basic.cancel` (60/30); RabbitMQ also sends it to a consumer whose queue went away.
    BasicCancel {
        consumer_tag: &'a str,
        no_wait: bool,
    },
    /// `basic.cancel-ok` (60/31).
    BasicCancelOk { consumer_tag: &'a str },
    /// `basic.publish` (60/40); a content header and body frames follow.
    BasicPublish {
        exchange: &'a str,
        routing_key: &'a str,
        mandatory: bool,
        immediate: bool,
    },
    /// `basic.return` (60/50); a content header and body frames follow.
    BasicReturn {
        reply_code: u16,
        reply_text: &'a str,
        exchange: &'a str,
        routing_key: &'a str,
    },
    /// `basic.deliver` (60/60); a content header and body frames follow.
    BasicDeliver {
        consumer_tag: &'a str,
        delivery_tag: u64,
        redelivered: bool,
        exchange: &'a str,
        routing_key: &'a str,
    },
    /// `basic.ack` (60/80), from a consumer or, in confirm mode, from the server.
    BasicAck { delivery_tag: u64, multiple: bool },
    /// `basic.reject` (60/90).
    BasicReject { delivery_tag: u64, requeue: bool },
    /// `basic.nack` (60/120, RabbitMQ).
    BasicNack {
        delivery_tag: u64,
        multiple: bool,
        requeue: bool,
    },
    /// `confirm.select` (85/10, RabbitMQ): publisher confirms on this channel.
    ConfirmSelect { no_wait: bool },
    /// `confirm.select-ok` (85/11).
    ConfirmSelectOk,
}

impl<'a> Method<'a> {
    /// Class id, method id and name of the method.
    const fn info(&self) -> (u16, u16, &'static str) {
        match self {
            Method::ConnectionStart { .. } => (10, 10, "connection.start"),
            Method::ConnectionStartOk { .. } => (10, 11, "connection.start-ok"),
            Method::ConnectionSecure { .. } => (10, 20, "connection.secure"),
            Method::ConnectionSecureOk { .. } => (10, 21, "connection.secure-ok"),
            Method::ConnectionTune { .. } => (10, 30, "connection.tune"),
            Method::ConnectionTuneOk { .. } => (10, 31, "connection.tune-ok"),
            Method::ConnectionOpen { .. } => (10, 40, "connection.open"),
            Method::ConnectionOpenOk => (10, 41, "connection.open-ok"),
            Method::ConnectionClose { .. } => (10, 50, "connection.close"),
            Method::ConnectionCloseOk => (10, 51, "connection.close-ok"),
            Method::ConnectionBlocked { .. } => (10, 60, "connection.blocked"),
            Method::ConnectionUnblocked => (10, 61, "connection.unblocked"),
            Method::ChannelOpen => (20, 10, "channel.open"),
            Method::ChannelOpenOk => (20, 11, "channel.open-ok"),
            Method::ChannelFlow { .. } => (20, 20, "channel.flow"),
            Method::ChannelFlowOk { .. } => (20, 21, "channel.flow-ok"),
            Method::ChannelClose { .. } => (20, 40, "channel.close"),
            Method::ChannelCloseOk => (20, 41, "channel.close-ok"),
            Method::ExchangeDeclare { .. } => (40, 10, "exchange.declare"),
            Method::ExchangeDeclareOk => (40, 11, "exchange.declare-ok"),
            Method::QueueDeclare { .. } => (50, 10, "queue.declare"),
            Method::QueueDeclareOk { .. } => (50, 11, "queue.declare-ok"),
            Method::QueueBind { .. } => (50, 20, "queue.bind"),
            Method::QueueBindOk => (50, 21, "queue.bind-ok"),
            Method::QueueDelete { .. } => (50, 40, "queue.delete"),
            Method::QueueDeleteOk { .. } => (50, 41, "queue.delete-ok"),
            Method::BasicQos { .. } => (60, 10, "basic.qos"),
            Method::BasicQosOk => (60, 11, "basic.qos-ok"),
            Method::BasicConsume { .. } => (60, 20, "basic.consume"),
            Method::BasicConsumeOk { .. } => (60, 21, "basic.consume-ok"),
            Method::BasicCancel { .. } => (60, 30, "basic.cancel"),
            Method::BasicCancelOk { .. } => (60, 31, "basic.cancel-ok"),
            Method::BasicPublish { .. } => (60, 40, "basic.publish"),
            Method::BasicReturn { .. } => (60, 50, "basic.return"),
            Method::BasicDeliver { .. } => (60, 60, "basic.deliver"),
            Method::BasicAck { .. } => (60, 80, "basic.ack"),
            Method::BasicReject { .. } => (60, 90, "basic.reject"),
            Method::BasicNack { .. } => (60, 120, "basic.nack"),
            Method::ConfirmSelect { .. } => (85, 10, "confirm.select"),
            Method::ConfirmSelectOk => (85, 11, "confirm.select-ok"),
        }
    }

    /// Class id and method id (§4.2.4).
    pub const fn ids(&self) -> (u16, u16) {
        let (class, method, _) = self.info();
        (class, method)
    }

    /// The method's name as the specification writes it, e.g. `"connection.start"`.
    pub const fn name(&self) -> &'static str {
        self.info().2
    }

    /// Whether a content header and body frames follow the method (§4.2.6).
    pub const fn has_content(&self) -> bool {
        matches!(
            self,
            Method::BasicPublish { .. } | Method::BasicReturn { .. } | Method::BasicDeliver { .. }
        )
    }

    /// Decodes a method frame's payload: class id, method id, arguments. An unknown pair is
    /// [`Error::UnknownMethod`]; arguments running past the payload are [`Error::Truncated`];
    /// bytes after the last argument are ignored.
    pub fn decode(payload: &'a [u8]) -> Result<Self, Error> {
        let mut r = Reader::new(payload);
        let class = r.u16()?;
        let method = r.u16()?;
        let r = &mut r;
        Ok(match (class, method) {
            (10, 10) => Method::ConnectionStart {
                version_major: r.u8()?,
                version_minor: r.u8()?,
                server_properties: r.table()?,
                mechanisms: r.long_str()?,
                locales: r.long_str()?,
            },
            (10, 11) => Method::ConnectionStartOk {
                client_properties: r.table()?,
                mechanism: r.short_str()?,
                response: r.long_str()?,
                locale: r.short_str()?,
            },
            (10, 20) => Method::ConnectionSecure {
                challenge: r.long_str()?,
            },
            (10, 21) => Method::ConnectionSecureOk {
                response: r.long_str()?,
            },
            (10, 30) => Method::ConnectionTune {
                channel_max: r.u16()?,
                frame_max: r.u32()?,
                heartbeat: r.u16()?,
            },
            (10, 31) => Method::ConnectionTuneOk {
                channel_max: r.u16()?,
                frame_max: r.u32()?,
                heartbeat: r.u16()?,
            },
            (10, 40) => {
                let virtual_host = r.short_str()?;
                r.short_str()?; // reserved-1: capabilities
                r.u8()?; // reserved-2: insist
                Method::ConnectionOpen { virtual_host }
            }
            (10, 41) => {
                r.short_str()?; // reserved-1: known-hosts
                Method::ConnectionOpenOk
            }
            (10, 50) => Method::ConnectionClose {
                reply_code: r.u16()?,
                reply_text: r.short_str()?,
                class_id: r.u16()?,
                method_id: r.u16()?,
            },
            (10, 51) => Method::ConnectionCloseOk,
            (10, 60) => Method::ConnectionBlocked {
                reason: r.short_str()?,
            },
            (10, 61) => Method::ConnectionUnblocked,
            (20, 10) => {
                r.short_str()?; // reserved-1: out-of-band
                Method::ChannelOpen
            }
            (20, 11) => {
                r.long_str()?; // reserved-1: channel-id
                Method::ChannelOpenOk
            }
            (20, 20) => {
                let [active] = r.bits()?;
                Method::ChannelFlow { active }
            }
            (20, 21) => {
                let [active] = r.bits()?;
                Method::ChannelFlowOk { active }
            }
            (20, 40) => Method::ChannelClose {
                reply_code: r.u16()?,
                reply_text: r.short_str()?,
                class_id: r.u16()?,
                method_id: r.u16()?,
            },
            (20, 41) => Method::ChannelCloseOk,
            (40, 10) => {
                r.u16()?; // reserved-1: ticket
                let exchange = r.short_str()?;
                let kind = r.short_str()?;
                let [passive, durable, auto_delete, internal, no_wait] = r.bits()?;
                Method::ExchangeDeclare {
                    exchange,
                    kind,
                    passive,
                    durable,
                    auto_delete,
                    internal,
                    no_wait,
                    arguments: r.table()?,
                }
            }
            (40, 11) => Method::ExchangeDeclareOk,
            (50, 10) => {
                r.u16()?; // reserved-1: ticket
                let queue = r.short_str()?;
                let [passive, durable, exclusive, auto_delete, no_wait] = r.bits()?;
                Method::QueueDeclare {
                    queue,
                    passive,
                    durable,
                    exclusive,
                    auto_delete,
                    no_wait,
                    arguments: r.table()?,
                }
            }
            (50, 11) => Method::QueueDeclareOk {
                queue: r.short_str()?,
                message_count: r.u32()?,
                consumer_count: r.u32()?,
            },
            (50, 20) => {
                r.u16()?; // reserved-1: ticket
                let queue = r.short_str()?;
                let exchange = r.short_str()?;
                let routing_key = r.short_str()?;
                let [no_wait] = r.bits()?;
                Method::QueueBind {
                    queue,
                    exchange,
                    routing_key,
                    no_wait,
                    arguments: r.table()?,
                }
            }
            (50, 21) => Method::QueueBindOk,
            (50, 40) => {
                r.u16()?; // reserved-1: ticket
                let queue = r.short_str()?;
                let [if_unused, if_empty, no_wait] = r.bits()?;
                Method::QueueDelete {
                    queue,
                    if_unused,
                    if_empty,
                    no_wait,
                }
            }
            (50, 41) => Method::QueueDeleteOk {
                message_count: r.u32()?,
            },
            (60, 10) => {
                let prefetch_size = r.u32()?;
                let prefetch_count = r.u16()?;
                let [global] = r.bits()?;
                Method::BasicQos {
                    prefetch_size,
                    prefetch_count,
                    global,
                }
            }
            (60, 11) => Method::BasicQosOk,
            (60, 20) => {
                r.u16()?; // reserved-1: ticket
                let queue = r.short_str()?;
                let consumer_tag = r.short_str()?;
                let [no_local, no_ack, exclusive, no_wait] = r.bits()?;
                Method::BasicConsume {
                    queue,
                    consumer_tag,
                    no_local,
                    no_ack,
                    exclusive,
                    no_wait,
                    arguments: r.table()?,
                }
            }
            (60, 21) => Method::BasicConsumeOk {
                consumer_tag: r.short_str()?,
            },
            (60, 30) => {
                let consumer_tag = r.short_str()?;
                let [no_wait] = r.bits()?;
                Method::BasicCancel {
                    consumer_tag,
                    no_wait,
                }
            }
            (60, 31) => Method::BasicCancelOk {
                consumer_tag: r.short_str()?,
            },
            (60, 40) => {
                r.u16()?; // reserved-1: ticket
                let exchange = r.short_str()?;
                let routing_key = r.short_str()?;
                let [mandatory, immediate] = r.bits()?;
                Method::BasicPublish {
                    exchange,
                    routing_key,
                    mandatory,
                    immediate,
                }
            }
            (60, 50) => Method::BasicReturn {
                reply_code: r.u16()?,
                reply_text: r.short_str()?,
                exchange: r.short_str()?,
                routing_key: r.short_str()?,
            },
            (60, 60) => {
                let consumer_tag = r.short_str()?;
                let delivery_tag = r.u64()?;
                let [redelivered] = r.bits()?;
                Method::BasicDeliver {
                    consumer_tag,
                    delivery_tag,
                    redelivered,
                    exchange: r.short_str()?,
                    routing_key: r.short_str()?,
                }
            }
            (60, 80) => {
                let delivery_tag = r.u64()?;
                let [multiple] = r.bits()?;
                Method::BasicAck {
                    delivery_tag,
                    multiple,
                }
            }
            (60, 90) => {
                let delivery_tag = r.u64()?;
                let [requeue] = r.bits()?;
                Method::BasicReject {
                    delivery_tag,
                    requeue,
                }
            }
            (60, 120) => {
                let delivery_tag = r.u64()?;
                let [multiple, requeue] = r.bits()?;
                Method::BasicNack {
                    delivery_tag,
                    multiple,
                    requeue,
                }
            }
            (85, 10) => {
                let [no_wait] = r.bits()?;
                Method::ConfirmSelect { no_wait }
            }
            (85, 11) => Method::ConfirmSelectOk,
            _ => return Err(Error::UnknownMethod { class, method }),
        })
    }

    /// Appends the method frame's payload: class id, method id, arguments.
    pub fn encode_payload(&self, out: &mut Vec<u8>) {
        let (class, method) = self.ids();
        put_u16(out, class);
        put_u16(out, method);
        let table = |out: &mut Vec<u8>, t: &Table<'_>| put_long_str(out, t.raw());
        match self {
            Method::ConnectionStart {
                version_major,
                version_minor,
                server_properties,
                mechanisms,
                locales,
            } => {
                out.push(*version_major);
                out.push(*version_minor);
                table(out, server_properties);
                put_long_str(out, mechanisms);
                put_long_str(out, locales);
            }
            Method::ConnectionStartOk {
                client_properties,
                mechanism,
                response,
                locale,
            } => {
                table(out, client_properties);
                put_short_str(out, mechanism);
                put_long_str(out, response);
                put_short_str(out, locale);
            }
            Method::ConnectionSecure { challenge: bytes }
            | Method::ConnectionSecureOk { response: bytes } => put_long_str(out, bytes),
            Method::ConnectionTune {
                channel_max,
                frame_max,
                heartbeat,
            }
            | Method::ConnectionTuneOk {
                channel_max,
                frame_max,
                heartbeat,
            } => {
                put_u16(out, *channel_max);
                put_u32(out, *frame_max);
                put_u16(out, *heartbeat);
            }
            Method::ConnectionOpen { virtual_host } => {
                put_short_str(out, virtual_host);
                put_short_str(out, "");
                put_bits(out, &[false]);
            }
            Method::ConnectionOpenOk | Method::ChannelOpen => put_short_str(out, ""),
            Method::ConnectionClose {
                reply_code,
                reply_text,
                class_id,
                method_id,
            }
            | Method::ChannelClose {
                reply_code,
                reply_text,
                class_id,
                method_id,
            } => {
                put_u16(out, *reply_code);
                put_short_str(out, reply_text);
                put_u16(out, *class_id);
                put_u16(out, *method_id);
            }
            Method::ConnectionCloseOk
            | Method::ConnectionUnblocked
            | Method::ChannelCloseOk
            | Method::ExchangeDeclareOk
            | Method::QueueBindOk
            | Method::BasicQosOk
            | Method::ConfirmSelectOk => {}
            Method::ConnectionBlocked { reason } => put_short_str(out, reason),
            Method::ChannelOpenOk => put_long_str(out, b""),
            Method::ChannelFlow { active } | Method::ChannelFlowOk { active } => {
                put_bits(out, &[*active])
            }
            Method::ExchangeDeclare {
                exchange,
                kind,
                passive,
                durable,
                auto_delete,
                internal,
                no_wait,
                arguments,
            } => {
                put_u16(out, 0);
                put_short_str(out, exchange);
                put_short_str(out, kind);
                put_bits(
                    out,
                    &[*passive, *durable, *auto_delete, *internal, *no_wait],
                );
                table(out, arguments);
            }
            Method::QueueDeclare {
                queue,
                passive,
                durable,
                exclusive,
                auto_delete,
                no_wait,
                arguments,
            } => {
                put_u16(out, 0);
                put_short_str(out, queue);
                put_bits(
                    out,
                    &[*passive, *durable, *exclusive, *auto_delete, *no_wait],
                );
                table(out, arguments);
            }
            Method::QueueDeclareOk {
                queue,
                message_count,
                consumer_count,
            } => {
                put_short_str(out, queue);
                put_u32(out, *message_count);
                put_u32(out, *consumer_count);
            }
            Method::QueueBind {
                queue,
                exchange,
                routing_key,
                no_wait,
                arguments,
            } => {
                put_u16(out, 0);
                put_short_str(out, queue);
                put_short_str(out, exchange);
                put_short_str(out, routing_key);
                put_bits(out, &[*no_wait]);
                table(out, arguments);
            }
            Method::QueueDelete {
                queue,
                if_unused,
                if_empty,
                no_wait,
            } => {
                put_u16(out, 0);
                put_short_str(out, queue);
                put_bits(out, &[*if_unused, *if_empty, *no_wait]);
            }
            Method::QueueDeleteOk { message_count } => put_u32(out, *message_count),
            Method::BasicQos {
                prefetch_size,
                prefetch_count,
                global,
            } => {
                put_u32(out, *prefetch_size);
                put_u16(out, *prefetch_count);
                put_bits(out, &[*global]);
            }
            Method::BasicConsume {
                queue,
                consumer_tag,
                no_local,
                no_ack,
                exclusive,
                no_wait,
                arguments,
            } => {
                put_u16(out, 0);
                put_short_str(out, queue);
                put_short_str(out, consumer_tag);
                put_bits(out, &[*no_local, *no_ack, *exclusive, *no_wait]);
                table(out, arguments);
            }
            Method::BasicConsumeOk { consumer_tag } | Method::BasicCancelOk { consumer_tag } => {
                put_short_str(out, consumer_tag)
            }
            Method::BasicCancel {
                consumer_tag,
                no_wait,
            } => {
                put_short_str(out, consumer_tag);
                put_bits(out, &[*no_wait]);
            }
            Method::BasicPublish {
                exchange,
                routing_key,
                mandatory,
                immediate,
            } => {
                put_u16(out, 0);
                put_short_str(out, exchange);
                put_short_str(out, routing_key);
                put_bits(out, &[*mandatory, *immediate]);
            }
            Method::BasicReturn {
                reply_code,
                reply_text,
                exchange,
                routing_key,
            } => {
                put_u16(out, *reply_code);
                put_short_str(out, reply_text);
                put_short_str(out, exchange);
                put_short_str(out, routing_key);
            }
            Method::BasicDeliver {
                consumer_tag,
                delivery_tag,
                redelivered,
                exchange,
                routing_key,
            } => {
                put_short_str(out, consumer_tag);
                put_u64(out, *delivery_tag);
                put_bits(out, &[*redelivered]);
                put_short_str(out, exchange);
                put_short_str(out, routing_key);
            }
            Method::BasicAck {
                delivery_tag,
                multiple: flag,
            }
            | Method::BasicReject {
                delivery_tag,
                requeue: flag,
            } => {
                put_u64(out, *delivery_tag);
                put_bits(out, &[*flag]);
            }
            Method::BasicNack {
                delivery_tag,
                multiple,
                requeue,
            } => {
                put_u64(out, *delivery_tag);
                put_bits(out, &[*multiple, *requeue]);
            }
            Method::ConfirmSelect { no_wait } => put_bits(out, &[*no_wait]),
        }
    }
}

/// Appends a whole method frame on `channel` (§4.2.4). Short strings longer than 255 bytes
/// cannot be encoded and are cut at a char boundary; callers check lengths beforehand.
pub fn encode_method(channel: u16, m: &Method<'_>, out: &mut Vec<u8>) {
    let start = begin_frame(out, FRAME_METHOD, channel);
    m.encode_payload(out);
    end_frame(out, start);
}

#[cfg(test)]
mod tests {
    use super::super::{decode, encode_table, FieldValue, Frame, FrameBody};
    use super::*;
    use crate::Decode;

    /// A method frame around `payload` on `channel`.
    fn frame(channel: u16, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![1];
        out.extend_from_slice(&channel.to_be_bytes());
        out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        out.extend_from_slice(payload);
        out.push(0xCE);
        out
    }

    /// Decodes `bytes` as one method frame, checks it re-encodes to the same bytes.
    fn both_ways(bytes: &[u8]) -> (u16, Method<'_>) {
        let (channel, m) = match decode(bytes, 1 << 20) {
            Ok(Decode::Complete(
                Frame {
                    channel,
                    body: FrameBody::Method(m),
                },
                n,
            )) if n == bytes.len() => (channel, m),
            other => panic!("{other:?}"),
        };
        let mut out = Vec::new();
        encode_method(channel, &m, &mut out);
        assert_eq!(out, bytes, "{}", m.name());
        (channel, m)
    }

    #[test]
    fn connection_start_as_rabbitmq_sends_it() {
        // server-properties: capabilities (a nested table of booleans), cluster_name,
        // copyright, information, platform, product, version; as a RabbitMQ 3.13 node does.
        let mut capabilities = Vec::new();
        encode_table(
            &[
                ("publisher_confirms", FieldValue::Bool(true)),
                ("exchange_exchange_bindings", FieldValue::Bool(true)),
                ("basic.nack", FieldValue::Bool(true)),
                ("consumer_cancel_notify", FieldValue::Bool(true)),
                ("connection.blocked", FieldValue::Bool(true)),
                ("consumer_priorities", FieldValue::Bool(true)),
                ("authentication_failure_close", FieldValue::Bool(true)),
                ("per_consumer_qos", FieldValue::Bool(true)),
                ("direct_reply_to", FieldValue::Bool(true)),
            ],
            &mut capabilities,
        );
        let mut payload = vec![0, 10, 0, 10, 0, 9];
        let props_at = payload.len();
        payload.extend_from_slice(&[0, 0, 0, 0]);
        let mut entry = |name: &str, tag: u8, value: &[u8]| {
            payload.push(name.len() as u8);
            payload.extend_from_slice(name.as_bytes());
            payload.push(tag);
            payload.extend_from_slice(value);
        };
        entry("capabilities", b'F', &capabilities);
        let long = |s: &str| {
            let mut v = (s.len() as u32).to_be_bytes().to_vec();
            v.extend_from_slice(s.as_bytes());
            v
        };
        entry("cluster_name", b'S', &long("rabbit@broker-1"));
        entry(
            "copyright",
            b'S',
            &long("Copyright (c) 2007-2024 Broadcom Inc and/or its subsidiaries"),
        );
        entry(
            "information",
            b'S',
            &long("Licensed under the MPL 2.0. Website: https://rabbitmq.com"),
        );
        entry("platform", b'S', &long("Erlang/OTP 26.2.5"));
        entry("product", b'S', &long("RabbitMQ"));
        entry("version", b'S', &long("3.13.7"));
        let props_len = (payload.len() - props_at - 4) as u32;
        payload[props_at..props_at + 4].copy_from_slice(&props_len.to_be_bytes());
        payload.extend_from_slice(&long("AMQPLAIN PLAIN"));
        payload.extend_from_slice(&long("en_US"));
        let bytes = frame(0, &payload);

        let (channel, m) = both_ways(&bytes);
        assert_eq!(channel, 0);
        assert_eq!(m.ids(), (10, 10));
        assert_eq!(m.name(), "connection.start");
        let Method::ConnectionStart {
            version_major,
            version_minor,
            server_properties,
            mechanisms,
            locales,
        } = m
        else {
            panic!("{m:?}")
        };
        assert_eq!((version_major, version_minor), (0, 9));
        assert_eq!(
            (mechanisms, locales),
            (&b"AMQPLAIN PLAIN"[..], &b"en_US"[..])
        );
        assert_eq!(
            server_properties.get("product"),
            Ok(Some(FieldValue::LongStr(b"RabbitMQ")))
        );
        let Ok(Some(FieldValue::Table(caps))) = server_properties.get("capabilities") else {
            panic!()
        };
        assert_eq!(caps.get("basic.nack"), Ok(Some(FieldValue::Bool(true))));
        assert_eq!(caps.iter().count(), 9);
        assert_eq!(server_properties.iter().count(), 7);
    }

    #[test]
    fn connection_handshake_methods() {
        #[rustfmt::skip]
        let tune = frame(0, &[0, 10, 0, 30, 0x07, 0xFF, 0, 2, 0, 0, 0, 60]);
        assert_eq!(
            both_ways(&tune).1,
            Method::ConnectionTune {
                channel_max: 2047,
                frame_max: 131_072,
                heartbeat: 60
            }
        );
        let start_ok = frame(
            0,
            &[
                0, 10, 0, 11, 0, 0, 0, 0, 5, b'P', b'L', b'A', b'I', b'N', 0, 0, 0, 4, 0, b'u', 0,
                b'p', 5, b'e', b'n', b'_', b'U', b'S',
            ],
        );
        assert_eq!(
            both_ways(&start_ok).1,
            Method::ConnectionStartOk {
                client_properties: Table::EMPTY,
                mechanism: "PLAIN",
                response: b"\0u\0p",
                locale: "en_US"
            }
        );
        // connection.open "/", reserved shortstr and insist bit.
        let open = frame(0, &[0, 10, 0, 40, 1, b'/', 0, 0]);
        assert_eq!(
            both_ways(&open).1,
            Method::ConnectionOpen { virtual_host: "/" }
        );
        assert_eq!(
            both_ways(&frame(0, &[0, 10, 0, 41, 0])).1,
            Method::ConnectionOpenOk
        );
        let close = frame(0, &[0, 10, 0, 50, 1, 64, 2, b'n', b'o', 0, 50, 0, 10]);
        assert_eq!(
            both_ways(&close).1,
            Method::ConnectionClose {
                reply_code: 320,
                reply_text: "no",
                class_id: 50,
                method_id: 10
            }
        );
        let blocked = frame(0, &[0, 10, 0, 60, 3, b'm', b'e', b'm']);
        assert_eq!(
            both_ways(&blocked).1,
            Method::ConnectionBlocked { reason: "mem" }
        );
        assert_eq!(
            both_ways(&frame(0, &[0, 10, 0, 61])).1,
            Method::ConnectionUnblocked
        );
        assert_eq!(
            both_ways(&frame(1, &[0, 20, 0, 11, 0, 0, 0, 0])).1,
            Method::ChannelOpenOk
        );
    }

    #[test]
    fn basic_publish_packs_its_bits_after_the_ticket() {
        let bytes = frame(
            1,
            &[0, 60, 0, 40, 0, 0, 2, b'e', b'x', 3, b'k', b'e', b'y', 0b01],
        );
        assert_eq!(
            both_ways(&bytes),
            (
                1,
                Method::BasicPublish {
                    exchange: "ex",
                    routing_key: "key",
                    mandatory: true,
                    immediate: false
                }
            )
        );
    }

    #[test]
    fn basic_deliver() {
        #[rustfmt::skip]
        let bytes = frame(3, &[
            0, 60, 0, 60,
            8, b'a', b'm', b'q', b'.', b'c', b't', b'a', b'g',
            0, 0, 0, 0, 0, 0, 0x01, 0x00,   // delivery-tag 256
            1,                              // redelivered
            0,                              // exchange ""
            2, b'q', b'1',
        ]);
        assert_eq!(
            both_ways(&bytes).1,
            Method::BasicDeliver {
                consumer_tag: "amq.ctag",
                delivery_tag: 256,
                redelivered: true,
                exchange: "",
                routing_key: "q1"
            }
        );
    }

    #[test]
    fn acks_nacks_and_confirms() {
        let ack = frame(1, &[0, 60, 0, 80, 0, 0, 0, 0, 0, 0, 0, 42, 1]);
        assert_eq!(
            both_ways(&ack).1,
            Method::BasicAck {
                delivery_tag: 42,
                multiple: true
            }
        );
        // multiple (low bit) and requeue share one octet.
        let nack = frame(1, &[0, 60, 0, 120, 0, 0, 0, 0, 0, 0, 0, 7, 0b10]);
        assert_eq!(
            both_ways(&nack).1,
            Method::BasicNack {
                delivery_tag: 7,
                multiple: false,
                requeue: true
            }
        );
        let reject = frame(1, &[0, 60, 0, 90, 0, 0, 0, 0, 0, 0, 0, 8, 1]);
        assert_eq!(
            both_ways(&reject).1,
            Method::BasicReject {
                delivery_tag: 8,
                requeue: true
            }
        );
        let select = frame(1, &[0, 85, 0, 10, 0]);
        assert_eq!(
            both_ways(&select).1,
            Method::ConfirmSelect { no_wait: false }
        );
        assert_eq!(Method::ConfirmSelect { no_wait: true }.ids(), (85, 10));
        assert_eq!(
            both_ways(&frame(1, &[0, 85, 0, 11])).1,
            Method::ConfirmSelectOk
        );
    }

    #[test]
    fn declares_pack_five_bits_in_one_octet() {
        let queue = frame(
            1,
            &[
                0, 50, 0, 10, 0, 0, 1, b'q', 0b10110, 0, 0, 0, 4, 1, b'x', b'b', 0xFF,
            ],
        );
        let args = [1, b'x', b'b', 0xFF];
        assert_eq!(
            both_ways(&queue).1,
            Method::QueueDeclare {
                queue: "q",
                passive: false,
                durable: true,
                exclusive: true,
                auto_delete: false,
                no_wait: true,
                arguments: Table::from_raw(&args)
            }
        );
        let exchange = frame(
            1,
            &[
                0, 40, 0, 10, 0, 0, 1, b'x', 5, b't', b'o', b'p', b'i', b'c', 0b01010, 0, 0, 0, 0,
            ],
        );
        assert_eq!(
            both_ways(&exchange).1,
            Method::ExchangeDeclare {
                exchange: "x",
                kind: "topic",
                passive: false,
                durable: true,
                auto_delete: false,
                internal: true,
                no_wait: false,
                arguments: Table::EMPTY
            }
        );
        let consume = frame(
            1,
            &[0, 60, 0, 20, 0, 0, 1, b'q', 1, b'c', 0b0110, 0, 0, 0, 0],
        );
        assert_eq!(
            both_ways(&consume).1,
            Method::BasicConsume {
                queue: "q",
                consumer_tag: "c",
                no_local: false,
                no_ack: true,
                exclusive: true,
                no_wait: false,
                arguments: Table::EMPTY
            }
        );
    }

    #[test]
    fn reserved_and_extra_bits_and_trailing_bytes_are_ignored() {
        // A ticket of 7, bits beyond mandatory/immediate, and two bytes after the arguments.
        let bytes = frame(1, &[0, 60, 0, 40, 0, 7, 0, 0, 0b1111_1110, 9, 9]);
        let Ok(Decode::Complete(f, _)) = decode(&bytes, 4096) else {
            panic!()
        };
        assert_eq!(
            f.body,
            FrameBody::Method(Method::BasicPublish {
                exchange: "",
                routing_key: "",
                mandatory: false,
                immediate: true
            })
        );
    }

    #[test]
    fn method_errors() {
        assert_eq!(
            decode(&frame(1, &[0, 60, 0, 70]), 4096),
            Err(Error::UnknownMethod {
                class: 60,
                method: 70
            })
        );
        assert_eq!(
            decode(&frame(1, &[0, 90, 0, 10]), 4096),
            Err(Error::UnknownMethod {
                class: 90,
                method: 10
            })
        );
        // basic.ack cut inside its delivery tag, basic.publish without its bits.
        assert_eq!(
            decode(&frame(1, &[0, 60, 0, 80, 0, 0, 0]), 4096),
            Err(Error::Truncated)
        );
        assert_eq!(
            decode(&frame(1, &[0, 60, 0, 40, 0, 0, 0, 0]), 4096),
            Err(Error::Truncated)
        );
        assert_eq!(
            decode(&frame(1, &[0, 60, 0, 21, 1, 0xFF]), 4096),
            Err(Error::InvalidUtf8)
        );
    }
}
