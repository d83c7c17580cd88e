//! Linux: a StatusNotifierItem through tray-icon's ksni backend, owned by one
//! thread that applies each new view. Menu and click handlers forward to the
//! daemon's event channel; nothing polls.

use super::{TrayUpdate, icons};
use crate::config::IconStyle;
use crate::core::Event;
use crate::core::popover_lifecycle::{OpenRequest, PopoverEvent, ScreenPoint};
use crate::core::tray_view::{MenuAction, MenuItem, TrayView};
use std::sync::mpsc as std_mpsc;
use tokio::sync::mpsc;
use tray_icon::menu::{IsMenuItem, Menu, MenuEvent, PredefinedMenuItem, Submenu};
use tray_icon::{Icon, MouseButton, TrayIcon, TrayIconBuilder, TrayIconEvent};

const WATCHER: &str = "org.kde.StatusNotifierWatcher";

/// Checks that a session bus exists and a tray host (the watcher) is on it.
async fn host_available() -> Result<(), String> {
    let connection = zbus::Connection::session()
        .await
        .map_err(|e| format!("no D-Bus session bus ({e})"))?;
    let bus = zbus::fdo::DBusProxy::new(&connection)
        .await
        .map_err(|e| e.to_string())?;
    let name = zbus::names::BusName::try_from(WATCHER).map_err(|e| e.to_string())?;
    match bus.name_has_owner(name).await {
        Ok(true) => Ok(()),
        Ok(false) => {
            Err("no StatusNotifierItem host on the session bus (no panel with a tray area?)".into())
        }
        Err(e) => Err(format!("cannot ask the session bus for a tray host ({e})")),
    }
}

pub(super) fn start(
    view: TrayView,
    style: IconStyle,
    events: mpsc::Sender<Event>,
) -> Result<(std_mpsc::Sender<TrayUpdate>, std::thread::JoinHandle<()>), String> {
    // zbus runs on the daemon's tokio runtime (its `tokio` feature): the
    // tray thread enters it, so the StatusNotifierItem's D-Bus connection is
    // served by a task that sleeps until the bus speaks, not by a thread of
    // its own polling for work.
    let runtime = tokio::runtime::Handle::try_current()
        .map_err(|_| "the tray needs the daemon's async runtime".to_string())?;
    let menu_events = events.clone();
    MenuEvent::set_event_handler(Some(move |event: MenuEvent| {
        match MenuAction::from_id(event.id().as_ref()) {
            Some(action) => {
                let _ = menu_events.try_send(Event::Menu(action));
            }
            None => tracing::debug!("menu entry {:?} has no action", event.id()),
        }
    }));
    TrayIconEvent::set_event_handler(Some(move |event: TrayIconEvent| {
        if let TrayIconEvent::Click {
            button: MouseButton::Left,
            position,
            ..
        } = event
        {
            // Open the quick-chat popover beside the icon.
            let request = OpenRequest {
                session: None,
                anchor: Some(ScreenPoint {
                    x: position.x.round() as i32,
                    y: position.y.round() as i32,
                }),
                ..OpenRequest::default()
            };
            let _ = events.try_send(Event::Popover(PopoverEvent::Open(request)));
        }
    }));

    let (updates, receiver) = std_mpsc::channel::<TrayUpdate>();
    let (ready_tx, ready_rx) = std_mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("tray".into())
        .spawn(move || {
            if let Err(e) = runtime.block_on(host_available()) {
                let _ = ready_tx.send(Err(e));
                return;
            }
            let _runtime = runtime.enter();
            let mut shown = match build(&view, style) {
                Ok(tray) => {
                    let _ = ready_tx.send(Ok(()));
                    Shown { tray, view, style }
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            while let Ok(first) = receiver.recv() {
                // Only the newest view and style of a burst matter.
                let (mut view, mut style) = (None, None);
                for update in std::iter::once(first).chain(receiver.try_iter()) {
                    match update {
                        TrayUpdate::View(v) => view = Some(v),
                        TrayUpdate::Style(s) => style = Some(s),
                    }
                }
                if let Some(style) = style {
                    shown.set_style(style);
                }
                if let Some(view) = view {
                    shown.apply(view);
                }
            }
        })
        .map_err(|e| format!("cannot start the tray thread: {e}"))?;
    match ready_rx.recv() {
        Ok(Ok(())) => Ok((updates, thread)),
        Ok(Err(e)) => Err(e),
        Err(_) => Err("the tray thread ended at start".into()),
    }
}

struct Shown {
    tray: TrayIcon,
    view: TrayView,
    style: IconStyle,
}

impl Shown {
    fn set_style(&mut self, style: IconStyle) {
        if style == self.style {
            return;
        }
        self.style = style;
        match icon(&self.view, style) {
            Ok(icon) => {
                if let Err(e) = self.tray.set_icon(Some(icon)) {
                    tracing::warn!("tray icon: {e}");
                }
            }
            Err(e) => tracing::warn!("tray icon: {e}"),
        }
    }

    /// Applies what changed, each part only when it changed: every call below
    /// is a D-Bus signal the panel acts on.
    fn apply(&mut self, view: TrayView) {
        if view.icon != self.view.icon {
            match icon(&view, self.style) {
                Ok(icon) => {
                    if let Err(e) = self.tray.set_icon(Some(icon)) {
                        tracing::warn!("tray icon: {e}");
                    }
                }
                Err(e) => tracing::warn!("tray icon: {e}"),
            }
        }
        if view.tooltip != self.view.tooltip {
            let _ = self.tray.set_tooltip(Some(&view.tooltip));
        }
        if view.title != self.view.title {
            self.tray.set_title(Some(&view.title));
        }
        if view.menu != self.view.menu {
            self.tray.set_menu(Some(Box::new(menu(&view.menu))));
        }
        self.view = view;
    }
}

fn build(view: &TrayView, style: IconStyle) -> Result<TrayIcon, String> {
    TrayIconBuilder::new()
        .with_id("opencode-nexus")
        .with_title(&view.title)
        .with_tooltip(&view.tooltip)
        .with_icon(icon(view, style)?)
        .with_menu(Box::new(menu(&view.menu)))
        .build()
        .map_err(|e| format!("cannot create the tray icon: {e}"))
}

fn icon(view: &TrayView, style: IconStyle) -> Result<Icon, String> {
    let (rgba, width, height) = icons::rgba(view.icon, style)?;
    Icon::from_rgba(rgba, width, height).map_err(|e| e.to_string())
}

fn menu(items: &[MenuItem]) -> Menu {
    let menu = Menu::new();
    for item in items {
        let entry = entry(item);
        if let Err(e) = menu.append(entry.as_ref()) {
            tracing::warn!("tray menu: {e}");
        }
    }
    menu
}

fn entry(item: &MenuItem) -> Box<dyn IsMenuItem> {
    match item {
        MenuItem::Label(text) => Box::new(tray_icon::menu::MenuItem::new(label(text), false, None)),
        MenuItem::Action {
            action,
            text,
            enabled,
        } => Box::new(tray_icon::menu::MenuItem::with_id(
            action.id(),
            label(text),
            *enabled,
            None,
        )),
        MenuItem::Check {
            action,
            text,
            checked,
        } => Box::new(tray_icon::menu::CheckMenuItem::with_id(
            action.id(),
            label(text),
            true,
            *checked,
            None,
        )),
        MenuItem::Submenu { text, items } => {
            let entries: Vec<Box<dyn IsMenuItem>> = items.iter().map(entry).collect();
            let refs: Vec<&dyn IsMenuItem> = entries.iter().map(|e| e.as_ref()).collect();
            match Submenu::with_items(label(text), true, &refs) {
                Ok(submenu) => Box::new(submenu),
                Err(e) => {
                    tracing::warn!("tray submenu: {e}");
                    Box::new(tray_icon::menu::MenuItem::new(label(text), false, None))
                }
            }
        }
        MenuItem::Separator => Box::new(PredefinedMenuItem::separator()),
    }
}

/// Menu text is literal: `&` would otherwise mark a mnemonic.
fn label(text: &str) -> String {
    text.replace('&', "&&")
}
