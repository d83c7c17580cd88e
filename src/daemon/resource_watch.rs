//! Measuring the managed server's process tree while someone can see the
//! figures: while the tray icon is on a panel (its tooltip and menu show
//! them), more often while the popover is on screen, never otherwise; and on
//! demand for `opencode-nexus metrics`.

use super::Shared;
use crate::core::Event;
use crate::core::resource_use::ResourceUse;
use std::time::Duration;
use tokio::sync::mpsc;

/// How often the figures are refreshed for the tray alone.
const TRAY_EVERY: Duration = Duration::from_secs(10);
/// … and while the popover is shown.
const POPOVER_EVERY: Duration = Duration::from_secs(2);
/// The gap between the two readings of an on-demand measurement.
const ON_DEMAND_SPAN: Duration = Duration::from_millis(1000);

/// Runs for the daemon's life.
pub(crate) async fn run(shared: Shared, tray: bool, events: mpsc::Sender<Event>) {
    let mut summary = shared.summary.clone();
    let mut visible = shared.popover.visible.subscribe();
    loop {
        let pid = summary.borrow_and_update().server_pid;
        let popover_shown = *visible.borrow_and_update();
        let every = match (pid, tray, popover_shown) {
            (Some(_), _, true) => Some(POPOVER_EVERY),
            (Some(_), true, false) => Some(TRAY_EVERY),
            _ => None,
        };
        let Some(every) = every else {
            // Nothing to measure or nobody to show it to: wait for that to change.
            tokio::select! {
                changed = summary.changed() => if changed.is_err() { return },
                changed = visible.changed() => if changed.is_err() { return },
            }
            continue;
        };
        if let Some(pid) = pid {
            let measured = sample(&shared, pid).await;
            if events.send(Event::ResourceUse(measured)).await.is_err() {
                return;
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            // Shown: refresh now rather than at the slow pace.
            Ok(()) = visible.changed() => {}
        }
    }
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
