//! The account on disk: one JSON file (0600) beside config.toml, changed
//! under an exclusive lock so the gateway and the `remote` commands never
//! lose each other's changes, and written in one step (`safe_write`).

use super::account::Account;
use crate::paths::Paths;
use crate::safe_write::{Readers, write_atomically};
use std::fs::OpenOptions;
use std::path::PathBuf;

/// The largest account file read (devices, attempts and addresses are bounded well below).
const MAX_ACCOUNT_BYTES: u64 = 4 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct Store {
    file: PathBuf,
    lock: PathBuf,
}

impl Store {
    pub fn new(paths: &Paths) -> Self {
        Store {
            file: paths.remote_account_file(),
            lock: paths.remote_account_file().with_extension("lock"),
        }
    }

    pub fn file(&self) -> &std::path::Path {
        &self.file
    }

    /// The account as stored (an empty one before anything was stored).
    pub fn read(&self) -> Result<Account, String> {
        match crate::small_file::read_small_text(&self.file, MAX_ACCOUNT_BYTES) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| {
                format!(
                    "{} is damaged ({e}); fix or remove it (removing it signs every device out and forgets the remote password)",
                    self.file.display()
                )
            }),
            Err(crate::small_file::SmallFileError::Missing(_)) => Ok(Account::default()),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Reads, changes and writes the account while holding its lock; a
    /// damaged file is left as it is and the change refused.
    pub fn update<T>(&self, change: impl FnOnce(&mut Account) -> T) -> Result<T, String> {
        if let Some(dir) = self.lock.parent() {
            crate::paths::ensure_private_dir(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        let lock = crate::platform::private_file_options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&self.lock)
            .or_else(|_| OpenOptions::new().read(true).open(&self.lock))
            .map_err(|e| format!("cannot open {}: {e}", self.lock.display()))?;
        lock.lock()
            .map_err(|e| format!("cannot lock {}: {e}", self.lock.display()))?;
        let mut account = self.read()?;
        let before = account.clone();
        let answer = change(&mut account);
        if account != before {
            let text = serde_json::to_vec_pretty(&account).map_err(|e| e.to_string())?;
            write_atomically(&self.file, &text, Readers::Owner)
                .map_err(|e| format!("cannot write {}: {e}", self.file.display()))?;
        }
        Ok(answer)
        // The lock is released as `lock` is dropped.
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_persist_privately_and_a_damaged_file_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::with_home(dir.path().to_str().unwrap());
        let store = Store::new(&paths);
        assert_eq!(store.read().unwrap(), Account::default());
        store
            .update(|a| a.record_attempt(1, "10.0.0.1", "ua", "ok"))
            .unwrap();
        assert_eq!(store.read().unwrap().attempts.len(), 1);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(store.file())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(store.file(), b"{ not json").unwrap();
        let err = store.update(|a| a.revoke(None)).unwrap_err();
        assert!(err.contains("damaged"), "{err}");
        assert_eq!(std::fs::read(store.file()).unwrap(), b"{ not json");
    }
}
