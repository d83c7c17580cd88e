//! popover.log under the headless desktop: the popover's output reaches it
//! through the daemon (so it can be rotated while the popover runs), and the
//! file is private.

// Drives Nexus as a Linux process (XDG dirs, the Unix socket, D-Bus, the
// Linux desktop): Linux only for now (README, Platforms).
#![cfg(target_os = "linux")]

mod support;

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};
use support::headless_desktop::HeadlessDesktop;
use support::nexus::Nexus;
use support::opencode_server::TestHome;
use support::popover::{env_pairs, open};

const WAIT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread")]
async fn popover_output_lands_in_a_private_log() {
    let desktop = HeadlessDesktop::start();
    let home = TestHome::new("http://127.0.0.1:9/v1");
    let env = desktop.env();
    let nexus = Nexus::start_with_env(
        &home,
        "[server]\nmode = \"attach\"\nurl = \"http://127.0.0.1:9\"\n",
        &env_pairs(&env),
    )
    .await;
    open(&nexus, &[]).await;

    let log = nexus.state_dir.join("popover.log");
    let deadline = Instant::now() + WAIT;
    while std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0) == 0 {
        assert!(
            Instant::now() < deadline,
            "the popover's output never reached {}\n{}",
            log.display(),
            nexus.daemon_log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mode = std::fs::metadata(&log).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{} is {mode:o}", log.display());
}
