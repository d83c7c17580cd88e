/*
 * remote.js — the page's way out when a browser loads it from Nexus's
 * remote gateway (a phone) instead of the popover: window.ipc over a
 * WebSocket. The contract is ui/README.md ("Remote: the gateway").
 *
 * In the popover wry defines window.ipc before any page script runs, and the
 * page's URL is nexus://…: then this file only defines its helpers and does
 * nothing else. Loaded over http(s) without window.ipc, it defines
 * window.ipc.postMessage(text), backed by a WebSocket to /api/ws on the
 * page's own host (wss for https): one text frame per message each way, the
 * same JSON text the popover's IPC carries. Every frame the gateway sends is
 * handed to window.nexus.receive(text) (app.js defines it later; frames that
 * arrive before are kept until it exists).
 *
 * - Messages posted before the socket opens (or while it reconnects) wait in
 *   a queue of at most QUEUE_LIMIT and go out, in order, once it is open; a
 *   message over the limit is refused (postMessage throws, so the page's
 *   call fails at once rather than never being answered).
 * - A close with code 4401 (signed out, the session revoked, the password
 *   changed), or the very first socket never opening (the gateway refused
 *   the upgrade: not signed in), goes to /login.
 * - Any other close reconnects, 1 s after it then doubling up to 30 s (at
 *   once when the browser comes back online or the page is shown again),
 *   and tells the page `{"type":"transport","state":"reconnecting"}` (its
 *   banner; calls in flight fail); once open again it posts
 *   `{"type":"ready"}` (the gateway answers with a fresh `init`), then the
 *   queue, and tells the page `{"type":"transport","state":"open"}`.
 * - A reconnect attempt that never opens may mean the sign-in ended while
 *   the phone was away: the page asks GET /api/ws without an upgrade, and a
 *   401 answer goes to /login; anything else (or no network) keeps trying.
 *
 * Exposes window.NexusRemote = { isRemote, transport (the live one, or
 * null), QUEUE_LIMIT, CLOSE_SIGNED_OUT, isWebLocation(location),
 * socketUrl(location), reconnectDelay(failures), closeAction(code, opened,
 * everOpened), createOutbox(limit), createTransport(env), navigate(path) }.
 */
(function () {
  'use strict';

  const QUEUE_LIMIT = 1000; // messages waiting for the socket
  const FIRST_RETRY_MS = 1000;
  const MAX_RETRY_MS = 30000;
  const CLOSE_SIGNED_OUT = 4401; // the gateway's close code: not signed in (any more)
  const SOCKET_PATH = '/api/ws';
  const LOGIN_PATH = '/login';
  const READY = JSON.stringify({ type: 'ready' });
  const OPEN = 1; // WebSocket.OPEN

  /** Is the page served over http(s) (the gateway), not nexus:// or a file? */
  function isWebLocation(location) {
    return !!location && (location.protocol === 'http:' || location.protocol === 'https:');
  }

  /** The gateway's socket for a page at `location`: wss:// for an https page, ws:// for http. */
  function socketUrl(location) {
    return (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + SOCKET_PATH;
  }

  /** How long to wait before reconnect attempt number `failures` + 1 (0 → 1 s, doubling, at most 30 s). */
  function reconnectDelay(failures) {
    const n = Number.isFinite(failures) && failures > 0 ? Math.floor(failures) : 0;
    return n >= 5 ? MAX_RETRY_MS : Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * Math.pow(2, n));
  }

  /**
   * What a closed socket means: 'login' (code 4401, or the page's first
   * socket never opened), 'check' (a reconnect attempt never opened: offline,
   * or signed out meanwhile) or 'reconnect'.
   */
  function closeAction(code, opened, everOpened) {
    if (code === CLOSE_SIGNED_OUT) return 'login';
    if (!everOpened) return 'login';
    if (!opened) return 'check';
    return 'reconnect';
  }

  /** A bounded first-in first-out queue of texts: push(text) → false when full; drain() → all, emptied. */
  function createOutbox(limit) {
    const max = Number.isSafeInteger(limit) && limit > 0 ? limit : QUEUE_LIMIT;
    let items = [];
    return {
      push: function (text) {
        if (items.length >= max) return false;
        items.push(text);
        return true;
      },
      drain: function () {
        const out = items;
        items = [];
        return out;
      },
      get size() {
        return items.length;
      },
    };
  }

  /**
   * The socket transport. `env`: { WebSocket (constructor), url, deliver(text)
   * (a frame for the page), onState(state) ('open' | 'reconnecting' |
   * 'signed-out'), navigate(path), checkSignedOut() → Promise<boolean>
   * (optional), setTimeout, clearTimeout, queueLimit? }. Returns
   * { postMessage(text), connect(), retryNow(), state(), queued(), failures() }.
   */
  function createTransport(env) {
    const outbox = createOutbox(env.queueLimit);
    let socket = null; // the current socket, or null between attempts
    let opened = false; // the current socket has opened
    let everOpened = false; // some socket of this page has opened
    let failures = 0; // attempts since the last open
    let timer = null;
    let state = 'connecting'; // 'connecting' | 'open' | 'reconnecting' | 'signed-out'

    function setState(next) {
      if (state === next) return;
      state = next;
      if (env.onState) env.onState(next);
    }

    function signOut() {
      if (state === 'signed-out') return;
      if (timer !== null) env.clearTimeout(timer);
      timer = null;
      setState('signed-out');
      const current = socket;
      socket = null;
      if (current) {
        try {
          current.close();
        } catch (_) {
          /* closing already */
        }
      }
      env.navigate(LOGIN_PATH);
    }

    function connect() {
      if (state === 'signed-out' || socket) return;
      if (timer !== null) env.clearTimeout(timer);
      timer = null;
      let ws;
      try {
        ws = new env.WebSocket(env.url);
      } catch (error) {
        console.error('[nexus] cannot open the gateway socket', error);
        closed(1006, false);
        return;
      }
      socket = ws;
      opened = false;
      ws.onopen = function () {
        if (socket !== ws) return;
        opened = true;
        const reconnected = everOpened;
        everOpened = true;
        failures = 0;
        // A new connection knows nothing of this page: say ready first (a fresh init comes back).
        if (reconnected) ws.send(READY);
        for (const text of outbox.drain()) ws.send(text);
        setState('open');
      };
      ws.onmessage = function (event) {
        if (socket === ws && typeof event.data === 'string') env.deliver(event.data);
      };
      ws.onclose = function (event) {
        if (socket !== ws) return;
        socket = null;
        closed(event && typeof event.code === 'number' ? event.code : 1006, opened);
      };
      ws.onerror = function () {
        /* a close event follows */
      };
    }

    function closed(code, wasOpen) {
      const action = closeAction(code, wasOpen, everOpened);
      if (action === 'login') {
        signOut();
        return;
      }
      setState('reconnecting');
      if (action === 'check' && env.checkSignedOut) {
        env.checkSignedOut().then(
          function (signedOut) {
            if (signedOut === true) signOut();
          },
          function () {
            /* no answer: keep trying */
          }
        );
      }
      const delay = reconnectDelay(failures);
      failures += 1;
      timer = env.setTimeout(function () {
        timer = null;
        connect();
      }, delay);
    }

    /** Reconnect now instead of waiting (back online, page shown again). */
    function retryNow() {
      if (timer === null || state === 'signed-out') return;
      env.clearTimeout(timer);
      timer = null;
      connect();
    }

    /** window.ipc.postMessage: sends now when open, else queues; throws when it cannot. */
    function postMessage(text) {
      if (typeof text !== 'string') throw new TypeError('postMessage takes JSON text');
      if (state === 'signed-out') throw new Error('Signed out of the gateway');
      if (socket && opened && socket.readyState === OPEN) {
        socket.send(text);
        return;
      }
      if (!outbox.push(text)) throw new Error('Too many messages waiting for the connection');
    }

    return {
      postMessage: postMessage,
      connect: connect,
      retryNow: retryNow,
      state: function () {
        return state;
      },
      queued: function () {
        return outbox.size;
      },
      failures: function () {
        return failures;
      },
    };
  }

  const api = {
    isRemote: false,
    transport: null,
    QUEUE_LIMIT: QUEUE_LIMIT,
    CLOSE_SIGNED_OUT: CLOSE_SIGNED_OUT,
    isWebLocation: isWebLocation,
    socketUrl: socketUrl,
    reconnectDelay: reconnectDelay,
    closeAction: closeAction,
    createOutbox: createOutbox,
    createTransport: createTransport,
    /** Leaves the page for `path` (the tests replace this). */
    navigate: function (path) {
      window.location.replace(path);
    },
  };
  window.NexusRemote = api;

  // The popover (wry's window.ipc), or not served by the gateway: nothing to do.
  if (window.ipc || !isWebLocation(window.location) || typeof window.WebSocket !== 'function') return;

  // Frames that arrive before app.js has defined window.nexus wait here.
  let inbox = [];
  function flushInbox() {
    const nexus = window.nexus;
    if (!inbox.length || !nexus || typeof nexus.receive !== 'function') return;
    const waiting = inbox;
    inbox = [];
    for (const text of waiting) nexus.receive(text);
  }
  function deliver(text) {
    const nexus = window.nexus;
    if (nexus && typeof nexus.receive === 'function') {
      flushInbox();
      nexus.receive(text);
    } else if (inbox.length < QUEUE_LIMIT) {
      inbox.push(text);
    }
  }

  const transport = createTransport({
    WebSocket: window.WebSocket,
    url: socketUrl(window.location),
    deliver: deliver,
    onState: function (state) {
      if (state === 'open' || state === 'reconnecting') deliver(JSON.stringify({ type: 'transport', state: state }));
    },
    navigate: function (path) {
      api.navigate(path);
    },
    checkSignedOut: function () {
      if (typeof window.fetch !== 'function') return Promise.resolve(false);
      return window.fetch(SOCKET_PATH, { cache: 'no-store', credentials: 'same-origin' }).then(function (response) {
        return response.status === 401;
      });
    },
    setTimeout: function (fn, ms) {
      return window.setTimeout(fn, ms);
    },
    clearTimeout: function (id) {
      window.clearTimeout(id);
    },
  });

  api.isRemote = true;
  api.transport = transport;
  window.ipc = { postMessage: transport.postMessage };
  document.documentElement.classList.add('remote');
  document.addEventListener('DOMContentLoaded', flushInbox);
  // Phones drop sockets while asleep or switching networks: try again at once when back.
  window.addEventListener('online', transport.retryNow);
  window.addEventListener('pageshow', transport.retryNow);
  document.addEventListener('visibilitychange', function () {
    if (document.visibilityState === 'visible') transport.retryNow();
  });
  transport.connect();
})();
