/*
 * The page's Markdown renderer against the CommonMark specification's own
 * examples (the pinned npm package commonmark-spec): each example's tree,
 * made by the popover's Rust parser (tests/ui_units.rs writes them to the
 * file named by NEXUS_COMMONMARK_TREES), is built into DOM by the real
 * ui/markdown.js under jsdom, and compared with the spec's HTML after
 * normalising only the deviations ui/README.md documents: headings shifted
 * down, links that are not http(s) shown as text, images shown as their alt
 * text, bare URLs linked (a GFM extension), and the code block's frame
 * (header and Copy button). The raw-HTML
 * sections are left out: raw HTML is shown as text on purpose.
 *
 * Node 18's test runner, CommonJS, jsdom (NODE_PATH: tools/ui-tests).
 */
'use strict';

const { test } = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const path = require('node:path');
const { JSDOM } = require('jsdom');

const REQUIRED_SHARE = 0.95;
const LEFT_OUT_SECTIONS = new Set(['HTML blocks', 'Raw HTML']);

/** A window with the page's markdown.js loaded. */
function pageWindow() {
  const dom = new JSDOM('<!doctype html><html><body></body></html>', {
    runScripts: 'outside-only',
    url: 'http://localhost/',
  });
  dom.window.eval(fs.readFileSync(path.join(__dirname, '..', 'dom.js'), 'utf8'));
  dom.window.eval(fs.readFileSync(path.join(__dirname, '..', 'markdown.js'), 'utf8'));
  return dom.window;
}

/** URLs compared up to percent-encoding (the spec's renderer encodes `[`, `]`, `\\`; browsers need not). */
function sameEncoding(href) {
  try {
    return decodeURI(href);
  } catch (_) {
    return href;
  }
}

function unwrap(node) {
  node.replaceWith(...node.childNodes);
}

/** Replaces `node` with a `tag` element holding its children. */
function retag(document, node, tag) {
  const replacement = document.createElement(tag);
  replacement.append(...node.childNodes);
  node.replaceWith(replacement);
}

/** The page's DOM with the documented deviations undone. */
function normalisePage(window, root) {
  const document = window.document;
  for (const block of root.querySelectorAll('div.code-block')) {
    const pre = block.querySelector('pre');
    const code = pre.querySelector('code');
    code.textContent = code.textContent; // highlighting spans → their text
    block.replaceWith(pre);
  }
  for (const heading of root.querySelectorAll('h3, h4, h5, h6')) {
    const level = /(?:^|\s)md-h([1-6])(?:\s|$)/.exec(heading.className);
    if (level) retag(document, heading, 'h' + level[1]);
  }
  for (const link of root.querySelectorAll('a')) {
    link.removeAttribute('rel');
    link.setAttribute('href', sameEncoding(link.getAttribute('href')));
    if (link.classList.contains('image-link') || link.classList.contains('bare-url')) unwrap(link);
  }
  for (const text of root.querySelectorAll('span.link-text')) unwrap(text);
  for (const wrap of root.querySelectorAll('div.table-wrap')) unwrap(wrap);
}

/** The spec's HTML with the same deviations applied. */
function normaliseSpec(window, root) {
  const safeUrl = window.NexusMarkdown.safeUrl;
  for (const image of root.querySelectorAll('img')) {
    image.replaceWith(window.document.createTextNode(image.getAttribute('alt') || ''));
  }
  for (const link of root.querySelectorAll('a')) {
    const href = safeUrl(link.getAttribute('href'));
    if (href) link.setAttribute('href', sameEncoding(href));
    else unwrap(link);
  }
}

const BLOCK_TAG = /\n*(<\/?(?:p|h[1-6]|ul|ol|li|blockquote|pre|hr|table|thead|tbody|tr|th|td|div)\b[^>]*>)\n*/g;

/** Serialised, without the line breaks the spec's renderer puts between blocks. */
function canonical(root) {
  return root.innerHTML.replace(BLOCK_TAG, '$1').replace(/<br>\n/g, '<br>');
}

function pageHtml(window, tree) {
  const root = window.document.createElement('div');
  root.appendChild(window.NexusMarkdown.build(tree));
  normalisePage(window, root);
  return canonical(root);
}

function specHtml(window, html) {
  const root = window.document.createElement('div');
  root.innerHTML = html; // the spec's own expected output (trusted test data)
  normaliseSpec(window, root);
  return canonical(root);
}

function loadExamples() {
  const file = process.env.NEXUS_COMMONMARK_TREES;
  assert.ok(file, 'NEXUS_COMMONMARK_TREES names the trees file (run through `cargo test --test ui_units`)');
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

test('CommonMark spec examples render as the spec says', () => {
  const window = pageWindow();
  const examples = loadExamples().filter((e) => !LEFT_OUT_SECTIONS.has(e.section));
  assert.ok(examples.length > 500, 'the spec has its examples: ' + examples.length);
  const failedBySection = new Map();
  const failures = [];
  let passed = 0;
  for (const example of examples) {
    const got = pageHtml(window, example.tree);
    const want = specHtml(window, example.html);
    if (got === want) {
      passed++;
    } else {
      failedBySection.set(example.section, (failedBySection.get(example.section) || 0) + 1);
      failures.push({ number: example.number, section: example.section, markdown: example.markdown, want: want, got: got });
    }
  }
  const share = passed / examples.length;
  const figure = (share * 100).toFixed(1);
  console.log('COMMONMARK ' + passed + ' of ' + examples.length + ' examples render as the spec says (' + figure + '%)');
  for (const [section, count] of failedBySection) console.log('  differs: ' + section + ': ' + count);
  if (process.env.NEXUS_COMMONMARK_FAILURES) {
    fs.writeFileSync(process.env.NEXUS_COMMONMARK_FAILURES, JSON.stringify(failures, null, 1));
  }
  assert.ok(share >= REQUIRED_SHARE, figure + '% is below ' + REQUIRED_SHARE * 100 + '%');
});

test('render(text) asks Rust for the tree and resolves to a fragment', async () => {
  const window = pageWindow();
  const md = window.NexusMarkdown;
  const sent = [];
  md.setTransport((message) => {
    sent.push(message);
    setTimeout(() => md.receive({ type: 'markdown', id: message.id, tree: [{ k: 'p', c: ['hi ', { k: 'em', c: ['there'] }] }] }), 0);
  });
  const fragment = await md.render('hi *there*');
  assert.deepStrictEqual(sent.map((m) => [m.type, m.text]), [['markdown', 'hi *there*']]);
  const root = window.document.createElement('div');
  root.appendChild(fragment);
  assert.strictEqual(root.innerHTML, '<p>hi <em>there</em></p>');

  // Without an answer (or a bridge) the text is shown as it is.
  md.setTransport(() => {
    throw new Error('no bridge');
  });
  const plain = await md.render('*raw* <b>');
  const box = window.document.createElement('div');
  box.appendChild(plain);
  assert.strictEqual(box.textContent, '*raw* <b>');
});

test('hostile trees stay inert: no markup, no script links, no styles', () => {
  const window = pageWindow();
  const tree = [
    { k: 'p', c: ['<img src=x onerror=alert(1)>', { k: 'a', href: 'javascript:alert(1)', c: ['<script>alert(2)</script>'] }] },
    { k: 'html', c: ['<script>alert(3)</script>\n'] },
    { k: 'a', href: 'https://ok.example/', c: [{ k: 'a', href: 'https://inner.example/', c: ['nested'] }] },
    { k: 'img', src: 'https://x.example/i.png', c: ['alt'] },
    { k: 'code_block', lang: 'js" onclick="x', c: [['kw', 'let'], ['evil class', ' x'], ' = 1;'] },
    { k: 'script', c: ['alert(4)'] },
    { k: 'h', level: 99, c: ['deep'] },
  ];
  const root = window.document.createElement('div');
  root.appendChild(window.NexusMarkdown.build(tree));
  assert.strictEqual(root.querySelectorAll('img, script, [onerror], [onclick], [style]').length, 0);
  const hrefs = [...root.querySelectorAll('a[href]')].map((a) => a.getAttribute('href'));
  assert.deepStrictEqual(hrefs, ['https://ok.example/', 'https://x.example/i.png']);
  assert.ok(root.textContent.includes('<script>alert(2)</script>'));
  assert.ok(root.textContent.includes('<script>alert(3)</script>'));
  assert.strictEqual(root.querySelector('.raw-html').textContent, '<script>alert(3)</script>');
  const tokens = [...root.querySelectorAll('code span')].map((s) => s.className);
  assert.deepStrictEqual(tokens, ['tok-kw']);
  assert.strictEqual(root.querySelector('code').textContent, 'let x = 1;');
  assert.strictEqual(root.querySelector('h6.md-h6').textContent, 'deep');
});

test('tables, task lists and headings build the page structure', () => {
  const window = pageWindow();
  const tree = [
    { k: 'h', level: 1, c: ['Title'] },
    { k: 'ul', c: [{ k: 'li', c: [{ k: 'task', checked: true, c: [] }, 'done'] }] },
    { k: 'table', c: [
      { k: 'thead', c: [{ k: 'tr', c: [{ k: 'th', align: 'right', c: ['n'] }] }] },
      { k: 'tbody', c: [{ k: 'tr', c: [{ k: 'td', align: 'right', c: ['1'] }] }] },
    ] },
  ];
  const root = window.document.createElement('div');
  root.appendChild(window.NexusMarkdown.build(tree));
  assert.strictEqual(root.querySelector('h3.md-h1').textContent, 'Title');
  const box = root.querySelector('li.task input[type=checkbox]');
  assert.ok(box && box.checked && box.disabled);
  assert.strictEqual(root.querySelector('.table-wrap > table > tbody > tr > td.align-right').textContent, '1');
});
