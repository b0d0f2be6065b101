//! Replays the cargo-fuzz seed corpora (`fuzz/corpus/*`) through the same
//! check the fuzz targets run, so CI exercises them without cargo-fuzz.
//! Seeds named `valid-*` must decode completely; `malformed-*` must not.

use std::fs;
use std::path::Path;

use allegro_wire::amqp10::{fuzz_check_frame, fuzz_check_message};
use allegro_wire::mqtt::{fuzz_check, Protocol};
use allegro_wire::stomp;
use allegro_wire::Decode;

/// Run `check` over every seed of `target`; it says whether the seed decoded
/// completely, using all of its bytes (and panics if an invariant breaks).
fn replay(target: &str, check: impl Fn(&[u8]) -> (bool, String)) {
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
        let (complete, outcome) = check(&data);
        if name.starts_with("valid-") {
            assert!(complete, "{name}: {outcome}");
        } else if name.starts_with("malformed-") {
            assert!(!complete, "{name}: {outcome}");
        }
    }
}

fn mqtt(protocol: Protocol) -> impl Fn(&[u8]) -> (bool, String) {
    move |data| {
        let outcome = fuzz_check(data, protocol);
        (
            matches!(outcome, Ok(Decode::Complete(_, n)) if n == data.len()),
            format!("{outcome:?}"),
        )
    }
}

#[test]
fn corpus_v311() {
    replay("mqtt_decode_v311", mqtt(Protocol::V311));
}

#[test]
fn corpus_v5() {
    replay("mqtt_decode_v5", mqtt(Protocol::V5));
}

#[test]
fn corpus_amqp10_frame() {
    replay("amqp10_frame", |data| {
        let outcome = fuzz_check_frame(data);
        (
            matches!(outcome, Ok(Decode::Complete(_, n)) if n == data.len()),
            format!("{outcome:?}"),
        )
    });
}

#[test]
fn corpus_amqp10_message() {
    replay("amqp10_message", |data| {
        let outcome = fuzz_check_message(data);
        (outcome.is_ok(), format!("{outcome:?}"))
    });
}

#[test]
fn corpus_stomp_frame() {
    replay("stomp_frame", |data| {
        let outcome = stomp::fuzz_check(data);
        (
            matches!(outcome, Ok(Decode::Complete(_, n)) if n == data.len()),
            format!("{outcome:?}"),
        )
    });
}
