//! The quick-chat page on a phone, for real: Debian's Chromium driven by
//! chromedriver at a phone's size (390 × 844 CSS px, touch, a phone's user
//! agent) opens the pairing link of `opencode-nexus remote pair` on the
//! remote gateway (HTTPS, its self-signed certificate accepted), signs in by
//! itself, lists the project's sessions, sends a prompt with the Send button
//! (Enter is a new line on a touch screen), sees the mock model's reply
//! stream in over the WebSocket, and answers a bash permission card at the
//! top of the page with "Allow once", after which the command runs. Against
//! the real daemon, its gateway, the real `opencode serve` (pinned) and the
//! mock model. Screenshots with the card and after; axe-core on the chat page
//! and on `/login`; no sideways scrolling; touch targets of the card at least
//! 44 × 44 CSS px.

#![cfg(target_os = "linux")]

mod support;

use serde_json::{Value, json};
use std::path::Path;
use std::time::{Duration, Instant};
use support::chromium::{self, PHONE_WIDTH};
use support::gateway::{free_port, gateway_config, wait_listening};
use support::mock_model::MockModel;
use support::nexus::{Nexus, stderr, stdout};
use support::opencode_server::TestHome;
use support::popover::{artifacts, axe_violations};
use support::webdriver::{ENTER, WebDriver};

const SERVER_START: Duration = Duration::from_secs(90);
const GATEWAY_START: Duration = Duration::from_secs(30);
const WAIT: Duration = Duration::from_secs(30);

/// The page's width against what it would scroll to, the document's and the body's.
const SIDEWAYS: &str = "const d = document.documentElement, b = document.body;\
     return {width: innerWidth, client: d.clientWidth, scroll: d.scrollWidth, body: b.scrollWidth};";

/// Fails if the page scrolls sideways at the phone's width.
async fn assert_no_sideways_scrolling(phone: &WebDriver, what: &str) {
    let size = phone.execute(SIDEWAYS, json!([])).await;
    assert_eq!(size["width"], PHONE_WIDTH, "{what}: the viewport {size}");
    let client = size["client"].as_u64().unwrap();
    assert!(
        size["scroll"].as_u64().unwrap() <= client && size["body"].as_u64().unwrap() <= client,
        "{what}: the page scrolls sideways: {size}"
    );
}

/// Fails on any axe-core violation (WCAG 2.0–2.2 A and AA) in the page as it is.
async fn assert_accessible(phone: &WebDriver, what: &str) {
    let violations = axe_violations(phone).await;
    assert!(
        violations.is_empty(),
        "{what}: accessibility violations: {violations:#?}"
    );
}

/// Saves a screenshot under the test artifacts and checks a PNG was written.
async fn keep_screenshot(phone: &WebDriver, name: &str) {
    let path = artifacts().join(name);
    let _ = std::fs::remove_file(&path);
    phone.screenshot(&path).await;
    let bytes = std::fs::read(&path).unwrap_or_default();
    assert!(
        bytes.len() > 1000 && bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "no screenshot at {} ({} bytes)",
        path.display(),
        bytes.len()
    );
}

/// Types `text` into the composer as a phone keyboard would (a tap first).
async fn type_into_composer(phone: &WebDriver, text: &str) {
    let composer = phone.wait_for("#composer", WAIT).await;
    phone.click(&composer).await;
    phone.send_keys(&composer, text).await;
}

/// The text of the assistant's messages in the conversation.
async fn assistant_text(phone: &WebDriver) -> String {
    phone
        .execute(
            "return [...document.querySelectorAll('#message-list article[data-role=\"assistant\"]')]\
               .map(a => a.textContent).join('\\n');",
            json!([]),
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Waits until an assistant message contains `text`.
async fn wait_for_reply(phone: &WebDriver, text: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        if assistant_text(phone).await.contains(text) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no reply with {text:?} in the page: {}",
            phone.text_of("#messages").await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the browser's address is `url`.
async fn wait_for_address(phone: &WebDriver, url: &str, log: &Path) {
    let deadline = Instant::now() + WAIT;
    loop {
        let now = phone.current_url().await;
        if now.as_deref() == Some(url) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the page is at {now:?}, not {url}; the gateway's log:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_phone_pairs_chats_and_allows_a_command_in_chromium() {
    let started = Instant::now();
    let model = MockModel::start().await;
    // bash asks for permission (TestHome::new).
    let home = TestHome::new(model.base_url());
    let port = free_port();
    let nexus = Nexus::start(&home, &gateway_config(&home.project_dir(), port, 4)).await;
    nexus.wait_for_state("running", SERVER_START).await;
    wait_listening(&nexus, 1, GATEWAY_START).await;
    let gateway_log = nexus.state_dir.join("gateway.log");
    let base = format!("https://127.0.0.1:{port}");

    // A session from before the phone, made on the computer.
    let out = nexus.run(&["ask", "made on the computer"]).await;
    assert_eq!(out.status.code(), Some(0), "ask: {}", stderr(&out));
    assert_eq!(stdout(&out), "echo: made on the computer\n");
    let earlier = stderr(&out)
        .split_whitespace()
        .find(|w| w.starts_with("ses_"))
        .unwrap_or_else(|| panic!("no session id from ask: {}", stderr(&out)))
        .trim_end_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_string();

    // Pairing: the link from the computer, opened on the phone.
    let out = nexus.run(&["remote", "pair", "--json"]).await;
    assert_eq!(out.status.code(), Some(0), "pair: {}", stderr(&out));
    let pairing: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let url = pairing["url"].as_str().unwrap().to_string();
    assert!(url.starts_with(&format!("{base}/pair#")), "{url}");

    let phone = chromium::phone(&home.root().join("chromedriver.log")).await;
    phone.goto(&url).await;
    // It pairs by itself and lands on the chat, the code gone from the address.
    wait_for_address(&phone, &format!("{base}/"), &gateway_log).await;
    phone
        .wait_until(
            "the page's socket is open, in remote mode",
            "const r = window.NexusRemote; \
             return !!(r && r.isRemote && r.transport && r.transport.state() === 'open' \
               && document.documentElement.classList.contains('remote'));",
            WAIT,
        )
        .await;
    let out = nexus.run(&["remote", "devices", "--json"]).await;
    let devices: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(devices.as_array().map(Vec::len), Some(1), "{devices}");
    assert_eq!(devices[0]["name"], "Chrome on Android", "{devices}");
    // A touch screen: the page knows it, and says nothing of Enter sending
    // (chromedriver may apply its touch emulation a moment after the page
    // started; the page follows the pointer).
    phone
        .wait_until(
            "the composer says nothing of Enter on a touch screen",
            "return matchMedia('(pointer: coarse)').matches\
               && document.querySelector('#composer').placeholder === 'Ask OpenCode…' ? true : null;",
            WAIT,
        )
        .await;

    // The project's sessions are listed; the one from the computer opens with its history.
    phone.click_css("#sessions-toggle", WAIT).await;
    let listed = format!("#sessions button.session[data-session-id='{earlier}']");
    phone.wait_for(&listed, WAIT).await;
    phone.click_css(&listed, WAIT).await;
    wait_for_reply(&phone, "echo: made on the computer").await;
    phone
        .wait_until(
            "the session panel closes on choosing",
            "return document.querySelector('#session-panel').hidden",
            WAIT,
        )
        .await;

    // Typing on the phone: Enter is a new line; the Send button sends.
    let deltas_before = phone
        .execute("return window.nexusMetrics.deltas", json!([]))
        .await
        .as_u64()
        .unwrap();
    type_into_composer(&phone, "hello from").await;
    let composer = phone.wait_for("#composer", WAIT).await;
    phone.send_keys(&composer, ENTER).await;
    phone.send_keys(&composer, "the phone").await;
    let typed = phone
        .execute(
            "return document.querySelector('#composer').value",
            json!([]),
        )
        .await;
    assert_eq!(
        typed, "hello from\nthe phone",
        "Enter must not send on a phone"
    );
    assert_eq!(
        model.last_user_text().as_deref(),
        Some("made on the computer"),
        "nothing was sent by Enter"
    );
    phone.click_css("#send", WAIT).await;
    wait_for_reply(&phone, "the phone").await;
    wait_for_reply(&phone, "echo: hello from").await;
    assert_eq!(
        model.last_user_text().as_deref(),
        Some("hello from\nthe phone")
    );
    let deltas = phone
        .execute("return window.nexusMetrics.deltas", json!([]))
        .await
        .as_u64()
        .unwrap();
    assert!(
        deltas > deltas_before + 1,
        "the reply did not stream in as deltas ({deltas_before} → {deltas})"
    );
    phone
        .wait_until(
            "the composer is empty after sending",
            "return document.querySelector('#composer').value === ''",
            WAIT,
        )
        .await;

    // A command: the permission card comes to the top of the page, whole.
    type_into_composer(&phone, "[bash:echo phone-approved]").await;
    phone.click_css("#send", WAIT).await;
    let once = "#pending .permission button[data-reply='once']";
    phone.wait_for(once, WAIT).await;
    let card = phone
        .execute(
            "const pending = document.querySelector('#pending');\
             const card = pending.querySelector('.permission');\
             const list = document.querySelector('#messages').getBoundingClientRect();\
             const box = pending.getBoundingClientRect();\
             return {\
               parent: pending.parentElement.id,\
               first: pending.parentElement.firstElementChild === pending,\
               above: box.bottom <= list.top + 1,\
               inView: box.top >= 0 && box.bottom <= innerHeight,\
               detail: card.querySelector('.request-detail').textContent,\
               buttons: [...card.querySelectorAll('button')].map(b => b.textContent),\
               sizes: [...card.querySelectorAll('button')]\
                 .filter(b => b.offsetParent !== null)\
                 .map(b => { const r = b.getBoundingClientRect(); return [b.textContent, r.width, r.height]; }),\
             };",
            json!([]),
        )
        .await;
    assert_eq!(card["parent"], "conversation", "{card}");
    assert_eq!(card["first"], true, "the card is at the top: {card}");
    assert_eq!(card["above"], true, "the card is above the history: {card}");
    assert_eq!(card["inView"], true, "the card is on screen: {card}");
    assert_eq!(card["detail"], "echo phone-approved", "{card}");
    assert_eq!(
        card["buttons"],
        json!(["Allow once", "Always allow", "Reject"])
    );
    let sizes = card["sizes"].as_array().unwrap();
    assert_eq!(sizes.len(), 3, "every button shows: {card}");
    for size in sizes {
        let (width, height) = (size[1].as_f64().unwrap(), size[2].as_f64().unwrap());
        assert!(
            width >= 44.0 && height >= 44.0,
            "a touch target under 44 × 44 CSS px: {size}"
        );
    }
    assert_no_sideways_scrolling(&phone, "the chat with a permission card").await;
    keep_screenshot(&phone, "phone-permission-card.png").await;
    assert_accessible(&phone, "the chat with a permission card").await;
    assert!(
        !assistant_text(&phone).await.contains("tool said:"),
        "the command ran before it was allowed"
    );

    // Allow once: the command runs and the model reports its output.
    phone.click_css(once, WAIT).await;
    wait_for_reply(&phone, "tool said: phone-approved").await;
    phone
        .wait_until(
            "the answered card leaves the page",
            "return document.querySelectorAll('#pending .permission').length === 0 \
               && document.querySelector('#pending').hidden",
            WAIT,
        )
        .await;
    let tool = phone
        .wait_until(
            "the bash tool's card is done",
            "const c = document.querySelector('#message-list .tool-card[data-status=\"completed\"]');\
             return c ? c.textContent : '';",
            WAIT,
        )
        .await;
    assert!(
        tool.as_str().unwrap().contains("phone-approved"),
        "the tool card: {tool}"
    );
    assert_no_sideways_scrolling(&phone, "the chat after the command").await;
    keep_screenshot(&phone, "phone-after-allow.png").await;
    assert_accessible(&phone, "the chat after the command").await;

    // The sign-in page at the phone's size.
    phone.goto(&format!("{base}/login")).await;
    phone.wait_for("#login-password", WAIT).await;
    assert_no_sideways_scrolling(&phone, "the sign-in page").await;
    let submit = phone
        .execute(
            "const r = document.querySelector('#login-submit').getBoundingClientRect();\
             return [r.width, r.height];",
            json!([]),
        )
        .await;
    assert!(
        submit[0].as_f64().unwrap() >= 44.0 && submit[1].as_f64().unwrap() >= 44.0,
        "the sign-in button: {submit}"
    );
    keep_screenshot(&phone, "phone-login.png").await;
    assert_accessible(&phone, "the sign-in page").await;

    phone.close().await;
    eprintln!(
        "phone test: {:.1} s in all",
        started.elapsed().as_secs_f64()
    );
}
