//! Desktop notifications: shows what the core's notification policy decides
//! (`Effect::Notify` / `Effect::CloseNotification`) through notify-rust, and
//! turns button clicks back into core events.
//!
//! One live notification per key: a new one for the same key replaces the
//! old (same id) instead of stacking. Every shown notification has a task
//! that waits for its buttons; replacing or closing it ends that task.

use crate::core::Event;
use crate::core::notify_policy::{Notification, NotificationKey, NotifyAction, Urgency};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::mpsc;

const APP_NAME: &str = "OpenCode Nexus";
const APP_ICON: &str = "opencode-nexus";
const CLOSE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// Commands for the notifier task.
#[derive(Debug)]
pub enum NotifierCommand {
    Show(Notification),
    Close(NotificationKey),
}

struct Shown {
    id: u32,
    handle: Arc<notify_rust::NotificationHandle>,
    waiter: tokio::task::JoinHandle<()>,
}

/// Starts the notifier: asks the server's capabilities (reported to the core
/// as `NotifierReady`), then shows and closes notifications as told.
pub fn start(events: mpsc::Sender<Event>) -> mpsc::Sender<NotifierCommand> {
    let (tx, mut rx) = mpsc::channel::<NotifierCommand>(256);
    tokio::spawn(async move {
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
        let mut shown: HashMap<NotificationKey, Shown> = HashMap::new();
        let (closed_tx, mut closed_rx) = mpsc::unbounded_channel::<(NotificationKey, u32)>();
        loop {
            tokio::select! {
                command = rx.recv() => match command {
                    Some(NotifierCommand::Show(n)) => show(n, &mut shown, &events, &closed_tx).await,
                    Some(NotifierCommand::Close(key)) => {
                        if let Some(old) = shown.remove(&key) {
                            old.waiter.abort();
                            close(&old.handle).await;
                        }
                    }
                    None => break,
                },
                Some((key, id)) = closed_rx.recv() => {
                    // Dismissed or acted on: forget it (unless already replaced).
                    if shown.get(&key).is_some_and(|s| s.id == id) {
                        shown.remove(&key);
                    }
                }
            }
        }
        for (_, old) in shown.drain() {
            old.waiter.abort();
        }
    });
    tx
}

async fn show(
    n: Notification,
    shown: &mut HashMap<NotificationKey, Shown>,
    events: &mpsc::Sender<Event>,
    closed: &mpsc::UnboundedSender<(NotificationKey, u32)>,
) {
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
        builder.action(&index.to_string(), &action.label());
    }
    if n.default_action.is_some() {
        builder.action("default", "Open");
    }
    if let Some(old) = shown.remove(&n.key) {
        old.waiter.abort();
        builder.id(old.id); // replace, do not stack
    }
    let handle = match builder.show_async().await {
        Ok(handle) => Arc::new(handle),
        Err(e) => {
            tracing::debug!("notification not shown: {e}");
            return;
        }
    };
    let id = handle.id();
    tracing::debug!(id, summary = %n.summary, "notification shown");
    let waiter = {
        let handle = handle.clone();
        let events = events.clone();
        let closed = closed.clone();
        let key = n.key.clone();
        let actions = n.actions.clone();
        let default_action = n.default_action.clone();
        tokio::spawn(async move {
            let mut chosen: Option<NotifyAction> = None;
            handle
                .wait_for_action_async(|response| {
                    chosen = match response {
                        notify_rust::NotificationResponse::Action(key) => pick(key, &actions, None),
                        notify_rust::NotificationResponse::Default => default_action.clone(),
                        _ => None,
                    };
                })
                .await;
            if let Some(action) = chosen {
                let _ = events.send(Event::NotificationAction(action)).await;
                // Not every server closes a notification when a button is used.
                close(&handle).await;
            }
            let _ = closed.send((key, id));
        })
    };
    shown.insert(n.key, Shown { id, handle, waiter });
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

/// The action behind a button key ("0", "1", … or "default").
fn pick(
    key: &str,
    actions: &[NotifyAction],
    default_action: Option<&NotifyAction>,
) -> Option<NotifyAction> {
    if key == "default" {
        return default_action.cloned();
    }
    key.parse::<usize>()
        .ok()
        .and_then(|i| actions.get(i))
        .cloned()
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
}
