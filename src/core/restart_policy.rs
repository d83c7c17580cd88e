//! When to restart a managed server that exited on its own, and when to give up.
//!
//! Backoff starts at 1 s and doubles to 60 s; it resets once a server has stayed
//! healthy for 60 s. Five failed starts within five minutes trip the breaker:
//! Nexus stops trying until the user starts the server again, so a server that
//! cannot run never turns into a hot loop.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

pub const FIRST_DELAY: Duration = Duration::from_secs(1);
pub const MAX_DELAY: Duration = Duration::from_secs(60);
pub const HEALTHY_RESET: Duration = Duration::from_secs(60);
pub const BREAKER_WINDOW: Duration = Duration::from_secs(5 * 60);
pub const BREAKER_LIMIT: usize = 5;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestartDecision {
    RetryAfter(Duration),
    /// The breaker tripped after this many failures inside the window.
    GiveUp {
        failures: usize,
    },
}

#[derive(Debug, Clone)]
pub struct RestartPolicy {
    next_delay: Duration,
    failures: VecDeque<Instant>,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        RestartPolicy {
            next_delay: FIRST_DELAY,
            failures: VecDeque::new(),
        }
    }
}

impl RestartPolicy {
    /// A start failed or a running server exited unasked.
    pub fn record_failure(&mut self, now: Instant) -> RestartDecision {
        self.failures.push_back(now);
        while let Some(&first) = self.failures.front() {
            if now.duration_since(first) >= BREAKER_WINDOW {
                self.failures.pop_front();
            } else {
                break;
            }
        }
        if self.failures.len() >= BREAKER_LIMIT {
            return RestartDecision::GiveUp {
                failures: self.failures.len(),
            };
        }
        let delay = self.next_delay;
        self.next_delay = (delay * 2).min(MAX_DELAY);
        RestartDecision::RetryAfter(delay)
    }

    /// The server has been healthy for `HEALTHY_RESET`: back to the short delay.
    pub fn healthy_long_enough(&mut self) {
        self.next_delay = FIRST_DELAY;
    }

    /// The user asked for a start: forget past failures.
    pub fn reset(&mut self) {
        *self = RestartPolicy::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_sixty_seconds() {
        let mut policy = RestartPolicy::default();
        let start = Instant::now();
        let mut delays = Vec::new();
        // Failures spaced 2 minutes apart never trip the breaker.
        for i in 0..9u32 {
            match policy.record_failure(start + Duration::from_secs(120) * i) {
                RestartDecision::RetryAfter(d) => delays.push(d.as_secs()),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
    }

    #[test]
    fn five_failures_in_five_minutes_trip_the_breaker() {
        let mut policy = RestartPolicy::default();
        let start = Instant::now();
        for i in 0..4 {
            assert!(matches!(
                policy.record_failure(start + Duration::from_secs(i * 10)),
                RestartDecision::RetryAfter(_)
            ));
        }
        assert_eq!(
            policy.record_failure(start + Duration::from_secs(50)),
            RestartDecision::GiveUp { failures: 5 }
        );
    }

    #[test]
    fn old_failures_leave_the_window() {
        let mut policy = RestartPolicy::default();
        let start = Instant::now();
        for i in 0..4 {
            policy.record_failure(start + Duration::from_secs(i));
        }
        // The fifth failure comes after the first four have aged out.
        assert!(matches!(
            policy.record_failure(start + BREAKER_WINDOW + Duration::from_secs(10)),
            RestartDecision::RetryAfter(_)
        ));
    }

    #[test]
    fn healthy_period_resets_backoff() {
        let mut policy = RestartPolicy::default();
        let now = Instant::now();
        policy.record_failure(now);
        policy.record_failure(now);
        policy.healthy_long_enough();
        assert_eq!(
            policy.record_failure(now),
            RestartDecision::RetryAfter(FIRST_DELAY)
        );
    }
}
