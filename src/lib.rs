//! OpenCode Nexus: a tiny resident companion for the OpenCode agent server.
//!
//! Dependencies run one way, inward: `core` is at the bottom and imports no
//! other room of Nexus (tests/architecture.rs holds it); `config`, `server`,
//! `supervisor`, `ipc`, `platform` and the small helpers use the core's
//! types; `page` stands on those; the shells (`daemon`, `tray`, `notify`,
//! `popover`, `cli`, and `main.rs`) are at the top and wire the rest.
//!
//! One line per module:
//! - `autostart`: start at login, one small API over XDG autostart, LaunchAgent and the Run key.
//! - `cli`: the command line: argument parsing, the client side of each command, exit codes.
//! - `config`: `config.toml`: keys and defaults, the settings form, what a change asks of the daemon.
//! - `core`: the pure core: `State` + `Event` in, `Effect`s out, and the views derived from it.
//! - `daemon`: the resident process: runs the core, carries out its effects, serves the CLI and popover.
//! - `diagnostics`: the diagnostics report, with no secret in it.
//! - `gateway`: the remote gateway process: the chat page and its protocol over HTTPS + WebSocket for a phone.
//! - `ipc`: the local control socket: single instance, line framing, the protocol, the peer check.
//! - `logging`: Nexus's own logs: tracing to stderr and rotated log files.
//! - `markdown`: agent Markdown parsed into the page's tree, code highlighted (the popover only).
//! - `notify`: desktop notifications: shows what the core's policy decides, turns clicks into events.
//! - `page`: the quick-chat page's protocol, server calls, event feed and drafts (no window code).
//! - `paths`: every filesystem location, derived once from the XDG environment.
//! - `platform`: the few OS-specific operations (process groups, signals, the desktop) behind one API.
//! - `popover`: the quick-chat window process: a tao/wry shell around `page`, linked to the daemon.
//! - `programs`: the two binaries, installed side by side, find each other.
//! - `remote`: the remote account: Argon2id password, lockout, device sessions, pairing codes, the certificate.
//! - `safe_write`: writing Nexus's own files in one step (temp file, fsync, rename, mode).
//! - `server`: talking to OpenCode: its REST routes, the HTTP client, the event stream and its parsing.
//! - `small_file`: reading a small regular text file (config, password) without blocking.
//! - `supervisor`: runs the managed `opencode serve` under its keeper: spawn, log, stop, measure.
//! - `tray`: the tray icon: shows the derived `TrayView`, turns menu choices into core events.

pub mod autostart;
pub mod cli;
pub mod config;
pub mod core;
pub mod daemon;
pub mod diagnostics;
pub mod gateway;
pub mod ipc;
pub mod logging;
pub mod markdown;
pub mod notify;
pub mod page;
pub mod paths;
pub mod platform;
pub mod popover;
pub mod programs;
pub mod remote;
pub mod safe_write;
pub mod server;
pub mod small_file;
pub mod supervisor;
pub mod tray;
