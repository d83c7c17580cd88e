//! `config.toml` as a user (or a careless tool) could write it. Beyond "no
//! crash": an accepted config survives the settings page unchanged (the page
//! shows `values(config)`, saving them writes a file that parses back to the
//! same config), and a rejected one gets a message naming the file.
//!
//! Shared by the fuzz target and tests/fuzz_regressions.rs: `super::nexus`
//! is the crate under test (the fuzz build's parsers, or `opencode_nexus`).

use super::nexus::config::Config;
use super::nexus::config::form as settings_form;
use super::nexus::paths::Paths;
use std::path::Path;

pub fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let paths = Paths::from_vars(|name| (name == "HOME").then(|| "/home/fuzz".into()));
    let file = Path::new("/home/fuzz/.config/opencode-nexus/config.toml");
    let loaded = match Config::parse(text, file, &paths) {
        Ok(loaded) => loaded,
        Err(e) => {
            assert!(
                e.to_string().starts_with(&file.display().to_string()),
                "{e}"
            );
            return;
        }
    };
    let form = settings_form::values(&loaded.config);
    let saved = settings_form::validate(&form, file, &paths).unwrap_or_else(|e| {
        panic!("the settings page cannot save the config it was shown: {e:?}\nfile:\n{text}")
    });
    assert_eq!(
        saved.config, loaded.config,
        "saving from the page changed the config\nfile:\n{text}\nsaved:\n{}",
        saved.text
    );
}
