//! Talking to an OpenCode server: its REST routes (spelled once, in routes.rs),
//! the HTTP client and the event-stream watcher.

pub mod client;
pub mod events;
pub mod routes;
pub mod sse;
pub mod watch;
