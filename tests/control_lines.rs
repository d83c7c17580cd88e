//! Lines on the control socket survive cancellation and are length-capped.
//! A fake popover holds the link: a report it sends in two parts, while the
//! daemon's link loop turns to another command between them, still arrives
//! whole; an over-long line gets a clear error and its connection is closed
//! while the daemon keeps answering. The same for an `ask` against the real
//! server: an abort split around streamed text still aborts; an over-long
//! line ends the ask and aborts its session.

// Drives Nexus as a Linux process (XDG dirs, the Unix socket, D-Bus, the
// Linux desktop): Linux only for now (README, Platforms).
#![cfg(target_os = "linux")]

mod support;

use serde_json::Value;
use std::time::Duration;
use support::mock_model::MockModel;
use support::nexus::{Nexus, assert_exit, finished, managed_config};
use support::opencode_server::TestHome;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};

const CONFIG: &str = "[server]\nmode = \"attach\"\nurl = \"http://127.0.0.1:9\"\n";
const LIMIT: Duration = Duration::from_secs(10);

struct FakePopover {
    lines: tokio::io::Lines<BufReader<OwnedReadHalf>>,
    writer: OwnedWriteHalf,
}

impl FakePopover {
    async fn attach(nexus: &Nexus) -> FakePopover {
        let stream = UnixStream::connect(nexus.runtime_dir.join("control.sock"))
            .await
            .unwrap();
        let (reader, mut writer) = stream.into_split();
        writer
            .write_all(b"{\"cmd\":\"popover-attach\",\"pid\":1}\n")
            .await
            .unwrap();
        let mut popover = FakePopover {
            lines: BufReader::new(reader).lines(),
            writer,
        };
        popover.next_kind("setup").await;
        popover.next_kind("server").await;
        popover
    }

    /// The next message of `kind` from the daemon (others are skipped).
    async fn next_kind(&mut self, kind: &str) -> Value {
        loop {
            let line = tokio::time::timeout(LIMIT, self.lines.next_line())
                .await
                .unwrap_or_else(|_| panic!("no {kind} message"))
                .unwrap()
                .unwrap_or_else(|| panic!("the link closed before a {kind} message"));
            let message: Value = serde_json::from_str(&line).unwrap();
            if message["kind"] == kind {
                return message;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_report_split_around_another_command_arrives_whole() {
    let home = TestHome::new("http://127.0.0.1:9/v1");
    let nexus = Nexus::start(&home, CONFIG).await;
    let mut popover = FakePopover::attach(&nexus).await;

    let first_open = nexus.spawn(&["open"]);
    let first = popover.next_kind("show").await["request"]["token"].clone();
    let painted = format!("{{\"kind\":\"painted\",\"token\":{first}}}\n");
    let (head, tail) = painted.split_at(painted.len() / 2);
    popover.writer.write_all(head.as_bytes()).await.unwrap();
    popover.writer.flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    // The daemon's link loop serves this show while half a line waits.
    let second_open = nexus.spawn(&["open"]);
    let second = popover.next_kind("show").await["request"]["token"].clone();
    assert_ne!(first, second);
    let rest = format!("{tail}{{\"kind\":\"painted\",\"token\":{second}}}\n");
    popover.writer.write_all(rest.as_bytes()).await.unwrap();

    assert_exit(&finished(second_open, LIMIT).await, 0);
    assert_exit(&finished(first_open, LIMIT).await, 0);
    assert!(
        !nexus
            .daemon_log()
            .contains("popover sent something invalid"),
        "{}",
        nexus.daemon_log()
    );
}

/// Sends one line of `len` bytes; returns the reply line, once the daemon
/// has closed the connection after it.
async fn send_over_long(stream: UnixStream, head: &str, len: usize) -> String {
    let (reader, mut writer) = stream.into_split();
    let mut line = head.as_bytes().to_vec();
    line.resize(len, b'x');
    line.push(b'\n');
    // The daemon may close before it has read everything.
    let _ = writer.write_all(&line).await;
    let mut reader = BufReader::new(reader);
    let mut reply = String::new();
    tokio::time::timeout(LIMIT, reader.read_line(&mut reply))
        .await
        .expect("the daemon replies")
        .expect("read the reply");
    // Then nothing more: end of stream (or a reset, since the daemon left
    // the rest of the line unread).
    let mut more = Vec::new();
    let rest = tokio::time::timeout(LIMIT, reader.read_to_end(&mut more))
        .await
        .expect("the daemon closes the connection");
    assert!(
        rest.is_err() || more.is_empty(),
        "more after the error: {more:?}"
    );
    reply
}

#[tokio::test(flavor = "multi_thread")]
async fn an_over_long_line_is_refused_and_its_connection_closed() {
    let home = TestHome::new("http://127.0.0.1:9/v1");
    let nexus = Nexus::start(&home, CONFIG).await;
    let socket = nexus.runtime_dir.join("control.sock");
    let said = send_over_long(
        UnixStream::connect(&socket).await.unwrap(),
        "{\"cmd\":\"status\",\"x\":\"",
        3 * 1024 * 1024,
    )
    .await;
    assert!(
        said.contains("\"error\"") && said.contains("message too large"),
        "{said}"
    );
    nexus.status().await;

    // The same on the popover's link: the link closes, the daemon goes on.
    let mut popover = FakePopover::attach(&nexus).await;
    let mut line = vec![b'x'; 2 * 1024 * 1024];
    line.push(b'\n');
    let _ = popover.writer.write_all(&line).await;
    let closed = tokio::time::timeout(LIMIT, async {
        while let Ok(Some(_)) = popover.lines.next_line().await {}
    })
    .await;
    assert!(closed.is_ok(), "the link was not closed");
    nexus.status().await;
    let log = nexus.daemon_log();
    assert!(log.contains("popover link: message too large"), "{log}");
}

/// An `ask` of the mock model's slow reply over a raw connection, read until
/// its text starts streaming.
async fn streaming_ask(nexus: &Nexus) -> (BufReader<OwnedReadHalf>, OwnedWriteHalf) {
    let stream = UnixStream::connect(nexus.runtime_dir.join("control.sock"))
        .await
        .unwrap();
    let (reader, mut writer) = stream.into_split();
    writer
        .write_all(b"{\"cmd\":\"ask\",\"text\":\"[slow]\"}\n")
        .await
        .unwrap();
    let mut reader = BufReader::new(reader);
    loop {
        let reply = next_reply(&mut reader).await.expect("the ask streams");
        if reply["reply"] == "text" {
            return (reader, writer);
        }
    }
}

/// The next reply line, `None` once the daemon closed the connection.
async fn next_reply(reader: &mut BufReader<OwnedReadHalf>) -> Option<Value> {
    let mut line = String::new();
    match tokio::time::timeout(SETTLE, reader.read_line(&mut line)).await {
        Ok(Ok(0)) | Ok(Err(_)) => None,
        Ok(Ok(_)) => Some(serde_json::from_str(&line).unwrap()),
        Err(_) => panic!("no reply within {SETTLE:?}"),
    }
}

const SETTLE: Duration = Duration::from_secs(30);

async fn running_nexus(home: &TestHome) -> Nexus {
    let nexus = Nexus::start(home, &managed_config(&home.project_dir())).await;
    nexus
        .wait_for_state("running", Duration::from_secs(90))
        .await;
    nexus
}

#[tokio::test(flavor = "multi_thread")]
async fn an_abort_split_around_streamed_text_still_aborts_the_ask() {
    let model = MockModel::start().await;
    let home = TestHome::new(model.base_url());
    let nexus = running_nexus(&home).await;
    let (mut reader, mut writer) = streaming_ask(&nexus).await;
    writer.write_all(b"{\"cmd\":\"ab").await.unwrap();
    // Words stream every 500 ms meanwhile: the ask loop serves them between
    // the halves, dropping its pending read each time. (At most one of three
    // can have been sent before the first half arrived.)
    let mut replies = Vec::new();
    while replies
        .iter()
        .filter(|r: &&Value| r["reply"] == "text")
        .count()
        < 3
    {
        replies.push(next_reply(&mut reader).await.expect("more text"));
    }
    writer.write_all(b"ort\"}\n").await.unwrap();
    loop {
        let reply = next_reply(&mut reader).await.expect("an end to the ask");
        match reply["reply"].as_str() {
            Some("text") => continue,
            Some("aborted") => break,
            _ => panic!("the abort was lost: {reply} (before: {replies:?})"),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_over_long_line_during_ask_closes_it_and_aborts_the_session() {
    let model = MockModel::start().await;
    let home = TestHome::new(model.base_url());
    let nexus = running_nexus(&home).await;
    let (mut reader, mut writer) = streaming_ask(&nexus).await;
    let mut line = vec![b'x'; 2 * 1024 * 1024];
    line.push(b'\n');
    let _ = writer.write_all(&line).await;
    let mut last = None;
    while let Some(reply) = next_reply(&mut reader).await {
        last = Some(reply);
    }
    let last = last.expect("a reply before the close");
    assert_eq!(last["reply"], "error", "{last}");
    assert!(
        last["message"]
            .as_str()
            .unwrap()
            .contains("message too large"),
        "{last}"
    );
    nexus
        .wait_for_status(SETTLE, "the session to stop", |s| {
            s["sessions"]["busy"] == 0
        })
        .await;
    nexus.status().await;
}
