//! Serves one control connection: reads its request, answers it.

use super::Shared;
use super::ask;
use super::popover_link;
use super::resource_watch;
use crate::core::popover_lifecycle::OpenRequest;
use crate::core::{Event, ServerState};
use crate::ipc::lines::{LineReader, LineWriter};
use crate::ipc::protocol::{self, Reply, Request, ServerAction};
use crate::platform::{ControlReader, ControlStream, ControlWriter, split_control};
use std::time::Duration;

/// The client's side of a control connection, one line at a time (cancel-safe).
pub(crate) type Lines = LineReader<ControlReader>;

/// Writes replies to the client (or commands to the popover); a vanished
/// client ends the conversation.
pub(crate) type Replies = LineWriter<ControlWriter>;

pub(crate) async fn serve(stream: ControlStream, shared: Shared) {
    // Only this user may control the daemon, even if the socket's or its
    // directory's modes were loosened.
    match crate::ipc::peer::same_user(&stream) {
        Ok(Ok(())) => {}
        Ok(Err(peer)) => {
            tracing::warn!(
                "refused a control connection from uid {} (pid {}): only uid {} may control this daemon",
                peer.uid,
                peer.pid
                    .map(|p| p.to_string())
                    .unwrap_or_else(|| "?".into()),
                crate::platform::user_id()
            );
            let (_, writer) = split_control(stream);
            let mut replies = Replies::new(writer);
            let _ = replies
                .send(&Reply::error(
                    "refused: this OpenCode Nexus belongs to another user",
                ))
                .await;
            return;
        }
        Err(e) => {
            tracing::warn!("refused a control connection: cannot tell its user: {e}");
            return;
        }
    }
    let (reader, writer) = split_control(stream);
    let mut reader = LineReader::new(reader);
    let mut replies = Replies::new(writer);
    let request = match reader.next_line().await {
        Ok(Some(line)) => protocol::decode::<Request>(&line),
        Ok(None) => return,
        Err(e) => Err(e.to_string()),
    };
    let request = match request {
        Ok(r) => r,
        Err(e) => {
            let _ = replies.send(&Reply::error(e)).await;
            return;
        }
    };
    tracing::debug!(?request, "control request");
    let result = match request {
        Request::Status {} => status(&shared, &mut replies).await,
        Request::Server { action } => server(&shared, action, &mut replies).await,
        Request::Ask {
            text,
            directory,
            session,
            model,
            agent,
        } => {
            let ask = ask::Ask {
                text,
                directory,
                session,
                model,
                agent,
            };
            ask::run(&shared, ask, &mut reader, &mut replies).await
        }
        Request::Abort {} => {
            replies
                .send(&Reply::error("abort is only understood during ask"))
                .await
        }
        Request::WaitIdle {} => wait_idle(&shared, &mut replies).await,
        Request::Logs { follow } => logs(&shared, follow, &mut replies).await,
        Request::Quit {} => quit(&shared, &mut replies).await,
        Request::Open {
            session,
            anchor,
            view,
        } => {
            let request = OpenRequest {
                session,
                anchor,
                view,
                token: 0,
            };
            popover_link::open(&shared, request, &mut replies).await
        }
        Request::Metrics {} => metrics(&shared, &mut replies).await,
        Request::PopoverAttach { pid } => {
            popover_link::serve_link(&shared, pid, &mut reader, &mut replies).await
        }
        Request::GatewayAttach {} => {
            super::gateway_keeper::serve_link(&shared, &mut reader, &mut replies).await
        }
        Request::Diagnostics {} => {
            let (tx, rx) = tokio::sync::oneshot::channel();
            let _ = shared.diagnostics_queries.send(tx).await;
            match rx.await {
                Ok(message) => replies.send(&Reply::Ok { message }).await,
                Err(_) => {
                    replies
                        .send(&Reply::error("the daemon is shutting down"))
                        .await
                }
            }
        }
    };
    if let Err(e) = result {
        tracing::debug!("control client went away: {e}");
    }
}

async fn metrics(shared: &Shared, replies: &mut Replies) -> std::io::Result<()> {
    let metrics = resource_watch::measure_now(shared).await;
    let text = match &metrics {
        Some(used) => format!("server process tree: {}", used.describe()),
        None => "no managed server process to measure".to_string(),
    };
    replies.send(&Reply::Metrics { metrics, text }).await
}

async fn status(shared: &Shared, replies: &mut Replies) -> std::io::Result<()> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let _ = shared.status_queries.send(tx).await;
    match rx.await {
        Ok(report) => {
            let text = report.to_text();
            let status = serde_json::to_value(&report).unwrap_or_default();
            replies.send(&Reply::Status { status, text }).await
        }
        Err(_) => {
            replies
                .send(&Reply::error("the daemon is shutting down"))
                .await
        }
    }
}

/// A state that will not change without something new happening.
fn is_settled(state: ServerState) -> bool {
    !matches!(state, ServerState::Starting | ServerState::Restarting)
}

async fn server(
    shared: &Shared,
    action: ServerAction,
    replies: &mut Replies,
) -> std::io::Result<()> {
    let mut summary = shared.summary.clone();
    let before = *summary.borrow_and_update();
    let event = match action {
        ServerAction::Start => Event::StartRequested,
        ServerAction::Stop => Event::StopRequested,
        ServerAction::Restart => Event::RestartRequested,
    };
    let _ = shared.events.send(event).await;
    let start_timeout = shared.config.borrow().server.start_timeout;
    let limit = start_timeout + crate::core::STOP_GRACE + Duration::from_secs(5);
    let done = tokio::time::timeout(limit, async {
        if action == ServerAction::Restart {
            // First see the old server go (a new pid, or a state other than running).
            let _ = tokio::time::timeout(
                crate::core::STOP_GRACE + Duration::from_secs(2),
                summary.wait_for(|s| s.state != before.state || s.server_pid != before.server_pid),
            )
            .await;
        }
        summary
            .wait_for(|s| match action {
                ServerAction::Stop => s.state == ServerState::Stopped && s.server_pid.is_none(),
                _ => is_settled(s.state) && s.state != ServerState::Stopped,
            })
            .await
            .map(|s| *s)
    })
    .await;
    match done {
        Ok(Ok(s)) if s.state == ServerState::Running || s.state == ServerState::Stopped => {
            replies
                .send(&Reply::Ok {
                    message: format!("server {}", s.state.as_str()),
                })
                .await
        }
        Ok(Ok(_)) => {
            let mut text = String::new();
            let _ = status_text(shared).await.map(|t| text = t);
            replies.send(&Reply::error(text)).await
        }
        Ok(Err(_)) => {
            replies
                .send(&Reply::error("the daemon is shutting down"))
                .await
        }
        Err(_) => {
            replies
                .send(&Reply::error(format!(
                    "no result within {} s",
                    limit.as_secs()
                )))
                .await
        }
    }
}

async fn status_text(shared: &Shared) -> Option<String> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    shared.status_queries.send(tx).await.ok()?;
    let report = rx.await.ok()?;
    Some(format!(
        "server {}: {}",
        report.server.state.as_str(),
        report.server.last_error.unwrap_or_default()
    ))
}

async fn wait_idle(shared: &Shared, replies: &mut Replies) -> std::io::Result<()> {
    let mut summary = shared.summary.clone();
    let outcome = summary
        .wait_for(|s| {
            s.is_idle()
                || matches!(
                    s.state,
                    ServerState::Failed | ServerState::Stopped | ServerState::AuthRequired
                )
        })
        .await
        .map(|s| *s);
    match outcome {
        Ok(s) if s.is_idle() => {
            replies
                .send(&Reply::Ok {
                    message: "idle".into(),
                })
                .await
        }
        Ok(s) => {
            let text = status_text(shared)
                .await
                .unwrap_or_else(|| format!("server {}", s.state.as_str()));
            replies.send(&Reply::error(text)).await
        }
        Err(_) => {
            replies
                .send(&Reply::error("the daemon is shutting down"))
                .await
        }
    }
}

/// The server log as the popover's log view starts it: the file's last
/// lines (the lines kept in memory when there is no file) and a subscription
/// to the lines to come, the same source `logs --follow` reads. Both are taken
/// under the log's lock, so no line is lost or repeated in between.
pub(crate) async fn log_tail(
    shared: &Shared,
) -> Result<
    (
        std::path::PathBuf,
        Vec<String>,
        tokio::sync::broadcast::Receiver<String>,
    ),
    String,
> {
    let log = shared.log.clone();
    tokio::task::spawn_blocking(move || {
        let log = log
            .lock()
            .map_err(|_| "the server log is unavailable".to_string())?;
        let file = log.path().to_path_buf();
        let (_, mut lines) = crate::page::log_follow::LogCursor::open(&file, Vec::new());
        if lines.is_empty() {
            lines = log.recent();
        }
        Ok((file, lines, log.subscribe()))
    })
    .await
    .unwrap_or_else(|e| Err(format!("reading the server log failed: {e}")))
}

async fn logs(shared: &Shared, follow: bool, replies: &mut Replies) -> std::io::Result<()> {
    let snapshot = shared
        .log
        .lock()
        .map(|log| (log.recent(), log.subscribe()))
        .ok();
    let Some((recent, mut live)) = snapshot else {
        return replies
            .send(&Reply::error("the server log is unavailable"))
            .await;
    };
    for line in recent {
        replies.send(&Reply::Log { line }).await?;
    }
    if !follow {
        return replies.send(&Reply::Done).await;
    }
    let mut exited = shared.exited.clone();
    loop {
        tokio::select! {
            line = live.recv() => match line {
                Ok(line) => replies.send(&Reply::Log { line }).await?,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    replies.send(&Reply::Log { line: format!("… {n} lines skipped") }).await?
                }
                Err(_) => return replies.send(&Reply::Done).await,
            },
            _ = exited.changed() => return replies.send(&Reply::Done).await,
        }
    }
}

async fn quit(shared: &Shared, replies: &mut Replies) -> std::io::Result<()> {
    let _ = shared.events.send(Event::QuitRequested).await;
    let mut exited = shared.exited.clone();
    while !*exited.borrow_and_update() {
        if exited.changed().await.is_err() {
            break;
        }
    }
    replies
        .send(&Reply::Ok {
            message: "OpenCode Nexus stopped".into(),
        })
        .await
}
