//! The gateway's web surface, and nothing more: the page's files, sign-in
//! (`/api/login`), pairing (`/api/pair`), sign-out (`/api/logout`) and the
//! page protocol's WebSocket (`/api/ws`). Anything else is 404; there is no
//! way through to the OpenCode server but the page protocol's allowlist.
//!
//! Every request must name this machine in `Host` (else 421: DNS
//! rebinding); POSTs and the WebSocket must come from the gateway's own
//! origin. Every answer carries the page's CSP and friends.

use super::Gateway;
use super::listener::ClientAddr;
use crate::remote::account::{Account, Device};
use crate::remote::password::{self, Verdict};
use crate::remote::{new_device_id, new_token, now_ms, token_hash};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use std::sync::Arc;

/// The session cookie's name.
pub const COOKIE: &str = "nexus_session";
/// The largest request body (sign-in and pairing are tiny JSON).
const MAX_BODY_BYTES: usize = 8 * 1024;
/// Sign-ins waiting their turn (they run one at a time); more are refused.
const MAX_WAITING_LOGINS: usize = 16;

pub fn router(gateway: Arc<Gateway>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/index.html", get(index))
        .route("/login", get(login_page))
        .route("/pair", get(login_page))
        .route("/api/login", post(login))
        .route("/api/pair", post(pair))
        .route("/api/logout", post(logout))
        .route("/api/ws", get(websocket))
        .route("/{file}", get(file))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(gateway.clone(), guard))
        .with_state(gateway)
}

/// Host check first, headers on every answer.
async fn guard(State(gateway): State<Arc<Gateway>>, request: Request, next: Next) -> Response {
    let host_ok = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|host| gateway.is_own_host(host));
    let mut response = if host_ok {
        let cross_site_post =
            request.method() == Method::POST && !origin_is_own(&gateway, request.headers());
        if cross_site_post {
            plain(
                StatusCode::FORBIDDEN,
                "requests must come from the gateway's own page",
            )
        } else {
            next.run(request).await
        }
    } else {
        plain(
            StatusCode::MISDIRECTED_REQUEST,
            "this gateway answers only to this machine's own names and addresses",
        )
    };
    let headers = response.headers_mut();
    let csp = super::assets::content_security_policy();
    if let Ok(value) = HeaderValue::from_str(csp) {
        headers.insert(header::CONTENT_SECURITY_POLICY, value);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    if gateway.tls {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    response
}

/// The request's `Origin` is this gateway (scheme and one of its names).
fn origin_is_own(gateway: &Gateway, headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) else {
        return false;
    };
    // Without TLS of its own the gateway is behind a tunnel that may
    // terminate HTTPS, so the page's origin may be either scheme.
    let host = match origin.strip_prefix("https://") {
        Some(host) => Some(host),
        None if !gateway.tls => origin.strip_prefix("http://"),
        None => None,
    };
    host.is_some_and(|host| gateway.is_own_host(host))
}

fn plain(status: StatusCode, text: &'static str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text,
    )
        .into_response()
}

fn json_answer(status: StatusCode, body: serde_json::Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn not_found() -> Response {
    plain(StatusCode::NOT_FOUND, "not found")
}

fn serve(name: &str) -> Response {
    match super::assets::lookup(name) {
        Some((content_type, body)) => (
            [
                (header::CONTENT_TYPE, content_type),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            body,
        )
            .into_response(),
        None => plain(StatusCode::NOT_FOUND, "not found"),
    }
}

/// The chat page for a signed-in device; the sign-in page otherwise.
async fn index(State(gateway): State<Arc<Gateway>>, headers: HeaderMap) -> Response {
    if gateway.device_for(&headers).is_some() {
        serve("index.html")
    } else {
        (
            StatusCode::SEE_OTHER,
            [(header::LOCATION, "/login")],
            Body::empty(),
        )
            .into_response()
    }
}

async fn login_page() -> Response {
    serve("login.html")
}

/// The page's scripts, styles, manifest and icons (public: no secrets in them).
async fn file(axum::extract::Path(name): axum::extract::Path<String>) -> Response {
    if name == "index.html" || name == "login.html" {
        return plain(StatusCode::NOT_FOUND, "not found");
    }
    serve(&name)
}

fn session_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_string())
        .filter(|token| !token.is_empty() && token.len() <= 128)
}

impl Gateway {
    /// The signed-in device this request's cookie belongs to.
    pub fn device_for(&self, headers: &HeaderMap) -> Option<Device> {
        let token = session_token(headers)?;
        let account = match self.store.read() {
            Ok(a) => a,
            Err(e) => {
                tracing::error!("{e}");
                return None;
            }
        };
        account
            .device_by_token(&token_hash(&token), now_ms())
            .cloned()
    }

    fn cookie(&self, token: &str) -> String {
        let secure = if self.tls { "; Secure" } else { "" };
        let max_age = crate::remote::account::SESSION_LIFETIME_MS / 1000;
        format!("{COOKIE}={token}; HttpOnly{secure}; SameSite=Strict; Path=/; Max-Age={max_age}")
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    password: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PairBody {
    token: String,
}

/// What one sign-in came to.
enum Outcome {
    SignedIn(String),
    Refused,
    Wait(u64),
    Failed(String),
}

fn user_agent(headers: &HeaderMap) -> String {
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

/// A sign-in's body, the client's user agent and its address; None when
/// the body is not a `T`.
fn sign_in_request<T: serde::de::DeserializeOwned>(
    body: &[u8],
    headers: &HeaderMap,
    addr: std::net::SocketAddr,
) -> Option<(T, String, String)> {
    let parsed = serde_json::from_slice(body).ok()?;
    Some((parsed, user_agent(headers), addr.ip().to_string()))
}

/// 400, saying what a sign-in sends.
fn send_this(expected: &str) -> Response {
    json_answer(
        StatusCode::BAD_REQUEST,
        serde_json::json!({"error": format!("send {expected}")}),
    )
}

async fn login(
    State(gateway): State<Arc<Gateway>>,
    ConnectInfo(ClientAddr(addr)): ConnectInfo<ClientAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some((LoginBody { password }, ua, address)) = sign_in_request(&body, &headers, addr) else {
        return send_this("{\"password\": \"…\"}");
    };
    let store = gateway.store.clone();
    signed_in(&gateway, move || {
        store.update(|account| {
            let now = now_ms();
            account.expire(now);
            if let Some(wait) = account.lockout.wait_ms(&address, now) {
                account.record_attempt(now, &address, &ua, "locked");
                return Outcome::Wait(wait);
            }
            let verdict = match &account.password {
                Some(phc) => password::verify(&password, phc),
                None => {
                    account.record_attempt(now, &address, &ua, "no_password");
                    tracing::warn!(
                        "a sign-in from {address} was refused: no remote password is set (`opencode-nexus remote password`)"
                    );
                    return Outcome::Refused;
                }
            };
            match verdict {
                Verdict::Wrong => {
                    account.lockout.fail(&address, now);
                    account.record_attempt(now, &address, &ua, "wrong_password");
                    Outcome::Refused
                }
                Verdict::Right | Verdict::RightRehashed(_) => {
                    if let Verdict::RightRehashed(new) = verdict {
                        account.password = Some(new);
                    }
                    account.lockout.succeed(&address);
                    account.record_attempt(now, &address, &ua, "ok");
                    new_device(account, &address, &ua, "password", now)
                }
            }
        })
    })
    .await
}

async fn pair(
    State(gateway): State<Arc<Gateway>>,
    ConnectInfo(ClientAddr(addr)): ConnectInfo<ClientAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some((PairBody { token }, ua, address)) = sign_in_request(&body, &headers, addr) else {
        return send_this("{\"token\": \"…\"}");
    };
    let store = gateway.store.clone();
    signed_in(&gateway, move || {
        store.update(|account| {
            let now = now_ms();
            if let Some(wait) = account.lockout.wait_ms(&address, now) {
                account.record_attempt(now, &address, &ua, "locked");
                return Outcome::Wait(wait);
            }
            if token.len() > 128 || !account.take_pairing(&token_hash(&token), now) {
                account.lockout.fail(&address, now);
                account.record_attempt(now, &address, &ua, "bad_pairing");
                return Outcome::Refused;
            }
            account.lockout.succeed(&address);
            account.record_attempt(now, &address, &ua, "paired");
            new_device(account, &address, &ua, "pairing", now)
        })
    })
    .await
}

fn new_device(account: &mut Account, address: &str, ua: &str, via: &str, now: u64) -> Outcome {
    let (Ok(token), Ok(id)) = (new_token(), new_device_id()) else {
        return Outcome::Failed("no randomness for a session".into());
    };
    account.add_device(Device {
        id,
        token_hash: token_hash(&token),
        name: crate::remote::account::device_name(ua),
        address: address.to_string(),
        via: via.to_string(),
        created_ms: now,
        last_seen_ms: now,
    });
    Outcome::SignedIn(token)
}

/// Runs one sign-in (Argon2 and the account file: blocking work) off the
/// async threads, one at a time, and answers it.
async fn signed_in(
    gateway: &Arc<Gateway>,
    attempt: impl FnOnce() -> Result<Outcome, String> + Send + 'static,
) -> Response {
    use std::sync::atomic::Ordering;
    if gateway.waiting_logins.fetch_add(1, Ordering::SeqCst) >= MAX_WAITING_LOGINS {
        gateway.waiting_logins.fetch_sub(1, Ordering::SeqCst);
        return wait_answer(5_000);
    }
    let turn = gateway.login_turn.lock().await;
    let outcome = tokio::task::spawn_blocking(attempt).await;
    drop(turn);
    gateway.waiting_logins.fetch_sub(1, Ordering::SeqCst);
    match outcome {
        Ok(Ok(Outcome::SignedIn(token))) => {
            gateway.sweep();
            let mut response = json_answer(StatusCode::OK, serde_json::json!({"ok": true}));
            if let Ok(cookie) = HeaderValue::from_str(&gateway.cookie(&token)) {
                response.headers_mut().insert(header::SET_COOKIE, cookie);
            }
            response
        }
        Ok(Ok(Outcome::Refused)) => json_answer(
            StatusCode::UNAUTHORIZED,
            serde_json::json!({"error": "wrong password or code"}),
        ),
        Ok(Ok(Outcome::Wait(ms))) => wait_answer(ms),
        Ok(Ok(Outcome::Failed(e))) | Ok(Err(e)) => {
            tracing::error!("sign-in failed: {e}");
            json_answer(
                StatusCode::INTERNAL_SERVER_ERROR,
                serde_json::json!({"error": "the gateway cannot sign anyone in right now; see its log"}),
            )
        }
        Err(e) => {
            tracing::error!("sign-in task failed: {e}");
            json_answer(
                StatusCode::INTERNAL_SERVER_ERROR,
                serde_json::json!({"error": "the gateway cannot sign anyone in right now; see its log"}),
            )
        }
    }
}

fn wait_answer(ms: u64) -> Response {
    let secs = ms.div_ceil(1000).max(1);
    let mut response = json_answer(
        StatusCode::TOO_MANY_REQUESTS,
        serde_json::json!({"error": "too many attempts", "retry_after": secs}),
    );
    if let Ok(value) = HeaderValue::from_str(&secs.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

async fn logout(State(gateway): State<Arc<Gateway>>, headers: HeaderMap) -> Response {
    if let Some(device) = gateway.device_for(&headers) {
        let store = gateway.store.clone();
        let id = device.id.clone();
        let _ = tokio::task::spawn_blocking(move || store.update(|a| a.revoke(Some(&id)))).await;
        gateway.sweep();
    }
    let mut response = json_answer(StatusCode::OK, serde_json::json!({"ok": true}));
    let secure = if gateway.tls { "; Secure" } else { "" };
    if let Ok(cookie) = HeaderValue::from_str(&format!(
        "{COOKIE}=; HttpOnly{secure}; SameSite=Strict; Path=/; Max-Age=0"
    )) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

async fn websocket(
    State(gateway): State<Arc<Gateway>>,
    ConnectInfo(ClientAddr(addr)): ConnectInfo<ClientAddr>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    // A plain GET (the page asking whether it is still signed in) gets 401
    // or 400: whether the session is good, and nothing else.
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade,
        Err(_) if gateway.device_for(&headers).is_none() => {
            return plain(StatusCode::UNAUTHORIZED, "sign in first");
        }
        Err(rejection) => return rejection.into_response(),
    };
    if !origin_is_own(&gateway, &headers) {
        tracing::warn!("refused a WebSocket from {addr}: foreign or missing Origin");
        return plain(
            StatusCode::FORBIDDEN,
            "the WebSocket is only for the gateway's own page",
        );
    }
    let Some(device) = gateway.device_for(&headers) else {
        return plain(StatusCode::UNAUTHORIZED, "sign in first");
    };
    let Some(slot) = gateway.client_slot(&device.id) else {
        return plain(
            StatusCode::SERVICE_UNAVAILABLE,
            "too many devices are connected right now (remote.max_clients)",
        );
    };
    let store = gateway.store.clone();
    let (id, address) = (device.id.clone(), addr.ip().to_string());
    tokio::task::spawn_blocking(move || {
        let _ = store.update(|a| {
            if let Some(d) = a.devices.iter_mut().find(|d| d.id == id) {
                d.last_seen_ms = now_ms();
                d.address = address;
            }
        });
    });
    upgrade
        .max_message_size(crate::page::protocol::MAX_PAGE_MESSAGE_BYTES)
        .max_frame_size(crate::page::protocol::MAX_PAGE_MESSAGE_BYTES)
        .on_upgrade(move |socket| super::socket::serve(socket, gateway, slot))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_session_cookie_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; nexus_session=tok; b=2"),
        );
        assert_eq!(session_token(&headers).as_deref(), Some("tok"));
        headers.insert(header::COOKIE, HeaderValue::from_static("nexus_session="));
        assert_eq!(session_token(&headers), None);
    }
}
