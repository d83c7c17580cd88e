//! The page's own JavaScript unit tests (`ui/tests/*.test.js`), run with
//! Node's test runner (`node --test`, CommonJS, Node 18 or later) with
//! `NODE_PATH` at the pinned test packages (jsdom, commonmark-spec) that
//! `scripts/setup-and-test.sh` installs into `tools/ui-tests`
//! (`NEXUS_UI_TEST_MODULES` names another `node_modules`).
//!
//! The CommonMark test gets its trees from the popover's own parser
//! (`opencode_nexus::markdown`): this test reads the spec's examples from
//! the npm package, writes each example's tree to a file, and the node test
//! builds them into DOM with the page's `ui/markdown.js`.

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn node_modules() -> PathBuf {
    std::env::var_os("NEXUS_UI_TEST_MODULES")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("tools/ui-tests/node_modules"))
}

fn node() -> Command {
    let modules = node_modules();
    assert!(
        modules.join("jsdom").is_dir() && modules.join("commonmark-spec").is_dir(),
        "the page's test packages are missing from {}: run scripts/setup-and-test.sh \
         (it installs jsdom and commonmark-spec into tools/ui-tests)",
        modules.display()
    );
    let mut command = Command::new("node");
    command.env("NODE_PATH", &modules).current_dir(root());
    command
}

fn check(what: &str, output: Output) {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
}

/// The spec's examples with the tree the popover makes of each.
fn commonmark_trees() -> PathBuf {
    let examples = node()
        .args([
            "-e",
            "process.stdout.write(JSON.stringify(require('commonmark-spec').tests))",
        ])
        .output()
        .expect("node runs");
    assert!(
        examples.status.success(),
        "{}",
        String::from_utf8_lossy(&examples.stderr)
    );
    let examples: Vec<Value> = serde_json::from_slice(&examples.stdout).expect("the examples");
    // The spec writes tabs as `→`.
    let tabs = |v: &Value| v.as_str().unwrap_or_default().replace('→', "\t");
    let trees: Vec<Value> = examples
        .iter()
        .map(|e| {
            let markdown = tabs(&e["markdown"]);
            json!({
                "number": e["number"],
                "section": e["section"],
                "tree": opencode_nexus::markdown::to_tree(&markdown),
                "markdown": markdown,
                "html": tabs(&e["html"]),
            })
        })
        .collect();
    let file = Path::new(env!("CARGO_TARGET_TMPDIR")).join("commonmark-trees.json");
    std::fs::write(&file, serde_json::to_vec(&trees).unwrap()).unwrap();
    file
}

#[test]
fn commonmark_spec_examples_render_as_the_spec_says() {
    let trees = commonmark_trees();
    let failures = Path::new(env!("CARGO_TARGET_TMPDIR")).join("commonmark-failures.json");
    let output = node()
        .env("NEXUS_COMMONMARK_TREES", &trees)
        .env("NEXUS_COMMONMARK_FAILURES", &failures)
        .args(["--test", "ui/tests/commonmark.test.js"])
        .output()
        .expect("node runs");
    check("ui/tests/commonmark.test.js", output);
}

/// Every other `ui/tests/*.test.js` (the page's own modules).
#[test]
fn the_other_page_unit_tests_pass() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("ui/tests"))
        .expect("ui/tests")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.ends_with(".test.js") && !name.starts_with("commonmark")
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return;
    }
    let output = node()
        .arg("--test")
        .args(&files)
        .output()
        .expect("node runs");
    check("the page's unit tests", output);
}
