//! How the popover's background work reaches the window's thread: every
//! message for the page, and requests to show, hide or quit, go through the
//! event loop's proxy (GTK and the webview live on the main thread only).

use crate::core::popover_lifecycle::OpenRequest;
use crate::ipc::protocol::PopoverSetup;
use serde_json::{Value, json};

/// What the window's event loop is woken with.
#[derive(Debug, Clone)]
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

    /// Sends one JSON message to the page.
    pub fn send(&self, message: String) {
        self.ui(UiEvent::ToPage(message));
    }

    pub fn connection(&self, state: &str, message: &str) {
        self.send(json!({"type": "connection", "state": state, "message": message}).to_string());
    }

    pub fn result(&self, id: u64, outcome: Result<Value, CallError>) {
        let message = match outcome {
            Ok(data) => json!({"type": "result", "id": id, "ok": true, "data": data}),
            Err(e) => {
                json!({"type": "result", "id": id, "ok": false, "error": e.message, "kind": e.kind})
            }
        };
        self.send(message.to_string());
    }
}

/// Why a call failed, for the page: `kind` is one of `unreachable`, `auth`,
/// `not_found`, `rejected`, `server`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallError {
    pub kind: &'static str,
    pub message: String,
}

/// The script that delivers one message to the page. JSON is valid
/// JavaScript; the two line separators JSON allows raw are escaped for
/// engines that predate ES2019.
pub fn delivery_script(message: &str) -> String {
    let message = message
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029");
    format!("window.nexus&&window.nexus.receive({message})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_keeps_hostile_text_inside_the_string() {
        let message = json!({"type":"events","text":"</script><script>alert(1)</script>\u{2028}x"})
            .to_string();
        let script = delivery_script(&message);
        assert!(script.starts_with("window.nexus&&window.nexus.receive({"));
        assert!(!script.contains('\u{2028}'));
        // The payload is still the same JSON once the escape is read back.
        let inner = &script["window.nexus&&window.nexus.receive(".len()..script.len() - 1];
        let back: Value = serde_json::from_str(inner).unwrap();
        assert_eq!(back["text"], "</script><script>alert(1)</script>\u{2028}x");
    }
}
