//! Live settings and server metrics against the real `opencode serve`:
//! config.toml edits are applied while the daemon runs (a bad edit keeps the
//! last good settings and says why), and the server's process tree is
//! measured with its children.

mod support;

use serde_json::{Value, json};
use std::time::Duration;
use support::mock_model::MockModel;
use support::nexus::{Nexus, assert_exit, managed_config, stdout};
use support::opencode_server::TestHome;

const SERVER_START: Duration = Duration::from_secs(90);
/// The watcher polls once a second; a change is seen within a few.
const CONFIG_SEEN: Duration = Duration::from_secs(15);

fn server_pid(status: &Value) -> u64 {
    status["server"]["pid"].as_u64().expect("a server pid")
}

fn write_config(nexus: &Nexus, text: &str) {
    std::fs::write(nexus.config_dir.join("config.toml"), text).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn edits_apply_live_and_a_bad_edit_keeps_the_last_good_settings() {
    let model = MockModel::start().await;
    let home = TestHome::new(model.base_url());
    let good = managed_config(&home.project_dir());
    let nexus = Nexus::start(&home, &good).await;
    let status = nexus.wait_for_state("running", SERVER_START).await;
    let first = server_pid(&status);

    // A bad hand edit: the daemon says why and keeps its server.
    write_config(&nexus, &format!("{good}port = 70000\n"));
    let status = nexus
        .wait_for_status(CONFIG_SEEN, "the config problem reported", |s| {
            s["config_problem"].is_string()
        })
        .await;
    let problem = status["config_problem"].as_str().unwrap();
    assert!(problem.contains("server.port = 70000"), "{problem}");
    assert_eq!(status["server"]["state"], "running");
    assert_eq!(server_pid(&status), first, "the server was kept");
    let text = stdout(&nexus.run(&["status"]).await);
    assert!(text.contains("config.toml not applied"), "{text}");
    assert!(
        nexus
            .daemon_log()
            .contains("keeping the last good settings")
    );

    // A change that does not concern the server: applied, no restart.
    write_config(&nexus, &format!("{good}[notify]\nmin_duration = 3\n"));
    let status = nexus
        .wait_for_status(CONFIG_SEEN, "the problem cleared", |s| {
            s["config_problem"].is_null()
        })
        .await;
    assert_eq!(server_pid(&status), first, "no restart for a notify key");

    // A new port: the managed server restarts on it.
    let port = support::webdriver::free_port();
    write_config(&nexus, &format!("{good}port = {port}\n"));
    let status = nexus.wait_for_server_on_port(port, SERVER_START).await;
    assert_ne!(server_pid(&status), first, "a new server process");
    let out = nexus.run(&["ask", "after the change"]).await;
    assert_eq!(stdout(&out), "echo: after the change\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_cover_the_server_and_its_children() {
    let model = MockModel::start().await;
    let home = TestHome::with_permission(model.base_url(), json!({ "bash": "allow" }));
    let nexus = Nexus::start(&home, &managed_config(&home.project_dir())).await;
    nexus.wait_for_state("running", SERVER_START).await;

    let out = nexus.run(&["metrics", "--json"]).await;
    assert_exit(&out, 0);
    let alone: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert!(
        alone["memory_bytes"].as_u64().unwrap() > 10 << 20,
        "{alone}"
    );
    let alone_count = alone["processes"].as_u64().unwrap();
    assert!(alone_count >= 1, "{alone}");

    // A tool that keeps a core busy: opencode runs it in a session of its
    // own, so only a walk of the whole tree finds it.
    let _ask = nexus.spawn(&["ask", "[bash:timeout 60 sh -c 'while :; do :; done']"]);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let busy = loop {
        assert!(std::time::Instant::now() < deadline, "no busy child seen");
        let out = nexus.run(&["metrics", "--json"]).await;
        let now: Value = serde_json::from_str(&stdout(&out)).unwrap();
        if now["processes"].as_u64().unwrap() > alone_count
            && now["cpu_percent"].as_f64().unwrap() > 50.0
        {
            break now;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert!(busy["memory_bytes"].as_u64().unwrap() > 0);
    let text = stdout(&nexus.run(&["metrics"]).await);
    assert!(text.starts_with("server process tree: CPU "), "{text}");
}
