//! How the popover's background work reaches the window's thread: every
//! message for the page, and requests to show, hide or quit, go through the
//! event loop's proxy (GTK and the webview live on the main thread only).

use crate::core::popover_lifecycle::OpenRequest;
use crate::ipc::protocol::PopoverSetup;
use crate::page::PageSink;
use crate::page::settings_guard::Confirmation;

/// What the window's event loop is woken with.
#[derive(Debug)]
pub enum UiEvent {
    /// A JSON message for `window.nexus.receive`.
    ToPage(String),
    /// Show the window (and tell the page, which answers `painted`).
    Show(OpenRequest),
    /// New settings from the daemon (keep-alive, hiding on focus loss).
    Setup(PopoverSetup),
    /// The page asked to be hidden (Escape).
    Hide,
    /// The page has loaded: send it `init` and what waited for it.
    PageReady,
    /// Exit if the window has stayed hidden for the keep-alive time (tao's
    /// GTK loop does not wake for `ControlFlow::WaitUntil` by itself).
    KeepAliveCheck,
    /// Exit now (Nexus quits, or the daemon went away).
    Quit,
    /// Ask the user, in a native dialog outside the page, to confirm what
    /// the page asked for (guarded settings, a new remote password).
    Confirm(ConfirmRequest),
}

/// A question for the user, and where the answer goes.
#[derive(Debug)]
pub struct ConfirmRequest {
    pub confirmation: Confirmation,
    pub reply: tokio::sync::oneshot::Sender<Decision>,
}

/// What became of a confirmation (a dropped request counts as cancelled).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Confirmed,
    Cancelled,
    /// Another confirmation is already on screen.
    AlreadyAsking,
    /// No native dialog can be drawn here: what it guards stays as it is.
    NoDialog,
}

/// A cheap, cloneable sender to the window's thread.
#[derive(Clone)]
pub struct PageLink {
    proxy: tao::event_loop::EventLoopProxy<UiEvent>,
}

impl PageLink {
    pub fn new(proxy: tao::event_loop::EventLoopProxy<UiEvent>) -> Self {
        PageLink { proxy }
    }

    /// Wakes the window's thread; false once the event loop is gone.
    pub fn ui(&self, event: UiEvent) -> bool {
        self.proxy.send_event(event).is_ok()
    }
}

impl PageSink for PageLink {
    fn send(&self, message: String) -> bool {
        self.ui(UiEvent::ToPage(message))
    }
}

/// The script that delivers one message to the page: the message travels as
/// one JavaScript string literal that the page reads with `JSON.parse`, so
/// server data is never evaluated as script, whatever it holds.
pub fn delivery_script(message: &str) -> String {
    format!(
        "window.nexus&&window.nexus.receive({})",
        js_string_literal(message)
    )
}

/// `text` as a double-quoted JavaScript string literal that no character can
/// end early: quotes, backslashes and every control character are escaped,
/// and so are U+2028/U+2029 (line ends in pre-ES2019 engines) and `<`, `>`
/// and `&` (so that `</script>` or `<!--` mean nothing even if the script is
/// ever put inside HTML). The result is also a valid JSON string.
pub fn js_string_literal(text: &str) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' | '\u{7f}'..='\u{9f}' | '\0'..='\u{1f}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    /// The literal the delivery script passes to `receive`, read back.
    fn delivered(script: &str) -> String {
        let literal = script
            .strip_prefix("window.nexus&&window.nexus.receive(")
            .and_then(|rest| rest.strip_suffix(')'))
            .expect("one call with one argument");
        // A JSON string is what the page's JSON.parse and JavaScript both read.
        serde_json::from_str::<String>(literal).expect("one string literal")
    }

    #[test]
    fn delivery_carries_hostile_text_as_one_string_for_json_parse() {
        let hostile = "\"});alert(1);//</script><script>alert(2)</script><!--\\\"\\\\'`${x}\u{2028}\u{2029}\u{0}\u{1b}[31m\u{85}\u{202e}\r\n";
        let message = json!({"type": "events", "text": hostile}).to_string();
        let script = delivery_script(&message);
        let literal = &script["window.nexus&&window.nexus.receive(".len()..script.len() - 1];
        // One literal: it opens and closes with the only unescaped quotes.
        assert!(literal.starts_with('"') && literal.ends_with('"'));
        let inner = &literal[1..literal.len() - 1];
        let mut escaped = false;
        for c in inner.chars() {
            assert!(
                escaped || c != '"',
                "an unescaped quote ends the string: {script}"
            );
            escaped = !escaped && c == '\\';
        }
        for raw in [
            '\u{2028}', '\u{2029}', '<', '>', '\n', '\r', '\u{0}', '\u{1b}', '\u{85}',
        ] {
            assert!(!script.contains(raw), "{raw:?} left raw in {script:?}");
        }
        // No object literal is evaluated: the page gets the JSON text itself.
        assert!(!script.contains("receive({"));
        let text = delivered(&script);
        assert_eq!(text, message);
        let back: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back["text"], hostile);
    }

    #[test]
    fn every_character_survives_the_literal() {
        let all: String = (0u32..0x3000)
            .chain([0xfeff, 0xfffd, 0x1f600, 0xe0041, 0x10ffff])
            .filter_map(char::from_u32)
            .collect();
        assert_eq!(delivered(&delivery_script(&all)), all);
    }
}
