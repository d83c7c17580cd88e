//! Test support: virtual time for driving the core. Records the timers the
//! core schedules and hands them back in order as time is moved forward.

use super::{Effect, Event, LaunchId, Timer, WatchEvent, WatchId};
use std::time::Instant;

/// The watch the most recent `Effect::Watch` among `effects` started.
pub fn last_watch(effects: &[Effect]) -> Option<WatchId> {
    effects.iter().rev().find_map(|e| match e {
        Effect::Watch { watch, .. } => Some(*watch),
        _ => None,
    })
}

pub struct VirtualClock {
    pub now: Instant,
    timers: Vec<(Instant, Timer)>,
}

impl VirtualClock {
    pub fn new(now: Instant) -> Self {
        VirtualClock {
            now,
            timers: Vec::new(),
        }
    }

    /// Notes the timers among `effects`.
    pub fn note(&mut self, effects: &[Effect]) {
        for effect in effects {
            if let Effect::Schedule { timer, after } = effect {
                self.timers.push((self.now + *after, *timer));
            }
        }
    }

    /// The earliest timer due by `until`, with time moved to its instant.
    /// Callers fire it, then ask again; at the end they set `now = until`.
    pub fn next_due(&mut self, until: Instant) -> Option<Timer> {
        self.timers.sort_by_key(|(at, _)| *at);
        match self.timers.first() {
            Some((at, _)) if *at <= until => {
                let (at, timer) = self.timers.remove(0);
                self.now = at;
                Some(timer)
            }
            _ => None,
        }
    }
}

/// What the supervisor and watcher report when launch `launch` (pid `pid`)
/// comes up healthy and watch `watch` connects.
pub fn came_up(launch: LaunchId, pid: u32, watch: WatchId) -> [Event; 3] {
    [
        Event::Spawned { launch, pid },
        Event::Ready {
            launch,
            url: format!("http://127.0.0.1:{pid}"),
            version: "1.18.33".into(),
        },
        Event::Watch {
            watch,
            event: WatchEvent::Connected {
                version: None,
                unsecured: false,
            },
        },
    ]
}
