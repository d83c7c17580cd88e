//! Fault tests of the event-stream watcher: the real `Watcher` against the
//! fake OpenCode server (stall, 401, oversized event, garbage, a flapping
//! stream, the web UI's HTML instead of events), judged only by what it
//! reports to the core and by what the fake server saw.

// Drives Nexus as a Linux process (XDG dirs, the Unix socket, D-Bus, the
// Linux desktop): Linux only for now (README, Platforms).
#![cfg(target_os = "linux")]

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use opencode_nexus::core::model::{EventKind, ServerEvent, SessionStatus};
use opencode_nexus::core::sessions::DirectorySnapshot;
use opencode_nexus::core::{Event, WatchEvent, WatchId};
use opencode_nexus::server::client::{Credentials, Secret, ServerClient};
use opencode_nexus::server::watch::{WatchOptions, Watcher};
use serde_json::{Value, json};
use support::fake_event_server::{
    AFTER_FAULT_EVENT_ID, EventMode, FAKE_DIRECTORY, FAKE_VERSION, FakeEventServer, envelope,
};
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// The id the watcher under test reports with.
const WATCH: WatchId = 7;
/// Generous: a loaded two-core CI machine must not flake.
const WAIT: Duration = Duration::from_secs(10);
/// Heartbeat period of the fake where a link must stay up.
const FAST_HEARTBEAT: Duration = Duration::from_millis(100);
/// Watchdog of links that must stay up: many heartbeats long, yet short.
const LIVE_TIMEOUT: Duration = Duration::from_millis(1500);
const USER: &str = "opencode";
const PASSWORD: &str = "correct-horse-battery";
/// The session of the fake's small event after a fault
/// ([`AFTER_FAULT_EVENT_ID`], a `session.idle`).
const AFTER_FAULT_SESSION: &str = "ses_fake";
const CLOSED_BY_SERVER: &str = "the server closed the event stream";
/// The snapshot routes re-read after every (re)connect.
const SNAPSHOT_ROUTES: [&str; 3] = ["/session/status", "/permission", "/question"];

/// A running watcher and what it reports; aborted on drop.
struct Watched {
    reports: mpsc::Receiver<Event>,
    broadcast: broadcast::Receiver<Arc<ServerEvent>>,
    task: JoinHandle<()>,
}

impl Drop for Watched {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn options(event_timeout: Duration) -> WatchOptions {
    WatchOptions {
        event_timeout,
        directories: Vec::new(),
    }
}

/// Starts the real watcher on the fake, with `password` as the credentials.
fn watch(fake: &FakeEventServer, password: Option<&str>, options: WatchOptions) -> Watched {
    let credentials = Credentials {
        username: USER.into(),
        password: password.map(Secret::new),
    };
    // Roomy, so the watcher never waits on the test to read.
    let (events, reports) = mpsc::channel(4096);
    let (broadcast, broadcast_rx) = broadcast::channel(4096);
    let watcher = Watcher {
        id: WATCH,
        client: ServerClient::new(fake.base_url(), &credentials),
        options,
        events,
        broadcast,
    };
    Watched {
        reports,
        broadcast: broadcast_rx,
        task: tokio::spawn(watcher.run()),
    }
}

impl Watched {
    /// The next report; panics after [`WAIT`] or if the watcher ended.
    async fn next(&mut self) -> WatchEvent {
        match tokio::time::timeout(WAIT, self.reports.recv()).await {
            Ok(Some(event)) => unwrap_watch(event),
            Ok(None) => panic!("the watcher ended without another report"),
            Err(_) => panic!("no report from the watcher within {WAIT:?}"),
        }
    }

    /// Reads reports up to the first that matches; returns it and those before it.
    async fn until(
        &mut self,
        what: &str,
        wanted: impl Fn(&WatchEvent) -> bool,
    ) -> (WatchEvent, Vec<WatchEvent>) {
        let deadline = Instant::now() + WAIT;
        let mut before = Vec::new();
        loop {
            let next = tokio::time::timeout_at(deadline, self.reports.recv()).await;
            match next {
                Ok(Some(event)) => {
                    let event = unwrap_watch(event);
                    if wanted(&event) {
                        return (event, before);
                    }
                    before.push(event);
                }
                Ok(None) => panic!("the watcher ended before {what}; reported {before:#?}"),
                Err(_) => panic!("no {what} within {WAIT:?}; reported {before:#?}"),
            }
        }
    }

    /// Every report until the watcher ends (its channel closes).
    async fn until_it_ends(&mut self) -> Vec<WatchEvent> {
        let deadline = Instant::now() + WAIT;
        let mut reports = Vec::new();
        loop {
            match tokio::time::timeout_at(deadline, self.reports.recv()).await {
                Ok(Some(event)) => reports.push(unwrap_watch(event)),
                Ok(None) => return reports,
                Err(_) => panic!("the watcher still runs after {WAIT:?}; reported {reports:#?}"),
            }
        }
    }

    /// The reports already sent, without waiting.
    fn drain(&mut self) -> Vec<WatchEvent> {
        let mut reports = Vec::new();
        while let Ok(event) = self.reports.try_recv() {
            reports.push(unwrap_watch(event));
        }
        reports
    }

    /// Watches for `period` and checks the one link stayed up all along.
    async fn assert_stays_connected(&mut self, fake: &FakeEventServer, period: Duration) {
        tokio::time::sleep(period).await;
        let reports = self.drain();
        assert!(
            !reports.iter().any(|r| is_lost(r) || is_connected(r)),
            "the link should have stayed up: {reports:#?}"
        );
        assert_eq!(fake.event_connections(), 1, "no reconnect");
        assert_eq!(fake.open_event_streams(), 1, "the stream is still open");
    }
}

fn unwrap_watch(event: Event) -> WatchEvent {
    match event {
        Event::Watch { watch, event } => {
            assert_eq!(watch, WATCH, "reports carry the watcher's id");
            event
        }
        other => panic!("the watcher sent a non-watch event: {other:?}"),
    }
}

fn is_connected(event: &WatchEvent) -> bool {
    matches!(event, WatchEvent::Connected { .. })
}

fn is_lost(event: &WatchEvent) -> bool {
    matches!(event, WatchEvent::Lost { .. })
}

fn is_snapshot(event: &WatchEvent) -> bool {
    matches!(event, WatchEvent::Snapshot(_))
}

fn lost_reason(event: &WatchEvent) -> &str {
    match event {
        WatchEvent::Lost { reason } => reason,
        other => panic!("expected Lost, got {other:?}"),
    }
}

fn snapshot(event: &WatchEvent) -> &DirectorySnapshot {
    match event {
        WatchEvent::Snapshot(snapshot) => snapshot,
        other => panic!("expected Snapshot, got {other:?}"),
    }
}

/// The fake's small event after a fault, as the watcher forwards it.
fn is_after_fault_event(event: &WatchEvent) -> bool {
    matches!(
        event,
        WatchEvent::Server(ServerEvent {
            directory: Some(dir),
            kind: EventKind::SessionIdle { session_id },
        }) if dir == FAKE_DIRECTORY && session_id == AFTER_FAULT_SESSION
    )
}

fn is_status_of(event: &WatchEvent, session: &str) -> bool {
    matches!(
        event,
        WatchEvent::Server(ServerEvent {
            kind: EventKind::SessionStatus { session_id, .. },
            ..
        }) if session_id == session
    )
}

fn connected_secure() -> WatchEvent {
    WatchEvent::Connected {
        version: Some(FAKE_VERSION.into()),
        unsecured: false,
    }
}

fn connected_unsecured() -> WatchEvent {
    WatchEvent::Connected {
        version: Some(FAKE_VERSION.into()),
        unsecured: true,
    }
}

fn requests_to(fake: &FakeEventServer, path: &str) -> usize {
    fake.requests().iter().filter(|r| r.path == path).count()
}

fn basic(user: &str, password: &str) -> String {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {token}")
}

#[tokio::test]
async fn stalled_stream_is_lost_after_the_event_timeout_then_reconnects_by_itself() {
    let fake = FakeEventServer::start().await;
    fake.script_connections([EventMode::Stall, EventMode::Normal]);
    fake.set_heartbeat(FAST_HEARTBEAT);
    let mut watched = watch(&fake, None, options(Duration::from_secs(1)));

    assert_eq!(watched.next().await, connected_unsecured());
    let connected_at = Instant::now();
    let (lost, before) = watched.until("Lost", is_lost).await;
    let silent = connected_at.elapsed();
    assert!(
        lost_reason(&lost).contains("no data from the server for 1 s"),
        "{lost:?}"
    );
    assert!(
        silent >= Duration::from_millis(900),
        "the watchdog waits out the timeout, fired after {silent:?}"
    );
    assert!(before.iter().all(is_snapshot), "{before:#?}");

    let (again, _) = watched.until("Connected again", is_connected).await;
    assert_eq!(again, connected_unsecured());
    assert_eq!(fake.event_connections(), 2, "one reconnect");

    // The new link works.
    fake.push_event(
        "session.status",
        json!({"sessionID": "ses_1", "status": {"type": "busy"}}),
    );
    let (_, before) = watched
        .until("the pushed event", |e| is_status_of(e, "ses_1"))
        .await;
    assert!(!before.iter().any(is_lost), "{before:#?}");
}

/// The requests of one connection, in the order the watcher makes them.
const LINK_STEPS: [&str; 6] = [
    "/global/health",
    "/global/event",
    "/path",
    "/session/status",
    "/permission",
    "/question",
];
/// The server's default `event_timeout`, and what the issue allows on top.
const DEFAULT_EVENT_TIMEOUT: Duration = Duration::from_secs(30);
const LOST_SLACK: Duration = Duration::from_secs(2);

/// A server that freezes (as under SIGSTOP) at any step of a connection, or
/// once the stream is up, is reported lost within `event_timeout` of the
/// freeze, whatever the step: one deadline covers the whole link, not each
/// request's own timeout in turn. Under paused time, so the 30 s are exact
/// and cost nothing.
#[tokio::test(start_paused = true)]
async fn a_server_frozen_at_any_step_of_the_link_is_lost_within_the_event_timeout() {
    let steps = LINK_STEPS.iter().copied().map(Some).chain([None]);
    for step in steps {
        let what = step.unwrap_or("the open stream");
        let fake = FakeEventServer::start().await;
        if let Some(path) = step {
            fake.freeze_at(path);
        }
        let mut watched = watch(&fake, None, options(DEFAULT_EVENT_TIMEOUT));
        if step.is_none() {
            watched.until("the snapshot", is_snapshot).await;
            fake.freeze_now();
        }
        let lost = loop {
            let report = tokio::time::timeout(Duration::from_secs(300), watched.reports.recv())
                .await
                .unwrap_or_else(|_| panic!("frozen at {what}: never reported lost"))
                .expect("the watcher runs");
            let report = unwrap_watch(report);
            if is_lost(&report) {
                break report;
            }
        };
        let frozen_at = fake
            .frozen_at()
            .unwrap_or_else(|| panic!("the fake never froze at {what}"));
        let after = frozen_at.elapsed();
        assert!(
            after <= DEFAULT_EVENT_TIMEOUT + LOST_SLACK,
            "frozen at {what}: reported lost {after:?} after the freeze ({lost:?})"
        );
        if step.is_none() {
            assert!(
                after >= DEFAULT_EVENT_TIMEOUT - Duration::from_secs(1),
                "a frozen stream is lost only once the timeout has passed, not after {after:?}"
            );
        }
    }
}

/// A 401 ends the watcher: one report, the task finishes, nothing is retried.
async fn assert_rejected_once_and_stopped(fake: &FakeEventServer, watched: &mut Watched) {
    let reports = watched.until_it_ends().await;
    assert_eq!(reports, [WatchEvent::AuthRejected]);
    tokio::time::timeout(WAIT, &mut watched.task)
        .await
        .expect("the watcher task ends after a 401")
        .expect("the watcher task ends cleanly");

    let requests = fake.requests().len();
    let connections = fake.event_connections();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(fake.requests().len(), requests, "no retry after a 401");
    assert_eq!(fake.event_connections(), connections);
}

#[tokio::test]
async fn event_stream_refused_with_401_reports_auth_rejected_once_and_stops() {
    let fake = FakeEventServer::start().await;
    // Health answers; only the stream refuses the credentials.
    fake.script_connections([EventMode::Unauthorized]);
    let mut watched = watch(&fake, Some(PASSWORD), options(LIVE_TIMEOUT));

    assert_rejected_once_and_stopped(&fake, &mut watched).await;
    assert_eq!(fake.event_connections(), 1);
}

#[tokio::test]
async fn wrong_password_reports_auth_rejected_once_without_a_retry_loop() {
    let fake = FakeEventServer::start().await;
    fake.require_basic_auth(USER, PASSWORD);
    let mut watched = watch(&fake, Some("wrong-password"), options(LIVE_TIMEOUT));

    assert_rejected_once_and_stopped(&fake, &mut watched).await;
    assert_eq!(
        requests_to(&fake, "/global/health"),
        1,
        "{:#?}",
        fake.requests()
    );
}

/// A watcher on a server whose first connection sends a faulty event
/// (`mode`) followed by a good one: what the watcher reported before the
/// good event arrived.
async fn after_a_faulty_event(mode: EventMode) -> (FakeEventServer, Watched, Vec<WatchEvent>) {
    let fake = FakeEventServer::start().await;
    fake.script_connections([mode]);
    fake.set_heartbeat(FAST_HEARTBEAT);
    let mut watched = watch(&fake, None, options(LIVE_TIMEOUT));
    assert_eq!(watched.next().await, connected_unsecured());
    let (_, before) = watched
        .until(AFTER_FAULT_EVENT_ID, is_after_fault_event)
        .await;
    (fake, watched, before)
}

#[tokio::test]
async fn oversized_event_is_dropped_and_the_next_event_arrives_on_the_same_link() {
    let (fake, mut watched, before) = after_a_faulty_event(EventMode::Oversized).await;
    // Neither the 2 MiB delta (cut short, unparsable) nor a lost link.
    assert!(before.iter().all(is_snapshot), "{before:#?}");
    let first = watched.broadcast.try_recv().expect("broadcast too");
    assert!(
        matches!(&first.kind, EventKind::SessionIdle { session_id } if session_id == AFTER_FAULT_SESSION),
        "{first:?}"
    );

    // Heartbeats still get through the guard after the fault.
    watched
        .assert_stays_connected(&fake, LIVE_TIMEOUT + Duration::from_millis(500))
        .await;
}

#[tokio::test]
async fn garbage_lines_are_skipped_and_the_next_event_arrives_on_the_same_link() {
    let (fake, mut watched, before) = after_a_faulty_event(EventMode::Garbage).await;
    // Not SSE, not JSON, not UTF-8, not an envelope: none is forwarded.
    assert!(before.iter().all(is_snapshot), "{before:#?}");

    watched
        .assert_stays_connected(&fake, LIVE_TIMEOUT + Duration::from_millis(500))
        .await;
    assert!(!watched.task.is_finished(), "the watcher did not panic");
}

#[tokio::test]
async fn events_pushed_between_server_side_closes_all_arrive_and_each_reconnect_rereads_the_snapshot()
 {
    const CLOSES: usize = 4;
    let fake = FakeEventServer::start().await;
    fake.set_heartbeat(FAST_HEARTBEAT);
    let mut watched = watch(&fake, None, options(LIVE_TIMEOUT));

    for round in 0..CLOSES {
        let (_, before) = watched.until("Connected", is_connected).await;
        assert!(!before.iter().any(is_connected), "{before:#?}");
        let (snapshot_event, _) = watched.until("Snapshot", is_snapshot).await;
        assert_eq!(snapshot(&snapshot_event).directory, FAKE_DIRECTORY);

        // The stream is subscribed once Connected is reported: no replay needed.
        let session = format!("ses_round_{round}");
        fake.push_event(
            "session.status",
            json!({"sessionID": session, "status": {"type": "busy"}}),
        );
        let (_, before) = watched
            .until("the pushed event", |e| is_status_of(e, &session))
            .await;
        assert!(!before.iter().any(is_lost), "{before:#?}");

        fake.disconnect_all();
        let (lost, before) = watched.until("Lost", is_lost).await;
        assert_eq!(lost_reason(&lost), CLOSED_BY_SERVER);
        assert!(
            !before.iter().any(|e| matches!(e, WatchEvent::Server(_))),
            "{before:#?}"
        );
    }
    watched.until("Connected", is_connected).await;
    watched.until("Snapshot", is_snapshot).await;

    let connections = fake.event_connections();
    assert_eq!(connections, CLOSES + 1);
    for route in SNAPSHOT_ROUTES {
        assert_eq!(
            requests_to(&fake, route),
            connections,
            "{route} is re-read after every reconnect"
        );
    }
    let scoped = fake
        .requests()
        .iter()
        .filter(|r| SNAPSHOT_ROUTES.contains(&r.path.as_str()))
        .all(|r| r.query.as_deref() == Some("directory=%2Fp"));
    assert!(scoped, "snapshots are read for the server's directory");
}

#[tokio::test]
async fn stream_closing_after_each_event_reconnects_with_backoff_not_a_hot_loop() {
    const WINDOW: Duration = Duration::from_secs(3);
    let fake = FakeEventServer::start().await;
    fake.set_mode(EventMode::CloseAfterEachEvent);
    let mut watched = watch(&fake, None, options(LIVE_TIMEOUT));

    watched.until("Connected", is_connected).await;
    let start = fake.event_connections();
    tokio::time::sleep(WINDOW).await;
    let made = fake.event_connections() - start;
    // The shortest delay is 200 ms (250 ms - 20 % jitter): at most 15 in 3 s.
    // A hot loop would make hundreds.
    assert!((2..=15).contains(&made), "{made} reconnects in {WINDOW:?}");

    let reports = watched.drain();
    let lost: Vec<&str> = reports
        .iter()
        .filter(|r| is_lost(r))
        .map(lost_reason)
        .collect();
    assert!(lost.len() >= 2, "{reports:#?}");
    assert!(lost.iter().all(|r| *r == CLOSED_BY_SERVER), "{lost:?}");
    assert!(
        !reports.iter().any(|r| matches!(r, WatchEvent::Server(_))),
        "server.connected is not forwarded: {reports:#?}"
    );

    // Every completed reconnect re-read the snapshot (the latest may be mid-read).
    let connections = fake.event_connections();
    for route in SNAPSHOT_ROUTES {
        let reads = requests_to(&fake, route);
        assert!(
            reads + 1 >= connections && reads <= connections,
            "{route}: {reads} reads for {connections} connections"
        );
    }
}

#[tokio::test]
async fn stream_closing_right_after_its_greeting_backs_off_further_each_time() {
    let fake = FakeEventServer::start().await;
    fake.set_mode(EventMode::CloseAfterEachEvent);
    let mut watched = watch(&fake, None, options(LIVE_TIMEOUT));

    let mut lost_at = Vec::new();
    while lost_at.len() < 4 {
        if is_lost(&watched.next().await) {
            lost_at.push(Instant::now());
        }
    }
    // 250 ms, 500 ms, 1 s (± 20 %): the third gap is over twice the first.
    let gaps: Vec<Duration> = lost_at.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(gaps[2] > gaps[0] * 2, "delays should grow: {gaps:?}");
}

#[tokio::test]
async fn html_instead_of_an_event_stream_is_lost_naming_the_content_type_and_retried_with_growing_delays()
 {
    let fake = FakeEventServer::start().await;
    fake.set_mode(EventMode::WrongContentType);
    let mut watched = watch(&fake, None, options(LIVE_TIMEOUT));

    let started = Instant::now();
    let mut lost_at = Vec::new();
    while lost_at.len() < 4 {
        let report = watched.next().await;
        assert!(
            lost_reason(&report).contains("text/html"),
            "the reason names the content type: {report:?}"
        );
        lost_at.push(Instant::now());
    }
    // 250 ms, 500 ms, 1 s (± 20 %): each delay longer than the one before.
    let gaps: Vec<Duration> = lost_at.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(
        gaps.windows(2).all(|g| g[1] > g[0]),
        "delays should grow: {gaps:?}"
    );

    // The fifth attempt comes at the earliest 3 s in (200 + 400 + 800 + 1600 ms).
    tokio::time::sleep_until(started + Duration::from_secs(3)).await;
    let made = fake.event_connections();
    assert!((4..=5).contains(&made), "{made} attempts in 3 s");
    assert_eq!(
        requests_to(&fake, "/session/status"),
        0,
        "no snapshot without a stream"
    );
}

#[tokio::test]
async fn snapshot_after_connect_carries_busy_sessions_and_pending_requests() {
    let fake = FakeEventServer::start().await;
    fake.set_json(
        "/session/status",
        json!({
            "ses_busy": {"type": "busy"},
            "ses_retry": {"type": "retry", "attempt": 2, "message": "down", "next": 5},
        }),
    );
    fake.set_json(
        "/permission",
        json!([{
            "id": "per_1", "sessionID": "ses_busy", "permission": "bash",
            "patterns": ["ls"], "always": ["ls *"], "metadata": {"command": "ls -la"},
        }]),
    );
    fake.set_json(
        "/question",
        json!([{
            "id": "que_1", "sessionID": "ses_busy",
            "questions": [{"question": "Deploy now?", "header": "Confirm",
                           "options": [{"label": "Yes", "description": "Go ahead"}]}],
        }]),
    );
    let mut opts = options(Duration::from_secs(30));
    opts.directories = vec!["/q".into()];
    let mut watched = watch(&fake, None, opts);

    assert_eq!(watched.next().await, connected_unsecured());
    let mut snapshots = Vec::new();
    for _ in 0..2 {
        let report = watched.next().await;
        snapshots.push(snapshot(&report).clone());
    }
    let directories: BTreeSet<&str> = snapshots.iter().map(|s| s.directory.as_str()).collect();
    assert_eq!(
        directories,
        BTreeSet::from([FAKE_DIRECTORY, "/q"]),
        "the server's directory and the configured one"
    );

    let ours = snapshots
        .iter()
        .find(|s| s.directory == FAKE_DIRECTORY)
        .expect("a snapshot of the fake's directory");
    assert_eq!(
        ours.statuses,
        [
            ("ses_busy".to_string(), SessionStatus::Busy),
            (
                "ses_retry".to_string(),
                SessionStatus::Retry {
                    attempt: 2,
                    message: "down".into(),
                    next: 5
                }
            ),
        ]
    );
    assert_eq!(ours.permissions.len(), 1);
    let permission = &ours.permissions[0];
    assert_eq!(
        (permission.id.as_str(), permission.session_id.as_str()),
        ("per_1", "ses_busy")
    );
    assert_eq!(permission.permission, "bash");
    assert_eq!(permission.detail.as_deref(), Some("ls -la"));
    assert_eq!(ours.questions.len(), 1);
    assert_eq!(ours.questions[0].id, "que_1");
    assert_eq!(ours.questions[0].questions[0].options[0].label, "Yes");

    let queries: BTreeSet<Option<String>> = fake
        .requests()
        .into_iter()
        .filter(|r| r.path == "/permission")
        .map(|r| r.query)
        .collect();
    assert_eq!(
        queries,
        BTreeSet::from([
            Some("directory=%2Fp".to_string()),
            Some("directory=%2Fq".to_string())
        ])
    );
}

#[tokio::test]
async fn password_is_sent_on_every_request_and_a_secured_server_is_not_flagged() {
    let fake = FakeEventServer::start().await;
    fake.require_basic_auth(USER, PASSWORD);
    let mut watched = watch(&fake, Some(PASSWORD), options(Duration::from_secs(30)));

    assert_eq!(watched.next().await, connected_secure());
    assert!(is_snapshot(&watched.next().await));

    let expected = basic(USER, PASSWORD);
    let stream = fake.event_requests();
    assert_eq!(stream.len(), 1);
    assert_eq!(stream[0].authorization.as_deref(), Some(expected.as_str()));
    for route in SNAPSHOT_ROUTES.into_iter().chain(["/path"]) {
        let request = fake
            .requests()
            .into_iter()
            .find(|r| r.path == route)
            .unwrap_or_else(|| panic!("{route} was requested"));
        assert_eq!(
            request.authorization.as_deref(),
            Some(expected.as_str()),
            "{route}"
        );
    }
}

#[tokio::test]
async fn server_that_answers_without_a_password_is_reported_unsecured() {
    let fake = FakeEventServer::start().await;

    // Nexus has a password, the server does not check it.
    let mut with_password = watch(&fake, Some(PASSWORD), options(Duration::from_secs(30)));
    assert_eq!(with_password.next().await, connected_unsecured());
    drop(with_password);

    // No password at all: no Authorization header either.
    let mut without = watch(&fake, None, options(Duration::from_secs(30)));
    assert_eq!(without.next().await, connected_unsecured());
    let stream = fake.event_requests();
    assert_eq!(stream.len(), 2);
    assert_eq!(stream[1].authorization, None);
}

/// The `EventKind` a captured event type must become; `None` when the
/// watcher does not forward it (keep-alives and types Nexus ignores).
fn expected_kind(event_type: &str) -> Option<&'static str> {
    Some(match event_type {
        "session.created" | "session.updated" => "SessionUpserted",
        "session.deleted" => "SessionDeleted",
        "session.status" => "SessionStatus",
        "session.idle" => "SessionIdle",
        "session.error" => "SessionError",
        "message.updated" => "MessageUpdated",
        "message.part.updated" => "PartUpdated",
        "message.part.delta" => "PartDelta",
        "permission.asked" => "PermissionAsked",
        "permission.replied" => "PermissionReplied",
        "question.asked" => "QuestionAsked",
        "question.replied" | "question.rejected" => "QuestionClosed",
        _ => return None,
    })
}

fn kind_name(kind: &EventKind) -> &'static str {
    match kind {
        EventKind::SessionUpserted(_) => "SessionUpserted",
        EventKind::SessionDeleted { .. } => "SessionDeleted",
        EventKind::SessionStatus { .. } => "SessionStatus",
        EventKind::SessionIdle { .. } => "SessionIdle",
        EventKind::SessionError { .. } => "SessionError",
        EventKind::MessageUpdated(_) => "MessageUpdated",
        EventKind::PartUpdated(_) => "PartUpdated",
        EventKind::PartDelta(_) => "PartDelta",
        EventKind::PermissionAsked(_) => "PermissionAsked",
        EventKind::PermissionReplied { .. } => "PermissionReplied",
        EventKind::QuestionAsked(_) => "QuestionAsked",
        EventKind::QuestionClosed { .. } => "QuestionClosed",
        EventKind::Connected => "Connected",
        EventKind::Heartbeat => "Heartbeat",
        EventKind::Other => "Other",
    }
}

#[tokio::test]
async fn captured_opencode_events_come_out_as_the_expected_kinds_in_order() {
    let captured: Vec<Value> = include_str!("fixtures/opencode-events-sample.jsonl")
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).expect("a captured event"))
        .collect();
    let expected: Vec<&str> = captured
        .iter()
        .filter_map(|e| expected_kind(e["type"].as_str().expect("event type")))
        .collect();
    assert!(expected.len() > 100, "the capture has plenty to check");

    let fake = FakeEventServer::start().await;
    let mut watched = watch(&fake, None, options(Duration::from_secs(30)));
    watched.until("Connected", is_connected).await;
    // Captured from `/event`: wrap each in the `/global/event` envelope.
    for event in &captured {
        let event_type = event["type"].as_str().expect("event type");
        fake.push(envelope(event_type, event["properties"].clone()));
    }

    let mut forwarded = Vec::new();
    while forwarded.len() < expected.len() {
        match watched.next().await {
            WatchEvent::Server(event) => forwarded.push(event),
            WatchEvent::Snapshot(_) => {}
            other => panic!("unexpected report mid-stream: {other:?}"),
        }
    }
    let kinds: Vec<&str> = forwarded.iter().map(|e| kind_name(&e.kind)).collect();
    assert_eq!(kinds, expected);
    assert!(
        forwarded
            .iter()
            .all(|e| e.directory.as_deref() == Some(FAKE_DIRECTORY))
    );

    // A few values that matter to the tray, straight from the capture.
    let EventKind::SessionUpserted(session) = &forwarded[0].kind else {
        panic!("{:?}", forwarded[0]);
    };
    assert_eq!(session.id, "ses_df5ecdd26ffehvIXFUijAnUe2S");
    assert_eq!(session.title.as_deref(), Some("tray test"));
    let busy = forwarded.iter().any(|e| {
        matches!(
            &e.kind,
            EventKind::SessionStatus {
                status: SessionStatus::Busy,
                ..
            }
        )
    });
    assert!(busy, "a busy status");
    let asked = forwarded
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::PermissionAsked(request) => Some(request),
            _ => None,
        })
        .expect("a permission request");
    assert!(asked.id.starts_with("per_"), "{asked:?}");
    assert!(asked.detail.is_some(), "{asked:?}");

    // Streaming consumers get the same events.
    let mut broadcast = 0;
    while watched.broadcast.try_recv().is_ok() {
        broadcast += 1;
    }
    assert_eq!(broadcast, expected.len());
}
