//! The server keeper: `opencode-nexus server-keeper -- opencode serve …`, a
//! small process of Nexus's own that runs the server as its only child and is
//! the subreaper for that tree alone.
//!
//! Why a process of its own: opencode starts tool commands in new sessions, so
//! when the server dies they are orphaned and go to the nearest subreaper. If
//! that were the daemon, it could not tell them from its own helpers that
//! outlive their parent (`xclip` serving the clipboard, `xdg-open`'s browser),
//! and cleanup would kill those too. Under the keeper, everything that comes
//! to it is the server's, so after the server exits it stops all of it.
//!
//! The keeper talks to the daemon over a socket on its stdin: it says
//! `started PID` once the server runs (or `failed REASON`), `exited STATUS`
//! (the raw wait status) when it ends, and exits after the cleanup. When the
//! daemon dies, the socket reaches end-of-file and the keeper stops the
//! server's tree, so a crashed Nexus leaves nothing running. The password
//! reaches the server only through the environment the keeper passes on.

//!
//! On Windows there is no keeper process: the daemon starts the server in
//! its own console process group inside a Job Object with kill-on-close,
//! which gives the same guarantee (nothing the server started outlives a
//! stop or a crashed Nexus) without a subreaper (`windows.rs`).

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub use unix::{KeptServer, run, signal_tree, start};

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub use windows::{KeptServer, run, signal_tree, start};

/// The hidden subcommand that runs the keeper.
pub const SUBCOMMAND: &str = "server-keeper";

/// Why the keeper (and with it the server) could not be started.
#[derive(Debug, thiserror::Error)]
pub enum KeeperError {
    #[error("cannot create the keeper's socket: {0}")]
    Socket(std::io::Error),
    /// This binary could not be run as the keeper (missing, not permitted …).
    #[error("cannot run the server keeper ({}): {source}", program.display())]
    CannotRun {
        program: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("cannot watch the server keeper: {0}")]
    Watch(std::io::Error),
    /// The keeper's start report: the server's own spawn failure, or why
    /// the report was missing or unusable.
    #[error("{0}")]
    Report(String),
    /// Windows: the server's Job Object could not be made or joined.
    #[error("cannot contain the server in a job object: {0}")]
    Job(std::io::Error),
}

/// `started PID` → the pid; `failed REASON` → the reason.
pub fn parse_start_report(line: &str) -> Result<u32, String> {
    if let Some(reason) = line.strip_prefix("failed ") {
        return Err(reason.to_string());
    }
    line.strip_prefix("started ")
        .and_then(|pid| pid.trim().parse().ok())
        .filter(|pid| *pid > 1)
        .ok_or_else(|| format!("the server keeper said something unexpected: {line:?}"))
}

/// `exited STATUS` → the raw wait status.
pub fn parse_exit_report(line: &str) -> Option<i32> {
    line.strip_prefix("exited ")?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_reports_parse() {
        assert_eq!(parse_start_report("started 4242"), Ok(4242));
        assert_eq!(
            parse_start_report("failed cannot run /x: No such file"),
            Err("cannot run /x: No such file".to_string())
        );
        assert!(parse_start_report("started 1").is_err());
        assert!(parse_start_report("started").is_err());
        assert!(
            parse_start_report("hello")
                .unwrap_err()
                .contains("\"hello\"")
        );
    }

    #[test]
    fn exit_reports_parse() {
        assert_eq!(parse_exit_report("exited 9"), Some(9));
        assert_eq!(parse_exit_report("exited 256"), Some(256));
        assert_eq!(parse_exit_report("exited x"), None);
        assert_eq!(parse_exit_report("started 5"), None);
    }
}
