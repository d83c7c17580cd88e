//! What the user typed but did not send, by session (`session:<id>`) or for a
//! new session in a directory (`new:<dir>`). Kept in one small JSON file so
//! a draft survives hiding, the popover process exiting and a Nexus restart.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// At most this many drafts are kept (the oldest keys go first).
const MAX_DRAFTS: usize = 200;

#[derive(Debug)]
pub struct Drafts {
    path: PathBuf,
    entries: BTreeMap<String, String>,
    dirty: bool,
}

impl Drafts {
    /// Loads the drafts file; a missing file is empty, an unreadable one is
    /// set aside (`.bad`) with a warning rather than lost or fatal.
    pub fn load(path: PathBuf) -> Self {
        let entries = match std::fs::read_to_string(&path) {
            Ok(text) => match serde_json::from_str(&text) {
                Ok(entries) => entries,
                Err(e) => {
                    let aside = path.with_extension("json.bad");
                    tracing::warn!(
                        "{}: unreadable drafts ({e}); kept as {}",
                        path.display(),
                        aside.display()
                    );
                    let _ = std::fs::rename(&path, &aside);
                    BTreeMap::new()
                }
            },
            Err(_) => BTreeMap::new(),
        };
        Drafts {
            path,
            entries,
            dirty: false,
        }
    }

    pub fn all(&self) -> &BTreeMap<String, String> {
        &self.entries
    }

    /// Sets one draft; empty text removes it.
    pub fn set(&mut self, key: String, text: String) {
        let changed = if text.is_empty() {
            self.entries.remove(&key).is_some()
        } else {
            self.entries.insert(key, text.clone()).as_ref() != Some(&text)
        };
        while self.entries.len() > MAX_DRAFTS {
            let first = self.entries.keys().next().cloned();
            if let Some(first) = first {
                self.entries.remove(&first);
            }
        }
        self.dirty |= changed;
    }

    /// Writes the file if anything changed (private: drafts are the user's text).
    pub fn save_if_changed(&mut self) {
        if !self.dirty {
            return;
        }
        match write_private(
            &self.path,
            &serde_json::to_vec(&self.entries).unwrap_or_default(),
        ) {
            Ok(()) => self.dirty = false,
            Err(e) => tracing::warn!("cannot save drafts to {}: {e}", self.path.display()),
        }
    }
}

/// Writes a file readable only by the user, atomically (temp file + rename).
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drafts_survive_a_reload_and_empty_text_removes_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("drafts.json");
        let mut drafts = Drafts::load(path.clone());
        drafts.set("session:ses_1".into(), "half a thought".into());
        drafts.set("new:/p".into(), "x".into());
        drafts.save_if_changed();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let mut again = Drafts::load(path.clone());
        assert_eq!(again.all()["session:ses_1"], "half a thought");
        again.set("new:/p".into(), String::new());
        again.save_if_changed();
        assert_eq!(Drafts::load(path).all().len(), 1);
    }

    #[test]
    fn a_corrupt_file_is_set_aside_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("drafts.json");
        std::fs::write(&path, "{not json").unwrap();
        let drafts = Drafts::load(path.clone());
        assert!(drafts.all().is_empty());
        assert!(dir.path().join("drafts.json.bad").exists());
    }
}
