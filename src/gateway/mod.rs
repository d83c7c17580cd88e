//! The remote gateway: its own process (the `opencode-nexus-gateway`
//! binary), started by the daemon only while `remote.enabled` is true, so
//! nothing of it runs otherwise and nothing network-facing lives in the
//! resident process. It serves the quick-chat page to a phone and carries
//! the page protocol (`crate::page`) over a WebSocket — the same messages
//! and the same allowlist of server calls the popover carries over wry's
//! IPC, minus everything about Nexus itself (settings, setup, logs).
//!
//! `listener` (TCP and TLS), `web` (the routes and their checks), `socket`
//! (one signed-in page), `assets` (the files). The account it checks
//! sign-ins against is `crate::remote`'s; the OpenCode server's address and
//! password come from the daemon over the control socket and never reach a
//! browser.

pub mod assets;
pub mod listener;
pub mod socket;
pub mod web;

use crate::config::{Config, RemoteTls};
use crate::ipc::client::Connection;
use crate::ipc::protocol::{PopoverSetup, Request, ServerAccess, ToPopover};
use crate::page::PageSink;
use crate::paths::Paths;
use crate::remote::store::Store;
use crate::server::client::{Credentials, Secret, ServerClient};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, broadcast, watch};

/// Event batches buffered per client before a slow one is dropped.
pub const EVENT_BACKLOG: usize = 512;
/// How often sessions are checked for expiry (revocations are seen at once).
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// What every request and socket shares.
pub struct Gateway {
    pub store: Store,
    /// Names and addresses a request's `Host` may use (lower case, no port).
    names: Vec<String>,
    pub tls: bool,
    max_clients: usize,
    /// The page's setup (directories), from the daemon.
    pub setup: watch::Receiver<Option<PopoverSetup>>,
    /// The OpenCode server, while there is one.
    pub client: watch::Receiver<Option<ServerClient>>,
    /// Event batches for every page (one subscription to the server for all).
    pub events: broadcast::Sender<Arc<str>>,
    /// The last `connection` message, for a page that arrives later.
    pub connection: watch::Sender<String>,
    clients: Mutex<HashMap<u64, ClientEntry>>,
    next_client: AtomicU64,
    waiting_logins: AtomicUsize,
    login_turn: tokio::sync::Mutex<()>,
}

struct ClientEntry {
    device: String,
    close: Arc<Notify>,
}

/// A connected page's place; gives it up when dropped.
pub struct ClientSlot {
    gateway: Arc<Gateway>,
    id: u64,
    pub device: String,
    /// Notified when the device is signed out or revoked.
    pub close: Arc<Notify>,
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let last = match self.gateway.clients.lock() {
            Ok(mut clients) => {
                clients.remove(&self.id);
                clients.is_empty()
            }
            Err(_) => false,
        };
        if last {
            // With no page left, the pages' freed buffers go back to the
            // system: an idle gateway is as small after a busy hour as before.
            crate::platform::give_back_freed_memory();
        }
    }
}

impl Gateway {
    /// `host` (a `Host` header or an origin's host part) names this machine.
    pub fn is_own_host(&self, host: &str) -> bool {
        let host = host.trim().to_ascii_lowercase();
        let name = match host.strip_prefix('[') {
            // [v6]:port
            Some(rest) => rest.split(']').next().unwrap_or(""),
            None => host.rsplit_once(':').map_or(host.as_str(), |(n, _)| n),
        };
        !name.is_empty() && self.names.iter().any(|n| n == name)
    }

    fn client_slot(self: &Arc<Self>, device: &str) -> Option<ClientSlot> {
        let mut clients = self.clients.lock().ok()?;
        if clients.len() >= self.max_clients {
            return None;
        }
        let id = self.next_client.fetch_add(1, Ordering::Relaxed);
        let close = Arc::new(Notify::new());
        clients.insert(
            id,
            ClientEntry {
                device: device.to_string(),
                close: close.clone(),
            },
        );
        Some(ClientSlot {
            gateway: self.clone(),
            id,
            device: device.to_string(),
            close,
        })
    }

    /// Closes the sockets of devices that are no longer signed in.
    pub fn sweep(&self) {
        let account = match self.store.read() {
            Ok(a) => a,
            Err(e) => {
                tracing::error!("{e}");
                return;
            }
        };
        let now = crate::remote::now_ms();
        let live = |device: &str| {
            account.devices.iter().any(|d| {
                d.id == device
                    && d.created_ms
                        .saturating_add(crate::remote::account::SESSION_LIFETIME_MS)
                        > now
            })
        };
        if let Ok(clients) = self.clients.lock() {
            for entry in clients.values().filter(|e| !live(&e.device)) {
                tracing::info!("closing the page of signed-out device {}", entry.device);
                entry.close.notify_one();
            }
        }
    }
}

/// The page sink the event feed writes to: every connected page.
#[derive(Clone)]
struct EveryPage {
    events: broadcast::Sender<Arc<str>>,
    connection: watch::Sender<String>,
}

impl PageSink for EveryPage {
    fn send(&self, message: String) -> bool {
        if message.starts_with(r#"{"type":"connection""#) {
            self.connection.send_replace(message.clone());
        }
        let _ = self.events.send(Arc::from(message));
        true
    }
}

/// Runs the gateway process; returns its exit code.
pub fn run(paths: Paths) -> u8 {
    crate::logging::init_helper();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return failed(&format!("cannot start the async runtime: {e}")),
    };
    match runtime.block_on(serve(paths)) {
        Ok(()) => 0,
        Err(e) => failed(&e),
    }
}

fn failed(message: &str) -> u8 {
    tracing::error!("{message}");
    eprintln!("error: {message}");
    crate::cli::exit_code::FAILURE
}

async fn serve(paths: Paths) -> Result<(), String> {
    crate::server::client::install_tls_provider();
    let config = Config::load(&paths).map_err(|e| e.to_string())?.config;
    let remote = config.remote.clone();
    if !remote.enabled {
        return Err("the gateway is off (remote.enabled = false in config.toml)".into());
    }
    let mut names = crate::remote::certificate::machine_names(remote.listen.ip());
    names.extend(remote.hosts.iter().cloned());
    names.iter_mut().for_each(|n| *n = n.to_ascii_lowercase());
    names.dedup();
    let tls = match remote.tls {
        RemoteTls::Off => None,
        RemoteTls::Auto => {
            let (cert, key) = crate::remote::certificate::load_or_create(&paths, &names)?;
            Some(listener::tls_acceptor(&cert, &key)?)
        }
    };
    let tcp = listener::bind(remote.listen)
        .map_err(|e| format!("cannot listen on {}: {e}", remote.listen))?;
    let local = tcp.local_addr().map_err(|e| e.to_string())?;
    let is_tls = tls.is_some();
    let ready = listener::start(tcp, tls).map_err(|e| e.to_string())?;

    // The daemon: the page's setup and the server's address, kept current.
    let mut daemon = Connection::open(&paths, &Request::GatewayAttach {})
        .await
        .map_err(|e| format!("cannot reach the OpenCode Nexus daemon: {e}"))?;
    let (setup_tx, setup) = watch::channel(None);
    let (client_tx, client) = watch::channel(None);
    let gateway = Arc::new(Gateway {
        store: Store::new(&paths),
        names,
        tls: is_tls,
        max_clients: remote.max_clients,
        setup,
        client,
        events: broadcast::channel(EVENT_BACKLOG).0,
        connection: watch::channel(String::new()).0,
        clients: Mutex::default(),
        next_client: AtomicU64::new(1),
        waiting_logins: AtomicUsize::new(0),
        login_turn: tokio::sync::Mutex::new(()),
    });
    tokio::spawn(follow_events(gateway.clone()));
    tokio::spawn(watch_account(gateway.clone(), paths.clone()));
    let app =
        web::router(gateway.clone()).into_make_service_with_connect_info::<listener::ClientAddr>();
    let scheme = if is_tls { "https" } else { "http" };
    // Tests and the daemon's log read this line: once per start (tracing
    // writes to the same stderr, so it is not logged there too), whatever
    // RUST_LOG filters.
    eprintln!("gateway listening on {scheme}://{local}");
    let server = axum::serve(ready, app);
    tokio::select! {
        served = server => served.map_err(|e| format!("the gateway stopped: {e}")),
        () = follow_daemon(&mut daemon, setup_tx, client_tx) => {
            tracing::info!("the daemon is gone; the gateway stops");
            Ok(())
        }
    }
}

/// Keeps the setup and the server client current until the daemon's link closes.
async fn follow_daemon(
    daemon: &mut Connection,
    setup: watch::Sender<Option<PopoverSetup>>,
    client: watch::Sender<Option<ServerClient>>,
) {
    loop {
        match daemon.next_message::<ToPopover>().await {
            Ok(Some(ToPopover::Setup { setup: s })) => {
                setup.send_replace(Some(s));
            }
            Ok(Some(ToPopover::Server { access })) => {
                client.send_replace(access.map(server_client));
            }
            Ok(Some(_)) => {}
            Ok(None) => return,
            Err(e) => {
                tracing::warn!("daemon link: {e}");
                return;
            }
        }
    }
}

fn server_client(access: ServerAccess) -> ServerClient {
    ServerClient::new(
        &access.url,
        &Credentials {
            username: access.username,
            password: access.password.map(Secret::new),
        },
    )
}

/// One subscription to the server's events for every page, restarted
/// whenever the server changes.
async fn follow_events(gateway: Arc<Gateway>) {
    let sink = EveryPage {
        events: gateway.events.clone(),
        connection: gateway.connection.clone(),
    };
    let mut client = gateway.client.clone();
    loop {
        let current = client.borrow_and_update().clone();
        match current {
            Some(c) => {
                tokio::select! {
                    () = crate::page::event_feed::follow(c, sink.clone()) => {}
                    changed = client.changed() => if changed.is_err() { return },
                }
            }
            None => {
                sink.connection(
                    "no_server",
                    "OpenCode Nexus has no server running right now.",
                );
                if client.changed().await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Sees the account file change (a `remote revoke`, a new password) and
/// closes what it ended at once; checks expiry now and then.
async fn watch_account(gateway: Arc<Gateway>, paths: Paths) {
    use notify::{RecursiveMode, Watcher};
    let (changed_tx, mut changed) = tokio::sync::mpsc::channel::<()>(1);
    let file = paths.remote_account_file();
    let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event
            && event.paths.iter().any(|p| p == &file)
        {
            let _ = changed_tx.try_send(());
        }
    });
    let _watcher = match watcher {
        Ok(mut w) => match w.watch(&paths.config_dir, RecursiveMode::NonRecursive) {
            Ok(()) => Some(w),
            Err(e) => {
                tracing::warn!(
                    "cannot watch the account file (revocations wait for the next check): {e}"
                );
                None
            }
        },
        Err(e) => {
            tracing::warn!("cannot watch the account file: {e}");
            None
        }
    };
    let mut every = tokio::time::interval(SWEEP_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = every.tick() => {}
            Some(()) = changed.recv() => {}
        }
        gateway.sweep();
    }
}
