/*
 * bridge.js — talking to Rust, the page's only way out (the contract is
 * ui/README.md).
 *
 * Page → Rust: window.ipc.postMessage(JSON.stringify(message)). A `call`
 * (OpenCode server) or `nexus` (Nexus itself) request gets an id and is
 * answered by a `result` with the same id; it fails after a timeout if Rust
 * never answers.
 *
 * Rust → page: window.nexus.receive(jsonText). The receiver reads the text
 * with JSON.parse — server data is never evaluated as script — and hands the
 * message to the handler named by its `type`.
 *
 * Remote (remote.js): the same messages over the gateway's WebSocket; when
 * it drops, `failAll` fails the calls waiting for an answer that the next
 * connection will never give.
 *
 * Exposes window.NexusBridge = { CallError, create(options), createReceiver(handlers) }.
 */
(function () {
  'use strict';

  const CALL_TIMEOUT_MS = 120000; // a call Rust never answered fails after this

  const isString = window.NexusDom.isString;

  /** A failed call: `message` is for the user, `kind` says why (README "Calls"). */
  class CallError extends Error {
    constructor(message, kind) {
      super(message);
      this.kind = kind;
    }
  }

  /**
   * The page's side of the IPC: `post` one message, `call` the server,
   * `nexus` Nexus itself, `settle` a `result`. `options.timeoutMs` changes
   * the default call timeout.
   */
  function create(options) {
    const defaultTimeout = options && options.timeoutMs > 0 ? options.timeoutMs : CALL_TIMEOUT_MS;
    return {
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
        return this.request('call', name, fields, defaultTimeout);
      },

      /** One call to Nexus itself (settings, setup, logs); answered like a server call. */
      nexus: function (name, fields, callOptions) {
        const timeout = callOptions && callOptions.timeoutMs > 0 ? callOptions.timeoutMs : defaultTimeout;
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

      /** Fails every call still waiting (the connection they went out on is gone); how many. */
      failAll: function (message, kind) {
        const waiters = Array.from(this.waiting.values());
        this.waiting.clear();
        for (const waiter of waiters) {
          clearTimeout(waiter.timer);
          waiter.reject(new CallError(message, kind));
        }
        return waiters.length;
      },

      /** A `result` message: resolves or rejects the call with its id. */
      settle: function (message) {
        const waiter = this.waiting.get(message.id);
        if (!waiter) return; // timed out already, or not ours
        this.waiting.delete(message.id);
        clearTimeout(waiter.timer);
        if (message.ok) waiter.resolve(message.data);
        else waiter.reject(new CallError(isString(message.error) ? message.error : 'The call failed.', message.kind || 'server'));
      },
    };
  }

  /**
   * `receive(text)` for window.nexus: every message from Rust arrives as JSON
   * text in one string literal and is read here with JSON.parse; anything
   * that is not a string is not a message. `handlers` maps a message type to
   * the function that takes the message.
   */
  function createReceiver(handlers) {
    return function receive(text) {
      let message = null;
      try {
        if (!isString(text)) {
          console.warn('[nexus] ignored a message that is not JSON text');
          return;
        }
        message = JSON.parse(text);
        if (!message || !isString(message.type)) return;
        const handler = Object.prototype.hasOwnProperty.call(handlers, message.type) ? handlers[message.type] : null;
        if (handler) handler(message);
        else console.warn('[nexus] unknown message', message.type);
      } catch (error) {
        console.error('[nexus] failed to handle', message && message.type, error);
      }
    };
  }

  window.NexusBridge = { CallError: CallError, create: create, createReceiver: createReceiver };
})();
