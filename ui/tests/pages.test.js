// dom.js (building nodes, text only) and pages.js (helpers of Nexus's own
// views and the status line).
'use strict';

const test = require('node:test');
const assert = require('node:assert');
const { loadPage } = require('./support.js');

const window = loadPage({ scripts: ['dom.js', 'pages.js'] });
const document = window.document;
test.after(() => window.close());
const { el, byId, isString } = window.NexusDom;
const Pages = window.NexusPages;

test('el() puts text in as text: markup in it stays inert', () => {
  const hostile = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>';
  const node = el('p', 'reply', hostile);
  document.body.appendChild(node);
  assert.strictEqual(node.tagName, 'P');
  assert.strictEqual(node.className, 'reply');
  assert.strictEqual(node.textContent, hostile);
  assert.strictEqual(node.children.length, 0);
  assert.strictEqual(document.querySelector('img'), null);
  assert.ok(node.outerHTML.includes('&lt;img src=x'), node.outerHTML);
  assert.strictEqual(window.pwned, undefined);
});

test('el() without text or class makes an empty element; numbers become text', () => {
  assert.strictEqual(el('span').outerHTML, '<span></span>');
  assert.strictEqual(el('span', null, null).outerHTML, '<span></span>');
  assert.strictEqual(el('span', '', 0).outerHTML, '<span>0</span>');
});

test('byId finds an element by id; isString tells text from the rest', () => {
  const node = el('div');
  node.id = 'target';
  document.body.appendChild(node);
  assert.strictEqual(byId('target'), node);
  assert.strictEqual(byId('missing'), null);
  assert.strictEqual(isString(''), true);
  assert.strictEqual(isString(null), false);
  assert.strictEqual(isString(new window.String('boxed')), false);
});

test('sizes read like the tray menu: MiB with a decimal under 10, GiB from 1024 MiB', () => {
  assert.strictEqual(Pages.formatMiB(512), '512 MiB');
  assert.strictEqual(Pages.formatMiB(3.54), '3.5 MiB');
  assert.strictEqual(Pages.formatMiB(3), '3 MiB');
  assert.strictEqual(Pages.formatMiB(7782), '7.6 GiB');
  assert.strictEqual(Pages.formatMiB(2048), '2 GiB');
  assert.strictEqual(Pages.formatMiB(-1), 'unknown');
  assert.strictEqual(Pages.formatMiB(NaN), 'unknown');
  assert.strictEqual(Pages.formatMiB('5'), 'unknown');
  assert.strictEqual(Pages.formatMemoryBytes(212 * 1024 * 1024), '212 MiB');
  assert.strictEqual(Pages.formatMemoryBytes(3 * 1024 * 1024), '3.0 MiB');
  assert.strictEqual(Pages.formatCpu(3), '3.0 %');
  assert.strictEqual(Pages.formatCpu(12.4), '12 %');
});

test('the status line: the summary (or the state), then the metrics', () => {
  assert.deepStrictEqual(
    Object.assign({}, Pages.statusParts({ state: 'running', line: ' Server running on port 4096 ', metrics: { cpu_percent: 3, memory_bytes: 212 * 1048576, processes: 4 } })),
    { line: 'Server running on port 4096', metrics: ' · CPU 3.0 % · 212 MiB · 4 processes' }
  );
  assert.deepStrictEqual(Object.assign({}, Pages.statusParts({ state: 'stopped', line: '', metrics: null })), { line: 'Stopped', metrics: '' });
  assert.deepStrictEqual(Object.assign({}, Pages.statusParts({ metrics: { processes: 1, cpu_percent: -1, memory_bytes: 'x' } })), {
    line: '',
    metrics: '1 process',
  });
});

test('renderStatus fills #server-status and hides it when there is nothing to say', () => {
  const node = el('p');
  const line = el('span');
  const metrics = el('span');
  node.append(line, metrics);
  Pages.renderStatus(node, line, metrics, { state: 'running', line: 'Running', metrics: { cpu_percent: 12.5, memory_bytes: 5 * 1048576, processes: 2 } });
  assert.strictEqual(line.textContent, 'Running');
  assert.strictEqual(metrics.textContent, ' · CPU 13 % · 5.0 MiB · 2 processes');
  assert.strictEqual(node.dataset.state, 'running');
  assert.strictEqual(node.title, 'Running · CPU 13 % · 5.0 MiB · 2 processes');
  assert.strictEqual(node.hidden, false);
  Pages.renderStatus(node, line, metrics, { line: '' });
  assert.strictEqual(node.hidden, true);
  assert.strictEqual(node.dataset.state, '');
});

test('a field error marks the control invalid and is cleared again', () => {
  const input = el('input');
  const error = el('p');
  Pages.setFieldError(input, error, 'server.port = 70000 is not a port (1–65535)');
  assert.strictEqual(input.getAttribute('aria-invalid'), 'true');
  assert.strictEqual(error.textContent, 'server.port = 70000 is not a port (1–65535)');
  Pages.clearFieldError(input, error);
  assert.strictEqual(input.hasAttribute('aria-invalid'), false);
  assert.strictEqual(error.textContent, '');
});
