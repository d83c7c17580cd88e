/*
 * views.js — which view shows: chat, or one of Nexus's own pages (Setup,
 * Settings, Logs, Pair: setup.js, settings.js, logs.js, pair.js), and the
 * status line.
 *
 * The pages get a small host: `call` (a `nexus` call), `announce`,
 * `showView` and `currentView`; this file calls their show() / leave() /
 * focus() as the view changes.
 *
 * Remote mode (the page in a phone's browser, through the gateway): only
 * chat. The switcher and the status line are hidden, every other view name
 * means chat, and the pages' `nexus` calls fail without being sent.
 *
 * Exposes window.NexusViews = { VIEWS, create(app) } → { pages, show(name, focus),
 * focusView(), openSettings(), onStatus(message), setRemote() }.
 */
(function () {
  'use strict';

  const VIEWS = ['chat', 'setup', 'settings', 'logs', 'pair'];
  const VIEW_TITLES = { setup: 'Set up OpenCode Nexus', settings: 'Settings', logs: 'Server log', pair: 'Pair a phone' };

  function create(app) {
    const state = app.state;
    const dom = app.dom;

    /** What setup.js, settings.js, logs.js and pair.js may use of this page. */
    const pageHost = {
      call: function (name, fields, options) {
        // Nexus's own calls exist only in the popover; the gateway has none.
        if (state.remote) return Promise.reject(new window.NexusBridge.CallError('Not available from this device.', 'rejected'));
        return app.bridge.nexus(name, fields, options);
      },
      announce: app.announce,
      showView: function (name) {
        show(name, true);
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
      pair: window.NexusPair.create(pageHost),
    };

    /**
     * Shows one view (an unknown name means chat) and hides the others; each of
     * Nexus's own views reads what it shows again (`settings`, `setup_check`,
     * `follow_log`). With `focus`, the view's first useful control gets the focus.
     */
    function show(name, focus) {
      if (VIEWS.indexOf(name) === -1 || state.remote) name = 'chat';
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
          app.composer.autosize(); // sized while hidden, it would be too small
          if (!app.frame.isPinned()) dom.messages.scrollTop = chatScrollTop; // the reader's place
          app.frame.request(); // (pinned: the next frame scrolls to the end)
        }
      } else {
        app.panel.close(false);
        pages[name].show();
      }
      app.frame.request('chrome');
      if (focus) focusView();
    }

    function focusView() {
      if (state.view === 'chat') app.composer.focus();
      else pages[state.view].focus();
    }

    /** Ctrl+, — and the Settings button. */
    function openSettings() {
      show('settings', true);
    }

    function onStatus(message) {
      if (state.remote) return;
      window.NexusPages.renderStatus(dom.serverStatus, dom.serverStatusLine, dom.serverStatusMetrics, message);
    }

    /**
     * Remote mode, for good: chat only (Setup, Settings, Logs and the status
     * line are Nexus's, on the computer), and the requests waiting for an
     * answer move to the top of the conversation, where a phone shows them.
     */
    function setRemote() {
      if (state.remote) return;
      state.remote = true;
      document.documentElement.classList.add('remote');
      dom.viewNav.hidden = true;
      dom.serverStatus.hidden = true;
      if (state.view !== 'chat') show('chat', false);
      dom.conversation.insertBefore(dom.pending, dom.conversation.firstChild);
      // On a phone Enter is a new line (composer.js): the placeholder must not
      // say it sends. It follows the pointer (a tablet's keyboard comes and
      // goes, and a browser may report a touch screen only after the start).
      const typed = dom.composer.placeholder;
      const fitPlaceholder = function () {
        dom.composer.placeholder = window.NexusComposer.isTouchScreen() ? 'Ask OpenCode…' : typed;
      };
      fitPlaceholder();
      const pointer = typeof window.matchMedia === 'function' ? window.matchMedia('(pointer: coarse)') : null;
      if (pointer && typeof pointer.addEventListener === 'function') pointer.addEventListener('change', fitPlaceholder);
    }

    return { pages: pages, show: show, focusView: focusView, openSettings: openSettings, onStatus: onStatus, setRemote: setRemote };
  }

  window.NexusViews = { VIEWS: VIEWS, create: create };
})();
