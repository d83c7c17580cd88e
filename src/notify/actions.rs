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

use futures_util::StreamExt;
use tokio::sync::mpsc;
use zbus::{Connection, MessageStream, fdo::DBusProxy};

const NAME: &str = "org.freedesktop.Notifications";
const INTERFACE: &str = "org.freedesktop.Notifications";
const PATH: &str = "/org/freedesktop/Notifications";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerSignal {
    Action { id: u32, key: String },
    Closed { id: u32 },
}

/// Starts listening on the session bus; signals arrive on `signals`. Returns
/// once the match rules are in place. The listener is one task on the
/// daemon's runtime (zbus on tokio): it sleeps until the bus has a message
/// for it, so an idle desktop costs it nothing.
pub async fn listen(signals: mpsc::UnboundedSender<ServerSignal>) -> Result<(), String> {
    let connection = Connection::session()
        .await
        .map_err(|e| format!("no session bus ({e})"))?;
    let bus = DBusProxy::new(&connection)
        .await
        .map_err(|e| e.to_string())?;
    let owner_rule = zbus::MatchRule::builder()
        .msg_type(zbus::message::Type::Signal)
        .sender("org.freedesktop.DBus")
        .and_then(|b| b.interface("org.freedesktop.DBus"))
        .and_then(|b| b.member("NameOwnerChanged"))
        .and_then(|b| b.arg(0, NAME))
        .map_err(|e| e.to_string())?
        .build();
    let mut owner_changes = MessageStream::for_match_rule(owner_rule, &connection, Some(16))
        .await
        .map_err(|e| e.to_string())?;
    let rule = zbus::MatchRule::builder()
        .msg_type(zbus::message::Type::Signal)
        .sender(NAME)
        .and_then(|b| b.interface(INTERFACE))
        .and_then(|b| b.path(PATH))
        .map_err(|e| e.to_string())?
        .build();
    let mut messages = MessageStream::for_match_rule(rule, &connection, Some(256))
        .await
        .map_err(|e| e.to_string())?;
    // Asked after subscribing to its changes, so no change is missed between.
    let mut owner = current_owner(&bus).await;
    tokio::spawn(async move {
        // Held for the task's life: the streams' match rules live on it.
        let _connection = connection;
        loop {
            tokio::select! {
                change = owner_changes.next() => match change {
                    Some(Ok(message)) => follow_owner(&message, &mut owner),
                    Some(Err(_)) => {}
                    None => break,
                },
                message = messages.next() => match message {
                    Some(Ok(message)) => {
                        let Some(signal) = parse(&message) else { continue };
                        let sender = message.header().sender().map(|s| s.to_string());
                        if !from_owner(&bus, &mut owner, sender.as_deref()).await {
                            tracing::warn!(
                                sender = sender.as_deref().unwrap_or("(none)"),
                                ?signal,
                                "ignored a notification signal: the sender does not own {NAME}"
                            );
                            continue;
                        }
                        if signals.send(signal).is_err() {
                            break;
                        }
                    }
                    Some(Err(_)) => {}
                    None => break,
                },
            }
        }
        tracing::debug!("notification signal listener ended");
    });
    Ok(())
}

/// `ActionInvoked` or `NotificationClosed`, read from its body.
fn parse(message: &zbus::Message) -> Option<ServerSignal> {
    let header = message.header();
    match header.member()?.as_str() {
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
    }
}

/// Who owns the notification name now (`None`: nobody, or the bus did not say).
async fn current_owner(bus: &DBusProxy<'_>) -> Option<String> {
    let name = zbus::names::BusName::try_from(NAME).ok()?;
    bus.get_name_owner(name)
        .await
        .ok()
        .map(|owner| owner.to_string())
}

/// Keeps `owner` current from the bus's `NameOwnerChanged` for the name.
fn follow_owner(message: &zbus::Message, owner: &mut Option<String>) {
    // Only the bus itself announces owners.
    if message.header().sender().map(|s| s.as_str()) != Some("org.freedesktop.DBus") {
        return;
    }
    let Ok((name, _old, new)) = message.body().deserialize::<(String, String, String)>() else {
        return;
    };
    if name == NAME {
        tracing::debug!(owner = %new, "{NAME} has a new owner");
        *owner = (!new.is_empty()).then_some(new);
    }
}

/// Whether `sender` owns the notification name. A mismatch is asked of the
/// bus once more: the owner may have changed (or been started) since the
/// last `NameOwnerChanged` was read.
async fn from_owner(bus: &DBusProxy<'_>, owner: &mut Option<String>, sender: Option<&str>) -> bool {
    let Some(sender) = sender else { return false };
    if owner.as_deref() == Some(sender) {
        return true;
    }
    *owner = current_owner(bus).await;
    owner.as_deref() == Some(sender)
}
