//! macOS (a LaunchAgent) and Windows (the Run key), through auto-launch.

use super::AutostartState;
use crate::paths::Paths;
use std::path::{Path, PathBuf};

fn launcher(program: &Path) -> Result<auto_launch::AutoLaunch, String> {
    auto_launch::AutoLaunchBuilder::new()
        .set_app_name("OpenCode Nexus")
        .set_app_path(&program.display().to_string())
        .set_args(&["daemon"])
        .build()
        .map_err(|e| e.to_string())
}

pub fn enable(_paths: &Paths, program: &Path) -> Result<PathBuf, String> {
    launcher(program)?.enable().map_err(|e| e.to_string())?;
    Ok(program.to_path_buf())
}

pub fn disable(_paths: &Paths) -> Result<bool, String> {
    let program = std::env::current_exe().map_err(|e| e.to_string())?;
    let launch = launcher(&program)?;
    let was = launch.is_enabled().unwrap_or(false);
    launch.disable().map_err(|e| e.to_string())?;
    Ok(was)
}

pub fn status(_paths: &Paths) -> AutostartState {
    let Ok(program) = std::env::current_exe() else {
        return AutostartState::Disabled;
    };
    match launcher(&program).and_then(|l| l.is_enabled().map_err(|e| e.to_string())) {
        Ok(true) => AutostartState::Enabled {
            entry: program.clone(),
            program,
        },
        Ok(false) => AutostartState::Disabled,
        Err(reason) => AutostartState::Broken {
            entry: program,
            reason,
        },
    }
}
