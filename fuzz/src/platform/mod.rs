//! The platform layer (paths.rs asks it for the user id).

#[path = "../../../src/platform/unix.rs"]
mod unix;
pub use unix::*;
