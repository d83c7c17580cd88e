/*
 * Code blocks coloured later (markdown.js, colourLater): a streaming view's
 * tree comes without highlighting, each code block shows its text at once
 * and asks for its colours only once it has stayed on the page. Rust is
 * played by a transport that answers the page's `markdown` requests with
 * trees of the shape src/markdown/ makes (the real parser's trees are tested
 * in Rust and in tests/popover_markdown.rs).
 *
 * Node 18's test runner, CommonJS, jsdom (NODE_PATH: tools/ui-tests).
 */
'use strict';

const { test } = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const path = require('node:path');
const { JSDOM } = require('jsdom');

/** A window with the page's markdown.js loaded, and a fake Rust side. */
function page(answer) {
  const dom = new JSDOM('<!doctype html><html><body></body></html>', {
    runScripts: 'outside-only',
    url: 'http://localhost/',
  });
  const window = dom.window;
  window.eval(fs.readFileSync(path.join(__dirname, '..', 'dom.js'), 'utf8'));
  window.eval(fs.readFileSync(path.join(__dirname, '..', 'markdown.js'), 'utf8'));
  const asked = [];
  window.NexusMarkdown.setTransport((message) => {
    // Requests made in one task come as one batch; each is answered alone.
    const requests = message.type === 'markdown_batch' ? message.requests : [message];
    for (const request of requests) {
      asked.push(request);
      const tree = answer(request);
      setTimeout(() => window.NexusMarkdown.receive({ type: 'markdown', id: request.id, tree: tree }), 1);
    }
  });
  return { window, asked };
}

/** The page's Markdown module with a transport that only records what it is given. */
function recorded() {
  const dom = new JSDOM('<!doctype html><html><body></body></html>', { runScripts: 'outside-only', url: 'http://localhost/' });
  const window = dom.window;
  window.eval(fs.readFileSync(path.join(__dirname, '..', 'dom.js'), 'utf8'));
  window.eval(fs.readFileSync(path.join(__dirname, '..', 'markdown.js'), 'utf8'));
  const sent = [];
  window.NexusMarkdown.setTransport((message) => sent.push(message));
  return { window, sent };
}

const CODE = 'fn main() {}\n';
const SPANS = [['kw', 'fn'], ' ', ['fn', 'main'], '() {}\n'];

/** Rust's answers: the answer's text with its code for later, or one highlighted block. */
function rust(spans) {
  return (message) => {
    if (message.code_later) {
      return [{ k: 'p', c: ['Intro'] }, { k: 'code_block', lang: 'rust', later: true, c: [CODE] }];
    }
    return [{ k: 'code_block', lang: 'rust', c: spans }];
  };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function shown(window, text) {
  const host = window.document.createElement('div');
  window.document.body.appendChild(host);
  host.appendChild(await window.NexusMarkdown.render(text, { codeLater: true }));
  return host;
}

test('a code block shows its text first and its colours once it has stayed', async () => {
  const { window, asked } = page(rust(SPANS));
  const host = await shown(window, 'Intro\n\n```rust\nfn main() {}\n```\n');
  assert.strictEqual(asked.length, 1);
  assert.strictEqual(asked[0].code_later, true);
  const code = host.querySelector('pre code.language-rust');
  assert.strictEqual(code.textContent, CODE);
  assert.ok(code.classList.contains('colour-pending'));
  assert.strictEqual(code.querySelectorAll('span').length, 0, 'no colours yet');

  await sleep(400);
  assert.strictEqual(asked.length, 2, 'one highlight request');
  assert.strictEqual(asked[1].code_later, undefined);
  assert.strictEqual(asked[1].text, '```rust\n' + CODE + '```\n');
  assert.deepStrictEqual(
    [...code.querySelectorAll('span')].map((s) => [s.className, s.textContent]),
    [['tok-kw', 'fn'], ['tok-fn', 'main']]
  );
  assert.strictEqual(code.textContent, CODE, 'the same text, coloured');
  assert.ok(!code.classList.contains('colour-pending'));

  // Shown again (a chunk rendered anew): coloured at once, nothing asked.
  const again = await shown(window, 'Intro\n\n```rust\nfn main() {}\n```\n');
  assert.strictEqual(again.querySelectorAll('pre code span.tok-kw').length, 1);
  await sleep(300);
  assert.strictEqual(asked.length, 3, 'only the text was asked for');
});

test('a block replaced before it stayed is never coloured', async () => {
  const { window, asked } = page(rust(SPANS));
  const host = await shown(window, 'Intro\n\n```rust\nfn main() {}\n```\n');
  host.remove(); // the streaming view replaced it within a frame
  await sleep(400);
  assert.strictEqual(asked.length, 1, 'no highlight request for a block that is gone');
});

test('colours that do not carry exactly the shown text are not put in', async () => {
  const { window, asked } = page(rust([['kw', 'rm -rf /'], '\n']));
  const host = await shown(window, 'Intro\n\n```rust\nfn main() {}\n```\n');
  const code = host.querySelector('pre code');
  await sleep(400);
  assert.strictEqual(asked.length, 2);
  assert.strictEqual(code.textContent, CODE);
  assert.strictEqual(code.querySelectorAll('span').length, 0);
  assert.ok(!code.classList.contains('colour-pending'));
});

test('many blocks are coloured two requests at a time, in page order', async () => {
  let open = 0;
  let most = 0;
  const blocks = 6;
  const { window, asked } = page((message) => {
    if (message.code_later) {
      return Array.from({ length: blocks }, (_, i) => ({ k: 'code_block', lang: 'rust', later: true, c: [`let x${i} = ${i};\n`] }));
    }
    const code = message.text.split('\n')[1] + '\n';
    open++;
    most = Math.max(most, open);
    return [{ k: 'code_block', lang: 'rust', c: [['kw', 'let'], code.slice(3)] }];
  });
  const receive = window.NexusMarkdown.receive;
  window.NexusMarkdown.receive = (message) => {
    if (message.tree.length === 1) open--; // a highlight's answer
    receive(message);
  };
  const host = await shown(window, 'many');
  await sleep(900);
  const coloured = [...host.querySelectorAll('pre code')].map((c) => c.querySelectorAll('span.tok-kw').length);
  assert.deepStrictEqual(coloured, Array(blocks).fill(1));
  const order = asked.slice(1).map((m) => m.text.split('\n')[1]);
  assert.deepStrictEqual(order, Array.from({ length: blocks }, (_, i) => `let x${i} = ${i};`));
  assert.ok(most <= 2, `at most two out at once, saw ${most}`);
});

test('answers sent together each reach their own request', async () => {
  const { window, sent } = recorded();
  const first = window.NexusMarkdown.render('one');
  const second = window.NexusMarkdown.render('two', { codeLater: true });
  assert.strictEqual(sent.length, 0, 'requests leave at the end of the task');
  await Promise.resolve();
  assert.strictEqual(sent.length, 1, 'two requests of one task go as one message');
  assert.strictEqual(sent[0].type, 'markdown_batch');
  const asked = sent[0].requests;
  assert.deepStrictEqual(JSON.parse(JSON.stringify(asked.map((r) => [r.text, !!r.code_later]))), [['one', false], ['two', true]]);
  window.NexusMarkdown.receive({
    type: 'markdown',
    answers: [
      { id: asked[1].id, tree: [{ k: 'p', c: ['second'] }] },
      { id: asked[0].id, tree: [{ k: 'p', c: ['first'] }] },
      { id: 999, tree: [] }, // no such request: ignored
    ],
  });
  const text = (fragment) => {
    const div = window.document.createElement('div');
    div.appendChild(fragment);
    return div.innerHTML;
  };
  assert.strictEqual(text(await first), '<p>first</p>');
  assert.strictEqual(text(await second), '<p>second</p>');
});

test('batches stay within the bounds Rust accepts, and a failed send shows the texts as they are', async () => {
  const { window, sent } = recorded();
  // 300 small requests: 256 in the first message (src/page/protocol.rs's MAX_MARKDOWN_BATCH), 44 in the next.
  for (let i = 0; i < 300; i++) window.NexusMarkdown.requestTree('t' + i).catch(() => {});
  await Promise.resolve();
  assert.deepStrictEqual(sent.map((m) => m.requests.length), [256, 44]);
  assert.deepStrictEqual(sent.flatMap((m) => m.requests.map((r) => r.text)), Array.from({ length: 300 }, (_, i) => 't' + i));
  // Long texts: a message carries at most 128,000 characters of them, and one longer text goes alone.
  sent.length = 0;
  const long = 'x'.repeat(50000);
  for (let i = 0; i < 5; i++) window.NexusMarkdown.requestTree(long).catch(() => {});
  window.NexusMarkdown.requestTree('y'.repeat(200000)).catch(() => {});
  await Promise.resolve();
  assert.deepStrictEqual(
    sent.map((m) => (m.type === 'markdown' ? [m.text.length] : Array.from(m.requests, (r) => r.text.length))),
    [[50000, 50000], [50000, 50000], [50000], [200000]],
  );
  // No way out: every request of the batch fails, and render shows the text.
  window.NexusMarkdown.setTransport(() => {
    throw new Error('no bridge');
  });
  const texts = await Promise.all(['*a*', '<b>'].map((t) => window.NexusMarkdown.render(t)));
  const shownText = texts.map((fragment) => {
    const div = window.document.createElement('div');
    div.appendChild(fragment);
    return div.textContent;
  });
  assert.deepStrictEqual(shownText, ['*a*', '<b>']);
});
