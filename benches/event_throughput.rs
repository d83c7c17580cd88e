//! Events per second through `parse_event` + `reduce` on the recorded event mix.
//!
//! The input is every event of `tests/fixtures/opencode-events-sample.jsonl`
//! (561 real events: heartbeats, deltas, status, permission, question and
//! error events, …), compacted as the server sends them and wrapped in the
//! `/global/event` envelope the daemon receives:
//! `{"directory":..,"project":..,"payload":{id,type,properties}}` for instance
//! events, `{"payload":..}` for server-level ones (`server.*`), as the real
//! server does.
//!
//! Three benches, each over the whole mix per iteration (throughput in events):
//! - `parse_reduce`: `parse_event` then `reduce` into a managed `State` whose
//!   server is running and whose watcher is connected — the daemon's hot path;
//! - `parse`: `parse_event` alone;
//! - `reduce`: `reduce` alone, on pre-parsed events (cloned outside the timing).
//!
//! Target: ≥ 200,000 events/s on one core (`scripts/bench-events.sh`).

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use opencode_nexus::config::ServerMode;
use opencode_nexus::core::model::EventKind;
use opencode_nexus::core::{Effect, Event, ServerState, State, WatchEvent, WatchId, reduce};
use opencode_nexus::server::events::parse_event;
use std::hint::black_box;
use std::time::{Duration, Instant};

const SAMPLE: &str = include_str!("../tests/fixtures/opencode-events-sample.jsonl");
const DIRECTORY: &str = "/home/dev/work/projA";
const PROJECT: &str = "3eae2ffadc073856b5dfd1df675961b4a304fd02";

/// Drops the whitespace between JSON tokens (the fixture is pretty-spaced;
/// the server sends compact JSON), keeping key order and string contents.
fn compact(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in json.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if !c.is_ascii_whitespace() {
            in_string = c == '"';
            out.push(c);
        }
    }
    out
}

/// Every recorded event in the `/global/event` envelope, in recorded order.
fn global_envelopes() -> Vec<String> {
    SAMPLE
        .lines()
        .map(|line| {
            let payload = compact(line);
            let value: serde_json::Value = serde_json::from_str(&payload).expect("fixture JSON");
            let kind = value["type"].as_str().expect("fixture event type");
            if kind.starts_with("server.") {
                format!(r#"{{"payload":{payload}}}"#)
            } else {
                format!(
                    r#"{{"directory":"{DIRECTORY}","project":"{PROJECT}","payload":{payload}}}"#
                )
            }
        })
        .collect()
}

/// A managed state with a running server and a connected watcher, driven there
/// through the public API; returns it with the watcher's id.
fn running_state(now: Instant) -> (State, WatchId) {
    let mut state = State::new(ServerMode::Managed, None, Duration::from_secs(30), now);
    let fx = reduce(&mut state, Event::StartRequested, now);
    let launch = fx
        .iter()
        .find_map(|e| match e {
            Effect::Spawn { launch } => Some(*launch),
            _ => None,
        })
        .expect("StartRequested spawns");
    reduce(&mut state, Event::Spawned { launch, pid: 4242 }, now);
    let fx = reduce(
        &mut state,
        Event::Ready {
            launch,
            url: "http://127.0.0.1:4096".into(),
            version: "1.18.33".into(),
        },
        now,
    );
    let watch = fx
        .iter()
        .find_map(|e| match e {
            Effect::Watch { watch, .. } => Some(*watch),
            _ => None,
        })
        .expect("Ready starts the watcher");
    reduce(
        &mut state,
        Event::Watch {
            watch,
            event: WatchEvent::Connected {
                version: None,
                unsecured: false,
            },
        },
        now,
    );
    assert_eq!(state.server_state(), ServerState::Running);
    (state, watch)
}

/// What the daemon does with one received `data:` payload.
#[inline]
fn parse_and_reduce(state: &mut State, watch: WatchId, data: &str, now: Instant) -> Vec<Effect> {
    let event = parse_event(data).expect("recorded events parse");
    reduce(
        state,
        Event::Watch {
            watch,
            event: WatchEvent::Server(event),
        },
        now,
    )
}

fn event_throughput(c: &mut Criterion) {
    let envelopes = global_envelopes();
    let now = Instant::now();

    // Sanity: the input is the whole mix, in the global envelope, and it drives
    // the state as recorded (not silently dropped as a late watcher's events).
    let parsed: Vec<_> = envelopes
        .iter()
        .map(|e| parse_event(e).expect("every envelope parses"))
        .collect();
    assert_eq!(parsed.len(), 561);
    let others = parsed.iter().filter(|e| e.kind == EventKind::Other).count();
    assert_eq!(others, 38, "same Other count as the /event form");
    assert!(parsed.iter().all(|e| e.directory.is_some()
        || matches!(
            e.kind,
            EventKind::Heartbeat | EventKind::Connected | EventKind::Other
        )));
    {
        let (mut state, watch) = running_state(now);
        for data in &envelopes {
            assert!(parse_and_reduce(&mut state, watch, data, now).is_empty());
        }
        let tracked = state.sessions.len();
        assert!(tracked > 0, "the events reached the session map");
        // A second pass (as every bench iteration is) leaves the map the same size.
        for data in &envelopes {
            parse_and_reduce(&mut state, watch, data, now);
        }
        assert_eq!(state.sessions.len(), tracked, "state stays bounded");
        assert_eq!(state.server_state(), ServerState::Running);
    }

    let mut group = c.benchmark_group("event_throughput");
    group.throughput(Throughput::Elements(envelopes.len() as u64));

    let (mut state, watch) = running_state(now);
    group.bench_function("parse_reduce", |b| {
        b.iter(|| {
            for data in &envelopes {
                black_box(parse_and_reduce(
                    &mut state,
                    watch,
                    black_box(data.as_str()),
                    now,
                ));
            }
        })
    });

    group.bench_function("parse", |b| {
        b.iter(|| {
            for data in &envelopes {
                let _ = black_box(parse_event(black_box(data.as_str())));
            }
        })
    });

    let (mut state, watch) = running_state(now);
    let events: Vec<Event> = parsed
        .into_iter()
        .map(|event| Event::Watch {
            watch,
            event: WatchEvent::Server(event),
        })
        .collect();
    group.bench_function("reduce", |b| {
        b.iter_batched(
            || events.clone(),
            |events| {
                for event in events {
                    black_box(reduce(&mut state, black_box(event), now));
                }
            },
            BatchSize::SmallInput,
        )
    });

    group.finish();
}

criterion_group!(benches, event_throughput);
criterion_main!(benches);
