//! The gateway's files: the page's (`crate::page::assets`: the chat page,
//! the sign-in page, the web app manifest) and the manifest's icons.

use crate::page::assets as page;

const PNG: &str = "image/png";

/// The phone's extra files: (path, content type, bytes).
const ICONS: &[(&str, &str, &[u8])] = &[
    (
        "icon-128.png",
        PNG,
        include_bytes!("../../icons/png/128/opencode-nexus.png"),
    ),
    (
        "icon-256.png",
        PNG,
        include_bytes!("../../icons/png/256/opencode-nexus.png"),
    ),
];

/// The file named `name` (no leading slash): its content type and bytes.
pub fn lookup(name: &str) -> Option<(&'static str, &'static [u8])> {
    page::FILES
        .iter()
        .chain(ICONS)
        .find(|(path, _, _)| *path == name)
        .map(|(_, content_type, body)| (*content_type, *body))
}

/// The Content-Security-Policy of every answer: the page's own, which lets
/// it talk only to where it came from (`connect-src 'self'`).
pub fn content_security_policy() -> &'static str {
    page::CONTENT_SECURITY_POLICY
}
