//! A test double for the desktop notification server
//! (`org.freedesktop.Notifications`, Desktop Notifications Specification
//! 1.2) on a private D-Bus session bus.
//!
//! It owns the well-known name, serves `/org/freedesktop/Notifications`,
//! records every `Notify` / `CloseNotification` call, and lets a test play
//! the user: [`NotificationServer::invoke_action`] emits `ActionInvoked`
//! (a click on an action button, or on the body for key `"default"`),
//! [`NotificationServer::dismiss`] emits `NotificationClosed`.
//!
//! ```ignore
//! let notifications = NotificationServer::start(desktop.bus_address());
//! // or: let notifications = NotificationServer::start_on_private_bus();
//! let nexus = Nexus::start_with_env(&home, CONFIG, &notifications.env()).await;
//! let asked = notifications
//!     .wait_for(|n| n.has_action("allow-once"), Duration::from_secs(20))
//!     .await;
//! notifications.invoke_action(asked.id, "allow-once");
//! ```
//!
//! The D-Bus side runs on zbus's blocking API, whose connection lives on
//! zbus's own runtime (zbus 5 with its `tokio` feature keeps one for blocking
//! calls), so it needs no runtime from the test. zbus's blocking calls refuse
//! to run inside a tokio runtime, so each one is made from a short-lived
//! plain thread (`off_runtime`): callable from `#[tokio::test]`s too. Everything but the `wait_for*` helpers is synchronous and returns
//! quickly; [`NotificationServer::start`] and
//! [`NotificationServer::start_on_private_bus`] block for a few ms up to
//! ~1 s (fine to call straight from a `#[tokio::test]`).

use std::{
    collections::{BTreeMap, HashMap},
    fmt, fs,
    io::Read,
    os::unix::process::CommandExt,
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex, MutexGuard},
    thread,
    time::{Duration, Instant},
};

use tempfile::TempDir;
use zbus::{
    blocking::{Connection, connection::Builder},
    message::Header,
    object_server::SignalEmitter,
    zvariant::{OwnedValue, Value},
};

/// The well-known bus name, object path and interface of the spec.
pub const NOTIFICATIONS_NAME: &str = "org.freedesktop.Notifications";
pub const NOTIFICATIONS_PATH: &str = "/org/freedesktop/Notifications";
pub const NOTIFICATIONS_IFACE: &str = "org.freedesktop.Notifications";

/// What `GetCapabilities` answers by default: the capabilities of a typical
/// daemon that shows action buttons (dunst answers
/// `actions body body-hyperlinks body-markup icon-static persistence`).
pub const DEFAULT_CAPABILITIES: &[&str] = &["actions", "body", "body-markup", "persistence"];

/// How long the private bus gets to print its address.
const BUS_START_TIMEOUT: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(10);

/// The `reason` of a `NotificationClosed` signal (spec, "NotificationClosed").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum CloseReason {
    /// 1: the notification expired.
    Expired = 1,
    /// 2: the user dismissed it.
    Dismissed = 2,
    /// 3: closed by a call to `CloseNotification`.
    Closed = 3,
    /// 4: undefined/reserved.
    Undefined = 4,
}

/// How the double presents itself.
#[derive(Debug, Clone)]
pub struct NotificationServerConfig {
    /// The `GetCapabilities` reply.
    pub capabilities: Vec<String>,
    /// The `GetServerInformation` reply: (name, vendor, version, spec_version).
    pub server_information: (String, String, String, String),
}

impl Default for NotificationServerConfig {
    fn default() -> Self {
        NotificationServerConfig {
            capabilities: DEFAULT_CAPABILITIES.iter().map(|c| c.to_string()).collect(),
            server_information: (
                "nexus-test-notifications".into(),
                "opencode-nexus".into(),
                "0.1".into(),
                "1.2".into(),
            ),
        }
    }
}

impl NotificationServerConfig {
    /// A server that cannot show action buttons (no `"actions"` capability),
    /// like notify-osd or some minimal daemons.
    pub fn without_actions() -> Self {
        let mut config = Self::default();
        config.capabilities.retain(|c| c != "actions");
        config
    }

    /// Replaces the `GetCapabilities` reply.
    pub fn with_capabilities(mut self, capabilities: &[&str]) -> Self {
        self.capabilities = capabilities.iter().map(|c| c.to_string()).collect();
        self
    }
}

/// One `Notify` call as the double received it.
#[derive(Debug, Clone)]
pub struct RecordedNotification {
    /// The id the double answered (= `replaces_id` when that was non-zero).
    pub id: u32,
    pub replaces_id: u32,
    pub app_name: String,
    pub app_icon: String,
    pub summary: String,
    pub body: String,
    /// `(key, label)` pairs from the flat `actions` array (a trailing key
    /// without label gets `""`). The body click is key `"default"`.
    pub actions: Vec<(String, String)>,
    /// Hint name → value as text: strings plain, numbers in decimal (the
    /// `urgency` byte is `"0"`/`"1"`/`"2"`), booleans `true`/`false`, other
    /// types in GVariant text form.
    pub hints: BTreeMap<String, String>,
    /// Milliseconds; -1 = the server's default, 0 = never expire.
    pub expire_timeout: i32,
    /// The caller's unique bus name (e.g. `:1.5`).
    pub sender: String,
    /// When the double handled the call (for latency measurements).
    pub received_at: Instant,
}

impl RecordedNotification {
    /// Whether an action with this key was offered.
    pub fn has_action(&self, key: &str) -> bool {
        self.actions.iter().any(|(k, _)| k == key)
    }

    /// The action keys, in order.
    pub fn action_keys(&self) -> Vec<&str> {
        self.actions.iter().map(|(k, _)| k.as_str()).collect()
    }

    /// The action labels, in order.
    pub fn action_labels(&self) -> Vec<&str> {
        self.actions.iter().map(|(_, l)| l.as_str()).collect()
    }

    /// The key of the action whose label is `label`.
    pub fn action_key_for_label(&self, label: &str) -> Option<&str> {
        self.actions
            .iter()
            .find(|(_, l)| l == label)
            .map(|(k, _)| k.as_str())
    }

    /// A hint's value text (see [`RecordedNotification::hints`]).
    pub fn hint(&self, name: &str) -> Option<&str> {
        self.hints.get(name).map(String::as_str)
    }
}

impl fmt::Display for RecordedNotification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "#{} (replaces {}) app={:?} summary={:?} body={:?} actions={:?} hints={:?} expire={}",
            self.id,
            self.replaces_id,
            self.app_name,
            self.summary,
            self.body,
            self.actions,
            self.hints,
            self.expire_timeout
        )
    }
}

#[derive(Debug)]
struct State {
    notifications: Vec<RecordedNotification>,
    closed: Vec<u32>,
    next_id: u32,
    config: NotificationServerConfig,
}

type Shared = Arc<Mutex<State>>;

fn lock(state: &Shared) -> MutexGuard<'_, State> {
    // A panicking test thread must not hide what was recorded.
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The object served at `/org/freedesktop/Notifications`.
struct Interface {
    state: Shared,
}

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl Interface {
    #[allow(clippy::too_many_arguments)]
    #[zbus(out_args("id"))]
    fn notify(
        &self,
        #[zbus(header)] header: Header<'_>,
        app_name: String,
        replaces_id: u32,
        app_icon: String,
        summary: String,
        body: String,
        actions: Vec<String>,
        hints: HashMap<String, OwnedValue>,
        expire_timeout: i32,
    ) -> u32 {
        let received_at = Instant::now();
        let mut state = lock(&self.state);
        let id = if replaces_id != 0 {
            replaces_id
        } else {
            let id = state.next_id;
            state.next_id += 1;
            id
        };
        let actions = actions
            .chunks(2)
            .map(|pair| (pair[0].clone(), pair.get(1).cloned().unwrap_or_default()))
            .collect();
        let hints = hints
            .iter()
            .map(|(name, value)| (name.clone(), value_text(value)))
            .collect();
        state.notifications.push(RecordedNotification {
            id,
            replaces_id,
            app_name,
            app_icon,
            summary,
            body,
            actions,
            hints,
            expire_timeout,
            sender: header
                .sender()
                .map(|sender| sender.to_string())
                .unwrap_or_default(),
            received_at,
        });
        id
    }

    async fn close_notification(
        &self,
        #[zbus(signal_emitter)] emitter: SignalEmitter<'_>,
        id: u32,
    ) -> zbus::fdo::Result<()> {
        lock(&self.state).closed.push(id);
        Self::notification_closed(&emitter, id, CloseReason::Closed as u32).await?;
        Ok(())
    }

    #[zbus(out_args("capabilities"))]
    fn get_capabilities(&self) -> Vec<String> {
        lock(&self.state).config.capabilities.clone()
    }

    #[zbus(out_args("name", "vendor", "version", "spec_version"))]
    fn get_server_information(&self) -> (String, String, String, String) {
        lock(&self.state).config.server_information.clone()
    }

    #[zbus(signal)]
    async fn notification_closed(
        emitter: &SignalEmitter<'_>,
        id: u32,
        reason: u32,
    ) -> zbus::Result<()>;

    #[zbus(signal)]
    async fn action_invoked(
        emitter: &SignalEmitter<'_>,
        id: u32,
        action_key: &str,
    ) -> zbus::Result<()>;
}

/// Hint values as text (see [`RecordedNotification::hints`]).
fn value_text(value: &Value<'_>) -> String {
    match value {
        Value::Value(inner) => value_text(inner),
        Value::Str(s) => s.to_string(),
        Value::ObjectPath(p) => p.to_string(),
        Value::Signature(s) => s.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::U8(n) => n.to_string(),
        Value::I16(n) => n.to_string(),
        Value::U16(n) => n.to_string(),
        Value::I32(n) => n.to_string(),
        Value::U32(n) => n.to_string(),
        Value::I64(n) => n.to_string(),
        Value::U64(n) => n.to_string(),
        Value::F64(n) => n.to_string(),
        other => other.to_string(),
    }
}

/// Whether a match rule (`type='signal',sender=':1.0',...`) delivers the
/// double's broadcast `signal` sent from unique name `me`.
fn rule_delivers(rule: &str, signal: &str, me: &str) -> bool {
    parse_rule(rule)
        .iter()
        .all(|(key, value)| match key.as_str() {
            "type" => value == "signal",
            "sender" => value == me || value == NOTIFICATIONS_NAME,
            "interface" => value == NOTIFICATIONS_IFACE,
            "member" => value == signal,
            "path" => value == NOTIFICATIONS_PATH,
            "path_namespace" => {
                value == "/"
                    || value == NOTIFICATIONS_PATH
                    || NOTIFICATIONS_PATH.starts_with(&format!("{value}/"))
            }
            // A broadcast signal has no destination.
            "destination" => false,
            // eavesdrop, argN, argNpath, arg0namespace: assume they match.
            _ => true,
        })
}

/// `key='value',key2='value2'` → pairs (D-Bus match rule syntax: values
/// quoted with `'`, a literal quote written `\'` outside quotes).
fn parse_rule(rule: &str) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    let mut key = String::new();
    let mut value = String::new();
    let mut in_value = false;
    let mut quoted = false;
    let mut chars = rule.chars().peekable();
    while let Some(c) = chars.next() {
        if !in_value {
            match c {
                '=' => in_value = true,
                ',' => {}
                _ => key.push(c),
            }
            continue;
        }
        match c {
            '\'' => quoted = !quoted,
            '\\' if !quoted && chars.peek() == Some(&'\'') => {
                value.push('\'');
                chars.next();
            }
            ',' if !quoted => {
                pairs.push((
                    std::mem::take(&mut key).trim().to_owned(),
                    std::mem::take(&mut value),
                ));
                in_value = false;
            }
            _ => value.push(c),
        }
    }
    if in_value {
        pairs.push((key.trim().to_owned(), value));
    }
    pairs
}

/// A private `dbus-daemon` in its own process group and temp dir.
struct PrivateBus {
    child: Child,
    address: String,
    _dir: TempDir,
}

/// A session-bus config without service dirs: nothing on the private bus is
/// D-Bus-activated (the system's `session.conf` would start a real dunst
/// for a `Notify` sent before the double owns the name).
const BUS_CONFIG: &str = r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <keep_umask/>
  <listen>unix:path=@SOCKET@</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#;

impl PrivateBus {
    fn start() -> PrivateBus {
        let dir = tempfile::Builder::new()
            .prefix("nexus-notify-bus-")
            .tempdir()
            .expect("create the private bus's temp dir");
        let socket = dir.path().join("bus");
        let config = dir.path().join("bus.conf");
        fs::write(
            &config,
            BUS_CONFIG.replace("@SOCKET@", &socket.display().to_string()),
        )
        .expect("write the bus config");
        let log = dir.path().join("dbus.log");
        let mut child = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", config.display()))
            .args(["--nofork", "--print-address=1"])
            .env_clear()
            .env(
                "PATH",
                std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(fs::File::create(&log).expect("create the bus log"))
            .process_group(0)
            .spawn()
            .unwrap_or_else(|error| {
                panic!("spawn dbus-daemon (package dbus): {error}");
            });
        let stdout = child.stdout.take().expect("dbus-daemon stdout");
        let address = match super::headless_desktop::first_stdout_line(stdout, BUS_START_TIMEOUT) {
            Ok(line) if !line.trim().is_empty() => line.trim().to_owned(),
            outcome => {
                let _ = child.kill();
                let status = child.wait();
                let mut log_text = String::new();
                let _ = fs::File::open(&log).map(|mut f| f.read_to_string(&mut log_text));
                panic!(
                    "private dbus-daemon did not print its address ({}; {status:?}): {log_text}",
                    if outcome.is_ok() {
                        "exited"
                    } else {
                        "timed out"
                    }
                );
            }
        };
        PrivateBus {
            child,
            address,
            _dir: dir,
        }
    }
}

impl Drop for PrivateBus {
    fn drop(&mut self) {
        let group = self.child.id() as libc::pid_t;
        // SAFETY: kill(2) on the process group this struct created.
        unsafe { libc::kill(-group, libc::SIGKILL) };
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The running double. Dropping it releases the name (and kills the private
/// bus, if it started one).
pub struct NotificationServer {
    // Field order = drop order: the connection goes before the bus.
    connection: Connection,
    state: Shared,
    address: String,
    bus: Option<PrivateBus>,
}

impl NotificationServer {
    /// Connects to the bus at `bus_address` (e.g.
    /// `HeadlessDesktop::bus_address()`) and owns
    /// `org.freedesktop.Notifications` with the default capabilities.
    /// Panics if the name is already owned.
    pub fn start(bus_address: &str) -> NotificationServer {
        Self::start_with(bus_address, NotificationServerConfig::default())
    }

    /// [`start`](Self::start) with a custom config (e.g.
    /// [`NotificationServerConfig::without_actions`]).
    pub fn start_with(bus_address: &str, config: NotificationServerConfig) -> NotificationServer {
        Self::connect(bus_address, config, None)
    }

    /// Starts a private `dbus-daemon` (session type, no service activation,
    /// own temp dir, killed on drop) and serves on it.
    pub fn start_on_private_bus() -> NotificationServer {
        Self::start_on_private_bus_with(NotificationServerConfig::default())
    }

    /// [`start_on_private_bus`](Self::start_on_private_bus) with a custom
    /// config.
    pub fn start_on_private_bus_with(config: NotificationServerConfig) -> NotificationServer {
        let bus = PrivateBus::start();
        let address = bus.address.clone();
        Self::connect(&address, config, Some(bus))
    }

    fn connect(
        bus_address: &str,
        config: NotificationServerConfig,
        bus: Option<PrivateBus>,
    ) -> NotificationServer {
        let state: Shared = Arc::new(Mutex::new(State {
            notifications: Vec::new(),
            closed: Vec::new(),
            next_id: 1,
            config,
        }));
        let interface = Interface {
            state: state.clone(),
        };
        let connection = off_runtime(|| {
            Builder::address(bus_address)
                .and_then(|builder| builder.serve_at(NOTIFICATIONS_PATH, interface))
                .and_then(|builder| builder.name(NOTIFICATIONS_NAME))
                .map(|builder| {
                    builder
                        .allow_name_replacements(false)
                        .replace_existing_names(false)
                })
                .and_then(|builder| builder.build())
        })
        .unwrap_or_else(|error| {
            panic!(
                "notification double: cannot serve {NOTIFICATIONS_NAME} on {bus_address}: \
                     {error} (another notification daemon, e.g. an activated dunst, may own it \
                     — start the double before anything sends a notification)"
            )
        });
        NotificationServer {
            connection,
            state,
            address: bus_address.to_owned(),
            bus,
        }
    }

    /// The bus address the double serves on.
    pub fn bus_address(&self) -> &str {
        &self.address
    }

    /// `DBUS_SESSION_BUS_ADDRESS` for a process under test.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![("DBUS_SESSION_BUS_ADDRESS", self.address.clone())]
    }

    /// The double's own unique bus name (the sender of its signals).
    pub fn unique_name(&self) -> String {
        self.connection
            .unique_name()
            .map(|name| name.to_string())
            .unwrap_or_default()
    }

    /// Whether this bus was started by the double
    /// ([`start_on_private_bus`](Self::start_on_private_bus)).
    pub fn owns_bus(&self) -> bool {
        self.bus.is_some()
    }

    /// Every `Notify` call so far, in arrival order.
    pub fn notifications(&self) -> Vec<RecordedNotification> {
        lock(&self.state).notifications.clone()
    }

    /// The ids the client closed with `CloseNotification`, in order.
    pub fn closed(&self) -> Vec<u32> {
        lock(&self.state).closed.clone()
    }

    /// Changes the `GetCapabilities` reply from now on.
    pub fn set_capabilities(&self, capabilities: &[&str]) {
        lock(&self.state).config.capabilities =
            capabilities.iter().map(|c| c.to_string()).collect();
    }

    /// Forgets what was recorded (ids keep counting up).
    pub fn clear(&self) {
        let mut state = lock(&self.state);
        state.notifications.clear();
        state.closed.clear();
    }

    /// The first recorded notification matching `predicate` (earliest
    /// first), polling until `timeout`; panics listing everything received.
    pub async fn wait_for(
        &self,
        predicate: impl Fn(&RecordedNotification) -> bool,
        timeout: Duration,
    ) -> RecordedNotification {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(found) = self.find_by(&predicate, deadline, timeout) {
                return found;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// [`wait_for`](Self::wait_for) for non-async callers (blocks the
    /// thread).
    pub fn wait_for_blocking(
        &self,
        predicate: impl Fn(&RecordedNotification) -> bool,
        timeout: Duration,
    ) -> RecordedNotification {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(found) = self.find_by(&predicate, deadline, timeout) {
                return found;
            }
            thread::sleep(POLL);
        }
    }

    /// One poll of the waits above: the match, `None` to poll again, or a
    /// panic listing what arrived once `deadline` has passed.
    fn find_by(
        &self,
        predicate: &impl Fn(&RecordedNotification) -> bool,
        deadline: Instant,
        timeout: Duration,
    ) -> Option<RecordedNotification> {
        let found = self.find(predicate);
        if found.is_none() && Instant::now() > deadline {
            self.fail_wait(timeout);
        }
        found
    }

    /// Waits until the client has called `CloseNotification(id)`; panics
    /// with what was closed and received otherwise.
    pub async fn wait_for_closed(&self, id: u32, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while !lock(&self.state).closed.contains(&id) {
            if Instant::now() > deadline {
                panic!(
                    "notification double: CloseNotification({id}) not called within {timeout:?}; \
                     closed so far: {:?}\n{}",
                    self.closed(),
                    self.describe()
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Emits `ActionInvoked(id, key)` as a user's click does (`"default"`
    /// for the body). Like most daemons' default, it does not also close
    /// the notification — call [`dismiss`](Self::dismiss) for that.
    pub fn invoke_action(&self, id: u32, key: &str) {
        self.emit("ActionInvoked", &(id, key));
    }

    /// Emits `ActionInvoked(id, key)` from another connection on the same
    /// bus — what any other program of the session could do — with the
    /// notification interface and path a real click has. Returns the forger's
    /// unique name.
    pub fn forge_action_from_another_connection(&self, id: u32, key: &str) -> String {
        off_runtime(|| self.forge_action(id, key))
    }

    fn forge_action(&self, id: u32, key: &str) -> String {
        let forger = Builder::address(self.address.as_str())
            .and_then(|builder| builder.build())
            .unwrap_or_else(|error| panic!("notification double: forger connection: {error}"));
        forger
            .emit_signal(
                None::<&str>,
                NOTIFICATIONS_PATH,
                NOTIFICATIONS_IFACE,
                "ActionInvoked",
                &(id, key),
            )
            .unwrap_or_else(|error| panic!("notification double: forged ActionInvoked: {error}"));
        let name = forger
            .unique_name()
            .map(|name| name.to_string())
            .unwrap_or_default();
        // Give the bus time to route the signal before the connection goes.
        std::thread::sleep(Duration::from_millis(200));
        name
    }

    /// Emits `NotificationClosed(id, reason)` (e.g. the user dismissed it,
    /// or it expired). Not recorded in [`closed`](Self::closed), which only
    /// lists the client's `CloseNotification` calls.
    pub fn dismiss(&self, id: u32, reason: CloseReason) {
        self.emit("NotificationClosed", &(id, reason as u32));
    }

    /// The unique names of the other connections on the bus whose match
    /// rules would deliver the double's `signal` (`"ActionInvoked"` or
    /// `"NotificationClosed"`), read from the bus's
    /// `org.freedesktop.DBus.Debug.Stats.GetAllMatchRules`. `argN` keys are
    /// assumed to match.
    pub fn signal_subscribers(&self, signal: &str) -> Vec<String> {
        let rules: zbus::Result<HashMap<String, Vec<String>>> = off_runtime(|| {
            self.connection
                .call_method(
                    Some("org.freedesktop.DBus"),
                    "/org/freedesktop/DBus",
                    Some("org.freedesktop.DBus.Debug.Stats"),
                    "GetAllMatchRules",
                    &(),
                )
                .and_then(|reply| reply.body().deserialize())
        });
        let rules = rules.unwrap_or_else(|error| {
            panic!("notification double: GetAllMatchRules on the bus: {error}")
        });
        let me = self.unique_name();
        let mut subscribers: Vec<String> = rules
            .into_iter()
            .filter(|(name, rules)| {
                *name != me && rules.iter().any(|rule| rule_delivers(rule, signal, &me))
            })
            .map(|(name, _)| name)
            .collect();
        subscribers.sort();
        subscribers
    }

    /// Waits until another connection subscribes to the double's `signal`
    /// (see [`signal_subscribers`](Self::signal_subscribers)); returns the
    /// subscribers. Call it before [`invoke_action`](Self::invoke_action) /
    /// [`dismiss`](Self::dismiss): a signal emitted before the client's
    /// `AddMatch` is lost, not queued.
    pub async fn wait_for_subscriber(&self, signal: &str, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let subscribers = self.signal_subscribers(signal);
            if !subscribers.is_empty() {
                return subscribers;
            }
            if Instant::now() > deadline {
                panic!(
                    "notification double: nobody subscribed to {signal} within {timeout:?}; {}",
                    self.describe()
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Everything received so far, one line each (for assertion messages).
    pub fn describe(&self) -> String {
        let notifications = self.notifications();
        if notifications.is_empty() {
            return "no notifications received".to_owned();
        }
        let start = notifications[0].received_at;
        let mut text = format!("{} notification(s) received:", notifications.len());
        for n in &notifications {
            text.push_str(&format!(
                "\n  +{:?} {n}",
                n.received_at.saturating_duration_since(start)
            ));
        }
        text
    }

    fn find(
        &self,
        predicate: &impl Fn(&RecordedNotification) -> bool,
    ) -> Option<RecordedNotification> {
        lock(&self.state)
            .notifications
            .iter()
            .find(|n| predicate(n))
            .cloned()
    }

    fn fail_wait(&self, timeout: Duration) -> ! {
        panic!(
            "notification double: no matching notification within {timeout:?}; {}",
            self.describe()
        );
    }

    fn emit<B>(&self, signal: &str, body: &B)
    where
        B: serde::Serialize + zbus::zvariant::DynamicType + Sync,
    {
        off_runtime(|| {
            self.connection.emit_signal(
                None::<&str>,
                NOTIFICATIONS_PATH,
                NOTIFICATIONS_IFACE,
                signal,
                body,
            )
        })
        .unwrap_or_else(|error| panic!("notification double: emit {signal}: {error}"));
    }
}

/// Runs a blocking zbus call on a plain thread of its own, outside any tokio
/// runtime the caller may be in (zbus's blocking API panics inside one).
fn off_runtime<T: Send>(call: impl FnOnce() -> T + Send) -> T {
    thread::scope(|scope| {
        scope
            .spawn(call)
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}
