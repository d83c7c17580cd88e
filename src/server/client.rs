//! HTTP client for one OpenCode server: Basic auth, directory scoping, timeouts.
//!
//! Every request but the event stream has a timeout: a server that is still
//! starting can accept a connection and never answer (API notes, gotcha 13).

use crate::core::model::{PermissionReply, PermissionRequest, QuestionRequest, SessionStatus};
use crate::server::events::{self, MalformedEvent};
use crate::server::routes::{self, ApiRequest};
use base64::Engine;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::fmt;
use std::time::Duration;

const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
const HEALTH_TIMEOUT: Duration = Duration::from_secs(3);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// A password that never shows up in Debug output or logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// How to authenticate: HTTP Basic when there is a password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: Option<Secret>,
}

impl Credentials {
    fn header(&self) -> Option<HeaderValue> {
        let password = self.password.as_ref()?;
        let token = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            self.username,
            password.expose()
        ));
        let mut value = HeaderValue::from_str(&format!("Basic {token}")).ok()?;
        value.set_sensitive(true);
        Some(value)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the server rejected the credentials (HTTP 401)")]
    Unauthorized,
    #[error("cannot reach the server: {0}")]
    Unreachable(String),
    #[error("the server did not answer within {0:?}")]
    Timeout(Duration),
    #[error("the server answered HTTP {status}: {message}")]
    Status { status: u16, message: String },
    #[error("the server answered with {0} instead of the expected content (wrong URL?)")]
    WrongContent(String),
    #[error("the server sent something unreadable: {0}")]
    Malformed(String),
}

impl From<MalformedEvent> for ApiError {
    fn from(e: MalformedEvent) -> Self {
        ApiError::Malformed(e.to_string())
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Health {
    pub healthy: bool,
    #[serde(default)]
    pub version: String,
}

/// Makes ring the process's TLS provider for https server URLs (Cargo.toml
/// says why ring); once per process, before the first client is built.
/// `ServerClient::new` calls it; any other `reqwest::Client` in the process
/// (the tests' own) must be built after it, or reqwest panics for want of a
/// provider.
#[cfg(not(target_os = "macos"))]
pub fn install_tls_provider() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        // An error means a provider is installed already, which serves as well.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// macOS uses the system's TLS (native-tls), which needs no provider.
#[cfg(target_os = "macos")]
pub fn install_tls_provider() {}

/// A handle on one server; cheap to clone.
#[derive(Clone)]
pub struct ServerClient {
    http: reqwest::Client,
    base: String,
    auth: Option<HeaderValue>,
}

impl fmt::Debug for ServerClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerClient")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl ServerClient {
    pub fn new(base_url: &str, credentials: &Credentials) -> Self {
        install_tls_provider();
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            // Loopback traffic must never go through a proxy from the environment.
            .no_proxy()
            .build()
            .unwrap_or_default();
        ServerClient {
            http,
            base: base_url.trim_end_matches('/').to_string(),
            auth: credentials.header(),
        }
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// The same server, without credentials (to detect an unsecured server).
    pub fn without_credentials(&self) -> Self {
        ServerClient {
            auth: None,
            ..self.clone()
        }
    }

    /// One of the server's routes (`routes.rs`), with our credentials.
    fn request(&self, route: &ApiRequest) -> RequestBuilder {
        let method = match route.method {
            routes::Method::Get => Method::GET,
            routes::Method::Post => Method::POST,
            routes::Method::Patch => Method::PATCH,
            routes::Method::Delete => Method::DELETE,
        };
        let mut req = self
            .http
            .request(method, format!("{}{}", self.base, route.path));
        if !route.query.is_empty() {
            req = req.query(&route.query);
        }
        if let Some(auth) = &self.auth {
            req = req.header(AUTHORIZATION, auth.clone());
        }
        if let Some(body) = &route.body {
            req = req.json(body);
        }
        req
    }

    async fn send(
        &self,
        req: RequestBuilder,
        timeout: Duration,
    ) -> Result<reqwest::Response, ApiError> {
        let resp = req
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| transport_error(e, timeout))?;
        match resp.status() {
            StatusCode::UNAUTHORIZED => Err(ApiError::Unauthorized),
            s if s.is_success() => Ok(resp),
            s => {
                let body = resp.text().await.unwrap_or_default();
                Err(ApiError::Status {
                    status: s.as_u16(),
                    message: error_message(&body),
                })
            }
        }
    }

    async fn json<T: DeserializeOwned>(
        &self,
        req: RequestBuilder,
        timeout: Duration,
    ) -> Result<T, ApiError> {
        let resp = self.send(req, timeout).await?;
        let is_json = content_type(&resp).starts_with("application/json");
        if !is_json {
            // An unknown route answers 200 with the web UI's HTML.
            return Err(ApiError::WrongContent(content_type(&resp)));
        }
        let body = resp.text().await.map_err(|e| transport_error(e, timeout))?;
        serde_json::from_str(&body).map_err(|e| ApiError::Malformed(e.to_string()))
    }

    /// `GET /global/health`.
    pub async fn health(&self) -> Result<Health, ApiError> {
        self.json(self.request(&routes::health()), HEALTH_TIMEOUT)
            .await
    }

    /// `GET /path` of the server's default directory: its working directory.
    pub async fn default_directory(&self) -> Result<String, ApiError> {
        #[derive(Deserialize)]
        struct PathInfo {
            directory: String,
        }
        let info: PathInfo = self
            .json(self.request(&routes::path_info()), REQUEST_TIMEOUT)
            .await?;
        Ok(info.directory)
    }

    /// Non-idle sessions of one directory.
    pub async fn session_statuses(
        &self,
        directory: &str,
    ) -> Result<Vec<(String, SessionStatus)>, ApiError> {
        let body = self.text(&routes::session_status(directory)).await?;
        Ok(events::parse_statuses(&body)?)
    }

    pub async fn pending_permissions(
        &self,
        directory: &str,
    ) -> Result<Vec<PermissionRequest>, ApiError> {
        let body = self.text(&routes::permissions(directory)).await?;
        Ok(events::parse_permissions(&body)?)
    }

    pub async fn pending_questions(
        &self,
        directory: &str,
    ) -> Result<Vec<QuestionRequest>, ApiError> {
        let body = self.text(&routes::questions(directory)).await?;
        Ok(events::parse_questions(&body)?)
    }

    async fn text(&self, route: &ApiRequest) -> Result<String, ApiError> {
        let resp = self.send(self.request(route), REQUEST_TIMEOUT).await?;
        if !content_type(&resp).starts_with("application/json") {
            return Err(ApiError::WrongContent(content_type(&resp)));
        }
        resp.text()
            .await
            .map_err(|e| transport_error(e, REQUEST_TIMEOUT))
    }

    /// `POST /session`: a new session in `directory`; returns its id.
    pub async fn create_session(
        &self,
        directory: Option<&str>,
        title: Option<&str>,
    ) -> Result<String, ApiError> {
        #[derive(Deserialize)]
        struct Created {
            id: String,
        }
        let created: Created = self
            .json(
                self.request(&routes::create_session(directory, title)),
                REQUEST_TIMEOUT,
            )
            .await?;
        Ok(created.id)
    }

    /// `POST /session/{id}/prompt_async`: returns at once; progress comes as events.
    pub async fn prompt_async(&self, session: &str, prompt: &Prompt) -> Result<(), ApiError> {
        let route = routes::prompt_async(path_segment(session)?, prompt.body());
        self.send(self.request(&route), REQUEST_TIMEOUT).await?;
        Ok(())
    }

    /// `POST /session/{id}/abort`.
    pub async fn abort(&self, session: &str) -> Result<(), ApiError> {
        let route = routes::abort(path_segment(session)?, None);
        self.send(self.request(&route), REQUEST_TIMEOUT).await?;
        Ok(())
    }

    /// `POST /permission/{id}/reply?directory=D`.
    pub async fn reply_permission(
        &self,
        id: &str,
        directory: Option<&str>,
        reply: PermissionReply,
    ) -> Result<(), ApiError> {
        let route = routes::reply_permission(path_segment(id)?, directory, reply.as_str());
        self.send(self.request(&route), REQUEST_TIMEOUT).await?;
        Ok(())
    }

    /// `POST /question/{id}/reply?directory=D` with one list of labels per question.
    pub async fn reply_question(
        &self,
        id: &str,
        directory: Option<&str>,
        answers: &[Vec<String>],
    ) -> Result<(), ApiError> {
        let route = routes::reply_question(path_segment(id)?, directory, answers);
        self.send(self.request(&route), REQUEST_TIMEOUT).await?;
        Ok(())
    }

    /// One JSON request (the page's allowlisted calls are made of these):
    /// the body (`null` when empty, as for 204) and the `x-next-cursor` header
    /// (message paging).
    pub async fn call_json(
        &self,
        route: &ApiRequest,
    ) -> Result<(serde_json::Value, Option<String>), ApiError> {
        let resp = self.send(self.request(route), REQUEST_TIMEOUT).await?;
        let cursor = resp
            .headers()
            .get("x-next-cursor")
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
            .map(str::to_string);
        if resp.status() == StatusCode::NO_CONTENT {
            return Ok((serde_json::Value::Null, cursor));
        }
        let ct = content_type(&resp);
        let body = resp
            .text()
            .await
            .map_err(|e| transport_error(e, REQUEST_TIMEOUT))?;
        if body.trim().is_empty() {
            return Ok((serde_json::Value::Null, cursor));
        }
        if !ct.starts_with("application/json") {
            // An unknown route answers 200 with the web UI's HTML.
            return Err(ApiError::WrongContent(ct));
        }
        let value = serde_json::from_str(&body).map_err(|e| ApiError::Malformed(e.to_string()))?;
        Ok((value, cursor))
    }

    /// Opens `GET /global/event`; only 200 with `text/event-stream` is accepted.
    pub async fn open_event_stream(&self) -> Result<reqwest::Response, ApiError> {
        let req = self
            .request(&routes::event_stream())
            .header("accept", "text/event-stream");
        // No total timeout (the stream is long-lived and the watcher has a
        // watchdog), but the response headers must come in reasonable time.
        let resp = tokio::time::timeout(REQUEST_TIMEOUT, req.send())
            .await
            .map_err(|_| ApiError::Timeout(REQUEST_TIMEOUT))?
            .map_err(|e| transport_error(e, CONNECT_TIMEOUT))?;
        match resp.status() {
            StatusCode::UNAUTHORIZED => return Err(ApiError::Unauthorized),
            StatusCode::OK => {}
            s => {
                return Err(ApiError::Status {
                    status: s.as_u16(),
                    message: "the event stream was refused".into(),
                });
            }
        }
        let ct = content_type(&resp);
        if !ct.starts_with("text/event-stream") {
            return Err(ApiError::WrongContent(ct));
        }
        Ok(resp)
    }
}

/// A prompt for `prompt_async`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Prompt {
    pub text: String,
    /// `provider/model`.
    pub model: Option<(String, String)>,
    pub agent: Option<String>,
}

impl Prompt {
    fn body(&self) -> serde_json::Value {
        let model = self.model.as_ref().map(|(p, m)| (p.as_str(), m.as_str()));
        routes::prompt_body(&self.text, model, self.agent.as_deref())
    }
}

/// Ids go into URL paths: allow only the characters the server's ids use.
fn path_segment(id: &str) -> Result<&str, ApiError> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(id)
    } else {
        Err(ApiError::Malformed(format!("{id:?} is not a valid id")))
    }
}

fn content_type(resp: &reqwest::Response) -> String {
    resp.headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("no content type")
        .to_string()
}

fn transport_error(e: reqwest::Error, timeout: Duration) -> ApiError {
    if e.is_timeout() {
        ApiError::Timeout(timeout)
    } else {
        // Without the URL: it is ours, and errors may end up in notifications.
        let e = e.without_url();
        let mut message = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(inner) = source {
            message = format!("{message}: {inner}");
            source = inner.source();
        }
        ApiError::Unreachable(message)
    }
}

/// The server's error bodies look like `{"name":…,"data":{"message":…}}`.
fn error_message(body: &str) -> String {
    #[derive(Deserialize)]
    struct Wire {
        #[serde(default)]
        data: Option<Data>,
        #[serde(default)]
        message: Option<String>,
    }
    #[derive(Deserialize)]
    struct Data {
        #[serde(default)]
        message: Option<String>,
    }
    match serde_json::from_str::<Wire>(body) {
        Ok(w) => w
            .data
            .and_then(|d| d.message)
            .or(w.message)
            .unwrap_or_else(|| truncate(body, 200)),
        Err(_) => truncate(body, 200),
    }
}

fn truncate(text: &str, max: usize) -> String {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_do_not_print() {
        let creds = Credentials {
            username: "opencode".into(),
            password: Some(Secret::new("hunter2")),
        };
        assert!(!format!("{creds:?}").contains("hunter2"));
        let client = ServerClient::new("http://127.0.0.1:1", &creds);
        assert!(!format!("{client:?}").contains("hunter2"));
        assert!(creds.header().unwrap().is_sensitive());
    }

    #[test]
    fn ids_with_path_characters_are_refused() {
        assert!(path_segment("ses_abc-123").is_ok());
        for bad in ["", "../x", "a/b", "a?b", "ses x"] {
            assert!(path_segment(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn prompt_body_names_model_and_agent() {
        let body = Prompt {
            text: "hi".into(),
            model: Some(("mock".into(), "echo".into())),
            agent: Some("plan".into()),
        }
        .body();
        assert_eq!(body["model"]["modelID"], "echo");
        assert_eq!(body["agent"], "plan");
        assert_eq!(body["parts"][0]["text"], "hi");
    }

    #[test]
    fn error_bodies_give_their_message() {
        assert_eq!(
            error_message(r#"{"name":"NotFoundError","data":{"message":"Session not found"}}"#),
            "Session not found"
        );
        assert_eq!(error_message("plain"), "plain");
    }
}
