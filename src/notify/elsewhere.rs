//! macOS and Windows: notifications through notify-rust's own backends (the
//! macOS notification center, Windows toasts), with the same buttons as on
//! Linux. A notification that offers an answer is watched by a thread of its
//! own until the user acts on it or it goes away (both systems report a
//! response only to a caller that waits for it); the response is mapped back
//! through `response_action` to the buttons that notification showed, and the
//! core then checks that the request still waits.
//!
//! Neither system lets notify-rust replace or withdraw a shown notification,
//! so `Close` is left to the system: a late click on an old one reaches the
//! core, which ignores an answer to a request that no longer waits.
//!
//! Built and linted here; not yet run on a real Mac or Windows machine.

use super::{APP_NAME, NotifierCommand, buttons, response_action};
use crate::core::Event;
use crate::core::notify_policy::Notification;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::mpsc;

/// At most this many notifications are watched for an answer at once; beyond
/// it a notification shows without buttons (and says so in the log), so an
/// unattended machine cannot pile up threads.
const MAX_WATCHED: usize = 16;

/// Starts the notifier: shows notifications as told, and turns a button
/// click or a click on the notification into `Event::NotificationAction`.
pub fn start(events: mpsc::Sender<Event>) -> mpsc::Sender<NotifierCommand> {
    let (tx, mut rx) = mpsc::channel::<NotifierCommand>(256);
    tokio::spawn(async move {
        let _ = events.send(Event::NotifierReady { actions: true }).await;
        let watched = Arc::new(AtomicUsize::new(0));
        while let Some(command) = rx.recv().await {
            match command {
                NotifierCommand::Show(n) => show(n, &events, &watched),
                NotifierCommand::Close(_) => {}
            }
        }
    });
    tx
}

/// Shows `n` on a thread of its own (both systems' calls block), and waits
/// there for the user's answer when the notification offers one.
fn show(n: Notification, events: &mpsc::Sender<Event>, watched: &Arc<AtomicUsize>) {
    let answers = !n.actions.is_empty() || n.default_action.is_some();
    let watch = answers && watched.fetch_add(1, Ordering::SeqCst) < MAX_WATCHED;
    if answers && !watch {
        watched.fetch_sub(1, Ordering::SeqCst);
        tracing::warn!(
            summary = %n.summary,
            "{MAX_WATCHED} notifications already wait for an answer; this one shows without buttons"
        );
    }
    let (events, watched) = (events.clone(), Arc::clone(watched));
    let spawned = std::thread::Builder::new()
        .name("notification".into())
        .spawn(move || {
            let mut builder = notify_rust::Notification::new();
            builder.appname(APP_NAME).summary(&n.summary).body(&n.body);
            #[cfg(windows)]
            builder.urgency(match n.urgency {
                crate::core::notify_policy::Urgency::Low => notify_rust::Urgency::Low,
                crate::core::notify_policy::Urgency::Normal => notify_rust::Urgency::Normal,
                // A toast that stays until it is answered.
                crate::core::notify_policy::Urgency::Critical => notify_rust::Urgency::Critical,
            });
            if watch {
                for button in buttons(&n) {
                    builder.action(&button.key, &button.label);
                }
            }
            match builder.show() {
                Err(e) => tracing::debug!("notification not shown: {e}"),
                Ok(handle) if watch => {
                    let waited =
                        handle.wait_for_response(|response: &notify_rust::NotificationResponse| {
                            match response_action(response, &n.actions, n.default_action.as_ref()) {
                                Some(action) => {
                                    if events
                                        .blocking_send(Event::NotificationAction(action))
                                        .is_err()
                                    {
                                        tracing::debug!(
                                            "answer from a notification after the daemon stopped"
                                        );
                                    }
                                }
                                None => tracing::debug!(
                                    ?response,
                                    "notification closed without an answer"
                                ),
                            }
                        });
                    if let Err(e) = waited {
                        tracing::debug!("no answer from the notification: {e}");
                    }
                }
                // Sent as it is dropped (macOS), or already shown (Windows).
                Ok(_) => {}
            }
            if watch {
                watched.fetch_sub(1, Ordering::SeqCst);
            }
        });
    if let Err(e) = spawned {
        tracing::warn!("notification not shown: no thread for it ({e})");
    }
}
