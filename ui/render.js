/*
 * render.js — builds and patches the DOM for the conversation.
 *
 * ConversationView turns a NexusConversation's dirty marks into DOM changes,
 * once per animation frame (app.js decides when). MarkdownView renders a
 * growing text part at a bounded cost: it re-renders only the last Markdown
 * chunk (asking the popover process for its tree, at most once a frame),
 * shows an oversized growing chunk as plain text that is appended to, and
 * backs off when rendering gets expensive.
 *
 * Everything from the server goes in through textContent / createTextNode.
 *
 * Exposes window.NexusRender = { ConversationView, MarkdownView,
 * buildPermission, buildQuestion, relativeTime, errorText }.
 */
(function () {
  'use strict';

  /** A growing chunk larger than this is shown as plain text until it completes. */
  const STREAM_MARKDOWN_LIMIT = 20000;
  /**
   * A chunk (other than a code block) larger than this stays plain text: too
   * costly to lay out in one go (a 60 KB paragraph re-rendered as Markdown when
   * its stream completed stalled the page ~200 ms). Equal to the streaming
   * limit, so a chunk shown as plain text while it grew never turns into one
   * large render at the end.
   */
  const FINAL_MARKDOWN_LIMIT = STREAM_MARKDOWN_LIMIT;
  /** Plain text is split into blocks of about this size so appending relayouts little. */
  const PLAIN_BLOCK_SIZE = 4096;
  /** Tool output beyond this is cut in the card. */
  const TOOL_OUTPUT_LIMIT = 50000;
  /** If a part took this long to render, wait a few times as long before the next render. */
  const EXPENSIVE_RENDER_MS = 4;
  /** Time budget for rendering parts in one frame; the rest waits for the next frame. */
  const FRAME_BUDGET_MS = 12;

  const el = window.NexusDom.el;

  function setAttribute(node, name, value) {
    if (node.getAttribute(name) !== value) node.setAttribute(name, value);
  }

  function str(value) {
    return typeof value === 'string' ? value : '';
  }

  /** "just now", "5 min ago", "3 h ago", "2 d ago", or a date. */
  function relativeTime(ms, now) {
    if (typeof ms !== 'number' || !isFinite(ms)) return '';
    const seconds = Math.max(0, ((now || Date.now()) - ms) / 1000);
    if (seconds < 60) return 'just now';
    if (seconds < 3600) return Math.floor(seconds / 60) + ' min ago';
    if (seconds < 86400) return Math.floor(seconds / 3600) + ' h ago';
    if (seconds < 7 * 86400) return Math.floor(seconds / 86400) + ' d ago';
    return new Date(ms).toLocaleDateString(undefined, { month: 'short', day: 'numeric', year: 'numeric' });
  }

  /** Text for an OpenCode error object ({name, data:{message}}). */
  function errorText(error) {
    if (!error || typeof error !== 'object') return '';
    if (error.name === 'MessageAbortedError') return 'Aborted';
    const data = error.data && typeof error.data === 'object' ? error.data : {};
    let text = str(data.message) || str(error.message) || str(error.name) || 'Error';
    if (text.length > 600) text = text.slice(0, 600) + '…';
    return text;
  }

  // ================================================================ lazy chunks

  /** Chunks laid out per frame once they are on the page. */
  const LAY_OUT_PER_FRAME = 16;
  /**
   * How long new chunks wait before that starts: long enough for their trees
   * to arrive (a chunk laid out while it still shows its raw text is laid
   * out twice) and for the text in view to be shown first.
   */
  const LAY_OUT_AFTER_MS = 200;
  const lazyChunks = [];
  let layingOut = false;

  /**
   * A new chunk starts `md-lazy` (content-visibility: auto): out of view it
   * costs nothing until it is laid out here, a moment later and a few chunks
   * a frame. The page has no scroll anchoring (WebKit), so when chunks above
   * the view take their real height the scroll position moves by the
   * difference, and what the user reads stays put.
   */
  function layOutLater(element) {
    element.classList.add('md-lazy');
    lazyChunks.push(element);
    if (!layingOut) {
      layingOut = true;
      setTimeout(function () {
        requestAnimationFrame(layOutSome);
      }, LAY_OUT_AFTER_MS);
    }
  }

  function scrollerOf(element) {
    for (let node = element.parentElement; node; node = node.parentElement) {
      const overflow = getComputedStyle(node).overflowY;
      if (overflow === 'auto' || overflow === 'scroll') return node;
    }
    return null;
  }

  function layOutSome() {
    const batch = lazyChunks.splice(0, LAY_OUT_PER_FRAME);
    const shifts = new Map(); // scroller → height added above its view
    const measured = batch.map(function (element) {
      if (!element.isConnected) return null;
      const scroller = scrollerOf(element);
      if (!scroller) return { element: element, scroller: null, height: 0 };
      const box = element.getBoundingClientRect();
      const above = box.bottom <= scroller.getBoundingClientRect().top;
      return { element: element, scroller: above ? scroller : null, height: box.height };
    });
    for (const entry of measured) if (entry) entry.element.classList.remove('md-lazy');
    for (const entry of measured) {
      if (!entry || !entry.scroller) continue;
      const grew = entry.element.getBoundingClientRect().height - entry.height;
      shifts.set(entry.scroller, (shifts.get(entry.scroller) || 0) + grew);
    }
    for (const [scroller, shift] of shifts) if (shift) scroller.scrollTop += shift;
    if (lazyChunks.length > 0) requestAnimationFrame(layOutSome);
    else layingOut = false;
  }

  // ================================================================ MarkdownView

  /**
   * Renders Markdown text into `container`, patching only what changed since
   * the last update. Each top-level chunk lives in its own <div class="md-chunk">.
   *
   * Rendering is asynchronous (the popover process parses the Markdown, see
   * markdown.js): a chunk asks for its tree at most once at a time; when the
   * answer comes and the chunk has grown meanwhile, it asks again on the next
   * animation frame. So a finished chunk is rendered once and the growing
   * tail at most once a frame. A new chunk shows its text as it is until its
   * first tree arrives.
   */
  class MarkdownView {
    constructor(container) {
      this.container = container;
      this.text = '';
      this.starts = []; // chunk start offsets into this.text
      this.resume = null; // chunk scan state at the start of this.text's last line
      this.chunks = []; // { src, el, plain, shown, asking, gone } per chunk, see _renderChunk
      this.nextRenderAt = 0; // back-off after an expensive render
    }

    /**
     * Shows `text`. While `streaming`, the growing last chunk may be shown as
     * plain text when it is large.
     */
    update(text, streaming) {
      const md = window.NexusMarkdown;
      // Append-only growth (the streaming case): the chunk scan resumes at the
      // last line, and only the last two chunks can have changed.
      const grew = this.resume !== null && text.length >= this.text.length && text.startsWith(this.text);
      const scan = md.scanChunks(text, grew ? this.resume : md.newChunkScan());
      const starts = scan.starts;
      const keep = grew ? Math.max(0, this.starts.length - 2) : 0;

      for (let k = keep; k < starts.length; k++) {
        const src = text.slice(starts[k], k + 1 < starts.length ? starts[k + 1] : text.length);
        const isTail = k === starts.length - 1;
        this._renderChunk(k, src, streaming && isTail);
      }
      for (let k = this.chunks.length - 1; k >= starts.length; k--) {
        this.chunks[k].gone = true;
        this.chunks[k].el.remove();
        this.chunks.pop();
      }
      this.text = text;
      this.starts = starts;
      this.resume = scan.resume;
    }

    _renderChunk(index, src, growing) {
      const md = window.NexusMarkdown;
      const existing = this.chunks[index];
      const fenced = md.isFencedChunk(src);
      const asPlain = (growing && src.length > STREAM_MARKDOWN_LIMIT) || (!fenced && src.length > FINAL_MARKDOWN_LIMIT);
      if (existing && existing.src === src && !!existing.plain === asPlain) {
        return; // unchanged (a plain chunk that completed is rendered as Markdown below)
      }
      if (asPlain && existing && existing.plain && src.startsWith(existing.src)) {
        appendPlain(existing, src.slice(existing.src.length));
        existing.src = src;
        return;
      }
      if (asPlain) {
        const chunk = this._newChunk(index, existing, src);
        chunk.el.classList.add('md-plain');
        // Blocks go into an inner box, so appending one changes nothing the chunk's CSS looks at.
        chunk.plain = { body: chunk.el.appendChild(el('div', 'plain-body')), block: null, length: 0 };
        appendPlain(chunk, src);
        return;
      }
      let chunk = existing && !existing.plain ? existing : null;
      if (!chunk) {
        chunk = this._newChunk(index, existing, src);
        // Until its first tree arrives the chunk shows its text as it is.
        chunk.el.classList.add('md-pending');
        chunk.el.textContent = src;
      }
      chunk.src = src;
      this._ask(chunk);
    }

    _newChunk(index, existing, src) {
      const chunk = { src: src, el: el('div', 'md-chunk'), plain: null, shown: null, asking: false, gone: false };
      layOutLater(chunk.el);
      if (existing) {
        existing.gone = true;
        existing.el.replaceWith(chunk.el);
      } else {
        this.container.appendChild(chunk.el);
      }
      this.chunks[index] = chunk;
      return chunk;
    }

    /** Asks for the chunk's tree unless an answer is awaited already. */
    _ask(chunk) {
      if (chunk.asking || chunk.gone || chunk.shown === chunk.src) return;
      chunk.asking = true;
      const src = chunk.src;
      const show = (fragment) => {
        chunk.asking = false;
        if (chunk.gone) return;
        chunk.el.classList.remove('md-pending');
        chunk.el.replaceChildren(fragment);
        chunk.shown = src;
        if (chunk.src !== src) requestAnimationFrame(() => this._ask(chunk));
      };
      // Text first; code blocks are coloured in place a moment later.
      window.NexusMarkdown.render(src, { codeLater: true }).then(show);
    }
  }

  /** Appends text to a plain chunk, starting a new block at a newline once the last one is big. */
  function appendPlain(chunk, text) {
    const state = chunk.plain;
    let rest = text;
    while (rest) {
      if (!state.block || state.length >= PLAIN_BLOCK_SIZE) {
        const newline = state.block ? rest.indexOf('\n') : -1;
        if (state.block && newline !== -1) {
          // Finish the current line in the old block, then start a new one.
          state.block.firstChild.appendData(rest.slice(0, newline + 1));
          rest = rest.slice(newline + 1);
          if (!rest) break;
        }
        if (!state.block || newline !== -1) {
          state.block = el('div', 'plain-block');
          state.block.appendChild(document.createTextNode(''));
          state.body.appendChild(state.block);
          state.length = 0;
        }
      }
      state.block.firstChild.appendData(rest);
      state.length += rest.length;
      rest = '';
    }
  }

  // ================================================================ parts

  function isStreaming(part, info) {
    if (part.type !== 'text' && part.type !== 'reasoning') return false;
    if (part.time && part.time.end) return false;
    if (info.error) return false;
    return !(info.time && info.time.completed);
  }

  /** Should this part get an element at all? */
  function isShown(part, info) {
    switch (part.type) {
      case 'text':
        return !part.synthetic && !part.ignored;
      case 'reasoning':
        return str(part.text).trim() !== '';
      case 'tool':
        return true;
      case 'patch':
        return Array.isArray(part.files) && part.files.length > 0;
      case 'file':
        return info.role === 'user';
      case 'subtask':
        return true;
      default:
        return false; // step-start, step-finish, snapshot, retry, compaction, agent…
    }
  }

  function hasVisibleContent(part) {
    if (part.type === 'text' || part.type === 'reasoning') return str(part.text).trim() !== '';
    return true;
  }

  function basename(path) {
    const text = str(path);
    const cut = text.replace(/\/+$/, '').lastIndexOf('/');
    return cut === -1 ? text : text.slice(cut + 1);
  }

  /** A one-line description of what a tool call does. */
  function toolSummary(part) {
    const state = part.state && typeof part.state === 'object' ? part.state : {};
    if (str(state.title)) return state.title;
    const input = state.input && typeof state.input === 'object' ? state.input : {};
    const keys = ['command', 'filePath', 'filepath', 'path', 'pattern', 'url', 'query', 'description', 'prompt'];
    for (const key of keys) if (str(input[key])) return input[key];
    for (const key in input) if (str(input[key])) return input[key];
    return '';
  }

  const TOOL_STATUS_TEXT = { pending: 'Pending', running: 'Running', completed: 'Done', error: 'Failed' };

  function buildToolCard(part, previous) {
    const state = part.state && typeof part.state === 'object' ? part.state : {};
    const status = TOOL_STATUS_TEXT[state.status] ? state.status : 'pending';
    const card = el('div', 'tool-card');
    card.dataset.status = status;
    card.dataset.partId = part.id;

    const head = el('div', 'tool-head');
    head.appendChild(el('span', 'tool-name', str(part.tool) || 'tool'));
    head.appendChild(el('span', 'tool-status', TOOL_STATUS_TEXT[status]));
    card.appendChild(head);

    let summary = toolSummary(part);
    if (summary.length > 300) summary = summary.slice(0, 300) + '…';
    if (summary) card.appendChild(el('div', 'tool-title', summary));

    const body = status === 'error' ? str(state.error) : status === 'completed' ? str(state.output) : '';
    if (body) {
      const details = el('details', 'tool-output');
      details.appendChild(el('summary', null, status === 'error' ? 'Error' : 'Output'));
      const pre = el('pre');
      pre.tabIndex = 0;
      pre.textContent = body.length > TOOL_OUTPUT_LIMIT ? body.slice(0, TOOL_OUTPUT_LIMIT) + '\n… (cut)' : body;
      details.appendChild(pre);
      // Keep the user's choice when the card is rebuilt.
      const wasOpen = previous && previous.querySelector('details');
      if (wasOpen && wasOpen.open) details.open = true;
      card.appendChild(details);
    }
    return card;
  }

  function buildNote(part) {
    const note = el('p', 'part-note');
    note.dataset.partId = part.id;
    if (part.type === 'patch') {
      const names = part.files.map(basename);
      const shown = names.slice(0, 5).join(', ') + (names.length > 5 ? ' and ' + (names.length - 5) + ' more' : '');
      note.textContent = (names.length === 1 ? 'Changed ' : 'Changed ' + names.length + ' files: ') + shown;
    } else if (part.type === 'file') {
      note.textContent = 'Attached ' + (str(part.filename) || basename(part.url) || 'a file');
    } else if (part.type === 'subtask') {
      note.textContent = 'Subtask' + (str(part.description) ? ': ' + part.description : '');
    }
    return note;
  }

  // ================================================================ ConversationView

  /**
   * Keeps `list` (the element holding the <article>s) in step with a
   * conversation. Views: message id → { article, body, error, parts: Map(part
   * id → { el, type, markdown }) }.
   */
  class ConversationView {
    constructor(list) {
      this.list = list;
      this.conversation = null;
      this.views = new Map();
      this.pendingArticle = null;
      this._renderedParts = null; // part ids rendered during the current flush
    }

    attach(conversation) {
      this.conversation = conversation;
      this._clear();
      if (conversation) conversation.dirty.reset = true;
    }

    /**
     * Applies the conversation's changes. Returns { deltasRendered, more,
     * prepended }: `more` when some parts were postponed to a later frame.
     */
    flush(frameStart) {
      const result = { deltasRendered: false, more: false, prepended: false };
      const conversation = this.conversation;
      if (!conversation) return result;
      const dirty = conversation.takeDirty();
      this._renderedParts = new Set();

      if (dirty.reset) {
        this._clear();
        for (const id of conversation.order) this._syncMessage(id, true);
        this._syncPendingUser();
        return result;
      }
      if (dirty.order || dirty.prepended) this._syncOrder();
      result.prepended = dirty.prepended;
      for (const id of dirty.messages) this._syncMessage(id, false);

      for (const [partId, messageId] of dirty.parts) {
        if (this._renderedParts.has(partId)) {
          if (dirty.deltaParts.has(partId)) result.deltasRendered = true;
          continue; // a new message or part, already rendered above
        }
        const view = this.views.get(messageId);
        const entry = conversation.entries.get(messageId);
        if (!view || !entry) continue;
        const part = entry.parts.get(partId);
        if (!part) continue;
        const partView = view.parts.get(partId);
        const overBudget = performance.now() - frameStart > FRAME_BUDGET_MS;
        if (partView && partView.markdown && (overBudget || partView.markdown.nextRenderAt > frameStart)) {
          conversation.markPartDirty(messageId, partId); // later frame
          if (dirty.deltaParts.has(partId)) conversation.dirty.deltaParts.add(partId);
          result.more = true;
          continue;
        }
        this._syncPart(view, entry, part);
        if (dirty.deltaParts.has(partId)) result.deltasRendered = true;
        this._updateEmptiness(view, entry);
      }
      if (dirty.pendingUser || dirty.order) this._syncPendingUser();
      return result;
    }

    // ------------------------------------------------------------ messages

    _clear() {
      this.views.clear();
      this.list.replaceChildren();
      this.pendingArticle = null;
    }

    /** Puts the articles in model order, creating and removing as needed. */
    _syncOrder() {
      const conversation = this.conversation;
      for (const [id, view] of this.views) {
        if (!conversation.entries.has(id)) {
          view.article.remove();
          this.views.delete(id);
        }
      }
      let cursor = this.list.firstElementChild;
      for (const id of conversation.order) {
        let view = this.views.get(id);
        if (!view) {
          view = this._createMessageView(conversation.entries.get(id));
          this._syncMessage(id, true);
        }
        if (cursor === view.article) {
          cursor = cursor.nextElementSibling;
        } else {
          this.list.insertBefore(view.article, cursor);
        }
      }
      if (this.pendingArticle) this.list.appendChild(this.pendingArticle);
    }

    _createMessageView(entry) {
      const article = el('article', 'message');
      const body = el('div', 'message-body');
      article.appendChild(body);
      const view = { article: article, body: body, error: null, parts: new Map() };
      this.views.set(entry.info.id, view);
      return view;
    }

    /**
     * Updates a message's attributes, error line and part list; with
     * `renderParts` every shown part is (re)rendered, else only new ones and
     * those whose streaming state flipped.
     */
    _syncMessage(id, renderParts) {
      const entry = this.conversation.entries.get(id);
      if (!entry) return;
      let view = this.views.get(id);
      if (!view) {
        view = this._createMessageView(entry);
        if (renderParts) this.list.appendChild(view.article);
        else this._syncOrder();
      }
      const info = entry.info;
      const role = info.role === 'user' ? 'user' : 'assistant';
      const article = view.article;
      const streaming = role === 'assistant' && !info.error && !(info.time && info.time.completed);
      // Only touch what changed: a rewritten attribute restyles everything styled by it.
      setAttribute(article, 'data-role', role);
      setAttribute(article, 'data-message-id', id);
      setAttribute(article, 'aria-label', role === 'user' ? 'You' : 'Assistant');
      setAttribute(article, 'aria-busy', streaming ? 'true' : 'false');

      // Part elements in part order; parts that are not shown get none.
      let cursor = view.body.firstElementChild;
      const wanted = new Set();
      for (const partId of entry.partIds) {
        const part = entry.parts.get(partId);
        if (!part || !isShown(part, info)) continue;
        wanted.add(partId);
        let partView = view.parts.get(partId);
        if (!partView || renderParts || partView.streaming !== isStreaming(part, info)) {
          this._syncPart(view, entry, part);
          partView = view.parts.get(partId);
        }
        if (cursor === partView.el) cursor = cursor.nextElementSibling;
        else view.body.insertBefore(partView.el, cursor);
      }
      for (const [partId, partView] of view.parts) {
        if (!wanted.has(partId)) {
          partView.el.remove();
          view.parts.delete(partId);
        }
      }

      const message = errorText(info.error);
      if (message) {
        if (!view.error) {
          view.error = el('p', 'message-error');
          article.appendChild(view.error);
        }
        view.error.textContent = message;
      } else if (view.error) {
        view.error.remove();
        view.error = null;
      }
      this._updateEmptiness(view, entry);
    }

    /** Hides a message with nothing to show yet (e.g. only a step-start). */
    _updateEmptiness(view, entry) {
      let visible = !!view.error;
      if (!visible) {
        for (const partId of view.parts.keys()) {
          const part = entry.parts.get(partId);
          if (part && hasVisibleContent(part)) {
            visible = true;
            break;
          }
        }
      }
      view.article.classList.toggle('is-empty', !visible);
    }

    // ------------------------------------------------------------ parts

    /** Creates or updates the element of one part. */
    _syncPart(view, entry, part) {
      const info = entry.info;
      if (!isShown(part, info)) {
        const stale = view.parts.get(part.id);
        if (stale) {
          stale.el.remove();
          view.parts.delete(part.id);
        }
        return;
      }
      let partView = view.parts.get(part.id);
      const streaming = isStreaming(part, info);
      if (this._renderedParts) this._renderedParts.add(part.id);

      if (partView && partView.type !== part.type) {
        partView.el.remove();
        view.parts.delete(part.id);
        partView = null;
      }

      if (part.type === 'text') {
        if (!partView) {
          const div = el('div', 'part-text');
          div.dataset.partId = part.id;
          partView = { el: div, type: 'text', markdown: info.role === 'user' ? null : new MarkdownView(div) };
          this._placePart(view, entry, part.id, partView);
        }
        const text = str(part.text);
        partView.el.classList.toggle('is-blank', text.trim() === '');
        if (info.role === 'user') {
          if (partView.el.textContent !== text) partView.el.textContent = text; // as typed
        } else {
          renderMarkdown(partView.markdown, text, streaming);
        }
      } else if (part.type === 'reasoning') {
        if (!partView) {
          const details = el('details', 'part-reasoning');
          details.dataset.partId = part.id;
          details.appendChild(el('summary', null, 'Reasoning'));
          const body = el('div', 'reasoning-body');
          details.appendChild(body);
          partView = { el: details, type: 'reasoning', markdown: new MarkdownView(body), part: part, info: info };
          // Collapsed reasoning is rendered only when opened.
          details.addEventListener('toggle', function () {
            if (details.open) renderMarkdown(partView.markdown, str(partView.part.text), isStreaming(partView.part, partView.info));
          });
          this._placePart(view, entry, part.id, partView);
        }
        partView.part = part;
        partView.info = info;
        if (partView.el.open) renderMarkdown(partView.markdown, str(part.text), streaming);
      } else if (part.type === 'tool') {
        const card = buildToolCard(part, partView && partView.el);
        if (partView) {
          partView.el.replaceWith(card);
          partView.el = card;
        } else {
          partView = { el: card, type: 'tool', markdown: null };
          this._placePart(view, entry, part.id, partView);
        }
      } else {
        const note = buildNote(part);
        if (partView) {
          partView.el.replaceWith(note);
          partView.el = note;
        } else {
          partView = { el: note, type: part.type, markdown: null };
          this._placePart(view, entry, part.id, partView);
        }
      }
      partView.streaming = streaming;
    }

    /** Inserts a new part element before the next shown part that has one. */
    _placePart(view, entry, partId, partView) {
      view.parts.set(partId, partView);
      const index = entry.partIds.indexOf(partId);
      for (let k = index + 1; k < entry.partIds.length; k++) {
        const next = view.parts.get(entry.partIds[k]);
        if (next && next.el.parentNode === view.body) {
          view.body.insertBefore(partView.el, next.el);
          return;
        }
      }
      view.body.appendChild(partView.el);
    }

    // ------------------------------------------------------------ optimistic prompt

    _syncPendingUser() {
      const pending = this.conversation && this.conversation.pendingUser;
      if (!pending) {
        if (this.pendingArticle) this.pendingArticle.remove();
        this.pendingArticle = null;
        return;
      }
      if (!this.pendingArticle) {
        this.pendingArticle = el('article', 'message pending-user');
        this.pendingArticle.dataset.role = 'user';
        this.pendingArticle.setAttribute('aria-label', 'You (sending)');
        const body = el('div', 'message-body');
        body.appendChild(el('div', 'part-text'));
        this.pendingArticle.appendChild(body);
      }
      this.pendingArticle.querySelector('.part-text').textContent = pending.text;
      this.list.appendChild(this.pendingArticle);
    }
  }

  /** Renders through a MarkdownView, backing off after expensive renders. */
  function renderMarkdown(view, text, streaming) {
    const start = performance.now();
    view.update(text, streaming);
    const cost = performance.now() - start;
    view.nextRenderAt = streaming && cost > EXPENSIVE_RENDER_MS ? start + cost * 4 : 0;
  }

  // ================================================================ pending requests

  function requestHeading(id, text) {
    const heading = el('p', 'request-title', text);
    heading.id = 'request-' + id + '-title';
    return heading;
  }

  /**
   * Whether `code` (a code point) is shown as an escape by `visibleText`: the
   * same characters as Rust's core::visible_text::needs_escape — controls
   * (but newline and tab), bidi overrides and isolates, zero-width and tag
   * characters.
   */
  function needsEscape(code) {
    if (code === 0x0a || code === 0x09) return false;
    return (
      code <= 0x1f ||
      (code >= 0x7f && code <= 0x9f) ||
      code === 0xad ||
      code === 0x61c ||
      code === 0x180e ||
      (code >= 0x200b && code <= 0x200f) ||
      (code >= 0x2028 && code <= 0x202e) ||
      (code >= 0x2060 && code <= 0x206f) ||
      code === 0xfeff ||
      (code >= 0xfff9 && code <= 0xfffb) ||
      (code >= 0xe0000 && code <= 0xe007f)
    );
  }

  /** `text` with invisible or misleading characters as visible escapes (`\u202e`). */
  function visibleText(text) {
    let out = '';
    for (const ch of String(text)) {
      const code = ch.codePointAt(0);
      if (!needsEscape(code)) out += ch;
      else if (code <= 0xffff) out += '\\u' + code.toString(16).padStart(4, '0');
      else out += '\\u{' + code.toString(16) + '}';
    }
    return out;
  }

  /** Beyond this a request is not shown next to an Allow button (read it in OpenCode). */
  const REQUEST_DETAIL_MAX = 100000;

  /**
   * `<div class="permission">` for a PermissionRequest. What it asks is shown
   * whole (a scrollable block) with invisible characters made visible: Allow
   * is never next to a partial command. "Always allow" shows the patterns it
   * allows from then on, and is offered only when there are some.
   */
  function buildPermission(request) {
    const id = str(request.id);
    const box = el('div', 'permission request');
    box.dataset.requestId = id;
    box.setAttribute('role', 'group');
    box.setAttribute('aria-labelledby', 'request-' + id + '-title');
    const permission = visibleText(str(request.permission) || 'a tool');
    box.appendChild(requestHeading(id, 'Allow ' + permission + '?'));

    const metadata = request.metadata && typeof request.metadata === 'object' ? request.metadata : {};
    const patterns = Array.isArray(request.patterns) ? request.patterns.filter((p) => typeof p === 'string') : [];
    const detail = str(metadata.command) || str(metadata.filepath) || str(metadata.filePath) || patterns.join('\n');
    const complete = detail.length <= REQUEST_DETAIL_MAX;
    if (detail) {
      const shown = complete ? detail : detail.slice(0, REQUEST_DETAIL_MAX);
      const pre = el('pre', 'request-detail', visibleText(shown));
      pre.tabIndex = 0;
      box.appendChild(pre);
      if (!complete) {
        box.appendChild(el('p', 'request-cut', 'Too long to show here in full: reject it, or read and answer it in OpenCode.'));
      }
    }
    const always = Array.isArray(request.always) ? request.always.filter((p) => typeof p === 'string' && p) : [];
    const alwaysText = visibleText(always.join(', '));
    const offerAlways = complete && always.length > 0 && alwaysText.length <= 1000;
    if (offerAlways) {
      box.appendChild(el('p', 'request-always', '“Always allow” allows from now on: ' + alwaysText));
    }
    if (str(metadata.diff)) {
      const details = el('details', 'request-diff');
      details.appendChild(el('summary', null, 'Show changes'));
      const pre = el('pre');
      pre.tabIndex = 0;
      const code = el('code', 'language-diff');
      const diff = metadata.diff.slice(0, 50000);
      code.textContent = diff; // highlighted when the popover process answers
      window.NexusMarkdown.highlight(diff, 'diff').then((spans) => code.replaceChildren(spans));
      pre.appendChild(code);
      details.appendChild(pre);
      box.appendChild(details);
    }

    const actions = el('div', 'request-actions');
    const buttons = [];
    if (complete) buttons.push(['once', 'Allow once', 'primary']);
    if (offerAlways) buttons.push(['always', 'Always allow', '']);
    buttons.push(['reject', 'Reject', 'danger']);
    for (const [reply, label, kind] of buttons) {
      const button = el('button', kind || null, label);
      button.type = 'button';
      button.dataset.reply = reply;
      actions.appendChild(button);
    }
    box.appendChild(actions);
    box.appendChild(el('p', 'request-error'));
    return box;
  }

  /**
   * `<div class="question">` for a QuestionRequest. A single one-choice
   * question answers on click; otherwise options toggle (aria-pressed) and
   * Submit sends them.
   */
  function buildQuestion(request) {
    const id = str(request.id);
    const questions = Array.isArray(request.questions) ? request.questions : [];
    const immediate = questions.length === 1 && !questions[0].multiple;
    const box = el('div', 'question request');
    box.dataset.requestId = id;
    box.setAttribute('role', 'group');
    box.setAttribute('aria-labelledby', 'request-' + id + '-title');
    box.appendChild(requestHeading(id, questions.length > 1 ? 'OpenCode has questions' : 'OpenCode asks'));

    questions.forEach(function (question, index) {
      const q = question && typeof question === 'object' ? question : {};
      const section = el('div', 'question-item');
      section.dataset.questionIndex = String(index);
      if (str(q.header)) section.appendChild(el('p', 'question-header', q.header));
      const textId = 'request-' + id + '-q' + index;
      const text = el('p', 'question-text', str(q.question));
      text.id = textId;
      section.appendChild(text);
      const options = el('div', 'request-actions');
      options.setAttribute('role', 'group');
      options.setAttribute('aria-labelledby', textId);
      for (const option of Array.isArray(q.options) ? q.options : []) {
        const label = option && typeof option === 'object' ? str(option.label) : str(option);
        if (!label) continue;
        const button = el('button', immediate ? 'primary' : 'option', label);
        button.type = 'button';
        button.dataset.answer = label;
        button.dataset.questionIndex = String(index);
        if (option && str(option.description)) button.title = option.description;
        if (!immediate) button.setAttribute('aria-pressed', 'false');
        options.appendChild(button);
      }
      section.appendChild(options);
      box.appendChild(section);
    });

    const actions = el('div', 'request-actions request-footer');
    if (!immediate) {
      const submit = el('button', 'primary', 'Submit');
      submit.type = 'button';
      submit.dataset.action = 'submit';
      submit.disabled = true;
      actions.appendChild(submit);
    }
    const dismiss = el('button', null, 'Dismiss');
    dismiss.type = 'button';
    dismiss.dataset.action = 'dismiss';
    actions.appendChild(dismiss);
    box.appendChild(actions);
    box.appendChild(el('p', 'request-error'));
    return box;
  }

  window.NexusRender = {
    ConversationView: ConversationView,
    MarkdownView: MarkdownView,
    buildPermission: buildPermission,
    visibleText: visibleText,
    buildQuestion: buildQuestion,
    relativeTime: relativeTime,
    errorText: errorText,
  };
})();
