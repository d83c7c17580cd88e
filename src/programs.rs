//! Nexus's two programs find each other: `opencode-nexus` (resident, no GUI
//! toolkit) and `opencode-nexus-popover` (tao + wry) are installed side by side.

use std::path::PathBuf;

/// The popover binary, beside the running one.
pub fn popover_program() -> Result<PathBuf, String> {
    beside_this_one("opencode-nexus-popover")
}

/// The remote gateway's binary, beside the running one.
pub fn gateway_program() -> Result<PathBuf, String> {
    beside_this_one("opencode-nexus-gateway")
}

/// The program `name` installed beside the running one.
fn beside_this_one(name: &str) -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
    let program = exe.with_file_name(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    if program.is_file() {
        Ok(program)
    } else {
        Err(format!(
            "{} is missing (it is installed beside opencode-nexus)",
            program.display()
        ))
    }
}

/// The resident program to start at login: this executable, or — from the
/// popover's binary — the `opencode-nexus` installed beside it.
pub fn daemon_program() -> Result<PathBuf, String> {
    let me =
        std::env::current_exe().map_err(|e| format!("cannot tell where this program is: {e}"))?;
    let popover = me
        .file_stem()
        .is_some_and(|name| name == "opencode-nexus-popover");
    Ok(if popover {
        me.with_file_name(format!("opencode-nexus{}", std::env::consts::EXE_SUFFIX))
    } else {
        me
    })
}
