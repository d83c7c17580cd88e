/*
 * history.js — loading the conversation on screen: its newest page of
 * messages (merged with what events changed meanwhile, conversation.js) and
 * older pages on "Load earlier messages".
 *
 * Exposes window.NexusHistory = { PAGE_SIZE, create(app) } → { loadLatest(), loadEarlier() }.
 */
(function () {
  'use strict';

  const PAGE_SIZE = 30; // messages per page

  function create(app) {
    const state = app.state;
    const dom = app.dom;

    function loadLatest() {
      const conversation = state.conversation;
      if (!conversation) return Promise.resolve();
      const seq = ++state.messagesLoad;
      const firstLoad = !conversation.loaded;
      conversation.beginLoad();
      state.loadError = '';
      app.frame.request('chrome');
      return app.bridge
        .call('messages', { session: conversation.sessionId, limit: PAGE_SIZE })
        .then(function (page) {
          if (state.conversation !== conversation || seq !== state.messagesLoad) return;
          const items = page && Array.isArray(page.messages) ? page.messages : [];
          conversation.applyLatestPage(items, page ? page.before : null);
          if (firstLoad) {
            app.frame.setPinned(true);
            app.models.adoptFrom(conversation);
          }
          if (!state.sending && !app.statuses.isBusy(conversation.sessionId)) conversation.clearPendingUser();
        })
        .catch(function (error) {
          app.noteCallFailure(error);
          if (state.conversation !== conversation || seq !== state.messagesLoad) return;
          conversation.abandonLoad();
          state.loadError = error.message;
        })
        .finally(function () {
          app.frame.request('chrome');
        });
    }

    function loadEarlier() {
      const conversation = state.conversation;
      if (!conversation || !conversation.before || state.loadingEarlier) return;
      state.loadingEarlier = true;
      app.frame.request('chrome');
      app.bridge
        .call('messages', { session: conversation.sessionId, limit: PAGE_SIZE, before: conversation.before })
        .then(function (page) {
          if (state.conversation !== conversation) return;
          conversation.applyOlderPage(page && Array.isArray(page.messages) ? page.messages : [], page ? page.before : null);
          if (!conversation.before && document.activeElement === dom.loadEarlier) dom.messages.focus({ preventScroll: true });
        })
        .catch(function (error) {
          app.noteCallFailure(error);
          app.announce('Couldn’t load earlier messages: ' + error.message);
        })
        .finally(function () {
          if (state.conversation === conversation) state.loadingEarlier = false;
          app.frame.request('chrome');
        });
    }

    return { loadLatest: loadLatest, loadEarlier: loadEarlier };
  }

  window.NexusHistory = { PAGE_SIZE: PAGE_SIZE, create: create };
})();
