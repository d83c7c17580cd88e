//! Everything that can happen to Nexus, as the core hears it.

use super::model::ServerEvent;
use super::notify_policy::NotifyAction;
use super::popover_lifecycle::{PopoverEvent, PopoverGeneration};
use super::resource_use::ResourceUse;
use super::sessions::DirectorySnapshot;
use super::tray_view::MenuAction;
use crate::config::{NotifyConfig, ServerMode};
use std::time::Duration;

/// Identifies one launch of the managed server, so late events and timers
/// from an earlier launch are recognised and ignored.
pub type LaunchId = u64;
/// Identifies one run of the event-stream watcher, likewise.
pub type WatchId = u64;

/// How a managed server process ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExitReport {
    /// e.g. "exited with code 1" or "killed by signal 9".
    pub description: String,
    /// Set when retrying cannot help (the port is taken, …), with the reason.
    pub permanent: Option<String>,
}

/// Everything that can happen to Nexus.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// What the daemon found before anything happened: whether a config file
    /// exists (false: first-run setup not done) and whether start at login is on.
    Booted {
        configured: bool,
        autostart: bool,
    },
    StartRequested,
    StopRequested,
    RestartRequested,
    QuitRequested,
    /// The managed server process exists.
    Spawned {
        launch: LaunchId,
        pid: u32,
    },
    /// The managed server could not be started at all; retrying will not help.
    SpawnFailed {
        launch: LaunchId,
        reason: String,
    },
    /// It printed its URL and answered `/global/health`.
    Ready {
        launch: LaunchId,
        url: String,
        version: String,
    },
    Exited {
        launch: LaunchId,
        exit: ExitReport,
    },
    Watch {
        watch: WatchId,
        event: WatchEvent,
    },
    Timer(Timer),
    /// The user chose a tray menu entry.
    Menu(MenuAction),
    /// The user clicked a notification or one of its buttons.
    NotificationAction(NotifyAction),
    /// The notification server answered: whether it shows buttons.
    NotifierReady {
        actions: bool,
    },
    /// The quick-chat popover: an open request, or news of its process.
    Popover(PopoverEvent),
    /// `config.toml` changed and is valid; the daemon already launches and
    /// reaches the server with the new settings.
    Reconfigured(Reconfiguration),
    /// `config.toml` changed but cannot be used: the last good settings stay.
    ConfigRejected(String),
    /// A fresh measurement of the managed server's process tree (`None`: no process).
    ResourceUse(Option<ResourceUse>),
    /// Start at login is now on or off (read back from the system).
    AutostartChanged(bool),
}

/// What changed when `config.toml` changed.
#[derive(Debug, Clone, PartialEq)]
pub struct Reconfiguration {
    pub notify: NotifyConfig,
    /// Set when a key that decides how the server runs or is reached changed:
    /// the server restarts (managed) or reconnects (attach) with these.
    pub server: Option<ServerSettings>,
    /// Reconnect the event stream (what it watches changed) when the server stays.
    pub rewatch: bool,
    /// How long a managed start may take (from the next launch on).
    pub start_timeout: Duration,
    /// Whether a config file exists (false: defaults, first run not done).
    pub configured: bool,
}

/// The server settings the core itself needs.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerSettings {
    pub mode: ServerMode,
    /// Attach mode: the server's URL.
    pub attach_url: Option<String>,
}

/// What the event-stream watcher reports.
#[derive(Debug, Clone, PartialEq)]
pub enum WatchEvent {
    Connected {
        version: Option<String>,
        unsecured: bool,
    },
    Lost {
        reason: String,
    },
    /// 401: the credentials are wrong. The watcher has stopped; no retry loop.
    AuthRejected,
    Snapshot(DirectorySnapshot),
    Server(ServerEvent),
}

/// Timers the core asks for; each names the launch it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Timer {
    StartTimeout(LaunchId),
    RestartDue(LaunchId),
    HealthyLongEnough(LaunchId),
    KillDue(LaunchId),
    /// The "finished" coalescing window ended.
    NotifySummary,
    /// The grace before announcing an unreachable server ended.
    UnreachableCheck,
    /// A started popover process should have connected back by now.
    PopoverStart(PopoverGeneration),
}
