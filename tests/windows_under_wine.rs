//! Nexus's Windows binary (cross-built with MinGW-w64) run under Wine: the
//! CLI's contract, a broken config, start at login in the registry, and the
//! daemon answering over its named pipe while it watches a real
//! `opencode serve` (the pinned one, running on this Linux machine, with the
//! mock model) — the Windows code paths run for real, short of a real
//! Windows.
//!
//! Ignored in a plain `cargo test`: the binary has to be cross-built first.
//! `scripts/windows-wine-test.sh` builds it and runs these
//! (`cargo test --test windows_under_wine -- --ignored`); CI runs that script.
//! Each test has a Wine prefix of its own, so a fresh Windows profile.

#![cfg(target_os = "linux")]

mod support;

use std::time::{Duration, Instant};
use support::mock_model::MockModel;
use support::opencode_server::{OpencodeServer, TestHome};
use support::wine::{Wine, stderr, stdout};

fn assert_exit(out: &std::process::Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "expected exit {code}\nstdout: {}\nstderr: {}",
        stdout(out),
        stderr(out)
    );
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the Windows binary: scripts/windows-wine-test.sh"]
async fn the_cli_without_a_daemon_keeps_its_contract() {
    let wine = Wine::new();

    let help = wine.run(&["--help"]).await;
    assert_exit(&help, 0);
    for command in ["daemon", "status", "ask", "autostart", "diagnostics"] {
        assert!(stdout(&help).contains(command), "{}", stdout(&help));
    }

    // No daemon: exit 3 (cli::exit_code::NOT_RUNNING) and how to start one.
    let status = wine.run(&["status"]).await;
    assert_exit(&status, 3);
    assert!(
        stderr(&status).contains("OpenCode Nexus is not running"),
        "{}",
        stderr(&status)
    );
    let status = wine.run(&["status", "--json"]).await;
    assert_exit(&status, 3);

    let autostart = wine.run(&["autostart", "status"]).await;
    assert_exit(&autostart, 0);
    assert_eq!(stdout(&autostart).trim(), "disabled");

    // The report: config defaults and the Windows locations (Paths).
    let report = wine.run(&["diagnostics"]).await;
    assert_exit(&report, 0);
    let report = stdout(&report);
    assert!(report.contains("daemon: not running"), "{report}");
    assert!(report.contains("server.mode = managed"), "{report}");
    assert!(
        report.contains(r"\AppData\Roaming\opencode-nexus\server-password (absent)"),
        "the password file belongs in %APPDATA%: {report}"
    );
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the Windows binary: scripts/windows-wine-test.sh"]
async fn a_broken_config_is_named_and_the_daemon_exits_5() {
    let wine = Wine::new();
    wine.write_config("[server]\nport = \"eighty\"\n");

    let daemon = wine.run(&["daemon", "--no-tray"]).await;
    assert_exit(&daemon, 5);
    assert!(
        stderr(&daemon).contains(r#"config.toml: server.port = "eighty" is not a port"#),
        "{}",
        stderr(&daemon)
    );
    assert!(
        stderr(&daemon).contains(r"\AppData\Roaming\opencode-nexus\config.toml"),
        "the message names the file: {}",
        stderr(&daemon)
    );

    let report = wine.run(&["diagnostics"]).await;
    assert_exit(&report, 0);
    assert!(
        stdout(&report).contains(r#"problem: "#) && stdout(&report).contains("is not a port"),
        "{}",
        stdout(&report)
    );
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the Windows binary: scripts/windows-wine-test.sh"]
async fn start_at_login_is_a_quoted_run_key_value() {
    let wine = Wine::new();
    let run_key = r"HKCU\Software\Microsoft\Windows\CurrentVersion\Run";

    let enable = wine.run(&["autostart", "enable"]).await;
    assert_exit(&enable, 0);
    assert!(
        stdout(&enable).contains("will start at login"),
        "{}",
        stdout(&enable)
    );
    let query = wine.run_tool(&["reg", "query", run_key]).await;
    let listing = stdout(&query);
    let value = listing
        .lines()
        .find(|line| line.contains("OpenCode Nexus") || line.contains("opencode-nexus.exe"))
        .unwrap_or_else(|| panic!("no Run value for Nexus:\n{listing}"));
    // The program is quoted (its folder has a space: the script puts it in
    // one, like Program Files), then the daemon command.
    assert!(
        value.contains(r#""Z:\"#) && value.trim_end().ends_with(r#"\opencode-nexus.exe" daemon"#),
        "the Run value must be the quoted program and `daemon`: {value}"
    );
    // This user's logins only, never every user's (the machine's Run key).
    let machine = wine
        .run_tool(&[
            "reg",
            "query",
            r"HKLM\Software\Microsoft\Windows\CurrentVersion\Run",
        ])
        .await;
    assert!(
        !stdout(&machine).contains("opencode-nexus.exe"),
        "written for every user: {}",
        stdout(&machine)
    );
    let status = wine.run(&["autostart", "status"]).await;
    assert_exit(&status, 0);
    assert!(
        stdout(&status).contains("opencode-nexus.exe"),
        "{}",
        stdout(&status)
    );

    let disable = wine.run(&["autostart", "disable"]).await;
    assert_exit(&disable, 0);
    assert!(
        stdout(&disable).contains("will no longer start at login"),
        "{}",
        stdout(&disable)
    );
    let query = wine.run_tool(&["reg", "query", run_key]).await;
    assert!(
        !stdout(&query).contains("opencode-nexus.exe"),
        "the Run value is gone: {}",
        stdout(&query)
    );
    let status = wine.run(&["autostart", "status"]).await;
    assert_eq!(stdout(&status).trim(), "disabled");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the Windows binary: scripts/windows-wine-test.sh"]
async fn a_daemon_without_opencode_says_how_to_install_it_and_quits_on_request() {
    let wine = Wine::new();
    let daemon = wine.start_daemon().await;

    let status = wine
        .wait_for_status("the server to fail", |s| s["server"]["state"] == "failed")
        .await;
    assert_eq!(status["server"]["mode"], "managed");
    let error = status["server"]["last_error"].as_str().unwrap();
    assert!(
        error.contains("opencode was not found") && error.contains("npm install -g opencode-ai"),
        "{error}"
    );
    assert_eq!(status["daemon"]["tray"], "disabled (--no-tray)");

    // A second daemon (a login start beside a manual one) defers to this
    // one: it says so and exits 0, as on Linux; this one keeps the pipe.
    let pid = status["daemon"]["pid"].as_u64().unwrap();
    let second = wine.run(&["daemon", "--no-tray"]).await;
    assert_exit(&second, 0);
    assert!(
        stderr(&second).contains(&format!("already running (pid {pid})")),
        "{}",
        stderr(&second)
    );
    assert_eq!(wine.status().await["daemon"]["pid"], pid);

    wine.quit_daemon(daemon).await;
    assert_exit(&wine.run(&["status"]).await, 3);
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the Windows binary: scripts/windows-wine-test.sh"]
async fn a_daemon_attached_to_a_real_server_answers_ask_over_its_pipe() {
    let model = MockModel::start().await;
    let home = TestHome::new(model.base_url());
    let server = OpencodeServer::start(&home, Some("correct-horse")).await;
    let wine = Wine::new();
    wine.write_config(&format!(
        "[server]\nmode = \"attach\"\nurl = {:?}\n",
        server.base_url()
    ));

    // The password goes through stdin into %APPDATA%, never a command line.
    let set = wine
        .run_with_input(&["password", "set"], Some("correct-horse\n"))
        .await;
    assert_exit(&set, 0);
    let stored = std::fs::read_to_string(wine.config_dir().join("server-password")).unwrap();
    assert_eq!(stored.trim_end(), "correct-horse");

    let daemon = wine.start_daemon().await;
    let status = wine
        .wait_for_status("the server to be running", |s| {
            s["server"]["state"] == "running"
        })
        .await;
    assert_eq!(status["server"]["mode"], "attach");
    assert_eq!(status["server"]["unsecured"], false);
    assert!(
        status["server"]["pid"].is_null(),
        "attach mode owns no process"
    );

    // `ask` from Windows into a session of the real server, the mock
    // model's reply streamed back through the server's events. The session
    // is made here, in the server's project folder: a folder named by the
    // Windows program would be a Windows path, which means nothing to a
    // server running on Linux.
    let session: serde_json::Value = server
        .post("/session")
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let session = session["id"].as_str().expect("a session id");
    let ask = wine
        .run(&["ask", "--session", session, "hello", "from", "wine"])
        .await;
    assert_exit(&ask, 0);
    assert_eq!(
        stdout(&ask),
        "echo: hello from wine\n",
        "stderr: {}\n{}",
        stderr(&ask),
        wine.daemon_log()
    );
    assert_eq!(model.last_user_text().as_deref(), Some("hello from wine"));

    wine.quit_daemon(daemon).await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the Windows binary: scripts/windows-wine-test.sh"]
async fn the_tray_icon_shows_in_the_notification_area_with_the_servers_state() {
    let wine = Wine::with_display();
    let daemon = wine.start_daemon_with(&["daemon"]).await;

    // No opencode on this "Windows": the server fails, so the icon is the
    // error icon (red), drawn in Wine's notification area.
    let status = wine
        .wait_for_status("the tray and a failed server", |s| {
            s["daemon"]["tray"] == "active" && s["server"]["state"] == "failed"
        })
        .await;
    assert_eq!(status["daemon"]["tray"], "active", "{status}");
    let display = wine.display().unwrap();
    let tray_window = wait_for_window(display, "Wine System Tray").await;
    let red = red_pixels(display, &tray_window);
    assert!(
        red >= 40,
        "the notification area shows no error icon ({red} red pixels in {tray_window})"
    );

    wine.quit_daemon(daemon).await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the Windows binary: scripts/windows-wine-test.sh"]
async fn without_a_desktop_the_daemon_runs_without_a_tray_and_says_why() {
    let wine = Wine::new();
    let daemon = wine.start_daemon_with(&["daemon"]).await;
    let status = wine
        .wait_for_status("the tray's verdict", |s| s["daemon"]["tray"] != "active")
        .await;
    let tray = status["daemon"]["tray"].as_str().unwrap();
    assert!(
        tray.starts_with("none: ") && tray.contains("cannot create the tray icon"),
        "{tray}"
    );
    assert!(
        wine.daemon_log().contains("running without a tray"),
        "{}",
        wine.daemon_log()
    );
    wine.quit_daemon(daemon).await;
}

/// The id of the X window named `name` on `display`, once it exists.
async fn wait_for_window(display: &str, name: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = std::process::Command::new("xwininfo")
            .args(["-root", "-tree"])
            .env("DISPLAY", display)
            .output()
            .expect("run xwininfo");
        let tree = String::from_utf8_lossy(&out.stdout);
        let quoted = format!("\"{name}\"");
        if let Some(id) = tree
            .lines()
            .find(|line| line.contains(&quoted))
            .and_then(|line| line.split_whitespace().next())
        {
            return id.to_owned();
        }
        assert!(Instant::now() < deadline, "no window {name:?}:\n{tree}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// How many clearly red pixels window `id` shows (the error icon's colour).
fn red_pixels(display: &str, id: &str) -> usize {
    let out = std::process::Command::new("import")
        .args(["-window", id, "-depth", "8", "rgb:-"])
        .env("DISPLAY", display)
        .output()
        .expect("run ImageMagick's import");
    assert!(
        out.status.success(),
        "import failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
        .chunks_exact(3)
        .filter(|p| p[0] > 170 && p[1] < 110 && p[2] < 110)
        .count()
}
