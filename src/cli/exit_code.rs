//! Exit codes: a written contract for scripts and tests.

/// Success.
pub const OK: u8 = 0;
/// The command failed (the message says why).
pub const FAILURE: u8 = 1;
/// Bad arguments (clap's own code).
pub const USAGE: u8 = 2;
/// No daemon is running.
pub const NOT_RUNNING: u8 = 3;
/// `wait-idle --timeout` ran out.
pub const TIMEOUT: u8 = 4;
/// The config file is invalid.
pub const BAD_CONFIG: u8 = 5;
/// Interrupted by Ctrl-C (128 + SIGINT).
pub const INTERRUPTED: u8 = 130;
