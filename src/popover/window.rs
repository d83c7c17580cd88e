//! The popover's window: a frameless, always-on-top tao window holding one
//! wry webview with the page. Thin on purpose — it shows, hides, places
//! itself, carries messages between the page and the background, and exits
//! after staying hidden for the keep-alive time.

use super::backend::BackendInput;
use super::page_link::{ConfirmRequest, Decision, UiEvent, delivery_script};
use super::placement::{self, Rect};
use crate::core::popover_lifecycle::ScreenPoint;
use crate::ipc::protocol::PopoverSetup;
use crate::page::assets;
use crate::page::drafts::Drafts;
use crate::page::protocol::{self as page_protocol, FromPage};
use serde_json::json;
use std::borrow::Cow;
use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tao::dpi::{LogicalSize, PhysicalPosition};
use tao::event::{Event, StartCause, WindowEvent};
use tao::event_loop::{ControlFlow, EventLoop};
use tao::window::{Window, WindowBuilder};
use tokio::sync::mpsc;
use wry::{WebContext, WebView, WebViewBuilder};

const DEFAULT_SIZE: (f64, f64) = (420.0, 620.0);
const MIN_SIZE: (f64, f64) = (320.0, 360.0);
/// Handling one event longer than this is logged: it held the page's frames.
const SLOW_EVENT: Duration = Duration::from_millis(50);
/// Set to 1 to let WebKitWebDriver drive the page (tests only: it opens an inspector port).
pub const AUTOMATION_SWITCH: &str = "OPENCODE_NEXUS_AUTOMATION";

/// Everything the window needs to start.
pub struct WindowSetup {
    pub setup: PopoverSetup,
    pub drafts: Arc<Mutex<Drafts>>,
    pub backend: mpsc::UnboundedSender<BackendInput>,
    /// Where the window's size is remembered.
    pub size_file: PathBuf,
    /// `config.toml`: while it does not exist, the page starts with setup.
    pub config_file: PathBuf,
}

/// The page's side of the window: whether it has loaded, and what waits for it.
struct Page {
    ready: bool,
    waiting: Vec<String>,
}

impl Page {
    fn deliver(&mut self, webview: &WebView, message: String) {
        if self.ready {
            if let Err(e) = webview.evaluate_script(&delivery_script(&message)) {
                tracing::warn!("cannot reach the page: {e}");
            }
        } else if !message.starts_with(r#"{"type":"events""#) {
            // Events before the page has loaded are useless (it loads what it shows).
            self.waiting.push(message);
        }
    }
}

/// Builds the window and webview and runs the event loop; never returns.
pub fn run(mut event_loop: EventLoop<UiEvent>, window_setup: WindowSetup) -> ! {
    accessory_app(&mut event_loop);
    let WindowSetup {
        setup,
        drafts,
        backend,
        size_file,
        config_file,
    } = window_setup;
    let size = remembered_size(&size_file);
    let window = match WindowBuilder::new()
        .with_title("OpenCode Quick Chat")
        .with_inner_size(LogicalSize::new(size.0, size.1))
        .with_min_inner_size(LogicalSize::new(MIN_SIZE.0, MIN_SIZE.1))
        .with_decorations(false)
        .with_always_on_top(true)
        .with_resizable(true)
        .with_visible(false)
        .with_platform_options()
        .build(&event_loop)
    {
        Ok(w) => w,
        Err(e) => fail(&format!("cannot create the popover window: {e}")),
    };
    let mut context = WebContext::new(None);
    if std::env::var(AUTOMATION_SWITCH).as_deref() == Ok("1") {
        tracing::warn!("{AUTOMATION_SWITCH}=1: WebKit automation is allowed (tests only)");
        context.set_allows_automation(true);
    }
    let webview = match build_webview(&window, &mut context, &event_loop, backend.clone()) {
        Ok(w) => w,
        Err(e) => fail(&format!("cannot create the popover's webview: {e}")),
    };

    let mut keep_alive = Duration::from_secs(setup.keep_alive_secs);
    let mut setup = setup;
    let mut page = Page {
        ready: false,
        waiting: Vec::new(),
    };
    // Hidden since when (`None` while shown). A fresh process counts as hidden
    // until the daemon's first show arrives.
    let mut hidden_since = Some(Instant::now());
    let mut focused_since_shown = false;
    let mut size_changed = false;
    // Whether a confirmation dialog is on screen (its response handler clears it).
    let asking = Rc::new(Cell::new(false));

    event_loop.run(move |event, _target, control_flow| {
        let _keep = &context;
        let handling = Instant::now();
        let kind = event_name(&event);
        match event {
            Event::NewEvents(StartCause::ResumeTimeReached { .. })
            | Event::UserEvent(UiEvent::KeepAliveCheck)
                if hidden_since.is_some_and(|t| t.elapsed() >= keep_alive) =>
            {
                tracing::info!("hidden for {}s: exiting", keep_alive.as_secs());
                exit(&drafts, &window, &size_file, size_changed, control_flow);
                return;
            }
            Event::UserEvent(UiEvent::ToPage(message)) => page.deliver(&webview, message),
            Event::UserEvent(UiEvent::PageReady) => {
                page.ready = true;
                let init = init_message(&setup, &drafts, !config_file.exists());
                page.deliver(&webview, init);
                for message in std::mem::take(&mut page.waiting) {
                    page.deliver(&webview, message);
                }
            }
            Event::UserEvent(UiEvent::Setup(new)) => {
                keep_alive = Duration::from_secs(new.keep_alive_secs);
                setup = new;
            }
            Event::UserEvent(UiEvent::Show(request)) => {
                place(&window, request.anchor);
                window.set_visible(true);
                window.set_focus();
                let _ = webview.focus();
                hidden_since = None;
                focused_since_shown = false;
                let show = json!({
                    "type": "show",
                    "token": request.token,
                    "session": request.session,
                    "view": request.view,
                });
                page.deliver(&webview, show.to_string());
            }
            Event::UserEvent(UiEvent::Hide) => {
                hide(&window, &mut hidden_since, &backend);
                page.deliver(&webview, r#"{"type":"hidden"}"#.to_string());
            }
            Event::UserEvent(UiEvent::Confirm(request)) => {
                if asking.get() {
                    let _ = request.reply.send(Decision::AlreadyAsking);
                } else {
                    confirm_dialog::ask(&window, request, asking.clone());
                }
            }
            Event::UserEvent(UiEvent::Quit) => {
                exit(&drafts, &window, &size_file, size_changed, control_flow);
                return;
            }
            Event::WindowEvent { event, .. } => match event {
                WindowEvent::Focused(true) => focused_since_shown = true,
                // The confirmation dialog takes the focus: the window stays.
                WindowEvent::Focused(false)
                    if setup.hide_on_blur
                        && focused_since_shown
                        && hidden_since.is_none()
                        && !asking.get() =>
                {
                    hide(&window, &mut hidden_since, &backend);
                    page.deliver(&webview, r#"{"type":"hidden"}"#.to_string());
                }
                WindowEvent::Resized(_) => size_changed = true,
                WindowEvent::CloseRequested => {
                    hide(&window, &mut hidden_since, &backend);
                }
                _ => {}
            },
            _ => {}
        }
        let took = handling.elapsed();
        if took >= SLOW_EVENT {
            tracing::warn!(
                "the window's thread was busy {} ms with {kind}",
                took.as_millis()
            );
        }
        if *control_flow != ControlFlow::Exit {
            *control_flow = match hidden_since {
                Some(since) => ControlFlow::WaitUntil(since + keep_alive),
                None => ControlFlow::Wait,
            };
        }
    })
}

/// What an event was, for the slow-event log.
fn event_name(event: &Event<UiEvent>) -> &'static str {
    match event {
        Event::UserEvent(UiEvent::ToPage(_)) => "a message for the page",
        Event::UserEvent(UiEvent::Show(_)) => "showing the window",
        Event::UserEvent(UiEvent::PageReady) => "the page's start",
        Event::UserEvent(_) => "a request from the background",
        Event::WindowEvent { .. } => "a window event",
        _ => "the event loop",
    }
}

fn build_webview(
    window: &Window,
    context: &mut WebContext,
    event_loop: &EventLoop<UiEvent>,
    backend: mpsc::UnboundedSender<BackendInput>,
) -> wry::Result<WebView> {
    let proxy = event_loop.create_proxy();
    let builder = WebViewBuilder::new_with_web_context(context)
        .with_custom_protocol(assets::SCHEME.into(), |_id, request| {
            let asset = assets::lookup(request.uri().path());
            wry::http::Response::builder()
                .status(asset.status)
                .header("Content-Type", asset.content_type)
                .header("Content-Security-Policy", assets::CONTENT_SECURITY_POLICY)
                .header("X-Content-Type-Options", "nosniff")
                .header("Cache-Control", "no-store")
                .body(Cow::Borrowed(asset.body))
                .unwrap_or_else(|_| wry::http::Response::new(Cow::Borrowed(&b""[..])))
        })
        .with_url(assets::START_URL)
        .with_devtools(cfg!(debug_assertions))
        .with_hotkeys_zoom(false)
        .with_clipboard(true)
        .with_navigation_handler(|url| {
            if assets::is_own_origin(&url) {
                return true;
            }
            open_outside(&url);
            false
        })
        .with_new_window_req_handler(|url, _features| {
            open_outside(&url);
            wry::NewWindowResponse::Deny
        })
        .with_ipc_handler(move |request| match page_protocol::parse(request.body()) {
            Ok(FromPage::Ready {}) => {
                let _ = proxy.send_event(UiEvent::PageReady);
            }
            Ok(FromPage::Hide {}) => {
                let _ = proxy.send_event(UiEvent::Hide);
            }
            Ok(message) => {
                let _ = backend.send(BackendInput::Page(message));
            }
            Err(rejected) => {
                tracing::warn!("the page sent an invalid message: {}", rejected.reason);
                if let Some(id) = rejected.call_id {
                    let _ = backend.send(BackendInput::Rejected {
                        id,
                        reason: rejected.reason,
                    });
                }
            }
        });
    build_in(builder, window)
}

#[cfg(target_os = "linux")]
fn build_in(builder: WebViewBuilder, window: &Window) -> wry::Result<WebView> {
    use tao::platform::unix::WindowExtUnix;
    use wry::WebViewBuilderExtUnix;
    match window.default_vbox() {
        Some(vbox) => builder.build_gtk(vbox),
        None => builder.build(window),
    }
}

#[cfg(not(target_os = "linux"))]
fn build_in(builder: WebViewBuilder, window: &Window) -> wry::Result<WebView> {
    builder.build(window)
}

/// Platform touches for a popover: no taskbar entry on Linux or Windows (on
/// macOS, no Dock icon: `accessory_app`).
trait PopoverWindowOptions {
    fn with_platform_options(self) -> Self;
}

impl PopoverWindowOptions for WindowBuilder {
    #[cfg(target_os = "linux")]
    fn with_platform_options(self) -> Self {
        use tao::platform::unix::WindowBuilderExtUnix;
        self.with_skip_taskbar(true)
    }

    #[cfg(windows)]
    fn with_platform_options(self) -> Self {
        use tao::platform::windows::WindowBuilderExtWindows;
        self.with_skip_taskbar(true)
    }

    #[cfg(not(any(target_os = "linux", windows)))]
    fn with_platform_options(self) -> Self {
        self
    }
}

/// macOS: the popover is an accessory app, like the menu-bar item that opens
/// it: no Dock icon and no menu bar of its own while it shows.
#[cfg(target_os = "macos")]
fn accessory_app(event_loop: &mut EventLoop<UiEvent>) {
    use tao::platform::macos::{ActivationPolicy, EventLoopExtMacOS};
    event_loop.set_activation_policy(ActivationPolicy::Accessory);
}

#[cfg(not(target_os = "macos"))]
fn accessory_app(_event_loop: &mut EventLoop<UiEvent>) {}

/// The native dialog that confirms what the page asked for (guarded
/// settings, a new remote password): a GTK message dialog of this process,
/// modal over the popover, outside the page (no script in the page can
/// draw, read or press it). Cancel is the default, so a stray Enter typed
/// into the page changes nothing.
#[cfg(target_os = "linux")]
mod confirm_dialog {
    use super::*;
    use gtk::prelude::*;
    use tao::platform::unix::WindowExtUnix;

    pub fn ask(window: &Window, request: ConfirmRequest, asking: Rc<Cell<bool>>) {
        let question = &request.confirmation;
        let dialog = gtk::MessageDialog::new(
            Some(window.gtk_window()),
            gtk::DialogFlags::MODAL | gtk::DialogFlags::DESTROY_WITH_PARENT,
            gtk::MessageType::Warning,
            gtk::ButtonsType::None,
            &question.primary,
        );
        dialog.set_title(question.title);
        dialog.set_secondary_text(Some(&question.details));
        dialog.add_button("_Cancel", gtk::ResponseType::Cancel);
        dialog.add_button(question.accept, gtk::ResponseType::Accept);
        dialog.set_default_response(gtk::ResponseType::Cancel);
        dialog.set_keep_above(true);
        dialog.set_position(gtk::WindowPosition::CenterOnParent);
        let reply = Cell::new(Some(request.reply));
        asking.set(true);
        dialog.connect_response(move |dialog, response| {
            let decision = if response == gtk::ResponseType::Accept {
                Decision::Confirmed
            } else {
                Decision::Cancelled
            };
            if let Some(reply) = reply.take() {
                let _ = reply.send(decision);
            }
            asking.set(false);
            // SAFETY: the dialog is ours and not used after this handler.
            unsafe { dialog.destroy() };
        });
        dialog.show_all();
        if let Some(cancel) = dialog.widget_for_response(gtk::ResponseType::Cancel) {
            cancel.grab_focus();
        }
        dialog.present();
    }
}

/// Elsewhere there is no dialog of this process yet: guarded settings and
/// the remote password are refused from the page (config.toml and
/// `opencode-nexus remote password` still set them).
#[cfg(not(target_os = "linux"))]
mod confirm_dialog {
    use super::*;

    pub fn ask(_window: &Window, request: ConfirmRequest, _asking: Rc<Cell<bool>>) {
        let _ = request.reply.send(Decision::NoDialog);
    }
}

/// A link the page may not open itself goes to the system browser (http/https only).
fn open_outside(url: &str) {
    if page_protocol::is_web_url(url) {
        if let Err(e) = crate::platform::desktop::open_url(url) {
            tracing::warn!("cannot open a link: {e}");
        }
    } else {
        tracing::warn!("blocked navigation to a non-web URL");
    }
}

fn init_message(setup: &PopoverSetup, drafts: &Arc<Mutex<Drafts>>, first_run: bool) -> String {
    let drafts = drafts.lock().map(|d| d.to_page()).unwrap_or_default();
    json!({
        "type": "init",
        "directories": setup.directories,
        "default_directory": setup.default_directory,
        "drafts": drafts,
        "focus": {"session": null},
        "first_run": first_run,
        "max_draft_bytes": page_protocol::MAX_DRAFT_BYTES,
    })
    .to_string()
}

fn place(window: &Window, anchor: Option<ScreenPoint>) {
    let size = window.outer_size();
    let mut monitors: Vec<Rect> = Vec::new();
    let primary = window.primary_monitor();
    for monitor in primary.into_iter().chain(window.available_monitors()) {
        let (p, s) = (monitor.position(), monitor.size());
        let rect = Rect {
            x: p.x,
            y: p.y,
            width: s.width as i32,
            height: s.height as i32,
        };
        if !monitors.contains(&rect) {
            monitors.push(rect);
        }
    }
    let (x, y) = placement::place((size.width as i32, size.height as i32), anchor, &monitors);
    window.set_outer_position(PhysicalPosition::new(x, y));
}

fn hide(
    window: &Window,
    hidden_since: &mut Option<Instant>,
    backend: &mpsc::UnboundedSender<BackendInput>,
) {
    if hidden_since.is_some() {
        return;
    }
    window.set_visible(false);
    *hidden_since = Some(Instant::now());
    let _ = backend.send(BackendInput::Hidden);
}

fn exit(
    drafts: &Arc<Mutex<Drafts>>,
    window: &Window,
    size_file: &Path,
    size_changed: bool,
    control_flow: &mut ControlFlow,
) {
    if let Ok(mut d) = drafts.lock() {
        d.save_if_changed();
    }
    if size_changed {
        let size = window.inner_size().to_logical::<f64>(window.scale_factor());
        let saved = json!({"width": size.width.round(), "height": size.height.round()});
        if let Err(e) = crate::page::drafts::write_private(size_file, saved.to_string().as_bytes())
        {
            tracing::warn!("cannot remember the window size: {e}");
        }
    }
    *control_flow = ControlFlow::Exit;
}

/// The size the user last left the window at (logical pixels), or the default.
fn remembered_size(file: &Path) -> (f64, f64) {
    let saved: Option<serde_json::Value> = std::fs::read_to_string(file)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    let dimension = |key: &str, default: f64, min: f64| {
        saved
            .as_ref()
            .and_then(|v| v[key].as_f64())
            .filter(|v| v.is_finite())
            .map(|v| v.clamp(min, 4000.0))
            .unwrap_or(default)
    };
    (
        dimension("width", DEFAULT_SIZE.0, MIN_SIZE.0),
        dimension("height", DEFAULT_SIZE.1, MIN_SIZE.1),
    )
}

fn fail(message: &str) -> ! {
    tracing::error!("{message}");
    eprintln!("error: {message}");
    std::process::exit(1)
}
