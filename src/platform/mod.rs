//! The few OS-specific operations, behind one small API so the rest of the code
//! carries no `cfg` noise: user id, process groups and signals, quit
//! requests, permission bits, the control channel (a Unix socket, or a named
//! pipe on Windows), and the server's containment (a Job Object on Windows).
//!
//! `rules` holds the choices that need no OS to decide (pipe names, quoting,
//! the LaunchAgent's text, job limits) as plain functions tested everywhere;
//! `unix` and `windows` carry them out. What is not real yet on a platform
//! says so in an error ("not supported on this platform yet"), never panics.

pub mod desktop;
pub mod rules;

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub use unix::*;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub use windows::*;

/// A process identified by pid and start time (`process_start_time`), so a
/// recycled pid is never mistaken for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProcessId {
    pub pid: u32,
    pub start_time: u64,
}

/// Hands the heap's freed memory back to the system (glibc's allocator
/// otherwise keeps it for reuse), for a long-lived process after a burst of
/// work: a gateway whose last page left, dropped syntax definitions. Does
/// nothing where the allocator gives memory back by itself or has no such
/// call.
pub fn give_back_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free heap memory; it is thread-safe.
    unsafe {
        libc::malloc_trim(0);
    }
}
