//! The page's files (`ui/`), embedded in the binary, and the strict
//! Content-Security-Policy they are served with — by the popover through its
//! custom protocol `nexus://` (no HTTP port), and by the remote gateway over
//! HTTPS to a phone.

/// The custom protocol's scheme; the page lives at `nexus://localhost/`.
pub const SCHEME: &str = "nexus";
pub const START_URL: &str = "nexus://localhost/index.html";

/// No inline scripts or styles, no eval, nothing from elsewhere. The page
/// may connect only to its own origin (`connect-src 'self'`): nothing in the
/// popover, where it talks through the IPC, but the remote gateway serves the
/// same page over HTTPS and it reaches the gateway's `/api/ws` WebSocket and
/// `/api/login` with it; `manifest-src 'self'` lets a phone read the web app
/// manifest. `ui/index.html` and `ui/login.html` carry the same policy in a
/// `<meta>` too (depth: it holds even if a page were ever served without the
/// header), except `frame-ancestors`, which the CSP spec ignores in a meta
/// policy.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; \
     manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; \
     object-src 'none'";

/// Every file of the page: (path, content type, bytes). The scripts are in
/// `index.html`'s load order; the remote gateway's sign-in page
/// (`login.html`, `login.css`, `login.js`) and the web app manifest come
/// last (the popover never shows them, the gateway serves them).
pub const FILES: &[(&str, &str, &[u8])] = &[
    ("index.html", HTML, include_bytes!("../../ui/index.html")),
    ("style.css", CSS, include_bytes!("../../ui/style.css")),
    ("remote.js", JS, include_bytes!("../../ui/remote.js")),
    ("dom.js", JS, include_bytes!("../../ui/dom.js")),
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
    ("pair.js", JS, include_bytes!("../../ui/pair.js")),
    ("bridge.js", JS, include_bytes!("../../ui/bridge.js")),
    ("state.js", JS, include_bytes!("../../ui/state.js")),
    ("metrics.js", JS, include_bytes!("../../ui/metrics.js")),
    ("projects.js", JS, include_bytes!("../../ui/projects.js")),
    ("frame.js", JS, include_bytes!("../../ui/frame.js")),
    ("drafts.js", JS, include_bytes!("../../ui/drafts.js")),
    ("sessions.js", JS, include_bytes!("../../ui/sessions.js")),
    (
        "session-panel.js",
        JS,
        include_bytes!("../../ui/session-panel.js"),
    ),
    ("history.js", JS, include_bytes!("../../ui/history.js")),
    (
        "session-status.js",
        JS,
        include_bytes!("../../ui/session-status.js"),
    ),
    ("events.js", JS, include_bytes!("../../ui/events.js")),
    ("pending.js", JS, include_bytes!("../../ui/pending.js")),
    ("models.js", JS, include_bytes!("../../ui/models.js")),
    ("composer.js", JS, include_bytes!("../../ui/composer.js")),
    ("views.js", JS, include_bytes!("../../ui/views.js")),
    ("keyboard.js", JS, include_bytes!("../../ui/keyboard.js")),
    ("links.js", JS, include_bytes!("../../ui/links.js")),
    ("lifecycle.js", JS, include_bytes!("../../ui/lifecycle.js")),
    ("app.js", JS, include_bytes!("../../ui/app.js")),
    ("login.html", HTML, include_bytes!("../../ui/login.html")),
    ("login.css", CSS, include_bytes!("../../ui/login.css")),
    ("login.js", JS, include_bytes!("../../ui/login.js")),
    (
        "manifest.webmanifest",
        MANIFEST,
        include_bytes!("../../ui/manifest.webmanifest"),
    ),
];

const HTML: &str = "text/html; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const MANIFEST: &str = "application/manifest+json";

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
            let entry = entry.unwrap();
            let name = entry.file_name().into_string().unwrap();
            // ui/tests/ holds the page's node tests: not part of the page.
            if name.ends_with(".md") || entry.file_type().unwrap().is_dir() {
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

    /// The pages: the chat (`index.html`) and the gateway's sign-in page.
    const PAGES: [&str; 2] = ["index.html", "login.html"];

    /// The sign-in page's scripts, which the chat page does not load.
    const LOGIN_SCRIPTS: [&str; 1] = ["login.js"];

    /// The `src` of each `<script>` of `html`, in order.
    fn scripts(html: &str) -> Vec<&str> {
        html.split("<script src=\"")
            .skip(1)
            .map(|rest| &rest[..rest.find('"').expect("the src attribute ends")])
            .collect()
    }

    #[test]
    fn the_page_loads_every_script_in_the_order_of_files() {
        let html = String::from_utf8_lossy(lookup("/").body).to_string();
        let loaded = scripts(&html);
        let embedded: Vec<&str> = FILES
            .iter()
            .map(|(name, _, _)| *name)
            .filter(|name| name.ends_with(".js") && !LOGIN_SCRIPTS.contains(name))
            .collect();
        assert_eq!(loaded, embedded, "index.html's scripts and FILES differ");
        assert_eq!(html.matches("<script").count(), loaded.len());
        assert_eq!(html.matches(" defer></script>").count(), loaded.len());

        let login = String::from_utf8_lossy(lookup("/login.html").body).to_string();
        assert_eq!(scripts(&login), LOGIN_SCRIPTS, "login.html's scripts");
        assert_eq!(login.matches("<script").count(), LOGIN_SCRIPTS.len());
        assert_eq!(
            login.matches(" defer></script>").count(),
            LOGIN_SCRIPTS.len()
        );
    }

    #[test]
    fn the_page_has_no_inline_script_or_style_and_no_html_injection() {
        for page in PAGES {
            let html = String::from_utf8_lossy(lookup(&format!("/{page}")).body).to_lowercase();
            assert!(!html.contains("<script>"), "inline script in {page}");
            assert!(!html.contains("<style"), "inline style in {page}");
            assert!(!html.contains(" style="), "inline style in {page}");
            assert!(!html.contains("http://") && !html.contains("https://"));
        }
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

    /// The policy's directives, each as its name and sorted sources.
    fn directives(policy: &str) -> std::collections::BTreeMap<String, Vec<String>> {
        policy
            .split(';')
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(|d| {
                let mut words = d.split_ascii_whitespace().map(str::to_ascii_lowercase);
                let name = words.next().unwrap_or_default();
                let mut sources: Vec<String> = words.collect();
                sources.sort();
                (name, sources)
            })
            .collect()
    }

    #[test]
    fn the_page_carries_the_header_policy_in_a_meta_element_before_any_script() {
        let mut header = directives(CONTENT_SECURITY_POLICY);
        // A meta policy cannot carry frame-ancestors (CSP 3, §6.3.1.1).
        assert!(header.remove("frame-ancestors").is_some());
        for page in PAGES {
            let html = String::from_utf8_lossy(lookup(&format!("/{page}")).body).to_string();
            let marker = r#"<meta http-equiv="Content-Security-Policy" content=""#;
            let at = html.find(marker).expect("a CSP meta element in the page");
            let content = &html[at + marker.len()..];
            let meta = &content[..content.find('"').expect("the content attribute ends")];
            assert_eq!(directives(meta), header, "{page}'s meta policy differs");
            // It must come before anything it governs.
            let first_load = ["<script", "<link", "<style", "<img"]
                .iter()
                .filter_map(|tag| html.find(tag))
                .min()
                .unwrap();
            assert!(
                at < first_load,
                "{page}: the CSP meta comes after a script or style"
            );
            assert_eq!(html.matches("Content-Security-Policy").count(), 1);
        }
    }

    #[test]
    fn the_web_app_manifest_is_served_as_one() {
        let manifest = lookup("/manifest.webmanifest");
        assert_eq!(manifest.status, 200);
        assert_eq!(manifest.content_type, "application/manifest+json");
        let value: serde_json::Value = serde_json::from_slice(manifest.body).unwrap();
        assert_eq!(value["start_url"], "/");
        assert_eq!(value["scope"], "/");
    }

    #[test]
    fn navigation_stays_home() {
        assert!(is_own_origin("nexus://localhost/index.html"));
        assert!(!is_own_origin("nexus://localhost.evil.example/"));
        assert!(!is_own_origin("https://example.com/"));
        assert!(!is_own_origin("file:///etc/passwd"));
    }
}
