/*
 * state.js — what the chat page knows: projects, sessions, the conversation
 * on screen, pending requests, pickers, the connection and the view.
 *
 * One plain object, shared by the chat scripts (each changes its own part and
 * asks frame.js for a redraw); it holds data, never DOM nodes.
 *
 * Exposes window.NexusState = { create() }.
 */
(function () {
  'use strict';

  function create() {
    return {
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

      remote: false, // served by the remote gateway (a phone): no Setup, Settings, Logs or `nexus` calls
      transportLost: false, // remote: the gateway's socket dropped and is reconnecting

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
  }

  window.NexusState = { create: create };
})();
