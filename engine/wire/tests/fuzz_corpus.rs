//! Replays the cargo-fuzz seed corpora (`fuzz/corpus/*`) through the same
//! check the fuzz targets run, so CI exercises them without cargo-fuzz.
//! Seeds named `valid-*` must decode completely; `malformed-*` must not.

use std::fs;
use std::path::Path;

use allegro_wire::mqtt::{fuzz_check, Decode, Protocol};

fn replay(target: &str, protocol: Protocol) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<_> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("corpus entry").path())
        .collect();
    files.sort();
    assert!(
        files.len() >= 15,
        "{}: only {} seeds",
        dir.display(),
        files.len()
    );
    for path in files {
        let data = fs::read(&path).expect("corpus file");
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let outcome = fuzz_check(&data, protocol);
        if name.starts_with("valid-") {
            assert!(
                matches!(outcome, Ok(Decode::Complete(_, n)) if n == data.len()),
                "{name}: {outcome:?}"
            );
        } else if name.starts_with("malformed-") {
            assert!(
                !matches!(outcome, Ok(Decode::Complete(..))),
                "{name}: {outcome:?}"
            );
        }
    }
}

#[test]
fn corpus_v311() {
    replay("mqtt_decode_v311", Protocol::V311);
}

#[test]
fn corpus_v5() {
    replay("mqtt_decode_v5", Protocol::V5);
}
