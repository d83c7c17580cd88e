//! Unix (Linux and macOS): process groups and signals through libc.

use std::io;

/// The real user id of this process.
pub fn user_id() -> u32 {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::getuid() }
}

/// Which signal to send when stopping a process group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopSignal {
    /// Ask politely (SIGTERM): the server exits at once on it.
    Terminate,
    /// Force (SIGKILL), after the grace period.
    Kill,
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

/// The kernel's start time of process `pid` (clock ticks since boot), which
/// together with the pid identifies a process across pid reuse. Linux only;
/// elsewhere `None`, and callers then never touch a process they cannot identify.
pub fn process_start_time(pid: u32) -> Option<u64> {
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
