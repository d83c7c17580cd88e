//! The quick-chat popover for real: `opencode-nexus open` starts the popover
//! process under a headless desktop, WebKitWebDriver drives its page (the
//! popover's automation switch, attach mode), and the real server with the
//! mock model answers.

// Drives Nexus as a Linux process (XDG dirs, the Unix socket, D-Bus, the
// Linux desktop): Linux only for now (README, Platforms).
#![cfg(target_os = "linux")]

mod support;

use serde_json::json;
use std::time::{Duration, Instant};
use support::headless_desktop::HeadlessDesktop;
use support::mock_model::MockModel;
use support::nexus::{Nexus, gui_libraries_mapped, process_alive, stderr};
use support::opencode_server::TestHome;
use support::popover::{assert_accessible, open, start_with_popover};
use support::webdriver::{self, ENTER, ESCAPE, WebDriver};

const WAIT: Duration = Duration::from_secs(30);

/// The popover processes among the daemon's children.
fn popover_pids(nexus: &Nexus) -> Vec<u32> {
    support::nexus::descendants(nexus.pid())
        .into_iter()
        .filter(|pid| support::nexus::command_line(*pid).contains("opencode-nexus-popover"))
        .collect()
}

/// Types `text` into the composer and presses Enter.
async fn send_prompt(driver: &WebDriver, text: &str) {
    let composer = driver.wait_for("#composer", WAIT).await;
    driver.send_keys(&composer, text).await;
    driver.send_keys(&composer, ENTER).await;
}

/// Waits until the message history's text contains `text`.
async fn wait_for_history(driver: &WebDriver, text: &str) -> String {
    driver.wait_for_text("#messages", text, WAIT).await
}

#[tokio::test(flavor = "multi_thread")]
async fn quick_chat_streams_renders_safely_answers_permissions_and_switches_sessions() {
    let desktop = HeadlessDesktop::start();
    let model = MockModel::start().await;
    let home = TestHome::new(model.base_url());
    let inspector = webdriver::free_port();
    let nexus = start_with_popover(&desktop, &home, "hide_on_blur = false", inspector).await;

    // `open` starts the popover process and returns once it has painted.
    open(&nexus, &[]).await;
    assert_eq!(popover_pids(&nexus).len(), 1, "one popover process");
    let driver = WebDriver::attach(inspector, &home.root().join("webdriver.log")).await;
    driver.wait_for("#composer", WAIT).await;
    // The resident process still has no GUI toolkit; the popover has it.
    assert_eq!(gui_libraries_mapped(nexus.pid()), Vec::<String>::new());
    assert!(!gui_libraries_mapped(popover_pids(&nexus)[0]).is_empty());

    // A prompt streams the mock's reply into the page.
    send_prompt(&driver, "hello popover").await;
    wait_for_history(&driver, "echo: hello popover").await;
    let composer_text = driver
        .execute(
            "return document.querySelector('#composer').value",
            json!([]),
        )
        .await;
    assert_eq!(composer_text, "", "the composer is cleared after sending");

    // Markdown: a fenced block renders as code, with a copy button.
    send_prompt(&driver, "[markdown]").await;
    let code = driver
        .wait_until(
            "a code block",
            "const c = [...document.querySelectorAll('#messages pre code')]\
               .find(c => c.textContent.includes('println!')); return c ? c.textContent : '';",
            WAIT,
        )
        .await;
    assert!(
        code.as_str().unwrap().contains("println!(\"hi\");"),
        "{code}"
    );
    assert!(driver.find("#messages .code-block .copy").await.is_some());

    // Hostile markup in agent output stays inert text.
    send_prompt(&driver, "[html]").await;
    wait_for_history(&driver, "<img src=x onerror=alert(1)>").await;
    let injected = driver
        .execute(
            "return document.querySelectorAll('#messages img, #messages script, #messages [onerror]').length",
            json!([]),
        )
        .await;
    assert_eq!(injected, 0, "agent output created elements");
    wait_for_history(&driver, "<script>alert(2)</script>").await;

    // A permission request shows inline; Allow once lets the tool run.
    send_prompt(&driver, "[bash:echo from-popover]").await;
    driver
        .wait_for("#pending .permission button[data-reply='once']", WAIT)
        .await;
    let pending_text = driver.text_of("#pending .permission").await;
    assert!(pending_text.contains("echo from-popover"), "{pending_text}");
    driver
        .click_css("#pending .permission button[data-reply='once']", WAIT)
        .await;
    wait_for_history(&driver, "tool said: from-popover").await;
    driver
        .wait_until(
            "the answered request leaves the page",
            "return document.querySelectorAll('#pending .permission').length === 0",
            WAIT,
        )
        .await;
    let first_session = driver
        .wait_until(
            "a current session",
            "const e = document.querySelector('#sessions [aria-current=\"true\"]'); \
             return e ? e.dataset.sessionId : '';",
            WAIT,
        )
        .await
        .as_str()
        .unwrap()
        .to_string();

    // A slow reply is aborted from the page (the Stop button).
    send_prompt(&driver, "[slow] take your time").await;
    driver.wait_for("#abort:not([hidden])", WAIT).await;
    wait_for_history(&driver, "word2 ").await;
    driver.click_css("#abort:not([hidden])", WAIT).await;
    driver
        .wait_until(
            "the session is idle again",
            "const a = document.querySelector('#abort'); return !a || a.hidden",
            WAIT,
        )
        .await;
    let status = nexus.status().await;
    assert_eq!(status["sessions"]["busy"], 0, "{status}");
    let history = driver.text_of("#messages").await;
    assert!(
        !history.contains("word60"),
        "the reply ran to its end: {history}"
    );

    // A second session (opened from the CLI) shows its own history; the
    // session list switches back to the first.
    let out = nexus
        .run(&[
            "ask",
            "--dir",
            home.project_dir().to_str().unwrap(),
            "second topic",
        ])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let second = stderr(&out)
        .lines()
        .find_map(|l| l.strip_prefix("session ").map(str::to_string))
        .expect("ask names its session");
    open(&nexus, &["--session", &second]).await;
    let history = wait_for_history(&driver, "echo: second topic").await;
    assert!(!history.contains("hello popover"), "{history}");
    driver.click_css("#sessions-toggle", WAIT).await;
    driver
        .click_css(
            &format!("#sessions .session[data-session-id='{first_session}']"),
            WAIT,
        )
        .await;
    let history = wait_for_history(&driver, "echo: hello popover").await;
    assert!(!history.contains("echo: second topic"), "{history}");

    // The page with all of that in it passes an automated accessibility check.
    assert_accessible(&driver, "chat page", Some("popover-chat.png")).await;

    driver.close().await;
    // The mock saw the prompts the page sent, with the model and agent chosen.
    let sent = model
        .agent_requests()
        .into_iter()
        .any(|r| r.last_user_text().as_deref() == Some("hello popover"));
    assert!(sent, "the mock model never got the popover's prompt");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_popover_exits_after_keep_alive_survives_a_crash_and_keeps_drafts() {
    let desktop = HeadlessDesktop::start();
    let model = MockModel::start().await;
    let home = TestHome::new(model.base_url());
    let inspector = webdriver::free_port();
    let nexus = start_with_popover(
        &desktop,
        &home,
        "keep_alive = 2\nhide_on_blur = false",
        inspector,
    )
    .await;

    open(&nexus, &[]).await;
    let first = popover_pids(&nexus);
    assert_eq!(first.len(), 1);
    // WebKitGTK paints the page without accelerated compositing: its switch
    // to it mid-stream froze answers for ~0.6 s (BENCHMARKS.md).
    let environ = std::fs::read(format!("/proc/{}/environ", first[0])).unwrap_or_default();
    assert!(
        environ
            .split(|byte| *byte == 0)
            .any(|entry| entry == b"WEBKIT_DISABLE_COMPOSITING_MODE=1"),
        "the popover was started without WEBKIT_DISABLE_COMPOSITING_MODE=1"
    );
    let driver = WebDriver::attach(inspector, &home.root().join("webdriver-1.log")).await;
    let composer = driver.wait_for("#composer", WAIT).await;
    driver.send_keys(&composer, "a draft worth keeping").await;
    // Escape with nothing running hides the window …
    driver.send_keys(&composer, ESCAPE).await;
    driver.close().await;
    // … and after keep_alive the process is gone.
    let deadline = Instant::now() + WAIT;
    while process_alive(first[0]) && !popover_pids(&nexus).is_empty() {
        assert!(Instant::now() < deadline, "the hidden popover did not exit");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The next open starts a fresh process, and the draft is back.
    open(&nexus, &[]).await;
    let second = popover_pids(&nexus);
    assert_eq!(second.len(), 1);
    assert_ne!(second, first);
    let driver = WebDriver::attach(inspector, &home.root().join("webdriver-2.log")).await;
    driver
        .wait_until(
            "the draft is restored",
            "const c = document.querySelector('#composer'); return c && c.value === 'a draft worth keeping'",
            WAIT,
        )
        .await;
    driver.close().await;

    // A crashed popover is replaced on the next open.
    unsafe { libc::kill(second[0] as i32, libc::SIGKILL) };
    let deadline = Instant::now() + WAIT;
    while popover_pids(&nexus).contains(&second[0]) {
        assert!(Instant::now() < deadline, "the killed popover lingers");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    open(&nexus, &[]).await;
    let third = popover_pids(&nexus);
    assert_eq!(third.len(), 1);
    assert_ne!(third, second);
}

/// Injects inline script every way a page script could (a `<script>`
/// element, an `onerror` attribute, a parsed HTML fragment) and reports
/// whether any of it ran, once the image's own error event has fired.
const INJECT_INLINE_SCRIPT: &str = r#"
const done = arguments[arguments.length - 1];
const violations = [];
document.addEventListener('securitypolicyviolation', e => violations.push(e.effectiveDirective || e.violatedDirective));
window.__nexusInlineScript = false;
window.__nexusInlineHandler = false;
window.__nexusFragmentScript = false;
const script = document.createElement('script');
script.textContent = 'window.__nexusInlineScript = true;';
document.body.appendChild(script);
let errored = false;
const img = document.createElement('img');
img.setAttribute('onerror', 'window.__nexusInlineHandler = true');
img.addEventListener('error', () => { errored = true; });
img.src = 'x-no-such-image.png';
document.body.appendChild(img);
document.body.appendChild(document.createRange().createContextualFragment(
  '<script>window.__nexusFragmentScript = true;<\/script>'));
const start = Date.now();
(function wait() {
  if (!errored && Date.now() - start < 10000) return setTimeout(wait, 50);
  // A moment more for anything queued behind the error event.
  setTimeout(() => done({
    errored,
    inlineScript: window.__nexusInlineScript,
    inlineHandler: window.__nexusInlineHandler,
    fragmentScript: window.__nexusFragmentScript,
    violations,
  }), 300);
})();
"#;

/// Puts `text` in the composer as typing would (an `input` event).
const SET_COMPOSER: &str = "const c = document.querySelector('#composer'); c.value = arguments[0]; \
     c.dispatchEvent(new Event('input', {bubbles: true}));";

#[tokio::test(flavor = "multi_thread")]
async fn webkit_enforces_the_pages_csp_and_an_overlong_draft_is_said_not_dropped() {
    use opencode_nexus::page::protocol::MAX_DRAFT_BYTES;
    let desktop = HeadlessDesktop::start();
    let model = MockModel::start().await;
    let home = TestHome::new(model.base_url());
    let inspector = webdriver::free_port();
    let nexus = start_with_popover(&desktop, &home, "hide_on_blur = false", inspector).await;
    open(&nexus, &[]).await;
    let driver = WebDriver::attach(inspector, &home.root().join("webdriver-csp.log")).await;
    driver.wait_for("#composer", WAIT).await;

    // Inline script injected into the real page does not run: WebKitGTK
    // enforces the policy (header and meta), and reports each attempt.
    let outcome = driver.execute_async(INJECT_INLINE_SCRIPT, json!([])).await;
    assert_eq!(
        outcome["errored"], true,
        "the image never failed: {outcome}"
    );
    assert_eq!(
        outcome["inlineScript"], false,
        "inline <script> ran: {outcome}"
    );
    assert_eq!(outcome["inlineHandler"], false, "onerror ran: {outcome}");
    assert_eq!(
        outcome["fragmentScript"], false,
        "fragment script ran: {outcome}"
    );
    let violations = outcome["violations"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        violations
            .iter()
            .any(|v| v.as_str().unwrap_or_default().starts_with("script-src")),
        "no script-src violation reported: {outcome}"
    );
    // The page itself still works under the policy (its own scripts run).
    assert_eq!(
        driver
            .execute("return typeof window.nexus.receive", json!([]))
            .await,
        "function"
    );

    // Drafts: the page counts bytes as Rust does. At exactly the limit the
    // draft is saved and no note shows …
    let drafts_file = nexus.state_dir.join("drafts.json");
    // The texts of drafts.json (a list, the oldest change first).
    let saved_texts = || -> Vec<String> {
        let text = std::fs::read_to_string(&drafts_file).unwrap_or_default();
        let entries: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap_or_default();
        entries
            .iter()
            .filter_map(|e| e["text"].as_str().map(str::to_string))
            .collect()
    };
    let saved = || saved_texts().pop();
    let fits = "é".repeat(MAX_DRAFT_BYTES / 2);
    driver.execute(SET_COMPOSER, json!([fits])).await;
    let deadline = Instant::now() + WAIT;
    while saved().as_deref() != Some(fits.as_str()) {
        assert!(
            Instant::now() < deadline,
            "a draft of exactly {MAX_DRAFT_BYTES} bytes was not saved; popover log:\n{}",
            support::popover::popover_log(&nexus)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(driver.text_of("#draft-note").await, "");
    // … one byte more is not sent, and the note by the composer says so.
    driver
        .execute(SET_COMPOSER, json!([format!("{fits}x")]))
        .await;
    let note = driver
        .wait_until(
            "the too-long note",
            "const n = document.querySelector('#draft-note'); \
             return n && n.getClientRects().length > 0 ? n.textContent : '';",
            WAIT,
        )
        .await;
    let note = note.as_str().unwrap();
    assert!(note.contains("Too long to keep as a draft"), "{note}");
    assert!(
        note.contains(&format!("{} KiB", MAX_DRAFT_BYTES / 1024)),
        "{note}"
    );
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        saved().as_deref(),
        Some(fits.as_str()),
        "the last fitting one stays"
    );
    assert!(!support::popover::popover_log(&nexus).contains("draft not kept"));
    // Short again: the note goes and the draft is saved.
    driver.execute(SET_COMPOSER, json!(["short again"])).await;
    let deadline = Instant::now() + WAIT;
    while saved().as_deref() != Some("short again") {
        assert!(Instant::now() < deadline, "the short draft was not saved");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(driver.text_of("#draft-note").await, "");
    driver.close().await;
}
