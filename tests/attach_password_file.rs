//! The attach password file cannot stall or silently break the daemon: a
//! FIFO, `/dev/zero`, a directory or a 1 GB file each becomes an error naming
//! the file in `status`, which keeps answering within a second; a file fixed
//! later is picked up without a restart.

// Drives Nexus as a Linux process (XDG dirs, the Unix socket, D-Bus, the
// Linux desktop): Linux only for now (README, Platforms).
#![cfg(target_os = "linux")]

mod support;

use std::path::Path;
use std::time::{Duration, Instant};
use support::fake_event_server::FakeEventServer;
use support::nexus::Nexus;
use support::opencode_server::TestHome;

const PASSWORD: &str = "attach-pw-123";

fn config(url: &str, password_file: &Path) -> String {
    format!(
        "[server]\nmode = \"attach\"\nurl = {url:?}\npassword_file = {:?}\n",
        password_file.display().to_string()
    )
}

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path and a mode.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
}

/// Starts Nexus on `password_file` and waits until `status` (each answer
/// within a second) names the file and `what` is wrong with it.
async fn refused_within_a_second(
    fake: &FakeEventServer,
    home: &TestHome,
    password_file: &Path,
    what: &str,
) -> Nexus {
    let nexus = Nexus::start(home, &config(fake.base_url(), password_file)).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let asked = Instant::now();
        let status = tokio::time::timeout(Duration::from_secs(5), nexus.status())
            .await
            .expect("status answers");
        let took = asked.elapsed();
        assert!(
            took < Duration::from_secs(1),
            "status took {took:?} with {}",
            password_file.display()
        );
        let error = status["server"]["last_error"].as_str().unwrap_or_default();
        if error.contains(&password_file.display().to_string()) && error.contains(what) {
            println!(
                "status with {}: answered in {took:?}: {error}",
                password_file.display()
            );
            assert_ne!(status["server"]["state"], "running", "{status}");
            return nexus;
        }
        assert!(
            Instant::now() < deadline,
            "status never said that {} is {what}: {status:#}\n{}",
            password_file.display(),
            nexus.daemon_log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fifo_password_file_is_reported_and_a_fixed_one_is_picked_up() {
    let fake = FakeEventServer::start().await;
    fake.require_basic_auth("opencode", PASSWORD);
    let home = TestHome::new("http://127.0.0.1:9/v1");
    let file = home.root().join("server-password");
    mkfifo(&file);
    let nexus = refused_within_a_second(&fake, &home, &file, "FIFO").await;
    assert_eq!(fake.event_connections(), 0, "no login without the password");
    // Fixed: the next read (every few seconds) finds it and connects.
    std::fs::remove_file(&file).unwrap();
    std::fs::write(&file, format!("{PASSWORD}\n")).unwrap();
    nexus
        .wait_for_status(
            Duration::from_secs(20),
            "running with the fixed file",
            |s| s["server"]["state"] == "running",
        )
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn dev_zero_as_password_file_is_reported() {
    let fake = FakeEventServer::start().await;
    let home = TestHome::new("http://127.0.0.1:9/v1");
    refused_within_a_second(&fake, &home, Path::new("/dev/zero"), "character device").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_directory_as_password_file_is_reported() {
    let fake = FakeEventServer::start().await;
    let home = TestHome::new("http://127.0.0.1:9/v1");
    let dir = home.root().join("pw-dir");
    std::fs::create_dir(&dir).unwrap();
    refused_within_a_second(&fake, &home, &dir, "a directory").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_1_gb_password_file_is_reported() {
    let fake = FakeEventServer::start().await;
    let home = TestHome::new("http://127.0.0.1:9/v1");
    let file = home.root().join("huge-password");
    // Sparse: 1 GB long, no disk used.
    std::fs::File::create(&file)
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    refused_within_a_second(&fake, &home, &file, "larger than 4096 bytes").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_good_password_file_logs_in() {
    let fake = FakeEventServer::start().await;
    fake.require_basic_auth("opencode", PASSWORD);
    let home = TestHome::new("http://127.0.0.1:9/v1");
    let file = home.root().join("server-password");
    std::fs::write(&file, PASSWORD).unwrap();
    let nexus = Nexus::start(&home, &config(fake.base_url(), &file)).await;
    nexus
        .wait_for_state("running", Duration::from_secs(20))
        .await;
}

/// `password set` with `input` on stdin.
fn password_set(home: &TestHome, input: &[u8]) -> std::process::Output {
    use std::io::Write;
    let env = support::nexus::nexus_env(home);
    let mut child = std::process::Command::new(support::nexus::nexus_binary())
        .args(["password", "set"])
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    // Written from a thread: the command may stop reading early.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    let _ = writer.join();
    out
}

#[test]
fn password_set_stores_only_what_the_daemon_will_read() {
    let home = TestHome::new("http://127.0.0.1:9/v1");
    let file = home.config_home().join("opencode-nexus/server-password");
    let out = password_set(&home, format!("{PASSWORD}\n").as_bytes());
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), PASSWORD);

    // Longer than the daemon reads: refused, the stored one kept.
    let out = password_set(&home, &vec![b'p'; 5000]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("longer than 4096 bytes"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), PASSWORD);

    // A directory where the file goes: refused, naming it.
    std::fs::remove_file(&file).unwrap();
    std::fs::create_dir(&file).unwrap();
    let out = password_set(&home, b"pw\n");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&file.display().to_string()) && stderr.contains("not a regular file"),
        "{stderr}"
    );
}
