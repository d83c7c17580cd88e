//! Windows: not supported yet by the supervisor; these keep the API total.

pub use crate::core::model::StopSignal;
use std::io;

pub fn user_id() -> u32 {
    0
}

pub fn signal_process_group(_pgid: u32, _signal: StopSignal) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "process groups are not supported on Windows yet",
    ))
}

pub fn process_group_alive(_pgid: u32) -> bool {
    false
}

pub fn process_start_time(_pid: u32) -> Option<u64> {
    None
}

/// Pids of every descendant of `root` (not available on Windows yet).
pub fn descendant_pids(_root: u32) -> Vec<u32> {
    Vec::new()
}
pub fn end_quietly_on_closed_stdout() {}

/// How a child process ended, in words: "exited with code 1".
pub fn describe_exit_status(status: std::process::ExitStatus) -> String {
    match status.code() {
        Some(code) => format!("exited with code {code}"),
        None => "exited".to_string(),
    }
}
