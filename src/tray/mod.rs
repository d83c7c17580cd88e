//! The tray icon: shows a `TrayView` and turns menu choices into core events.
//!
//! The view is derived from state by the core (`core::tray_view`); this module
//! only applies it, re-sending only the parts that changed (a new tooltip does
//! not touch the menu; a new menu of the same shape reaches the panel as
//! `ItemsPropertiesUpdated`, since ksni diffs it, and only a new shape as
//! `LayoutUpdated`).
//! On Linux the tray is a D-Bus StatusNotifierItem served by tasks on the
//! daemon's runtime, so the resident process loads no GUI toolkit. Windows
//! and macOS use tray-icon with a GUI event loop (native.rs): on Windows on a
//! thread of its own, on macOS on the main thread, which `main.rs` gives it
//! (`run_on_main_thread`).

mod icons;
#[cfg(target_os = "linux")]
mod linux;
#[cfg(any(windows, target_os = "macos"))]
mod native;

#[cfg(target_os = "macos")]
pub use native::run_on_main_thread;

use crate::config::IconStyle;
use crate::core::Event;
use crate::core::tray_view::TrayView;
use std::sync::Arc;
use tokio::sync::{Notify, mpsc};

/// Whether the daemon has a tray, and if not, why (shown in `status`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrayStatus {
    Active,
    Disabled,
    Unavailable(String),
}

impl TrayStatus {
    pub fn describe(&self) -> String {
        match self {
            TrayStatus::Active => "active".into(),
            TrayStatus::Disabled => "disabled (--no-tray)".into(),
            TrayStatus::Unavailable(reason) => format!("none: {reason}"),
        }
    }
}

/// What the tray is sent.
enum TrayUpdate {
    View(TrayView),
    /// The icon set changed (config `tray.icons`).
    Style(IconStyle),
}

/// What a platform's `start` hands back: the channel that takes new views
/// and styles, and the task that applies them (it ends, removing the icon,
/// when the channel closes).
type Started = (
    mpsc::UnboundedSender<TrayUpdate>,
    tokio::task::JoinHandle<()>,
);

/// A running tray. Dropping it (or `close`) takes the icon off the panel.
pub struct Tray {
    updates: Option<mpsc::UnboundedSender<TrayUpdate>>,
    applier: Option<tokio::task::JoinHandle<()>>,
}

impl Tray {
    /// Starts the tray showing `view`; menu choices and clicks arrive on
    /// `events`; `menu_opening` is notified when the panel is about to open
    /// the menu (fresh figures for it). Runs on the caller's tokio runtime.
    pub async fn start(
        view: TrayView,
        style: IconStyle,
        events: mpsc::Sender<Event>,
        menu_opening: Arc<Notify>,
    ) -> Result<Tray, String> {
        #[cfg(target_os = "linux")]
        {
            let (updates, applier) = linux::start(view, style, events, menu_opening).await?;
            Ok(Tray {
                updates: Some(updates),
                applier: Some(applier),
            })
        }
        #[cfg(any(windows, target_os = "macos"))]
        {
            let (updates, applier) = native::start(view, style, events, menu_opening).await?;
            Ok(Tray {
                updates: Some(updates),
                applier: Some(applier),
            })
        }
        #[cfg(not(any(target_os = "linux", windows, target_os = "macos")))]
        {
            let _ = (view, style, events, menu_opening);
            Err("the tray is not available on this platform yet".into())
        }
    }

    /// Shows a new view (the caller sends only changed views).
    pub fn show(&self, view: TrayView) {
        if let Some(updates) = &self.updates {
            let _ = updates.send(TrayUpdate::View(view));
        }
    }

    /// Switches the icon set.
    pub fn set_style(&self, style: IconStyle) {
        if let Some(updates) = &self.updates {
            let _ = updates.send(TrayUpdate::Style(style));
        }
    }

    /// Takes the icon off the panel and waits until it is gone.
    pub async fn close(mut self) {
        self.updates = None;
        if let Some(applier) = self.applier.take() {
            let _ = applier.await;
        }
    }
}

impl Drop for Tray {
    fn drop(&mut self) {
        // Closing the channel ends the applier task, which removes the icon.
        self.updates = None;
    }
}
