//! The event stream as a hostile server could send it: bytes in chunks of
//! any size through `ChunkGuard` and the SSE parser, then each event's data
//! through the event parser (and the snapshot bodies' parsers).
//!
//! Input: byte 0 picks the guard's cap (16–4096 bytes), byte 1 the chunk
//! sizes, the rest is the stream. Beyond "no crash":
//! - no event that reaches Nexus holds more than the cap;
//! - an event the guard passes unmarked is exactly an event of the stream
//!   (never a cut or merged one);
//! - when every event of the stream fits the cap, all of them pass unchanged.
//!
//! Shared by the fuzz target and tests/fuzz_regressions.rs: `super::nexus`
//! is the crate under test (the fuzz build's parsers, or `opencode_nexus`).

use super::nexus::server::events;
use super::nexus::server::sse::{ChunkGuard, OVERSIZED};
use eventsource_stream::{Event, EventStream};
use futures_util::{FutureExt, StreamExt};

pub fn check(data: &[u8]) {
    let [cap_byte, split_byte, stream @ ..] = data else {
        return;
    };
    let cap = 16 * (1 + *cap_byte as usize);

    let mut guard = ChunkGuard::new(cap);
    let mut guarded = Vec::new();
    let mut rest = stream;
    let mut i = 0usize;
    while !rest.is_empty() {
        let size = (1 + (*split_byte as usize + i * 7) % 64).min(rest.len());
        let (chunk, after) = rest.split_at(size);
        guarded.push(guard.push(chunk));
        rest = after;
        i += 1;
    }
    let passed = sse_events(guarded);
    // The spec drops a leading byte-order mark; eventsource-stream 0.2.3
    // panics on one, so the reference gets an (ignored) comment line instead.
    let text = decode_complete(stream);
    let text = match text.strip_prefix('\u{feff}') {
        Some(rest) => format!(":\n{rest}"),
        None => text,
    };
    let reference = sse_events(vec![text.clone()]);

    for event in &passed {
        assert!(
            event.data.len() <= cap && event.event.len() <= cap && event.id.len() <= cap,
            "an event over the {cap}-byte cap got through: {} data bytes",
            event.data.len()
        );
    }
    // Unmarked events are events of the stream, in order.
    let mut of_stream = reference.iter();
    for event in passed.iter().filter(|e| e.event != OVERSIZED) {
        assert!(
            of_stream.any(|r| r.event == event.event && r.data == event.data),
            "the guard passed an event the stream did not hold: {event:?}\nstream's: {reference:?}"
        );
    }
    if largest_event(&text) <= cap {
        let strip = |events: &[Event]| -> Vec<(String, String)> {
            events
                .iter()
                .map(|e| (e.event.clone(), e.data.clone()))
                .collect()
        };
        assert_eq!(
            strip(&passed),
            strip(&reference),
            "events under the cap were changed"
        );
    }

    for event in passed.iter().filter(|e| e.event != OVERSIZED) {
        let _ = events::parse_event(&event.data);
        let _ = events::parse_permissions(&event.data);
        let _ = events::parse_questions(&event.data);
        let _ = events::parse_statuses(&event.data);
    }
}

/// Runs the SSE parser Nexus uses over the chunks; stops at its first error.
fn sse_events(chunks: Vec<String>) -> Vec<Event> {
    let source =
        futures_util::stream::iter(chunks.into_iter().map(Ok::<_, std::convert::Infallible>));
    let mut parser = EventStream::new(source);
    let mut events = Vec::new();
    // The source is always ready, so every poll completes at once.
    while let Some(Some(Ok(event))) = parser.next().now_or_never() {
        events.push(event);
    }
    events
}

/// The stream's text as the guard decodes it: invalid bytes become U+FFFD,
/// an incomplete sequence at the very end is left out (still awaited).
fn decode_complete(bytes: &[u8]) -> String {
    let mut out = String::new();
    let mut rest = bytes;
    loop {
        match std::str::from_utf8(rest) {
            Ok(valid) => return out + valid,
            Err(e) => {
                let (valid, after) = rest.split_at(e.valid_up_to());
                out.push_str(std::str::from_utf8(valid).expect("valid up to here"));
                let Some(bad) = e.error_len() else {
                    return out;
                };
                out.push(char::REPLACEMENT_CHARACTER);
                rest = &after[bad..];
            }
        }
    }
}

/// The largest event in `text` by the SSE spec's lines (CR, LF or CRLF end a
/// line, a blank line ends an event), counting every byte but the line ends.
fn largest_event(text: &str) -> usize {
    let (mut largest, mut event, mut line) = (0, 0, 0);
    let mut chars = text.chars().peekable();
    while let Some(ch) = chars.next() {
        match ch {
            '\r' | '\n' => {
                if ch == '\r' && chars.peek() == Some(&'\n') {
                    chars.next();
                }
                if line == 0 {
                    event = 0;
                }
                line = 0;
            }
            _ => {
                line += ch.len_utf8();
                event += ch.len_utf8();
                largest = largest.max(event);
            }
        }
    }
    largest
}
