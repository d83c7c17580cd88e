//! Keeps the remote gateway process running while `remote.enabled` is
//! true (restarting it with backoff if it dies, restarting it when
//! `[remote]` changes) and not at all otherwise; and serves its link: the
//! page's setup and the server's address, whenever they change.

use super::Shared;
use super::control::{Lines, Replies};
use crate::config::RemoteConfig;
use crate::ipc::protocol::ToPopover;
use crate::paths::Paths;
use std::time::Duration;
use tokio::process::{Child, Command};

/// The longest wait before restarting a gateway that keeps failing.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// A gateway that ran this long is considered to have worked.
const RAN_WELL: Duration = Duration::from_secs(30);

/// Runs until the daemon exits, then stops the gateway.
pub(crate) async fn keep(shared: Shared, paths: Paths) {
    let mut config = shared.config.clone();
    let mut exited = shared.exited.clone();
    let mut backoff = Duration::from_secs(1);
    loop {
        let wanted: RemoteConfig = config.borrow_and_update().remote.clone();
        if !wanted.enabled {
            tokio::select! {
                changed = config.changed() => if changed.is_err() { return },
                _ = exited.wait_for(|e| *e) => return,
            }
            continue;
        }
        let mut child = match start(&paths) {
            Ok(child) => child,
            Err(e) => {
                tracing::error!("cannot start the remote gateway: {e}");
                tokio::select! {
                    changed = config.changed() => if changed.is_err() { return },
                    _ = exited.wait_for(|e| *e) => return,
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        tracing::info!("remote gateway started on {}", wanted.listen);
        let started = tokio::time::Instant::now();
        enum Next {
            Died,
            Changed,
            Stop,
        }
        let next = tokio::select! {
            status = child.wait() => {
                match status {
                    Ok(s) => tracing::warn!("the remote gateway stopped ({s}); see {}", paths.gateway_log().display()),
                    Err(e) => tracing::warn!("the remote gateway: {e}"),
                }
                Next::Died
            }
            changed = wait_for_remote_change(&mut config, &wanted) => {
                if changed.is_err() { Next::Stop } else { Next::Changed }
            }
            _ = exited.wait_for(|e| *e) => Next::Stop,
        };
        let _ = child.kill().await;
        match next {
            Next::Stop => return,
            Next::Changed => tracing::info!("[remote] changed: restarting the gateway"),
            Next::Died => {
                if started.elapsed() >= RAN_WELL {
                    backoff = Duration::from_secs(1);
                }
                tokio::select! {
                    _ = exited.wait_for(|e| *e) => return,
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

async fn wait_for_remote_change(
    config: &mut tokio::sync::watch::Receiver<std::sync::Arc<crate::config::Config>>,
    current: &RemoteConfig,
) -> Result<(), tokio::sync::watch::error::RecvError> {
    loop {
        config.changed().await?;
        if config.borrow_and_update().remote != *current {
            return Ok(());
        }
    }
}

fn start(paths: &Paths) -> Result<Child, String> {
    let program = crate::programs::gateway_program()?;
    std::fs::create_dir_all(&paths.state_dir)
        .map_err(|e| format!("cannot create {}: {e}", paths.state_dir.display()))?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(paths.gateway_log())
        .map_err(|e| format!("cannot open {}: {e}", paths.gateway_log().display()))?;
    let err = log
        .try_clone()
        .map_err(|e| format!("cannot open {}: {e}", paths.gateway_log().display()))?;
    Command::new(&program)
        .stdin(std::process::Stdio::null())
        .stdout(log)
        .stderr(err)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", program.display()))
}

/// The gateway's link: its setup and the server's address, now and on change.
pub(crate) async fn serve_link(
    shared: &Shared,
    reader: &mut Lines,
    replies: &mut Replies,
) -> std::io::Result<()> {
    let mut setup = shared.popover.setup.clone();
    let mut access = shared.popover.access.clone();
    let first = setup.borrow_and_update().clone();
    replies.send(&ToPopover::Setup { setup: first }).await?;
    let first = access.borrow_and_update().clone();
    replies.send(&ToPopover::Server { access: first }).await?;
    loop {
        tokio::select! {
            changed = setup.changed() => {
                if changed.is_err() { return Ok(()) }
                let now = setup.borrow_and_update().clone();
                replies.send(&ToPopover::Setup { setup: now }).await?;
            }
            changed = access.changed() => {
                if changed.is_err() { return Ok(()) }
                let now = access.borrow_and_update().clone();
                replies.send(&ToPopover::Server { access: now }).await?;
            }
            line = reader.next_line() => match line {
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => return Ok(()),
            },
        }
    }
}
