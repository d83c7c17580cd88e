//! The event stream: the SSE guard and the event parser.

#[path = "../../../src/server/events.rs"]
pub mod events;
#[path = "../../../src/server/sse.rs"]
pub mod sse;

/// Stand-in for the HTTP client module: config/mod.rs only wraps the attach
/// password in a `Secret`, which the fuzz targets never read.
pub mod client {
    pub struct Secret(String);

    impl Secret {
        pub fn new(value: impl Into<String>) -> Self {
            Secret(value.into())
        }
    }
}
