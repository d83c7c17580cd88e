//! Watching `config.toml` for edits (by hand or from the settings page).
//!
//! A cheap poll of the file's identity (inode, size, modification time) every
//! three seconds (each wake-up costs the idle daemon CPU, measured in
//! BENCHMARKS.md) — no inotify, so editors that replace the file by renaming are
//! seen like any other write. A change is read once it has stopped changing
//! for a moment, then parsed with the same rules as at start; a bad file is
//! reported and the daemon keeps its last good settings.

use crate::config::{Config, Loaded};
use crate::paths::Paths;
use std::time::{Duration, SystemTime};
use tokio::sync::mpsc;

const POLL: Duration = Duration::from_secs(3);
/// How long a change must hold still before it is read (editors write in steps).
const SETTLE: Duration = Duration::from_millis(200);

/// What the watcher found.
#[derive(Debug)]
pub(crate) enum ConfigNews {
    /// A valid config (all defaults when the file is gone).
    Changed { loaded: Box<Loaded>, exists: bool },
    /// The file changed but cannot be used; why.
    Rejected(String),
}

/// The file's identity: a change in any of these means "read it again".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fingerprint {
    inode: u64,
    len: u64,
    modified: Option<SystemTime>,
}

fn fingerprint(paths: &Paths) -> Option<Fingerprint> {
    let meta = std::fs::metadata(paths.config_file()).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&meta);
    #[cfg(not(unix))]
    let inode = 0;
    Some(Fingerprint {
        inode,
        len: meta.len(),
        modified: meta.modified().ok(),
    })
}

/// Watches until `news` is closed. The state at start counts as seen.
pub(crate) async fn watch(paths: Paths, news: mpsc::Sender<ConfigNews>) {
    let mut seen = fingerprint(&paths);
    let mut poll = tokio::time::interval(POLL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        poll.tick().await;
        let now = fingerprint(&paths);
        if now == seen {
            continue;
        }
        // Let a write in progress finish.
        tokio::time::sleep(SETTLE).await;
        let settled = fingerprint(&paths);
        if settled != now {
            continue;
        }
        seen = settled;
        let message = match Config::load(&paths) {
            Ok(loaded) => ConfigNews::Changed {
                loaded: Box::new(loaded),
                exists: seen.is_some(),
            },
            Err(e) => ConfigNews::Rejected(e.to_string()),
        };
        if news.send(message).await.is_err() {
            return;
        }
    }
}
