//! The numeric codes of the protocol: note types (§3.2), commands (§4),
//! roles (§1.1) and the option, location and error enumerations (§5, §7).

use core::fmt;

use super::NoteError;

/// The first value of every note (§3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NoteType {
    /// 0: sent by a client (or the reports server) to peers.
    Request,
    /// 1: a peer's reply, on `/mpt/maestro`.
    Response,
    /// 2: a peer's notification, on `/mpt/notifications`.
    Notification,
    /// 3: a result-file chunk, on `/mpt/logs`.
    Data,
}

impl NoteType {
    /// The wire code.
    pub const fn code(self) -> i64 {
        match self {
            NoteType::Request => 0,
            NoteType::Response => 1,
            NoteType::Notification => 2,
            NoteType::Data => 3,
        }
    }

    /// The Java name without its `MAESTRO_TYPE_` prefix.
    pub const fn name(self) -> &'static str {
        match self {
            NoteType::Request => "REQUEST",
            NoteType::Response => "RESPONSE",
            NoteType::Notification => "NOTIFICATION",
            NoteType::Data => "DATA",
        }
    }
}

impl TryFrom<i64> for NoteType {
    type Error = NoteError;

    /// Codes other than 0–3 are [`NoteError::UnknownNoteType`].
    fn try_from(code: i64) -> Result<Self, NoteError> {
        match code {
            0 => Ok(NoteType::Request),
            1 => Ok(NoteType::Response),
            2 => Ok(NoteType::Notification),
            3 => Ok(NoteType::Data),
            other => Err(NoteError::UnknownNoteType(other)),
        }
    }
}

impl fmt::Display for NoteType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.code())
    }
}

/// The second value of every note (§4). Codes the protocol does not
/// assign come out as [`Command::Unknown`]; [`super::decode`] rejects them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Command {
    /// 0 `MAESTRO_NOTE_START_WORKER`.
    StartWorker,
    /// 1 `MAESTRO_NOTE_STOP_WORKER`.
    StopWorker,
    /// 2 `MAESTRO_NOTE_START_TEST`.
    StartTest,
    /// 3 `MAESTRO_NOTE_STOP_TEST`.
    StopTest,
    /// 4 `MAESTRO_NOTE_START_INSPECTOR`.
    StartInspector,
    /// 5 `MAESTRO_NOTE_STOP_INSPECTOR`.
    StopInspector,
    /// 7 `MAESTRO_NOTE_SET`.
    Set,
    /// 8 `MAESTRO_NOTE_STATS`.
    Stats,
    /// 9 `MAESTRO_NOTE_HALT`.
    Halt,
    /// 10 `MAESTRO_NOTE_PING`.
    Ping,
    /// 11 `MAESTRO_NOTE_OK`.
    Ok,
    /// 12 `MAESTRO_NOTE_PROTOCOL_ERROR`.
    ProtocolError,
    /// 13 `MAESTRO_NOTE_INTERNAL_ERROR`.
    InternalError,
    /// 14 `MAESTRO_NOTE_ABNORMAL_DISCONNECT`.
    AbnormalDisconnect,
    /// 15 `MAESTRO_NOTE_NOTIFY_FAIL`.
    NotifyFail,
    /// 16 `MAESTRO_NOTE_NOTIFY_SUCCESS`.
    NotifySuccess,
    /// 17 `MAESTRO_NOTE_GET`.
    Get,
    /// 18 `MAESTRO_NOTE_START_AGENT`.
    StartAgent,
    /// 19 `MAESTRO_NOTE_STOP_AGENT`.
    StopAgent,
    /// 21 `MAESTRO_NOTE_AGENT_SOURCE`.
    AgentSource,
    /// 30 `MAESTRO_NOTE_USER_COMMAND_1`.
    UserCommand1,
    /// 40 `MAESTRO_NOTE_LOG`.
    Log,
    /// 41 `MAESTRO_NOTE_DRAIN`.
    Drain,
    /// 42 `MAESTRO_NOTE_NOTIFY_DRAIN_COMPLETE`.
    NotifyDrainComplete,
    /// 50 `MAESTRO_NOTE_GROUP_JOIN`.
    GroupJoin,
    /// 51 `MAESTRO_NOTE_GROUP_LEAVE`.
    GroupLeave,
    /// 60 `MAESTRO_NOTE_ROLE_ASSIGN`.
    RoleAssign,
    /// 61 `MAESTRO_NOTE_ROLE_UNASSIGN`.
    RoleUnassign,
    /// 70 `MAESTRO_NOTE_NOTIFY_TEST_STARTED`.
    NotifyTestStarted,
    /// Any code not listed above (6, 20, 22–29, …).
    Unknown(i64),
}

impl Command {
    /// Every assigned command, in code order.
    pub const ALL: [Command; 29] = [
        Command::StartWorker,
        Command::StopWorker,
        Command::StartTest,
        Command::StopTest,
        Command::StartInspector,
        Command::StopInspector,
        Command::Set,
        Command::Stats,
        Command::Halt,
        Command::Ping,
        Command::Ok,
        Command::ProtocolError,
        Command::InternalError,
        Command::AbnormalDisconnect,
        Command::NotifyFail,
        Command::NotifySuccess,
        Command::Get,
        Command::StartAgent,
        Command::StopAgent,
        Command::AgentSource,
        Command::UserCommand1,
        Command::Log,
        Command::Drain,
        Command::NotifyDrainComplete,
        Command::GroupJoin,
        Command::GroupLeave,
        Command::RoleAssign,
        Command::RoleUnassign,
        Command::NotifyTestStarted,
    ];

    /// The wire code.
    pub const fn code(self) -> i64 {
        match self {
            Command::StartWorker => 0,
            Command::StopWorker => 1,
            Command::StartTest => 2,
            Command::StopTest => 3,
            Command::StartInspector => 4,
            Command::StopInspector => 5,
            Command::Set => 7,
            Command::Stats => 8,
            Command::Halt => 9,
            Command::Ping => 10,
            Command::Ok => 11,
            Command::ProtocolError => 12,
            Command::InternalError => 13,
            Command::AbnormalDisconnect => 14,
            Command::NotifyFail => 15,
            Command::NotifySuccess => 16,
            Command::Get => 17,
            Command::StartAgent => 18,
            Command::StopAgent => 19,
            Command::AgentSource => 21,
            Command::UserCommand1 => 30,
            Command::Log => 40,
            Command::Drain => 41,
            Command::NotifyDrainComplete => 42,
            Command::GroupJoin => 50,
            Command::GroupLeave => 51,
            Command::RoleAssign => 60,
            Command::RoleUnassign => 61,
            Command::NotifyTestStarted => 70,
            Command::Unknown(code) => code,
        }
    }

    /// The Java name without its `MAESTRO_NOTE_` prefix (`"UNKNOWN"` for
    /// unassigned codes).
    pub const fn name(self) -> &'static str {
        match self {
            Command::StartWorker => "START_WORKER",
            Command::StopWorker => "STOP_WORKER",
            Command::StartTest => "START_TEST",
            Command::StopTest => "STOP_TEST",
            Command::StartInspector => "START_INSPECTOR",
            Command::StopInspector => "STOP_INSPECTOR",
            Command::Set => "SET",
            Command::Stats => "STATS",
            Command::Halt => "HALT",
            Command::Ping => "PING",
            Command::Ok => "OK",
            Command::ProtocolError => "PROTOCOL_ERROR",
            Command::InternalError => "INTERNAL_ERROR",
            Command::AbnormalDisconnect => "ABNORMAL_DISCONNECT",
            Command::NotifyFail => "NOTIFY_FAIL",
            Command::NotifySuccess => "NOTIFY_SUCCESS",
            Command::Get => "GET",
            Command::StartAgent => "START_AGENT",
            Command::StopAgent => "STOP_AGENT",
            Command::AgentSource => "AGENT_SOURCE",
            Command::UserCommand1 => "USER_COMMAND_1",
            Command::Log => "LOG",
            Command::Drain => "DRAIN",
            Command::NotifyDrainComplete => "NOTIFY_DRAIN_COMPLETE",
            Command::GroupJoin => "GROUP_JOIN",
            Command::GroupLeave => "GROUP_LEAVE",
            Command::RoleAssign => "ROLE_ASSIGN",
            Command::RoleUnassign => "ROLE_UNASSIGN",
            Command::NotifyTestStarted => "NOTIFY_TEST_STARTED",
            Command::Unknown(_) => "UNKNOWN",
        }
    }

    /// Whether Java accepts this command in a note of type `note_type`
    /// (the combinations listed under §4).
    pub const fn allowed_in(self, note_type: NoteType) -> bool {
        use Command as C;
        match note_type {
            NoteType::Request => matches!(
                self,
                C::StartWorker
                    | C::StopWorker
                    | C::StartTest
                    | C::StopTest
                    | C::StartInspector
                    | C::StopInspector
                    | C::Set
                    | C::Stats
                    | C::Halt
                    | C::Ping
                    | C::Get
                    | C::StartAgent
                    | C::StopAgent
                    | C::AgentSource
                    | C::UserCommand1
                    | C::Log
                    | C::Drain
                    | C::GroupJoin
                    | C::GroupLeave
                    | C::RoleAssign
                    | C::RoleUnassign
            ),
            NoteType::Response => matches!(
                self,
                C::Stats
                    | C::Ping
                    | C::Ok
                    | C::ProtocolError
                    | C::InternalError
                    | C::Get
                    | C::UserCommand1
            ),
            NoteType::Notification => matches!(
                self,
                C::AbnormalDisconnect
                    | C::NotifyFail
                    | C::NotifySuccess
                    | C::NotifyDrainComplete
                    | C::NotifyTestStarted
            ),
            NoteType::Data => matches!(self, C::Log),
        }
    }
}

impl From<i64> for Command {
    /// Unassigned codes become [`Command::Unknown`].
    fn from(code: i64) -> Self {
        Command::ALL
            .iter()
            .copied()
            .find(|c| c.code() == code)
            .unwrap_or(Command::Unknown(code))
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.code())
    }
}

/// A peer's role (§1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Role {
    /// 0: unassigned or generic; what a fresh worker has.
    #[default]
    Other,
    /// 1.
    Sender,
    /// 2.
    Receiver,
    /// 3.
    Inspector,
    /// 4.
    Agent,
    /// 5.
    Exporter,
    /// 6.
    ReportsServer,
}

impl Role {
    /// Every role, in code order.
    pub const ALL: [Role; 7] = [
        Role::Other,
        Role::Sender,
        Role::Receiver,
        Role::Inspector,
        Role::Agent,
        Role::Exporter,
        Role::ReportsServer,
    ];

    /// The wire code.
    pub const fn code(self) -> i64 {
        match self {
            Role::Other => 0,
            Role::Sender => 1,
            Role::Receiver => 2,
            Role::Inspector => 3,
            Role::Agent => 4,
            Role::Exporter => 5,
            Role::ReportsServer => 6,
        }
    }

    /// The role for a code; unknown codes are [`Role::Other`], as in Java
    /// (§1.1).
    pub const fn from_code(code: i64) -> Role {
        match code {
            1 => Role::Sender,
            2 => Role::Receiver,
            3 => Role::Inspector,
            4 => Role::Agent,
            5 => Role::Exporter,
            6 => Role::ReportsServer,
            _ => Role::Other,
        }
    }

    /// The name used in topics and reports (§1.1), e.g. `"sender"`.
    pub const fn name(self) -> &'static str {
        match self {
            Role::Other => "other",
            Role::Sender => "sender",
            Role::Receiver => "receiver",
            Role::Inspector => "inspector",
            Role::Agent => "agent",
            Role::Exporter => "exporter",
            Role::ReportsServer => "reports-server",
        }
    }

    /// The role with this [`Role::name`].
    pub fn from_name(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.name() == name)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The option a SET request changes (§7). Values are always strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SetOption {
    /// 0: SUT URL (§7).
    Broker,
    /// 1: duration spec (§7).
    DurationType,
    /// 2: log level (deprecated; answered OK, ignored).
    LogLevel,
    /// 3: connections per worker, decimal.
    ParallelCount,
    /// 4: message size spec (§7).
    MessageSize,
    /// 5: throttle (deprecated; answered OK, ignored).
    Throttle,
    /// 6: messages/s per connection, `0` = unbounded.
    Rate,
    /// 7: fail-condition latency in ms, `0` = off.
    Fcl,
    /// 8: inspector management-interface URL.
    ManagementInterface,
    /// A code above 8; a worker should answer INTERNAL_ERROR.
    Unknown(i64),
}

impl SetOption {
    /// The wire code.
    pub const fn code(self) -> i64 {
        match self {
            SetOption::Broker => 0,
            SetOption::DurationType => 1,
            SetOption::LogLevel => 2,
            SetOption::ParallelCount => 3,
            SetOption::MessageSize => 4,
            SetOption::Throttle => 5,
            SetOption::Rate => 6,
            SetOption::Fcl => 7,
            SetOption::ManagementInterface => 8,
            SetOption::Unknown(code) => code,
        }
    }
}

impl From<i64> for SetOption {
    fn from(code: i64) -> Self {
        match code {
            0 => SetOption::Broker,
            1 => SetOption::DurationType,
            2 => SetOption::LogLevel,
            3 => SetOption::ParallelCount,
            4 => SetOption::MessageSize,
            5 => SetOption::Throttle,
            6 => SetOption::Rate,
            7 => SetOption::Fcl,
            8 => SetOption::ManagementInterface,
            other => SetOption::Unknown(other),
        }
    }
}

/// What a GET asks for (§5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GetOption {
    /// 0 `MAESTRO_NOTE_OPT_GET_DS`: the (deprecated) data server address.
    DataServer,
    /// Any other code.
    Unknown(i64),
}

impl GetOption {
    /// The wire code.
    pub const fn code(self) -> i64 {
        match self {
            GetOption::DataServer => 0,
            GetOption::Unknown(code) => code,
        }
    }
}

impl From<i64> for GetOption {
    fn from(code: i64) -> Self {
        match code {
            0 => GetOption::DataServer,
            other => GetOption::Unknown(other),
        }
    }
}

/// Which test directory a LOG note is about (§5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LocationType {
    /// 0: a named directory (the request carries the name).
    Any,
    /// 1: `lastSuccessful`.
    LastSuccess,
    /// 2: `lastFailed`.
    LastFailed,
    /// 3: `last`.
    Last,
    /// Any other code.
    Unknown(i64),
}

impl LocationType {
    /// The wire code.
    pub const fn code(self) -> i64 {
        match self {
            LocationType::Any => 0,
            LocationType::LastSuccess => 1,
            LocationType::LastFailed => 2,
            LocationType::Last => 3,
            LocationType::Unknown(code) => code,
        }
    }
}

impl From<i64> for LocationType {
    fn from(code: i64) -> Self {
        match code {
            0 => LocationType::Any,
            1 => LocationType::LastSuccess,
            2 => LocationType::LastFailed,
            3 => LocationType::Last,
            other => LocationType::Unknown(other),
        }
    }
}

/// The code of an INTERNAL_ERROR response (§5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ErrorCode {
    /// 0: a generic error.
    #[default]
    Unspecified,
    /// 10: transient; the Java client waits 10 s and retries START_TEST.
    TryAgain,
}

impl ErrorCode {
    /// The wire code.
    pub const fn code(self) -> i64 {
        match self {
            ErrorCode::Unspecified => 0,
            ErrorCode::TryAgain => 10,
        }
    }

    /// The code for a wire value; unknown values are
    /// [`ErrorCode::Unspecified`], as in Java (§5).
    pub const fn from_code(code: i64) -> ErrorCode {
        match code {
            10 => ErrorCode::TryAgain,
            _ => ErrorCode::Unspecified,
        }
    }
}
