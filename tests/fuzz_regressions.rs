//! What the fuzzers found, kept: every input in fuzz/regressions/TARGET/, the
//! committed seeds in fuzz/seeds/TARGET/ and the recorded events go through
//! the very checks the fuzz target runs (fuzz/checks/TARGET.rs), here against
//! the real crate, so `cargo test` keeps them fixed without cargo-fuzz.

use std::path::{Path, PathBuf};

/// The crate under test, under the name the shared checks use.
mod nexus {
    pub use opencode_nexus::*;
}

#[path = "../fuzz/checks/config_toml.rs"]
mod config_toml;
#[path = "../fuzz/checks/ipc_protocol.rs"]
mod ipc_protocol;
#[path = "../fuzz/checks/page_protocol.rs"]
mod page_protocol;
#[path = "../fuzz/checks/settings_form.rs"]
mod settings_form;
#[path = "../fuzz/checks/sse_events.rs"]
mod sse_events;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// The kept inputs of one target: (file name, bytes).
fn kept_inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let mut inputs = Vec::new();
    for kind in ["regressions", "seeds"] {
        let dir = fuzz_dir().join(kind).join(target);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("list the fuzz inputs").path();
            let bytes = std::fs::read(&path)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            inputs.push((
                format!(
                    "{kind}/{target}/{}",
                    path.file_name().unwrap().to_string_lossy()
                ),
                bytes,
            ));
        }
    }
    inputs.sort();
    inputs
}

/// Runs `check` on every input and names each one that fails it.
fn all_pass(inputs: Vec<(String, Vec<u8>)>, check: fn(&[u8])) {
    assert!(!inputs.is_empty(), "no inputs to check");
    let failed: Vec<String> = inputs
        .into_iter()
        .filter(|(_, bytes)| std::panic::catch_unwind(|| check(bytes)).is_err())
        .map(|(name, _)| name)
        .collect();
    assert!(failed.is_empty(), "fail their checks again: {failed:?}");
}

#[test]
fn event_stream_inputs_pass_the_sse_guard_checks() {
    let mut inputs = kept_inputs("sse_events");
    // The recorded events as SSE frames (as scripts/fuzz.sh seeds them):
    // a 4096-byte cap, chunks of 6, 13, 20… bytes.
    let sample = include_str!("fixtures/opencode-events-sample.jsonl");
    for (i, line) in sample.lines().enumerate() {
        let mut frame = vec![0xff, 5];
        frame.extend_from_slice(format!("data: {line}\n\n").as_bytes());
        inputs.push((format!("recorded event {}", i + 1), frame));
    }
    all_pass(inputs, sse_events::check);
}

#[test]
fn page_messages_pass_the_page_protocol_checks() {
    all_pass(kept_inputs("page_protocol"), page_protocol::check);
}

#[test]
fn control_socket_lines_pass_the_protocol_checks() {
    all_pass(kept_inputs("ipc_protocol"), ipc_protocol::check);
}

#[test]
fn config_files_pass_the_config_checks() {
    all_pass(kept_inputs("config_toml"), config_toml::check);
}

#[test]
fn settings_forms_pass_the_settings_form_checks() {
    all_pass(kept_inputs("settings_form"), settings_form::check);
}
