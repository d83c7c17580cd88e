//! Debian's Chromium (package `chromium`) driven by chromedriver (package
//! `chromium-driver`) as a phone: headless, a fresh profile, a 390 × 844
//! CSS px touch screen at 3× with a phone's user agent (chromedriver's
//! mobile emulation), trusting any certificate (the gateway's is
//! self-signed), and nothing on the network but what the test opens
//! (background networking, component updates and sync off, no proxy).

use super::webdriver::WebDriver;
use serde_json::json;
use std::path::Path;
use std::process::Command;

pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// The phone's viewport, in CSS px, and its device pixel ratio.
pub const PHONE_WIDTH: u32 = 390;
pub const PHONE_HEIGHT: u32 = 844;
pub const PHONE_PIXEL_RATIO: u32 = 3;
/// An Android phone's Chrome (the gateway names the device after it).
pub const PHONE_USER_AGENT: &str = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36";

/// Starts chromedriver and Chromium as a phone; chromedriver's log goes to
/// `log`. Both stop when the driver is closed or dropped.
pub async fn phone(log: &Path) -> WebDriver {
    assert!(
        Path::new(CHROMEDRIVER).exists() && Path::new(CHROMIUM).exists(),
        "{CHROMEDRIVER} and {CHROMIUM} are needed (packages chromium-driver and chromium; \
         scripts/setup-and-test.sh installs them)"
    );
    let scratch = tempfile::Builder::new()
        .prefix("nexus-chromium-")
        .tempdir()
        .expect("a temporary Chromium profile");
    let profile = scratch.path().join("profile");
    let home = scratch.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let capabilities = json!({"alwaysMatch": {
        "browserName": "chrome",
        "acceptInsecureCerts": true,
        "pageLoadStrategy": "normal",
        "timeouts": {"script": 60_000, "pageLoad": 60_000, "implicit": 0},
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": [
                "--headless=new",
                "--no-sandbox",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                format!("--user-data-dir={}", profile.display()),
                "--no-first-run",
                "--no-default-browser-check",
                "--no-proxy-server",
                "--disable-crash-reporter",
                "--disable-breakpad",
                "--password-store=basic",
                "--lang=en-US",
            ],
            "mobileEmulation": {
                "deviceMetrics": {
                    "width": PHONE_WIDTH,
                    "height": PHONE_HEIGHT,
                    "pixelRatio": PHONE_PIXEL_RATIO,
                    "touch": true,
                },
                "userAgent": PHONE_USER_AGENT,
            },
        },
    }});
    let mut command = Command::new(CHROMEDRIVER);
    // Whatever Chromium writes outside its profile (crash database, caches)
    // stays in the scratch directory too.
    command
        .env("HOME", &home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_CACHE_HOME", home.join(".cache"))
        .env("XDG_DATA_HOME", home.join(".local/share"));
    WebDriver::launch(command, capabilities, log, Some(scratch)).await
}
