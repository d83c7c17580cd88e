//! Runs the managed `opencode serve`: spawn it under its keeper (its own
//! process group, a fresh password), learn its URL, wait for health, keep its
//! output, reap it and whatever it left behind.
//!
//! Decisions (when to restart, when to give up) belong to the core; this
//! module carries out `Spawn` and `Signal` effects and reports what happened.

pub mod keeper;
pub mod locate;
pub mod resource_use;
pub mod server_log;

use crate::config::ServerConfig;
use crate::core::model::StopSignal;
use crate::core::server_exit::{PermanentExit, classify_exit};
use crate::core::{Event, ExitReport, LaunchId};
use crate::paths::Paths;
use crate::platform;
use crate::server::client::{Credentials, Secret, ServerClient};
use server_log::ServerLog;
use std::collections::VecDeque;
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::{mpsc, oneshot};

/// Why a launch of the server could not start; the core hears its text as
/// `SpawnFailed`'s reason.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    /// No runnable `opencode` (not found, or `server.command` is not executable).
    #[error("{0}")]
    Binary(String),
    #[error("server.directory = {} is not a directory; create it or choose another", .0.display())]
    NotADirectory(PathBuf),
    #[error("{}", port_in_use(.0))]
    PortInUse(u16),
    #[error("no randomness for the server password: {0}")]
    NoRandomness(getrandom::Error),
    #[error(transparent)]
    Keeper(#[from] keeper::KeeperError),
}

/// Everything the supervisor needs from outside, gathered once.
#[derive(Debug, Clone)]
pub struct SupervisorSetup {
    pub server: ServerConfig,
    pub paths: Paths,
    /// The PATH to search for `opencode`.
    pub path_var: Option<OsString>,
}

/// The launch currently owned by the supervisor.
struct Current {
    launch: LaunchId,
    password: Secret,
}

pub struct Supervisor {
    setup: SupervisorSetup,
    log: Arc<Mutex<ServerLog>>,
    events: mpsc::Sender<Event>,
    current: Option<Current>,
}

impl Supervisor {
    pub fn new(
        setup: SupervisorSetup,
        log: Arc<Mutex<ServerLog>>,
        events: mpsc::Sender<Event>,
    ) -> Self {
        Supervisor {
            setup,
            log,
            events,
            current: None,
        }
    }

    /// New server settings, used from the next launch on.
    pub fn set_server(&mut self, server: ServerConfig) {
        self.setup.server = server;
    }

    /// The credentials of launch `launch`, while it is the current one.
    pub fn credentials(&self, launch: Option<LaunchId>) -> Option<Credentials> {
        let current = self.current.as_ref()?;
        if launch.is_some_and(|l| l != current.launch) {
            return None;
        }
        Some(Credentials {
            username: self.setup.server.username.clone(),
            password: Some(current.password.clone()),
        })
    }

    /// Carries out `Effect::Spawn`; the returned event (`Spawned` or
    /// `SpawnFailed`) must be fed to the core before anything else about
    /// this launch, so it is returned rather than queued.
    pub fn spawn(&mut self, launch: LaunchId) -> Event {
        match self.try_spawn(launch) {
            Ok(pid) => Event::Spawned { launch, pid },
            Err(error) => {
                let reason = error.to_string();
                tracing::error!("cannot start the server: {reason}");
                self.log_line("nexus", &format!("cannot start the server: {reason}"));
                Event::SpawnFailed { launch, reason }
            }
        }
    }

    fn log_line(&self, stream: &str, line: &str) {
        if let Ok(mut log) = self.log.lock() {
            log.push(stream, line);
        }
    }

    fn try_spawn(&mut self, launch: LaunchId) -> Result<u32, SpawnError> {
        let server = &self.setup.server;
        let binary = locate::find_opencode(
            server.command.as_deref(),
            self.setup.path_var.as_deref(),
            &self.setup.paths.home,
        )
        .map_err(SpawnError::Binary)?;
        if !server.directory.is_dir() {
            return Err(SpawnError::NotADirectory(server.directory.clone()));
        }
        if server.port != 0 && std::net::TcpListener::bind(("127.0.0.1", server.port)).is_err() {
            return Err(SpawnError::PortInUse(server.port));
        }
        let password = Secret::new(random_password()?);
        let args = [
            "serve".to_string(),
            "--hostname".to_string(),
            "127.0.0.1".to_string(),
            "--port".to_string(),
            server.port.to_string(),
        ];
        // The server runs under its keeper, which stops whatever the server
        // leaves behind (and only that) and dies with us.
        let mut kept = keeper::start(&binary, &args, |command| {
            command
                .current_dir(&server.directory)
                // The password goes through the environment, never the command line.
                .env("OPENCODE_SERVER_PASSWORD", password.expose())
                .env("OPENCODE_SERVER_USERNAME", &server.username)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
        })?;
        let pid = kept.pid;
        if let Ok(mut log) = self.log.lock() {
            log.set_redactions(vec![password.expose().to_string()]);
            log.push(
                "nexus",
                &format!("started {} serve (pid {pid})", binary.display()),
            );
        }
        tracing::info!(launch, pid, "started {} serve", binary.display());
        write_pid_file(&self.setup.paths.server_pid_file(), pid);

        let tail = Arc::new(Mutex::new(VecDeque::new()));
        let (url_tx, url_rx) = oneshot::channel();
        let stdout = kept
            .keeper
            .stdout
            .take()
            .map(|s| self.read_output(s, "stdout", Some(url_tx), None));
        let stderr = kept
            .keeper
            .stderr
            .take()
            .map(|s| self.read_output(s, "stderr", None, Some(tail.clone())));

        let credentials = Credentials {
            username: server.username.clone(),
            password: Some(password.clone()),
        };
        let readiness = tokio::spawn(wait_until_ready(
            launch,
            url_rx,
            credentials,
            self.events.clone(),
        ));

        let events = self.events.clone();
        let pid_file = self.setup.paths.server_pid_file();
        let port = server.port;
        tokio::spawn(async move {
            // Returns once the server is gone and its keeper has stopped
            // everything it started.
            let status = kept.wait().await;
            readiness.abort();
            // Let the readers drain the last lines before classifying the exit.
            for reader in [stdout, stderr].into_iter().flatten() {
                let _ = tokio::time::timeout(Duration::from_secs(1), reader).await;
            }
            let _ = std::fs::remove_file(&pid_file);
            let tail: Vec<String> = tail
                .lock()
                .map(|t| t.iter().cloned().collect())
                .unwrap_or_default();
            let exit = describe_exit(status, &tail, port);
            tracing::warn!(launch, pid, "server {}", exit.description);
            let _ = events.send(Event::Exited { launch, exit }).await;
        });
        self.current = Some(Current { launch, password });
        Ok(pid)
    }

    fn read_output<R: AsyncRead + Unpin + Send + 'static>(
        &self,
        stream: R,
        name: &'static str,
        mut url_tx: Option<oneshot::Sender<String>>,
        tail: Option<Arc<Mutex<VecDeque<String>>>>,
    ) -> tokio::task::JoinHandle<()> {
        let log = self.log.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stream).lines();
            loop {
                let line = match lines.next_line().await {
                    Ok(Some(line)) => line,
                    Ok(None) => break,
                    // Not UTF-8 or a read error: keep reading what we can.
                    Err(e) if e.kind() == std::io::ErrorKind::InvalidData => continue,
                    Err(_) => break,
                };
                if let Some(url) = url_tx.as_ref().and(listening_url(&line)) {
                    let _ = url_tx.take().map(|tx| tx.send(url));
                }
                if let Some(Ok(mut tail)) = tail.as_ref().map(|t| t.lock()) {
                    if tail.len() == 20 {
                        tail.pop_front();
                    }
                    tail.push_back(line.clone());
                }
                if let Ok(mut log) = log.lock() {
                    log.push(name, &line);
                }
            }
        })
    }

    /// Carries out `Effect::Signal` on the launch's process group.
    pub fn signal(&self, launch: LaunchId, pid: u32, signal: StopSignal) {
        tracing::info!(
            launch,
            pid,
            ?signal,
            "signalling the server's process group"
        );
        if let Err(e) = platform::signal_process_group(pid, signal) {
            tracing::warn!(launch, pid, "cannot signal the server: {e}");
        }
    }
}

/// Waits for the URL line, then for `/global/health` to answer healthy.
async fn wait_until_ready(
    launch: LaunchId,
    url: oneshot::Receiver<String>,
    credentials: Credentials,
    events: mpsc::Sender<Event>,
) {
    let Ok(url) = url.await else { return };
    let client = ServerClient::new(&url, &credentials);
    loop {
        match client.health().await {
            Ok(health) if health.healthy => {
                let _ = events
                    .send(Event::Ready {
                        launch,
                        url,
                        version: health.version,
                    })
                    .await;
                return;
            }
            Ok(_) | Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// The URL from `opencode server listening on http://127.0.0.1:PORT`.
pub fn listening_url(line: &str) -> Option<String> {
    let start = line.find("listening on ")? + "listening on ".len();
    let url = line[start..].split_whitespace().next()?;
    (url.starts_with("http://") || url.starts_with("https://"))
        .then(|| url.trim_end_matches('/').to_string())
}

fn port_in_use(port: &u16) -> String {
    PermanentExit::PortInUse { port: *port }.to_string()
}

/// Describes an exit, and says when retrying cannot help.
pub fn describe_exit(
    status: std::io::Result<std::process::ExitStatus>,
    tail: &[String],
    port: u16,
) -> ExitReport {
    let description = match &status {
        Ok(s) => crate::platform::describe_exit_status(*s),
        Err(e) => format!("could not be waited for: {e}"),
    };
    let last = tail
        .iter()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map(|l| l.trim().to_string());
    // Whether retrying can help is the core's call.
    let permanent = classify_exit(tail, port).map(|why| why.to_string());
    ExitReport {
        description: match last {
            Some(line) if status.as_ref().map(|s| !s.success()).unwrap_or(true) => {
                format!("{description}: {}", cut(&line, 300))
            }
            _ => description,
        },
        permanent,
    }
}

fn cut(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn random_password() -> Result<String, SpawnError> {
    let mut bytes = [0u8; 32]; // 256 bits
    getrandom::fill(&mut bytes).map_err(SpawnError::NoRandomness)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn write_pid_file(path: &PathBuf, pid: u32) {
    let Some(start) = platform::process_start_time(pid) else {
        return;
    };
    if let Err(e) = std::fs::write(path, format!("{pid} {start}\n")) {
        tracing::warn!("cannot record the server pid in {}: {e}", path.display());
    }
}

/// A previous Nexus died without stopping its server: stop that group, but
/// only if the recorded process is provably the one we started (same start time).
pub fn stop_orphan_from_previous_run(paths: &Paths) {
    let path = paths.server_pid_file();
    let Ok(text) = std::fs::read_to_string(&path) else {
        return;
    };
    let _ = std::fs::remove_file(&path);
    let mut parts = text.split_whitespace().map(str::parse::<u64>);
    let (Some(Ok(pid)), Some(Ok(start))) = (parts.next(), parts.next()) else {
        return;
    };
    let Ok(pid) = u32::try_from(pid) else { return };
    if platform::process_start_time(pid) == Some(start) {
        tracing::warn!(pid, "stopping the server left behind by a previous Nexus");
        // Its keeper normally did this already; here both were killed at once.
        keeper::signal_tree(pid, StopSignal::Kill);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_listening_url() {
        assert_eq!(
            listening_url("opencode server listening on http://127.0.0.1:44345").as_deref(),
            Some("http://127.0.0.1:44345")
        );
        assert_eq!(
            listening_url("Warning: OPENCODE_SERVER_PASSWORD is not set"),
            None
        );
        assert_eq!(listening_url("listening on ftp://x"), None);
    }

    #[cfg(unix)]
    #[test]
    fn port_in_use_is_permanent_and_crashes_are_not() {
        use std::os::unix::process::ExitStatusExt;
        let status = Ok(std::process::ExitStatus::from_raw(1 << 8));
        let exit = describe_exit(
            status,
            &["Error: Unexpected error … ServeError".into()],
            4096,
        );
        assert!(
            exit.permanent
                .unwrap()
                .contains("port 4096 is already in use")
        );
        let killed = Ok(std::process::ExitStatus::from_raw(9));
        let exit = describe_exit(killed, &[], 0);
        assert_eq!(exit.description, "was killed by signal 9");
        assert!(exit.permanent.is_none());
    }

    #[test]
    fn passwords_are_long_and_fresh() {
        let a = random_password().unwrap();
        assert_eq!(a.len(), 64);
        assert_ne!(a, random_password().unwrap());
    }

    #[test]
    fn orphan_cleanup_ignores_a_reused_pid() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::from_vars(|n| (n == "XDG_RUNTIME_DIR").then(|| dir.path().into()));
        std::fs::create_dir_all(&paths.runtime_dir).unwrap();
        // Our own pid with a wrong start time: must not be signalled.
        std::fs::write(
            paths.server_pid_file(),
            format!("{} 1\n", std::process::id()),
        )
        .unwrap();
        stop_orphan_from_previous_run(&paths);
        assert!(!paths.server_pid_file().exists());
    }
}
