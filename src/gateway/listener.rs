//! Accepting connections: TCP, then (with `tls = "auto"`) the TLS handshake,
//! each on its own task with a deadline, so a client that connects and says
//! nothing holds up no one. The web side sees one stream of ready
//! connections and the address each came from.

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, mpsc};

/// A TLS handshake must be done within this.
#[cfg(not(target_os = "macos"))]
const HANDSHAKE_DEADLINE: Duration = Duration::from_secs(10);
/// Connections open at once (each holds a permit until it closes).
pub const MAX_CONNECTIONS: usize = 256;

pub trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Io for T {}

/// The address a request came from (axum's `ConnectInfo`).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub SocketAddr);

impl Connected<IncomingStream<'_, ReadyConnections>> for ClientAddr {
    fn connect_info(stream: IncomingStream<'_, ReadyConnections>) -> Self {
        ClientAddr(*stream.remote_addr())
    }
}

/// A connection holding its place among `MAX_CONNECTIONS`.
pub struct Counted {
    io: Box<dyn Io>,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.io).poll_write(cx, buf)
    }
    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.io).poll_flush(cx)
    }
    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// Connections that are ready for HTTP.
pub struct ReadyConnections {
    ready: mpsc::Receiver<(Counted, SocketAddr)>,
    local: SocketAddr,
}

impl Listener for ReadyConnections {
    type Io = Counted;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(ready) => ready,
            // The acceptor is gone (it never ends while the process runs).
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

/// The TLS side: rustls with the ring provider (not on macOS yet).
#[cfg(not(target_os = "macos"))]
pub type Tls = tokio_rustls::TlsAcceptor;
/// macOS: no TLS yet (there can be no value of this type).
#[cfg(target_os = "macos")]
#[derive(Clone)]
pub enum Tls {}

/// A TLS acceptor for the PEM certificate and key.
#[cfg(not(target_os = "macos"))]
pub fn tls_acceptor(cert_pem: &str, key_pem: &str) -> Result<Tls, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("the gateway's certificate is unreadable: {e}"))?;
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
        .map_err(|e| format!("the gateway's key is unreadable: {e}"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("the gateway's certificate and key do not fit: {e}"))?;
    let mut config = config;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

#[cfg(target_os = "macos")]
pub fn tls_acceptor(_cert_pem: &str, _key_pem: &str) -> Result<Tls, String> {
    Err("TLS in the gateway is not available on macOS yet".into())
}

/// The kernel's send buffer per connection (accepted sockets inherit the
/// listener's): bounded, so a page that stops reading is noticed by its
/// queue filling (and dropped) instead of megabytes piling up in the kernel.
/// 256 KiB keeps a phone 100 ms away at 2.5 MB/s, far more than chat needs.
pub const SEND_BUFFER_BYTES: u32 = 256 * 1024;

/// A listening socket on `address` with the bounded send buffer.
pub fn bind(address: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if address.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.set_send_buffer_size(SEND_BUFFER_BYTES)?;
    socket.bind(address)?;
    socket.listen(1024)
}

/// Starts accepting on `tcp`; `tls` wraps every connection when given.
pub fn start(tcp: TcpListener, tls: Option<Tls>) -> std::io::Result<ReadyConnections> {
    let local = tcp.local_addr()?;
    let (ready_tx, ready) = mpsc::channel(64);
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    tokio::spawn(async move {
        loop {
            let Ok(permit) = slots.clone().acquire_owned().await else {
                return;
            };
            let (stream, addr) = match tcp.accept().await {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of descriptors and the like: wait instead of spinning.
                    tracing::warn!("cannot accept a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let ready_tx = ready_tx.clone();
            let tls = tls.clone();
            tokio::spawn(async move {
                let io: Box<dyn Io> = match tls {
                    None => Box::new(stream),
                    #[cfg(not(target_os = "macos"))]
                    Some(tls) => {
                        match tokio::time::timeout(HANDSHAKE_DEADLINE, tls.accept(stream)).await {
                            Ok(Ok(tls_stream)) => Box::new(tls_stream),
                            Ok(Err(e)) => {
                                tracing::debug!("TLS handshake with {addr} failed: {e}");
                                return;
                            }
                            Err(_) => {
                                tracing::debug!("TLS handshake with {addr} timed out");
                                return;
                            }
                        }
                    }
                    #[cfg(target_os = "macos")]
                    Some(never) => match never {},
                };
                let _ = ready_tx
                    .send((
                        Counted {
                            io,
                            _permit: permit,
                        },
                        addr,
                    ))
                    .await;
            });
        }
    });
    Ok(ReadyConnections { ready, local })
}
