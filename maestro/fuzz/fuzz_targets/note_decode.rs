//! Decode arbitrary bytes as a Maestro note; anything that decodes must
//! re-encode and decode to the same note (see
//! `allegro_maestro::note::fuzz_check`).
//!
//! Run with `cargo fuzz run note_decode` from `control/`; the seed corpus
//! lives in `fuzz/corpus/note_decode/` and is replayed in CI by
//! `tests/maestro_notes.rs`.
#![no_main]

use allegro_maestro::note::fuzz_check;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = fuzz_check(data);
});
