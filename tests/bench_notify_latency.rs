//! Benchmark (ignored in the normal suite; run by scripts/bench-notify.sh):
//! from an event leaving the server to `Notify` reaching the notification
//! server. Target: ≤ 150 ms from the event's arrival at Nexus; this measures
//! from before the server sends it, so it is an upper bound.

// Drives Nexus as a Linux process (XDG dirs, the Unix socket, D-Bus, the
// Linux desktop): Linux only for now (README, Platforms).
#![cfg(target_os = "linux")]

mod support;

use serde_json::json;
use std::time::{Duration, Instant};
use support::fake_event_server::FakeEventServer;
use support::nexus::Nexus;
use support::notification_server::NotificationServer;
use support::opencode_server::TestHome;

const ROUNDS: usize = 20;

#[tokio::test(flavor = "multi_thread")]
#[ignore = "benchmark: run with scripts/bench-notify.sh"]
async fn event_to_notify_latency() {
    let double = NotificationServer::start_on_private_bus();
    let fake = FakeEventServer::start().await;
    let home = TestHome::new("http://127.0.0.1:9/v1");
    let config = format!(
        "[server]\nmode = \"attach\"\nurl = {:?}\n[notify]\nquiet_period = 0\n",
        fake.base_url()
    );
    let env = double.env();
    let extra: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let nexus = Nexus::start_with_env(&home, &config, &extra).await;
    nexus
        .wait_for_state("running", Duration::from_secs(30))
        .await;

    let mut latencies = Vec::new();
    for round in 0..ROUNDS {
        let id = format!("per_{round}");
        let session = format!("ses_{round}");
        let sent = Instant::now();
        fake.push_event(
            "permission.asked",
            json!({"id": id, "sessionID": session, "permission": "bash", "metadata": {"command": "true"}}),
        );
        let n = double
            .wait_for(
                |n| n.summary.starts_with("Permission needed") && n.received_at >= sent,
                Duration::from_secs(10),
            )
            .await;
        latencies.push(n.received_at.duration_since(sent));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    latencies.sort();
    let median = latencies[ROUNDS / 2];
    println!(
        "event → Notify latency over {ROUNDS} permission requests: median {:.1} ms, worst {:.1} ms",
        median.as_secs_f64() * 1e3,
        latencies[ROUNDS - 1].as_secs_f64() * 1e3
    );
    assert!(
        median <= Duration::from_millis(150),
        "median {median:?} over the 150 ms target"
    );
}
