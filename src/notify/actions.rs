//! Linux: one listener for the notification server's `ActionInvoked` and
//! `NotificationClosed` signals, for every notification Nexus shows.
//!
//! The stream and its match rule are set up together, before the first
//! notification is shown, so no click can arrive while nobody listens (the
//! per-notification wait in notify-rust re-creates its stream on every
//! message and can miss one under load).
//!
//! Any client of the session bus can emit a signal with these names; only the
//! connection that owns `org.freedesktop.Notifications` speaks for the user's
//! clicks. The match rule asks the bus for that sender only, and each signal's
//! unique sender name is checked against the owner, followed through
//! `NameOwnerChanged` (a notification daemon that restarts gets a new name).

use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;
use zbus::blocking::{Connection, MessageIterator, fdo::DBusProxy};

const NAME: &str = "org.freedesktop.Notifications";
const INTERFACE: &str = "org.freedesktop.Notifications";
const PATH: &str = "/org/freedesktop/Notifications";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerSignal {
    Action { id: u32, key: String },
    Closed { id: u32 },
}

/// The unique bus name owning `org.freedesktop.Notifications`, as last seen.
type Owner = Arc<Mutex<Option<String>>>;

/// Starts listening on the session bus; signals arrive on `signals`.
pub fn listen(signals: mpsc::UnboundedSender<ServerSignal>) -> Result<(), String> {
    let connection = Connection::session().map_err(|e| format!("no session bus ({e})"))?;
    let owner: Owner = Arc::new(Mutex::new(current_owner(&connection)));
    follow_owner(&connection, owner.clone())?;
    let rule = zbus::MatchRule::builder()
        .msg_type(zbus::message::Type::Signal)
        .sender(NAME)
        .and_then(|b| b.interface(INTERFACE))
        .and_then(|b| b.path(PATH))
        .map_err(|e| e.to_string())?
        .build();
    let messages =
        MessageIterator::for_match_rule(rule, &connection, Some(256)).map_err(|e| e.to_string())?;
    std::thread::Builder::new()
        .name("notification-signals".into())
        .spawn(move || {
            for message in messages {
                let Ok(message) = message else { continue };
                let header = message.header();
                let member = header.member().map(|m| m.to_string()).unwrap_or_default();
                let signal = match member.as_str() {
                    "ActionInvoked" => message
                        .body()
                        .deserialize::<(u32, String)>()
                        .ok()
                        .map(|(id, key)| ServerSignal::Action { id, key }),
                    "NotificationClosed" => message
                        .body()
                        .deserialize::<(u32, u32)>()
                        .ok()
                        .map(|(id, _reason)| ServerSignal::Closed { id }),
                    _ => None,
                };
                let Some(signal) = signal else { continue };
                let sender = header.sender().map(|s| s.to_string());
                if !from_owner(&connection, &owner, sender.as_deref()) {
                    tracing::warn!(
                        sender = sender.as_deref().unwrap_or("(none)"),
                        ?signal,
                        "ignored {member}: the sender does not own {NAME}"
                    );
                    continue;
                }
                if signals.send(signal).is_err() {
                    break;
                }
            }
        })
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// Who owns the notification name now (`None`: nobody, or the bus did not say).
fn current_owner(connection: &Connection) -> Option<String> {
    let bus = DBusProxy::new(connection).ok()?;
    let name = zbus::names::BusName::try_from(NAME).ok()?;
    bus.get_name_owner(name).ok().map(|owner| owner.to_string())
}

/// Keeps `owner` current from the bus's `NameOwnerChanged` for the name.
fn follow_owner(connection: &Connection, owner: Owner) -> Result<(), String> {
    let rule = zbus::MatchRule::builder()
        .msg_type(zbus::message::Type::Signal)
        .sender("org.freedesktop.DBus")
        .and_then(|b| b.interface("org.freedesktop.DBus"))
        .and_then(|b| b.member("NameOwnerChanged"))
        .and_then(|b| b.arg(0, NAME))
        .map_err(|e| e.to_string())?
        .build();
    let changes =
        MessageIterator::for_match_rule(rule, connection, Some(16)).map_err(|e| e.to_string())?;
    std::thread::Builder::new()
        .name("notification-owner".into())
        .spawn(move || {
            for message in changes {
                let Ok(message) = message else { continue };
                // Only the bus itself announces owners.
                if message.header().sender().map(|s| s.as_str()) != Some("org.freedesktop.DBus") {
                    continue;
                }
                let Ok((name, _old, new)) =
                    message.body().deserialize::<(String, String, String)>()
                else {
                    continue;
                };
                if name == NAME {
                    tracing::debug!(owner = %new, "{NAME} has a new owner");
                    *owner.lock().unwrap_or_else(|e| e.into_inner()) =
                        (!new.is_empty()).then_some(new);
                }
            }
        })
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// Whether `sender` owns the notification name. A mismatch is asked of the
/// bus once more: the owner may have changed (or been started) since the
/// last `NameOwnerChanged` was read.
fn from_owner(connection: &Connection, owner: &Owner, sender: Option<&str>) -> bool {
    let Some(sender) = sender else { return false };
    let mut known = owner.lock().unwrap_or_else(|e| e.into_inner());
    if known.as_deref() == Some(sender) {
        return true;
    }
    *known = current_owner(connection);
    known.as_deref() == Some(sender)
}
