//! [`encode`] and [`decode`]: the note layouts of §3.2–§6.

use super::codes::{Command, ErrorCode, GetOption, LocationType, NoteType, Role, SetOption};
use super::model::*;
use super::msgpack::{write_bin, write_bool, write_f64, write_int, write_str, Reader};
use super::NoteError;

/// Appends `note` to `out` exactly as Java serialises it: smallest integer
/// forms, strings never `nil`, optional trailing fields (AGENT_SOURCE branch,
/// USER_COMMAND_1 payload, LOG request name) written only when present
/// (§3.1, §6).
pub fn encode(note: &Note, out: &mut Vec<u8>) {
    write_int(out, note.note_type().code());
    write_int(out, note.command().code());
    write_str(out, &note.correlation_id);
    write_str(out, &note.message_id);
    match &note.body {
        Body::Request(request) => encode_request(request, out),
        Body::Response { peer, response } => {
            encode_peer(peer, out);
            encode_response(response, out);
        }
        Body::Notification { peer, notification } => {
            encode_peer(peer, out);
            encode_notification(notification, out);
        }
        Body::Data { peer, data } => {
            encode_peer(peer, out);
            match data {
                Data::Log(chunk) => encode_log_chunk(chunk, out),
            }
        }
    }
}

fn encode_peer(peer: &PeerInfo, out: &mut Vec<u8>) {
    write_str(out, &peer.id);
    write_str(out, &peer.member_name);
    write_str(out, &peer.group_name);
    write_int(out, peer.role.code());
    write_str(out, &peer.name);
    write_str(out, &peer.host);
}

fn encode_test(test: &Test, out: &mut Vec<u8>) {
    write_int(out, test.number.into());
    write_int(out, test.iteration.into());
    write_str(out, &test.name);
    write_str(out, &test.script_name);
    write_str(out, &test.details.description);
    write_str(out, &test.details.comments);
}

fn encode_request(request: &Request, out: &mut Vec<u8>) {
    match request {
        Request::StopWorker
        | Request::StopTest
        | Request::StopInspector
        | Request::Stats
        | Request::Halt
        | Request::StartAgent
        | Request::StopAgent
        | Request::GroupLeave
        | Request::RoleUnassign => {}
        Request::StartWorker { worker_name } => write_str(out, worker_name),
        Request::StartInspector { inspector_name } => write_str(out, inspector_name),
        Request::StartTest(info) => {
            encode_test(&info.test, out);
            write_bool(out, info.sut.is_some());
            if let Some(sut) = &info.sut {
                write_int(out, sut.id.into());
                for s in [
                    &sut.name,
                    &sut.version,
                    &sut.jvm_version,
                    &sut.other_info,
                    &sut.tags,
                    &sut.lab_name,
                    &sut.test_tags,
                ] {
                    write_str(out, s);
                }
            }
        }
        Request::Set { option, value } => {
            write_int(out, option.code());
            write_str(out, value);
        }
        Request::Ping { sec, usec } => {
            write_int(out, *sec);
            write_int(out, *usec);
        }
        Request::Get { option } => write_int(out, option.code()),
        Request::AgentSource { source_url, branch } => {
            write_str(out, source_url);
            if let Some(branch) = branch {
                write_str(out, branch);
            }
        }
        Request::UserCommand1 { option, payload } => {
            write_int(out, *option);
            if let Some(payload) = payload {
                write_str(out, payload);
            }
        }
        Request::Log(location) => {
            write_int(out, location.location_type().code());
            if let LogLocation::Any(type_name) = location {
                write_str(out, type_name);
            }
        }
        Request::Drain {
            duration,
            url,
            parallel_count,
            worker_name,
        } => {
            for s in [duration, url, parallel_count, worker_name] {
                write_str(out, s);
            }
        }
        Request::GroupJoin {
            member_name,
            group_name,
        } => {
            write_str(out, member_name);
            write_str(out, group_name);
        }
        Request::RoleAssign { role } => write_int(out, role.code()),
    }
}

fn encode_response(response: &Response, out: &mut Vec<u8>) {
    match response {
        Response::Ok | Response::ProtocolError => {}
        Response::Ping { elapsed } => write_int(out, *elapsed),
        Response::InternalError { code, message } => {
            write_int(out, code.code());
            write_str(out, message);
        }
        Response::Stats(stats) => {
            write_int(out, stats.child_count.into());
            write_str(out, &stats.role_info);
            write_int(out, stats.stats_type.into());
            write_str(out, &stats.timestamp);
            write_int(out, stats.count);
            write_f64(out, stats.rate);
            write_f64(out, stats.latency);
        }
        Response::Get { option, value } => {
            write_int(out, option.code());
            write_str(out, value);
        }
        Response::UserCommand1 { status } => write_str(out, status),
    }
}

fn encode_notification(notification: &Notification, out: &mut Vec<u8>) {
    match notification {
        Notification::TestStarted { test, message }
        | Notification::TestSuccessful { test, message }
        | Notification::TestFailed { test, message } => {
            encode_test(test, out);
            write_str(out, message);
        }
        Notification::AbnormalDisconnect { message } => write_str(out, message),
        Notification::DrainComplete {
            successful,
            message,
        } => {
            write_bool(out, *successful);
            write_str(out, message);
        }
    }
}

fn encode_log_chunk(chunk: &LogChunk, out: &mut Vec<u8>) {
    write_int(out, chunk.location_type.code());
    write_int(out, chunk.info.file_count.into());
    write_int(out, chunk.info.index.into());
    write_str(out, &chunk.file_name);
    write_int(out, chunk.chunk_index.into());
    write_int(out, chunk.chunk_total.into());
    write_int(out, chunk.file_size);
    write_str(out, &chunk.file_hash);
    write_bin(out, &chunk.data);
}

/// Decodes one note payload, leniently (§3.1): any integer width, `str` or
/// `bin` for strings, values after the last field ignored, optional trailing
/// fields may be missing (or `nil`). A note type or (type, command) pair Java
/// does not accept (§4) is an error, as is a missing required field, a
/// value of the wrong type, an integer outside the field's Java type or a
/// string that is not UTF-8. Never panics.
///
/// PROTOCOL_ERROR is special: Java reads nothing after its command, so every
/// field after the command may be missing here (empty strings, role OTHER);
/// fields that are present are still checked.
pub fn decode(payload: &[u8]) -> Result<Note, NoteError> {
    let mut r = Reader::new(payload);
    let note_type = NoteType::try_from(r.read_int("noteType")?)?;
    let command = Command::from(r.read_int("command")?);
    if !command.allowed_in(note_type) {
        return Err(NoteError::UnknownCommand {
            note_type,
            command: command.code(),
        });
    }
    let all_optional = note_type == NoteType::Response && command == Command::ProtocolError;
    let correlation_id = header_str(&mut r, "correlationId", all_optional)?;
    let message_id = header_str(&mut r, "messageId", all_optional)?;
    let body = match note_type {
        NoteType::Request => Body::Request(decode_request(command, &mut r)?),
        NoteType::Response => {
            let peer = decode_peer(&mut r, all_optional)?;
            let response = decode_response(command, &mut r)?;
            Body::Response { peer, response }
        }
        NoteType::Notification => {
            let peer = decode_peer(&mut r, false)?;
            let notification = decode_notification(command, &mut r)?;
            Body::Notification { peer, notification }
        }
        NoteType::Data => {
            let peer = decode_peer(&mut r, false)?;
            let data = Data::Log(decode_log_chunk(&mut r)?);
            Body::Data { peer, data }
        }
    };
    Ok(Note {
        correlation_id,
        message_id,
        body,
    })
}

fn header_str(
    r: &mut Reader<'_>,
    field: &'static str,
    optional: bool,
) -> Result<String, NoteError> {
    if optional && r.is_empty() {
        return Ok(String::new());
    }
    Ok(r.read_str(field)?.to_owned())
}

fn string(r: &mut Reader<'_>, field: &'static str) -> Result<String, NoteError> {
    Ok(r.read_str(field)?.to_owned())
}

fn decode_peer(r: &mut Reader<'_>, optional: bool) -> Result<PeerInfo, NoteError> {
    let id = header_str(r, "id", optional)?;
    let member_name = header_str(r, "memberName", optional)?;
    let group_name = header_str(r, "groupName", optional)?;
    let role = if optional && r.is_empty() {
        Role::Other
    } else {
        Role::from_code(r.read_int("role")?)
    };
    let name = header_str(r, "peerName", optional)?;
    let host = header_str(r, "peerHost", optional)?;
    Ok(PeerInfo {
        id,
        member_name,
        group_name,
        role,
        name,
        host,
    })
}

fn decode_test(r: &mut Reader<'_>) -> Result<Test, NoteError> {
    Ok(Test {
        number: r.read_i32("testNumber")?,
        iteration: r.read_i32("testIteration")?,
        name: string(r, "testName")?,
        script_name: string(r, "scriptName")?,
        details: TestDetails {
            description: string(r, "testDescription")?,
            comments: string(r, "testComments")?,
        },
    })
}

fn decode_sut(r: &mut Reader<'_>) -> Result<SutDetails, NoteError> {
    Ok(SutDetails {
        id: r.read_i32("sutId")?,
        name: string(r, "sutName")?,
        version: string(r, "sutVersion")?,
        jvm_version: string(r, "sutJvmVersion")?,
        other_info: string(r, "sutOtherInfo")?,
        tags: string(r, "sutTags")?,
        lab_name: string(r, "labName")?,
        test_tags: string(r, "testTags")?,
    })
}

fn decode_request(command: Command, r: &mut Reader<'_>) -> Result<Request, NoteError> {
    Ok(match command {
        Command::StartWorker => Request::StartWorker {
            worker_name: string(r, "workerName")?,
        },
        Command::StopWorker => Request::StopWorker,
        Command::StartTest => {
            let test = decode_test(r)?;
            let sut = if r.read_bool("hasSutDetails")? {
                Some(decode_sut(r)?)
            } else {
                None
            };
            Request::StartTest(TestExecutionInfo { test, sut })
        }
        Command::StopTest => Request::StopTest,
        Command::StartInspector => Request::StartInspector {
            inspector_name: string(r, "inspectorName")?,
        },
        Command::StopInspector => Request::StopInspector,
        Command::Set => Request::Set {
            option: SetOption::from(r.read_int("option")?),
            value: string(r, "value")?,
        },
        Command::Stats => Request::Stats,
        Command::Halt => Request::Halt,
        Command::Ping => Request::Ping {
            sec: r.read_int("sec")?,
            usec: r.read_int("usec")?,
        },
        Command::Get => Request::Get {
            option: GetOption::from(r.read_int("option")?),
        },
        Command::StartAgent => Request::StartAgent,
        Command::StopAgent => Request::StopAgent,
        Command::AgentSource => Request::AgentSource {
            source_url: string(r, "sourceUrl")?,
            branch: r.read_opt_str("branch")?.map(str::to_owned),
        },
        Command::UserCommand1 => {
            // Java reads both values only `if (unpacker.hasNext())`.
            let option = if r.is_empty() {
                0
            } else {
                r.read_int("option")?
            };
            Request::UserCommand1 {
                option,
                payload: r.read_opt_str("payload")?.map(str::to_owned),
            }
        }
        Command::Log => Request::Log(match LocationType::from(r.read_int("locationType")?) {
            LocationType::Any => LogLocation::Any(string(r, "typeName")?),
            LocationType::LastSuccess => LogLocation::LastSuccess,
            LocationType::LastFailed => LogLocation::LastFailed,
            LocationType::Last => LogLocation::Last,
            LocationType::Unknown(code) => LogLocation::Unknown(code),
        }),
        Command::Drain => Request::Drain {
            duration: string(r, "duration")?,
            url: string(r, "url")?,
            parallel_count: string(r, "parallelCount")?,
            worker_name: string(r, "workerName")?,
        },
        Command::GroupJoin => Request::GroupJoin {
            member_name: string(r, "memberName")?,
            group_name: string(r, "groupName")?,
        },
        Command::GroupLeave => Request::GroupLeave,
        Command::RoleAssign => Request::RoleAssign {
            role: Role::from_code(r.read_int("role")?),
        },
        Command::RoleUnassign => Request::RoleUnassign,
        other => return Err(unknown(NoteType::Request, other)),
    })
}

fn decode_response(command: Command, r: &mut Reader<'_>) -> Result<Response, NoteError> {
    Ok(match command {
        Command::Ok => Response::Ok,
        Command::ProtocolError => Response::ProtocolError,
        Command::Ping => Response::Ping {
            elapsed: r.read_int("elapsed")?,
        },
        Command::InternalError => Response::InternalError {
            code: ErrorCode::from_code(r.read_int("errorCode")?),
            message: string(r, "message")?,
        },
        Command::Stats => Response::Stats(Stats {
            child_count: r.read_i32("childCount")?,
            role_info: string(r, "roleInfo")?,
            stats_type: r.read_i16("statsType")?,
            timestamp: string(r, "timestamp")?,
            count: r.read_int("count")?,
            rate: r.read_f64("rate")?,
            latency: r.read_f64("latency")?,
        }),
        Command::Get => Response::Get {
            option: GetOption::from(r.read_int("option")?),
            value: string(r, "value")?,
        },
        Command::UserCommand1 => Response::UserCommand1 {
            status: string(r, "status")?,
        },
        other => return Err(unknown(NoteType::Response, other)),
    })
}

fn decode_notification(command: Command, r: &mut Reader<'_>) -> Result<Notification, NoteError> {
    Ok(match command {
        Command::NotifyTestStarted => Notification::TestStarted {
            test: decode_test(r)?,
            message: string(r, "message")?,
        },
        Command::NotifySuccess => Notification::TestSuccessful {
            test: decode_test(r)?,
            message: string(r, "message")?,
        },
        Command::NotifyFail => Notification::TestFailed {
            test: decode_test(r)?,
            message: string(r, "message")?,
        },
        Command::AbnormalDisconnect => Notification::AbnormalDisconnect {
            message: string(r, "message")?,
        },
        Command::NotifyDrainComplete => Notification::DrainComplete {
            successful: r.read_bool("successful")?,
            message: string(r, "message")?,
        },
        other => return Err(unknown(NoteType::Notification, other)),
    })
}

fn decode_log_chunk(r: &mut Reader<'_>) -> Result<LogChunk, NoteError> {
    Ok(LogChunk {
        location_type: LocationType::from(r.read_int("locationType")?),
        info: LocationTypeInfo {
            file_count: r.read_i32("fileCount")?,
            index: r.read_i32("index")?,
        },
        file_name: string(r, "fileName")?,
        chunk_index: r.read_i32("chunkIndex")?,
        chunk_total: r.read_i32("chunkTotal")?,
        file_size: r.read_int("fileSize")?,
        file_hash: string(r, "fileHash")?,
        data: r.read_bin("data")?.to_vec(),
    })
}

fn unknown(note_type: NoteType, command: Command) -> NoteError {
    NoteError::UnknownCommand {
        note_type,
        command: command.code(),
    }
}
