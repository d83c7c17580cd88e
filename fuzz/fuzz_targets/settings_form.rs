//! Fuzz target: what the settings page submits; checks/settings_form.rs says what is checked.

#![no_main]

mod nexus {
    pub use nexus_parsers::*;
}
#[path = "../checks/settings_form.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check(data));
