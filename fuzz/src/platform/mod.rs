//! The platform layer (paths.rs asks it for the user id and the rules for
//! each OS's paths).

#[path = "../../../src/platform/rules.rs"]
pub mod rules;
#[path = "../../../src/platform/unix.rs"]
mod unix;
pub use unix::*;

/// Stand-in for `platform::ProcessId` (defined in src/platform/mod.rs, which
/// this crate does not build): the same fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProcessId {
    pub pid: u32,
    pub start_time: u64,
}
