//! The page: the protocol the quick-chat page speaks, whatever shell shows it.
//! Today the popover (tao/wry) carries it; the remote gateway will carry the
//! same messages over a WebSocket. Nothing here knows about windows: a shell
//! hands the page's messages in and delivers what comes out through a
//! [`PageSink`].
//!
//! `assets` (the page's files and their CSP), `protocol` (the page's messages and the server-call allowlist, mapped onto
//! `server::client`'s routes), `server_calls` (carrying them out), `nexus_calls`
//! (settings and setup), `settings_guard` (which settings need a confirmation
//! outside the page), `event_feed`, `log_follow` and `drafts`.

pub mod assets;
pub mod drafts;
pub mod event_feed;
pub mod log_follow;
pub mod nexus_calls;
pub mod protocol;
pub mod remote_calls;
pub mod server_calls;
pub mod settings_guard;

use serde_json::{Value, json};

/// Where messages for the page go: a cheap, cloneable handle any task may
/// hold (the popover's event-loop proxy, tomorrow a WebSocket's sender).
pub trait PageSink: Clone + Send + Sync + 'static {
    /// Sends one JSON message to the page; false once the page is gone.
    fn send(&self, message: String) -> bool;

    /// The state of the connection to the OpenCode server, for the banner.
    fn connection(&self, state: &str, message: &str) {
        self.send(json!({"type": "connection", "state": state, "message": message}).to_string());
    }

    /// The answer to the page's call `id`.
    fn result(&self, id: u64, outcome: Result<Value, CallError>) {
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
