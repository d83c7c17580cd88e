//! Fuzz target: config.toml; checks/config_toml.rs says what is checked.

#![no_main]

mod nexus {
    pub use nexus_parsers::*;
}
#[path = "../checks/config_toml.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check(data));
