//! The walls of the house: dependencies point inward.
//!
//! The core decides and owns the types it decides about; the outer rooms
//! (server, platform, supervisor, daemon, shells) depend on it, never the
//! other way round. This test reads the core's source and fails on any path
//! into an outer room, so the wall cannot erode one convenient import at a time.
//!
//! Unit tests inside the core may replay recorded server events through the
//! server's parser (real fixtures beat hand-built ones), so `#[cfg(test)]`
//! modules are not scanned.

use std::fs;
use std::path::{Path, PathBuf};

/// The rooms the core must not reach into.
const OUTER: &[&str] = &[
    "server",
    "platform",
    "daemon",
    "popover",
    "tray",
    "notify",
    "supervisor",
    "ipc",
    "cli",
];

/// The rooms the remote account (`src/remote`) must not reach into: it is
/// the account's data and rules, which the gateway, the `remote` commands
/// and the popover's pages all stand on — no shell, and nothing that talks
/// over a network or a socket.
const REMOTE_OUTER: &[&str] = &[
    "server",
    "daemon",
    "popover",
    "tray",
    "notify",
    "supervisor",
    "ipc",
    "cli",
    "gateway",
    "page",
];

/// Network crates and modules the remote account must not use.
const NETWORK: &[&str] = &[
    "reqwest::",
    "hyper::",
    "axum::",
    "tungstenite::",
    "rustls::",
    "tokio::net",
    "std::net::Tcp",
    "std::net::Udp",
];

/// Files under `src/core` that exist only for tests (`#[cfg(test)] mod …;`).
const TEST_ONLY_FILES: &[&str] = &["tests.rs", "virtual_time.rs"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The file's production code: the source with its inline `#[cfg(test)]`
/// modules blanked out (lines kept, so line numbers still match the file).
/// Braces are counted naively, which the core's tidy test modules allow.
fn production_part(source: &str) -> String {
    let mut kept = String::with_capacity(source.len());
    let mut lines = source.lines().peekable();
    while let Some(line) = lines.next() {
        let opens_test_module = line.trim() == "#[cfg(test)]"
            && lines
                .peek()
                .is_some_and(|next| next.trim_start().starts_with("mod ") && next.contains('{'));
        if !opens_test_module {
            kept.push_str(line);
            kept.push('\n');
            continue;
        }
        kept.push('\n');
        let mut depth = 0i32;
        for inner in lines.by_ref() {
            kept.push('\n');
            depth += inner.matches('{').count() as i32 - inner.matches('}').count() as i32;
            if depth <= 0 {
                break;
            }
        }
    }
    kept
}

/// `crate::<room>` uses of the core's outer rooms in `source`, as (line number, line).
fn outer_uses(source: &str) -> Vec<(usize, String)> {
    uses_of(source, OUTER)
}

/// `crate::<room>` uses of any of `rooms` in `source`, as (line number, line).
fn uses_of(source: &str, rooms: &[&str]) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (n, line) in production_part(source).lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        for room in rooms {
            let path = format!("crate::{room}");
            let hit = code.match_indices(&path).any(|(at, _)| {
                let rest = &code[at + path.len()..];
                rest.starts_with("::") || rest.starts_with(';') || rest.starts_with([' ', ',', '}'])
            });
            if hit || grouped_use_of(code, room) {
                found.push((n + 1, line.trim().to_string()));
            }
        }
    }
    found
}

/// `crate::{…, room::…}` on one line.
fn grouped_use_of(code: &str, room: &str) -> bool {
    let Some(at) = code.find("crate::{") else {
        return false;
    };
    code[at + "crate::{".len()..]
        .split([',', '}'])
        .any(|item| item.trim() == room || item.trim().starts_with(&format!("{room}::")))
}

#[test]
fn core_imports_nothing_from_outer_rooms() {
    let core = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/core");
    let mut files = Vec::new();
    rust_files(&core, &mut files);
    assert!(files.len() > 5, "src/core should hold the core's files");

    let mut violations = Vec::new();
    for file in files {
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        if TEST_ONLY_FILES.contains(&name.as_str()) {
            continue;
        }
        let source = fs::read_to_string(&file).unwrap();
        for (line, text) in outer_uses(&source) {
            violations.push(format!("{}:{line}: {text}", file.display()));
        }
    }
    assert!(
        violations.is_empty(),
        "the core must not depend on outer rooms (move the type into src/core \
         and let the outer room use it instead):\n{}",
        violations.join("\n")
    );
}

#[test]
fn the_remote_account_imports_no_shell_and_no_network_code() {
    let remote = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/remote");
    let mut files = Vec::new();
    rust_files(&remote, &mut files);
    assert!(
        files.len() >= 4,
        "src/remote should hold the account's files"
    );
    let mut violations = Vec::new();
    for file in files {
        let source = fs::read_to_string(&file).unwrap();
        for (line, text) in uses_of(&source, REMOTE_OUTER) {
            violations.push(format!("{}:{line}: {text}", file.display()));
        }
        for (n, line) in production_part(&source).lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            if NETWORK.iter().any(|network| code.contains(network)) {
                violations.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(
        violations.is_empty(),
        "src/remote must stay the account's data and rules (the gateway, the \
         `remote` commands and the popover stand on it, not the other way \
         round), with no network code:\n{}",
        violations.join("\n")
    );
}

#[test]
fn the_scan_sees_an_outer_import_and_ignores_test_modules() {
    let source = "use crate::config::NotifyConfig;\n\
                  use crate::server::events::ServerEvent;\n\
                  fn f() { crate::platform::user_id(); }\n\
                  // crate::daemon in a comment is fine\n\
                  use crate::{ipc::Request, paths::Paths};\n\
                  #[cfg(test)]\nmod tests {\n    use crate::server::events::parse_event;\n}\n\
                  use crate::daemon::Shared;\n";
    let found = outer_uses(source);
    let lines: Vec<usize> = found.iter().map(|(n, _)| *n).collect();
    assert_eq!(lines, vec![2, 3, 5, 10]);
}
