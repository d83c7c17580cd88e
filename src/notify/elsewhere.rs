//! macOS and Windows: notifications through notify-rust's own backends (the
//! macOS notification center, Windows toasts), without buttons for now: the
//! core hears `NotifierReady { actions: false }`, so its texts say how to
//! answer, as on a Linux notification server without "actions". Built and
//! linted here; not yet run on a real Mac or Windows machine.

use super::{APP_NAME, NotifierCommand};
use crate::core::Event;
use tokio::sync::mpsc;

/// Starts the notifier: shows notifications as told. Closing is left to the
/// system (these notifications expire on their own).
pub fn start(events: mpsc::Sender<Event>) -> mpsc::Sender<NotifierCommand> {
    let (tx, mut rx) = mpsc::channel::<NotifierCommand>(256);
    tokio::spawn(async move {
        let _ = events.send(Event::NotifierReady { actions: false }).await;
        while let Some(command) = rx.recv().await {
            match command {
                NotifierCommand::Show(n) => {
                    let (summary, body) = (n.summary, n.body);
                    let shown = tokio::task::spawn_blocking(move || {
                        notify_rust::Notification::new()
                            .appname(APP_NAME)
                            .summary(&summary)
                            .body(&body)
                            .show()
                            .map(|_| ())
                    })
                    .await;
                    if let Ok(Err(e)) = shown {
                        tracing::debug!("notification not shown: {e}");
                    }
                }
                NotifierCommand::Close(_) => {}
            }
        }
    });
    tx
}
