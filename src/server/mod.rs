//! Talking to an OpenCode server: the HTTP client and the event-stream watcher.

pub mod client;
pub mod events;
pub mod sse;
pub mod watch;
