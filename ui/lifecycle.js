/*
 * lifecycle.js — what Rust tells the page about the window and the server:
 * `init` (projects, drafts, first run, remote), `show` (which session or
 * view, then `painted`), `hidden`, and `connection` (the banner; after an
 * outage, everything on screen is read again — the server is the source of
 * truth). Remote (remote.js, the gateway's WebSocket): `transport` says the
 * socket dropped or is back, and every reconnection brings a new `init`,
 * which keeps the project and session on screen and reads them again.
 *
 * Exposes window.NexusLifecycle = { projectsFrom(init), draftsFrom(init),
 * viewFrom(show), isRemoteInit(init), create(app) } → { onInit(message),
 * onShow(message), onHidden(), onConnection(message), onTransport(message),
 * reloadVisible() }.
 */
(function () {
  'use strict';

  const isString = window.NexusDom.isString;
  const VIEWS = window.NexusViews.VIEWS;

  /**
   * `init`'s project directories, without repeats, and the one to start in:
   * `default_directory` (listed first when it was missing), else the first.
   */
  function projectsFrom(message) {
    const directories = (Array.isArray(message.directories) ? message.directories : []).filter(isString);
    const unique = [];
    for (const directory of directories) if (unique.indexOf(directory) === -1) unique.push(directory);
    const preferred = isString(message.default_directory) && message.default_directory ? message.default_directory : unique[0] || null;
    if (preferred && unique.indexOf(preferred) === -1) unique.unshift(preferred);
    return { directories: unique, preferred: preferred };
  }

  /** `init`'s saved drafts (non-empty texts only) and Rust's limit for one. */
  function draftsFrom(message) {
    const drafts = Object.create(null);
    const maxBytes = Number.isSafeInteger(message.max_draft_bytes) && message.max_draft_bytes > 0 ? message.max_draft_bytes : 0;
    if (message.drafts && typeof message.drafts === 'object') {
      for (const key in message.drafts) if (isString(message.drafts[key]) && message.drafts[key]) drafts[key] = message.drafts[key];
    }
    return { drafts: drafts, maxBytes: maxBytes };
  }

  /** The view a `show` asks for: its `view`, or chat when it names a session; null keeps the current one. */
  function viewFrom(message) {
    const hasSession = isString(message.session) && !!message.session;
    let view = isString(message.view) && VIEWS.indexOf(message.view) !== -1 ? message.view : null;
    if (!view && hasSession) view = 'chat';
    return view;
  }

  /** Does this `init` come from the remote gateway (`"remote": true`)? */
  function isRemoteInit(message) {
    return !!message && message.remote === true;
  }

  function create(app) {
    const state = app.state;
    const dom = app.dom;

    function onInit(message) {
      if (isRemoteInit(message)) app.views.setRemote();
      if (state.initialized && state.directory) {
        reinit(message);
        return;
      }
      const projects = projectsFrom(message);
      state.directories = projects.directories;
      const drafts = draftsFrom(message);
      state.drafts = drafts.drafts;
      state.maxDraftBytes = drafts.maxBytes;
      const typedBeforeInit = dom.composer.value;
      state.initialized = true;
      state.directory = null;
      app.projects.renderOptions();

      if (projects.preferred) app.projects.setDirectory(projects.preferred, false);
      else app.sessions.startNew();
      const focus = message.focus && isString(message.focus.session) ? message.focus.session : null;
      const requested = state.pendingShow || focus;
      state.pendingShow = null;
      if (requested) app.sessions.open(requested);
      if (typedBeforeInit && !dom.composer.value) {
        dom.composer.value = typedBeforeInit;
        app.composer.autosize();
        app.drafts.save(app.drafts.key(), typedBeforeInit);
      }
      app.models.loadProviders();
      app.models.loadAgents();
      // First run (no config.toml yet): Setup first, unless a `show` already chose a view.
      if (message.first_run === true && !state.viewAsked && !state.remote) app.views.show('setup', true);
      app.frame.request('chrome');
    }

    /**
     * A later `init`: the remote page's socket reconnected and the gateway
     * starts over. What is on screen stays (project, session, composer);
     * the lists and drafts gain what is new, and everything shown is read again.
     */
    function reinit(message) {
      const projects = projectsFrom(message);
      if (projects.directories.indexOf(state.directory) === -1) projects.directories.push(state.directory);
      state.directories = projects.directories;
      app.projects.renderOptions();
      const drafts = draftsFrom(message);
      for (const key in drafts.drafts) if (!(key in state.drafts)) state.drafts[key] = drafts.drafts[key];
      if (drafts.maxBytes) state.maxDraftBytes = drafts.maxBytes;
      state.postedFocus = undefined; // the new connection has not heard it
      app.sessions.postFocus();
      reloadVisible();
      app.frame.request('chrome');
    }

    function onShow(message) {
      const hasSession = isString(message.session) && message.session;
      if (hasSession) {
        if (state.initialized) app.sessions.open(message.session);
        else state.pendingShow = message.session;
      }
      // `view` null keeps the current view, except that a session means chat.
      const view = viewFrom(message);
      if (view && !state.initialized) state.viewAsked = true;
      app.panel.close(false);
      app.views.show(view || state.view, true);
      if (app.frame.isPinned()) app.frame.request();
      const token = message.token;
      requestAnimationFrame(function () {
        requestAnimationFrame(function () {
          app.bridge.post({ type: 'painted', token: token });
        });
      });
    }

    function onHidden() {
      app.panel.close(false);
      app.views.pages.logs.stop(); // Rust stops following too; the next `show` of Logs follows again
      app.views.pages.pair.stop(); // no countdown or polling while hidden; the next `show` makes a new code
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
      app.frame.request('chrome');
    }

    /**
     * Remote: the gateway's socket dropped (`reconnecting`: the banner says
     * so, and calls waiting for an answer fail, as the next connection will
     * not give one) or is open again (the `init` that follows reloads).
     */
    function onTransport(message) {
      if (message.state === 'reconnecting') {
        if (!state.transportLost) app.bridge.failAll('The connection to your computer dropped before it answered.', 'unreachable');
        state.transportLost = true;
        state.needsReload = true;
      } else if (message.state === 'open') {
        state.transportLost = false;
      }
      app.frame.request('chrome');
    }

    /** After an outage: read again everything that is on screen. */
    function reloadVisible() {
      state.needsReload = false;
      if (!state.directory) return;
      app.sessions.load();
      app.statuses.load(state.directory);
      app.pending.load(state.directory);
      if (!state.providers || !state.providers.length) app.models.loadProviders();
      if (!state.agents) app.models.loadAgents();
      if (state.conversation) app.history.loadLatest();
    }

    return {
      onInit: onInit,
      onShow: onShow,
      onHidden: onHidden,
      onConnection: onConnection,
      onTransport: onTransport,
      reloadVisible: reloadVisible,
    };
  }

  window.NexusLifecycle = { projectsFrom: projectsFrom, draftsFrom: draftsFrom, viewFrom: viewFrom, isRemoteInit: isRemoteInit, create: create };
})();
