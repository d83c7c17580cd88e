//! Windows: an icon in the notification area (tray-icon over Win32
//! `Shell_NotifyIcon`, its menu through muda).
//!
//! Win32 delivers a tray icon's clicks as window messages to the thread that
//! made it, so the icon lives on a thread of its own that runs a tao event
//! loop (tao allows that loop off the main thread on Windows) and sleeps in
//! the message pump until something happens. The daemon's tokio side sends it
//! new views through the loop's proxy; menu choices and clicks come back on
//! the daemon's event channel. Only what changed is applied: a new tooltip
//! does not rebuild the menu.
//!
//! Built and linted here, and run under Wine (`tests/windows_under_wine.rs`);
//! not yet run on a real Windows machine.

use super::{TrayUpdate, icons};
use crate::config::IconStyle;
use crate::core::Event;
use crate::core::popover_lifecycle::{OpenRequest, PopoverEvent, ScreenPoint};
use crate::core::tray_view::{IconState, MenuAction, MenuItem, TrayView};
use crate::platform::rules::{notification_area_tip, win32_menu_label as label};
use std::sync::Arc;
use tao::event::{Event as LoopEvent, StartCause};
use tao::event_loop::{ControlFlow, EventLoopBuilder, EventLoopProxy};
use tao::platform::run_return::EventLoopExtRunReturn;
use tao::platform::windows::EventLoopBuilderExtWindows;
use tokio::sync::{Notify, mpsc, oneshot};
use tray_icon::menu::{
    CheckMenuItem, IsMenuItem, Menu, MenuEvent, MenuId, MenuItem as NativeItem, PredefinedMenuItem,
    Submenu,
};
use tray_icon::{MouseButton, MouseButtonState, TrayIcon, TrayIconBuilder, TrayIconEvent};

/// How long the icon may take to appear before the daemon goes on without it.
const SHOW_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// What the tray thread's loop is woken for.
enum Wake {
    Update(TrayUpdate),
    Menu(MenuEvent),
    Icon(TrayIconEvent),
    /// The daemon is going: remove the icon and end the thread.
    Quit,
}

/// Shows the icon; returns the channel that takes new views and the task
/// that forwards them (it ends, removing the icon, when the channel closes).
pub(super) async fn start(
    view: TrayView,
    style: IconStyle,
    events: mpsc::Sender<Event>,
    menu_opening: Arc<Notify>,
) -> Result<
    (
        mpsc::UnboundedSender<TrayUpdate>,
        tokio::task::JoinHandle<()>,
    ),
    String,
> {
    let (ready, shown) = oneshot::channel();
    let thread = std::thread::Builder::new()
        .name("tray".into())
        .spawn(move || run_loop(view, style, events, menu_opening, ready))
        .map_err(|e| format!("cannot start the tray thread: {e}"))?;
    // Bounded: without a window station to draw in (seen under Wine with no
    // display) the thread's first window never comes and its loop never
    // starts; the daemon then goes on without a tray, saying why.
    let proxy = match tokio::time::timeout(SHOW_TIMEOUT, shown).await {
        Ok(Ok(Ok(proxy))) => proxy,
        // The thread ends its loop by itself; it is not waited for here,
        // on the runtime's threads.
        Ok(Ok(Err(e))) => return Err(e),
        Ok(Err(_)) => return Err("the tray thread ended before showing the icon".into()),
        Err(_) => {
            return Err(format!(
                "the notification area did not take the icon within {} s (no desktop?)",
                SHOW_TIMEOUT.as_secs()
            ));
        }
    };
    let (updates, mut received) = mpsc::unbounded_channel::<TrayUpdate>();
    let forwarder = tokio::spawn(async move {
        while let Some(update) = received.recv().await {
            if proxy.send_event(Wake::Update(update)).is_err() {
                tracing::warn!("the tray thread ended; the tray stays as it was");
                return;
            }
        }
        // The icon is removed when the loop drops it; a loop that does not
        // end in time is left behind rather than holding up the daemon's exit.
        let _ = proxy.send_event(Wake::Quit);
        let joined = tokio::task::spawn_blocking(move || thread.join());
        if tokio::time::timeout(SHOW_TIMEOUT, joined).await.is_err() {
            tracing::warn!("the tray thread did not end; leaving it");
        }
    });
    Ok((updates, forwarder))
}

/// The tray thread: makes the icon, then applies views and reports clicks
/// until told to quit.
fn run_loop(
    view: TrayView,
    style: IconStyle,
    events: mpsc::Sender<Event>,
    menu_opening: Arc<Notify>,
    ready: oneshot::Sender<Result<EventLoopProxy<Wake>, String>>,
) {
    let mut event_loop = EventLoopBuilder::<Wake>::with_user_event()
        .with_any_thread(true)
        .build();
    let proxy = event_loop.create_proxy();
    let menu_proxy = proxy.clone();
    MenuEvent::set_event_handler(Some(move |event| {
        let _ = menu_proxy.send_event(Wake::Menu(event));
    }));
    let icon_proxy = proxy.clone();
    TrayIconEvent::set_event_handler(Some(move |event| {
        let _ = icon_proxy.send_event(Wake::Icon(event));
    }));

    let mut ready = Some((ready, proxy));
    let mut shown: Option<Shown> = None;
    let (mut view, mut style) = (Some(view), style);
    event_loop.run_return(|event, _, control_flow| {
        *control_flow = ControlFlow::Wait;
        match event {
            LoopEvent::NewEvents(StartCause::Init) => {
                let Some((ready, proxy)) = ready.take() else {
                    return;
                };
                match Shown::create(view.take().unwrap_or_else(empty_view), style) {
                    Ok(tray) => {
                        shown = Some(tray);
                        let _ = ready.send(Ok(proxy));
                    }
                    Err(e) => {
                        let _ = ready.send(Err(e));
                        *control_flow = ControlFlow::Exit;
                    }
                }
            }
            LoopEvent::UserEvent(Wake::Update(update)) => {
                if let Some(tray) = shown.as_mut() {
                    match update {
                        TrayUpdate::View(next) => tray.show(next, style),
                        TrayUpdate::Style(next) => {
                            style = next;
                            tray.restyle(style);
                        }
                    }
                }
            }
            LoopEvent::UserEvent(Wake::Menu(choice)) => {
                if let Some(action) = shown.as_ref().and_then(|t| t.action(&choice.id)) {
                    send(&events, Event::Menu(action));
                }
            }
            LoopEvent::UserEvent(Wake::Icon(click)) => match click {
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
                    send(&events, Event::Popover(PopoverEvent::Open(request)));
                }
                // The menu opens on the right button's release: fresh
                // resource figures for it.
                TrayIconEvent::Click {
                    button: MouseButton::Right,
                    button_state: MouseButtonState::Down,
                    ..
                } => menu_opening.notify_one(),
                _ => {}
            },
            LoopEvent::UserEvent(Wake::Quit) => {
                shown = None;
                *control_flow = ControlFlow::Exit;
            }
            _ => {}
        }
    });
    MenuEvent::set_event_handler(None::<fn(MenuEvent)>);
    TrayIconEvent::set_event_handler(None::<fn(TrayIconEvent)>);
}

fn send(events: &mpsc::Sender<Event>, event: Event) {
    if events.try_send(event).is_err() {
        tracing::warn!("the daemon is busy or gone; a tray click was dropped");
    }
}

fn empty_view() -> TrayView {
    TrayView {
        icon: IconState::Stopped,
        title: String::new(),
        tooltip: String::new(),
        menu: Vec::new(),
    }
}

/// The icon on screen, the view it shows and what its menu entries do.
struct Shown {
    icon: TrayIcon,
    view: TrayView,
    /// Menu entry ids are indexes into this.
    actions: Vec<MenuAction>,
}

impl Shown {
    fn create(view: TrayView, style: IconStyle) -> Result<Shown, String> {
        let (menu, actions) = native_menu(&view.menu)?;
        let icon = TrayIconBuilder::new()
            .with_icon(native_icon(view.icon, style)?)
            .with_tooltip(notification_area_tip(&view.title, &view.tooltip))
            .with_menu(Box::new(menu))
            .with_menu_on_left_click(false)
            .build()
            .map_err(|e| format!("cannot create the notification-area icon: {e}"))?;
        Ok(Shown {
            icon,
            view,
            actions,
        })
    }

    /// Applies the parts of `next` that differ from what is shown.
    fn show(&mut self, next: TrayView, style: IconStyle) {
        if next.icon != self.view.icon {
            self.set_icon(next.icon, style);
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
        self.set_icon(self.view.icon, style);
    }

    fn set_icon(&self, state: IconState, style: IconStyle) {
        match native_icon(state, style) {
            Ok(icon) => {
                if let Err(e) = self.icon.set_icon(Some(icon)) {
                    tracing::warn!("tray icon: {e}");
                }
            }
            Err(e) => tracing::warn!("tray icon: {e}"),
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
        MenuItem::Label(text) => Box::new(NativeItem::new(label(text), false, None)),
        MenuItem::Action {
            action,
            text,
            enabled,
        } => Box::new(NativeItem::with_id(
            id_for(action),
            label(text),
            *enabled,
            None,
        )),
        MenuItem::Check {
            action,
            text,
            checked,
        } => Box::new(CheckMenuItem::with_id(
            id_for(action),
            label(text),
            true,
            *checked,
            None,
        )),
        MenuItem::Submenu { text, items } => {
            let submenu = Submenu::new(label(text), true);
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

fn native_icon(state: IconState, style: IconStyle) -> Result<tray_icon::Icon, String> {
    let (rgba, width, height) = icons::rgba(state, style)?;
    tray_icon::Icon::from_rgba(rgba, width, height).map_err(|e| e.to_string())
}
