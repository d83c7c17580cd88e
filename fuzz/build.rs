//! Copies `ServerState` out of ../src/core/state.rs: the control-socket protocol
//! needs that one enum, and including the whole core would pull in the server
//! client and the platform layer. Copied, not retyped, so it cannot drift.

use std::path::PathBuf;

fn main() {
    let source = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../src/core/state.rs");
    println!("cargo:rerun-if-changed={}", source.display());
    let text = std::fs::read_to_string(&source)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", source.display()));
    let lines: Vec<&str> = text.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.starts_with("pub enum ServerState"))
        .unwrap_or_else(|| panic!("{}: no `pub enum ServerState`", source.display()));
    // Its attributes and doc comment come along (serde's renames matter).
    let first = (0..start)
        .rev()
        .take_while(|&i| lines[i].starts_with("#[") || lines[i].starts_with("///"))
        .last()
        .unwrap_or(start);
    let end = (start..lines.len())
        .find(|&i| lines[i] == "}")
        .unwrap_or_else(|| panic!("{}: ServerState has no closing brace", source.display()));
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(
        out.join("server_state.rs"),
        lines[first..=end].join("\n") + "\n",
    )
    .expect("cannot write server_state.rs");
}
