//! The diagnostics report: what someone helping you needs, with no secret in
//! it. Shown by `opencode-nexus diagnostics` and copied by the tray menu's
//! *Copy diagnostics*.

use crate::config::{Config, ServerMode};
use crate::core::status::StatusReport;

/// Everything the report is made from.
pub struct DiagnosticsInput<'a> {
    pub status: Option<&'a StatusReport>,
    pub config: Option<&'a Config>,
    pub config_problem: Option<String>,
    pub server_log: &'a [String],
    /// Secrets known to the caller; scrubbed from the whole report.
    pub secrets: &'a [String],
}

pub fn report(input: &DiagnosticsInput) -> String {
    let mut out = Vec::new();
    out.push(format!(
        "OpenCode Nexus {} diagnostics",
        env!("CARGO_PKG_VERSION")
    ));
    out.push(format!(
        "generated: {}",
        humantime::format_rfc3339_seconds(std::time::SystemTime::now())
    ));
    out.push(format!("os: {}", os_description()));
    out.push(String::new());
    match input.status {
        Some(status) => {
            out.push(format!(
                "daemon: pid {}, tray {}",
                status.daemon.pid, status.daemon.tray
            ));
            let s = &status.server;
            out.push(format!(
                "server: {} ({:?} mode), url {}, pid {}, opencode {}, {} restarts",
                s.state.as_str(),
                s.mode,
                s.url.as_deref().unwrap_or("-"),
                s.pid.map(|p| p.to_string()).unwrap_or_else(|| "-".into()),
                s.version.as_deref().unwrap_or("-"),
                s.restarts
            ));
            out.push(format!(
                "last error: {}",
                s.last_error.as_deref().unwrap_or("-")
            ));
            out.push(format!(
                "sessions: {} busy, {} permission(s), {} question(s) waiting",
                status.sessions.busy,
                status.sessions.pending_permissions,
                status.sessions.pending_questions
            ));
            out.push(String::new());
            out.push("state history (newest last):".into());
            for t in &s.history {
                let at = std::time::UNIX_EPOCH + std::time::Duration::from_millis(t.at_ms);
                let reason = t
                    .reason
                    .as_deref()
                    .map(|r| format!(" — {r}"))
                    .unwrap_or_default();
                out.push(format!(
                    "  {} {}{reason}",
                    humantime::format_rfc3339_seconds(at),
                    t.state.as_str()
                ));
            }
            let restarts: Vec<_> = s
                .history
                .iter()
                .filter(|t| t.state.as_str() == "restarting")
                .collect();
            out.push(format!("recent restarts: {}", restarts.len()));
            for t in restarts {
                out.push(format!("  {}", t.reason.as_deref().unwrap_or("requested")));
            }
        }
        None => out.push("daemon: not running".into()),
    }
    out.push(String::new());
    out.push("config (secrets are never stored in it):".into());
    match (input.config, &input.config_problem) {
        (_, Some(problem)) => out.push(format!("  problem: {problem}")),
        (Some(c), None) => out.extend(describe_config(c).into_iter().map(|l| format!("  {l}"))),
        (None, None) => out.push("  (unknown)".into()),
    }
    out.push(String::new());
    out.push(format!(
        "server log (last {} lines):",
        input.server_log.len()
    ));
    out.extend(input.server_log.iter().map(|l| format!("  {l}")));
    let mut text = out.join("\n");
    for secret in input.secrets.iter().filter(|s| s.len() >= 4) {
        text = text.replace(secret.as_str(), "[redacted]");
    }
    text
}

fn describe_config(c: &Config) -> Vec<String> {
    let s = &c.server;
    let mut lines = vec![
        format!(
            "server.mode = {}",
            match s.mode {
                ServerMode::Managed => "managed",
                ServerMode::Attach => "attach",
            }
        ),
        format!(
            "server.command = {}",
            s.command
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "(search PATH)".into())
        ),
        format!("server.port = {}", s.port),
        format!("server.directory = {}", s.directory.display()),
        format!("server.start_timeout = {} s", s.start_timeout.as_secs_f64()),
        format!("server.event_timeout = {} s", s.event_timeout.as_secs_f64()),
        format!("server.url = {}", s.url.as_deref().unwrap_or("-")),
        format!("server.username = {}", s.username),
        format!(
            "server.password_file = {} ({})",
            s.password_file.display(),
            if s.password_file.exists() {
                "present"
            } else {
                "absent"
            }
        ),
        format!(
            "projects = {:?}",
            c.projects
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
        ),
        format!("tray.icons = {:?}", c.tray_icons),
    ];
    let n = &c.notify;
    lines.push(format!(
        "notify: enabled={} finished={} failed={} permission={} question={} server={} min_duration={} s quiet_period={} s",
        n.enabled, n.finished, n.failed, n.permission, n.question, n.server,
        n.min_duration.as_secs_f64(), n.quiet_period.as_secs_f64()
    ));
    lines
}

fn os_description() -> String {
    let pretty = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                .map(|v| v.trim_matches('"').to_string())
        });
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .ok()
        .map(|k| k.trim().to_string());
    match (pretty, kernel) {
        (Some(p), Some(k)) => format!("{p}, kernel {k}"),
        (Some(p), None) => p,
        (None, Some(k)) => format!("{} kernel {k}", std::env::consts::OS),
        (None, None) => std::env::consts::OS.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_scrubbed_everywhere() {
        let log = vec!["started with hunter2-secret in a line".to_string()];
        let text = report(&DiagnosticsInput {
            status: None,
            config: None,
            config_problem: Some("bad value hunter2-secret".into()),
            server_log: &log,
            secrets: &["hunter2-secret".to_string()],
        });
        assert!(!text.contains("hunter2-secret"), "{text}");
        assert!(text.contains("daemon: not running"));
        assert!(text.contains("[redacted]"));
    }
}
