//! Every filesystem location Nexus uses, derived once from the environment:
//! the XDG variables on Linux and macOS, `%APPDATA%` and `%LOCALAPPDATA%` on
//! Windows.
//!
//! Deep code never reads environment variables: it is handed a `Paths`. Tests
//! point the variables at temporary directories, and build any platform's
//! layout on any platform (`from_vars_on`).

use crate::platform::rules::{APP_DIR, LAUNCH_AGENT_LABEL, Os, is_absolute_on};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    /// The user's home directory.
    pub home: PathBuf,
    /// `$XDG_CONFIG_HOME/opencode-nexus`: config.toml and the attach-mode password file.
    pub config_dir: PathBuf,
    /// `$XDG_STATE_HOME/opencode-nexus`: Nexus's own log and the server log.
    pub state_dir: PathBuf,
    /// `$XDG_RUNTIME_DIR/opencode-nexus` (0700): the instance lock and the control socket.
    pub runtime_dir: PathBuf,
    /// `$XDG_DATA_HOME`, for the install locations we search for `opencode`.
    pub data_home: PathBuf,
    /// `$XDG_CONFIG_HOME/autostart`: where desktops look for programs to start at login.
    pub autostart_dir: PathBuf,
}

impl Paths {
    /// Builds the paths from the process environment.
    pub fn from_env() -> Self {
        Self::from_vars(|name| std::env::var_os(name))
    }

    /// Builds the paths from any variable lookup (tests pass a map).
    pub fn from_vars(var: impl Fn(&str) -> Option<OsString>) -> Self {
        Self::from_vars_on(Os::CURRENT, var)
    }

    /// Builds `os`'s layout from a variable lookup, on any platform.
    pub fn from_vars_on(os: Os, var: impl Fn(&str) -> Option<OsString>) -> Self {
        let non_empty = |name: &str| {
            var(name)
                .filter(|v| !v.is_empty())
                .filter(|v| is_absolute_on(os, &v.to_string_lossy()))
                .map(PathBuf::from)
        };
        if os == Os::Windows {
            return Self::windows(non_empty);
        }
        let home = non_empty("HOME").unwrap_or_else(|| PathBuf::from("/"));
        let config_home = non_empty("XDG_CONFIG_HOME").unwrap_or_else(|| home.join(".config"));
        let state_home = non_empty("XDG_STATE_HOME").unwrap_or_else(|| home.join(".local/state"));
        let data_home = non_empty("XDG_DATA_HOME").unwrap_or_else(|| home.join(".local/share"));
        // Without XDG_RUNTIME_DIR (e.g. a bare ssh session) fall back to a per-user
        // directory in /tmp, which `ensure_runtime_dir` and `check_runtime_dir` refuse
        // unless it is ours, private and not a symlink (others can create it first).
        let runtime_dir = match non_empty("XDG_RUNTIME_DIR") {
            Some(dir) => dir.join(APP_DIR),
            None => std::env::temp_dir().join(format!("{APP_DIR}-{}", crate::platform::user_id())),
        };
        Paths {
            autostart_dir: config_home.join("autostart"),
            config_dir: config_home.join(APP_DIR),
            state_dir: state_home.join(APP_DIR),
            runtime_dir,
            data_home,
            home,
        }
    }

    /// Windows: config in `%APPDATA%\opencode-nexus` (roams with the user),
    /// state and logs in `%LOCALAPPDATA%\opencode-nexus` (this machine's), the
    /// instance lock in its `run` folder (the control channel is a named pipe,
    /// `platform::rules::control_pipe_name`, not a file). Both folders are
    /// in the user's profile, which only the user (and administrators) can
    /// open. Start at login is a registry value, so `autostart_dir` is unused.
    fn windows(non_empty: impl Fn(&str) -> Option<PathBuf>) -> Self {
        let home = non_empty("USERPROFILE").unwrap_or_else(|| PathBuf::from(r"C:\"));
        let roaming = non_empty("APPDATA").unwrap_or_else(|| home.join(r"AppData\Roaming"));
        let local = non_empty("LOCALAPPDATA").unwrap_or_else(|| home.join(r"AppData\Local"));
        let state_dir = local.join(APP_DIR);
        Paths {
            config_dir: roaming.join(APP_DIR),
            autostart_dir: roaming.join(APP_DIR),
            runtime_dir: state_dir.join("run"),
            state_dir,
            data_home: local,
            home,
        }
    }

    /// Paths for unit tests: HOME is `home`, nothing else is set.
    #[cfg(test)]
    pub fn with_home(home: &str) -> Self {
        let home = OsString::from(home);
        Paths::from_vars(move |name| (name == "HOME").then(|| home.clone()))
    }

    pub fn config_file(&self) -> PathBuf {
        self.config_dir.join("config.toml")
    }

    /// Default location of the attach-mode password (created 0600).
    pub fn password_file(&self) -> PathBuf {
        self.config_dir.join("server-password")
    }

    /// The remote gateway's account: password hash, devices, lockout (0600).
    pub fn remote_account_file(&self) -> PathBuf {
        self.config_dir.join("remote.json")
    }

    /// The gateway's self-signed certificate (`tls = "auto"`), made once.
    pub fn remote_cert_file(&self) -> PathBuf {
        self.config_dir.join("remote-cert.pem")
    }

    /// The certificate's private key (0600).
    pub fn remote_key_file(&self) -> PathBuf {
        self.config_dir.join("remote-key.pem")
    }

    /// The gateway process's own output.
    pub fn gateway_log(&self) -> PathBuf {
        self.state_dir.join("gateway.log")
    }

    /// The XDG autostart entry that starts the daemon at login.
    pub fn autostart_entry(&self) -> PathBuf {
        self.autostart_dir.join("opencode-nexus.desktop")
    }

    /// macOS: the LaunchAgent that starts the daemon at login.
    pub fn launch_agent(&self) -> PathBuf {
        self.home
            .join("Library/LaunchAgents")
            .join(format!("{LAUNCH_AGENT_LABEL}.plist"))
    }

    pub fn daemon_log(&self) -> PathBuf {
        self.state_dir.join("nexus.log")
    }

    /// The popover process's own output (GTK/WebKit warnings, crashes).
    pub fn popover_log(&self) -> PathBuf {
        self.state_dir.join("popover.log")
    }

    /// Drafts typed in the popover, by session (survive restarts).
    pub fn drafts_file(&self) -> PathBuf {
        self.state_dir.join("drafts.json")
    }

    /// The popover window's remembered size.
    pub fn popover_state_file(&self) -> PathBuf {
        self.state_dir.join("popover-window.json")
    }

    pub fn server_log(&self) -> PathBuf {
        self.state_dir.join("server.log")
    }

    pub fn lock_file(&self) -> PathBuf {
        self.runtime_dir.join("daemon.lock")
    }

    pub fn socket(&self) -> PathBuf {
        self.runtime_dir.join("control.sock")
    }

    /// Records the managed server's process group so a restarted Nexus can clean up
    /// after a crashed one.
    pub fn server_pid_file(&self) -> PathBuf {
        self.runtime_dir.join("server.pid")
    }

    /// Expands a leading `~` against the home directory.
    pub fn expand_home(&self, path: &Path) -> PathBuf {
        match path.strip_prefix("~") {
            Ok(rest) => self.home.join(rest),
            Err(_) => path.to_path_buf(),
        }
    }
}

/// Creates `dir` (and parents) and makes sure it is ours and private (0700
/// on Unix; on Windows the user's profile directories already are).
pub fn ensure_private_dir(dir: &Path) -> std::io::Result<()> {
    crate::platform::ensure_private_dir(dir)
}

/// Why the runtime directory (the control socket's home) cannot be trusted.
/// Each message names the directory and the fix.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeDirError {
    #[error(
        "the runtime directory {} is a symbolic link: someone may be redirecting Nexus's control socket; remove it (`rm {}`) or set XDG_RUNTIME_DIR to a private directory",
        .0.display(), .0.display()
    )]
    Symlink(PathBuf),
    #[error(
        "the runtime directory {} is not a directory; remove it or set XDG_RUNTIME_DIR to a private directory",
        .0.display()
    )]
    NotDirectory(PathBuf),
    #[error(
        "the runtime directory {} belongs to uid {owner}, not to you (uid {me}): another user may have created it to intercept Nexus; remove it (`rm -r {}`) or set XDG_RUNTIME_DIR to a private directory",
        dir.display(), dir.display()
    )]
    OtherOwner { dir: PathBuf, owner: u32, me: u32 },
    #[error(
        "the runtime directory {} has mode {mode:04o}, so other users can reach Nexus's control socket; run `chmod 700 {}`",
        dir.display(), dir.display()
    )]
    NotPrivate { dir: PathBuf, mode: u32 },
    #[error("cannot use the runtime directory {}: {source}", dir.display())]
    Io {
        dir: PathBuf,
        source: std::io::Error,
    },
}

impl RuntimeDirError {
    /// The directory does not exist (for the CLI: no daemon ever ran).
    pub fn is_missing(&self) -> bool {
        matches!(self, RuntimeDirError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    }
}

/// The daemon's runtime directory: created private when absent, then
/// checked like [`check_runtime_dir`]. It is never repaired: a directory in a
/// shared `/tmp` that is not already private may have been prepared by
/// someone else.
pub fn ensure_runtime_dir(dir: &Path) -> Result<(), RuntimeDirError> {
    crate::platform::ensure_runtime_dir(dir)
}

/// Checks, without following a symlink at `dir`, that it is a directory
/// private to this user (on Unix: owned by us, no access for group or others).
pub fn check_runtime_dir(dir: &Path) -> Result<(), RuntimeDirError> {
    crate::platform::check_runtime_dir(dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn paths(vars: &[(&str, &str)]) -> Paths {
        let map: HashMap<String, OsString> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
        Paths::from_vars(|name| map.get(name).cloned())
    }

    #[test]
    fn derives_every_location_from_xdg_variables() {
        let p = paths(&[
            ("HOME", "/home/u"),
            ("XDG_CONFIG_HOME", "/c"),
            ("XDG_STATE_HOME", "/s"),
            ("XDG_RUNTIME_DIR", "/r"),
        ]);
        assert_eq!(
            p.config_file(),
            PathBuf::from("/c/opencode-nexus/config.toml")
        );
        assert_eq!(
            p.server_log(),
            PathBuf::from("/s/opencode-nexus/server.log")
        );
        assert_eq!(p.socket(), PathBuf::from("/r/opencode-nexus/control.sock"));
        assert_eq!(p.data_home, PathBuf::from("/home/u/.local/share"));
    }

    #[test]
    fn falls_back_to_home_when_xdg_is_unset_or_relative() {
        let p = paths(&[("HOME", "/home/u"), ("XDG_CONFIG_HOME", "relative")]);
        assert_eq!(
            p.config_dir,
            PathBuf::from("/home/u/.config/opencode-nexus")
        );
        assert_eq!(
            p.state_dir,
            PathBuf::from("/home/u/.local/state/opencode-nexus")
        );
        assert!(p.runtime_dir.starts_with(std::env::temp_dir()));
    }

    #[test]
    fn windows_keeps_config_in_appdata_and_state_in_localappdata() {
        let vars: HashMap<&str, &str> = [
            ("USERPROFILE", r"C:\Users\u"),
            ("APPDATA", r"C:\Users\u\AppData\Roaming"),
            ("LOCALAPPDATA", r"C:\Users\u\AppData\Local"),
            ("HOME", "/home/ignored"),
            ("XDG_CONFIG_HOME", "/ignored"),
        ]
        .into_iter()
        .collect();
        let p = Paths::from_vars_on(Os::Windows, |n| vars.get(n).map(OsString::from));
        let roaming = PathBuf::from(r"C:\Users\u\AppData\Roaming");
        let local = PathBuf::from(r"C:\Users\u\AppData\Local");
        assert_eq!(p.home, PathBuf::from(r"C:\Users\u"));
        assert_eq!(p.config_dir, roaming.join("opencode-nexus"));
        assert_eq!(
            p.config_file(),
            roaming.join("opencode-nexus").join("config.toml")
        );
        assert_eq!(p.state_dir, local.join("opencode-nexus"));
        assert_eq!(
            p.daemon_log(),
            local.join("opencode-nexus").join("nexus.log")
        );
        assert_eq!(p.runtime_dir, local.join("opencode-nexus").join("run"));
        assert_eq!(p.data_home, local);
    }

    #[test]
    fn windows_falls_back_to_the_profile_and_ignores_relative_values() {
        let p = Paths::from_vars_on(Os::Windows, |n| match n {
            "USERPROFILE" => Some(OsString::from(r"D:\u")),
            "APPDATA" => Some(OsString::from(r"relative\Roaming")),
            _ => None,
        });
        let home = PathBuf::from(r"D:\u");
        assert_eq!(
            p.config_dir,
            home.join(r"AppData\Roaming").join("opencode-nexus")
        );
        assert_eq!(
            p.state_dir,
            home.join(r"AppData\Local").join("opencode-nexus")
        );
    }

    #[cfg(unix)]
    #[test]
    fn the_runtime_dir_is_created_private_and_checked_without_following_links() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("opencode-nexus-0");
        ensure_runtime_dir(&dir).unwrap();
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        check_runtime_dir(&dir).unwrap();

        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = ensure_runtime_dir(&dir).unwrap_err();
        assert!(
            matches!(err, RuntimeDirError::NotPrivate { mode: 0o777, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("chmod 700"), "{err}");

        let target = tmp.path().join("elsewhere");
        std::fs::create_dir(&target).unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o700)).unwrap();
        let link = tmp.path().join("linked");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let err = ensure_runtime_dir(&link).unwrap_err();
        assert!(matches!(err, RuntimeDirError::Symlink(_)), "{err}");
        assert!(check_runtime_dir(&link).is_err());

        let file = tmp.path().join("file");
        std::fs::write(&file, "").unwrap();
        assert!(matches!(
            check_runtime_dir(&file),
            Err(RuntimeDirError::NotDirectory(_))
        ));
        assert!(
            check_runtime_dir(&tmp.path().join("missing"))
                .unwrap_err()
                .is_missing()
        );
    }

    #[test]
    fn expands_tilde() {
        let p = paths(&[("HOME", "/home/u")]);
        assert_eq!(p.expand_home(Path::new("~/w")), PathBuf::from("/home/u/w"));
        assert_eq!(p.expand_home(Path::new("/abs")), PathBuf::from("/abs"));
    }
}
