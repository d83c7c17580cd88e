//! Desktop notifications: shows what the core's notification policy decides
//! (`Effect::Notify` / `Effect::CloseNotification`) through notify-rust, and
//! turns button clicks back into core events.
//!
//! One live notification per key: a new one for the same key replaces the
//! old (same id) instead of stacking. One listener hears every button click
//! and close (see `actions`, which accepts them only from the notification
//! server), and maps it back through the notification's id. A button's key
//! carries the request id it answers (`notify_policy::action_key`), so a click
//! is matched only to the button that was on screen; the core then checks that
//! the request still waits.

use crate::core::notify_policy::{Notification, NotificationKey, NotifyAction, action_for_key};

#[cfg(target_os = "linux")]
mod actions;
#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
pub use linux::start;

#[cfg(not(target_os = "linux"))]
mod elsewhere;
#[cfg(not(target_os = "linux"))]
pub use elsewhere::start;

const APP_NAME: &str = "OpenCode Nexus";

/// Commands for the notifier task.
#[derive(Debug)]
pub enum NotifierCommand {
    Show(Notification),
    Close(NotificationKey),
}

/// The action behind a button key (`action_key`'s "0", "1:per_…", or "default").
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn pick(
    key: &str,
    actions: &[NotifyAction],
    default_action: Option<&NotifyAction>,
) -> Option<NotifyAction> {
    if key == "default" {
        return default_action.cloned();
    }
    action_for_key(key, actions).cloned()
}

/// Notification servers may render a subset of HTML in the body: agent text
/// must show as text.
pub fn escape_markup(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            _ => out.push(ch),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::notify_policy::action_key;

    #[test]
    fn markup_in_agent_text_is_escaped() {
        assert_eq!(
            escape_markup("<img src=x onerror=alert(1)> & <b>"),
            "&lt;img src=x onerror=alert(1)&gt; &amp; &lt;b&gt;"
        );
    }

    #[test]
    fn button_keys_map_to_actions() {
        let actions = vec![NotifyAction::RestartServer, NotifyAction::ViewLog];
        assert_eq!(pick("1", &actions, None), Some(NotifyAction::ViewLog));
        assert_eq!(pick("7", &actions, None), None);
        assert_eq!(pick("x", &actions, None), None);
        let open = NotifyAction::OpenSession("s".into());
        assert_eq!(pick("default", &actions, Some(&open)), Some(open));
    }

    #[test]
    fn a_key_answers_only_the_request_it_was_made_for() {
        let allow = |request: &str| NotifyAction::AllowOnce {
            request: request.into(),
            directory: None,
        };
        let shown = vec![allow("per_b")];
        // The key of the same button for another request does not match.
        assert_eq!(pick(&action_key(0, &allow("per_a")), &shown, None), None);
        assert_eq!(pick("0", &shown, None), None, "a bare index is not enough");
        assert_eq!(
            pick(&action_key(0, &allow("per_b")), &shown, None),
            Some(allow("per_b"))
        );
    }
}
