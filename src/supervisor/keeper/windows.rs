//! Windows: no keeper process. The server runs in its own console process
//! group (so CTRL_BREAK reaches it and not Nexus) inside a Job Object with
//! kill-on-close: when the server exits, whatever it left in the job is
//! ended; when Nexus exits or crashes, the job's handle closes and Windows
//! ends the whole tree. Not yet run on a real Windows machine.

use super::KeeperError;
use crate::core::model::StopSignal;
use crate::platform::{self, ServerJob};
use std::ffi::OsString;
use std::path::Path;
use std::process::{ExitStatus, Stdio};

/// `opencode-nexus server-keeper` is the Unix design; on Windows the daemon
/// contains the server itself.
pub fn run(_command: Vec<OsString>) -> u8 {
    eprintln!(
        "opencode-nexus {}: {}",
        super::SUBCOMMAND,
        platform::not_supported_yet("the server keeper process")
    );
    2
}

/// A server running in its job, as the daemon sees it.
pub struct KeptServer {
    /// The server's pid (its process group's id too).
    pub pid: u32,
    /// The server process itself (named as on Unix, where it is the keeper).
    pub keeper: tokio::process::Child,
    job: ServerJob,
}

/// Starts the server in its own process group and job. `configure` adds the
/// directory, the environment (the password) and the output pipes.
pub fn start(
    server_program: &Path,
    server_args: &[String],
    configure: impl FnOnce(&mut tokio::process::Command),
) -> Result<KeptServer, KeeperError> {
    let job = ServerJob::new().map_err(KeeperError::Job)?;
    let mut command = tokio::process::Command::new(server_program);
    command
        .args(server_args)
        .stdin(Stdio::null())
        .creation_flags(platform::CREATE_NEW_PROCESS_GROUP)
        .kill_on_drop(false);
    configure(&mut command);
    let mut server = command.spawn().map_err(|source| KeeperError::CannotRun {
        program: server_program.to_path_buf(),
        source,
    })?;
    let assigned = match (server.id(), server.raw_handle()) {
        (Some(pid), Some(handle)) => job.assign(handle).map(|()| pid),
        _ => Err(std::io::Error::other("the server ended at once")),
    };
    match assigned {
        Ok(pid) => Ok(KeptServer {
            pid,
            keeper: server,
            job,
        }),
        Err(e) => {
            // Uncontained, it must not run on.
            let _ = server.start_kill();
            Err(KeeperError::Job(e))
        }
    }
}

/// Stops the server's group: CTRL_BREAK, or TerminateProcess for `Kill`
/// (the job ends the rest when the server is gone).
pub fn signal_tree(root: u32, signal: StopSignal) {
    let _ = platform::signal_process_group(root, signal);
}

impl KeptServer {
    /// Waits until the server has exited, then ends whatever it left in its
    /// job; gives the server's exit status.
    pub async fn wait(mut self) -> std::io::Result<ExitStatus> {
        let status = self.keeper.wait().await;
        if let Err(e) = self.job.terminate() {
            tracing::warn!("cannot end what the server left running: {e}");
        }
        status
    }
}
