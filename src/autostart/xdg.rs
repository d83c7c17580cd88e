//! Linux: `$XDG_CONFIG_HOME/autostart/opencode-nexus.desktop`.

use super::AutostartState;
use crate::paths::Paths;
use std::path::{Path, PathBuf};

/// Writes the entry so that `program daemon` starts at login.
pub fn enable(paths: &Paths, program: &Path) -> Result<PathBuf, String> {
    let entry = paths.autostart_entry();
    std::fs::create_dir_all(&paths.autostart_dir)
        .map_err(|e| format!("cannot create {}: {e}", paths.autostart_dir.display()))?;
    let text = format!(
        "[Desktop Entry]\n\
         Type=Application\n\
         Name=OpenCode Nexus\n\
         Comment=Keeps the OpenCode server running and shows the agent's state in the tray\n\
         Exec={} daemon\n\
         Icon=opencode-nexus\n\
         Terminal=false\n\
         NoDisplay=true\n\
         X-GNOME-Autostart-enabled=true\n",
        quote_exec_arg(&program.display().to_string())
    );
    // Write then rename, so a desktop never reads half an entry.
    let temp = entry.with_extension("desktop.tmp");
    std::fs::write(&temp, text)
        .and_then(|()| std::fs::rename(&temp, &entry))
        .map_err(|e| format!("cannot write {}: {e}", entry.display()))?;
    Ok(entry)
}

/// Removes the entry; `Ok(false)` when there was none.
pub fn disable(paths: &Paths) -> Result<bool, String> {
    let entry = paths.autostart_entry();
    match std::fs::remove_file(&entry) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(format!("cannot remove {}: {e}", entry.display())),
    }
}

/// What the entry on disk really does.
pub fn status(paths: &Paths) -> AutostartState {
    let entry = paths.autostart_entry();
    let Ok(text) = std::fs::read_to_string(&entry) else {
        return AutostartState::Disabled;
    };
    let value = |key: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(key)?.trim_start().strip_prefix('='))
            .map(str::trim)
    };
    if value("Hidden") == Some("true") || value("X-GNOME-Autostart-enabled") == Some("false") {
        return AutostartState::Disabled;
    }
    let Some(program) = value("Exec").and_then(first_exec_arg) else {
        return AutostartState::Broken {
            entry,
            reason: "has no Exec line".into(),
        };
    };
    let program = PathBuf::from(program);
    if !is_executable(&program) {
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

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Quotes one Exec argument as the Desktop Entry spec asks.
fn quote_exec_arg(arg: &str) -> String {
    let plain = arg
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+".contains(c));
    if plain {
        return arg.to_string();
    }
    let mut out = String::from("\"");
    for c in arg.chars() {
        if matches!(c, '"' | '`' | '$' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    // A literal `%` is written `%%` in Exec.
    out.replace('%', "%%")
}

/// The program of an Exec line (undoing `quote_exec_arg`).
fn first_exec_arg(exec: &str) -> Option<String> {
    let exec = exec.replace("%%", "%");
    let mut chars = exec.trim_start().chars();
    let mut out = String::new();
    match chars.next()? {
        '"' => {
            while let Some(c) = chars.next() {
                match c {
                    '\\' => out.push(chars.next()?),
                    '"' => return Some(out),
                    c => out.push(c),
                }
            }
            None
        }
        first => {
            out.push(first);
            out.extend(chars.take_while(|c| !c.is_whitespace()));
            Some(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(dir: &Path) -> Paths {
        let dir = dir.to_path_buf();
        Paths::from_vars(move |name| (name == "XDG_CONFIG_HOME").then(|| dir.clone().into()))
    }

    #[test]
    fn enable_writes_an_entry_that_starts_this_daemon_and_disable_removes_it() {
        let dir = tempfile::tempdir().unwrap();
        let paths = paths(dir.path());
        let program = std::env::current_exe().unwrap();
        assert_eq!(status(&paths), AutostartState::Disabled);
        let entry = enable(&paths, &program).unwrap();
        assert_eq!(entry, dir.path().join("autostart/opencode-nexus.desktop"));
        let text = std::fs::read_to_string(&entry).unwrap();
        assert!(
            text.contains(&format!("Exec={} daemon", program.display())),
            "{text}"
        );
        assert_eq!(
            status(&paths),
            AutostartState::Enabled {
                entry: entry.clone(),
                program
            }
        );
        assert!(disable(&paths).unwrap());
        assert!(!disable(&paths).unwrap());
        assert_eq!(status(&paths), AutostartState::Disabled);
    }

    #[test]
    fn status_tells_the_truth_about_broken_or_hidden_entries() {
        let dir = tempfile::tempdir().unwrap();
        let paths = paths(dir.path());
        enable(&paths, Path::new("/nonexistent/opencode-nexus")).unwrap();
        assert!(matches!(status(&paths), AutostartState::Broken { .. }));
        let entry = paths.autostart_entry();
        let program = std::env::current_exe().unwrap();
        enable(&paths, &program).unwrap();
        let text = std::fs::read_to_string(&entry).unwrap() + "Hidden=true\n";
        std::fs::write(&entry, text).unwrap();
        assert_eq!(status(&paths), AutostartState::Disabled);
    }

    #[test]
    fn paths_with_spaces_and_specials_round_trip() {
        for p in ["/opt/My Apps/nexus", "/a/b$c/\"q\"/100%/x", "/plain/path"] {
            assert_eq!(
                first_exec_arg(&format!("{} daemon", quote_exec_arg(p))).as_deref(),
                Some(p)
            );
        }
    }
}
