//! One JSON object per line, both ways. A connection carries one request;
//! streaming commands (ask, logs --follow) answer with many lines.

use crate::core::ServerState;
pub use crate::core::popover_lifecycle::{OpenRequest, PopoverView, ScreenPoint};
use crate::core::resource_use::ResourceUse;
use serde::{Deserialize, Serialize};

/// The largest line either side accepts.
pub const MAX_LINE_BYTES: usize = 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Request {
    // Field-less commands are empty structs: serde ignores extra fields on
    // unit variants of an internally tagged enum, and we reject them.
    Status {},
    Server {
        action: ServerAction,
    },
    Ask {
        text: String,
        #[serde(default)]
        directory: Option<String>,
        #[serde(default)]
        session: Option<String>,
        /// `provider/model`.
        #[serde(default)]
        model: Option<String>,
        #[serde(default)]
        agent: Option<String>,
    },
    /// Sent on an `ask` connection: abort the session (Ctrl-C).
    Abort {},
    WaitIdle {},
    Logs {
        #[serde(default)]
        follow: bool,
    },
    Quit {},
    /// The diagnostics report (as text).
    Diagnostics {},
    /// Show the quick-chat popover (starting its process when needed);
    /// answered once it has painted.
    Open {
        #[serde(default)]
        session: Option<String>,
        #[serde(default)]
        anchor: Option<ScreenPoint>,
        /// The page to show (chat, settings, setup, logs, pair).
        #[serde(default)]
        view: Option<PopoverView>,
    },
    /// The managed server's process tree, measured now.
    Metrics {},
    /// Sent by the popover process: this connection becomes its link
    /// (`ToPopover` lines from the daemon, `FromPopover` lines back).
    PopoverAttach {
        pid: u32,
    },
    /// Sent by the gateway process: this connection carries it the page's
    /// setup and the server's address (`ToPopover::Setup` and `::Server`
    /// lines), now and whenever they change, until either side goes.
    GatewayAttach {},
}

/// How the popover reaches the OpenCode server. Crosses only the private
/// control socket; never logged (Debug hides the password).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerAccess {
    pub url: String,
    pub username: String,
    pub password: Option<String>,
}

impl std::fmt::Debug for ServerAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerAccess")
            .field("url", &self.url)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .finish()
    }
}

/// What the popover needs to know once, when it attaches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PopoverSetup {
    /// Project directories to offer (config `projects`, the server's directory).
    pub directories: Vec<String>,
    pub default_directory: String,
    /// Seconds to stay alive while hidden.
    pub keep_alive_secs: u64,
    /// Whether losing focus hides the window.
    pub hide_on_blur: bool,
    /// The settings in use, as the settings page's values (no secrets: the
    /// config holds none).
    pub settings: serde_json::Map<String, serde_json::Value>,
}

/// What the popover's status line shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PopoverStatus {
    pub state: ServerState,
    /// One line, as in the tray menu.
    pub line: String,
    /// The managed server's process tree; `None` without one.
    pub resource_use: Option<ResourceUse>,
}

impl PopoverStatus {
    /// The page's `status` message.
    pub fn to_page(&self) -> serde_json::Value {
        serde_json::json!({
            "type": "status",
            "state": self.state,
            "line": self.line,
            "metrics": self.resource_use.map(|r| serde_json::json!({
                "cpu_percent": r.cpu_percent,
                "memory_bytes": r.memory_bytes,
                "processes": r.processes,
            })),
        })
    }
}

/// Daemon → popover, one per line on the popover's link.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ToPopover {
    Setup {
        setup: PopoverSetup,
    },
    /// The server to talk to (`None` while Nexus has none running).
    Server {
        access: Option<ServerAccess>,
    },
    Show {
        request: OpenRequest,
    },
    /// The server's state for the popover's status line (while it is shown).
    Status {
        status: PopoverStatus,
    },
    /// The answer to the popover's request `id` (`SaveSettings`,
    /// `SetAutostart`, `FollowLog`): the page's answer, or why there is none.
    Answer {
        id: u64,
        answer: Result<serde_json::Value, String>,
    },
    /// Server log lines, while the popover follows the log (after the
    /// `FollowLog` answer, which holds the lines before them).
    Log {
        lines: Vec<String>,
    },
    /// Exit now (Nexus is quitting).
    Quit {},
}

/// Popover → daemon, one per line on the popover's link.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum FromPopover {
    /// The window for the open with this token has painted.
    Painted { token: u64 },
    /// The window was hidden.
    Hidden {},
    /// The session on screen (`None`: none, or hidden).
    Focus { session: Option<String> },
    /// Save the settings page's values (the user already confirmed any
    /// guarded change): the daemon validates them with the file's rules,
    /// writes `config.toml` and applies it at once; answered with `Answer`.
    SaveSettings {
        id: u64,
        values: serde_json::Map<String, serde_json::Value>,
    },
    /// Turn start at login on or off; answered with the real state afterwards.
    SetAutostart { id: u64, enabled: bool },
    /// Start following the server log (answered with its last lines, then
    /// `Log` batches) or stop.
    FollowLog { id: u64, on: bool },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ServerAction {
    Start,
    Stop,
    Restart,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Reply {
    Status {
        status: serde_json::Value,
        text: String,
    },
    Ok {
        message: String,
    },
    Error {
        message: String,
    },
    /// `ask`: the session the prompt went to.
    Session {
        id: String,
    },
    /// `ask`: reply text as it streams.
    Text {
        text: String,
    },
    /// `ask`: the turn ended.
    Done,
    /// `ask`: the turn was aborted.
    Aborted,
    Log {
        line: String,
    },
    /// `metrics`: the managed server's process tree (`None`: no server process).
    Metrics {
        metrics: Option<ResourceUse>,
        text: String,
    },
}

impl Reply {
    pub fn error(message: impl Into<String>) -> Self {
        Reply::Error {
            message: message.into(),
        }
    }
}

/// Encodes one message as a line.
pub fn encode<T: Serialize>(message: &T) -> String {
    let mut line = serde_json::to_string(message).unwrap_or_else(|e| {
        serde_json::to_string(&Reply::error(format!("cannot encode reply: {e}")))
            .unwrap_or_default()
    });
    line.push('\n');
    line
}

/// Decodes and validates one line.
pub fn decode<'a, T: Deserialize<'a>>(line: &'a str) -> Result<T, String> {
    if line.len() > MAX_LINE_BYTES {
        return Err(format!(
            "message too large ({} bytes, at most {MAX_LINE_BYTES})",
            line.len()
        ));
    }
    serde_json::from_str(line.trim_end()).map_err(|e| format!("invalid message: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip() {
        let req = Request::Ask {
            text: "hi".into(),
            directory: Some("/p".into()),
            session: None,
            model: Some("mock/echo".into()),
            agent: None,
        };
        assert_eq!(decode::<Request>(&encode(&req)).unwrap(), req);
        assert_eq!(
            decode::<Request>(r#"{"cmd":"server","action":"restart"}"#).unwrap(),
            Request::Server {
                action: ServerAction::Restart
            }
        );
    }

    #[test]
    fn the_popover_asks_the_daemon_for_writes_and_the_log() {
        let values = serde_json::json!({"server.port": 4096})
            .as_object()
            .unwrap()
            .clone();
        for request in [
            FromPopover::SaveSettings { id: 3, values },
            FromPopover::SetAutostart {
                id: 4,
                enabled: true,
            },
            FromPopover::FollowLog { id: 5, on: true },
        ] {
            assert_eq!(decode::<FromPopover>(&encode(&request)).unwrap(), request);
        }
        // Nexus's own files are the daemon's: the popover has no way to say
        // it wrote one itself.
        assert!(decode::<FromPopover>(r#"{"kind":"autostart","enabled":true}"#).is_err());
        for answer in [
            ToPopover::Answer {
                id: 3,
                answer: Ok(serde_json::json!({"saved": true})),
            },
            ToPopover::Answer {
                id: 4,
                answer: Err("cannot write".into()),
            },
            ToPopover::Log {
                lines: vec!["a line".into()],
            },
        ] {
            assert_eq!(decode::<ToPopover>(&encode(&answer)).unwrap(), answer);
        }
    }

    #[test]
    fn unknown_fields_commands_and_oversize_are_rejected() {
        assert!(decode::<Request>(r#"{"cmd":"status","extra":1}"#).is_err());
        assert!(decode::<Request>(r#"{"cmd":"rm-rf"}"#).is_err());
        assert!(decode::<Request>("not json").is_err());
        let huge = format!(r#"{{"cmd":"ask","text":"{}"}}"#, "x".repeat(MAX_LINE_BYTES));
        assert!(decode::<Request>(&huge).unwrap_err().contains("too large"));
    }
}
