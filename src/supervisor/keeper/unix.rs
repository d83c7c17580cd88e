//! The keeper on Unix (Linux, macOS): a process of its own, the subreaper
//! of the server's tree, linked to the daemon by a socket on its stdin.

use super::{KeeperError, SUBCOMMAND, parse_exit_report, parse_start_report};
use crate::core::model::StopSignal;
use crate::platform::{self, ProcessId};
use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};
use tokio::io::AsyncBufReadExt;

/// How long tool processes get between SIGTERM and SIGKILL once the server is gone.
const LEFTOVER_GRACE: Duration = Duration::from_secs(2);
/// How long the server gets to stop after the daemon died, before SIGKILL.
const ORPHANED_GRACE: Duration = Duration::from_secs(5);
/// How long the daemon waits for the keeper to report the server's pid.
const START_TIMEOUT: Duration = Duration::from_secs(15);

// ---------------------------------------------------------------- keeper side

/// The keeper process's `main`: runs `command` and returns the exit code.
pub fn run(command: Vec<OsString>) -> u8 {
    let Some(mut link) = daemon_link() else {
        eprintln!(
            "opencode-nexus {SUBCOMMAND} is started by the Nexus daemon itself (its stdin must be the daemon's socket); run `opencode-nexus` instead"
        );
        return 2;
    };
    let Some((program, args)) = command.split_first() else {
        let _ = writeln!(link, "failed no server command given to the keeper");
        return 2;
    };
    if let Err(e) = platform::become_child_subreaper() {
        let _ = writeln!(link, "failed cannot become a subreaper: {e}");
        return 1;
    }
    let server = match std::process::Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        // Its own process group, so a stop reaches the server's children too.
        .process_group(0)
        .spawn()
    {
        Ok(child) => child,
        Err(e) => {
            let _ = writeln!(
                link,
                "failed cannot run {}: {e}",
                Path::new(program).display()
            );
            return 1;
        }
    };
    let pid = server.id();
    // Exit statuses are collected with waitpid(-1) below, orphans included.
    drop(server);
    platform::forward_stop_signals_to_group(pid);
    // If the daemon is already gone, the watcher below stops the server.
    let _ = writeln!(link, "started {pid}");
    let server_id =
        platform::process_start_time(pid).map(|start_time| ProcessId { pid, start_time });
    if let Ok(watch) = link.try_clone() {
        std::thread::spawn(move || stop_when_daemon_dies(watch, pid, server_id));
    }

    let status = loop {
        match platform::wait_any_child() {
            Some((ended, status)) if ended == pid => break status,
            Some(_) => continue, // an orphan the server left while it runs
            None => break 0,
        }
    };
    let _ = writeln!(link, "exited {status}");
    stop_leftovers(pid, LEFTOVER_GRACE);
    0
}

/// The socket on stdin, or `None` when stdin is something else.
fn daemon_link() -> Option<UnixStream> {
    let fd = std::io::stdin().as_fd().try_clone_to_owned().ok()?;
    let link = UnixStream::from(fd);
    // getsockopt fails on anything that is not a socket.
    link.take_error().ok()?;
    Some(link)
}

/// Blocks until the daemon's end of the link closes (it exited or crashed),
/// then stops the server's whole tree.
fn stop_when_daemon_dies(mut link: UnixStream, pid: u32, server: Option<ProcessId>) {
    let mut buffer = [0u8; 64];
    loop {
        match link.read(&mut buffer) {
            Ok(0) => break,
            Ok(_) => continue, // the daemon sends nothing; ignore whatever comes
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
    let still_ours =
        || server.is_some_and(|s| platform::process_start_time(pid) == Some(s.start_time));
    if !still_ours() {
        return;
    }
    signal_tree(pid, StopSignal::Terminate);
    let deadline = Instant::now() + ORPHANED_GRACE;
    while Instant::now() < deadline && still_ours() {
        std::thread::sleep(Duration::from_millis(100));
    }
    if still_ours() {
        signal_tree(pid, StopSignal::Kill);
    }
}

/// Signals the server's group and every descendant that left it.
pub fn signal_tree(root: u32, signal: StopSignal) {
    let _ = platform::signal_process_group(root, signal);
    for process in platform::descendants(root) {
        platform::signal_process(process, signal);
    }
}

/// After the server exited: everything still below the keeper, and what is
/// left of the server's group, is the server's leftover. SIGTERM, then
/// SIGKILL after `grace`, reaping as they go.
fn stop_leftovers(pgid: u32, grace: Duration) {
    let me = std::process::id();
    let leftovers = || platform::descendants(me);
    let mut remaining = leftovers();
    if remaining.is_empty() && !platform::process_group_alive(pgid) {
        return;
    }
    let _ = platform::signal_process_group(pgid, StopSignal::Terminate);
    for p in &remaining {
        platform::signal_process(*p, StopSignal::Terminate);
    }
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        platform::reap_ended_children();
        remaining = leftovers();
        if remaining.is_empty() && !platform::process_group_alive(pgid) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = platform::signal_process_group(pgid, StopSignal::Kill);
    for p in leftovers() {
        platform::signal_process(p, StopSignal::Kill);
    }
    std::thread::sleep(Duration::from_millis(50));
    platform::reap_ended_children();
}

// ---------------------------------------------------------------- daemon side

/// A server running under its keeper, as the daemon sees it.
pub struct KeptServer {
    /// The server's own pid (not the keeper's): what is signalled and measured.
    pub pid: u32,
    server: Option<ProcessId>,
    pub keeper: tokio::process::Child,
    link: tokio::net::UnixStream,
}

/// How the daemon starts the keeper: the same binary, the hidden subcommand,
/// then the server's program and arguments. `configure` adds the directory,
/// the environment (the password) and the output pipes.
pub fn start(
    server_program: &Path,
    server_args: &[String],
    configure: impl FnOnce(&mut tokio::process::Command),
) -> Result<KeptServer, KeeperError> {
    let (ours, theirs) = UnixStream::pair().map_err(KeeperError::Socket)?;
    let mut command = tokio::process::Command::new(this_program());
    command
        .arg0("opencode-nexus")
        .arg(SUBCOMMAND)
        .arg("--")
        .arg(server_program)
        .args(server_args)
        .stdin(Stdio::from(std::os::fd::OwnedFd::from(theirs)))
        // Not in the daemon's group: a Ctrl-C to the daemon is the daemon's
        // to handle (it stops the server itself).
        .process_group(0)
        .kill_on_drop(false);
    configure(&mut command);
    let mut keeper = command.spawn().map_err(|source| KeeperError::CannotRun {
        program: this_program(),
        source,
    })?;
    // The command held the keeper's end; close ours of it now so end-of-file
    // means the keeper is gone.
    drop(command);
    match read_start_report(&ours) {
        Ok(pid) => {
            ours.set_read_timeout(None)
                .and_then(|()| ours.set_nonblocking(true))
                .map_err(KeeperError::Watch)?;
            let link = tokio::net::UnixStream::from_std(ours).map_err(KeeperError::Watch)?;
            let server =
                platform::process_start_time(pid).map(|start_time| ProcessId { pid, start_time });
            Ok(KeptServer {
                pid,
                server,
                keeper,
                link,
            })
        }
        Err(reason) => {
            let _ = keeper.start_kill();
            // Reap it in the background; it is already ending.
            tokio::spawn(async move { keeper.wait().await });
            Err(KeeperError::Report(reason))
        }
    }
}

/// The binary the keeper runs from: this one, even if it was replaced on disk
/// since (an upgrade while Nexus runs).
fn this_program() -> std::path::PathBuf {
    let proc_exe = Path::new("/proc/self/exe");
    if proc_exe.exists() {
        return proc_exe.to_path_buf();
    }
    std::env::current_exe().unwrap_or_else(|_| "opencode-nexus".into())
}

/// Reads the keeper's first line, byte by byte (nothing beyond it is consumed).
fn read_start_report(mut link: &UnixStream) -> Result<u32, String> {
    link.set_read_timeout(Some(START_TIMEOUT))
        .map_err(|e| format!("cannot watch the server keeper: {e}"))?;
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        match link.read(&mut byte) {
            Ok(0) => return Err("the server keeper ended before starting the server".into()),
            Ok(_) if byte[0] == b'\n' => break,
            Ok(_) if line.len() < 4096 => line.push(byte[0]),
            Ok(_) => return Err("the server keeper sent a line too long".into()),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(format!(
                    "the server keeper did not report within {} s: {e}",
                    START_TIMEOUT.as_secs()
                ));
            }
        }
    }
    parse_start_report(&String::from_utf8_lossy(&line))
}

impl KeptServer {
    /// Waits until the server has exited and the keeper has stopped what it
    /// left behind; gives the server's own exit status. If the keeper itself
    /// was killed first, stops the server's tree from here.
    pub async fn wait(mut self) -> std::io::Result<ExitStatus> {
        let mut lines = tokio::io::BufReader::new(&mut self.link).lines();
        let mut status = None;
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(raw) = parse_exit_report(&line) {
                status = Some(ExitStatus::from_raw(raw));
            }
        }
        let keeper = self.keeper.wait().await;
        if let Some(status) = status {
            return Ok(status);
        }
        // The keeper died without a word (killed): the server may still run.
        if let Some(server) = self.server {
            let alive = || platform::process_start_time(server.pid) == Some(server.start_time);
            if alive() {
                tracing::warn!(
                    pid = server.pid,
                    "the server keeper ended first: stopping the server"
                );
                signal_tree(server.pid, StopSignal::Terminate);
                let deadline = tokio::time::Instant::now() + ORPHANED_GRACE;
                while alive() && tokio::time::Instant::now() < deadline {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                signal_tree(server.pid, StopSignal::Kill);
            }
        }
        let keeper = match keeper {
            Ok(s) => format!("{s}"),
            Err(e) => e.to_string(),
        };
        Err(std::io::Error::other(format!(
            "its keeper process ended first ({keeper})"
        )))
    }
}
