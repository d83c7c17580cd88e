//! `ask`: prompt the server and stream the assistant's text back to the CLI.
//!
//! Subscribes to the watcher's events before prompting, so no delta is
//! missed; the turn ends at the first idle after busy. Ctrl-C in the CLI
//! (an `abort` line) or the CLI vanishing aborts the session.

use super::Shared;
use super::control::{Lines, Replies};
use crate::core::model::{EventKind, PartKind, Role, SessionStatus};
use crate::ipc::protocol::{self, Reply, Request};
use crate::server::client::Prompt;
use std::collections::{HashMap, HashSet};
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

pub(crate) struct Ask {
    pub text: String,
    pub directory: Option<String>,
    pub session: Option<String>,
    pub model: Option<String>,
    pub agent: Option<String>,
}

/// Splits `provider/model`.
pub(crate) fn parse_model(spec: &str) -> Result<(String, String), String> {
    match spec.split_once('/') {
        Some((p, m)) if !p.is_empty() && !m.is_empty() => Ok((p.to_string(), m.to_string())),
        _ => Err(format!(
            "--model {spec:?} is not PROVIDER/MODEL (e.g. anthropic/claude-sonnet-4)"
        )),
    }
}

/// What the stream of events means for this one turn.
#[derive(Default)]
struct Turn {
    assistant_messages: HashSet<String>,
    /// Text parts of the assistant and how much of each was already printed.
    printed: HashMap<String, usize>,
    seen_busy: bool,
}

enum Step {
    Text(String),
    Continue,
    Done,
    Failed(String),
    Aborted,
}

impl Turn {
    fn step(&mut self, kind: &EventKind, session: &str) -> Step {
        match kind {
            EventKind::MessageUpdated(m)
                if m.session_id == session && m.role == Role::Assistant =>
            {
                self.assistant_messages.insert(m.message_id.clone());
            }
            EventKind::PartUpdated(p)
                if p.session_id == session
                    && p.kind == PartKind::Text
                    && self.assistant_messages.contains(&p.message_id) =>
            {
                let done = self.printed.entry(p.part_id.clone()).or_insert(0);
                let text = p.text.as_deref().unwrap_or_default();
                if text.len() > *done && text.is_char_boundary(*done) {
                    let rest = text[*done..].to_string();
                    *done = text.len();
                    return Step::Text(rest);
                }
            }
            EventKind::PartDelta(d) if d.session_id == session && d.field == "text" => {
                if let Some(done) = self.printed.get_mut(&d.part_id) {
                    *done += d.delta.len();
                    return Step::Text(d.delta.clone());
                }
            }
            EventKind::SessionStatus { session_id, status } if session_id == session => {
                match status {
                    SessionStatus::Busy | SessionStatus::Retry { .. } => self.seen_busy = true,
                    SessionStatus::Idle if self.seen_busy => return Step::Done,
                    SessionStatus::Idle => {}
                }
            }
            EventKind::SessionIdle { session_id } if session_id == session && self.seen_busy => {
                return Step::Done;
            }
            EventKind::SessionError {
                session_id: Some(id),
                error,
            } if id == session => {
                return if error.is_abort() {
                    Step::Aborted
                } else {
                    Step::Failed(format!("{}: {}", error.name, error.message))
                };
            }
            _ => {}
        }
        Step::Continue
    }
}

pub(crate) async fn run(
    shared: &Shared,
    ask: Ask,
    reader: &mut Lines,
    replies: &mut Replies,
) -> std::io::Result<()> {
    let Some(client) = shared.server.borrow().clone() else {
        let state = shared.summary.borrow().state;
        return replies
            .send(&Reply::error(format!(
                "the server is not available (state: {})",
                state.as_str()
            )))
            .await;
    };
    let model = match ask.model.as_deref().map(parse_model).transpose() {
        Ok(m) => m,
        Err(e) => return replies.send(&Reply::error(e)).await,
    };
    let mut events = shared.server_events.subscribe();
    let directory = ask.directory.unwrap_or_else(|| {
        shared
            .config
            .borrow()
            .server
            .directory
            .display()
            .to_string()
    });
    let session = match ask.session {
        Some(id) => id,
        None => match client.create_session(Some(&directory), None).await {
            Ok(id) => id,
            Err(e) => {
                return replies
                    .send(&Reply::error(format!("cannot create a session: {e}")))
                    .await;
            }
        },
    };
    replies
        .send(&Reply::Session {
            id: session.clone(),
        })
        .await?;
    let prompt = Prompt {
        text: ask.text,
        model,
        agent: ask.agent,
    };
    if let Err(e) = client.prompt_async(&session, &prompt).await {
        return replies
            .send(&Reply::error(format!("cannot send the prompt: {e}")))
            .await;
    }

    let mut turn = Turn::default();
    let mut server = shared.server.clone();
    let mut abort_deadline: Option<tokio::time::Instant> = None;
    loop {
        let abort_wait = async {
            match abort_deadline {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            event = events.recv() => match event {
                Ok(event) => match turn.step(&event.kind, &session) {
                    Step::Text(text) => replies.send(&Reply::Text { text }).await?,
                    Step::Continue => {}
                    Step::Done if abort_deadline.is_some() => return replies.send(&Reply::Aborted).await,
                    Step::Done => return replies.send(&Reply::Done).await,
                    Step::Aborted => return replies.send(&Reply::Aborted).await,
                    Step::Failed(message) => return replies.send(&Reply::error(message)).await,
                },
                Err(RecvError::Lagged(n)) => tracing::warn!("ask fell {n} events behind; some text may be missing"),
                Err(RecvError::Closed) => return replies.send(&Reply::error("the daemon is shutting down")).await,
            },
            // Cancel-safe: half an `abort` line stays buffered across events.
            line = reader.next_line() => match line.map(|l| l.map(|l| protocol::decode::<Request>(&l))) {
                Ok(Some(Ok(Request::Abort {}))) => {
                    if let Err(e) = client.abort(&session).await {
                        return replies.send(&Reply::error(format!("cannot abort: {e}"))).await;
                    }
                    abort_deadline = Some(tokio::time::Instant::now() + Duration::from_secs(5));
                }
                Ok(Some(_)) => replies.send(&Reply::error("only abort is understood during ask")).await?,
                Err(e) => {
                    // Over-long or unreadable: the connection is closed; the turn is not left running.
                    let _ = client.abort(&session).await;
                    return replies.send(&Reply::error(e.to_string())).await;
                }
                Ok(None) => {
                    // The CLI went away mid-turn: do not leave the agent running for nobody.
                    let _ = client.abort(&session).await;
                    return Ok(());
                }
            },
            _ = abort_wait => return replies.send(&Reply::Aborted).await,
            changed = server.changed() => {
                if changed.is_err() || server.borrow().is_none() {
                    return replies.send(&Reply::error("the server stopped during the reply")).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::events::parse_event;

    fn kinds(lines: &[&str]) -> Vec<EventKind> {
        lines.iter().map(|l| parse_event(l).unwrap().kind).collect()
    }

    #[test]
    fn streams_assistant_text_once_and_ends_at_idle_after_busy() {
        let mut turn = Turn::default();
        let mut out = String::new();
        let mut ended = false;
        for kind in kinds(&[
            r#"{"type":"session.status","properties":{"sessionID":"s","status":{"type":"idle"}}}"#,
            r#"{"type":"message.part.updated","properties":{"part":{"id":"u1","sessionID":"s","messageID":"mu","type":"text","text":"the question"}}}"#,
            r#"{"type":"session.status","properties":{"sessionID":"s","status":{"type":"busy"}}}"#,
            r#"{"type":"message.updated","properties":{"info":{"id":"m1","sessionID":"s","role":"assistant"}}}"#,
            r#"{"type":"message.part.updated","properties":{"part":{"id":"t1","sessionID":"s","messageID":"m1","type":"text","text":""}}}"#,
            r#"{"type":"message.part.delta","properties":{"sessionID":"s","messageID":"m1","partID":"t1","field":"text","delta":"echo: "}}"#,
            r#"{"type":"message.part.delta","properties":{"sessionID":"other","messageID":"m9","partID":"t9","field":"text","delta":"NOT MINE"}}"#,
            r#"{"type":"message.part.delta","properties":{"sessionID":"s","messageID":"m1","partID":"t1","field":"text","delta":"hi"}}"#,
            r#"{"type":"message.part.updated","properties":{"part":{"id":"t1","sessionID":"s","messageID":"m1","type":"text","text":"echo: hi!"}}}"#,
            r#"{"type":"session.status","properties":{"sessionID":"s","status":{"type":"idle"}}}"#,
        ]) {
            match turn.step(&kind, "s") {
                Step::Text(t) => out.push_str(&t),
                Step::Done => ended = true,
                _ => {}
            }
        }
        assert_eq!(out, "echo: hi!");
        assert!(ended);
    }

    #[test]
    fn errors_and_aborts_end_the_turn() {
        let mut turn = Turn::default();
        let err = kinds(&[
            r#"{"type":"session.error","properties":{"sessionID":"s","error":{"name":"APIError","data":{"message":"mock failure 401"}}}}"#,
        ]);
        assert!(
            matches!(turn.step(&err[0], "s"), Step::Failed(m) if m.contains("mock failure 401"))
        );
        let abort = kinds(&[
            r#"{"type":"session.error","properties":{"sessionID":"s","error":{"name":"MessageAbortedError"}}}"#,
        ]);
        assert!(matches!(turn.step(&abort[0], "s"), Step::Aborted));
    }

    #[test]
    fn model_spec_must_have_provider_and_model() {
        assert_eq!(
            parse_model("mock/echo").unwrap(),
            ("mock".into(), "echo".into())
        );
        assert_eq!(parse_model("openrouter/a/b").unwrap().1, "a/b");
        assert!(parse_model("echo").is_err());
        assert!(parse_model("/echo").is_err());
    }
}
