/*
 * composer.js — the message box (#composer): typing (saved as a draft),
 * sending a prompt (creating the session first on a new-session screen),
 * stopping a run, and sizing the box to its text.
 *
 * On a phone (remote mode, touch screen) Enter is a new line and only the
 * Send button sends, and the page never focuses the box by itself (that
 * would pop up the keyboard).
 *
 * Exposes window.NexusComposer = { leftAfterSending(now, sent), isTouchScreen(), create(app) }
 * → { focus(), autosize(), onInput(), onKeydown(event), send(), abort() }.
 */
(function () {
  'use strict';

  const isString = window.NexusDom.isString;
  const CallError = window.NexusBridge.CallError;
  const Conversation = window.NexusConversation;

  /**
   * What stays in the composer once `sent` went out while it held `now`:
   * anything typed while the prompt was on its way.
   */
  function leftAfterSending(now, sent) {
    if (now === sent) return '';
    if (now.startsWith(sent)) return now.slice(sent.length).replace(/^\n/, '');
    return now;
  }

  /** Is the main pointer a finger (a phone or tablet)? */
  function isTouchScreen() {
    return typeof window.matchMedia === 'function' && window.matchMedia('(pointer: coarse)').matches;
  }

  function create(app) {
    const state = app.state;
    const dom = app.dom;

    /** Remote on a touch screen: a phone's keyboard comes and goes, and has no Shift+Enter. */
    function onPhone() {
      return state.remote && isTouchScreen();
    }

    function focus() {
      // On a phone focusing the box would pop up the keyboard over what the
      // user came to read; only their own tap does that.
      if (document.activeElement !== dom.composer && onPhone()) return;
      dom.composer.focus({ preventScroll: true });
    }

    function autosize() {
      const composer = dom.composer;
      composer.style.height = 'auto';
      const max = Math.max(72, Math.floor(window.innerHeight * 0.4));
      composer.style.height = Math.min(composer.scrollHeight + 2, max) + 'px';
    }

    function onInput() {
      autosize();
      if (state.sendError) {
        state.sendError = '';
        app.frame.request('chrome');
      }
      if (state.initialized) app.drafts.save(app.drafts.key(), dom.composer.value);
    }

    function onKeydown(event) {
      if (event.isComposing || event.keyCode === 229) return; // an input method is composing
      if (event.key === 'Enter' && !event.shiftKey && !event.altKey) {
        // Enter, Ctrl+Enter and Cmd+Enter send; Shift+Enter is a new line.
        // On a phone Enter is a new line (its keyboard has no Shift+Enter) and Send sends.
        if (onPhone() && !event.ctrlKey && !event.metaKey) return;
        event.preventDefault();
        send();
      }
    }

    function send() {
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
      app.frame.request('chrome');

      const model = app.models.selected();
      const agent = dom.agent.value || undefined;
      let sessionId = state.currentSessionId;
      let conversation = state.conversation;

      const ensureSession = sessionId
        ? Promise.resolve(sessionId)
        : app.bridge.call('create_session', { directory: directory }).then(function (info) {
            if (!info || !isString(info.id)) throw new CallError('The server did not create a session.', 'server');
            app.sessions.remember(info);
            if (state.sessionList.indexOf(info.id) === -1) state.sessionList.unshift(info.id);
            sessionId = info.id;
            // Still on that directory's new-session screen: the new session takes over the draft.
            if (!state.currentSessionId && state.directory === directory) {
              conversation = new Conversation(info.id);
              conversation.loaded = true;
              const draft = dom.composer.value;
              app.drafts.save('new:' + directory, '');
              app.sessions.enter(info.id, conversation);
              dom.composer.value = draft;
              autosize();
              app.drafts.save('session:' + info.id, draft);
            } else {
              conversation = null;
            }
            return info.id;
          });

      ensureSession
        .then(function (id) {
          if (conversation && state.conversation === conversation) {
            conversation.setPendingUser(text);
            app.frame.request();
          }
          return app.bridge.call('prompt', { session: id, text: text, model: model, agent: agent });
        })
        .then(function () {
          app.drafts.save('session:' + sessionId, '');
          if (state.currentSessionId === sessionId) {
            const left = leftAfterSending(dom.composer.value, text);
            if (left !== dom.composer.value) dom.composer.value = left;
            autosize();
            if (dom.composer.value) app.drafts.save(app.drafts.key(), dom.composer.value);
            app.frame.setPinned(true);
            app.frame.updateJumpButton();
          }
        })
        .catch(function (error) {
          app.noteCallFailure(error);
          if (conversation) conversation.clearPendingUser();
          app.frame.request();
          if (state.currentSessionId === sessionId || !sessionId) showSendError(error.message);
          else app.announce('Sending failed: ' + error.message);
        })
        .finally(function () {
          state.sending = false;
          app.frame.request('chrome');
        });
    }

    function showSendError(text) {
      state.sendError = text ? 'Not sent: ' + text : '';
      app.frame.request('chrome');
    }

    /** Stops the run of the session on screen. */
    function abort() {
      const sessionId = state.currentSessionId;
      if (!sessionId) return;
      state.aborting = true;
      app.frame.request('chrome');
      app.bridge.call('abort', { session: sessionId }).catch(function (error) {
        app.noteCallFailure(error);
        state.aborting = false;
        if (state.currentSessionId === sessionId) showSendError('Couldn’t stop: ' + error.message);
      });
    }

    return { focus: focus, autosize: autosize, onInput: onInput, onKeydown: onKeydown, send: send, abort: abort };
  }

  window.NexusComposer = { leftAfterSending: leftAfterSending, isTouchScreen: isTouchScreen, create: create };
})();
