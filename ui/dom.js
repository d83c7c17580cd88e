/*
 * dom.js — the few helpers every script of the page uses to find and build
 * nodes, and to check the type of data that came from Rust.
 *
 * el() sets text with textContent only: agent and server text never passes
 * through an HTML parser.
 *
 * Exposes window.NexusDom = { byId, el, isString }.
 */
(function () {
  'use strict';

  function byId(id) {
    return document.getElementById(id);
  }

  /** A new `tag` element with an optional class and text (as text, never HTML). */
  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function isString(value) {
    return typeof value === 'string';
  }

  window.NexusDom = { byId: byId, el: el, isString: isString };
})();
