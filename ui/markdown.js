/*
 * markdown.js — agent Markdown as DOM.
 *
 * The popover process parses the text (pulldown-cmark: CommonMark + GFM
 * tables, task lists, strikethrough, autolinks) and highlights code
 * (syntect), and answers a `markdown` message with a small tree: a node is a
 * string (text) or {k: kind, c: [children], …attributes} (see
 * src/markdown/mod.rs and ui/README.md). This file asks for trees and builds
 * DOM from them with createElement / textContent only: agent text never
 * passes through an HTML parser. Raw HTML arrives as text; only http(s)
 * links become <a href> (app.js opens them in the system browser); headings
 * are shifted down two levels (the page owns the top ones).
 *
 * It also splits a text into top-level "chunks" at blank lines (outside code
 * fences, and not inside a list), so a streaming view re-renders only the
 * chunk that is still growing (see MarkdownView in render.js).
 *
 * Code blocks of a streaming view come first as text and are coloured a
 * moment later (colourLater), so a long answer shows at once.
 *
 * Exposes window.NexusMarkdown = { render, build, requestTree, receive,
 * setTransport, highlight, splitChunks, newChunkScan, scanChunks,
 * isFencedChunk, safeUrl }.
 */
(function () {
  'use strict';

  /** Nesting the builder follows; deeper nodes show only their text. */
  const MAX_DEPTH = 40;
  /** Rust answers within this or the text is shown as it is. */
  const ANSWER_TIMEOUT_MS = 15000;
  /** Longer texts are not sent (a page message is at most 1 MiB of UTF-8 JSON). */
  const MAX_TEXT_LENGTH = 250000;
  /** Requests sent as one message (src/page/protocol.rs has the same bounds). */
  const MAX_BATCH_REQUESTS = 256;
  const MAX_BATCH_LENGTH = 128000;
  /** Highlighting classes the page styles (src/markdown/highlight.rs). */
  const TOKEN_CLASSES = new Set(['kw', 'str', 'com', 'num', 'lit', 'fn', 'type', 'prop', 'var', 'ins', 'del', 'meta']);

  const FENCE_OPEN = /^ {0,3}(`{3,}|~{3,})[ \t]*([^`\s]*)[^`]*$/;
  const LIST_ITEM = /^( {0,3})([-*+]|(\d{1,9})[.)])([ \t]+|$)/;

  // ---------------------------------------------------------------- helpers

  const el = window.NexusDom.el;

  function isBlank(line) {
    return line.trim() === '';
  }

  /** The URL as an absolute http(s) href, or null for anything else. */
  function safeUrl(raw) {
    if (typeof raw !== 'string' || raw.length > 4096) return null;
    let url;
    try {
      // A backslash is not a slash in a Markdown link (WHATWG URLs would read it as one).
      url = new URL(raw.trim().replace(/\\/g, '%5C'));
    } catch (_) {
      return null;
    }
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
  }

  function isFenceClose(line, fence) {
    const trimmed = line.replace(/^ {0,3}/, '');
    if (trimmed[0] !== fence[0]) return false;
    let run = 0;
    while (run < trimmed.length && trimmed[run] === fence[0]) run++;
    return run >= fence.length && trimmed.slice(run).trim() === '';
  }

  // ---------------------------------------------------------------- chunks

  /**
   * Could `text` at `pos` (a line start) be a closing fence for `fence`?
   * Checked without allocating: this runs for every line inside a code block.
   */
  function mayCloseFence(text, pos, fence) {
    let i = pos;
    while (i < pos + 3 && text.charCodeAt(i) === 32) i++;
    return text[i] === fence[0];
  }

  /** A fresh chunk scan of a text from its start. */
  function newChunkScan() {
    return { starts: [0], pos: 0, fence: null, chunkIsList: null, afterBlank: false };
  }

  /**
   * Finds the start offsets of the top-level chunks of `text`, continuing a
   * scan (newChunkScan() for a fresh one). A chunk ends at a blank line
   * outside a code fence, unless the next line is indented or continues a
   * list the chunk started.
   *
   * Returns { starts, resume }: `resume` is the scan as it stood at the start
   * of the last, possibly unfinished, line; scanning a longer text that
   * begins with this one can continue from there.
   */
  function scanChunks(text, scan) {
    const starts = scan.starts.slice();
    let fence = scan.fence;
    let chunkIsList = scan.chunkIsList; // decided by the chunk's first non-blank line
    let afterBlank = scan.afterBlank;
    let pos = scan.pos;
    let resume = null;
    while (pos < text.length) {
      let end = text.indexOf('\n', pos);
      if (end === -1) {
        resume = { starts: starts.slice(), pos: pos, fence: fence, chunkIsList: chunkIsList, afterBlank: afterBlank };
        end = text.length;
      }
      if (fence) {
        if (mayCloseFence(text, pos, fence) && isFenceClose(text.slice(pos, end), fence)) fence = null;
      } else {
        const line = text.slice(pos, end);
        if (isBlank(line)) {
          if (chunkIsList !== null) afterBlank = true;
        } else {
          if (afterBlank) {
            const continues = line[0] === ' ' || line[0] === '\t' || (chunkIsList && LIST_ITEM.test(line));
            if (!continues) {
              starts.push(pos);
              chunkIsList = null;
            }
            afterBlank = false;
          }
          if (chunkIsList === null) chunkIsList = LIST_ITEM.test(line);
          const open = FENCE_OPEN.exec(line);
          if (open) fence = open[1];
        }
      }
      pos = end + 1;
    }
    if (!resume) {
      resume = { starts: starts.slice(), pos: text.length, fence: fence, chunkIsList: chunkIsList, afterBlank: afterBlank };
    }
    return { starts: starts, resume: resume };
  }

  /** Start offsets of the top-level chunks of `text`. */
  function splitChunks(text) {
    return scanChunks(text, newChunkScan()).starts;
  }

  /** Does this chunk start with a code fence (so it is one code block)? */
  function isFencedChunk(source) {
    const firstEnd = source.indexOf('\n');
    return FENCE_OPEN.test(firstEnd === -1 ? source : source.slice(0, firstEnd));
  }

  // ---------------------------------------------------------------- asking Rust

  const waiting = new Map(); // request id → { resolve, reject, timer }
  let nextId = 1;

  /** Sends a message to Rust (window.ipc in the popover; tests replace it). */
  let transport = function (message) {
    if (!window.ipc || typeof window.ipc.postMessage !== 'function') throw new Error('no IPC bridge');
    window.ipc.postMessage(JSON.stringify(message));
  };

  function setTransport(send) {
    transport = send;
  }

  /**
   * Resolves with the tree of `text` (an array of nodes), or rejects. With
   * `codeLater`, code blocks come as their text (Rust answers these first)
   * and build() colours them afterwards. The request leaves at the end of
   * the current task, with the others made in it (sendOutbox).
   */
  function requestTree(text, codeLater) {
    return new Promise(function (resolve, reject) {
      const source = typeof text === 'string' ? text : '';
      if (source.length > MAX_TEXT_LENGTH) {
        reject(new Error('text too long to render'));
        return;
      }
      const id = nextId++;
      const timer = setTimeout(function () {
        waiting.delete(id);
        reject(new Error('no answer'));
      }, ANSWER_TIMEOUT_MS);
      waiting.set(id, { resolve: resolve, reject: reject, timer: timer });
      const request = { id: id, text: source };
      if (codeLater) request.code_later = true;
      outbox.push(request);
      if (outbox.length === 1) queueMicrotask(sendOutbox);
    });
  }

  /** Requests made in this task, sent together at its end (sendOutbox). */
  let outbox = [];

  /**
   * Sends the waiting requests: one as a `markdown` message, several as
   * `markdown_batch` messages of at most MAX_BATCH_REQUESTS requests and
   * MAX_BATCH_LENGTH characters of text each. A long answer's hundred chunks
   * then cross to Rust as one message instead of a hundred, and come back
   * together too.
   */
  function sendOutbox() {
    const requests = outbox;
    outbox = [];
    let batch = [];
    let length = 0;
    const send = function () {
      if (batch.length === 0) return;
      const sending = batch;
      batch = [];
      length = 0;
      const message = sending.length === 1
        ? Object.assign({ type: 'markdown' }, sending[0])
        : { type: 'markdown_batch', requests: sending };
      try {
        transport(message);
      } catch (error) {
        for (const request of sending) {
          const entry = waiting.get(request.id);
          if (!entry) continue;
          waiting.delete(request.id);
          clearTimeout(entry.timer);
          entry.reject(error);
        }
      }
    };
    for (const request of requests) {
      if (batch.length >= MAX_BATCH_REQUESTS || (batch.length > 0 && length + request.text.length > MAX_BATCH_LENGTH)) send();
      batch.push(request);
      length += request.text.length;
    }
    send();
  }

  /**
   * Rust's answer: {type: "markdown", id, tree}, or several at once as
   * {type: "markdown", answers: [{id, tree}]} (the popover sends the answers
   * it has ready together: one message instead of a hundred for a long text).
   */
  function receive(message) {
    if (message && Array.isArray(message.answers)) {
      for (const answer of message.answers) receiveOne(answer);
      return;
    }
    receiveOne(message);
  }

  function receiveOne(message) {
    const entry = message && waiting.get(message.id);
    if (!entry) return;
    waiting.delete(message.id);
    clearTimeout(entry.timer);
    if (Array.isArray(message.tree)) entry.resolve(message.tree);
    else entry.reject(new Error('no tree'));
  }

  // ---------------------------------------------------------------- tree → DOM

  /** The text of a list of nodes (alt text, inline code). */
  function textOf(nodes, depth) {
    let text = '';
    if (!Array.isArray(nodes) || depth > MAX_DEPTH) return text;
    for (const node of nodes) {
      if (typeof node === 'string') text += node;
      else if (Array.isArray(node)) text += typeof node[1] === 'string' ? node[1] : '';
      else if (node && typeof node === 'object') text += textOf(node.c, depth + 1);
    }
    return text;
  }

  function appendNodes(parent, nodes, depth, inLink) {
    if (!Array.isArray(nodes)) return;
    for (const node of nodes) appendNode(parent, node, depth, inLink);
  }

  /** Appends `tag` with the node's children to `parent`; returns it. */
  function container(parent, tag, node, depth, inLink, className) {
    const element = el(tag, className);
    appendNodes(element, node.c, depth + 1, inLink);
    parent.appendChild(element);
    return element;
  }

  function appendNode(parent, node, depth, inLink) {
    if (typeof node === 'string') {
      parent.appendChild(document.createTextNode(node));
      return;
    }
    if (!node || typeof node !== 'object' || Array.isArray(node)) return;
    if (depth > MAX_DEPTH) {
      parent.appendChild(document.createTextNode(textOf(node.c, 0)));
      return;
    }
    switch (node.k) {
      case 'p':
      case 'em':
      case 'strong':
      case 'del':
      case 'ul':
      case 'li':
      case 'thead':
      case 'tbody':
      case 'tr':
        container(parent, node.k, node, depth, inLink);
        break;
      case 'quote':
        container(parent, 'blockquote', node, depth, inLink);
        break;
      case 'h': {
        const level = Math.min(6, Math.max(1, Number(node.level) | 0 || 1));
        container(parent, 'h' + Math.min(level + 2, 6), node, depth, inLink, 'md-h' + level);
        break;
      }
      case 'ol': {
        const list = container(parent, 'ol', node, depth, inLink);
        const start = Number(node.start);
        if (Number.isSafeInteger(start) && start !== 1) list.setAttribute('start', String(start));
        break;
      }
      case 'task': {
        const box = el('input', 'task-box');
        box.type = 'checkbox';
        box.disabled = true;
        box.checked = node.checked === true;
        box.setAttribute('aria-label', box.checked ? 'done' : 'not done');
        parent.appendChild(box);
        if (parent.tagName === 'LI') parent.classList.add('task');
        else if (parent.parentNode && parent.parentNode.tagName === 'LI') parent.parentNode.classList.add('task');
        break;
      }
      case 'hr':
      case 'br':
        parent.appendChild(el(node.k));
        break;
      case 'code': {
        const code = el('code');
        code.textContent = textOf(node.c, 0);
        parent.appendChild(code);
        break;
      }
      case 'code_block':
        parent.appendChild(codeBlock(typeof node.lang === 'string' ? node.lang : '', node.c, node.later === true));
        break;
      case 'html': {
        // Raw HTML in a reply is shown as the text it is.
        const p = el('p', 'raw-html');
        p.textContent = textOf(node.c, 0).replace(/\n+$/, '');
        parent.appendChild(p);
        break;
      }
      case 'table': {
        // Wide tables scroll sideways; the wrapper is focusable so keyboards can scroll it.
        const wrap = el('div', 'table-wrap');
        wrap.tabIndex = 0;
        container(wrap, 'table', node, depth, inLink);
        parent.appendChild(wrap);
        break;
      }
      case 'th':
      case 'td': {
        const align = node.align === 'center' || node.align === 'right' ? 'align-' + node.align : null;
        container(parent, node.k, node, depth, inLink, align);
        break;
      }
      case 'a': {
        const href = inLink ? null : safeUrl(node.href);
        const link = href ? el('a', node.bare === true ? 'bare-url' : null) : el('span', 'link-text');
        if (href) {
          link.href = href;
          link.rel = 'noopener noreferrer';
          if (typeof node.title === 'string' && node.title) link.title = node.title;
        }
        appendNodes(link, node.c, depth + 1, true);
        parent.appendChild(link);
        break;
      }
      case 'img': {
        // No remote images (the CSP forbids them anyway): the alt text, as a link to the image.
        const href = inLink ? null : safeUrl(node.src);
        const link = href ? el('a', 'image-link') : el('span', 'link-text');
        if (href) {
          link.href = href;
          link.rel = 'noopener noreferrer';
        }
        link.textContent = textOf(node.c, 0);
        parent.appendChild(link);
        break;
      }
      default:
        appendNodes(parent, node.c, depth + 1, inLink);
    }
  }

  /** Highlighted spans: strings and [class, text] pairs. */
  function appendSpans(parent, spans) {
    if (!Array.isArray(spans)) return;
    for (const span of spans) {
      if (typeof span === 'string') {
        parent.appendChild(document.createTextNode(span));
      } else if (Array.isArray(span) && typeof span[1] === 'string') {
        if (TOKEN_CLASSES.has(span[0])) {
          const token = el('span', 'tok-' + span[0]);
          token.textContent = span[1];
          parent.appendChild(token);
        } else {
          parent.appendChild(document.createTextNode(span[1]));
        }
      }
    }
  }

  /** <div class="code-block"> with a header (language, Copy) and a <pre><code>. */
  function codeBlock(lang, spans, later) {
    const name = lang.slice(0, 64);
    const block = el('div', 'code-block');
    const head = el('div', 'code-head');
    const label = el('span', 'code-lang');
    label.textContent = name || 'text';
    const copy = el('button', 'copy');
    copy.type = 'button';
    copy.setAttribute('aria-label', 'Copy code');
    copy.textContent = 'Copy';
    head.appendChild(label);
    head.appendChild(copy);
    const pre = el('pre');
    const code = el('code', name ? 'language-' + name : null);
    if (later) colourLater(code, lang, textOf(spans, 0));
    else appendSpans(code, spans);
    pre.appendChild(code);
    block.appendChild(head);
    block.appendChild(pre);
    return block;
  }

  // ---------------------------------------------------------------- colours later

  /** A code block shown this long (still on the page) gets its colours. */
  const COLOUR_AFTER_MS = 120;
  /** Highlight requests out at once (the rest wait, in page order). */
  const COLOURS_IN_FLIGHT = 2;
  /** Highlighted blocks remembered, so a chunk rendered again is coloured at once. */
  const COLOUR_CACHE_SIZE = 64;
  /** Longer code is not remembered. */
  const COLOUR_CACHE_MAX_LENGTH = 64 * 1024;

  const colourCache = new Map(); // lang + NUL + code → spans, oldest first
  const colourQueue = []; // { code, lang, text, at }
  let coloursInFlight = 0;
  let colourTimer = null;

  function cachedColours(lang, text) {
    const key = lang + '\u0000' + text;
    const spans = colourCache.get(key);
    if (spans === undefined) return null;
    colourCache.delete(key); // most recently used last
    colourCache.set(key, spans);
    return spans;
  }

  function rememberColours(lang, text, spans) {
    if (text.length > COLOUR_CACHE_MAX_LENGTH) return;
    colourCache.set(lang + '\u0000' + text, spans);
    while (colourCache.size > COLOUR_CACHE_SIZE) colourCache.delete(colourCache.keys().next().value);
  }

  /**
   * Shows `text` in `code` now and its colours once it has stayed on the page
   * for a moment: a streaming answer's growing block is replaced every frame
   * and never asks; a finished one asks once. Colours seen before are used at
   * once.
   */
  function colourLater(code, lang, text) {
    const spans = cachedColours(lang, text);
    if (spans) {
      appendSpans(code, spans);
      return;
    }
    code.appendChild(document.createTextNode(text));
    code.classList.add('colour-pending');
    colourQueue.push({ code: code, lang: lang, text: text, at: performance.now() });
    scheduleColours(COLOUR_AFTER_MS);
  }

  function scheduleColours(delay) {
    if (colourTimer !== null) return;
    colourTimer = setTimeout(function () {
      colourTimer = null;
      askColours();
    }, delay);
  }

  function askColours() {
    const now = performance.now();
    while (coloursInFlight < COLOURS_IN_FLIGHT && colourQueue.length > 0) {
      const job = colourQueue[0];
      if (!job.code.isConnected) {
        colourQueue.shift(); // replaced or closed before it was coloured
        continue;
      }
      if (now - job.at < COLOUR_AFTER_MS) break;
      colourQueue.shift();
      coloursInFlight++;
      colourBlock(job).then(function () {
        coloursInFlight--;
        askColours();
      });
    }
    // Anything still waiting (too young, or behind the requests out) is
    // looked at again shortly; disconnected ones are dropped then.
    if (colourQueue.length > 0 && coloursInFlight < COLOURS_IN_FLIGHT) scheduleColours(COLOUR_AFTER_MS);
  }

  /** Asks for one block's colours and puts them in, if the block is still what was asked about. */
  function colourBlock(job) {
    return highlightSpans(job.text, job.lang).then(function (spans) {
      // The colours must carry exactly the text shown, nothing more or less.
      const same = spans !== null && textOf(spans, 0) === job.text;
      if (same) rememberColours(job.lang, job.text, spans);
      job.code.classList.remove('colour-pending');
      if (!same || !job.code.isConnected || job.code.textContent !== job.text) return;
      const fragment = document.createDocumentFragment();
      appendSpans(fragment, spans);
      job.code.replaceChildren(fragment);
    });
  }

  /** A tree (from Rust) as a DocumentFragment. */
  function build(tree) {
    const fragment = document.createDocumentFragment();
    appendNodes(fragment, tree, 0, false);
    return fragment;
  }

  /** The text as it is, for when no tree can be had. */
  function plainFragment(text) {
    const fragment = document.createDocumentFragment();
    const p = el('p', 'md-unrendered');
    p.textContent = text;
    fragment.appendChild(p);
    return fragment;
  }

  // ---------------------------------------------------------------- entry points

  /**
   * Renders a whole Markdown text: a Promise of a DocumentFragment (never
   * rejects). With `{codeLater: true}` it resolves sooner, its code blocks as
   * text, coloured in place a moment after they are on the page.
   */
  function render(text, options) {
    const source = typeof text === 'string' ? text : '';
    const codeLater = !!(options && options.codeLater);
    return requestTree(source, codeLater).then(build, function () {
      return plainFragment(source);
    });
  }

  /** The spans of `code` highlighted as `lang` (a Promise; null when Rust gave none). */
  function highlightSpans(code, lang) {
    const source = typeof code === 'string' ? code : '';
    let longest = 0;
    for (const run of source.match(/`+/g) || []) longest = Math.max(longest, run.length);
    const fence = '`'.repeat(Math.max(3, longest + 1));
    const info = String(lang || '').replace(/[^A-Za-z0-9_+#.-]/g, '');
    const text = fence + info + '\n' + source + (source.endsWith('\n') ? '' : '\n') + fence + '\n';
    return requestTree(text).then(
      function (tree) {
        const block = tree[0];
        return block && block.k === 'code_block' ? block.c : null;
      },
      function () {
        return null;
      }
    );
  }

  /** Highlights `code` as `lang`: a Promise of a fragment of token spans. */
  function highlight(code, lang) {
    const source = typeof code === 'string' ? code : '';
    return highlightSpans(source, lang).then(function (spans) {
      const fragment = document.createDocumentFragment();
      if (spans) appendSpans(fragment, spans);
      else fragment.appendChild(document.createTextNode(source));
      return fragment;
    });
  }

  window.NexusMarkdown = {
    render: render,
    build: build,
    requestTree: requestTree,
    receive: receive,
    setTransport: setTransport,
    highlight: highlight,
    splitChunks: splitChunks,
    newChunkScan: newChunkScan,
    scanChunks: scanChunks,
    isFencedChunk: isFencedChunk,
    safeUrl: safeUrl,
  };
})();
