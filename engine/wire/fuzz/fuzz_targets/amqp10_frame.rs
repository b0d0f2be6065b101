//! Decode arbitrary bytes as one AMQP 1.0 frame; anything that decodes must
//! re-encode and decode to the same frame, every prefix must be incomplete,
//! and a transfer's payload goes through the message check too (see
//! `allegro_wire::amqp10::fuzz_check_frame`).
//!
//! Run with `cargo fuzz run amqp10_frame` from `engine/wire/`; the seed
//! corpus lives in `fuzz/corpus/amqp10_frame/` and is replayed in CI by
//! `tests/fuzz_corpus.rs`.
#![no_main]

use allegro_wire::amqp10::fuzz_check_frame;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = fuzz_check_frame(data);
});
