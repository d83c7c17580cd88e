//! Talking to Nexus's remote gateway as a phone would: HTTPS that trusts
//! only the gateway's own self-signed certificate (read from the test
//! home), cookies by hand, and the page protocol over a TLS WebSocket.

use super::mock_model::MockModel;
use super::nexus::{Nexus, command_line, descendants};
use super::opencode_server::{OpencodeServer, TestHome};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>;

/// A free loopback port for the gateway (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A config.toml: a managed server in `dir`, the gateway on `port` with TLS.
pub fn gateway_config(dir: &Path, port: u16, max_clients: usize) -> String {
    format!(
        "{}\n[remote]\nenabled = true\nlisten = \"127.0.0.1:{port}\"\ntls = \"auto\"\nmax_clients = {max_clients}\n",
        super::nexus::managed_config(dir)
    )
}

/// Waits for the gateway's "listening" line in its log (it may be a later start's).
pub async fn wait_listening(nexus: &Nexus, starts: usize, timeout: Duration) {
    let log = nexus.state_dir.join("gateway.log");
    let deadline = Instant::now() + timeout;
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.matches("gateway listening on https://").count() >= starts {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the gateway did not start:\n{text}\n{}",
            nexus.daemon_log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `opencode-nexus remote password` with `password` on stdin.
pub async fn set_password(nexus: &Nexus, password: &str) -> std::process::Output {
    use tokio::io::AsyncWriteExt;
    let mut cmd = tokio::process::Command::from(nexus.command(&["remote", "password"]));
    cmd.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(format!("{password}\n").as_bytes())
        .await
        .unwrap();
    drop(stdin);
    child.wait_with_output().await.unwrap()
}

/// The gateway's certificate (PEM), made on its first start.
pub fn certificate(nexus: &Nexus) -> String {
    std::fs::read_to_string(nexus.config_dir.join("remote-cert.pem")).unwrap()
}

/// An HTTPS client that trusts only the gateway's certificate, follows no redirects.
pub fn https(nexus: &Nexus) -> reqwest::Client {
    opencode_nexus::server::client::install_tls_provider();
    let cert = reqwest::Certificate::from_pem(certificate(nexus).as_bytes()).unwrap();
    reqwest::Client::builder()
        .tls_certs_only([cert])
        .redirect(reqwest::redirect::Policy::none())
        .user_agent("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36")
        .build()
        .unwrap()
}

/// The `nexus_session=…` pair of a response's Set-Cookie.
pub fn session_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("nexus_session="))
        .map(|v| v.split(';').next().unwrap().to_string())
}

/// POSTs JSON to the gateway with its own Origin.
pub async fn post(
    client: &reqwest::Client,
    port: u16,
    path: &str,
    body: Value,
) -> reqwest::Response {
    client
        .post(format!("https://127.0.0.1:{port}{path}"))
        .header("origin", format!("https://127.0.0.1:{port}"))
        .json(&body)
        .send()
        .await
        .unwrap()
}

fn tls_connector(nexus: &Nexus) -> tokio_rustls::TlsConnector {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(certificate(nexus).as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// Opens the page protocol's WebSocket with `cookie` and `origin`; the
/// handshake's refusal (its HTTP status) is an error.
pub async fn connect(
    nexus: &Nexus,
    port: u16,
    cookie: Option<&str>,
    origin: &str,
) -> Result<Socket, u16> {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    handshake(nexus, port, cookie, origin, tcp).await
}

/// Like [`connect`], with a 4 KiB receive buffer: a phone on a bad network.
pub async fn connect_slow(
    nexus: &Nexus,
    port: u16,
    cookie: Option<&str>,
    origin: &str,
) -> Result<Socket, u16> {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let tcp = socket.connect(([127, 0, 0, 1], port).into()).await.unwrap();
    handshake(nexus, port, cookie, origin, tcp).await
}

async fn handshake(
    nexus: &Nexus,
    port: u16,
    cookie: Option<&str>,
    origin: &str,
    tcp: tokio::net::TcpStream,
) -> Result<Socket, u16> {
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let tls = tls_connector(nexus).connect(name, tcp).await.unwrap();
    let mut request = format!("wss://127.0.0.1:{port}/api/ws")
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("origin", origin.parse().unwrap());
    if let Some(cookie) = cookie {
        request
            .headers_mut()
            .insert("cookie", cookie.parse().unwrap());
    }
    match tokio_tungstenite::client_async(request, tls).await {
        Ok((socket, _)) => Ok(socket),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            Err(response.status().as_u16())
        }
        Err(e) => panic!("WebSocket handshake failed: {e}"),
    }
}

pub async fn send(socket: &mut Socket, message: Value) {
    socket
        .send(Message::Text(message.to_string().into()))
        .await
        .unwrap();
}

/// What the socket said next: a JSON message, or how it closed.
#[derive(Debug)]
pub enum Heard {
    Json(Value),
    Closed(Option<u16>),
}

pub async fn next(socket: &mut Socket, timeout: Duration) -> Heard {
    next_within(socket, timeout)
        .await
        .expect("the gateway said nothing in time")
}

/// What the socket said next, or `None` if it said nothing within `timeout`.
pub async fn next_within(socket: &mut Socket, timeout: Duration) -> Option<Heard> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let Ok(frame) = tokio::time::timeout_at(deadline, socket.next()).await else {
            return None;
        };
        match frame {
            Some(Ok(Message::Text(text))) => {
                return Some(Heard::Json(serde_json::from_str(&text).unwrap()));
            }
            Some(Ok(Message::Close(frame))) => {
                return Some(Heard::Closed(frame.map(|f| f.code.into())));
            }
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => return Some(Heard::Closed(None)),
        }
    }
}

/// Reads until a message satisfies `wanted`, returning it.
pub async fn until(
    socket: &mut Socket,
    timeout: Duration,
    wanted: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "no wanted message in time");
        match next(socket, left).await {
            Heard::Json(v) if wanted(&v) => return v,
            Heard::Json(_) => {}
            Heard::Closed(code) => panic!("the socket closed ({code:?}) before the wanted message"),
        }
    }
}

/// The `result` for call `id`.
pub async fn result(socket: &mut Socket, id: u64, timeout: Duration) -> Value {
    until(socket, timeout, |m| m["type"] == "result" && m["id"] == id).await
}

/// Nexus watching a real `opencode serve` (with the mock model) with the
/// gateway on, its password set and one device signed in.
pub struct SignedIn {
    _model: MockModel,
    pub home: TestHome,
    pub server: OpencodeServer,
    pub nexus: Nexus,
    pub port: u16,
    pub cookie: String,
    pub origin: String,
    pub gateway_pid: u32,
}

impl SignedIn {
    /// The password the device signed in with.
    pub const PASSWORD: &str = "correct horse battery staple";

    pub async fn start(max_clients: usize) -> SignedIn {
        let model = MockModel::start().await;
        let home = TestHome::new(model.base_url());
        let server = OpencodeServer::start(&home, None).await;
        let port = free_port();
        let config = format!(
            "[server]\nmode = \"attach\"\nurl = {:?}\n\n[remote]\nenabled = true\nlisten = \"127.0.0.1:{port}\"\nmax_clients = {max_clients}\n",
            server.base_url(),
        );
        let nexus = Nexus::start(&home, &config).await;
        nexus
            .wait_for_state("running", Duration::from_secs(60))
            .await;
        wait_listening(&nexus, 1, Duration::from_secs(30)).await;
        assert_eq!(
            set_password(&nexus, Self::PASSWORD).await.status.code(),
            Some(0)
        );
        let client = https(&nexus);
        let cookie = session_cookie(
            &post(
                &client,
                port,
                "/api/login",
                json!({"password": Self::PASSWORD}),
            )
            .await,
        )
        .unwrap();
        let gateway_pid = descendants(nexus.pid())
            .into_iter()
            .find(|pid| command_line(*pid).contains("opencode-nexus-gateway"))
            .expect("the gateway process");
        SignedIn {
            _model: model,
            home,
            server,
            nexus,
            port,
            cookie,
            origin: format!("https://127.0.0.1:{port}"),
            gateway_pid,
        }
    }

    /// A page that has said it is ready and got its `init`.
    pub async fn page(&self) -> Socket {
        let mut page = connect(&self.nexus, self.port, Some(&self.cookie), &self.origin)
            .await
            .unwrap();
        send(&mut page, json!({"type": "ready"})).await;
        until(&mut page, Duration::from_secs(30), |m| m["type"] == "init").await;
        page
    }
}
