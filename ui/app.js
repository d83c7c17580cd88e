/*
 * app.js — the quick-chat popover's state, keyboard and talk with Rust.
 *
 * Rust → page: window.nexus.receive(jsonText) (parsed with JSON.parse). Page → Rust:
 * window.ipc.postMessage(JSON.stringify(message)). The contract is ui/README.md.
 *
 * Flow: events and call results update the state (cheap, immediately) and
 * mark what needs drawing; one requestAnimationFrame callback then draws it
 * (ConversationView for the history, small render functions for the rest).
 * Nothing runs while nothing happens: no timers or animation loops at idle.
 *
 * Besides chat the page has Nexus's own views — Setup, Settings, Logs
 * (setup.js, settings.js, logs.js) — and a status line; this file switches
 * between them and carries their `nexus` calls and messages.
 */
(function () {
  'use strict';

  const PAGE_SIZE = 30; // messages per page
  const CALL_TIMEOUT_MS = 120000; // a call Rust never answered fails after this
  const SEARCH_DEBOUNCE_MS = 200;
  const PIN_DISTANCE_PX = 40; // this close to the bottom counts as "at the bottom"
  const FRAME_WATCH_IDLE_MS = 5000; // the frame watcher stops this long after the last delta
  const SESSION_ERROR_DELAY_MS = 400; // wait for the message that may carry the same error
  const SESSION_LIST_INTERVAL_MS = 300; // redraw the (closed) session list at most this often
  const COPIED_FEEDBACK_MS = 1500;

  const Conversation = window.NexusConversation;
  const Render = window.NexusRender;
  const Markdown = window.NexusMarkdown;
  const Pages = window.NexusPages;

  const VIEWS = ['chat', 'setup', 'settings', 'logs'];
  const VIEW_TITLES = { setup: 'Set up OpenCode Nexus', settings: 'Settings', logs: 'Server log' };

  // ================================================================ DOM

  function byId(id) {
    return document.getElementById(id);
  }

  const dom = {
    project: byId('project'),
    sessionsToggle: byId('sessions-toggle'),
    sessionTitle: byId('session-title'),
    sessionPanel: byId('session-panel'),
    sessionSearch: byId('session-search'),
    sessionsStatus: byId('sessions-status'),
    sessions: byId('sessions'),
    newSession: byId('new-session'),
    renameSession: byId('rename-session'),
    deleteSession: byId('delete-session'),
    renameRow: byId('rename-row'),
    renameInput: byId('rename-input'),
    renameSave: byId('rename-save'),
    renameCancel: byId('rename-cancel'),
    deleteRow: byId('delete-row'),
    deletePrompt: byId('delete-prompt'),
    deleteConfirm: byId('delete-confirm'),
    deleteCancel: byId('delete-cancel'),
    panelError: byId('panel-error'),
    banner: byId('banner'),
    messages: byId('messages'),
    messageList: byId('message-list'),
    loadEarlier: byId('load-earlier'),
    emptyState: byId('empty-state'),
    jumpLatest: byId('jump-latest'),
    activity: byId('activity'),
    sessionError: byId('session-error'),
    pending: byId('pending'),
    composer: byId('composer'),
    model: byId('model'),
    agent: byId('agent'),
    abort: byId('abort'),
    send: byId('send'),
    sendError: byId('send-error'),
    draftNote: byId('draft-note'),
    announcer: byId('announcer'),
    conversation: byId('conversation'),
    composerArea: byId('composer-area'),
    chatControls: byId('chat-controls'),
    viewTitle: byId('view-title'),
    navButtons: Array.from(document.querySelectorAll('.view-nav button[data-view]')),
    serverStatus: byId('server-status'),
    serverStatusLine: byId('server-status-line'),
    serverStatusMetrics: byId('server-status-metrics'),
    views: {
      setup: byId('view-setup'),
      settings: byId('view-settings'),
      logs: byId('view-logs'),
    },
  };

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function isString(value) {
    return typeof value === 'string';
  }

  function basename(path) {
    const trimmed = String(path || '').replace(/\/+$/, '');
    const cut = trimmed.lastIndexOf('/');
    return cut === -1 ? trimmed : trimmed.slice(cut + 1) || '/';
  }

  /** Tells screen readers something that has no visible announcement of its own. */
  function announce(text) {
    dom.announcer.textContent = '';
    setTimeout(function () {
      dom.announcer.textContent = text;
    }, 50);
  }

  // ================================================================ test hooks

  /** window.nexusMetrics: counters for the popover benchmark (README "Test hooks"). */
  const metrics = {
    deltas: 0,
    frames: 0,
    maxFrameGapMs: 0,
    resetFrameWatch: function () {
      frameWatch.reset();
    },
  };
  window.nexusMetrics = metrics;

  /**
   * Measures the longest gap between animation frames, from resetFrameWatch()
   * until FRAME_WATCH_IDLE_MS after the last delta. Off otherwise, so an idle
   * popover spins no animation loop.
   */
  const frameWatch = {
    armed: false,
    running: false,
    last: 0,
    until: 0,
    reset: function () {
      metrics.maxFrameGapMs = 0;
      this.armed = true;
      this.until = performance.now() + FRAME_WATCH_IDLE_MS;
      this.start();
    },
    noteDelta: function () {
      if (!this.armed) return;
      this.until = performance.now() + FRAME_WATCH_IDLE_MS;
      this.start();
    },
    start: function () {
      if (this.running) return;
      this.running = true;
      this.last = performance.now();
      requestAnimationFrame(frameWatchTick);
    },
  };

  function frameWatchTick() {
    const now = performance.now();
    metrics.maxFrameGapMs = Math.max(metrics.maxFrameGapMs, now - frameWatch.last);
    frameWatch.last = now;
    if (now < frameWatch.until) requestAnimationFrame(frameWatchTick);
    else frameWatch.running = false;
  }

  // ================================================================ bridge to Rust

  class CallError extends Error {
    constructor(message, kind) {
      super(message);
      this.kind = kind;
    }
  }

  const bridge = {
    nextId: 1,
    waiting: new Map(), // call id → { resolve, reject, timer }

    post: function (message) {
      if (!window.ipc || typeof window.ipc.postMessage !== 'function') {
        console.warn('[nexus] no IPC bridge (window.ipc); not sent:', message.type);
        return false;
      }
      try {
        window.ipc.postMessage(JSON.stringify(message));
        return true;
      } catch (error) {
        console.error('[nexus] postMessage failed', error);
        return false;
      }
    },

    /** One allowlisted server call; resolves with `data`, rejects with a CallError. */
    call: function (name, fields) {
      return this.request('call', name, fields, CALL_TIMEOUT_MS);
    },

    /** One call to Nexus itself (settings, setup, logs); answered like a server call. */
    nexus: function (name, fields, options) {
      const timeout = options && options.timeoutMs > 0 ? options.timeoutMs : CALL_TIMEOUT_MS;
      return this.request('nexus', name, fields, timeout);
    },

    request: function (type, name, fields, timeoutMs) {
      const id = this.nextId++;
      const call = { name: name };
      // Rust rejects unknown fields and wrong types: leave unset optional fields out.
      for (const key in fields || {}) {
        if (fields[key] !== undefined && fields[key] !== null) call[key] = fields[key];
      }
      const self = this;
      return new Promise(function (resolve, reject) {
        if (!self.post({ type: type, id: id, call: call })) {
          reject(new CallError('This page is not connected to Nexus.', 'unreachable'));
          return;
        }
        const timer = setTimeout(function () {
          self.waiting.delete(id);
          reject(new CallError('Nexus did not answer in time.', 'timeout'));
        }, timeoutMs);
        self.waiting.set(id, { resolve: resolve, reject: reject, timer: timer });
      });
    },

    settle: function (message) {
      const waiter = this.waiting.get(message.id);
      if (!waiter) return; // timed out already, or not ours
      this.waiting.delete(message.id);
      clearTimeout(waiter.timer);
      if (message.ok) waiter.resolve(message.data);
      else waiter.reject(new CallError(isString(message.error) ? message.error : 'The call failed.', message.kind || 'server'));
    },
  };

  /** Losing the server means what was on screen must be read again once it is back. */
  function noteCallFailure(error) {
    if (error && (error.kind === 'unreachable' || error.kind === 'auth' || error.kind === 'timeout')) {
      state.needsReload = true;
    }
  }

  // ================================================================ state

  const state = {
    initialized: false,
    directories: [],
    directory: null,
    drafts: Object.create(null), // draft key → text, as Rust has it on disk
    maxDraftBytes: 0, // Rust's limit for one draft (UTF-8 bytes), from `init`

    sessionsById: new Map(), // every Session info seen
    sessionList: [], // ids listed in the panel: current directory (and search)
    sessionListKey: '', // directory + search of the last list request
    sessionListLoading: false,
    sessionListError: '',
    sessionSearch: '',
    statuses: new Map(), // session id → non-idle status, plus `directory`

    currentSessionId: null,
    conversation: null,
    messagesLoad: 0, // sequence number of the newest messages request
    loadingEarlier: false,
    loadError: '',

    requests: new Map(), // request id → { kind, request, directory, seq }
    requestSeq: 0,

    providers: null, // [{ id, name, models: [{ id, name }] }]
    providersError: '',
    defaultModel: null,
    agents: null,

    connection: 'connected',
    connectionMessage: '',
    outage: false, // a non-connected state was seen since the last `connected`
    needsReload: false, // a load failed for want of the server

    sending: false,
    aborting: false,
    sendError: '',
    sessionError: '', // a session.error that no message shows
    pendingSessionError: null,

    panelOpen: false,
    view: 'chat', // 'chat' | 'setup' | 'settings' | 'logs'
    viewAsked: false, // a `show` named a view before `init` came
    pendingShow: null, // a `show` session that arrived before `init`
    postedFocus: undefined, // last focus_session sent
  };

  // ================================================================ drawing

  const view = new Render.ConversationView(dom.messageList);
  const dirty = { chrome: false, sessions: false, pending: false };
  let frameRequested = false;
  let pinnedToBottom = true; // auto-scroll follows the stream while true
  let lastSessionListDraw = 0;
  let sessionListTimer = 0;
  let deltasSinceFrame = 0;

  /** Marks `what` ('chrome' | 'sessions' | 'pending', or nothing) and asks for a frame. */
  function requestRender(what) {
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
      if (result.deltasRendered && deltasSinceFrame > 0) {
        metrics.frames++;
        deltasSinceFrame = 0;
      }
      if (dirty.chrome) {
        dirty.chrome = false;
        renderChrome();
      }
      if (dirty.pending) {
        dirty.pending = false;
        renderPending();
      }
      if (dirty.sessions) {
        const wait = SESSION_LIST_INTERVAL_MS - (frameStart - lastSessionListDraw);
        if (state.panelOpen || wait <= 0) {
          dirty.sessions = false;
          lastSessionListDraw = frameStart;
          renderSessionList();
        } else if (!sessionListTimer) {
          sessionListTimer = setTimeout(function () {
            sessionListTimer = 0;
            requestRender();
          }, wait);
        }
      }

      if (prepending) {
        scroller.scrollTop = scroller.scrollHeight - fromBottom; // keep the reader's place
      } else if (pinnedToBottom) {
        scrollToBottom();
      }
      if (result.more) requestRender();
    } catch (error) {
      console.error('[nexus] render failed', error);
    }
  }

  function scrollToBottom() {
    const scroller = dom.messages;
    scroller.scrollTop = scroller.scrollHeight;
  }

  /** The header, banner, activity line, errors, empty state and buttons. */
  function renderChrome() {
    const current = state.currentSessionId;
    const info = current ? state.sessionsById.get(current) : null;
    dom.sessionTitle.textContent = current ? (info && info.title) || 'Session' : 'New session';
    dom.renameSession.disabled = !current;
    dom.deleteSession.disabled = !current;

    // Connection banner (about chat; the status line speaks for the server elsewhere)
    if (state.connection === 'connected' || state.view !== 'chat') {
      dom.banner.hidden = true;
      dom.banner.textContent = '';
    } else {
      dom.banner.textContent = state.connectionMessage || defaultConnectionText(state.connection);
      dom.banner.dataset.state = state.connection;
      dom.banner.hidden = false;
    }

    // Activity: busy / retrying / stopping
    const status = current ? state.statuses.get(current) : null;
    const busy = !!status && (status.type === 'busy' || status.type === 'retry');
    let activity = '';
    if (state.aborting && busy) activity = 'Stopping…';
    else if (status && status.type === 'retry') {
      activity = 'Retrying' + (status.attempt ? ' (attempt ' + status.attempt + ')' : '') + (isString(status.message) && status.message ? ': ' + status.message : '…');
    } else if (busy) activity = 'Working…';
    else if (state.sending) activity = 'Sending…';
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

  function defaultConnectionText(connection) {
    switch (connection) {
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

  // ================================================================ sessions

  function rememberSession(info) {
    if (!info || !isString(info.id)) return null;
    state.sessionsById.set(info.id, info);
    return info;
  }

  /** Root, unarchived sessions belong in the list. */
  function isListable(info) {
    return !!info && !info.parentID && !(info.time && info.time.archived);
  }

  function matchesSearch(info) {
    const search = state.sessionSearch.trim().toLowerCase();
    return !search || String(info.title || '').toLowerCase().indexOf(search) !== -1;
  }

  function sessionUpdatedAt(info) {
    const time = (info && info.time) || {};
    return time.updated || time.created || 0;
  }

  /** Marks the session list for redrawing (throttled while the panel is closed). */
  function markSessionsDirty() {
    requestRender('sessions');
  }

  function loadSessions() {
    const directory = state.directory;
    if (!directory) return Promise.resolve();
    const search = state.sessionSearch.trim();
    const key = directory + '\n' + search;
    state.sessionListKey = key;
    state.sessionListLoading = true;
    markSessionsDirty();
    return bridge
      .call('sessions', { directory: directory, search: search || undefined })
      .then(function (list) {
        if (state.sessionListKey !== key) return;
        state.sessionList = [];
        for (const info of Array.isArray(list) ? list : []) {
          if (rememberSession(info) && isListable(info)) state.sessionList.push(info.id);
        }
        state.sessionListError = '';
        if (state.currentSessionId) requestRender('chrome'); // titles may have changed
      })
      .catch(function (error) {
        noteCallFailure(error);
        if (state.sessionListKey === key) state.sessionListError = 'Couldn’t load sessions: ' + error.message;
      })
      .finally(function () {
        if (state.sessionListKey === key) state.sessionListLoading = false;
        markSessionsDirty();
      });
  }

  /** session.created / session.updated */
  function onSessionInfo(info, eventDirectory) {
    if (!rememberSession(info)) return;
    const listed = state.sessionList.indexOf(info.id);
    const here = info.directory === state.directory || eventDirectory === state.directory;
    const belongs = here && isListable(info) && matchesSearch(info);
    if (belongs && listed === -1) state.sessionList.push(info.id);
    else if (!belongs && listed !== -1 && info.id !== state.currentSessionId) state.sessionList.splice(listed, 1);
    if (belongs || listed !== -1) markSessionsDirty();
    if (info.id === state.currentSessionId) requestRender('chrome');
  }

  function onSessionDeleted(info, sessionId) {
    const id = (info && info.id) || sessionId;
    if (!isString(id)) return;
    state.sessionsById.delete(id);
    state.statuses.delete(id);
    const listed = state.sessionList.indexOf(id);
    if (listed !== -1) state.sessionList.splice(listed, 1);
    for (const [requestId, entry] of state.requests) {
      if (entry.request.sessionID === id) state.requests.delete(requestId);
    }
    saveDraft('session:' + id, '');
    if (id === state.currentSessionId) {
      startNewSession();
      announce('This session was deleted.');
    }
    markSessionsDirty();
  }

  function renderSessionList() {
    const current = state.currentSessionId;
    const ids = state.sessionList.filter(function (id) {
      return state.sessionsById.has(id);
    });
    // The session on screen is always listed (so it can be marked current).
    if (current && ids.indexOf(current) === -1 && state.sessionsById.has(current) && !state.sessionSearch.trim()) {
      ids.push(current);
    }
    ids.sort(function (a, b) {
      return sessionUpdatedAt(state.sessionsById.get(b)) - sessionUpdatedAt(state.sessionsById.get(a));
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
      meta.appendChild(el('span', 'session-time', Render.relativeTime(sessionUpdatedAt(info), now)));
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
  function locateSession(id) {
    const lookups = state.directories.map(function (directory) {
      return bridge
        .call('sessions', { directory: directory })
        .then(function (list) {
          for (const info of Array.isArray(list) ? list : []) rememberSession(info);
        })
        .catch(noteCallFailure);
    });
    return Promise.all(lookups).then(function () {
      const info = state.sessionsById.get(id);
      if (id !== state.currentSessionId) return;
      if (info && isString(info.directory) && info.directory !== state.directory) {
        setDirectory(info.directory, true);
      }
      requestRender('chrome');
      markSessionsDirty();
    });
  }

  // ================================================================ switching

  function draftKey() {
    return state.currentSessionId ? 'session:' + state.currentSessionId : 'new:' + (state.directory || '');
  }

  /** The draft's size as Rust counts it: UTF-8 bytes (a UTF-16 unit is at most 3). */
  function draftBytes(text) {
    if (text.length * 3 <= state.maxDraftBytes) return text.length;
    return new TextEncoder().encode(text).length;
  }

  /** Lone surrogates (not valid Unicode, so Rust cannot read them) become U+FFFD. */
  function wellFormed(text) {
    return text.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(^|[^\uD800-\uDBFF])[\uDC00-\uDFFF]/g, function (match, before) {
      return (before || '') + '\uFFFD';
    });
  }

  function saveDraft(key, text) {
    if (!key || key === 'new:') return;
    text = wellFormed(text);
    if (text) state.drafts[key] = text;
    else if (!(key in state.drafts)) return; // nothing stored, nothing to remove
    else delete state.drafts[key];
    const tooLong = draftBytes(text) > state.maxDraftBytes;
    if (key === draftKey()) updateDraftNote();
    // Rust would refuse it: keep the last version that fitted, and say so by the composer.
    if (tooLong) return;
    bridge.post({ type: 'draft', key: key, text: text });
  }

  function formatKiB(bytes) {
    return Math.ceil(bytes / 1024).toLocaleString('en') + ' KiB';
  }

  /** The note by the composer when its text is too long to be kept as a draft. */
  function updateDraftNote() {
    const text = state.drafts[draftKey()] || '';
    const bytes = text ? draftBytes(text) : 0;
    let note = '';
    if (bytes > state.maxDraftBytes) {
      note =
        'Too long to keep as a draft (' + formatKiB(bytes) + '; drafts keep at most ' + formatKiB(state.maxDraftBytes) +
        '). If the window closes before you send it, only the last version that fitted is kept.';
    }
    if (dom.draftNote.textContent !== note) dom.draftNote.textContent = note;
  }

  function restoreDraft() {
    const text = state.drafts[draftKey()] || '';
    dom.composer.value = text;
    autosizeComposer();
    updateDraftNote();
  }

  function postFocusSession() {
    const session = state.currentSessionId || null;
    if (state.postedFocus === session) return;
    state.postedFocus = session;
    bridge.post({ type: 'focus_session', session: session });
  }

  /** Makes `sessionId` the session on screen (with `conversation`, or a new empty model). */
  function enterSession(sessionId, conversation) {
    state.currentSessionId = sessionId;
    state.conversation = sessionId ? conversation || new Conversation(sessionId) : null;
    state.loadError = '';
    state.loadingEarlier = false;
    state.sendError = '';
    state.sessionError = '';
    state.pendingSessionError = null;
    state.aborting = false;
    view.attach(state.conversation);
    pinnedToBottom = true;
    updateJumpButton();
    restoreDraft();
    postFocusSession();
    requestRender('chrome');
    requestRender('pending');
    markSessionsDirty();
  }

  /** The "new session" screen of the current directory (created on first send). */
  function startNewSession() {
    enterSession(null, null);
  }

  /** Opens an existing session by id. */
  function openSession(sessionId) {
    if (!isString(sessionId) || !sessionId) return;
    if (sessionId === state.currentSessionId) return;
    const info = state.sessionsById.get(sessionId);
    if (info && isString(info.directory) && info.directory !== state.directory) setDirectory(info.directory, true);
    enterSession(sessionId, null);
    loadLatestMessages();
    if (!info || !isString(info.directory)) locateSession(sessionId);
  }

  /** Switches the project directory; without `keepSession` shows its new-session screen. */
  function setDirectory(directory, keepSession) {
    if (!isString(directory) || !directory) return;
    if (state.directories.indexOf(directory) === -1) {
      state.directories.push(directory);
      renderProjectOptions();
    }
    const changed = directory !== state.directory;
    state.directory = directory;
    dom.project.value = directory;
    if (!keepSession) startNewSession();
    if (changed) {
      state.sessionList = [];
      loadSessions();
      loadStatuses(directory);
      loadRequests(directory);
    }
  }

  function renderProjectOptions() {
    const counts = Object.create(null);
    for (const directory of state.directories) {
      const name = basename(directory);
      counts[name] = (counts[name] || 0) + 1;
    }
    const fragment = document.createDocumentFragment();
    for (const directory of state.directories) {
      const name = basename(directory);
      // Same-named projects are told apart by their full path.
      const option = el('option', null, counts[name] > 1 ? directory : name);
      option.value = directory;
      option.title = directory;
      fragment.appendChild(option);
    }
    dom.project.replaceChildren(fragment);
    if (state.directory) dom.project.value = state.directory;
  }

  // ================================================================ messages

  function loadLatestMessages() {
    const conversation = state.conversation;
    if (!conversation) return Promise.resolve();
    const seq = ++state.messagesLoad;
    const firstLoad = !conversation.loaded;
    conversation.beginLoad();
    state.loadError = '';
    requestRender('chrome');
    return bridge
      .call('messages', { session: conversation.sessionId, limit: PAGE_SIZE })
      .then(function (page) {
        if (state.conversation !== conversation || seq !== state.messagesLoad) return;
        const items = page && Array.isArray(page.messages) ? page.messages : [];
        conversation.applyLatestPage(items, page ? page.before : null);
        if (firstLoad) {
          pinnedToBottom = true;
          adoptSessionChoices(conversation);
        }
        if (!state.sending && !isBusy(conversation.sessionId)) conversation.clearPendingUser();
      })
      .catch(function (error) {
        noteCallFailure(error);
        if (state.conversation !== conversation || seq !== state.messagesLoad) return;
        conversation.abandonLoad();
        state.loadError = error.message;
      })
      .finally(function () {
        requestRender('chrome');
      });
  }

  function loadEarlierMessages() {
    const conversation = state.conversation;
    if (!conversation || !conversation.before || state.loadingEarlier) return;
    state.loadingEarlier = true;
    requestRender('chrome');
    bridge
      .call('messages', { session: conversation.sessionId, limit: PAGE_SIZE, before: conversation.before })
      .then(function (page) {
        if (state.conversation !== conversation) return;
        conversation.applyOlderPage(page && Array.isArray(page.messages) ? page.messages : [], page ? page.before : null);
        if (!conversation.before && document.activeElement === dom.loadEarlier) dom.messages.focus({ preventScroll: true });
      })
      .catch(function (error) {
        noteCallFailure(error);
        announce('Couldn’t load earlier messages: ' + error.message);
      })
      .finally(function () {
        if (state.conversation === conversation) state.loadingEarlier = false;
        requestRender('chrome');
      });
  }

  /** On opening a session, pick the model and agent its last prompt used. */
  function adoptSessionChoices(conversation) {
    for (let k = conversation.order.length - 1; k >= 0; k--) {
      const info = conversation.entries.get(conversation.order[k]).info;
      if (info.role !== 'user') continue;
      const model = info.model;
      if (model && isString(model.providerID) && isString(model.modelID)) {
        selectIfPresent(dom.model, model.providerID + '/' + model.modelID);
      }
      if (isString(info.agent)) selectIfPresent(dom.agent, info.agent);
      return;
    }
  }

  function selectIfPresent(select, value) {
    for (const option of select.options) {
      if (option.value === value) {
        select.value = value;
        return true;
      }
    }
    return false;
  }

  // ================================================================ status

  function isBusy(sessionId) {
    const status = sessionId ? state.statuses.get(sessionId) : null;
    return !!status && (status.type === 'busy' || status.type === 'retry');
  }

  function sessionDirectory(sessionId) {
    const info = state.sessionsById.get(sessionId);
    return info && isString(info.directory) ? info.directory : null;
  }

  function onSessionStatus(sessionId, status, eventDirectory) {
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
        requestRender();
      }
      requestRender('chrome');
    }
    if (state.sessionList.indexOf(sessionId) !== -1) markSessionsDirty();
  }

  function loadStatuses(directory) {
    return bridge
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
        requestRender('chrome');
        markSessionsDirty();
      })
      .catch(noteCallFailure);
  }

  function onSessionError(properties) {
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
      requestRender('chrome');
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

  // ================================================================ events

  function onEvents(events) {
    if (!Array.isArray(events)) return;
    for (const event of events) {
      try {
        handleEvent(event);
      } catch (error) {
        console.error('[nexus] event failed', event && event.type, error);
      }
    }
  }

  function handleEvent(event) {
    if (!event || !isString(event.type)) return;
    const properties = event.properties && typeof event.properties === 'object' ? event.properties : {};
    const directory = isString(event.directory) ? event.directory : null;
    const conversation = state.conversation;
    const current = conversation && properties.sessionID === conversation.sessionId ? conversation : null;

    switch (event.type) {
      case 'message.part.delta':
        // The hot path: keep it to a lookup and a string append.
        if (current && current.appendDelta(properties.messageID, properties.partID, properties.field, properties.delta)) {
          metrics.deltas++;
          deltasSinceFrame++;
          frameWatch.noteDelta();
          requestRender();
        }
        break;
      case 'message.part.updated': {
        const part = properties.part;
        const target = part && conversation && (part.sessionID || properties.sessionID) === conversation.sessionId ? conversation : null;
        if (target) {
          target.upsertPart(part);
          requestRender();
        }
        break;
      }
      case 'message.part.removed':
        if (current) {
          current.removePart(properties.messageID, properties.partID);
          requestRender();
        }
        break;
      case 'message.updated': {
        const info = properties.info;
        if (info && conversation && (info.sessionID || properties.sessionID) === conversation.sessionId) {
          conversation.upsertMessage(info);
          if (info.error && state.sessionError === Render.errorText(info.error)) {
            state.sessionError = '';
            requestRender('chrome');
          }
          requestRender();
        }
        break;
      }
      case 'message.removed':
        if (current) {
          current.removeMessage(properties.messageID);
          requestRender();
        }
        break;
      case 'session.status':
        onSessionStatus(properties.sessionID, properties.status, directory);
        break;
      case 'session.idle':
        onSessionStatus(properties.sessionID, { type: 'idle' }, directory);
        break;
      case 'session.error':
        onSessionError(properties);
        break;
      case 'session.created':
      case 'session.updated':
        onSessionInfo(properties.info, directory);
        break;
      case 'session.deleted':
        onSessionDeleted(properties.info, properties.sessionID);
        break;
      case 'permission.asked':
        addRequest('permission', properties, directory);
        break;
      case 'question.asked':
        addRequest('question', properties, directory);
        break;
      case 'permission.replied':
      case 'question.replied':
      case 'question.rejected':
        removeRequest(properties.requestID);
        break;
      default:
        break; // other event types are not the popover's business
    }
  }

  // ================================================================ pending requests

  function addRequest(kind, request, directory) {
    if (!request || !isString(request.id) || !isString(request.sessionID)) return;
    const known = state.requests.get(request.id);
    state.requests.set(request.id, {
      kind: kind,
      request: request,
      directory: directory || sessionDirectory(request.sessionID) || state.directory,
      seq: known ? known.seq : ++state.requestSeq,
    });
    if (request.sessionID === state.currentSessionId) {
      requestRender('pending');
      if (!known) announce(kind === 'permission' ? 'OpenCode asks for permission.' : 'OpenCode has a question.');
    }
  }

  function removeRequest(requestId) {
    const entry = isString(requestId) ? state.requests.get(requestId) : null;
    if (!entry) return;
    state.requests.delete(requestId);
    if (entry.request.sessionID === state.currentSessionId) requestRender('pending');
  }

  /** Re-reads a directory's pending permissions and questions (the server is the truth). */
  function loadRequests(directory) {
    const seqAtStart = state.requestSeq;
    const load = function (kind, name) {
      return bridge
        .call(name, { directory: directory })
        .then(function (list) {
          const requests = Array.isArray(list) ? list : [];
          const ids = new Set(requests.map((r) => r && r.id));
          for (const [id, entry] of state.requests) {
            // Drop what the server no longer has, unless an event added it meanwhile.
            if (entry.kind === kind && entry.directory === directory && !ids.has(id) && entry.seq <= seqAtStart) {
              state.requests.delete(id);
            }
          }
          for (const request of requests) addRequest(kind, request, directory);
          requestRender('pending');
        })
        .catch(noteCallFailure);
    };
    return Promise.all([load('permission', 'permissions'), load('question', 'questions')]);
  }

  /** Shows the current session's requests in #pending, keeping cards that stay. */
  function renderPending() {
    const current = state.currentSessionId;
    const wanted = [];
    if (current) {
      for (const entry of state.requests.values()) if (entry.request.sessionID === current) wanted.push(entry);
      wanted.sort((a, b) => a.seq - b.seq);
    }
    const existing = new Map();
    for (const child of Array.from(dom.pending.children)) existing.set(child.dataset.requestId, child);
    let cursor = dom.pending.firstElementChild;
    let lostFocus = false;
    for (const entry of wanted) {
      let card = existing.get(entry.request.id);
      existing.delete(entry.request.id);
      if (!card) {
        card = entry.kind === 'permission' ? Render.buildPermission(entry.request) : Render.buildQuestion(entry.request);
      }
      if (card === cursor) cursor = cursor.nextElementSibling;
      else dom.pending.insertBefore(card, cursor);
    }
    for (const stale of existing.values()) {
      if (stale.contains(document.activeElement)) lostFocus = true;
      stale.remove();
    }
    dom.pending.hidden = wanted.length === 0;
    if (lostFocus) focusComposer();
  }

  function onPendingClick(event) {
    const button = event.target.closest('button');
    const card = button && button.closest('.request');
    if (!card || card.dataset.busy === 'true') return;
    const entry = state.requests.get(card.dataset.requestId);
    if (!entry) return;

    if (button.dataset.reply) {
      settleRequest(card, 'reply_permission', {
        request: entry.request.id,
        directory: entry.directory,
        reply: button.dataset.reply,
      });
    } else if (button.dataset.answer !== undefined) {
      const questions = Array.isArray(entry.request.questions) ? entry.request.questions : [];
      if (questions.length === 1 && !questions[0].multiple) {
        settleRequest(card, 'reply_question', {
          request: entry.request.id,
          directory: entry.directory,
          answers: [[button.dataset.answer]],
        });
      } else {
        toggleAnswer(card, button, questions);
      }
    } else if (button.dataset.action === 'submit') {
      const questions = Array.isArray(entry.request.questions) ? entry.request.questions : [];
      settleRequest(card, 'reply_question', {
        request: entry.request.id,
        directory: entry.directory,
        answers: questions.map(function (_, index) {
          return Array.from(card.querySelectorAll('button[data-question-index="' + index + '"][aria-pressed="true"]')).map(
            (chosen) => chosen.dataset.answer
          );
        }),
      });
    } else if (button.dataset.action === 'dismiss') {
      settleRequest(card, 'reject_question', { request: entry.request.id, directory: entry.directory });
    }
  }

  /** Multi-question (or multiple-choice) answers: options toggle; Submit needs one per question. */
  function toggleAnswer(card, button, questions) {
    const index = Number(button.dataset.questionIndex);
    const question = questions[index] || {};
    const pressed = button.getAttribute('aria-pressed') === 'true';
    if (!question.multiple) {
      for (const sibling of card.querySelectorAll('button[data-question-index="' + index + '"]')) {
        sibling.setAttribute('aria-pressed', 'false');
      }
    }
    button.setAttribute('aria-pressed', pressed ? 'false' : 'true');
    const submit = card.querySelector('button[data-action="submit"]');
    if (submit) {
      submit.disabled = !questions.every(function (_, i) {
        return card.querySelector('button[data-question-index="' + i + '"][aria-pressed="true"]');
      });
    }
  }

  /** Sends a reply for a request card; the card goes when the server confirms. */
  function settleRequest(card, callName, fields) {
    const errorLine = card.querySelector('.request-error');
    card.dataset.busy = 'true';
    card.setAttribute('aria-busy', 'true');
    errorLine.textContent = '';
    bridge
      .call(callName, fields)
      .then(function () {
        removeRequest(fields.request);
      })
      .catch(function (error) {
        noteCallFailure(error);
        if (error.kind === 'not_found') {
          removeRequest(fields.request); // already answered elsewhere
          return;
        }
        errorLine.textContent = error.message;
      })
      .finally(function () {
        card.dataset.busy = 'false';
        card.setAttribute('aria-busy', 'false');
      });
  }

  // ================================================================ providers and agents

  function loadProviders() {
    return bridge
      .call('providers', {})
      .then(function (data) {
        const providers = data && Array.isArray(data.providers) ? data.providers : [];
        state.providers = providers.map(function (provider) {
          const models = Array.isArray(provider.models)
            ? provider.models
            : provider.models && typeof provider.models === 'object'
              ? Object.values(provider.models)
              : [];
          return { id: String(provider.id), name: provider.name || provider.id, models: models.filter((m) => m && isString(m.id)) };
        });
        state.defaultModel = data && isString(data.default) ? data.default : null;
        state.providersError = '';
        renderModelOptions();
      })
      .catch(function (error) {
        noteCallFailure(error);
        state.providersError = error.message;
        renderModelOptions();
      });
  }

  function renderModelOptions() {
    const previous = dom.model.value;
    const fragment = document.createDocumentFragment();
    let count = 0;
    for (const provider of state.providers || []) {
      for (const model of provider.models) {
        const option = el('option', null, provider.name + ' · ' + (model.name || model.id));
        option.value = provider.id + '/' + model.id;
        fragment.appendChild(option);
        count++;
      }
    }
    if (!count) {
      const option = el('option', null, state.providersError ? 'Default model (list unavailable)' : 'Default model');
      option.value = '';
      fragment.appendChild(option);
    }
    dom.model.replaceChildren(fragment);
    if (!(previous && selectIfPresent(dom.model, previous)) && !(state.defaultModel && selectIfPresent(dom.model, state.defaultModel))) {
      dom.model.selectedIndex = 0;
    }
  }

  function loadAgents() {
    return bridge
      .call('agents', {})
      .then(function (list) {
        const agents = (Array.isArray(list) ? list : []).filter((a) => a && isString(a.name));
        if (!agents.length) return;
        state.agents = agents;
        const previous = dom.agent.value;
        const fragment = document.createDocumentFragment();
        for (const agent of agents) {
          const option = el('option', null, agent.name.charAt(0).toUpperCase() + agent.name.slice(1));
          option.value = agent.name;
          if (isString(agent.description)) option.title = agent.description;
          fragment.appendChild(option);
        }
        dom.agent.replaceChildren(fragment);
        if (!selectIfPresent(dom.agent, previous) && !selectIfPresent(dom.agent, 'build')) dom.agent.selectedIndex = 0;
      })
      .catch(noteCallFailure);
  }

  function selectedModel() {
    const value = dom.model.value;
    const slash = value.indexOf('/');
    if (slash <= 0 || slash === value.length - 1) return undefined;
    return { providerID: value.slice(0, slash), modelID: value.slice(slash + 1) };
  }

  // ================================================================ composer

  function focusComposer() {
    dom.composer.focus({ preventScroll: true });
  }

  function autosizeComposer() {
    const composer = dom.composer;
    composer.style.height = 'auto';
    const max = Math.max(72, Math.floor(window.innerHeight * 0.4));
    composer.style.height = Math.min(composer.scrollHeight + 2, max) + 'px';
  }

  function onComposerInput() {
    autosizeComposer();
    if (state.sendError) {
      state.sendError = '';
      requestRender('chrome');
    }
    if (state.initialized) saveDraft(draftKey(), dom.composer.value);
  }

  function sendPrompt() {
    const text = dom.composer.value;
    if (!text.trim() || state.sending) return;
    const directory = state.directory;
    if (!directory && !state.currentSessionId) {
      showSendError('Choose a project first.');
      return;
    }
    state.sending = true;
    state.sendError = '';
    state.sessionError = '';
    requestRender('chrome');

    const model = selectedModel();
    const agent = dom.agent.value || undefined;
    let sessionId = state.currentSessionId;
    let conversation = state.conversation;

    const ensureSession = sessionId
      ? Promise.resolve(sessionId)
      : bridge.call('create_session', { directory: directory }).then(function (info) {
          if (!info || !isString(info.id)) throw new CallError('The server did not create a session.', 'server');
          rememberSession(info);
          if (state.sessionList.indexOf(info.id) === -1) state.sessionList.unshift(info.id);
          sessionId = info.id;
          // Still on that directory's new-session screen: the new session takes over the draft.
          if (!state.currentSessionId && state.directory === directory) {
            conversation = new Conversation(info.id);
            conversation.loaded = true;
            const draft = dom.composer.value;
            saveDraft('new:' + directory, '');
            enterSession(info.id, conversation);
            dom.composer.value = draft;
            autosizeComposer();
            saveDraft('session:' + info.id, draft);
          } else {
            conversation = null;
          }
          return info.id;
        });

    ensureSession
      .then(function (id) {
        if (conversation && state.conversation === conversation) {
          conversation.setPendingUser(text);
          requestRender();
        }
        return bridge.call('prompt', { session: id, text: text, model: model, agent: agent });
      })
      .then(function () {
        saveDraft('session:' + sessionId, '');
        if (state.currentSessionId === sessionId) {
          const now = dom.composer.value;
          // Keep anything typed while the prompt was on its way.
          if (now === text) dom.composer.value = '';
          else if (now.startsWith(text)) dom.composer.value = now.slice(text.length).replace(/^\n/, '');
          autosizeComposer();
          if (dom.composer.value) saveDraft(draftKey(), dom.composer.value);
          pinnedToBottom = true;
          updateJumpButton();
        }
      })
      .catch(function (error) {
        noteCallFailure(error);
        if (conversation) conversation.clearPendingUser();
        requestRender();
        if (state.currentSessionId === sessionId || !sessionId) showSendError(error.message);
        else announce('Sending failed: ' + error.message);
      })
      .finally(function () {
        state.sending = false;
        requestRender('chrome');
      });
  }

  function showSendError(text) {
    state.sendError = text ? 'Not sent: ' + text : '';
    requestRender('chrome');
  }

  function abortCurrent() {
    const sessionId = state.currentSessionId;
    if (!sessionId) return;
    state.aborting = true;
    requestRender('chrome');
    bridge.call('abort', { session: sessionId }).catch(function (error) {
      noteCallFailure(error);
      state.aborting = false;
      if (state.currentSessionId === sessionId) showSendError('Couldn’t stop: ' + error.message);
    });
  }

  // ================================================================ session panel

  function openPanel(focusSearch) {
    if (!state.panelOpen) {
      state.panelOpen = true;
      dom.sessionPanel.hidden = false;
      dom.sessionsToggle.setAttribute('aria-expanded', 'true');
      dom.panelError.textContent = '';
      loadSessions();
      renderSessionList();
    }
    if (focusSearch) {
      dom.sessionSearch.focus();
      dom.sessionSearch.select();
    }
  }

  function closePanel(returnFocus) {
    if (!state.panelOpen) return;
    const focusInside = dom.sessionPanel.contains(document.activeElement);
    state.panelOpen = false;
    dom.sessionPanel.hidden = true;
    dom.sessionsToggle.setAttribute('aria-expanded', 'false');
    hideRenameRow(false);
    hideDeleteRow(false);
    if (returnFocus && focusInside) dom.sessionsToggle.focus();
  }

  function onSearchInput() {
    clearTimeout(onSearchInput.timer);
    onSearchInput.timer = setTimeout(function () {
      state.sessionSearch = dom.sessionSearch.value;
      loadSessions();
    }, SEARCH_DEBOUNCE_MS);
  }

  function showRenameRow() {
    if (!state.currentSessionId) return;
    hideDeleteRow(false);
    const info = state.sessionsById.get(state.currentSessionId);
    dom.renameInput.value = (info && info.title) || '';
    dom.renameRow.hidden = false;
    dom.panelError.textContent = '';
    dom.renameInput.focus();
    dom.renameInput.select();
  }

  function hideRenameRow(returnFocus) {
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
    bridge
      .call('rename_session', { session: sessionId, title: title })
      .then(function (info) {
        onSessionInfo(info && isString(info.id) ? info : Object.assign({}, state.sessionsById.get(sessionId), { title: title }), null);
        hideRenameRow(true);
        announce('Session renamed.');
      })
      .catch(function (error) {
        noteCallFailure(error);
        dom.panelError.textContent = 'Couldn’t rename: ' + error.message;
      })
      .finally(function () {
        dom.renameSave.disabled = false;
      });
  }

  function showDeleteRow() {
    if (!state.currentSessionId) return;
    hideRenameRow(false);
    const info = state.sessionsById.get(state.currentSessionId);
    dom.deletePrompt.textContent = 'Delete “' + ((info && info.title) || 'this session') + '”? This can’t be undone.';
    dom.deleteRow.hidden = false;
    dom.panelError.textContent = '';
    dom.deleteCancel.focus();
  }

  function hideDeleteRow(returnFocus) {
    if (dom.deleteRow.hidden) return;
    dom.deleteRow.hidden = true;
    if (returnFocus) dom.deleteSession.focus();
  }

  function confirmDelete() {
    const sessionId = state.currentSessionId;
    if (!sessionId) return;
    dom.deleteConfirm.disabled = true;
    bridge
      .call('delete_session', { session: sessionId })
      .then(function () {
        hideDeleteRow(false);
        onSessionDeleted(null, sessionId);
        announce('Session deleted.');
        dom.sessionSearch.focus();
      })
      .catch(function (error) {
        noteCallFailure(error);
        dom.panelError.textContent = 'Couldn’t delete: ' + error.message;
      })
      .finally(function () {
        dom.deleteConfirm.disabled = false;
      });
  }

  /** Up/Down move between the search box and the session buttons. */
  function onPanelKeydown(event) {
    if (event.key !== 'ArrowDown' && event.key !== 'ArrowUp') return;
    const stops = [dom.sessionSearch].concat(Array.from(dom.sessions.querySelectorAll('button.session')));
    const at = stops.indexOf(document.activeElement);
    if (at === -1) return;
    event.preventDefault();
    const next = stops[Math.max(0, Math.min(stops.length - 1, at + (event.key === 'ArrowDown' ? 1 : -1)))];
    next.focus();
  }

  // ================================================================ views: chat, setup, settings, logs

  /** What setup.js, settings.js and logs.js may use of this page. */
  const pageHost = {
    call: function (name, fields, options) {
      return bridge.nexus(name, fields, options);
    },
    announce: announce,
    showView: function (name) {
      showView(name, true);
    },
    currentView: function () {
      return state.view;
    },
  };

  let chatScrollTop = 0; // the history's scroll position while another view shows

  const pages = {
    setup: window.NexusSetup.create(pageHost),
    settings: window.NexusSettings.create(pageHost),
    logs: window.NexusLogs.create(pageHost),
  };

  /**
   * Shows one view (an unknown name means chat) and hides the others; each of
   * Nexus's own views reads what it shows again (`settings`, `setup_check`,
   * `follow_log`). With `focus`, the view's first useful control gets the focus.
   */
  function showView(name, focus) {
    if (VIEWS.indexOf(name) === -1) name = 'chat';
    const previous = state.view;
    if (previous !== name && pages[previous]) pages[previous].leave();
    if (previous === 'chat' && name !== 'chat') chatScrollTop = dom.messages.scrollTop;
    state.view = name;

    const chat = name === 'chat';
    dom.conversation.hidden = !chat;
    dom.composerArea.hidden = !chat;
    dom.chatControls.hidden = !chat;
    for (const key in dom.views) dom.views[key].hidden = key !== name;
    dom.viewTitle.textContent = VIEW_TITLES[name] || '';
    dom.viewTitle.hidden = chat;
    for (const button of dom.navButtons) button.setAttribute('aria-pressed', button.dataset.view === name ? 'true' : 'false');

    if (chat) {
      if (previous !== 'chat') {
        autosizeComposer(); // sized while hidden, it would be too small
        if (!pinnedToBottom) dom.messages.scrollTop = chatScrollTop; // the reader's place
        requestRender(); // (pinned: the next frame scrolls to the end)
      }
    } else {
      closePanel(false);
      pages[name].show();
    }
    requestRender('chrome');
    if (focus) focusView();
  }

  function focusView() {
    if (state.view === 'chat') focusComposer();
    else pages[state.view].focus();
  }

  /** Ctrl+, — and the Settings button. */
  function openSettings() {
    showView('settings', true);
  }

  function onStatus(message) {
    Pages.renderStatus(dom.serverStatus, dom.serverStatusLine, dom.serverStatusMetrics, message);
  }

  // ================================================================ keyboard

  /** Escape closes the innermost thing; with nothing open it stops a run or hides. */
  function onEscape() {
    if (state.view !== 'chat') {
      bridge.post({ type: 'hide' }); // nothing to close or stop outside chat
    } else if (!dom.deleteRow.hidden) {
      hideDeleteRow(true);
    } else if (!dom.renameRow.hidden) {
      hideRenameRow(true);
    } else if (state.panelOpen) {
      closePanel(true);
    } else if (isBusy(state.currentSessionId)) {
      abortCurrent();
    } else {
      bridge.post({ type: 'hide' });
    }
  }

  function onDocumentKeydown(event) {
    if (event.isComposing) return;
    const modifier = (event.ctrlKey || event.metaKey) && !event.altKey && !event.shiftKey;
    const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
    if (modifier && key === ',') {
      event.preventDefault();
      openSettings();
    } else if (modifier && key === 'n') {
      event.preventDefault();
      if (state.view !== 'chat') showView('chat', false);
      closePanel(false);
      if (state.currentSessionId) startNewSession();
      focusComposer();
      announce('New session');
    } else if (modifier && key === 'k') {
      event.preventDefault();
      if (state.view !== 'chat') showView('chat', false);
      openPanel(true);
    } else if (event.key === 'Escape') {
      event.preventDefault();
      onEscape();
    }
  }

  function onComposerKeydown(event) {
    if (event.isComposing || event.keyCode === 229) return; // an input method is composing
    if (event.key === 'Enter' && !event.shiftKey && !event.altKey) {
      // Enter, Ctrl+Enter and Cmd+Enter send; Shift+Enter is a new line.
      event.preventDefault();
      sendPrompt();
    }
  }

  // ================================================================ links and copying

  function onDocumentClick(event) {
    const target = event.target;
    if (!(target instanceof Element)) return;
    const link = target.closest('a[href]');
    if (link) {
      // Links never navigate the popover; http(s) ones open in the browser.
      event.preventDefault();
      const url = Markdown.safeUrl(link.getAttribute('href'));
      if (url) bridge.post({ type: 'open_external', url: url });
      return;
    }
    const copy = target.closest('button.copy');
    if (copy) {
      copyCode(copy);
      return;
    }
    if (state.panelOpen && !dom.sessionPanel.contains(target) && !dom.sessionsToggle.contains(target)) {
      closePanel(false);
    }
  }

  const copyResetTimers = new WeakMap();

  function copyCode(button) {
    const block = button.closest('.code-block');
    const code = block && block.querySelector('code');
    if (!code) return;
    const text = code.textContent;
    const finish = function (ok) {
      button.textContent = ok ? 'Copied' : 'Copy failed';
      button.setAttribute('aria-label', ok ? 'Copied' : 'Copy failed');
      announce(ok ? 'Code copied.' : 'Couldn’t copy the code.');
      clearTimeout(copyResetTimers.get(button));
      copyResetTimers.set(
        button,
        setTimeout(function () {
          button.textContent = 'Copy';
          button.setAttribute('aria-label', 'Copy code');
        }, COPIED_FEEDBACK_MS)
      );
    };
    // execCommand first: it works on custom schemes, where the async
    // Clipboard API is often missing, and it needs the click's user gesture.
    if (copyWithTextarea(text, button)) {
      finish(true);
    } else if (navigator.clipboard && typeof navigator.clipboard.writeText === 'function') {
      navigator.clipboard.writeText(text).then(
        () => finish(true),
        () => finish(false)
      );
    } else {
      finish(false);
    }
  }

  function copyWithTextarea(text, returnFocusTo) {
    const helper = document.createElement('textarea');
    helper.value = text;
    helper.readOnly = true;
    helper.tabIndex = -1;
    helper.setAttribute('aria-hidden', 'true');
    helper.className = 'clipboard-helper';
    document.body.appendChild(helper);
    helper.focus({ preventScroll: true });
    helper.select();
    let ok = false;
    try {
      ok = document.execCommand('copy');
    } catch (_) {
      ok = false;
    }
    helper.remove();
    returnFocusTo.focus({ preventScroll: true });
    return ok;
  }

  // ================================================================ scrolling

  function onMessagesScroll() {
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

  // ================================================================ messages from Rust

  function onInit(message) {
    const directories = (Array.isArray(message.directories) ? message.directories : []).filter(isString);
    const unique = [];
    for (const directory of directories) if (unique.indexOf(directory) === -1) unique.push(directory);
    const preferred = isString(message.default_directory) && message.default_directory ? message.default_directory : unique[0] || null;
    if (preferred && unique.indexOf(preferred) === -1) unique.unshift(preferred);
    state.directories = unique;

    state.drafts = Object.create(null);
    state.maxDraftBytes = Number.isSafeInteger(message.max_draft_bytes) && message.max_draft_bytes > 0 ? message.max_draft_bytes : 0;
    if (message.drafts && typeof message.drafts === 'object') {
      for (const key in message.drafts) if (isString(message.drafts[key]) && message.drafts[key]) state.drafts[key] = message.drafts[key];
    }
    const typedBeforeInit = dom.composer.value;
    state.initialized = true;
    state.directory = null;
    renderProjectOptions();

    if (preferred) setDirectory(preferred, false);
    else startNewSession();
    const focus = message.focus && isString(message.focus.session) ? message.focus.session : null;
    const requested = state.pendingShow || focus;
    state.pendingShow = null;
    if (requested) openSession(requested);
    if (typedBeforeInit && !dom.composer.value) {
      dom.composer.value = typedBeforeInit;
      autosizeComposer();
      saveDraft(draftKey(), typedBeforeInit);
    }
    loadProviders();
    loadAgents();
    // First run (no config.toml yet): Setup first, unless a `show` already chose a view.
    if (message.first_run === true && !state.viewAsked) showView('setup', true);
    requestRender('chrome');
  }

  function onShow(message) {
    const hasSession = isString(message.session) && message.session;
    if (hasSession) {
      if (state.initialized) openSession(message.session);
      else state.pendingShow = message.session;
    }
    // `view` null keeps the current view, except that a session means chat.
    let view = isString(message.view) && VIEWS.indexOf(message.view) !== -1 ? message.view : null;
    if (!view && hasSession) view = 'chat';
    if (view && !state.initialized) state.viewAsked = true;
    closePanel(false);
    showView(view || state.view, true);
    if (pinnedToBottom) requestRender();
    const token = message.token;
    requestAnimationFrame(function () {
      requestAnimationFrame(function () {
        bridge.post({ type: 'painted', token: token });
      });
    });
  }

  function onHidden() {
    closePanel(false);
    pages.logs.stop(); // Rust stops following too; the next `show` of Logs follows again
  }

  function onConnection(message) {
    const connection = isString(message.state) ? message.state : 'unreachable';
    state.connection = connection;
    state.connectionMessage = isString(message.message) ? message.message : '';
    if (connection === 'connected') {
      const reload = state.outage || state.needsReload;
      state.outage = false;
      if (reload && state.initialized) reloadVisible();
    } else {
      state.outage = true;
    }
    requestRender('chrome');
  }

  /** After an outage: read again everything that is on screen. */
  function reloadVisible() {
    state.needsReload = false;
    if (!state.directory) return;
    loadSessions();
    loadStatuses(state.directory);
    loadRequests(state.directory);
    if (!state.providers || !state.providers.length) loadProviders();
    if (!state.agents) loadAgents();
    if (state.conversation) loadLatestMessages();
  }

  /**
   * Every message from Rust arrives as JSON text in one string literal and is
   * read here with JSON.parse: server data is never evaluated as script, and
   * anything that is not a string is not a message.
   */
  function receive(text) {
    let message = null;
    try {
      if (!isString(text)) {
        console.warn('[nexus] ignored a message that is not JSON text');
        return;
      }
      message = JSON.parse(text);
      if (!message || !isString(message.type)) return;
      switch (message.type) {
        case 'events':
          onEvents(message.events);
          break;
        case 'result':
          bridge.settle(message);
          break;
        case 'init':
          onInit(message);
          break;
        case 'show':
          onShow(message);
          break;
        case 'hidden':
          onHidden();
          break;
        case 'connection':
          onConnection(message);
          break;
        case 'status':
          onStatus(message);
          break;
        case 'log':
          pages.logs.onLog(message.lines);
          break;
        case 'confirming':
          pages.settings.onConfirming(message.keys);
          break;
        case 'markdown':
          Markdown.receive(message);
          break;
        default:
          console.warn('[nexus] unknown message', message.type);
      }
    } catch (error) {
      console.error('[nexus] failed to handle', message && message.type, error);
    }
  }

  window.nexus = { receive: receive };

  // ================================================================ wiring

  for (const button of dom.navButtons) {
    button.addEventListener('click', function () {
      showView(button.dataset.view, true);
    });
  }

  dom.composer.addEventListener('input', onComposerInput);
  dom.composer.addEventListener('keydown', onComposerKeydown);
  dom.send.addEventListener('click', function () {
    sendPrompt();
    focusComposer();
  });
  dom.abort.addEventListener('click', abortCurrent);
  dom.project.addEventListener('change', function () {
    setDirectory(dom.project.value, false);
    focusComposer();
  });

  dom.sessionsToggle.addEventListener('click', function () {
    if (state.panelOpen) closePanel(true);
    else openPanel(true);
  });
  dom.sessionSearch.addEventListener('input', onSearchInput);
  dom.sessionSearch.addEventListener('keydown', function (event) {
    if (event.key === 'Enter') {
      const first = dom.sessions.querySelector('button.session');
      if (first) first.click();
    }
  });
  dom.sessionPanel.addEventListener('keydown', onPanelKeydown);
  dom.sessions.addEventListener('click', function (event) {
    const button = event.target.closest('button.session');
    if (!button) return;
    openSession(button.dataset.sessionId);
    closePanel(false);
    focusComposer();
  });
  dom.newSession.addEventListener('click', function () {
    closePanel(false);
    if (state.currentSessionId) startNewSession();
    focusComposer();
  });
  dom.renameSession.addEventListener('click', showRenameRow);
  dom.renameSave.addEventListener('click', saveRename);
  dom.renameCancel.addEventListener('click', function () {
    hideRenameRow(true);
  });
  dom.renameInput.addEventListener('keydown', function (event) {
    if (event.key === 'Enter') {
      event.preventDefault();
      saveRename();
    }
  });
  dom.deleteSession.addEventListener('click', showDeleteRow);
  dom.deleteConfirm.addEventListener('click', confirmDelete);
  dom.deleteCancel.addEventListener('click', function () {
    hideDeleteRow(true);
  });

  dom.pending.addEventListener('click', onPendingClick);
  dom.loadEarlier.addEventListener('click', loadEarlierMessages);
  dom.jumpLatest.addEventListener('click', function () {
    pinnedToBottom = true;
    updateJumpButton();
    scrollToBottom();
    focusComposer();
  });
  dom.messages.addEventListener('scroll', onMessagesScroll, { passive: true });

  document.addEventListener('keydown', onDocumentKeydown);
  document.addEventListener('click', onDocumentClick);
  // Middle-clicks on links must not open anything inside the popover either.
  document.addEventListener('auxclick', function (event) {
    if (event.target instanceof Element && event.target.closest('a[href]')) event.preventDefault();
  });
  // A file dropped on the window must not navigate it away from the page.
  for (const type of ['dragover', 'drop']) {
    document.addEventListener(type, function (event) {
      const types = event.dataTransfer ? Array.from(event.dataTransfer.types || []) : [];
      if (types.indexOf('Files') !== -1) event.preventDefault();
    });
  }
  window.addEventListener('resize', function () {
    autosizeComposer();
    if (pinnedToBottom) requestRender();
  });

  // First paint needs nothing from Rust: the shell is static HTML.
  renderChrome();
  bridge.post({ type: 'ready' });
})();
