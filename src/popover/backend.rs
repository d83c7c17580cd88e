//! The popover's background work (a tokio runtime on its own thread): the
//! link to the daemon, the page's server calls, its drafts and the event feed.

use super::drafts::Drafts;
use super::event_feed;
use super::page_link::{CallError, PageLink, UiEvent};
use super::page_protocol::{self, FromPage, Method, ServerCall};
use crate::ipc::client::Connection;
use crate::ipc::protocol::{FromPopover, ServerAccess, ToPopover};
use crate::server::client::{ApiError, Credentials, Secret, ServerClient};
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
    /// How long the window may stay hidden before the process exits.
    pub keep_alive: Duration,
}

struct Running {
    page: PageLink,
    client: Option<ServerClient>,
    feed: Option<JoinHandle<()>>,
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
            let outcome = run_call(&client, &call).await;
            page.result(id, outcome);
        });
    }
}

/// Runs until the daemon link closes (Nexus quit) or the window's thread goes.
pub async fn run(backend: Backend, mut inputs: mpsc::UnboundedReceiver<BackendInput>) {
    let Backend {
        mut daemon,
        page,
        drafts,
        access,
        keep_alive,
    } = backend;
    // The window starts hidden: it too counts towards keep-alive.
    wake_after(&page, keep_alive);
    let mut running = Running {
        page: page.clone(),
        client: None,
        feed: None,
    };
    running.set_server(access);
    let mut save_drafts = tokio::time::interval(DRAFT_SAVE_EVERY);
    save_drafts.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            message = daemon.next_message::<ToPopover>() => match message {
                Ok(Some(ToPopover::Server { access })) => running.set_server(access),
                Ok(Some(ToPopover::Show { token, session, anchor })) => {
                    page.ui(UiEvent::Show { token, session, anchor });
                }
                Ok(Some(ToPopover::Setup { .. })) => {}
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
                    BackendInput::Rejected { id, reason } => {
                        page.result(id, Err(CallError { kind: "rejected", message: reason }));
                        None
                    }
                    BackendInput::Page(FromPage::Draft { key, text }) => {
                        if let Ok(mut d) = drafts.lock() {
                            d.set(key, text);
                        }
                        None
                    }
                    BackendInput::Page(FromPage::Painted { token }) => {
                        Some(FromPopover::Painted { token })
                    }
                    BackendInput::Page(FromPage::FocusSession { session }) => {
                        Some(FromPopover::Focus { session })
                    }
                    BackendInput::Page(FromPage::OpenExternal { url }) => {
                        if let Err(e) = crate::platform::desktop::open_url(&url) {
                            tracing::warn!("cannot open a link: {e}");
                        }
                        None
                    }
                    BackendInput::Hidden => {
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

/// Asks the window to check its keep-alive once `after` has passed.
fn wake_after(page: &PageLink, after: Duration) {
    let page = page.clone();
    tokio::spawn(async move {
        tokio::time::sleep(after + Duration::from_millis(20)).await;
        page.ui(UiEvent::KeepAliveCheck);
    });
}

/// Carries out one allowlisted call: its requests in order, then the shaping.
async fn run_call(
    client: &ServerClient,
    call: &ServerCall,
) -> Result<serde_json::Value, CallError> {
    let mut answers = Vec::new();
    for request in call.requests() {
        let method = match request.method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Patch => reqwest::Method::PATCH,
            Method::Delete => reqwest::Method::DELETE,
        };
        let answer = client
            .call_json(method, &request.path, &request.query, request.body.as_ref())
            .await
            .map_err(call_error)?;
        answers.push(answer);
    }
    Ok(page_protocol::shape_answer(call, answers))
}

fn call_error(e: ApiError) -> CallError {
    let kind = match &e {
        ApiError::Unauthorized => "auth",
        ApiError::Unreachable(_) | ApiError::Timeout(_) => "unreachable",
        ApiError::Status { status: 404, .. } => "not_found",
        _ => "server",
    };
    CallError {
        kind,
        message: e.to_string(),
    }
}
