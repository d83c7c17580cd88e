//! Popover benchmark (ignored; `scripts/bench-popover.sh` runs it in
//! release): cold and warm open to first paint, a 2,000-deltas-per-second
//! stream (no lost text, longest main-thread stall, with a trace of where
//! frames and messages from Rust stalled), a completed 60 KB answer with 20
//! code blocks rendered in the page (median time to the DOM with its text,
//! then to every code block coloured, longest frame gaps, the popover's RSS
//! around it and after a quiet minute), and the resident
//! process's memory across 20 open/close cycles and after the popover has
//! exited on keep-alive. Prints a summary; BENCHMARKS.md holds the figures.

// Drives Nexus as a Linux process (XDG dirs, the Unix socket, D-Bus, the
// Linux desktop): Linux only for now (README, Platforms).
#![cfg(target_os = "linux")]

mod support;

use opencode_nexus::markdown::highlight::UNLOAD_AFTER;
use serde_json::json;
use std::time::{Duration, Instant};
use support::code_samples::CODE_SAMPLES;
use support::headless_desktop::HeadlessDesktop;
use support::mock_model::{BURST_RATE, MockModel, burst_text};
use support::nexus::{Nexus, command_line, descendants, managed_config};
use support::opencode_server::TestHome;
use support::webdriver::{self, ENTER, WebDriver};

const WAIT: Duration = Duration::from_secs(60);
const KEEP_ALIVE_SECS: u64 = 3;

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    let n = values.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map(|kib| kib / 1024.0)
        .unwrap_or(0.0)
}

/// The daemon's RSS, median of five samples a second apart.
async fn settled_rss(pid: u32) -> f64 {
    let mut samples = Vec::new();
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        samples.push(rss_mib(pid));
    }
    median(samples)
}

fn popover_pids(nexus: &Nexus) -> Vec<u32> {
    descendants(nexus.pid())
        .into_iter()
        .filter(|pid| command_line(*pid).contains("opencode-nexus-popover"))
        .collect()
}

async fn wait_no_popover(nexus: &Nexus) {
    let deadline = Instant::now() + WAIT;
    while !popover_pids(nexus).is_empty() {
        assert!(Instant::now() < deadline, "the popover did not exit");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `opencode-nexus open`, timed (it returns once the window has painted).
async fn timed_open(nexus: &Nexus) -> f64 {
    let started = Instant::now();
    let out = nexus.run(&["open"]).await;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    assert_eq!(out.status.code(), Some(0), "open failed");
    ms
}

/// Hides the window the way Escape does, and waits until the page is hidden.
async fn hide(driver: &WebDriver) {
    driver
        .execute(
            "window.ipc.postMessage(JSON.stringify({type: 'hide'}))",
            json!([]),
        )
        .await;
    driver
        .wait_until(
            "the page is hidden",
            "return document.visibilityState === 'hidden'",
            WAIT,
        )
        .await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "benchmark: run scripts/bench-popover.sh"]
async fn popover_open_stream_and_keep_alive() {
    let cold_rounds = env_number("POPOVER_BENCH_COLD", 7);
    let warm_rounds = env_number("POPOVER_BENCH_WARM", 15);
    let burst_words = env_number("POPOVER_BENCH_DELTAS", 10_000);
    let desktop = HeadlessDesktop::start();
    let model = MockModel::start().await;
    let home = TestHome::with_permission(model.base_url(), json!({}));
    let inspector = webdriver::free_port();
    let mut env: Vec<(&str, String)> = desktop.env();
    env.push(("OPENCODE_NEXUS_AUTOMATION", "1".into()));
    env.push(("WEBKIT_INSPECTOR_SERVER", format!("127.0.0.1:{inspector}")));
    env.push(("RUST_LOG", "info".into()));
    let extra: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let config = format!(
        "{}\n[popover]\nkeep_alive = {KEEP_ALIVE_SECS}\nhide_on_blur = false\n",
        managed_config(&home.project_dir())
    );
    let nexus = Nexus::start_with_env(&home, &config, &extra).await;
    nexus
        .wait_for_state("running", Duration::from_secs(90))
        .await;
    let daemon = nexus.pid();
    let rss_idle_before = settled_rss(daemon).await;

    // Cold: no popover process; `open` starts one and returns on first paint.
    let mut cold = Vec::new();
    for round in 0..cold_rounds {
        wait_no_popover(&nexus).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        cold.push(timed_open(&nexus).await);
        let driver = WebDriver::attach(
            inspector,
            &home.root().join(format!("webdriver-cold-{round}.log")),
        )
        .await;
        hide(&driver).await;
        driver.close().await;
    }

    // Warm: the process is there, hidden.
    wait_no_popover(&nexus).await;
    timed_open(&nexus).await;
    let driver = WebDriver::attach(inspector, &home.root().join("webdriver-warm.log")).await;
    let mut warm = Vec::new();
    for _ in 0..warm_rounds {
        hide(&driver).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        warm.push(timed_open(&nexus).await);
    }

    // A fast stream: BURST_RATE deltas a second into the page.
    let composer = driver.wait_for("#composer", WAIT).await;
    let deltas_before = driver
        .execute("return window.nexusMetrics.deltas", json!([]))
        .await
        .as_f64()
        .unwrap_or(0.0);
    let started = Instant::now();
    driver
        .send_keys(&composer, &format!("[burst:{burst_words}]"))
        .await;
    driver.send_keys(&composer, ENTER).await;
    let last_word = format!("w{burst_words}");
    // The stall measure starts with the stream (typing through WebDriver and
    // sending are not part of it): at the first delta.
    driver
        .wait_until(
            "the first delta",
            &format!("return window.nexusMetrics.deltas > {deltas_before}"),
            WAIT,
        )
        .await;
    driver
        .execute("window.nexusMetrics.resetFrameWatch()", json!([]))
        .await;
    driver.execute(TRACE_SCRIPT, json!([])).await;
    // Where in the stream the longest stall happens (elapsed s, gap, deltas).
    let mut gap_trace: Vec<(f64, f64, f64)> = Vec::new();
    loop {
        let m = driver
            .execute(
                "const m = window.nexusMetrics; const a = document.querySelector('#abort'); \
                 return [m.maxFrameGapMs, m.deltas, !!a && !a.hidden]",
                json!([]),
            )
            .await;
        let gap = m[0].as_f64().unwrap_or(0.0);
        let seen = m[1].as_f64().unwrap_or(0.0) - deltas_before;
        if gap_trace.last().is_none_or(|last| last.1 != gap) {
            gap_trace.push((started.elapsed().as_secs_f64(), gap, seen));
        }
        if (seen >= burst_words as f64 && m[2] == false)
            || started.elapsed() > Duration::from_secs(120)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!("frame-gap trace (s, max gap ms, deltas): {gap_trace:?}");
    let trace = driver
        .execute("return window.__benchTrace.report()", json!([]))
        .await;
    println!("DIAG {trace}");
    for line in std::fs::read_to_string(nexus.state_dir.join("popover.log"))
        .unwrap_or_default()
        .lines()
    {
        if line.contains("busy") || line.contains("markdown") {
            println!("POPLOG {line}");
        }
    }
    driver
        .wait_until(
            "the whole burst arrived",
            &format!(
                "const m = document.querySelector('#messages'); return !!m && m.textContent.includes({}) \
                 && !!document.querySelector('#abort') && document.querySelector('#abort').hidden",
                json!(last_word)
            ),
            Duration::from_secs(120),
        )
        .await;
    let stream_seconds = started.elapsed().as_secs_f64();
    let metrics = driver
        .execute(
            "const m = window.nexusMetrics; return {deltas: m.deltas, frames: m.frames, maxFrameGapMs: m.maxFrameGapMs}",
            json!([]),
        )
        .await;
    let shown = driver
        .execute(
            "const parts = [...document.querySelectorAll('#messages [data-role=\"assistant\"] .part-text')]; \
             return parts.length ? parts[parts.length - 1].textContent : ''",
            json!([]),
        )
        .await;
    let expected: Vec<String> = burst_text(burst_words)
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let got: Vec<String> = shown
        .as_str()
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let lost_text = got != expected;
    let deltas = metrics["deltas"].as_f64().unwrap_or(0.0) - deltas_before;

    // The page alone at exactly BURST_RATE deltas a second for 5 s (synthetic
    // events through the same `window.nexus.receive` the Rust side calls),
    // so the renderer is measured even where the server streams slower.
    driver
        .execute("window.__benchTrace.msgs = []; window.__benchTrace.gaps = []; window.__benchTrace.cbs = []", json!([]))
        .await;
    let page_stream = driver
        .execute_async(PAGE_STREAM_SCRIPT, json!([BURST_RATE, 5]))
        .await;
    let trace = driver
        .execute("return window.__benchTrace.report()", json!([]))
        .await;
    println!("DIAG page stream {trace}");
    let page_expected: Vec<&str> = page_stream["expected"]
        .as_str()
        .unwrap_or("x")
        .split_whitespace()
        .collect();
    let page_shown: Vec<&str> = page_stream["shown"]
        .as_str()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    let page_lost_text = page_expected != page_shown;

    // A completed 60 KB answer with 20 code blocks, rendered in the page
    // (MarkdownView.update(text, false), as the conversation does for a
    // finished part): time to the DOM built and laid out with every chunk's
    // text, then until every code block is coloured, and the longest frame
    // gap until each. The first round is the first use of the languages'
    // definitions in this process; every round's code differs a little, so
    // none finds its colours remembered from the one before.
    let popover_rss_before: Vec<f64> = popover_pids(&nexus).into_iter().map(rss_mib).collect();
    println!("popover RSS before the 60 KB renders: {popover_rss_before:?} MiB");
    let render_rounds = env_number("POPOVER_BENCH_RENDERS", 7);
    let mut render_ms = Vec::new();
    let mut render_gaps = Vec::new();
    let mut text_gaps = Vec::new();
    let mut coloured_ms = Vec::new();
    let answer_bytes = long_answer(0).len();
    for number in 0..render_rounds {
        let answer = long_answer(number);
        let round = driver.execute_async(RENDER_SCRIPT, json!([answer])).await;
        assert_eq!(
            round["codeBlocks"].as_u64(),
            Some(20),
            "the 60 KB answer did not render its code blocks: {round}"
        );
        assert_eq!(
            round["coloured"].as_u64(),
            Some(20),
            "the 60 KB answer's code blocks were not all coloured: {round}"
        );
        println!("render round {round}");
        render_ms.push(round["ms"].as_f64().unwrap_or(f64::NAN));
        text_gaps.push(round["textGap"].as_f64().unwrap_or(f64::NAN));
        coloured_ms.push(round["colouredMs"].as_f64().unwrap_or(f64::NAN));
        render_gaps.push(round["maxGap"].as_f64().unwrap_or(f64::NAN));
    }
    let popover_rss: Vec<f64> = popover_pids(&nexus).into_iter().map(rss_mib).collect();
    // A quiet minute later the syntax definitions' compiled regexes are
    // dropped and their memory given back (`highlight::UNLOAD_AFTER`).
    tokio::time::sleep(UNLOAD_AFTER + Duration::from_secs(5)).await;
    let popover_rss_quiet: Vec<f64> = popover_pids(&nexus).into_iter().map(rss_mib).collect();

    // 20 open/close cycles, then keep-alive: the popover exits and the
    // resident process is back at its idle figure.
    for _ in 0..20 {
        hide(&driver).await;
        timed_open(&nexus).await;
    }
    let rss_after_cycles = rss_mib(daemon);
    hide(&driver).await;
    driver.close().await;
    let hidden_at = Instant::now();
    wait_no_popover(&nexus).await;
    let exited_after = hidden_at.elapsed().as_secs_f64();
    let rss_idle_after = settled_rss(daemon).await;

    let summary = json!({
        "cold_open_ms": {"median": median(cold.clone()), "all": cold},
        "warm_open_ms": {"median": median(warm.clone()), "all": warm},
        "stream": {
            "model_chunks_per_second": BURST_RATE,
            "words": burst_words,
            "seconds": stream_seconds,
            "page_deltas": deltas,
            "page_deltas_per_second": deltas / stream_seconds,
            "frames": metrics["frames"],
            "max_frame_gap_ms": metrics["maxFrameGapMs"],
            "lost_text": lost_text,
        },
        "page_stream": {
            "deltas_per_second": page_stream["rate"],
            "deltas": page_stream["sent"],
            "seconds": page_stream["seconds"],
            "max_frame_gap_ms": page_stream["maxGap"],
            "lost_text": page_lost_text,
        },
        "render_60kb": {
            "bytes": answer_bytes,
            "code_blocks": 20,
            "median_ms": median(render_ms.clone()),
            "all_ms": render_ms,
            "max_frame_gap_until_text_ms": text_gaps,
            "coloured_median_ms": median(coloured_ms.clone()),
            "coloured_all_ms": coloured_ms,
            "max_frame_gap_until_coloured_ms": render_gaps,
        },
        "popover_rss_mib": popover_rss,
        "popover_rss_after_a_quiet_minute_mib": popover_rss_quiet,
        "keep_alive": {"configured_s": KEEP_ALIVE_SECS, "popover_exited_after_s": exited_after},
        "daemon_rss_mib": {
            "idle_before": rss_idle_before,
            "after_20_cycles": rss_after_cycles,
            "idle_after_exit": rss_idle_after,
        },
    });
    println!("POPOVER_BENCH {summary}");
    assert!(
        !lost_text,
        "text was lost: got {} words of {}",
        got.len(),
        expected.len()
    );
    assert!(!page_lost_text, "page stream lost text: {page_stream}");
}

/// Feeds the current session a synthetic assistant message at `rate` deltas a
/// second for `seconds`, in ~16 ms batches, then reports what the page shows
/// and the longest gap between animation frames meanwhile.
const PAGE_STREAM_SCRIPT: &str = r#"
const [rate, seconds, done] = arguments;
const current = document.querySelector('#sessions [aria-current="true"]');
const sid = current ? current.dataset.sessionId : null;
const message = 'msg_zzbench', part = 'prt_zzbench';
const now = Date.now();
window.nexus.receive(JSON.stringify({type: 'events', events: [
  {directory: null, type: 'message.updated', properties: {sessionID: sid, info: {id: message, sessionID: sid,
    role: 'assistant', time: {created: now}, parentID: 'msg_zzparent', agent: 'build', providerID: 'mock', modelID: 'echo'}}},
  {directory: null, type: 'message.part.updated', properties: {sessionID: sid, part: {id: part, messageID: message,
    sessionID: sid, type: 'text', text: '', time: {start: now}}}},
]}));
window.nexusMetrics.resetFrameWatch();
const total = rate * seconds;
let sent = 0, expected = '';
const start = performance.now();
const timer = setInterval(() => {
  const due = Math.min(total, Math.round((performance.now() - start) * rate / 1000));
  const events = [];
  while (sent < due) {
    const delta = 'd' + sent + ' ';
    expected += delta;
    events.push({directory: null, type: 'message.part.delta', properties: {sessionID: sid, messageID: message,
      partID: part, field: 'text', delta}});
    sent++;
  }
  // JSON text, as Rust delivers it (the page parses it).
  if (events.length) window.nexus.receive(JSON.stringify({type: 'events', events}));
  if (sent >= total) {
    clearInterval(timer);
    const elapsed = (performance.now() - start) / 1000;
    setTimeout(() => {
      const el = document.querySelector('[data-part-id="' + part + '"]');
      done({rate: sent / elapsed, sent, seconds: elapsed, expected, shown: el ? el.textContent : null,
            maxGap: window.nexusMetrics.maxFrameGapMs});
    }, 500);
  }
}, 16);
"#;

const TRACE_SCRIPT: &str = r#"
const t = {msgs: [], gaps: [], cbs: [], last: performance.now(), lastMsg: performance.now()};
const orig = window.nexus.receive;
window.nexus.receive = function (m) {
  const t0 = performance.now();
  orig(m);
  const t1 = performance.now();
  if (t1 - t0 > 20 || t0 - t.lastMsg > 150) t.msgs.push([Math.round(t0), Math.round(t0 - t.lastMsg), Math.round(t1 - t0), m.length, m.slice(0, 60)]);
  t.lastMsg = t1;
};
const wrap = (kind, fn) => function () {
  const t0 = performance.now();
  try { return fn.apply(this, arguments); } finally {
    const d = performance.now() - t0;
    if (d > 15) t.cbs.push([kind, Math.round(t0), Math.round(d), String(fn.name || fn).slice(0, 80)]);
  }
};
const raf = window.requestAnimationFrame.bind(window);
window.requestAnimationFrame = (fn) => raf(wrap('raf', fn));
const st = window.setTimeout.bind(window);
window.setTimeout = (fn, ms, ...a) => st(typeof fn === 'function' ? wrap('timeout', fn) : fn, ms, ...a);
const pm = window.ipc.postMessage.bind(window.ipc);
window.ipc.postMessage = wrap('ipc', pm);
function tick() {
  const now = performance.now();
  if (now - t.last > 60) {
    const m = document.querySelector('#messages');
    t.gaps.push([Math.round(t.last), Math.round(now - t.last), m.scrollHeight, m.clientHeight, document.getElementsByTagName('*').length]);
  }
  t.last = now;
  raf(tick);
}
raf(tick);
t.report = () => ({gaps: t.gaps.slice(0, 40), msgs: t.msgs.slice(0, 60), cbs: t.cbs.slice(0, 60)});
window.__benchTrace = t;
"#;

/// A realistic long answer: about 60 KB of prose, lists, a table and 20
/// fenced code blocks in the languages agents print most.
fn long_answer(round: usize) -> String {
    let prose = "The supervisor keeps the server running and restarts it with **backoff** when it \
        crashes; see [the README](https://example.com/readme) and `server.start_timeout` for the \
        details. A *permission* request waits for you, and ~~nothing~~ everything else goes on. \
        Each step below is small on purpose, so a reviewer can follow it without running it.\n";
    let mut text = String::from("## What changed\n\n");
    for (i, (lang, code)) in CODE_SAMPLES.iter().enumerate() {
        text.push_str(&format!("### Step {}: the {lang} part\n\n", i + 1));
        for _ in 0..3 {
            text.push_str(prose);
            text.push('\n');
        }
        text.push_str("- first, read the file\n- then change it:\n  1. keep the old name\n  2. add the new one\n- finally, run the tests\n\n");
        text.push_str(&format!("```{lang}\n"));
        // About 1.6 KB of code per block.
        let mut block = String::new();
        while block.len() < 1600 {
            block.push_str(code);
        }
        text.push_str(&block);
        // Each round's code differs, so no round finds its colours remembered.
        text.push_str(&format!("{round}\n```\n\n"));
        if i % 5 == 4 {
            text.push_str("| key | default | meaning |\n|---|:-:|---|\n| `port` | 0 | a free port |\n| `mode` | managed | who runs the server |\n\n");
        }
    }
    text
}

/// Renders `arguments[0]` as a completed answer into a fresh MarkdownView
/// at the end of the conversation; reports the time until every chunk shows
/// its tree (DOM built, then laid out), the longest frame gap meanwhile, and
/// how many code blocks it holds. The view is removed afterwards.
const RENDER_SCRIPT: &str = r#"
const [text, done] = arguments;
const host = document.createElement('div');
host.className = 'part-text';
(document.querySelector('#messages') || document.body).appendChild(host);
let last = performance.now(), maxGap = 0, finished = false;
const tick = () => {
  const now = performance.now();
  maxGap = Math.max(maxGap, now - last);
  last = now;
  if (!finished) requestAnimationFrame(tick);
};
requestAnimationFrame(tick);
const start = performance.now();
const view = new window.NexusRender.MarkdownView(host);
view.update(text, false);
// Checked after every change of the view's DOM (a chunk's tree arriving).
const observer = new MutationObserver(() => check());
observer.observe(host, {childList: true, subtree: true});
const check = () => {
  if (finished) return;
  const ready = view.chunks.length > 0 && view.chunks.every((c) => c.plain || c.shown === c.src);
  if (!ready) return;
  observer.disconnect();
  void host.offsetHeight; // layout, as the frame would do it
  const ms = performance.now() - start;
  const textGap = maxGap;
  // Then the code blocks' colours, which come a moment later, block by block:
  // the time until none waits, and the longest frame gap until then.
  const waitColours = () => {
    const now = performance.now();
    if (host.querySelector('.colour-pending') && now - start < 20000) {
      requestAnimationFrame(waitColours);
      return;
    }
    finished = true;
    const colouredMs = now - start;
    const codeBlocks = host.querySelectorAll('.code-block').length;
    const coloured = [...host.querySelectorAll('.code-block code')].filter((c) => c.querySelector('span[class^="tok-"]')).length;
    host.remove();
    // The same text as one request: its tree's round trip, then the DOM.
    const whole = document.createElement('div');
    whole.className = 'part-text';
    (document.querySelector('#messages') || document.body).appendChild(whole);
    const t0 = performance.now();
    window.NexusMarkdown.requestTree(text).then((tree) => {
      const t1 = performance.now();
      whole.appendChild(window.NexusMarkdown.build(tree));
      void whole.offsetHeight;
      const t2 = performance.now();
      whole.remove();
      // And once more with the code left for later, as a streaming view asks.
      const plainHost = document.createElement('div');
      plainHost.className = 'part-text';
      (document.querySelector('#messages') || document.body).appendChild(plainHost);
      const t3 = performance.now();
      window.NexusMarkdown.requestTree(text, true).then((plainTree) => {
        const t4 = performance.now();
        plainHost.appendChild(window.NexusMarkdown.build(plainTree));
        void plainHost.offsetHeight;
        const t5 = performance.now();
        plainHost.remove();
        done({ms, textGap, colouredMs, maxGap, codeBlocks, coloured, chunks: view.chunks.length,
              wholeTreeMs: t1 - t0, wholeDomMs: t2 - t1, treeBytes: JSON.stringify(tree).length,
              wholeTextTreeMs: t4 - t3, wholeTextDomMs: t5 - t4, textTreeBytes: JSON.stringify(plainTree).length});
      });
    });
  };
  requestAnimationFrame(waitColours);
};
check();
"#;
