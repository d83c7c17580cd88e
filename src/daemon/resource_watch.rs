//! Measuring the managed server's process tree while someone can see the
//! figures: every 2 s while the popover is on screen; for the tray, when the
//! panel is about to open its menu (the StatusNotifierItem host's
//! `AboutToShow`) and otherwise every five minutes for the tooltip; never
//! without a tray or a popover; and on demand for `opencode-nexus metrics`.
//! At the slow pace a new figure is published only when it moved by a step
//! worth showing, so an idle server's jitter does not re-send the tray's
//! tooltip and menu to the panel; for an opening menu any change is shown.

use super::Shared;
use crate::core::Event;
use crate::core::resource_use::ResourceUse;
use crate::core::status::Summary;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// How often the figures are refreshed for the tray alone, for the tooltip
/// (the menu gets fresh ones when it opens). Each reading costs the idle
/// daemon about six wake-ups (tokio's timer wheel wakes three times for a
/// timer this far off, the blocking thread starts and later exits, the
/// result wakes the loop) and, when it is published, wakes the panel: once a
/// minute that was a third of all idle wake-ups (BENCHMARKS.md, issue 12).
const TRAY_EVERY: Duration = Duration::from_secs(300);
/// … and while the popover is shown.
const POPOVER_EVERY: Duration = Duration::from_secs(2);
/// The gap between the two readings of an on-demand measurement.
const ON_DEMAND_SPAN: Duration = Duration::from_millis(1000);

/// Runs for the daemon's life.
pub(crate) async fn run(shared: Shared, tray: bool, events: mpsc::Sender<Event>) {
    let mut summary = shared.summary.clone();
    let mut visible = shared.popover.visible.subscribe();
    // What the views show now (None: nothing published for this server yet).
    let mut published: Option<(u32, Option<ResourceUse>)> = None;
    // Whether this reading is for a menu about to open.
    let mut for_menu = false;
    loop {
        let pid = summary.borrow_and_update().server_pid;
        let popover_shown = *visible.borrow_and_update();
        let every = match (pid, tray, popover_shown) {
            (Some(_), _, true) => Some(POPOVER_EVERY),
            (Some(_), true, false) => Some(TRAY_EVERY),
            _ => None,
        };
        let (Some(every), Some(pid)) = (every, pid) else {
            // Nothing to measure or nobody to show it to: wait for that to change.
            tokio::select! {
                changed = summary.changed() => if changed.is_err() { return },
                changed = visible.changed() => if changed.is_err() { return },
            }
            continue;
        };
        let measured = sample(&shared, pid).await;
        let shown = published
            .filter(|(for_pid, _)| *for_pid == pid)
            .map(|(_, used)| used);
        if for_menu {
            tracing::debug!(?measured, "the tray menu is opening: measured the server");
        }
        let publish = popover_shown
            || match shown {
                None => true,
                Some(shown) if for_menu => shown != measured,
                Some(shown) => visibly_different(shown, measured),
            };
        if publish {
            if events.send(Event::ResourceUse(measured)).await.is_err() {
                return;
            }
            published = Some((pid, measured));
        }
        for_menu = false;
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            // Shown: refresh now rather than at the slow pace.
            Ok(()) = visible.changed() => {}
            // The tray's menu is about to open: fresh figures for it.
            () = shared.menu_opening.notified(), if tray => for_menu = true,
            // A new server process: measure it now.
            () = server_changes(&mut summary, pid) => {}
        }
    }
}

/// Returns once the managed server is no longer `pid` (never if the daemon is going).
async fn server_changes(summary: &mut watch::Receiver<Summary>, pid: u32) {
    loop {
        if summary.changed().await.is_err() {
            return std::future::pending().await;
        }
        if summary.borrow().server_pid != Some(pid) {
            return;
        }
    }
}

/// Whether `new` differs from what is shown by a step worth a panel update:
/// the process count, CPU by at least a point and a quarter, memory by at
/// least 8 MiB and 5 %. Appearing or vanishing always counts.
fn visibly_different(shown: Option<ResourceUse>, new: Option<ResourceUse>) -> bool {
    let (Some(old), Some(new)) = (shown, new) else {
        return shown.is_some() != new.is_some();
    };
    const MIB: f64 = 1024.0 * 1024.0;
    let cpu_step = (old.cpu_percent * 0.25).max(1.0);
    let old_mib = old.memory_bytes as f64 / MIB;
    let memory_step = (old_mib * 0.05).max(8.0);
    old.processes != new.processes
        || (new.cpu_percent - old.cpu_percent).abs() >= cpu_step
        || (new.memory_bytes as f64 / MIB - old_mib).abs() >= memory_step
}

/// One reading, rounded to what the views show (so unchanged figures do
/// not change the views).
async fn sample(shared: &Shared, pid: u32) -> Option<ResourceUse> {
    let sampler = shared.sampler.clone();
    tokio::task::spawn_blocking(move || sampler.lock().ok()?.sample(pid))
        .await
        .ok()
        .flatten()
        .map(|used| used.rounded())
}

/// `opencode-nexus metrics`: two readings a second apart, so CPU is measured
/// over that second.
pub(crate) async fn measure_now(shared: &Shared) -> Option<ResourceUse> {
    let pid = shared.summary.borrow().server_pid?;
    sample(shared, pid).await;
    tokio::time::sleep(ON_DEMAND_SPAN).await;
    let sampler = shared.sampler.clone();
    tokio::task::spawn_blocking(move || sampler.lock().ok()?.sample(pid))
        .await
        .ok()
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn used(cpu_percent: f32, mib: u64, processes: u32) -> Option<ResourceUse> {
        Some(ResourceUse {
            cpu_percent,
            memory_bytes: mib * 1024 * 1024,
            processes,
        })
    }

    #[test]
    fn an_idle_servers_jitter_is_not_published() {
        let shown = used(0.3, 212, 3);
        assert!(!visibly_different(shown, used(0.0, 212, 3)));
        assert!(!visibly_different(shown, used(0.9, 215, 3)));
        assert!(!visibly_different(used(40.0, 212, 3), used(48.0, 219, 3)));
    }

    #[test]
    fn a_change_worth_showing_is_published() {
        let shown = used(0.3, 212, 3);
        assert!(visibly_different(shown, used(1.5, 212, 3)), "CPU");
        assert!(visibly_different(shown, used(0.3, 230, 3)), "memory");
        assert!(visibly_different(shown, used(0.3, 212, 4)), "a new child");
        assert!(visibly_different(shown, None), "gone");
        assert!(visibly_different(None, shown), "back");
        assert!(!visibly_different(None, None));
    }
}
