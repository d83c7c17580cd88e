use super::*;

fn tree(text: &str) -> Value {
    to_tree(text)
}

#[test]
fn paragraphs_emphasis_and_soft_breaks() {
    assert_eq!(
        tree("Hello *you*\nand **me** ~~not~~"),
        json!([{"k": "p", "c": [
            "Hello ", {"k": "em", "c": ["you"]}, "\nand ",
            {"k": "strong", "c": ["me"]}, " ", {"k": "del", "c": ["not"]}
        ]}])
    );
}

#[test]
fn headings_lists_and_tasks() {
    assert_eq!(
        tree("# Title\n\n- a\n  1. one\n- [x] done\n- [ ] todo"),
        json!([
            {"k": "h", "level": 1, "c": ["Title"]},
            {"k": "ul", "c": [
                {"k": "li", "c": ["a", {"k": "ol", "start": 1, "c": [{"k": "li", "c": ["one"]}]}]},
                {"k": "li", "c": [{"k": "task", "checked": true, "c": []}, "done"]},
                {"k": "li", "c": [{"k": "task", "checked": false, "c": []}, "todo"]},
            ]}
        ])
    );
}

#[test]
fn tables_have_a_head_a_body_and_alignments() {
    assert_eq!(
        tree("| a | b |\n|:--|--:|\n| 1 | `2` |"),
        json!([{"k": "table", "c": [
            {"k": "thead", "c": [{"k": "tr", "c": [
                {"k": "th", "align": "left", "c": ["a"]},
                {"k": "th", "align": "right", "c": ["b"]},
            ]}]},
            {"k": "tbody", "c": [{"k": "tr", "c": [
                {"k": "td", "align": "left", "c": ["1"]},
                {"k": "td", "align": "right", "c": [{"k": "code", "c": ["2"]}]},
            ]}]},
        ]}])
    );
}

#[test]
fn links_images_and_bare_urls() {
    assert_eq!(
        tree("[*see*](https://x.org \"T\") ![alt](/i.png) at https://opencode.ai/docs."),
        json!([{"k": "p", "c": [
            {"k": "a", "href": "https://x.org", "title": "T", "c": [{"k": "em", "c": ["see"]}]},
            " ",
            {"k": "img", "src": "/i.png", "c": ["alt"]},
            " at ",
            {"k": "a", "href": "https://opencode.ai/docs", "bare": true, "c": ["https://opencode.ai/docs"]},
            ".",
        ]}])
    );
    // Balanced parentheses stay in the URL; a closing one of the sentence does not.
    assert_eq!(
        tree("(see https://en.wikipedia.org/wiki/Rust_(language))"),
        json!([{"k": "p", "c": [
            "(see ",
            {"k": "a", "href": "https://en.wikipedia.org/wiki/Rust_(language)", "bare": true,
             "c": ["https://en.wikipedia.org/wiki/Rust_(language)"]},
            ")",
        ]}])
    );
    // Not in code, not inside a link, not in the middle of a word.
    assert_eq!(
        tree("`https://a.b` [https://c.d](https://e.f) xhttps://g.h"),
        json!([{"k": "p", "c": [
            {"k": "code", "c": ["https://a.b"]},
            " ",
            {"k": "a", "href": "https://e.f", "c": ["https://c.d"]},
            " xhttps://g.h",
        ]}])
    );
}

#[test]
fn raw_html_is_text() {
    assert_eq!(
        tree("a <img src=x onerror=alert(1)> b"),
        json!([{"k": "p", "c": ["a <img src=x onerror=alert(1)> b"]}])
    );
    assert_eq!(
        tree("<script>alert(2)</script>\n\nafter"),
        json!([
            {"k": "html", "c": ["<script>alert(2)</script>\n"]},
            {"k": "p", "c": ["after"]},
        ])
    );
}

#[test]
fn code_blocks_carry_their_language_and_spans() {
    let t = tree("```rust ignore\nfn x() {}\n```\n\n    indented\n");
    assert_eq!(t[0]["k"], "code_block");
    assert_eq!(t[0]["lang"], "rust");
    assert!(t[0]["c"].as_array().unwrap().iter().any(|s| s.is_array()));
    assert_eq!(
        t[1],
        json!({"k": "code_block", "lang": "", "c": ["indented\n"]})
    );
}

#[test]
fn hostile_and_odd_input_never_panics() {
    for text in [
        "",
        "\0\u{202e}",
        &"> ".repeat(5000),
        &"*".repeat(10000),
        &"[".repeat(10000),
        &"- ".repeat(3000),
        "| a |\n|---|\n| b | c | d |",
        "```\nunclosed",
        "http:// https://",
    ] {
        let _ = tree(text);
    }
}

fn depth(node: &Value) -> usize {
    node["c"]
        .as_array()
        .map_or(0, |c| 1 + c.iter().map(depth).max().unwrap_or(0))
}

#[test]
fn deep_nesting_is_flattened() {
    let text = format!("{}deep *text*", "> ".repeat(1000));
    let t = tree(&text);
    assert!(depth(&t[0]) <= MAX_DEPTH + 2, "{}", depth(&t[0]));
    assert!(t.to_string().contains("deep "), "the text stays");
}

#[test]
fn code_later_leaves_code_blocks_as_their_text_and_marks_the_ones_to_colour() {
    let text = "Intro *x*\n\n```rust\nfn main() {}\n```\n\n```text\nplain\n```\n\n```rust\n```\n";
    let later = to_tree_with(text, Code::Later);
    let blocks: Vec<&Value> = later
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["k"] == "code_block")
        .collect();
    assert_eq!(blocks.len(), 3);
    assert_eq!(blocks[0]["c"], json!(["fn main() {}\n"]));
    assert_eq!(blocks[0]["later"], json!(true));
    // Plain text and an empty block have nothing to colour.
    assert_eq!(blocks[1]["c"], json!(["plain\n"]));
    assert!(blocks[1].get("later").is_none(), "{}", blocks[1]);
    assert!(blocks[2].get("later").is_none(), "{}", blocks[2]);
    // Everything else is the same tree.
    assert_eq!(later[0], tree(text)[0]);
    let highlighted = tree(text);
    assert!(
        highlighted[1]["c"].as_array().unwrap().len() > 1,
        "{highlighted}"
    );
    assert!(highlighted[1].get("later").is_none());
}
