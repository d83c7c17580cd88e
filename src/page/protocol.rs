//! The messages between the quick-chat page and Rust (`ui/README.md` is the
//! page's side of this contract), and the allowlist of server calls.
//!
//! The page is treated as untrusted: every message is parsed strictly
//! (unknown types and fields, wrong types and oversized messages are
//! rejected), every id and directory is checked, and a `ServerCall` can only
//! become one of the fixed requests below — sessions, messages, prompts,
//! aborts, permission and question replies, providers and agents. There is
//! no way to name a route, so no shell, file, config or MCP call can be made.

use crate::server::routes;
pub use crate::server::routes::{ApiRequest, Method};
use serde::Deserialize;
use serde_json::{Value, json};

/// The largest message the page may send.
pub const MAX_PAGE_MESSAGE_BYTES: usize = 1024 * 1024;
/// The largest draft kept per key (UTF-8 bytes). The page gets this number
/// in `init` and says so by the composer when a draft is longer; it is small
/// enough that a draft message always fits in `MAX_PAGE_MESSAGE_BYTES`, even
/// when every character is one JSON escapes as `\u00XX` (six bytes).
pub const MAX_DRAFT_BYTES: usize = 128 * 1024;

/// A message from the page.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum FromPage {
    Ready {},
    Call {
        id: u64,
        call: ServerCall,
    },
    /// A call to Nexus itself (setup, settings, logs), answered like a `Call`.
    Nexus {
        id: u64,
        call: NexusCall,
    },
    Draft {
        key: String,
        text: String,
    },
    Hide {},
    OpenExternal {
        url: String,
    },
    Painted {
        token: u64,
    },
    FocusSession {
        session: Option<String>,
    },
    /// Render agent text: answered by `{"type":"markdown","id":…,"tree":…}`
    /// (`crate::markdown`'s tree). With `code_later` its code blocks come
    /// unhighlighted (`crate::markdown::Code::Later`), and such an answer is
    /// made before any other waiting one: the page shows text first and asks
    /// for each block's colours afterwards.
    Markdown {
        id: u64,
        text: String,
        #[serde(default)]
        code_later: bool,
    },
    /// Several `markdown` requests at once (a long answer's chunks, asked in
    /// one go), at most `MAX_MARKDOWN_BATCH`: each is answered as if it had
    /// come alone.
    MarkdownBatch {
        requests: Vec<MarkdownRequest>,
    },
}

/// The most requests one `markdown_batch` message may carry.
pub const MAX_MARKDOWN_BATCH: usize = 256;

/// One answer to a `markdown` request: `{"id":…,"tree":…}`, for
/// `markdown_answers`.
pub fn markdown_answer(id: u64, tree: &Value) -> String {
    json!({"id": id, "tree": tree}).to_string()
}

/// The page message for answers made by `markdown_answer`: one as
/// `{"type":"markdown","id":…,"tree":…}`, several as
/// `{"type":"markdown","answers":[…]}` (one message for a long answer's
/// hundred chunks instead of a hundred).
pub fn markdown_answers(mut answers: Vec<String>) -> String {
    if answers.len() == 1
        && let Some(answer) = answers.pop()
        && let Some(fields) = answer.strip_prefix('{')
    {
        return format!("{{\"type\":\"markdown\",{fields}");
    }
    format!(
        "{{\"type\":\"markdown\",\"answers\":[{}]}}",
        answers.join(",")
    )
}

/// One request of a `markdown_batch`: the fields of a `markdown` message.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarkdownRequest {
    pub id: u64,
    pub text: String,
    #[serde(default)]
    pub code_later: bool,
}

/// A model choice sent with a prompt.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelChoice {
    #[serde(rename = "providerID")]
    pub provider_id: String,
    #[serde(rename = "modelID")]
    pub model_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PermissionAnswer {
    Once,
    Always,
    Reject,
}

/// The server calls the page may ask for — all of them.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "name", rename_all = "snake_case", deny_unknown_fields)]
pub enum ServerCall {
    Sessions {
        directory: String,
        #[serde(default)]
        search: Option<String>,
    },
    CreateSession {
        directory: String,
    },
    RenameSession {
        session: String,
        title: String,
    },
    DeleteSession {
        session: String,
    },
    Messages {
        session: String,
        limit: u32,
        #[serde(default)]
        before: Option<String>,
    },
    Prompt {
        session: String,
        text: String,
        #[serde(default)]
        model: Option<ModelChoice>,
        #[serde(default)]
        agent: Option<String>,
    },
    Abort {
        session: String,
    },
    SessionStatus {
        directory: String,
    },
    Permissions {
        directory: String,
    },
    Questions {
        directory: String,
    },
    ReplyPermission {
        request: String,
        directory: String,
        reply: PermissionAnswer,
    },
    ReplyQuestion {
        request: String,
        directory: String,
        answers: Vec<Vec<String>>,
    },
    RejectQuestion {
        request: String,
        directory: String,
    },
    Providers {},
    Agents {},
}

/// The calls to Nexus itself the page may make — all of them.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "name", rename_all = "snake_case", deny_unknown_fields)]
pub enum NexusCall {
    /// The settings in use, their defaults, and any problem with the file.
    Settings {},
    /// Validate and write `config.toml` (the daemon applies it).
    SaveSettings {
        values: serde_json::Map<String, Value>,
    },
    /// Is `opencode` installed, is npm there, is the machine big enough.
    SetupCheck {},
    /// Install the supported opencode with npm (for the user, not system-wide).
    InstallOpencode {},
    SetAutostart {
        enabled: bool,
    },
    /// Start or stop following the server log.
    FollowLog {
        on: bool,
    },
    OpenLogFolder {},
    /// A one-time pairing code for a phone: its URL, QR code and the
    /// certificate's fingerprint (the pair page).
    RemotePair {},
    /// The remote gateway's state, signed-in devices and recent sign-ins
    /// (`opencode-nexus remote status --json`).
    RemoteStatus {},
    /// Sign a device out (`id`), or every device (`id` null or left out, as
    /// the page leaves out every unset field).
    RemoteRevoke {
        #[serde(default)]
        id: Option<String>,
    },
    /// Set the remote password; carried out only after the user confirms it
    /// in a native dialog, and never answered with the password.
    SetRemotePassword {
        password: RemotePassword,
    },
}

/// The new remote password the page sends: Debug (so every log line and
/// panic message) shows it hidden, and nothing echoes it.
#[derive(Clone, PartialEq, Deserialize)]
#[serde(transparent)]
pub struct RemotePassword(String);

impl RemotePassword {
    pub fn new(password: impl Into<String>) -> Self {
        RemotePassword(password.into())
    }

    /// The password itself, for hashing only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for RemotePassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RemotePassword(***)")
    }
}

/// A message the page sent that Rust will not act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// The call's id, when it was a call (so the page gets an answer).
    pub call_id: Option<u64>,
    pub reason: String,
}

/// Parses and validates one message from the page.
pub fn parse(text: &str) -> Result<FromPage, Rejected> {
    let reject = |call_id, reason: String| Rejected { call_id, reason };
    if text.len() > MAX_PAGE_MESSAGE_BYTES {
        return Err(reject(
            None,
            format!(
                "message too large ({} bytes, at most {MAX_PAGE_MESSAGE_BYTES})",
                text.len()
            ),
        ));
    }
    let value: Value =
        serde_json::from_str(text).map_err(|e| reject(None, format!("not JSON: {e}")))?;
    let call_id = (value["type"] == "call" || value["type"] == "nexus")
        .then(|| value["id"].as_u64())
        .flatten();
    let message: FromPage = serde_json::from_value(value)
        .map_err(|e| reject(call_id, format!("invalid message: {e}")))?;
    validate(&message).map_err(|reason| reject(call_id, reason))?;
    Ok(message)
}

fn validate(message: &FromPage) -> Result<(), String> {
    match message {
        FromPage::Call { call, .. } => call.validate(),
        FromPage::Nexus {
            call: NexusCall::SaveSettings { values },
            ..
        } => check(
            values.len() <= crate::config::form::KEYS.len() + 8,
            "settings (too many values)",
        ),
        FromPage::Nexus {
            call: NexusCall::RemoteRevoke { id },
            ..
        } => check(id.as_deref().is_none_or(is_id), "device id"),
        FromPage::Nexus {
            call: NexusCall::SetRemotePassword { password },
            ..
        } => crate::remote::password::check_new(password.expose()),
        FromPage::Nexus { .. } => Ok(()),
        FromPage::Draft { key, text } => {
            let valid_key = match key.split_once(':') {
                Some(("session", id)) => is_id(id),
                Some(("new", dir)) => is_directory(dir),
                _ => false,
            };
            check(valid_key && key.len() <= 4096, "draft key")?;
            check(text.len() <= MAX_DRAFT_BYTES, "draft text (too long)")
        }
        FromPage::OpenExternal { url } => check(is_web_url(url), "link (only http and https)"),
        FromPage::FocusSession { session } => {
            check(session.as_deref().is_none_or(is_id), "session id")
        }
        FromPage::MarkdownBatch { requests } => check(
            !requests.is_empty() && requests.len() <= MAX_MARKDOWN_BATCH,
            "markdown batch (1 to 256 requests)",
        ),
        FromPage::Ready {}
        | FromPage::Hide {}
        | FromPage::Painted { .. }
        | FromPage::Markdown { .. } => Ok(()),
    }
}

fn check(ok: bool, what: &str) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(format!("invalid {what}"))
    }
}

/// Session, message and request ids: `ses_…`, `per_…`, `que_…`.
pub fn is_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn is_directory(dir: &str) -> bool {
    dir.len() <= 4096 && std::path::Path::new(dir).is_absolute() && !dir.contains('\0')
}

fn is_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.:/@".contains(&b))
}

pub fn is_web_url(url: &str) -> bool {
    (url.starts_with("https://") || url.starts_with("http://"))
        && url.len() <= 4096
        && !url.chars().any(char::is_control)
}

impl ServerCall {
    fn validate(&self) -> Result<(), String> {
        use ServerCall::*;
        match self {
            Sessions { directory, search } => {
                check(is_directory(directory), "directory")?;
                check(search.as_ref().is_none_or(|s| s.len() <= 256), "search")
            }
            CreateSession { directory }
            | SessionStatus { directory }
            | Permissions { directory }
            | Questions { directory } => check(is_directory(directory), "directory"),
            RenameSession { session, title } => {
                check(is_id(session), "session id")?;
                check(!title.trim().is_empty() && title.len() <= 512, "title")
            }
            DeleteSession { session } | Abort { session } => check(is_id(session), "session id"),
            Messages {
                session,
                limit,
                before,
            } => {
                check(is_id(session), "session id")?;
                check((1..=200).contains(limit), "limit (1–200)")?;
                check(
                    before
                        .as_ref()
                        .is_none_or(|c| c.len() <= 1024 && !c.chars().any(char::is_control)),
                    "cursor",
                )
            }
            Prompt {
                session,
                text,
                model,
                agent,
            } => {
                check(is_id(session), "session id")?;
                check(!text.trim().is_empty(), "prompt (empty)")?;
                check(
                    model
                        .as_ref()
                        .is_none_or(|m| is_name(&m.provider_id) && is_name(&m.model_id)),
                    "model",
                )?;
                check(agent.as_deref().is_none_or(is_name), "agent")
            }
            ReplyPermission {
                request, directory, ..
            }
            | RejectQuestion { request, directory } => {
                check(is_id(request), "request id")?;
                check(is_directory(directory), "directory")
            }
            ReplyQuestion {
                request,
                directory,
                answers,
            } => {
                check(is_id(request), "request id")?;
                check(is_directory(directory), "directory")?;
                check(
                    !answers.is_empty()
                        && answers.len() <= 16
                        && answers
                            .iter()
                            .all(|a| a.len() <= 16 && a.iter().all(|l| l.len() <= 1024)),
                    "answers",
                )
            }
            Providers {} | Agents {} => Ok(()),
        }
    }

    /// The HTTP requests this call is made of (the only ones the page can
    /// cause), each one of the server's routes (`server::routes`).
    pub fn requests(&self) -> Vec<ApiRequest> {
        use ServerCall::*;
        match self {
            Sessions { directory, search } => vec![routes::sessions(
                directory,
                search.as_deref().map(str::trim).filter(|s| !s.is_empty()),
            )],
            CreateSession { directory } => vec![routes::create_session(Some(directory), None)],
            RenameSession { session, title } => vec![routes::rename_session(session, title.trim())],
            DeleteSession { session } => vec![routes::delete_session(session)],
            Messages {
                session,
                limit,
                before,
            } => vec![routes::messages(session, *limit, before.as_deref())],
            Prompt {
                session,
                text,
                model,
                agent,
            } => {
                let model = model
                    .as_ref()
                    .map(|m| (m.provider_id.as_str(), m.model_id.as_str()));
                let body = routes::prompt_body(text, model, agent.as_deref());
                vec![routes::prompt_async(session, body)]
            }
            Abort { session } => vec![routes::abort(session, Some(json!({})))],
            SessionStatus { directory } => vec![routes::session_status(directory)],
            Permissions { directory } => vec![routes::permissions(directory)],
            Questions { directory } => vec![routes::questions(directory)],
            ReplyPermission {
                request,
                directory,
                reply,
            } => {
                let reply = match reply {
                    PermissionAnswer::Once => "once",
                    PermissionAnswer::Always => "always",
                    PermissionAnswer::Reject => "reject",
                };
                vec![routes::reply_permission(request, Some(directory), reply)]
            }
            ReplyQuestion {
                request,
                directory,
                answers,
            } => vec![routes::reply_question(request, Some(directory), answers)],
            RejectQuestion { request, directory } => {
                vec![routes::reject_question(request, directory)]
            }
            // The connected providers, and the user's configured model (only
            // the `model` key of the config is ever passed on).
            Providers {} => vec![routes::providers(), routes::config()],
            Agents {} => vec![routes::agents()],
        }
    }
}

/// Shapes the server's answers into what the page gets. Only what the page
/// needs is passed on: provider `options` (which hold API keys) and the rest
/// of the config never reach it.
pub fn shape_answer(call: &ServerCall, answers: Vec<(Value, Option<String>)>) -> Value {
    let mut answers = answers.into_iter();
    let mut next = || answers.next().unwrap_or((Value::Null, None));
    match call {
        ServerCall::Sessions { .. } => {
            let (list, _) = next();
            Value::Array(
                list.as_array()
                    .into_iter()
                    .flatten()
                    .filter(|s| s["time"]["archived"].is_null())
                    .cloned()
                    .collect(),
            )
        }
        ServerCall::Messages { .. } => {
            let (messages, cursor) = next();
            json!({ "messages": messages, "before": cursor })
        }
        ServerCall::Prompt { .. } => Value::Null,
        ServerCall::Providers {} => {
            let (providers, _) = next();
            let (config, _) = next();
            let list: Vec<Value> = providers["providers"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| {
                    let mut models: Vec<Value> = p["models"]
                        .as_object()
                        .into_iter()
                        .flatten()
                        .map(
                            |(id, m)| json!({ "id": id, "name": m["name"].as_str().unwrap_or(id) }),
                        )
                        .collect();
                    models.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
                    json!({ "id": p["id"], "name": p["name"], "models": models })
                })
                .collect();
            let default = config["model"]
                .as_str()
                .filter(|m| m.contains('/'))
                .map(|m| json!(m))
                .unwrap_or(Value::Null);
            json!({ "providers": list, "default": default })
        }
        ServerCall::Agents {} => {
            let (agents, _) = next();
            Value::Array(
                agents
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|a| a["mode"] != "subagent" && a["hidden"] != true)
                    .map(|a| json!({ "name": a["name"], "description": a["description"] }))
                    .collect(),
            )
        }
        _ => next().0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(json: &str) -> Result<ServerCall, Rejected> {
        match parse(&format!(r#"{{"type":"call","id":7,"call":{json}}}"#))? {
            FromPage::Call { call, .. } => Ok(call),
            other => panic!("not a call: {other:?}"),
        }
    }

    #[test]
    fn nexus_calls_parse_strictly() {
        let nexus = |json: &str| parse(&format!(r#"{{"type":"nexus","id":4,"call":{json}}}"#));
        assert_eq!(
            nexus(r#"{"name":"follow_log","on":true}"#).unwrap(),
            FromPage::Nexus {
                id: 4,
                call: NexusCall::FollowLog { on: true }
            }
        );
        assert!(matches!(
            nexus(r#"{"name":"save_settings","values":{"server.port":4100}}"#).unwrap(),
            FromPage::Nexus {
                call: NexusCall::SaveSettings { .. },
                ..
            }
        ));
        let rejected = nexus(r#"{"name":"run_shell","command":"rm"}"#).unwrap_err();
        assert_eq!(rejected.call_id, Some(4), "still answered");
        assert!(nexus(r#"{"name":"set_autostart","enabled":"yes"}"#).is_err());
        assert!(nexus(r#"{"name":"settings","extra":1}"#).is_err());
    }

    #[test]
    fn remote_calls_parse_strictly_and_validate_their_fields() {
        let nexus = |json: &str| parse(&format!(r#"{{"type":"nexus","id":5,"call":{json}}}"#));
        let call = |json: &str| match nexus(json).unwrap() {
            FromPage::Nexus { call, .. } => call,
            other => panic!("not a nexus call: {other:?}"),
        };
        assert_eq!(call(r#"{"name":"remote_pair"}"#), NexusCall::RemotePair {});
        assert_eq!(
            call(r#"{"name":"remote_status"}"#),
            NexusCall::RemoteStatus {}
        );
        assert_eq!(
            call(r#"{"name":"remote_revoke","id":"d1a2b3c4"}"#),
            NexusCall::RemoteRevoke {
                id: Some("d1a2b3c4".into())
            }
        );
        assert_eq!(
            call(r#"{"name":"remote_revoke","id":null}"#),
            NexusCall::RemoteRevoke { id: None }
        );
        assert_eq!(
            call(r#"{"name":"remote_revoke"}"#),
            NexusCall::RemoteRevoke { id: None },
            "the page leaves unset fields out"
        );
        assert_eq!(
            call(r#"{"name":"set_remote_password","password":"correct horse battery"}"#),
            NexusCall::SetRemotePassword {
                password: RemotePassword::new("correct horse battery")
            }
        );
        for bad in [
            r#"{"name":"remote_pair","token":"x"}"#,
            r#"{"name":"remote_status","all":true}"#,
            r#"{"name":"remote_revoke","all":true}"#,
            r#"{"name":"remote_revoke","id":"../remote.json"}"#,
            r#"{"name":"remote_revoke","id":"a b"}"#,
            r#"{"name":"remote_revoke","id":""}"#,
            r#"{"name":"remote_revoke","id":7}"#,
            r#"{"name":"set_remote_password"}"#,
            r#"{"name":"set_remote_password","password":["x"]}"#,
            r#"{"name":"set_remote_password","password":"correct horse battery","hash":"x"}"#,
        ] {
            let rejected = nexus(bad).unwrap_err();
            assert_eq!(rejected.call_id, Some(5), "{bad}: still answered");
        }
        let long = format!(
            "{{\"name\":\"remote_revoke\",\"id\":\"{}\"}}",
            "a".repeat(129)
        );
        assert!(nexus(&long).is_err());
    }

    #[test]
    fn a_remote_password_is_length_checked_and_never_shown() {
        let nexus = |json: &str| parse(&format!(r#"{{"type":"nexus","id":6,"call":{json}}}"#));
        let short = nexus(r#"{"name":"set_remote_password","password":"hunter2"}"#).unwrap_err();
        assert!(short.reason.contains("too short"), "{}", short.reason);
        assert!(!short.reason.contains("hunter2"));
        let huge = format!(
            r#"{{"name":"set_remote_password","password":"{}"}}"#,
            "p".repeat(crate::remote::password::MAX_PASSWORD_BYTES + 1)
        );
        let huge = nexus(&huge).unwrap_err();
        assert!(huge.reason.contains("too long"), "{}", huge.reason);
        assert!(!huge.reason.contains("ppppppppppp"));

        let secret = "correct horse battery staple";
        let message = nexus(&format!(
            r#"{{"name":"set_remote_password","password":"{secret}"}}"#
        ))
        .unwrap();
        // Debug is what a log line or a panic would show: the password is not in it.
        for shown in [
            format!("{message:?}"),
            format!("{message:#?}"),
            format!("{:?}", RemotePassword::new(secret)),
        ] {
            assert!(
                !shown.contains(secret) && !shown.contains("horse"),
                "{shown}"
            );
            assert!(shown.contains("***"), "{shown}");
        }
        match message {
            FromPage::Nexus {
                call: NexusCall::SetRemotePassword { password },
                ..
            } => assert_eq!(password.expose(), secret),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn page_messages_parse() {
        assert_eq!(parse(r#"{"type":"ready"}"#).unwrap(), FromPage::Ready {});
        assert_eq!(
            parse(r#"{"type":"painted","token":3}"#).unwrap(),
            FromPage::Painted { token: 3 }
        );
        assert_eq!(
            parse(r#"{"type":"draft","key":"session:ses_1","text":"hi"}"#).unwrap(),
            FromPage::Draft {
                key: "session:ses_1".into(),
                text: "hi".into()
            }
        );
        assert_eq!(
            parse(r#"{"type":"markdown","id":9,"text":"*hi*"}"#).unwrap(),
            FromPage::Markdown {
                id: 9,
                text: "*hi*".into(),
                code_later: false,
            }
        );
        assert_eq!(
            parse(r#"{"type":"markdown","id":9,"text":"*hi*","code_later":true}"#).unwrap(),
            FromPage::Markdown {
                id: 9,
                text: "*hi*".into(),
                code_later: true,
            }
        );
        assert!(parse(r#"{"type":"markdown","id":9,"text":"x","code_later":"yes"}"#).is_err());
        assert!(parse(r#"{"type":"markdown","id":9}"#).is_err());
        assert!(parse(r#"{"type":"markdown","id":9,"text":"x","html":true}"#).is_err());
        assert_eq!(
            parse(r#"{"type":"markdown_batch","requests":[{"id":1,"text":"a"},{"id":2,"text":"b","code_later":true}]}"#)
                .unwrap(),
            FromPage::MarkdownBatch {
                requests: vec![
                    MarkdownRequest { id: 1, text: "a".into(), code_later: false },
                    MarkdownRequest { id: 2, text: "b".into(), code_later: true },
                ]
            }
        );
        let batch = |count: usize| {
            let one = r#"{"id":1,"text":"x"}"#;
            format!(
                r#"{{"type":"markdown_batch","requests":[{}]}}"#,
                vec![one; count].join(",")
            )
        };
        assert!(parse(&batch(MAX_MARKDOWN_BATCH)).is_ok());
        assert!(parse(&batch(MAX_MARKDOWN_BATCH + 1)).is_err(), "too many");
        assert!(parse(&batch(0)).is_err(), "empty");
        assert!(
            parse(r#"{"type":"markdown_batch","requests":[{"id":1,"text":"x","html":1}]}"#)
                .is_err()
        );
        assert!(parse(r#"{"type":"markdown_batch","requests":[{"id":1}]}"#).is_err());
        assert_eq!(
            call(r#"{"name":"prompt","session":"ses_1","text":"hi","model":{"providerID":"mock","modelID":"echo"},"agent":"plan"}"#)
                .unwrap(),
            ServerCall::Prompt {
                session: "ses_1".into(),
                text: "hi".into(),
                model: Some(ModelChoice {
                    provider_id: "mock".into(),
                    model_id: "echo".into()
                }),
                agent: Some("plan".into())
            }
        );
    }

    #[test]
    fn unknown_types_fields_and_calls_are_rejected() {
        for bad in [
            r#"{"type":"eval","code":"x"}"#,
            r#"{"type":"ready","extra":1}"#,
            r#"{"type":"hide","now":true}"#,
            r#"not json"#,
            r#"{"type":"painted","token":"3"}"#,
        ] {
            let rejected = parse(bad).unwrap_err();
            assert_eq!(rejected.call_id, None, "{bad}");
        }
        // A rejected call still names its id, so the page gets an answer.
        for bad in [
            r#"{"name":"shell","command":"rm -rf ~"}"#,
            r#"{"name":"file","path":"/etc/passwd"}"#,
            r#"{"name":"config_update","config":{}}"#,
            r#"{"name":"mcp","server":"x"}"#,
            r#"{"name":"abort","session":"ses_1","path":"/x"}"#,
            r#"{"name":"sessions"}"#,
        ] {
            let rejected = call(bad).unwrap_err();
            assert_eq!(rejected.call_id, Some(7), "{bad}");
        }
    }

    #[test]
    fn ids_directories_and_sizes_are_checked() {
        for bad in [
            r#"{"name":"abort","session":"../../config"}"#,
            r#"{"name":"abort","session":"ses_1/../x"}"#,
            r#"{"name":"abort","session":""}"#,
            r#"{"name":"delete_session","session":"ses 1"}"#,
            r#"{"name":"sessions","directory":"relative/dir"}"#,
            r#"{"name":"permissions","directory":""}"#,
            r#"{"name":"messages","session":"ses_1","limit":0}"#,
            r#"{"name":"messages","session":"ses_1","limit":100000}"#,
            r#"{"name":"prompt","session":"ses_1","text":"   "}"#,
            r#"{"name":"prompt","session":"ses_1","text":"x","agent":"a b"}"#,
            r#"{"name":"reply_permission","request":"per_1","directory":"/p","reply":"sudo"}"#,
            r#"{"name":"reply_question","request":"que_1","directory":"/p","answers":[]}"#,
            r#"{"name":"rename_session","session":"ses_1","title":" "}"#,
        ] {
            assert!(call(bad).is_err(), "accepted {bad}");
        }
        let huge = format!(
            r#"{{"type":"call","id":1,"call":{{"name":"prompt","session":"s","text":"{}"}}}}"#,
            "x".repeat(MAX_PAGE_MESSAGE_BYTES)
        );
        assert!(parse(&huge).unwrap_err().reason.contains("too large"));
        let long_draft = format!(
            r#"{{"type":"draft","key":"new:/p","text":"{}"}}"#,
            "x".repeat(MAX_DRAFT_BYTES + 1)
        );
        assert!(parse(&long_draft).is_err());
        // The longest draft, escaped at the worst, under the longest key still fits.
        let worst = json!({
            "type": "draft",
            "key": format!("new:/{}", "\u{1}".repeat(4090)),
            "text": "\u{1}".repeat(MAX_DRAFT_BYTES),
        })
        .to_string();
        assert!(worst.len() <= MAX_PAGE_MESSAGE_BYTES, "{}", worst.len());
        assert!(parse(&worst).is_ok());
        assert!(parse(r#"{"type":"draft","key":"session:a/b","text":""}"#).is_err());
        assert!(parse(r#"{"type":"open_external","url":"file:///etc/passwd"}"#).is_err());
        assert!(parse(r#"{"type":"open_external","url":"javascript:alert(1)"}"#).is_err());
        assert!(parse(r#"{"type":"open_external","url":"https://opencode.ai/docs"}"#).is_ok());
    }

    /// Every call the page can make maps onto the allowlisted routes, and
    /// nothing else: sessions, messages, prompt, abort, permission and
    /// question routes, providers, the config's model, agents.
    #[test]
    fn every_call_stays_on_the_allowlist() {
        let calls = [
            r#"{"name":"sessions","directory":"/p","search":"fix"}"#,
            r#"{"name":"create_session","directory":"/p"}"#,
            r#"{"name":"rename_session","session":"ses_1","title":"New"}"#,
            r#"{"name":"delete_session","session":"ses_1"}"#,
            r#"{"name":"messages","session":"ses_1","limit":30,"before":"cur"}"#,
            r#"{"name":"prompt","session":"ses_1","text":"hi"}"#,
            r#"{"name":"abort","session":"ses_1"}"#,
            r#"{"name":"session_status","directory":"/p"}"#,
            r#"{"name":"permissions","directory":"/p"}"#,
            r#"{"name":"questions","directory":"/p"}"#,
            r#"{"name":"reply_permission","request":"per_1","directory":"/p","reply":"once"}"#,
            r#"{"name":"reply_question","request":"que_1","directory":"/p","answers":[["Yes"]]}"#,
            r#"{"name":"reject_question","request":"que_1","directory":"/p"}"#,
            r#"{"name":"providers"}"#,
            r#"{"name":"agents"}"#,
        ];
        let allowed = |r: &ApiRequest| {
            let p = r.path.as_str();
            let session_route = p == "/session"
                || p == "/session/status"
                || p.strip_prefix("/session/ses_1").is_some_and(|rest| {
                    ["", "/message", "/prompt_async", "/abort"].contains(&rest)
                });
            let request_route = ["/permission", "/question"].contains(&p)
                || p == "/permission/per_1/reply"
                || p == "/question/que_1/reply"
                || p == "/question/que_1/reject";
            let read_only = r.method == Method::Get;
            session_route
                || request_route
                || (read_only && ["/config/providers", "/config", "/agent"].contains(&p))
        };
        for c in calls {
            let requests = call(c).unwrap().requests();
            assert!(!requests.is_empty());
            for r in &requests {
                assert!(allowed(r), "{c} became {r:?}");
            }
        }
        // Directory-scoped routes carry the directory.
        let reply = call(
            r#"{"name":"reply_permission","request":"per_1","directory":"/p","reply":"always"}"#,
        )
        .unwrap()
        .requests();
        assert_eq!(reply[0].query, vec![("directory".into(), "/p".into())]);
        assert_eq!(reply[0].body, Some(json!({"reply":"always"})));
    }

    #[test]
    fn answers_pass_on_only_what_the_page_needs() {
        let providers = json!({"providers":[{"id":"mock","name":"Mock","options":{"apiKey":"sk-secret"},
            "models":{"echo":{"id":"echo","name":"Echo"}}}],"default":{"mock":"echo"}});
        let config =
            json!({"model":"mock/echo","provider":{"mock":{"options":{"apiKey":"sk-secret"}}}});
        let shaped = shape_answer(
            &ServerCall::Providers {},
            vec![(providers, None), (config, None)],
        );
        assert!(!shaped.to_string().contains("sk-secret"));
        assert_eq!(shaped["default"], "mock/echo");
        assert_eq!(shaped["providers"][0]["models"][0]["name"], "Echo");

        let agents = json!([{"name":"build","mode":"primary"},{"name":"plan","mode":"primary"},
            {"name":"explore","mode":"subagent"},{"name":"title","mode":"primary","hidden":true}]);
        let shaped = shape_answer(&ServerCall::Agents {}, vec![(agents, None)]);
        let names: Vec<&str> = shaped
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["build", "plan"]);

        let sessions = json!([{"id":"a","time":{}},{"id":"b","time":{"archived":1}}]);
        let shaped = shape_answer(
            &ServerCall::Sessions {
                directory: "/p".into(),
                search: None,
            },
            vec![(sessions, None)],
        );
        assert_eq!(shaped, json!([{"id":"a","time":{}}]));
    }

    #[test]
    fn answers_go_as_one_message_or_several_together() {
        let one = markdown_answers(vec![markdown_answer(1, &json!(["a"]))]);
        let one: serde_json::Value = serde_json::from_str(&one).unwrap();
        assert_eq!(
            one,
            serde_json::json!({"type": "markdown", "id": 1, "tree": ["a"]})
        );
        let many = markdown_answers(vec![
            markdown_answer(1, &json!(["a"])),
            markdown_answer(2, &json!([])),
        ]);
        let many: serde_json::Value = serde_json::from_str(&many).unwrap();
        assert_eq!(
            many,
            serde_json::json!({"type": "markdown", "answers": [{"id": 1, "tree": ["a"]}, {"id": 2, "tree": []}]})
        );
    }
}
