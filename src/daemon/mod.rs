//! The resident process: owns the core `State`, feeds it events, carries out
//! its effects, and serves the control socket.

mod ask;
mod control;
mod popover_link;

use crate::config::{Config, ServerMode};
use crate::core::popover_lifecycle::{PopoverEffect, PopoverEvent};
use crate::core::status::{Clock, DaemonInfo, StatusReport, Summary};
use crate::core::tray_view::TrayView;
use crate::core::{Effect, Event, State, reduce};
use crate::ipc::instance::{self, InstanceError};
use crate::ipc::protocol::{PopoverSetup, ServerAccess, ToPopover};
use crate::notify::NotifierCommand;
use crate::paths::Paths;
use crate::server::client::{Credentials, Secret, ServerClient};
use crate::server::events::ServerEvent;
use crate::server::watch::{WatchOptions, Watcher};
use crate::supervisor::server_log::ServerLog;
use crate::supervisor::{Supervisor, SupervisorSetup};
use crate::tray::{Tray, TrayStatus};
use popover_link::{PopoverHub, PopoverNews, PopoverProcesses};
use std::ffi::OsString;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::task::JoinHandle;

/// Server log size before rotation, and how many rotated files are kept.
const SERVER_LOG_BYTES: u64 = 2 * 1024 * 1024;
const SERVER_LOG_ROTATIONS: usize = 3;
/// How often zombies of adopted processes are collected.
const ZOMBIE_SWEEP: std::time::Duration = std::time::Duration::from_secs(60);

/// What the daemon is started with.
#[derive(Debug, Clone)]
pub struct DaemonSetup {
    pub paths: Paths,
    pub config: Config,
    /// The PATH to search for `opencode`.
    pub path_var: Option<OsString>,
    /// Attach mode: the password, from OPENCODE_SERVER_PASSWORD or the password file.
    pub attach_password: Option<Secret>,
    /// Whether to show a tray icon (`--no-tray` turns it off).
    pub tray: bool,
}

/// What control connections share with the daemon loop.
#[derive(Clone)]
pub(crate) struct Shared {
    pub events: mpsc::Sender<Event>,
    pub status_queries: mpsc::Sender<oneshot::Sender<StatusReport>>,
    pub diagnostics_queries: mpsc::Sender<oneshot::Sender<String>>,
    pub summary: watch::Receiver<Summary>,
    /// A client for the server being watched, while there is one.
    pub server: watch::Receiver<Option<ServerClient>>,
    pub server_events: broadcast::Sender<Arc<ServerEvent>>,
    pub log: Arc<Mutex<ServerLog>>,
    pub exited: watch::Receiver<bool>,
    /// Where `ask` creates sessions when no directory is given.
    pub default_directory: String,
    pub start_timeout: std::time::Duration,
    pub popover: PopoverHub,
}

fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// Runs the daemon until it is told to quit (or gets SIGTERM/SIGINT).
pub async fn run(setup: DaemonSetup) -> Result<(), InstanceError> {
    let lock = instance::acquire(&setup.paths)?;
    // Orphans of the server's tool processes come to us, so none escapes a stop.
    crate::platform::become_child_subreaper();
    crate::supervisor::stop_orphan_from_previous_run(&setup.paths);
    let listener = instance::bind_socket(&setup.paths, &lock)?;
    tracing::info!(
        pid = std::process::id(),
        "OpenCode Nexus {} started",
        env!("CARGO_PKG_VERSION")
    );

    let server = &setup.config.server;
    let (events_tx, mut events_rx) = mpsc::channel::<Event>(1024);
    let (status_tx, mut status_rx) = mpsc::channel(16);
    let (diagnostics_tx, mut diagnostics_rx) = mpsc::channel::<oneshot::Sender<String>>(4);
    let (server_events, _) = broadcast::channel(4096);
    let log = Arc::new(Mutex::new(ServerLog::new(
        setup.paths.server_log(),
        SERVER_LOG_BYTES,
        SERVER_LOG_ROTATIONS,
    )));
    let attach_url = (server.mode == ServerMode::Attach)
        .then(|| server.url.clone())
        .flatten();
    let mut state = State::new(server.mode, attach_url.clone(), server.start_timeout, now())
        .with_notifications(setup.config.notify.clone(), now());
    let (summary_tx, summary_rx) = watch::channel(Summary::derive(&state));
    let (client_tx, client_rx) = watch::channel(None);
    let (exited_tx, exited_rx) = watch::channel(false);
    let (access_tx, access_rx) = watch::channel(None);

    let mut directories: Vec<String> = setup
        .config
        .projects
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    directories.push(server.directory.display().to_string());
    let popover = PopoverHub::new(
        PopoverSetup {
            directories: directories.clone(),
            default_directory: server.directory.display().to_string(),
            keep_alive_secs: setup.config.popover.keep_alive.as_secs(),
            hide_on_blur: setup.config.popover.hide_on_blur,
        },
        access_rx,
    );
    let supervisor = Supervisor::new(
        SupervisorSetup {
            server: server.clone(),
            paths: setup.paths.clone(),
            path_var: setup.path_var.clone(),
        },
        log.clone(),
        events_tx.clone(),
    );
    let mut effects = Executor {
        popover_processes: PopoverProcesses::new(
            supervisor.own_children(),
            events_tx.clone(),
            setup.paths.popover_log(),
        ),
        popover: popover.clone(),
        access: access_tx,
        supervisor,
        watcher: None,
        events: events_tx.clone(),
        server_events: server_events.clone(),
        client: client_tx,
        attach: attach_url.map(|url| {
            (
                url,
                Credentials {
                    username: server.username.clone(),
                    password: setup.attach_password.clone(),
                },
            )
        }),
        options: WatchOptions {
            event_timeout: server.event_timeout,
            directories,
        },
        server_log: setup.paths.server_log(),
        notifier: crate::notify::start(events_tx.clone()),
    };
    let shared = Shared {
        events: events_tx.clone(),
        status_queries: status_tx,
        diagnostics_queries: diagnostics_tx,
        summary: summary_rx,
        server: client_rx,
        server_events,
        log,
        exited: exited_rx,
        default_directory: server.directory.display().to_string(),
        start_timeout: server.start_timeout,
        popover,
    };
    let (tray, tray_status) = start_tray(setup.tray, setup.config.tray_icons, &state, &events_tx);
    let mut shown_view = tray.as_ref().map(|_| TrayView::derive(&state));
    let daemon_info = DaemonInfo {
        pid: std::process::id(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        tray: tray_status.describe(),
    };

    let mut quit_signals = QuitSignals::new();
    let own_children = effects.supervisor.own_children();
    // Not a SIGCHLD listener: registering one makes tokio lose its own
    // children's exit status (seen as ECHILD); a slow sweep is enough for
    // the rare tool process that ends while its server keeps running.
    let mut reap_sweep = tokio::time::interval(ZOMBIE_SWEEP);
    reap_sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut exiting = effects.apply(&mut state, Event::StartRequested);
    while !exiting {
        tokio::select! {
            Some(event) = events_rx.recv() => {
                exiting = effects.apply(&mut state, event);
                // Drain what is already queued before publishing once.
                while !exiting && let Ok(event) = events_rx.try_recv() {
                    exiting = effects.apply(&mut state, event);
                }
                summary_tx.send_if_modified(|old| {
                    let new = Summary::derive(&state);
                    let changed = *old != new;
                    *old = new;
                    changed
                });
                if let (Some(tray), Some(shown)) = (&tray, &mut shown_view) {
                    let view = TrayView::derive(&state);
                    if view != *shown {
                        *shown = view.clone();
                        tray.show(view);
                    }
                }
            }
            Some(reply) = status_rx.recv() => {
                let _ = reply.send(StatusReport::derive(&state, daemon_info.clone(), Clock::system()));
            }
            Some(reply) = diagnostics_rx.recv() => {
                let status = StatusReport::derive(&state, daemon_info.clone(), Clock::system());
                let log = shared.log.lock().map(|l| l.recent()).unwrap_or_default();
                let secrets: Vec<String> = setup
                    .attach_password
                    .iter()
                    .chain(effects.supervisor.credentials(None).and_then(|c| c.password).iter())
                    .map(|s| s.expose().to_string())
                    .collect();
                let _ = reply.send(crate::diagnostics::report(&crate::diagnostics::DiagnosticsInput {
                    status: Some(&status),
                    config: Some(&setup.config),
                    config_problem: None,
                    server_log: &log,
                    secrets: &secrets,
                }));
            }
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => { tokio::spawn(control::serve(stream, shared.clone())); }
                Err(e) => tracing::warn!("control socket: {e}"),
            },
            _ = reap_sweep.tick() => {
                // Tool processes that outlived their parent end up as our zombies.
                crate::supervisor::descendants::reap_adopted(&own_children);
            }
            signal = quit_signals.next() => {
                tracing::info!("{signal}: quitting");
                exiting = effects.apply(&mut state, Event::QuitRequested);
            }
        }
    }
    summary_tx.send_replace(Summary::derive(&state));
    shared.popover.send(ToPopover::Quit {});
    // Remove the icon before saying we are gone.
    drop(tray);
    let _ = exited_tx.send(true);
    // Give the `quit` caller a moment to read its reply.
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let _ = std::fs::remove_file(setup.paths.socket());
    tracing::info!("OpenCode Nexus stopped");
    drop(lock);
    Ok(())
}

/// Starts the tray when wanted and possible; says why not otherwise.
fn start_tray(
    wanted: bool,
    style: crate::config::IconStyle,
    state: &State,
    events: &mpsc::Sender<Event>,
) -> (Option<Tray>, TrayStatus) {
    if !wanted {
        return (None, TrayStatus::Disabled);
    }
    match Tray::start(TrayView::derive(state), style, events.clone()) {
        Ok(tray) => {
            tracing::info!("tray icon shown");
            (Some(tray), TrayStatus::Active)
        }
        Err(reason) => {
            tracing::warn!("running without a tray: {reason}");
            (None, TrayStatus::Unavailable(reason))
        }
    }
}

/// Carries out the core's effects.
struct Executor {
    supervisor: Supervisor,
    popover_processes: PopoverProcesses,
    popover: PopoverHub,
    /// How the popover reaches the server being watched.
    access: watch::Sender<Option<ServerAccess>>,
    watcher: Option<JoinHandle<()>>,
    events: mpsc::Sender<Event>,
    server_events: broadcast::Sender<Arc<ServerEvent>>,
    client: watch::Sender<Option<ServerClient>>,
    attach: Option<(String, Credentials)>,
    options: WatchOptions,
    server_log: std::path::PathBuf,
    notifier: mpsc::Sender<NotifierCommand>,
}

impl Executor {
    /// Carries out `effects`, feeding events that must come first (a spawn's
    /// outcome) straight back to the core. Returns true once the daemon may exit.
    fn apply(&mut self, state: &mut State, event: Event) -> bool {
        let mut pending = std::collections::VecDeque::from([event]);
        let mut exit = false;
        while let Some(event) = pending.pop_front() {
            let effects = reduce(state, event, now());
            exit |= self.run(effects, &mut pending);
        }
        exit
    }

    fn run(
        &mut self,
        effects: Vec<Effect>,
        follow_ups: &mut std::collections::VecDeque<Event>,
    ) -> bool {
        let mut exit = false;
        for effect in effects {
            match effect {
                Effect::Spawn { launch } => follow_ups.push_back(self.supervisor.spawn(launch)),
                Effect::Signal {
                    launch,
                    pid,
                    signal,
                } => self.supervisor.signal(launch, pid, signal),
                Effect::Schedule { timer, after } => {
                    let events = self.events.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(after).await;
                        let _ = events.send(Event::Timer(timer)).await;
                    });
                }
                Effect::Watch { watch, url } => {
                    self.stop_watcher();
                    let target = match url {
                        Some(url) => self.supervisor.credentials(None).map(|c| (url, c)),
                        None => self.attach.clone(),
                    };
                    let Some((url, credentials)) = target else {
                        tracing::error!("no server to watch");
                        continue;
                    };
                    let client = ServerClient::new(&url, &credentials);
                    self.client.send_replace(Some(client.clone()));
                    self.access.send_replace(Some(ServerAccess {
                        url: url.clone(),
                        username: credentials.username.clone(),
                        password: credentials
                            .password
                            .as_ref()
                            .map(|p| p.expose().to_string()),
                    }));
                    let watcher = Watcher {
                        id: watch,
                        client,
                        options: self.options.clone(),
                        events: self.events.clone(),
                        broadcast: self.server_events.clone(),
                    };
                    self.watcher = Some(tokio::spawn(watcher.run()));
                }
                Effect::Unwatch => self.stop_watcher(),
                Effect::CopyToClipboard(text) => {
                    if let Err(e) = crate::platform::desktop::copy_to_clipboard(&text) {
                        tracing::warn!("copy server URL: {e}");
                    }
                }
                Effect::Notify(notification) => {
                    if self
                        .notifier
                        .try_send(NotifierCommand::Show(notification))
                        .is_err()
                    {
                        tracing::warn!("notification dropped: the notifier is behind");
                    }
                }
                Effect::CloseNotification(key) => {
                    let _ = self.notifier.try_send(NotifierCommand::Close(key));
                }
                Effect::ReplyPermission {
                    request,
                    directory,
                    reply,
                } => {
                    let what = format!("permission {request} ({})", reply.as_str());
                    self.answer(what, move |client| async move {
                        client
                            .reply_permission(&request, directory.as_deref(), reply)
                            .await
                    });
                }
                Effect::ReplyQuestion {
                    request,
                    directory,
                    answers,
                } => {
                    self.answer(format!("question {request}"), move |client| async move {
                        client
                            .reply_question(&request, directory.as_deref(), &answers)
                            .await
                    });
                }
                Effect::OpenServerLog => {
                    if let Err(e) = crate::platform::desktop::open_path(&self.server_log) {
                        tracing::warn!("view logs: {e}");
                    }
                }
                Effect::Popover(effect) => match effect {
                    PopoverEffect::Spawn(generation) => {
                        if let Some(event) = self.popover_processes.spawn(generation) {
                            follow_ups.push_back(event);
                        }
                    }
                    PopoverEffect::Kill(generation) => self.popover_processes.kill(generation),
                    PopoverEffect::Show(request) => {
                        let shown = self.popover.send(ToPopover::Show {
                            token: request.token,
                            session: request.session.clone(),
                            anchor: request.anchor,
                        });
                        if !shown {
                            // Its link has just closed: a fresh popover gets this open.
                            follow_ups.push_back(Event::Popover(PopoverEvent::Detached));
                            follow_ups.push_back(Event::Popover(PopoverEvent::Open(request)));
                        }
                    }
                    PopoverEffect::OpenFailed { token, reason } => {
                        tracing::warn!("quick chat: {reason}");
                        let _ = self
                            .popover
                            .news
                            .send(PopoverNews::Failed { token, reason });
                    }
                },
                Effect::Exit => exit = true,
            }
        }
        exit
    }

    /// Sends an answer to the server in the background, logging the outcome.
    fn answer<F, Fut>(&self, what: String, send: F)
    where
        F: FnOnce(ServerClient) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Result<(), crate::server::client::ApiError>> + Send,
    {
        let Some(client) = self.client.borrow().clone() else {
            tracing::warn!("cannot answer {what}: no server");
            return;
        };
        tokio::spawn(async move {
            match send(client).await {
                Ok(()) => tracing::info!("answered {what}"),
                Err(e) => tracing::warn!("cannot answer {what}: {e}"),
            }
        });
    }

    fn stop_watcher(&mut self) {
        if let Some(task) = self.watcher.take() {
            task.abort();
        }
        self.client.send_replace(None);
        self.access.send_replace(None);
    }
}

/// SIGTERM, SIGINT and SIGHUP all mean "quit cleanly".
struct QuitSignals {
    term: Option<tokio::signal::unix::Signal>,
    int: Option<tokio::signal::unix::Signal>,
    hup: Option<tokio::signal::unix::Signal>,
}

impl QuitSignals {
    fn new() -> Self {
        use tokio::signal::unix::{SignalKind, signal};
        QuitSignals {
            term: signal(SignalKind::terminate()).ok(),
            int: signal(SignalKind::interrupt()).ok(),
            hup: signal(SignalKind::hangup()).ok(),
        }
    }

    async fn next(&mut self) -> &'static str {
        async fn recv(s: &mut Option<tokio::signal::unix::Signal>) {
            match s {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending().await,
            }
        }
        tokio::select! {
            _ = recv(&mut self.term) => "SIGTERM",
            _ = recv(&mut self.int) => "SIGINT",
            _ = recv(&mut self.hup) => "SIGHUP",
        }
    }
}
