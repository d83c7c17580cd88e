//! The daemon's side of the quick-chat popover: the `open` command, the
//! popover process's link (one control connection it keeps open), and
//! starting and stopping that process.

use super::Shared;
use super::config_watch::ConfigNews;
use super::control::{Lines, Replies};
use crate::core::Event;
use crate::core::popover_lifecycle::{OpenRequest, PopoverEvent, PopoverGeneration};
use crate::ipc::protocol::{self, FromPopover, Reply, ServerAccess, ToPopover};
use crate::platform::{ProcessId, StopSignal};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, watch};

/// WebKitGTK's switch for painting without accelerated compositing, set for
/// the popover (`PopoverProcesses::spawn`).
#[cfg(target_os = "linux")]
pub const WEBKIT_NO_COMPOSITING: &str = "WEBKIT_DISABLE_COMPOSITING_MODE";

/// How long `open` waits for the window to paint (a cold start included).
const OPEN_LIMIT: Duration = Duration::from_secs(30);

/// What `open` callers wait for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PopoverNews {
    Painted(u64),
    Failed { token: u64, reason: String },
}

/// The popover's side of things that control connections and the executor share.
#[derive(Clone)]
pub(crate) struct PopoverHub {
    /// Commands for the attached popover, while one is attached.
    link: Arc<Mutex<Option<mpsc::UnboundedSender<ToPopover>>>>,
    pub news: broadcast::Sender<PopoverNews>,
    next_token: Arc<std::sync::atomic::AtomicU64>,
    /// Its settings (follow config changes).
    pub setup: watch::Receiver<protocol::PopoverSetup>,
    /// The status line (sent while the window is shown).
    pub status: watch::Receiver<protocol::PopoverStatus>,
    /// How the popover reaches the server (follows restarts).
    pub access: watch::Receiver<Option<ServerAccess>>,
    /// Whether the window is on screen.
    pub visible: Arc<watch::Sender<bool>>,
    /// Where the settings page's saves go, and the way to apply one at once
    /// (the path a change seen on disk takes); `None` in tests without them.
    settings: Option<(crate::paths::Paths, mpsc::Sender<ConfigNews>)>,
}

impl PopoverHub {
    pub fn new(
        setup: watch::Receiver<protocol::PopoverSetup>,
        status: watch::Receiver<protocol::PopoverStatus>,
        access: watch::Receiver<Option<ServerAccess>>,
    ) -> Self {
        PopoverHub {
            link: Arc::default(),
            news: broadcast::channel(64).0,
            next_token: Arc::new(1.into()),
            setup,
            status,
            access,
            visible: Arc::new(watch::channel(false).0),
            settings: None,
        }
    }

    /// Lets the popover save settings and turn start at login on or off
    /// through the daemon.
    pub fn with_settings(
        mut self,
        paths: crate::paths::Paths,
        config_news: mpsc::Sender<ConfigNews>,
    ) -> Self {
        self.settings = Some((paths, config_news));
        self
    }

    /// Sends a command to the attached popover; false when none is attached.
    pub fn send(&self, command: ToPopover) -> bool {
        let link = self.link.lock().ok().and_then(|l| l.clone());
        link.is_some_and(|l| l.send(command).is_ok())
    }
}

/// `opencode-nexus open`: asks the core to show the popover and answers once
/// it has painted (or why it could not).
pub(crate) async fn open(
    shared: &Shared,
    mut request: OpenRequest,
    replies: &mut Replies,
) -> std::io::Result<()> {
    let hub = &shared.popover;
    let token = hub
        .next_token
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut news = hub.news.subscribe();
    request.token = token;
    let _ = shared
        .events
        .send(Event::Popover(PopoverEvent::Open(request)))
        .await;
    let outcome = tokio::time::timeout(OPEN_LIMIT, async {
        loop {
            match news.recv().await {
                Ok(PopoverNews::Painted(t)) if t == token => return Ok(()),
                Ok(PopoverNews::Failed { token: t, reason }) if t == token => return Err(reason),
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => {
                    return Err("the daemon is shutting down".to_string());
                }
            }
        }
    })
    .await;
    match outcome {
        Ok(Ok(())) => {
            replies
                .send(&Reply::Ok {
                    message: "shown".into(),
                })
                .await
        }
        Ok(Err(reason)) => replies.send(&Reply::error(reason)).await,
        Err(_) => {
            replies
                .send(&Reply::error(format!(
                    "the popover did not show within {}s (see popover.log)",
                    OPEN_LIMIT.as_secs()
                )))
                .await
        }
    }
}

/// A popover process connected: it stays connected until it exits. The
/// daemon sends it its setup, the server's address (again whenever it
/// changes) and show commands; its reports (paints, hides, the session it
/// has open) go to the core, which keeps what is unpainted and on screen.
pub(crate) async fn serve_link(
    shared: &Shared,
    pid: u32,
    reader: &mut Lines,
    replies: &mut Replies,
) -> std::io::Result<()> {
    let hub = &shared.popover;
    let (tx, mut commands) = mpsc::unbounded_channel();
    // Log lines for the popover's log view, while it follows the log.
    let (log_tx, mut log_lines) = mpsc::unbounded_channel::<Vec<String>>();
    let mut following: Option<tokio::task::JoinHandle<()>> = None;
    let attached = match hub.link.lock() {
        Ok(mut link) if link.as_ref().is_none_or(|l| l.is_closed()) => {
            *link = Some(tx);
            true
        }
        _ => false,
    };
    if !attached {
        return replies
            .send(&Reply::error("another popover is already running"))
            .await;
    }
    tracing::info!(pid, "popover attached");
    let mut access = hub.access.clone();
    let current = access.borrow_and_update().clone();
    let mut setup = hub.setup.clone();
    let mut status = hub.status.clone();
    // Whether the window is on screen: its status line is sent only then.
    let mut visible = false;
    let result = async {
        let first = setup.borrow_and_update().clone();
        send(replies, &ToPopover::Setup { setup: first }).await?;
        send(replies, &ToPopover::Server { access: current }).await?;
        let _ = shared
            .events
            .send(Event::Popover(PopoverEvent::Attached))
            .await;
        loop {
            tokio::select! {
                Some(command) = commands.recv() => send(replies, &command).await?,
                Ok(()) = access.changed() => {
                    let now = access.borrow_and_update().clone();
                    send(replies, &ToPopover::Server { access: now }).await?;
                }
                Ok(()) = setup.changed() => {
                    let now = setup.borrow_and_update().clone();
                    send(replies, &ToPopover::Setup { setup: now }).await?;
                }
                Some(lines) = log_lines.recv() => {
                    send(replies, &ToPopover::Log { lines }).await?;
                }
                Ok(()) = status.changed(), if visible => {
                    let now = status.borrow_and_update().clone();
                    send(replies, &ToPopover::Status { status: now }).await?;
                }
                // Cancel-safe: a report split around another branch arrives whole.
                line = reader.next_line() => match line {
                    Ok(Some(line)) => match protocol::decode::<FromPopover>(&line) {
                        Ok(report) => {
                            let event = match report {
                                FromPopover::Painted { token } => {
                                    if !visible {
                                        // Shown again: bring its status line up to date.
                                        let now = status.borrow_and_update().clone();
                                        send(replies, &ToPopover::Status { status: now }).await?;
                                    }
                                    visible = true;
                                    let _ = hub.news.send(PopoverNews::Painted(token));
                                    Some(Event::Popover(PopoverEvent::Painted(token)))
                                }
                                FromPopover::Hidden {} => {
                                    visible = false;
                                    stop_following(&mut following);
                                    Some(Event::Popover(PopoverEvent::Hidden))
                                }
                                FromPopover::SaveSettings { id, values } => {
                                    let answer = save_settings(hub, values).await;
                                    send(replies, &ToPopover::Answer { id, answer }).await?;
                                    None
                                }
                                FromPopover::SetAutostart { id, enabled } => {
                                    let answer = set_autostart(shared, enabled).await;
                                    send(replies, &ToPopover::Answer { id, answer }).await?;
                                    None
                                }
                                FromPopover::FollowLog { id, on } => {
                                    stop_following(&mut following);
                                    let answer = if on {
                                        follow_log(shared, log_tx.clone())
                                            .await
                                            .map(|(answer, task)| {
                                                following = Some(task);
                                                answer
                                            })
                                    } else {
                                        Ok(serde_json::Value::Bool(true))
                                    };
                                    send(replies, &ToPopover::Answer { id, answer }).await?;
                                    None
                                }
                                FromPopover::Focus { session } => {
                                    Some(Event::Popover(PopoverEvent::Focus(session)))
                                }
                            };
                            hub.visible.send_replace(visible);
                            if let Some(event) = event {
                                let _ = shared.events.send(event).await;
                            }
                        }
                        Err(e) => tracing::warn!("popover sent something invalid: {e}"),
                    },
                    Ok(None) => return Ok(()),
                    Err(e) => {
                        tracing::warn!("popover link: {e}");
                        return Ok(());
                    }
                },
            }
        }
    }
    .await;
    stop_following(&mut following);
    if let Ok(mut link) = hub.link.lock() {
        *link = None;
    }
    hub.visible.send_replace(false);
    tracing::info!(pid, "popover detached");
    // The core opens again (once) what this popover did not paint.
    let _ = shared
        .events
        .send(Event::Popover(PopoverEvent::Detached))
        .await;
    result
}

async fn send(replies: &mut Replies, command: &ToPopover) -> std::io::Result<()> {
    replies.send(command).await
}

/// The settings page's save: validated with the file's rules against the
/// settings in use, written safely, then applied at once through the path a
/// change seen on disk takes (the file watch seeing it later changes nothing).
async fn save_settings(
    hub: &PopoverHub,
    values: serde_json::Map<String, serde_json::Value>,
) -> Result<serde_json::Value, String> {
    use crate::page::nexus_calls::{self, NexusContext};
    let Some((paths, config_news)) = hub.settings.clone() else {
        return Err("this daemon does not save settings".into());
    };
    let setup = hub.setup.borrow().clone();
    let (answer, news) = tokio::task::spawn_blocking(move || {
        let context = NexusContext {
            paths: paths.clone(),
            path_var: None,
        };
        let save = match nexus_calls::prepare_save(&context, &setup, &values) {
            Ok(save) => save,
            Err(refused) => return (Ok(refused), None),
        };
        let answer = nexus_calls::write_settings(&context, save).map_err(|e| e.message);
        let news = answer
            .is_ok()
            .then(|| match crate::config::Config::load(&paths) {
                Ok(loaded) => ConfigNews::Changed {
                    loaded: Box::new(loaded),
                    exists: true,
                },
                Err(e) => ConfigNews::Rejected(e.to_string()),
            });
        (answer, news)
    })
    .await
    .unwrap_or_else(|e| (Err(format!("saving the settings failed: {e}")), None));
    if let Some(news) = news {
        let _ = config_news.send(news).await;
    }
    answer
}

/// Start at login from the page: set, then the real state is news for the core.
async fn set_autostart(shared: &Shared, enabled: bool) -> Result<serde_json::Value, String> {
    let Some((paths, _)) = shared.popover.settings.clone() else {
        return Err("this daemon does not manage start at login".into());
    };
    let (outcome, now) = tokio::task::spawn_blocking(move || {
        let outcome = crate::autostart::set(&paths, enabled);
        (outcome, crate::autostart::is_enabled(&paths))
    })
    .await
    .map_err(|e| format!("start at login: {e}"))?;
    if outcome.is_ok() {
        let _ = shared.events.send(Event::AutostartChanged(now)).await;
    }
    outcome.map(|enabled| serde_json::json!({"enabled": enabled}))
}

/// Starts following the server log for the popover: answers the file and its
/// last lines; the task sends what follows, in batches, to `lines`.
async fn follow_log(
    shared: &Shared,
    lines: mpsc::UnboundedSender<Vec<String>>,
) -> Result<(serde_json::Value, tokio::task::JoinHandle<()>), String> {
    let (file, first, mut live) = super::control::log_tail(shared).await?;
    let mut exited = shared.exited.clone();
    let task = tokio::spawn(async move {
        loop {
            let first = tokio::select! {
                line = live.recv() => line,
                _ = exited.changed() => return,
            };
            let mut batch = Vec::new();
            let mut next = Some(first);
            while let Some(line) = next.take() {
                match line {
                    Ok(line) => batch.push(line),
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        batch.push(format!("… {n} lines skipped"))
                    }
                    Err(broadcast::error::RecvError::Closed) => break,
                }
                if batch.len() < LOG_BATCH {
                    next = match live.try_recv() {
                        Ok(line) => Some(Ok(line)),
                        Err(broadcast::error::TryRecvError::Lagged(n)) => {
                            Some(Err(broadcast::error::RecvError::Lagged(n)))
                        }
                        Err(_) => None,
                    };
                }
            }
            if batch.is_empty() || lines.send(batch).is_err() {
                return;
            }
        }
    });
    Ok((serde_json::json!({"file": file, "lines": first}), task))
}

/// The most log lines in one message to the popover.
const LOG_BATCH: usize = 500;

fn stop_following(following: &mut Option<tokio::task::JoinHandle<()>>) {
    if let Some(task) = following.take() {
        task.abort();
    }
}

/// Starts and stops popover processes for the executor.
pub(crate) struct PopoverProcesses {
    events: mpsc::Sender<Event>,
    log: std::path::PathBuf,
    /// popover.log, shared by every popover process, rotated as it grows.
    log_file: Option<Arc<Mutex<crate::logging::RotatingFile>>>,
    running: Option<(PopoverGeneration, ProcessId)>,
}

impl PopoverProcesses {
    pub fn new(events: mpsc::Sender<Event>, log: std::path::PathBuf) -> Self {
        PopoverProcesses {
            events,
            log,
            log_file: None,
            running: None,
        }
    }

    /// Spawns `opencode-nexus-popover` (beside this binary); its exit comes
    /// back as `PopoverEvent::Exited`. The server password is not in its
    /// environment: it gets the server's address over its link.
    pub fn spawn(&mut self, generation: PopoverGeneration) -> Option<Event> {
        let exited =
            |reason: String| Some(Event::Popover(PopoverEvent::Exited { generation, reason }));
        let program = match crate::programs::popover_program() {
            Ok(p) => p,
            Err(reason) => return exited(reason),
        };
        let mut command = tokio::process::Command::new(&program);
        command
            .env_remove("OPENCODE_SERVER_PASSWORD")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            // Through us into popover.log, so the file can be rotated while it runs.
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(false);
        // WebKitGTK is to paint the page itself, without accelerated
        // compositing. Left on demand, it switches to compositing the first
        // time the message list scrolls, and the switch (a GL context, often
        // software GL) froze a streaming answer for ~0.6 s; the popover's
        // small page needs no GPU layers (BENCHMARKS.md, "The end-to-end
        // stall, found"). A value the user set is kept.
        #[cfg(target_os = "linux")]
        if std::env::var_os(WEBKIT_NO_COMPOSITING).is_none() {
            command.env(WEBKIT_NO_COMPOSITING, "1");
        }
        let mut child = match command.spawn() {
            Ok(c) => c,
            Err(e) => return exited(format!("cannot run {}: {e}", program.display())),
        };
        let pid = child.id().unwrap_or_default();
        if let Some(stderr) = child.stderr.take() {
            if self.log_file.is_none() {
                self.log_file = crate::logging::RotatingFile::open(
                    self.log.clone(),
                    crate::logging::POPOVER_LOG_BYTES,
                    crate::logging::POPOVER_LOG_ROTATIONS,
                )
                .map_err(|e| tracing::warn!("popover output is not kept: {e}"))
                .ok()
                .map(|file| Arc::new(Mutex::new(file)));
            }
            tokio::spawn(copy_to_log(stderr, self.log_file.clone()));
        }
        self.running = crate::platform::process_start_time(pid)
            .map(|start_time| (generation, ProcessId { pid, start_time }));
        tracing::info!(pid, "popover started");
        let events = self.events.clone();
        tokio::spawn(async move {
            let reason = match child.wait().await {
                Ok(status) => crate::platform::describe_exit_status(status),
                Err(e) => format!("lost track of it: {e}"),
            };
            tracing::info!(pid, "popover {reason}");
            let _ = events
                .send(Event::Popover(PopoverEvent::Exited { generation, reason }))
                .await;
        });
        None
    }

    /// Stops the process of this generation (it never connected back).
    pub fn kill(&mut self, generation: PopoverGeneration) {
        if let Some((g, process)) = self.running
            && g == generation
        {
            crate::platform::signal_process(process, StopSignal::Kill);
            self.running = None;
        }
    }
}

/// Copies the popover's output into popover.log until it closes (read on
/// even without a file, so the popover never blocks on a full pipe).
async fn copy_to_log(
    mut output: tokio::process::ChildStderr,
    log: Option<Arc<Mutex<crate::logging::RotatingFile>>>,
) {
    use std::io::Write;
    use tokio::io::AsyncReadExt;
    let mut buffer = vec![0u8; 8192];
    loop {
        let n = match output.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if let Some(Ok(mut file)) = log.as_ref().map(|l| l.lock()) {
            let _ = file.write_all(&buffer[..n]);
        }
    }
}
