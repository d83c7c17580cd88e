//! Which settings the page may change only after the user confirms them in a
//! native dialog drawn outside the page, and what that dialog says. These
//! keys decide which program Nexus runs and where the server password goes,
//! so even a script running in the page must not be able to change them.

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
];

/// A value longer than this cannot be shown whole in the dialog, so it is
/// not offered for confirmation at all (never a partial value next to Save).
pub const MAX_SHOWN_CHARS: usize = 512;

/// The dialog's window title (tests find the dialog by it).
pub const DIALOG_TITLE: &str = "OpenCode Nexus: confirm a server setting";

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
    let primary = "Change which program Nexus runs or where it sends the server password?";
    let mut details = String::from("The Settings page asks to change:\n");
    for change in changes {
        details.push_str(&format!(
            "\n{} ({})\n    now: {}\n    new: {}\n",
            change.label, change.key, change.old, change.new
        ));
    }
    details.push_str(
        "\nSave only if you made this change yourself. Nothing is written until you choose.",
    );
    (primary.to_string(), details)
}

/// A value as the dialog shows it: every character visible (no control,
/// bidi or zero-width tricks, and no newline that could fake another line).
fn shown(key: &str, value: Option<&Value>) -> String {
    let text = match value {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    };
    if text.is_empty() {
        return match key {
            "server.command" => "(not set: found on PATH)".into(),
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
    fn only_the_four_guarded_keys_need_confirming() {
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
