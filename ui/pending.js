/*
 * pending.js — the requests waiting for the user in #pending: OpenCode's
 * permission requests and questions for the session on screen, as cards
 * (built by render.js), and the replies sent from them.
 *
 * The server is the source of truth: a directory's requests are re-read on
 * switching to it and after an outage; a card goes when the server confirms
 * the reply (or says the request is gone).
 *
 * Exposes window.NexusPending = { create(app) } → { add(kind, request, directory),
 * remove(requestId), load(directory), render(), onClick(event) }.
 */
(function () {
  'use strict';

  const isString = window.NexusDom.isString;
  const Render = window.NexusRender;

  function create(app) {
    const state = app.state;
    const dom = app.dom;

    function add(kind, request, directory) {
      if (!request || !isString(request.id) || !isString(request.sessionID)) return;
      const known = state.requests.get(request.id);
      state.requests.set(request.id, {
        kind: kind,
        request: request,
        directory: directory || app.statuses.sessionDirectory(request.sessionID) || state.directory,
        seq: known ? known.seq : ++state.requestSeq,
      });
      if (request.sessionID === state.currentSessionId) {
        app.frame.request('pending');
        if (!known) app.announce(kind === 'permission' ? 'OpenCode asks for permission.' : 'OpenCode has a question.');
      }
    }

    function remove(requestId) {
      const entry = isString(requestId) ? state.requests.get(requestId) : null;
      if (!entry) return;
      state.requests.delete(requestId);
      if (entry.request.sessionID === state.currentSessionId) app.frame.request('pending');
    }

    /** Re-reads a directory's pending permissions and questions (the server is the truth). */
    function load(directory) {
      const seqAtStart = state.requestSeq;
      const loadKind = function (kind, name) {
        return app.bridge
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
            for (const request of requests) add(kind, request, directory);
            app.frame.request('pending');
          })
          .catch(app.noteCallFailure);
      };
      return Promise.all([loadKind('permission', 'permissions'), loadKind('question', 'questions')]);
    }

    /** Shows the current session's requests in #pending, keeping cards that stay. */
    function render() {
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
      if (lostFocus) app.composer.focus();
    }

    function onClick(event) {
      const button = event.target.closest('button');
      const card = button && button.closest('.request');
      if (!card || card.dataset.busy === 'true') return;
      const entry = state.requests.get(card.dataset.requestId);
      if (!entry) return;

      if (button.dataset.reply) {
        settle(card, 'reply_permission', {
          request: entry.request.id,
          directory: entry.directory,
          reply: button.dataset.reply,
        });
      } else if (button.dataset.answer !== undefined) {
        const questions = Array.isArray(entry.request.questions) ? entry.request.questions : [];
        if (questions.length === 1 && !questions[0].multiple) {
          settle(card, 'reply_question', {
            request: entry.request.id,
            directory: entry.directory,
            answers: [[button.dataset.answer]],
          });
        } else {
          toggleAnswer(card, button, questions);
        }
      } else if (button.dataset.action === 'submit') {
        const questions = Array.isArray(entry.request.questions) ? entry.request.questions : [];
        settle(card, 'reply_question', {
          request: entry.request.id,
          directory: entry.directory,
          answers: questions.map(function (_, index) {
            return Array.from(card.querySelectorAll('button[data-question-index="' + index + '"][aria-pressed="true"]')).map(
              (chosen) => chosen.dataset.answer
            );
          }),
        });
      } else if (button.dataset.action === 'dismiss') {
        settle(card, 'reject_question', { request: entry.request.id, directory: entry.directory });
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
    function settle(card, callName, fields) {
      const errorLine = card.querySelector('.request-error');
      card.dataset.busy = 'true';
      card.setAttribute('aria-busy', 'true');
      errorLine.textContent = '';
      app.bridge
        .call(callName, fields)
        .then(function () {
          remove(fields.request);
        })
        .catch(function (error) {
          app.noteCallFailure(error);
          if (error.kind === 'not_found') {
            remove(fields.request); // already answered elsewhere
            return;
          }
          errorLine.textContent = error.message;
        })
        .finally(function () {
          card.dataset.busy = 'false';
          card.setAttribute('aria-busy', 'false');
        });
    }

    return { add: add, remove: remove, load: load, render: render, onClick: onClick };
  }

  window.NexusPending = { create: create };
})();
