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
pub mod server_exit;
pub mod sessions;
pub mod status;
pub mod tray_view;
pub mod visible_text;

mod effect;
mod event;
mod state;

pub use effect::{Effect, STOP_GRACE};
pub use event::{
    Event, ExitReport, LaunchId, Reconfiguration, ServerSettings, Timer, WatchEvent, WatchId,
};
pub use state::{AfterStop, Link, Phase, ServerState, State, Transition};

#[cfg(test)]
use crate::config::NotifyConfig;
use crate::config::ServerMode;
use model::{PermissionReply, StopSignal};
use notify_policy::{Decision, NotifyAction};
use popover_lifecycle::{OpenRequest, PopoverEffect, PopoverEvent, PopoverView};
use restart_policy::{HEALTHY_RESET, RestartDecision};
#[cfg(test)]
use std::time::Duration;
use std::time::Instant;

/// How many state transitions are remembered (for status and diagnostics).
const HISTORY_LEN: usize = 50;

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
        Event::Booted {
            configured,
            autostart,
        } => {
            state.configured = configured;
            state.autostart = Some(autostart);
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

/// The popover's lifecycle; a spawn comes with its start limit, and the
/// notification policy hears when the session on screen changes.
fn popover(state: &mut State, event: PopoverEvent) -> Vec<Effect> {
    let mut fx = Vec::new();
    let viewing_before = state.popover.viewing().map(str::to_owned);
    let effects = state.popover.on(event);
    let viewing = state.popover.viewing();
    if viewing != viewing_before.as_deref() {
        let viewing = viewing.map(str::to_owned);
        state.notify.set_viewing(&state.sessions, viewing);
    }
    for effect in effects {
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

/// An open of one of the popover's own pages (settings, setup, logs, pair).
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
        MenuAction::PairPhone => Ok(open_view(PopoverView::Pair)),
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

/// Managed mode: the user's requests, news of the process, and timers, each
/// handled at its own seam.
fn managed(state: &mut State, event: Event, now: Instant, fx: &mut Vec<Effect>) {
    match event {
        Event::StartRequested
        | Event::StopRequested
        | Event::RestartRequested
        | Event::QuitRequested => managed_request(state, event, fx),
        Event::Spawned { .. }
        | Event::SpawnFailed { .. }
        | Event::Ready { .. }
        | Event::Exited { .. } => process_news(state, event, now, fx),
        Event::Timer(timer) => managed_timer(state, timer, fx),
        Event::Watch { watch, event } => watched(state, watch, event, now, fx),
        // Translated by `reduce` before dispatch.
        Event::Menu(_)
        | Event::NotificationAction(_)
        | Event::NotifierReady { .. }
        | Event::Popover(_)
        | Event::Reconfigured(_)
        | Event::ConfigRejected(_)
        | Event::ResourceUse(_)
        | Event::AutostartChanged(_)
        | Event::Booted { .. } => {}
    }
}

/// Start, stop, restart or quit, asked for by the user.
// `stop_process` acts: it must not become a match guard.
#[allow(clippy::collapsible_match)]
fn managed_request(state: &mut State, event: Event, fx: &mut Vec<Effect>) {
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
        _ => {}
    }
}

/// The server process appeared, failed to start, became ready, or ended.
fn process_news(state: &mut State, event: Event, now: Instant, fx: &mut Vec<Effect>) {
    match event {
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
        _ => {}
    }
}

/// A managed-mode timer fired; one from an earlier launch does nothing.
fn managed_timer(state: &mut State, timer: Timer, fx: &mut Vec<Effect>) {
    match (timer, state.phase.clone()) {
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
