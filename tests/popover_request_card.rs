//! The popover's inline permission card shows what Allow approves: the whole
//! command (every line, invisible characters as visible escapes) and what
//! "Always allow" allows. The real popover under a headless desktop, driven
//! through WebKitWebDriver, against the real server with the mock model.

// Drives Nexus as a Linux process (XDG dirs, the Unix socket, D-Bus, the
// Linux desktop): Linux only for now (README, Platforms).
#![cfg(target_os = "linux")]

mod support;

use serde_json::json;
use std::time::Duration;
use support::headless_desktop::HeadlessDesktop;
use support::mock_model::MockModel;
use support::nexus::finished;
use support::opencode_server::TestHome;
use support::popover::{open, start_with_popover};
use support::webdriver::{self, WebDriver};

const WAIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread")]
async fn the_permission_card_shows_the_whole_command_escaped_and_what_always_allows() {
    let desktop = HeadlessDesktop::start();
    let model = MockModel::start().await;
    let home = TestHome::new(model.base_url());
    let inspector = webdriver::free_port();
    let nexus = start_with_popover(&desktop, &home, "hide_on_blur = false", inspector).await;

    // The request comes from the CLI; the card shows on its session.
    let ask = nexus.spawn(&[
        "ask",
        "[bash:echo shown\u{1b}[2K\necho \u{202e}second\u{200b}line]",
    ]);
    let status = nexus
        .wait_for_status(WAIT, "a waiting permission", |s| {
            s["sessions"]["pending_permissions"].as_u64() == Some(1)
        })
        .await;
    let session = status["sessions"]["permissions"][0]["session_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no session on the request: {status}"))
        .to_string();
    open(&nexus, &["--session", &session]).await;
    let driver = WebDriver::attach(inspector, &home.root().join("webdriver.log")).await;
    driver
        .wait_for("#pending .permission button[data-reply='once']", WAIT)
        .await;

    let detail = driver
        .execute(
            "return document.querySelector('#pending .permission .request-detail').textContent",
            json!([]),
        )
        .await;
    assert_eq!(
        detail.as_str().unwrap_or_default(),
        "echo shown\\u001b[2K\necho \\u202esecond\\u200bline"
    );
    let always = driver.text_of("#pending .permission .request-always").await;
    assert!(always.contains("allows from now on: "), "{always}");
    let buttons = driver
        .execute(
            "return [...document.querySelectorAll('#pending .permission button')].map(b => b.textContent)",
            json!([]),
        )
        .await;
    assert_eq!(buttons, json!(["Allow once", "Always allow", "Reject"]));

    driver
        .click_css("#pending .permission button[data-reply='reject']", WAIT)
        .await;
    let _ = finished(ask, WAIT).await;
    driver.close().await;
}
