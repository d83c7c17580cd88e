//! The quick-chat popover: its own process (`opencode-nexus popover`, the
//! `opencode-nexus-popover` binary), started by the daemon on the first open
//! so that GTK and WebKit never load into the resident process. It connects
//! back to the daemon for the server's address and show commands, and asks
//! it to save settings, turn start at login on or off and stream the server
//! log (Nexus's own files are the daemon's to write). It talks to
//! the server itself (the page never sees the password), changes the remote
//! account itself as the `remote` commands do (pairing codes, devices, the
//! remote password — under the account file's lock), and exits after
//! staying hidden for `popover.keep_alive`.
//!
//! The page itself (its protocol, server calls, event feed, drafts) lives in
//! `crate::page`; this room holds only what is about the window: `window`
//! (the thin tao/wry shell, its custom protocol serving `page::assets`, and
//! the native confirmation dialog for guarded settings and the remote
//! password), `placement`, `page_link` (the event-loop proxy the
//! page's messages travel through) and `backend` (the async side: the link
//! to the daemon, carrying the page's messages to `crate::page`).

pub mod backend;
pub mod page_link;
pub mod placement;
pub mod window;

use crate::ipc::client::{ClientError, Connection};
use crate::ipc::protocol::{Request, ToPopover};
use crate::paths::Paths;
use page_link::{PageLink, UiEvent};
use std::sync::{Arc, Mutex};

/// Runs the popover process; returns only on failure (with an exit code).
pub fn run(paths: Paths) -> u8 {
    crate::logging::init_helper();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return failed(&format!("cannot start the async runtime: {e}")),
    };
    // Attach to the daemon first: its setup and the server's address.
    let attached = runtime.block_on(async {
        let mut daemon = Connection::open(
            &paths,
            &Request::PopoverAttach {
                pid: std::process::id(),
            },
        )
        .await?;
        let setup = match daemon.next_message::<ToPopover>().await? {
            Some(ToPopover::Setup { setup }) => setup,
            other => {
                return Err(ClientError::Protocol(format!(
                    "expected the popover setup, got {other:?}"
                )));
            }
        };
        let access = match daemon.next_message::<ToPopover>().await? {
            Some(ToPopover::Server { access }) => access,
            other => {
                return Err(ClientError::Protocol(format!(
                    "expected the server's address, got {other:?}"
                )));
            }
        };
        Ok((daemon, setup, access))
    });
    let (daemon, setup, access) = match attached {
        Ok(a) => a,
        Err(e) => return failed(&e.to_string()),
    };

    let event_loop = tao::event_loop::EventLoopBuilder::<UiEvent>::with_user_event().build();
    let page = PageLink::new(event_loop.create_proxy());
    let drafts = Arc::new(Mutex::new(crate::page::drafts::Drafts::load(
        paths.drafts_file(),
    )));
    let (to_backend, from_window) = tokio::sync::mpsc::unbounded_channel();
    let background = backend::Backend {
        daemon,
        page,
        drafts: drafts.clone(),
        access,
        setup: setup.clone(),
        context: crate::page::nexus_calls::NexusContext {
            paths: paths.clone(),
            path_var: std::env::var_os("PATH"),
        },
    };
    std::thread::Builder::new()
        .name("popover-backend".into())
        .spawn(move || runtime.block_on(backend::run(background, from_window)))
        .map_err(|e| failed(&format!("cannot start the background thread: {e}")))
        .ok();
    window::run(
        event_loop,
        window::WindowSetup {
            setup,
            drafts,
            backend: to_backend,
            size_file: paths.popover_state_file(),
            config_file: paths.config_file(),
        },
    )
}

fn failed(message: &str) -> u8 {
    tracing::error!("{message}");
    eprintln!("error: {message}");
    crate::cli::exit_code::FAILURE
}
