//! The tray for real: the daemon's StatusNotifierItem in a headless desktop
//! (Xvfb, a private session bus, xfce4-panel as the tray host), read and
//! clicked over D-Bus the way a panel does, against the real server.

// Drives Nexus as a Linux process (XDG dirs, the Unix socket, D-Bus, the
// Linux desktop): Linux only for now (README, Platforms).
#![cfg(target_os = "linux")]

mod support;

use std::time::{Duration, Instant};
use support::headless_desktop::HeadlessDesktop;
use support::mock_model::MockModel;
use support::nexus::{Nexus, gui_libraries_mapped, managed_config, process_alive};
use support::opencode_server::TestHome;

const WAIT: Duration = Duration::from_secs(30);
const SERVER_START: Duration = Duration::from_secs(90);

/// The dbusmenu id of the entry labelled `label` in a GetLayout dump.
fn menu_id(layout: &str, label: &str) -> i32 {
    let needle = format!("'label': <'{label}'>");
    let at = layout
        .find(&needle)
        .unwrap_or_else(|| panic!("no menu entry {label:?} in {layout}"));
    // Each entry reads `(ID, {…'label': <'…'>…}, [...])`: the id follows the last `(` before the label.
    let open = layout[..at].rfind('(').expect("an entry start");
    let digits: String = layout[open + 1..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("no id before {label:?} in {layout}"))
}

/// The `toggle-state` of the checkbox entry labelled `label` (0 off, 1 on).
fn checkbox_state(layout: &str, label: &str) -> Option<i32> {
    let needle = format!("'label': <'{label}'>");
    let at = layout.find(&needle)?;
    let open = layout[..at].rfind('(')?;
    let close = at + layout[at..].find('}')?;
    let entry = &layout[open..close];
    let state = entry.split("'toggle-state': <").nth(1)?;
    state
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '-')
        .collect::<String>()
        .parse()
        .ok()
}

/// Polls the item's tooltip until it contains `text`.
async fn wait_for_tooltip(desktop: &HeadlessDesktop, item: &str, text: &str) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let tooltip = desktop
            .item_properties(item)
            .get("ToolTip")
            .unwrap_or_default()
            .to_string();
        if tooltip.contains(text) {
            return tooltip;
        }
        assert!(
            Instant::now() < deadline,
            "tooltip never showed {text:?}; last: {tooltip}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn tray_shows_the_state_and_its_menu_controls_the_server() {
    let desktop = HeadlessDesktop::start();
    let model = MockModel::start().await;
    let home = TestHome::new(model.base_url());
    let nexus =
        Nexus::start_with_tray(&home, &managed_config(&home.project_dir()), &desktop.env()).await;
    let item = desktop.wait_for_items(1, WAIT).remove(0);
    let status = nexus.wait_for_state("running", SERVER_START).await;
    assert_eq!(status["daemon"]["tray"], "active");
    let server = status["server"]["pid"].as_u64().unwrap() as u32;

    // Title, tooltip and icon tell the state.
    let tooltip = wait_for_tooltip(&desktop, &item, "Server running").await;
    assert!(tooltip.contains("(opencode "), "{tooltip}");
    let props = desktop.item_properties(&item);
    assert_eq!(props.string("Title").as_deref(), Some("OpenCode Nexus"));
    let running_icon = props.get("IconPixmap").unwrap().to_string();
    assert!(
        running_icon.starts_with("[(32, 32,"),
        "an in-memory 32 px icon"
    );

    // The menu has its entries, enabled according to state.
    let layout = desktop.menu_layout(&item);
    for label in [
        "Open Quick Chat",
        "Server",
        "Start",
        "Stop",
        "Restart",
        "Copy server URL",
        "View server log",
        "Open log folder",
        "Copy diagnostics",
        "Start at login",
        "Pair a phone…",
        "Quit",
    ] {
        menu_id(&layout, label);
    }
    // The state line (with the server's resource use once measured).
    assert!(layout.contains("'label': <'Server running"), "{layout}");
    assert!(
        layout.contains("'enabled': <false>, 'label': <'Start'>"),
        "Start is disabled while running: {layout}"
    );

    // A stop through the CLI shows in the tray.
    let out = nexus.run(&["server", "stop"]).await;
    assert_eq!(out.status.code(), Some(0));
    wait_for_tooltip(&desktop, &item, "Server stopped").await;
    let stopped_icon = desktop
        .item_properties(&item)
        .get("IconPixmap")
        .unwrap()
        .to_string();
    assert_ne!(
        stopped_icon, running_icon,
        "the icon changes with the state"
    );
    assert!(!process_alive(server));

    // Start and Stop from the menu, as a panel clicks them.
    let layout = desktop.menu_layout(&item);
    desktop.menu_click(&item, menu_id(&layout, "Start"));
    let status = nexus.wait_for_state("running", SERVER_START).await;
    let server = status["server"]["pid"].as_u64().unwrap() as u32;
    wait_for_tooltip(&desktop, &item, "Server running").await;
    let layout = desktop.menu_layout(&item);
    desktop.menu_click(&item, menu_id(&layout, "Stop"));
    // "stopped" shows as soon as the stop begins; the process is gone once its pid is.
    nexus
        .wait_for_status(WAIT, "a stopped server", |s| {
            s["server"]["state"] == "stopped" && s["server"]["pid"].is_null()
        })
        .await;
    assert!(!process_alive(server));
    desktop.menu_click(&item, menu_id(&desktop.menu_layout(&item), "Start"));
    let status = nexus.wait_for_state("running", SERVER_START).await;
    let server = status["server"]["pid"].as_u64().unwrap() as u32;
    wait_for_tooltip(&desktop, &item, "Server running").await;

    let artifacts = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    desktop.screenshot(artifacts.join("tray-panel.png"));

    // No GUI toolkit in the resident process.
    assert_eq!(gui_libraries_mapped(nexus.pid()), Vec::<String>::new());

    // Copy diagnostics puts the report on the desktop's clipboard.
    desktop.menu_click(
        &item,
        menu_id(&desktop.menu_layout(&item), "Copy diagnostics"),
    );
    let deadline = Instant::now() + WAIT;
    loop {
        let out = std::process::Command::new("xclip")
            .args(["-selection", "clipboard", "-o"])
            .env("DISPLAY", desktop.display())
            .output()
            .expect("xclip (DESKTOP_TEST_PACKAGES)");
        let text = String::from_utf8_lossy(&out.stdout);
        if text.starts_with("OpenCode Nexus ") && text.contains(" diagnostics") {
            assert!(text.contains("server: running"), "{text}");
            break;
        }
        assert!(Instant::now() < deadline, "nothing copied: {text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The server's process tree is measured while the tray shows it, and
    // again when the panel is about to open the menu.
    wait_for_tooltip(&desktop, &item, " MiB · ").await;
    let readings_for_menu = |log: &str| log.matches("the tray menu is opening").count();
    let before = readings_for_menu(&nexus.daemon_log());
    desktop.menu_about_to_show(&item);
    let deadline = Instant::now() + WAIT;
    while readings_for_menu(&nexus.daemon_log()) <= before {
        assert!(Instant::now() < deadline, "AboutToShow did not measure");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Start at login: a checkbox showing the real state, toggled from the menu.
    let entry = home.config_home().join("autostart/opencode-nexus.desktop");
    assert!(!entry.exists());
    let layout = desktop.menu_layout(&item);
    assert!(
        checkbox_state(&layout, "Start at login") == Some(0),
        "unchecked at first: {layout}"
    );
    desktop.menu_click(&item, menu_id(&layout, "Start at login"));
    let deadline = Instant::now() + WAIT;
    while checkbox_state(&desktop.menu_layout(&item), "Start at login") != Some(1) {
        assert!(Instant::now() < deadline, "the checkbox never showed on");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let text = std::fs::read_to_string(&entry).expect("an autostart entry");
    assert!(text.contains(" daemon\n"), "{text}");
    desktop.menu_click(
        &item,
        menu_id(&desktop.menu_layout(&item), "Start at login"),
    );
    let deadline = Instant::now() + WAIT;
    while entry.exists() {
        assert!(Instant::now() < deadline, "the entry was not removed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Pair a phone…: the popover opens on its pair page, which makes a
    // one-time code (stored only as its hash in the remote account).
    let account = home.config_home().join("opencode-nexus/remote.json");
    assert!(!account.exists());
    desktop.menu_click(&item, menu_id(&desktop.menu_layout(&item), "Pair a phone…"));
    let deadline = Instant::now() + WAIT;
    loop {
        let text = std::fs::read_to_string(&account).unwrap_or_default();
        let stored: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        if stored["pairings"].as_array().is_some_and(|p| p.len() == 1) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no pairing code made; daemon log:\n{}",
            nexus.daemon_log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Quit from the menu: the item goes away, and so does the server.
    let mut nexus = nexus;
    desktop.menu_click(&item, menu_id(&desktop.menu_layout(&item), "Quit"));
    assert_eq!(nexus.wait_exit(WAIT).await, Some(0));
    let deadline = Instant::now() + WAIT;
    while !desktop.registered_items().is_empty() {
        assert!(Instant::now() < deadline, "the item outlived the daemon");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!process_alive(server), "the server outlived quit");
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_tray_host_the_daemon_runs_on_and_says_why() {
    // A session bus with no panel on it: no StatusNotifierWatcher.
    let desktop = HeadlessDesktop::start();
    let home = TestHome::new("http://127.0.0.1:9/v1");
    let config = "[server]\nmode = \"attach\"\nurl = \"http://127.0.0.1:9\"\n";
    let bare_bus = tempfile::tempdir().unwrap();
    let bus_path = bare_bus.path().join("bus");
    let mut bus = std::process::Command::new("dbus-daemon")
        .args([
            "--session",
            "--nofork",
            &format!("--address=unix:path={}", bus_path.display()),
        ])
        .spawn()
        .unwrap();
    while !bus_path.exists() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let env = vec![
        ("DISPLAY", desktop.display().to_string()),
        (
            "DBUS_SESSION_BUS_ADDRESS",
            format!("unix:path={}", bus_path.display()),
        ),
    ];
    let nexus = Nexus::start_with_tray(&home, config, &env).await;
    let status = nexus.status().await;
    let tray = status["daemon"]["tray"].as_str().unwrap();
    assert!(
        tray.starts_with("none: no StatusNotifierItem host"),
        "{tray}"
    );
    assert!(nexus.daemon_log().contains("running without a tray"));
    drop(nexus);
    let _ = bus.kill();
    let _ = bus.wait();

    // And with no session bus at all.
    let nexus = Nexus::start_with_tray(
        &home,
        config,
        &[(
            "DBUS_SESSION_BUS_ADDRESS",
            "unix:path=/nonexistent/bus".into(),
        )],
    )
    .await;
    let tray = nexus.status().await["daemon"]["tray"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(tray.starts_with("none: no D-Bus session bus"), "{tray}");
}

#[tokio::test(flavor = "multi_thread")]
async fn working_and_waiting_sessions_show_in_icon_tooltip_and_menu() {
    use serde_json::json;
    use support::fake_event_server::FakeEventServer;
    let desktop = HeadlessDesktop::start();
    let fake = FakeEventServer::start().await;
    let home = TestHome::new("http://127.0.0.1:9/v1");
    let config = format!("[server]\nmode = \"attach\"\nurl = {:?}\n", fake.base_url());
    let nexus = Nexus::start_with_tray(&home, &config, &desktop.env()).await;
    let item = desktop.wait_for_items(1, WAIT).remove(0);
    nexus.wait_for_state("running", WAIT).await;
    let idle_tooltip = wait_for_tooltip(&desktop, &item, "Server running").await;
    assert!(
        idle_tooltip.contains("without a password"),
        "an unsecured server is flagged: {idle_tooltip}"
    );
    let icon = |d: &HeadlessDesktop| {
        d.item_properties(&item)
            .get("IconPixmap")
            .unwrap()
            .to_string()
    };
    let idle_icon = icon(&desktop);

    fake.push_event(
        "session.updated",
        json!({"info": {"id": "ses_a", "title": "Fix the build & <b>tests</b>"}}),
    );
    fake.push_event(
        "session.status",
        json!({"sessionID": "ses_a", "status": {"type": "busy"}}),
    );
    wait_for_tooltip(&desktop, &item, "1 working").await;
    let working_icon = icon(&desktop);
    assert_ne!(working_icon, idle_icon);
    let layout = desktop.menu_layout(&item);
    assert!(
        layout.contains("Fix the build & <b>tests</b> — working"),
        "{layout}"
    );

    fake.push_event(
        "permission.asked",
        json!({"id": "per_1", "sessionID": "ses_a", "permission": "bash", "patterns": ["make test"],
               "metadata": {"command": "make test"}}),
    );
    wait_for_tooltip(&desktop, &item, "1 waiting for you").await;
    let attention_icon = icon(&desktop);
    assert!(attention_icon != working_icon && attention_icon != idle_icon);
    let layout = desktop.menu_layout(&item);
    assert!(layout.contains("Permission: bash make test"), "{layout}");

    fake.push_event(
        "permission.replied",
        json!({"sessionID": "ses_a", "requestID": "per_1", "reply": "once"}),
    );
    fake.push_event(
        "session.status",
        json!({"sessionID": "ses_a", "status": {"type": "idle"}}),
    );
    let deadline = Instant::now() + WAIT;
    while icon(&desktop) != idle_icon {
        assert!(
            Instant::now() < deadline,
            "the icon never went back to idle"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// What `xclip` reads from the desktop's clipboard now (empty when nobody owns it).
fn clipboard(desktop: &HeadlessDesktop) -> String {
    let out = std::process::Command::new("xclip")
        .args(["-o", "-selection", "clipboard"])
        .env("DISPLAY", desktop.display())
        .output()
        .expect("xclip (DESKTOP_TEST_PACKAGES)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn copied_server_url_survives_a_server_restart() {
    // The `xclip` serving the clipboard outlives the one Nexus started; the
    // cleanup after the old server's exit must not take it for the server's.
    let desktop = HeadlessDesktop::start();
    let model = MockModel::start().await;
    let home = TestHome::new(model.base_url());
    let nexus =
        Nexus::start_with_tray(&home, &managed_config(&home.project_dir()), &desktop.env()).await;
    let item = desktop.wait_for_items(1, WAIT).remove(0);
    let status = nexus.wait_for_state("running", SERVER_START).await;
    let url = status["server"]["url"].as_str().unwrap().to_string();
    let first = status["server"]["pid"].as_u64().unwrap();
    wait_for_tooltip(&desktop, &item, "Server running").await;

    desktop.menu_click(
        &item,
        menu_id(&desktop.menu_layout(&item), "Copy server URL"),
    );
    let deadline = Instant::now() + WAIT;
    while clipboard(&desktop).trim() != url {
        assert!(
            Instant::now() < deadline,
            "the URL was never copied: {:?}",
            clipboard(&desktop)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A restart returns once the new server runs, so the old one's exit and
    // the cleanup after it are over.
    let out = nexus.run(&["server", "restart"]).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status = nexus.wait_for_state("running", SERVER_START).await;
    assert_ne!(status["server"]["pid"].as_u64().unwrap(), first);
    assert!(!process_alive(first as u32));
    // Past the old cleanup's grace period, too.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        clipboard(&desktop).trim(),
        url,
        "the clipboard lost the URL when the server restarted\n{}",
        nexus.daemon_log()
    );
}
