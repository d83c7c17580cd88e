//! Desktop notifications: shows what the core's notification policy decides
//! (`Effect::Notify` / `Effect::CloseNotification`) through notify-rust, and
//! turns button clicks back into core events.
//!
//! On Linux (`linux`), one live notification per key: a new one for the same
//! key replaces the old (same id) instead of stacking. One listener hears every button click
//! and close (see `actions`, which accepts them only from the notification
//! server), and maps it back through the notification's id. A button's key
//! carries the request id it answers (`notify_policy::action_key`), so a click
//! is matched only to the button that was on screen; the core then checks that
//! the request still waits. macOS and Windows (`elsewhere`) show the same
//! buttons through notify-rust's backends there and wait for each one's answer.

use crate::core::notify_policy::{
    Notification, NotificationKey, NotifyAction, action_for_key, action_key,
};

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

/// A button as the notification system gets it: the label shown and the key
/// it reports back when clicked.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Button {
    key: String,
    label: String,
}

/// The buttons of `n`, in order, each keyed by `action_key` so a click is
/// matched only to the request it was shown for. (Clicking the notification
/// itself is not a button: "default" on Linux, the body on macOS and Windows.)
fn buttons(n: &Notification) -> Vec<Button> {
    n.actions
        .iter()
        .enumerate()
        .map(|(index, action)| Button {
            key: action_key(index, action),
            label: action.label(),
        })
        .collect()
}

/// What a notification's response means (macOS and Windows report one
/// response per notification): a click on the notification itself is its
/// default action, a button its action, a close nothing.
#[cfg_attr(target_os = "linux", allow(dead_code))]
fn response_action(
    response: &notify_rust::NotificationResponse,
    actions: &[NotifyAction],
    default_action: Option<&NotifyAction>,
) -> Option<NotifyAction> {
    use notify_rust::NotificationResponse as R;
    match response {
        R::Default => default_action.cloned(),
        // "default" is a key Linux servers use for the body; here it is only
        // ever a button's, and no button has it.
        R::Action(key) if key != "default" => pick(key, actions, None),
        R::Action(_) | R::Reply(_) | R::Closed(_) => None,
    }
}

/// The action behind a button key (`action_key`'s "0", "1:per_…", or "default").
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

    fn permission_request() -> Notification {
        let answer = |make: fn(String, Option<String>) -> NotifyAction| make("per_b".into(), None);
        Notification {
            key: NotificationKey::Request("per_b".into()),
            summary: "Permission needed".into(),
            body: "bash: rm -rf build".into(),
            actions: vec![
                answer(|request, directory| NotifyAction::AllowOnce { request, directory }),
                answer(|request, directory| NotifyAction::Reject { request, directory }),
            ],
            default_action: Some(NotifyAction::OpenSession("ses_1".into())),
            urgency: crate::core::notify_policy::Urgency::Critical,
        }
    }

    #[test]
    fn buttons_carry_the_request_they_answer() {
        let n = permission_request();
        let shown: Vec<(String, String)> =
            buttons(&n).into_iter().map(|b| (b.key, b.label)).collect();
        assert_eq!(
            shown,
            [
                ("0:per_b".to_string(), "Allow once".to_string()),
                ("1:per_b".to_string(), "Reject".to_string())
            ]
        );
    }

    #[test]
    fn a_response_maps_to_what_that_notification_offered() {
        use notify_rust::{CloseReason, NotificationResponse as R};
        let n = permission_request();
        let answer = |r: R| response_action(&r, &n.actions, n.default_action.as_ref());
        assert_eq!(
            answer(R::Action("1:per_b".into())),
            Some(n.actions[1].clone())
        );
        assert_eq!(
            answer(R::Default),
            n.default_action.clone(),
            "a click on the body opens it"
        );
        // Another request's key, a bare index, the Linux body key, a reply or a
        // close answer nothing.
        assert_eq!(answer(R::Action("0:per_a".into())), None);
        assert_eq!(answer(R::Action("0".into())), None);
        assert_eq!(answer(R::Action("default".into())), None);
        assert_eq!(answer(R::Reply("yes".into())), None);
        assert_eq!(answer(R::Closed(CloseReason::Expired)), None);
        let no_default = response_action(&R::Default, &n.actions, None);
        assert_eq!(no_default, None);
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
