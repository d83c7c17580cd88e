//! What the core knows: the server's lifecycle, the event stream's link,
//! sessions, notifications, the popover. The core's own fields: only
//! `reduce` changes them; the outer rooms read them and derive views.

use super::event::{LaunchId, ServerSettings, WatchId};
use super::notify_policy::NotifyPolicy;
use super::popover_lifecycle::PopoverLifecycle;
use super::resource_use::ResourceUse;
use super::restart_policy::RestartPolicy;
use super::sessions::Sessions;
use crate::config::ServerMode;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The server state every view shows (the `status` contract).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServerState {
    Stopped,
    Starting,
    Running,
    Restarting,
    Failed,
    AuthRequired,
    Unreachable,
}

impl ServerState {
    pub fn as_str(self) -> &'static str {
        match self {
            ServerState::Stopped => "stopped",
            ServerState::Starting => "starting",
            ServerState::Running => "running",
            ServerState::Restarting => "restarting",
            ServerState::Failed => "failed",
            ServerState::AuthRequired => "auth_required",
            ServerState::Unreachable => "unreachable",
        }
    }
}

/// Where the managed server's lifecycle is (attach mode uses Stopped/Watching).
#[derive(Debug, Clone, PartialEq)]
pub enum Phase {
    Stopped,
    Launching {
        launch: LaunchId,
        pid: Option<u32>,
        restarting: bool,
    },
    Running {
        launch: LaunchId,
        pid: u32,
    },
    Stopping {
        launch: LaunchId,
        pid: Option<u32>,
        then: AfterStop,
    },
    WaitingToRestart {
        after: LaunchId,
    },
    Failed,
    /// Attach mode: watching a server we did not start.
    Watching,
}

/// What to do once a stopping process has exited.
#[derive(Debug, Clone, PartialEq)]
pub enum AfterStop {
    StayStopped,
    Restart,
    Quit,
    /// It was stopped because its start failed (timeout): count it and maybe retry.
    CountAsFailure,
}

/// The event stream's condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    Down,
    Connecting,
    Connected,
    Lost,
    AuthRejected,
}

/// One remembered state change.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub at: Instant,
    pub state: ServerState,
    pub reason: Option<String>,
}

#[derive(Debug, Clone)]
pub struct State {
    pub mode: ServerMode,
    pub phase: Phase,
    pub link: Link,
    pub url: Option<String>,
    pub version: Option<String>,
    pub restarts: u32,
    pub last_error: Option<String>,
    pub unsecured: bool,
    pub quitting: bool,
    pub sessions: Sessions,
    pub history: VecDeque<Transition>,
    pub notify: NotifyPolicy,
    pub popover: PopoverLifecycle,
    /// Why the config file on disk is not in use (the last good one is).
    pub config_problem: Option<String>,
    /// Whether a config file exists (false until first-run setup saves one).
    pub configured: bool,
    /// The managed server's process tree, while someone is looking.
    pub resource_use: Option<ResourceUse>,
    /// Start at login (`None` until known).
    pub autostart: Option<bool>,
    pub(super) start_timeout: Duration,
    /// A mode to switch to once the managed server has stopped.
    pub(super) switch_to: Option<ServerSettings>,
    pub(super) policy: RestartPolicy,
    pub(super) next_launch: LaunchId,
    pub(super) watch: Option<WatchId>,
    pub(super) next_watch: WatchId,
}

impl State {
    /// A fresh state; `url` is the attach-mode URL (shown before connecting).
    pub fn new(
        mode: ServerMode,
        url: Option<String>,
        start_timeout: Duration,
        now: Instant,
    ) -> Self {
        let mut history = VecDeque::new();
        history.push_back(Transition {
            at: now,
            state: ServerState::Stopped,
            reason: None,
        });
        State {
            mode,
            phase: Phase::Stopped,
            link: Link::Down,
            url,
            version: None,
            restarts: 0,
            last_error: None,
            unsecured: false,
            quitting: false,
            sessions: Sessions::default(),
            history,
            // Off until the daemon configures it (keeps core tests focused).
            notify: NotifyPolicy::new(
                crate::config::NotifyConfig {
                    enabled: false,
                    ..Default::default()
                },
                now,
            ),
            popover: PopoverLifecycle::default(),
            config_problem: None,
            configured: true,
            resource_use: None,
            autostart: None,
            start_timeout,
            switch_to: None,
            policy: RestartPolicy::default(),
            next_launch: 1,
            watch: None,
            next_watch: 1,
        }
    }

    /// Turns desktop notifications on with these settings.
    pub fn with_notifications(
        mut self,
        settings: crate::config::NotifyConfig,
        now: Instant,
    ) -> Self {
        self.notify = NotifyPolicy::new(settings, now);
        self
    }

    /// The one server state every view shows, derived from phase and link.
    pub fn server_state(&self) -> ServerState {
        let by_link = |link: Link| match link {
            Link::Down | Link::Connecting => None,
            Link::Connected => Some(ServerState::Running),
            Link::Lost => Some(ServerState::Unreachable),
            Link::AuthRejected => Some(ServerState::AuthRequired),
        };
        match &self.phase {
            Phase::Stopped => ServerState::Stopped,
            Phase::Launching {
                restarting: false, ..
            } => ServerState::Starting,
            Phase::Launching {
                restarting: true, ..
            }
            | Phase::WaitingToRestart { .. } => ServerState::Restarting,
            Phase::Running { .. } => by_link(self.link)
                .filter(|s| *s != ServerState::Running)
                .unwrap_or(ServerState::Running),
            Phase::Stopping { then, .. } => match then {
                AfterStop::Restart | AfterStop::CountAsFailure => ServerState::Restarting,
                AfterStop::StayStopped | AfterStop::Quit => ServerState::Stopped,
            },
            Phase::Failed => ServerState::Failed,
            Phase::Watching => by_link(self.link).unwrap_or(ServerState::Starting),
        }
    }

    /// The managed server's pid while it has one.
    pub fn server_pid(&self) -> Option<u32> {
        match &self.phase {
            Phase::Launching { pid, .. } | Phase::Stopping { pid, .. } => *pid,
            Phase::Running { pid, .. } => Some(*pid),
            _ => None,
        }
    }
}
