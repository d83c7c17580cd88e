//! The gateway's memory after colouring code: the syntax definitions'
//! compiled regexes (up to ~45 MiB a language) are given back after a quiet
//! minute. A test binary of its own, so its colouring does not share the
//! machine with `gateway_load`'s timing.

#![cfg(target_os = "linux")]

mod support;

use serde_json::{Value, json};
use std::time::{Duration, Instant};
use support::code_samples::CODE_SAMPLES;
use support::gateway::{SignedIn, send, until};
use support::nexus::rss_kib;

/// A phone that showed code leaves the gateway no larger for long: colouring
/// a block in each of 17 languages compiles ~220 MiB of regexes, and a
/// quiet minute later (`UNLOAD_AFTER`) they are dropped and the memory given
/// back, while the page stays connected; the next block is coloured again.
#[tokio::test(flavor = "multi_thread")]
async fn code_colours_are_given_back_after_a_quiet_minute() {
    let gateway = SignedIn::start(2).await;
    let pid = gateway.gateway_pid;
    let mut page = gateway.page().await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = rss_kib(pid);

    let blocks = |first_id: usize| {
        let requests: Vec<Value> = CODE_SAMPLES
            .iter()
            .enumerate()
            .map(|(i, (lang, code))| {
                json!({"id": first_id + i, "text": format!("```{lang}\n{code}```\n"), "code_later": false})
            })
            .collect();
        json!({"type": "markdown_batch", "requests": requests})
    };
    let coloured = |answers: &Value| {
        answers["answers"]
            .as_array()
            .map(|all| {
                all.iter()
                    .filter(|a| a["tree"].to_string().contains("[\"kw\","))
                    .count()
            })
            .unwrap_or(0)
    };
    send(&mut page, blocks(1)).await;
    let answers = until(&mut page, Duration::from_secs(60), |m| {
        m["type"] == "markdown" && m["answers"].is_array()
    })
    .await;
    let highlighted_at = Instant::now();
    assert!(
        coloured(&answers) >= 15,
        "most blocks have keywords: {answers}"
    );
    let after_colours = rss_kib(pid);

    // Polled, the page still connected (a page leaving trims memory too).
    let mut after_quiet = after_colours;
    while highlighted_at.elapsed() < Duration::from_secs(100) {
        tokio::time::sleep(Duration::from_secs(2)).await;
        after_quiet = rss_kib(pid);
        if after_quiet <= before + 16 * 1024 {
            break;
        }
    }
    let quiet_for = highlighted_at.elapsed();
    let figures = json!({
        "gateway_rss_kib": {"before": before, "coloured": after_colours, "after_quiet": after_quiet},
        "given_back_after_s": quiet_for.as_secs_f64(),
    });
    println!("gateway colours: {figures}");
    assert!(
        after_colours >= before + 20 * 1024,
        "the colours' regexes cost memory (else this test shows nothing): {figures}"
    );
    assert!(
        after_quiet <= before + 16 * 1024,
        "the gateway kept the colours' memory: {figures}"
    );
    assert!(
        quiet_for >= Duration::from_secs(55),
        "given back only after a quiet minute: {figures}"
    );
    let log =
        std::fs::read_to_string(gateway.nexus.state_dir.join("gateway.log")).unwrap_or_default();
    assert!(log.contains("compiled syntax dropped"), "{log}");

    // The definitions load again for the next block.
    send(&mut page, blocks(100)).await;
    let answers = until(&mut page, Duration::from_secs(60), |m| {
        m["type"] == "markdown" && m["answers"].is_array()
    })
    .await;
    assert!(coloured(&answers) >= 15, "coloured again: {answers}");
}
