//! Start at login: one small API over the platform's mechanism (an XDG
//! autostart entry on Linux; a LaunchAgent on macOS; the Run key on Windows,
//! through auto-launch). The daemon started this way opens nothing by
//! itself: it only shows the tray and real state. The texts and quoting are
//! `platform::rules`, tested on every platform.

#[cfg(target_os = "linux")]
mod xdg;
#[cfg(target_os = "linux")]
pub use xdg::{disable, enable, status};

#[cfg(target_os = "macos")]
mod macos;
#[cfg(target_os = "macos")]
pub use macos::{disable, enable, status};

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub use windows::{disable, enable, status};

use std::path::{Path, PathBuf};

/// Whether Nexus starts at login, checked against what is really on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AutostartState {
    Enabled {
        entry: PathBuf,
        program: PathBuf,
    },
    Disabled,
    /// An entry exists but cannot work (the program is gone, …).
    Broken {
        entry: PathBuf,
        reason: String,
    },
}

impl AutostartState {
    pub fn describe(&self) -> String {
        match self {
            AutostartState::Enabled { entry, program } => {
                format!(
                    "enabled: {} starts {} at login",
                    entry.display(),
                    program.display()
                )
            }
            AutostartState::Disabled => "disabled".into(),
            AutostartState::Broken { entry, reason } => {
                format!("broken: {} {reason}", entry.display())
            }
        }
    }
}

/// Turns start at login on or off; answers the real state afterwards.
pub fn set(paths: &crate::paths::Paths, enabled: bool) -> Result<bool, String> {
    if enabled {
        enable(paths, &crate::programs::daemon_program()?)?;
    } else {
        disable(paths)?;
    }
    Ok(is_enabled(paths))
}

/// Whether a working start-at-login entry exists.
pub fn is_enabled(paths: &crate::paths::Paths) -> bool {
    matches!(status(paths), AutostartState::Enabled { .. })
}

/// Writes a start-at-login file (XDG entry, LaunchAgent) in one step, so the
/// desktop or launchd never reads half of it. Used by the Unix platforms.
#[cfg_attr(windows, allow(dead_code))]
fn write_entry(entry: &Path, text: &str) -> Result<(), String> {
    crate::safe_write::write_atomically(entry, text.as_bytes(), crate::safe_write::Readers::Default)
        .map_err(|e| format!("cannot write {}: {e}", entry.display()))
}

/// Removes a start-at-login file; `Ok(false)` when there was none.
#[cfg_attr(windows, allow(dead_code))]
fn remove_entry(entry: &Path) -> Result<bool, String> {
    match std::fs::remove_file(entry) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(format!("cannot remove {}: {e}", entry.display())),
    }
}
