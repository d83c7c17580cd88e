//! The resident process: owns the core `State`, feeds it events, carries out
//! its effects, and serves the control socket.

mod ask;
mod attach_watch;
mod config_watch;
mod control;
mod gateway_keeper;
mod popover_link;
mod resource_watch;

use crate::config::change::ConfigChange;
use crate::config::{Config, ServerMode};
use crate::core::model::ServerEvent;
use crate::core::popover_lifecycle::{PopoverEffect, PopoverEvent};
use crate::core::status::{Clock, DaemonInfo, StatusReport, Summary};
use crate::core::tray_view::TrayView;
use crate::core::{Effect, Event, State, reduce};
use crate::core::{Reconfiguration, ServerSettings};
use crate::ipc::instance::{self, InstanceError};
use crate::ipc::protocol::PopoverStatus;
use crate::ipc::protocol::{PopoverSetup, ServerAccess, ToPopover};
use crate::notify::NotifierCommand;
use crate::paths::Paths;
use crate::server::client::{Secret, ServerClient};
use crate::server::watch::{WatchOptions, Watcher};
use crate::supervisor::resource_use::ResourceSampler;
use crate::supervisor::server_log::ServerLog;
use crate::supervisor::{Supervisor, SupervisorSetup};
use crate::tray::{Tray, TrayStatus};
use config_watch::ConfigNews;
use popover_link::{PopoverHub, PopoverNews, PopoverProcesses};
use std::ffi::OsString;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::task::JoinHandle;

/// Server log size before rotation, and how many rotated files are kept.
const SERVER_LOG_BYTES: u64 = 2 * 1024 * 1024;
const SERVER_LOG_ROTATIONS: usize = 3;

/// What the daemon is started with.
#[derive(Debug, Clone)]
pub struct DaemonSetup {
    pub paths: Paths,
    pub config: Config,
    /// The PATH to search for `opencode`.
    pub path_var: Option<OsString>,
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
    /// The settings in use (the last good `config.toml`).
    pub config: watch::Receiver<Arc<Config>>,
    pub popover: PopoverHub,
    /// Measures the managed server's process tree.
    pub sampler: Arc<Mutex<ResourceSampler>>,
    /// Notified when the tray's menu is about to open (fresh figures for it).
    pub menu_opening: Arc<tokio::sync::Notify>,
}

fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// The wall clock and the monotonic one, read together for a status view.
fn wall_clock() -> Clock {
    Clock {
        now: Instant::now(),
        epoch_ms: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0),
    }
}

/// Runs the daemon until it is told to quit (or gets SIGTERM/SIGINT).
pub async fn run(setup: DaemonSetup) -> Result<(), InstanceError> {
    let lock = instance::acquire(&setup.paths)?;
    // Not a subreaper: the server's orphans go to its keeper
    // (supervisor::keeper), the daemon's own helpers' orphans to init.
    crate::supervisor::stop_orphan_from_previous_run(&setup.paths);
    let listener = instance::bind_socket(&setup.paths, &lock)?;
    tracing::info!(
        pid = std::process::id(),
        "OpenCode Nexus {} started",
        env!("CARGO_PKG_VERSION")
    );

    let daemon = Daemon::set_up(&setup).await;
    daemon.serve(listener).await;

    let _ = std::fs::remove_file(setup.paths.socket());
    tracing::info!("OpenCode Nexus stopped");
    drop(lock);
    Ok(())
}

/// The running daemon: the core's state, what carries out its effects, and
/// the channels the loop listens on and publishes to.
struct Daemon {
    state: State,
    effects: Executor,
    shared: Shared,
    events_tx: mpsc::Sender<Event>,
    events_rx: mpsc::Receiver<Event>,
    status_rx: mpsc::Receiver<oneshot::Sender<StatusReport>>,
    diagnostics_rx: mpsc::Receiver<oneshot::Sender<String>>,
    config_news: mpsc::Receiver<ConfigNews>,
    config_tx: watch::Sender<Arc<Config>>,
    summary_tx: watch::Sender<Summary>,
    popover_status_tx: watch::Sender<PopoverStatus>,
    exited_tx: watch::Sender<bool>,
    tray: Option<Tray>,
    /// The view the tray shows (`None` without a tray).
    shown_view: Option<TrayView>,
    /// The settings in use (the last good `config.toml`).
    config: Config,
    daemon_info: DaemonInfo,
}

impl Daemon {
    /// Builds the state, the channels, the supervisor, the notifier and the
    /// tray, and starts the config and resource watchers.
    async fn set_up(setup: &DaemonSetup) -> Self {
        let server = &setup.config.server;
        let (events_tx, events_rx) = mpsc::channel::<Event>(1024);
        let (status_tx, status_rx) = mpsc::channel(16);
        let (diagnostics_tx, diagnostics_rx) = mpsc::channel::<oneshot::Sender<String>>(4);
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
        // What is found on disk at start is news for the core like any other.
        let booted = reduce(
            &mut state,
            Event::Booted {
                configured: setup.paths.config_file().exists(),
                autostart: crate::autostart::is_enabled(&setup.paths),
            },
            now(),
        );
        debug_assert!(booted.is_empty(), "facts found at start ask for nothing");
        let (config_tx, config_rx) = watch::channel(Arc::new(setup.config.clone()));
        let (config_news_tx, config_news) = mpsc::channel(4);
        tokio::spawn(config_watch::watch(
            setup.paths.clone(),
            config_news_tx.clone(),
        ));
        let (summary_tx, summary_rx) = watch::channel(Summary::derive(&state));
        let (client_tx, client_rx) = watch::channel(None);
        let (exited_tx, exited_rx) = watch::channel(false);
        let (access_tx, access_rx) = watch::channel(None);

        let directories = setup.config.directories();
        let (popover_setup_tx, popover_setup_rx) = watch::channel(popover_setup(&setup.config));
        let (popover_status_tx, popover_status_rx) = watch::channel(popover_status(&state));
        let popover = PopoverHub::new(popover_setup_rx, popover_status_rx, access_rx)
            .with_settings(setup.paths.clone(), config_news_tx);
        let supervisor = Supervisor::new(
            SupervisorSetup {
                server: server.clone(),
                paths: setup.paths.clone(),
                path_var: setup.path_var.clone(),
            },
            log.clone(),
            events_tx.clone(),
        );
        let effects = Executor {
            popover_processes: PopoverProcesses::new(events_tx.clone(), setup.paths.popover_log()),
            popover: popover.clone(),
            popover_setup: popover_setup_tx,
            access: access_tx,
            paths: setup.paths.clone(),
            diagnostics: diagnostics_tx.clone(),
            refresh_tray: false,
            supervisor,
            watcher: None,
            events: events_tx.clone(),
            server_events: server_events.clone(),
            client: client_tx,
            attach: attach_url.map(|url| (url, server.clone())),
            current_watch: Arc::default(),
            attach_password: Arc::default(),
            options: WatchOptions {
                event_timeout: server.event_timeout,
                directories,
            },
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
            config: config_rx,
            popover,
            sampler: Arc::default(),
            menu_opening: Arc::default(),
        };
        let (tray, tray_status) = start_tray(
            setup.tray,
            setup.config.tray_icons,
            &state,
            &events_tx,
            &shared.menu_opening,
        )
        .await;
        let shown_view = tray.as_ref().map(|_| TrayView::derive(&state));
        tokio::spawn(resource_watch::run(
            shared.clone(),
            tray.is_some(),
            events_tx.clone(),
        ));
        tokio::spawn(gateway_keeper::keep(shared.clone(), setup.paths.clone()));
        let daemon_info = DaemonInfo {
            pid: std::process::id(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            tray: tray_status.describe(),
        };
        Daemon {
            state,
            effects,
            shared,
            events_tx,
            events_rx,
            status_rx,
            diagnostics_rx,
            config_news,
            config_tx,
            summary_tx,
            popover_status_tx,
            exited_tx,
            tray,
            shown_view,
            config: setup.config.clone(),
            daemon_info,
        }
    }

    /// The loop: starts the server, then feeds the core until quit is complete.
    async fn serve(mut self, listener: crate::platform::ControlListener) {
        let mut quit_signals = crate::platform::QuitSignals::new();
        let mut exiting = self.effects.apply(&mut self.state, Event::StartRequested);
        while !exiting {
            tokio::select! {
                Some(event) = self.events_rx.recv() => exiting = self.on_event(event),
                Some(news) = self.config_news.recv() => self.on_config_news(news).await,
                Some(reply) = self.status_rx.recv() => {
                    let _ = reply.send(self.status());
                }
                Some(reply) = self.diagnostics_rx.recv() => {
                    let _ = reply.send(self.diagnostics());
                }
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => { tokio::spawn(control::serve(stream, self.shared.clone())); }
                    Err(e) => tracing::warn!("control socket: {e}"),
                },
                signal = quit_signals.next() => {
                    tracing::info!("{signal}: quitting");
                    exiting = self.effects.apply(&mut self.state, Event::QuitRequested);
                }
            }
        }
        self.summary_tx.send_replace(Summary::derive(&self.state));
        self.shared.popover.send(ToPopover::Quit {});
        // Remove the icon before saying we are gone.
        if let Some(tray) = self.tray.take() {
            tray.close().await;
        }
        let _ = self.exited_tx.send(true);
        // Give the `quit` caller a moment to read its reply.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    /// Applies `event` and what is already queued, then publishes the views
    /// once. Returns true once the daemon may exit.
    fn on_event(&mut self, event: Event) -> bool {
        let mut exiting = self.effects.apply(&mut self.state, event);
        // Drain what is already queued before publishing once.
        while !exiting && let Ok(event) = self.events_rx.try_recv() {
            exiting = self.effects.apply(&mut self.state, event);
        }
        let state = &self.state;
        self.summary_tx.send_if_modified(|old| {
            let new = Summary::derive(state);
            let changed = *old != new;
            *old = new;
            changed
        });
        if let (Some(tray), Some(shown)) = (&self.tray, &mut self.shown_view) {
            let view = TrayView::derive(state);
            // A checkbox toggles itself when clicked: resend even
            // when the state behind it did not change.
            if view != *shown || std::mem::take(&mut self.effects.refresh_tray) {
                *shown = view.clone();
                tray.show(view);
            }
        }
        self.popover_status_tx.send_if_modified(|old| {
            let new = popover_status(state);
            let changed = *old != new;
            *old = new;
            changed
        });
        exiting
    }

    async fn on_config_news(&mut self, news: ConfigNews) {
        match news {
            ConfigNews::Changed { loaded, exists } => {
                for warning in &loaded.warnings {
                    tracing::warn!("{warning}");
                }
                tracing::info!("config.toml changed: applying it");
                let change = ConfigChange::between(&self.config, &loaded.config);
                let reconfiguration = self.effects.reconfigure(change, &loaded.config, exists);
                if let Some(tray) = &self.tray
                    && change.tray_style
                {
                    tray.set_style(loaded.config.tray_icons);
                }
                self.config = loaded.config.clone();
                self.config_tx.send_replace(Arc::new(self.config.clone()));
                let _ = self
                    .events_tx
                    .send(Event::Reconfigured(reconfiguration))
                    .await;
            }
            ConfigNews::Rejected(problem) => {
                tracing::warn!(
                    "config.toml not applied, keeping the last good settings: {problem}"
                );
                let _ = self.events_tx.send(Event::ConfigRejected(problem)).await;
            }
        }
    }

    fn status(&self) -> StatusReport {
        StatusReport::derive(&self.state, self.daemon_info.clone(), wall_clock())
    }

    fn diagnostics(&self) -> String {
        let status = self.status();
        let log = self
            .shared
            .log
            .lock()
            .map(|l| l.recent())
            .unwrap_or_default();
        let secrets: Vec<String> = self
            .effects
            .attach_password
            .lock()
            .ok()
            .and_then(|p| p.clone())
            .into_iter()
            .chain(
                self.effects
                    .supervisor
                    .credentials(None)
                    .and_then(|c| c.password),
            )
            .map(|s| s.expose().to_string())
            .collect();
        crate::diagnostics::report(&crate::diagnostics::DiagnosticsInput {
            status: Some(&status),
            config: Some(&self.config),
            config_problem: self.state.config_problem.clone(),
            server_log: &log,
            secrets: &secrets,
        })
    }
}

/// Starts the tray when wanted and possible; says why not otherwise.
async fn start_tray(
    wanted: bool,
    style: crate::config::IconStyle,
    state: &State,
    events: &mpsc::Sender<Event>,
    menu_opening: &Arc<tokio::sync::Notify>,
) -> (Option<Tray>, TrayStatus) {
    if !wanted {
        return (None, TrayStatus::Disabled);
    }
    let view = TrayView::derive(state);
    match Tray::start(view, style, events.clone(), menu_opening.clone()).await {
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
    popover_setup: watch::Sender<PopoverSetup>,
    /// How the popover reaches the server being watched.
    access: watch::Sender<Option<ServerAccess>>,
    paths: Paths,
    /// Asks the daemon loop for the diagnostics report.
    diagnostics: mpsc::Sender<oneshot::Sender<String>>,
    /// Set when the tray must be sent its view again even if unchanged.
    refresh_tray: bool,
    watcher: Option<JoinHandle<()>>,
    events: mpsc::Sender<Event>,
    server_events: broadcast::Sender<Arc<ServerEvent>>,
    client: watch::Sender<Option<ServerClient>>,
    /// Attach mode: the URL and the settings that say how to log in.
    attach: Option<(String, crate::config::ServerConfig)>,
    /// The watch allowed to publish its client (attach mode publishes late).
    current_watch: attach_watch::CurrentWatch,
    /// Attach mode's password as last read (scrubbed from diagnostics).
    attach_password: Arc<Mutex<Option<Secret>>>,
    options: WatchOptions,
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
                    if let Ok(mut current) = self.current_watch.lock() {
                        *current = Some(watch);
                    }
                    let target = match url {
                        Some(url) => self.supervisor.credentials(None).map(|c| (url, c)),
                        None => {
                            // Attach: the password file is read off this loop.
                            let Some((url, server)) = self.attach.clone() else {
                                tracing::error!("no server to watch");
                                continue;
                            };
                            let task = attach_watch::AttachWatch {
                                watch,
                                url,
                                server,
                                options: self.options.clone(),
                                events: self.events.clone(),
                                broadcast: self.server_events.clone(),
                                client: self.client.clone(),
                                access: self.access.clone(),
                                current: self.current_watch.clone(),
                                last_password: self.attach_password.clone(),
                            };
                            self.watcher = Some(tokio::spawn(task.run()));
                            continue;
                        }
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
                Effect::IgnoredNotificationAction(why) => tracing::warn!("{why}"),
                Effect::OpenLogFolder => {
                    if let Err(e) = crate::platform::desktop::open_path(&self.paths.state_dir) {
                        tracing::warn!("open log folder: {e}");
                    }
                }
                Effect::CopyDiagnostics => {
                    let queries = self.diagnostics.clone();
                    tokio::spawn(async move {
                        let (tx, rx) = oneshot::channel();
                        let _ = queries.send(tx).await;
                        let Ok(report) = rx.await else { return };
                        let copied = tokio::task::spawn_blocking(move || {
                            crate::platform::desktop::copy_to_clipboard(&report)
                        })
                        .await;
                        match copied {
                            Ok(Ok(())) => tracing::info!("diagnostics copied to the clipboard"),
                            Ok(Err(e)) => tracing::warn!("copy diagnostics: {e}"),
                            Err(e) => tracing::warn!("copy diagnostics: {e}"),
                        }
                    });
                }
                Effect::SetAutostart(enabled) => {
                    let enabled = match crate::autostart::set(&self.paths, enabled) {
                        Ok(now) => now,
                        Err(e) => {
                            tracing::warn!("start at login: {e}");
                            crate::autostart::is_enabled(&self.paths)
                        }
                    };
                    self.refresh_tray = true;
                    follow_ups.push_back(Event::AutostartChanged(enabled));
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
                            request: request.clone(),
                        });
                        if !shown {
                            // Its link has just closed: a fresh popover gets this open.
                            follow_ups
                                .push_back(Event::Popover(PopoverEvent::Undelivered(request)));
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

    /// Takes on new settings for what the daemon itself does (how it starts
    /// and reaches the server, what it watches, the popover's setup) and
    /// tells the core what `change` asks of it.
    fn reconfigure(&mut self, change: ConfigChange, new: &Config, exists: bool) -> Reconfiguration {
        self.supervisor.set_server(new.server.clone());
        self.attach = match (new.server.mode, &new.server.url) {
            (ServerMode::Attach, Some(url)) => Some((url.clone(), new.server.clone())),
            _ => None,
        };
        self.options = WatchOptions {
            event_timeout: new.server.event_timeout,
            directories: new.directories(),
        };
        self.popover_setup.send_replace(popover_setup(new));
        Reconfiguration {
            notify: new.notify.clone(),
            server: change.server.then(|| ServerSettings {
                mode: new.server.mode,
                attach_url: new.server.url.clone(),
            }),
            rewatch: change.rewatch,
            start_timeout: new.server.start_timeout,
            configured: exists,
        }
    }

    fn stop_watcher(&mut self) {
        if let Some(task) = self.watcher.take() {
            task.abort();
        }
        // Under the lock: an attach task publishing right now is either
        // before this (and overwritten) or after (and sees it is stopped).
        if let Ok(mut current) = self.current_watch.lock() {
            *current = None;
        }
        self.client.send_replace(None);
        self.access.send_replace(None);
    }
}

/// What the popover is told once it attaches (and again when config changes).
fn popover_setup(config: &Config) -> PopoverSetup {
    PopoverSetup {
        directories: config.directories(),
        default_directory: config.server.directory.display().to_string(),
        keep_alive_secs: config.popover.keep_alive.as_secs(),
        hide_on_blur: config.popover.hide_on_blur,
        settings: crate::config::form::values(config),
    }
}

/// The popover's status line, derived from state like the tray's.
fn popover_status(state: &State) -> PopoverStatus {
    PopoverStatus {
        state: state.server_state(),
        line: crate::core::tray_view::status_line(state),
        resource_use: state.resource_use,
    }
}
