//! Windows: the server in a Job Object (kill-on-close), CTRL_BREAK as the
//! graceful stop, the control channel as a named pipe only this user can
//! open, Ctrl-C / Ctrl-Break / console close as quit requests.
//!
//! Built and linted from Linux in CI (scripts/cross-check.sh); not yet run on
//! a real Windows machine (see the README's platform section). The choices
//! themselves (pipe name, ACL, job limits) are `super::rules`, tested on Linux.

use super::rules;
pub use crate::core::model::StopSignal;
use crate::paths::RuntimeDirError;
use std::ffi::c_void;
use std::io;
use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle, RawHandle};
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::windows::named_pipe::{
    ClientOptions, NamedPipeClient, NamedPipeServer, ServerOptions,
};
use windows_sys::Win32::Foundation::{FILETIME, HANDLE, LocalFree};

/// The error for what is not made real on Windows yet (never a panic).
pub fn not_supported_yet(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        format!("{what} is not supported on this platform yet"),
    )
}

/// A handle from a Win32 call, owned (closed on drop), or the last error.
fn owned(handle: HANDLE) -> io::Result<OwnedHandle> {
    if handle.is_null() {
        Err(io::Error::last_os_error())
    } else {
        // SAFETY: a fresh handle the call returned to us, closed once by OwnedHandle.
        Ok(unsafe { OwnedHandle::from_raw_handle(handle as RawHandle) })
    }
}

fn check(ok: i32) -> io::Result<()> {
    if ok != 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Windows has no numeric user id; the user is a SID (`current_user_sid`).
/// 0 stands for "this user" in `ControlPeer`.
pub fn user_id() -> u32 {
    0
}

/// Writing to a closed pipe already fails quietly here (no SIGPIPE).
pub fn end_quietly_on_closed_stdout() {}

// ----------------------------------------------------------------- processes

fn open_process(pid: u32, access: u32) -> io::Result<OwnedHandle> {
    use windows_sys::Win32::System::Threading::OpenProcess;
    // SAFETY: plain call; the handle is owned by the result.
    owned(unsafe { OpenProcess(access, 0, pid) })
}

/// The server's group was created with CREATE_NEW_PROCESS_GROUP, so its
/// group id is its pid. Terminate: CTRL_BREAK to that group (a console
/// program's graceful stop); Kill: TerminateProcess on the leader, after
/// which the Job Object takes everything else down (`ServerJob`).
pub fn signal_process_group(pgid: u32, signal: StopSignal) -> io::Result<()> {
    use windows_sys::Win32::System::Console::{CTRL_BREAK_EVENT, GenerateConsoleCtrlEvent};
    use windows_sys::Win32::System::Threading::{PROCESS_TERMINATE, TerminateProcess};
    if pgid == 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "refusing to signal process group 0 (every process on this console)",
        ));
    }
    match signal {
        // SAFETY: plain call with integer arguments.
        StopSignal::Terminate => check(unsafe { GenerateConsoleCtrlEvent(CTRL_BREAK_EVENT, pgid) }),
        StopSignal::Kill => {
            let process = match open_process(pgid, PROCESS_TERMINATE) {
                Ok(p) => p,
                Err(_) if process_start_time(pgid).is_none() => return Ok(()), // gone
                Err(e) => return Err(e),
            };
            // SAFETY: a valid process handle we own.
            check(unsafe { TerminateProcess(process.as_raw_handle() as HANDLE, 1) })
        }
    }
}

/// Ends one process, only if it is still the same process. Windows has no
/// graceful signal for a single (windowed) process: both signals terminate.
pub fn signal_process(process: super::ProcessId, _signal: StopSignal) {
    use windows_sys::Win32::System::Threading::{PROCESS_TERMINATE, TerminateProcess};
    if process_start_time(process.pid) != Some(process.start_time) {
        return;
    }
    if let Ok(handle) = open_process(process.pid, PROCESS_TERMINATE) {
        // SAFETY: a valid process handle we own.
        unsafe { TerminateProcess(handle.as_raw_handle() as HANDLE, 1) };
    }
}

/// Whether the group's leader still runs.
pub fn process_group_alive(pgid: u32) -> bool {
    process_start_time(pgid).is_some()
}

/// The process's creation time (100 ns units since 1601), which together
/// with the pid identifies a process across pid reuse; `None` when it is gone
/// or not ours to query.
pub fn process_start_time(pid: u32) -> Option<u64> {
    use windows_sys::Win32::System::Threading::{
        GetExitCodeProcess, GetProcessTimes, PROCESS_QUERY_LIMITED_INFORMATION,
    };
    const STILL_ACTIVE: u32 = 259;
    let process = open_process(pid, PROCESS_QUERY_LIMITED_INFORMATION).ok()?;
    let handle = process.as_raw_handle() as HANDLE;
    let mut code = 0u32;
    // SAFETY: a valid handle and a valid out pointer.
    if unsafe { GetExitCodeProcess(handle, &mut code) } == 0 || code != STILL_ACTIVE {
        return None;
    }
    let zero = FILETIME {
        dwLowDateTime: 0,
        dwHighDateTime: 0,
    };
    let (mut created, mut exited, mut kernel, mut user) = (zero, zero, zero, zero);
    // SAFETY: a valid handle and four valid out pointers.
    let ok = unsafe { GetProcessTimes(handle, &mut created, &mut exited, &mut kernel, &mut user) };
    (ok != 0).then(|| (u64::from(created.dwHighDateTime) << 32) | u64::from(created.dwLowDateTime))
}

/// Pids of every descendant of `root`. Not available on Windows yet: the
/// resource reading then covers the server alone (its job holds the rest).
pub fn descendant_pids(_root: u32) -> Vec<u32> {
    Vec::new()
}

/// How a child process ended, in words: "exited with code 1".
pub fn describe_exit_status(status: std::process::ExitStatus) -> String {
    match status.code() {
        Some(code) => format!("exited with code {code}"),
        None => "exited".to_string(),
    }
}

/// The creation flag that gives the server its own console process group,
/// so CTRL_BREAK reaches it (and its console children) and not Nexus.
pub const CREATE_NEW_PROCESS_GROUP: u32 =
    windows_sys::Win32::System::Threading::CREATE_NEW_PROCESS_GROUP;

/// The managed server's Job Object: every process the server starts is in
/// it, and closing its handle (Nexus stops or crashes) ends them all
/// (`rules::server_job_limits`).
#[derive(Debug)]
pub struct ServerJob {
    handle: OwnedHandle,
}

impl ServerJob {
    pub fn new() -> io::Result<Self> {
        use windows_sys::Win32::System::JobObjects::{
            CreateJobObjectW, JOBOBJECT_EXTENDED_LIMIT_INFORMATION,
            JobObjectExtendedLimitInformation, SetInformationJobObject,
        };
        // SAFETY: no attributes, no name: a fresh anonymous job.
        let handle = owned(unsafe { CreateJobObjectW(std::ptr::null(), std::ptr::null()) })?;
        // SAFETY: an all-zero JOBOBJECT_EXTENDED_LIMIT_INFORMATION is valid (no limits).
        let mut info: JOBOBJECT_EXTENDED_LIMIT_INFORMATION = unsafe { std::mem::zeroed() };
        info.BasicLimitInformation.LimitFlags = rules::job_limit_flags(rules::server_job_limits());
        // SAFETY: a valid job handle and a pointer to a struct of the size given.
        check(unsafe {
            SetInformationJobObject(
                handle.as_raw_handle() as HANDLE,
                JobObjectExtendedLimitInformation,
                &info as *const _ as *const c_void,
                std::mem::size_of::<JOBOBJECT_EXTENDED_LIMIT_INFORMATION>() as u32,
            )
        })?;
        Ok(ServerJob { handle })
    }

    /// Puts the process whose handle is `process` in the job. What it starts
    /// from then on is in the job too. (A child it started before this call
    /// is not: the server is assigned right after its spawn, before it has
    /// read its first line.)
    pub fn assign(&self, process: RawHandle) -> io::Result<()> {
        use windows_sys::Win32::System::JobObjects::AssignProcessToJobObject;
        // SAFETY: two valid handles.
        check(unsafe {
            AssignProcessToJobObject(self.handle.as_raw_handle() as HANDLE, process as HANDLE)
        })
    }

    /// Ends every process still in the job.
    pub fn terminate(&self) -> io::Result<()> {
        use windows_sys::Win32::System::JobObjects::TerminateJobObject;
        // SAFETY: a valid job handle.
        check(unsafe { TerminateJobObject(self.handle.as_raw_handle() as HANDLE, 1) })
    }
}

// -------------------------------------------------------------- quit requests

/// Ctrl-C, Ctrl-Break and closing the console: each means "quit cleanly".
pub struct QuitSignals {
    c: Option<tokio::signal::windows::CtrlC>,
    brk: Option<tokio::signal::windows::CtrlBreak>,
    close: Option<tokio::signal::windows::CtrlClose>,
}

impl QuitSignals {
    pub fn new() -> Self {
        use tokio::signal::windows::{ctrl_break, ctrl_c, ctrl_close};
        QuitSignals {
            c: ctrl_c().ok(),
            brk: ctrl_break().ok(),
            close: ctrl_close().ok(),
        }
    }

    /// The next quit request, by its name.
    pub async fn next(&mut self) -> &'static str {
        let c = async {
            match &mut self.c {
                Some(s) => s.recv().await,
                None => std::future::pending().await,
            }
        };
        let brk = async {
            match &mut self.brk {
                Some(s) => s.recv().await,
                None => std::future::pending().await,
            }
        };
        let close = async {
            match &mut self.close {
                Some(s) => s.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = c => "Ctrl-C",
            _ = brk => "Ctrl-Break",
            _ = close => "console close",
        }
    }
}

impl Default for QuitSignals {
    fn default() -> Self {
        Self::new()
    }
}

// ------------------------------------------------------------------ the user

fn token_user_sid(token: &OwnedHandle) -> io::Result<String> {
    use windows_sys::Win32::Security::Authorization::ConvertSidToStringSidW;
    use windows_sys::Win32::Security::{GetTokenInformation, TOKEN_USER, TokenUser};
    let handle = token.as_raw_handle() as HANDLE;
    let mut needed = 0u32;
    // SAFETY: asking for the size only (null buffer, zero length).
    unsafe { GetTokenInformation(handle, TokenUser, std::ptr::null_mut(), 0, &mut needed) };
    // u64 elements keep the buffer aligned for TOKEN_USER.
    let mut buffer = vec![0u64; (needed as usize).div_ceil(8).max(1)];
    // SAFETY: a buffer of at least `needed` bytes.
    check(unsafe {
        GetTokenInformation(
            handle,
            TokenUser,
            buffer.as_mut_ptr() as *mut c_void,
            (buffer.len() * 8) as u32,
            &mut needed,
        )
    })?;
    // SAFETY: the call filled the buffer with a TOKEN_USER.
    let user = unsafe { &*(buffer.as_ptr() as *const TOKEN_USER) };
    let mut text: *mut u16 = std::ptr::null_mut();
    // SAFETY: a valid SID from the token; the string is LocalAlloc'd for us.
    check(unsafe { ConvertSidToStringSidW(user.User.Sid, &mut text) })?;
    // SAFETY: a NUL-terminated wide string from the call above.
    let sid = unsafe {
        let len = (0..).take_while(|&i| *text.add(i) != 0).count();
        String::from_utf16_lossy(std::slice::from_raw_parts(text, len))
    };
    // SAFETY: freeing what ConvertSidToStringSidW allocated.
    unsafe { LocalFree(text as *mut c_void) };
    Ok(sid)
}

/// The SID (`S-1-5-21-…`) of the user process `pid` runs as.
fn process_user_sid(pid: u32) -> io::Result<String> {
    use windows_sys::Win32::Security::TOKEN_QUERY;
    use windows_sys::Win32::System::Threading::{
        OpenProcessToken, PROCESS_QUERY_LIMITED_INFORMATION,
    };
    let process = open_process(pid, PROCESS_QUERY_LIMITED_INFORMATION)?;
    let mut token: HANDLE = std::ptr::null_mut();
    // SAFETY: a valid process handle and out pointer.
    check(unsafe { OpenProcessToken(process.as_raw_handle() as HANDLE, TOKEN_QUERY, &mut token) })?;
    token_user_sid(&owned(token)?)
}

/// The SID of the user this process runs as.
pub fn current_user_sid() -> io::Result<String> {
    process_user_sid(std::process::id())
}

// ---------------------------------------------------------- control channel

/// The control channel's name for this user (`rules::control_pipe_name`).
/// The socket path Unix uses is not needed: the pipe lives in its own namespace.
fn control_pipe() -> io::Result<String> {
    Ok(rules::control_pipe_name(&current_user_sid()?))
}

/// A security descriptor from SDDL, freed on drop.
struct SecurityDescriptor(*mut c_void);

// SAFETY: the descriptor is plain memory that is only read after creation.
unsafe impl Send for SecurityDescriptor {}
// SAFETY: as above.
unsafe impl Sync for SecurityDescriptor {}

impl SecurityDescriptor {
    fn from_sddl(sddl: &str) -> io::Result<Self> {
        use windows_sys::Win32::Security::Authorization::{
            ConvertStringSecurityDescriptorToSecurityDescriptorW, SDDL_REVISION_1,
        };
        let wide: Vec<u16> = sddl.encode_utf16().chain(Some(0)).collect();
        let mut descriptor: *mut c_void = std::ptr::null_mut();
        // SAFETY: a NUL-terminated string and a valid out pointer.
        check(unsafe {
            ConvertStringSecurityDescriptorToSecurityDescriptorW(
                wide.as_ptr(),
                SDDL_REVISION_1,
                &mut descriptor,
                std::ptr::null_mut(),
            )
        })?;
        Ok(SecurityDescriptor(descriptor))
    }
}

impl Drop for SecurityDescriptor {
    fn drop(&mut self) {
        // SAFETY: LocalAlloc'd by the conversion above; freed once.
        unsafe { LocalFree(self.0) };
    }
}

/// The control channel's listener: the named pipe, one instance waiting
/// for the next client at any time.
pub struct ControlListener {
    name: String,
    security: SecurityDescriptor,
    waiting: tokio::sync::Mutex<NamedPipeServer>,
}

/// One instance of the control pipe, with the user-only ACL.
fn pipe_instance(
    name: &str,
    security: &SecurityDescriptor,
    first: bool,
) -> io::Result<NamedPipeServer> {
    use windows_sys::Win32::Security::SECURITY_ATTRIBUTES;
    let mut attributes = SECURITY_ATTRIBUTES {
        nLength: std::mem::size_of::<SECURITY_ATTRIBUTES>() as u32,
        lpSecurityDescriptor: security.0,
        bInheritHandle: 0,
    };
    // SAFETY: the attributes and the descriptor they point to outlive the call.
    unsafe {
        ServerOptions::new()
            // A pipe of this name made by anyone else first is an impostor
            // (or another Nexus): creating ours then fails.
            .first_pipe_instance(first)
            .reject_remote_clients(true)
            .create_with_security_attributes_raw(name, &mut attributes as *mut _ as *mut c_void)
    }
}

impl ControlListener {
    /// The next client. Cancel-safe: a cancelled wait keeps its instance.
    pub async fn accept(&self) -> io::Result<(ControlStream, ())> {
        let mut waiting = self.waiting.lock().await;
        waiting.connect().await?;
        let next = pipe_instance(&self.name, &self.security, false)?;
        let connected = std::mem::replace(&mut *waiting, next);
        Ok((ControlStream::Server(connected), ()))
    }
}

/// Creates the control pipe, open to this user's SID alone
/// (`rules::control_pipe_sddl`). `_path` (the Unix socket's) is not used.
pub fn bind_control(_path: &Path) -> io::Result<ControlListener> {
    let sid = current_user_sid()?;
    let security = SecurityDescriptor::from_sddl(&rules::control_pipe_sddl(&sid))?;
    let name = rules::control_pipe_name(&sid);
    let first = pipe_instance(&name, &security, true)?;
    Ok(ControlListener {
        name,
        security,
        waiting: tokio::sync::Mutex::new(first),
    })
}

/// Connects to this user's daemon. A busy pipe (all instances taken for a
/// moment) is retried briefly.
pub async fn connect_control(_path: &Path) -> io::Result<ControlStream> {
    const ERROR_PIPE_BUSY: i32 = 231;
    let name = control_pipe()?;
    let mut tries = 0;
    loop {
        match ClientOptions::new().open(&name) {
            Ok(client) => return Ok(ControlStream::Client(client)),
            Err(e) if e.raw_os_error() == Some(ERROR_PIPE_BUSY) && tries < 50 => {
                tries += 1;
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// One control connection, from either end.
pub enum ControlStream {
    Server(NamedPipeServer),
    Client(NamedPipeClient),
}

impl AsyncRead for ControlStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ControlStream::Server(s) => Pin::new(s).poll_read(cx, buf),
            ControlStream::Client(c) => Pin::new(c).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for ControlStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            ControlStream::Server(s) => Pin::new(s).poll_write(cx, buf),
            ControlStream::Client(c) => Pin::new(c).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ControlStream::Server(s) => Pin::new(s).poll_flush(cx),
            ControlStream::Client(c) => Pin::new(c).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ControlStream::Server(s) => Pin::new(s).poll_shutdown(cx),
            ControlStream::Client(c) => Pin::new(c).poll_shutdown(cx),
        }
    }
}

/// A connection's reading half.
pub type ControlReader = tokio::io::ReadHalf<ControlStream>;
/// A connection's writing half.
pub type ControlWriter = tokio::io::WriteHalf<ControlStream>;

/// Splits a connection into halves that can be used from different tasks.
pub fn split_control(stream: ControlStream) -> (ControlReader, ControlWriter) {
    tokio::io::split(stream)
}

/// The other end of a control connection. Windows has no uid: `uid` is 0
/// when the peer runs as this user (the same SID), `u32::MAX` when not.
pub struct ControlPeer {
    pub uid: u32,
    pub pid: Option<i32>,
}

/// Who is at the other end: the client's process for the daemon, the
/// daemon's for a client (an impostor's pipe would show another user).
pub fn control_peer(stream: &ControlStream) -> io::Result<ControlPeer> {
    use windows_sys::Win32::System::Pipes::{
        GetNamedPipeClientProcessId, GetNamedPipeServerProcessId,
    };
    let mut pid = 0u32;
    // SAFETY: a valid pipe handle and out pointer.
    check(unsafe {
        match stream {
            ControlStream::Server(s) => {
                GetNamedPipeClientProcessId(s.as_raw_handle() as HANDLE, &mut pid)
            }
            ControlStream::Client(c) => {
                GetNamedPipeServerProcessId(c.as_raw_handle() as HANDLE, &mut pid)
            }
        }
    })?;
    let same = process_user_sid(pid)? == current_user_sid()?;
    Ok(ControlPeer {
        uid: if same { user_id() } else { u32::MAX },
        pid: i32::try_from(pid).ok(),
    })
}

// ------------------------------------------------------------ private files

/// Files are private through the user's profile folder's ACL (only the
/// user and administrators), which files in it inherit.
pub fn private_file_options() -> std::fs::OpenOptions {
    std::fs::OpenOptions::new()
}

/// Nothing to change: see `private_file_options`.
pub fn keep_file_private(_file: &std::fs::File) -> io::Result<()> {
    Ok(())
}

/// Whether `path` is a file Windows can run (by its extension).
pub fn is_executable(path: &Path) -> bool {
    let runnable = path.extension().is_some_and(|e| {
        ["exe", "cmd", "bat", "com"]
            .iter()
            .any(|x| e.eq_ignore_ascii_case(x))
    });
    runnable && path.is_file()
}

// ------------------------------------------------------ private directories

/// Creates `dir` (and parents). It lives in the user's profile, whose ACL
/// already keeps other users out; this phase does not check the ACL itself.
pub fn ensure_private_dir(dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)
}

/// Creates the runtime directory when absent, then checks it.
pub fn ensure_runtime_dir(dir: &Path) -> Result<(), RuntimeDirError> {
    std::fs::create_dir_all(dir).map_err(|source| RuntimeDirError::Io {
        dir: dir.to_path_buf(),
        source,
    })?;
    check_runtime_dir(dir)
}

/// Checks that `dir` is a real directory (not a link or junction to
/// elsewhere). Its owner and ACL are not checked yet on Windows.
pub fn check_runtime_dir(dir: &Path) -> Result<(), RuntimeDirError> {
    let dir_buf = dir.to_path_buf();
    match std::fs::symlink_metadata(dir) {
        Ok(m) if m.file_type().is_symlink() => Err(RuntimeDirError::Symlink(dir_buf)),
        Ok(m) if !m.is_dir() => Err(RuntimeDirError::NotDirectory(dir_buf)),
        Ok(_) => Ok(()),
        Err(source) => Err(RuntimeDirError::Io {
            dir: dir_buf,
            source,
        }),
    }
}
