//! STOMP frames: whatever is encoded decodes to the same command, headers and body, escaping
//! and binary bodies included, and any split of the bytes asks for more rather than failing.

use allegro_wire::stomp::{decode, encode, Command, Item};
use allegro_wire::Decode;
use proptest::prelude::*;

fn command() -> impl Strategy<Value = Command> {
    prop::sample::select(vec![
        Command::Send,
        Command::Subscribe,
        Command::Ack,
        Command::Message,
        Command::Receipt,
        Command::Error,
        Command::Connect,
        Command::Connected,
    ])
}

proptest! {
    #[test]
    fn encode_then_decode_round_trips(
        cmd in command(),
        headers in prop::collection::btree_map("[a-z][a-z0-9:\\\\ \r\n-]{0,8}", "[ -~\r\n\\\\:]{0,16}", 0..5),
        body in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        // CONNECT frames cannot carry escapes: keep their headers plain.
        let plain = matches!(cmd, Command::Connect | Command::Connected);
        let headers: Vec<(String, String)> = headers
            .into_iter()
            .filter(|(k, v)| !plain || !(k.contains(['\r', '\n', ':']) || v.contains(['\r', '\n'])))
            .filter(|(k, _)| k != "content-length")
            .collect();
        let pairs: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let mut out = Vec::new();
        encode(cmd, &pairs, &body, &mut out);
        let Ok(Decode::Complete(Item::Frame(f), n)) = decode(&out, 1 << 20) else {
            panic!("{out:?}");
        };
        prop_assert_eq!(n, out.len());
        prop_assert_eq!(f.command, cmd);
        prop_assert_eq!(f.body, &body[..]);
        for (k, v) in &headers {
            let got = f.headers.get(k).unwrap();
            prop_assert_eq!(got.as_deref(), Some(v.as_str()));
        }
        // Every proper prefix is incomplete, never an error.
        for cut in 0..out.len() {
            prop_assert!(matches!(decode(&out[..cut], 1 << 20), Ok(Decode::Incomplete(_))), "cut {}", cut);
        }
    }
}
