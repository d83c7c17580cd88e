//! The daemon against the real `opencode serve` (pinned) with the mock model:
//! supervision, the CLI contract, attach mode and pending requests.

// Drives Nexus as a Linux process (XDG dirs, the Unix socket, D-Bus, the
// Linux desktop): Linux only for now (README, Platforms).
#![cfg(target_os = "linux")]

mod support;

use serde_json::{Value, json};
use std::time::Duration;
use support::mock_model::MockModel;
use support::nexus::{
    Nexus, assert_exit, command_line, descendants, finished, group_members, managed_config,
    process_alive, stderr, stdout,
};
use support::opencode_server::{OpencodeServer, TestHome, opencode_version};

/// Generous: several real servers may be starting at once on 2 cores.
const SERVER_START: Duration = Duration::from_secs(90);
const SETTLE: Duration = Duration::from_secs(30);

fn server_pid(status: &Value) -> u32 {
    status["server"]["pid"].as_u64().expect("a server pid") as u32
}

async fn running_nexus(home: &TestHome) -> (Nexus, Value) {
    let nexus = Nexus::start(home, &managed_config(&home.project_dir())).await;
    let status = nexus.wait_for_state("running", SERVER_START).await;
    (nexus, status)
}

fn attach_config(url: &str) -> String {
    format!("[server]\nmode = \"attach\"\nurl = {url:?}\n")
}

#[tokio::test(flavor = "multi_thread")]
async fn managed_server_runs_and_ask_streams_the_mock_reply() {
    let model = MockModel::start().await;
    let home = TestHome::new(model.base_url());
    let (nexus, status) = running_nexus(&home).await;

    assert_eq!(status["server"]["mode"], "managed");
    assert_eq!(status["server"]["version"], opencode_version());
    assert_eq!(status["server"]["restarts"], 0);
    assert!(
        status["server"]["url"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:")
    );
    assert!(process_alive(server_pid(&status)));
    assert_eq!(status["daemon"]["pid"], nexus.pid());
    assert_eq!(status["sessions"]["busy"], 0);

    let out = nexus.run(&["ask", "hello", "there"]).await;
    assert_eq!(out.status.code(), Some(0), "ask failed: {}", stderr(&out));
    assert_eq!(stdout(&out), "echo: hello there\n");
    assert!(stderr(&out).contains("session ses_"), "{}", stderr(&out));
    assert_eq!(model.last_user_text().as_deref(), Some("hello there"));

    let idle = nexus.run(&["wait-idle", "--timeout", "20"]).await;
    assert_exit(&idle, 0);
    // The password given to the server never reaches its log or ours.
    assert!(!nexus.server_log().contains("OPENCODE_SERVER_PASSWORD="));
}

#[tokio::test(flavor = "multi_thread")]
async fn ask_failure_exits_nonzero_with_the_error() {
    let model = MockModel::start().await;
    let home = TestHome::new(model.base_url());
    let (nexus, _) = running_nexus(&home).await;
    let out = nexus.run(&["ask", "[error:401]"]).await;
    assert_eq!(out.status.code(), Some(1), "stdout: {}", stdout(&out));
    assert!(stderr(&out).contains("error:"), "{}", stderr(&out));
    let out = nexus.run(&["ask", "--model", "nonsense", "hi"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("PROVIDER/MODEL"), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_server_is_restarted_with_a_new_pid() {
    let model = MockModel::start().await;
    let home = TestHome::new(model.base_url());
    let (nexus, status) = running_nexus(&home).await;
    let old = server_pid(&status);
    unsafe { libc::kill(old as i32, libc::SIGKILL) };
    let status = nexus
        .wait_for_status(SERVER_START, "a restarted server", |s| {
            s["server"]["state"] == "running"
                && s["server"]["pid"].as_u64().is_some_and(|p| p as u32 != old)
        })
        .await;
    assert_eq!(status["server"]["restarts"], 1);
    assert!(
        status["server"]["last_error"]
            .as_str()
            .unwrap()
            .contains("signal 9"),
        "{status:#}\n{}",
        nexus.daemon_log()
    );
    let states: Vec<&str> = status["server"]["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["state"].as_str().unwrap())
        .collect();
    // The event stream may drop a moment before the exit is seen: "unreachable" can come first.
    let after_first_run = &states[states.iter().position(|s| *s == "running").unwrap()..];
    assert!(
        after_first_run.contains(&"restarting") && states.last() == Some(&"running"),
        "{states:?}"
    );
    // And the new server works.
    let out = nexus.run(&["ask", "again"]).await;
    assert_eq!(stdout(&out), "echo: again\n", "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread")]
async fn quit_stops_the_server_and_every_descendant() {
    let model = MockModel::start().await;
    let home = TestHome::with_permission(model.base_url(), json!({ "bash": "allow" }));
    let (mut nexus, status) = running_nexus(&home).await;
    let server = server_pid(&status);

    // A long tool run: opencode starts it in a session of its own, outside
    // the server's process group, so a group signal alone would miss it.
    let tools = long_tool_run(&nexus, server).await;
    assert!(
        tools.iter().any(|p| !group_members(server).contains(p)),
        "the tool left the server's group"
    );

    let out = nexus.run(&["quit"]).await;
    assert_exit(&out, 0);
    assert_eq!(nexus.wait_exit(SETTLE).await, Some(0));
    assert!(!process_alive(server), "the server survived quit");
    assert_eq!(
        group_members(server),
        Vec::<u32>::new(),
        "the server's group survived quit"
    );
    let survivors: Vec<u32> = tools.into_iter().filter(|p| process_alive(*p)).collect();
    assert!(
        survivors.is_empty(),
        "tool processes survived quit: {survivors:?}"
    );
    assert!(!nexus.runtime_dir.join("control.sock").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn server_stop_and_start_through_the_cli() {
    let model = MockModel::start().await;
    let home = TestHome::new(model.base_url());
    let (nexus, status) = running_nexus(&home).await;
    let first = server_pid(&status);

    let out = nexus.run(&["server", "stop"]).await;
    assert_exit(&out, 0);
    let status = nexus.status().await;
    assert_eq!(status["server"]["state"], "stopped");
    assert!(status["server"]["pid"].is_null());
    assert!(!process_alive(first));
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        nexus.status().await["server"]["state"],
        "stopped",
        "a requested stop is not undone"
    );

    let out = nexus.run(&["server", "start"]).await;
    assert_exit(&out, 0);
    let status = nexus.status().await;
    assert_eq!(status["server"]["state"], "running");
    assert_ne!(server_pid(&status), first);

    let out = nexus.run(&["server", "restart"]).await;
    assert_exit(&out, 0);
    let status = nexus.status().await;
    assert_eq!(status["server"]["state"], "running");
    let logs = nexus.run(&["logs"]).await;
    assert!(
        stdout(&logs).contains("listening on http://127.0.0.1:"),
        "{}",
        stdout(&logs)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn permission_request_shows_as_pending_and_clears_when_answered() {
    let model = MockModel::start().await;
    let home = TestHome::new(model.base_url());
    let server = OpencodeServer::start(&home, Some("correct-horse")).await;
    let nexus = Nexus::start(&home, &attach_config(server.base_url())).await;
    // The password comes from the 0600 password file, written through the CLI.
    let mut set = nexus.command(&["password", "set"]);
    set.stdin(std::process::Stdio::piped());
    let mut child = set.spawn().unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"correct-horse\n")
        .unwrap();
    assert!(child.wait().unwrap().success());
    let file = nexus.config_dir.join("server-password");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // The daemon read no password at start; a start request reconnects with the file's.
    drop(nexus);
    let nexus = Nexus::start(&home, &attach_config(server.base_url())).await;
    let status = nexus.wait_for_state("running", SERVER_START).await;
    assert_eq!(status["server"]["unsecured"], false);
    assert!(
        status["server"]["pid"].is_null(),
        "attach mode owns no process"
    );

    let project = home.project_dir().display().to_string();
    let ask = nexus.spawn(&["ask", "--dir", &project, "[bash:echo from-tool]"]);
    let status = nexus
        .wait_for_status(SERVER_START, "a pending permission", |s| {
            s["sessions"]["pending_permissions"] == 1
        })
        .await;
    let request = &status["sessions"]["permissions"][0];
    assert_eq!(request["permission"], "bash");
    assert_eq!(request["detail"], "echo from-tool");
    assert_eq!(request["directory"], project.as_str());
    let id = request["id"].as_str().unwrap();

    let url = server.url(
        &format!("/permission/{id}/reply"),
        &[("directory", &project)],
    );
    let reply = server
        .request(reqwest::Method::POST, url)
        .json(&json!({ "reply": "once" }))
        .send()
        .await
        .unwrap();
    assert!(reply.status().is_success());
    nexus
        .wait_for_status(SETTLE, "the request to clear", |s| {
            s["sessions"]["pending_permissions"] == 0
        })
        .await;
    let out = finished(ask, SETTLE).await;
    assert_exit(&out, 0);
    assert!(String::from_utf8_lossy(&out.stdout).contains("tool said: from-tool"));
}

#[tokio::test(flavor = "multi_thread")]
async fn attach_with_a_wrong_password_is_auth_required_without_retrying() {
    let model = MockModel::start().await;
    let home = TestHome::new(model.base_url());
    let server = OpencodeServer::start(&home, Some("right")).await;
    let nexus = Nexus::start_with_env(
        &home,
        &attach_config(server.base_url()),
        &[("OPENCODE_SERVER_PASSWORD", "wrong")],
    )
    .await;
    let status = nexus.wait_for_state("auth_required", SETTLE).await;
    assert!(
        status["server"]["last_error"]
            .as_str()
            .unwrap()
            .contains("401")
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(nexus.status().await["server"]["state"], "auth_required");
    let log = nexus.daemon_log();
    assert_eq!(
        log.matches("event stream ended").count(),
        0,
        "no retry loop:\n{log}"
    );
    assert!(!log.contains("wrong"), "the password leaked into the log");
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_binary_and_taken_port_fail_with_a_reason_and_no_retry() {
    let home = TestHome::new("http://127.0.0.1:9/v1");
    let config = format!(
        "{}command = \"/nonexistent/opencode\"\n",
        managed_config(&home.project_dir())
    );
    let nexus = Nexus::start(&home, &config).await;
    let status = nexus.wait_for_state("failed", SETTLE).await;
    assert!(
        status["server"]["last_error"]
            .as_str()
            .unwrap()
            .contains("server.command")
    );
    drop(nexus);

    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let config = format!("{}port = {port}\n", managed_config(&home.project_dir()));
    let nexus = Nexus::start(&home, &config).await;
    let status = nexus.wait_for_state("failed", SETTLE).await;
    assert!(
        status["server"]["last_error"]
            .as_str()
            .unwrap()
            .contains("already in use"),
        "{status}"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let status = nexus.status().await;
    assert_eq!(status["server"]["state"], "failed");
    assert_eq!(status["server"]["restarts"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_config_and_no_daemon_have_their_exit_codes() {
    let home = TestHome::new("http://127.0.0.1:9/v1");
    let run = |args: &[&str]| support::nexus::run_in(&home, args);
    assert_eq!(run(&["status"]).status.code(), Some(3));
    assert_eq!(run(&["wait-idle"]).status.code(), Some(3));
    let dir = home.config_home().join("opencode-nexus");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("config.toml"), "[server]\nport = 70000\n").unwrap();
    let out = run(&["daemon", "--no-tray"]);
    assert_eq!(out.status.code(), Some(5));
    assert!(
        stderr(&out).contains("server.port = 70000 is not a port"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_daemon_defers_to_the_first() {
    let home = TestHome::new("http://127.0.0.1:9/v1");
    let nexus = Nexus::start(
        &home,
        "[server]\nmode = \"attach\"\nurl = \"http://127.0.0.1:9\"\n",
    )
    .await;
    let out = nexus.run(&["daemon"]).await;
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stderr(&out).contains(&format!("already running (pid {})", nexus.pid())),
        "{}",
        stderr(&out)
    );
    assert_eq!(nexus.status().await["daemon"]["pid"], nexus.pid());
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_during_ask_aborts_the_session() {
    use tokio::io::AsyncReadExt;
    let model = MockModel::start().await;
    let home = TestHome::new(model.base_url());
    let (nexus, _) = running_nexus(&home).await;
    let mut ask = nexus.spawn(&["ask", "[slow]"]);
    // Wait for the reply to start streaming.
    let mut stdout = ask.stdout.take().unwrap();
    let mut first = [0u8; 64];
    let n = tokio::time::timeout(SETTLE, stdout.read(&mut first))
        .await
        .expect("no streamed text")
        .unwrap();
    assert!(n > 0);
    nexus
        .wait_for_status(SETTLE, "a busy session", |s| s["sessions"]["busy"] == 1)
        .await;

    unsafe { libc::kill(ask.id().unwrap() as i32, libc::SIGINT) };
    let out = finished(ask, SETTLE).await;
    assert_exit(&out, 130);
    assert!(String::from_utf8_lossy(&out.stderr).contains("aborted"));
    // The session really stopped: nothing busy, and the mock's stream was cut short.
    nexus
        .wait_for_status(SETTLE, "the session to stop", |s| {
            s["sessions"]["busy"] == 0
        })
        .await;
}

/// Starts `[bash:sleep 300 & sleep 301]` through the agent and returns the
/// two `sleep` tool processes once they run (in a session of their own).
async fn long_tool_run(nexus: &Nexus, server: u32) -> Vec<u32> {
    let _ask = nexus.spawn(&["ask", "[bash:sleep 300 & sleep 301]"]);
    nexus
        .wait_for_status(SERVER_START, "a busy session", |s| {
            s["sessions"]["busy"] == 1
        })
        .await;
    let deadline = std::time::Instant::now() + SETTLE;
    loop {
        let tools: Vec<u32> = descendants(server)
            .into_iter()
            .filter(|p| command_line(*p).starts_with("sleep 30"))
            .collect();
        if tools.len() >= 2 {
            return tools;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the tool never started: {tools:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until none of `pids` is alive; panics with the survivors otherwise.
async fn wait_all_gone(pids: &[u32], what: &str, log: impl Fn() -> String) {
    let deadline = std::time::Instant::now() + SETTLE;
    loop {
        let survivors: Vec<u32> = pids.iter().copied().filter(|p| process_alive(*p)).collect();
        if survivors.is_empty() {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: {survivors:?} survived\n{}",
            log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn tool_processes_of_a_crashed_server_are_stopped() {
    let model = MockModel::start().await;
    let home = TestHome::with_permission(model.base_url(), json!({ "bash": "allow" }));
    let (nexus, status) = running_nexus(&home).await;
    let server = server_pid(&status);
    let tools = long_tool_run(&nexus, server).await;

    unsafe { libc::kill(server as i32, libc::SIGKILL) };
    wait_all_gone(&tools, "tool processes of the killed server", || {
        nexus.daemon_log()
    })
    .await;
    // And the server comes back.
    nexus
        .wait_for_status(SERVER_START, "a restarted server", |s| {
            s["server"]["state"] == "running"
                && s["server"]["pid"]
                    .as_u64()
                    .is_some_and(|p| p as u32 != server)
        })
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_daemon_leaves_no_server_or_tool_running() {
    let model = MockModel::start().await;
    let home = TestHome::with_permission(model.base_url(), json!({ "bash": "allow" }));
    let (mut nexus, status) = running_nexus(&home).await;
    let server = server_pid(&status);
    let tools = long_tool_run(&nexus, server).await;

    // A crash: no chance to stop anything itself.
    unsafe { libc::kill(nexus.pid() as i32, libc::SIGKILL) };
    assert_eq!(nexus.wait_exit(SETTLE).await, None, "killed by a signal");
    let mut everything = tools.clone();
    everything.push(server);
    wait_all_gone(&everything, "after the daemon was killed", || {
        format!("{}\n{}", nexus.daemon_log(), nexus.server_log())
    })
    .await;
    assert_eq!(group_members(server), Vec::<u32>::new());
}

/// Records a fact about OpenCode rather than Nexus: the tool processes the
/// agent runs inherit the server's environment, password included, and
/// OpenCode reads the password only from there (README, Security). If this
/// starts failing, OpenCode changed: update the README.
#[tokio::test(flavor = "multi_thread")]
async fn tool_processes_inherit_the_server_password() {
    let model = MockModel::start().await;
    let home = TestHome::with_permission(model.base_url(), json!({ "bash": "allow" }));
    let (nexus, status) = running_nexus(&home).await;
    let environ = std::fs::read(format!("/proc/{}/environ", server_pid(&status))).unwrap();
    let password = environ
        .split(|b| *b == 0)
        .find_map(|var| var.strip_prefix(b"OPENCODE_SERVER_PASSWORD="))
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .expect("the managed server has its password in its environment");
    assert_eq!(password.len(), 64);

    let out = nexus
        .run(&["ask", "[bash:env | grep ^OPENCODE_SERVER_ | sort]"])
        .await;
    assert_exit(&out, 0);
    let said = stdout(&out);
    assert!(
        said.contains(&format!("OPENCODE_SERVER_PASSWORD={password}")),
        "the tool's environment: {said}"
    );
    assert!(said.contains("OPENCODE_SERVER_USERNAME=opencode"), "{said}");
    // The keeper passes it on; it is never on a command line.
    for pid in descendants(nexus.pid()) {
        assert!(
            !command_line(pid).contains(&password),
            "the password is on the command line of {pid}: {}",
            command_line(pid)
        );
    }
}

/// The parent of `pid`, from /proc.
fn parent_of(pid: u32) -> u32 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after_name = &stat[stat.rfind(')').unwrap() + 1..];
    after_name
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_next_start_stops_a_server_whose_daemon_and_keeper_were_killed() {
    let model = MockModel::start().await;
    let home = TestHome::new(model.base_url());
    let (mut nexus, status) = running_nexus(&home).await;
    let server = server_pid(&status);
    let keeper = parent_of(server);
    assert!(
        command_line(keeper).contains("server-keeper"),
        "the server runs under its keeper: {}",
        command_line(keeper)
    );
    // Both gone at once, so neither can stop the server: only the pid
    // record is left to find it.
    unsafe {
        libc::kill(keeper as i32, libc::SIGSTOP);
        libc::kill(nexus.pid() as i32, libc::SIGKILL);
        libc::kill(keeper as i32, libc::SIGKILL);
    }
    let _ = nexus.wait_exit(SETTLE).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(process_alive(server), "the server outlived both");

    let next = Nexus::start(&home, &managed_config(&home.project_dir())).await;
    wait_all_gone(&[server], "the old server at the next start", || {
        next.daemon_log()
    })
    .await;
    assert!(
        next.daemon_log()
            .contains("stopping the server left behind by a previous Nexus"),
        "{}",
        next.daemon_log()
    );
}
