//! Markdown for the quick-chat page: agent text (CommonMark + GFM tables,
//! task lists, strikethrough and http(s) autolinks) parsed by pulldown-cmark
//! into a small JSON tree that the page turns into DOM with
//! `createElement`/`textContent` (`ui/markdown.js`; `ui/README.md` is the
//! contract). No HTML string is ever made: raw HTML in the text comes out as
//! text. Code blocks are highlighted by `highlight` into spans of a few
//! classes.
//!
//! Only the popover process uses this room (the resident binary never links
//! it): the page asks for a tree with a `markdown` message.
//!
//! The tree: a node is a JSON string (text) or an object
//! `{"k": kind, "c": [children], …attributes}`. Kinds: `p`, `h` (`level`
//! 1–6), `quote`, `ul`, `ol` (`start`), `li`, `task` (`checked`), `hr`,
//! `table`, `thead`, `tbody`, `tr`, `th`/`td` (`align`), `code_block`
//! (`lang`; children are strings or `[class, text]` pairs), `html` (raw HTML
//! as text), `em`, `strong`, `del`, `code`, `a` (`href`, `title`), `img`
//! (`src`, `title`; children are the alt text), `br`. A soft line break is
//! a `"\n"` in the text, as in CommonMark's HTML.
//!
//! With `Code::Later` code blocks come as their plain text, marked `later`
//! when their language is one to highlight: the page shows the answer at once
//! and asks for each block's highlighting afterwards (a 60 KB answer's code
//! is most of its cost), the same request with `Code::Highlighted` for one
//! fenced block.

pub mod highlight;

use pulldown_cmark::{Alignment, CodeBlockKind, Event, Options, Parser, Tag};
use serde_json::{Map, Value, json};

/// Elements nest at most this deep; deeper ones leave only their content
/// (the page and the JSON between stay shallow, whatever the text).
pub const MAX_DEPTH: usize = 32;

/// The parser's options: CommonMark plus the GFM extensions agents use.
fn options() -> Options {
    Options::ENABLE_TABLES | Options::ENABLE_TASKLISTS | Options::ENABLE_STRIKETHROUGH
}

/// What to do with code blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// Highlighted in the tree.
    Highlighted,
    /// Their text only, `later: true` when a highlight would add something.
    Later,
}

impl Code {
    /// `Later` when a page asked with `code_later`, else `Highlighted`.
    pub fn later_if(code_later: bool) -> Code {
        if code_later {
            Code::Later
        } else {
            Code::Highlighted
        }
    }
}

/// An element being built.
struct Open {
    kind: &'static str,
    attributes: Map<String, Value>,
    children: Vec<Value>,
    /// The text of a code block, highlighted when it closes.
    code: Option<String>,
    /// Too deep: its children go to its parent.
    flattened: bool,
    /// For a code block: highlight it when it closes.
    highlight: bool,
}

impl Open {
    fn new(kind: &'static str) -> Open {
        Open {
            kind,
            attributes: Map::new(),
            children: Vec::new(),
            code: None,
            flattened: false,
            highlight: true,
        }
    }

    fn with(mut self, key: &str, value: Value) -> Open {
        self.attributes.insert(key.into(), value);
        self
    }

    fn push_text(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        if let Some(code) = &mut self.code {
            code.push_str(text);
            return;
        }
        // Adjacent text is merged, so bare URLs are found whole.
        if let Some(Value::String(last)) = self.children.last_mut() {
            last.push_str(text);
        } else {
            self.children.push(Value::String(text.into()));
        }
    }

    fn close(self) -> Vec<Value> {
        let Open {
            kind,
            mut attributes,
            children,
            code,
            flattened,
            highlight,
        } = self;
        let children = match code {
            Some(code) if flattened => vec![Value::String(code)],
            Some(code) if !highlight => {
                let lang = attributes.get("lang").and_then(Value::as_str).unwrap_or("");
                if !code.is_empty() && !highlight::is_plain(lang) {
                    attributes.insert("later".into(), Value::Bool(true));
                }
                vec![Value::String(code)]
            }
            Some(code) => {
                let lang = attributes.get("lang").and_then(Value::as_str).unwrap_or("");
                highlight::highlight(&code, lang)
            }
            None if matches!(kind, "a" | "img" | "code" | "html") => children,
            None => children.into_iter().flat_map(link_bare_urls).collect(),
        };
        if flattened {
            return children;
        }
        let children = if kind == "table" {
            table_sections(&mut attributes, children)
        } else {
            children
        };
        attributes.insert("k".into(), Value::String(kind.into()));
        attributes.insert("c".into(), Value::Array(children));
        vec![Value::Object(attributes)]
    }

    /// Adds closed children, merging text with the text before it.
    fn extend(&mut self, closed: Vec<Value>) {
        for node in closed {
            match node {
                Value::String(text) => self.push_text(&text),
                node => self.children.push(node),
            }
        }
    }
}

/// The tree of `text` with its code highlighted: the list of its top-level
/// blocks.
pub fn to_tree(text: &str) -> Value {
    to_tree_with(text, Code::Highlighted)
}

/// The tree of `text`, its code blocks as `code` says.
pub fn to_tree_with(text: &str, code: Code) -> Value {
    let mut stack = vec![Open::new("root")];
    for event in Parser::new_ext(text, options()) {
        match event {
            Event::Start(tag) => {
                let mut element = open(tag);
                element.flattened = stack.len() > MAX_DEPTH;
                element.highlight = code == Code::Highlighted;
                stack.push(element);
            }
            Event::End(_) => {
                if stack.len() > 1 {
                    let closed = stack.pop().expect("checked").close();
                    top(&mut stack).extend(closed);
                }
            }
            Event::Text(text) => top(&mut stack).push_text(&text),
            Event::Code(code) => {
                let mut node = Open::new("code");
                node.push_text(&code);
                let closed = node.close();
                top(&mut stack).extend(closed);
            }
            // Raw HTML is shown as text: in a block as a block of its own.
            Event::Html(html) | Event::InlineHtml(html) => top(&mut stack).push_text(&html),
            Event::SoftBreak => top(&mut stack).push_text("\n"),
            Event::HardBreak => top(&mut stack).children.push(element("br", vec![])),
            Event::Rule => top(&mut stack).children.push(element("hr", vec![])),
            Event::TaskListMarker(checked) => top(&mut stack)
                .children
                .push(json!({"k": "task", "checked": checked, "c": []})),
            // Options not enabled (math, footnotes): their text as it was.
            Event::InlineMath(text) | Event::DisplayMath(text) => top(&mut stack).push_text(&text),
            Event::FootnoteReference(label) => {
                top(&mut stack).push_text(&format!("[^{label}]"));
            }
        }
    }
    // A parser always closes what it opens; anything left is kept anyway.
    while stack.len() > 1 {
        let closed = stack.pop().expect("checked").close();
        top(&mut stack).extend(closed);
    }
    let root = stack.pop().expect("the root");
    Value::Array(root.children.into_iter().flat_map(link_bare_urls).collect())
}

fn top(stack: &mut [Open]) -> &mut Open {
    stack.last_mut().expect("the root stays")
}

fn element(kind: &str, children: Vec<Value>) -> Value {
    json!({"k": kind, "c": children})
}

fn open(tag: Tag) -> Open {
    match tag {
        Tag::Paragraph => Open::new("p"),
        Tag::Heading { level, .. } => Open::new("h").with("level", json!(level as u8)),
        Tag::BlockQuote(_) => Open::new("quote"),
        Tag::CodeBlock(kind) => {
            let lang = match kind {
                CodeBlockKind::Fenced(info) => info.split_whitespace().next().unwrap_or("").into(),
                CodeBlockKind::Indented => String::new(),
            };
            let mut block = Open::new("code_block").with("lang", Value::String(lang));
            block.code = Some(String::new());
            block
        }
        Tag::HtmlBlock => Open::new("html"),
        Tag::List(None) => Open::new("ul"),
        Tag::List(Some(start)) => Open::new("ol").with("start", json!(start)),
        Tag::Item => Open::new("li"),
        Tag::Table(alignments) => Open::new("table").with(
            "align",
            Value::Array(alignments.iter().map(alignment).collect()),
        ),
        Tag::TableHead => Open::new("thead"),
        Tag::TableRow => Open::new("tr"),
        Tag::TableCell => Open::new("td"),
        Tag::Emphasis => Open::new("em"),
        Tag::Strong => Open::new("strong"),
        Tag::Strikethrough => Open::new("del"),
        Tag::Link {
            dest_url, title, ..
        } => with_title(
            Open::new("a").with("href", json!(dest_url.as_ref())),
            &title,
        ),
        Tag::Image {
            dest_url, title, ..
        } => with_title(
            Open::new("img").with("src", json!(dest_url.as_ref())),
            &title,
        ),
        // Not enabled; kept as plain containers should they ever appear.
        _ => Open::new("span"),
    }
}

fn with_title(open: Open, title: &str) -> Open {
    if title.is_empty() {
        open
    } else {
        open.with("title", json!(title))
    }
}

fn alignment(a: &Alignment) -> Value {
    match a {
        Alignment::None => Value::Null,
        Alignment::Left => json!("left"),
        Alignment::Center => json!("center"),
        Alignment::Right => json!("right"),
    }
}

/// Text with its bare `http://` and `https://` URLs made links (GFM's
/// extended autolinks, web URLs only): trailing sentence punctuation and
/// unbalanced closing parentheses stay outside the link.
fn link_bare_urls(node: Value) -> Vec<Value> {
    let Value::String(text) = node else {
        return vec![node];
    };
    if !text.contains("http") {
        return vec![Value::String(text)];
    }
    let mut out = Vec::new();
    let mut rest = text.as_str();
    while let Some((start, end)) = find_bare_url(rest) {
        if start > 0 {
            out.push(Value::String(rest[..start].into()));
        }
        let url = &rest[start..end];
        out.push(json!({"k": "a", "href": url, "bare": true, "c": [url]}));
        rest = &rest[end..];
    }
    if !rest.is_empty() {
        out.push(Value::String(rest.into()));
    }
    out
}

/// A table's rows in `thead`/`tbody`; header cells are `th`, and each cell
/// gets its column's alignment.
fn table_sections(attributes: &mut Map<String, Value>, children: Vec<Value>) -> Vec<Value> {
    let align = attributes.remove("align").unwrap_or(Value::Null);
    let align = align.as_array().cloned().unwrap_or_default();
    let mut sections = Vec::new();
    let mut body_rows = Vec::new();
    for child in children {
        match child.get("k").and_then(Value::as_str) {
            Some("thead") => {
                // pulldown-cmark puts the header cells straight in the head.
                let cells = set_cells(child["c"].clone(), "th", &align);
                sections.push(json!({"k": "thead", "c": [{"k": "tr", "c": cells}]}));
            }
            Some("tr") => {
                let cells = set_cells(child["c"].clone(), "td", &align);
                body_rows.push(json!({"k": "tr", "c": cells}));
            }
            _ => {}
        }
    }
    if !body_rows.is_empty() {
        sections.push(json!({"k": "tbody", "c": body_rows}));
    }
    sections
}

fn set_cells(cells: Value, kind: &str, align: &[Value]) -> Vec<Value> {
    let mut out = Vec::new();
    for (column, mut cell) in cells
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .enumerate()
    {
        if let Value::Object(map) = &mut cell {
            map.insert("k".into(), json!(kind));
            if let Some(a) = align.get(column).filter(|a| !a.is_null()) {
                map.insert("align".into(), a.clone());
            }
        }
        out.push(cell);
    }
    out
}

/// The byte range of the first bare web URL in `text`.
fn find_bare_url(text: &str) -> Option<(usize, usize)> {
    let mut from = 0;
    while let Some(found) = text[from..].find("http") {
        let start = from + found;
        let after_scheme = ["https://", "http://"]
            .iter()
            .find(|s| text[start..].starts_with(**s))
            .map(|s| start + s.len());
        // At a word start only (not inside `xhttp://`).
        let word_start = text[..start]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_alphanumeric());
        if let (Some(host), true) = (after_scheme, word_start) {
            let end = url_end(text, host);
            if end > host {
                return Some((start, end));
            }
        }
        from = start + 4;
    }
    None
}

/// Where a URL whose host starts at `host` ends (GFM's trailing rules).
fn url_end(text: &str, host: usize) -> usize {
    let mut end = text[host..]
        .find(|c: char| c.is_whitespace() || c == '<')
        .map_or(text.len(), |i| host + i);
    loop {
        let url = &text[host..end];
        let Some(last) = url.chars().next_back() else {
            break;
        };
        let trim = match last {
            '?' | '!' | '.' | ',' | ':' | '*' | '_' | '~' | '\'' | '"' | ';' => true,
            ')' => url.matches(')').count() > url.matches('(').count(),
            _ => false,
        };
        if !trim {
            break;
        }
        end -= last.len_utf8();
    }
    end
}

#[cfg(test)]
mod tests;
