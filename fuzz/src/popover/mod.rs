//! What the popover's page sends to Rust.

#[path = "../../../src/popover/page_protocol.rs"]
pub mod page_protocol;
