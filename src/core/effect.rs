//! What the core asks its caller to do.

use super::event::{LaunchId, Timer, WatchId};
use super::model::{PermissionReply, StopSignal};
use super::notify_policy::{Notification, NotificationKey};
use super::popover_lifecycle::PopoverEffect;
use std::time::Duration;

/// Grace between SIGTERM and SIGKILL when stopping the server's process group.
pub const STOP_GRACE: Duration = Duration::from_secs(5);
/// What the caller must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Start `opencode serve` for this launch (fresh password, own process group).
    Spawn {
        launch: LaunchId,
    },
    /// Signal the launch's whole process group.
    Signal {
        launch: LaunchId,
        pid: u32,
        signal: StopSignal,
    },
    Schedule {
        timer: Timer,
        after: Duration,
    },
    /// Watch the event stream at `url` (managed) or at the configured URL (`None`).
    Watch {
        watch: WatchId,
        url: Option<String>,
    },
    Unwatch,
    /// Put this text on the desktop clipboard.
    CopyToClipboard(String),
    /// Show (or replace) a desktop notification.
    Notify(Notification),
    CloseNotification(NotificationKey),
    /// Answer a permission request on the server.
    ReplyPermission {
        request: String,
        directory: Option<String>,
        reply: PermissionReply,
    },
    /// Answer a question on the server (one list of labels per question).
    ReplyQuestion {
        request: String,
        directory: Option<String>,
        answers: Vec<Vec<String>>,
    },
    /// Something for the quick-chat popover process.
    Popover(PopoverEffect),
    /// Turn start at login on or off (then report `AutostartChanged`).
    SetAutostart(bool),
    /// Put the diagnostics report on the clipboard.
    CopyDiagnostics,
    /// Open the folder holding Nexus's and the server's logs.
    OpenLogFolder,
    /// A notification button that may no longer answer what it was shown
    /// for (the reason, for the log).
    IgnoredNotificationAction(String),
    /// Quit is complete: the daemon may exit.
    Exit,
}
