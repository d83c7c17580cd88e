//! Linux: notifications through the freedesktop notification server
//! (notify-rust over D-Bus), with buttons where the server offers "actions",
//! and one listener for every click and close (`super::actions`).

use super::actions::{self, ServerSignal};
use super::{APP_NAME, NotifierCommand, buttons, escape_markup, pick};
use crate::core::Event;
use crate::core::notify_policy::{Notification, NotificationKey, NotifyAction, Urgency};
use std::collections::HashMap;
use tokio::sync::mpsc;

const APP_ICON: &str = "opencode-nexus";
const CLOSE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

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
        if let Err(e) = actions::listen(signals_tx).await {
            tracing::warn!("notification buttons will not work: {e}");
        }
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
    for button in buttons(&n) {
        builder.action(&button.key, &button.label);
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
