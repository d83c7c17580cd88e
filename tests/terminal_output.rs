//! The CLI never writes the agent's control sequences to a terminal: `ask`
//! under a pseudo-terminal shows them as visible escapes, while piped output
//! stays raw. Against the real server with the mock model, which echoes the
//! prompt (`echo: <prompt>`).

// Drives Nexus as a Linux process (XDG dirs, the Unix socket, D-Bus, the
// Linux desktop): Linux only for now (README, Platforms).
#![cfg(target_os = "linux")]

mod support;

use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::process::Stdio;
use std::time::Duration;
use support::mock_model::MockModel;
use support::nexus::{Nexus, assert_exit, managed_config};
use support::opencode_server::TestHome;

const WAIT: Duration = Duration::from_secs(60);
const SERVER_START: Duration = Duration::from_secs(90);

/// An OSC 52 sequence: a terminal that honours it puts "hello" on the clipboard.
const CLIPBOARD_WRITE: &str = "\u{1b}]52;c;aGVsbG8=\u{7}";

/// A new pseudo-terminal: (controller, terminal side).
fn pty() -> (OwnedFd, OwnedFd) {
    let mut controller = -1;
    let mut terminal = -1;
    // SAFETY: openpty writes two new descriptors into the given ints; the
    // name, termios and winsize pointers may be null.
    let rc = unsafe {
        libc::openpty(
            &mut controller,
            &mut terminal,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors were just opened and are owned by nobody else.
    unsafe {
        (
            OwnedFd::from_raw_fd(controller),
            OwnedFd::from_raw_fd(terminal),
        )
    }
}

/// Runs `opencode-nexus ARGS` with stdout on a pseudo-terminal; what the
/// terminal received, and the exit code.
fn run_on_terminal(nexus: &Nexus, args: &[&str]) -> (Vec<u8>, Option<i32>) {
    let (controller, terminal) = pty();
    let mut command = nexus.command(args);
    command
        .stdout(Stdio::from(terminal.try_clone().unwrap()))
        .stderr(Stdio::null());
    let mut child = command.spawn().expect("run opencode-nexus on a pty");
    drop(command);
    drop(terminal);
    // Reading ends with EIO once the last holder of the terminal side is gone.
    let reader = std::thread::spawn(move || {
        let mut file = std::fs::File::from(controller);
        let mut seen = Vec::new();
        let mut buffer = [0u8; 4096];
        loop {
            match file.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(n) => seen.extend_from_slice(&buffer[..n]),
            }
        }
        seen
    });
    let deadline = std::time::Instant::now() + WAIT;
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("opencode-nexus {args:?} did not end within {WAIT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    (reader.join().unwrap(), code)
}

#[tokio::test(flavor = "multi_thread")]
async fn ask_shows_control_sequences_as_escapes_on_a_terminal_and_raw_when_piped() {
    let model = MockModel::start().await;
    let home = TestHome::new(model.base_url());
    let nexus = Nexus::start(&home, &managed_config(&home.project_dir())).await;
    nexus.wait_for_state("running", SERVER_START).await;

    let prompt = format!("copy {CLIPBOARD_WRITE} then\rhide");
    let args = ["ask", prompt.as_str()];
    let (seen, code) = tokio::task::block_in_place(|| run_on_terminal(&nexus, &args));
    let text = String::from_utf8_lossy(&seen).to_string();
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("echo: copy \\u001b]52;c;aGVsbG8=\\u0007 then\\u000dhide"),
        "{text:?}"
    );
    assert!(
        !seen.contains(&0x1b) && !seen.contains(&0x07),
        "a control character reached the terminal: {text:?}"
    );

    // Piped, the reply is passed on byte for byte.
    let out = nexus.run(&args).await;
    assert_exit(&out, 0);
    let piped = String::from_utf8_lossy(&out.stdout);
    assert!(
        piped.contains(&format!("echo: copy {CLIPBOARD_WRITE} then\rhide")),
        "{piped:?}"
    );
}

/// `opencode-nexus status | head -0`: the reader is gone before the first
/// line. The CLI ends the Unix way (SIGPIPE), without a panic or an error
/// message about the pipe.
#[tokio::test(flavor = "multi_thread")]
async fn a_reader_that_closed_its_pipe_ends_the_cli_quietly() {
    use std::os::unix::process::ExitStatusExt;
    let model = MockModel::start().await;
    let home = TestHome::new(model.base_url());
    let nexus = Nexus::start(&home, &managed_config(&home.project_dir())).await;
    nexus.status().await;

    let mut ends = [-1; 2];
    // SAFETY: pipe writes two new descriptors into the array.
    assert_eq!(unsafe { libc::pipe(ends.as_mut_ptr()) }, 0);
    // SAFETY: both were just opened and are owned by nobody else.
    let (reader, writer) =
        unsafe { (OwnedFd::from_raw_fd(ends[0]), OwnedFd::from_raw_fd(ends[1])) };
    drop(reader);
    let mut command = nexus.command(&["status"]);
    command.stdout(Stdio::from(writer)).stderr(Stdio::piped());
    let out = tokio::task::block_in_place(|| command.output()).expect("run status");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.trim().is_empty(), "{stderr}");
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGPIPE),
        "{:?} {stderr}",
        out.status
    );
}
