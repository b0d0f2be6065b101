//! Maestro notes against the bytes of the Java implementation
//! (`tests/vectors/`, this crate's own test data): every vector is built
//! from its `.json` field values and must encode byte for byte; every vector
//! and every live capture must decode to the fields Java saw. Then leniency,
//! malformed input, property tests and the fuzz corpus replay.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use allegro_maestro::note::msgpack::{self, Reader, Token};
use allegro_maestro::note::topics;
use allegro_maestro::note::{
    self, Body, Command, Data, ErrorCode, GetOption, LocationType, LocationTypeInfo, LogChunk,
    LogLocation, Note, NoteError, NoteType, Notification, PeerInfo, Request, Response, Role,
    SetOption, Stats, SutDetails, Test, TestDetails, TestExecutionInfo,
};
use allegro_wire::mqtt::QoS;
use proptest::prelude::*;
use serde_json::{Map, Value};

// ---------------------------------------------------------------------------
// Vector files

fn vectors_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors");
    assert!(
        dir.join("README.md").is_file(),
        "the Maestro vectors are missing: expected {}; these tests never skip",
        dir.display()
    );
    dir
}

/// Sorted `*.bin` files of `dir`.
fn bin_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "bin"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .bin vectors in {}", dir.display());
    files
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .and_then(|s| s.to_str())
        .expect("file name")
        .to_owned()
}

fn read(path: &Path) -> Vec<u8> {
    fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn read_json(path: &Path) -> Value {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn encoded(note: &Note) -> Vec<u8> {
    let mut out = Vec::new();
    note::encode(note, &mut out);
    out
}

// ---------------------------------------------------------------------------
// Building a Note from a vector's `.json`

/// The `fields` of one vector; every key must be used exactly once, so a
/// field the builder does not know about fails the test.
struct Fields {
    name: String,
    map: Map<String, Value>,
}

impl Fields {
    fn take(&mut self, key: &str) -> Value {
        self.map
            .remove(key)
            .unwrap_or_else(|| panic!("{}: no field {key:?}", self.name))
    }

    fn str(&mut self, key: &str) -> String {
        match self.take(key) {
            Value::String(s) => s,
            other => panic!("{}: {key} is not a string: {other}", self.name),
        }
    }

    fn opt_str(&mut self, key: &str) -> Option<String> {
        match self.take(key) {
            Value::Null => None,
            Value::String(s) => Some(s),
            other => panic!("{}: {key} is not a string or null: {other}", self.name),
        }
    }

    fn int(&mut self, key: &str) -> i64 {
        let v = self.take(key);
        v.as_i64()
            .unwrap_or_else(|| panic!("{}: {key} is not an integer: {v}", self.name))
    }

    fn i32(&mut self, key: &str) -> i32 {
        i32::try_from(self.int(key)).expect("fits i32")
    }

    fn f64(&mut self, key: &str) -> f64 {
        let v = self.take(key);
        v.as_f64()
            .unwrap_or_else(|| panic!("{}: {key} is not a number: {v}", self.name))
    }

    fn bool(&mut self, key: &str) -> bool {
        let v = self.take(key);
        v.as_bool()
            .unwrap_or_else(|| panic!("{}: {key} is not a bool: {v}", self.name))
    }

    /// An enum value written `NAME (code)`.
    fn code(&mut self, key: &str) -> i64 {
        let v = self.str(key);
        code_of(&v)
    }

    fn peer(&mut self) -> PeerInfo {
        PeerInfo {
            id: self.str("id"),
            member_name: self.str("peer.groupInfo.memberName"),
            group_name: self.str("peer.groupInfo.groupName"),
            role: Role::from_code(self.code("peer.role")),
            name: self.str("peer.name"),
            host: self.str("peer.host"),
        }
    }

    fn test(&mut self) -> Test {
        Test {
            number: self.i32("test.testNumber"),
            iteration: self.i32("test.testIteration"),
            name: self.str("test.testName"),
            script_name: self.str("test.scriptName"),
            details: TestDetails {
                description: self.str("test.testDetails.testDescription"),
                comments: self.str("test.testDetails.testComments"),
            },
        }
    }

    fn sut(&mut self) -> SutDetails {
        SutDetails {
            id: self.i32("sut.sutId"),
            name: self.str("sut.sutName"),
            version: self.str("sut.sutVersion"),
            jvm_version: self.str("sut.sutJvmVersion"),
            other_info: self.str("sut.sutOtherInfo"),
            tags: self.str("sut.sutTags"),
            lab_name: self.str("sut.labName"),
            test_tags: self.str("sut.testTags"),
        }
    }
}

/// `"MAESTRO_TYPE_REQUEST (0)"` → 0.
fn code_of(text: &str) -> i64 {
    let open = text
        .rfind('(')
        .unwrap_or_else(|| panic!("no code in {text:?}"));
    text[open + 1..]
        .trim_end_matches(')')
        .parse()
        .unwrap_or_else(|e| panic!("bad code in {text:?}: {e}"))
}

/// Builds the note a vector's `.json` describes. Panics for a (type,
/// command) pair it does not know, so a new vector cannot slip through.
fn note_from_json(json: &Value) -> Note {
    let name = json["name"].as_str().expect("name").to_owned();
    let note_type = code_of(json["noteType"].as_str().expect("noteType"));
    let command = code_of(json["command"].as_str().expect("command"));
    let mut f = Fields {
        name: name.clone(),
        map: json["fields"].as_object().expect("fields").clone(),
    };
    let body = match note_type {
        0 => Body::Request(match Command::from(command) {
            Command::StartWorker => Request::StartWorker {
                worker_name: f.str("options.workerName"),
            },
            Command::StopWorker => Request::StopWorker,
            Command::StartTest => {
                let test = f.test();
                let sut = f.bool("hasSutDetails").then(|| f.sut());
                Request::StartTest(TestExecutionInfo { test, sut })
            }
            Command::StopTest => Request::StopTest,
            Command::StartInspector => Request::StartInspector {
                inspector_name: f.str("payload"),
            },
            Command::StopInspector => Request::StopInspector,
            Command::Set => Request::Set {
                option: SetOption::from(f.code("option")),
                value: f.str("value"),
            },
            Command::Stats => Request::Stats,
            Command::Halt => Request::Halt,
            Command::Ping => Request::Ping {
                sec: f.int("sec"),
                usec: f.int("usec"),
            },
            Command::Get => Request::Get {
                option: GetOption::from(f.code("option")),
            },
            Command::StartAgent => Request::StartAgent,
            Command::StopAgent => Request::StopAgent,
            Command::AgentSource => Request::AgentSource {
                source_url: f.str("sourceUrl"),
                branch: f.opt_str("branch"),
            },
            Command::UserCommand1 => Request::UserCommand1 {
                option: f.int("option"),
                payload: f.opt_str("payload"),
            },
            Command::Log => Request::Log(match LocationType::from(f.code("locationType")) {
                LocationType::Any => LogLocation::Any(f.str("typeName")),
                LocationType::LastSuccess => LogLocation::LastSuccess,
                LocationType::LastFailed => LogLocation::LastFailed,
                LocationType::Last => LogLocation::Last,
                LocationType::Unknown(c) => LogLocation::Unknown(c),
            }),
            Command::Drain => Request::Drain {
                duration: f.str("duration"),
                url: f.str("url"),
                parallel_count: f.str("parallelCount"),
                worker_name: f.str("workerName"),
            },
            Command::GroupJoin => Request::GroupJoin {
                member_name: f.str("groupInfo.memberName"),
                group_name: f.str("groupInfo.groupName"),
            },
            Command::GroupLeave => Request::GroupLeave,
            Command::RoleAssign => Request::RoleAssign {
                role: Role::from_code(f.code("role")),
            },
            Command::RoleUnassign => Request::RoleUnassign,
            _ => panic!("{name}: no builder for a request with command {command}"),
        }),
        1 => {
            let peer = f.peer();
            let response = match Command::from(command) {
                Command::Ok => Response::Ok,
                Command::ProtocolError => Response::ProtocolError,
                Command::Ping => Response::Ping {
                    elapsed: f.int("elapsed"),
                },
                Command::InternalError => Response::InternalError {
                    code: ErrorCode::from_code(f.code("errorCode")),
                    message: f.str("message"),
                },
                Command::Stats => Response::Stats(Stats {
                    child_count: f.i32("childCount"),
                    role_info: f.str("roleInfo"),
                    stats_type: i16::try_from(f.int("statsType")).expect("short"),
                    timestamp: f.str("timestamp"),
                    count: f.int("count"),
                    rate: f.f64("rate"),
                    latency: f.f64("latency"),
                }),
                Command::Get => Response::Get {
                    option: GetOption::from(f.code("option")),
                    value: f.str("value"),
                },
                Command::UserCommand1 => Response::UserCommand1 {
                    status: f.str("status"),
                },
                _ => panic!("{name}: no builder for a response with command {command}"),
            };
            Body::Response { peer, response }
        }
        2 => {
            let peer = f.peer();
            let notification = match Command::from(command) {
                Command::NotifyTestStarted => Notification::TestStarted {
                    test: f.test(),
                    message: f.str("message"),
                },
                Command::NotifySuccess => Notification::TestSuccessful {
                    test: f.test(),
                    message: f.str("message"),
                },
                Command::NotifyFail => Notification::TestFailed {
                    test: f.test(),
                    message: f.str("message"),
                },
                Command::AbnormalDisconnect => Notification::AbnormalDisconnect {
                    message: f.str("message"),
                },
                Command::NotifyDrainComplete => Notification::DrainComplete {
                    successful: f.bool("successful"),
                    message: f.str("message"),
                },
                _ => panic!("{name}: no builder for a notification with command {command}"),
            };
            Body::Notification { peer, notification }
        }
        3 if command == 40 => {
            let peer = f.peer();
            let data = Data::Log(LogChunk {
                location_type: LocationType::from(f.code("locationType")),
                info: LocationTypeInfo {
                    file_count: f.i32("locationTypeInfo.fileCount"),
                    index: f.i32("locationTypeInfo.index"),
                },
                file_name: f.str("fileName"),
                chunk_index: f.i32("index"),
                chunk_total: f.i32("total"),
                file_size: f.int("fileSize"),
                file_hash: f.str("fileHash"),
                data: f.str("data (bin)").into_bytes(),
            });
            Body::Data { peer, data }
        }
        _ => panic!("{name}: no builder for note type {note_type} command {command}"),
    };
    assert!(
        f.map.is_empty(),
        "{name}: fields the builder did not use: {:?}",
        f.map.keys().collect::<Vec<_>>()
    );
    let note = Note {
        correlation_id: json["correlationId"]
            .as_str()
            .expect("correlationId")
            .into(),
        message_id: json["messageId"].as_str().expect("messageId").into(),
        body,
    };
    assert_eq!(note.note_type().code(), note_type, "{name}");
    assert_eq!(note.command().code(), command, "{name}");
    note
}

/// Appends the §3.2 header.
fn spec_header(out: &mut Vec<u8>, note_type: i64, command: i64, corr: &str, msg: &str) {
    msgpack::write_int(out, note_type);
    msgpack::write_int(out, command);
    msgpack::write_str(out, corr);
    msgpack::write_str(out, msg);
}

/// Appends the §3.2 peer block.
fn spec_peer(out: &mut Vec<u8>, p: &PeerInfo) {
    for s in [&p.id, &p.member_name, &p.group_name] {
        msgpack::write_str(out, s);
    }
    msgpack::write_int(out, p.role.code());
    msgpack::write_str(out, &p.name);
    msgpack::write_str(out, &p.host);
}

/// The bytes §3.2 and §6 prescribe for the two vectors the Java classes
/// cannot re-serialise after decoding (their `.json` says so under `roundtrip`).
fn spec_bytes(name: &str, note: &Note) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    match (name, &note.body) {
        // PROTOCOL_ERROR: header, peer block, no payload (§6). Java's
        // decoder reads nothing after the command, so Java never checks this.
        ("response-protocol-error", Body::Response { peer, .. }) => {
            spec_header(&mut out, 1, 12, &note.correlation_id, &note.message_id);
            spec_peer(&mut out, peer);
        }
        // LOG data: locationType, LocationTypeInfo (fileCount, index),
        // fileName, chunkIndex, chunkTotal, fileSize, fileHash, data as bin
        // (§6 "DATA"). A decoded Java LogResponse has no file to re-read.
        (
            "data-log",
            Body::Data {
                peer,
                data: Data::Log(c),
            },
        ) => {
            spec_header(&mut out, 3, 40, &note.correlation_id, &note.message_id);
            spec_peer(&mut out, peer);
            msgpack::write_int(&mut out, c.location_type.code());
            msgpack::write_int(&mut out, c.info.file_count.into());
            msgpack::write_int(&mut out, c.info.index.into());
            msgpack::write_str(&mut out, &c.file_name);
            msgpack::write_int(&mut out, c.chunk_index.into());
            msgpack::write_int(&mut out, c.chunk_total.into());
            msgpack::write_int(&mut out, c.file_size);
            msgpack::write_str(&mut out, &c.file_hash);
            msgpack::write_bin(&mut out, &c.data);
        }
        _ => return None,
    }
    Some(out)
}

// ---------------------------------------------------------------------------
// 1 and 2: every vector, both ways

#[test]
fn every_vector_encodes_byte_for_byte_and_decodes_to_its_fields() {
    let dir = vectors_dir();
    let files = bin_files(&dir);
    let mut matched = 0;
    let mut not_reserialised = BTreeSet::new();
    for path in &files {
        let name = stem(path);
        let bytes = read(path);
        let json = read_json(&path.with_extension("json"));
        assert_eq!(json["name"], name.as_str(), "{name}: json name");
        assert_eq!(json["length"], bytes.len(), "{name}: json length");
        assert_eq!(json["hex"], hex(&bytes).as_str(), "{name}: json hex");
        let hex_file = fs::read_to_string(path.with_extension("hex")).expect("hex file");
        assert_eq!(hex_file.trim(), hex(&bytes), "{name}: .hex file");

        let note = note_from_json(&json);
        let ours = encoded(&note);
        let roundtrip = json["roundtrip"].as_str().expect("roundtrip");
        if roundtrip != "identical" {
            // Java cannot re-serialise these after decoding, so Java never
            // confirmed the layout; compare with what the spec prescribes
            // (and check that Java's own bytes agree with it too).
            let spec = spec_bytes(&name, &note).unwrap_or_else(|| {
                panic!("{name}: not re-serialised by Java ({roundtrip}) and no spec layout here")
            });
            assert_eq!(hex(&ours), hex(&spec), "{name}: encode vs spec §6");
            not_reserialised.insert(name.clone());
        }
        assert_eq!(hex(&ours), hex(&bytes), "{name}: encode vs Java bytes");
        matched += 1;

        let decoded = note::decode(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(decoded, note, "{name}: decode");
        assert_eq!(note::fuzz_check(&bytes), Ok(note.command()), "{name}");
    }
    assert_eq!(matched, files.len());
    assert_eq!(
        not_reserialised,
        BTreeSet::from(["data-log".to_owned(), "response-protocol-error".to_owned()]),
        "exactly two vectors are not re-serialised by Java"
    );
    eprintln!("{matched} Java vectors matched byte for byte");
}

#[test]
fn the_vectors_cover_every_accepted_type_and_command() {
    let mut seen = BTreeSet::new();
    for path in bin_files(&vectors_dir()) {
        let n = note::decode(&read(&path)).expect("vector decodes");
        seen.insert((n.note_type().code(), n.command().code()));
    }
    for t in 0..4 {
        let note_type = NoteType::try_from(t).expect("type");
        for c in Command::ALL {
            if c.allowed_in(note_type) {
                assert!(
                    seen.contains(&(t, c.code())),
                    "no vector for {note_type} {c}"
                );
            }
        }
    }
}

/// One captured message: header lines, then the msgpack items.
struct Capture {
    topic: String,
    qos: u8,
    hex: String,
    decoded: String,
    items: Vec<Value>,
}

fn parse_capture(text: &str) -> Capture {
    let line = |key: &str| -> String {
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .unwrap_or_else(|| panic!("no {key:?} line"))
            .trim()
            .to_owned()
    };
    let items = text
        .lines()
        .skip_while(|l| !l.starts_with("msgpack items:"))
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str::<Value>(l.trim()).expect("item json"))
        .collect();
    Capture {
        topic: line("topic:"),
        qos: line("qos:").parse().expect("qos"),
        hex: line("hex:"),
        decoded: line("decoded:"),
        items,
    }
}

/// The values of a note in wire order, as JSON (the captures' item lists).
fn wire_items(note: &Note) -> Vec<Value> {
    let mut v: Vec<Value> = vec![
        note.note_type().code().into(),
        note.command().code().into(),
        note.correlation_id.as_str().into(),
        note.message_id.as_str().into(),
    ];
    if let Some(p) = note.peer() {
        v.extend([
            p.id.as_str().into(),
            p.member_name.as_str().into(),
            p.group_name.as_str().into(),
            p.role.code().into(),
            p.name.as_str().into(),
            p.host.as_str().into(),
        ]);
    }
    let test = |v: &mut Vec<Value>, t: &Test| {
        v.extend([
            t.number.into(),
            t.iteration.into(),
            t.name.as_str().into(),
            t.script_name.as_str().into(),
            t.details.description.as_str().into(),
            t.details.comments.as_str().into(),
        ])
    };
    match &note.body {
        Body::Request(r) => match r {
            Request::Ping { sec, usec } => v.extend([(*sec).into(), (*usec).into()]),
            Request::Set { option, value } => {
                v.extend([option.code().into(), value.as_str().into()])
            }
            Request::Get { option } => v.push(option.code().into()),
            Request::StartWorker { worker_name } => v.push(worker_name.as_str().into()),
            Request::RoleAssign { role } => v.push(role.code().into()),
            Request::StartTest(info) => {
                test(&mut v, &info.test);
                v.push(info.sut.is_some().into());
                assert!(info.sut.is_none(), "captures have no SUT details");
            }
            Request::Stats | Request::StopWorker | Request::RoleUnassign | Request::Halt => {}
            other => panic!("no capture of {other:?}"),
        },
        Body::Response { response, .. } => match response {
            Response::Ok => {}
            Response::Ping { elapsed } => v.push((*elapsed).into()),
            Response::InternalError { code, message } => {
                v.extend([code.code().into(), message.as_str().into()])
            }
            Response::Stats(s) => v.extend([
                s.child_count.into(),
                s.role_info.as_str().into(),
                s.stats_type.into(),
                s.timestamp.as_str().into(),
                s.count.into(),
                s.rate.into(),
                s.latency.into(),
            ]),
            other => panic!("no capture of {other:?}"),
        },
        Body::Notification { notification, .. } => match notification {
            Notification::TestStarted { test: t, message } => {
                test(&mut v, t);
                v.push(message.as_str().into());
            }
            other => panic!("no capture of {other:?}"),
        },
        Body::Data { .. } => panic!("no capture of data notes"),
    }
    v
}

#[test]
fn every_live_capture_decodes_to_what_java_saw() {
    let dir = vectors_dir().join("captured");
    let files = bin_files(&dir);
    assert_eq!(files.len(), 32, "captured/ changed: update this test");
    let mut last_request: Option<Note> = None;
    for path in &files {
        let name = stem(path);
        let bytes = read(path);
        let text = fs::read_to_string(path.with_extension("txt")).expect("capture .txt");
        let cap = parse_capture(&text);
        assert_eq!(cap.hex, hex(&bytes), "{name}: hex");

        let note = note::decode(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        let values: Vec<Value> = cap
            .items
            .iter()
            .map(|i| i.get("value").cloned().expect("item value"))
            .collect();
        assert_eq!(wire_items(&note), values, "{name}: fields");
        // Java's canonical bytes: re-encoding gives them back.
        assert_eq!(hex(&encoded(&note)), hex(&bytes), "{name}: re-encode");

        // The Java decoder's view (toString) agrees on the header and peer.
        let d = &cap.decoded;
        for needle in [
            format!("noteType=MAESTRO_TYPE_{}", note.note_type().name()),
            format!("maestroCommand=MAESTRO_NOTE_{}", note.command().name()),
            format!("correlationId='{}'", note.correlation_id),
            format!("messageId='{}'", note.message_id),
        ] {
            assert!(d.contains(&needle), "{name}: {needle} not in {d}");
        }
        if let Some(p) = note.peer() {
            for needle in [
                format!("id='{}'", p.id),
                format!("role={}", p.role.name()),
                format!("name='{}'", p.name),
                format!("host='{}'", p.host),
                format!("memberName='{}'", p.member_name),
                format!("groupName='{}'", p.group_name),
            ] {
                assert!(d.contains(&needle), "{name}: {needle} not in {d}");
            }
        }

        // Topic and QoS as §2.4 says, and replies echo the request's pair.
        assert_eq!(
            topics::publish_qos(&note) as u8,
            cap.qos,
            "{name}: QoS of {}",
            note.command()
        );
        match topics::peer_topic(&note) {
            Some(topic) => assert_eq!(topic, cap.topic, "{name}: topic"),
            None => assert!(
                [topics::ALL_PEERS, topics::WORKERS].contains(&cap.topic.as_str()),
                "{name}: request topic {}",
                cap.topic
            ),
        }
        match note.note_type() {
            NoteType::Request => last_request = Some(note),
            NoteType::Response => {
                let req = last_request.as_ref().expect("a request before the reply");
                assert_eq!(
                    (&note.correlation_id, &note.message_id),
                    (&req.correlation_id, &req.message_id),
                    "{name}: reply echoes the request"
                );
            }
            _ => {}
        }
    }
}

// ---------------------------------------------------------------------------
// 3: leniency

#[derive(Clone, Copy, Debug)]
enum Rewrite {
    /// Every integer as `int 64`.
    Int64,
    /// Every integer in a wider form than needed (`int 32` / `uint 64`).
    Int32OrUint64,
    /// Every string as `bin`.
    StrAsBin,
    /// Every string with a `str 32` header, every bin with `bin 32`.
    Len32,
    /// Every double as `float 32` (the vectors' doubles are exact in f32).
    Float32,
}

/// Re-emits `payload` item by item in another (valid, non-minimal) form.
fn rewrite(payload: &[u8], how: Rewrite) -> Vec<u8> {
    let mut out = Vec::new();
    let mut r = Reader::new(payload);
    while !r.is_empty() {
        match r.read_token().expect("vector item") {
            Token::Int(v) => match how {
                Rewrite::Int64 => {
                    out.push(msgpack::INT64);
                    out.extend_from_slice(&v.to_be_bytes());
                }
                Rewrite::Int32OrUint64 => match i32::try_from(v) {
                    Ok(small) => {
                        out.push(msgpack::INT32);
                        out.extend_from_slice(&small.to_be_bytes());
                    }
                    Err(_) => {
                        out.push(msgpack::UINT64);
                        out.extend_from_slice(&(v as u64).to_be_bytes());
                    }
                },
                _ => msgpack::write_int(&mut out, v),
            },
            Token::Str(s) => match how {
                Rewrite::StrAsBin => msgpack::write_bin(&mut out, s),
                Rewrite::Len32 => {
                    out.push(msgpack::STR32);
                    out.extend_from_slice(&(s.len() as u32).to_be_bytes());
                    out.extend_from_slice(s);
                }
                _ => msgpack::write_str(&mut out, std::str::from_utf8(s).expect("utf-8")),
            },
            Token::Bin(b) => match how {
                Rewrite::Len32 => {
                    out.push(msgpack::BIN32);
                    out.extend_from_slice(&(b.len() as u32).to_be_bytes());
                    out.extend_from_slice(b);
                }
                _ => msgpack::write_bin(&mut out, b),
            },
            Token::F64(v) => match how {
                Rewrite::Float32 => {
                    assert_eq!(v as f32 as f64, v, "not exact in f32");
                    out.push(msgpack::FLOAT32);
                    out.extend_from_slice(&(v as f32).to_bits().to_be_bytes());
                }
                _ => msgpack::write_f64(&mut out, v),
            },
            Token::Bool(b) => msgpack::write_bool(&mut out, b),
            other => panic!("unexpected item in a vector: {other:?}"),
        }
    }
    out
}

fn all_vector_payloads() -> Vec<(String, Vec<u8>)> {
    let dir = vectors_dir();
    let mut all: Vec<(String, Vec<u8>)> =
        bin_files(&dir).iter().map(|p| (stem(p), read(p))).collect();
    all.extend(
        bin_files(&dir.join("captured"))
            .iter()
            .map(|p| (format!("captured/{}", stem(p)), read(p))),
    );
    all
}

#[test]
fn wider_integers_bin_strings_long_headers_and_float32_decode_the_same() {
    for (name, bytes) in all_vector_payloads() {
        let note = note::decode(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        for how in [
            Rewrite::Int64,
            Rewrite::Int32OrUint64,
            Rewrite::StrAsBin,
            Rewrite::Len32,
            Rewrite::Float32,
        ] {
            let other = rewrite(&bytes, how);
            if !matches!(how, Rewrite::Float32) {
                assert_ne!(other, bytes, "{name}: {how:?} changed nothing");
            }
            let decoded = note::decode(&other).unwrap_or_else(|e| panic!("{name} {how:?}: {e}"));
            assert_eq!(decoded, note, "{name}: {how:?}");
            // Encoding goes back to Java's minimal form.
            assert_eq!(encoded(&decoded), bytes, "{name}: {how:?} re-encoded");
        }
    }
}

#[test]
fn trailing_extra_values_are_ignored() {
    // These two end where an optional string may follow: like Java
    // (`if (unpacker.hasNext())`), a value there is read as that field.
    let open_tails = [
        "request-agent-source-no-branch",
        "request-user-command-1-no-payload",
    ];
    for name in open_tails {
        let mut bytes = vector(name);
        bytes.extend_from_slice(b"\xa1x");
        let n = note::decode(&bytes).expect("optional string");
        assert!(matches!(
            n.body,
            Body::Request(
                Request::AgentSource { branch: Some(ref x), .. }
                    | Request::UserCommand1 { payload: Some(ref x), .. }
            ) if x == "x"
        ));
    }
    for (name, bytes) in all_vector_payloads() {
        if open_tails.contains(&name.as_str()) {
            continue;
        }
        let note = note::decode(&bytes).expect("vector");
        for extra in [
            &[0xc0][..],
            &[0x05, 0xa1, b'x', 0xc3],
            &[0x92, 0x01, 0x02],
            &[0xcb, 0, 0, 0, 0, 0, 0, 0, 0],
        ] {
            let mut longer = bytes.clone();
            longer.extend_from_slice(extra);
            assert_eq!(
                note::decode(&longer),
                Ok(note.clone()),
                "{name} + {extra:02x?}"
            );
        }
    }
}

fn vector(name: &str) -> Vec<u8> {
    read(&vectors_dir().join(format!("{name}.bin")))
}

/// `bytes` with its last msgpack item removed.
fn drop_last_item(bytes: &[u8]) -> Vec<u8> {
    let mut r = Reader::new(bytes);
    let mut last_start = 0;
    while !r.is_empty() {
        last_start = r.position();
        r.read_token().expect("item");
    }
    bytes[..last_start].to_vec()
}

#[test]
fn missing_optional_trailing_fields_are_accepted() {
    // AGENT_SOURCE without its branch is the no-branch vector (ids aside).
    let with = note::decode(&vector("request-agent-source")).expect("agent source");
    let without = note::decode(&drop_last_item(&vector("request-agent-source"))).expect("cut");
    let expected = Note {
        body: Body::Request(Request::AgentSource {
            source_url: "https://example.com/maestro-extensions.git".into(),
            branch: None,
        }),
        ..with.clone()
    };
    assert_eq!(without, expected);
    let no_branch = note::decode(&vector("request-agent-source-no-branch")).expect("vector");
    assert_eq!(no_branch.body, expected.body);
    // … and a nil branch is the same as none.
    let mut nil_branch = drop_last_item(&vector("request-agent-source"));
    nil_branch.push(msgpack::NIL);
    assert_eq!(note::decode(&nil_branch), Ok(expected));

    // USER_COMMAND_1: payload, then option may be missing (Java: hasNext()).
    let full = vector("request-user-command-1");
    let n = note::decode(&drop_last_item(&full)).expect("no payload");
    assert_eq!(
        n.body,
        Body::Request(Request::UserCommand1 {
            option: 1,
            payload: None
        })
    );
    let n = note::decode(&drop_last_item(&drop_last_item(&full))).expect("no option");
    assert_eq!(
        n.body,
        Body::Request(Request::UserCommand1 {
            option: 0,
            payload: None
        })
    );

    // PROTOCOL_ERROR: Java reads nothing after the command.
    let n = note::decode(&[0x01, 0x0c]).expect("bare protocol error");
    assert_eq!(
        n,
        Note {
            correlation_id: String::new(),
            message_id: String::new(),
            body: Body::Response {
                peer: PeerInfo::default(),
                response: Response::ProtocolError
            }
        }
    );
    let full = note::decode(&vector("response-protocol-error")).expect("vector");
    let mut header_only = Vec::new();
    spec_header(
        &mut header_only,
        1,
        12,
        &full.correlation_id,
        &full.message_id,
    );
    let n = note::decode(&header_only).expect("header only");
    assert_eq!(
        (&n.correlation_id, &n.message_id),
        (&full.correlation_id, &full.message_id)
    );
    assert_eq!(n.peer(), Some(&PeerInfo::default()));
}

// ---------------------------------------------------------------------------
// 4: malformed input

/// Vectors some of whose strict prefixes are complete notes.
const OPTIONAL_TAILS: [&str; 4] = [
    "request-agent-source",
    "request-user-command-1",
    "request-user-command-1-no-payload",
    "response-protocol-error",
];

#[test]
fn every_truncation_is_a_truncated_error() {
    for (name, bytes) in all_vector_payloads() {
        for cut in 0..bytes.len() {
            match note::decode(&bytes[..cut]) {
                Err(NoteError::Truncated { field }) => assert!(!field.is_empty()),
                Err(other) => panic!("{name} cut at {cut}: {other}"),
                Ok(n) => assert!(
                    OPTIONAL_TAILS.contains(&name.as_str()),
                    "{name} cut at {cut} decoded: {n:?}"
                ),
            }
        }
    }
    assert_eq!(
        note::decode(&[]).map_err(|e| e.to_string()),
        Err("note truncated: no noteType".into())
    );
    let ping = vector("request-ping");
    assert_eq!(
        note::decode(&ping[..ping.len() - 1]),
        Err(NoteError::Truncated { field: "usec" })
    );
    let ok = vector("response-ok");
    assert_eq!(
        note::decode(&ok[..78]),
        Err(NoteError::Truncated { field: "id" })
    );
}

/// A request with the given command and payload bytes.
fn request(command: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    spec_header(&mut out, 0, command.into(), "c", "m");
    out.extend_from_slice(payload);
    out
}

/// A response from a default peer with the given command and payload.
fn response(command: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    spec_header(&mut out, 1, command.into(), "c", "m");
    spec_peer(&mut out, &PeerInfo::default());
    out.extend_from_slice(payload);
    out
}

#[test]
fn wrong_types_are_clear_errors() {
    let wrong = |field, expected, found| NoteError::WrongType {
        field,
        expected,
        found,
    };
    // SET option as a string.
    let e = note::decode(&request(7, b"\xa16\xa41000")).unwrap_err();
    assert_eq!(e, wrong("option", "integer", 0xa1));
    assert_eq!(
        e.to_string(),
        "option: expected integer, found fixstr (0xa1)"
    );
    // Correlation id as an integer.
    assert_eq!(
        note::decode(&[0x00, 0x08, 0x05, 0xa0]),
        Err(wrong("correlationId", "string", 0x05))
    );
    // hasSutDetails as an integer.
    let mut start_test = Vec::new();
    for s in [
        &b"\xff\xff"[..],
        b"\xa1a",
        b"\xa1b",
        b"\xa0",
        b"\xa0",
        b"\x01",
    ] {
        start_test.extend_from_slice(s);
    }
    assert_eq!(
        note::decode(&request(2, &start_test)),
        Err(wrong("hasSutDetails", "bool", 0x01))
    );
    // Stats rate as a string.
    assert_eq!(
        note::decode(&response(8, b"\x02\xa0\x00\xa10\x05\xa3abc")),
        Err(wrong("rate", "double", 0xa3))
    );
    // Log data as an integer.
    let mut data = Vec::new();
    spec_header(&mut data, 3, 40, "c", "m");
    spec_peer(&mut data, &PeerInfo::default());
    data.extend_from_slice(b"\x03\x01\x00\xa1f\x00\x01\x00\xa0\x07");
    assert_eq!(note::decode(&data), Err(wrong("data", "binary", 0x07)));
    // Role as a string, nil for a required string, reserved byte, a map.
    assert_eq!(
        note::decode(&request(60, b"\xa6sender")),
        Err(wrong("role", "integer", 0xa6))
    );
    assert_eq!(
        note::decode(&request(0, b"\xc0")),
        Err(wrong("workerName", "string", 0xc0))
    );
    assert_eq!(
        note::decode(&[0x00, 0xc1]),
        Err(wrong("command", "integer", 0xc1))
    );
    assert_eq!(
        note::decode(&[0x80]),
        Err(wrong("noteType", "integer", 0x80))
    );
    // Drain complete flag as nil.
    let mut drain = Vec::new();
    spec_header(&mut drain, 2, 42, "c", "m");
    spec_peer(&mut drain, &PeerInfo::default());
    drain.extend_from_slice(b"\xc0\xa0");
    let e = note::decode(&drain).unwrap_err();
    assert_eq!(e.to_string(), "successful: expected bool, found nil (0xc0)");
}

#[test]
fn unknown_types_and_commands_are_rejected() {
    for t in [
        &[0x04][..],
        &[0xff],
        &[0xcc, 0xc8],
        &[0xd3, 0, 0, 0, 1, 0, 0, 0, 0],
    ] {
        let mut bytes = t.to_vec();
        bytes.extend_from_slice(&[0x0a, 0xa0, 0xa0]);
        assert!(
            matches!(note::decode(&bytes), Err(NoteError::UnknownNoteType(_))),
            "{t:02x?}"
        );
    }
    assert_eq!(
        note::decode(&[0x04]).unwrap_err().to_string(),
        "unknown note type 4"
    );
    let cases: &[(u8, &[u8])] = &[
        (0, &[0x06]),                         // FLUSH, gone in 1.5
        (0, &[0x0b]),                         // OK is not a request
        (0, &[0x46]),                         // TEST_STARTED is not a request
        (1, &[0x00]),                         // START_WORKER is not a response
        (1, &[0x28]),                         // LOG responses are DATA notes
        (2, &[0x0a]),                         // PING is not a notification
        (3, &[0x29]),                         // only LOG is data
        (0, &[0xcf, 0, 0, 1, 0, 0, 0, 0, 0]), // 2^40
        (2, &[0xff]),                         // -1
    ];
    for &(t, command) in cases {
        let mut bytes = vec![t];
        bytes.extend_from_slice(command);
        bytes.extend_from_slice(&[0xa0, 0xa0]);
        assert!(
            matches!(note::decode(&bytes), Err(NoteError::UnknownCommand { .. })),
            "type {t} command {command:02x?}"
        );
    }
    assert_eq!(
        note::decode(&[0x00, 0x06]).unwrap_err().to_string(),
        "unknown command 6 in a REQUEST (0) note"
    );
    assert_eq!(
        note::decode(&[0x00, 0x0b]).unwrap_err().to_string(),
        "command OK (11) is not valid in a REQUEST (0) note"
    );
}

#[test]
fn out_of_range_integers_and_bad_utf8_are_rejected() {
    // testNumber beyond a Java int.
    assert_eq!(
        note::decode(&request(2, &[0xce, 0xb2, 0xd0, 0x5e, 0x00])),
        Err(NoteError::OutOfRange {
            field: "testNumber",
            value: 3_000_000_000
        })
    );
    // statsType beyond a Java short.
    assert!(matches!(
        note::decode(&response(8, b"\x02\xa0\xcd\x9c\x40")),
        Err(NoteError::OutOfRange {
            field: "statsType",
            ..
        })
    ));
    // sec beyond a Java long.
    let e = note::decode(&request(
        10,
        &[0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
    ))
    .unwrap_err();
    assert_eq!(e.to_string(), "sec: 18446744073709551615 is out of range");
    // Correlation id that is not UTF-8.
    assert_eq!(
        note::decode(&[0x00, 0x08, 0xa2, 0xc3, 0x28, 0xa0]),
        Err(NoteError::InvalidUtf8 {
            field: "correlationId"
        })
    );
}

#[test]
fn garbage_never_panics_and_describe_names_what_it_sees() {
    let garbage: &[&[u8]] = &[
        b"",
        b"\x00",
        b"hello world",
        b"\xc1\xc1\xc1",
        b"\xdb\xff\xff\xff\xff",
        b"\xdd\xff\xff\xff\xff\x00",
        b"\xc9\xff\xff\xff\xff\x01",
        b"\x00\x0a\xd9",
        &[0xff; 64],
        &[0x00; 64],
    ];
    for g in garbage {
        let _ = note::decode(g);
        let _ = note::fuzz_check(g);
        let text = note::describe(g);
        assert!(text.starts_with(&format!("{} bytes:", g.len())), "{text}");
    }
    let ping = note::describe(&vector("request-ping"));
    assert!(
        ping.starts_with("88 bytes: 0 (REQUEST), 10 (PING), \""),
        "{ping}"
    );
    assert!(ping.ends_with(", 1700000000, 123456"), "{ping}");
    let log = note::describe(&vector("data-log"));
    assert!(log.contains("3 (DATA), 40 (LOG)"), "{log}");
    assert!(log.contains("bin[42] 494e464f"), "{log}");
    let cut = note::describe(b"\x00\x0a\xd9\x24abc");
    assert_eq!(
        cut,
        "7 bytes: 0 (REQUEST), 10 (PING), <str8 truncated at byte 2>"
    );
    let long = note::describe(&[0x01; 100]);
    assert!(long.ends_with("… 60 more bytes"), "{long}");
}

// ---------------------------------------------------------------------------
// Property tests

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "\\PC{0,12}",
        1 => "[a-z0-9]{30,300}",
    ]
}

fn arb_peer() -> impl Strategy<Value = PeerInfo> {
    (text(), text(), text(), 0i64..8, text(), text()).prop_map(
        |(id, member_name, group_name, role, name, host)| PeerInfo {
            id,
            member_name,
            group_name,
            role: Role::from_code(role),
            name,
            host,
        },
    )
}

fn arb_test() -> impl Strategy<Value = Test> {
    (any::<i32>(), any::<i32>(), text(), text(), text(), text()).prop_map(
        |(number, iteration, name, script_name, description, comments)| Test {
            number,
            iteration,
            name,
            script_name,
            details: TestDetails {
                description,
                comments,
            },
        },
    )
}

fn arb_sut() -> impl Strategy<Value = SutDetails> {
    (
        any::<i32>(),
        text(),
        text(),
        text(),
        (text(), text(), text(), text()),
    )
        .prop_map(
            |(id, name, version, jvm_version, (other_info, tags, lab_name, test_tags))| {
                SutDetails {
                    id,
                    name,
                    version,
                    jvm_version,
                    other_info,
                    tags,
                    lab_name,
                    test_tags,
                }
            },
        )
}

fn arb_request() -> BoxedStrategy<Request> {
    let unit = prop::sample::select(vec![
        Request::StopWorker,
        Request::StopTest,
        Request::StopInspector,
        Request::Stats,
        Request::Halt,
        Request::StartAgent,
        Request::StopAgent,
        Request::GroupLeave,
        Request::RoleUnassign,
    ]);
    let log = (any::<i64>(), text()).prop_map(|(code, name)| {
        Request::Log(match LocationType::from(code % 5) {
            LocationType::Any => LogLocation::Any(name),
            LocationType::LastSuccess => LogLocation::LastSuccess,
            LocationType::LastFailed => LogLocation::LastFailed,
            LocationType::Last => LogLocation::Last,
            LocationType::Unknown(_) => LogLocation::Unknown(code.saturating_abs().max(4)),
        })
    });
    prop::strategy::Union::new(vec![
        unit.boxed(),
        text()
            .prop_map(|worker_name| Request::StartWorker { worker_name })
            .boxed(),
        (arb_test(), proptest::option::of(arb_sut()))
            .prop_map(|(test, sut)| Request::StartTest(TestExecutionInfo { test, sut }))
            .boxed(),
        text()
            .prop_map(|inspector_name| Request::StartInspector { inspector_name })
            .boxed(),
        (any::<i64>(), text())
            .prop_map(|(o, value)| Request::Set {
                option: SetOption::from(o % 12),
                value,
            })
            .boxed(),
        (any::<i64>(), any::<i64>())
            .prop_map(|(sec, usec)| Request::Ping { sec, usec })
            .boxed(),
        any::<i64>()
            .prop_map(|o| Request::Get {
                option: GetOption::from(o % 3),
            })
            .boxed(),
        (text(), proptest::option::of(text()))
            .prop_map(|(source_url, branch)| Request::AgentSource { source_url, branch })
            .boxed(),
        (any::<i64>(), proptest::option::of(text()))
            .prop_map(|(option, payload)| Request::UserCommand1 { option, payload })
            .boxed(),
        log.boxed(),
        (text(), text(), text(), text())
            .prop_map(
                |(duration, url, parallel_count, worker_name)| Request::Drain {
                    duration,
                    url,
                    parallel_count,
                    worker_name,
                },
            )
            .boxed(),
        (text(), text())
            .prop_map(|(member_name, group_name)| Request::GroupJoin {
                member_name,
                group_name,
            })
            .boxed(),
        (0i64..7)
            .prop_map(|r| Request::RoleAssign {
                role: Role::from_code(r),
            })
            .boxed(),
    ])
    .boxed()
}

fn finite() -> impl Strategy<Value = f64> {
    prop::num::f64::NORMAL | prop::num::f64::ZERO | prop::num::f64::INFINITE
}

fn arb_response() -> BoxedStrategy<Response> {
    prop::strategy::Union::new(vec![
        Just(Response::Ok).boxed(),
        Just(Response::ProtocolError).boxed(),
        any::<i64>()
            .prop_map(|elapsed| Response::Ping { elapsed })
            .boxed(),
        (any::<bool>(), text())
            .prop_map(|(again, message)| Response::InternalError {
                code: if again {
                    ErrorCode::TryAgain
                } else {
                    ErrorCode::Unspecified
                },
                message,
            })
            .boxed(),
        (
            any::<i32>(),
            text(),
            any::<i16>(),
            text(),
            any::<i64>(),
            finite(),
            finite(),
        )
            .prop_map(
                |(child_count, role_info, stats_type, timestamp, count, rate, latency)| {
                    Response::Stats(Stats {
                        child_count,
                        role_info,
                        stats_type,
                        timestamp,
                        count,
                        rate,
                        latency,
                    })
                },
            )
            .boxed(),
        (any::<i64>(), text())
            .prop_map(|(o, value)| Response::Get {
                option: GetOption::from(o),
                value,
            })
            .boxed(),
        text()
            .prop_map(|status| Response::UserCommand1 { status })
            .boxed(),
    ])
    .boxed()
}

fn arb_notification() -> BoxedStrategy<Notification> {
    prop_oneof![
        (arb_test(), text())
            .prop_map(|(test, message)| Notification::TestStarted { test, message }),
        (arb_test(), text())
            .prop_map(|(test, message)| Notification::TestSuccessful { test, message }),
        (arb_test(), text()).prop_map(|(test, message)| Notification::TestFailed { test, message }),
        text().prop_map(|message| Notification::AbnormalDisconnect { message }),
        (any::<bool>(), text()).prop_map(|(successful, message)| Notification::DrainComplete {
            successful,
            message
        }),
    ]
    .boxed()
}

fn arb_chunk() -> impl Strategy<Value = LogChunk> {
    (
        any::<i64>(),
        any::<i32>(),
        any::<i32>(),
        text(),
        (any::<i32>(), any::<i32>(), any::<i64>()),
        text(),
        prop_oneof![
            prop::collection::vec(any::<u8>(), 0..64),
            prop::collection::vec(any::<u8>(), 250..300)
        ],
    )
        .prop_map(
            |(
                loc,
                file_count,
                index,
                file_name,
                (chunk_index, chunk_total, file_size),
                file_hash,
                data,
            )| {
                LogChunk {
                    location_type: LocationType::from(loc % 6),
                    info: LocationTypeInfo { file_count, index },
                    file_name,
                    chunk_index,
                    chunk_total,
                    file_size,
                    file_hash,
                    data,
                }
            },
        )
}

fn arb_note() -> impl Strategy<Value = Note> {
    let body = prop_oneof![
        arb_request().prop_map(Body::Request),
        (arb_peer(), arb_response()).prop_map(|(peer, response)| Body::Response { peer, response }),
        (arb_peer(), arb_notification())
            .prop_map(|(peer, notification)| Body::Notification { peer, notification }),
        (arb_peer(), arb_chunk()).prop_map(|(peer, chunk)| Body::Data {
            peer,
            data: Data::Log(chunk)
        }),
    ];
    (text(), text(), body).prop_map(|(correlation_id, message_id, body)| Note {
        correlation_id,
        message_id,
        body,
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = note::fuzz_check(&data);
    }

    #[test]
    fn valid_headers_with_arbitrary_bodies_never_panic(
        t in 0u8..4,
        c in prop::sample::select(Command::ALL.to_vec()),
        tail in prop::collection::vec(any::<u8>(), 0..120),
    ) {
        let mut data = Vec::new();
        spec_header(&mut data, t.into(), c.code(), "c", "m");
        data.extend_from_slice(&tail);
        let _ = note::fuzz_check(&data);
    }

    #[test]
    fn generated_notes_round_trip(note in arb_note()) {
        let bytes = encoded(&note);
        prop_assert_eq!(note::decode(&bytes), Ok(note.clone()));
        prop_assert_eq!(note::fuzz_check(&bytes), Ok(note.command()));
        let _ = note::describe(&bytes);
    }
}

#[test]
fn nan_survives_a_round_trip_bit_for_bit() {
    let note = Note {
        correlation_id: "c".into(),
        message_id: "m".into(),
        body: Body::Response {
            peer: PeerInfo::default(),
            response: Response::Stats(Stats {
                rate: f64::NAN,
                latency: -0.0,
                ..Stats::default()
            }),
        },
    };
    let bytes = encoded(&note);
    assert_eq!(note::fuzz_check(&bytes), Ok(Command::Stats));
    assert_eq!(encoded(&note::decode(&bytes).expect("decodes")), bytes);
}

// ---------------------------------------------------------------------------
// Topics, QoS and the reply helper

#[test]
fn replies_echo_the_pair_and_go_where_section_2_says() {
    let req = note::decode(&vector("request-stats")).expect("stats request");
    let me = PeerInfo {
        id: topics::peer_id("8f1b6a0e-4c2d-4b7a-9e35-2d9c0b7f5a11"),
        group_name: "all".into(),
        name: "worker".into(),
        host: "h".into(),
        ..PeerInfo::default()
    };
    let reply = req.reply(me.clone(), Response::Stats(Stats::default()));
    assert_eq!(reply.correlation_id, req.correlation_id);
    assert_eq!(reply.message_id, req.message_id);
    assert_eq!(reply.peer(), Some(&me));
    assert_eq!(topics::peer_topic(&reply), Some(topics::RESPONSES));
    assert_eq!(topics::publish_qos(&reply), QoS::AtMostOnce);
    let ok = req.reply(me.clone(), Response::Ok);
    assert_eq!(topics::publish_qos(&ok), QoS::AtLeastOnce);
    assert_eq!(topics::publish_qos(&req), QoS::AtLeastOnce);
    assert_eq!(topics::peer_topic(&req), None);
    let started = note::decode(&vector("notification-test-started")).expect("vector");
    assert_eq!(topics::peer_topic(&started), Some(topics::NOTIFICATIONS));
    assert_eq!(topics::publish_qos(&started), QoS::ExactlyOnce);
    let drained = note::decode(&vector("notification-drain-complete")).expect("vector");
    assert_eq!(topics::publish_qos(&drained), QoS::AtLeastOnce);
    let log = note::decode(&vector("data-log")).expect("vector");
    assert_eq!(topics::peer_topic(&log), Some(topics::LOGS));
    assert_eq!(topics::publish_qos(&log), QoS::ExactlyOnce);
    assert_eq!(
        topics::by_id(&me.id),
        "/mpt/peer/by-id/maestro.exchange.8f1b6a0e-4c2d-4b7a-9e35-2d9c0b7f5a11"
    );
}

// ---------------------------------------------------------------------------
// 5: the fuzz corpus

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/note_decode")
}

#[test]
fn fuzz_corpus_replays_and_holds_every_vector() {
    let dir = corpus_dir();
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("corpus entry").path())
        .collect();
    files.sort();
    let (mut valid, mut malformed) = (0, 0);
    for path in &files {
        let data = read(path);
        let name = stem(path);
        let outcome = note::fuzz_check(&data);
        if name.starts_with("valid-") {
            assert!(outcome.is_ok(), "{name}: {outcome:?}");
            valid += 1;
        } else if name.starts_with("malformed-") {
            assert!(outcome.is_err(), "{name}: {outcome:?}");
            malformed += 1;
        } else {
            panic!("{name}: corpus seeds are named valid-* or malformed-*");
        }
    }
    assert!(malformed >= 8, "only {malformed} malformed seeds");
    // Every vector is a seed, byte for byte.
    let seeds: BTreeSet<Vec<u8>> = files.iter().map(|p| read(p)).collect();
    for (name, bytes) in all_vector_payloads() {
        assert!(
            seeds.contains(&bytes),
            "vector {name} is missing from {}",
            dir.display()
        );
    }
    assert!(valid >= all_vector_payloads().len());
}
