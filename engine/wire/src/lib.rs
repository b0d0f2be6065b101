//! Sans-IO, zero-copy wire codecs for the protocols Allegro speaks.
//!
//! Every codec in this crate works on byte slices only: decoders borrow from
//! the input buffer and never allocate, encoders append to a caller-owned
//! `Vec<u8>`. No codec performs I/O or panics on malformed input.
//!
//! * [`mqtt`]: MQTT 3.1.1 (OASIS Standard, 2014) and MQTT 5.0 (OASIS Standard,
//!   2019) control packets.

pub mod mqtt;
