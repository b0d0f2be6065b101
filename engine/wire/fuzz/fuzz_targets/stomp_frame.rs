//! Decode arbitrary bytes as one STOMP item; a frame that decodes must have headers that
//! unescape, must re-encode and decode to the same command, headers and body, and every prefix
//! must be incomplete (see `allegro_wire::stomp::fuzz_check`).
//!
//! Run with `cargo fuzz run stomp_frame` from `engine/wire/`; the seed corpus lives in
//! `fuzz/corpus/stomp_frame/` and is replayed in CI by `tests/fuzz_corpus.rs`.
#![no_main]

use allegro_wire::stomp::fuzz_check;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = fuzz_check(data);
});
