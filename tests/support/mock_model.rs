//! A scriptable OpenAI-compatible model server. opencode talks to it as the
//! provider `mock`; markers in the last user message choose what it answers,
//! so a test scripts the "LLM" by what it types:
//!
//! | marker          | reply                                                        |
//! |-----------------|--------------------------------------------------------------|
//! | (none)          | `echo: <user text>`, streamed word by word                    |
//! | `[bash:CMD]`    | a `bash` tool call; after its result `tool said: <output>`    |
//! | `[bash2:A|B]`   | two `bash` tool calls (A and B) in one step, run in parallel  |
//! | `[question]`    | a `question` tool call ("Deploy now?", Yes/No); after the      |
//! |                 | answer `answer was: <tool output>`                            |
//! | `[write:PATH]`  | a `write` tool call creating PATH with [`WRITTEN_CONTENT`]    |
//! | `[slow]`        | [`SLOW_WORDS`] words, one every [`SLOW_INTERVAL`]             |
//! | `[reasoning]`   | [`REASONING_TEXT`] as `reasoning_content`, then the echo       |
//! | `[error:CODE]`  | HTTP CODE with an OpenAI-style error body                     |
//! | `[markdown]`    | [`MARKDOWN_REPLY`] (a fenced rust block)                      |
//! | `[html]`        | [`HTML_REPLY`] (an `<img onerror>` and a `<script>`)          |
//! | `[burst:N]`     | N words `wI ` at [`BURST_RATE`] chunks a second (benchmarks)   |
//! | `[delay:MS]`    | combines with the others: wait MS before the first chunk      |
//!
//! A request without `tools` (opencode's hidden title agent) always gets
//! [`TITLE_REPLY`], so markers only drive the visible conversation.

use std::{
    convert::Infallible,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
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
use tokio::sync::watch;

/// The model id the mock serves (the config names it `mock/echo`).
pub const MODEL_ID: &str = "echo";
/// What a request without tools (the title agent) gets.
pub const TITLE_REPLY: &str = "Test title";
/// The reasoning text streamed for `[reasoning]`.
pub const REASONING_TEXT: &str = "Let me think about this step by step.";
/// The file content written for `[write:PATH]`.
pub const WRITTEN_CONTENT: &str = "written by the mock model\n";
/// The reply for `[markdown]`.
pub const MARKDOWN_REPLY: &str =
    "Here is some code:\n\n```rust\nfn main() {\n    println!(\"hi\");\n}\n```\n\nThat is all.";
/// The reply for `[html]`: markup a UI must show as text, never run.
pub const HTML_REPLY: &str =
    "Careful: <img src=x onerror=alert(1)> and <script>alert(2)</script> are just text.";
/// The question asked for `[question]`.
pub const QUESTION_TEXT: &str = "Deploy now?";
/// The header of that question.
pub const QUESTION_HEADER: &str = "Confirm";
/// How many chunks a second `[burst:N]` streams (in groups every 10 ms).
pub const BURST_RATE: usize = 2000;
const BURST_TICK: Duration = Duration::from_millis(10);

/// The text `[burst:N]` streams.
pub fn burst_text(words: usize) -> String {
    (1..=words).map(|i| format!("w{i} ")).collect()
}

/// How many words `[slow]` streams, and how far apart.
pub const SLOW_WORDS: usize = 60;
pub const SLOW_INTERVAL: Duration = Duration::from_millis(500);

/// A small gap between ordinary chunks, so the client sees several deltas
/// instead of one coalesced read.
const WORD_INTERVAL: Duration = Duration::from_millis(5);

/// One HTTP request the mock received.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    pub authorization: Option<String>,
    /// The JSON body, or `Value::Null` when there was none or it was not JSON.
    pub body: Value,
}

impl RecordedRequest {
    pub fn is_chat(&self) -> bool {
        self.path.ends_with("/chat/completions")
    }

    /// True for agent turns; opencode's title agent sends no tools.
    pub fn has_tools(&self) -> bool {
        self.body["tools"].as_array().is_some_and(|t| !t.is_empty())
    }

    pub fn is_stream(&self) -> bool {
        self.body["stream"].as_bool().unwrap_or(false)
    }

    pub fn messages(&self) -> &[Value] {
        self.body["messages"].as_array().map_or(&[], Vec::as_slice)
    }

    /// The text of the last `user` message (text parts joined by newlines).
    pub fn last_user_text(&self) -> Option<String> {
        self.messages()
            .iter()
            .rev()
            .find(|m| m["role"] == "user")
            .map(|m| content_text(&m["content"]))
    }

    /// The role of the last message: `tool` right after a tool ran.
    pub fn last_role(&self) -> Option<&str> {
        self.messages().last().and_then(|m| m["role"].as_str())
    }

    /// Names of the tools offered to the model.
    pub fn tool_names(&self) -> Vec<String> {
        self.tools()
            .filter_map(|t| t["function"]["name"].as_str().map(str::to_owned))
            .collect()
    }

    /// The JSON schema of one offered tool's parameters.
    pub fn tool_schema(&self, name: &str) -> Option<&Value> {
        self.tools()
            .find(|t| t["function"]["name"] == name)
            .map(|t| &t["function"]["parameters"])
    }

    /// When the last message is a tool result: the called tool's name (found
    /// through its call id) and the result text.
    pub fn tool_result(&self) -> Option<(String, String)> {
        let last = self.messages().last().filter(|m| m["role"] == "tool")?;
        let call_id = last["tool_call_id"].as_str().unwrap_or_default();
        let name = self
            .messages()
            .iter()
            .filter_map(|m| m["tool_calls"].as_array())
            .flatten()
            .find(|call| call["id"] == call_id)
            .and_then(|call| call["function"]["name"].as_str())
            .unwrap_or("unknown");
        Some((name.to_owned(), content_text(&last["content"])))
    }

    fn tools(&self) -> impl Iterator<Item = &Value> {
        self.body["tools"].as_array().into_iter().flatten()
    }
}

/// Message content is either a string or an array of `{type:"text",text}` parts.
fn content_text(content: &Value) -> String {
    match content {
        Value::String(text) => text.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// A running mock model server. Dropping it stops the server and cuts any
/// stream still in progress.
pub struct MockModel {
    base_url: String,
    shared: Arc<Shared>,
    shutdown: watch::Sender<bool>,
}

struct Shared {
    requests: Mutex<Vec<RecordedRequest>>,
    next_call: AtomicU64,
    shutdown: watch::Receiver<bool>,
}

impl MockModel {
    /// Binds 127.0.0.1:0 and serves in the background of the current runtime.
    pub async fn start() -> MockModel {
        let (listener, port) = super::local_http::bind_loopback("mock model server").await;
        let (shutdown, stop) = watch::channel(false);
        let shared = Arc::new(Shared {
            requests: Mutex::new(Vec::new()),
            next_call: AtomicU64::new(1),
            shutdown: stop.clone(),
        });
        let app = Router::new()
            .route("/v1/models", get(models))
            .route("/v1/chat/completions", post(chat))
            .fallback(not_found)
            .with_state(shared.clone());
        super::local_http::serve_until_stopped(listener, app, stop);
        MockModel {
            base_url: format!("http://127.0.0.1:{port}/v1"),
            shared,
            shutdown,
        }
    }

    /// `http://127.0.0.1:PORT/v1`, the provider's `baseURL`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Every request so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.requests.lock().expect("requests lock").clone()
    }

    /// Chat completion requests, including the title agent's.
    pub fn chat_requests(&self) -> Vec<RecordedRequest> {
        self.requests()
            .into_iter()
            .filter(|r| r.is_chat())
            .collect()
    }

    /// Chat requests of agent turns (with tools): one per model step.
    pub fn agent_requests(&self) -> Vec<RecordedRequest> {
        self.chat_requests()
            .into_iter()
            .filter(|r| r.has_tools())
            .collect()
    }

    /// The last user message of the latest agent turn.
    pub fn last_user_text(&self) -> Option<String> {
        self.agent_requests().last()?.last_user_text()
    }

    /// Waits until at least `count` agent requests arrived; panics on timeout.
    pub async fn wait_for_agent_requests(
        &self,
        count: usize,
        timeout: Duration,
    ) -> Vec<RecordedRequest> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let requests = self.agent_requests();
            if requests.len() >= count {
                return requests;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "mock model: expected {count} agent requests within {timeout:?}, got {}",
                requests.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for MockModel {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

impl Shared {
    fn record(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &[u8],
    ) -> RecordedRequest {
        let request = RecordedRequest {
            method: method.to_string(),
            path: uri.path().to_owned(),
            authorization: headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            body: serde_json::from_slice(body).unwrap_or(Value::Null),
        };
        self.requests
            .lock()
            .expect("requests lock")
            .push(request.clone());
        request
    }

    fn next_call_id(&self) -> String {
        format!(
            "call_mock_{}",
            self.next_call.fetch_add(1, Ordering::Relaxed)
        )
    }
}

async fn models(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    shared.record(&method, &uri, &headers, &[]);
    axum::Json(json!({
        "object": "list",
        "data": [{"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "mock"}],
    }))
    .into_response()
}

async fn not_found(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    shared.record(&method, &uri, &headers, &body);
    error_response(StatusCode::NOT_FOUND, "no such route on the mock model")
}

async fn chat(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = shared.record(&method, &uri, &headers, &body);
    if request.body.is_null() {
        return error_response(StatusCode::BAD_REQUEST, "body is not JSON");
    }
    let plan = Plan::for_request(&request);
    let model = request.body["model"]
        .as_str()
        .unwrap_or(MODEL_ID)
        .to_owned();
    let call_id = shared.next_call_id();
    match plan.reply {
        Err(status) => {
            tokio::time::sleep(plan.delay).await;
            error_response(status, &format!("mock failure {}", status.as_u16()))
        }
        Ok(reply) if request.is_stream() => {
            let usage = request.body["stream_options"]["include_usage"] == true;
            let frames = stream_frames(&reply, &model, &call_id, plan.delay, usage);
            sse_response(frames, shared.shutdown.clone())
        }
        Ok(reply) => {
            tokio::time::sleep(plan.delay).await;
            axum::Json(completion(&reply, &model, &call_id)).into_response()
        }
    }
}

/// What to answer, decided from the request alone.
struct Plan {
    delay: Duration,
    /// `Err` answers with that HTTP status instead of a completion.
    reply: Result<Reply, StatusCode>,
}

enum Reply {
    Text {
        reasoning: Option<String>,
        chunks: Vec<String>,
        /// The pause before each group of `per_pause` chunks.
        interval: Duration,
        per_pause: usize,
    },
    ToolCall {
        name: &'static str,
        arguments: Value,
    },
    /// Several tool calls in one step (the agent runs them in parallel).
    ToolCalls(Vec<(&'static str, Value)>),
}

impl Plan {
    fn for_request(request: &RecordedRequest) -> Plan {
        let text = request.last_user_text().unwrap_or_default();
        let delay = marker_arg(&text, "delay")
            .and_then(|ms| ms.trim().parse().ok())
            .map(Duration::from_millis)
            .unwrap_or_default();
        Plan {
            delay,
            reply: reply_for(request, &text),
        }
    }
}

fn reply_for(request: &RecordedRequest, text: &str) -> Result<Reply, StatusCode> {
    if !request.has_tools() {
        return Ok(Reply::text(TITLE_REPLY));
    }
    // A tool result ends the turn with text; checking it first also keeps the
    // marker, still the last user message, from calling the tool forever.
    if let Some((tool, output)) = request.tool_result() {
        let prefix = if tool == "question" {
            "answer was:"
        } else {
            "tool said:"
        };
        return Ok(Reply::text(&format!("{prefix} {}", output.trim())));
    }
    if let Some(code) = marker_arg(text, "error") {
        let status = code.trim().parse().ok();
        let status = status.and_then(|c| StatusCode::from_u16(c).ok());
        return Err(status.unwrap_or(StatusCode::INTERNAL_SERVER_ERROR));
    }
    if let Some(commands) = marker_arg(text, "bash2") {
        let calls = commands
            .split('|')
            .map(|command| {
                let arguments =
                    json!({"command": command, "description": format!("Run {command}")});
                ("bash", arguments)
            })
            .collect();
        return Ok(Reply::ToolCalls(calls));
    }
    if let Some(command) = marker_arg(text, "bash") {
        return Ok(Reply::ToolCall {
            name: "bash",
            arguments: json!({"command": command, "description": format!("Run {command}")}),
        });
    }
    if text.contains("[question]") {
        return Ok(Reply::ToolCall {
            name: "question",
            arguments: question_arguments(),
        });
    }
    if let Some(path) = marker_arg(text, "write") {
        return Ok(Reply::ToolCall {
            name: "write",
            arguments: json!({"filePath": path, "content": WRITTEN_CONTENT}),
        });
    }
    if text.contains("[slow]") {
        let words = (1..=SLOW_WORDS).map(|i| format!("word{i} ")).collect();
        return Ok(Reply::Text {
            reasoning: None,
            chunks: words,
            interval: SLOW_INTERVAL,
            per_pause: 1,
        });
    }
    if let Some(n) = marker_arg(text, "burst").and_then(|n| n.trim().parse::<usize>().ok()) {
        return Ok(Reply::Text {
            reasoning: None,
            chunks: split_words(&burst_text(n.min(200_000))),
            interval: BURST_TICK,
            per_pause: BURST_RATE * BURST_TICK.as_millis() as usize / 1000,
        });
    }
    let echo = format!("echo: {text}");
    if text.contains("[reasoning]") {
        return Ok(Reply::Text {
            reasoning: Some(REASONING_TEXT.to_owned()),
            chunks: split_words(&echo),
            interval: WORD_INTERVAL,
            per_pause: 1,
        });
    }
    if text.contains("[markdown]") {
        return Ok(Reply::text(MARKDOWN_REPLY));
    }
    if text.contains("[html]") {
        return Ok(Reply::text(HTML_REPLY));
    }
    Ok(Reply::text(&echo))
}

impl Reply {
    fn text(text: &str) -> Reply {
        Reply::Text {
            reasoning: None,
            chunks: split_words(text),
            interval: WORD_INTERVAL,
            per_pause: 1,
        }
    }
}

/// The `question` tool's input: `{questions:[{question,header,options:[{label,description}]}]}`
/// (opencode 1.18 schema; `multiple` is optional).
fn question_arguments() -> Value {
    json!({"questions": [{
        "question": QUESTION_TEXT,
        "header": QUESTION_HEADER,
        "options": [
            {"label": "Yes", "description": "Go ahead"},
            {"label": "No", "description": "Stop"},
        ],
    }]})
}

/// The text between `[name:` and the next `]`.
fn marker_arg<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("[{name}:");
    let start = text.find(&open)? + open.len();
    let len = text[start..].find(']')?;
    Some(&text[start..start + len])
}

/// Splits after each whitespace run, so the chunks concatenate to `text`.
fn split_words(text: &str) -> Vec<String> {
    let mut chunks = Vec::new();
    let mut current = String::new();
    let mut in_space = false;
    for ch in text.chars() {
        if in_space && !ch.is_whitespace() {
            chunks.push(std::mem::take(&mut current));
        }
        in_space = ch.is_whitespace();
        current.push(ch);
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    chunks
}

fn chunk(model: &str, delta: Value, finish_reason: Option<&str>) -> Value {
    json!({
        "id": "chatcmpl-mock",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    })
}

fn usage() -> Value {
    json!({"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15})
}

/// The SSE frames of a streamed reply, each with the pause before it.
fn stream_frames(
    reply: &Reply,
    model: &str,
    call_id: &str,
    delay: Duration,
    include_usage: bool,
) -> Vec<(Duration, Bytes)> {
    let mut deltas: Vec<(Duration, Value)> = Vec::new();
    let finish = match reply {
        Reply::Text {
            reasoning,
            chunks,
            interval,
            per_pause,
        } => {
            if let Some(reasoning) = reasoning {
                for word in split_words(reasoning) {
                    deltas.push((WORD_INTERVAL, json!({"reasoning_content": word})));
                }
            }
            for (i, word) in chunks.iter().enumerate() {
                let pause = if i % (*per_pause).max(1) == 0 {
                    *interval
                } else {
                    Duration::ZERO
                };
                deltas.push((pause, json!({"content": word})));
            }
            "stop"
        }
        Reply::ToolCall { name, arguments } => {
            let call = json!({
                "index": 0,
                "id": call_id,
                "type": "function",
                "function": {"name": name, "arguments": arguments.to_string()},
            });
            deltas.push((WORD_INTERVAL, json!({"tool_calls": [call]})));
            "tool_calls"
        }
        Reply::ToolCalls(calls) => {
            for (index, (name, arguments)) in calls.iter().enumerate() {
                let call = json!({
                    "index": index,
                    "id": format!("{call_id}_{index}"),
                    "type": "function",
                    "function": {"name": name, "arguments": arguments.to_string()},
                });
                deltas.push((WORD_INTERVAL, json!({"tool_calls": [call]})));
            }
            "tool_calls"
        }
    };
    if let Some((first_pause, first)) = deltas.first_mut() {
        *first_pause = delay;
        first["role"] = json!("assistant");
    }
    let mut frames: Vec<(Duration, Value)> = deltas
        .into_iter()
        .map(|(pause, delta)| (pause, chunk(model, delta, None)))
        .collect();
    frames.push((Duration::ZERO, chunk(model, json!({}), Some(finish))));
    if include_usage {
        let mut last = chunk(model, json!({}), None);
        last["choices"] = json!([]);
        last["usage"] = usage();
        frames.push((Duration::ZERO, last));
    }
    let mut frames: Vec<(Duration, Bytes)> = frames
        .into_iter()
        .map(|(pause, value)| (pause, Bytes::from(format!("data: {value}\n\n"))))
        .collect();
    frames.push((Duration::ZERO, Bytes::from_static(b"data: [DONE]\n\n")));
    frames
}

/// A non-streaming `chat.completion` for the same reply.
fn completion(reply: &Reply, model: &str, call_id: &str) -> Value {
    let (message, finish) = match reply {
        Reply::Text {
            reasoning, chunks, ..
        } => {
            let mut message = json!({"role": "assistant", "content": chunks.concat()});
            if let Some(reasoning) = reasoning {
                message["reasoning_content"] = json!(reasoning);
            }
            (message, "stop")
        }
        Reply::ToolCall { name, arguments } => (
            json!({"role": "assistant", "content": null, "tool_calls": [{
                "id": call_id,
                "type": "function",
                "function": {"name": name, "arguments": arguments.to_string()},
            }]}),
            "tool_calls",
        ),
        Reply::ToolCalls(calls) => {
            let calls: Vec<Value> = calls
                .iter()
                .enumerate()
                .map(|(index, (name, arguments))| {
                    json!({
                        "id": format!("{call_id}_{index}"),
                        "type": "function",
                        "function": {"name": name, "arguments": arguments.to_string()},
                    })
                })
                .collect();
            (
                json!({"role": "assistant", "content": null, "tool_calls": calls}),
                "tool_calls",
            )
        }
    };
    json!({
        "id": "chatcmpl-mock",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": usage(),
    })
}

/// Streams the frames with their pauses; stops early when the mock shuts down.
/// A client that disconnects drops the body, which ends the stream too.
fn sse_response(frames: Vec<(Duration, Bytes)>, shutdown: watch::Receiver<bool>) -> Response {
    let stream = futures_util::stream::unfold(
        (frames.into_iter(), shutdown),
        |(mut frames, mut shutdown)| async move {
            let (pause, bytes) = frames.next()?;
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = shutdown.wait_for(|stopped| *stopped) => return None,
            }
            Some((Ok::<_, Infallible>(bytes), (frames, shutdown)))
        },
    );
    (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}

fn error_response(status: StatusCode, message: &str) -> Response {
    // opencode retries bodies that say `server_error`, so only 5xx say so.
    let kind = if status.is_server_error() {
        "server_error"
    } else {
        "invalid_request_error"
    };
    let body = json!({"error": {"message": message, "type": kind, "code": status.as_u16()}});
    (status, axum::Json(body)).into_response()
}
