//! Windows and macOS: the tray through tray-icon (Win32 `Shell_NotifyIcon`
//! in the notification area; an `NSStatusItem` in the menu bar), its menu
//! through muda.
//!
//! Both systems deliver a tray icon's clicks to a GUI event loop on the
//! thread that made it, so the icon lives with a tao loop that sleeps until
//! something happens:
//! - Windows: on a thread of its own (tao allows the loop off the main
//!   thread there), started with the icon and ended with it;
//! - macOS: AppKit wants the main thread, so `main.rs` runs the loop there
//!   ([`run_on_main_thread`]) and the daemon on another thread; the icon is
//!   shown and removed through the loop's proxy. No Dock icon (an accessory
//!   app, as `LSUIElement` says for the bundle), and the colour style drawn
//!   as template icons that the menu bar tints for light and dark bars.
//!
//! The daemon's tokio side sends new views through the loop's proxy; menu
//! choices and clicks come back on the daemon's event channel. Only what
//! changed is applied: a new tooltip does not rebuild the menu.
//!
//! Windows: built, linted and run under Wine (`tests/windows_under_wine.rs`).
//! macOS: built and linted only. Neither has run on a real machine yet.

use super::{Started, TrayUpdate, icons};
use crate::config::IconStyle;
use crate::core::Event;
use crate::core::popover_lifecycle::{OpenRequest, PopoverEvent, ScreenPoint};
use crate::core::tray_view::{IconState, MenuAction, MenuItem, TrayView};
use crate::platform::rules::{notification_area_tip, win32_menu_label};
use std::sync::Arc;
use tao::event::{Event as LoopEvent, StartCause};
use tao::event_loop::{ControlFlow, EventLoop, EventLoopBuilder, EventLoopProxy};
use tao::platform::run_return::EventLoopExtRunReturn;
use tokio::sync::{Notify, mpsc, oneshot};
use tray_icon::menu::{
    CheckMenuItem, IsMenuItem, Menu, MenuEvent, MenuId, MenuItem as NativeItem, PredefinedMenuItem,
    Submenu,
};
use tray_icon::{MouseButton, MouseButtonState, TrayIcon, TrayIconBuilder, TrayIconEvent};

/// How long the icon may take to appear before the daemon goes on without it.
const SHOW_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// What the loop is woken for.
enum Wake {
    /// Show the icon (from `start`).
    Show(Box<ShowRequest>),
    Update(TrayUpdate),
    Menu(MenuEvent),
    Icon(TrayIconEvent),
    /// Remove the icon (the daemon is going).
    Hide,
    /// End the loop: on Windows after `Hide`; on macOS when the daemon's
    /// thread has returned.
    Exit,
}

struct ShowRequest {
    view: TrayView,
    style: IconStyle,
    events: mpsc::Sender<Event>,
    menu_opening: Arc<Notify>,
    shown: oneshot::Sender<Result<(), String>>,
}

type LoopThread = Option<std::thread::JoinHandle<()>>;

/// Shows the icon; returns the channel that takes new views and the task
/// that forwards them (it ends, removing the icon, when the channel closes).
pub(super) async fn start(
    view: TrayView,
    style: IconStyle,
    events: mpsc::Sender<Event>,
    menu_opening: Arc<Notify>,
) -> Result<Started, String> {
    let (shown, answer) = oneshot::channel();
    let request = Box::new(ShowRequest {
        view,
        style,
        events,
        menu_opening,
        shown,
    });
    let (loop_proxy, thread) = icon_loop(request).await?;
    // Bounded: without a desktop to draw in, the icon may never come; the
    // daemon then goes on without a tray, saying why. The loop's thread is
    // never waited for on the runtime's own thread.
    match tokio::time::timeout(SHOW_TIMEOUT, answer).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => {
            end_loop(&loop_proxy);
            return Err(e);
        }
        Ok(Err(_)) => return Err("the tray's event loop ended before showing the icon".into()),
        Err(_) => {
            return Err(format!(
                "the {} did not take the icon within {} s (no desktop?)",
                if cfg!(windows) {
                    "notification area"
                } else {
                    "menu bar"
                },
                SHOW_TIMEOUT.as_secs()
            ));
        }
    }
    let (updates, mut received) = mpsc::unbounded_channel::<TrayUpdate>();
    let forwarder = tokio::spawn(async move {
        while let Some(update) = received.recv().await {
            if loop_proxy.send_event(Wake::Update(update)).is_err() {
                tracing::warn!("the tray's event loop ended; the tray stays as it was");
                return;
            }
        }
        let _ = loop_proxy.send_event(Wake::Hide);
        end_loop(&loop_proxy);
        // A loop that does not end in time is left behind rather than
        // holding up the daemon's exit.
        if let Some(thread) = thread {
            let joined = tokio::task::spawn_blocking(move || thread.join());
            if tokio::time::timeout(SHOW_TIMEOUT, joined).await.is_err() {
                tracing::warn!("the tray thread did not end; leaving it");
            }
        }
    });
    Ok((updates, forwarder))
}

/// Windows: a loop on a thread of its own, for this icon, which it makes as
/// it starts (not through the proxy: without a desktop, Wine delivers no
/// message to the loop, and the icon's own failure is the clearer answer).
#[cfg(windows)]
async fn icon_loop(
    request: Box<ShowRequest>,
) -> Result<(EventLoopProxy<Wake>, LoopThread), String> {
    use tao::platform::windows::EventLoopBuilderExtWindows;
    let (made, proxy) = oneshot::channel();
    let thread = std::thread::Builder::new()
        .name("tray".into())
        .spawn(move || {
            let event_loop = EventLoopBuilder::<Wake>::with_user_event()
                .with_any_thread(true)
                .build();
            let _ = made.send(event_loop.create_proxy());
            run_loop(event_loop, false, Some(request));
        })
        .map_err(|e| format!("cannot start the tray thread: {e}"))?;
    match tokio::time::timeout(SHOW_TIMEOUT, proxy).await {
        Ok(Ok(proxy)) => Ok((proxy, Some(thread))),
        _ => Err("the tray thread did not start its event loop".into()),
    }
}

/// Windows ends the icon's own loop with the icon.
#[cfg(windows)]
fn end_loop(proxy: &EventLoopProxy<Wake>) {
    let _ = proxy.send_event(Wake::Exit);
}

/// macOS's main-thread loop outlives the icon: it ends with the daemon.
#[cfg(target_os = "macos")]
fn end_loop(_proxy: &EventLoopProxy<Wake>) {}

/// macOS: the main thread's loop, while `run_on_main_thread` runs it.
#[cfg(target_os = "macos")]
static MAIN_LOOP: std::sync::Mutex<Option<EventLoopProxy<Wake>>> = std::sync::Mutex::new(None);

/// macOS: the main thread's loop, asked to make the icon.
#[cfg(target_os = "macos")]
async fn icon_loop(
    request: Box<ShowRequest>,
) -> Result<(EventLoopProxy<Wake>, LoopThread), String> {
    let proxy = MAIN_LOOP
        .lock()
        .ok()
        .and_then(|guard| guard.clone())
        .ok_or(
            "the menu bar needs the main thread's event loop, which this process did not start",
        )?;
    if proxy.send_event(Wake::Show(request)).is_err() {
        return Err("the menu bar's event loop has ended".into());
    }
    Ok((proxy, None))
}

/// macOS: runs `work` (the daemon) on a thread of its own while the main
/// thread runs the AppKit loop the menu-bar item needs; returns what `work`
/// returns, once it has (the loop ends with it).
#[cfg(target_os = "macos")]
pub fn run_on_main_thread<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    use tao::platform::macos::{ActivationPolicy, EventLoopExtMacOS};
    let mut event_loop = EventLoopBuilder::<Wake>::with_user_event().build();
    // A menu-bar utility: no Dock icon, no app menu.
    event_loop.set_activation_policy(ActivationPolicy::Accessory);
    let proxy = event_loop.create_proxy();
    if let Ok(mut main_loop) = MAIN_LOOP.lock() {
        *main_loop = Some(proxy.clone());
    }
    /// Ends the loop when the daemon's thread returns or unwinds.
    struct EndsTheLoop(EventLoopProxy<Wake>);
    impl Drop for EndsTheLoop {
        fn drop(&mut self) {
            let _ = self.0.send_event(Wake::Hide);
            let _ = self.0.send_event(Wake::Exit);
        }
    }
    let daemon = std::thread::Builder::new()
        .name("daemon".into())
        .spawn(move || {
            let _ends = EndsTheLoop(proxy);
            work()
        })
        .expect("cannot start the daemon's thread");
    run_loop(event_loop, true, None);
    if let Ok(mut main_loop) = MAIN_LOOP.lock() {
        *main_loop = None;
    }
    match daemon.join() {
        Ok(value) => value,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// The loop: shows (`first` as it starts, or when asked), updates and
/// removes the icon, and reports its clicks and menu choices, until `Exit`.
fn run_loop(
    mut event_loop: EventLoop<Wake>,
    template_icons: bool,
    mut first: Option<Box<ShowRequest>>,
) {
    let menu_proxy = event_loop.create_proxy();
    MenuEvent::set_event_handler(Some(move |event| {
        let _ = menu_proxy.send_event(Wake::Menu(event));
    }));
    let icon_proxy = event_loop.create_proxy();
    TrayIconEvent::set_event_handler(Some(move |event| {
        let _ = icon_proxy.send_event(Wake::Icon(event));
    }));

    let mut shown: Option<Shown> = None;
    event_loop.run_return(|event, _, control_flow| {
        *control_flow = ControlFlow::Wait;
        let wake = match event {
            LoopEvent::NewEvents(StartCause::Init) => match first.take() {
                Some(request) => Wake::Show(request),
                None => return,
            },
            LoopEvent::UserEvent(wake) => wake,
            _ => return,
        };
        match wake {
            Wake::Show(request) => {
                let ShowRequest {
                    view,
                    style,
                    events,
                    menu_opening,
                    shown: answer,
                } = *request;
                let looks = Looks {
                    style,
                    template_icons,
                };
                match Shown::create(view, looks, events, menu_opening) {
                    Ok(tray) => {
                        shown = Some(tray);
                        let _ = answer.send(Ok(()));
                    }
                    Err(e) => {
                        let _ = answer.send(Err(e));
                    }
                }
            }
            Wake::Update(update) => {
                if let Some(tray) = shown.as_mut() {
                    match update {
                        TrayUpdate::View(next) => tray.show(next),
                        TrayUpdate::Style(next) => tray.restyle(next),
                    }
                }
            }
            Wake::Menu(choice) => {
                if let Some(tray) = shown.as_ref()
                    && let Some(action) = tray.action(&choice.id)
                {
                    tray.send(Event::Menu(action));
                }
            }
            Wake::Icon(click) => {
                if let Some(tray) = shown.as_ref() {
                    tray.clicked(click);
                }
            }
            Wake::Hide => shown = None,
            Wake::Exit => {
                shown = None;
                *control_flow = ControlFlow::Exit;
            }
        }
    });
    MenuEvent::set_event_handler(None::<fn(MenuEvent)>);
    TrayIconEvent::set_event_handler(None::<fn(TrayIconEvent)>);
}

/// How the icons are drawn.
#[derive(Debug, Clone, Copy)]
struct Looks {
    style: IconStyle,
    /// macOS: the colour style is drawn as template images of the
    /// monochrome set, which the menu bar tints.
    template_icons: bool,
}

impl Looks {
    /// The icon for `state`, and whether it is a template image.
    fn icon(self, state: IconState) -> Result<(tray_icon::Icon, bool), String> {
        let template = self.template_icons && self.style == IconStyle::Color;
        let style = if template {
            IconStyle::MonoDark
        } else {
            self.style
        };
        let (rgba, width, height) = icons::rgba(state, style)?;
        let icon = tray_icon::Icon::from_rgba(rgba, width, height).map_err(|e| e.to_string())?;
        Ok((icon, template))
    }
}

/// The icon on screen, the view it shows and what its menu entries do.
struct Shown {
    icon: TrayIcon,
    view: TrayView,
    looks: Looks,
    /// Menu entry ids are indexes into this.
    actions: Vec<MenuAction>,
    events: mpsc::Sender<Event>,
    menu_opening: Arc<Notify>,
}

impl Shown {
    fn create(
        view: TrayView,
        looks: Looks,
        events: mpsc::Sender<Event>,
        menu_opening: Arc<Notify>,
    ) -> Result<Shown, String> {
        let (menu, actions) = native_menu(&view.menu)?;
        let (image, template) = looks.icon(view.icon)?;
        let icon = TrayIconBuilder::new()
            .with_icon(image)
            .with_icon_as_template(template)
            .with_tooltip(notification_area_tip(&view.title, &view.tooltip))
            .with_menu(Box::new(menu))
            .with_menu_on_left_click(false)
            .build()
            .map_err(|e| format!("cannot create the tray icon: {e}"))?;
        Ok(Shown {
            icon,
            view,
            looks,
            actions,
            events,
            menu_opening,
        })
    }

    /// Applies the parts of `next` that differ from what is shown.
    fn show(&mut self, next: TrayView) {
        if next.icon != self.view.icon {
            self.set_icon(next.icon);
        }
        let tip_changed = next.title != self.view.title || next.tooltip != self.view.tooltip;
        if tip_changed
            && let Err(e) = self
                .icon
                .set_tooltip(Some(notification_area_tip(&next.title, &next.tooltip)))
        {
            tracing::warn!("tray tooltip: {e}");
        }
        if next.menu != self.view.menu {
            match native_menu(&next.menu) {
                Ok((menu, actions)) => {
                    self.icon.set_menu(Some(Box::new(menu)));
                    self.actions = actions;
                }
                Err(e) => tracing::warn!("tray menu: {e}"),
            }
        }
        self.view = next;
    }

    fn restyle(&mut self, style: IconStyle) {
        if style != self.looks.style {
            self.looks.style = style;
            self.set_icon(self.view.icon);
        }
    }

    fn set_icon(&self, state: IconState) {
        let result = self.looks.icon(state).and_then(|(image, template)| {
            // tray-icon's template setter does nothing outside macOS.
            if cfg!(target_os = "macos") {
                self.icon.set_icon_with_as_template(Some(image), template)
            } else {
                self.icon.set_icon(Some(image))
            }
            .map_err(|e| e.to_string())
        });
        if let Err(e) = result {
            tracing::warn!("tray icon: {e}");
        }
    }

    fn send(&self, event: Event) {
        if self.events.try_send(event).is_err() {
            tracing::warn!("the daemon is busy or gone; a tray click was dropped");
        }
    }

    fn clicked(&self, click: TrayIconEvent) {
        match click {
            // A left click: the quick-chat popover beside the icon.
            TrayIconEvent::Click {
                button: MouseButton::Left,
                button_state: MouseButtonState::Up,
                position,
                ..
            } => {
                let request = OpenRequest {
                    session: None,
                    anchor: Some(ScreenPoint {
                        x: position.x.round() as i32,
                        y: position.y.round() as i32,
                    }),
                    ..OpenRequest::default()
                };
                self.send(Event::Popover(PopoverEvent::Open(request)));
            }
            // The menu opens on the right button: fresh resource figures for it.
            TrayIconEvent::Click {
                button: MouseButton::Right,
                button_state: MouseButtonState::Down,
                ..
            } => self.menu_opening.notify_one(),
            _ => {}
        }
    }

    fn action(&self, id: &MenuId) -> Option<MenuAction> {
        let index: usize = id.as_ref().parse().ok()?;
        self.actions.get(index).cloned()
    }
}

/// The view's menu as muda entries; an entry's id is its action's index.
fn native_menu(items: &[MenuItem]) -> Result<(Menu, Vec<MenuAction>), String> {
    let menu = Menu::new();
    let mut actions = Vec::new();
    for item in items {
        let entry = native_entry(item, &mut actions);
        menu.append(entry.as_ref()).map_err(|e| e.to_string())?;
    }
    Ok((menu, actions))
}

fn native_entry(item: &MenuItem, actions: &mut Vec<MenuAction>) -> Box<dyn IsMenuItem> {
    let mut id_for = |action: &MenuAction| {
        actions.push(action.clone());
        MenuId::new((actions.len() - 1).to_string())
    };
    match item {
        MenuItem::Label(text) => Box::new(NativeItem::new(menu_label(text), false, None)),
        MenuItem::Action {
            action,
            text,
            enabled,
        } => Box::new(NativeItem::with_id(
            id_for(action),
            menu_label(text),
            *enabled,
            None,
        )),
        MenuItem::Check {
            action,
            text,
            checked,
        } => Box::new(CheckMenuItem::with_id(
            id_for(action),
            menu_label(text),
            true,
            *checked,
            None,
        )),
        MenuItem::Submenu { text, items } => {
            let submenu = Submenu::new(menu_label(text), true);
            for item in items {
                let entry = native_entry(item, actions);
                if let Err(e) = submenu.append(entry.as_ref()) {
                    tracing::warn!("tray menu: {e}");
                }
            }
            Box::new(submenu)
        }
        MenuItem::Separator => Box::new(PredefinedMenuItem::separator()),
    }
}

/// Menu text shown literally (Win32 reads `&` as an access key; AppKit
/// shows text as it is).
fn menu_label(text: &str) -> String {
    if cfg!(windows) {
        win32_menu_label(text)
    } else {
        text.to_owned()
    }
}
