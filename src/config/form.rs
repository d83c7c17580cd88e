//! The settings page's form: the config as a flat map of the file's own key
//! names (`server.port`, `notify.enabled`, …) to JSON values, and back to
//! `config.toml` text — validated by the very parser that reads the file, so
//! the page and a hand edit obey the same rules.

use crate::config::{Config, ConfigError, IconStyle, RemoteTls, ServerMode};
use crate::paths::Paths;
use serde_json::{Map, Value, json};
use std::path::Path;

/// Every key the form has, in the file's order.
pub const KEYS: &[&str] = &[
    "server.mode",
    "server.url",
    "server.port",
    "server.command",
    "server.directory",
    "server.username",
    "server.password_file",
    "server.start_timeout",
    "server.event_timeout",
    "projects",
    "notify.enabled",
    "notify.finished",
    "notify.failed",
    "notify.permission",
    "notify.question",
    "notify.server",
    "notify.min_duration",
    "notify.quiet_period",
    "tray.icons",
    "popover.keep_alive",
    "popover.hide_on_blur",
    "remote.enabled",
    "remote.listen",
    "remote.tls",
    "remote.max_clients",
    "remote.hosts",
];

/// What is wrong with a form, naming the field when there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormError {
    pub key: Option<String>,
    pub message: String,
}

/// A form that passed validation.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidForm {
    /// The `config.toml` text to write.
    pub text: String,
    pub config: Config,
    pub warnings: Vec<String>,
}

/// The form's values for `config` (every key).
pub fn values(config: &Config) -> Map<String, Value> {
    let path = |p: &Path| json!(p.display().to_string());
    let secs = |d: std::time::Duration| json!(d.as_secs_f64());
    let s = &config.server;
    let n = &config.notify;
    let r = &config.remote;
    let pairs = [
        (
            "server.mode",
            json!(match s.mode {
                ServerMode::Managed => "managed",
                ServerMode::Attach => "attach",
            }),
        ),
        ("server.url", json!(s.url.clone().unwrap_or_default())),
        ("server.port", json!(s.port)),
        (
            "server.command",
            s.command.as_deref().map(path).unwrap_or(json!("")),
        ),
        ("server.directory", path(&s.directory)),
        ("server.username", json!(s.username)),
        ("server.password_file", path(&s.password_file)),
        ("server.start_timeout", secs(s.start_timeout)),
        ("server.event_timeout", secs(s.event_timeout)),
        (
            "projects",
            Value::Array(config.projects.iter().map(|p| path(p)).collect()),
        ),
        ("notify.enabled", json!(n.enabled)),
        ("notify.finished", json!(n.finished)),
        ("notify.failed", json!(n.failed)),
        ("notify.permission", json!(n.permission)),
        ("notify.question", json!(n.question)),
        ("notify.server", json!(n.server)),
        ("notify.min_duration", secs(n.min_duration)),
        ("notify.quiet_period", secs(n.quiet_period)),
        (
            "tray.icons",
            json!(match config.tray_icons {
                IconStyle::Color => "color",
                IconStyle::MonoLight => "mono-light",
                IconStyle::MonoDark => "mono-dark",
            }),
        ),
        ("popover.keep_alive", secs(config.popover.keep_alive)),
        ("popover.hide_on_blur", json!(config.popover.hide_on_blur)),
        ("remote.enabled", json!(r.enabled)),
        ("remote.listen", json!(r.listen.to_string())),
        (
            "remote.tls",
            json!(match r.tls {
                RemoteTls::Auto => "auto",
                RemoteTls::Off => "off",
            }),
        ),
        ("remote.max_clients", json!(r.max_clients)),
        ("remote.hosts", json!(r.hosts)),
    ];
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// Turns the page's values into `config.toml` text and checks it with the
/// file's own parser. Keys left out, and values equal to the default, are
/// not written (so the file stays short and later defaults still apply);
/// empty `server.url` / `server.command` mean "not set".
pub fn validate(
    form: &Map<String, Value>,
    file: &Path,
    paths: &Paths,
) -> Result<ValidForm, FormError> {
    if let Some(unknown) = form.keys().find(|k| !KEYS.contains(&k.as_str())) {
        return Err(FormError {
            key: Some(unknown.clone()),
            message: format!("`{unknown}` is not a setting"),
        });
    }
    let defaults = values(&Config::defaults(paths));
    let mut root = toml::Table::new();
    for key in KEYS {
        let Some(value) = form.get(*key) else {
            continue;
        };
        if defaults.get(*key).is_some_and(|d| same_value(d, value))
            || (matches!(*key, "server.url" | "server.command") && value == "")
        {
            continue;
        }
        let value = to_toml(value).ok_or_else(|| FormError {
            key: Some(key.to_string()),
            message: format!("{key}: {value} is not a value this setting can take"),
        })?;
        match key.split_once('.') {
            Some((section, name)) => {
                let table = root
                    .entry(section)
                    .or_insert_with(|| toml::Value::Table(toml::Table::new()));
                if let toml::Value::Table(table) = table {
                    table.insert(name.to_string(), value);
                }
            }
            None => {
                root.insert(key.to_string(), value);
            }
        }
    }
    let body = toml::to_string(&root).map_err(|e| FormError {
        key: None,
        message: format!("cannot write the settings: {e}"),
    })?;
    let text = format!(
        "# OpenCode Nexus settings (written by the settings page; keys left out\n\
         # have their defaults — see README.md). Hand edits are picked up at once;\n\
         # saving from the settings page rewrites this file without comments.\n\n{body}"
    );
    let loaded = Config::parse(&text, file, paths).map_err(|e| FormError {
        key: match &e {
            ConfigError::Invalid { key, .. } => Some(key.clone()),
            _ => None,
        },
        message: e.to_string(),
    })?;
    let mut warnings = loaded.warnings;
    let config = loaded.config;
    if config.server.mode == ServerMode::Managed && !config.server.directory.is_dir() {
        warnings.push(format!(
            "server.directory: {} is not a folder yet; the server will not start until it is",
            config.server.directory.display()
        ));
    }
    for project in config.projects.iter().filter(|p| !p.is_dir()) {
        warnings.push(format!("projects: {} is not a folder", project.display()));
    }
    Ok(ValidForm {
        text,
        config,
        warnings,
    })
}

/// Equal as settings: `30` and `30.0` seconds are the same.
fn same_value(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

fn to_toml(value: &Value) -> Option<toml::Value> {
    Some(match value {
        Value::Bool(b) => toml::Value::Boolean(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => toml::Value::Integer(i),
            None => toml::Value::Float(n.as_f64()?),
        },
        Value::String(s) => toml::Value::String(s.clone()),
        Value::Array(items) => {
            toml::Value::Array(items.iter().map(to_toml).collect::<Option<Vec<_>>>()?)
        }
        Value::Null | Value::Object(_) => return None,
    })
}

/// Writes `text` to `config.toml` in one step (a reader never sees half).
pub fn write(paths: &Paths, text: &str) -> std::io::Result<()> {
    use crate::safe_write::{Readers, write_atomically};
    write_atomically(&paths.config_file(), text.as_bytes(), Readers::Default)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths() -> Paths {
        Paths::with_home("/home/u")
    }

    fn form(pairs: Value) -> Map<String, Value> {
        pairs.as_object().unwrap().clone()
    }

    fn check(pairs: Value) -> Result<ValidForm, FormError> {
        validate(&form(pairs), Path::new("config.toml"), &paths())
    }

    #[test]
    fn every_key_round_trips_through_the_file() {
        let mut config = Config::defaults(&paths());
        config.server.port = 4100;
        config.server.command = Some("/opt/opencode".into());
        config.notify.min_duration = std::time::Duration::from_millis(2500);
        config.projects = vec!["/srv/a".into()];
        config.tray_icons = IconStyle::MonoDark;
        config.remote.enabled = true;
        config.remote.listen = "[::1]:4443".parse().unwrap();
        config.remote.tls = RemoteTls::Off;
        config.remote.max_clients = 3;
        config.remote.hosts = vec!["laptop.tail1234.ts.net".into()];
        let valid = validate(&values(&config), Path::new("c.toml"), &paths()).unwrap();
        assert_eq!(valid.config, config);
        assert_eq!(values(&config).len(), KEYS.len());
        for written in ["[remote]", "listen = \"[::1]:4443\"", "tls = \"off\""] {
            assert!(valid.text.contains(written), "{written}: {}", valid.text);
        }
        // Every key the form has is one of the values, in the file's order.
        let keys: Vec<String> = values(&config).keys().cloned().collect();
        let mut expected: Vec<String> = KEYS.iter().map(|k| k.to_string()).collect();
        expected.sort();
        assert_eq!(keys, expected);
    }

    #[test]
    fn remote_keys_keep_the_files_rules() {
        let err = check(json!({"remote.tls": "off", "remote.listen": "0.0.0.0:4180"})).unwrap_err();
        assert_eq!(err.key.as_deref(), Some("remote.tls"));
        assert!(err.message.contains("loopback"), "{}", err.message);
        let err = check(json!({"remote.listen": "my laptop"})).unwrap_err();
        assert_eq!(err.key.as_deref(), Some("remote.listen"));
        let err = check(json!({"remote.hosts": ["evil.example/x"]})).unwrap_err();
        assert_eq!(err.key.as_deref(), Some("remote.hosts"));
        let err = check(json!({"remote.max_clients": 65})).unwrap_err();
        assert_eq!(err.key.as_deref(), Some("remote.max_clients"));
        let valid = check(json!({"remote.enabled": false, "remote.hosts": [],
            "remote.listen": "127.0.0.1:4180", "remote.max_clients": 8}))
        .unwrap();
        assert!(
            !valid.text.contains("[remote]"),
            "defaults are not written: {}",
            valid.text
        );
    }

    #[test]
    fn defaults_and_unset_values_are_not_written() {
        let defaults = values(&Config::defaults(&paths()));
        let valid = validate(&defaults, Path::new("c.toml"), &paths()).unwrap();
        assert!(
            valid
                .text
                .lines()
                .all(|l| l.starts_with('#') || l.trim().is_empty()),
            "{}",
            valid.text
        );
        let valid =
            check(json!({"server.port": 4100, "server.url": "", "server.start_timeout": 30}))
                .unwrap();
        assert!(
            valid.text.contains("[server]\nport = 4100"),
            "{}",
            valid.text
        );
        assert!(!valid.text.contains("url"));
    }

    #[test]
    fn errors_name_the_field_with_the_files_own_message() {
        let err = check(json!({"server.port": 70000})).unwrap_err();
        assert_eq!(err.key.as_deref(), Some("server.port"));
        assert!(err.message.contains("is not a port"), "{}", err.message);
        let err = check(json!({"server.port": "abc"})).unwrap_err();
        assert_eq!(err.key.as_deref(), Some("server.port"));
        let err = check(json!({"server.mode": "attach"})).unwrap_err();
        assert_eq!(err.key.as_deref(), Some("server.url"));
        let err = check(json!({"server.password": "x"})).unwrap_err();
        assert_eq!(err.key.as_deref(), Some("server.password"));
        assert!(check(json!({"popover.keep_alive": null})).is_err());
    }

    #[test]
    fn missing_folders_are_warnings_not_errors() {
        let valid = check(json!({"server.directory": "/nonexistent/nexus-test"})).unwrap();
        assert!(
            valid.warnings[0].contains("not a folder"),
            "{:?}",
            valid.warnings
        );
    }
}
