//! What the user typed but did not send, by session (`session:<id>`) or for a
//! new session in a directory (`new:<dir>`). Kept in one small JSON file so
//! a draft survives hiding, the popover process exiting and a Nexus restart.

use super::protocol::MAX_DRAFT_BYTES;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// At most this many drafts are kept (the one changed longest ago goes first).
pub const MAX_DRAFTS: usize = 200;

/// One draft as the file holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Entry {
    key: String,
    text: String,
}

/// The file: a list, the draft changed longest ago first; or the older flat
/// `{key: text}` object, read once (its order is lost, so alphabetical).
#[derive(Deserialize)]
#[serde(untagged)]
enum DraftsFile {
    List(Vec<Entry>),
    Map(BTreeMap<String, String>),
}

/// Why a draft was not kept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DraftError {
    #[error("the draft is {bytes} bytes long; at most {MAX_DRAFT_BYTES} are kept")]
    TooLong { bytes: usize },
}

#[derive(Debug)]
pub struct Drafts {
    path: PathBuf,
    /// Ordered by last change, oldest first (so eviction takes the front).
    entries: Vec<Entry>,
    dirty: bool,
}

impl Drafts {
    /// Loads the drafts file; a missing file is empty, an unreadable one is
    /// set aside (`.bad`) with a warning rather than lost or fatal.
    pub fn load(path: PathBuf) -> Self {
        let entries = match std::fs::read_to_string(&path) {
            Ok(text) => match serde_json::from_str(&text) {
                Ok(DraftsFile::List(entries)) => entries,
                Ok(DraftsFile::Map(map)) => map
                    .into_iter()
                    .map(|(key, text)| Entry { key, text })
                    .collect(),
                Err(e) => {
                    let aside = path.with_extension("json.bad");
                    tracing::warn!(
                        "{}: unreadable drafts ({e}); kept as {}",
                        path.display(),
                        aside.display()
                    );
                    let _ = std::fs::rename(&path, &aside);
                    Vec::new()
                }
            },
            Err(_) => Vec::new(),
        };
        let mut drafts = Drafts {
            path,
            entries,
            dirty: false,
        };
        drafts.evict();
        drafts
    }

    /// The drafts as the page gets them in `init`: `{key: text}`.
    pub fn to_page(&self) -> Value {
        let map: Map<String, Value> = self
            .entries
            .iter()
            .map(|e| (e.key.clone(), Value::String(e.text.clone())))
            .collect();
        Value::Object(map)
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|e| e.key == key)
            .map(|e| e.text.as_str())
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Sets one draft, making it the newest; empty text removes it. A draft
    /// over `MAX_DRAFT_BYTES` is refused (the page checks the same number
    /// first and tells the user).
    pub fn set(&mut self, key: String, text: String) -> Result<(), DraftError> {
        if text.len() > MAX_DRAFT_BYTES {
            return Err(DraftError::TooLong { bytes: text.len() });
        }
        let at = self.entries.iter().position(|e| e.key == key);
        if at.is_some_and(|i| self.entries[i].text == text) {
            return Ok(());
        }
        let removed = at.map(|i| self.entries.remove(i)).is_some();
        let added = !text.is_empty();
        if added {
            self.entries.push(Entry { key, text });
        }
        self.dirty |= removed || added;
        self.evict();
        Ok(())
    }

    /// Drops the drafts changed longest ago while there are too many.
    fn evict(&mut self) {
        let over = self.entries.len().saturating_sub(MAX_DRAFTS);
        if over > 0 {
            self.entries.drain(..over);
            self.dirty = true;
        }
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
    crate::safe_write::write_atomically(path, bytes, crate::safe_write::Readers::Owner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drafts_survive_a_reload_and_empty_text_removes_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("drafts.json");
        let mut drafts = Drafts::load(path.clone());
        drafts
            .set("session:ses_1".into(), "half a thought".into())
            .unwrap();
        drafts.set("new:/p".into(), "x".into()).unwrap();
        drafts.save_if_changed();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let mut again = Drafts::load(path.clone());
        assert_eq!(again.get("session:ses_1"), Some("half a thought"));
        assert_eq!(
            again.to_page(),
            serde_json::json!({"session:ses_1": "half a thought", "new:/p": "x"})
        );
        again.set("new:/p".into(), String::new()).unwrap();
        again.save_if_changed();
        assert_eq!(Drafts::load(path).len(), 1);
    }

    #[test]
    fn over_the_limit_the_draft_changed_longest_ago_goes_not_the_first_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("drafts.json");
        let mut drafts = Drafts::load(path.clone());
        // "session:a" sorts first but is the draft the user touched last.
        for i in 0..MAX_DRAFTS {
            drafts
                .set(format!("session:z{i:03}"), format!("draft {i}"))
                .unwrap();
        }
        drafts.set("session:a".into(), "kept".into()).unwrap();
        assert_eq!(drafts.len(), MAX_DRAFTS);
        assert_eq!(drafts.get("session:a"), Some("kept"));
        assert_eq!(drafts.get("session:z000"), None, "the oldest went");
        // Changing a draft makes it the newest: z001 is now older than z002.
        drafts.set("session:z002".into(), "edited".into()).unwrap();
        drafts.set("session:b".into(), "new".into()).unwrap();
        assert_eq!(drafts.get("session:z001"), None);
        assert_eq!(drafts.get("session:z002"), Some("edited"));
        // The order survives the file: after a reload the next oldest goes.
        drafts.save_if_changed();
        let mut again = Drafts::load(path);
        again.set("session:c".into(), "newer".into()).unwrap();
        assert_eq!(again.get("session:z003"), None);
        for kept in ["session:a", "session:b", "session:c", "session:z002"] {
            assert!(again.get(kept).is_some(), "{kept} evicted");
        }
    }

    #[test]
    fn a_draft_over_the_page_limit_is_refused_with_its_size() {
        let dir = tempfile::tempdir().unwrap();
        let mut drafts = Drafts::load(dir.path().join("drafts.json"));
        let fits = "é".repeat(MAX_DRAFT_BYTES / 2);
        drafts.set("new:/p".into(), fits.clone()).unwrap();
        let over = format!("{fits}x");
        assert_eq!(
            drafts.set("new:/p".into(), over),
            Err(DraftError::TooLong {
                bytes: MAX_DRAFT_BYTES + 1
            })
        );
        assert_eq!(
            drafts.get("new:/p"),
            Some(fits.as_str()),
            "the last one kept"
        );
    }

    #[test]
    fn the_older_flat_file_is_still_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("drafts.json");
        std::fs::write(&path, r#"{"session:ses_1":"old format"}"#).unwrap();
        assert_eq!(Drafts::load(path).get("session:ses_1"), Some("old format"));
    }

    #[test]
    fn a_corrupt_file_is_set_aside_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("drafts.json");
        std::fs::write(&path, "{not json").unwrap();
        let drafts = Drafts::load(path.clone());
        assert!(drafts.is_empty());
        assert!(dir.path().join("drafts.json.bad").exists());
    }
}
