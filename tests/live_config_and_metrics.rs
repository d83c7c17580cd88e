//! Live settings and server metrics against the real `opencode serve`:
//! config.toml edits are applied while the daemon runs (a bad edit keeps the
//! last good settings and says why), and the server's process tree is
//! measured with its children.

// Drives Nexus as a Linux process (XDG dirs, the Unix socket, D-Bus, the
// Linux desktop): Linux only for now (README, Platforms).
#![cfg(target_os = "linux")]

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

/// What can be at config.toml's path instead of a small text file, and what
/// the message must say about it.
#[derive(Clone, Copy, Debug)]
enum BadConfig {
    Fifo,
    DevZero,
    Directory,
    OneGigabyte,
}

const BAD_CONFIGS: [BadConfig; 4] = [
    BadConfig::Fifo,
    BadConfig::DevZero,
    BadConfig::Directory,
    BadConfig::OneGigabyte,
];
/// How fast `status` must answer while a bad config.toml is in place.
const STATUS_WITHIN: Duration = Duration::from_secs(1);

impl BadConfig {
    /// Puts it at `path` (whatever was there is removed first).
    fn create(self, path: &std::path::Path) {
        remove_config(path);
        match self {
            BadConfig::Fifo => {
                let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
                // SAFETY: a valid NUL-terminated path and a mode.
                assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
            }
            BadConfig::DevZero => std::os::unix::fs::symlink("/dev/zero", path).unwrap(),
            BadConfig::Directory => std::fs::create_dir(path).unwrap(),
            // Sparse: no disk is used, but a reader would get 1 GB of zeros.
            BadConfig::OneGigabyte => std::fs::File::create(path)
                .unwrap()
                .set_len(1 << 30)
                .unwrap(),
        }
    }

    /// What the message must say besides the file's path.
    fn problem(self) -> &'static str {
        match self {
            BadConfig::Fifo => "is a FIFO (named pipe), not a regular file",
            BadConfig::DevZero => "is a character device, not a regular file",
            BadConfig::Directory => "is a directory, not a regular file",
            BadConfig::OneGigabyte => "is larger than 1048576 bytes",
        }
    }
}

fn remove_config(path: &std::path::Path) {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => std::fs::remove_dir(path).unwrap(),
        Ok(_) => std::fs::remove_file(path).unwrap(),
        Err(_) => {}
    }
}

/// At start, a config.toml that is not a small regular file stops the
/// daemon at once with exit code 5 and a message naming the file and what is
/// wrong with it: no hang on a FIFO, no endless read of /dev/zero, no 1 GB
/// read into memory.
#[tokio::test(flavor = "multi_thread")]
async fn a_config_that_is_not_a_small_regular_file_stops_the_start_with_a_clear_message() {
    let home = TestHome::new("http://127.0.0.1:9/v1");
    let config_dir = home.config_home().join("opencode-nexus");
    std::fs::create_dir_all(&config_dir).unwrap();
    let config = config_dir.join("config.toml");
    for bad in BAD_CONFIGS {
        bad.create(&config);
        let child = tokio::process::Command::new(support::nexus::nexus_binary())
            .args(["daemon", "--no-tray"])
            .env_clear()
            .envs(support::nexus::nexus_env(&home))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let out = tokio::time::timeout(Duration::from_secs(10), child.wait_with_output())
            .await
            .unwrap_or_else(|_| panic!("{bad:?}: the daemon hung at start"))
            .unwrap();
        assert_exit(&out, 5);
        let message = support::nexus::stderr(&out);
        let expected = format!("{} {}", config.display(), bad.problem());
        assert!(message.contains(&expected), "{bad:?}: {message}");
        assert!(
            message.contains("replace or remove it"),
            "{bad:?}: {message}"
        );
    }
    remove_config(&config);
}

/// While the daemon runs, config.toml replaced by a FIFO, /dev/zero, a
/// directory or a 1 GB file is refused with a message naming the file and
/// the problem (`config_problem`), the last good settings are kept, and
/// `status` keeps answering within a second throughout.
#[tokio::test(flavor = "multi_thread")]
async fn a_config_replaced_by_something_unreadable_is_refused_while_status_keeps_answering() {
    // No server is needed: attach to a port where nothing listens.
    let home = TestHome::new("http://127.0.0.1:9/v1");
    let good = "[server]\nmode = \"attach\"\nurl = \"http://127.0.0.1:9\"\n";
    let nexus = Nexus::start(&home, good).await;
    let config = nexus.config_dir.join("config.toml");
    for bad in BAD_CONFIGS {
        bad.create(&config);
        let expected = format!("{} {}", config.display(), bad.problem());
        let deadline = std::time::Instant::now() + CONFIG_SEEN;
        loop {
            let asked = std::time::Instant::now();
            let out = tokio::time::timeout(STATUS_WITHIN, nexus.run(&["status", "--json"]))
                .await
                .unwrap_or_else(|_| panic!("{bad:?}: status did not answer within a second"));
            assert_exit(&out, 0);
            assert!(asked.elapsed() <= STATUS_WITHIN, "{bad:?}");
            let status: Value = serde_json::from_str(&stdout(&out)).unwrap();
            if let Some(problem) = status["config_problem"].as_str()
                && problem.contains(&expected)
            {
                assert_eq!(status["server"]["mode"], "attach", "the last good settings");
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{bad:?}: no config_problem with {expected:?}: {status:#}\n{}",
                nexus.daemon_log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // Back to the good file: the problem clears.
        remove_config(&config);
        std::fs::write(&config, good).unwrap();
        nexus
            .wait_for_status(CONFIG_SEEN, "the problem cleared", |s| {
                s["config_problem"].is_null()
            })
            .await;
    }
}
