/*
 * conversation.js — the page's model of one session's messages and parts.
 *
 * Pure data, no DOM: events and loaded pages go in, and every change is
 * recorded in `dirty` so the view can re-render just what changed, once per
 * animation frame (the view calls takeDirty()).
 *
 * Ids sort by creation time (OpenCode's ids are time-ordered), so messages
 * and parts are kept ordered by id.
 *
 * Exposes window.NexusConversation (the class).
 */
(function (global) {
  'use strict';

  function newDirty() {
    return {
      reset: false, // everything changed (first page, reload): rebuild the view
      prepended: false, // an older page was added at the top
      order: false, // messages were added or removed
      messages: new Set(), // message ids whose info or part list changed
      parts: new Map(), // part id → message id, whose content changed
      deltaParts: new Set(), // part ids that changed through deltas (for metrics)
      pendingUser: false, // the optimistic user prompt appeared or went away
    };
  }

  /** Inserts `id` into the sorted array `ids` (usually at the end). */
  function insertSorted(ids, id) {
    const n = ids.length;
    if (n === 0 || ids[n - 1] < id) {
      ids.push(id);
      return;
    }
    let low = 0;
    let high = n;
    while (low < high) {
      const mid = (low + high) >> 1;
      if (ids[mid] < id) low = mid + 1;
      else high = mid;
    }
    if (ids[low] !== id) ids.splice(low, 0, id);
  }

  function removeFromArray(ids, id) {
    const at = ids.lastIndexOf(id);
    if (at !== -1) ids.splice(at, 1);
  }

  /** Is `ahead` the same part as `base` with more streamed text appended? */
  function extendsText(ahead, base) {
    if (!ahead || !base || ahead.type !== base.type) return false;
    if (typeof ahead.text !== 'string' || typeof base.text !== 'string') return false;
    return ahead.text.length > base.text.length && ahead.text.startsWith(base.text);
  }

  /**
   * The snapshot `part` plus those of the deltas received while it was being
   * fetched that it does not already contain. The snapshot was read somewhere
   * inside that window, so its text ends with some prefix d1…dk of the logged
   * deltas; the rest (dk+1…dn) came after the read.
   */
  function withLoggedDeltas(part, log) {
    const merged = Object.assign({}, part);
    const byField = new Map();
    for (const entry of log) {
      if (!byField.has(entry.field)) byField.set(entry.field, []);
      byField.get(entry.field).push(entry.delta);
    }
    byField.forEach(function (deltas, field) {
      const base = typeof merged[field] === 'string' ? merged[field] : '';
      let contained = 0;
      let prefix = deltas.join('');
      for (let k = deltas.length; k > 0; k--) {
        if (prefix.length <= base.length && base.endsWith(prefix)) {
          contained = k;
          break;
        }
        prefix = prefix.slice(0, prefix.length - deltas[k - 1].length);
      }
      merged[field] = base + deltas.slice(contained).join('');
    });
    return merged;
  }

  class Conversation {
    constructor(sessionId) {
      this.sessionId = sessionId;
      /** message id → { info, parts: Map(part id → part), partIds: [sorted] } */
      this.entries = new Map();
      /** message ids, oldest first */
      this.order = [];
      /** cursor for the next older page; null when there is none */
      this.before = null;
      /** the newest page has arrived */
      this.loaded = false;
      /** a text the user sent that the server has not echoed back yet: { text } */
      this.pendingUser = null;
      this.dirty = newDirty();
      // While a page load is in flight: what events changed meanwhile.
      this._loadWindow = null;
    }

    takeDirty() {
      const dirty = this.dirty;
      this.dirty = newDirty();
      return dirty;
    }

    /** Re-marks a part for rendering (the view postponed it). */
    markPartDirty(messageId, partId) {
      this.dirty.parts.set(partId, messageId);
    }

    isEmpty() {
      return this.order.length === 0;
    }

    lastEntry() {
      return this.order.length ? this.entries.get(this.order[this.order.length - 1]) : null;
    }

    // ------------------------------------------------------------ events

    /** `message.updated`: inserts or replaces a message's info. */
    upsertMessage(info) {
      if (!info || typeof info.id !== 'string') return;
      if (this._loadWindow) this._loadWindow.messages.add(info.id);
      const entry = this.entries.get(info.id);
      if (entry) {
        entry.info = info;
      } else {
        this._createEntry(info);
      }
      this.dirty.messages.add(info.id);
      // An answer to a user message we hold means that message arrived.
      if (this.pendingUser && info.role === 'assistant' && info.parentID && this.entries.has(info.parentID)) {
        this.clearPendingUser();
      }
    }

    /** `message.removed` */
    removeMessage(messageId) {
      if (!this.entries.delete(messageId)) return;
      removeFromArray(this.order, messageId);
      this.dirty.order = true;
    }

    /** `message.part.updated`: inserts or replaces a part. */
    upsertPart(part) {
      if (!part || typeof part.id !== 'string' || typeof part.messageID !== 'string') return;
      if (this._loadWindow) this._loadWindow.parts.add(part.id);
      let entry = this.entries.get(part.messageID);
      if (!entry) {
        // The part outran its message's info; a stub stands in until it arrives.
        entry = this._createEntry({ id: part.messageID, sessionID: this.sessionId, role: 'assistant', time: {} });
      }
      if (!entry.parts.has(part.id)) {
        insertSorted(entry.partIds, part.id);
        this.dirty.messages.add(part.messageID);
      }
      entry.parts.set(part.id, part);
      this.dirty.parts.set(part.id, part.messageID);
      if (
        this.pendingUser &&
        entry.info.role === 'user' &&
        part.type === 'text' &&
        typeof part.text === 'string' &&
        part.text.trim() === this.pendingUser.text.trim()
      ) {
        this.clearPendingUser();
      }
    }

    /** `message.part.removed` */
    removePart(messageId, partId) {
      const entry = this.entries.get(messageId);
      if (!entry || !entry.parts.delete(partId)) return;
      removeFromArray(entry.partIds, partId);
      this.dirty.messages.add(messageId);
    }

    /**
     * `message.part.delta`: appends to part[field]. Returns true when the
     * delta was applied or kept for a load in flight.
     */
    appendDelta(messageId, partId, field, delta) {
      if (typeof delta !== 'string' || typeof field !== 'string') return false;
      if (this._loadWindow) {
        let log = this._loadWindow.deltas.get(partId);
        if (!log) this._loadWindow.deltas.set(partId, (log = []));
        log.push({ field: field, delta: delta });
      }
      const entry = this.entries.get(messageId);
      const part = entry && entry.parts.get(partId);
      if (!part) return this._loadWindow !== null;
      const current = part[field];
      part[field] = (typeof current === 'string' ? current : '') + delta;
      this.dirty.parts.set(partId, messageId);
      this.dirty.deltaParts.add(partId);
      return true;
    }

    // ------------------------------------------------------------ optimistic prompt

    setPendingUser(text) {
      this.pendingUser = { text: text };
      this.dirty.pendingUser = true;
    }

    clearPendingUser() {
      if (!this.pendingUser) return;
      this.pendingUser = null;
      this.dirty.pendingUser = true;
    }

    // ------------------------------------------------------------ pages

    /** Call before requesting the newest page; events are then tracked for the merge. */
    beginLoad() {
      this._loadWindow = { messages: new Set(), parts: new Set(), deltas: new Map() };
    }

    /** The load failed: stop tracking. */
    abandonLoad() {
      this._loadWindow = null;
    }

    /**
     * Merges the newest page ({info, parts} oldest first) into the model. The
     * server is the source of truth, except for what events changed while the
     * page was in flight, which may be newer than the page.
     */
    applyLatestPage(items, before) {
      const window_ = this._loadWindow || { messages: new Set(), parts: new Set(), deltas: new Map() };
      this._loadWindow = null;
      const pageIds = new Set();
      for (const item of items) if (item && item.info && typeof item.info.id === 'string') pageIds.add(item.info.id);
      const oldestOnPage = items.length && items[0].info ? items[0].info.id : null;

      // Messages inside the page's range that the server no longer has are gone
      // (unless an event created them after the page was read).
      for (const id of this.order.slice()) {
        const inRange = oldestOnPage === null || id >= oldestOnPage;
        if (inRange && !pageIds.has(id) && !window_.messages.has(id) && !this._touchedByParts(id, window_)) {
          this.entries.delete(id);
          removeFromArray(this.order, id);
        }
      }

      for (const item of items) {
        if (!item || !item.info || typeof item.info.id !== 'string') continue;
        const id = item.info.id;
        let entry = this.entries.get(id);
        if (!entry) entry = this._createEntry(item.info);
        else if (!window_.messages.has(id)) entry.info = item.info;

        const pageParts = Array.isArray(item.parts) ? item.parts : [];
        const pagePartIds = new Set();
        for (const part of pageParts) {
          if (!part || typeof part.id !== 'string') continue;
          pagePartIds.add(part.id);
          const existing = entry.parts.get(part.id);
          const log = window_.deltas.get(part.id);
          const candidate = log ? withLoggedDeltas(part, log) : part;
          let chosen = candidate;
          if (existing && (window_.parts.has(part.id) || extendsText(existing, candidate))) chosen = existing;
          if (!existing) insertSorted(entry.partIds, part.id);
          entry.parts.set(part.id, chosen);
        }
        for (const partId of entry.partIds.slice()) {
          if (!pagePartIds.has(partId) && !window_.parts.has(partId)) {
            entry.parts.delete(partId);
            removeFromArray(entry.partIds, partId);
          }
        }
      }

      const hasOlderLoaded = oldestOnPage !== null && this.order.length > 0 && this.order[0] < oldestOnPage;
      if (!hasOlderLoaded) this.before = before || null;
      this.loaded = true;
      if (this.pendingUser && this._holdsUserText(this.pendingUser.text)) this.pendingUser = null;
      this.dirty = newDirty();
      this.dirty.reset = true;
    }

    /** Adds an older page (from `before`) at the top. */
    applyOlderPage(items, before) {
      let added = false;
      for (const item of items) {
        if (!item || !item.info || typeof item.info.id !== 'string' || this.entries.has(item.info.id)) continue;
        const entry = this._createEntry(item.info);
        for (const part of Array.isArray(item.parts) ? item.parts : []) {
          if (!part || typeof part.id !== 'string') continue;
          entry.parts.set(part.id, part);
          insertSorted(entry.partIds, part.id);
        }
        added = true;
      }
      this.before = before || null;
      if (added) this.dirty.prepended = true;
    }

    // ------------------------------------------------------------ internals

    _createEntry(info) {
      const entry = { info: info, parts: new Map(), partIds: [] };
      this.entries.set(info.id, entry);
      insertSorted(this.order, info.id);
      this.dirty.order = true;
      return entry;
    }

    _touchedByParts(messageId, window_) {
      const entry = this.entries.get(messageId);
      if (!entry) return false;
      for (const partId of entry.partIds) if (window_.parts.has(partId)) return true;
      return false;
    }

    _holdsUserText(text) {
      const wanted = text.trim();
      for (let k = this.order.length - 1, seen = 0; k >= 0 && seen < 4; k--) {
        const entry = this.entries.get(this.order[k]);
        if (entry.info.role !== 'user') continue;
        seen++;
        for (const part of entry.parts.values()) {
          if (part.type === 'text' && typeof part.text === 'string' && part.text.trim() === wanted) return true;
        }
      }
      return false;
    }
  }

  global.NexusConversation = Conversation;
  // Lets node tests require this file.
  if (typeof module !== 'undefined' && module.exports) module.exports = { Conversation, withLoggedDeltas };
})(typeof window !== 'undefined' ? window : globalThis);
