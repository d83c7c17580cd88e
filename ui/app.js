/*
 * app.js — the quick-chat popover's wiring: finds the page's elements,
 * creates the chat's parts and connects them to the DOM and to Rust.
 *
 * Each part is its own file (ui/README.md has the table) and gets `app`, the
 * shared context: `state` (state.js), `dom` (the elements below), `bridge`
 * (bridge.js), `announce`, `noteCallFailure`, and the other parts by name —
 * looked up when used, so the parts may call each other whatever their
 * creation order.
 *
 * Rust → page: window.nexus.receive(jsonText). Page → Rust:
 * window.ipc.postMessage(JSON.stringify(message)) — wry's in the popover,
 * remote.js's WebSocket to the gateway in a phone's browser. The contract
 * is ui/README.md.
 */
(function () {
  'use strict';

  const byId = window.NexusDom.byId;

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
    viewNav: document.querySelector('.view-nav'),
    navButtons: Array.from(document.querySelectorAll('.view-nav button[data-view]')),
    serverStatus: byId('server-status'),
    serverStatusLine: byId('server-status-line'),
    serverStatusMetrics: byId('server-status-metrics'),
    views: {
      setup: byId('view-setup'),
      settings: byId('view-settings'),
      logs: byId('view-logs'),
      pair: byId('view-pair'),
    },
  };

  const app = {
    dom: dom,
    state: window.NexusState.create(),
    bridge: window.NexusBridge.create(),
    metrics: window.NexusMetrics.create(),

    /** Tells screen readers something that has no visible announcement of its own. */
    announce: function (text) {
      dom.announcer.textContent = '';
      setTimeout(function () {
        dom.announcer.textContent = text;
      }, 50);
    },

    /** Losing the server means what was on screen must be read again once it is back. */
    noteCallFailure: function (error) {
      if (error && (error.kind === 'unreachable' || error.kind === 'auth' || error.kind === 'timeout')) {
        app.state.needsReload = true;
      }
    },
  };

  app.frame = window.NexusFrame.create(app);
  app.drafts = window.NexusDrafts.create(app);
  app.projects = window.NexusProjects.create(app);
  app.sessions = window.NexusSessions.create(app);
  app.panel = window.NexusSessionPanel.create(app);
  app.history = window.NexusHistory.create(app);
  app.statuses = window.NexusSessionStatus.create(app);
  app.events = window.NexusEvents.create(app);
  app.pending = window.NexusPending.create(app);
  app.models = window.NexusModels.create(app);
  app.composer = window.NexusComposer.create(app);
  app.views = window.NexusViews.create(app);
  app.keyboard = window.NexusKeyboard.create(app);
  app.links = window.NexusLinks.create(app);
  app.lifecycle = window.NexusLifecycle.create(app);

  // ================================================================ messages from Rust

  const pages = app.views.pages;
  window.nexus = {
    receive: window.NexusBridge.createReceiver({
      events: function (message) {
        app.events.onEvents(message.events);
      },
      result: function (message) {
        app.bridge.settle(message);
      },
      init: app.lifecycle.onInit,
      show: app.lifecycle.onShow,
      hidden: app.lifecycle.onHidden,
      connection: app.lifecycle.onConnection,
      transport: app.lifecycle.onTransport, // from remote.js, never from Rust
      status: app.views.onStatus,
      log: function (message) {
        pages.logs.onLog(message.lines);
      },
      confirming: function (message) {
        pages.settings.onConfirming(message.keys); // a guarded save, or the remote password
      },
      markdown: function (message) {
        window.NexusMarkdown.receive(message);
      },
    }),
  };

  // ================================================================ DOM events

  for (const button of dom.navButtons) {
    button.addEventListener('click', function () {
      app.views.show(button.dataset.view, true);
    });
  }

  dom.composer.addEventListener('input', app.composer.onInput);
  dom.composer.addEventListener('keydown', app.composer.onKeydown);
  dom.send.addEventListener('click', function () {
    app.composer.send();
    app.composer.focus();
  });
  dom.abort.addEventListener('click', app.composer.abort);
  dom.project.addEventListener('change', function () {
    app.projects.setDirectory(dom.project.value, false);
    app.composer.focus();
  });

  dom.sessionsToggle.addEventListener('click', function () {
    if (app.state.panelOpen) app.panel.close(true);
    else app.panel.open(true);
  });
  dom.sessionSearch.addEventListener('input', app.panel.onSearchInput);
  dom.sessionSearch.addEventListener('keydown', function (event) {
    if (event.key === 'Enter') {
      const first = dom.sessions.querySelector('button.session');
      if (first) first.click();
    }
  });
  dom.sessionPanel.addEventListener('keydown', app.panel.onKeydown);
  dom.sessions.addEventListener('click', function (event) {
    const button = event.target.closest('button.session');
    if (!button) return;
    app.sessions.open(button.dataset.sessionId);
    app.panel.close(false);
    app.composer.focus();
  });
  dom.newSession.addEventListener('click', function () {
    app.panel.close(false);
    if (app.state.currentSessionId) app.sessions.startNew();
    app.composer.focus();
  });
  dom.renameSession.addEventListener('click', app.panel.showRename);
  dom.renameSave.addEventListener('click', app.panel.saveRename);
  dom.renameCancel.addEventListener('click', function () {
    app.panel.hideRename(true);
  });
  dom.renameInput.addEventListener('keydown', function (event) {
    if (event.key === 'Enter') {
      event.preventDefault();
      app.panel.saveRename();
    }
  });
  dom.deleteSession.addEventListener('click', app.panel.showDelete);
  dom.deleteConfirm.addEventListener('click', app.panel.confirmDelete);
  dom.deleteCancel.addEventListener('click', function () {
    app.panel.hideDelete(true);
  });

  dom.pending.addEventListener('click', app.pending.onClick);
  dom.loadEarlier.addEventListener('click', app.history.loadEarlier);
  dom.jumpLatest.addEventListener('click', function () {
    app.frame.setPinned(true);
    app.frame.updateJumpButton();
    app.frame.scrollToBottom();
    app.composer.focus();
  });
  dom.messages.addEventListener('scroll', app.frame.onScroll, { passive: true });

  document.addEventListener('keydown', app.keyboard.onKeydown);
  document.addEventListener('click', app.links.onClick);
  document.addEventListener('auxclick', app.links.onAuxClick);
  // A file dropped on the window must not navigate it away from the page.
  for (const type of ['dragover', 'drop']) {
    document.addEventListener(type, function (event) {
      const types = event.dataTransfer ? Array.from(event.dataTransfer.types || []) : [];
      if (types.indexOf('Files') !== -1) event.preventDefault();
    });
  }
  window.addEventListener('resize', function () {
    app.composer.autosize();
    if (app.frame.isPinned()) app.frame.request();
  });

  // Served by the remote gateway (remote.js carries the messages): chat only, from the start.
  if (window.NexusRemote && window.NexusRemote.isRemote) app.views.setRemote();

  // First paint needs nothing from Rust: the shell is static HTML.
  app.frame.drawChrome();
  app.bridge.post({ type: 'ready' });
})();
