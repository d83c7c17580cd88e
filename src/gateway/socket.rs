//! One signed-in page over a WebSocket: the page protocol of `crate::page`,
//! with the chat calls only. What a page sends is parsed as strictly as in
//! the popover (`page::protocol::parse`); calls to Nexus itself (settings,
//! setup, logs) are refused, and so is anything else that would act on
//! this machine rather than on the agent.
//!
//! What goes to the page waits in a bounded queue drained by a writer task:
//! a page that cannot keep up (a phone on a bad network) is dropped — its
//! page reconnects and starts afresh — and never slows the others.

use super::{ClientSlot, Gateway};
use crate::page::protocol::{
    FromPage, MAX_DRAFT_BYTES, MarkdownRequest, markdown_answer, markdown_answers,
};
use crate::page::{CallError, PageSink, server_calls};
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, Semaphore, mpsc};

/// Messages waiting for one page before it counts as too slow.
pub const OUT_QUEUE: usize = 128;
/// A write to the socket taking longer than this drops the page.
const WRITE_DEADLINE: Duration = Duration::from_secs(15);
/// The close code a signed-out page gets (the page then goes to sign-in).
pub const CLOSE_SIGNED_OUT: u16 = 4401;
/// How often a quiet page is pinged (a phone that vanished without closing
/// its connection would otherwise hold its place until a write failed).
const PING_EVERY: Duration = Duration::from_secs(30);
/// A page heard nothing from this long is gone.
const SILENT_LIMIT: Duration = Duration::from_secs(75);
/// Markdown renders running at once per page.
const MARKDOWN_AT_ONCE: usize = 1;

/// The page's side of the queue.
#[derive(Clone)]
struct ToPage {
    queue: mpsc::Sender<Message>,
    too_slow: Arc<Notify>,
}

impl PageSink for ToPage {
    fn send(&self, message: String) -> bool {
        match self.queue.try_send(Message::Text(message.into())) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.too_slow.notify_one();
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }
}

pub async fn serve(socket: WebSocket, gateway: Arc<Gateway>, slot: ClientSlot) {
    let (mut sink, mut stream) = socket.split();
    let (queue, mut outgoing) = mpsc::channel::<Message>(OUT_QUEUE);
    let too_slow = Arc::new(Notify::new());
    let page = ToPage {
        queue,
        too_slow: too_slow.clone(),
    };
    let mut writer = tokio::spawn(async move {
        while let Some(message) = outgoing.recv().await {
            let closing = matches!(message, Message::Close(_));
            match tokio::time::timeout(WRITE_DEADLINE, sink.send(message)).await {
                Ok(Ok(())) if !closing => {}
                _ => break,
            }
        }
        let _ = sink.close().await;
    });
    let mut events = gateway.events.subscribe();
    let markdown = Arc::new(Semaphore::new(MARKDOWN_AT_ONCE));
    let mut ready = false;
    let mut last_heard = tokio::time::Instant::now();
    let mut ping = tokio::time::interval_at(last_heard + PING_EVERY, PING_EVERY);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tracing::info!("device {} connected", slot.device);
    loop {
        tokio::select! {
            _ = ping.tick() => {
                if last_heard.elapsed() >= SILENT_LIMIT {
                    tracing::info!("device {}: silent for {} s, dropped", slot.device, SILENT_LIMIT.as_secs());
                    break;
                }
                let _ = page.queue.try_send(Message::Ping(Default::default()));
            }
            () = slot.close.notified() => {
                let frame = CloseFrame { code: CLOSE_SIGNED_OUT, reason: "signed out".into() };
                let _ = page.queue.try_send(Message::Close(Some(frame)));
                let _ = tokio::time::timeout(Duration::from_secs(2), &mut writer).await;
                tracing::info!("device {}: signed out, its page closed", slot.device);
                break;
            }
            () = too_slow.notified() => {
                tracing::info!("device {}: too slow, dropped (its page reconnects)", slot.device);
                break;
            }
            _ = &mut writer => break,
            batch = events.recv() => match batch {
                Ok(batch) => if ready { page.send(batch.to_string()); },
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                    tracing::info!("device {}: fell behind the events, dropped", slot.device);
                    break;
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            },
            frame = stream.next() => {
                if let Some(Ok(_)) = &frame {
                    last_heard = tokio::time::Instant::now();
                }
                match frame {
                    Some(Ok(Message::Text(text))) => {
                        ready |= handle(text.as_str(), &gateway, &page, &markdown);
                    }
                    Some(Ok(Message::Binary(_))) => {
                        tracing::debug!("device {}: binary frame ignored", slot.device);
                    }
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                }
            }
        }
    }
    writer.abort();
    tracing::info!("device {} disconnected", slot.device);
}

/// Acts on one message from the page; true once the page said it is ready.
fn handle(text: &str, gateway: &Arc<Gateway>, page: &ToPage, markdown: &Arc<Semaphore>) -> bool {
    let message = match crate::page::protocol::parse(text) {
        Ok(m) => m,
        Err(rejected) => {
            tracing::warn!("refused a page message: {}", rejected.reason);
            if let Some(id) = rejected.call_id {
                page.result(id, Err(refused(rejected.reason)));
            }
            return false;
        }
    };
    match message {
        FromPage::Ready {} => {
            page.send(init_message(gateway));
            let connection = gateway.connection.borrow().clone();
            if !connection.is_empty() {
                page.send(connection);
            }
            return true;
        }
        FromPage::Call { id, call } => {
            let Some(client) = gateway.client.borrow().clone() else {
                page.result(
                    id,
                    Err(CallError {
                        kind: "unreachable",
                        message: "No OpenCode server is running.".into(),
                    }),
                );
                return false;
            };
            let page = page.clone();
            tokio::spawn(async move {
                let outcome = server_calls::run(&client, &call).await;
                page.result(id, outcome);
            });
        }
        FromPage::Nexus { id, call } => {
            tracing::warn!("refused a remote page's call to Nexus itself: {call:?}");
            page.result(
                id,
                Err(refused(
                    "Settings, setup and logs are only available on the computer itself.".into(),
                )),
            );
        }
        FromPage::Markdown {
            id,
            text,
            code_later,
        } => {
            let request = MarkdownRequest {
                id,
                text,
                code_later,
            };
            render_markdown(vec![request], page, markdown);
        }
        FromPage::MarkdownBatch { requests } => render_markdown(requests, page, markdown),
        // The phone keeps its own drafts, opens its own links and has no
        // window for Nexus to place, hide or focus.
        FromPage::Draft { .. }
        | FromPage::Hide {}
        | FromPage::OpenExternal { .. }
        | FromPage::Painted { .. }
        | FromPage::FocusSession { .. } => {}
    }
    false
}

/// Answers the page's Markdown requests, one batch at a time per page, with
/// their answers as one message (a long answer's hundred chunks as a hundred
/// messages would fill the page's queue, and a page whose queue is full is
/// dropped).
fn render_markdown(requests: Vec<MarkdownRequest>, page: &ToPage, markdown: &Arc<Semaphore>) {
    let page = page.clone();
    let markdown = markdown.clone();
    tokio::spawn(async move {
        let Ok(_turn) = markdown.acquire_owned().await else {
            return;
        };
        let rendered = tokio::task::spawn_blocking(move || {
            let answer = |request: MarkdownRequest| {
                let code = crate::markdown::Code::later_if(request.code_later);
                // A fault in the parser costs that answer (the page shows
                // the text as it is), not the others.
                std::panic::catch_unwind(|| crate::markdown::to_tree_with(&request.text, code))
                    .ok()
                    .map(|tree| markdown_answer(request.id, &tree))
            };
            requests.into_iter().filter_map(answer).collect::<Vec<_>>()
        })
        .await;
        if let Ok(answers) = rendered
            && !answers.is_empty()
        {
            page.send(markdown_answers(answers));
        }
        drop_highlighting_when_idle();
    });
}

/// Drops the syntax definitions' compiled regexes (up to ~45 MiB a language)
/// once no code has been highlighted for `highlight::UNLOAD_AFTER`, and gives
/// the memory back: the gateway lives as long as remote access is on, and a
/// phone that showed code once should not leave it large for days. One
/// watcher at a time, started by a render and gone once nothing is due, so
/// an idle gateway has no timer for it.
fn drop_highlighting_when_idle() {
    use crate::markdown::highlight;
    use std::sync::atomic::{AtomicBool, Ordering};
    static WATCHING: AtomicBool = AtomicBool::new(false);
    if WATCHING.swap(true, Ordering::AcqRel) {
        return;
    }
    tokio::spawn(async {
        loop {
            while let Some(due) = highlight::unload_due() {
                tokio::time::sleep_until(due.into()).await;
                let dropped = tokio::task::spawn_blocking(|| {
                    let dropped = highlight::unload_if_idle(std::time::Instant::now());
                    if dropped {
                        crate::platform::give_back_freed_memory();
                    }
                    dropped
                })
                .await;
                match dropped {
                    Ok(true) => tracing::info!(
                        "code highlighting's compiled syntax dropped (unused for a while)"
                    ),
                    Ok(false) => {}
                    // The runtime is shutting down.
                    Err(_) => return,
                }
            }
            WATCHING.store(false, Ordering::Release);
            // A render that highlighted after the last look saw a watcher
            // and started none: look once more before going.
            if highlight::unload_due().is_none() || WATCHING.swap(true, Ordering::AcqRel) {
                return;
            }
        }
    });
}

fn refused(message: String) -> CallError {
    CallError {
        kind: "rejected",
        message,
    }
}

/// The page's `init` on a phone: the projects, no drafts, `remote: true`.
fn init_message(gateway: &Gateway) -> String {
    let setup = gateway.setup.borrow().clone();
    let (directories, default_directory) = setup
        .map(|s| (s.directories, s.default_directory))
        .unwrap_or_default();
    json!({
        "type": "init",
        "directories": directories,
        "default_directory": default_directory,
        "drafts": {},
        "focus": {"session": null},
        "first_run": false,
        "max_draft_bytes": MAX_DRAFT_BYTES,
        "remote": true,
    })
    .to_string()
}
