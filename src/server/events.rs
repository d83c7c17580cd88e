//! The server's event stream, parsed into the few shapes Nexus acts on.
//!
//! Both envelopes are accepted: `/global/event` wraps each event as
//! `{"directory","project","payload":{id,type,properties}}`, `/event` sends
//! `{id,type,properties}` bare. Unknown types become `EventKind::Other` and are
//! ignored; malformed JSON is an error the caller counts and drops.

use crate::core::model::{
    EventKind, MessageInfo, PartDelta, PartInfo, PartKind, PermissionRequest, QuestionRequest,
    Role, ServerEvent, SessionError, SessionInfo, SessionStatus,
};
use serde::Deserialize;
use serde_json::value::RawValue;

/// Why an event could not be read.
#[derive(Debug, thiserror::Error)]
#[error("malformed event: {0}")]
pub struct MalformedEvent(#[from] serde_json::Error);

/// Parses one `data:` payload from either event stream.
pub fn parse_event(data: &str) -> Result<ServerEvent, MalformedEvent> {
    #[derive(Deserialize)]
    struct Payload<'a> {
        #[serde(rename = "type")]
        kind: &'a str,
        #[serde(default, borrow)]
        properties: Option<&'a RawValue>,
    }
    // One pass over the envelope: `payload` is read in place, not re-scanned.
    #[derive(Deserialize)]
    struct Envelope<'a> {
        #[serde(default)]
        directory: Option<String>,
        #[serde(default, borrow)]
        payload: Option<Payload<'a>>,
        #[serde(default, rename = "type")]
        kind: Option<&'a str>,
        #[serde(default, borrow)]
        properties: Option<&'a RawValue>,
    }

    let envelope: Envelope = serde_json::from_str(data)?;
    let (kind, properties) = match (envelope.payload, envelope.kind) {
        (Some(payload), _) => (payload.kind, payload.properties),
        (None, Some(kind)) => (kind, envelope.properties),
        (None, None) => {
            return Ok(ServerEvent {
                directory: envelope.directory,
                kind: EventKind::Other,
            });
        }
    };
    let properties = properties.map(RawValue::get).unwrap_or("{}");
    Ok(ServerEvent {
        directory: envelope.directory,
        kind: parse_kind(kind, properties)?,
    })
}

fn parse_kind(kind: &str, props: &str) -> Result<EventKind, serde_json::Error> {
    use serde_json::from_str;

    #[derive(Deserialize)]
    struct SessionRef {
        #[serde(rename = "sessionID")]
        session_id: String,
    }
    #[derive(Deserialize)]
    struct WithInfo<T> {
        info: T,
    }
    #[derive(Deserialize)]
    struct Status {
        #[serde(rename = "sessionID")]
        session_id: String,
        status: SessionStatus,
    }
    #[derive(Deserialize)]
    struct ErrorProps {
        #[serde(default, rename = "sessionID")]
        session_id: Option<String>,
        #[serde(default)]
        error: Option<WireError>,
    }
    #[derive(Deserialize)]
    struct WireError {
        #[serde(default)]
        name: String,
        #[serde(default)]
        data: Option<WireErrorData>,
    }
    #[derive(Deserialize)]
    struct WireErrorData {
        #[serde(default)]
        message: Option<String>,
    }
    #[derive(Deserialize)]
    struct WireMessage {
        id: String,
        #[serde(rename = "sessionID")]
        session_id: String,
        #[serde(default)]
        role: String,
    }
    #[derive(Deserialize)]
    struct WirePart {
        id: String,
        #[serde(rename = "sessionID")]
        session_id: String,
        #[serde(rename = "messageID")]
        message_id: String,
        #[serde(rename = "type")]
        kind: String,
        #[serde(default)]
        text: Option<String>,
    }
    #[derive(Deserialize)]
    struct WithPart {
        part: WirePart,
    }
    #[derive(Deserialize)]
    struct WireDelta {
        #[serde(rename = "sessionID")]
        session_id: String,
        #[serde(rename = "messageID")]
        message_id: String,
        #[serde(rename = "partID")]
        part_id: String,
        field: String,
        delta: String,
    }
    #[derive(Deserialize)]
    struct Reply {
        #[serde(rename = "sessionID")]
        session_id: String,
        #[serde(rename = "requestID")]
        request_id: String,
        #[serde(default)]
        reply: Option<String>,
    }

    Ok(match kind {
        "session.created" | "session.updated" => {
            EventKind::SessionUpserted(from_str::<WithInfo<SessionInfo>>(props)?.info)
        }
        "session.deleted" => {
            #[derive(Deserialize)]
            struct Id {
                id: String,
            }
            EventKind::SessionDeleted {
                session_id: from_str::<WithInfo<Id>>(props)?.info.id,
            }
        }
        "session.status" => {
            let s: Status = from_str(props)?;
            EventKind::SessionStatus {
                session_id: s.session_id,
                status: s.status,
            }
        }
        "session.idle" => EventKind::SessionIdle {
            session_id: from_str::<SessionRef>(props)?.session_id,
        },
        "session.error" => {
            let e: ErrorProps = from_str(props)?;
            let (name, message) = match e.error {
                Some(err) => {
                    let message = err.data.and_then(|d| d.message).unwrap_or_default();
                    (err.name, message)
                }
                None => ("UnknownError".to_string(), String::new()),
            };
            EventKind::SessionError {
                session_id: e.session_id,
                error: SessionError { name, message },
            }
        }
        "message.updated" => {
            let m = from_str::<WithInfo<WireMessage>>(props)?.info;
            EventKind::MessageUpdated(MessageInfo {
                session_id: m.session_id,
                message_id: m.id,
                role: match m.role.as_str() {
                    "user" => Role::User,
                    "assistant" => Role::Assistant,
                    _ => Role::Other,
                },
            })
        }
        "message.part.updated" => {
            let p = from_str::<WithPart>(props)?.part;
            EventKind::PartUpdated(PartInfo {
                session_id: p.session_id,
                message_id: p.message_id,
                part_id: p.id,
                kind: match p.kind.as_str() {
                    "text" => PartKind::Text,
                    "reasoning" => PartKind::Reasoning,
                    "tool" => PartKind::Tool,
                    _ => PartKind::Other,
                },
                text: p.text,
            })
        }
        "message.part.delta" => {
            let d: WireDelta = from_str(props)?;
            EventKind::PartDelta(PartDelta {
                session_id: d.session_id,
                message_id: d.message_id,
                part_id: d.part_id,
                field: d.field,
                delta: d.delta,
            })
        }
        "permission.asked" => {
            EventKind::PermissionAsked(from_str::<PermissionRequest>(props)?.with_detail())
        }
        "permission.replied" => {
            let r: Reply = from_str(props)?;
            EventKind::PermissionReplied {
                rejected: r.reply.as_deref() == Some("reject"),
                session_id: r.session_id,
                request_id: r.request_id,
            }
        }
        "question.asked" => EventKind::QuestionAsked(from_str(props)?),
        "question.replied" | "question.rejected" => {
            let r: Reply = from_str(props)?;
            EventKind::QuestionClosed {
                rejected: kind == "question.rejected",
                session_id: r.session_id,
                request_id: r.request_id,
            }
        }
        "server.connected" => EventKind::Connected,
        "server.heartbeat" => EventKind::Heartbeat,
        _ => EventKind::Other,
    })
}

/// Parses `GET /permission` (a list in the `permission.asked` shape).
pub fn parse_permissions(body: &str) -> Result<Vec<PermissionRequest>, MalformedEvent> {
    let list: Vec<PermissionRequest> = serde_json::from_str(body)?;
    Ok(list
        .into_iter()
        .map(PermissionRequest::with_detail)
        .collect())
}

/// Parses `GET /question`.
pub fn parse_questions(body: &str) -> Result<Vec<QuestionRequest>, MalformedEvent> {
    Ok(serde_json::from_str(body)?)
}

/// Parses `GET /session/status`: non-idle sessions of one directory.
pub fn parse_statuses(body: &str) -> Result<Vec<(String, SessionStatus)>, MalformedEvent> {
    let map: std::collections::BTreeMap<String, SessionStatus> = serde_json::from_str(body)?;
    Ok(map.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_global_envelope_with_directory() {
        let ev = parse_event(
            r#"{"directory":"/p","project":"x","payload":{"id":"evt_1","type":"session.status","properties":{"sessionID":"ses_1","status":{"type":"busy"}}}}"#,
        )
        .unwrap();
        assert_eq!(ev.directory.as_deref(), Some("/p"));
        assert_eq!(
            ev.kind,
            EventKind::SessionStatus {
                session_id: "ses_1".into(),
                status: SessionStatus::Busy
            }
        );
    }

    #[test]
    fn parses_retry_status() {
        let ev = parse_event(r#"{"type":"session.status","properties":{"sessionID":"s","status":{"type":"retry","attempt":2,"message":"down","next":5}}}"#).unwrap();
        assert_eq!(
            ev.kind,
            EventKind::SessionStatus {
                session_id: "s".into(),
                status: SessionStatus::Retry {
                    attempt: 2,
                    message: "down".into(),
                    next: 5
                }
            }
        );
    }

    #[test]
    fn permission_detail_comes_from_metadata_command() {
        let ev = parse_event(r#"{"type":"permission.asked","properties":{"id":"per_1","sessionID":"s","permission":"bash","patterns":["echo hi"],"metadata":{"command":"echo hi && ls"},"always":["echo *"]}}"#).unwrap();
        let EventKind::PermissionAsked(p) = ev.kind else {
            panic!("{ev:?}")
        };
        assert_eq!(p.detail.as_deref(), Some("echo hi && ls"));
        assert_eq!(p.permission, "bash");
    }

    #[test]
    fn unknown_types_and_sync_records_are_other() {
        for data in [
            r#"{"type":"lsp.updated","properties":{}}"#,
            r#"{"payload":{"type":"sync","syncEvent":{}}}"#,
            r#"{"directory":"/p"}"#,
        ] {
            assert_eq!(parse_event(data).unwrap().kind, EventKind::Other, "{data}");
        }
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        for data in [
            "",
            "{",
            "null",
            "[1,2]",
            r#"{"type":"session.status","properties":{"sessionID":5}}"#,
            "\u{0}",
        ] {
            assert!(parse_event(data).is_err(), "{data:?}");
        }
    }

    #[test]
    fn error_without_session_or_data_is_kept() {
        let ev = parse_event(
            r#"{"type":"session.error","properties":{"error":{"name":"ProviderAuthError"}}}"#,
        )
        .unwrap();
        assert_eq!(
            ev.kind,
            EventKind::SessionError {
                session_id: None,
                error: SessionError {
                    name: "ProviderAuthError".into(),
                    message: String::new()
                }
            }
        );
    }

    #[test]
    fn every_recorded_event_parses() {
        let sample = include_str!("../../tests/fixtures/opencode-events-sample.jsonl");
        let mut other = 0;
        for line in sample.lines() {
            let ev = parse_event(line).unwrap_or_else(|e| panic!("{e}: {line}"));
            if ev.kind == EventKind::Other {
                other += 1;
            }
        }
        // session.diff, catalog/reference/integration updates and instance disposal.
        assert_eq!(other, 26 + 5 + 3 + 3 + 1);
    }
}
