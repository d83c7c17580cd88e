//! Nexus's own logs: `RUST_LOG`-filtered tracing to stderr and to
//! `$XDG_STATE_HOME/opencode-nexus/nexus.log`, and the popover's output in
//! `popover.log`; both files private (0600) and rotated by size as they grow.

use crate::paths::Paths;
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::writer::MakeWriterExt;

/// nexus.log's size before it is rotated, and how many old files are kept.
pub const DAEMON_LOG_BYTES: u64 = 5 * 1024 * 1024;
pub const DAEMON_LOG_ROTATIONS: usize = 1;
/// popover.log's size before it is rotated, and how many old files are kept.
pub const POPOVER_LOG_BYTES: u64 = 1024 * 1024;
pub const POPOVER_LOG_ROTATIONS: usize = 1;

/// Logging for a helper process (the popover, the gateway): to stderr,
/// which the daemon sends to the helper's own log file; `RUST_LOG` or
/// `info`.
pub fn init_helper() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
}

/// Installs the global subscriber. Returns nothing to hold; safe to call once.
pub fn init(paths: &Paths) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = std::fs::create_dir_all(&paths.state_dir);
    let file = RotatingFile::open(paths.daemon_log(), DAEMON_LOG_BYTES, DAEMON_LOG_ROTATIONS);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let result = match file {
        Ok(file) => builder
            .with_writer(std::io::stderr.and(Mutex::new(file)))
            .with_ansi(false)
            .try_init(),
        Err(e) => {
            eprintln!("warning: no log file: {e}");
            builder.with_writer(std::io::stderr).try_init()
        }
    };
    let _ = result;
}

/// An append-only log file that only its owner can read, rotated by size:
/// once it would pass `max_bytes`, `log` becomes `log.1` (`log.1` becomes
/// `log.2`, …, keeping `rotations` old files) and a fresh `log` is begun.
#[derive(Debug)]
pub struct RotatingFile {
    path: PathBuf,
    file: File,
    written: u64,
    max_bytes: u64,
    rotations: usize,
}

impl RotatingFile {
    /// Opens (or creates) `path` 0600, rotating first if it is already full.
    pub fn open(path: PathBuf, max_bytes: u64, rotations: usize) -> io::Result<RotatingFile> {
        let file = open_private(&path)?;
        let written = file.metadata()?.len();
        let mut log = RotatingFile {
            path,
            file,
            written,
            max_bytes: max_bytes.max(1),
            rotations,
        };
        if log.written >= log.max_bytes {
            log.rotate()?;
        }
        Ok(log)
    }

    /// The rotated file number `n` (`nexus.log.1`).
    fn rotated(&self, n: usize) -> PathBuf {
        let mut name = self.path.file_name().unwrap_or_default().to_os_string();
        name.push(format!(".{n}"));
        self.path.with_file_name(name)
    }

    fn rotate(&mut self) -> io::Result<()> {
        if self.rotations == 0 {
            let _ = std::fs::remove_file(&self.path);
        } else {
            for n in (1..self.rotations).rev() {
                let _ = std::fs::rename(self.rotated(n), self.rotated(n + 1));
            }
            std::fs::rename(&self.path, self.rotated(1))?;
        }
        self.file = open_private(&self.path)?;
        self.written = 0;
        Ok(())
    }
}

impl Write for RotatingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.written > 0 && self.written + buf.len() as u64 > self.max_bytes {
            // A log that cannot rotate keeps writing where it is.
            let _ = self.rotate();
        }
        let n = self.file.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Opens `path` for appending, created 0600; an existing file is made 0600 too.
fn open_private(path: &Path) -> io::Result<File> {
    let file = crate::platform::private_file_options()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot open {}: {e}", path.display())))?;
    crate::platform::keep_file_private(&file)?;
    Ok(file)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn rotates_by_size_while_writing_and_keeps_the_newest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nexus.log");
        let mut log = RotatingFile::open(path.clone(), 100, 2).unwrap();
        for i in 0..20 {
            writeln!(log, "line {i:02} of the log, 30 bytes").unwrap();
        }
        let current = std::fs::read_to_string(&path).unwrap();
        assert!(current.len() <= 100, "{current}");
        assert!(
            current.ends_with("line 19 of the log, 30 bytes\n"),
            "{current}"
        );
        let older = std::fs::read_to_string(dir.path().join("nexus.log.1")).unwrap();
        assert!(older.len() <= 100 && older.contains("line 1"), "{older}");
        assert!(dir.path().join("nexus.log.2").exists());
        assert!(
            !dir.path().join("nexus.log.3").exists(),
            "only two old files"
        );
        for name in ["nexus.log", "nexus.log.1", "nexus.log.2"] {
            assert_eq!(mode(&dir.path().join(name)), 0o600, "{name}");
        }
    }

    #[test]
    fn an_existing_log_is_made_private_and_a_full_one_rotated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("popover.log");
        std::fs::write(&path, vec![b'x'; 200]).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let mut log = RotatingFile::open(path.clone(), 100, 1).unwrap();
        log.write_all(b"fresh\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "fresh\n");
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&dir.path().join("popover.log.1")), 0o600);
    }

    #[test]
    fn a_missing_directory_is_an_error_naming_the_file() {
        let err = RotatingFile::open("/nonexistent/dir/nexus.log".into(), 100, 1).unwrap_err();
        assert!(
            err.to_string().contains("/nonexistent/dir/nexus.log"),
            "{err}"
        );
    }
}
