//! What a change of `config.toml` asks of the running daemon: restart the
//! server (managed) or reconnect to it (attach), reconnect the event stream,
//! or apply in place. One pure comparison of the settings in use with the new
//! ones, so the daemon only carries the answer out.

use super::Config;

/// How the running daemon takes on new settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfigChange {
    /// A key that decides how the server runs or is reached changed: the
    /// server restarts (managed) or is reconnected to (attach).
    pub server: bool,
    /// What the event stream watches changed (its silence limit or the
    /// directories): reconnect it when the server stays.
    pub rewatch: bool,
    /// The tray's icon style changed: restyle the icon in place.
    pub tray_style: bool,
}

impl ConfigChange {
    /// Compares the settings in use (`old`) with the new ones. Everything not
    /// named here (notifications, timeouts, the popover's setup) applies in place.
    pub fn between(old: &Config, new: &Config) -> Self {
        ConfigChange {
            server: old.server.needs_restart(&new.server),
            rewatch: old.server.event_timeout != new.server.event_timeout
                || old.directories() != new.directories(),
            tray_style: old.tray_icons != new.tray_icons,
        }
    }

    /// Nothing to restart, reconnect or restyle.
    pub fn in_place(&self) -> bool {
        !self.server && !self.rewatch && !self.tray_style
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paths::Paths;
    use std::path::Path;

    fn config(text: &str) -> Config {
        Config::parse(text, Path::new("config.toml"), &Paths::with_home("/home/u"))
            .unwrap()
            .config
    }

    fn change(old: &str, new: &str) -> ConfigChange {
        ConfigChange::between(&config(old), &config(new))
    }

    #[test]
    fn the_same_settings_change_nothing() {
        let same = change("[server]\nport = 4100", "[server]\nport = 4100");
        assert!(same.in_place());
    }

    #[test]
    fn notifications_and_timeouts_apply_in_place() {
        assert!(change("", "[notify]\nenabled = false").in_place());
        assert!(change("", "[server]\nstart_timeout = 5").in_place());
        assert!(change("", "[popover]\nhide_on_blur = false").in_place());
    }

    #[test]
    fn how_the_server_runs_restarts_it() {
        let port = change("", "[server]\nport = 4100");
        assert!(port.server);
        assert!(!port.rewatch);
        let to_attach = change(
            "",
            "[server]\nmode = \"attach\"\nurl = \"http://127.0.0.1:1\"",
        );
        assert!(to_attach.server);
    }

    #[test]
    fn attach_reconnects_for_a_new_url_but_not_for_the_managed_port() {
        let attach = "[server]\nmode = \"attach\"\nurl = \"http://127.0.0.1:1\"";
        assert!(
            change(
                attach,
                "[server]\nmode = \"attach\"\nurl = \"http://127.0.0.1:2\""
            )
            .server
        );
        assert!(!change(attach, &format!("{attach}\nport = 9")).server);
    }

    #[test]
    fn what_the_stream_watches_reconnects_it() {
        let silence = change("", "[server]\nevent_timeout = 5");
        assert!(silence.rewatch && !silence.server);
        let projects = change("", "projects = [\"/srv/b\"]");
        assert!(projects.rewatch && !projects.server);
    }

    #[test]
    fn a_new_icon_style_restyles_the_tray() {
        let style = change("", "[tray]\nicons = \"mono-dark\"");
        assert!(style.tray_style && !style.server && !style.rewatch);
    }
}
