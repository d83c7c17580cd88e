#![allow(dead_code)]

pub mod chromium;
pub mod code_samples;
pub mod fake_event_server;
pub mod gateway;
pub mod headless_desktop;
pub mod local_http;
pub mod mock_model;
pub mod nexus;
pub mod notification_server;
pub mod opencode_server;
pub mod popover;
pub mod webdriver;
pub mod wine;

/// An HTTP client for the tests' own requests, built after the TLS provider
/// Nexus uses is installed (reqwest has none of its own in this build).
pub fn http() -> reqwest::Client {
    opencode_nexus::server::client::install_tls_provider();
    reqwest::Client::new()
}

/// `reqwest::get` through [`http`].
pub async fn get(url: impl reqwest::IntoUrl) -> reqwest::Result<reqwest::Response> {
    http().get(url).send().await
}
