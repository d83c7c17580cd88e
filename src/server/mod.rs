//! Talking to an OpenCode server: the HTTP client and the event-stream watcher.

pub mod events;
