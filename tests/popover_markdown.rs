//! Markdown in the real popover: a reply with nested lists, a table, a task
//! list, emphasis inside a link and code in three languages is parsed by the
//! popover process (pulldown-cmark, syntect) and built into the page's DOM,
//! and markup in a reply — in its text, in a code block, in a link's text —
//! stays inert. The real server with the mock model (it echoes the prompt),
//! under the headless desktop, driven through WebKitWebDriver.

// Drives Nexus as a Linux process (XDG dirs, the Unix socket, D-Bus, the
// Linux desktop): Linux only for now (README, Platforms).
#![cfg(target_os = "linux")]

mod support;

use serde_json::json;
use std::time::Duration;
use support::headless_desktop::HeadlessDesktop;
use support::mock_model::MockModel;
use support::opencode_server::TestHome;
use support::popover::{assert_accessible, open, start_with_popover};
use support::webdriver::{self, ENTER};

const WAIT: Duration = Duration::from_secs(60);

/// What the user types; the mock answers `echo: ` and the same text.
const REPLY: &str = "Plan:

1. First
   - nested *one*
   - nested **two**
2. Second

| Name | Count |
|:-----|------:|
| apples | 3 |

- [x] done
- [ ] todo

See [the *docs*](https://opencode.ai/docs) and [<img src=x onerror=window.__pwned=5>](https://example.com/).

Careful: <img src=x onerror=window.__pwned=1> and <script>window.__pwned=2</script> are text.

```rust
fn main() { println!(\"hi\"); }
```

```ts
const answer: number = 42;
```

```python
def f():
    return \"<script>window.__pwned=3</script>\"
```

```html
<img src=x onerror=window.__pwned=4>
```
";

/// The assistant's reply, summed up by the page.
const SUMMARY: &str = r#"
const reply = [...document.querySelectorAll('#messages article[data-role="assistant"]')].pop();
if (!reply) return null;
const all = (css) => [...reply.querySelectorAll(css)];
return {
  nested: all('ol > li > ul > li').map(li => li.textContent),
  nestedEmphasis: all('ol > li > ul > li em, ol > li > ul > li strong').map(e => e.textContent),
  headers: all('table thead th').map(th => th.textContent),
  rightAligned: all('table tbody td.align-right').map(td => td.textContent),
  tasks: all('li.task input[type=checkbox]').map(b => [b.checked, b.disabled]),
  docsLink: all('a[href="https://opencode.ai/docs"] em').map(e => e.textContent),
  languages: all('.code-block code').map(c => c.className),
  highlighted: all('.code-block code').map(c => c.querySelectorAll('span[class^="tok-"]').length > 0),
  pending: all('.md-pending').length,
  injected: all('img, script, iframe, [onerror], [style]').length,
  pwned: window.__pwned === undefined ? null : window.__pwned,
  text: reply.textContent,
};
"#;

#[tokio::test(flavor = "multi_thread")]
async fn a_markdown_reply_renders_its_structure_and_markup_in_it_stays_inert() {
    let desktop = HeadlessDesktop::start();
    let model = MockModel::start().await;
    let home = TestHome::new(model.base_url());
    let inspector = webdriver::free_port();
    let nexus = start_with_popover(&desktop, &home, "hide_on_blur = false", inspector).await;
    open(&nexus, &[]).await;
    let driver = webdriver::WebDriver::attach(inspector, &home.root().join("webdriver.log")).await;

    // The seam tests use: render(text) resolves to a DocumentFragment.
    let seam = driver
        .execute_async(
            "const done = arguments[arguments.length - 1];\
             window.NexusMarkdown.render('# T\\n\\n**b** <i>x</i>').then(f => {\
               const d = document.createElement('div'); d.appendChild(f); done(d.innerHTML); });",
            json!([]),
        )
        .await;
    assert_eq!(
        seam,
        json!("<h3 class=\"md-h1\">T</h3><p><strong>b</strong> &lt;i&gt;x&lt;/i&gt;</p>")
    );

    // The prompt goes in as typed (several lines), and is sent with Enter.
    let composer = driver.wait_for("#composer", WAIT).await;
    driver
        .execute(
            "const c = document.querySelector('#composer'); c.value = arguments[0];\
             c.dispatchEvent(new Event('input', {bubbles: true}));",
            json!([REPLY]),
        )
        .await;
    driver.send_keys(&composer, ENTER).await;
    // A block rendered from a partial text (a fence just opened, or the
    // python line cut after `return `) shows its final text at its next
    // render, a frame later: wait for every block's last line. Code blocks
    // show their text first and their colours a moment later: wait for all
    // four to be coloured.
    let summary = driver
        .wait_until(
            "the reply rendered",
            &format!(
                "const s = (function () {{ {SUMMARY} }})();\
                 return s && s.highlighted.length === 4 && s.highlighted.every(Boolean) && s.pending === 0\
                   && s.text.includes('fn main()') && s.text.includes('const answer: number = 42;')\
                   && s.text.includes('<script>window.__pwned=3</script>') && s.text.includes('window.__pwned=4') ? s : null;"
            ),
            WAIT,
        )
        .await;

    assert_eq!(
        summary["nested"],
        json!(["nested one", "nested two"]),
        "{summary}"
    );
    assert_eq!(
        summary["nestedEmphasis"],
        json!(["one", "two"]),
        "{summary}"
    );
    assert_eq!(summary["headers"], json!(["Name", "Count"]), "{summary}");
    assert_eq!(summary["rightAligned"], json!(["3"]), "{summary}");
    assert_eq!(
        summary["tasks"],
        json!([[true, true], [false, true]]),
        "{summary}"
    );
    assert_eq!(summary["docsLink"], json!(["docs"]), "{summary}");
    assert_eq!(
        summary["languages"],
        json!([
            "language-rust",
            "language-ts",
            "language-python",
            "language-html"
        ]),
        "{summary}"
    );
    assert_eq!(
        summary["highlighted"],
        json!([true, true, true, true]),
        "{summary}"
    );
    // Markup in the reply, in a code block and in a link's text is text.
    assert_eq!(summary["injected"], 0, "{summary}");
    assert_eq!(summary["pwned"], json!(null), "{summary}");
    let text = summary["text"].as_str().unwrap_or_default();
    for shown in [
        "<img src=x onerror=window.__pwned=1>",
        "<script>window.__pwned=2</script>",
        "<script>window.__pwned=3</script>",
        "<img src=x onerror=window.__pwned=4>",
        "<img src=x onerror=window.__pwned=5>",
    ] {
        assert!(
            text.contains(shown),
            "{shown:?} not shown as text in {text:?}"
        );
    }
    // The link whose text is markup is a link to its http(s) target, nothing else.
    let links = driver
        .execute(
            "return [...document.querySelectorAll('#messages article[data-role=\"assistant\"] a')]\
               .map(a => a.getAttribute('href'))",
            json!([]),
        )
        .await;
    assert_eq!(
        links,
        json!(["https://opencode.ai/docs", "https://example.com/"])
    );

    assert_accessible(&driver, "Markdown reply", Some("popover-markdown.png")).await;
    driver.close().await;
}
