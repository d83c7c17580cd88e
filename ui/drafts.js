/*
 * drafts.js — the composer's text kept per session (`session:<id>`) or per
 * project's new-session screen (`new:<directory>`), saved by Rust to disk.
 *
 * Every change is sent as a `draft` message; a text over Rust's limit
 * (`init.max_draft_bytes`, UTF-8 bytes) is not sent — the last version that
 * fitted stays saved — and #draft-note says so by the composer.
 *
 * Exposes window.NexusDrafts = { wellFormed(text), utf8Bytes(text, limit),
 * tooLongNote(bytes, limit), create(app) } → { key(), save(key, text),
 * updateNote(), restore() }.
 */
(function () {
  'use strict';

  /** Lone surrogates (not valid Unicode, so Rust cannot read them) become U+FFFD. */
  function wellFormed(text) {
    return text.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(^|[^\uD800-\uDBFF])[\uDC00-\uDFFF]/g, function (match, before) {
      return (before || '') + '\uFFFD';
    });
  }

  /**
   * The text's size as Rust counts it: UTF-8 bytes. Below `limit` / 3 UTF-16
   * units (a unit is at most 3 bytes) the exact count does not matter, and the
   * length stands in for it.
   */
  function utf8Bytes(text, limit) {
    if (text.length * 3 <= limit) return text.length;
    return new TextEncoder().encode(text).length;
  }

  function formatKiB(bytes) {
    return Math.ceil(bytes / 1024).toLocaleString('en') + ' KiB';
  }

  /** #draft-note's text for a draft of `bytes` ('' when it fits in `limit`). */
  function tooLongNote(bytes, limit) {
    if (bytes <= limit) return '';
    return (
      'Too long to keep as a draft (' + formatKiB(bytes) + '; drafts keep at most ' + formatKiB(limit) +
      '). If the window closes before you send it, only the last version that fitted is kept.'
    );
  }

  function create(app) {
    const state = app.state;
    const dom = app.dom;

    function key() {
      return state.currentSessionId ? 'session:' + state.currentSessionId : 'new:' + (state.directory || '');
    }

    function save(draftKey, text) {
      if (!draftKey || draftKey === 'new:') return;
      text = wellFormed(text);
      if (text) state.drafts[draftKey] = text;
      else if (!(draftKey in state.drafts)) return; // nothing stored, nothing to remove
      else delete state.drafts[draftKey];
      const tooLong = utf8Bytes(text, state.maxDraftBytes) > state.maxDraftBytes;
      if (draftKey === key()) updateNote();
      // Rust would refuse it: keep the last version that fitted, and say so by the composer.
      if (tooLong) return;
      app.bridge.post({ type: 'draft', key: draftKey, text: text });
    }

    /** The note by the composer when its text is too long to be kept as a draft. */
    function updateNote() {
      const text = state.drafts[key()] || '';
      const note = tooLongNote(text ? utf8Bytes(text, state.maxDraftBytes) : 0, state.maxDraftBytes);
      if (dom.draftNote.textContent !== note) dom.draftNote.textContent = note;
    }

    /** Puts the current key's draft into the composer. */
    function restore() {
      dom.composer.value = state.drafts[key()] || '';
      app.composer.autosize();
      updateNote();
    }

    return { key: key, save: save, updateNote: updateNote, restore: restore };
  }

  window.NexusDrafts = { wellFormed: wellFormed, utf8Bytes: utf8Bytes, tooLongNote: tooLongNote, create: create };
})();
