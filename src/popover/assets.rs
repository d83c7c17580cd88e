//! The page (`ui/`), embedded in the binary and served through the custom
//! protocol `nexus://` — no HTTP port — with a strict Content-Security-Policy.

/// The custom protocol's scheme; the page lives at `nexus://localhost/`.
pub const SCHEME: &str = "nexus";
pub const START_URL: &str = "nexus://localhost/index.html";

/// No inline scripts or styles, no eval, no network, nothing from elsewhere.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'none'; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'none'; object-src 'none'";

/// Every file of the page: (path, content type, bytes).
pub const FILES: &[(&str, &str, &[u8])] = &[
    ("index.html", HTML, include_bytes!("../../ui/index.html")),
    ("style.css", CSS, include_bytes!("../../ui/style.css")),
    ("markdown.js", JS, include_bytes!("../../ui/markdown.js")),
    (
        "conversation.js",
        JS,
        include_bytes!("../../ui/conversation.js"),
    ),
    ("render.js", JS, include_bytes!("../../ui/render.js")),
    ("pages.js", JS, include_bytes!("../../ui/pages.js")),
    ("setup.js", JS, include_bytes!("../../ui/setup.js")),
    ("settings.js", JS, include_bytes!("../../ui/settings.js")),
    ("logs.js", JS, include_bytes!("../../ui/logs.js")),
    ("app.js", JS, include_bytes!("../../ui/app.js")),
];

const HTML: &str = "text/html; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";

/// An answer of the custom protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asset {
    pub status: u16,
    pub content_type: &'static str,
    pub body: &'static [u8],
}

/// The file for a request path (`/` is the page itself); 404 otherwise.
pub fn lookup(path: &str) -> Asset {
    let name = match path.trim_start_matches('/') {
        "" => "index.html",
        other => other,
    };
    FILES
        .iter()
        .find(|(file, _, _)| *file == name)
        .map(|(_, content_type, body)| Asset {
            status: 200,
            content_type,
            body,
        })
        .unwrap_or(Asset {
            status: 404,
            content_type: "text/plain; charset=utf-8",
            body: b"not found",
        })
}

/// Whether a navigation stays inside the page's own origin.
pub fn is_own_origin(url: &str) -> bool {
    url.starts_with("nexus://localhost/") || url == "nexus://localhost"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_ui_file_is_embedded_and_served() {
        let ui = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("ui");
        for entry in std::fs::read_dir(&ui).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            if name.ends_with(".md") {
                continue;
            }
            let asset = lookup(&format!("/{name}"));
            assert_eq!(asset.status, 200, "{name} is in ui/ but not embedded");
            assert_eq!(
                asset.body,
                std::fs::read(ui.join(&name)).unwrap().as_slice()
            );
        }
        assert_eq!(lookup("/").body, lookup("/index.html").body);
        assert_eq!(lookup("/../Cargo.toml").status, 404);
        assert_eq!(lookup("/secret").status, 404);
    }

    #[test]
    fn the_page_has_no_inline_script_or_style_and_no_html_injection() {
        let html = String::from_utf8_lossy(lookup("/").body).to_lowercase();
        assert!(!html.contains("<script>"), "inline script in index.html");
        assert!(!html.contains(" style="), "inline style in index.html");
        assert!(!html.contains("http://") && !html.contains("https://"));
        for (name, _, body) in FILES.iter().filter(|(n, _, _)| n.ends_with(".js")) {
            let js = String::from_utf8_lossy(body);
            for sink in [
                "innerHTML",
                "outerHTML",
                "insertAdjacentHTML",
                "document.write",
                "eval(",
            ] {
                assert!(!js.contains(sink), "{name} uses {sink}");
            }
        }
    }

    #[test]
    fn navigation_stays_home() {
        assert!(is_own_origin("nexus://localhost/index.html"));
        assert!(!is_own_origin("nexus://localhost.evil.example/"));
        assert!(!is_own_origin("https://example.com/"));
        assert!(!is_own_origin("file:///etc/passwd"));
    }
}
