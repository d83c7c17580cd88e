//! Windows: a value under `HKCU\Software\Microsoft\Windows\CurrentVersion\Run`
//! (through auto-launch), whose command line is
//! `platform::rules::run_key_command`: the program always quoted.
//! Built and linted here; not yet run on a real Windows machine.

use super::AutostartState;
use crate::paths::Paths;
use crate::platform::rules::{RUN_KEY_VALUE_NAME, run_key_command, run_key_program};
use std::path::{Path, PathBuf};

/// The Run key's location, for messages (auto-launch writes there).
const RUN_KEY: &str = r"HKCU\Software\Microsoft\Windows\CurrentVersion\Run";

fn launcher(program: &Path) -> Result<auto_launch::AutoLaunch, String> {
    // auto-launch writes "{path} {args}" as it is given: hand it the
    // command already quoted by our rules, as path and no arguments.
    let command = run_key_command(program, &["daemon"]);
    auto_launch::AutoLaunchBuilder::new()
        .set_app_name(RUN_KEY_VALUE_NAME)
        .set_app_path(&command)
        // This user's Run key only. auto-launch's default tries the
        // machine's (HKLM, every user's logins) first and succeeds there
        // whenever the process may write it (an administrator's elevated
        // shell; Wine): seen under Wine, tests/windows_under_wine.rs.
        .set_windows_enable_mode(auto_launch::WindowsEnableMode::CurrentUser)
        .build()
        .map_err(|e| e.to_string())
}

fn entry() -> PathBuf {
    PathBuf::from(format!(r"{RUN_KEY}\{RUN_KEY_VALUE_NAME}"))
}

pub fn enable(_paths: &Paths, program: &Path) -> Result<PathBuf, String> {
    launcher(program)?
        .enable()
        .map_err(|e| format!("cannot write {}: {e}", entry().display()))?;
    Ok(entry())
}

pub fn disable(_paths: &Paths) -> Result<bool, String> {
    let program = std::env::current_exe().map_err(|e| e.to_string())?;
    let launch = launcher(&program)?;
    let was = launch.is_enabled().unwrap_or(false);
    launch
        .disable()
        .map_err(|e| format!("cannot remove {}: {e}", entry().display()))?;
    Ok(was)
}

/// Whether the value exists, and the program it starts (this one: the
/// value is written for the running binary).
pub fn status(_paths: &Paths) -> AutostartState {
    let Ok(program) = std::env::current_exe() else {
        return AutostartState::Disabled;
    };
    match launcher(&program).and_then(|l| l.is_enabled().map_err(|e| e.to_string())) {
        Ok(true) => {
            let command = run_key_command(&program, &["daemon"]);
            let program = run_key_program(&command)
                .map(PathBuf::from)
                .unwrap_or(program);
            AutostartState::Enabled {
                entry: entry(),
                program,
            }
        }
        Ok(false) => AutostartState::Disabled,
        Err(reason) => AutostartState::Broken {
            entry: entry(),
            reason,
        },
    }
}
