//! `config.toml`: every key optional, each with a documented default.
//!
//! The file is parsed into a TOML table and then walked key by key, so that an
//! invalid value produces a message naming the key, the value and the fix, and
//! an unknown key produces a warning instead of silently doing nothing.
//! `form` is the settings page's view of the same keys.

pub mod form;

pub mod change;

use crate::paths::Paths;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Whether Nexus runs its own server or watches one the user runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ServerMode {
    /// Nexus spawns and supervises `opencode serve` (the default).
    Managed,
    /// Nexus watches a server at `server.url`.
    Attach,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    pub mode: ServerMode,
    /// Explicit path of the `opencode` binary; searched for when `None`.
    pub command: Option<PathBuf>,
    /// Port for the managed server; 0 lets the OS choose.
    pub port: u16,
    /// Working directory of the managed server.
    pub directory: PathBuf,
    /// How long a managed start may take before it counts as failed.
    pub start_timeout: Duration,
    /// Silence on the event stream after which the server counts as unreachable
    /// (the server heartbeats every 10 s).
    pub event_timeout: Duration,
    /// Attach mode: the server's URL.
    pub url: Option<String>,
    /// Basic-auth user name.
    pub username: String,
    /// Attach mode: file holding the password when OPENCODE_SERVER_PASSWORD is unset.
    pub password_file: PathBuf,
}

impl ServerConfig {
    /// Whether going from these settings to `new` needs the server restarted
    /// (managed) or reconnected (attach); other changes apply in place.
    pub fn needs_restart(&self, new: &ServerConfig) -> bool {
        if self.mode != new.mode || self.username != new.username {
            return true;
        }
        match new.mode {
            ServerMode::Managed => {
                self.command != new.command
                    || self.port != new.port
                    || self.directory != new.directory
            }
            ServerMode::Attach => self.url != new.url || self.password_file != new.password_file,
        }
    }

    /// Attach mode's password: OPENCODE_SERVER_PASSWORD wins, otherwise the
    /// password file (which should be 0600; a warning says so otherwise). No
    /// file means no password; a file that cannot be used (a FIFO, a device,
    /// a directory, over `PASSWORD_FILE_LIMIT`, not text) is an error naming
    /// it. Blocking (a stalled network mount): call it through
    /// [`read_attach_password`] from async code.
    pub fn attach_password(&self) -> Result<Option<crate::server::client::Secret>, String> {
        use crate::server::client::Secret;
        use crate::small_file::{SmallFileError, read_small_text};
        if let Some(pw) =
            std::env::var_os("OPENCODE_SERVER_PASSWORD").and_then(|v| v.into_string().ok())
            && !pw.is_empty()
        {
            return Ok(Some(Secret::new(pw)));
        }
        let file = &self.password_file;
        let text = match read_small_text(file, PASSWORD_FILE_LIMIT) {
            Ok(text) => text,
            Err(SmallFileError::Missing(_)) => return Ok(None),
            Err(e) => {
                return Err(format!(
                    "cannot use the attach password file: {e}; put the password in a small regular file (`opencode-nexus password set`) or set server.password_file"
                ));
            }
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            if let Ok(meta) = std::fs::metadata(file)
                && meta.permissions().mode() & 0o077 != 0
            {
                tracing::warn!(
                    "{} is readable by other users; run `chmod 600 {}`",
                    file.display(),
                    file.display()
                );
            }
        }
        let pw = text.trim_end_matches(['\n', '\r']);
        Ok((!pw.is_empty()).then(|| Secret::new(pw)))
    }
}

/// The largest attach password file Nexus reads.
pub const PASSWORD_FILE_LIMIT: u64 = 4096;

impl Config {
    /// The project directories Nexus watches and offers: `projects`, then the
    /// server's directory.
    pub fn directories(&self) -> Vec<String> {
        let mut directories: Vec<String> = self
            .projects
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        let server = self.server.directory.display().to_string();
        if !directories.contains(&server) {
            directories.push(server);
        }
        directories
    }
}

/// Which icon set the tray uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IconStyle {
    /// Coloured icons that read on light and dark panels (the default).
    #[default]
    Color,
    /// Monochrome, light glyphs: for dark panels that want symbolic icons.
    MonoLight,
    /// Monochrome, dark glyphs: for light panels.
    MonoDark,
}

/// `[notify]`: which desktop notifications are sent.
#[derive(Debug, Clone, PartialEq)]
pub struct NotifyConfig {
    /// `false` silences every notification.
    pub enabled: bool,
    /// A task counts as "finished" only after being busy at least this long.
    pub min_duration: Duration,
    pub finished: bool,
    pub failed: bool,
    pub permission: bool,
    pub question: bool,
    pub server: bool,
    /// Silence for old news after start and after each reconnect.
    pub quiet_period: Duration,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        NotifyConfig {
            enabled: true,
            min_duration: Duration::from_secs(10),
            finished: true,
            failed: true,
            permission: true,
            question: true,
            server: true,
            quiet_period: Duration::from_secs(15),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub server: ServerConfig,
    pub notify: NotifyConfig,
    /// `tray.icons`: "color", "mono-light" or "mono-dark".
    pub tray_icons: IconStyle,
    /// Project directories offered for quick chat and watched for pending requests.
    pub projects: Vec<PathBuf>,
    pub popover: PopoverConfig,
    pub remote: RemoteConfig,
}

/// `[remote]`: the gateway that serves the chat page to a phone (off unless enabled).
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteConfig {
    pub enabled: bool,
    /// Where the gateway listens. Loopback by default: reaching it from a
    /// phone takes a deliberate choice (a LAN address, or a tunnel).
    pub listen: std::net::SocketAddr,
    pub tls: RemoteTls,
    /// Browsers connected at once; more are refused with a clear answer.
    pub max_clients: usize,
    /// More names the gateway answers to (`Host` and `Origin`), for a tunnel
    /// with a name of its own (a Tailscale or Cloudflare host name).
    pub hosts: Vec<String>,
}

/// `remote.tls`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoteTls {
    /// A self-signed certificate made once for the machine's names.
    Auto,
    /// Plain HTTP: only on a loopback address, behind the user's own tunnel.
    Off,
}

/// The gateway's default address: loopback, port 4180.
pub const DEFAULT_REMOTE_LISTEN: &str = "127.0.0.1:4180";

impl Default for RemoteConfig {
    fn default() -> Self {
        RemoteConfig {
            enabled: false,
            listen: DEFAULT_REMOTE_LISTEN.parse().expect("a valid address"),
            tls: RemoteTls::Auto,
            max_clients: 8,
            hosts: Vec::new(),
        }
    }
}

/// `[popover]`: the quick-chat window.
#[derive(Debug, Clone, PartialEq)]
pub struct PopoverConfig {
    /// How long the popover process stays alive while hidden.
    pub keep_alive: Duration,
    /// Whether the window hides when it loses focus.
    pub hide_on_blur: bool,
}

impl Default for PopoverConfig {
    fn default() -> Self {
        PopoverConfig {
            keep_alive: Duration::from_secs(120),
            hide_on_blur: true,
        }
    }
}

/// The largest config.toml read (real ones are a few hundred bytes).
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// A config problem, phrased for the person who has to fix it.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    /// config.toml is not a small regular text file (`problem` names it).
    #[error("{problem}")]
    Unusable { problem: String },
    #[error("{file}: not valid TOML: {reason}")]
    Syntax { file: String, reason: String },
    #[error("{file}: {key} = {value} {problem}")]
    Invalid {
        file: String,
        key: String,
        value: String,
        problem: String,
    },
}

/// A loaded config plus what the user should be told about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    pub config: Config,
    pub warnings: Vec<String>,
}

impl Config {
    /// Defaults for every key.
    pub fn defaults(paths: &Paths) -> Self {
        Config {
            server: ServerConfig {
                mode: ServerMode::Managed,
                command: None,
                port: 0,
                directory: paths.home.clone(),
                start_timeout: Duration::from_secs(30),
                event_timeout: Duration::from_secs(30),
                url: None,
                username: "opencode".to_string(),
                password_file: paths.password_file(),
            },
            projects: Vec::new(),
            tray_icons: IconStyle::Color,
            notify: NotifyConfig::default(),
            popover: PopoverConfig::default(),
            remote: RemoteConfig::default(),
        }
    }

    /// Reads `config.toml`; a missing file means all defaults. Only a regular
    /// file of at most [`MAX_CONFIG_BYTES`] is read, opened without blocking:
    /// a FIFO, a device, a directory or a huge file is an error naming the
    /// file and what is wrong, never a hang or a memory run-away.
    pub fn load(paths: &Paths) -> Result<Loaded, ConfigError> {
        use crate::small_file::{SmallFileError, read_small_text};
        let file = paths.config_file();
        match read_small_text(&file, MAX_CONFIG_BYTES) {
            Ok(text) => Self::parse(&text, &file, paths),
            Err(SmallFileError::Missing(_)) => Ok(Loaded {
                config: Self::defaults(paths),
                warnings: Vec::new(),
            }),
            Err(e @ SmallFileError::Io { .. }) => Err(ConfigError::Unusable {
                problem: format!("{e} (check the file's permissions)"),
            }),
            Err(e) => Err(ConfigError::Unusable {
                problem: format!(
                    "{e}: config.toml must be a regular UTF-8 text file of at most 1 MiB; \
                     replace or remove it"
                ),
            }),
        }
    }

    /// Parses config text; `file` is only used in messages.
    pub fn parse(text: &str, file: &Path, paths: &Paths) -> Result<Loaded, ConfigError> {
        let file_name = file.display().to_string();
        let table: toml::Table =
            text.parse()
                .map_err(|e: toml::de::Error| ConfigError::Syntax {
                    file: file_name.clone(),
                    reason: e.message().to_string(),
                })?;
        let mut walker = Walker {
            file: file_name,
            warnings: Vec::new(),
        };
        let mut config = Self::defaults(paths);
        for (key, value) in &table {
            match key.as_str() {
                "server" => walker.server(value, &mut config.server, paths)?,
                "projects" => config.projects = walker.path_list("projects", value, paths)?,
                "tray" => config.tray_icons = walker.tray(value)?,
                "notify" => config.notify = walker.notify(value)?,
                "popover" => config.popover = walker.popover(value)?,
                "remote" => config.remote = walker.remote(value)?,
                other => walker.unknown(other),
            }
        }
        walker.check_consistency(&config)?;
        Ok(Loaded {
            config,
            warnings: walker.warnings,
        })
    }
}

/// A DNS name or an IP address, as a `Host` header would carry it (no port).
fn is_host_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && (name.parse::<std::net::IpAddr>().is_ok()
            || name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.'))
}

struct Walker {
    file: String,
    warnings: Vec<String>,
}

impl Walker {
    fn invalid(&self, key: &str, value: &toml::Value, problem: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            file: self.file.clone(),
            key: key.to_string(),
            value: value.to_string(),
            problem: problem.into(),
        }
    }

    fn unknown(&mut self, key: &str) {
        self.warnings
            .push(format!("{}: unknown key `{key}` is ignored", self.file));
    }

    fn server(
        &mut self,
        value: &toml::Value,
        server: &mut ServerConfig,
        paths: &Paths,
    ) -> Result<(), ConfigError> {
        let Some(table) = value.as_table() else {
            return Err(self.invalid("server", value, "is not a table (write a [server] section)"));
        };
        for (key, value) in table {
            let full = format!("server.{key}");
            match key.as_str() {
                "mode" => {
                    server.mode = match value.as_str() {
                        Some("managed") => ServerMode::Managed,
                        Some("attach") => ServerMode::Attach,
                        _ => {
                            return Err(self.invalid(
                                &full,
                                value,
                                "is not a mode (use \"managed\" or \"attach\")",
                            ));
                        }
                    }
                }
                "command" => server.command = Some(self.path(&full, value, paths)?),
                "port" => {
                    server.port = match value.as_integer() {
                        Some(p) if (0..=65535).contains(&p) => p as u16,
                        _ => {
                            return Err(self.invalid(
                                &full,
                                value,
                                "is not a port (0–65535; 0 picks a free one)",
                            ));
                        }
                    }
                }
                "directory" => server.directory = self.path(&full, value, paths)?,
                "start_timeout" => server.start_timeout = self.seconds(&full, value, 1, 600)?,
                "event_timeout" => server.event_timeout = self.seconds(&full, value, 1, 600)?,
                "url" => {
                    // Checked as it is kept (without trailing slashes), so what
                    // loads can be saved again from the settings page.
                    let url = value.as_str().unwrap_or_default().trim_end_matches('/');
                    if !(url.starts_with("http://") || url.starts_with("https://"))
                        || url.len() < 10
                    {
                        return Err(self.invalid(
                            &full,
                            value,
                            "is not a URL (e.g. \"http://127.0.0.1:4096\")",
                        ));
                    }
                    server.url = Some(url.to_string());
                }
                "username" => match value.as_str() {
                    Some(name) if !name.is_empty() && !name.contains(':') => {
                        server.username = name.to_string()
                    }
                    _ => {
                        return Err(self.invalid(
                            &full,
                            value,
                            "is not a user name (non-empty, no ':')",
                        ));
                    }
                },
                "password_file" => server.password_file = self.path(&full, value, paths)?,
                "password" => {
                    return Err(ConfigError::Invalid {
                        file: self.file.clone(),
                        key: full,
                        value: "(hidden)".into(),
                        problem: "is not allowed: keep the password out of config.toml; put it in the file named by server.password_file (see `opencode-nexus password set`) or in OPENCODE_SERVER_PASSWORD".into(),
                    });
                }
                _ => self.unknown(&full),
            }
        }
        Ok(())
    }

    fn notify(&mut self, value: &toml::Value) -> Result<NotifyConfig, ConfigError> {
        let Some(table) = value.as_table() else {
            return Err(self.invalid("notify", value, "is not a table (write a [notify] section)"));
        };
        let mut notify = NotifyConfig::default();
        for (key, value) in table {
            let full = format!("notify.{key}");
            let flag = |walker: &Walker| {
                value
                    .as_bool()
                    .ok_or_else(|| walker.invalid(&full, value, "is not true or false"))
            };
            match key.as_str() {
                "enabled" => notify.enabled = flag(self)?,
                "finished" => notify.finished = flag(self)?,
                "failed" => notify.failed = flag(self)?,
                "permission" => notify.permission = flag(self)?,
                "question" => notify.question = flag(self)?,
                "server" => notify.server = flag(self)?,
                "min_duration" => notify.min_duration = self.seconds(&full, value, 0, 86_400)?,
                "quiet_period" => notify.quiet_period = self.seconds(&full, value, 0, 600)?,
                _ => self.unknown(&full),
            }
        }
        Ok(notify)
    }

    fn popover(&mut self, value: &toml::Value) -> Result<PopoverConfig, ConfigError> {
        let Some(table) = value.as_table() else {
            return Err(self.invalid(
                "popover",
                value,
                "is not a table (write a [popover] section)",
            ));
        };
        let mut popover = PopoverConfig::default();
        for (key, value) in table {
            let full = format!("popover.{key}");
            match key.as_str() {
                "keep_alive" => popover.keep_alive = self.seconds(&full, value, 0, 86_400)?,
                "hide_on_blur" => {
                    popover.hide_on_blur = value
                        .as_bool()
                        .ok_or_else(|| self.invalid(&full, value, "is not true or false"))?
                }
                _ => self.unknown(&full),
            }
        }
        Ok(popover)
    }

    fn remote(&mut self, value: &toml::Value) -> Result<RemoteConfig, ConfigError> {
        let Some(table) = value.as_table() else {
            return Err(self.invalid("remote", value, "is not a table (write a [remote] section)"));
        };
        let mut remote = RemoteConfig::default();
        for (key, value) in table {
            let full = format!("remote.{key}");
            match key.as_str() {
                "enabled" => {
                    remote.enabled = value
                        .as_bool()
                        .ok_or_else(|| self.invalid(&full, value, "is not true or false"))?
                }
                "listen" => {
                    remote.listen = value
                        .as_str()
                        .and_then(|s| s.parse().ok())
                        .ok_or_else(|| {
                            self.invalid(
                                &full,
                                value,
                                "is not an address:port (e.g. \"127.0.0.1:4180\" or \"192.168.1.20:4180\")",
                            )
                        })?
                }
                "tls" => {
                    remote.tls = match value.as_str() {
                        Some("auto") => RemoteTls::Auto,
                        Some("off") => RemoteTls::Off,
                        _ => {
                            return Err(self.invalid(&full, value, "is not \"auto\" or \"off\""));
                        }
                    }
                }
                "max_clients" => {
                    remote.max_clients = match value.as_integer() {
                        Some(n) if (1..=64).contains(&n) => n as usize,
                        _ => return Err(self.invalid(&full, value, "is not a number from 1 to 64")),
                    }
                }
                "hosts" => {
                    let names = value.as_array().map(|items| {
                        items
                            .iter()
                            .map(|i| i.as_str().filter(|n| is_host_name(n)).map(str::to_ascii_lowercase))
                            .collect::<Option<Vec<String>>>()
                    });
                    remote.hosts = match names.flatten() {
                        Some(names) if names.len() <= 16 => names,
                        _ => {
                            return Err(self.invalid(
                                &full,
                                value,
                                "is not a list of host names (e.g. [\"laptop.tail1234.ts.net\"])",
                            ));
                        }
                    }
                }
                _ => self.unknown(&full),
            }
        }
        if remote.tls == RemoteTls::Off && !remote.listen.ip().is_loopback() {
            return Err(ConfigError::Invalid {
                file: self.file.clone(),
                key: "remote.tls".into(),
                value: "\"off\"".into(),
                problem: format!(
                    "is only allowed with a loopback listen address (127.0.0.1 or ::1, behind your own tunnel); {} would send passwords and chats in the clear",
                    remote.listen
                ),
            });
        }
        if remote.listen.ip().is_unspecified() {
            self.warnings.push(format!(
                "{}: remote.listen = \"{}\" makes the gateway reachable on every network this machine joins",
                self.file, remote.listen
            ));
        }
        Ok(remote)
    }

    fn tray(&mut self, value: &toml::Value) -> Result<IconStyle, ConfigError> {
        let Some(table) = value.as_table() else {
            return Err(self.invalid("tray", value, "is not a table (write a [tray] section)"));
        };
        let mut style = IconStyle::Color;
        for (key, value) in table {
            match key.as_str() {
                "icons" => {
                    style = match value.as_str() {
                        Some("color") => IconStyle::Color,
                        Some("mono-light") => IconStyle::MonoLight,
                        Some("mono-dark") => IconStyle::MonoDark,
                        _ => {
                            return Err(self.invalid(
                                "tray.icons",
                                value,
                                "is not an icon style (use \"color\", \"mono-light\" or \"mono-dark\")",
                            ));
                        }
                    }
                }
                other => self.unknown(&format!("tray.{other}")),
            }
        }
        Ok(style)
    }

    fn check_consistency(&self, config: &Config) -> Result<(), ConfigError> {
        if config.server.mode == ServerMode::Attach && config.server.url.is_none() {
            return Err(ConfigError::Invalid {
                file: self.file.clone(),
                key: "server.url".into(),
                value: "(missing)".into(),
                problem: "is required when server.mode = \"attach\" (e.g. url = \"http://127.0.0.1:4096\")".into(),
            });
        }
        Ok(())
    }

    fn path(&self, key: &str, value: &toml::Value, paths: &Paths) -> Result<PathBuf, ConfigError> {
        match value.as_str() {
            Some(s) if !s.is_empty() => {
                let path = paths.expand_home(Path::new(s));
                if path.is_absolute() {
                    Ok(path)
                } else {
                    Err(self.invalid(
                        key,
                        value,
                        "is not an absolute path (start it with / or ~/)",
                    ))
                }
            }
            _ => Err(self.invalid(key, value, "is not a path (a string such as \"~/work\")")),
        }
    }

    fn path_list(
        &self,
        key: &str,
        value: &toml::Value,
        paths: &Paths,
    ) -> Result<Vec<PathBuf>, ConfigError> {
        let Some(items) = value.as_array() else {
            return Err(self.invalid(key, value, "is not a list of paths (e.g. [\"~/work/a\"])"));
        };
        items
            .iter()
            .map(|item| self.path(key, item, paths))
            .collect()
    }

    fn seconds(
        &self,
        key: &str,
        value: &toml::Value,
        min: i64,
        max: i64,
    ) -> Result<Duration, ConfigError> {
        let secs = match value {
            toml::Value::Integer(i) => Some(*i as f64),
            toml::Value::Float(f) => Some(*f),
            _ => None,
        };
        match secs {
            Some(s) if s >= min as f64 && s <= max as f64 => Ok(Duration::from_secs_f64(s)),
            _ => Err(self.invalid(
                key,
                value,
                format!("is not a number of seconds ({min}–{max})"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths() -> Paths {
        Paths::with_home("/home/u")
    }

    fn parse(text: &str) -> Result<Loaded, ConfigError> {
        Config::parse(text, Path::new("config.toml"), &paths())
    }

    #[test]
    fn empty_file_gives_defaults() {
        let loaded = parse("").unwrap();
        assert_eq!(loaded.config, Config::defaults(&paths()));
        assert_eq!(loaded.config.server.directory, PathBuf::from("/home/u"));
        assert_eq!(loaded.config.server.start_timeout, Duration::from_secs(30));
        assert!(loaded.warnings.is_empty());
    }

    #[test]
    fn remote_is_off_on_loopback_by_default_and_plain_http_only_on_loopback() {
        let defaults = parse("").unwrap().config.remote;
        assert!(!defaults.enabled);
        assert!(defaults.listen.ip().is_loopback());
        assert_eq!(defaults.tls, RemoteTls::Auto);
        let lan =
            parse("[remote]\nenabled = true\nlisten = \"192.168.1.20:4443\"\nmax_clients = 3")
                .unwrap()
                .config
                .remote;
        assert!(lan.enabled);
        assert_eq!(lan.listen.port(), 4443);
        assert_eq!(lan.max_clients, 3);
        let off = parse("[remote]\ntls = \"off\"\nlisten = \"[::1]:4180\"").unwrap();
        assert_eq!(off.config.remote.tls, RemoteTls::Off);
        let err = parse("[remote]\ntls = \"off\"\nlisten = \"0.0.0.0:4180\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("only allowed with a loopback"), "{err}");
        let everywhere = parse("[remote]\nlisten = \"0.0.0.0:4180\"").unwrap();
        assert!(everywhere.warnings[0].contains("every network"));
        assert!(parse("[remote]\nlisten = \"localhost\"").is_err());
        let tunnel = parse("[remote]\nhosts = [\"Laptop.tail1234.ts.net\"]").unwrap();
        assert_eq!(tunnel.config.remote.hosts, ["laptop.tail1234.ts.net"]);
        assert!(parse("[remote]\nhosts = [\"evil.com:80/x\"]").is_err());
        assert!(parse("[remote]\nhosts = \"one\"").is_err());
        assert!(parse("[remote]\nmax_clients = 0").is_err());
        assert!(parse("[remote]\ntls = \"maybe\"").is_err());
    }

    #[test]
    fn full_example_parses() {
        let loaded = parse(
            r#"
            projects = ["~/work/a", "/srv/b"]
            [server]
            mode = "attach"
            url = "http://127.0.0.1:4096/"
            username = "me"
            port = 4096
            directory = "~/work"
            start_timeout = 12.5
            password_file = "~/.secret"
            "#,
        )
        .unwrap();
        let s = &loaded.config.server;
        assert_eq!(s.mode, ServerMode::Attach);
        assert_eq!(s.url.as_deref(), Some("http://127.0.0.1:4096"));
        assert_eq!(s.port, 4096);
        assert_eq!(s.directory, PathBuf::from("/home/u/work"));
        assert_eq!(s.start_timeout, Duration::from_millis(12_500));
        assert_eq!(s.password_file, PathBuf::from("/home/u/.secret"));
        assert_eq!(
            loaded.config.projects,
            vec![PathBuf::from("/home/u/work/a"), PathBuf::from("/srv/b")]
        );
    }

    #[test]
    fn invalid_port_names_key_value_and_fix() {
        let err = parse("[server]\nport = 70000").unwrap_err();
        assert_eq!(
            err.to_string(),
            "config.toml: server.port = 70000 is not a port (0–65535; 0 picks a free one)"
        );
    }

    #[test]
    fn unknown_keys_warn_but_load() {
        let loaded = parse("colour = 1\n[server]\nprot = 1").unwrap();
        assert_eq!(loaded.warnings.len(), 2);
        assert!(loaded.warnings[1].contains("server.prot"));
    }

    #[test]
    fn attach_mode_requires_url() {
        let err = parse("[server]\nmode = \"attach\"").unwrap_err();
        assert!(err.to_string().contains("server.url"));
    }

    #[test]
    fn the_attach_password_file_is_read_small_and_regular_only() {
        // OPENCODE_SERVER_PASSWORD would win over the file.
        if std::env::var_os("OPENCODE_SERVER_PASSWORD").is_some() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let mut server = parse("").unwrap().config.server;
        let at = |server: &mut ServerConfig, path: &Path| {
            server.password_file = path.to_path_buf();
            server.attach_password()
        };
        let file = dir.path().join("pw");
        assert_eq!(at(&mut server, &file), Ok(None), "no file: no password");
        std::fs::write(&file, "hunter2\n").unwrap();
        assert_eq!(
            at(&mut server, &file)
                .unwrap()
                .map(|s| s.expose().to_string()),
            Some("hunter2".into())
        );
        std::fs::write(&file, vec![b'a'; PASSWORD_FILE_LIMIT as usize + 1]).unwrap();
        let err = at(&mut server, &file).unwrap_err();
        assert!(
            err.contains("larger than 4096 bytes") && err.contains("pw"),
            "{err}"
        );
        let err = at(&mut server, dir.path()).unwrap_err();
        assert!(err.contains("is a directory"), "{err}");
        let err = at(&mut server, Path::new("/dev/zero")).unwrap_err();
        assert!(err.contains("/dev/zero is a character device"), "{err}");
    }

    #[test]
    fn password_in_config_is_refused_without_echoing_it() {
        let err = parse("[server]\npassword = \"hunter2\"").unwrap_err();
        assert!(!err.to_string().contains("hunter2"));
        assert!(err.to_string().contains("password_file"));
    }

    #[test]
    fn notify_section() {
        let loaded = parse("[notify]\nmin_duration = 3\nfinished = false").unwrap();
        assert_eq!(loaded.config.notify.min_duration, Duration::from_secs(3));
        assert!(!loaded.config.notify.finished && loaded.config.notify.permission);
        assert!(
            parse("[notify]\nenabled = \"yes\"")
                .unwrap_err()
                .to_string()
                .contains("notify.enabled")
        );
    }

    #[test]
    fn tray_icon_style() {
        assert_eq!(
            parse("[tray]\nicons = \"mono-dark\"")
                .unwrap()
                .config
                .tray_icons,
            IconStyle::MonoDark
        );
        assert!(
            parse("[tray]\nicons = \"neon\"")
                .unwrap_err()
                .to_string()
                .contains("tray.icons")
        );
    }

    #[test]
    fn only_keys_that_decide_the_server_need_a_restart() {
        let base = parse("").unwrap().config.server;
        let with = |text: &str| parse(text).unwrap().config.server;
        assert!(!base.needs_restart(&with("[server]\nstart_timeout = 5")));
        assert!(!base.needs_restart(&with("[server]\nevent_timeout = 5")));
        assert!(!base.needs_restart(&with("[server]\nurl = \"http://127.0.0.1:1\"")));
        assert!(base.needs_restart(&with("[server]\nport = 4100")));
        assert!(base.needs_restart(&with("[server]\ndirectory = \"/srv\"")));
        assert!(base.needs_restart(&with("[server]\ncommand = \"/bin/opencode\"")));
        let attach = with("[server]\nmode = \"attach\"\nurl = \"http://127.0.0.1:1\"");
        assert!(base.needs_restart(&attach));
        assert!(!attach.needs_restart(&with(
            "[server]\nmode = \"attach\"\nurl = \"http://127.0.0.1:1\"\nport = 9"
        )));
    }

    #[test]
    fn url_is_checked_without_its_trailing_slashes() {
        // Found by the config_toml fuzz check: "http://ab/" loaded as
        // "http://ab", which the settings page could then not save.
        assert!(parse("[server]\nurl = \"http://ab/\"").is_err());
        assert!(parse("[server]\nurl = \"http:///////\"").is_err());
        let loaded = parse("[server]\nurl = \"http://127.0.0.1:4096//\"").unwrap();
        assert_eq!(
            loaded.config.server.url.as_deref(),
            Some("http://127.0.0.1:4096")
        );
    }

    #[test]
    fn syntax_error_is_reported() {
        assert!(matches!(parse("[server"), Err(ConfigError::Syntax { .. })));
    }

    #[test]
    fn relative_paths_are_rejected() {
        assert!(parse("[server]\ndirectory = \"work\"").is_err());
        assert!(parse("projects = \"~/a\"").is_err());
    }
}
