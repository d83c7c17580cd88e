//! The few OS-specific operations, behind one small API so the rest of the code
//! carries no `cfg` noise: user id, process groups, process identity.

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub use unix::*;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub use windows::*;
