//! The daemon's server state through faults injected by a fake event server
//! (attach mode): the wiring from watcher reports to `status`.

// Drives Nexus as a Linux process (XDG dirs, the Unix socket, D-Bus, the
// Linux desktop): Linux only for now (README, Platforms).
#![cfg(target_os = "linux")]

mod support;

use serde_json::json;
use std::time::Duration;
use support::fake_event_server::{EventMode, FakeEventServer};
use support::nexus::{Nexus, assert_exit, finished};
use support::opencode_server::TestHome;

const WAIT: Duration = Duration::from_secs(20);

fn config(url: &str) -> String {
    format!("[server]\nmode = \"attach\"\nurl = {url:?}\nevent_timeout = 1\n")
}

fn states(status: &serde_json::Value) -> Vec<String> {
    status["server"]["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["state"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn stalled_stream_shows_unreachable_then_recovers() {
    let fake = FakeEventServer::start().await;
    fake.script_connections([EventMode::Stall, EventMode::Normal]);
    let home = TestHome::new("http://127.0.0.1:9/v1");
    let nexus = Nexus::start(&home, &config(fake.base_url())).await;
    let status = nexus
        .wait_for_status(WAIT, "a recovery after the stall", |s| {
            s["server"]["state"] == "running" && states(s).iter().any(|x| x == "unreachable")
        })
        .await;
    let history = states(&status);
    let unreachable = history.iter().position(|s| s == "unreachable").unwrap();
    assert_eq!(history[unreachable - 1], "running", "{history:?}");
    assert_eq!(history.last().map(String::as_str), Some("running"));
    let reason = &status["server"]["history"][unreachable]["reason"];
    assert!(reason.as_str().unwrap().contains("no data"), "{reason}");
    assert!(fake.event_connections() >= 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn events_from_the_stream_reach_status() {
    let fake = FakeEventServer::start().await;
    let home = TestHome::new("http://127.0.0.1:9/v1");
    let nexus = Nexus::start(&home, &config(fake.base_url())).await;
    nexus.wait_for_state("running", WAIT).await;
    fake.push_event(
        "session.status",
        json!({"sessionID": "ses_a", "status": {"type": "busy"}}),
    );
    fake.push_event(
        "question.asked",
        json!({"id": "que_1", "sessionID": "ses_a", "questions": [{"question": "Deploy now?", "header": "Confirm",
              "options": [{"label": "Yes"}, {"label": "No"}]}]}),
    );
    let status = nexus
        .wait_for_status(WAIT, "a busy session with a question", |s| {
            s["sessions"]["busy"] == 1 && s["sessions"]["pending_questions"] == 1
        })
        .await;
    assert_eq!(status["sessions"]["questions"][0]["directory"], "/p");
    assert_eq!(
        status["server"]["unsecured"], true,
        "the fake answers without a password"
    );
    let waiting = nexus.spawn(&["wait-idle", "--timeout", "20"]);
    fake.push_event(
        "question.replied",
        json!({"sessionID": "ses_a", "requestID": "que_1", "answers": [["Yes"]]}),
    );
    fake.push_event(
        "session.status",
        json!({"sessionID": "ses_a", "status": {"type": "idle"}}),
    );
    let out = finished(waiting, WAIT).await;
    assert_exit(&out, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn unreachable_attach_target_keeps_retrying_quietly() {
    // Nothing listens on this port: "unreachable", retried with backoff, no hot loop.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let home = TestHome::new("http://127.0.0.1:9/v1");
    let nexus = Nexus::start(&home, &config(&format!("http://127.0.0.1:{port}"))).await;
    let status = nexus.wait_for_state("unreachable", WAIT).await;
    assert!(
        status["server"]["last_error"]
            .as_str()
            .unwrap()
            .contains("cannot reach"),
        "{status}"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    let attempts = nexus.daemon_log().matches("event stream ended").count();
    assert!((2..=12).contains(&attempts), "{attempts} attempts in ~3 s");
}
