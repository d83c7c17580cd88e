/*
 * session-panel.js — the session panel under the title (#session-panel):
 * opening and closing it, searching, renaming and deleting the session on
 * screen, and moving through it with the arrow keys.
 *
 * Exposes window.NexusSessionPanel = { create(app) } → { open(focusSearch),
 * close(returnFocus), onSearchInput(), showRename(), hideRename(returnFocus),
 * saveRename(), showDelete(), hideDelete(returnFocus), confirmDelete(), onKeydown(event) }.
 */
(function () {
  'use strict';

  const isString = window.NexusDom.isString;

  const SEARCH_DEBOUNCE_MS = 200;

  function create(app) {
    const state = app.state;
    const dom = app.dom;
    let searchTimer = 0;

    function open(focusSearch) {
      if (!state.panelOpen) {
        state.panelOpen = true;
        dom.sessionPanel.hidden = false;
        dom.sessionsToggle.setAttribute('aria-expanded', 'true');
        dom.panelError.textContent = '';
        app.sessions.load();
        app.sessions.render();
      }
      if (focusSearch) {
        dom.sessionSearch.focus();
        dom.sessionSearch.select();
      }
    }

    function close(returnFocus) {
      if (!state.panelOpen) return;
      const focusInside = dom.sessionPanel.contains(document.activeElement);
      state.panelOpen = false;
      dom.sessionPanel.hidden = true;
      dom.sessionsToggle.setAttribute('aria-expanded', 'false');
      hideRename(false);
      hideDelete(false);
      if (returnFocus && focusInside) dom.sessionsToggle.focus();
    }

    function onSearchInput() {
      clearTimeout(searchTimer);
      searchTimer = setTimeout(function () {
        state.sessionSearch = dom.sessionSearch.value;
        app.sessions.load();
      }, SEARCH_DEBOUNCE_MS);
    }

    function showRename() {
      if (!state.currentSessionId) return;
      hideDelete(false);
      const info = state.sessionsById.get(state.currentSessionId);
      dom.renameInput.value = (info && info.title) || '';
      dom.renameRow.hidden = false;
      dom.panelError.textContent = '';
      dom.renameInput.focus();
      dom.renameInput.select();
    }

    function hideRename(returnFocus) {
      if (dom.renameRow.hidden) return;
      dom.renameRow.hidden = true;
      if (returnFocus) dom.renameSession.focus();
    }

    function saveRename() {
      const sessionId = state.currentSessionId;
      const title = dom.renameInput.value.trim();
      if (!sessionId) return;
      if (!title) {
        dom.panelError.textContent = 'A session needs a title.';
        return;
      }
      dom.renameSave.disabled = true;
      app.bridge
        .call('rename_session', { session: sessionId, title: title })
        .then(function (info) {
          app.sessions.onInfo(info && isString(info.id) ? info : Object.assign({}, state.sessionsById.get(sessionId), { title: title }), null);
          hideRename(true);
          app.announce('Session renamed.');
        })
        .catch(function (error) {
          app.noteCallFailure(error);
          dom.panelError.textContent = 'Couldn’t rename: ' + error.message;
        })
        .finally(function () {
          dom.renameSave.disabled = false;
        });
    }

    function showDelete() {
      if (!state.currentSessionId) return;
      hideRename(false);
      const info = state.sessionsById.get(state.currentSessionId);
      dom.deletePrompt.textContent = 'Delete “' + ((info && info.title) || 'this session') + '”? This can’t be undone.';
      dom.deleteRow.hidden = false;
      dom.panelError.textContent = '';
      dom.deleteCancel.focus();
    }

    function hideDelete(returnFocus) {
      if (dom.deleteRow.hidden) return;
      dom.deleteRow.hidden = true;
      if (returnFocus) dom.deleteSession.focus();
    }

    function confirmDelete() {
      const sessionId = state.currentSessionId;
      if (!sessionId) return;
      dom.deleteConfirm.disabled = true;
      app.bridge
        .call('delete_session', { session: sessionId })
        .then(function () {
          hideDelete(false);
          app.sessions.onDeleted(null, sessionId);
          app.announce('Session deleted.');
          dom.sessionSearch.focus();
        })
        .catch(function (error) {
          app.noteCallFailure(error);
          dom.panelError.textContent = 'Couldn’t delete: ' + error.message;
        })
        .finally(function () {
          dom.deleteConfirm.disabled = false;
        });
    }

    /** Up/Down move between the search box and the session buttons. */
    function onKeydown(event) {
      if (event.key !== 'ArrowDown' && event.key !== 'ArrowUp') return;
      const stops = [dom.sessionSearch].concat(Array.from(dom.sessions.querySelectorAll('button.session')));
      const at = stops.indexOf(document.activeElement);
      if (at === -1) return;
      event.preventDefault();
      const next = stops[Math.max(0, Math.min(stops.length - 1, at + (event.key === 'ArrowDown' ? 1 : -1)))];
      next.focus();
    }

    return {
      open: open,
      close: close,
      onSearchInput: onSearchInput,
      showRename: showRename,
      hideRename: hideRename,
      saveRename: saveRename,
      showDelete: showDelete,
      hideDelete: hideDelete,
      confirmDelete: confirmDelete,
      onKeydown: onKeydown,
    };
  }

  window.NexusSessionPanel = { create: create };
})();
