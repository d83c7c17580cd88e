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
        "icon-192.png",
        PNG,
        include_bytes!("../../icons/png/192/opencode-nexus.png"),
    ),
    (
        "icon-256.png",
        PNG,
        include_bytes!("../../icons/png/256/opencode-nexus.png"),
    ),
    (
        "icon-512.png",
        PNG,
        include_bytes!("../../icons/png/512/opencode-nexus.png"),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every icon the web app manifest names is served, as a PNG of the size it says.
    #[test]
    fn the_manifests_icons_are_served_at_their_sizes() {
        let (_, manifest) = lookup("manifest.webmanifest").unwrap();
        let manifest: serde_json::Value = serde_json::from_slice(manifest).unwrap();
        let icons = manifest["icons"].as_array().unwrap();
        assert!(icons.iter().any(|i| i["sizes"] == "192x192"));
        assert!(icons.iter().any(|i| i["sizes"] == "512x512"));
        for icon in icons {
            let (content_type, png) = lookup(icon["src"].as_str().unwrap()).unwrap();
            assert_eq!(content_type, "image/png");
            assert_eq!(&png[1..4], b"PNG");
            let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
            let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
            assert_eq!(icon["sizes"], format!("{width}x{height}"));
        }
        assert!(lookup("remote.json").is_none());
        assert!(lookup("../config.toml").is_none());
    }
}
