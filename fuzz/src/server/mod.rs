//! The event stream: the SSE guard and the event parser; the server's routes.

#[path = "../../../src/server/events.rs"]
pub mod events;
/// The server's routes, which the page's allowlisted calls map onto.
#[path = "../../../src/server/routes.rs"]
pub mod routes;
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
