//! Finding the `opencode` binary: config, then PATH, then the usual install places.

use crate::platform::rules::Os;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

/// The OpenCode release Nexus is built and tested against (scripts/common.sh
/// pins the same one for the tests).
pub const SUPPORTED_OPENCODE_VERSION: &str = "1.18.33";

/// The npm arguments that install it for this user only (into ~/.local,
/// whose bin folder is one of the usual places searched): no root needed.
pub fn npm_install_args(home: &Path) -> Vec<String> {
    vec![
        "install".into(),
        "--global".into(),
        "--prefix".into(),
        home.join(".local").display().to_string(),
        "--no-audit".into(),
        "--no-fund".into(),
        format!("opencode-ai@{SUPPORTED_OPENCODE_VERSION}"),
    ]
}

/// Finds a program on PATH.
pub fn on_path(name: &str, path_var: Option<&OsStr>) -> Option<PathBuf> {
    path_var
        .into_iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

/// How to install OpenCode, for "not found" messages.
pub const INSTALL_HINT: &str = "install it with `npm install -g opencode-ai` (or `curl -fsSL https://opencode.ai/install | bash`), or set server.command in config.toml";

/// Finds `opencode`. `path_var` is the PATH to search; `home` anchors the
/// install places (`~/.opencode/bin`, `~/.local/bin`, npm's global bins).
pub fn find_opencode(
    configured: Option<&Path>,
    path_var: Option<&OsStr>,
    home: &Path,
) -> Result<PathBuf, String> {
    if let Some(path) = configured {
        return if is_executable(path) {
            Ok(path.to_path_buf())
        } else {
            Err(format!(
                "server.command = {} is not an executable file; fix the path or remove the key to search PATH",
                path.display()
            ))
        };
    }
    let from_path = path_var.into_iter().flat_map(std::env::split_paths);
    let usual = [
        home.join(".opencode/bin"),
        home.join(".local/bin"),
        home.join(".npm-global/bin"),
        home.join(".local/share/npm/bin"),
        home.join(".bun/bin"),
        PathBuf::from("/usr/local/bin"),
        PathBuf::from("/opt/homebrew/bin"),
    ];
    let names = opencode_file_names(Os::CURRENT);
    from_path
        .chain(usual)
        .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
        .find(|candidate| is_executable(candidate))
        .ok_or_else(|| {
            format!("opencode was not found on PATH or in the usual install places; {INSTALL_HINT}")
        })
}

/// The file names `opencode` has on `os`: on Windows npm installs a
/// `opencode.cmd` shim, the standalone release is `opencode.exe`.
pub fn opencode_file_names(os: Os) -> &'static [&'static str] {
    match os {
        Os::Windows => &["opencode.exe", "opencode.cmd"],
        Os::Linux | Os::MacOs => &["opencode"],
    }
}

fn is_executable(path: &Path) -> bool {
    crate::platform::is_executable(path)
}

#[cfg(test)]
#[test]
fn windows_looks_for_the_exe_and_npms_cmd_shim() {
    assert_eq!(
        opencode_file_names(Os::Windows),
        ["opencode.exe", "opencode.cmd"]
    );
    assert_eq!(opencode_file_names(Os::Linux), ["opencode"]);
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn make_exe(path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    #[test]
    fn prefers_config_then_path_then_usual_places() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        let on_path = dir.path().join("bin/opencode");
        let usual = home.join(".opencode/bin/opencode");
        make_exe(&usual);
        assert_eq!(find_opencode(None, None, &home).unwrap(), usual);
        make_exe(&on_path);
        let path_var = dir.path().join("bin").into_os_string();
        assert_eq!(
            find_opencode(None, Some(&path_var), &home).unwrap(),
            on_path
        );
        assert_eq!(
            find_opencode(Some(&usual), Some(&path_var), &home).unwrap(),
            usual
        );
    }

    #[test]
    fn missing_binary_says_how_to_install() {
        let dir = tempfile::tempdir().unwrap();
        let err = find_opencode(None, Some(OsStr::new("")), dir.path()).unwrap_err();
        assert!(err.contains("npm install -g opencode-ai"), "{err}");
        let err = find_opencode(Some(&dir.path().join("nope")), None, dir.path()).unwrap_err();
        assert!(err.contains("server.command"), "{err}");
    }

    #[test]
    fn non_executable_files_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("bin")).unwrap();
        std::fs::write(dir.path().join("bin/opencode"), "").unwrap();
        let path_var = dir.path().join("bin").into_os_string();
        assert!(find_opencode(None, Some(&path_var), &dir.path().join("h")).is_err());
    }
}
