//! A small W3C WebDriver client: for WebKitWebDriver, attached to a running
//! app's inspector server (the popover started with
//! `OPENCODE_NEXUS_AUTOMATION=1` and `WEBKIT_INSPECTOR_SERVER`), and for a
//! driver that starts its own browser ([`WebDriver::launch`]; chromedriver
//! with Chromium, `super::chromium`).

#![allow(dead_code)]

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The key codes WebDriver uses for special keys.
pub const ENTER: &str = "\u{E007}";
pub const ESCAPE: &str = "\u{E00C}";
pub const SHIFT: &str = "\u{E008}";
pub const CONTROL: &str = "\u{E009}";

/// The element reference key of the W3C protocol.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A free TCP port on loopback.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Where the pinned axe-core is installed (scripts/setup-and-test.sh).
pub fn axe_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/axe/node_modules/axe-core/axe.min.js")
}

pub struct WebDriver {
    driver: Child,
    base: String,
    session: String,
    http: reqwest::Client,
    /// The driver started the browser: on drop the session is ended (the
    /// browser quits) and any of the driver's descendants left are killed.
    owns_browser: bool,
    /// Kept until the browser is gone (its profile, say), then removed.
    _scratch: Option<tempfile::TempDir>,
}

impl WebDriver {
    /// Starts WebKitWebDriver against the inspector at `inspector_port` and
    /// opens a session on the app's page (retrying while the app starts).
    pub async fn attach(inspector_port: u16, log: &Path) -> WebDriver {
        let port = free_port();
        let log_file = std::fs::File::create(log).unwrap();
        let driver = Command::new("WebKitWebDriver")
            .arg(format!("--port={port}"))
            .arg(format!("--target=127.0.0.1:{inspector_port}"))
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file)
            .spawn()
            .expect("WebKitWebDriver (package webkit2gtk-driver) must be installed");
        Self::open(driver, port, log, json!({}), false, None).await
    }

    /// Starts `command` (a driver that launches its own browser, such as
    /// chromedriver; `--port=N` is added) and opens a session with
    /// `capabilities` (the `capabilities` object of New Session). The
    /// browser quits when the session ends: on [`WebDriver::close`], or on
    /// drop (a failed test too). `scratch` (the browser's profile, say) is
    /// removed after that.
    pub async fn launch(
        mut command: Command,
        capabilities: Value,
        log: &Path,
        scratch: Option<tempfile::TempDir>,
    ) -> WebDriver {
        let port = free_port();
        let log_file = std::fs::File::create(log).unwrap();
        let program = command.get_program().to_string_lossy().into_owned();
        let driver = command
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
        Self::open(driver, port, log, capabilities, true, scratch).await
    }

    /// Opens a session on the driver listening on `port` (retrying while it starts).
    async fn open(
        driver: Child,
        port: u16,
        log: &Path,
        capabilities: Value,
        owns_browser: bool,
        scratch: Option<tempfile::TempDir>,
    ) -> WebDriver {
        opencode_nexus::server::client::install_tls_provider();
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        // Dropped (the driver killed) if no session comes.
        let mut driver = WebDriver {
            driver,
            base,
            session: String::new(),
            http,
            owns_browser,
            _scratch: scratch,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        driver.session = loop {
            let answer = driver
                .http
                .post(format!("{}/session", driver.base))
                .json(&json!({"capabilities": capabilities}))
                .send()
                .await;
            if let Ok(resp) = answer {
                let body: Value = resp.json().await.unwrap_or_default();
                if let Some(id) = body["value"]["sessionId"].as_str() {
                    break id.to_string();
                }
                assert!(
                    Instant::now() < deadline,
                    "the WebDriver server gave no session: {body}\n{}",
                    std::fs::read_to_string(log).unwrap_or_default()
                );
            }
            assert!(
                Instant::now() < deadline,
                "the WebDriver server did not answer\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        driver
    }

    async fn command(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut req = self.http.request(method, &url);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.unwrap_or_else(|e| panic!("{path}: {e}"));
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or_default();
        assert!(
            status.is_success(),
            "WebDriver {path} failed: {status} {body}"
        );
        body["value"].clone()
    }

    /// Runs a script in the page; `arguments` are available to it.
    pub async fn execute(&self, script: &str, args: Value) -> Value {
        self.command(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
        .await
    }

    /// Runs an async script: it calls `arguments[arguments.length - 1](result)`.
    pub async fn execute_async(&self, script: &str, args: Value) -> Value {
        self.command(
            reqwest::Method::POST,
            "/execute/async",
            Some(json!({"script": script, "args": args})),
        )
        .await
    }

    /// Navigates the browser to `url` (returns once it has loaded).
    pub async fn goto(&self, url: &str) {
        self.command(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await;
    }

    /// The page's URL now, or `None` while the driver cannot say (during a navigation).
    pub async fn current_url(&self) -> Option<String> {
        let url = format!("{}/session/{}/url", self.base, self.session);
        let resp = self.http.get(&url).send().await.ok()?;
        if !resp.status().is_success() {
            return None;
        }
        let body: Value = resp.json().await.ok()?;
        body["value"].as_str().map(str::to_string)
    }

    /// The first element matching `css`, if any.
    pub async fn find(&self, css: &str) -> Option<String> {
        let url = format!("{}/session/{}/element", self.base, self.session);
        let resp = self
            .http
            .post(&url)
            .json(&json!({"using": "css selector", "value": css}))
            .send()
            .await
            .ok()?;
        if !resp.status().is_success() {
            return None;
        }
        let body: Value = resp.json().await.ok()?;
        body["value"][ELEMENT_KEY].as_str().map(str::to_string)
    }

    /// Waits for an element matching `css`.
    pub async fn wait_for(&self, css: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(el) = self.find(css).await {
                return el;
            }
            assert!(
                Instant::now() < deadline,
                "no {css} in the page within {timeout:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until `script` (a function body returning a value) returns
    /// something truthy; returns that value.
    pub async fn wait_until(&self, what: &str, script: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let value = self.execute(script, json!([])).await;
            let truthy = match &value {
                Value::Null => false,
                Value::Bool(b) => *b,
                Value::String(s) => !s.is_empty(),
                Value::Number(n) => n.as_f64() != Some(0.0),
                _ => true,
            };
            if truthy {
                return value;
            }
            assert!(Instant::now() < deadline, "{what}: not within {timeout:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the element at `css` has text containing `text`; returns
    /// its whole text.
    pub async fn wait_for_text(&self, css: &str, text: &str, timeout: Duration) -> String {
        self.wait_until(
            &format!("{css} shows {text:?}"),
            &format!(
                "const e = document.querySelector({}); \
                 return e && e.textContent.includes({}) ? e.textContent : '';",
                json!(css),
                json!(text)
            ),
            timeout,
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_string()
    }

    pub async fn text(&self, element: &str) -> String {
        self.command(
            reqwest::Method::GET,
            &format!("/element/{element}/text"),
            None,
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_string()
    }

    pub async fn click(&self, element: &str) {
        self.command(
            reqwest::Method::POST,
            &format!("/element/{element}/click"),
            Some(json!({})),
        )
        .await;
    }

    /// Clicks the element matching `css`, finding it again if the page
    /// re-rendered it in between (a stale reference).
    pub async fn click_css(&self, css: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let element = self.wait_for(css, timeout).await;
            let url = format!(
                "{}/session/{}/element/{element}/click",
                self.base, self.session
            );
            let resp = self.http.post(&url).json(&json!({})).send().await.unwrap();
            let status = resp.status();
            let body: Value = resp.json().await.unwrap_or_default();
            if status.is_success() {
                return;
            }
            assert!(
                body["value"]["error"] == "stale element reference" && Instant::now() < deadline,
                "click on {css} failed: {status} {body}"
            );
        }
    }

    pub async fn send_keys(&self, element: &str, text: &str) {
        self.command(
            reqwest::Method::POST,
            &format!("/element/{element}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }

    /// The text content of the first element matching `css` ("" when none).
    pub async fn text_of(&self, css: &str) -> String {
        self.execute(
            "const e = document.querySelector(arguments[0]); return e ? e.textContent : '';",
            json!([css]),
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_string()
    }

    /// Saves a screenshot of the page (PNG).
    pub async fn screenshot(&self, path: &Path) {
        let data = self
            .command(reqwest::Method::GET, "/screenshot", None)
            .await;
        if let Some(b64) = data.as_str() {
            use base64::Engine;
            if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(b64) {
                let _ = std::fs::create_dir_all(path.parent().unwrap());
                let _ = std::fs::write(path, bytes);
            }
        }
    }

    /// Ends the session (the app keeps running; a browser the driver
    /// started quits) and stops the driver.
    pub async fn close(mut self) {
        let _ = self
            .http
            .delete(format!("{}/session/{}", self.base, self.session))
            .send()
            .await;
        self.session.clear();
        self.stop_driver();
    }

    /// Ends the session from a synchronous context (drop): one plain
    /// HTTP/1.1 request on loopback, bounded by timeouts.
    fn end_session_blocking(&self) {
        use std::io::{Read, Write};
        let Some(addr) = self.base.strip_prefix("http://") else {
            return;
        };
        let Ok(mut stream) = std::net::TcpStream::connect(addr) else {
            return;
        };
        let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
        let _ = stream.set_read_timeout(Some(Duration::from_secs(15)));
        let request = format!(
            "DELETE /session/{} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.session
        );
        if stream.write_all(request.as_bytes()).is_err() {
            return;
        }
        // Read the whole answer (the browser has quit by then); the driver
        // may keep the connection open, so stop at the body's end.
        let mut answer = Vec::new();
        let mut chunk = [0u8; 4096];
        while let Ok(n @ 1..) = stream.read(&mut chunk) {
            answer.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&answer);
            if let Some(end) = text.find("\r\n\r\n") {
                let length = text[..end]
                    .lines()
                    .find_map(|line| {
                        let (name, value) = line.split_once(':')?;
                        name.eq_ignore_ascii_case("content-length")
                            .then(|| value.trim().parse::<usize>().ok())?
                    })
                    .unwrap_or(0);
                if answer.len() >= end + 4 + length {
                    return;
                }
            }
        }
    }

    /// Kills the driver, and first what it started and left running.
    fn stop_driver(&mut self) {
        // Already stopped (and reaped): its pid may belong to another process now.
        if matches!(self.driver.try_wait(), Ok(Some(_))) {
            return;
        }
        let left = if self.owns_browser {
            super::nexus::descendants(self.driver.id())
        } else {
            Vec::new()
        };
        for pid in left {
            // SAFETY: kill(2) on a process the driver started; no memory is involved.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for WebDriver {
    fn drop(&mut self) {
        if self.owns_browser && !self.session.is_empty() {
            self.end_session_blocking();
        }
        self.stop_driver();
    }
}
