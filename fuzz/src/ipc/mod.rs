//! The control socket's line protocol.

#[path = "../../../src/ipc/protocol.rs"]
pub mod protocol;
