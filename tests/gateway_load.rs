//! The gateway under load, on loopback, bounded in count and time: 20 pages
//! follow one streaming answer from the real `opencode serve` (the mock
//! model's `[burst:N]`, 2,000 deltas a second) while one more page connects
//! and never reads. Every fast page gets every delta in order; the slow one
//! is dropped rather than holding anyone back; the gateway's and the
//! daemon's memory return to their level before.
//!
//! Prints the figures BENCHMARKS.md reports (event → page latency measured
//! against a direct subscriber to the server's own event stream, median and
//! p99; memory before, at the peak and after). `GATEWAY_LOAD_WORDS` and
//! `GATEWAY_LOAD_PAGES` change the size (scripts/bench-gateway.sh).

#![cfg(target_os = "linux")]

mod support;

use serde_json::{Value, json};
use std::time::{Duration, Instant};
use support::gateway::{Heard, SignedIn, Socket, connect_slow, next, next_within, result, send};
use support::mock_model::burst_text;
use support::nexus::rss_kib;

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The text deltas in a page's `events` message, in order.
fn page_deltas(message: &Value) -> Vec<String> {
    message["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["type"] == "message.part.delta" && e["properties"]["field"] == "text")
        .filter_map(|e| e["properties"]["delta"].as_str().map(str::to_string))
        .collect()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// Reads a page until its deltas spell `expected`; the arrival time of each delta.
async fn follow(mut page: Socket, expected: String, timeout: Duration) -> (String, Vec<Instant>) {
    let deadline = Instant::now() + timeout;
    let mut text = String::new();
    let mut times = Vec::new();
    while text.len() < expected.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "a page got {} of {} bytes",
            text.len(),
            expected.len()
        );
        match next(&mut page, left).await {
            Heard::Json(m) if m["type"] == "events" => {
                let now = Instant::now();
                for delta in page_deltas(&m) {
                    text.push_str(&delta);
                    times.push(now);
                }
            }
            Heard::Json(_) => {}
            Heard::Closed(code) => panic!("a fast page was closed ({code:?})"),
        }
    }
    (text, times)
}

#[tokio::test(flavor = "multi_thread")]
async fn twenty_pages_follow_one_stream_and_a_slow_page_holds_none_back() {
    let words = env_number("GATEWAY_LOAD_WORDS", 4_000);
    let pages = env_number("GATEWAY_LOAD_PAGES", 20);
    let gateway = SignedIn::start(pages + 2).await;
    let (home, server, nexus) = (&gateway.home, &gateway.server, &gateway.nexus);
    let gateway_pid = gateway.gateway_pid;
    // A page to drive the chat, connected first so the gateway is warm.
    let mut driver = gateway.page().await;
    let directory = home.project_dir().display().to_string();
    send(&mut driver, json!({"type": "call", "id": 1, "call": {"name": "create_session", "directory": directory}})).await;
    let session = result(&mut driver, 1, Duration::from_secs(30)).await["data"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let gateway_before = rss_kib(gateway_pid);
    let daemon_before = rss_kib(nexus.pid());

    let mut fast = Vec::new();
    for _ in 0..pages {
        fast.push(gateway.page().await);
    }
    // The slow page: says it is ready, then never reads again.
    let mut slow = connect_slow(nexus, gateway.port, Some(&gateway.cookie), &gateway.origin)
        .await
        .unwrap();
    send(&mut slow, json!({"type": "ready"})).await;

    // The reference: the server's own event stream, read directly.
    let mut direct = server.global_events().await;
    let expected = burst_text(words);
    let timeout = Duration::from_secs(60 + (words / 500) as u64);
    let followers: Vec<_> = fast
        .into_iter()
        .map(|page| tokio::spawn(follow(page, expected.clone(), timeout)))
        .collect();
    let reference = {
        let expected = expected.clone();
        tokio::spawn(async move {
            let mut text = String::new();
            let mut times = Vec::new();
            let deadline = Instant::now() + timeout;
            while text.len() < expected.len() && Instant::now() < deadline {
                let Some(envelope) = direct.next(Duration::from_secs(5)).await else {
                    continue;
                };
                let payload = &envelope["payload"];
                if payload["type"] == "message.part.delta"
                    && payload["properties"]["field"] == "text"
                {
                    text.push_str(payload["properties"]["delta"].as_str().unwrap_or(""));
                    times.push(Instant::now());
                }
            }
            (text, times)
        })
    };
    let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(gateway_before));
    let sampler = {
        let peak = peak.clone();
        tokio::spawn(async move {
            loop {
                peak.fetch_max(rss_kib(gateway_pid), std::sync::atomic::Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let started = Instant::now();
    send(&mut driver, json!({"type": "call", "id": 2, "call": {"name": "prompt", "session": session, "text": format!("[burst:{words}]")}})).await;
    // The driver reads on, like the fast pages.
    let driver = tokio::spawn(async move {
        while let Some(Heard::Json(_)) = next_within(&mut driver, Duration::from_secs(600)).await {}
    });

    let (reference_text, reference_times) = reference.await.unwrap();
    assert_eq!(reference_text, expected, "the server's own stream");
    let mut latencies_ms = Vec::new();
    for follower in followers {
        let (text, times) = follower.await.unwrap();
        assert_eq!(text, expected, "a page lost or reordered deltas");
        assert_eq!(times.len(), reference_times.len(), "one delta per delta");
        for (at_page, at_server) in times.iter().zip(&reference_times) {
            let ms = at_page.saturating_duration_since(*at_server).as_secs_f64() * 1000.0;
            latencies_ms.push(ms);
        }
    }
    let streamed = started.elapsed();
    sampler.abort();

    // The slow page, and only it, was dropped (the fast pages were never
    // closed: `follow` fails on a close).
    let log = std::fs::read_to_string(nexus.state_dir.join("gateway.log")).unwrap();
    let drops = log.matches("too slow, dropped").count() + log.matches("fell behind").count();
    assert_eq!(drops, 1, "{log}");
    let slow_closed = loop {
        match next_within(&mut slow, Duration::from_secs(20)).await {
            Some(Heard::Json(_)) => continue,
            Some(Heard::Closed(_)) => break true,
            None => break false,
        }
    };
    println!("the slow page saw its connection end: {slow_closed}");

    driver.abort();
    drop(slow);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let gateway_after = rss_kib(gateway_pid);
    let daemon_after = rss_kib(nexus.pid());
    latencies_ms.sort_by(|a, b| a.total_cmp(b));
    let figures = json!({
        "pages": pages,
        "deltas": reference_times.len(),
        "stream_seconds": streamed.as_secs_f64(),
        "latency_ms": {"median": percentile(&latencies_ms, 50.0), "p99": percentile(&latencies_ms, 99.0), "max": latencies_ms.last()},
        "gateway_rss_kib": {"before": gateway_before, "peak": peak.load(std::sync::atomic::Ordering::Relaxed), "after": gateway_after},
        "daemon_rss_kib": {"before": daemon_before, "after": daemon_after},
    });
    println!("gateway load: {figures}");
    // Memory returns: the pages' buffers are freed (the allocator may keep
    // a little), and the daemon never carried the pages at all.
    assert!(
        gateway_after <= gateway_before + 16 * 1024,
        "the gateway kept memory: {figures}"
    );
    assert!(
        daemon_after <= daemon_before + 4 * 1024,
        "the daemon grew: {figures}"
    );
}
