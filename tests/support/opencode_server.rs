//! Runs the real `opencode serve` for contract tests. A [`TestHome`] is an
//! isolated HOME/XDG tree whose opencode config points the provider `mock`
//! at a [`MockModel`](super::mock_model::MockModel); an [`OpencodeServer`]
//! is one server process in it, killed with its whole process group on drop.
//!
//! opencode npm-installs `@opencode-ai/plugin` (63 MB, needs the registry)
//! into every config dir that lacks it, in the background of the first
//! request for a directory. To keep tests fast and offline-safe one config
//! dir per opencode version is warmed once under `target/tmp` and each home
//! gets its lock files plus a symlink to its `node_modules`: opencode skips
//! the install when `node_modules` exists and `package-lock.json` lists every
//! dependency of `package.json`.

use std::{
    ffi::OsString,
    fs::{self, File, OpenOptions},
    io::{BufRead, BufReader, Read, Write},
    net::{TcpStream, ToSocketAddrs},
    os::unix::{fs::PermissionsExt, io::AsRawFd, process::CommandExt},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{OnceLock, mpsc},
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use tempfile::TempDir;

/// Overrides the opencode binary the tests run.
pub const BINARY_ENV: &str = "NEXUS_TEST_OPENCODE";
/// The Basic-auth user name (opencode's default).
pub const USERNAME: &str = "opencode";
/// The model id the config selects.
pub const MODEL: &str = "mock/echo";

/// Listening line plus health: about 2–3 s normally, much more on a loaded
/// machine running several servers at once.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// Every ordinary request gets one: a request sent while the server is
/// still starting can hang forever (API reference, gotcha 13).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const PLUGIN_INSTALL_TIMEOUT: Duration = Duration::from_secs(180);
/// Files opencode writes next to the installed plugin; copied into each home.
const PLUGIN_LOCK_FILES: [&str; 3] = ["package.json", "package-lock.json", ".gitignore"];

/// The opencode binary: `$NEXUS_TEST_OPENCODE`, else the one the project's
/// setup installs under `tools/`. Panics with the fix when it is missing.
pub fn opencode_binary() -> PathBuf {
    let path = match std::env::var_os(BINARY_ENV) {
        Some(path) => PathBuf::from(path),
        None => {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/opencode/node_modules/.bin/opencode")
        }
    };
    assert!(
        path.is_file(),
        "opencode binary not found at {}. Run the project's setup script, which installs \
         opencode-ai into tools/opencode (by hand: `npm install --prefix tools/opencode \
         opencode-ai@1.18.33`), or set {BINARY_ENV} to an opencode binary.",
        path.display()
    );
    path
}

/// `opencode --version`, asked once per test process.
pub fn opencode_version() -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(|| {
        // It creates its XDG dirs even for --version; keep them out of $HOME.
        let scratch = TempDir::new().expect("temp dir for opencode --version");
        let output = Command::new(opencode_binary())
            .arg("--version")
            .env_clear()
            .envs(isolated_env(
                scratch.path(),
                &scratch.path().join(".config"),
            ))
            .output()
            .expect("run opencode --version");
        let version = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        assert!(
            output.status.success() && !version.is_empty(),
            "opencode --version failed: {output:?}"
        );
        version
    })
}

/// The environment of an opencode process living in `home`: only these
/// variables, so the developer's own config, keys and sessions stay out.
fn isolated_env(home: &Path, config_home: &Path) -> Vec<(OsString, OsString)> {
    let dirs = [
        ("HOME", home.to_path_buf()),
        ("XDG_CONFIG_HOME", config_home.to_path_buf()),
        ("XDG_DATA_HOME", home.join(".local/share")),
        ("XDG_STATE_HOME", home.join(".local/state")),
        ("XDG_CACHE_HOME", home.join(".cache")),
        ("XDG_RUNTIME_DIR", home.join("run")),
    ];
    let flags = [
        "OPENCODE_DISABLE_MODELS_FETCH",
        "OPENCODE_DISABLE_AUTOUPDATE",
        "OPENCODE_DISABLE_SHARE",
        "OPENCODE_DISABLE_LSP_DOWNLOAD",
    ];
    let mut env: Vec<(OsString, OsString)> = dirs
        .into_iter()
        .map(|(name, dir)| (name.into(), dir.into()))
        .collect();
    env.extend(flags.into_iter().map(|name| (name.into(), "1".into())));
    env.push(("PATH".into(), std::env::var_os("PATH").unwrap_or_default()));
    env
}

/// An isolated home for opencode, removed on drop. Drop the servers that
/// use it first (declare them after it).
pub struct TestHome {
    // Kept for its Drop, which deletes the tree.
    _dir: TempDir,
    root: PathBuf,
    model_url: String,
    permission: Value,
}

impl TestHome {
    /// A home whose config uses `model_url` with `bash` and `edit` set to ask.
    pub fn new(model_url: &str) -> TestHome {
        TestHome::with_permission(model_url, json!({"bash": "ask", "edit": "ask"}))
    }

    /// Like [`TestHome::new`] with another `permission` block (`{}` keeps
    /// opencode's defaults, which allow almost everything).
    pub fn with_permission(model_url: &str, permission: Value) -> TestHome {
        let dir = tempfile::Builder::new()
            .prefix("nexus-test-home-")
            .tempdir()
            .expect("create a temp home");
        // Canonical, so paths match what opencode reports (e.g. `directory`).
        let root = dir.path().canonicalize().expect("canonical temp home");
        let home = TestHome {
            _dir: dir,
            root,
            model_url: model_url.to_owned(),
            permission,
        };
        home.create_dirs();
        home.write_config(&home.config());
        link_warm_plugin(&home.opencode_config_dir());
        home
    }

    /// `$HOME`.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The project directory the server runs in (not a git repository).
    pub fn project_dir(&self) -> PathBuf {
        self.root.join("project")
    }

    pub fn config_home(&self) -> PathBuf {
        self.root.join(".config")
    }

    pub fn data_home(&self) -> PathBuf {
        self.root.join(".local/share")
    }

    pub fn state_home(&self) -> PathBuf {
        self.root.join(".local/state")
    }

    pub fn cache_home(&self) -> PathBuf {
        self.root.join(".cache")
    }

    pub fn runtime_dir(&self) -> PathBuf {
        self.root.join("run")
    }

    /// `$XDG_CONFIG_HOME/opencode`.
    pub fn opencode_config_dir(&self) -> PathBuf {
        self.config_home().join("opencode")
    }

    pub fn config_path(&self) -> PathBuf {
        self.opencode_config_dir().join("opencode.json")
    }

    /// opencode's own log (all runs appended), handy in failure messages.
    pub fn opencode_log_path(&self) -> PathBuf {
        self.data_home().join("opencode/log/opencode.log")
    }

    /// Where [`OpencodeServer`] appends the server's stderr.
    pub fn server_stderr_path(&self) -> PathBuf {
        self.root.join("opencode-serve.stderr")
    }

    pub fn model_url(&self) -> &str {
        &self.model_url
    }

    /// The config this home starts with. It has `$schema` because opencode
    /// adds it to a global config that lacks it, rewriting the file.
    pub fn config(&self) -> Value {
        json!({
            "$schema": "https://opencode.ai/config.json",
            "provider": {"mock": {
                "npm": "@ai-sdk/openai-compatible",
                "name": "Mock",
                "options": {"baseURL": self.model_url, "apiKey": "mock-key"},
                "models": {"echo": {"name": "Echo"}},
            }},
            "model": MODEL,
            "autoupdate": false,
            "share": "disabled",
            "permission": self.permission,
        })
    }

    /// Replaces `opencode.json` (servers started later read it).
    pub fn write_config(&self, config: &Value) {
        let text = serde_json::to_string_pretty(config).expect("serialize opencode config");
        fs::write(self.config_path(), text).expect("write opencode.json");
    }

    /// The environment a child process in this home should get (and only
    /// that): HOME, the XDG dirs, opencode's offline switches and PATH.
    pub fn envs(&self) -> Vec<(OsString, OsString)> {
        isolated_env(&self.root, &self.config_home())
    }

    fn create_dirs(&self) {
        for dir in [
            self.project_dir(),
            self.opencode_config_dir(),
            self.data_home(),
            self.state_home(),
            self.cache_home(),
            self.runtime_dir(),
        ] {
            fs::create_dir_all(&dir).expect("create a test home dir");
        }
        // XDG requires the runtime dir to be private.
        fs::set_permissions(self.runtime_dir(), fs::Permissions::from_mode(0o700))
            .expect("chmod XDG_RUNTIME_DIR");
    }
}

/// Gives `config_dir` the warm plugin install without copying 63 MB.
fn link_warm_plugin(config_dir: &Path) {
    let warm = warm_plugin_dir();
    for name in PLUGIN_LOCK_FILES {
        let source = warm.join(name);
        if source.exists() {
            fs::copy(&source, config_dir.join(name)).expect("copy the warm plugin lock files");
        }
    }
    std::os::unix::fs::symlink(warm.join("node_modules"), config_dir.join("node_modules"))
        .expect("link the warm node_modules");
}

/// The shared warm config dir for this opencode version, prepared at most
/// once per test process and, under a file lock, once per target dir.
fn warm_plugin_dir() -> &'static Path {
    static WARM: OnceLock<PathBuf> = OnceLock::new();
    WARM.get_or_init(|| {
        let base = Path::new(env!("CARGO_TARGET_TMPDIR")).join("opencode-plugin-cache");
        fs::create_dir_all(&base).expect("create the plugin cache dir");
        let version = opencode_version();
        let _lock = FileLock::exclusive(&base.join(format!("{version}.lock")));
        prepare_warm_dir(&base.join(version))
    })
}

/// Returns `<root>/opencode`, installing the plugin there unless a previous
/// run did. Offline, it writes a stub (retried by the next test process).
fn prepare_warm_dir(root: &Path) -> PathBuf {
    let config_dir = root.join("opencode");
    let marker = root.join("ready");
    let installed = fs::read_to_string(&marker).is_ok_and(|kind| kind == "installed");
    if installed && config_dir.join("node_modules").is_dir() {
        return config_dir;
    }
    let _ = fs::remove_dir_all(root);
    fs::create_dir_all(&config_dir).expect("create the warm config dir");
    let kind = match install_plugin(root) {
        Ok(()) => "installed",
        Err(why) => {
            eprintln!(
                "note: could not pre-install @opencode-ai/plugin for tests ({why}); \
                 using a stub lock file so opencode does not try to install it"
            );
            write_plugin_stub(&config_dir, opencode_version());
            "stub"
        }
    };
    fs::write(&marker, kind).expect("mark the warm config dir");
    config_dir
}

/// Lets a real opencode install the plugin into `<config_home>/opencode`.
fn install_plugin(config_home: &Path) -> Result<(), String> {
    if !registry_reachable() {
        return Err("registry.npmjs.org is unreachable".into());
    }
    let config_dir = config_home.join("opencode");
    fs::write(
        config_dir.join("opencode.json"),
        r#"{"autoupdate":false,"share":"disabled"}"#,
    )
    .map_err(|e| format!("write warm-up config: {e}"))?;
    let scratch = TempDir::new().map_err(|e| format!("scratch dir: {e}"))?;
    let project = scratch.path().join("project");
    fs::create_dir_all(&project).map_err(|e| format!("scratch project: {e}"))?;
    let env = isolated_env(scratch.path(), config_home);
    let mut server = ServeProcess::spawn(&project, &env, &scratch.path().join("stderr"))?;
    // The install starts when the first request creates the directory's instance.
    get_with_retries(&server.base_url, "/path")?;
    wait_for_plugin(&config_dir, &mut server)
}

fn registry_reachable() -> bool {
    let Ok(mut addrs) = ("registry.npmjs.org", 443).to_socket_addrs() else {
        return false;
    };
    addrs
        .next()
        .is_some_and(|addr| TcpStream::connect_timeout(&addr, Duration::from_secs(5)).is_ok())
}

/// Waits until npm has written the lock files and the package.
fn wait_for_plugin(config_dir: &Path, server: &mut ServeProcess) -> Result<(), String> {
    let done = [
        config_dir.join("package-lock.json"),
        config_dir.join("node_modules/.package-lock.json"),
        config_dir.join("node_modules/@opencode-ai/plugin/package.json"),
    ];
    let deadline = Instant::now() + PLUGIN_INSTALL_TIMEOUT;
    while !done.iter().all(|file| file.exists()) {
        if let Some(status) = server.exit_status() {
            return Err(format!("opencode exited during the install: {status}"));
        }
        if Instant::now() > deadline {
            return Err(format!("no install after {PLUGIN_INSTALL_TIMEOUT:?}"));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    // Leave npm a moment to close its files before the group is killed.
    std::thread::sleep(Duration::from_millis(500));
    Ok(())
}

/// What opencode's install check accepts: `node_modules` exists and the
/// lock's root lists every dependency of `package.json`.
fn write_plugin_stub(config_dir: &Path, version: &str) {
    let dependencies = json!({"@opencode-ai/plugin": version});
    let package = json!({"dependencies": dependencies});
    let lock = json!({
        "name": "opencode",
        "lockfileVersion": 3,
        "requires": true,
        "packages": {"": {"dependencies": dependencies}},
    });
    fs::create_dir_all(config_dir.join("node_modules")).expect("stub node_modules");
    fs::write(config_dir.join("package.json"), package.to_string()).expect("stub package.json");
    fs::write(config_dir.join("package-lock.json"), lock.to_string()).expect("stub lock");
}

/// An exclusive `flock`, released when dropped (the fd closes).
struct FileLock(File);

impl FileLock {
    fn exclusive(path: &Path) -> FileLock {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .expect("open the plugin cache lock");
        // SAFETY: flock on a file descriptor we own; blocks until granted.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
        assert_eq!(
            rc,
            0,
            "flock {}: {}",
            path.display(),
            std::io::Error::last_os_error()
        );
        FileLock(file)
    }
}

/// A running `opencode serve` in its own process group.
struct ServeProcess {
    child: Child,
    base_url: String,
    /// Once the leader is reaped its pid may be reused, so no more signals.
    reaped: bool,
}

impl ServeProcess {
    /// Spawns the server and waits (blocking) for its listening line.
    fn spawn(
        cwd: &Path,
        env: &[(OsString, OsString)],
        stderr_path: &Path,
    ) -> Result<ServeProcess, String> {
        let stderr = OpenOptions::new()
            .create(true)
            .append(true)
            .open(stderr_path)
            .map_err(|e| format!("open {}: {e}", stderr_path.display()))?;
        let mut child = Command::new(opencode_binary())
            .args(["serve", "--hostname", "127.0.0.1", "--port", "0"])
            .current_dir(cwd)
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            // Its own group, so one kill also reaches tool shells it spawned.
            .process_group(0)
            .spawn()
            .map_err(|e| format!("spawn opencode serve: {e}"))?;
        let stdout = child.stdout.take().expect("piped stdout");
        let mut process = ServeProcess {
            child,
            base_url: String::new(),
            reaped: false,
        };
        process.base_url = wait_for_listening_line(stdout).map_err(|why| {
            let stderr = fs::read_to_string(stderr_path).unwrap_or_default();
            format!("opencode serve did not start: {why}\nstderr:\n{stderr}")
        })?;
        Ok(process)
    }

    /// The exit status if the server has exited (reaping it).
    fn exit_status(&mut self) -> Option<std::process::ExitStatus> {
        let status = self.child.try_wait().ok().flatten();
        self.reaped |= status.is_some();
        status
    }

    /// SIGKILLs the whole group (server, tool shells, npm) and reaps the
    /// leader. While the leader is unreaped its pid, the group id, cannot be
    /// reused, so the signal cannot hit a stranger.
    fn kill(&mut self) {
        if self.reaped {
            return;
        }
        if let Ok(pgid) = i32::try_from(self.child.id()) {
            // SAFETY: kill(2) has no memory effects; the group is ours.
            unsafe {
                libc::kill(-pgid, libc::SIGKILL);
            }
        }
        let _ = self.child.wait();
        self.reaped = true;
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Reads stdout on a thread (it is drained to the end, so the pipe never
/// fills) and returns the URL from `… listening on http://…`.
fn wait_for_listening_line(stdout: impl Read + Send + 'static) -> Result<String, String> {
    let (lines, received) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let _ = lines.send(line);
        }
    });
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = received
            .recv_timeout(left)
            .map_err(|_| format!("no listening line within {START_TIMEOUT:?}"))?;
        if let Some(url) = listening_url(&line) {
            return Ok(url);
        }
    }
}

fn listening_url(line: &str) -> Option<String> {
    let (_, rest) = line.split_once("listening on ")?;
    let url = rest.split_whitespace().next()?;
    url.starts_with("http://")
        .then(|| url.trim_end_matches('/').to_owned())
}

/// A bare HTTP/1.1 GET with timeouts (no async runtime needed), retried
/// because the first request to a starting server may never be answered.
fn get_with_retries(base_url: &str, path: &str) -> Result<(), String> {
    let authority = base_url.trim_start_matches("http://");
    let mut last_error = String::new();
    for _ in 0..5 {
        match get_once(authority, path) {
            Ok(status_line) if status_line.contains(" 200 ") => return Ok(()),
            Ok(status_line) => last_error = status_line,
            Err(e) => last_error = e.to_string(),
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    Err(format!("GET {path}: {last_error}"))
}

fn get_once(authority: &str, path: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(authority)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n"
    )?;
    let mut status_line = String::new();
    BufReader::new(stream).read_line(&mut status_line)?;
    Ok(status_line)
}

/// A real `opencode serve` running in a [`TestHome`]'s project dir. Dropping
/// it kills the process group (SIGKILL, like a crash: no clean shutdown).
pub struct OpencodeServer {
    process: ServeProcess,
    password: Option<String>,
    http: reqwest::Client,
}

impl OpencodeServer {
    /// Spawns `opencode serve --hostname 127.0.0.1 --port 0` with the home's
    /// environment (the password goes in `OPENCODE_SERVER_PASSWORD`, never on
    /// the command line) and waits until `/global/health` answers.
    pub async fn start(home: &TestHome, password: Option<&str>) -> OpencodeServer {
        let mut env = home.envs();
        if let Some(password) = password {
            env.push(("OPENCODE_SERVER_PASSWORD".into(), password.into()));
        }
        let cwd = home.project_dir();
        let stderr_path = home.server_stderr_path();
        let process =
            tokio::task::spawn_blocking(move || ServeProcess::spawn(&cwd, &env, &stderr_path))
                .await
                .expect("spawn task")
                .unwrap_or_else(|why| panic!("{why}"));
        opencode_nexus::server::client::install_tls_provider();
        let server = OpencodeServer {
            process,
            password: password.map(str::to_owned),
            http: reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(5))
                .build()
                .expect("build the HTTP client"),
        };
        server.wait_until_healthy(home).await;
        server
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.process.base_url
    }

    pub fn password(&self) -> Option<&str> {
        self.password.as_deref()
    }

    /// The server's pid, which is also its process group id.
    pub fn pid(&self) -> u32 {
        self.process.child.id()
    }

    /// Kills the server's process group now, as a crash would.
    pub fn kill(&mut self) {
        self.process.kill();
    }

    /// `base_url + path` with query pairs, encoded.
    pub fn url(&self, path: &str, query: &[(&str, &str)]) -> reqwest::Url {
        let mut url =
            reqwest::Url::parse(&format!("{}{path}", self.base_url())).expect("a valid server URL");
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }

    /// A request with auth (when the server has a password) and a timeout.
    pub fn request(&self, method: reqwest::Method, url: reqwest::Url) -> reqwest::RequestBuilder {
        let request = self.http.request(method, url).timeout(REQUEST_TIMEOUT);
        self.authorize(request)
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.request(reqwest::Method::GET, self.url(path, &[]))
    }

    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.request(reqwest::Method::POST, self.url(path, &[]))
    }

    /// Opens `/global/event`; panics unless it answers 200 `text/event-stream`.
    pub async fn global_events(&self) -> GlobalEvents {
        // No timeout: the stream is meant to stay open.
        let request = self.http.get(self.url("/global/event", &[]));
        let response = self
            .authorize(request)
            .send()
            .await
            .expect("connect to /global/event");
        GlobalEvents::new(response)
    }

    fn authorize(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.password {
            Some(password) => request.basic_auth(USERNAME, Some(password)),
            None => request,
        }
    }

    async fn wait_until_healthy(&self, home: &TestHome) {
        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        loop {
            let health = self.get("/global/health").timeout(Duration::from_secs(2));
            match health.send().await {
                Ok(response) if response.status().is_success() => return,
                Ok(response) if response.status() == reqwest::StatusCode::UNAUTHORIZED => {
                    panic!("opencode serve refused the test's credentials")
                }
                _ => {}
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "opencode serve at {} not healthy within {START_TIMEOUT:?}\nstderr:\n{}",
                self.base_url(),
                fs::read_to_string(home.server_stderr_path()).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A reader of `/global/event` envelopes (`{directory?, project?, payload}`).
pub struct GlobalEvents {
    response: reqwest::Response,
    buffer: Vec<u8>,
}

impl GlobalEvents {
    fn new(response: reqwest::Response) -> GlobalEvents {
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert!(
            response.status().is_success() && content_type.starts_with("text/event-stream"),
            "/global/event answered {} {content_type}",
            response.status()
        );
        GlobalEvents {
            response,
            buffer: Vec::new(),
        }
    }

    /// The next envelope, or `None` on timeout or end of stream.
    pub async fn next(&mut self, timeout: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(envelope) = self.take_buffered() {
                return Some(envelope);
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk()).await;
            match chunk {
                Ok(Ok(Some(bytes))) => self.buffer.extend_from_slice(&bytes),
                _ => return None,
            }
        }
    }

    /// Every envelope up to and including the first that `done` accepts.
    /// Panics after `timeout`, naming `what` and the event types seen.
    pub async fn collect_until(
        &mut self,
        timeout: Duration,
        what: &str,
        mut done: impl FnMut(&Value) -> bool,
    ) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let Some(envelope) = self.next(left).await else {
                let types: Vec<&str> = seen.iter().map(event_type).collect();
                panic!("no {what} within {timeout:?}; saw {types:?}");
            };
            let finished = done(&envelope);
            seen.push(envelope);
            if finished {
                return seen;
            }
        }
    }

    /// The first envelope that `matches`; panics after `timeout`.
    pub async fn wait_for(
        &mut self,
        timeout: Duration,
        what: &str,
        matches: impl FnMut(&Value) -> bool,
    ) -> Value {
        let mut seen = self.collect_until(timeout, what, matches).await;
        seen.pop().expect("collect_until returns the match last")
    }

    /// Pops one complete SSE event from the buffer; skips ones without JSON.
    fn take_buffered(&mut self) -> Option<Value> {
        loop {
            let end = self.buffer.windows(2).position(|w| w == b"\n\n")?;
            let event: Vec<u8> = self.buffer.drain(..end + 2).collect();
            let text = String::from_utf8_lossy(&event);
            let data: Vec<&str> = text
                .lines()
                .filter_map(|line| line.strip_prefix("data:"))
                .map(str::trim_start)
                .collect();
            if let Ok(envelope) = serde_json::from_str(&data.join("\n")) {
                return Some(envelope);
            }
        }
    }
}

/// `payload.type` of an envelope.
pub fn event_type(envelope: &Value) -> &str {
    envelope["payload"]["type"].as_str().unwrap_or_default()
}

/// `payload.properties` of an envelope.
pub fn properties(envelope: &Value) -> &Value {
    &envelope["payload"]["properties"]
}

/// `sessionID` of an event, where it has one.
pub fn session_id(envelope: &Value) -> Option<&str> {
    properties(envelope)["sessionID"].as_str()
}

/// Joins the `text`-field deltas of `session_id` in `events` (those of
/// `text` and `reasoning` parts alike; see [`latest_parts`] to tell them apart).
pub fn text_deltas(events: &[Value], session_id: &str) -> String {
    events
        .iter()
        .filter(|e| event_type(e) == "message.part.delta")
        .map(properties)
        .filter(|p| p["sessionID"] == session_id && p["field"] == "text")
        .filter_map(|p| p["delta"].as_str())
        .collect()
}

/// The last version of each part of `session_id` seen in `events`
/// (`message.part.updated`), in the order the parts first appeared.
pub fn latest_parts(events: &[Value], session_id: &str) -> Vec<Value> {
    let mut parts: Vec<Value> = Vec::new();
    let updates = events
        .iter()
        .filter(|e| event_type(e) == "message.part.updated")
        .map(|e| &properties(e)["part"])
        .filter(|part| part["sessionID"] == session_id);
    for part in updates {
        match parts.iter_mut().find(|known| known["id"] == part["id"]) {
            Some(known) => *known = part.clone(),
            None => parts.push(part.clone()),
        }
    }
    parts
}
