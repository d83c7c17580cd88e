//! The page's own subscription to the server's `/global/event` stream:
//! the chat-relevant events (sessions, messages, permissions, questions) go
//! to the page in batches — at most one per frame (~16 ms), so a fast stream
//! of text deltas costs the page one script call per frame, not one per delta.

use super::PageSink;
use crate::server::client::{ApiError, ServerClient};
use crate::server::sse::{ChunkGuard, OVERSIZED};
use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::time::Duration;

/// How long events gather before they go to the page.
const BATCH_WINDOW: Duration = Duration::from_millis(16);
/// The largest event passed on (bigger ones are dropped with a warning).
const MAX_EVENT_BYTES: usize = 1024 * 1024;
/// A stream silent this long is considered dead (the server sends heartbeats).
const SILENCE_LIMIT: Duration = Duration::from_secs(45);

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(default)]
    directory: Option<String>,
    #[serde(borrow)]
    payload: Payload<'a>,
}

#[derive(Deserialize)]
struct Payload<'a> {
    #[serde(rename = "type")]
    kind: String,
    #[serde(borrow, default)]
    properties: Option<&'a RawValue>,
}

#[derive(Serialize)]
struct PageEvent<'a> {
    directory: Option<&'a str>,
    #[serde(rename = "type")]
    kind: &'a str,
    properties: &'a RawValue,
}

/// The event as the page gets it (JSON), when the page cares about it.
pub fn page_event(data: &str) -> Option<String> {
    let envelope: Envelope = serde_json::from_str(data).ok()?;
    let kind = envelope.payload.kind.as_str();
    let wanted = ["session.", "message.", "permission.", "question."]
        .iter()
        .any(|prefix| kind.starts_with(prefix))
        && !kind.starts_with("session.next.");
    if !wanted {
        return None;
    }
    serde_json::to_string(&PageEvent {
        directory: envelope.directory.as_deref(),
        kind,
        properties: envelope.payload.properties?,
    })
    .ok()
}

/// The `events` message for a batch of page events.
pub fn batch_message(events: &[String]) -> String {
    let mut message = String::with_capacity(events.iter().map(|e| e.len() + 1).sum::<usize>() + 32);
    message.push_str(r#"{"type":"events","events":["#);
    for (i, event) in events.iter().enumerate() {
        if i > 0 {
            message.push(',');
        }
        message.push_str(event);
    }
    message.push_str("]}");
    message
}

/// Follows the server's events until the task is dropped, reconnecting
/// with backoff, and tells the page how the connection is.
pub async fn follow(client: ServerClient, page: impl PageSink) {
    let mut attempt = 0u32;
    loop {
        page.connection("connecting", "Connecting to the OpenCode server…");
        match follow_once(&client, &page, &mut attempt).await {
            Err(ApiError::Unauthorized) => {
                page.connection(
                    "auth",
                    "The OpenCode server rejected Nexus's password. Your text is kept.",
                );
            }
            Err(e) => {
                tracing::info!("event stream: {e}");
                page.connection(
                    "unreachable",
                    &format!("The OpenCode server is not reachable ({e}). Your text is kept."),
                );
            }
            Ok(()) => {}
        }
        let delay = crate::server::watch::reconnect_delay(attempt, 0.5);
        attempt = attempt.saturating_add(1);
        tokio::time::sleep(delay).await;
    }
}

async fn follow_once(
    client: &ServerClient,
    page: &impl PageSink,
    attempt: &mut u32,
) -> Result<(), ApiError> {
    let response = client.open_event_stream().await?;
    page.connection("connected", "");
    let mut guard = ChunkGuard::new(MAX_EVENT_BYTES);
    let mut stream = response
        .bytes_stream()
        .map(move |chunk| chunk.map(|bytes| guard.push(&bytes)))
        .eventsource();
    let mut batch: Vec<String> = Vec::new();
    let mut flush_at: Option<tokio::time::Instant> = None;
    loop {
        let deadline = flush_at.unwrap_or_else(|| tokio::time::Instant::now() + SILENCE_LIMIT);
        let next = tokio::select! {
            next = stream.next() => next,
            _ = tokio::time::sleep_until(deadline) => {
                if flush_at.take().is_some() {
                    page.send(batch_message(&batch));
                    batch.clear();
                    continue;
                }
                return Err(ApiError::Unreachable(format!(
                    "no data from the server for {} s",
                    SILENCE_LIMIT.as_secs()
                )));
            }
        };
        match next {
            None => {
                return Err(ApiError::Unreachable(
                    "the server closed the event stream".into(),
                ));
            }
            Some(Err(e)) => return Err(ApiError::Unreachable(format!("event stream: {e}"))),
            Some(Ok(sse)) if sse.event == OVERSIZED => {
                tracing::warn!("dropped an event larger than {MAX_EVENT_BYTES} bytes");
            }
            Some(Ok(sse)) => {
                *attempt = 0;
                if let Some(event) = page_event(&sse.data) {
                    batch.push(event);
                    flush_at.get_or_insert_with(|| tokio::time::Instant::now() + BATCH_WINDOW);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_chat_events_reach_the_page() {
        let delta = r#"{"directory":"/p","payload":{"type":"message.part.delta","properties":{"sessionID":"s","partID":"p","field":"text","delta":"hi <b>"}}}"#;
        let event = page_event(delta).expect("deltas are passed on");
        let value: serde_json::Value = serde_json::from_str(&event).unwrap();
        assert_eq!(value["directory"], "/p");
        assert_eq!(value["type"], "message.part.delta");
        assert_eq!(value["properties"]["delta"], "hi <b>");

        for ignored in [
            r#"{"payload":{"type":"server.heartbeat","properties":{}}}"#,
            r#"{"directory":"/p","payload":{"type":"sync","properties":{}}}"#,
            r#"{"directory":"/p","payload":{"type":"file.edited","properties":{"file":"/p/x"}}}"#,
            r#"{"directory":"/p","payload":{"type":"pty.created","properties":{}}}"#,
            r#"not json"#,
            r#"{"directory":"/p","payload":{"type":"session.status"}}"#,
        ] {
            assert_eq!(page_event(ignored), None, "{ignored}");
        }
    }

    #[test]
    fn a_batch_is_one_events_message() {
        let events = vec![r#"{"a":1}"#.to_string(), r#"{"b":2}"#.to_string()];
        let message: serde_json::Value = serde_json::from_str(&batch_message(&events)).unwrap();
        assert_eq!(message["type"], "events");
        assert_eq!(message["events"][1]["b"], 2);
    }

    #[test]
    fn the_recorded_events_pass_through_as_valid_json() {
        let sample = include_str!("../../tests/fixtures/opencode-events-sample.jsonl");
        let mut passed = 0;
        for line in sample.lines() {
            let data: serde_json::Value = serde_json::from_str(line).unwrap();
            // The sample stores `/event` payloads; wrap them like `/global/event`.
            let wrapped = serde_json::json!({"directory": "/p", "payload": data}).to_string();
            if let Some(event) = page_event(&wrapped) {
                serde_json::from_str::<serde_json::Value>(&event).unwrap();
                passed += 1;
            }
        }
        assert!(
            passed > 100,
            "only {passed} recorded events were for the page"
        );
    }
}
