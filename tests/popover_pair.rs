//! Pairing a phone and the remote settings, in the real popover: `open
//! --page pair` shows a one-time code as a QR image and an address, stored
//! only as its hash; the page is checked with axe; the remote password and
//! the gateway's reach change only after Nexus's own native dialog.
//! WebKitWebDriver drives the page under the headless desktop (as
//! tests/setup_and_settings_desktop.rs does); the gateway stays off.

// Drives Nexus as a Linux process (XDG dirs, the Unix socket, D-Bus, the
// Linux desktop): Linux only for now (README, Platforms).
#![cfg(target_os = "linux")]

mod support;

use base64::Engine;
use opencode_nexus::paths::Paths;
use opencode_nexus::remote::account::Device;
use opencode_nexus::remote::store::Store;
use serde_json::{Value, json};
use std::time::Duration;
use support::headless_desktop::HeadlessDesktop;
use support::mock_model::MockModel;
use support::nexus::{Nexus, nexus_env, stderr, stdout};
use support::opencode_server::TestHome;
use support::popover::{assert_accessible, open, popover_log, start_with_popover};
use support::webdriver::{self, WebDriver};

const WAIT: Duration = Duration::from_secs(30);

/// The account store the daemon's children use, from the test's own paths.
fn store(home: &TestHome) -> Store {
    let env = nexus_env(home);
    let paths =
        Paths::from_vars(|name| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()));
    Store::new(&paths)
}

fn account(nexus: &Nexus) -> Value {
    let text = std::fs::read_to_string(nexus.config_dir.join("remote.json")).unwrap_or_default();
    serde_json::from_str(&text).unwrap_or(Value::Null)
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

/// The native dialog titled `title`, once it is on screen.
async fn wait_for_dialog(desktop: &HeadlessDesktop, nexus: &Nexus, title: &str) -> String {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let found = xdotool(desktop, &["search", "--onlyvisible", "--name", title]);
        if let Some(window) = found.lines().next() {
            return window.to_string();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no dialog {title:?}; popover log:\n{}",
            popover_log(nexus)
        );
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

/// Replaces an input's value as a user would (select all, type).
async fn retype(driver: &WebDriver, css: &str, text: &str) {
    let element = driver.wait_for(css, WAIT).await;
    driver
        .send_keys(&element, &format!("\u{E009}a\u{E009}\u{E003}{text}"))
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_pair_page_shows_a_one_time_code_and_remote_changes_need_the_native_dialog() {
    let desktop = HeadlessDesktop::start();
    let model = MockModel::start().await;
    let home = TestHome::new(model.base_url());
    let inspector = webdriver::free_port();
    let nexus = start_with_popover(&desktop, &home, "hide_on_blur = false", inspector).await;

    // The tray's "Pair a phone…" and `open --page pair` show the pair page.
    open(&nexus, &["--page", "pair"]).await;
    let driver = WebDriver::attach(inspector, &home.root().join("webdriver-pair.log")).await;
    driver
        .wait_for("#pair-qr[src^='data:image/svg+xml;base64,']", WAIT)
        .await;
    let src = driver
        .execute(
            "return document.querySelector('#pair-qr').getAttribute('src')",
            json!([]),
        )
        .await;
    let encoded = src
        .as_str()
        .unwrap()
        .strip_prefix("data:image/svg+xml;base64,")
        .unwrap();
    let svg = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .expect("the QR image is base64");
    let svg = String::from_utf8(svg).expect("the QR image is text");
    assert!(
        svg.contains("<svg") && svg.trim_end().ends_with("</svg>"),
        "{svg}"
    );
    // It was drawn: an image the size the page gives it.
    let drawn = driver
        .execute(
            "const i = document.querySelector('#pair-qr'); return i.complete && i.naturalWidth > 0 && i.getClientRects().length > 0",
            json!([]),
        )
        .await;
    assert_eq!(drawn, json!(true));

    let url = driver.text_of("#pair-url").await;
    let (base, token) = url.split_once("/pair#").expect("a pairing address");
    assert_eq!(base, "https://127.0.0.1:4180", "the default listen address");
    assert_eq!(token.len(), 43, "{url}");
    let expiry = driver.text_of("#pair-expiry").await;
    assert!(
        expiry.starts_with("Expires in 4:") || expiry == "Expires in 5:00",
        "{expiry}"
    );
    // The gateway is off and would listen on loopback only: the page says both.
    let notes = driver.text_of("#pair-note-lines").await;
    assert!(notes.contains("Remote access is off"), "{notes}");
    assert!(notes.contains("127.0.0.1:4180"), "{notes}");
    assert!(
        notes.contains("Reaching the gateway from a phone"),
        "{notes}"
    );
    driver
        .wait_for("#pair-devices-empty:not([hidden])", WAIT)
        .await;

    // Stored only as its hash: one code waiting, no device signed in.
    let stored = account(&nexus);
    let pairings = stored["pairings"].as_array().expect("a pairing stored");
    assert_eq!(pairings.len(), 1, "{stored}");
    assert_eq!(
        pairings[0]["token_hash"],
        opencode_nexus::remote::token_hash(token)
    );
    assert_ne!(pairings[0]["token_hash"], token);
    let raw = std::fs::read_to_string(nexus.config_dir.join("remote.json")).unwrap();
    assert!(!raw.contains(token), "the code itself is stored");
    let out = nexus.run(&["remote", "status", "--json"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let status: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(status["devices"], json!([]));
    assert_eq!(status["enabled"], false);

    // A phone signs in (written as the gateway writes it): the page, which
    // reads the account every few seconds, lists it with a Sign out button
    // and shows the sign-in, its user agent as text.
    let now = opencode_nexus::remote::now_ms();
    store(&home)
        .update(|a| {
            a.add_device(Device {
                id: "d1a2b3c4".into(),
                token_hash: "0".repeat(64),
                name: "Safari on iPhone".into(),
                address: "192.168.1.7".into(),
                via: "pairing".into(),
                created_ms: now,
                last_seen_ms: now,
            });
            a.record_attempt(
                now,
                "192.168.1.7",
                "Mobile <img src=x onerror=alert(1)>",
                "paired",
            );
        })
        .unwrap();
    let listed = driver
        .wait_for_text("#pair-devices", "Safari on iPhone", WAIT)
        .await;
    assert!(listed.contains("192.168.1.7"), "{listed}");
    let attempt = driver
        .wait_for_text("#pair-attempts", "Paired with a code", WAIT)
        .await;
    assert!(
        attempt.contains("<img src=x onerror=alert(1)>"),
        "{attempt}"
    );
    let images = driver
        .execute(
            "return document.querySelectorAll('#view-pair img').length",
            json!([]),
        )
        .await;
    assert_eq!(images, json!(1), "only the QR image");

    assert_accessible(&driver, "pair page", Some("popover-pair.png")).await;

    // Sign out: the device is gone from the account, and from the page.
    driver
        .click_css("#pair-devices button[data-device-id='d1a2b3c4']", WAIT)
        .await;
    driver
        .wait_for_text("#pair-devices-status", "Signed out", WAIT)
        .await;
    driver
        .wait_for("#pair-devices-empty:not([hidden])", WAIT)
        .await;
    let out = nexus.run(&["remote", "status", "--json"]).await;
    let status: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(status["devices"], json!([]));

    // The remote password, from the Settings page: typed twice, and stored
    // only after Nexus's own dialog says yes.
    let password_title = opencode_nexus::page::remote_calls::PASSWORD_DIALOG_TITLE;
    let secret = "correct horse battery staple";
    open(&nexus, &["--page", "settings"]).await;
    driver
        .wait_for("#view-settings [data-key='remote.enabled']", WAIT)
        .await;
    retype(&driver, "#remote-password", secret).await;
    retype(&driver, "#remote-password-again", secret).await;
    driver.click_css("#remote-password-set", WAIT).await;
    let dialog = wait_for_dialog(&desktop, &nexus, password_title).await;
    driver
        .wait_for_text("#remote-password-status", "Confirm the new password", WAIT)
        .await;
    press_in_dialog(&desktop, &dialog, "Escape");
    let status = driver
        .wait_for_text("#remote-password-status", "Not changed", WAIT)
        .await;
    assert!(status.contains("did not confirm"), "{status}");
    assert!(account(&nexus)["password"].is_null(), "set without a yes");

    driver.click_css("#remote-password-set", WAIT).await;
    let dialog = wait_for_dialog(&desktop, &nexus, password_title).await;
    press_in_dialog(&desktop, &dialog, "alt+s");
    driver
        .wait_for_text("#remote-password-status", "Remote password set", WAIT)
        .await;
    let phc = account(&nexus)["password"].as_str().unwrap().to_string();
    assert!(phc.starts_with("$argon2id$"), "{phc}");
    assert_eq!(
        opencode_nexus::remote::password::verify(secret, &phc),
        opencode_nexus::remote::password::Verdict::Right
    );
    assert!(
        account(&nexus)["pairings"].as_array().unwrap().is_empty(),
        "a new password voids waiting codes"
    );
    let fields = driver
        .execute(
            "return document.querySelector('#remote-password').value + document.querySelector('#remote-password-again').value",
            json!([]),
        )
        .await;
    assert_eq!(fields, json!(""), "the page keeps no password");

    // Turning the gateway on is a guarded setting: the dialog comes first,
    // and a No writes nothing.
    let config_file = nexus.config_dir.join("config.toml");
    let before = std::fs::read_to_string(&config_file).unwrap();
    driver
        .execute(
            "const c = document.querySelector(\"#view-settings [data-key='remote.enabled']\"); if (!c.checked) c.click();",
            json!([]),
        )
        .await;
    driver.click_css("#settings-save", WAIT).await;
    let dialog = wait_for_dialog(
        &desktop,
        &nexus,
        opencode_nexus::page::settings_guard::DIALOG_TITLE,
    )
    .await;
    let waiting = driver
        .wait_for_text("#settings-status", "Confirm the change", WAIT)
        .await;
    assert!(waiting.contains("remote.enabled"), "{waiting}");
    press_in_dialog(&desktop, &dialog, "Escape");
    driver
        .wait_for_text("#settings-status", "Not saved", WAIT)
        .await;
    assert_eq!(std::fs::read_to_string(&config_file).unwrap(), before);

    // No log holds the password or the pairing code.
    for (name, log) in [
        ("popover.log", popover_log(&nexus)),
        ("nexus.log", nexus.daemon_log()),
    ] {
        assert!(!log.contains(secret), "{name} holds the password");
        assert!(!log.contains(token), "{name} holds the pairing code");
    }
    driver.close().await;
}
