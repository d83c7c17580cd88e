//! A fake OpenCode server for fault-injection tests of the event-stream
//! client: the real server cannot be made to stall, send garbage or flap on
//! demand, this one can. It serves the few snapshot routes a client reads
//! after connecting and a `/global/event` stream whose behaviour is scripted
//! per connection, and it records what it was asked.

use std::{
    collections::{HashMap, VecDeque},
    convert::Infallible,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::{
    Router,
    body::{Body, Bytes},
    extract::State,
    http::{HeaderMap, Method, StatusCode, Uri, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde_json::{Value, json};
use tokio::{
    sync::{broadcast, watch},
    time::{Instant, Interval},
};

/// The version `/global/health` reports.
pub const FAKE_VERSION: &str = "0.0.0-fake";
/// `directory` and `project` of the envelopes built by [`envelope`].
pub const FAKE_DIRECTORY: &str = "/p";
pub const FAKE_PROJECT: &str = "x";
/// Size of the `delta` in the [`EventMode::Oversized`] event.
pub const OVERSIZED_DELTA_BYTES: usize = 2 * 1024 * 1024;
/// Id of the small, valid event sent right after an oversized event or the
/// garbage, so a test can see the client got past the fault.
pub const AFTER_FAULT_EVENT_ID: &str = "evt_after_fault";
/// The real server's heartbeat period, the default here.
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(10);

/// How one `/global/event` connection behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventMode {
    /// `server.connected`, then heartbeats and pushed events.
    Normal,
    /// `server.connected`, then silence with the socket kept open.
    Stall,
    /// 401 with `www-authenticate: Basic realm="Secure Area"`. As the default
    /// mode ([`FakeEventServer::set_mode`]) it answers every route so.
    Unauthorized,
    /// 200 `text/html`, what the real server answers a mistyped path.
    WrongContentType,
    /// `server.connected`, one event with a 2 MiB delta, a small event
    /// ([`AFTER_FAULT_EVENT_ID`]), then like `Normal`.
    Oversized,
    /// `server.connected`, lines that are not SSE, not JSON, not UTF-8 or not
    /// an envelope, a small event ([`AFTER_FAULT_EVENT_ID`]), then like `Normal`.
    Garbage,
    /// `server.connected`, then the server closes the stream.
    CloseAfterEachEvent,
}

/// One request the fake received.
#[derive(Clone, Debug)]
pub struct SeenRequest {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub authorization: Option<String>,
    pub body: String,
}

/// A running fake server; dropping it closes every stream and stops it.
pub struct FakeEventServer {
    base_url: String,
    shared: Arc<Shared>,
    shutdown: watch::Sender<bool>,
}

struct Shared {
    settings: Mutex<Settings>,
    requests: Mutex<Vec<SeenRequest>>,
    event_connections: AtomicUsize,
    open_streams: AtomicUsize,
    next_id: AtomicU64,
    pushed: broadcast::Sender<Bytes>,
    disconnect: watch::Sender<u64>,
    shutdown: watch::Receiver<bool>,
    /// When the server froze (see [`FakeEventServer::freeze_at`]).
    frozen: watch::Sender<Option<Instant>>,
}

struct Settings {
    default_mode: EventMode,
    scripted: VecDeque<EventMode>,
    heartbeat: Duration,
    json_routes: HashMap<String, Value>,
    /// The exact `Authorization` header required, when auth is on.
    credentials: Option<String>,
    /// The request path at which the whole server freezes.
    freeze_at: Option<String>,
}

/// Builds a `/global/event` envelope with a fresh-looking id.
pub fn envelope(event_type: &str, properties: Value) -> Value {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let id = format!("evt_fake_{:06}", NEXT.fetch_add(1, Ordering::Relaxed));
    json!({
        "directory": FAKE_DIRECTORY,
        "project": FAKE_PROJECT,
        "payload": {"id": id, "type": event_type, "properties": properties},
    })
}

impl FakeEventServer {
    /// Binds 127.0.0.1:0; every connection is `Normal` with 10 s heartbeats.
    pub async fn start() -> FakeEventServer {
        let (listener, port) = super::local_http::bind_loopback("fake event server").await;
        let (shutdown, stop) = watch::channel(false);
        let shared = Arc::new(Shared {
            settings: Mutex::new(Settings {
                default_mode: EventMode::Normal,
                scripted: VecDeque::new(),
                heartbeat: DEFAULT_HEARTBEAT,
                json_routes: default_json_routes(),
                credentials: None,
                freeze_at: None,
            }),
            requests: Mutex::new(Vec::new()),
            event_connections: AtomicUsize::new(0),
            open_streams: AtomicUsize::new(0),
            next_id: AtomicU64::new(1),
            pushed: broadcast::channel(1024).0,
            disconnect: watch::channel(0).0,
            shutdown: stop.clone(),
            frozen: watch::channel(None).0,
        });
        let app = Router::new()
            .route("/global/event", get(global_event))
            .route("/global/health", get(health))
            .route("/path", get(json_route))
            .route("/session/status", get(json_route))
            .route("/permission", get(json_route))
            .route("/question", get(json_route))
            .route("/permission/{id}/reply", post(accepted))
            .route("/question/{id}/reply", post(accepted))
            .route("/question/{id}/reject", post(accepted))
            .fallback(web_ui_fallback)
            .layer(axum::middleware::from_fn_with_state(
                shared.clone(),
                record_and_authorize,
            ))
            .with_state(shared.clone());
        super::local_http::serve_until_stopped(listener, app, stop);
        FakeEventServer {
            base_url: format!("http://127.0.0.1:{port}"),
            shared,
            shutdown,
        }
    }

    /// Freezes the whole server, as SIGSTOP would, when the next request to
    /// `path` arrives (`/global/event` freezes before the stream's headers
    /// are sent): that request and every later one never get an answer, and
    /// open event streams send nothing more. See [`Self::frozen_at`].
    pub fn freeze_at(&self, path: &str) {
        self.settings().freeze_at = Some(path.to_owned());
    }

    /// Freezes the whole server now (see [`Self::freeze_at`]).
    pub fn freeze_now(&self) {
        self.shared.freeze();
    }

    /// When the server froze, if it did.
    pub fn frozen_at(&self) -> Option<Instant> {
        *self.shared.frozen.borrow()
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The mode of every connection not covered by [`Self::script_connections`].
    pub fn set_mode(&self, mode: EventMode) {
        self.settings().default_mode = mode;
    }

    /// Modes for the next `/global/event` connections, in order.
    pub fn script_connections(&self, modes: impl IntoIterator<Item = EventMode>) {
        self.settings().scripted.extend(modes);
    }

    /// Heartbeat period of connections opened from now on.
    pub fn set_heartbeat(&self, period: Duration) {
        self.settings().heartbeat = period;
    }

    /// The JSON `GET path` answers (`/path`, `/session/status`, `/permission`
    /// or `/question`).
    pub fn set_json(&self, path: &str, value: Value) {
        self.settings().json_routes.insert(path.to_owned(), value);
    }

    /// From now on every route needs HTTP Basic `user:password`, like the
    /// real server with `OPENCODE_SERVER_PASSWORD` set.
    pub fn require_basic_auth(&self, user: &str, password: &str) {
        self.settings().credentials = Some(basic_auth_header(user, password));
    }

    /// Sends an envelope to every open stream that follows pushed events.
    /// Like the real server there is no replay: wait for the connection first.
    pub fn push(&self, envelope: Value) {
        self.push_raw(format!("data: {envelope}\n\n"));
    }

    /// Builds an envelope ([`envelope`]), pushes it and returns its id.
    pub fn push_event(&self, event_type: &str, properties: Value) -> String {
        let envelope = envelope(event_type, properties);
        let id = envelope["payload"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        self.push(envelope);
        id
    }

    /// Sends raw bytes (no framing added) to every following stream.
    pub fn push_raw(&self, bytes: impl Into<Bytes>) {
        // No receiver means no open stream: dropped, as the real server would.
        let _ = self.shared.pushed.send(bytes.into());
    }

    /// Closes every open event stream from the server side.
    pub fn disconnect_all(&self) {
        self.shared
            .disconnect
            .send_modify(|generation| *generation += 1);
    }

    /// How many `/global/event` requests arrived, whatever they were answered.
    pub fn event_connections(&self) -> usize {
        self.shared.event_connections.load(Ordering::SeqCst)
    }

    /// How many event streams are open right now.
    pub fn open_event_streams(&self) -> usize {
        self.shared.open_streams.load(Ordering::SeqCst)
    }

    /// Every request so far, oldest first.
    pub fn requests(&self) -> Vec<SeenRequest> {
        self.shared.requests.lock().expect("requests lock").clone()
    }

    /// The `/global/event` requests so far.
    pub fn event_requests(&self) -> Vec<SeenRequest> {
        self.requests()
            .into_iter()
            .filter(|r| r.path == "/global/event")
            .collect()
    }

    /// Waits until `count` event connections were made; panics on timeout.
    pub async fn wait_for_event_connections(&self, count: usize, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while self.event_connections() < count {
            assert!(
                Instant::now() < deadline,
                "fake server: expected {count} event connections within {timeout:?}, got {}",
                self.event_connections()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn settings(&self) -> std::sync::MutexGuard<'_, Settings> {
        self.shared.settings.lock().expect("settings lock")
    }
}

impl Drop for FakeEventServer {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

fn default_json_routes() -> HashMap<String, Value> {
    let path = json!({
        "home": "/home/fake",
        "state": "/home/fake/.local/state/opencode",
        "config": "/home/fake/.config/opencode",
        "worktree": FAKE_DIRECTORY,
        "directory": FAKE_DIRECTORY,
    });
    HashMap::from([
        ("/path".to_owned(), path),
        ("/session/status".to_owned(), json!({})),
        ("/permission".to_owned(), json!([])),
        ("/question".to_owned(), json!([])),
    ])
}

fn basic_auth_header(user: &str, password: &str) -> String {
    use base64::Engine as _;
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {token}")
}

impl Shared {
    fn freeze(&self) {
        self.frozen.send_if_modified(|frozen| {
            let first = frozen.is_none();
            frozen.get_or_insert_with(Instant::now);
            first
        });
    }

    /// Never returns while frozen, until the server stops.
    async fn hang_while_frozen(&self) {
        if self.frozen.borrow().is_some() {
            let mut shutdown = self.shutdown.clone();
            let _ = shutdown.wait_for(|stopped| *stopped).await;
        }
    }

    fn record(&self, method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) {
        let request = SeenRequest {
            method: method.to_string(),
            path: uri.path().to_owned(),
            query: uri.query().map(str::to_owned),
            authorization: headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            body: String::from_utf8_lossy(body).into_owned(),
        };
        self.requests.lock().expect("requests lock").push(request);
    }

    /// The 401 every route answers when auth is refused.
    fn refusal(&self, headers: &HeaderMap) -> Option<Response> {
        let settings = self.settings.lock().expect("settings lock");
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let refused = settings.default_mode == EventMode::Unauthorized
            || settings
                .credentials
                .as_deref()
                .is_some_and(|expected| given != Some(expected));
        refused.then(unauthorized)
    }

    fn next_mode(&self) -> (EventMode, Duration) {
        let mut settings = self.settings.lock().expect("settings lock");
        let mode = settings
            .scripted
            .pop_front()
            .unwrap_or(settings.default_mode);
        (mode, settings.heartbeat)
    }

    fn next_event_id(&self, kind: &str) -> String {
        format!(
            "evt_{kind}_{}",
            self.next_id.fetch_add(1, Ordering::Relaxed)
        )
    }
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, r#"Basic realm="Secure Area""#)],
    )
        .into_response()
}

/// Every request is recorded first (event-stream connections counted), and
/// refused with 401 when the credentials do not match; only then does the
/// route see it.
async fn record_and_authorize(
    State(shared): State<Arc<Shared>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 16 * 1024 * 1024)
        .await
        .unwrap_or_default();
    shared.record(&parts.method, &parts.uri, &parts.headers, &body);
    let freezes_here = shared
        .settings
        .lock()
        .expect("settings lock")
        .freeze_at
        .as_deref()
        == Some(parts.uri.path());
    if freezes_here {
        shared.freeze();
    }
    if shared.frozen.borrow().is_some() {
        shared.hang_while_frozen().await;
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    if parts.uri.path() == "/global/event" {
        shared.event_connections.fetch_add(1, Ordering::SeqCst);
    }
    if let Some(refusal) = shared.refusal(&parts.headers) {
        return refusal;
    }
    next.run(axum::extract::Request::from_parts(parts, Body::from(body)))
        .await
}

async fn health() -> Response {
    axum::Json(json!({"healthy": true, "version": FAKE_VERSION})).into_response()
}

async fn json_route(State(shared): State<Arc<Shared>>, uri: Uri) -> Response {
    let settings = shared.settings.lock().expect("settings lock");
    let value = settings
        .json_routes
        .get(uri.path())
        .cloned()
        .unwrap_or(Value::Null);
    axum::Json(value).into_response()
}

/// Permission and question replies: recorded, answered `true`.
async fn accepted() -> Response {
    axum::Json(json!(true)).into_response()
}

/// The real server answers unknown paths with its web UI: 200 HTML.
async fn web_ui_fallback() -> Response {
    html_page()
}

fn html_page() -> Response {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        "<!doctype html><html><head><title>OpenCode</title></head><body></body></html>",
    )
        .into_response()
}

async fn global_event(State(shared): State<Arc<Shared>>) -> Response {
    let (mode, heartbeat) = shared.next_mode();
    let (frames, then) = match mode {
        EventMode::Unauthorized => return unauthorized(),
        EventMode::WrongContentType => return html_page(),
        EventMode::Normal => (vec![connected(&shared)], Then::Follow),
        EventMode::Stall => (vec![connected(&shared)], Then::Hang),
        EventMode::CloseAfterEachEvent => (vec![connected(&shared)], Then::Close),
        EventMode::Oversized => (
            vec![connected(&shared), oversized_event(), after_fault_event()],
            Then::Follow,
        ),
        EventMode::Garbage => {
            let mut frames = vec![connected(&shared)];
            frames.extend(garbage_frames());
            frames.push(after_fault_event());
            (frames, Then::Follow)
        }
    };
    event_stream_response(EventStream::new(shared, frames, then, heartbeat))
}

fn frame(value: &Value) -> Bytes {
    Bytes::from(format!("data: {value}\n\n"))
}

/// Server-level events come without `directory`, as on the real server.
fn server_event(shared: &Shared, kind: &str, event_type: &str) -> Bytes {
    let id = shared.next_event_id(kind);
    frame(&json!({"payload": {"id": id, "type": event_type, "properties": {}}}))
}

fn connected(shared: &Shared) -> Bytes {
    server_event(shared, "connected", "server.connected")
}

fn oversized_event() -> Bytes {
    let properties = json!({
        "sessionID": "ses_fake",
        "messageID": "msg_fake",
        "partID": "prt_fake",
        "field": "text",
        "delta": "x".repeat(OVERSIZED_DELTA_BYTES),
    });
    let mut big = envelope("message.part.delta", properties);
    big["payload"]["id"] = json!("evt_oversized");
    frame(&big)
}

fn after_fault_event() -> Bytes {
    let mut small = envelope("session.idle", json!({"sessionID": "ses_fake"}));
    small["payload"]["id"] = json!(AFTER_FAULT_EVENT_ID);
    frame(&small)
}

fn garbage_frames() -> Vec<Bytes> {
    [
        &b"this line is not server-sent events at all\n\n"[..],
        b"data: {this is not json\n\n",
        b"data: \xff\xfe\xfd not utf-8 \xc3\x28\n\n",
        b"data: {\"json\":\"but not an envelope\"}\n\n",
        b"data: [1, 2, 3]\n\n",
        b"event: odd\nid: 7\nretry: banana\n: a comment\n\n",
        b"data: {\"payload\": \n",
        b"\n",
    ]
    .into_iter()
    .map(Bytes::from_static)
    .collect()
}

/// What a stream does after its scripted frames.
enum Then {
    /// Heartbeats and pushed events until closed.
    Follow,
    /// Nothing, with the socket open.
    Hang,
    /// End the response.
    Close,
}

struct EventStream {
    shared: Arc<Shared>,
    frames: VecDeque<Bytes>,
    then: Then,
    pushed: broadcast::Receiver<Bytes>,
    heartbeat: Interval,
    disconnect: watch::Receiver<u64>,
    shutdown: watch::Receiver<bool>,
}

impl EventStream {
    /// Subscribes at once, so events pushed after the connection is counted
    /// reach it.
    fn new(shared: Arc<Shared>, frames: Vec<Bytes>, then: Then, period: Duration) -> EventStream {
        shared.open_streams.fetch_add(1, Ordering::SeqCst);
        EventStream {
            pushed: shared.pushed.subscribe(),
            disconnect: shared.disconnect.subscribe(),
            shutdown: shared.shutdown.clone(),
            heartbeat: tokio::time::interval_at(Instant::now() + period, period),
            frames: frames.into(),
            then,
            shared,
        }
    }

    async fn next_frame(&mut self) -> Option<Bytes> {
        let shared = self.shared.clone();
        let mut frozen = shared.frozen.subscribe();
        let frame = self.unfrozen_frame();
        tokio::pin!(frame);
        // A frozen server sends nothing, not even what was already due.
        let frozen = async move {
            let _ = frozen.wait_for(|f| f.is_some()).await.is_ok();
        };
        tokio::select! {
            biased;
            () = frozen => {
                shared.hang_while_frozen().await;
                None
            }
            frame = &mut frame => frame,
        }
    }

    async fn unfrozen_frame(&mut self) -> Option<Bytes> {
        if let Some(frame) = self.frames.pop_front() {
            return Some(frame);
        }
        let closed = closed(&mut self.disconnect, &mut self.shutdown);
        tokio::pin!(closed);
        match self.then {
            Then::Close => None,
            Then::Hang => {
                closed.await;
                None
            }
            Then::Follow => loop {
                tokio::select! {
                    _ = self.heartbeat.tick() => {
                        return Some(server_event(&self.shared, "heartbeat", "server.heartbeat"));
                    }
                    pushed = self.pushed.recv() => match pushed {
                        Ok(bytes) => return Some(bytes),
                        Err(broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(broadcast::error::RecvError::Closed) => return None,
                    },
                    _ = &mut closed => return None,
                }
            },
        }
    }
}

impl Drop for EventStream {
    fn drop(&mut self) {
        self.shared.open_streams.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Resolves when the test disconnects all streams or the server stops.
async fn closed(disconnect: &mut watch::Receiver<u64>, shutdown: &mut watch::Receiver<bool>) {
    tokio::select! {
        _ = disconnect.changed() => {}
        _ = shutdown.wait_for(|stopped| *stopped) => {}
    }
}

fn event_stream_response(stream: EventStream) -> Response {
    let body = futures_util::stream::unfold(stream, |mut stream| async move {
        let frame = stream.next_frame().await?;
        Some((Ok::<_, Infallible>(frame), stream))
    });
    (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(body),
    )
        .into_response()
}
