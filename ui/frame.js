/*
 * frame.js — drawing: everything the page shows is redrawn in one
 * requestAnimationFrame callback, from the state.
 *
 * Events and call results update the state (cheap, immediately) and mark
 * what needs drawing with request(what); the next frame then draws the
 * history (render.js's ConversationView), the chrome (header, banner,
 * activity line, errors, empty state), the pending request cards and the
 * session list. Nothing runs while nothing happens: no timers or animation
 * loops at idle. It also keeps the history pinned to its end while the reader
 * is there (scrolling).
 *
 * Exposes window.NexusFrame = { connectionText(connection),
 * activityText(status, aborting, sending), create(app) } → { view, request(what),
 * drawChrome(), scrollToBottom(), isPinned(), setPinned(value), onScroll(), updateJumpButton() }.
 */
(function () {
  'use strict';

  const PIN_DISTANCE_PX = 40; // this close to the bottom counts as "at the bottom"
  const SESSION_LIST_INTERVAL_MS = 300; // redraw the (closed) session list at most this often

  const isString = window.NexusDom.isString;
  const Render = window.NexusRender;

  /**
   * The banner's text for a connection state without a message of its own;
   * `transport` is the remote page's own socket to the gateway.
   */
  function connectionText(connection) {
    switch (connection) {
      case 'transport':
        return 'Lost the connection to your computer. Reconnecting… Your text is kept.';
      case 'connecting':
        return 'Connecting to the OpenCode server… Your text is kept.';
      case 'auth':
        return 'The OpenCode server refused Nexus’s credentials. Your text is kept.';
      case 'no_server':
        return 'No OpenCode server is running. Your text is kept.';
      default:
        return 'OpenCode server is not reachable — your text is kept.';
    }
  }

  /** The activity line: stopping, retrying, working or sending ('' when idle). */
  function activityText(status, aborting, sending) {
    const busy = !!status && (status.type === 'busy' || status.type === 'retry');
    if (aborting && busy) return 'Stopping…';
    if (status && status.type === 'retry') {
      return 'Retrying' + (status.attempt ? ' (attempt ' + status.attempt + ')' : '') + (isString(status.message) && status.message ? ': ' + status.message : '…');
    }
    if (busy) return 'Working…';
    if (sending) return 'Sending…';
    return '';
  }

  function create(app) {
    const state = app.state;
    const dom = app.dom;
    const basename = window.NexusProjects.basename;

    const view = new Render.ConversationView(dom.messageList);
    const dirty = { chrome: false, sessions: false, pending: false };
    let frameRequested = false;
    let pinnedToBottom = true; // auto-scroll follows the stream while true
    let lastSessionListDraw = 0;
    let sessionListTimer = 0;

    /** Marks `what` ('chrome' | 'sessions' | 'pending', or nothing) and asks for a frame. */
    function request(what) {
      if (what) dirty[what] = true;
      if (!frameRequested) {
        frameRequested = true;
        requestAnimationFrame(renderFrame);
      }
    }

    function renderFrame() {
      frameRequested = false;
      const frameStart = performance.now();
      try {
        const scroller = dom.messages;
        const conversation = state.conversation;
        const prepending = !!(conversation && conversation.dirty.prepended);
        const fromBottom = prepending ? scroller.scrollHeight - scroller.scrollTop : 0;

        const result = view.flush(frameStart);
        app.metrics.noteFrame(result.deltasRendered);
        if (dirty.chrome) {
          dirty.chrome = false;
          drawChrome();
        }
        if (dirty.pending) {
          dirty.pending = false;
          app.pending.render();
        }
        if (dirty.sessions) {
          const wait = SESSION_LIST_INTERVAL_MS - (frameStart - lastSessionListDraw);
          if (state.panelOpen || wait <= 0) {
            dirty.sessions = false;
            lastSessionListDraw = frameStart;
            app.sessions.render();
          } else if (!sessionListTimer) {
            sessionListTimer = setTimeout(function () {
              sessionListTimer = 0;
              request();
            }, wait);
          }
        }

        if (prepending) {
          scroller.scrollTop = scroller.scrollHeight - fromBottom; // keep the reader's place
        } else if (pinnedToBottom) {
          scrollToBottom();
        }
        if (result.more) request();
      } catch (error) {
        console.error('[nexus] render failed', error);
      }
    }

    function scrollToBottom() {
      const scroller = dom.messages;
      scroller.scrollTop = scroller.scrollHeight;
    }

    /** The header, banner, activity line, errors, empty state and buttons. */
    function drawChrome() {
      const current = state.currentSessionId;
      const info = current ? state.sessionsById.get(current) : null;
      dom.sessionTitle.textContent = current ? (info && info.title) || 'Session' : 'New session';
      dom.renameSession.disabled = !current;
      dom.deleteSession.disabled = !current;

      // Connection banner (about chat; the status line speaks for the server elsewhere)
      if (state.transportLost && state.view === 'chat') {
        dom.banner.textContent = connectionText('transport');
        dom.banner.dataset.state = 'transport';
        dom.banner.hidden = false;
      } else if (state.connection === 'connected' || state.view !== 'chat') {
        dom.banner.hidden = true;
        dom.banner.textContent = '';
      } else {
        dom.banner.textContent = state.connectionMessage || connectionText(state.connection);
        dom.banner.dataset.state = state.connection;
        dom.banner.hidden = false;
      }

      // Activity: busy / retrying / stopping
      const status = current ? state.statuses.get(current) : null;
      const busy = !!status && (status.type === 'busy' || status.type === 'retry');
      const activity = activityText(status, state.aborting, state.sending);
      if (dom.activity.textContent !== activity) dom.activity.textContent = activity;
      dom.activity.classList.toggle('is-busy', busy || state.sending);
      dom.abort.hidden = !busy;

      dom.sessionError.textContent = state.sessionError;
      dom.sendError.textContent = state.sendError;
      dom.send.setAttribute('aria-disabled', state.sending ? 'true' : 'false');

      // History helpers
      const conversation = state.conversation;
      dom.loadEarlier.hidden = !(conversation && conversation.before);
      // aria-disabled rather than disabled: a disabled button would drop the focus.
      dom.loadEarlier.setAttribute('aria-disabled', state.loadingEarlier ? 'true' : 'false');
      dom.loadEarlier.textContent = state.loadingEarlier ? 'Loading…' : 'Load earlier messages';
      let empty = '';
      if (!conversation) {
        empty = state.directory ? 'New conversation in ' + basename(state.directory) + '. Ask OpenCode anything.' : 'Ask OpenCode anything.';
      } else if (conversation.isEmpty() && !conversation.pendingUser) {
        if (state.loadError) empty = 'Couldn’t load this session: ' + state.loadError;
        else if (!conversation.loaded) empty = 'Loading messages…';
        else empty = 'No messages yet.';
      }
      dom.emptyState.textContent = empty;
      dom.emptyState.hidden = !empty;
    }

    // ------------------------------------------------------------ scrolling

    function onScroll() {
      const scroller = dom.messages;
      const atBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight <= PIN_DISTANCE_PX;
      if (atBottom !== pinnedToBottom) {
        pinnedToBottom = atBottom;
        updateJumpButton();
      }
    }

    function updateJumpButton() {
      const hide = pinnedToBottom || !state.conversation;
      if (dom.jumpLatest.hidden !== hide) dom.jumpLatest.hidden = hide;
    }

    /** true: follow the stream again (the next frame scrolls to the end). */
    function setPinned(value) {
      pinnedToBottom = value;
    }

    return {
      view: view,
      request: request,
      drawChrome: drawChrome,
      scrollToBottom: scrollToBottom,
      isPinned: function () {
        return pinnedToBottom;
      },
      setPinned: setPinned,
      onScroll: onScroll,
      updateJumpButton: updateJumpButton,
    };
  }

  window.NexusFrame = { connectionText: connectionText, activityText: activityText, create: create };
})();
