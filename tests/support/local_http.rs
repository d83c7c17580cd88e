//! Serving a test HTTP app on loopback until its owner says stop — shared by
//! the mock model and the fake event server.

use axum::Router;
use tokio::{net::TcpListener, sync::watch};

/// Binds 127.0.0.1 on a free port; `what` names the server in panics.
pub async fn bind_loopback(what: &str) -> (TcpListener, u16) {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("bind the {what}: {e}"));
    let port = listener
        .local_addr()
        .unwrap_or_else(|e| panic!("{what} address: {e}"))
        .port();
    (listener, port)
}

/// Serves `app` in the background until `stop` turns true.
pub fn serve_until_stopped(listener: TcpListener, app: Router, mut stop: watch::Receiver<bool>) {
    tokio::spawn(async move {
        let stopped = async move {
            let _ = stop.wait_for(|stopped| *stopped).await;
        };
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(stopped)
            .await;
    });
}
