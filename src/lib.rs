//! OpenCode Nexus: a tiny resident companion for the OpenCode agent server.
//!
//! `core` decides (pure), `supervisor` runs the managed server, `server` talks
//! to it, `ipc` connects the CLI to the resident daemon, `daemon` wires it all.
//! `page` is the quick-chat page's protocol (no window code), `popover` the
//! tao/wry shell that shows it.

pub mod autostart;
pub mod cli;
pub mod config;
pub mod core;
pub mod daemon;
pub mod diagnostics;
pub mod ipc;
pub mod logging;
pub mod notify;
pub mod page;
pub mod paths;
pub mod platform;
pub mod popover;
pub mod programs;
pub mod safe_write;
pub mod server;
pub mod small_file;
pub mod supervisor;
pub mod tray;
