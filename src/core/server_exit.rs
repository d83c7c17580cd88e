//! Whether a managed server's exit is worth retrying. Some exits will only
//! repeat (the port is taken): the core then fails at once instead of
//! restarting with backoff. The supervisor reads the server's last output
//! and asks here; the answer travels in `ExitReport::permanent`.

use std::fmt;

/// An exit that retrying cannot fix, with what the user has to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PermanentExit {
    /// The configured port is already taken by something else.
    PortInUse { port: u16 },
}

impl fmt::Display for PermanentExit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PermanentExit::PortInUse { port } => write!(
                f,
                "port {port} is already in use (server.port); stop whatever uses it or set server.port = 0"
            ),
        }
    }
}

/// Classifies an exit from the server's last lines of output and the port
/// it was started on (0: the OS chose one).
///
/// Bun reports a taken port as `EADDRINUSE` or "address already in use";
/// OpenCode wraps it in a `ServeError`, which with a fixed port can only mean
/// that port (with port 0 it is something else, and may pass).
pub fn classify_exit(output_tail: &[String], port: u16) -> Option<PermanentExit> {
    let says = |needle: &str| output_tail.iter().any(|line| line.contains(needle));
    let address_in_use = says("EADDRINUSE")
        || output_tail
            .iter()
            .any(|line| line.to_lowercase().contains("address already in use"));
    (address_in_use || (port != 0 && says("ServeError")))
        .then_some(PermanentExit::PortInUse { port })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &[&str]) -> Vec<String> {
        text.iter().map(|l| l.to_string()).collect()
    }

    #[test]
    fn a_taken_port_is_permanent_and_says_what_to_do() {
        let exit = classify_exit(&lines(&["error: EADDRINUSE 127.0.0.1:4096"]), 4096);
        assert_eq!(exit, Some(PermanentExit::PortInUse { port: 4096 }));
        assert!(exit.unwrap().to_string().contains("set server.port = 0"));
        let spelled = lines(&["Error: listen: Address already in use"]);
        assert!(classify_exit(&spelled, 4096).is_some());
    }

    #[test]
    fn a_serve_error_means_the_port_only_when_one_was_fixed() {
        let serve = lines(&["Error: Unexpected error … ServeError"]);
        assert!(classify_exit(&serve, 4096).is_some());
        assert_eq!(classify_exit(&serve, 0), None);
    }

    #[test]
    fn crashes_and_quiet_exits_are_worth_retrying() {
        assert_eq!(classify_exit(&[], 4096), None);
        let crash = lines(&["panic: out of memory", "    at main"]);
        assert_eq!(classify_exit(&crash, 4096), None);
    }
}
