//! Linux: `$XDG_CONFIG_HOME/autostart/opencode-nexus.desktop`.

use super::{AutostartState, remove_entry, write_entry};
use crate::paths::Paths;
use std::path::{Path, PathBuf};

/// Writes the entry so that `program daemon` starts at login.
pub fn enable(paths: &Paths, program: &Path) -> Result<PathBuf, String> {
    let entry = paths.autostart_entry();
    std::fs::create_dir_all(&paths.autostart_dir)
        .map_err(|e| format!("cannot create {}: {e}", paths.autostart_dir.display()))?;
    let program = program.to_str().ok_or_else(|| {
        format!(
            "cannot start {} at login: a desktop entry holds only UTF-8 paths (move Nexus to a path that is)",
            program.display()
        )
    })?;
    let exec = exec_value(&[program, "daemon"])
        .map_err(|e| format!("cannot start {program:?} at login: {e}"))?;
    let text = format!(
        "[Desktop Entry]\n\
         Type=Application\n\
         Name=OpenCode Nexus\n\
         Comment=Keeps the OpenCode server running and shows the agent's state in the tray\n\
         Exec={exec}\n\
         Icon=opencode-nexus\n\
         Terminal=false\n\
         NoDisplay=true\n\
         X-GNOME-Autostart-enabled=true\n"
    );
    write_entry(&entry, &text)?;
    Ok(entry)
}

/// Removes the entry; `Ok(false)` when there was none.
pub fn disable(paths: &Paths) -> Result<bool, String> {
    remove_entry(&paths.autostart_entry())
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
    let argv = match value("Exec").map(parse_exec_value) {
        None => Err("has no Exec line".to_string()),
        Some(Err(e)) => Err(format!(
            "has an Exec line that cannot be read ({e}); run `opencode-nexus autostart enable` again"
        )),
        Some(Ok(argv)) if argv.is_empty() => Err("has an empty Exec line".to_string()),
        Some(Ok(argv)) => Ok(argv),
    };
    let program = match argv {
        Ok(argv) => argv.into_iter().next().unwrap_or_default(),
        Err(reason) => return AutostartState::Broken { entry, reason },
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

// The Desktop Entry spec has two levels for Exec: the key's value is a
// string (escapes `\s \n \t \r \\`), and the unescaped text is then split into
// arguments by the Exec quoting rules (double quotes; inside them `"` `` ` ``
// `$` `\` take a backslash), with `%%` for a literal `%`. So a backslash in a
// quoted argument is written `\\\\` in the file, a dollar `\\$`.

/// Characters that force an Exec argument into double quotes (the spec's
/// reserved characters, plus `=` and `%`-free plain text kept bare).
fn needs_quotes(arg: &str) -> bool {
    arg.is_empty()
        || arg
            .chars()
            .any(|c| c.is_whitespace() || "\"'\\><~|&;$*?#()`".contains(c) || c.is_control())
}

/// One argument quoted by the Exec rules (before the string escapes).
fn quote_exec_arg(arg: &str) -> String {
    let arg = arg.replace('%', "%%");
    if !needs_quotes(&arg) {
        return arg;
    }
    let mut out = String::from("\"");
    for c in arg.chars() {
        if matches!(c, '"' | '`' | '$' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// The value of an `Exec=` key that runs `argv`: each argument quoted by the
/// Exec rules, then the whole escaped as a desktop-entry string. Control
/// characters other than newline, tab and CR cannot be written at all.
pub fn exec_value(argv: &[&str]) -> Result<String, String> {
    let line = argv
        .iter()
        .map(|arg| quote_exec_arg(arg))
        .collect::<Vec<_>>()
        .join(" ");
    let mut out = String::with_capacity(line.len());
    for c in line.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                return Err(format!(
                    "the path holds the control character {}, which a desktop entry cannot hold",
                    crate::core::visible_text::visible(&c.to_string())
                ));
            }
            c => out.push(c),
        }
    }
    Ok(out)
}

/// Undoes `exec_value`: the string escapes, then the Exec quoting, then `%%`.
pub fn parse_exec_value(value: &str) -> Result<Vec<String>, String> {
    let mut line = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            line.push(c);
            continue;
        }
        match chars.next() {
            Some('s') => line.push(' '),
            Some('n') => line.push('\n'),
            Some('t') => line.push('\t'),
            Some('r') => line.push('\r'),
            Some('\\') => line.push('\\'),
            // Not a string escape: left for the Exec quoting to judge.
            Some(other) => {
                line.push('\\');
                line.push(other);
            }
            None => line.push('\\'),
        }
    }
    let mut argv = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.next_if(|c| *c == ' ').is_some() {}
        let Some(first) = chars.next() else { break };
        let mut arg = String::new();
        if first == '"' {
            loop {
                match chars.next() {
                    Some('\\') => match chars.next() {
                        Some(c @ ('"' | '`' | '$' | '\\')) => arg.push(c),
                        Some(c) => return Err(format!("Exec has \\{c} inside quotes")),
                        None => return Err("Exec ends inside quotes".into()),
                    },
                    Some('"') => break,
                    Some(c) => arg.push(c),
                    None => return Err("Exec ends inside quotes".into()),
                }
            }
            if chars.peek().is_some_and(|c| *c != ' ') {
                return Err("Exec has text right after a closing quote".into());
            }
        } else {
            arg.push(first);
            while let Some(c) = chars.next_if(|c| *c != ' ') {
                arg.push(c);
            }
            if needs_quotes(&arg) {
                return Err(format!(
                    "Exec has an unquoted reserved character in {arg:?}"
                ));
            }
        }
        argv.push(arg.replace("%%", "%"));
    }
    Ok(argv)
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
        for p in [
            "/opt/My Apps/nexus",
            "/a/b$c/\"q\"/100%/x",
            "/plain/path",
            "/back\\slash/\\\\two/`tick`/'single'/tab\there/new\nline/$HOME/%u",
            "/ünï cødé/nexus",
        ] {
            let value = exec_value(&[p, "daemon"]).unwrap();
            assert!(!value.contains('\n') && !value.contains('\t'), "{value}");
            assert_eq!(parse_exec_value(&value).unwrap(), [p, "daemon"], "{value}");
        }
    }

    #[test]
    fn exec_uses_both_levels_of_escaping() {
        // A backslash in a quoted argument is four in the file, a dollar `\\$`.
        assert_eq!(exec_value(&["/a\\b"]).unwrap(), r#""/a\\\\b""#);
        assert_eq!(exec_value(&["/a$b"]).unwrap(), r#""/a\\$b""#);
        assert_eq!(exec_value(&["/a\"b"]).unwrap(), r#""/a\\"b""#);
        assert_eq!(exec_value(&["/a`b"]).unwrap(), r#""/a\\`b""#);
        assert_eq!(exec_value(&["/a b"]).unwrap(), r#""/a b""#);
        assert_eq!(exec_value(&["/100%", "daemon"]).unwrap(), "/100%% daemon");
        assert_eq!(exec_value(&["/plain/path"]).unwrap(), "/plain/path");
        assert_eq!(exec_value(&["/new\nline"]).unwrap(), r#""/new\nline""#);
        let bell = exec_value(&["/a\u{7}b"]).unwrap_err();
        assert!(
            bell.contains("\\u{7}") || bell.contains("\\x07") || bell.contains("control"),
            "{bell}"
        );
    }

    #[test]
    fn malformed_exec_values_are_refused() {
        assert!(parse_exec_value(r#""/unterminated"#).is_err());
        assert!(parse_exec_value(r#""/a\qb""#).is_err());
        assert!(parse_exec_value(r#""/a"b"#).is_err());
        assert!(parse_exec_value("/a$b").is_err());
        let dir = tempfile::tempdir().unwrap();
        let paths = paths(dir.path());
        enable(&paths, &std::env::current_exe().unwrap()).unwrap();
        let entry = paths.autostart_entry();
        let text = std::fs::read_to_string(&entry).unwrap();
        let text: String = text
            .lines()
            .map(|l| {
                if l.starts_with("Exec=") {
                    "Exec=\"/unclosed daemon"
                } else {
                    l
                }
            })
            .map(|l| format!("{l}\n"))
            .collect();
        std::fs::write(&entry, text).unwrap();
        match status(&paths) {
            AutostartState::Broken { reason, .. } => {
                assert!(
                    reason.contains("cannot be read (Exec ends inside quotes)"),
                    "{reason}"
                )
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(parse_exec_value("  /a   b ").unwrap(), ["/a", "b"]);
    }
}
