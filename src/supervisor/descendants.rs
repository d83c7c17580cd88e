//! Reaching every descendant of the managed server.
//!
//! A process-group signal is not enough: opencode starts tool commands in new
//! sessions (setsid), so `bash` and whatever it runs leave the server's group.
//! The daemon is therefore a child subreaper: when the server dies, its
//! orphans are re-parented to us, and everything re-parented to us that we did
//! not spawn ourselves is a leftover of the server, stopped and reaped here.

use crate::platform::{self, ProcessId, StopSignal};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The children Nexus spawned itself (everything else re-parented to us is adopted).
#[derive(Debug, Clone, Default)]
pub struct OwnChildren(Arc<Mutex<HashSet<u32>>>);

impl OwnChildren {
    pub fn insert(&self, pid: u32) {
        if let Ok(mut set) = self.0.lock() {
            set.insert(pid);
        }
    }

    pub fn remove(&self, pid: u32) {
        if let Ok(mut set) = self.0.lock() {
            set.remove(&pid);
        }
    }

    fn contains(&self, pid: u32) -> bool {
        self.0.lock().map(|s| s.contains(&pid)).unwrap_or(false)
    }

    /// Children re-parented to us that we never spawned.
    pub fn adopted(&self) -> Vec<ProcessId> {
        platform::children_of(std::process::id())
            .into_iter()
            .filter(|p| !self.contains(p.pid))
            .collect()
    }
}

/// Signals the server's group and every descendant that left it.
pub fn signal_tree(root: u32, signal: StopSignal) {
    let _ = platform::signal_process_group(root, signal);
    for process in platform::descendants(root) {
        platform::signal_process(process, signal);
    }
}

/// After the server exited: stop what is left of its group and every orphan
/// it left to us (TERM, then KILL after `grace`), and reap them.
pub async fn stop_leftovers(pgid: u32, own: &OwnChildren, grace: Duration) {
    let leftovers = |own: &OwnChildren| {
        let mut all: Vec<ProcessId> = own.adopted();
        for adopted in all.clone() {
            all.extend(platform::descendants(adopted.pid));
        }
        all
    };
    let mut remaining = leftovers(own);
    if remaining.is_empty() && !platform::process_group_alive(pgid) {
        return;
    }
    tracing::info!(
        count = remaining.len(),
        "stopping processes the server left behind"
    );
    let _ = platform::signal_process_group(pgid, StopSignal::Terminate);
    for p in &remaining {
        platform::signal_process(*p, StopSignal::Terminate);
    }
    let deadline = tokio::time::Instant::now() + grace;
    while tokio::time::Instant::now() < deadline {
        reap_adopted(own);
        remaining = leftovers(own);
        if remaining.is_empty() && !platform::process_group_alive(pgid) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = platform::signal_process_group(pgid, StopSignal::Kill);
    for p in &remaining {
        platform::signal_process(*p, StopSignal::Kill);
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    reap_adopted(own);
}

/// Collects the exit status of adopted children that have ended (no zombies).
pub fn reap_adopted(own: &OwnChildren) {
    // Zombies are not in `adopted()`, so look at every child pid.
    for pid in platform::own_child_pids() {
        if !own.contains(pid) && platform::reap_adopted(pid) {
            tracing::debug!(pid, "reaped a leftover process");
        }
    }
}
