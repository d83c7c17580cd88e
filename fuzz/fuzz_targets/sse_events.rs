//! Fuzz target: the event stream (SSE guard, SSE parser, event parser); checks/sse_events.rs says what is checked.

#![no_main]

mod nexus {
    pub use nexus_parsers::*;
}
#[path = "../checks/sse_events.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check(data));
