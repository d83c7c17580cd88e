//! Fuzz target: the control socket's lines, both ways; checks/ipc_protocol.rs says what is checked.

#![no_main]

mod nexus {
    pub use nexus_parsers::*;
}
#[path = "../checks/ipc_protocol.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check(data));
