/*
 * sessions.js — the project's sessions: the list in the session panel (kept
 * up to date by `session.*` events, redrawn at most every 300 ms while the
 * panel is closed), and which session is on screen.
 *
 * Exposes window.NexusSessions = { isListable(info), matchesSearch(info, search),
 * updatedAt(info), create(app) } → { remember(info), load(), onInfo(info, directory),
 * onDeleted(info, sessionId), render(), markDirty(), enter(sessionId, conversation),
 * startNew(), open(sessionId), postFocus() }.
 */
(function () {
  'use strict';

  const Dom = window.NexusDom;
  const el = Dom.el;
  const isString = Dom.isString;
  const Conversation = window.NexusConversation;
  const Render = window.NexusRender;

  /** Root, unarchived sessions belong in the list. */
  function isListable(info) {
    return !!info && !info.parentID && !(info.time && info.time.archived);
  }

  /** Does the title contain `search` (case-insensitive; empty matches all)? */
  function matchesSearch(info, search) {
    const needle = String(search || '').trim().toLowerCase();
    return !needle || String(info.title || '').toLowerCase().indexOf(needle) !== -1;
  }

  function updatedAt(info) {
    const time = (info && info.time) || {};
    return time.updated || time.created || 0;
  }

  function create(app) {
    const state = app.state;
    const dom = app.dom;

    function remember(info) {
      if (!info || !isString(info.id)) return null;
      state.sessionsById.set(info.id, info);
      return info;
    }

    /** Marks the session list for redrawing (throttled while the panel is closed). */
    function markDirty() {
      app.frame.request('sessions');
    }

    function load() {
      const directory = state.directory;
      if (!directory) return Promise.resolve();
      const search = state.sessionSearch.trim();
      const key = directory + '\n' + search;
      state.sessionListKey = key;
      state.sessionListLoading = true;
      markDirty();
      return app.bridge
        .call('sessions', { directory: directory, search: search || undefined })
        .then(function (list) {
          if (state.sessionListKey !== key) return;
          state.sessionList = [];
          for (const info of Array.isArray(list) ? list : []) {
            if (remember(info) && isListable(info)) state.sessionList.push(info.id);
          }
          state.sessionListError = '';
          if (state.currentSessionId) app.frame.request('chrome'); // titles may have changed
        })
        .catch(function (error) {
          app.noteCallFailure(error);
          if (state.sessionListKey === key) state.sessionListError = 'Couldn’t load sessions: ' + error.message;
        })
        .finally(function () {
          if (state.sessionListKey === key) state.sessionListLoading = false;
          markDirty();
        });
    }

    /** session.created / session.updated */
    function onInfo(info, eventDirectory) {
      if (!remember(info)) return;
      const listed = state.sessionList.indexOf(info.id);
      const here = info.directory === state.directory || eventDirectory === state.directory;
      const belongs = here && isListable(info) && matchesSearch(info, state.sessionSearch);
      if (belongs && listed === -1) state.sessionList.push(info.id);
      else if (!belongs && listed !== -1 && info.id !== state.currentSessionId) state.sessionList.splice(listed, 1);
      if (belongs || listed !== -1) markDirty();
      if (info.id === state.currentSessionId) app.frame.request('chrome');
    }

    function onDeleted(info, sessionId) {
      const id = (info && info.id) || sessionId;
      if (!isString(id)) return;
      state.sessionsById.delete(id);
      state.statuses.delete(id);
      const listed = state.sessionList.indexOf(id);
      if (listed !== -1) state.sessionList.splice(listed, 1);
      for (const [requestId, entry] of state.requests) {
        if (entry.request.sessionID === id) state.requests.delete(requestId);
      }
      app.drafts.save('session:' + id, '');
      if (id === state.currentSessionId) {
        startNew();
        app.announce('This session was deleted.');
      }
      markDirty();
    }

    function render() {
      const current = state.currentSessionId;
      const ids = state.sessionList.filter(function (id) {
        return state.sessionsById.has(id);
      });
      // The session on screen is always listed (so it can be marked current).
      if (current && ids.indexOf(current) === -1 && state.sessionsById.has(current) && !state.sessionSearch.trim()) {
        ids.push(current);
      }
      ids.sort(function (a, b) {
        return updatedAt(state.sessionsById.get(b)) - updatedAt(state.sessionsById.get(a));
      });

      const focusedId = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.sessionId : undefined;
      const now = Date.now();
      const fragment = document.createDocumentFragment();
      let refocus = null;
      for (const id of ids) {
        const info = state.sessionsById.get(id);
        const item = el('li');
        const button = el('button', 'session');
        button.type = 'button';
        button.dataset.sessionId = id;
        if (id === current) button.setAttribute('aria-current', 'true');
        button.appendChild(el('span', 'session-name', info.title || 'Untitled session'));
        const meta = el('span', 'session-meta');
        const status = state.statuses.get(id);
        if (status && (status.type === 'busy' || status.type === 'retry')) {
          const dot = el('span', 'busy-dot');
          dot.setAttribute('aria-hidden', 'true');
          meta.appendChild(dot);
          meta.appendChild(el('span', 'visually-hidden', 'working, '));
        }
        meta.appendChild(el('span', 'session-time', Render.relativeTime(updatedAt(info), now)));
        button.appendChild(meta);
        item.appendChild(button);
        fragment.appendChild(item);
        if (id === focusedId) refocus = button;
      }
      dom.sessions.replaceChildren(fragment);
      if (refocus) refocus.focus({ preventScroll: true });

      let status = '';
      if (state.sessionListError) status = state.sessionListError;
      else if (state.sessionListLoading && !ids.length) status = 'Loading sessions…';
      else if (!ids.length) status = state.sessionSearch.trim() ? 'No sessions match.' : 'No sessions in this project yet.';
      if (dom.sessionsStatus.textContent !== status) dom.sessionsStatus.textContent = status;
      dom.sessionsStatus.hidden = !status;
    }

    /**
     * Finds a session's directory when it is not known yet (a `show` for a
     * session from elsewhere): asks every known directory for its sessions.
     */
    function locate(id) {
      const lookups = state.directories.map(function (directory) {
        return app.bridge
          .call('sessions', { directory: directory })
          .then(function (list) {
            for (const info of Array.isArray(list) ? list : []) remember(info);
          })
          .catch(app.noteCallFailure);
      });
      return Promise.all(lookups).then(function () {
        const info = state.sessionsById.get(id);
        if (id !== state.currentSessionId) return;
        if (info && isString(info.directory) && info.directory !== state.directory) {
          app.projects.setDirectory(info.directory, true);
        }
        app.frame.request('chrome');
        markDirty();
      });
    }

    // ------------------------------------------------------------ switching

    function postFocusSession() {
      const session = state.currentSessionId || null;
      if (state.postedFocus === session) return;
      state.postedFocus = session;
      app.bridge.post({ type: 'focus_session', session: session });
    }

    /** Makes `sessionId` the session on screen (with `conversation`, or a new empty model). */
    function enter(sessionId, conversation) {
      state.currentSessionId = sessionId;
      state.conversation = sessionId ? conversation || new Conversation(sessionId) : null;
      state.loadError = '';
      state.loadingEarlier = false;
      state.sendError = '';
      state.sessionError = '';
      state.pendingSessionError = null;
      state.aborting = false;
      app.frame.view.attach(state.conversation);
      app.frame.setPinned(true);
      app.frame.updateJumpButton();
      app.drafts.restore();
      postFocusSession();
      app.frame.request('chrome');
      app.frame.request('pending');
      markDirty();
    }

    /** The "new session" screen of the current directory (created on first send). */
    function startNew() {
      enter(null, null);
    }

    /** Opens an existing session by id. */
    function open(sessionId) {
      if (!isString(sessionId) || !sessionId) return;
      if (sessionId === state.currentSessionId) return;
      const info = state.sessionsById.get(sessionId);
      if (info && isString(info.directory) && info.directory !== state.directory) app.projects.setDirectory(info.directory, true);
      enter(sessionId, null);
      app.history.loadLatest();
      if (!info || !isString(info.directory)) locate(sessionId);
    }

    return {
      remember: remember,
      load: load,
      onInfo: onInfo,
      onDeleted: onDeleted,
      render: render,
      markDirty: markDirty,
      enter: enter,
      startNew: startNew,
      open: open,
      postFocus: postFocusSession,
    };
  }

  window.NexusSessions = { isListable: isListable, matchesSearch: matchesSearch, updatedAt: updatedAt, create: create };
})();
