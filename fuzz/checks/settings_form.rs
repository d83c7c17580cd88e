//! What the settings page submits (a JSON object of key → value). Beyond "no
//! crash": an accepted form writes a file that parses back to the config it
//! was checked as, and showing that config and saving again changes nothing.
//!
//! Shared by the fuzz target and tests/fuzz_regressions.rs: `super::nexus`
//! is the crate under test (the fuzz build's parsers, or `opencode_nexus`).

use super::nexus::config::Config;
use super::nexus::config::form as settings_form;
use super::nexus::paths::Paths;
use std::path::Path;

pub fn check(data: &[u8]) {
    let Ok(form) = serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(data)
    else {
        return;
    };
    let paths = Paths::from_vars(|name| (name == "HOME").then(|| "/home/fuzz".into()));
    let file = Path::new("/home/fuzz/.config/opencode-nexus/config.toml");
    let valid = match settings_form::validate(&form, file, &paths) {
        Ok(valid) => valid,
        Err(e) => {
            assert!(!e.message.is_empty());
            return;
        }
    };
    let reread = Config::parse(&valid.text, file, &paths)
        .unwrap_or_else(|e| panic!("the written file does not load: {e}\n{}", valid.text));
    assert_eq!(
        reread.config, valid.config,
        "the file says otherwise:\n{}",
        valid.text
    );
    let again = settings_form::validate(&settings_form::values(&valid.config), file, &paths)
        .unwrap_or_else(|e| {
            panic!(
                "cannot save the saved settings again: {e:?}\n{}",
                valid.text
            )
        });
    assert_eq!(
        again.config, valid.config,
        "saving twice changed the config"
    );
}
