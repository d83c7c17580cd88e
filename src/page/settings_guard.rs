//! Which settings the page may change only after the user confirms them in a
//! native dialog drawn outside the page, and what that dialog says. These
//! keys decide which program Nexus runs, where the server password goes and
//! who can reach OpenCode from other devices (the remote gateway), so even a
//! script running in the page must not be able to change them.

use crate::config::Config;
use crate::config::form as settings_form;
use crate::core::visible_text::visible;
use serde_json::Value;

/// The guarded keys, with the name the Settings page gives each.
pub const GUARDED: &[(&str, &str)] = &[
    ("server.mode", "Mode"),
    ("server.command", "OpenCode program"),
    ("server.url", "Server URL"),
    ("server.password_file", "Password file"),
    ("remote.enabled", "Remote access"),
    ("remote.listen", "Remote listen address"),
    ("remote.tls", "Remote TLS"),
    ("remote.hosts", "Remote host names"),
];

/// A value longer than this cannot be shown whole in the dialog, so it is
/// not offered for confirmation at all (never a partial value next to Save).
pub const MAX_SHOWN_CHARS: usize = 512;

/// The settings dialog's window title (tests find the dialog by it).
pub const DIALOG_TITLE: &str = "OpenCode Nexus: confirm a setting";

/// What a native confirmation dialog says: its title, its question, the
/// details, and the label of the button that says yes (Cancel is the other,
/// and the default). Built here and in `remote_calls`, shown by the popover.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirmation {
    pub title: &'static str,
    pub primary: String,
    pub details: String,
    /// GTK mnemonic syntax: `_Save the change` is Alt+S.
    pub accept: &'static str,
}

/// One guarded key whose value would change, as the dialog shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardedChange {
    pub key: &'static str,
    pub label: &'static str,
    pub old: String,
    pub new: String,
}

/// The guarded keys that differ between the settings now (`current`) and
/// the ones about to be written (`new`).
pub fn guarded_changes(current: &Config, new: &Config) -> Vec<GuardedChange> {
    let old_values = settings_form::values(current);
    let new_values = settings_form::values(new);
    GUARDED
        .iter()
        .filter(|(key, _)| old_values.get(*key) != new_values.get(*key))
        .map(|&(key, label)| GuardedChange {
            key,
            label,
            old: shown(key, old_values.get(key)),
            new: shown(key, new_values.get(key)),
        })
        .collect()
}

/// The key that cannot be confirmed in a dialog, and why, if there is one.
pub fn too_long_to_show(changes: &[GuardedChange]) -> Option<(&'static str, String)> {
    changes.iter().find_map(|c| {
        let chars = c.new.chars().count();
        (chars > MAX_SHOWN_CHARS).then(|| {
            let why = format!(
                "{} is too long to show for confirmation ({chars} characters; at most \
                 {MAX_SHOWN_CHARS}); set it by editing config.toml",
                c.key
            );
            (c.key, why)
        })
    })
}

/// The dialog's main line and its details: every change, old and new.
pub fn dialog_text(changes: &[GuardedChange]) -> (String, String) {
    let server = changes.iter().any(|c| c.key.starts_with("server."));
    let remote = changes.iter().any(|c| c.key.starts_with("remote."));
    let primary = match (server, remote) {
        (true, true) => {
            "Change which program Nexus runs, where it sends the server password, \
             and who can reach OpenCode from other devices?"
        }
        (false, true) => "Change who can reach OpenCode from other devices?",
        _ => "Change which program Nexus runs or where it sends the server password?",
    };
    let mut details = String::from("The Settings page asks to change:\n");
    for change in changes {
        details.push_str(&format!(
            "\n{} ({})\n    now: {}\n    new: {}\n",
            change.label, change.key, change.old, change.new
        ));
    }
    if remote {
        details.push_str(
            "\nThe remote gateway lets a browser that signs in with the remote password \
             or a pairing code use OpenCode on this computer.\n",
        );
    }
    details.push_str(
        "\nSave only if you made this change yourself. Nothing is written until you choose.",
    );
    (primary.to_string(), details)
}

/// The dialog for a save that changes guarded settings.
pub fn confirmation(changes: &[GuardedChange]) -> Confirmation {
    let (primary, details) = dialog_text(changes);
    Confirmation {
        title: DIALOG_TITLE,
        primary,
        details,
        accept: "_Save the change",
    }
}

/// A value as the dialog shows it: every character visible (no control,
/// bidi or zero-width tricks, and no newline that could fake another line).
fn shown(key: &str, value: Option<&Value>) -> String {
    let text = match value {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(on)) => if *on { "on" } else { "off" }.to_string(),
        // A list (remote.hosts): its items, each as a string.
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect::<Vec<_>>()
            .join(", "),
        Some(other) => other.to_string(),
        None => String::new(),
    };
    if text.is_empty() {
        return match key {
            "server.command" => "(not set: found on PATH)".into(),
            "remote.hosts" => "(none)".into(),
            _ => "(not set)".into(),
        };
    }
    visible(&text).replace('\n', "\\n").replace('\t', "\\t")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ServerMode;
    use crate::paths::Paths;
    use std::path::PathBuf;

    fn paths() -> Paths {
        Paths::from_vars(|name| match name {
            "HOME" => Some("/home/u".into()),
            _ => None,
        })
    }

    #[test]
    fn the_remote_gateways_reach_needs_confirming_and_says_so() {
        let current = Config::defaults(&paths());
        let mut new = current.clone();
        // How many pages may connect changes nobody's reach: no dialog.
        new.remote.max_clients = 3;
        assert!(guarded_changes(&current, &new).is_empty());

        new.remote.enabled = true;
        new.remote.listen = "0.0.0.0:4180".parse().unwrap();
        new.remote.tls = crate::config::RemoteTls::Auto;
        new.remote.hosts = vec![
            "laptop.tail1234.ts.net".into(),
            "evil\u{202e}.example".into(),
        ];
        let changes = guarded_changes(&current, &new);
        let keys: Vec<_> = changes.iter().map(|c| c.key).collect();
        assert_eq!(keys, ["remote.enabled", "remote.listen", "remote.hosts"]);
        assert_eq!(
            (changes[0].old.as_str(), changes[0].new.as_str()),
            ("off", "on")
        );
        assert_eq!(changes[1].new, "0.0.0.0:4180");
        assert_eq!(changes[2].old, "(none)");
        assert_eq!(
            changes[2].new,
            "laptop.tail1234.ts.net, evil\\u202e.example"
        );
        let dialog = confirmation(&changes);
        assert_eq!(dialog.title, DIALOG_TITLE);
        assert_eq!(dialog.accept, "_Save the change");
        assert!(
            dialog.primary.contains("who can reach OpenCode"),
            "{}",
            dialog.primary
        );
        assert!(!dialog.primary.contains("program"), "{}", dialog.primary);
        assert!(dialog.details.contains("Remote access (remote.enabled)"));
        assert!(dialog.details.contains("pairing code"));

        new.remote.tls = crate::config::RemoteTls::Off;
        new.remote.listen = "127.0.0.1:4180".parse().unwrap();
        new.server.command = Some(PathBuf::from("/opt/opencode"));
        let changes = guarded_changes(&current, &new);
        let keys: Vec<_> = changes.iter().map(|c| c.key).collect();
        assert_eq!(
            keys,
            [
                "server.command",
                "remote.enabled",
                "remote.tls",
                "remote.hosts"
            ]
        );
        let (primary, _) = dialog_text(&changes);
        assert!(primary.contains("program") && primary.contains("other devices"));
    }

    #[test]
    fn only_the_guarded_server_keys_need_confirming() {
        let current = Config::defaults(&paths());
        let mut new = current.clone();
        new.server.port = 4096;
        new.notify.enabled = false;
        new.server.directory = PathBuf::from("/home/u/p");
        assert!(guarded_changes(&current, &new).is_empty());

        new.server.command = Some(PathBuf::from("/tmp/evil"));
        new.server.url = Some("http://attacker.example:80".into());
        new.server.password_file = PathBuf::from("/home/u/.ssh/id_ed25519");
        new.server.mode = ServerMode::Attach;
        let changes = guarded_changes(&current, &new);
        let keys: Vec<_> = changes.iter().map(|c| c.key).collect();
        assert_eq!(
            keys,
            [
                "server.mode",
                "server.command",
                "server.url",
                "server.password_file"
            ]
        );
        assert_eq!(changes[1].old, "(not set: found on PATH)");
        assert_eq!(changes[1].new, "/tmp/evil");
        let (_, details) = dialog_text(&changes);
        for shown in [
            "now: (not set: found on PATH)",
            "new: /tmp/evil",
            "new: attach",
        ] {
            assert!(details.contains(shown), "{shown} missing in {details}");
        }
    }

    #[test]
    fn the_dialog_shows_hidden_characters_and_no_fake_lines() {
        let current = Config::defaults(&paths());
        let mut new = current.clone();
        new.server.command = Some(PathBuf::from(
            "/usr/bin/opencode\u{202e}lve/pmt/\n    new: /usr/bin/opencode\u{200b}",
        ));
        let changes = guarded_changes(&current, &new);
        let (_, details) = dialog_text(&changes);
        assert!(!details.contains('\u{202e}') && !details.contains('\u{200b}'));
        assert!(details.contains("\\u202e") && details.contains("\\u200b"));
        let new_lines = details
            .lines()
            .filter(|l| l.starts_with("    new: "))
            .count();
        assert_eq!(new_lines, 1, "a value made a line of its own: {details}");
    }

    #[test]
    fn a_value_too_long_to_show_whole_is_not_offered() {
        let current = Config::defaults(&paths());
        let mut new = current.clone();
        new.server.command = Some(PathBuf::from(format!("/{}", "a/".repeat(300))));
        let changes = guarded_changes(&current, &new);
        let (key, why) = too_long_to_show(&changes).expect("refused");
        assert_eq!(key, "server.command");
        assert!(
            why.contains("server.command") && why.contains("config.toml"),
            "{why}"
        );
        new.server.command = Some(PathBuf::from("/opt/opencode/bin/opencode"));
        assert_eq!(too_long_to_show(&guarded_changes(&current, &new)), None);
    }
}
