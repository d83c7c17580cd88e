//! Nexus's own log: `RUST_LOG`-filtered tracing to stderr and to
//! `$XDG_STATE_HOME/opencode-nexus/nexus.log` (rotated once at 5 MiB).

use crate::paths::Paths;
use std::fs::OpenOptions;
use std::sync::Mutex;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::writer::MakeWriterExt;

const MAX_LOG_BYTES: u64 = 5 * 1024 * 1024;

/// Installs the global subscriber. Returns nothing to hold; safe to call once.
pub fn init(paths: &Paths) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let file = open_log(paths);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let result = match file {
        Some(file) => builder
            .with_writer(std::io::stderr.and(Mutex::new(file)))
            .with_ansi(false)
            .try_init(),
        None => builder.with_writer(std::io::stderr).try_init(),
    };
    let _ = result;
}

fn open_log(paths: &Paths) -> Option<std::fs::File> {
    std::fs::create_dir_all(&paths.state_dir).ok()?;
    let path = paths.daemon_log();
    if std::fs::metadata(&path)
        .map(|m| m.len() > MAX_LOG_BYTES)
        .unwrap_or(false)
    {
        let _ = std::fs::rename(&path, path.with_extension("log.1"));
    }
    OpenOptions::new().create(true).append(true).open(path).ok()
}
