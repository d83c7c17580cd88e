//! The event-stream watcher: one `/global/event` connection with its own
//! reconnect loop, reporting to the core as `WatchEvent`s.
//!
//! Each connection: check health (and whether the server is unsecured), open
//! the stream (200 + `text/event-stream` only), re-read the snapshot of every
//! directory in play, then forward events. One watchdog covers the whole
//! link, from the first request through the snapshot to the stream: 30 s
//! (`event_timeout`) without an answer or a byte from the server is a dead
//! link (the server heartbeats every 10 s), so a server frozen at any step is
//! reported on time rather than after each request's own timeout in turn. A
//! 401 ends the watcher: retrying with the same credentials cannot help.

use crate::core::model::{EventKind, ServerEvent};
use crate::core::sessions::DirectorySnapshot;
use crate::core::{Event, WatchEvent, WatchId};
use crate::server::client::{ApiError, ServerClient};
use crate::server::events::parse_event;
use crate::server::sse::{ChunkGuard, OVERSIZED};
use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::Poll;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc};
use tokio::time::Instant;

/// How far the server's signs of life must move the watchdog's deadline
/// before its timer is replaced (see `Watcher::connect_once`).
const WATCHDOG_STEP: Duration = Duration::from_secs(1);
/// Events over this size are dropped (the API never sends anything near it).
pub const MAX_EVENT_BYTES: usize = 1024 * 1024;
/// At most this many directories are re-read after a reconnect.
const MAX_SNAPSHOT_DIRECTORIES: usize = 32;

#[derive(Debug, Clone)]
pub struct WatchOptions {
    /// Silence after which the link counts as dead.
    pub event_timeout: Duration,
    /// Directories to snapshot besides the server's own and those seen in events.
    pub directories: Vec<String>,
}

/// The delay before reconnect attempt `attempt` (0-based): doubling from
/// 250 ms, capped at 5 s, with ±20 % jitter (`jitter` in 0..1) so many
/// clients do not reconnect in step.
pub fn reconnect_delay(attempt: u32, jitter: f64) -> Duration {
    let base = 250u64.saturating_mul(1u64 << attempt.min(10)).min(5_000) as f64;
    let factor = 0.8 + 0.4 * jitter.clamp(0.0, 1.0);
    Duration::from_millis((base * factor).min(5_000.0) as u64)
}

/// Why one connection ended.
enum Ended {
    Closed(String),
    Unauthorized,
}

pub struct Watcher {
    pub id: WatchId,
    pub client: ServerClient,
    pub options: WatchOptions,
    pub events: mpsc::Sender<Event>,
    /// Raw server events for streaming consumers (the `ask` command).
    pub broadcast: broadcast::Sender<Arc<ServerEvent>>,
}

impl Watcher {
    /// Runs until a 401, or until the task is aborted.
    pub async fn run(self) {
        let mut directories: BTreeSet<String> = self.options.directories.iter().cloned().collect();
        let mut attempt = 0u32;
        loop {
            match self.connect_once(&mut directories, &mut attempt).await {
                Ended::Unauthorized => {
                    self.report(WatchEvent::AuthRejected).await;
                    return;
                }
                Ended::Closed(reason) => {
                    tracing::info!(watch = self.id, "event stream ended: {reason}");
                    self.report(WatchEvent::Lost { reason }).await;
                }
            }
            let delay = reconnect_delay(attempt, jitter());
            attempt = attempt.saturating_add(1);
            tokio::time::sleep(delay).await;
        }
    }

    async fn report(&self, event: WatchEvent) {
        // The daemon is gone when this fails; the task will be dropped with it.
        let _ = self
            .events
            .send(Event::Watch {
                watch: self.id,
                event,
            })
            .await;
    }

    /// One connection, under the link's watchdog: it ends the attempt once
    /// the server has said nothing for `event_timeout`, whichever step the
    /// attempt is at.
    ///
    /// The watchdog's timer is replaced (not reset) whenever the server is
    /// heard from, moving its deadline on by a second or more: tokio's timer
    /// wheel wakes the runtime at the wheel slot where a timer was first filed
    /// (three times for one 30 s away), even when `reset` moved it later,
    /// while dropping a timer takes it off the wheel. So with heartbeats every
    /// 10 s the watchdog never wakes the idle daemon at all (BENCHMARKS.md,
    /// issue 12), and a busy stream replaces it at most once a second.
    async fn connect_once(&self, directories: &mut BTreeSet<String>, attempt: &mut u32) -> Ended {
        let timeout = self.options.event_timeout;
        let heard = LastHeard::new();
        let link = self.link(directories, attempt, &heard);
        tokio::pin!(link);
        let mut deadline = heard.at() + timeout;
        let mut watchdog = std::pin::pin!(tokio::time::sleep_until(deadline));
        std::future::poll_fn(|cx| {
            if let Poll::Ready(ended) = link.as_mut().poll(cx) {
                return Poll::Ready(ended);
            }
            loop {
                let due = heard.at() + timeout;
                if due >= deadline + WATCHDOG_STEP {
                    deadline = due;
                    watchdog.set(tokio::time::sleep_until(deadline));
                }
                if watchdog.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                // Heard from the server meanwhile: wait out the new deadline.
                if due <= Instant::now() {
                    return Poll::Ready(Ended::Closed(format!(
                        "no data from the server for {} s",
                        timeout.as_secs_f64()
                    )));
                }
                deadline = due;
                watchdog.set(tokio::time::sleep_until(deadline));
            }
        })
        .await
    }

    async fn link(
        &self,
        directories: &mut BTreeSet<String>,
        attempt: &mut u32,
        heard: &LastHeard,
    ) -> Ended {
        let health = match self.client.health().await {
            Ok(h) if h.healthy => h,
            Ok(_) => return Ended::Closed("the server reports itself unhealthy".into()),
            Err(ApiError::Unauthorized) => return Ended::Unauthorized,
            Err(e) => return Ended::Closed(e.to_string()),
        };
        heard.now();
        let response = match self.client.open_event_stream().await {
            Ok(r) => r,
            Err(ApiError::Unauthorized) => return Ended::Unauthorized,
            Err(e) => return Ended::Closed(format!("event stream: {e}")),
        };
        heard.now();
        // The stream is read from now on, while the snapshot is taken, so its
        // bytes count when they arrive (a greeting read only after a slow
        // snapshot must not look like fresh news from a frozen server).
        let (mut chunks, _reader) = read_stream(response, heard.clone());
        let unsecured = self.client.without_credentials().health().await.is_ok();
        if unsecured {
            heard.now();
            tracing::warn!(
                "the server at {} accepts requests without a password",
                self.client.base_url()
            );
        }
        self.report(WatchEvent::Connected {
            version: Some(health.version).filter(|v| !v.is_empty()),
            unsecured,
        })
        .await;

        // Snapshot after subscribing, so nothing between the two is missed.
        if let Ok(dir) = self.client.default_directory().await {
            heard.now();
            directories.insert(dir);
        }
        for dir in directories.iter().take(MAX_SNAPSHOT_DIRECTORIES) {
            match self.snapshot(dir, heard).await {
                Ok(snapshot) => self.report(WatchEvent::Snapshot(snapshot)).await,
                Err(ApiError::Unauthorized) => return Ended::Unauthorized,
                Err(e) => tracing::warn!("snapshot of {dir} failed: {e}"),
            }
        }

        let mut guard = ChunkGuard::new(MAX_EVENT_BYTES);
        // Time spent working through what the server sent is not silence on
        // its part: between handing out a chunk and being asked for the next
        // one, the watcher was busy (a huge event, a slow daemon), so that
        // time moves the deadline on.
        let busy_clock = heard.clone();
        let mut handed_out: Option<Instant> = None;
        let mut stream = futures_util::stream::poll_fn(move |cx| {
            if let Some(at) = handed_out.take() {
                busy_clock.credit(at.elapsed());
            }
            let polled = chunks.poll_recv(cx);
            if polled.is_ready() {
                handed_out = Some(Instant::now());
            }
            polled
        })
        .map(move |chunk| chunk.map(|bytes| guard.push(&bytes)))
        .eventsource();

        loop {
            match stream.next().await {
                None => return Ended::Closed("the server closed the event stream".into()),
                Some(Err(e)) => return Ended::Closed(format!("event stream: {e}")),
                Some(Ok(sse)) if sse.event == OVERSIZED => {
                    tracing::warn!("dropped an event larger than {MAX_EVENT_BYTES} bytes");
                }
                Some(Ok(sse)) => match parse_event(&sse.data) {
                    Ok(event) => {
                        // A working link resets the backoff; the greeting alone does not
                        // prove that (a server may greet and close, over and over).
                        if event.kind != EventKind::Connected {
                            *attempt = 0;
                        }
                        if matches!(
                            event.kind,
                            EventKind::Heartbeat | EventKind::Connected | EventKind::Other
                        ) {
                            continue;
                        }
                        if let Some(dir) = &event.directory
                            && directories.len() < MAX_SNAPSHOT_DIRECTORIES * 4
                        {
                            directories.insert(dir.clone());
                        }
                        let event = Arc::new(event);
                        let _ = self.broadcast.send(event.clone());
                        self.report(WatchEvent::Server(Arc::unwrap_or_clone(event)))
                            .await;
                    }
                    Err(e) => tracing::debug!("ignored an unreadable event: {e}"),
                },
            }
        }
    }

    async fn snapshot(
        &self,
        directory: &str,
        heard: &LastHeard,
    ) -> Result<DirectorySnapshot, ApiError> {
        let statuses = self.client.session_statuses(directory).await?;
        heard.now();
        let permissions = self.client.pending_permissions(directory).await?;
        heard.now();
        let questions = self.client.pending_questions(directory).await?;
        heard.now();
        Ok(DirectorySnapshot {
            directory: directory.to_string(),
            statuses,
            permissions,
            questions,
        })
    }
}

/// Reads the event stream's body on its own task as it arrives, stamping
/// `heard` per chunk; the chunks come out of the receiver. The reader ends
/// with the returned guard.
fn read_stream(
    response: reqwest::Response,
    heard: LastHeard,
) -> (
    mpsc::Receiver<Result<bytes::Bytes, reqwest::Error>>,
    AbortOnDrop,
) {
    // A few chunks of slack: the reader waits when the watcher falls behind.
    let (tx, rx) = mpsc::channel(16);
    let task = tokio::spawn(async move {
        let mut body = response.bytes_stream();
        while let Some(chunk) = body.next().await {
            if chunk.is_ok() {
                heard.now();
            }
            let failed = chunk.is_err();
            if tx.send(chunk).await.is_err() || failed {
                return;
            }
            // While the watcher works through a backlog the link is not
            // silent: the server's silence counts once we are caught up.
            heard.now();
        }
    });
    (rx, AbortOnDrop(task))
}

/// Aborts its task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// When the server was last heard from on this link (an answer or a byte
/// of the stream), shared with the stream's byte counter.
#[derive(Clone)]
struct LastHeard {
    since: Instant,
    /// Milliseconds after `since`.
    at_ms: Arc<AtomicU64>,
}

impl LastHeard {
    /// Starts the clock: the attempt itself counts as the first sign of life.
    fn new() -> Self {
        LastHeard {
            since: Instant::now(),
            at_ms: Arc::new(AtomicU64::new(0)),
        }
    }

    fn now(&self) {
        let ms = self.since.elapsed().as_millis() as u64;
        self.at_ms.fetch_max(ms, Ordering::Relaxed);
    }

    /// Moves the last-heard time on by `busy` (not past now).
    fn credit(&self, busy: Duration) {
        let now = self.since.elapsed().as_millis() as u64;
        let busy = busy.as_millis() as u64;
        let _ = self
            .at_ms
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |at| {
                Some(at.saturating_add(busy).min(now).max(at))
            });
    }

    fn at(&self) -> Instant {
        self.since + Duration::from_millis(self.at_ms.load(Ordering::Relaxed))
    }
}

fn jitter() -> f64 {
    let mut bytes = [0u8; 2];
    if getrandom::fill(&mut bytes).is_err() {
        return 0.5;
    }
    f64::from(u16::from_le_bytes(bytes)) / f64::from(u16::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconnect_backoff_is_capped_at_five_seconds() {
        let delays: Vec<u64> = (0..8)
            .map(|a| reconnect_delay(a, 0.5).as_millis() as u64)
            .collect();
        assert_eq!(delays, [250, 500, 1000, 2000, 4000, 5000, 5000, 5000]);
        assert!(reconnect_delay(30, 1.0) <= Duration::from_secs(5));
        assert_eq!(reconnect_delay(0, 0.0), Duration::from_millis(200));
    }
}
