//! Single instance: an exclusive lock on a file in the private runtime
//! directory, and the control channel: on Unix a socket beside the lock
//! (0600 in a 0700 directory), on Windows a named pipe for this user alone
//! (`platform::bind_control`).

use crate::paths::{Paths, RuntimeDirError, ensure_runtime_dir};
use crate::platform::ControlListener;
use std::fs::File;
use std::io::{Read, Seek, Write};

/// Holding this means we are the one daemon; dropping it releases the lock.
#[derive(Debug)]
pub struct InstanceLock {
    _file: File,
}

#[derive(Debug, thiserror::Error)]
pub enum InstanceError {
    #[error("OpenCode Nexus is already running{}", .pid.map(|p| format!(" (pid {p})")).unwrap_or_default())]
    AlreadyRunning { pid: Option<u32> },
    /// Missing, not ours, not private, or a symlink: refused, never repaired.
    #[error(transparent)]
    UnsafeRuntimeDir(#[from] RuntimeDirError),
    #[error("cannot use the runtime directory {dir}: {source}")]
    RuntimeDir { dir: String, source: std::io::Error },
    #[error("cannot create the control socket {path}: {source}")]
    Socket {
        path: String,
        source: std::io::Error,
    },
}

/// Takes the instance lock, or says who holds it.
pub fn acquire(paths: &Paths) -> Result<InstanceLock, InstanceError> {
    let dir_error = |source| InstanceError::RuntimeDir {
        dir: paths.runtime_dir.display().to_string(),
        source,
    };
    ensure_runtime_dir(&paths.runtime_dir)?;
    let mut file = crate::platform::private_file_options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(paths.lock_file())
        .map_err(dir_error)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut text = String::new();
            let _ = file.read_to_string(&mut text);
            return Err(InstanceError::AlreadyRunning {
                pid: text.trim().parse().ok(),
            });
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(dir_error(e)),
    }
    let _ = file.set_len(0);
    let _ = file.rewind();
    let _ = write!(file, "{}", std::process::id());
    Ok(InstanceLock { _file: file })
}

/// Whether a daemon holds the lock right now.
pub fn is_running(paths: &Paths) -> bool {
    match File::open(paths.lock_file()) {
        Ok(file) => matches!(
            file.try_lock_shared(),
            Err(std::fs::TryLockError::WouldBlock)
        ),
        Err(_) => false,
    }
}

/// Binds the control socket. Call only while holding the lock: a socket file
/// left behind by a crashed daemon is then safe to replace.
pub fn bind_socket(paths: &Paths, _lock: &InstanceLock) -> Result<ControlListener, InstanceError> {
    let path = paths.socket();
    crate::platform::bind_control(&path).map_err(|source| InstanceError::Socket {
        path: path.display().to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_paths(dir: &std::path::Path) -> Paths {
        let runtime = dir.to_path_buf();
        Paths::from_vars(move |n| (n == "XDG_RUNTIME_DIR").then(|| runtime.clone().into()))
    }

    #[test]
    fn second_lock_fails_and_names_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let paths = temp_paths(dir.path());
        let first = acquire(&paths).unwrap();
        assert!(is_running(&paths));
        match acquire(&paths) {
            Err(InstanceError::AlreadyRunning { pid }) => assert_eq!(pid, Some(std::process::id())),
            other => panic!("{other:?}"),
        }
        drop(first);
        assert!(!is_running(&paths));
        assert!(acquire(&paths).is_ok());
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn socket_and_directory_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let paths = temp_paths(dir.path());
        let lock = acquire(&paths).unwrap();
        std::fs::write(paths.socket(), "stale").unwrap();
        let _listener = bind_socket(&paths, &lock).unwrap();
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&paths.socket()), 0o600);
        assert_eq!(mode(&paths.runtime_dir), 0o700);
    }
}
