//! Proves the notification-server double (tests/support/notification_server.rs)
//! with clients that are not ours: `gdbus call` sends `Notify`,
//! `CloseNotification`, `GetCapabilities`, `GetServerInformation`, and
//! `gdbus monitor` sees the `ActionInvoked` / `NotificationClosed` signals
//! the double emits.

// Drives Nexus as a Linux process (XDG dirs, the Unix socket, D-Bus, the
// Linux desktop): Linux only for now (README, Platforms).
#![cfg(target_os = "linux")]

mod support;

use std::{
    io::{BufRead, BufReader},
    panic,
    process::{Child, Command, Stdio},
    sync::mpsc,
    thread,
    time::{Duration, Instant},
};

use support::notification_server::{
    CloseReason, DEFAULT_CAPABILITIES, NOTIFICATIONS_NAME, NOTIFICATIONS_PATH, NotificationServer,
    NotificationServerConfig,
};

const WAIT: Duration = Duration::from_secs(10);

/// `gdbus call` on `address`; `Ok(stdout)` or `Err(stderr)`.
async fn gdbus_call(address: &str, method: &str, args: &[&str]) -> Result<String, String> {
    let output = tokio::time::timeout(
        WAIT,
        tokio::process::Command::new("gdbus")
            .args(["call", "--address", address, "--timeout", "5"])
            .args(["--dest", NOTIFICATIONS_NAME])
            .args(["--object-path", NOTIFICATIONS_PATH])
            .args([
                "--method",
                &format!("org.freedesktop.Notifications.{method}"),
            ])
            .arg("--")
            .args(args)
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            .stdin(Stdio::null())
            .output(),
    )
    .await
    .map_err(|_| format!("gdbus {method} timed out"))?
    .map_err(|error| format!("spawn gdbus (package libglib2.0-bin): {error}"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).trim().to_owned())
    }
}

async fn notify(address: &str, replaces_id: u32, summary: &str, actions: &str) -> u32 {
    let reply = gdbus_call(
        address,
        "Notify",
        &[
            "nexus-probe",
            &replaces_id.to_string(),
            "dialog-question",
            summary,
            "a body\nsecond line",
            actions,
            "{'urgency': <byte 2>, 'category': <'im.received'>, 'resident': <true>, \
             'x-nexus-session': <'ses_1'>}",
            "-1",
        ],
    )
    .await
    .unwrap_or_else(|error| panic!("Notify: {error}"));
    // `(uint32 7,)`
    reply
        .trim_start_matches("(uint32 ")
        .trim_end_matches(",)")
        .parse()
        .unwrap_or_else(|_| panic!("Notify reply {reply:?}"))
}

/// `gdbus monitor` on the double's name: the lines it prints, on a channel.
struct Monitor {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Monitor {
    /// Returns once the monitor is subscribed: it prints the name's owner
    /// *before* it adds its match rule, so the double's
    /// `wait_for_subscriber` is what tells.
    async fn start(server: &NotificationServer) -> Monitor {
        let address = server.bus_address();
        assert!(server.signal_subscribers("ActionInvoked").is_empty());
        let mut child = Command::new("gdbus")
            .args([
                "monitor",
                "--address",
                address,
                "--dest",
                NOTIFICATIONS_NAME,
            ])
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn gdbus monitor (package libglib2.0-bin)");
        let stdout = child.stdout.take().expect("monitor stdout");
        let (sender, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let mut monitor = Monitor {
            child,
            lines,
            seen: Vec::new(),
        };
        monitor.expect_line("is owned by");
        let subscribers = server.wait_for_subscriber("ActionInvoked", WAIT).await;
        assert_eq!(subscribers.len(), 1, "{subscribers:?}");
        assert_eq!(server.signal_subscribers("NotificationClosed"), subscribers);
        monitor
    }

    /// Waits for a printed line containing `needle`; panics with all lines
    /// seen so far.
    fn expect_line(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "gdbus monitor printed no line with {needle:?} within {WAIT:?}; saw:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn records_notify_calls_from_gdbus() {
    let server = NotificationServer::start_on_private_bus();
    let address = server.bus_address().to_owned();
    let before = Instant::now();

    let first = notify(
        &address,
        0,
        "Permission needed",
        "['default', '', 'allow-once', 'Allow once', 'always', 'Always allow', 'reject', 'Reject']",
    )
    .await;
    let second = notify(&address, 0, "Task finished", "@as []").await;
    assert_ne!(first, 0);
    assert_ne!(first, second, "fresh ids are distinct");
    let replaced = notify(&address, first, "Permission needed (again)", "@as []").await;
    assert_eq!(
        replaced, first,
        "a non-zero replaces_id is returned as the id"
    );

    let asked = server
        .wait_for(|n| n.summary == "Permission needed", WAIT)
        .await;
    assert_eq!(asked.id, first);
    assert_eq!(asked.replaces_id, 0);
    assert_eq!(asked.app_name, "nexus-probe");
    assert_eq!(asked.app_icon, "dialog-question");
    assert_eq!(asked.body, "a body\nsecond line");
    assert_eq!(
        asked.actions,
        [
            ("default", ""),
            ("allow-once", "Allow once"),
            ("always", "Always allow"),
            ("reject", "Reject"),
        ]
        .map(|(k, l)| (k.to_owned(), l.to_owned()))
    );
    assert!(asked.has_action("reject"));
    assert_eq!(asked.action_key_for_label("Always allow"), Some("always"));
    assert_eq!(asked.hint("urgency"), Some("2"));
    assert_eq!(asked.hint("category"), Some("im.received"));
    assert_eq!(asked.hint("resident"), Some("true"));
    assert_eq!(asked.hint("x-nexus-session"), Some("ses_1"));
    assert_eq!(asked.expire_timeout, -1);
    assert!(asked.sender.starts_with(':'), "sender {:?}", asked.sender);
    assert_ne!(asked.sender, server.unique_name());
    assert!(asked.received_at >= before && asked.received_at <= Instant::now());

    let all = server.notifications();
    assert_eq!(all.len(), 3, "{}", server.describe());
    assert!(all[1].actions.is_empty());
    assert_eq!(all[2].replaces_id, first);
    assert_eq!(all[2].id, first);
    assert!(all[0].received_at <= all[1].received_at && all[1].received_at <= all[2].received_at);
    assert!(server.closed().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn emits_action_invoked_and_closed_signals() {
    let server = NotificationServer::start_on_private_bus();
    let address = server.bus_address().to_owned();
    let id = notify(&address, 0, "Question", "['opt-0', 'Yes', 'opt-1', 'No']").await;

    let mut monitor = Monitor::start(&server).await;
    server.invoke_action(id, "opt-1");
    let line = monitor.expect_line("ActionInvoked");
    assert!(
        line.contains(&format!("(uint32 {id}, 'opt-1')")),
        "ActionInvoked line: {line}"
    );
    assert!(line.starts_with(NOTIFICATIONS_PATH), "{line}");

    server.dismiss(id, CloseReason::Dismissed);
    let line = monitor.expect_line("NotificationClosed");
    assert!(
        line.contains(&format!("(uint32 {id}, uint32 2)")),
        "NotificationClosed line: {line}"
    );
    assert!(server.closed().is_empty(), "dismiss is not a client close");

    // The client closes it: recorded, and NotificationClosed(id, 3).
    gdbus_call(&address, "CloseNotification", &[&id.to_string()])
        .await
        .unwrap_or_else(|error| panic!("CloseNotification: {error}"));
    let line = monitor.expect_line("NotificationClosed");
    assert!(
        line.contains(&format!("(uint32 {id}, uint32 3)")),
        "NotificationClosed line: {line}"
    );
    server.wait_for_closed(id, WAIT).await;
    assert_eq!(server.closed(), vec![id]);
}

#[tokio::test(flavor = "multi_thread")]
async fn capabilities_with_and_without_actions() {
    let with = NotificationServer::start_on_private_bus();
    let reply = gdbus_call(with.bus_address(), "GetCapabilities", &[])
        .await
        .expect("GetCapabilities");
    assert_eq!(
        reply,
        format!("({DEFAULT_CAPABILITIES:?},)").replace('"', "'")
    );
    assert!(reply.contains("'actions'"), "{reply}");

    let without =
        NotificationServer::start_on_private_bus_with(NotificationServerConfig::without_actions());
    let reply = gdbus_call(without.bus_address(), "GetCapabilities", &[])
        .await
        .expect("GetCapabilities");
    assert!(!reply.contains("actions"), "{reply}");
    assert!(reply.contains("'body'"), "{reply}");

    // Changed at run time.
    with.set_capabilities(&["body"]);
    let reply = gdbus_call(with.bus_address(), "GetCapabilities", &[])
        .await
        .expect("GetCapabilities");
    assert_eq!(reply, "(['body'],)");

    let reply = gdbus_call(with.bus_address(), "GetServerInformation", &[])
        .await
        .expect("GetServerInformation");
    assert_eq!(
        reply,
        "('nexus-test-notifications', 'opencode-nexus', '0.1', '1.2')"
    );
}

/// A plain `dbus-daemon --session` started by the test (as the headless
/// desktop does): `start(address)` serves there; a second double on the
/// same bus fails loudly; dropping the double frees the name.
#[tokio::test(flavor = "multi_thread")]
async fn serves_on_a_given_bus_and_refuses_a_taken_name() {
    let mut bus = Command::new("dbus-daemon")
        .args(["--session", "--nofork", "--print-address=1"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn dbus-daemon");
    let mut address = String::new();
    BufReader::new(bus.stdout.take().expect("stdout"))
        .read_line(&mut address)
        .expect("bus address");
    let address = address.trim().to_owned();

    let server = NotificationServer::start(&address);
    assert!(!server.owns_bus());
    let id = notify(&address, 0, "Hello", "@as []").await;
    assert_eq!(server.wait_for(|n| n.summary == "Hello", WAIT).await.id, id);

    let taken = panic::catch_unwind(|| NotificationServer::start(&address));
    let message = taken.err().expect("a second owner must fail");
    let message = message
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(message.contains("cannot serve"), "{message}");

    drop(server);
    let again = NotificationServer::start(&address);
    assert!(again.notifications().is_empty());
    drop(again);

    let _ = bus.kill();
    let _ = bus.wait();
}

#[tokio::test(flavor = "multi_thread")]
async fn private_bus_dies_with_the_double() {
    let server = NotificationServer::start_on_private_bus();
    let address = server.bus_address().to_owned();
    assert!(server.owns_bus());
    gdbus_call(&address, "GetCapabilities", &[])
        .await
        .expect("bus up");
    drop(server);
    let error = gdbus_call(&address, "GetCapabilities", &[])
        .await
        .expect_err("the private bus is gone");
    assert!(!error.is_empty());
}

#[test]
#[should_panic(expected = "no matching notification within")]
fn wait_for_panics_listing_what_arrived() {
    let server = NotificationServer::start_on_private_bus();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(notify(server.bus_address(), 0, "Something else", "@as []"));
    server.wait_for_blocking(|n| n.summary == "Never sent", Duration::from_millis(200));
}

/// A zbus client subscribing the way notify-rust does (match rules on
/// interface + member): the double sees exactly which signal it wants, and
/// the client receives `ActionInvoked(id, key)`.
#[test]
fn zbus_client_subscribed_like_notify_rust() {
    let server = NotificationServer::start_on_private_bus();
    let client = zbus::blocking::connection::Builder::address(server.bus_address())
        .and_then(|builder| builder.build())
        .expect("client connection");
    let rule = zbus::MatchRule::builder()
        .msg_type(zbus::message::Type::Signal)
        .interface(NOTIFICATIONS_NAME)
        .and_then(|builder| builder.member("ActionInvoked"))
        .expect("match rule")
        .build();
    let mut messages =
        zbus::blocking::MessageIterator::for_match_rule(rule, &client, None).expect("subscribe");
    let me = client.unique_name().expect("unique name").to_string();
    assert_eq!(server.signal_subscribers("ActionInvoked"), vec![me]);
    assert!(server.signal_subscribers("NotificationClosed").is_empty());

    server.dismiss(7, CloseReason::Expired);
    server.invoke_action(7, "default");
    let message = messages
        .next()
        .expect("a message")
        .expect("a valid message");
    let (id, key): (u32, String) = message.body().deserialize().expect("(us)");
    assert_eq!((id, key.as_str()), (7, "default"));
}
