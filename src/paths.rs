//! Every filesystem location Nexus uses, derived once from the XDG environment.
//!
//! Deep code never reads environment variables: it is handed a `Paths`. Tests
//! point the XDG variables at temporary directories.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

const APP_DIR: &str = "opencode-nexus";

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
        let non_empty = |name: &str| {
            var(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
        };
        let home = non_empty("HOME").unwrap_or_else(|| PathBuf::from("/"));
        let config_home = non_empty("XDG_CONFIG_HOME").unwrap_or_else(|| home.join(".config"));
        let state_home = non_empty("XDG_STATE_HOME").unwrap_or_else(|| home.join(".local/state"));
        let data_home = non_empty("XDG_DATA_HOME").unwrap_or_else(|| home.join(".local/share"));
        // Without XDG_RUNTIME_DIR (e.g. a bare ssh session) fall back to a per-user
        // directory in /tmp; `ensure_private_dir` checks that we own it.
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

    /// The XDG autostart entry that starts the daemon at login.
    pub fn autostart_entry(&self) -> PathBuf {
        self.autostart_dir.join("opencode-nexus.desktop")
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

/// Creates `dir` (and parents) and makes sure it is ours and 0700.
pub fn ensure_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let meta = std::fs::metadata(dir)?;
    if meta.uid() != crate::platform::user_id() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!("{} belongs to another user", dir.display()),
        ));
    }
    if meta.permissions().mode() & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
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
    fn expands_tilde() {
        let p = paths(&[("HOME", "/home/u")]);
        assert_eq!(p.expand_home(Path::new("~/w")), PathBuf::from("/home/u/w"));
        assert_eq!(p.expand_home(Path::new("/abs")), PathBuf::from("/abs"));
    }
}
