//! The popover's background work (a tokio runtime on its own thread): the
//! link to the daemon, the page's server calls, its drafts and the event feed.

use super::page_link::{ConfirmRequest, Decision, PageLink, UiEvent};
use crate::ipc::client::Connection;
use crate::ipc::protocol::{FromPopover, PopoverSetup, ServerAccess, ToPopover};
use crate::page::drafts::Drafts;
use crate::page::event_feed;
use crate::page::nexus_calls::{self, NexusContext, PendingSave};
use crate::page::protocol::{
    FromPage, MarkdownRequest, NexusCall, RemotePassword, ServerCall, markdown_answer,
    markdown_answers,
};
use crate::page::settings_guard::Confirmation;
use crate::page::{CallError, PageSink, remote_calls, server_calls};
use crate::paths::Paths;
use crate::server::client::{Credentials, Secret, ServerClient};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// How often changed drafts are written.
const DRAFT_SAVE_EVERY: Duration = Duration::from_millis(250);

/// What the window's thread passes on to the background.
#[derive(Debug)]
pub enum BackendInput {
    Page(FromPage),
    /// A page call that was rejected: answer it.
    Rejected {
        id: u64,
        reason: String,
    },
    Hidden,
}

pub struct Backend {
    pub daemon: Connection,
    pub page: PageLink,
    pub drafts: Arc<Mutex<Drafts>>,
    pub access: Option<ServerAccess>,
    pub setup: PopoverSetup,
    pub context: NexusContext,
}

struct Running {
    page: PageLink,
    client: Option<ServerClient>,
    feed: Option<JoinHandle<()>>,
    /// Requests for the daemon from tasks (a save the user confirmed).
    to_daemon: mpsc::UnboundedSender<FromPopover>,
    setup: PopoverSetup,
    context: NexusContext,
}

impl Running {
    fn set_server(&mut self, access: Option<ServerAccess>) {
        if let Some(feed) = self.feed.take() {
            feed.abort();
        }
        self.client = access.map(|a| {
            ServerClient::new(
                &a.url,
                &Credentials {
                    username: a.username,
                    password: a.password.map(Secret::new),
                },
            )
        });
        match &self.client {
            Some(client) => {
                self.feed = Some(tokio::spawn(event_feed::follow(
                    client.clone(),
                    self.page.clone(),
                )));
            }
            None => self.page.connection(
                "no_server",
                "OpenCode Nexus has no server running right now. Your text is kept.",
            ),
        }
    }

    fn call(&self, id: u64, call: ServerCall) {
        let page = self.page.clone();
        let Some(client) = self.client.clone() else {
            page.result(
                id,
                Err(CallError {
                    kind: "unreachable",
                    message: "No OpenCode server is running.".into(),
                }),
            );
            return;
        };
        tokio::spawn(async move {
            let outcome = server_calls::run(&client, &call).await;
            page.result(id, outcome);
        });
    }

    /// A call to Nexus itself; `Some` is for the daemon: what changes Nexus's
    /// own files (config.toml, start at login) and the server log are the
    /// daemon's, which answers the page's call over the link.
    fn nexus(&mut self, id: u64, call: NexusCall) -> Option<FromPopover> {
        let page = self.page.clone();
        let context = self.context.clone();
        match call {
            NexusCall::Settings {} => {
                page.result(id, Ok(nexus_calls::settings(&context, &self.setup)));
            }
            NexusCall::SaveSettings { values } => {
                match nexus_calls::prepare_save(&context, &self.setup, &values) {
                    Err(answer) => page.result(id, Ok(answer)),
                    Ok(save) if save.guarded.is_empty() => {
                        return Some(FromPopover::SaveSettings { id, values });
                    }
                    Ok(save) => confirm_then_save(id, save, values, self.to_daemon.clone(), page),
                }
            }
            NexusCall::SetupCheck {} => {
                tokio::spawn(async move {
                    page.result(id, Ok(nexus_calls::setup_check(&context).await));
                });
            }
            NexusCall::InstallOpencode {} => {
                tokio::spawn(async move {
                    page.result(id, nexus_calls::install_opencode(&context).await);
                });
            }
            NexusCall::SetAutostart { enabled } => {
                return Some(FromPopover::SetAutostart { id, enabled });
            }
            NexusCall::FollowLog { on } => return Some(FromPopover::FollowLog { id, on }),
            NexusCall::OpenLogFolder {} => {
                let outcome = crate::platform::desktop::open_path(&context.paths.state_dir)
                    .map(|()| serde_json::Value::Bool(true))
                    .map_err(|message| CallError {
                        kind: "server",
                        message,
                    });
                page.result(id, outcome);
            }
            NexusCall::RemotePair {} => {
                let setup = self.setup.clone();
                tokio::spawn(async move {
                    let outcome = blocking(move || {
                        let remote = nexus_calls::current_config(&context, &setup).remote;
                        remote_calls::pair(&context.paths, &remote)
                    })
                    .await;
                    page.result(id, outcome);
                });
            }
            NexusCall::RemoteStatus {} => {
                let setup = self.setup.clone();
                tokio::spawn(async move {
                    let outcome = blocking(move || {
                        let remote = nexus_calls::current_config(&context, &setup).remote;
                        remote_calls::status(&context.paths, &remote)
                    })
                    .await;
                    page.result(id, outcome);
                });
            }
            NexusCall::RemoteRevoke { id: device } => {
                tokio::spawn(async move {
                    let outcome =
                        blocking(move || remote_calls::revoke(&context.paths, device.as_deref()))
                            .await;
                    page.result(id, outcome);
                });
            }
            NexusCall::SetRemotePassword { password } => {
                confirm_then_set_password(id, password, context.paths, page);
            }
        }
        None
    }
}

/// Runs until the daemon link closes (Nexus quit) or the window's thread goes.
pub async fn run(backend: Backend, mut inputs: mpsc::UnboundedReceiver<BackendInput>) {
    let Backend {
        mut daemon,
        page,
        drafts,
        access,
        setup,
        context,
    } = backend;
    let mut keep_alive = Duration::from_secs(setup.keep_alive_secs);
    // The window starts hidden: it too counts towards keep-alive.
    wake_after(&page, keep_alive);
    let (to_daemon, mut for_daemon) = mpsc::unbounded_channel();
    let mut running = Running {
        page: page.clone(),
        client: None,
        feed: None,
        to_daemon,
        setup,
        context,
    };
    running.set_server(access);
    let markdown = start_markdown_thread(page.clone());
    let mut preloaded = false;
    let mut save_drafts = tokio::time::interval(DRAFT_SAVE_EVERY);
    save_drafts.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            message = daemon.next_message::<ToPopover>() => match message {
                Ok(Some(ToPopover::Server { access })) => running.set_server(access),
                Ok(Some(ToPopover::Show { request })) => {
                    page.ui(UiEvent::Show(request));
                }
                Ok(Some(ToPopover::Setup { setup })) => {
                    keep_alive = Duration::from_secs(setup.keep_alive_secs);
                    page.ui(UiEvent::Setup(setup.clone()));
                    running.setup = setup;
                }
                Ok(Some(ToPopover::Status { status })) => {
                    page.send(status.to_page().to_string());
                }
                Ok(Some(ToPopover::Answer { id, answer })) => {
                    page.result(id, answer.map_err(|message| CallError { kind: "server", message }));
                }
                Ok(Some(ToPopover::Log { lines })) => {
                    page.send(serde_json::json!({"type": "log", "lines": lines}).to_string());
                }
                Ok(Some(ToPopover::Quit {})) | Ok(None) => break,
                Err(e) => {
                    tracing::warn!("daemon link: {e}");
                    break;
                }
            },
            input = inputs.recv() => {
                let Some(input) = input else { break };
                let report = match input {
                    BackendInput::Page(FromPage::Call { id, call }) => {
                        running.call(id, call);
                        None
                    }
                    BackendInput::Page(FromPage::Nexus { id, call }) => running.nexus(id, call),
                    BackendInput::Rejected { id, reason } => {
                        page.result(id, Err(CallError { kind: "rejected", message: reason }));
                        None
                    }
                    BackendInput::Page(FromPage::Draft { key, text }) => {
                        // The page checks the same limit first and tells the user.
                        if let Ok(mut d) = drafts.lock()
                            && let Err(e) = d.set(key, text)
                        {
                            tracing::warn!("draft not kept: {e}");
                        }
                        None
                    }
                    BackendInput::Page(FromPage::Painted { token }) => {
                        // The window is on screen: the syntax definitions can
                        // load now without delaying the cold open (once).
                        if let Some(jobs) = markdown.as_ref().filter(|_| !preloaded) {
                            let _ = jobs.send(MarkdownJob::Preload);
                            preloaded = true;
                        }
                        Some(FromPopover::Painted { token })
                    }
                    BackendInput::Page(FromPage::FocusSession { session }) => {
                        Some(FromPopover::Focus { session })
                    }
                    BackendInput::Page(FromPage::Markdown {
                        id,
                        text,
                        code_later,
                    }) => {
                        let request = MarkdownRequest {
                            id,
                            text,
                            code_later,
                        };
                        ask_markdown(markdown.as_ref(), [request]);
                        None
                    }
                    BackendInput::Page(FromPage::MarkdownBatch { requests }) => {
                        ask_markdown(markdown.as_ref(), requests);
                        None
                    }
                    BackendInput::Page(FromPage::OpenExternal { url }) => {
                        if let Err(e) = crate::platform::desktop::open_url(&url) {
                            tracing::warn!("cannot open a link: {e}");
                        }
                        None
                    }
                    BackendInput::Hidden => {
                        // The daemon stops sending log lines too.
                        wake_after(&page, keep_alive);
                        Some(FromPopover::Hidden {})
                    }
                    // Handled on the window's thread.
                    BackendInput::Page(FromPage::Ready {} | FromPage::Hide {}) => None,
                };
                if let Some(report) = report
                    && let Err(e) = daemon.send_message(&report).await
                {
                    tracing::warn!("daemon link: {e}");
                    break;
                }
            }
            Some(report) = for_daemon.recv() => {
                if let Err(e) = daemon.send_message(&report).await {
                    tracing::warn!("daemon link: {e}");
                    break;
                }
            }
            _ = save_drafts.tick() => {
                if let Ok(mut d) = drafts.lock() {
                    d.save_if_changed();
                }
            }
        }
    }
    if let Ok(mut d) = drafts.lock() {
        d.save_if_changed();
    }
    page.ui(UiEvent::Quit);
}

/// A Markdown render taking longer than this is logged.
const SLOW_MARKDOWN: Duration = Duration::from_millis(50);

/// Answers sent together stop growing past this (the page gets them as one
/// script to evaluate).
const MARKDOWN_BATCH_BYTES: usize = 512 * 1024;

/// Work for the Markdown thread.
enum MarkdownJob {
    /// Load the syntax definitions ahead of the first code block.
    Preload,
    /// The page's `markdown` request: answer with the tree of the text.
    Render {
        id: u64,
        text: String,
        code: crate::markdown::Code,
    },
}

type MarkdownJobs = std::sync::mpsc::Sender<MarkdownJob>;

/// Hands the page's requests to the Markdown thread in one go (it then finds
/// a batch's requests queued together and answers them together). Without
/// the thread the page times out and shows the text as it is.
fn ask_markdown(jobs: Option<&MarkdownJobs>, requests: impl IntoIterator<Item = MarkdownRequest>) {
    let Some(jobs) = jobs else { return };
    for MarkdownRequest {
        id,
        text,
        code_later,
    } in requests
    {
        let code = crate::markdown::Code::later_if(code_later);
        if jobs.send(MarkdownJob::Render { id, text, code }).is_err() {
            return;
        }
    }
}

/// The Markdown thread's waiting work, in the order it is done: answers
/// with their code left for later first (they are what the page shows
/// now), then highlighted ones and the preload, each kind in arrival order.
#[derive(Default)]
struct MarkdownQueue {
    text_first: std::collections::VecDeque<MarkdownJob>,
    then: std::collections::VecDeque<MarkdownJob>,
}

impl MarkdownQueue {
    fn push(&mut self, job: MarkdownJob) {
        match job {
            MarkdownJob::Render {
                code: crate::markdown::Code::Later,
                ..
            } => self.text_first.push_back(job),
            _ => self.then.push_back(job),
        }
    }

    fn next(&mut self) -> Option<MarkdownJob> {
        self.text_first
            .pop_front()
            .or_else(|| self.then.pop_front())
    }
}

/// Starts the thread that renders agent text for the page and answers with
/// its tree, one request after the other (text before colours, see
/// `MarkdownQueue`). One thread, at a lower CPU priority, because the
/// machine's cores are the page's too: a finished 60 KB answer asks for ~100
/// chunks at once, and rendering them all in parallel (highlighting is the
/// costly part) starved the web process and the window's thread, so frames
/// stalled for a second on two cores. The window's thread never waits for
/// this one (answers travel through the event-loop proxy), and the first code
/// block's wait for the syntax definitions (`highlight::preload`) happens
/// here too.
fn start_markdown_thread(page: PageLink) -> Option<MarkdownJobs> {
    let (jobs, requests) = std::sync::mpsc::channel::<MarkdownJob>();
    let spawned = std::thread::Builder::new()
        .name("markdown".into())
        .spawn(move || {
            lower_this_threads_priority();
            let mut queue = MarkdownQueue::default();
            // Answers made but not sent: they go out together once no more
            // text waits (a long answer's hundred chunks as one message).
            let mut ready = Vec::new();
            let mut ready_bytes = 0;
            loop {
                // Everything that has arrived, so the order above holds.
                while let Ok(job) = requests.try_recv() {
                    queue.push(job);
                }
                if !ready.is_empty()
                    && (queue.text_first.is_empty() || ready_bytes >= MARKDOWN_BATCH_BYTES)
                {
                    ready_bytes = 0;
                    if !page.send(markdown_answers(std::mem::take(&mut ready))) {
                        break;
                    }
                }
                let job = match queue.next() {
                    Some(job) => job,
                    None => match next_markdown_job(&requests) {
                        Some(job) => job,
                        None => break,
                    },
                };
                let (id, text, code) = match job {
                    MarkdownJob::Preload => {
                        crate::markdown::highlight::preload();
                        continue;
                    }
                    MarkdownJob::Render { id, text, code } => (id, text, code),
                };
                let started = std::time::Instant::now();
                // A fault in the parser or highlighter costs this one answer
                // (the page times out and shows the text as it is), not the
                // thread every later answer needs.
                let rendered =
                    std::panic::catch_unwind(|| crate::markdown::to_tree_with(&text, code));
                let took = started.elapsed();
                let Ok(tree) = rendered else {
                    tracing::error!("rendering {} bytes of Markdown failed", text.len());
                    continue;
                };
                if took >= SLOW_MARKDOWN {
                    tracing::info!(
                        "markdown of {} bytes took {} ms",
                        text.len(),
                        took.as_millis()
                    );
                }
                let answer = markdown_answer(id, &tree);
                ready_bytes += answer.len();
                ready.push(answer);
            }
        });
    match spawned {
        Ok(_) => Some(jobs),
        Err(e) => {
            tracing::warn!("cannot start the Markdown thread: {e}");
            None
        }
    }
}

/// Waits for the Markdown thread's next job (`None` once the page is gone).
/// Meanwhile, once no block has been highlighted for a while, the syntax
/// definitions' compiled regexes (up to ~45 MiB a language) are dropped and
/// the memory given back; the definitions themselves are loaded again at
/// once (~2.5 MiB), so the next answer does not wait for them.
fn next_markdown_job(requests: &std::sync::mpsc::Receiver<MarkdownJob>) -> Option<MarkdownJob> {
    use crate::markdown::highlight;
    use std::sync::mpsc::RecvTimeoutError;
    loop {
        let Some(due) = highlight::unload_due() else {
            return requests.recv().ok();
        };
        let wait = due.saturating_duration_since(std::time::Instant::now());
        match requests.recv_timeout(wait) {
            Ok(job) => return Some(job),
            Err(RecvTimeoutError::Disconnected) => return None,
            Err(RecvTimeoutError::Timeout) => {
                if highlight::unload_if_idle(std::time::Instant::now()) {
                    crate::platform::give_back_freed_memory();
                    tracing::info!(
                        "code highlighting's compiled syntax dropped (unused for a while)"
                    );
                    highlight::preload();
                }
            }
        }
    }
}

/// Nice 10 for the calling thread (on Linux a thread has its own nice value):
/// rendering gives way to the page and the window when the cores are busy.
#[cfg(target_os = "linux")]
fn lower_this_threads_priority() {
    // SAFETY: setpriority with PRIO_PROCESS and who = this thread's id
    // changes only this thread's nice value.
    let done = unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, 10)
    };
    if done != 0 {
        tracing::debug!("cannot lower the Markdown thread's priority");
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_this_threads_priority() {}

/// Asks the user in the window's native dialog (outside the page, which can
/// neither draw nor press it). The page hears `confirming` for its call `id`
/// meanwhile (the call stays open); the decision arrives on the receiver (a
/// dropped request counts as cancelled).
fn ask_user(
    page: &PageLink,
    id: u64,
    keys: &[&'static str],
    confirmation: Confirmation,
) -> tokio::sync::oneshot::Receiver<Decision> {
    let (reply, decision) = tokio::sync::oneshot::channel();
    page.send(serde_json::json!({"type": "confirming", "id": id, "keys": keys}).to_string());
    page.ui(UiEvent::Confirm(ConfirmRequest {
        confirmation,
        reply,
    }));
    decision
}

/// A save that changes guarded settings: only a confirmation asks the
/// daemon to save (its answer goes to the page like any save's).
fn confirm_then_save(
    id: u64,
    save: PendingSave,
    values: serde_json::Map<String, serde_json::Value>,
    to_daemon: mpsc::UnboundedSender<FromPopover>,
    page: PageLink,
) {
    let keys: Vec<&'static str> = save.guarded.iter().map(|c| c.key).collect();
    let decision = ask_user(&page, id, &keys, save.confirmation.clone());
    tokio::spawn(async move {
        let decision = decision.await.unwrap_or(Decision::Cancelled);
        tracing::info!("confirmation of {keys:?}: {decision:?}");
        let answer = match decision {
            Decision::Confirmed => {
                if to_daemon
                    .send(FromPopover::SaveSettings { id, values })
                    .is_err()
                {
                    page.result(
                        id,
                        Err(CallError {
                            kind: "server",
                            message: "OpenCode Nexus is not running; nothing was saved".into(),
                        }),
                    );
                }
                return;
            }
            Decision::Cancelled => Ok(nexus_calls::cancelled_answer(
                &save,
                "You did not confirm the change",
            )),
            Decision::AlreadyAsking => Ok(nexus_calls::cancelled_answer(
                &save,
                "Another change is waiting for your confirmation",
            )),
            Decision::NoDialog => Ok(nexus_calls::cancelled_answer(
                &save,
                "These settings can only be changed in config.toml here",
            )),
        };
        page.result(id, answer);
    });
}

/// A new remote password: stored (hashed, off the async threads) only once
/// the user confirms it; the dialog never shows it and nothing answers or
/// logs it.
fn confirm_then_set_password(id: u64, password: RemotePassword, paths: Paths, page: PageLink) {
    let keys = [remote_calls::PASSWORD_KEY];
    let decision = ask_user(&page, id, &keys, remote_calls::password_confirmation());
    tokio::spawn(async move {
        let decision = decision.await.unwrap_or(Decision::Cancelled);
        tracing::info!("confirmation of a new remote password: {decision:?}");
        let answer = match decision {
            Decision::Confirmed => {
                blocking(move || remote_calls::set_password(&paths, &password)).await
            }
            Decision::Cancelled => Ok(remote_calls::password_not_set(
                "You did not confirm the change",
            )),
            Decision::AlreadyAsking => Ok(remote_calls::password_not_set(
                "Another change is waiting for your confirmation",
            )),
            Decision::NoDialog => Ok(remote_calls::password_not_set(
                "Here it can only be set with `opencode-nexus remote password`",
            )),
        };
        page.result(id, answer);
    });
}

/// Runs blocking work (the account file's lock, Argon2id) on the blocking
/// pool, so the page's other messages keep flowing meanwhile.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, CallError> + Send + 'static,
) -> Result<T, CallError> {
    tokio::task::spawn_blocking(work).await.unwrap_or_else(|_| {
        // Not the join error's text: a panic message is no place for the page.
        Err(CallError {
            kind: "server",
            message: "the remote account could not be read or changed".into(),
        })
    })
}

/// Asks the window to check its keep-alive once `after` has passed.
fn wake_after(page: &PageLink, after: Duration) {
    let page = page.clone();
    tokio::spawn(async move {
        tokio::time::sleep(after + Duration::from_millis(20)).await;
        page.ui(UiEvent::KeepAliveCheck);
    });
}

#[cfg(test)]
mod tests {
    use super::{MarkdownJob, MarkdownQueue};
    use crate::markdown::Code;

    fn render(id: u64, code: Code) -> MarkdownJob {
        MarkdownJob::Render {
            id,
            text: String::new(),
            code,
        }
    }

    fn order(queue: &mut MarkdownQueue) -> Vec<Option<u64>> {
        std::iter::from_fn(|| queue.next())
            .map(|job| match job {
                MarkdownJob::Render { id, .. } => Some(id),
                MarkdownJob::Preload => None,
            })
            .collect()
    }

    #[test]
    fn text_comes_before_colours_and_each_kind_keeps_its_order() {
        let mut queue = MarkdownQueue::default();
        queue.push(render(1, Code::Highlighted));
        queue.push(MarkdownJob::Preload);
        queue.push(render(2, Code::Later));
        queue.push(render(3, Code::Highlighted));
        queue.push(render(4, Code::Later));
        assert_eq!(
            order(&mut queue),
            vec![Some(2), Some(4), Some(1), None, Some(3)]
        );
        assert!(queue.next().is_none());
    }
}
