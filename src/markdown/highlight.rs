//! Code highlighting for the page: syntect (its pure-Rust regex engine) with
//! the syntax definitions curated by the bat project (the `two-face` crate:
//! syntect's own set lacks TypeScript and TOML). The definitions are not
//! loaded at start, so the popover's cold open does not pay for them: the
//! popover calls `preload` on its Markdown thread once its window has
//! painted, so they are usually ready before the first code block arrives
//! (never on the window's thread).
//!
//! Scope names become a few classes the page styles in light and dark (the
//! page's CSP forbids inline styles): `kw`, `str`, `com`, `num`, `lit`, `fn`,
//! `type`, `prop`, `var`, `ins`, `del`, `meta`. Highlighting is bounded: past
//! `MAX_BYTES` or `MAX_LINES`, or from a line longer than `MAX_LINE_BYTES`,
//! the rest of a block is plain text.
//!
//! The definitions compile their regexes on first use, and those stay with
//! them: TypeScript alone costs ~45 MiB, seventeen languages ~160. So the
//! definitions are dropped once no block has been highlighted for
//! `UNLOAD_AFTER` (`unload_if_idle`, called by the process that keeps
//! them: the popover's Markdown thread, the gateway), and loaded again by the
//! next block that needs them.

use serde_json::{Value, json};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use syntect::parsing::{ParseState, Scope, ScopeStack, SyntaxReference, SyntaxSet};

/// Highlight at most this much of a block…
pub const MAX_BYTES: usize = 64 * 1024;
/// …and at most this many lines…
pub const MAX_LINES: usize = 2000;
/// …and stop at a line longer than this (minified code makes regexes slow).
pub const MAX_LINE_BYTES: usize = 4000;

/// Names agents put on fences that the syntax set does not know by itself.
const ALIASES: &[(&str, &str)] = &[
    ("ts", "TypeScript"),
    ("typescript", "TypeScript"),
    ("tsx", "TypeScriptReact"),
    ("jsx", "JavaScript (Babel)"),
    ("javascript", "JavaScript"),
    ("node", "JavaScript"),
    ("shell", "Bourne Again Shell (bash)"),
    ("console", "Bourne Again Shell (bash)"),
    ("shellscript", "Bourne Again Shell (bash)"),
    ("zsh", "Bourne Again Shell (bash)"),
    ("golang", "Go"),
    ("py", "Python"),
    ("python3", "Python"),
    ("rs", "Rust"),
    ("c++", "C++"),
    ("jsonc", "JSON"),
    ("json5", "JSON"),
    ("patch", "Diff"),
    ("udiff", "Diff"),
    ("yml", "YAML"),
];

/// Fences that mean "no language".
const PLAIN: &[&str] = &[
    "",
    "text",
    "txt",
    "plain",
    "plaintext",
    "log",
    "output",
    "none",
];

/// Scope prefixes and their class, most specific first; the innermost scope
/// of a token that matches one decides.
const CLASSES: &[(&str, &str)] = &[
    ("comment", "com"),
    ("constant.character.escape", "lit"),
    ("string", "str"),
    ("constant.numeric", "num"),
    ("constant", "lit"),
    ("support.constant", "lit"),
    ("markup.inserted", "ins"),
    ("markup.deleted", "del"),
    ("markup.changed", "meta"),
    ("meta.diff", "meta"),
    ("markup.heading", "meta"),
    ("entity.name.section", "meta"),
    ("entity.name.function", "fn"),
    ("support.function", "fn"),
    ("variable.function", "fn"),
    ("entity.name.tag", "kw"),
    ("entity.other.attribute-name", "prop"),
    ("support.type.property-name", "prop"),
    ("meta.mapping.key", "prop"),
    ("entity.name.type", "type"),
    ("entity.name.class", "type"),
    ("entity.name.struct", "type"),
    ("entity.name.enum", "type"),
    ("entity.name.trait", "type"),
    ("entity.other.inherited-class", "type"),
    ("support.type", "type"),
    ("support.class", "type"),
    ("storage.type", "kw"),
    ("storage.modifier", "kw"),
    ("keyword.operator", ""),
    ("keyword", "kw"),
    ("variable.parameter", "var"),
    ("variable.language", "var"),
];

struct Highlighter {
    syntaxes: SyntaxSet,
    classes: Vec<(Scope, &'static str)>,
}

/// The definitions are dropped after this long without a highlighted block
/// (loading them again takes 2-40 ms, and each language's regexes compile
/// again on its next block).
pub const UNLOAD_AFTER: Duration = Duration::from_secs(60);

/// The loaded definitions, and when a block was last highlighted with them
/// (`None` while only loaded: their regexes compile on first use, so loaded
/// and unused they cost ~2.5 MiB and are worth keeping).
struct Loaded {
    highlighter: Arc<Highlighter>,
    last_highlighted: Option<Instant>,
}

static LOADED: Mutex<Option<Loaded>> = Mutex::new(None);

fn loaded() -> MutexGuard<'static, Option<Loaded>> {
    // A panic while the lock was held left nothing half-made (the value is
    // replaced whole), so a poisoned lock is still good.
    LOADED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The definitions, loaded if they are not; `highlighting` marks a use that
/// compiles regexes.
fn highlighter(highlighting: bool) -> Arc<Highlighter> {
    let mut loaded = loaded();
    let loaded = loaded.get_or_insert_with(|| Loaded {
        highlighter: Arc::new(Highlighter {
            syntaxes: two_face::syntax::extra_newlines(),
            classes: CLASSES
                .iter()
                .filter_map(|(scope, class)| Scope::new(scope).ok().map(|s| (s, *class)))
                .collect(),
        }),
        last_highlighted: None,
    });
    if highlighting {
        loaded.last_highlighted = Some(Instant::now());
    }
    loaded.highlighter.clone()
}

/// When the definitions may be dropped: `UNLOAD_AFTER` after the last
/// highlighted block (`None` when no block has been highlighted since they
/// were loaded).
pub fn unload_due() -> Option<Instant> {
    loaded()
        .as_ref()
        .and_then(|l| l.last_highlighted)
        .map(|at| at + UNLOAD_AFTER)
}

/// Drops the definitions and their compiled regexes if they are due by `now`
/// (`unload_due`); true when they were dropped (the caller may then give the
/// freed memory back to the system). A block being highlighted meanwhile
/// keeps its own reference and finishes.
pub fn unload_if_idle(now: Instant) -> bool {
    let dropped = {
        let mut loaded = loaded();
        match loaded.as_ref().and_then(|l| l.last_highlighted) {
            Some(at) if now >= at + UNLOAD_AFTER => loaded.take(),
            _ => None,
        }
    };
    // Dropped here, outside the lock: freeing thousands of regexes takes a
    // moment, and a block that wants the definitions meanwhile loads anew.
    dropped.is_some()
}

/// The syntax for a fence's language name, if it is not plain text.
fn syntax_for<'a>(set: &'a SyntaxSet, lang: &str) -> Option<&'a SyntaxReference> {
    let lang = lang.trim().to_ascii_lowercase();
    if PLAIN.contains(&lang.as_str()) {
        return None;
    }
    if let Some((_, name)) = ALIASES.iter().find(|(alias, _)| *alias == lang) {
        return set.find_syntax_by_name(name);
    }
    set.find_syntax_by_token(&lang)
}

/// Loads the syntax definitions now (deserialising them takes a while,
/// more on a busy machine), if they are not loaded yet.
pub fn preload() {
    if loaded().is_none() {
        let started = std::time::Instant::now();
        highlighter(false);
        tracing::info!(
            "syntax definitions loaded in {} ms",
            started.elapsed().as_millis()
        );
    }
}

/// Does a fence with this name mean plain text (nothing to highlight)?
/// Decided without loading the definitions.
pub fn is_plain(lang: &str) -> bool {
    PLAIN.contains(&lang.trim().to_ascii_lowercase().as_str())
}

/// Is `lang` a language the highlighter knows (loads the definitions)?
pub fn knows(lang: &str) -> bool {
    syntax_for(&highlighter(false).syntaxes, lang).is_some()
}

/// `code` as a list of plain strings and `[class, text]` pairs, in order;
/// their texts joined are `code` exactly.
pub fn highlight(code: &str, lang: &str) -> Vec<Value> {
    let mut out = Spans::default();
    let found = if is_plain(lang) || code.is_empty() {
        None
    } else {
        Some(highlighter(true))
    };
    let Some((h, syntax)) = found
        .as_ref()
        .and_then(|h| syntax_for(&h.syntaxes, lang).map(|s| (h, s)))
    else {
        out.push("", code);
        return out.done();
    };
    let mut state = ParseState::new(syntax);
    let mut stack = ScopeStack::new();
    let mut offset = 0;
    for (lines, line) in code.split_inclusive('\n').enumerate() {
        if offset + line.len() > MAX_BYTES || lines >= MAX_LINES || line.len() > MAX_LINE_BYTES {
            break;
        }
        let Ok(ops) = state.parse_line(line, &h.syntaxes) else {
            break;
        };
        let mut at = 0;
        for (position, op) in ops {
            let position = position.min(line.len());
            if position > at {
                out.push(class_of(&stack, &h.classes), &line[at..position]);
                at = position;
            }
            if stack.apply(&op).is_err() {
                break;
            }
        }
        if at < line.len() {
            out.push(class_of(&stack, &h.classes), &line[at..]);
        }
        offset += line.len();
    }
    out.push("", &code[offset..]);
    out.done()
}

fn class_of(stack: &ScopeStack, classes: &[(Scope, &'static str)]) -> &'static str {
    for scope in stack.as_slice().iter().rev() {
        if let Some((_, class)) = classes
            .iter()
            .find(|(prefix, _)| prefix.is_prefix_of(*scope))
        {
            return class;
        }
    }
    ""
}

/// Spans with adjacent text of one class merged.
#[derive(Default)]
struct Spans {
    spans: Vec<(&'static str, String)>,
}

impl Spans {
    fn push(&mut self, class: &'static str, text: &str) {
        if text.is_empty() {
            return;
        }
        match self.spans.last_mut() {
            Some((last, buffer)) if *last == class => buffer.push_str(text),
            _ => self.spans.push((class, text.to_string())),
        }
    }

    fn done(self) -> Vec<Value> {
        self.spans
            .into_iter()
            .map(|(class, text)| {
                if class.is_empty() {
                    Value::String(text)
                } else {
                    json!([class, text])
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn joined(spans: &[Value]) -> String {
        spans
            .iter()
            .map(|s| match s {
                Value::String(t) => t.clone(),
                other => other[1].as_str().unwrap().to_string(),
            })
            .collect()
    }

    fn classes_of(spans: &[Value], text: &str) -> Vec<String> {
        spans
            .iter()
            .filter(|s| s.is_array() && s[1].as_str().unwrap().contains(text))
            .map(|s| s[0].as_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn the_definitions_are_dropped_only_after_staying_unused() {
        let rust = "fn main() { let x = 1; }\n";
        let before = Instant::now();
        assert!(highlight(rust, "rust").iter().any(|s| s.is_array()));
        let used = Instant::now();
        let due = unload_due().expect("loaded by the block above");
        // Other tests may use them meanwhile: that only moves the time later.
        assert!(due >= before + UNLOAD_AFTER);
        assert!(!unload_if_idle(used), "just used");
        assert!(
            !unload_if_idle(before + UNLOAD_AFTER / 2),
            "used half a while ago"
        );
        assert!(unload_if_idle(used + UNLOAD_AFTER * 100));
        // Dropped loses nothing: the next block loads them again.
        let again = highlight(rust, "rust");
        assert_eq!(joined(&again), rust);
        assert!(again.iter().any(|s| s.is_array()), "highlighted again");
        assert!(unload_due().is_some());
    }

    #[test]
    fn every_language_agents_print_is_known() {
        for lang in [
            "rust",
            "rs",
            "ts",
            "typescript",
            "tsx",
            "js",
            "javascript",
            "python",
            "py",
            "go",
            "sh",
            "bash",
            "shell",
            "zsh",
            "json",
            "toml",
            "yaml",
            "yml",
            "diff",
            "patch",
            "html",
            "css",
            "sql",
            "c",
            "cpp",
            "c++",
            "h",
            "java",
        ] {
            assert!(knows(lang), "{lang} is not highlighted");
        }
        assert!(!knows("text") && !knows("") && !knows("no-such-language"));
    }

    #[test]
    fn code_keeps_its_text_and_gets_classes() {
        let code = "fn main() {\n    // hi\n    let s = \"x\"; 42\n}\n";
        let spans = highlight(code, "rust");
        assert_eq!(joined(&spans), code);
        assert!(
            classes_of(&spans, "fn").contains(&"kw".to_string()),
            "{spans:?}"
        );
        assert!(
            classes_of(&spans, "// hi").contains(&"com".to_string()),
            "{spans:?}"
        );
        assert!(
            classes_of(&spans, "\"x\"").contains(&"str".to_string()),
            "{spans:?}"
        );
        assert!(
            classes_of(&spans, "42").contains(&"num".to_string()),
            "{spans:?}"
        );

        let ts = highlight("const x: number = 1; // n\n", "ts");
        assert!(
            classes_of(&ts, "// n").contains(&"com".to_string()),
            "{ts:?}"
        );
        let toml = highlight("[server]\nport = 4096 # p\n", "toml");
        assert!(
            classes_of(&toml, "# p").contains(&"com".to_string()),
            "{toml:?}"
        );
        let diff = highlight("--- a\n+++ b\n@@ -1 +1 @@\n-old\n+new\n", "diff");
        assert!(
            classes_of(&diff, "+new").contains(&"ins".to_string()),
            "{diff:?}"
        );
        assert!(
            classes_of(&diff, "-old").contains(&"del".to_string()),
            "{diff:?}"
        );
    }

    #[test]
    fn unknown_or_plain_languages_are_one_text() {
        assert_eq!(highlight("a < b", "text"), vec![json!("a < b")]);
        assert_eq!(highlight("a < b", "klingon"), vec![json!("a < b")]);
        assert_eq!(highlight("", "rust"), Vec::<Value>::new());
    }

    #[test]
    fn huge_blocks_are_highlighted_only_up_to_the_bounds() {
        let line = "let x = 1;\n";
        let code = line.repeat(MAX_LINES + 500);
        let spans = highlight(&code, "rust");
        assert_eq!(joined(&spans), code);
        let last = spans.last().unwrap();
        assert!(last.is_string(), "the tail is plain");
        let plain = last.as_str().unwrap().len();
        assert!(
            (line.len() * 500..line.len() * 501).contains(&plain),
            "{plain}"
        );

        let minified = format!("var a = 1;\n{}\nvar b = 2;\n", "x+".repeat(MAX_LINE_BYTES));
        let spans = highlight(&minified, "js");
        assert_eq!(joined(&spans), minified);
        let tail = spans.last().unwrap().as_str().unwrap();
        assert!(tail.contains(&"x+".repeat(MAX_LINE_BYTES)) && tail.ends_with("var b = 2;\n"));
    }
}
