#![allow(dead_code)]

pub mod fake_event_server;
pub mod headless_desktop;
pub mod local_http;
pub mod mock_model;
pub mod nexus;
pub mod notification_server;
pub mod opencode_server;
pub mod popover;
pub mod webdriver;
