//! Writing Nexus's own files (config.toml, the autostart entry, drafts, the
//! password file) in one step: a reader sees the old file or the new one,
//! never half of either.
//!
//! The text goes to a temporary file in the same directory (a rename is atomic
//! only within one file system), is flushed to disk, then renamed over the
//! target. A file holding a secret or private text is created 0600 from the
//! start, so it is never readable by others, not even for a moment.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Who may read the written file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readers {
    /// The user only (0600): secrets, drafts.
    Owner,
    /// As the umask allows: config and desktop entries.
    Default,
}

/// Writes `bytes` to `path` atomically, creating its directory if needed.
pub fn write_atomically(path: &Path, bytes: &[u8], readers: Readers) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let temp = temp_path(path);
    // A leftover from a crash may have other modes; start afresh.
    let _ = std::fs::remove_file(&temp);
    let mut options = match readers {
        // 0600 on Unix; the profile's ACL on Windows.
        Readers::Owner => crate::platform::private_file_options(),
        Readers::Default => std::fs::OpenOptions::new(),
    };
    options.write(true).create(true).truncate(true);
    let written = options.open(&temp).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()
    });
    let renamed = written.and_then(|()| std::fs::rename(&temp, path));
    if renamed.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    renamed
}

/// `dir/name.tmp` beside `dir/name`.
fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn replaces_the_file_whole_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/config.toml");
        write_atomically(&path, b"port = 1\n", Readers::Default).unwrap();
        write_atomically(&path, b"port = 2\n", Readers::Default).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "port = 2\n");
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["config.toml"]);
    }

    #[cfg(unix)]
    #[test]
    fn a_private_file_is_readable_by_its_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        write_atomically(&path, b"hunter2", Readers::Owner).unwrap();
        assert_eq!(mode(&path), 0o600);
    }
}
