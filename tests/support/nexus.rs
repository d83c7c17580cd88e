//! Runs the real `opencode-nexus` binary in a [`TestHome`]: the daemon as a
//! child process and CLI commands against it, all with the home's isolated
//! environment and the pinned opencode first on PATH.

use super::opencode_server::{TestHome, opencode_binary};
use serde_json::Value;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The binary under test.
pub fn nexus_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_opencode-nexus"))
}

/// The environment for Nexus in `home`: isolated XDG dirs and a PATH whose
/// first entry holds the pinned opencode.
pub fn nexus_env(home: &TestHome) -> Vec<(OsString, OsString)> {
    let opencode_dir = opencode_binary().parent().unwrap().to_path_buf();
    let mut env: Vec<(OsString, OsString)> = home
        .envs()
        .into_iter()
        .filter(|(k, _)| k != "PATH")
        .collect();
    let path = std::env::join_paths(std::iter::once(opencode_dir).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .unwrap();
    env.push(("PATH".into(), path));
    env.push(("RUST_LOG".into(), "opencode_nexus=debug,info".into()));
    env
}

/// A running daemon; quit (or killed) on drop.
pub struct Nexus {
    child: Option<Child>,
    env: Vec<(OsString, OsString)>,
    pub config_dir: PathBuf,
    pub state_dir: PathBuf,
    pub runtime_dir: PathBuf,
}

impl Nexus {
    /// Writes `config_toml` and starts `opencode-nexus daemon --no-tray`.
    pub async fn start(home: &TestHome, config_toml: &str) -> Nexus {
        Self::start_with_env(home, config_toml, &[]).await
    }

    pub async fn start_with_env(
        home: &TestHome,
        config_toml: &str,
        extra: &[(&str, &str)],
    ) -> Nexus {
        Self::launch(home, Some(config_toml), extra, &["daemon", "--no-tray"]).await
    }

    /// Starts the daemon with no config.toml at all (a first run).
    pub async fn start_first_run(home: &TestHome, extra: &[(&str, &str)]) -> Nexus {
        Self::launch(home, None, extra, &["daemon", "--no-tray"]).await
    }

    /// Starts the daemon with its tray, in a desktop whose variables are `desktop_env`.
    pub async fn start_with_tray(
        home: &TestHome,
        config_toml: &str,
        desktop_env: &[(&str, String)],
    ) -> Nexus {
        let extra: Vec<(&str, &str)> = desktop_env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        Self::launch(home, Some(config_toml), &extra, &["daemon"]).await
    }

    async fn launch(
        home: &TestHome,
        config_toml: Option<&str>,
        extra: &[(&str, &str)],
        args: &[&str],
    ) -> Nexus {
        let mut env = nexus_env(home);
        for (k, v) in extra {
            env.retain(|(key, _)| key != k);
            env.push(((*k).into(), (*v).into()));
        }
        let config_dir = home.config_home().join("opencode-nexus");
        std::fs::create_dir_all(&config_dir).unwrap();
        match config_toml {
            Some(text) => std::fs::write(config_dir.join("config.toml"), text).unwrap(),
            None => {
                let _ = std::fs::remove_file(config_dir.join("config.toml"));
            }
        }
        let state_dir = home.state_home().join("opencode-nexus");
        std::fs::create_dir_all(&state_dir).unwrap();
        let stderr = std::fs::File::create(home.root().join("nexus-daemon.stderr")).unwrap();
        let child = Command::new(nexus_binary())
            .args(args)
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("start opencode-nexus daemon");
        let nexus = Nexus {
            child: Some(child),
            env,
            config_dir,
            state_dir,
            runtime_dir: home.runtime_dir().join("opencode-nexus"),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while nexus.run(&["status"]).await.status.code() != Some(0) {
            assert!(
                Instant::now() < deadline,
                "the daemon did not open its socket\n{}",
                nexus.daemon_log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        nexus
    }

    /// Runs `opencode-nexus ARGS` against this daemon.
    pub async fn run(&self, args: &[&str]) -> Output {
        tokio::process::Command::from(self.command(args))
            .output()
            .await
            .expect("run opencode-nexus")
    }

    /// Starts `opencode-nexus ARGS` in the background (stdout and stderr piped).
    pub fn spawn(&self, args: &[&str]) -> tokio::process::Child {
        let mut cmd = tokio::process::Command::from(self.command(args));
        cmd.stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        cmd.spawn().expect("spawn opencode-nexus")
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(nexus_binary());
        cmd.args(args)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null());
        cmd
    }

    pub async fn status(&self) -> Value {
        let out = self.run(&["status", "--json"]).await;
        assert_eq!(
            out.status.code(),
            Some(0),
            "status failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("status --json is JSON")
    }

    /// Polls `status --json` until `pred` holds; panics with the last status.
    pub async fn wait_for_status(
        &self,
        timeout: Duration,
        what: &str,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let status = self.status().await;
            if pred(&status) {
                return status;
            }
            if Instant::now() > deadline {
                panic!(
                    "timed out waiting for {what}; last status: {status:#}\n{}",
                    self.daemon_log()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn wait_for_state(&self, state: &str, timeout: Duration) -> Value {
        self.wait_for_status(timeout, &format!("server state {state}"), |s| {
            s["server"]["state"] == state
        })
        .await
    }

    /// Waits until the managed server runs on `port` (after a config change).
    pub async fn wait_for_server_on_port(&self, port: u16, timeout: Duration) -> Value {
        let suffix = format!(":{port}");
        self.wait_for_status(timeout, "the server on the new port", |s| {
            s["server"]["state"] == "running"
                && s["server"]["url"]
                    .as_str()
                    .is_some_and(|u| u.ends_with(&suffix))
        })
        .await
    }

    pub fn daemon_log(&self) -> String {
        std::fs::read_to_string(self.state_dir.join("nexus.log")).unwrap_or_default()
    }

    pub fn server_log(&self) -> String {
        std::fs::read_to_string(self.state_dir.join("server.log")).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    /// Waits for the daemon process to exit by itself; returns its exit code.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let mut child = self.child.take()?;
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status.code();
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!(
                    "the daemon did not exit within {timeout:?}\n{}",
                    self.daemon_log()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Nexus {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = self.command(&["quit"]).output();
            let deadline = Instant::now() + Duration::from_secs(10);
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Whether process `pid` exists (zombies count as gone).
pub fn process_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat
                .rsplit(')')
                .next()
                .and_then(|s| s.split_whitespace().next());
            state != Some("Z")
        }
        Err(_) => false,
    }
}

/// One row of /proc: (pid, state, ppid, pgrp).
fn process_rows() -> Vec<(u32, String, u32, u32)> {
    let mut rows = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let fields: Vec<&str> = stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .collect();
        if fields.len() > 2 {
            let num = |i: usize| fields[i].parse::<u32>().unwrap_or(0);
            rows.push((pid, fields[0].to_string(), num(1), num(2)));
        }
    }
    rows
}

/// Pids of live processes whose process group is `pgid`.
pub fn group_members(pgid: u32) -> Vec<u32> {
    process_rows()
        .into_iter()
        .filter(|(_, state, _, pgrp)| state != "Z" && *pgrp == pgid)
        .map(|(pid, ..)| pid)
        .collect()
}

/// All live descendants of `root`, whatever group or session they moved to.
pub fn descendants(root: u32) -> Vec<u32> {
    let table: Vec<(u32, u32)> = process_rows()
        .into_iter()
        .filter(|(_, state, ..)| state != "Z")
        .map(|(pid, _, ppid, _)| (pid, ppid))
        .collect();
    let mut found = Vec::new();
    let mut frontier = vec![root];
    while let Some(parent) = frontier.pop() {
        for (pid, ppid) in &table {
            if *ppid == parent && !found.contains(pid) {
                found.push(*pid);
                frontier.push(*pid);
            }
        }
    }
    found
}

/// The command line of `pid`, space-separated.
pub fn command_line(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|raw| {
            String::from_utf8_lossy(&raw)
                .replace('\0', " ")
                .trim()
                .to_string()
        })
        .unwrap_or_default()
}

/// Runs `opencode-nexus ARGS` in `home` without any daemon (local commands,
/// or to see how client commands behave when none runs).
pub fn run_in(home: &TestHome, args: &[&str]) -> Output {
    let env = nexus_env(home);
    Command::new(nexus_binary())
        .args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .expect("run opencode-nexus")
}

/// Waits at most `timeout` for a command started with `Nexus::spawn` to end.
pub async fn finished(child: tokio::process::Child, timeout: Duration) -> Output {
    tokio::time::timeout(timeout, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("the command did not end within {timeout:?}"))
        .expect("collect the command's output")
}

/// Asserts an exit code, showing what the command said when it differs.
#[track_caller]
pub fn assert_exit(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A config.toml for a managed server in `dir`.
pub fn managed_config(dir: &Path) -> String {
    format!(
        "[server]\ndirectory = {:?}\nstart_timeout = 60\n",
        dir.display().to_string()
    )
}

/// The distinct files mapped into `pid` whose name contains gtk, gdk, webkit
/// or javascriptcore: what must never load into the resident process.
pub fn gui_libraries_mapped(pid: u32) -> Vec<String> {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps"))
        .unwrap_or_else(|error| panic!("read /proc/{pid}/maps: {error}"));
    let mut libs = std::collections::BTreeSet::new();
    for path in maps
        .lines()
        .filter_map(|line| line.split_whitespace().nth(5))
    {
        let name = path.rsplit('/').next().unwrap_or(path).to_lowercase();
        if ["gtk", "gdk", "webkit", "javascriptcore"]
            .iter()
            .any(|needle| name.contains(needle))
        {
            libs.insert(path.to_owned());
        }
    }
    libs.into_iter().collect()
}

/// A process's resident memory in KiB (0 once it is gone).
pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}
