//! The few OS-specific operations, behind one small API so the rest of the code
//! carries no `cfg` noise: user id, process groups, process identity.

pub mod desktop;
#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub use unix::*;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub use windows::*;
