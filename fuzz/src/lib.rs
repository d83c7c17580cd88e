//! The parsers under fuzz, compiled from the main crate's own source files.
//!
//! The modules sit at the same paths as in `opencode_nexus` (so their
//! `crate::…` imports resolve) and only these files are built; two small
//! stand-ins (`core::ServerState` copied by build.rs, `server::client::Secret`)
//! replace modules that would drag in the HTTP client and the whole core. A
//! parser that starts importing another module of the crate needs a line here
//! (the fuzz build fails and names it).

#![allow(dead_code)]

#[path = "../../src/config/mod.rs"]
pub mod config;
pub mod core;
pub mod ipc;
pub mod page;
#[path = "../../src/paths.rs"]
pub mod paths;
pub mod platform;
pub mod remote;
#[path = "../../src/safe_write.rs"]
pub mod safe_write;
pub mod server;
#[path = "../../src/small_file.rs"]
pub mod small_file;
