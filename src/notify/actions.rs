//! Linux: one listener for the notification server's `ActionInvoked` and
//! `NotificationClosed` signals, for every notification Nexus shows.
//!
//! The stream and its match rule are set up together, before the first
//! notification is shown, so no click can arrive while nobody listens (the
//! per-notification wait in notify-rust re-creates its stream on every
//! message and can miss one under load).

use tokio::sync::mpsc;

const INTERFACE: &str = "org.freedesktop.Notifications";
const PATH: &str = "/org/freedesktop/Notifications";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerSignal {
    Action { id: u32, key: String },
    Closed { id: u32 },
}

/// Starts listening on the session bus; signals arrive on `signals`.
pub fn listen(signals: mpsc::UnboundedSender<ServerSignal>) -> Result<(), String> {
    use zbus::blocking::{Connection, MessageIterator};
    let connection = Connection::session().map_err(|e| format!("no session bus ({e})"))?;
    let rule = zbus::MatchRule::builder()
        .msg_type(zbus::message::Type::Signal)
        .interface(INTERFACE)
        .and_then(|b| b.path(PATH))
        .map_err(|e| e.to_string())?
        .build();
    let messages =
        MessageIterator::for_match_rule(rule, &connection, Some(256)).map_err(|e| e.to_string())?;
    std::thread::Builder::new()
        .name("notification-signals".into())
        .spawn(move || {
            let _connection = connection;
            for message in messages {
                let Ok(message) = message else { continue };
                let header = message.header();
                let signal = match header.member().map(|m| m.as_str()) {
                    Some("ActionInvoked") => message
                        .body()
                        .deserialize::<(u32, String)>()
                        .ok()
                        .map(|(id, key)| ServerSignal::Action { id, key }),
                    Some("NotificationClosed") => message
                        .body()
                        .deserialize::<(u32, u32)>()
                        .ok()
                        .map(|(id, _reason)| ServerSignal::Closed { id }),
                    _ => None,
                };
                if let Some(signal) = signal
                    && signals.send(signal).is_err()
                {
                    break;
                }
            }
        })
        .map_err(|e| e.to_string())?;
    Ok(())
}
