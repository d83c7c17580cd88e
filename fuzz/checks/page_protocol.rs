//! What the popover's page sends to Rust, as a page turned hostile could send
//! it. Beyond "no crash": a message that is accepted can only become one of
//! the allowlisted server requests, with ids that cannot leave their route.
//!
//! Shared by the fuzz target and tests/fuzz_regressions.rs: `super::nexus`
//! is the crate under test (the fuzz build's parsers, or `opencode_nexus`).

use super::nexus::page::protocol::{self as page_protocol, FromPage, Method};

pub fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let message = match page_protocol::parse(text) {
        Ok(message) => message,
        Err(rejected) => {
            assert!(!rejected.reason.is_empty(), "a rejection says why");
            return;
        }
    };
    let FromPage::Call { call, .. } = message else {
        return;
    };
    for request in call.requests() {
        let path = request.path.as_str();
        let segments: Vec<&str> = path.split('/').skip(1).collect();
        let id_ok = |s: &str| page_protocol::is_id(s);
        let allowed = match segments.as_slice() {
            ["session"] | ["session", "status"] => true,
            ["session", id] => {
                id_ok(id) && matches!(request.method, Method::Patch | Method::Delete)
            }
            ["session", id, "message" | "prompt_async" | "abort"] => id_ok(id),
            ["permission"] | ["question"] => request.method == Method::Get,
            ["permission", id, "reply"] | ["question", id, "reply" | "reject"] => {
                id_ok(id) && request.method == Method::Post
            }
            ["config", "providers"] | ["config"] | ["agent"] => request.method == Method::Get,
            _ => false,
        };
        assert!(allowed, "{call:?} became {request:?}");
        assert!(!path.contains(['?', '#', '%', '\\']), "{request:?}");
    }
}
