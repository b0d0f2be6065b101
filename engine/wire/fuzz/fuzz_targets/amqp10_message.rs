//! Decode arbitrary bytes as an AMQP 1.0 message (a transfer's message
//! bytes); walk every nested value of every section; anything that decodes
//! must re-encode and decode to the same message (see
//! `allegro_wire::amqp10::fuzz_check_message`).
//!
//! Run with `cargo fuzz run amqp10_message` from `engine/wire/`; the seed
//! corpus lives in `fuzz/corpus/amqp10_message/` and is replayed in CI by
//! `tests/fuzz_corpus.rs`.
#![no_main]

use allegro_wire::amqp10::fuzz_check_message;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = fuzz_check_message(data);
});
