//! First-run setup, the settings page and the log page, for real: a daemon
//! with no config.toml, its popover driven through WebKitWebDriver under the
//! headless desktop, the real server with the mock model behind it.

// Drives Nexus as a Linux process (XDG dirs, the Unix socket, D-Bus, the
// Linux desktop): Linux only for now (README, Platforms).
#![cfg(target_os = "linux")]

mod support;

use opencode_nexus::config::Config;
use opencode_nexus::paths::Paths;
use serde_json::{Value, json};
use std::time::Duration;
use support::headless_desktop::HeadlessDesktop;
use support::mock_model::MockModel;
use support::nexus::{Nexus, nexus_env, stdout};
use support::opencode_server::{TestHome, opencode_version};
use support::popover::{assert_accessible, env_pairs, open, popover_env, start_with_popover};
use support::webdriver::{self, WebDriver};

const WAIT: Duration = Duration::from_secs(30);
const SERVER_START: Duration = Duration::from_secs(90);

/// The config file as the daemon reads it (the same parser, the test's paths).
fn load_config(home: &TestHome) -> Config {
    let env = nexus_env(home);
    let paths =
        Paths::from_vars(|name| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()));
    let text = std::fs::read_to_string(paths.config_file()).expect("config.toml written");
    Config::parse(&text, &paths.config_file(), &paths)
        .unwrap_or_else(|e| panic!("invalid config written: {e}\n{text}"))
        .config
}

/// Replaces an input's value as a user would (select all, type).
async fn retype(driver: &WebDriver, css: &str, text: &str) {
    let element = driver.wait_for(css, WAIT).await;
    driver
        .execute(
            "arguments[0].select ? arguments[0].select() : null;",
            json!([{ "element-6066-11e4-a52f-4a5ab0a4a3e0": element }]),
        )
        .await;
    driver
        .send_keys(&element, &format!("\u{E009}a\u{E009}\u{E003}{text}"))
        .await;
}

async fn visible(driver: &WebDriver, css: &str) -> bool {
    driver
        .execute(
            "const e = document.querySelector(arguments[0]); \
             return !!e && !e.closest('[hidden]') && e.getClientRects().length > 0;",
            json!([css]),
        )
        .await
        == Value::Bool(true)
}

#[tokio::test(flavor = "multi_thread")]
async fn first_run_setup_writes_a_valid_config_and_settings_apply_it_live() {
    let desktop = HeadlessDesktop::start();
    let model = MockModel::start().await;
    let home = TestHome::new(model.base_url());
    let inspector = webdriver::free_port();
    let env = popover_env(&desktop, inspector);
    let extra = env_pairs(&env);
    let nexus = Nexus::start_first_run(&home, &extra).await;
    let status = nexus.wait_for_state("running", SERVER_START).await;
    let first_server = status["server"]["pid"].as_u64().unwrap();
    assert!(!nexus.config_dir.join("config.toml").exists());

    // With no config yet the popover opens on setup.
    open(&nexus, &[]).await;
    let driver = WebDriver::attach(inspector, &home.root().join("webdriver-setup.log")).await;
    driver.wait_for("#view-setup", WAIT).await;
    let found = driver
        .wait_until(
            "opencode found",
            "const e = document.querySelector('#setup-opencode.ok'); return e ? e.textContent : '';",
            WAIT,
        )
        .await;
    let found = found.as_str().unwrap();
    assert!(found.contains(opencode_version()), "{found}");
    let machine = driver.text_of("#setup-machine").await;
    assert!(
        machine.contains("MiB") || machine.contains("GiB"),
        "{machine}"
    );

    // Choose the project folder, notifications off, start at login on.
    let project = home.project_dir().display().to_string();
    retype(&driver, "#setup-directory", &project).await;
    driver
        .execute(
            "const n = document.querySelector('#setup-notifications'); if (n.checked) n.click();\
             const a = document.querySelector('#setup-autostart'); if (!a.checked) a.click();",
            json!([]),
        )
        .await;
    driver.click_css("#setup-finish", WAIT).await;
    driver
        .wait_until(
            "setup saved",
            "const r = document.querySelector('#setup-result'); return !!r && r.textContent.includes('Saved');",
            WAIT,
        )
        .await;

    // The file is valid for the daemon's own parser and holds the choices.
    let config = load_config(&home);
    assert_eq!(config.server.directory, home.project_dir());
    assert!(!config.notify.enabled);
    let autostart = nexus.run(&["autostart", "status"]).await;
    assert!(
        stdout(&autostart).starts_with("enabled"),
        "{}",
        stdout(&autostart)
    );
    // The daemon applies it: a new directory means a new server.
    let status = nexus
        .wait_for_status(SERVER_START, "the server restarted in the project", |s| {
            s["server"]["state"] == "running"
                && s["server"]["pid"]
                    .as_u64()
                    .is_some_and(|p| p != first_server)
        })
        .await;
    assert!(status["config_problem"].is_null(), "{status}");

    // Settings: every key is on the page, with the saved values.
    open(&nexus, &["--page", "settings"]).await;
    driver
        .wait_for("#view-settings [data-key='server.port']", WAIT)
        .await;
    let keys = driver
        .execute(
            "return [...document.querySelectorAll('#view-settings [data-key]')].map(e => e.dataset.key)",
            json!([]),
        )
        .await;
    for key in opencode_nexus::config::form::KEYS {
        assert!(
            keys.as_array().unwrap().iter().any(|k| k == key),
            "no control for {key}: {keys}"
        );
    }
    let shown = driver
        .execute(
            "return document.querySelector(\"#view-settings [data-key='server.directory']\").value",
            json!([]),
        )
        .await;
    assert_eq!(shown, json!(project));

    // An invalid value is refused with the file's own message, at the field.
    let before = std::fs::read_to_string(nexus.config_dir.join("config.toml")).unwrap();
    retype(&driver, "#view-settings [data-key='server.port']", "70000").await;
    driver.click_css("#settings-save", WAIT).await;
    let error = driver
        .wait_until(
            "the port marked invalid",
            "const f = document.querySelector(\"#view-settings [data-key='server.port'][aria-invalid='true']\");\
             const s = document.querySelector('#settings-status'); return f && s ? s.textContent : '';",
            WAIT,
        )
        .await;
    assert!(error.as_str().unwrap().contains("not a port"), "{error}");
    assert_eq!(
        std::fs::read_to_string(nexus.config_dir.join("config.toml")).unwrap(),
        before,
        "nothing written"
    );

    // A valid port is saved and applied: the server restarts on it.
    let port = webdriver::free_port();
    retype(
        &driver,
        "#view-settings [data-key='server.port']",
        &port.to_string(),
    )
    .await;
    driver.click_css("#settings-save", WAIT).await;
    driver
        .wait_until(
            "saved",
            "const s = document.querySelector('#settings-status'); return !!s && s.textContent.includes('Saved');",
            WAIT,
        )
        .await;
    assert_eq!(load_config(&home).server.port, port);
    nexus.wait_for_server_on_port(port, SERVER_START).await;
    // The status line shows the server's process tree while the window is up.
    let line = driver
        .wait_until(
            "resource use in the status line",
            "const s = document.querySelector('#server-status'); \
             return s && s.textContent.includes('MiB') ? s.textContent : '';",
            WAIT,
        )
        .await;
    assert!(line.as_str().unwrap().contains("process"), "{line}");
    assert_accessible(&driver, "settings page", Some("popover-settings.png")).await;

    // Logs: the server log, followed live, with a filter.
    open(&nexus, &["--page", "logs"]).await;
    driver.wait_for("#log-lines .log-line", WAIT).await;
    assert!(visible(&driver, "#log-filter").await);
    // Followed live: a restart's lines appear without reopening the page.
    let starts = "return [...document.querySelectorAll('#log-lines .log-line')]\
                  .filter(l => l.textContent.includes('[nexus] started')).length";
    let before = driver.execute(starts, json!([])).await.as_u64().unwrap();
    assert!(before >= 1, "the log shows the server's starts");
    let out = nexus.run(&["server", "restart"]).await;
    assert_eq!(out.status.code(), Some(0));
    driver
        .wait_until(
            "the restart's line",
            &format!("{starts} > {before}"),
            SERVER_START,
        )
        .await;
    // The filter shows only matching lines.
    retype(&driver, "#log-filter", "[nexus] started").await;
    let shown = driver
        .wait_until(
            "only filtered lines",
            "const lines = [...document.querySelectorAll('#log-lines .log-line')]\
               .filter(l => !l.hidden && l.getClientRects().length > 0).map(l => l.textContent);\
             return lines.length > 0 && lines.every(l => l.includes('[nexus] started')) ? lines : null;",
            WAIT,
        )
        .await;
    assert!(shown.as_array().unwrap().len() as u64 > before, "{shown}");
    let count = driver.text_of("#log-count").await;
    assert!(count.contains(" of "), "{count}");
    assert_accessible(&driver, "log page", None).await;
    driver.close().await;
}

/// Runs `xdotool` on the desktop; its stdout.
fn xdotool(desktop: &HeadlessDesktop, args: &[&str]) -> String {
    let out = std::process::Command::new("xdotool")
        .args(args)
        .envs(desktop.env())
        .output()
        .expect("xdotool is installed by scripts/setup-and-test.sh");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The confirmation dialog's X window, if it is on screen.
fn confirm_dialog(desktop: &HeadlessDesktop) -> Option<String> {
    let title = opencode_nexus::page::settings_guard::DIALOG_TITLE;
    xdotool(desktop, &["search", "--onlyvisible", "--name", title])
        .lines()
        .next()
        .map(str::to_string)
}

async fn wait_for_dialog(desktop: &HeadlessDesktop, nexus: &Nexus) -> String {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        if let Some(window) = confirm_dialog(desktop) {
            return window;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no confirmation dialog; popover log:\n{}",
            support::popover::popover_log(nexus)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_for_no_dialog(desktop: &HeadlessDesktop) {
    let deadline = std::time::Instant::now() + WAIT;
    while confirm_dialog(desktop).is_some() {
        assert!(std::time::Instant::now() < deadline, "the dialog stays");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Types `keys` into the dialog as the user would: pointer over it, focus, keys.
fn press_in_dialog(desktop: &HeadlessDesktop, window: &str, keys: &str) {
    xdotool(desktop, &["mousemove", "--window", window, "40", "40"]);
    xdotool(desktop, &["windowfocus", window]);
    std::thread::sleep(Duration::from_millis(300));
    xdotool(desktop, &["key", "--clearmodifiers", keys]);
}

async fn settings_status(driver: &WebDriver, contains: &str) -> String {
    driver
        .wait_for_text("#settings-status", contains, WAIT)
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_program_and_password_settings_change_only_after_a_native_confirmation() {
    let desktop = HeadlessDesktop::start();
    let model = MockModel::start().await;
    let home = TestHome::new(model.base_url());
    let inspector = webdriver::free_port();
    let nexus = start_with_popover(&desktop, &home, "hide_on_blur = false", inspector).await;
    let config_file = nexus.config_dir.join("config.toml");
    let before = std::fs::read_to_string(&config_file).unwrap();

    open(&nexus, &["--page", "settings"]).await;
    let driver = WebDriver::attach(inspector, &home.root().join("webdriver-confirm.log")).await;
    driver
        .wait_for("#view-settings [data-key='server.command']", WAIT)
        .await;

    // A script in the page asks for another program straight over the IPC
    // bridge, as injected code would: a native dialog opens, nothing is written.
    driver
        .execute(
            "window.ipc.postMessage(JSON.stringify({type: 'nexus', id: 424242, call: {\
               name: 'save_settings', values: {'server.command': '/tmp/attacker/opencode'}}}));",
            json!([]),
        )
        .await;
    let dialog = wait_for_dialog(&desktop, &nexus).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(std::fs::read_to_string(&config_file).unwrap(), before);
    // Enter is not a yes: the default answer is Cancel.
    press_in_dialog(&desktop, &dialog, "Return");
    wait_for_no_dialog(&desktop).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        std::fs::read_to_string(&config_file).unwrap(),
        before,
        "a cancelled change was written"
    );

    // The Settings page: the status says a dialog waits; Escape cancels and
    // the page is told; the edit stays in the form.
    let program = home.root().join("my opencode");
    std::os::unix::fs::symlink(support::opencode_server::opencode_binary(), &program).unwrap();
    let program = program.display().to_string();
    retype(
        &driver,
        "#view-settings [data-key='server.command']",
        &program,
    )
    .await;
    driver.click_css("#settings-save", WAIT).await;
    let dialog = wait_for_dialog(&desktop, &nexus).await;
    let waiting = settings_status(&driver, "Confirm the change").await;
    assert!(waiting.contains("server.command"), "{waiting}");
    press_in_dialog(&desktop, &dialog, "Escape");
    let status = settings_status(&driver, "Not saved").await;
    assert!(status.contains("did not confirm"), "{status}");
    wait_for_no_dialog(&desktop).await;
    assert_eq!(std::fs::read_to_string(&config_file).unwrap(), before);

    // Saving again and confirming in the dialog writes it.
    driver.click_css("#settings-save", WAIT).await;
    let dialog = wait_for_dialog(&desktop, &nexus).await;
    press_in_dialog(&desktop, &dialog, "alt+s");
    settings_status(&driver, "Saved").await;
    wait_for_no_dialog(&desktop).await;
    assert_eq!(
        load_config(&home).server.command.as_deref(),
        Some(std::path::Path::new(&program))
    );

    // Other keys save without a dialog.
    retype(
        &driver,
        "#view-settings [data-key='notify.min_duration']",
        "42",
    )
    .await;
    driver.click_css("#settings-save", WAIT).await;
    let deadline = std::time::Instant::now() + WAIT;
    while load_config(&home).notify.min_duration != Duration::from_secs(42) {
        assert!(
            confirm_dialog(&desktop).is_none(),
            "a dialog for notify.min_duration"
        );
        assert!(
            std::time::Instant::now() < deadline,
            "min_duration not saved"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    driver.close().await;
}
