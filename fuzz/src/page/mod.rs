//! What the page sends to Rust.

#[path = "../../../src/page/protocol.rs"]
pub mod protocol;
