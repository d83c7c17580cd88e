//! The pure core: `State` plus an `Event` in, a list of `Effect`s out.
//!
//! No I/O and no clock: the caller passes `now` and carries out the effects
//! (spawning, signalling, timers, the event-stream watcher). Every behaviour —
//! when to restart, when to give up, what the server state is — is decided
//! here and can be tested without a process, a network or real time.

pub mod model;
pub mod notify_policy;
pub mod popover_lifecycle;
pub mod resource_use;
pub mod restart_policy;
pub mod sessions;
pub mod status;
pub mod tray_view;
pub mod visible_text;

use crate::config::{NotifyConfig, ServerMode};
use model::{PermissionReply, ServerEvent, StopSignal};
use notify_policy::{Decision, NotifyAction, NotifyPolicy};
use popover_lifecycle::{OpenRequest, PopoverEffect, PopoverEvent, PopoverLifecycle, PopoverView};
use restart_policy::{HEALTHY_RESET, RestartDecision, RestartPolicy};
use sessions::{DirectorySnapshot, Sessions};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Grace between SIGTERM and SIGKILL when stopping the server's process group.
pub const STOP_GRACE: Duration = Duration::from_secs(5);
/// How many state transitions are remembered (for status and diagnostics).
const HISTORY_LEN: usize = 50;

/// Identifies one launch of the managed server, so late events and timers
/// from an earlier launch are recognised and ignored.
pub type LaunchId = u64;
/// Identifies one run of the event-stream watcher, likewise.
pub type WatchId = u64;

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
    Menu(tray_view::MenuAction),
    /// The user clicked a notification or one of its buttons.
    NotificationAction(notify_policy::NotifyAction),
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
    ResourceUse(Option<resource_use::ResourceUse>),
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
    PopoverStart(popover_lifecycle::PopoverGeneration),
}

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
    Notify(notify_policy::Notification),
    CloseNotification(notify_policy::NotificationKey),
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
    pub resource_use: Option<resource_use::ResourceUse>,
    /// Start at login (`None` until known).
    pub autostart: Option<bool>,
    start_timeout: Duration,
    /// A mode to switch to once the managed server has stopped.
    switch_to: Option<ServerSettings>,
    policy: RestartPolicy,
    next_launch: LaunchId,
    watch: Option<WatchId>,
    next_watch: WatchId,
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

/// Applies one event and returns what must be done.
pub fn reduce(state: &mut State, event: Event, now: Instant) -> Vec<Effect> {
    let event = match event {
        Event::Menu(action) => match menu_event(state, action) {
            Ok(event) => event,
            Err(effects) => return effects,
        },
        Event::NotificationAction(action) => match notification_event(state, action) {
            Ok(event) => event,
            Err(effects) => return effects,
        },
        Event::NotifierReady { actions } => {
            state.notify.set_actions_supported(actions);
            return Vec::new();
        }
        Event::Timer(Timer::NotifySummary) => {
            let mut fx = Vec::new();
            decided(state.notify.on_summary_due(), &mut fx);
            return fx;
        }
        Event::Popover(event) => return popover(state, event),
        Event::ConfigRejected(problem) => {
            state.config_problem = Some(problem);
            return Vec::new();
        }
        Event::ResourceUse(measured) => {
            state.resource_use = measured.filter(|_| state.server_pid().is_some());
            return Vec::new();
        }
        Event::AutostartChanged(enabled) => {
            state.autostart = Some(enabled);
            return Vec::new();
        }
        Event::Timer(Timer::PopoverStart(generation)) => {
            return popover(state, PopoverEvent::StartTimedOut(generation));
        }
        Event::Timer(Timer::UnreachableCheck) => {
            let mut fx = Vec::new();
            let decisions = state
                .notify
                .on_unreachable_check(state.server_state(), state.last_error.as_deref());
            decided(decisions, &mut fx);
            return fx;
        }
        other => other,
    };
    // A menu choice or notification click may have become a popover open.
    let event = match event {
        Event::Popover(event) => return popover(state, event),
        other => other,
    };
    let before = state.server_state();
    let exited = matches!(event, Event::Exited { .. });
    let mut fx = Vec::new();
    match (event, state.mode) {
        (Event::Reconfigured(change), _) => reconfigure(state, change, now, &mut fx),
        (event, ServerMode::Managed) => managed(state, event, now, &mut fx),
        (event, ServerMode::Attach) => attach(state, event, now, &mut fx),
    }
    if state.server_pid().is_none() {
        state.resource_use = None;
    }
    let after = state.server_state();
    if after != before {
        let decisions = state.notify.on_server_state(
            before,
            after,
            exited,
            state.last_error.as_deref(),
            state.mode == ServerMode::Managed,
        );
        decided(decisions, &mut fx);
        state.history.push_back(Transition {
            at: now,
            state: after,
            reason: state.last_error.clone().filter(|_| is_trouble(after)),
        });
        while state.history.len() > HISTORY_LEN {
            state.history.pop_front();
        }
    }
    fx
}

/// New settings: notifications at once; a changed server restarts (managed)
/// or reconnects (attach) — unless the user had stopped it, then it stays
/// stopped and starts with the new settings next time.
fn reconfigure(state: &mut State, change: Reconfiguration, now: Instant, fx: &mut Vec<Effect>) {
    state.notify.set_settings(change.notify);
    state.config_problem = None;
    state.configured = change.configured;
    state.start_timeout = change.start_timeout;
    let Some(server) = change.server else {
        if change.rewatch && state.watch.is_some() {
            let url = match state.mode {
                ServerMode::Managed => state.url.clone(),
                ServerMode::Attach => None,
            };
            watch(state, url, fx);
        }
        return;
    };
    match state.mode {
        ServerMode::Managed => {
            let switching = server.mode != ServerMode::Managed;
            if switching {
                state.switch_to = Some(server);
            }
            match state.phase.clone() {
                Phase::Launching { launch, pid, .. } => {
                    stop(state, launch, pid, AfterStop::Restart, fx)
                }
                Phase::Running { launch, pid } => {
                    stop(state, launch, Some(pid), AfterStop::Restart, fx)
                }
                // A stop in progress ends as planned; a restart after it
                // uses the new settings.
                Phase::Stopping { .. } => {}
                Phase::WaitingToRestart { .. } | Phase::Failed => {
                    state.policy.reset();
                    if switching {
                        switch_mode(state, now, fx);
                    } else {
                        begin_launch(state, true, fx);
                    }
                }
                Phase::Stopped | Phase::Watching => {
                    if let Some(server) = state.switch_to.take() {
                        state.mode = server.mode;
                        state.url = server.attach_url;
                    }
                }
            }
        }
        ServerMode::Attach => {
            let active = state.phase == Phase::Watching;
            unwatch(state, fx);
            state.sessions.server_gone(now);
            state.notify.resync(&state.sessions, now);
            state.phase = Phase::Stopped;
            state.mode = server.mode;
            state.url = server.attach_url;
            if active {
                state.last_error = None;
                match state.mode {
                    ServerMode::Managed => managed(state, Event::StartRequested, now, fx),
                    ServerMode::Attach => attach(state, Event::StartRequested, now, fx),
                }
            }
        }
    }
}

/// The managed server is gone and a switch to attach mode was asked for.
fn switch_mode(state: &mut State, now: Instant, fx: &mut Vec<Effect>) {
    let Some(server) = state.switch_to.take() else {
        return;
    };
    state.mode = server.mode;
    state.url = server.attach_url;
    state.phase = Phase::Stopped;
    state.last_error = None;
    attach(state, Event::StartRequested, now, fx);
}

/// The popover's lifecycle; a spawn comes with its start limit.
fn popover(state: &mut State, event: PopoverEvent) -> Vec<Effect> {
    let mut fx = Vec::new();
    if let PopoverEvent::Viewing(session) = event {
        state.notify.set_viewing(&state.sessions, session);
        return fx;
    }
    for effect in state.popover.on(event) {
        if let PopoverEffect::Spawn(generation) = effect {
            fx.push(Effect::Schedule {
                timer: Timer::PopoverStart(generation),
                after: popover_lifecycle::POPOVER_START_LIMIT,
            });
        }
        fx.push(Effect::Popover(effect));
    }
    fx
}

/// An open of the popover that nobody waits on (tray, menu, notification).
fn open_popover(session: Option<String>) -> Event {
    Event::Popover(PopoverEvent::Open(OpenRequest {
        view: Some(PopoverView::Chat),
        session,
        ..OpenRequest::default()
    }))
}

/// An open of one of the popover's own pages (settings, setup, logs).
fn open_view(view: PopoverView) -> Event {
    Event::Popover(PopoverEvent::Open(OpenRequest {
        view: Some(view),
        ..OpenRequest::default()
    }))
}

/// Turns the notification policy's decisions into effects.
fn decided(decisions: Vec<Decision>, fx: &mut Vec<Effect>) {
    for decision in decisions {
        fx.push(match decision {
            Decision::Show(n) => Effect::Notify(n),
            Decision::Close(key) => Effect::CloseNotification(key),
            Decision::SummaryDueIn(after) => Effect::Schedule {
                timer: Timer::NotifySummary,
                after,
            },
            Decision::UnreachableCheckIn(after) => Effect::Schedule {
                timer: Timer::UnreachableCheck,
                after,
            },
        });
    }
}

/// A notification button is a request the reducer knows or a server reply.
fn notification_event(state: &State, action: NotifyAction) -> Result<Event, Vec<Effect>> {
    // A button answers only the request it was shown for, and only while it
    // waits: a click that arrives late (answered elsewhere, the notification
    // since replaced) does nothing.
    if let Some(request) = action.request() {
        let pending = match action {
            NotifyAction::Answer { .. } => {
                notify_policy::pending_question(&state.sessions, request)
            }
            _ => notify_policy::pending_permission(&state.sessions, request),
        };
        if !pending || !state.notify.shows_request(request) {
            let why = if pending {
                "its notification no longer shows it"
            } else {
                "it is no longer waiting"
            };
            return Err(vec![Effect::IgnoredNotificationAction(format!(
                "{} for request {request} ignored: {why}",
                action.label()
            ))]);
        }
    }
    let reply = |request, directory, reply| {
        Err(vec![Effect::ReplyPermission {
            request,
            directory,
            reply,
        }])
    };
    match action {
        NotifyAction::AllowOnce { request, directory } => {
            reply(request, directory, PermissionReply::Once)
        }
        NotifyAction::AlwaysAllow { request, directory } => {
            reply(request, directory, PermissionReply::Always)
        }
        NotifyAction::Reject { request, directory } => {
            reply(request, directory, PermissionReply::Reject)
        }
        NotifyAction::Answer {
            request,
            directory,
            label,
        } => Err(vec![Effect::ReplyQuestion {
            request,
            directory,
            answers: vec![vec![label]],
        }]),
        NotifyAction::RestartServer => Ok(Event::RestartRequested),
        NotifyAction::ViewLog => Ok(open_view(PopoverView::Logs)),
        NotifyAction::OpenSession(session) => Ok(open_popover(Some(session))),
    }
}

/// A menu choice is either a request the reducer already knows, or a desktop
/// action with no state change.
fn menu_event(state: &State, action: tray_view::MenuAction) -> Result<Event, Vec<Effect>> {
    use tray_view::MenuAction;
    match action {
        MenuAction::StartServer => Ok(Event::StartRequested),
        MenuAction::StopServer => Ok(Event::StopRequested),
        MenuAction::RestartServer => Ok(Event::RestartRequested),
        MenuAction::Quit => Ok(Event::QuitRequested),
        MenuAction::CopyServerUrl => Err(state
            .url
            .clone()
            .map(Effect::CopyToClipboard)
            .into_iter()
            .collect()),
        MenuAction::ViewLogs => Ok(open_view(PopoverView::Logs)),
        MenuAction::OpenLogFolder => Err(vec![Effect::OpenLogFolder]),
        MenuAction::OpenSettings => Ok(open_view(PopoverView::Settings)),
        MenuAction::OpenSetup => Ok(open_view(PopoverView::Setup)),
        MenuAction::ToggleAutostart => Err(vec![Effect::SetAutostart(
            !state.autostart.unwrap_or(false),
        )]),
        MenuAction::CopyDiagnostics => Err(vec![Effect::CopyDiagnostics]),
        MenuAction::OpenQuickChat => Ok(open_popover(None)),
        MenuAction::OpenSession(session) => Ok(open_popover(Some(session))),
    }
}

fn is_trouble(state: ServerState) -> bool {
    matches!(
        state,
        ServerState::Failed
            | ServerState::AuthRequired
            | ServerState::Unreachable
            | ServerState::Restarting
    )
}

fn managed(state: &mut State, event: Event, now: Instant, fx: &mut Vec<Effect>) {
    match event {
        Event::StartRequested => match state.phase {
            Phase::Stopped | Phase::Failed => {
                state.policy.reset();
                begin_launch(state, false, fx);
            }
            Phase::WaitingToRestart { .. } => begin_launch(state, true, fx),
            Phase::Stopping { ref mut then, .. } if *then == AfterStop::StayStopped => {
                *then = AfterStop::Restart
            }
            _ => {}
        },
        Event::StopRequested => {
            if !stop_process(state, AfterStop::StayStopped, fx)
                && matches!(state.phase, Phase::WaitingToRestart { .. } | Phase::Failed)
            {
                state.phase = Phase::Stopped;
            }
        }
        Event::RestartRequested => {
            if !stop_process(state, AfterStop::Restart, fx)
                && matches!(
                    state.phase,
                    Phase::Stopped | Phase::Failed | Phase::WaitingToRestart { .. }
                )
            {
                state.policy.reset();
                begin_launch(state, true, fx);
            }
        }
        Event::QuitRequested => {
            state.quitting = true;
            match state.phase.clone() {
                Phase::Launching { launch, pid, .. } => {
                    stop(state, launch, pid, AfterStop::Quit, fx)
                }
                Phase::Running { launch, pid } => {
                    stop(state, launch, Some(pid), AfterStop::Quit, fx)
                }
                Phase::Stopping { .. } => set_then(state, AfterStop::Quit),
                _ => {
                    state.phase = Phase::Stopped;
                    fx.push(Effect::Exit);
                }
            }
        }
        Event::Spawned { launch, pid } => match &mut state.phase {
            Phase::Launching {
                launch: l, pid: p, ..
            } if *l == launch => *p = Some(pid),
            // Asked to stop before the process even existed: stop it now.
            Phase::Stopping {
                launch: l,
                pid: p @ None,
                ..
            } if *l == launch => {
                *p = Some(pid);
                fx.push(Effect::Signal {
                    launch,
                    pid,
                    signal: StopSignal::Terminate,
                });
                fx.push(Effect::Schedule {
                    timer: Timer::KillDue(launch),
                    after: STOP_GRACE,
                });
            }
            _ => {}
        },
        Event::SpawnFailed { launch, reason } => match &state.phase {
            Phase::Launching { launch: l, .. } if *l == launch => {
                state.last_error = Some(reason);
                state.phase = Phase::Failed;
            }
            Phase::Stopping { launch: l, .. } if *l == launch => {
                state.last_error = Some(reason);
                after_stop(state, now, fx);
            }
            _ => {}
        },
        Event::Ready {
            launch,
            url,
            version,
        } => {
            if let Phase::Launching {
                launch: l,
                pid: Some(pid),
                ..
            } = state.phase
                && l == launch
            {
                state.phase = Phase::Running { launch, pid };
                state.url = Some(url.clone());
                state.version = Some(version);
                fx.push(Effect::Schedule {
                    timer: Timer::HealthyLongEnough(launch),
                    after: HEALTHY_RESET,
                });
                watch(state, Some(url), fx);
            }
        }
        Event::Exited { launch, exit } => match state.phase.clone() {
            Phase::Stopping { launch: l, .. } if l == launch => after_stop(state, now, fx),
            Phase::Launching { launch: l, .. } | Phase::Running { launch: l, .. }
                if l == launch =>
            {
                server_gone(state, now, fx);
                match exit.permanent {
                    Some(reason) => {
                        state.last_error = Some(reason);
                        state.phase = Phase::Failed;
                    }
                    None => {
                        state.last_error = Some(format!("the server {}", exit.description));
                        retry_or_give_up(state, launch, now, fx);
                    }
                }
            }
            _ => {}
        },
        Event::Timer(timer) => match (timer, state.phase.clone()) {
            (Timer::StartTimeout(t), Phase::Launching { launch, pid, .. }) if t == launch => {
                state.last_error = Some(format!(
                    "the server did not become healthy within {} s",
                    state.start_timeout.as_secs_f64()
                ));
                stop(state, launch, pid, AfterStop::CountAsFailure, fx);
            }
            (Timer::RestartDue(t), Phase::WaitingToRestart { after }) if t == after => {
                state.restarts += 1;
                begin_launch(state, true, fx);
            }
            (Timer::HealthyLongEnough(t), Phase::Running { launch, .. }) if t == launch => {
                state.policy.healthy_long_enough();
            }
            (
                Timer::KillDue(t),
                Phase::Stopping {
                    launch,
                    pid: Some(pid),
                    ..
                },
            ) if t == launch => {
                fx.push(Effect::Signal {
                    launch,
                    pid,
                    signal: StopSignal::Kill,
                });
            }
            _ => {}
        },
        Event::Watch { watch, event } => watched(state, watch, event, now, fx),
        // Translated by `reduce` before dispatch.
        Event::Menu(_)
        | Event::NotificationAction(_)
        | Event::NotifierReady { .. }
        | Event::Popover(_)
        | Event::Reconfigured(_)
        | Event::ConfigRejected(_)
        | Event::ResourceUse(_)
        | Event::AutostartChanged(_) => {}
    }
}

/// Stops the server process, if there is one (or changes what happens once
/// the stop in progress is done); false when there is no process.
fn stop_process(state: &mut State, then: AfterStop, fx: &mut Vec<Effect>) -> bool {
    match state.phase.clone() {
        Phase::Launching { launch, pid, .. } => stop(state, launch, pid, then, fx),
        Phase::Running { launch, pid } => stop(state, launch, Some(pid), then, fx),
        Phase::Stopping { .. } => set_then(state, then),
        _ => return false,
    }
    true
}

fn attach(state: &mut State, event: Event, now: Instant, fx: &mut Vec<Effect>) {
    match event {
        Event::StartRequested | Event::RestartRequested => {
            let reconnect = matches!(event, Event::RestartRequested)
                || state.phase != Phase::Watching
                || state.link == Link::AuthRejected;
            if reconnect {
                state.phase = Phase::Watching;
                watch(state, None, fx);
            }
        }
        Event::StopRequested if state.phase == Phase::Watching => {
            unwatch(state, fx);
            state.sessions.server_gone(now);
            state.phase = Phase::Stopped;
        }
        Event::QuitRequested => {
            state.quitting = true;
            unwatch(state, fx);
            state.phase = Phase::Stopped;
            fx.push(Effect::Exit);
        }
        Event::Watch { watch, event } => watched(state, watch, event, now, fx),
        // Process events and timers belong to managed mode.
        _ => {}
    }
}

fn watched(
    state: &mut State,
    watch: WatchId,
    event: WatchEvent,
    now: Instant,
    fx: &mut Vec<Effect>,
) {
    if state.watch != Some(watch) {
        return; // a late report from a watcher we already dropped
    }
    match event {
        WatchEvent::Connected { version, unsecured } => {
            state.link = Link::Connected;
            if version.is_some() {
                state.version = version;
            }
            state.unsecured = unsecured;
            state.notify.on_connected(now);
        }
        WatchEvent::Lost { reason } => {
            state.link = Link::Lost;
            state.last_error = Some(reason);
        }
        WatchEvent::AuthRejected => {
            state.link = Link::AuthRejected;
            state.last_error = Some(
                "the server rejected Nexus's credentials (HTTP 401): check server.username and the password (`opencode-nexus password set` or OPENCODE_SERVER_PASSWORD), then `opencode-nexus server start`".into(),
            );
        }
        WatchEvent::Snapshot(snapshot) => {
            state.sessions.apply_snapshot(&snapshot, now);
            state.notify.resync(&state.sessions, now);
        }
        WatchEvent::Server(event) => {
            state.sessions.apply(&event, now);
            let decisions = state.notify.on_server_event(&event, &state.sessions, now);
            decided(decisions, fx);
        }
    }
}

fn begin_launch(state: &mut State, restarting: bool, fx: &mut Vec<Effect>) {
    let launch = state.next_launch;
    state.next_launch += 1;
    state.phase = Phase::Launching {
        launch,
        pid: None,
        restarting,
    };
    fx.push(Effect::Spawn { launch });
    fx.push(Effect::Schedule {
        timer: Timer::StartTimeout(launch),
        after: state.start_timeout,
    });
}

fn stop(
    state: &mut State,
    launch: LaunchId,
    pid: Option<u32>,
    then: AfterStop,
    fx: &mut Vec<Effect>,
) {
    unwatch(state, fx);
    state.phase = Phase::Stopping { launch, pid, then };
    if let Some(pid) = pid {
        fx.push(Effect::Signal {
            launch,
            pid,
            signal: StopSignal::Terminate,
        });
        fx.push(Effect::Schedule {
            timer: Timer::KillDue(launch),
            after: STOP_GRACE,
        });
    }
}

fn set_then(state: &mut State, new_then: AfterStop) {
    if let Phase::Stopping { then, .. } = &mut state.phase {
        *then = new_then;
    }
}

/// The stopping process is gone: do what was planned.
fn after_stop(state: &mut State, now: Instant, fx: &mut Vec<Effect>) {
    let Phase::Stopping { launch, then, .. } = state.phase.clone() else {
        return;
    };
    server_gone(state, now, fx);
    match then {
        AfterStop::StayStopped => state.phase = Phase::Stopped,
        AfterStop::Restart if state.switch_to.is_some() => switch_mode(state, now, fx),
        AfterStop::Restart => {
            state.restarts += 1;
            begin_launch(state, true, fx);
        }
        AfterStop::Quit => {
            state.phase = Phase::Stopped;
            fx.push(Effect::Exit);
        }
        AfterStop::CountAsFailure => retry_or_give_up(state, launch, now, fx),
    }
}

fn retry_or_give_up(state: &mut State, failed: LaunchId, now: Instant, fx: &mut Vec<Effect>) {
    match state.policy.record_failure(now) {
        RestartDecision::RetryAfter(after) => {
            state.phase = Phase::WaitingToRestart { after: failed };
            fx.push(Effect::Schedule {
                timer: Timer::RestartDue(failed),
                after,
            });
        }
        RestartDecision::GiveUp { failures } => {
            let last = state.last_error.take().unwrap_or_default();
            state.last_error = Some(format!(
                "gave up after {failures} failed starts within 5 minutes (last: {last}); fix the cause, then `opencode-nexus server start`"
            ));
            state.phase = Phase::Failed;
        }
    }
}

/// The process is gone: forget what it served.
fn server_gone(state: &mut State, now: Instant, fx: &mut Vec<Effect>) {
    unwatch(state, fx);
    state.url = None;
    state.sessions.server_gone(now);
    state.notify.resync(&state.sessions, now);
}

fn watch(state: &mut State, url: Option<String>, fx: &mut Vec<Effect>) {
    if state.watch.is_some() {
        fx.push(Effect::Unwatch);
    }
    let watch = state.next_watch;
    state.next_watch += 1;
    state.watch = Some(watch);
    state.link = Link::Connecting;
    fx.push(Effect::Watch { watch, url });
}

fn unwatch(state: &mut State, fx: &mut Vec<Effect>) {
    if state.watch.take().is_some() {
        fx.push(Effect::Unwatch);
    }
    state.link = Link::Down;
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod virtual_time;
