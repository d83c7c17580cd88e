//! Code as agents print it: a short block in each of the languages they
//! use most (20 blocks, 17 languages), each as `(fence name, code)`. For the
//! benchmarks and tests of highlighting.

pub const CODE_SAMPLES: &[(&str, &str)] = &[
    (
        "rust",
        "pub fn parse(input: &str) -> Result<Config, Error> {\n    // Read every line; a bad one names itself.\n    let mut config = Config::default();\n    for (n, line) in input.lines().enumerate() {\n        let (key, value) = line.split_once('=').ok_or(Error::Line(n + 1))?;\n        config.set(key.trim(), value.trim())?;\n    }\n    Ok(config)\n}\n",
    ),
    (
        "ts",
        "export async function load(id: string): Promise<Session | null> {\n  const res = await fetch(`/session/${id}`, { headers: { accept: 'application/json' } });\n  if (!res.ok) return null; // gone\n  const body = (await res.json()) as Session;\n  return { ...body, loadedAt: Date.now() };\n}\n",
    ),
    (
        "python",
        "def summarize(rows: list[dict]) -> dict:\n    \"\"\"Totals per key, skipping empty rows.\"\"\"\n    totals = {}\n    for row in rows:\n        if not row:\n            continue\n        for key, value in row.items():\n            totals[key] = totals.get(key, 0) + value\n    return totals\n",
    ),
    (
        "go",
        "func (s *Server) Handle(w http.ResponseWriter, r *http.Request) {\n\tctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)\n\tdefer cancel()\n\tif err := s.store.Ping(ctx); err != nil {\n\t\thttp.Error(w, err.Error(), http.StatusServiceUnavailable)\n\t\treturn\n\t}\n\tfmt.Fprintln(w, \"ok\")\n}\n",
    ),
    (
        "bash",
        "#!/usr/bin/env bash\nset -euo pipefail\nfor f in \"$@\"; do\n  if [[ -f \"$f\" ]]; then\n    wc -l \"$f\" | awk '{print $1}' # count\n  fi\ndone\nexport PATH=\"$HOME/.local/bin:$PATH\"\n",
    ),
    (
        "json",
        "{\n  \"name\": \"nexus\",\n  \"version\": \"0.1.0\",\n  \"scripts\": { \"test\": \"node --test\", \"lint\": \"eslint .\" },\n  \"private\": true,\n  \"count\": 42,\n  \"tags\": [\"a\", \"b\", null]\n}\n",
    ),
    (
        "toml",
        "[server]\nmode = \"managed\" # or attach\nport = 0\nstart_timeout = 30\n\n[notify]\nenabled = true\nmin_duration = 10\n",
    ),
    (
        "yaml",
        "name: ci\non: [push, pull_request]\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n      - run: cargo test --locked # all\n",
    ),
    (
        "diff",
        "--- a/src/lib.rs\n+++ b/src/lib.rs\n@@ -1,5 +1,6 @@\n pub mod config;\n-pub mod old;\n+pub mod markdown;\n+pub mod popover;\n pub mod server;\n",
    ),
    (
        "html",
        "<!doctype html>\n<html lang=\"en\">\n  <head><meta charset=\"utf-8\"><title>Quick chat</title></head>\n  <body>\n    <main id=\"messages\" aria-live=\"polite\"></main>\n    <script src=\"app.js\"></script>\n  </body>\n</html>\n",
    ),
    (
        "css",
        ".code-block pre {\n  overflow-x: auto;\n  padding: 8px 10px;\n  font: 12px/1.45 ui-monospace, monospace;\n}\n@media (prefers-color-scheme: dark) {\n  .tok-kw { color: #c678dd; }\n}\n",
    ),
    (
        "sql",
        "SELECT s.id, s.title, COUNT(m.id) AS messages\nFROM sessions s\nLEFT JOIN messages m ON m.session_id = s.id\nWHERE s.updated_at > now() - interval '7 days' -- recent\nGROUP BY s.id\nORDER BY messages DESC\nLIMIT 20;\n",
    ),
    (
        "c",
        "#include <stdio.h>\n\nint main(int argc, char **argv) {\n    /* print the arguments */\n    for (int i = 1; i < argc; i++) {\n        printf(\"%d: %s\\n\", i, argv[i]);\n    }\n    return 0;\n}\n",
    ),
    (
        "cpp",
        "#include <vector>\n#include <string>\n\ntemplate <typename T>\nstd::vector<T> evens(const std::vector<T>& in) {\n    std::vector<T> out;\n    for (const auto& v : in) if (v % 2 == 0) out.push_back(v);\n    return out; // copy elided\n}\n",
    ),
    (
        "java",
        "public final class Backoff {\n    private long delay = 1_000L;\n\n    /** The next delay, doubled up to a minute. */\n    public long next() {\n        long d = delay;\n        delay = Math.min(delay * 2, 60_000L);\n        return d;\n    }\n}\n",
    ),
    (
        "js",
        "const cache = new Map();\nexport function memo(fn) {\n  return (key) => {\n    if (!cache.has(key)) cache.set(key, fn(key)); // once\n    return cache.get(key);\n  };\n}\n",
    ),
    (
        "tsx",
        "export function Badge({ count }: { count: number }) {\n  if (count === 0) return null;\n  return <span className=\"badge\">{count > 99 ? '99+' : count}</span>;\n}\n",
    ),
    (
        "sh",
        "cargo build --release\n./target/release/opencode-nexus status --json | jq '.server.state'\n",
    ),
    (
        "rust",
        "impl Drop for Guard {\n    fn drop(&mut self) {\n        if let Err(e) = std::fs::remove_file(&self.path) {\n            tracing::warn!(\"cannot remove {}: {e}\", self.path.display());\n        }\n    }\n}\n",
    ),
    (
        "python",
        "import asyncio\n\nasync def main() -> None:\n    results = await asyncio.gather(*(fetch(u) for u in URLS))\n    print(f\"{len(results)} pages\")  # done\n\nasyncio.run(main())\n",
    ),
];
