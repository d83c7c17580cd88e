//! Proves the test support works before any Nexus code relies on it: the
//! real `opencode serve` driven by the mock model (no Nexus code involved),
//! the mock on its own, and the fake event server's fault modes.

// Drives Nexus as a Linux process (XDG dirs, the Unix socket, D-Bus, the
// Linux desktop): Linux only for now (README, Platforms).
#![cfg(target_os = "linux")]

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::{
    fake_event_server::{self, EventMode, FakeEventServer},
    mock_model::{self, MockModel},
    opencode_server::{
        GlobalEvents, OpencodeServer, TestHome, event_type, latest_parts, properties, session_id,
        text_deltas,
    },
};

const PASSWORD: &str = "correct-horse-battery";
/// Generous: several servers may start at once on a small CI machine.
const EVENT_TIMEOUT: Duration = Duration::from_secs(60);

/// One mock model behind one real server. Fields drop in order: the server
/// is killed before its home is deleted.
struct Stack {
    server: OpencodeServer,
    home: TestHome,
    model: MockModel,
}

impl Stack {
    async fn start() -> Stack {
        let model = MockModel::start().await;
        let home = TestHome::new(model.base_url());
        let server = OpencodeServer::start(&home, Some(PASSWORD)).await;
        Stack {
            server,
            home,
            model,
        }
    }

    /// The event stream, once the server confirmed it (so nothing is missed).
    async fn events(&self) -> GlobalEvents {
        let mut events = self.server.global_events().await;
        events
            .wait_for(EVENT_TIMEOUT, "server.connected", |e| {
                event_type(e) == "server.connected"
            })
            .await;
        events
    }

    /// Creates a session; returns its id and directory.
    async fn create_session(&self) -> (String, String) {
        let session = json_of(self.server.post("/session").json(&json!({}))).await;
        let id = session["id"].as_str().expect("session id").to_owned();
        let directory = session["directory"].as_str().expect("session directory");
        (id, directory.to_owned())
    }

    async fn prompt(&self, session: &str, text: &str) {
        let body = json!({"parts": [{"type": "text", "text": text}]});
        let path = format!("/session/{session}/prompt_async");
        let response = self.server.post(&path).json(&body).send().await;
        let status = response.expect("prompt_async").status();
        assert_eq!(status, 204, "prompt_async answered {status}");
    }

    /// POSTs `body` to `path?directory=…` and expects `true`.
    async fn reply(&self, path: &str, directory: &str, body: Value) {
        let url = self.server.url(path, &[("directory", directory)]);
        let request = self.server.request(reqwest::Method::POST, url).json(&body);
        assert_eq!(json_of(request).await, json!(true), "POST {path}");
    }
}

async fn json_of(request: reqwest::RequestBuilder) -> Value {
    let response = request.send().await.expect("request to opencode");
    let status = response.status();
    let text = response.text().await.expect("response body");
    assert!(status.is_success(), "HTTP {status}: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

fn is_event(envelope: &Value, kind: &str, session: &str) -> bool {
    event_type(envelope) == kind && session_id(envelope) == Some(session)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_server_streams_the_mock_echo_as_text_deltas() {
    let stack = Stack::start().await;
    let unauthenticated = support::get(stack.server.url("/global/health", &[]))
        .await
        .expect("health without credentials");
    assert_eq!(unauthenticated.status(), 401);

    let mut events = stack.events().await;
    let (session, _) = stack.create_session().await;
    stack.prompt(&session, "hello there").await;
    let seen = events
        .collect_until(EVENT_TIMEOUT, "session.idle", |e| {
            is_event(e, "session.idle", &session)
        })
        .await;

    assert_eq!(text_deltas(&seen, &session), "echo: hello there");
    let deltas = seen
        .iter()
        .filter(|e| is_event(e, "message.part.delta", &session))
        .count();
    assert!(deltas >= 3, "expected word-by-word deltas, got {deltas}");
    assert_eq!(stack.model.last_user_text().as_deref(), Some("hello there"));
    assert!(
        stack.model.agent_requests()[0]
            .tool_names()
            .contains(&"bash".to_owned())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bash_marker_asks_permission_and_runs_once_allowed() {
    let stack = Stack::start().await;
    let mut events = stack.events().await;
    let (session, directory) = stack.create_session().await;
    stack.prompt(&session, "[bash:echo from-tool]").await;

    let asked = events
        .wait_for(EVENT_TIMEOUT, "permission.asked", |e| {
            is_event(e, "permission.asked", &session)
        })
        .await;
    let request = properties(&asked);
    assert_eq!(request["permission"], "bash");
    assert_eq!(request["metadata"]["command"], "echo from-tool");
    let id = request["id"].as_str().expect("permission id");
    let reply_path = format!("/permission/{id}/reply");
    stack
        .reply(&reply_path, &directory, json!({"reply": "once"}))
        .await;

    let seen = events
        .collect_until(EVENT_TIMEOUT, "session.idle", |e| {
            is_event(e, "session.idle", &session)
        })
        .await;
    assert_eq!(text_deltas(&seen, &session), "tool said: from-tool");
    let tool_turn = stack.model.wait_for_agent_requests(2, EVENT_TIMEOUT).await;
    assert_eq!(tool_turn[1].last_role(), Some("tool"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn question_marker_asks_and_the_answer_reaches_the_model() {
    let stack = Stack::start().await;
    let mut events = stack.events().await;
    let (session, directory) = stack.create_session().await;
    stack.prompt(&session, "[question]").await;

    let asked = events
        .wait_for(EVENT_TIMEOUT, "question.asked", |e| {
            is_event(e, "question.asked", &session)
        })
        .await;
    let question = &properties(&asked)["questions"][0];
    assert_eq!(question["question"], mock_model::QUESTION_TEXT);
    assert_eq!(question["header"], mock_model::QUESTION_HEADER);
    let labels: Vec<&str> = question["options"]
        .as_array()
        .expect("options")
        .iter()
        .filter_map(|o| o["label"].as_str())
        .collect();
    assert_eq!(labels, ["Yes", "No"]);
    let id = properties(&asked)["id"].as_str().expect("question id");
    let reply_path = format!("/question/{id}/reply");
    stack
        .reply(&reply_path, &directory, json!({"answers": [["Yes"]]}))
        .await;

    let seen = events
        .collect_until(EVENT_TIMEOUT, "session.idle", |e| {
            is_event(e, "session.idle", &session)
        })
        .await;
    let reply = text_deltas(&seen, &session);
    assert!(reply.starts_with("answer was:"), "reply: {reply}");
    assert!(reply.contains("\"Yes\""), "reply: {reply}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_marker_asks_edit_permission_then_creates_the_file() {
    let stack = Stack::start().await;
    let mut events = stack.events().await;
    let (session, directory) = stack.create_session().await;
    let target = stack.home.project_dir().join("notes/new.txt");
    let prompt = format!("[write:{}]", target.display());
    stack.prompt(&session, &prompt).await;

    let asked = events
        .wait_for(EVENT_TIMEOUT, "permission.asked", |e| {
            is_event(e, "permission.asked", &session)
        })
        .await;
    assert_eq!(properties(&asked)["permission"], "edit");
    let id = properties(&asked)["id"].as_str().expect("permission id");
    let reply_path = format!("/permission/{id}/reply");
    stack
        .reply(&reply_path, &directory, json!({"reply": "once"}))
        .await;
    events
        .wait_for(EVENT_TIMEOUT, "session.idle", |e| {
            is_event(e, "session.idle", &session)
        })
        .await;

    let written = std::fs::read_to_string(&target).expect("the written file");
    assert_eq!(written, mock_model::WRITTEN_CONTENT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reasoning_marker_streams_a_reasoning_part_before_the_text() {
    let stack = Stack::start().await;
    let mut events = stack.events().await;
    let (session, _) = stack.create_session().await;
    stack.prompt(&session, "[reasoning] why").await;
    let seen = events
        .collect_until(EVENT_TIMEOUT, "session.idle", |e| {
            is_event(e, "session.idle", &session)
        })
        .await;

    // The user's prompt is a text part too; the assistant's parts come last.
    let parts = latest_parts(&seen, &session);
    let text_of = |kind: &str| {
        parts
            .iter()
            .rfind(|p| p["type"] == kind)
            .and_then(|p| p["text"].as_str())
            .unwrap_or_else(|| panic!("no {kind} part in {parts:?}"))
            .to_owned()
    };
    assert_eq!(text_of("reasoning").trim(), mock_model::REASONING_TEXT);
    assert_eq!(text_of("text"), "echo: [reasoning] why");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_marker_can_be_aborted() {
    let stack = Stack::start().await;
    let mut events = stack.events().await;
    let (session, _) = stack.create_session().await;
    stack.prompt(&session, "[slow]").await;
    events
        .wait_for(EVENT_TIMEOUT, "a first delta", |e| {
            is_event(e, "message.part.delta", &session)
        })
        .await;

    let aborted = json_of(stack.server.post(&format!("/session/{session}/abort"))).await;
    assert_eq!(aborted, json!(true));
    let error = events
        .wait_for(EVENT_TIMEOUT, "session.error", |e| {
            is_event(e, "session.error", &session)
        })
        .await;
    assert_eq!(properties(&error)["error"]["name"], "MessageAbortedError");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_marker_401_fails_the_session_at_once() {
    let stack = Stack::start().await;
    let mut events = stack.events().await;
    let (session, _) = stack.create_session().await;
    stack.prompt(&session, "[error:401]").await;
    let error = events
        .wait_for(EVENT_TIMEOUT, "session.error", |e| {
            is_event(e, "session.error", &session)
        })
        .await;
    let error = &properties(&error)["error"];
    assert_eq!(error["name"], "APIError");
    assert_eq!(error["data"]["statusCode"], 401);
}

#[tokio::test]
async fn mock_model_answers_without_streaming_and_lists_models() {
    let model = MockModel::start().await;
    let http = support::http();
    let models = http
        .get(format!("{}/models", model.base_url()))
        .send()
        .await
        .expect("models");
    let models: Value = models.json().await.expect("models JSON");
    assert_eq!(models["data"][0]["id"], mock_model::MODEL_ID);

    let body = json!({
        "model": "echo",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "[markdown]"}]}],
        "tools": [{"type": "function", "function": {"name": "bash", "parameters": {}}}],
    });
    let completion = http
        .post(format!("{}/chat/completions", model.base_url()))
        .json(&body)
        .send()
        .await
        .expect("completion");
    let completion: Value = completion.json().await.expect("completion JSON");
    let message = &completion["choices"][0]["message"];
    assert_eq!(message["content"], mock_model::MARKDOWN_REPLY);
    assert_eq!(model.last_user_text().as_deref(), Some("[markdown]"));
    assert_eq!(model.chat_requests().len(), 1);
}

#[tokio::test]
async fn mock_model_streams_error_and_html_replies() {
    let model = MockModel::start().await;
    let http = support::http();
    let ask = |text: &str| {
        let body = json!({
            "model": "echo",
            "stream": true,
            "messages": [{"role": "user", "content": text}],
            "tools": [{"type": "function", "function": {"name": "bash", "parameters": {}}}],
        });
        http.post(format!("{}/chat/completions", model.base_url()))
            .json(&body)
            .send()
    };

    let failed = ask("[error:503]").await.expect("error request");
    assert_eq!(failed.status(), 503);
    let failed: Value = failed.json().await.expect("error JSON");
    assert_eq!(failed["error"]["type"], "server_error");

    let started = std::time::Instant::now();
    let delayed = ask("[delay:300]").await.expect("delayed request");
    delayed.text().await.expect("delayed body");
    assert!(started.elapsed() >= Duration::from_millis(300));

    let streamed = ask("[html]").await.expect("html request");
    let text = streamed.text().await.expect("stream body");
    assert!(text.trim_end().ends_with("data: [DONE]"), "{text}");
    let content: String = text
        .lines()
        .filter_map(|line| line.strip_prefix("data: "))
        .filter_map(|data| serde_json::from_str::<Value>(data).ok())
        .filter_map(|chunk| {
            chunk["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(content, mock_model::HTML_REPLY);
}

#[tokio::test]
async fn fake_server_unauthorized_mode_refuses_every_route() {
    let fake = FakeEventServer::start().await;
    fake.set_mode(EventMode::Unauthorized);
    for path in ["/global/health", "/global/event", "/path", "/permission"] {
        let response = support::get(format!("{}{path}", fake.base_url()))
            .await
            .expect("request to the fake");
        assert_eq!(response.status(), 401, "{path}");
        let challenge = response.headers()[reqwest::header::WWW_AUTHENTICATE].clone();
        assert_eq!(challenge, r#"Basic realm="Secure Area""#);
    }
    assert_eq!(fake.event_connections(), 1);
}

#[tokio::test]
async fn fake_server_oversized_mode_sends_more_than_a_mebibyte_then_a_small_event() {
    let fake = FakeEventServer::start().await;
    fake.script_connections([EventMode::Oversized]);
    let http = support::http();
    let mut response = http
        .get(format!("{}/global/event", fake.base_url()))
        .basic_auth("opencode", Some("pw"))
        .send()
        .await
        .expect("event stream");
    assert_eq!(
        response.headers()[reqwest::header::CONTENT_TYPE],
        "text/event-stream"
    );

    let mut received = Vec::new();
    let marker = fake_event_server::AFTER_FAULT_EVENT_ID.as_bytes();
    while !received.windows(marker.len()).any(|w| w == marker) {
        let chunk = tokio::time::timeout(Duration::from_secs(10), response.chunk())
            .await
            .expect("stream keeps sending")
            .expect("stream chunk")
            .expect("stream still open");
        received.extend_from_slice(&chunk);
    }
    assert!(received.len() > 1024 * 1024, "got {} bytes", received.len());
    let auth = fake.event_requests()[0].authorization.clone();
    assert_eq!(auth.as_deref(), Some("Basic b3BlbmNvZGU6cHc="));
}

#[tokio::test]
async fn fake_server_pushes_events_and_counts_reconnects() {
    let fake = FakeEventServer::start().await;
    fake.script_connections([EventMode::CloseAfterEachEvent]);
    let url = format!("{}/global/event", fake.base_url());

    let closed = support::get(&url).await.expect("first connection");
    let body = closed.text().await.expect("closed stream body");
    assert!(body.contains("server.connected"), "{body}");
    assert_eq!(fake.open_event_streams(), 0);

    let mut open = support::get(&url).await.expect("second connection");
    fake.wait_for_event_connections(2, Duration::from_secs(5))
        .await;
    let id = fake.push_event(
        "session.status",
        json!({"sessionID": "ses_1", "status": {"type": "busy"}}),
    );
    let mut received = String::new();
    while !received.contains(&id) {
        let chunk = tokio::time::timeout(Duration::from_secs(5), open.chunk())
            .await
            .expect("pushed event arrives")
            .expect("chunk")
            .expect("stream open");
        received.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert_eq!(fake.open_event_streams(), 1);
    fake.disconnect_all();
    let rest = tokio::time::timeout(Duration::from_secs(5), open.chunk()).await;
    assert!(matches!(rest, Ok(Ok(None))), "stream should end: {rest:?}");
}

#[tokio::test]
async fn fake_server_garbage_mode_sends_invalid_bytes_then_valid_events() {
    let fake = FakeEventServer::start().await;
    fake.script_connections([EventMode::Garbage]);
    fake.set_heartbeat(Duration::from_millis(50));
    let mut stream = support::get(format!("{}/global/event", fake.base_url()))
        .await
        .expect("event stream");

    let mut received = Vec::new();
    while !String::from_utf8_lossy(&received).contains("server.heartbeat") {
        let chunk = tokio::time::timeout(Duration::from_secs(5), stream.chunk())
            .await
            .expect("heartbeat arrives")
            .expect("chunk")
            .expect("stream open");
        received.extend_from_slice(&chunk);
    }
    assert!(
        std::str::from_utf8(&received).is_err(),
        "garbage has invalid UTF-8"
    );
    let text = String::from_utf8_lossy(&received);
    let after_fault = text.find(fake_event_server::AFTER_FAULT_EVENT_ID);
    let heartbeat = text.find("server.heartbeat");
    assert!(after_fault.is_some() && after_fault < heartbeat, "{text}");
}
