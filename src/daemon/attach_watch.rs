//! Attach mode's watcher: reads the password off the event loop, then watches.
//!
//! The password file is read on the blocking pool each time the watch starts
//! (so a fixed file is picked up at the next connect). A file that cannot be
//! used becomes the link's error, shown by `status` and the tray, and is read
//! again every few seconds until it can be.

use crate::config::ServerConfig;
use crate::core::model::ServerEvent;
use crate::core::{Event, WatchEvent, WatchId};
use crate::ipc::protocol::ServerAccess;
use crate::server::client::{Credentials, Secret, ServerClient};
use crate::server::watch::{WatchOptions, Watcher};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, watch};

/// How often an unusable password file is read again.
const PASSWORD_RETRY: Duration = Duration::from_secs(5);

/// Which watch may publish its client; cleared when the watch is stopped,
/// so a task stopped while it was publishing cannot leave a stale client.
pub(crate) type CurrentWatch = Arc<Mutex<Option<WatchId>>>;

pub(crate) struct AttachWatch {
    pub watch: WatchId,
    pub url: String,
    pub server: ServerConfig,
    pub options: WatchOptions,
    pub events: mpsc::Sender<Event>,
    pub broadcast: broadcast::Sender<Arc<ServerEvent>>,
    pub client: watch::Sender<Option<ServerClient>>,
    pub access: watch::Sender<Option<ServerAccess>>,
    pub current: CurrentWatch,
    /// The password last read, for scrubbing it from the diagnostics report.
    pub last_password: Arc<Mutex<Option<Secret>>>,
}

impl AttachWatch {
    pub async fn run(self) {
        let mut reported: Option<String> = None;
        let password = loop {
            match read_attach_password(&self.server).await {
                Ok(password) => break password,
                Err(problem) => {
                    if reported.as_ref() != Some(&problem) {
                        tracing::warn!("{problem}");
                        let _ = self
                            .events
                            .send(Event::Watch {
                                watch: self.watch,
                                event: WatchEvent::Lost {
                                    reason: problem.clone(),
                                },
                            })
                            .await;
                        reported = Some(problem);
                    }
                    tokio::time::sleep(PASSWORD_RETRY).await;
                }
            }
        };
        if let Ok(mut last) = self.last_password.lock() {
            *last = password.clone();
        }
        let credentials = Credentials {
            username: self.server.username.clone(),
            password,
        };
        let client = ServerClient::new(&self.url, &credentials);
        {
            let Ok(current) = self.current.lock() else {
                return;
            };
            if *current != Some(self.watch) {
                return;
            }
            self.client.send_replace(Some(client.clone()));
            self.access.send_replace(Some(ServerAccess {
                url: self.url.clone(),
                username: credentials.username.clone(),
                password: credentials
                    .password
                    .as_ref()
                    .map(|p| p.expose().to_string()),
            }));
        }
        Watcher {
            id: self.watch,
            client,
            options: self.options,
            events: self.events,
            broadcast: self.broadcast,
        }
        .run()
        .await
    }
}

/// How long reading the password file may take (a stalled network mount).
const PASSWORD_READ_LIMIT: Duration = Duration::from_secs(5);

/// [`crate::config::ServerConfig::attach_password`] on the blocking pool, so a slow or odd
/// file never stalls the async side (the daemon's event loop, `status`).
async fn read_attach_password(server: &ServerConfig) -> Result<Option<Secret>, String> {
    let server = server.clone();
    let file = server.password_file.clone();
    let read = tokio::task::spawn_blocking(move || server.attach_password());
    match tokio::time::timeout(PASSWORD_READ_LIMIT, read).await {
        Ok(Ok(result)) => result,
        Ok(Err(e)) => Err(format!("reading {} failed: {e}", file.display())),
        Err(_) => Err(format!(
            "reading the attach password file {} took over {} s; check that it is a small local file",
            file.display(),
            PASSWORD_READ_LIMIT.as_secs()
        )),
    }
}
