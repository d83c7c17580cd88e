//! The page (`ui/`), embedded in the binary and served through the custom
//! protocol `nexus://` — no HTTP port — with a strict Content-Security-Policy.

/// The custom protocol's scheme; the page lives at `nexus://localhost/`.
pub const SCHEME: &str = "nexus";
pub const START_URL: &str = "nexus://localhost/index.html";

/// No inline scripts or styles, no eval, no network, nothing from elsewhere.
/// `ui/index.html` carries the same policy in a `<meta>` too (depth: it holds
/// even if the page were ever served without the header), except
/// `frame-ancestors`, which the CSP spec ignores in a meta policy.
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
            let entry = entry.unwrap();
            let name = entry.file_name().into_string().unwrap();
            // Docs and the page's unit tests (ui/tests/) are not served.
            if name.ends_with(".md") || entry.path().is_dir() {
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
        let html = String::from_utf8_lossy(lookup("/").body).to_string();
        let marker = r#"<meta http-equiv="Content-Security-Policy" content=""#;
        let at = html.find(marker).expect("a CSP meta element in index.html");
        let content = &html[at + marker.len()..];
        let meta = &content[..content.find('"').expect("the content attribute ends")];
        let mut header = directives(CONTENT_SECURITY_POLICY);
        // A meta policy cannot carry frame-ancestors (CSP 3, §6.3.1.1).
        assert!(header.remove("frame-ancestors").is_some());
        assert_eq!(directives(meta), header, "index.html's meta policy differs");
        // It must come before anything it governs.
        let first_load = ["<script", "<link", "<style", "<img"]
            .iter()
            .filter_map(|tag| html.find(tag))
            .min()
            .unwrap();
        assert!(
            at < first_load,
            "the CSP meta comes after a script or style"
        );
        assert_eq!(html.matches("Content-Security-Policy").count(), 1);
    }

    #[test]
    fn navigation_stays_home() {
        assert!(is_own_origin("nexus://localhost/index.html"));
        assert!(!is_own_origin("nexus://localhost.evil.example/"));
        assert!(!is_own_origin("https://example.com/"));
        assert!(!is_own_origin("file:///etc/passwd"));
    }
}
