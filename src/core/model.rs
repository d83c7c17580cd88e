//! The things the core reasons about, in the core's own words: the server's
//! events, permission and question requests, the user's replies, how to stop
//! a process. `server/` parses the wire into these, `platform/` and the
//! daemon carry them out; the core imports neither.
//!
//! The serde derives describe the server's JSON shapes the parser reads
//! straight into (and the status contract writes out).

use serde::Deserialize;

/// One event from the server, with the project directory it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerEvent {
    /// The instance directory (global stream only; `None` for server-wide events).
    pub directory: Option<String>,
    pub kind: EventKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum EventKind {
    SessionUpserted(SessionInfo),
    SessionDeleted {
        session_id: String,
    },
    SessionStatus {
        session_id: String,
        status: SessionStatus,
    },
    SessionIdle {
        session_id: String,
    },
    SessionError {
        session_id: Option<String>,
        error: SessionError,
    },
    MessageUpdated(MessageInfo),
    PartUpdated(PartInfo),
    PartDelta(PartDelta),
    PermissionAsked(PermissionRequest),
    PermissionReplied {
        session_id: String,
        request_id: String,
        /// The user answered "reject": the agent's loop ends.
        rejected: bool,
    },
    QuestionAsked(QuestionRequest),
    /// `question.replied` or `question.rejected`: either way it is no longer pending.
    QuestionClosed {
        session_id: String,
        request_id: String,
        /// The question was dismissed (`question.rejected`): the agent's loop ends.
        rejected: bool,
    },
    Connected,
    Heartbeat,
    /// A type Nexus does not act on (including `sync` duplicates).
    Other,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SessionInfo {
    pub id: String,
    #[serde(default)]
    pub directory: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default, rename = "parentID")]
    pub parent_id: Option<String>,
    #[serde(default)]
    pub cost: Option<f64>,
    #[serde(default)]
    pub tokens: Option<Tokens>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize, serde::Serialize)]
pub struct Tokens {
    #[serde(default)]
    pub input: u64,
    #[serde(default)]
    pub output: u64,
    #[serde(default)]
    pub reasoning: u64,
    #[serde(default)]
    pub cache: CacheTokens,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize, serde::Serialize)]
pub struct CacheTokens {
    #[serde(default)]
    pub read: u64,
    #[serde(default)]
    pub write: u64,
}

/// What a session is doing, as the server reports it.
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SessionStatus {
    Idle,
    Busy,
    Retry {
        #[serde(default)]
        attempt: u32,
        #[serde(default)]
        message: String,
        /// Epoch ms of the next attempt.
        #[serde(default)]
        next: u64,
    },
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SessionError {
    /// e.g. `APIError`, `MessageAbortedError`, `UnknownError`.
    pub name: String,
    pub message: String,
}

impl SessionError {
    /// A user abort is reported as an error by the server but is not a failure.
    pub fn is_abort(&self) -> bool {
        self.name == "MessageAbortedError"
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct MessageInfo {
    pub session_id: String,
    pub message_id: String,
    pub role: Role,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    User,
    Assistant,
    Other,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PartInfo {
    pub session_id: String,
    pub message_id: String,
    pub part_id: String,
    pub kind: PartKind,
    /// The part's full text so far (text and reasoning parts).
    pub text: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartKind {
    Text,
    Reasoning,
    Tool,
    Other,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PartDelta {
    pub session_id: String,
    pub message_id: String,
    pub part_id: String,
    pub field: String,
    pub delta: String,
}

/// A tool waiting for the user's permission (`permission.asked`, `GET /permission`).
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
pub struct PermissionRequest {
    pub id: String,
    #[serde(rename(deserialize = "sessionID"))]
    pub session_id: String,
    /// The permission asked for, usually the tool name (`bash`, `edit`, …).
    #[serde(default)]
    pub permission: String,
    #[serde(default)]
    pub patterns: Vec<String>,
    /// Patterns that "always" would allow.
    #[serde(default)]
    pub always: Vec<String>,
    #[serde(default, skip_serializing)]
    metadata: PermissionMetadata,
    /// The command or file the tool wants, from the request's metadata.
    #[serde(skip_deserializing)]
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
struct PermissionMetadata {
    #[serde(default)]
    command: Option<String>,
    #[serde(default)]
    filepath: Option<String>,
}

impl PermissionRequest {
    /// Fills `detail` from the request's metadata (the command, else the file,
    /// else the patterns): the one line every view shows. The server's parser
    /// calls it after reading a request.
    pub fn with_detail(mut self) -> Self {
        self.detail = self
            .metadata
            .command
            .take()
            .or_else(|| self.metadata.filepath.take())
            .or_else(|| (!self.patterns.is_empty()).then(|| self.patterns.join(", ")));
        self
    }
}

/// The agent asking the user something (`question.asked`, `GET /question`).
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
pub struct QuestionRequest {
    pub id: String,
    #[serde(rename(deserialize = "sessionID"))]
    pub session_id: String,
    #[serde(default)]
    pub questions: Vec<Question>,
}

impl QuestionRequest {
    /// The first question's text ("" when there is none), for one-line views.
    pub fn first_question(&self) -> &str {
        self.questions
            .first()
            .map(|q| q.question.as_str())
            .unwrap_or("")
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
pub struct Question {
    #[serde(default)]
    pub question: String,
    #[serde(default)]
    pub header: String,
    #[serde(default)]
    pub options: Vec<QuestionOption>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
pub struct QuestionOption {
    pub label: String,
    #[serde(default)]
    pub description: String,
}

/// The user's answer to a permission request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PermissionReply {
    Once,
    Always,
    Reject,
}

impl PermissionReply {
    /// The server's name for it (`POST /permission/{id}/reply`).
    pub fn as_str(self) -> &'static str {
        match self {
            PermissionReply::Once => "once",
            PermissionReply::Always => "always",
            PermissionReply::Reject => "reject",
        }
    }
}

/// Which signal to send when stopping a process group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopSignal {
    /// Ask politely (SIGTERM): the server exits at once on it.
    Terminate,
    /// Force (SIGKILL), after the grace period.
    Kill,
}
