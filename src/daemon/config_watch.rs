//! Watching `config.toml` for edits (by hand or from the settings page).
//!
//! The kernel says when something changed (inotify through the `notify`
//! crate): nothing runs while the file is left alone. The watch is on the
//! parent directory, not the file, so an editor that writes a new file and
//! renames it over the old one is seen like any other write. A change is read
//! once it has stopped changing for a moment, off the event loop, with the same
//! rules as at start; a bad file is reported and the daemon keeps its last
//! good settings. Where inotify is not available (no instance left, a file
//! system without it) a slow poll of the file's identity takes over.

use crate::config::{Config, Loaded};
use crate::paths::Paths;
use notify::Watcher as _;
use std::path::Path;
use std::time::{Duration, SystemTime};
use tokio::sync::mpsc;

/// How long a change must hold still before it is read (editors write in steps).
const SETTLE: Duration = Duration::from_millis(200);
/// The fallback poll when the kernel cannot tell us.
const FALLBACK_POLL: Duration = Duration::from_secs(10);

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

fn fingerprint(file: &Path) -> Option<Fingerprint> {
    // `metadata` never opens the file, so a FIFO at the path cannot block it.
    let meta = std::fs::metadata(file).ok()?;
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

/// Starts an inotify watch on the config file's directory; each event that
/// concerns the file pokes `pokes` (a full channel already holds a poke).
fn kernel_watch(
    file: &Path,
    pokes: mpsc::Sender<()>,
) -> notify::Result<notify::RecommendedWatcher> {
    let dir = file.parent().unwrap_or(Path::new(".")).to_path_buf();
    // The directory must exist to be watched; Nexus writes config.toml there anyway.
    if let Err(e) = std::fs::create_dir_all(&dir) {
        return Err(notify::Error::io(e).add_path(dir));
    }
    let name = file.file_name().map(|n| n.to_os_string());
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let concerns_file = match &event {
            Ok(event) => {
                !event.kind.is_access()
                    && event
                        .paths
                        .iter()
                        .any(|p| p.file_name().map(|n| n.to_os_string()) == name)
            }
            // An overflowed queue may have lost our event: look anyway.
            Err(_) => true,
        };
        if concerns_file {
            let _ = pokes.try_send(());
        }
    })?;
    watcher.watch(&dir, notify::RecursiveMode::NonRecursive)?;
    Ok(watcher)
}

/// Watches until `news` is closed. The state at start counts as seen.
pub(crate) async fn watch(paths: Paths, news: mpsc::Sender<ConfigNews>) {
    let file = paths.config_file();
    let mut seen = fingerprint(&file);
    let (poke_tx, mut pokes) = mpsc::channel::<()>(1);
    // Kept alive for the loop's life: dropping it ends the watch.
    let kernel = match kernel_watch(&file, poke_tx) {
        Ok(watcher) => Some(watcher),
        Err(e) => {
            tracing::warn!(
                "cannot watch {} for changes ({e}); checking it every {} s instead",
                file.display(),
                FALLBACK_POLL.as_secs()
            );
            None
        }
    };
    let polling = kernel.is_none();
    loop {
        if polling {
            tokio::time::sleep(FALLBACK_POLL).await;
        } else if pokes.recv().await.is_none() {
            return;
        }
        // Let a write in progress finish: read once the pokes stop.
        loop {
            tokio::time::sleep(SETTLE).await;
            if pokes.try_recv().is_err() {
                break;
            }
        }
        let now = fingerprint(&file);
        if now == seen {
            continue;
        }
        seen = now;
        let message = match load(&paths).await {
            Ok(loaded) => ConfigNews::Changed {
                loaded: Box::new(loaded),
                exists: seen.is_some(),
            },
            Err(problem) => ConfigNews::Rejected(problem),
        };
        if news.send(message).await.is_err() {
            return;
        }
    }
}

/// Reads and checks config.toml on a blocking thread, so the event loop keeps
/// answering `status` and the tray whatever is at the path.
async fn load(paths: &Paths) -> Result<Loaded, String> {
    let paths = paths.clone();
    tokio::task::spawn_blocking(move || Config::load(&paths).map_err(|e| e.to_string()))
        .await
        .unwrap_or_else(|e| Err(format!("reading config.toml failed: {e}")))
}
