//! Decode arbitrary bytes as MQTT (V311); anything that decodes must re-encode
//! and decode to the same packet (see `allegro_wire::mqtt::fuzz_check`).
//!
//! Run with `cargo fuzz run mqtt_decode_v311` from `engine/wire/`; the seed
//! corpus lives in `fuzz/corpus/mqtt_decode_v311/` and is replayed in CI by
//! `tests/fuzz_corpus.rs`.
#![no_main]

use allegro_wire::mqtt::{fuzz_check, Protocol};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = fuzz_check(data, Protocol::V311);
});
