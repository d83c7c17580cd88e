//! Start at login and the diagnostics report, through the real binary.

mod support;

use std::time::Duration;
use support::mock_model::MockModel;
use support::nexus::{Nexus, managed_config, nexus_binary, stdout};
use support::opencode_server::{OpencodeServer, TestHome};

use support::nexus::run_in as run;

#[test]
fn autostart_enable_disable_and_status_tell_the_truth() {
    let home = TestHome::new("http://127.0.0.1:9/v1");
    let entry = home.config_home().join("autostart/opencode-nexus.desktop");
    assert_eq!(
        stdout(&run(&home, &["autostart", "status"])).trim(),
        "disabled"
    );

    let out = run(&home, &["autostart", "enable"]);
    assert_eq!(out.status.code(), Some(0));
    let text = std::fs::read_to_string(&entry).unwrap();
    let exec = text.lines().find_map(|l| l.strip_prefix("Exec=")).unwrap();
    assert_eq!(
        exec,
        format!("{} daemon", nexus_binary().display()),
        "starts this binary's daemon"
    );
    assert!(text.contains("NoDisplay=true"));
    let status = stdout(&run(&home, &["autostart", "status"]));
    assert!(status.starts_with("enabled:"), "{status}");
    if let Ok(check) = std::process::Command::new("desktop-file-validate")
        .arg(&entry)
        .output()
    {
        assert!(
            check.status.success(),
            "{}",
            String::from_utf8_lossy(&check.stdout)
        );
    }

    assert_eq!(run(&home, &["autostart", "disable"]).status.code(), Some(0));
    assert!(!entry.exists());
    assert_eq!(
        stdout(&run(&home, &["autostart", "status"])).trim(),
        "disabled"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn diagnostics_report_everything_but_the_managed_servers_password() {
    let model = MockModel::start().await;
    let home = TestHome::new(model.base_url());
    let nexus = Nexus::start(&home, &managed_config(&home.project_dir())).await;
    let status = nexus
        .wait_for_state("running", Duration::from_secs(90))
        .await;
    let pid = status["server"]["pid"].as_u64().unwrap();
    // The password the daemon gave its server, read from the server's environment.
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    let password = environ
        .split(|b| *b == 0)
        .find_map(|kv| kv.strip_prefix(b"OPENCODE_SERVER_PASSWORD="))
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .expect("the server got a password");
    assert!(password.len() >= 32);

    let out = nexus.run(&["diagnostics"]).await;
    assert_eq!(out.status.code(), Some(0));
    let report = stdout(&out);
    assert!(
        !report.contains(&password),
        "the password leaked into diagnostics"
    );
    for part in [
        "OpenCode Nexus",
        "os:",
        "server: running",
        "state history",
        "config",
        "server.directory",
        "server log",
    ] {
        assert!(report.contains(part), "no {part:?} in:\n{report}");
    }
    assert!(
        report.contains("listening on http://127.0.0.1:"),
        "the server's log lines are included"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn diagnostics_never_show_the_attach_password_and_work_without_a_daemon() {
    let model = MockModel::start().await;
    let home = TestHome::new(model.base_url());
    let server = OpencodeServer::start(&home, Some("s3cret-attach-pw")).await;
    let config = format!(
        "[server]\nmode = \"attach\"\nurl = {:?}\n",
        server.base_url()
    );
    let nexus = Nexus::start_with_env(
        &home,
        &config,
        &[("OPENCODE_SERVER_PASSWORD", "s3cret-attach-pw")],
    )
    .await;
    nexus
        .wait_for_state("running", Duration::from_secs(60))
        .await;
    let report = stdout(&nexus.run(&["diagnostics"]).await);
    assert!(report.contains("server: running"), "{report}");
    assert!(!report.contains("s3cret-attach-pw"), "{report}");
    drop(nexus);

    let out = run(&home, &["diagnostics"]);
    assert_eq!(out.status.code(), Some(0));
    let report = stdout(&out);
    assert!(
        report.contains("daemon: not running") && report.contains("server.mode = attach"),
        "{report}"
    );
}
