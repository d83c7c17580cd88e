//! Linux: a StatusNotifierItem (with its dbusmenu) served by ksni as tasks on
//! the daemon's tokio runtime — no thread of its own, nothing polls.
//!
//! `NexusTray` is what ksni asks for the item's properties and menu; it holds
//! the view being shown. ksni compares every property and menu entry after
//! each update and signals only what changed (`NewIcon`, `NewToolTip`,
//! `ItemsPropertiesUpdated`, and `LayoutUpdated` only when entries come or
//! go), so applying a new view costs the panel exactly the parts that differ.
//! Menu choices and clicks go to the daemon's event channel; the host's
//! `AboutToShow` (the menu is about to open) wakes the resource sampler.

use super::{Started, TrayUpdate, icons};
use crate::config::IconStyle;
use crate::core::Event;
use crate::core::popover_lifecycle::{OpenRequest, PopoverEvent, ScreenPoint};
use crate::core::tray_view::{IconState, MenuItem, TrayView};
use ksni::TrayMethods;
use ksni::menu::{CheckmarkItem, StandardItem, SubMenu};
use std::sync::Arc;
use tokio::sync::{Notify, mpsc};

const WATCHER: &str = "org.kde.StatusNotifierWatcher";

/// The item's id on the bus (also the stem of its well-known name).
const ID: &str = "opencode-nexus";

/// Checks that a session bus exists and a tray host (the watcher) is on it,
/// so the daemon can say plainly why it has no tray.
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
        Ok(false) => Err(NO_HOST.into()),
        Err(e) => Err(format!("cannot ask the session bus for a tray host ({e})")),
    }
}

const NO_HOST: &str = "no StatusNotifierItem host on the session bus (no panel with a tray area?)";

/// Puts the item on the bus showing `view`; returns the channel that takes
/// new views and the task that applies them (it ends, removing the item,
/// when the channel closes).
pub(super) async fn start(
    view: TrayView,
    style: IconStyle,
    events: mpsc::Sender<Event>,
    menu_opening: Arc<Notify>,
) -> Result<Started, String> {
    host_available().await?;
    let pixmap = pixmap(view.icon, style)?;
    let tray = NexusTray {
        view,
        style,
        pixmap,
        events,
        menu_opening,
    };
    let handle = tray.spawn().await.map_err(|e| match e {
        ksni::Error::Dbus(e) => format!("cannot put the tray icon on the session bus ({e})"),
        ksni::Error::Watcher(e) => format!("the tray host refused the icon ({e})"),
        ksni::Error::WontShow => NO_HOST.into(),
        other => format!("cannot create the tray icon: {other}"),
    })?;
    let (updates, mut received) = mpsc::unbounded_channel::<TrayUpdate>();
    let applier = tokio::spawn(async move {
        while let Some(first) = received.recv().await {
            // Only the newest view and style of a burst matter.
            let (mut view, mut style) = (None, None);
            let mut next = Some(first);
            while let Some(update) = next {
                match update {
                    TrayUpdate::View(v) => view = Some(v),
                    TrayUpdate::Style(s) => style = Some(s),
                }
                next = received.try_recv().ok();
            }
            let applied = handle
                .update(move |tray| {
                    if let Some(style) = style {
                        tray.set_style(style);
                    }
                    if let Some(view) = view {
                        tray.show(view);
                    }
                })
                .await;
            if applied.is_none() {
                tracing::warn!("the tray icon's D-Bus service ended; the tray stays as it was");
                return;
            }
        }
        // The daemon is going: take the item off the bus.
        handle.shutdown().await;
    });
    Ok((updates, applier))
}

/// What ksni serves: the view on show and where its choices go.
struct NexusTray {
    view: TrayView,
    style: IconStyle,
    /// The icon drawn for `view.icon` in `style`, kept so property reads do
    /// not decode it again.
    pixmap: Vec<ksni::Icon>,
    events: mpsc::Sender<Event>,
    menu_opening: Arc<Notify>,
}

impl NexusTray {
    fn set_style(&mut self, style: IconStyle) {
        if style == self.style {
            return;
        }
        match pixmap(self.view.icon, style) {
            Ok(pixmap) => {
                self.style = style;
                self.pixmap = pixmap;
            }
            Err(e) => tracing::warn!("tray icon: {e}"),
        }
    }

    /// Takes the new view; ksni then signals the parts that differ.
    fn show(&mut self, view: TrayView) {
        if view.icon != self.view.icon {
            match pixmap(view.icon, self.style) {
                Ok(pixmap) => self.pixmap = pixmap,
                Err(e) => tracing::warn!("tray icon: {e}"),
            }
        }
        self.view = view;
    }

    fn send(&self, event: Event) {
        if self.events.try_send(event).is_err() {
            tracing::warn!("the daemon is busy or gone; a tray click was dropped");
        }
    }
}

impl ksni::Tray for NexusTray {
    fn id(&self) -> String {
        ID.into()
    }

    fn title(&self) -> String {
        self.view.title.clone()
    }

    fn icon_pixmap(&self) -> Vec<ksni::Icon> {
        self.pixmap.clone()
    }

    fn tool_tip(&self) -> ksni::ToolTip {
        ksni::ToolTip {
            title: self.view.title.clone(),
            description: self.view.tooltip.clone(),
            ..Default::default()
        }
    }

    /// A left click: the quick-chat popover beside the icon.
    fn activate(&mut self, x: i32, y: i32) {
        let request = OpenRequest {
            session: None,
            anchor: Some(ScreenPoint { x, y }),
            ..OpenRequest::default()
        };
        self.send(Event::Popover(PopoverEvent::Open(request)));
    }

    fn menu(&self) -> Vec<ksni::MenuItem<Self>> {
        self.view.menu.iter().map(entry).collect()
    }

    /// The host is about to open the menu: fresh resource figures for it.
    fn menu_about_to_show(&mut self) {
        self.menu_opening.notify_one();
    }

    fn watcher_online(&self) {
        tracing::info!("the tray host is back; the icon is shown again");
    }

    /// Keeps serving: a restarted panel registers the item again.
    fn watcher_offline(&self, reason: ksni::OfflineReason) -> bool {
        tracing::warn!("the tray host went away ({reason:?}); waiting for it to return");
        true
    }
}

fn entry(item: &MenuItem) -> ksni::MenuItem<NexusTray> {
    match item {
        MenuItem::Label(text) => StandardItem {
            label: label(text),
            enabled: false,
            ..Default::default()
        }
        .into(),
        MenuItem::Action {
            action,
            text,
            enabled,
        } => {
            let action = action.clone();
            StandardItem {
                label: label(text),
                enabled: *enabled,
                activate: Box::new(move |tray: &mut NexusTray| {
                    tray.send(Event::Menu(action.clone()))
                }),
                ..Default::default()
            }
            .into()
        }
        MenuItem::Check {
            action,
            text,
            checked,
        } => {
            let action = action.clone();
            CheckmarkItem {
                label: label(text),
                checked: *checked,
                activate: Box::new(move |tray: &mut NexusTray| {
                    tray.send(Event::Menu(action.clone()))
                }),
                ..Default::default()
            }
            .into()
        }
        MenuItem::Submenu { text, items } => SubMenu {
            label: label(text),
            submenu: items.iter().map(entry).collect(),
            ..Default::default()
        }
        .into(),
        MenuItem::Separator => ksni::MenuItem::Separator,
    }
}

/// Menu text is literal: in dbusmenu labels `_` marks an access key and
/// `__` is one underscore.
fn label(text: &str) -> String {
    text.replace('_', "__")
}

/// The icon as the StatusNotifierItem wants it: ARGB32 in network byte order.
fn pixmap(icon: IconState, style: IconStyle) -> Result<Vec<ksni::Icon>, String> {
    let (mut data, width, height) = icons::rgba(icon, style)?;
    for pixel in data.chunks_exact_mut(4) {
        pixel.rotate_right(1);
    }
    Ok(vec![ksni::Icon {
        width: i32::try_from(width).map_err(|e| e.to_string())?,
        height: i32::try_from(height).map_err(|e| e.to_string())?,
        data,
    }])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_show_underscores_literally() {
        assert_eq!(label("fix_the_bug"), "fix__the__bug");
        assert_eq!(label("Copy & paste"), "Copy & paste");
    }

    #[test]
    fn pixmaps_are_argb_in_network_order() {
        let (rgba, width, height) = icons::rgba(IconState::Idle, IconStyle::Color).unwrap();
        let argb = pixmap(IconState::Idle, IconStyle::Color).unwrap();
        assert_eq!(
            (argb[0].width, argb[0].height),
            (width as i32, height as i32)
        );
        let opaque = rgba.chunks_exact(4).position(|p| p[3] != 0).unwrap();
        let (r, g, b, a) = (
            rgba[opaque * 4],
            rgba[opaque * 4 + 1],
            rgba[opaque * 4 + 2],
            rgba[opaque * 4 + 3],
        );
        assert_eq!(&argb[0].data[opaque * 4..opaque * 4 + 4], &[a, r, g, b]);
    }
}
