/*
 * events.js — the OpenCode server's events (batched by Rust in `events`
 * messages), each handed to what it changes: the conversation on screen,
 * session statuses and errors, the session list, pending requests.
 *
 * `message.part.delta` is the hot path (thousands per second while an answer
 * streams): a lookup and a string append, then a frame is requested.
 *
 * Exposes window.NexusEvents = { create(app) } → { onEvents(events), handle(event) }.
 */
(function () {
  'use strict';

  const isString = window.NexusDom.isString;
  const Render = window.NexusRender;

  function create(app) {
    const state = app.state;

    function onEvents(events) {
      if (!Array.isArray(events)) return;
      for (const event of events) {
        try {
          handle(event);
        } catch (error) {
          console.error('[nexus] event failed', event && event.type, error);
        }
      }
    }

    function handle(event) {
      if (!event || !isString(event.type)) return;
      const properties = event.properties && typeof event.properties === 'object' ? event.properties : {};
      const directory = isString(event.directory) ? event.directory : null;
      const conversation = state.conversation;
      const current = conversation && properties.sessionID === conversation.sessionId ? conversation : null;

      switch (event.type) {
        case 'message.part.delta':
          // The hot path: keep it to a lookup and a string append.
          if (current && current.appendDelta(properties.messageID, properties.partID, properties.field, properties.delta)) {
            app.metrics.noteDelta();
            app.frame.request();
          }
          break;
        case 'message.part.updated': {
          const part = properties.part;
          const target = part && conversation && (part.sessionID || properties.sessionID) === conversation.sessionId ? conversation : null;
          if (target) {
            target.upsertPart(part);
            app.frame.request();
          }
          break;
        }
        case 'message.part.removed':
          if (current) {
            current.removePart(properties.messageID, properties.partID);
            app.frame.request();
          }
          break;
        case 'message.updated': {
          const info = properties.info;
          if (info && conversation && (info.sessionID || properties.sessionID) === conversation.sessionId) {
            conversation.upsertMessage(info);
            if (info.error && state.sessionError === Render.errorText(info.error)) {
              state.sessionError = '';
              app.frame.request('chrome');
            }
            app.frame.request();
          }
          break;
        }
        case 'message.removed':
          if (current) {
            current.removeMessage(properties.messageID);
            app.frame.request();
          }
          break;
        case 'session.status':
          app.statuses.onStatus(properties.sessionID, properties.status, directory);
          break;
        case 'session.idle':
          app.statuses.onStatus(properties.sessionID, { type: 'idle' }, directory);
          break;
        case 'session.error':
          app.statuses.onError(properties);
          break;
        case 'session.created':
        case 'session.updated':
          app.sessions.onInfo(properties.info, directory);
          break;
        case 'session.deleted':
          app.sessions.onDeleted(properties.info, properties.sessionID);
          break;
        case 'permission.asked':
          app.pending.add('permission', properties, directory);
          break;
        case 'question.asked':
          app.pending.add('question', properties, directory);
          break;
        case 'permission.replied':
        case 'question.replied':
        case 'question.rejected':
          app.pending.remove(properties.requestID);
          break;
        default:
          break; // other event types are not the popover's business
      }
    }

    return { onEvents: onEvents, handle: handle };
  }

  window.NexusEvents = { create: create };
})();
