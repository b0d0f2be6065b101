//! Decode arbitrary bytes as one AMQP 0-9-1 frame; a frame that decodes must re-encode and
//! decode to the same frame, its tables must walk and re-encode, and every prefix must be
//! incomplete (see `allegro_wire::amqp091::fuzz_check`).
//!
//! Run with `cargo fuzz run amqp091_frame` from `engine/wire/`; the seed corpus lives in
//! `fuzz/corpus/amqp091_frame/` and is replayed in CI by `tests/fuzz_corpus.rs`.
#![no_main]

use allegro_wire::amqp091::fuzz_check;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = fuzz_check(data);
});
