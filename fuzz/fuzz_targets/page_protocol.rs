//! Fuzz target: what the page sends to Rust; checks/page_protocol.rs says what is checked.

#![no_main]

mod nexus {
    pub use nexus_parsers::*;
}
#[path = "../checks/page_protocol.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check(data));
