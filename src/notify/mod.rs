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

use crate::core::Event;
use crate::core::notify_policy::{
    Notification, NotificationKey, NotifyAction, Urgency, action_for_key, action_key,
};
use std::collections::HashMap;
use tokio::sync::mpsc;

#[cfg(target_os = "linux")]
mod actions;
#[cfg(target_os = "linux")]
use actions::ServerSignal;

/// Elsewhere there is no listener (yet): notifications show without buttons working.
#[cfg(not(target_os = "linux"))]
#[derive(Debug)]
enum ServerSignal {
    Action { id: u32, key: String },
    Closed { id: u32 },
}

const APP_NAME: &str = "OpenCode Nexus";
const APP_ICON: &str = "opencode-nexus";
const CLOSE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// Commands for the notifier task.
#[derive(Debug)]
pub enum NotifierCommand {
    Show(Notification),
    Close(NotificationKey),
}

/// A notification on screen and what its buttons mean.
struct Shown {
    key: NotificationKey,
    handle: notify_rust::NotificationHandle,
    actions: Vec<NotifyAction>,
    default_action: Option<NotifyAction>,
}

/// Starts the notifier: listens for button clicks, asks the server's
/// capabilities (reported to the core as `NotifierReady`), then shows and
/// closes notifications as told.
pub fn start(events: mpsc::Sender<Event>) -> mpsc::Sender<NotifierCommand> {
    let (tx, mut rx) = mpsc::channel::<NotifierCommand>(256);
    let (signals_tx, mut signals) = mpsc::unbounded_channel::<ServerSignal>();
    tokio::spawn(async move {
        // Listening first: no click can arrive before someone listens.
        #[cfg(target_os = "linux")]
        if let Err(e) = actions::listen(signals_tx).await {
            tracing::warn!("notification buttons will not work: {e}");
        }
        #[cfg(not(target_os = "linux"))]
        drop(signals_tx);
        let caps = tokio::task::spawn_blocking(notify_rust::get_capabilities).await;
        let actions = match caps {
            Ok(Ok(caps)) => {
                tracing::info!(?caps, "notification server capabilities");
                caps.iter().any(|c| c == "actions")
            }
            Ok(Err(e)) => {
                tracing::warn!("no desktop notification server ({e}); notifications will not show");
                false
            }
            Err(_) => false,
        };
        let _ = events.send(Event::NotifierReady { actions }).await;
        // By notification id; at most one per key.
        let mut shown: HashMap<u32, Shown> = HashMap::new();
        loop {
            tokio::select! {
                command = rx.recv() => match command {
                    Some(NotifierCommand::Show(n)) => show(n, &mut shown).await,
                    Some(NotifierCommand::Close(key)) => {
                        let id = shown.iter().find(|(_, s)| s.key == key).map(|(id, _)| *id);
                        if let Some(old) = id.and_then(|id| shown.remove(&id)) {
                            close(&old.handle).await;
                        }
                    }
                    None => break,
                },
                Some(signal) = signals.recv() => match signal {
                    ServerSignal::Action { id, key } => {
                        let Some(on_screen) = shown.get(&id) else {
                            tracing::info!(id, key, "click on a notification no longer shown ignored");
                            continue;
                        };
                        // A key this notification did not offer leaves it as it is.
                        let Some(action) =
                            pick(&key, &on_screen.actions, on_screen.default_action.as_ref())
                        else {
                            tracing::warn!(
                                id,
                                key,
                                "click with a key this notification did not offer ignored"
                            );
                            continue;
                        };
                        let Some(clicked) = shown.remove(&id) else { continue };
                        let _ = events.send(Event::NotificationAction(action)).await;
                        // Not every server closes a notification when a button is used.
                        close(&clicked.handle).await;
                    }
                    ServerSignal::Closed { id } => {
                        shown.remove(&id);
                    }
                },
            }
        }
    });
    tx
}

async fn show(n: Notification, shown: &mut HashMap<u32, Shown>) {
    let mut builder = notify_rust::Notification::new();
    builder
        .appname(APP_NAME)
        .icon(APP_ICON)
        .summary(&n.summary)
        .body(&escape_markup(&n.body))
        .urgency(match n.urgency {
            Urgency::Low => notify_rust::Urgency::Low,
            Urgency::Normal => notify_rust::Urgency::Normal,
            Urgency::Critical => notify_rust::Urgency::Critical,
        });
    for (index, action) in n.actions.iter().enumerate() {
        builder.action(&action_key(index, action), &action.label());
    }
    if n.default_action.is_some() {
        builder.action("default", "Open");
    }
    let previous = shown
        .iter()
        .find(|(_, s)| s.key == n.key)
        .map(|(id, _)| *id);
    if let Some(id) = previous {
        shown.remove(&id);
        builder.id(id); // replace, do not stack
    }
    match builder.show_async().await {
        Ok(handle) => {
            let id = handle.id();
            tracing::debug!(id, summary = %n.summary, "notification shown");
            shown.insert(
                id,
                Shown {
                    key: n.key,
                    handle,
                    actions: n.actions,
                    default_action: n.default_action,
                },
            );
        }
        Err(e) => tracing::debug!("notification not shown: {e}"),
    }
}

/// Closes a notification; a server that does not answer cannot hold us up.
async fn close(handle: &notify_rust::NotificationHandle) {
    if tokio::time::timeout(CLOSE_TIMEOUT, handle.close_async())
        .await
        .is_err()
    {
        tracing::warn!(
            id = handle.id(),
            "the notification server did not answer CloseNotification"
        );
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
