//! Driving the popover in tests: its environment under the headless desktop
//! (WebKit automation on), `opencode-nexus open`, and an axe-core check.

use super::headless_desktop::HeadlessDesktop;
use super::nexus::{Nexus, managed_config, stderr};
use super::opencode_server::TestHome;
use super::webdriver::{self, WebDriver};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// Where screenshots go.
pub fn artifacts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts")
}

/// The desktop's variables plus the popover's test switch, with its
/// automation reachable on `inspector`.
pub fn popover_env(desktop: &HeadlessDesktop, inspector: u16) -> Vec<(&'static str, String)> {
    let mut env: Vec<(&str, String)> = desktop.env();
    env.push(("OPENCODE_NEXUS_AUTOMATION", "1".into()));
    env.push(("WEBKIT_INSPECTOR_SERVER", format!("127.0.0.1:{inspector}")));
    env
}

/// An environment list as the `(name, value)` pairs the Nexus harness takes.
pub fn env_pairs<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'a str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// How long the managed server may take to come up under the desktop tests.
const SERVER_START: std::time::Duration = std::time::Duration::from_secs(90);

/// Nexus managing a server in `home`, with `popover_config` as its
/// `[popover]` table and the popover's automation on `inspector`; returns
/// once the server is running.
pub async fn start_with_popover(
    desktop: &HeadlessDesktop,
    home: &TestHome,
    popover_config: &str,
    inspector: u16,
) -> Nexus {
    let env = popover_env(desktop, inspector);
    let config = format!(
        "{}\n[popover]\n{popover_config}\n",
        managed_config(&home.project_dir())
    );
    let nexus = Nexus::start_with_env(home, &config, &env_pairs(&env)).await;
    nexus.wait_for_state("running", SERVER_START).await;
    nexus
}

/// `opencode-nexus open …` (returns once the window has painted).
pub async fn open(nexus: &Nexus, args: &[&str]) {
    let mut all = vec!["open"];
    all.extend_from_slice(args);
    let out = nexus.run(&all).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "open failed: {}\npopover log:\n{}\ndaemon log:\n{}",
        stderr(&out),
        popover_log(nexus),
        nexus.daemon_log()
    );
}

pub fn popover_log(nexus: &Nexus) -> String {
    std::fs::read_to_string(nexus.state_dir.join("popover.log")).unwrap_or_default()
}

/// Checks the page as it is now with axe-core and fails on any violation
/// (`what` names the view in the message); saves a screenshot named
/// `screenshot` under the test artifacts first, so a failure has a picture.
pub async fn assert_accessible(driver: &WebDriver, what: &str, screenshot: Option<&str>) {
    let violations = axe_violations(driver).await;
    if let Some(name) = screenshot {
        driver.screenshot(&artifacts().join(name)).await;
    }
    assert!(
        violations.is_empty(),
        "{what}: accessibility violations: {violations:#?}"
    );
}

/// Runs axe-core (WCAG 2.0/2.1/2.2 A and AA rules) in the page; its violations.
pub async fn axe_violations(driver: &WebDriver) -> Vec<Value> {
    let axe = std::fs::read_to_string(webdriver::axe_script())
        .expect("axe-core is installed by scripts/setup-and-test.sh (tools/axe)");
    driver.execute(&axe, json!([])).await;
    let result = driver
        .execute_async(
            "const done = arguments[arguments.length - 1];\
             axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a','wcag2aa','wcag21a','wcag21aa','wcag22aa']}})\
               .then(r => done(r.passes.length < 10\
                   ? [{id: 'axe-ran-too-few-rules', passes: r.passes.length}]\
                   : r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,\
                       nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}))))\
               .catch(e => done([{id: 'axe-error', help: String(e)}]));",
            json!([]),
        )
        .await;
    result.as_array().cloned().unwrap_or_default()
}
