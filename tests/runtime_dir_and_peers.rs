//! Another local user can neither prepare Nexus's runtime directory, nor talk
//! to its daemon, nor pose as it. Without XDG_RUNTIME_DIR the directory is
//! `$TMPDIR/opencode-nexus-UID`: pre-created by someone else, left open
//! (0777) or replaced by a symlink, both the daemon and the CLI refuse it with
//! a message naming it and the fix. The control socket checks the peer's uid
//! both ways (the tests run as root and use uid 65534 as "another user").

// Drives Nexus as a Linux process (XDG dirs, the Unix socket, D-Bus, the
// Linux desktop): Linux only for now (README, Platforms).
#![cfg(target_os = "linux")]

mod support;

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use support::nexus::{Nexus, nexus_binary, nexus_env};
use support::opencode_server::TestHome;

const OTHER_UID: u32 = 65534;

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// The environment without XDG_RUNTIME_DIR, with TMPDIR at `tmp`.
fn env_without_runtime_dir(home: &TestHome, tmp: &Path) -> Vec<(OsString, OsString)> {
    let mut env: Vec<_> = nexus_env(home)
        .into_iter()
        .filter(|(k, _)| k != "XDG_RUNTIME_DIR" && k != "TMPDIR")
        .collect();
    env.push(("TMPDIR".into(), tmp.into()));
    env
}

/// Runs Nexus with `args`; kills it if it is still running after `limit`.
fn run_for(env: &[(OsString, OsString)], args: &[&str], limit: Duration) -> Output {
    let child = Command::new(nexus_binary())
        .args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let deadline = Instant::now() + limit;
    let watchdog = std::thread::spawn(move || {
        while Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
            if !support::nexus::process_alive(pid) {
                return false;
            }
        }
        // SAFETY: sending a signal to our own child.
        unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        true
    });
    let out = child.wait_with_output().unwrap();
    assert!(
        !watchdog.join().unwrap(),
        "opencode-nexus {args:?} was still running after {limit:?} (it accepted the directory)\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Both the daemon and `status` refuse the fallback directory with a message
/// naming it and containing `why` and `fix`.
fn both_refuse(home: &TestHome, tmp: &Path, why: &str, fix: &str) {
    let dir = tmp.join("opencode-nexus-0");
    let env = env_without_runtime_dir(home, tmp);
    for args in [&["daemon", "--no-tray"][..], &["status"][..]] {
        let out = run_for(&env, args, Duration::from_secs(10));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_ne!(out.status.code(), Some(0), "{args:?} accepted it: {stderr}");
        for part in [&dir.display().to_string(), why, fix] {
            assert!(stderr.contains(part), "{args:?}: no {part:?} in: {stderr}");
        }
    }
}

fn private_tmp(home: &TestHome) -> PathBuf {
    let tmp = home.root().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    chmod(&tmp, 0o1777);
    tmp
}

#[test]
fn a_fallback_runtime_dir_owned_by_another_user_is_refused() {
    let home = TestHome::new("http://127.0.0.1:9/v1");
    let tmp = private_tmp(&home);
    let dir = tmp.join("opencode-nexus-0");
    std::fs::create_dir(&dir).unwrap();
    chmod(&dir, 0o700);
    std::os::unix::fs::chown(&dir, Some(OTHER_UID), Some(OTHER_UID)).unwrap();
    both_refuse(&home, &tmp, "belongs to uid 65534", "set XDG_RUNTIME_DIR");
}

#[test]
fn an_open_fallback_runtime_dir_is_refused_not_repaired() {
    let home = TestHome::new("http://127.0.0.1:9/v1");
    let tmp = private_tmp(&home);
    let dir = tmp.join("opencode-nexus-0");
    std::fs::create_dir(&dir).unwrap();
    chmod(&dir, 0o777);
    both_refuse(&home, &tmp, "has mode 0777", "chmod 700");
    let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o777, "left as found");
}

#[test]
fn a_fallback_runtime_dir_replaced_by_a_symlink_is_refused() {
    let home = TestHome::new("http://127.0.0.1:9/v1");
    let tmp = private_tmp(&home);
    // A private directory of ours elsewhere: only the link is wrong.
    let target = home.root().join("elsewhere");
    std::fs::create_dir(&target).unwrap();
    chmod(&target, 0o700);
    std::os::unix::fs::symlink(&target, tmp.join("opencode-nexus-0")).unwrap();
    both_refuse(&home, &tmp, "is a symbolic link", "set XDG_RUNTIME_DIR");
    assert!(
        std::fs::read_dir(&target).unwrap().next().is_none(),
        "nothing created through the link"
    );
}

#[test]
fn a_fresh_fallback_runtime_dir_is_created_private() {
    let home = TestHome::new("http://127.0.0.1:9/v1");
    let tmp = private_tmp(&home);
    let env = env_without_runtime_dir(&home, &tmp);
    let out = run_for(&env, &["status"], Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(3), "not running: {out:?}");
    let mut daemon = Command::new(nexus_binary())
        .args(["daemon", "--no-tray"])
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let socket = tmp.join("opencode-nexus-0/control.sock");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !socket.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let mode = std::fs::metadata(tmp.join("opencode-nexus-0"))
        .unwrap()
        .permissions()
        .mode();
    let _ = run_for(&env, &["quit"], Duration::from_secs(20));
    let _ = daemon.kill();
    let _ = daemon.wait();
    assert_eq!(mode & 0o777, 0o700);
}

/// Runs this test binary's `peer_helper` as uid 65534 in `role`.
fn spawn_helper(role: &str, socket: &Path) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "peer_helper",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("NEXUS_PEER_HELPER", role)
        .env("NEXUS_PEER_SOCKET", socket)
        .uid(OTHER_UID)
        .gid(OTHER_UID)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Not a test: the other user's process the two tests below start (as uid
/// 65534). "client" sends `status` and prints what comes back; "server" poses
/// as the daemon, answering any request with a fake status.
#[test]
#[ignore = "run as a child process by the peer tests"]
fn peer_helper() {
    let (Ok(role), Ok(socket)) = (
        std::env::var("NEXUS_PEER_HELPER"),
        std::env::var("NEXUS_PEER_SOCKET"),
    ) else {
        return;
    };
    match role.as_str() {
        "client" => {
            let mut stream = std::os::unix::net::UnixStream::connect(&socket).unwrap();
            // The daemon may refuse and close before the request is written
            // (it checks the peer first): the write then fails, and the
            // refusal is still there to read.
            let _ = stream.write_all(b"{\"cmd\":\"status\"}\n");
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let mut reply = String::new();
            let _ = stream.read_to_string(&mut reply);
            println!("\nREPLY {}", reply.trim());
        }
        "server" => {
            let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
            println!("\nREADY");
            let (mut stream, _) = listener.accept().unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(2)))
                .unwrap();
            let mut got = Vec::new();
            let mut buf = [0u8; 4096];
            while let Ok(n) = stream.read(&mut buf) {
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
                if got.contains(&b'\n') {
                    let _ = stream.write_all(
                        b"{\"reply\":\"status\",\"status\":{},\"text\":\"IMPOSTOR says all fine\"}\n",
                    );
                }
            }
            println!("\nGOT {} bytes", got.len());
        }
        other => panic!("unknown role {other}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_daemon_refuses_a_client_of_another_user() {
    let home = TestHome::new("http://127.0.0.1:9/v1");
    let nexus = Nexus::start(
        &home,
        "[server]\nmode = \"attach\"\nurl = \"http://127.0.0.1:9\"\n",
    )
    .await;
    // Loosened on purpose: only the uid check stands in the way.
    let socket = nexus.runtime_dir.join("control.sock");
    for dir in [home.root(), &home.runtime_dir(), &nexus.runtime_dir] {
        chmod(dir, 0o777);
    }
    chmod(&socket, 0o666);
    let out =
        tokio::task::spawn_blocking(move || spawn_helper("client", &socket).wait_with_output())
            .await
            .unwrap()
            .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    let reply = said
        .lines()
        .find(|l| l.starts_with("REPLY"))
        .unwrap_or_default();
    assert!(
        reply.contains("refused"),
        "{said}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !reply.contains("\"status\""),
        "another user got the status: {reply}"
    );
    let log = nexus.daemon_log();
    assert!(
        log.contains("refused a control connection from uid 65534"),
        "{log}"
    );
    // The daemon is fine and still serves its own user (whose CLI wants the
    // directory private again).
    chmod(&nexus.runtime_dir, 0o700);
    nexus.status().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cli_refuses_a_daemon_of_another_user() {
    let home = TestHome::new("http://127.0.0.1:9/v1");
    let runtime = home.runtime_dir().join("opencode-nexus");
    std::fs::create_dir(&runtime).unwrap();
    for dir in [home.root(), &home.runtime_dir(), &runtime] {
        chmod(dir, 0o777);
    }
    let socket = runtime.join("control.sock");
    let mut impostor = spawn_helper("server", &socket);
    let mut lines = BufReader::new(impostor.stdout.take().unwrap()).lines();
    // libtest prints its own lines around the helper's.
    let ready = tokio::task::spawn_blocking(move || {
        let ready = lines
            .by_ref()
            .map_while(Result::ok)
            .any(|l| l.contains("READY"));
        (ready, lines)
    });
    let (ready, lines) = tokio::time::timeout(Duration::from_secs(20), ready)
        .await
        .expect("the impostor starts")
        .unwrap();
    assert!(ready, "the impostor did not start");
    // The directory itself is private again: only the socket's owner is wrong.
    chmod(&runtime, 0o700);
    let out = support::nexus::run_in(&home, &["status"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("IMPOSTOR"),
        "{out:?}"
    );
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    for part in ["uid 65534", "impersonating", &socket.display().to_string()] {
        assert!(stderr.contains(part), "no {part:?} in: {stderr}");
    }
    let rest: Vec<String> =
        tokio::task::spawn_blocking(move || lines.map_while(Result::ok).collect())
            .await
            .unwrap();
    let _ = impostor.kill();
    let _ = impostor.wait();
    assert!(
        rest.iter().any(|l| l.contains("GOT 0 bytes")),
        "the CLI must send nothing to the impostor: {rest:?}"
    );
}
