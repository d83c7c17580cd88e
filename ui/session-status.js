/*
 * session-status.js — whether sessions are working (`session.status`,
 * `session.idle`, the `session_status` call) and a session's error that no
 * message shows (`session.error`).
 *
 * Exposes window.NexusSessionStatus = { create(app) } → { isBusy(sessionId),
 * sessionDirectory(sessionId), onStatus(sessionId, status, directory),
 * load(directory), onError(properties) }.
 */
(function () {
  'use strict';

  const isString = window.NexusDom.isString;
  const Render = window.NexusRender;

  const SESSION_ERROR_DELAY_MS = 400; // wait for the message that may carry the same error

  function create(app) {
    const state = app.state;

    function isBusy(sessionId) {
      const status = sessionId ? state.statuses.get(sessionId) : null;
      return !!status && (status.type === 'busy' || status.type === 'retry');
    }

    function sessionDirectory(sessionId) {
      const info = state.sessionsById.get(sessionId);
      return info && isString(info.directory) ? info.directory : null;
    }

    function onStatus(sessionId, status, eventDirectory) {
      if (!isString(sessionId) || !status || !isString(status.type)) return;
      const previous = state.statuses.get(sessionId);
      if (status.type === 'idle') {
        if (!previous) return; // idle repeats
        state.statuses.delete(sessionId);
      } else {
        if (previous && previous.type === 'busy' && status.type === 'busy') return; // busy repeats
        const directory = eventDirectory || sessionDirectory(sessionId) || state.directory;
        state.statuses.set(sessionId, Object.assign({}, status, { directory: directory }));
      }
      if (sessionId === state.currentSessionId) {
        if (status.type === 'idle') {
          state.aborting = false;
          if (state.conversation && !state.sending) state.conversation.clearPendingUser();
          app.frame.request();
        }
        app.frame.request('chrome');
      }
      if (state.sessionList.indexOf(sessionId) !== -1) app.sessions.markDirty();
    }

    function load(directory) {
      return app.bridge
        .call('session_status', { directory: directory })
        .then(function (map) {
          const active = map && typeof map === 'object' ? map : {};
          for (const [id, status] of state.statuses) {
            if (status.directory === directory && !(id in active)) state.statuses.delete(id);
          }
          for (const id in active) {
            const status = active[id];
            if (status && isString(status.type) && status.type !== 'idle') {
              state.statuses.set(id, Object.assign({}, status, { directory: directory }));
            }
          }
          app.frame.request('chrome');
          app.sessions.markDirty();
        })
        .catch(app.noteCallFailure);
    }

    function onError(properties) {
      const sessionId = properties.sessionID;
      const error = properties.error;
      if (!isString(sessionId) || sessionId !== state.currentSessionId || !error) return;
      if (error.name === 'MessageAbortedError') return; // the message itself says "Aborted"
      // The same error usually lands on the assistant message right after; show
      // it separately only if no message does (e.g. "Model not found").
      const marker = { sessionId: sessionId, text: Render.errorText(error) };
      state.pendingSessionError = marker;
      setTimeout(function () {
        if (state.pendingSessionError !== marker) return;
        state.pendingSessionError = null;
        if (state.currentSessionId !== sessionId || recentMessageShowsError(marker.text)) return;
        state.sessionError = marker.text;
        app.frame.request('chrome');
      }, SESSION_ERROR_DELAY_MS);
    }

    function recentMessageShowsError(text) {
      const conversation = state.conversation;
      if (!conversation) return false;
      for (let k = conversation.order.length - 1; k >= 0 && k >= conversation.order.length - 3; k--) {
        const info = conversation.entries.get(conversation.order[k]).info;
        if (info.error && Render.errorText(info.error) === text) return true;
      }
      return false;
    }

    return { isBusy: isBusy, sessionDirectory: sessionDirectory, onStatus: onStatus, load: load, onError: onError };
  }

  window.NexusSessionStatus = { create: create };
})();
