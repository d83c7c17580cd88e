//! macOS: a LaunchAgent, `~/Library/LaunchAgents/io.github.opencode-nexus.plist`
//! (its text: `platform::rules::launch_agent_plist`), loaded by launchd at
//! the next login. Built and linted here; not yet run on a real Mac.

use super::{AutostartState, remove_entry, write_entry};
use crate::paths::Paths;
use crate::platform::rules::{launch_agent_plist, launch_agent_program};
use std::path::{Path, PathBuf};

/// Writes the LaunchAgent so that `program daemon` starts at login.
pub fn enable(paths: &Paths, program: &Path) -> Result<PathBuf, String> {
    let agent = paths.launch_agent();
    let text = launch_agent_plist(program, &["daemon"]);
    write_entry(&agent, &text)?;
    Ok(agent)
}

/// Removes the LaunchAgent; `Ok(false)` when there was none.
pub fn disable(paths: &Paths) -> Result<bool, String> {
    remove_entry(&paths.launch_agent())
}

/// What the LaunchAgent on disk really starts.
pub fn status(paths: &Paths) -> AutostartState {
    let entry = paths.launch_agent();
    let Ok(text) = std::fs::read_to_string(&entry) else {
        return AutostartState::Disabled;
    };
    let Some(program) = launch_agent_program(&text).map(PathBuf::from) else {
        return AutostartState::Broken {
            entry,
            reason: "names no program (run `opencode-nexus autostart enable` again)".into(),
        };
    };
    if !crate::platform::is_executable(&program) {
        return AutostartState::Broken {
            entry,
            reason: format!(
                "starts {}, which is not an executable file (run `opencode-nexus autostart enable` again)",
                program.display()
            ),
        };
    }
    AutostartState::Enabled { entry, program }
}
