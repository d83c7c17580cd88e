//! Unix (Linux and macOS): process groups and signals through libc.

use super::ProcessId;
pub use crate::core::model::StopSignal;
use std::io;

/// The real user id of this process.
pub fn user_id() -> u32 {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::getuid() }
}

/// A command-line client writing to a pipe its reader closed (`… | head`)
/// ends quietly, as Unix tools do, instead of failing on every later write:
/// the default action of SIGPIPE (Rust's runtime ignores it). Only for the
/// short-lived CLI; the daemon keeps it ignored for its sockets.
pub fn end_quietly_on_closed_stdout() {
    // SAFETY: resetting a signal's disposition to its default has no
    // preconditions; called at start, before any other thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Sends `signal` to every process in the group `pgid`.
///
/// The whole group, not just the leader: the server's own children (tool
/// processes, language servers) must not outlive it.
pub fn signal_process_group(pgid: u32, signal: StopSignal) -> io::Result<()> {
    let sig = match signal {
        StopSignal::Terminate => libc::SIGTERM,
        StopSignal::Kill => libc::SIGKILL,
    };
    let pgid = to_pid(pgid)?;
    // SAFETY: kill with a negative pid signals a process group; no memory is involved.
    if unsafe { libc::kill(-pgid, sig) } == 0 {
        Ok(())
    } else {
        let err = io::Error::last_os_error();
        if err.raw_os_error() == Some(libc::ESRCH) {
            Ok(()) // already gone
        } else {
            Err(err)
        }
    }
}

/// Whether any process is still in the group `pgid`.
pub fn process_group_alive(pgid: u32) -> bool {
    let Ok(pgid) = to_pid(pgid) else { return false };
    // SAFETY: signal 0 only checks for existence and permission.
    unsafe { libc::kill(-pgid, 0) == 0 }
}

/// The kernel's start time of process `pid` (Linux: clock ticks since boot;
/// macOS: seconds since the epoch, through sysinfo), which together with the
/// pid identifies a process across pid reuse. `None` when it is gone, and
/// callers then never touch a process they cannot identify.
pub fn process_start_time(pid: u32) -> Option<u64> {
    #[cfg(not(target_os = "linux"))]
    {
        sysinfo_table(Some(pid))
            .into_iter()
            .find(|row| row.id.pid == pid && !row.zombie)
            .map(|row| row.id.start_time)
    }
    #[cfg(target_os = "linux")]
    proc_start_time(pid)
}

#[cfg(target_os = "linux")]
fn proc_start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may contain spaces.
    let after_name = &stat[stat.rfind(')')? + 1..];
    // Fields after the name start at field 3; starttime is field 22.
    after_name.split_whitespace().nth(19)?.parse().ok()
}

fn to_pid(pid: u32) -> io::Result<libc::pid_t> {
    match libc::pid_t::try_from(pid) {
        Ok(p) if p > 1 => Ok(p),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("refusing to signal pid {pid}"),
        )),
    }
}

/// Makes this process the reaper of orphaned descendants (Linux). Only the
/// server keeper does this, so that tool processes the server started in
/// their own sessions come to it when the server dies, while the daemon's
/// own helpers (clipboard, browser) escape to init as usual.
pub fn become_child_subreaper() -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: PR_SET_CHILD_SUBREAPER takes an integer flag; no memory is passed.
        if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Waits for any child to end and returns its pid and raw wait status;
/// `None` when there is no child left.
pub fn wait_any_child() -> Option<(u32, i32)> {
    loop {
        let mut status = 0;
        // SAFETY: waitpid(-1) with a valid status pointer.
        let pid = unsafe { libc::waitpid(-1, &mut status, 0) };
        if pid > 0 {
            return Some((pid as u32, status));
        }
        if io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return None;
        }
    }
}

/// Collects every child that has already ended, without blocking.
pub fn reap_ended_children() {
    let mut status = 0;
    // SAFETY: waitpid(-1, WNOHANG) with a valid status pointer.
    while unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) } > 0 {}
}

/// The process group SIGTERM, SIGINT and SIGHUP are passed on to (0: none yet).
static FORWARD_TO_GROUP: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

extern "C" fn forward_stop_signal(_signal: libc::c_int) {
    let pgid = FORWARD_TO_GROUP.load(std::sync::atomic::Ordering::SeqCst);
    if pgid > 1 {
        // SAFETY: kill is async-signal-safe; a negative pid names the group.
        unsafe { libc::kill(-pgid, libc::SIGTERM) };
    }
}

/// From now on SIGTERM, SIGINT and SIGHUP sent to this process do not end
/// it but are passed on as SIGTERM to the process group `pgid`.
pub fn forward_stop_signals_to_group(pgid: u32) {
    FORWARD_TO_GROUP.store(
        i32::try_from(pgid).unwrap_or(0),
        std::sync::atomic::Ordering::SeqCst,
    );
    let handler = forward_stop_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
    for signal in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
        // SAFETY: the handler only loads an atomic and calls kill(2).
        unsafe { libc::signal(signal, handler) };
    }
}

/// One row of the process table.
struct ProcessRow {
    id: ProcessId,
    ppid: u32,
    zombie: bool,
}

/// Every process with its parent: from /proc on Linux, from the kernel's
/// process list through sysinfo elsewhere (macOS has no /proc).
fn process_table() -> Vec<ProcessRow> {
    #[cfg(target_os = "linux")]
    return proc_table();
    #[cfg(not(target_os = "linux"))]
    return sysinfo_table(None);
}

/// The process table through sysinfo: every process, or only `pid`.
#[cfg(not(target_os = "linux"))]
fn sysinfo_table(only: Option<u32>) -> Vec<ProcessRow> {
    use sysinfo::{Pid, ProcessRefreshKind, ProcessStatus, ProcessesToUpdate, System};
    let Ok(mut system) = System::new() else {
        return Vec::new();
    };
    let wanted: Vec<Pid> = only.into_iter().map(Pid::from_u32).collect();
    let which = if wanted.is_empty() {
        ProcessesToUpdate::All
    } else {
        ProcessesToUpdate::Some(&wanted)
    };
    system.refresh_processes_specifics(which, true, ProcessRefreshKind::nothing());
    system
        .processes()
        .values()
        .map(|p| ProcessRow {
            id: ProcessId {
                pid: p.pid().as_u32(),
                start_time: p.start_time(),
            },
            ppid: p.parent().map(|parent| parent.as_u32()).unwrap_or(0),
            zombie: p.status() == ProcessStatus::Zombie,
        })
        .collect()
}

#[cfg(target_os = "linux")]
fn proc_table() -> Vec<ProcessRow> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            let fields: Vec<&str> = stat[stat.rfind(')')? + 1..].split_whitespace().collect();
            // Fields after the name: state(3) ppid(4) … starttime(22).
            Some(ProcessRow {
                id: ProcessId {
                    pid,
                    start_time: fields.get(19)?.parse().ok()?,
                },
                ppid: fields.get(1)?.parse().ok()?,
                zombie: fields.first() == Some(&"Z"),
            })
        })
        .collect()
}

/// All descendants of `root`, whatever session or group they moved to.
pub fn descendants(root: u32) -> Vec<ProcessId> {
    let table: Vec<ProcessRow> = process_table()
        .into_iter()
        .filter(|row| !row.zombie)
        .collect();
    let mut found: Vec<ProcessId> = Vec::new();
    let mut frontier = vec![root];
    while let Some(parent) = frontier.pop() {
        for row in &table {
            if row.ppid == parent && !found.contains(&row.id) {
                found.push(row.id);
                frontier.push(row.id.pid);
            }
        }
    }
    found
}

/// Pids of every descendant of `root`, read from the kernel's per-thread
/// child lists, so the cost grows with the tree rather than with every
/// process on the machine (a full /proc scan where those lists are missing).
pub fn descendant_pids(root: u32) -> Vec<u32> {
    let me = std::process::id();
    if !std::path::Path::new(&format!("/proc/{me}/task/{me}/children")).exists() {
        return descendants(root).into_iter().map(|p| p.pid).collect();
    }
    let mut found: Vec<u32> = Vec::new();
    let mut frontier = vec![root];
    while let Some(parent) = frontier.pop() {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{parent}/task")) else {
            continue;
        };
        for task in tasks.flatten() {
            let Ok(list) = std::fs::read_to_string(task.path().join("children")) else {
                continue;
            };
            for child in list
                .split_whitespace()
                .filter_map(|p| p.parse::<u32>().ok())
            {
                if child != root && !found.contains(&child) {
                    found.push(child);
                    frontier.push(child);
                }
            }
        }
    }
    found
}

/// Signals one process, only if it is still the same process.
pub fn signal_process(process: ProcessId, signal: StopSignal) {
    if process_start_time(process.pid) != Some(process.start_time) {
        return;
    }
    let sig = match signal {
        StopSignal::Terminate => libc::SIGTERM,
        StopSignal::Kill => libc::SIGKILL,
    };
    if let Ok(pid) = to_pid(process.pid) {
        // SAFETY: plain kill(2) on a verified pid.
        unsafe { libc::kill(pid, sig) };
    }
}

/// How a child process ended, in words: "exited with code 1", "was killed by
/// signal 9".
pub fn describe_exit_status(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with code {code}"),
        (None, Some(signal)) => format!("was killed by signal {signal}"),
        _ => "exited".to_string(),
    }
}

// ------------------------------------------------------------ quit signals

/// SIGTERM, SIGINT and SIGHUP: each means "quit cleanly" to the daemon.
pub struct QuitSignals {
    term: Option<tokio::signal::unix::Signal>,
    int: Option<tokio::signal::unix::Signal>,
    hup: Option<tokio::signal::unix::Signal>,
}

impl QuitSignals {
    pub fn new() -> Self {
        use tokio::signal::unix::{SignalKind, signal};
        QuitSignals {
            term: signal(SignalKind::terminate()).ok(),
            int: signal(SignalKind::interrupt()).ok(),
            hup: signal(SignalKind::hangup()).ok(),
        }
    }

    /// The next quit request, by its signal's name.
    pub async fn next(&mut self) -> &'static str {
        async fn recv(s: &mut Option<tokio::signal::unix::Signal>) {
            match s {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending().await,
            }
        }
        tokio::select! {
            _ = recv(&mut self.term) => "SIGTERM",
            _ = recv(&mut self.int) => "SIGINT",
            _ = recv(&mut self.hup) => "SIGHUP",
        }
    }
}

impl Default for QuitSignals {
    fn default() -> Self {
        Self::new()
    }
}

// ------------------------------------------------------- the control channel

/// The control channel's listener: a Unix socket, 0600 in a 0700 directory.
pub type ControlListener = tokio::net::UnixListener;
/// One control connection.
pub type ControlStream = tokio::net::UnixStream;
/// A connection's reading half.
pub type ControlReader = tokio::net::unix::OwnedReadHalf;
/// A connection's writing half.
pub type ControlWriter = tokio::net::unix::OwnedWriteHalf;

/// Splits a connection into halves that can be used from different tasks.
pub fn split_control(stream: ControlStream) -> (ControlReader, ControlWriter) {
    stream.into_split()
}

/// Binds the control socket at `path` (replacing a file a crashed daemon
/// left: the caller holds the instance lock) and makes it 0600.
pub fn bind_control(path: &std::path::Path) -> io::Result<ControlListener> {
    use std::os::unix::fs::PermissionsExt;
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let listener = tokio::net::UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

/// Connects to the daemon's control socket at `path`.
pub async fn connect_control(path: &std::path::Path) -> io::Result<ControlStream> {
    tokio::net::UnixStream::connect(path).await
}

/// The other end of a control connection: its user and, where known, pid.
pub struct ControlPeer {
    pub uid: u32,
    pub pid: Option<i32>,
}

/// The peer's user as the kernel recorded it (SO_PEERCRED) when the
/// connection was made, or the listening socket was bound.
pub fn control_peer(stream: &ControlStream) -> io::Result<ControlPeer> {
    let cred = stream.peer_cred()?;
    Ok(ControlPeer {
        uid: cred.uid(),
        pid: cred.pid(),
    })
}

// ------------------------------------------------------------ private files

/// Opens options for a file only its owner may read (0600 when created).
pub fn private_file_options() -> std::fs::OpenOptions {
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = std::fs::OpenOptions::new();
    options.mode(0o600);
    options
}

/// Whether `path` is a regular file with an execute bit.
pub fn is_executable(path: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

// ------------------------------------------------------ private directories

use crate::paths::RuntimeDirError;
use std::path::Path;

/// Creates `dir` (and parents) and makes sure it is ours and 0700 (the
/// config directory, which lives in the user's home).
pub fn ensure_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let meta = std::fs::metadata(dir)?;
    if meta.uid() != crate::platform::user_id() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!("{} belongs to another user", dir.display()),
        ));
    }
    if meta.permissions().mode() & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// The daemon's runtime directory: created 0700 when absent, then checked
/// like [`check_runtime_dir`]. It is never repaired: a directory in a shared
/// `/tmp` that is not already private may have been prepared by someone else.
pub fn ensure_runtime_dir(dir: &Path) -> Result<(), RuntimeDirError> {
    use std::os::unix::fs::DirBuilderExt;
    let io = |source| RuntimeDirError::Io {
        dir: dir.to_path_buf(),
        source,
    };
    if let Some(parent) = dir.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)
            .map_err(io)?;
    }
    // Not recursive: mkdir on the last component never follows a symlink
    // planted there; it fails with "exists", and the check below looks.
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(io(e)),
    }
    check_runtime_dir(dir)
}

/// Checks, without following a symlink at `dir`, that it is a directory
/// owned by this user with no access for group or others.
pub fn check_runtime_dir(dir: &Path) -> Result<(), RuntimeDirError> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    // O_NOFOLLOW|O_DIRECTORY, then fstat: what is checked is what was opened.
    let opened = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(dir);
    let dir_buf = dir.to_path_buf();
    let file = match opened {
        Ok(f) => f,
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(RuntimeDirError::Symlink(dir_buf));
        }
        Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => {
            // A symlink to a non-directory also lands here: say which.
            return Err(match std::fs::symlink_metadata(dir) {
                Ok(m) if m.file_type().is_symlink() => RuntimeDirError::Symlink(dir_buf),
                _ => RuntimeDirError::NotDirectory(dir_buf),
            });
        }
        Err(source) => {
            return Err(RuntimeDirError::Io {
                dir: dir_buf,
                source,
            });
        }
    };
    let meta = file.metadata().map_err(|source| RuntimeDirError::Io {
        dir: dir.to_path_buf(),
        source,
    })?;
    let me = crate::platform::user_id();
    if meta.uid() != me {
        return Err(RuntimeDirError::OtherOwner {
            dir: dir_buf,
            owner: meta.uid(),
            me,
        });
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(RuntimeDirError::NotPrivate { dir: dir_buf, mode });
    }
    Ok(())
}

/// Makes an open file 0600 if group or others have any access to it.
pub fn keep_file_private(file: &std::fs::File) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if file.metadata()?.permissions().mode() & 0o077 != 0 {
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_to_signal_init_or_everyone() {
        assert!(signal_process_group(0, StopSignal::Kill).is_err());
        assert!(signal_process_group(1, StopSignal::Kill).is_err());
        assert!(!process_group_alive(0));
    }

    #[test]
    fn reads_own_start_time() {
        let me = std::process::id();
        assert!(process_start_time(me).is_some());
        assert_eq!(process_start_time(me), process_start_time(me));
    }
}
