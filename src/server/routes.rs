//! OpenCode's REST routes, spelled once: the HTTP client's own calls
//! (`client.rs`) and the page's allowlisted calls (`page::protocol`) are both
//! built from these. Plain data, no HTTP, so the fuzz build can check them.
//!
//! Ids are put into paths as given: callers check them first (the client's
//! `path_segment`, the page protocol's `is_id`).

use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Patch,
    Delete,
}

/// One HTTP request to the OpenCode server.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiRequest {
    pub method: Method,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub body: Option<Value>,
}

impl ApiRequest {
    fn new(method: Method, path: impl Into<String>) -> Self {
        ApiRequest {
            method,
            path: path.into(),
            query: Vec::new(),
            body: None,
        }
    }

    /// Scopes the request to a project directory (`?directory=`).
    fn directory(mut self, directory: Option<&str>) -> Self {
        if let Some(d) = directory {
            self.query.push(("directory".into(), d.into()));
        }
        self
    }

    fn query(mut self, key: &str, value: impl Into<String>) -> Self {
        self.query.push((key.into(), value.into()));
        self
    }

    fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }
}

/// `GET /global/health`.
pub fn health() -> ApiRequest {
    ApiRequest::new(Method::Get, "/global/health")
}

/// `GET /path`: the server's default directory.
pub fn path_info() -> ApiRequest {
    ApiRequest::new(Method::Get, "/path")
}

/// `GET /global/event`: the event stream.
pub fn event_stream() -> ApiRequest {
    ApiRequest::new(Method::Get, "/global/event")
}

/// `GET /session?directory=D&roots=true&limit=100[&search=S]`: top-level sessions.
pub fn sessions(directory: &str, search: Option<&str>) -> ApiRequest {
    let request = ApiRequest::new(Method::Get, "/session")
        .directory(Some(directory))
        .query("roots", "true")
        .query("limit", "100");
    match search {
        Some(s) => request.query("search", s),
        None => request,
    }
}

/// `POST /session[?directory=D]` with an optional title.
pub fn create_session(directory: Option<&str>, title: Option<&str>) -> ApiRequest {
    let body = match title {
        Some(t) => json!({ "title": t }),
        None => json!({}),
    };
    ApiRequest::new(Method::Post, "/session")
        .directory(directory)
        .body(body)
}

/// `PATCH /session/{id}` with a new title.
pub fn rename_session(session: &str, title: &str) -> ApiRequest {
    ApiRequest::new(Method::Patch, format!("/session/{session}")).body(json!({ "title": title }))
}

/// `DELETE /session/{id}`.
pub fn delete_session(session: &str) -> ApiRequest {
    ApiRequest::new(Method::Delete, format!("/session/{session}"))
}

/// `GET /session/{id}/message?limit=N[&before=C]`: one page of messages.
pub fn messages(session: &str, limit: u32, before: Option<&str>) -> ApiRequest {
    let request = ApiRequest::new(Method::Get, format!("/session/{session}/message"))
        .query("limit", limit.to_string());
    match before {
        Some(cursor) => request.query("before", cursor),
        None => request,
    }
}

/// `POST /session/{id}/prompt_async` with a [`prompt_body`]: returns at once;
/// progress comes as events.
pub fn prompt_async(session: &str, body: Value) -> ApiRequest {
    ApiRequest::new(Method::Post, format!("/session/{session}/prompt_async")).body(body)
}

/// A prompt's body: its text, and the model (`(provider, model)`) and agent
/// when chosen.
pub fn prompt_body(text: &str, model: Option<(&str, &str)>, agent: Option<&str>) -> Value {
    let mut body = json!({ "parts": [{ "type": "text", "text": text }] });
    if let Some((provider, model)) = model {
        body["model"] = json!({ "providerID": provider, "modelID": model });
    }
    if let Some(agent) = agent {
        body["agent"] = json!(agent);
    }
    body
}

/// `POST /session/{id}/abort` (the page sends an empty JSON body with it).
pub fn abort(session: &str, body: Option<Value>) -> ApiRequest {
    ApiRequest {
        body,
        ..ApiRequest::new(Method::Post, format!("/session/{session}/abort"))
    }
}

/// `GET /session/status?directory=D`: the non-idle sessions.
pub fn session_status(directory: &str) -> ApiRequest {
    ApiRequest::new(Method::Get, "/session/status").directory(Some(directory))
}

/// `GET /permission?directory=D`: pending permission requests.
pub fn permissions(directory: &str) -> ApiRequest {
    ApiRequest::new(Method::Get, "/permission").directory(Some(directory))
}

/// `GET /question?directory=D`: pending questions.
pub fn questions(directory: &str) -> ApiRequest {
    ApiRequest::new(Method::Get, "/question").directory(Some(directory))
}

/// `POST /permission/{id}/reply[?directory=D]`; `reply` is once, always or reject.
pub fn reply_permission(request: &str, directory: Option<&str>, reply: &str) -> ApiRequest {
    ApiRequest::new(Method::Post, format!("/permission/{request}/reply"))
        .directory(directory)
        .body(json!({ "reply": reply }))
}

/// `POST /question/{id}/reply[?directory=D]` with one list of labels per question.
pub fn reply_question(
    request: &str,
    directory: Option<&str>,
    answers: &[Vec<String>],
) -> ApiRequest {
    ApiRequest::new(Method::Post, format!("/question/{request}/reply"))
        .directory(directory)
        .body(json!({ "answers": answers }))
}

/// `POST /question/{id}/reject?directory=D`.
pub fn reject_question(request: &str, directory: &str) -> ApiRequest {
    ApiRequest::new(Method::Post, format!("/question/{request}/reject"))
        .directory(Some(directory))
        .body(json!({}))
}

/// `GET /config/providers`: the connected providers and their models.
pub fn providers() -> ApiRequest {
    ApiRequest::new(Method::Get, "/config/providers")
}

/// `GET /config`: the server's configuration (the page gets only `model`).
pub fn config() -> ApiRequest {
    ApiRequest::new(Method::Get, "/config")
}

/// `GET /agent`: the agents.
pub fn agents() -> ApiRequest {
    ApiRequest::new(Method::Get, "/agent")
}
