/*
 * keyboard.js — the page's shortcuts: Escape closes the innermost thing (or
 * stops a run, or hides the window), Ctrl+, opens Settings, Ctrl+N starts a
 * new session, Ctrl+K opens the session list. (Enter in the composer is
 * composer.js's.)
 *
 * Exposes window.NexusKeyboard = { create(app) } → { onKeydown(event) }.
 */
(function () {
  'use strict';

  function create(app) {
    const state = app.state;
    const dom = app.dom;

    /** Hides the popover; a remote page (a browser tab) has no window of Nexus's to hide. */
    function hide() {
      if (!state.remote) app.bridge.post({ type: 'hide' });
    }

    /** Escape closes the innermost thing; with nothing open it stops a run or hides. */
    function onEscape() {
      if (state.view !== 'chat') {
        hide(); // nothing to close or stop outside chat
      } else if (!dom.deleteRow.hidden) {
        app.panel.hideDelete(true);
      } else if (!dom.renameRow.hidden) {
        app.panel.hideRename(true);
      } else if (state.panelOpen) {
        app.panel.close(true);
      } else if (app.statuses.isBusy(state.currentSessionId)) {
        app.composer.abort();
      } else {
        hide();
      }
    }

    function onKeydown(event) {
      if (event.isComposing) return;
      const modifier = (event.ctrlKey || event.metaKey) && !event.altKey && !event.shiftKey;
      const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
      if (modifier && key === ',') {
        event.preventDefault();
        app.views.openSettings();
      } else if (modifier && key === 'n') {
        event.preventDefault();
        if (state.view !== 'chat') app.views.show('chat', false);
        app.panel.close(false);
        if (state.currentSessionId) app.sessions.startNew();
        app.composer.focus();
        app.announce('New session');
      } else if (modifier && key === 'k') {
        event.preventDefault();
        if (state.view !== 'chat') app.views.show('chat', false);
        app.panel.open(true);
      } else if (event.key === 'Escape') {
        event.preventDefault();
        onEscape();
      }
    }

    return { onKeydown: onKeydown };
  }

  window.NexusKeyboard = { create: create };
})();
