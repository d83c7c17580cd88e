//! Runs Nexus's Windows binary under Wine, in a Wine prefix of its own (a
//! fresh Windows user profile: `%APPDATA%`, `%LOCALAPPDATA%`, the registry).
//!
//! `scripts/windows-wine-test.sh` cross-builds the binary, puts it with the
//! DLLs it needs in one folder and names that folder in
//! [`BIN_DIR_ENV`]. Wine runs without a display (no window can open), with its
//! own messages off so the program's output is what the tests read, and
//! without offering to install Mono or Gecko (Nexus needs neither).

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

/// The folder holding `opencode-nexus.exe` and its DLLs.
pub const BIN_DIR_ENV: &str = "NEXUS_WINE_BIN_DIR";

/// Where Debian puts `wine64` and `wineserver` (not on PATH by default).
const WINE_LIBEXEC: &str = "/usr/lib/wine";

/// A first start of a Wine program in a new prefix can take a while on two
/// busy cores; every command is bounded by this.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);

/// A Wine prefix with Nexus's binary ready to run in it; Wine's processes in
/// it are killed on drop.
pub struct Wine {
    prefix: tempfile::TempDir,
    bin_dir: PathBuf,
    /// An X server for Wine's windows (its notification area), if asked for.
    display: Option<Xvfb>,
}

/// A private X server (`Xvfb -displayfd`), stopped on drop.
struct Xvfb {
    child: std::process::Child,
    display: String,
}

impl Xvfb {
    fn start() -> Xvfb {
        use std::io::BufRead;
        let mut child = std::process::Command::new("Xvfb")
            .args([
                "-displayfd",
                "1",
                "-screen",
                "0",
                "1024x768x24",
                "-nolisten",
                "tcp",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start Xvfb (the test script installs it)");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("Xvfb says its display");
        let number = line.trim();
        assert!(!number.is_empty(), "Xvfb did not start");
        Xvfb {
            child,
            display: format!(":{number}"),
        }
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Wine {
    /// A new prefix, initialised (`wineboot --init`), with no display: no
    /// window can open.
    pub fn new() -> Wine {
        Self::create(None)
    }

    /// A new prefix whose programs have an X display of their own (Wine
    /// then shows its notification area as a "Wine System Tray" window).
    pub fn with_display() -> Wine {
        Self::create(Some(Xvfb::start()))
    }

    /// The X display Wine draws on, if any.
    pub fn display(&self) -> Option<&str> {
        self.display.as_ref().map(|x| x.display.as_str())
    }

    fn create(display: Option<Xvfb>) -> Wine {
        let bin_dir = std::env::var_os(BIN_DIR_ENV).map(PathBuf::from).unwrap_or_else(|| {
            panic!(
                "{BIN_DIR_ENV} is not set: run these tests through scripts/windows-wine-test.sh, \
                 which builds the Windows binary"
            )
        });
        assert!(
            bin_dir.join("opencode-nexus.exe").is_file(),
            "no opencode-nexus.exe in {}",
            bin_dir.display()
        );
        let prefix = tempfile::Builder::new()
            .prefix("nexus-wine-")
            .tempdir()
            .expect("create a Wine prefix dir");
        let wine = Wine {
            prefix,
            bin_dir,
            display,
        };
        let out = wine
            .std_command("wine64")
            .args(["wineboot", "--init"])
            .output()
            .expect("run wineboot");
        assert!(
            out.status.success(),
            "wineboot --init failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        wine
    }

    /// The Windows binary under test, as a Unix path.
    pub fn exe(&self) -> PathBuf {
        self.bin_dir.join("opencode-nexus.exe")
    }

    /// The prefix's C: drive.
    pub fn drive_c(&self) -> PathBuf {
        self.prefix.path().join("drive_c")
    }

    /// The profile folder Wine made for this user (`C:\users\NAME`).
    pub fn profile(&self) -> PathBuf {
        let users = self.drive_c().join("users");
        std::fs::read_dir(&users)
            .expect("the prefix has C:\\users")
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .find(|path| path.file_name().is_some_and(|name| name != "Public"))
            .expect("a user profile in the prefix")
    }

    /// `%APPDATA%\opencode-nexus`, as a Unix path.
    pub fn config_dir(&self) -> PathBuf {
        self.profile().join("AppData/Roaming/opencode-nexus")
    }

    /// `%LOCALAPPDATA%\opencode-nexus`, as a Unix path.
    pub fn state_dir(&self) -> PathBuf {
        self.profile().join("AppData/Local/opencode-nexus")
    }

    /// Writes `%APPDATA%\opencode-nexus\config.toml`.
    pub fn write_config(&self, text: &str) {
        std::fs::create_dir_all(self.config_dir()).unwrap();
        std::fs::write(self.config_dir().join("config.toml"), text).unwrap();
    }

    /// The daemon's own log (`%LOCALAPPDATA%\opencode-nexus\nexus.log`), or "".
    pub fn daemon_log(&self) -> String {
        std::fs::read_to_string(self.state_dir().join("nexus.log")).unwrap_or_default()
    }

    /// `program` (a Wine tool) with this prefix's environment.
    fn std_command(&self, program: &str) -> std::process::Command {
        let mut cmd = std::process::Command::new(Path::new(WINE_LIBEXEC).join(program));
        let path = std::env::join_paths(std::iter::once(PathBuf::from(WINE_LIBEXEC)).chain(
            std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
        ))
        .unwrap();
        cmd.env("WINEPREFIX", self.prefix.path())
            .env("WINEDEBUG", "-all")
            .env("WINEDLLOVERRIDES", "mscoree,mshtml=")
            .env("PATH", path)
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            .env_remove("RUST_LOG")
            .current_dir(&self.bin_dir)
            .stdin(Stdio::null());
        if let Some(display) = self.display() {
            cmd.env("DISPLAY", display);
        }
        cmd
    }

    /// `opencode-nexus.exe ARGS` under Wine.
    pub fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut cmd = self.std_command("wine64");
        cmd.arg(self.exe()).args(args);
        let mut cmd = tokio::process::Command::from(cmd);
        cmd.kill_on_drop(true);
        cmd
    }

    /// Runs `opencode-nexus.exe ARGS` to its end (bounded).
    pub async fn run(&self, args: &[&str]) -> Output {
        self.run_with_input(args, None).await
    }

    /// Runs `opencode-nexus.exe ARGS` with `input` on its standard input.
    pub async fn run_with_input(&self, args: &[&str], input: Option<&str>) -> Output {
        let cmd = self.command(args);
        self.output(cmd, &format!("opencode-nexus.exe {args:?}"), input)
            .await
    }

    /// Runs `cmd` to its end (bounded) and collects its output. The output
    /// goes through files, not pipes: a Wine program can leave Wine's own
    /// helper processes (started on its first run in a prefix) holding
    /// inherited pipe ends, so a pipe's end would not mean the program's.
    async fn output(
        &self,
        mut cmd: tokio::process::Command,
        what: &str,
        input: Option<&str>,
    ) -> Output {
        let dir = tempfile::tempdir_in(self.prefix.path()).unwrap();
        let out_path = dir.path().join("stdout");
        let err_path = dir.path().join("stderr");
        cmd.stdout(std::fs::File::create(&out_path).unwrap())
            .stderr(std::fs::File::create(&err_path).unwrap());
        if input.is_some() {
            cmd.stdin(Stdio::piped());
        }
        let mut child = cmd.spawn().expect("start wine64");
        if let Some(input) = input {
            use tokio::io::AsyncWriteExt;
            let mut stdin = child.stdin.take().unwrap();
            stdin.write_all(input.as_bytes()).await.unwrap();
            drop(stdin);
        }
        let status = tokio::time::timeout(COMMAND_TIMEOUT, child.wait())
            .await
            .unwrap_or_else(|_| panic!("{what} did not end in {COMMAND_TIMEOUT:?}"))
            .expect("wait for wine64");
        Output {
            status,
            stdout: std::fs::read(&out_path).unwrap(),
            stderr: std::fs::read(&err_path).unwrap(),
        }
    }

    /// Another Wine tool (`reg`, `cmd`) inside the prefix, to its end.
    pub async fn run_tool(&self, args: &[&str]) -> Output {
        let mut cmd = tokio::process::Command::from(self.std_command("wine64"));
        cmd.args(args).kill_on_drop(true);
        self.output(cmd, &format!("wine64 {args:?}"), None).await
    }

    /// Starts `opencode-nexus.exe daemon --no-tray` and waits until its
    /// control pipe answers `status`. Its standard error goes to
    /// [`Wine::daemon_stderr`].
    pub async fn start_daemon(&self) -> tokio::process::Child {
        self.start_daemon_with(&["daemon", "--no-tray"]).await
    }

    /// Like [`Wine::start_daemon`] with other arguments (`["daemon"]`: with its tray).
    pub async fn start_daemon_with(&self, args: &[&str]) -> tokio::process::Child {
        let stderr = std::fs::File::create(self.stderr_file()).unwrap();
        let mut cmd = self.command(args);
        cmd.stdout(Stdio::null()).stderr(stderr);
        let mut child = cmd.spawn().expect("start the daemon under Wine");
        let deadline = Instant::now() + COMMAND_TIMEOUT;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "the daemon exited ({status}) before answering\n{}\n{}",
                    self.daemon_stderr(),
                    self.daemon_log()
                );
            }
            if self.run(&["status"]).await.status.code() == Some(0) {
                return child;
            }
            assert!(
                Instant::now() < deadline,
                "the daemon did not answer on its pipe\n{}",
                self.daemon_log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The running daemon's `status --json` (it must answer).
    pub async fn status(&self) -> serde_json::Value {
        let out = self.run(&["status", "--json"]).await;
        assert_eq!(
            out.status.code(),
            Some(0),
            "status --json failed: {}",
            stderr(&out)
        );
        serde_json::from_slice(&out.stdout).expect("status --json is JSON")
    }

    /// Polls `status --json` until `done` holds (bounded); returns that status.
    pub async fn wait_for_status(
        &self,
        what: &str,
        done: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = Instant::now() + COMMAND_TIMEOUT;
        loop {
            let status = self.status().await;
            if done(&status) {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "waited for {what}: {status}\n{}",
                self.daemon_log()
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// `quit`, then waits for `daemon` (from [`Wine::start_daemon`]) to
    /// end with exit code 0.
    pub async fn quit_daemon(&self, mut daemon: tokio::process::Child) {
        let quit = self.run(&["quit"]).await;
        assert_eq!(quit.status.code(), Some(0), "quit: {}", stderr(&quit));
        let exited = tokio::time::timeout(Duration::from_secs(30), daemon.wait())
            .await
            .expect("the daemon ends after quit")
            .expect("wait for the daemon");
        assert_eq!(exited.code(), Some(0), "{}", self.daemon_stderr());
    }

    fn stderr_file(&self) -> PathBuf {
        self.prefix.path().join("daemon.stderr")
    }

    /// What the daemon started by [`Wine::start_daemon`] wrote to stderr.
    pub fn daemon_stderr(&self) -> String {
        std::fs::read_to_string(self.stderr_file()).unwrap_or_default()
    }
}

impl Drop for Wine {
    fn drop(&mut self) {
        // Ends every Wine process of this prefix (the daemon, if a test
        // failed before stopping it) and the prefix's wineserver.
        let _ = self.std_command("wineserver").arg("-k").status();
    }
}

/// Standard output as text.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Standard error as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}
