//! Sans-IO, zero-copy wire codecs for the protocols Allegro speaks.
//!
//! Every codec in this crate works on byte slices only: decoders borrow from
//! the input buffer and never allocate, encoders append to a caller-owned
//! `Vec<u8>`. No codec performs I/O or panics on malformed input.
//!
//! * [`mqtt`]: MQTT 3.1.1 (OASIS Standard, 2014) and MQTT 5.0 (OASIS Standard,
//!   2019) control packets.
//! * [`amqp10`]: OASIS AMQP 1.0 (2012) frames, performatives, SASL frames and
//!   messages.
//! * [`stomp`]: STOMP 1.2 frames (and the 1.0/1.1 forms brokers answer with).
//! * [`amqp091`]: AMQP 0-9-1 frames, methods, content headers and field tables, with
//!   RabbitMQ's extensions (publisher confirms, `basic.nack`, `connection.blocked`).
//!
//! The crate has no dependencies and no unsafe code.

#![forbid(unsafe_code)]

pub mod amqp091;
pub mod amqp10;
pub mod mqtt;
pub mod stomp;

/// Outcome of a decode that did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decode<T> {
    /// A complete value and the number of input bytes it used.
    Complete(T, usize),
    /// The input ends early: at least this many more bytes (always >= 1) are
    /// needed before decoding can make progress.
    Incomplete(usize),
}
