//! The typed note: header (§3.2), peer block (§1.2) and one body per
//! (type, command) pair Java accepts (§4, §6).

use super::codes::{Command, ErrorCode, GetOption, LocationType, NoteType, Role, SetOption};

/// One Maestro note, the whole payload of one MQTT message (§3).
///
/// The note type and command are implied by [`Body`]; see
/// [`Note::note_type`] and [`Note::command`].
#[derive(Debug, Clone, PartialEq)]
pub struct Note {
    /// Random UUID string of a new request; echoed by replies (§3.2).
    pub correlation_id: String,
    /// Random UUID string ("reserved"); echoed by replies (§3.2).
    pub message_id: String,
    /// Everything after the header.
    pub body: Body,
}

/// What follows the four header values (§3.2).
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// Type 0: no peer block.
    Request(Request),
    /// Type 1.
    Response {
        /// The replying peer.
        peer: PeerInfo,
        /// The reply.
        response: Response,
    },
    /// Type 2.
    Notification {
        /// The notifying peer.
        peer: PeerInfo,
        /// The notification.
        notification: Notification,
    },
    /// Type 3.
    Data {
        /// The sending peer.
        peer: PeerInfo,
        /// The data.
        data: Data,
    },
}

/// The peer block of responses, notifications and data notes (§1.2, §3.2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PeerInfo {
    /// The peer's MQTT client id, `maestro.exchange.<uuid>`.
    pub id: String,
    /// Group member name; Java's default is `""`.
    pub member_name: String,
    /// Group name; Java's default is `"all"`.
    pub group_name: String,
    /// Current role.
    pub role: Role,
    /// Peer name, e.g. `worker`.
    pub name: String,
    /// Peer host.
    pub host: String,
}

/// A test's identity, echoed unchanged in notifications (§5).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Test {
    /// `testNumber`: [`Test::NEXT`], [`Test::LAST`] or an explicit id.
    pub number: i32,
    /// `testIteration`: [`Test::NEXT`], [`Test::LAST`] or explicit.
    pub iteration: i32,
    /// `testName`, e.g. `fixed-rate`.
    pub name: String,
    /// `scriptName`, e.g. `FixedRateTest`.
    pub script_name: String,
    /// Description and comments.
    pub details: TestDetails,
}

impl Test {
    /// −1: allocate a new test id / the next iteration.
    pub const NEXT: i32 = -1;
    /// −2: reuse the last test id / iteration.
    pub const LAST: i32 = -2;
}

/// `TestDetails` (§5).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TestDetails {
    /// `testDescription`, default `""`.
    pub description: String,
    /// `testComments`, default `""`.
    pub comments: String,
}

/// `SutDetails` (§5).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SutDetails {
    /// `sutId`, −1 = unspecified.
    pub id: i32,
    /// `sutName`.
    pub name: String,
    /// `sutVersion`.
    pub version: String,
    /// `sutJvmVersion`.
    pub jvm_version: String,
    /// `sutOtherInfo`.
    pub other_info: String,
    /// `sutTags`.
    pub tags: String,
    /// `labName`.
    pub lab_name: String,
    /// `testTags`.
    pub test_tags: String,
}

/// `TestExecutionInfo`, the START_TEST payload (§5).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TestExecutionInfo {
    /// The test.
    pub test: Test,
    /// SUT details, sent after `hasSutDetails = true`.
    pub sut: Option<SutDetails>,
}

/// Which directory a LOG request asks for (§5, §6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogLocation {
    /// 0 ANY, followed by the directory name (`typeName`).
    Any(String),
    /// 1 LAST_SUCCESS.
    LastSuccess,
    /// 2 LAST_FAILED.
    LastFailed,
    /// 3 LAST.
    Last,
    /// Any code other than 0–3 (nothing follows it).
    Unknown(i64),
}

impl LogLocation {
    /// The location type code, without the name.
    pub fn location_type(&self) -> LocationType {
        match self {
            LogLocation::Any(_) => LocationType::Any,
            LogLocation::LastSuccess => LocationType::LastSuccess,
            LogLocation::LastFailed => LocationType::LastFailed,
            LogLocation::Last => LocationType::Last,
            LogLocation::Unknown(code) => LocationType::Unknown(*code),
        }
    }
}

/// Request payloads (§6, "REQUESTS").
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// 0: start the load; `"JmsSender"` or `"JmsReceiver"`.
    StartWorker {
        /// `workerName`.
        worker_name: String,
    },
    /// 1.
    StopWorker,
    /// 2.
    StartTest(TestExecutionInfo),
    /// 3 (defined, never sent by Java).
    StopTest,
    /// 4: e.g. `ArtemisInspector`.
    StartInspector {
        /// `inspectorName`.
        inspector_name: String,
    },
    /// 5.
    StopInspector,
    /// 7 (§7).
    Set {
        /// Which option.
        option: SetOption,
        /// Its value, always a string.
        value: String,
    },
    /// 8.
    Stats,
    /// 9.
    Halt,
    /// 10: the client's clock when it sent the ping.
    Ping {
        /// Epoch seconds.
        sec: i64,
        /// Microseconds within `sec`.
        usec: i64,
    },
    /// 17.
    Get {
        /// What to get.
        option: GetOption,
    },
    /// 18.
    StartAgent,
    /// 19.
    StopAgent,
    /// 21.
    AgentSource {
        /// `sourceUrl`.
        source_url: String,
        /// `branch`, on the wire only when present.
        branch: Option<String>,
    },
    /// 30.
    UserCommand1 {
        /// `option`; Java reads 0 when it is missing.
        option: i64,
        /// `payload`, on the wire only when present.
        payload: Option<String>,
    },
    /// 40: ask for the files of a test directory (§8.7).
    Log(LogLocation),
    /// 41.
    Drain {
        /// `duration` spec.
        duration: String,
        /// SUT URL.
        url: String,
        /// `parallelCount`, a decimal string.
        parallel_count: String,
        /// `workerName`.
        worker_name: String,
    },
    /// 50.
    GroupJoin {
        /// `memberName`.
        member_name: String,
        /// `groupName`.
        group_name: String,
    },
    /// 51.
    GroupLeave,
    /// 60.
    RoleAssign {
        /// The new role.
        role: Role,
    },
    /// 61.
    RoleUnassign,
}

impl Request {
    /// The command code of this request.
    pub fn command(&self) -> Command {
        match self {
            Request::StartWorker { .. } => Command::StartWorker,
            Request::StopWorker => Command::StopWorker,
            Request::StartTest(_) => Command::StartTest,
            Request::StopTest => Command::StopTest,
            Request::StartInspector { .. } => Command::StartInspector,
            Request::StopInspector => Command::StopInspector,
            Request::Set { .. } => Command::Set,
            Request::Stats => Command::Stats,
            Request::Halt => Command::Halt,
            Request::Ping { .. } => Command::Ping,
            Request::Get { .. } => Command::Get,
            Request::StartAgent => Command::StartAgent,
            Request::StopAgent => Command::StopAgent,
            Request::AgentSource { .. } => Command::AgentSource,
            Request::UserCommand1 { .. } => Command::UserCommand1,
            Request::Log(_) => Command::Log,
            Request::Drain { .. } => Command::Drain,
            Request::GroupJoin { .. } => Command::GroupJoin,
            Request::GroupLeave => Command::GroupLeave,
            Request::RoleAssign { .. } => Command::RoleAssign,
            Request::RoleUnassign => Command::RoleUnassign,
        }
    }
}

/// STATS response payload (§6, §8.5).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Stats {
    /// `childCount`: connections of the worker.
    pub child_count: i32,
    /// `roleInfo`, `""` from Java workers.
    pub role_info: String,
    /// `statsType`, 0 from Java workers.
    pub stats_type: i16,
    /// `timestamp`, `"0"` from Java workers.
    pub timestamp: String,
    /// Messages sent or received by the running test.
    pub count: i64,
    /// Messages per second.
    pub rate: f64,
    /// Mean latency in µs.
    pub latency: f64,
}

/// Response payloads (§6, "RESPONSES").
#[derive(Debug, Clone, PartialEq)]
pub enum Response {
    /// 11.
    Ok,
    /// 10: ms between the request's sec/usec and its reception.
    Ping {
        /// `elapsed` (ms).
        elapsed: i64,
    },
    /// 12 (never sent by Java; Java reads only its type and command).
    ProtocolError,
    /// 13.
    InternalError {
        /// `errorCode`.
        code: ErrorCode,
        /// `message`.
        message: String,
    },
    /// 8.
    Stats(Stats),
    /// 17.
    Get {
        /// `option`.
        option: GetOption,
        /// `value`.
        value: String,
    },
    /// 30.
    UserCommand1 {
        /// `status`.
        status: String,
    },
}

impl Response {
    /// The command code of this response.
    pub fn command(&self) -> Command {
        match self {
            Response::Ok => Command::Ok,
            Response::Ping { .. } => Command::Ping,
            Response::ProtocolError => Command::ProtocolError,
            Response::InternalError { .. } => Command::InternalError,
            Response::Stats(_) => Command::Stats,
            Response::Get { .. } => Command::Get,
            Response::UserCommand1 { .. } => Command::UserCommand1,
        }
    }
}

/// Notification payloads (§6, "NOTIFICATIONS").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notification {
    /// 70 NOTIFY_TEST_STARTED; Java sends `message = ""`.
    TestStarted {
        /// The test of the last START_TEST.
        test: Test,
        /// `message`.
        message: String,
    },
    /// 16 NOTIFY_SUCCESS.
    TestSuccessful {
        /// The test of the last START_TEST.
        test: Test,
        /// `message`, Java: `"Test completed successfully"`.
        message: String,
    },
    /// 15 NOTIFY_FAIL.
    TestFailed {
        /// The test of the last START_TEST.
        test: Test,
        /// The failure reason.
        message: String,
    },
    /// 14 (never sent by Java).
    AbnormalDisconnect {
        /// `message`.
        message: String,
    },
    /// 42 NOTIFY_DRAIN_COMPLETE.
    DrainComplete {
        /// Whether the drain went without errors.
        successful: bool,
        /// `message`.
        message: String,
    },
}

impl Notification {
    /// The command code of this notification.
    pub fn command(&self) -> Command {
        match self {
            Notification::TestStarted { .. } => Command::NotifyTestStarted,
            Notification::TestSuccessful { .. } => Command::NotifySuccess,
            Notification::TestFailed { .. } => Command::NotifyFail,
            Notification::AbnormalDisconnect { .. } => Command::AbnormalDisconnect,
            Notification::DrainComplete { .. } => Command::NotifyDrainComplete,
        }
    }
}

/// `LocationTypeInfo` (§5): this file's place among the directory's files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LocationTypeInfo {
    /// Files in the directory.
    pub file_count: i32,
    /// 0-based index of this file.
    pub index: i32,
}

/// One chunk of a result file (§6 "DATA", §8.7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogChunk {
    /// Echo of the request's location type.
    pub location_type: LocationType,
    /// Which file of how many.
    pub info: LocationTypeInfo,
    /// Base name of the file.
    pub file_name: String,
    /// 0-based chunk index.
    pub chunk_index: i32,
    /// Number of chunks of the file.
    pub chunk_total: i32,
    /// Size of the whole file in bytes.
    pub file_size: i64,
    /// Lower-case hex SHA-1 of the whole file, or `""`.
    pub file_hash: String,
    /// This chunk's bytes (a msgpack `bin`).
    pub data: Vec<u8>,
}

/// Data payloads (§6, "DATA").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Data {
    /// 40: a result-file chunk.
    Log(LogChunk),
}

impl Data {
    /// The command code of this data note.
    pub fn command(&self) -> Command {
        match self {
            Data::Log(_) => Command::Log,
        }
    }
}

impl Note {
    /// A request with the given correlation pair.
    pub fn request(
        correlation_id: impl Into<String>,
        message_id: impl Into<String>,
        request: Request,
    ) -> Note {
        Note {
            correlation_id: correlation_id.into(),
            message_id: message_id.into(),
            body: Body::Request(request),
        }
    }

    /// A response to this note from `peer`, echoing both correlation strings
    /// (§3.2).
    pub fn reply(&self, peer: PeerInfo, response: Response) -> Note {
        Note {
            correlation_id: self.correlation_id.clone(),
            message_id: self.message_id.clone(),
            body: Body::Response { peer, response },
        }
    }

    /// The note type (§3.2).
    pub fn note_type(&self) -> NoteType {
        match self.body {
            Body::Request(_) => NoteType::Request,
            Body::Response { .. } => NoteType::Response,
            Body::Notification { .. } => NoteType::Notification,
            Body::Data { .. } => NoteType::Data,
        }
    }

    /// The command (§4).
    pub fn command(&self) -> Command {
        match &self.body {
            Body::Request(r) => r.command(),
            Body::Response { response, .. } => response.command(),
            Body::Notification { notification, .. } => notification.command(),
            Body::Data { data, .. } => data.command(),
        }
    }

    /// The peer block, for every type but requests.
    pub fn peer(&self) -> Option<&PeerInfo> {
        match &self.body {
            Body::Request(_) => None,
            Body::Response { peer, .. }
            | Body::Notification { peer, .. }
            | Body::Data { peer, .. } => Some(peer),
        }
    }
}
