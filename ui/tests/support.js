// Loads the page's browser scripts into a jsdom window for the node tests
// (ui/tests/*.test.js). The scripts are classic scripts that attach to
// `window`; they run here exactly as the page loads them, evaluated in the
// window (runScripts "outside-only" + window.eval), in index.html's order.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { JSDOM } = require('jsdom');

const UI = path.join(__dirname, '..');
const INDEX_HTML = fs.readFileSync(path.join(UI, 'index.html'), 'utf8');
const LOGIN_HTML = fs.readFileSync(path.join(UI, 'login.html'), 'utf8');

/** The scripts index.html loads, in its order. */
const SCRIPTS = Array.from(INDEX_HTML.matchAll(/<script src="([^"]+)" defer><\/script>/g), (m) => m[1]);

/**
 * A jsdom window with `scripts` evaluated in it (default: every script but
 * app.js, so the parts can be tried one by one). `html`: the document
 * (default: an empty one; pass INDEX_HTML for the page's own).
 * `ipc`: window.ipc, set before any script runs. `url`: the page's address
 * (default about:blank; an http(s) one makes remote.js take over when there
 * is no `ipc`). `setup(window)`: runs before any script (fakes of
 * WebSocket, fetch…).
 */
function loadPage(options) {
  const opts = options || {};
  const dom = new JSDOM(opts.html || '<!DOCTYPE html><html><body></body></html>', {
    runScripts: 'outside-only',
    pretendToBeVisual: true, // requestAnimationFrame
    url: opts.url || 'about:blank',
  });
  const window = dom.window;
  // WebKit has TextEncoder; jsdom does not.
  if (!window.TextEncoder) window.TextEncoder = TextEncoder;
  if (opts.ipc) window.ipc = opts.ipc;
  if (opts.setup) opts.setup(window);
  const scripts = opts.scripts || SCRIPTS.filter((name) => name !== 'app.js');
  for (const name of scripts) {
    window.eval(fs.readFileSync(path.join(UI, name), 'utf8') + '\n//# sourceURL=' + name);
  }
  return window;
}

/**
 * The whole page: index.html and all its scripts, with a fake window.ipc
 * that records every message the page posts (parsed) in `sent`.
 */
function loadWholePage() {
  const sent = [];
  const ipc = {
    postMessage: function (text) {
      if (typeof text !== 'string') throw new Error('postMessage takes JSON text');
      sent.push(JSON.parse(text));
    },
  };
  const window = loadPage({ html: INDEX_HTML, scripts: SCRIPTS, ipc: ipc });
  return {
    window: window,
    document: window.document,
    sent: sent,
    /** What Rust would deliver: a message as JSON text. */
    deliver: function (message) {
      window.nexus.receive(JSON.stringify(message));
    },
    /** The `call` / `nexus` requests posted so far, or those named `name`. */
    calls: function (name) {
      return sent.filter((m) => (m.type === 'call' || m.type === 'nexus') && (!name || m.call.name === name));
    },
    /** Answers the call `request` with `data`. */
    answer: function (request, data) {
      window.nexus.receive(JSON.stringify({ type: 'result', id: request.id, ok: true, data: data }));
    },
    /** Waits for the page's next animation frames (and the promises before them). */
    frames: async function (count) {
      for (let k = 0; k < (count || 2); k++) {
        await new Promise((resolve) => window.requestAnimationFrame(() => resolve()));
      }
    },
  };
}

/**
 * `value` as plain node data: objects made inside the page's window have that
 * window's prototypes, which assert.deepStrictEqual tells apart.
 */
function plain(value) {
  return JSON.parse(JSON.stringify(value));
}

/** Lets pending promise callbacks run. */
function settle() {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

module.exports = { UI, INDEX_HTML, LOGIN_HTML, SCRIPTS, loadPage, loadWholePage, plain, settle };
