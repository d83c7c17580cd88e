// remote.js (the page's WebSocket to the remote gateway) and remote mode:
// the pure rules (socket URL, backoff, close codes, the bounded queue), the
// transport driven with a fake WebSocket and fake timers, and the whole page
// as a phone's browser loads it (https, no window.ipc) and as the popover
// does (wry's window.ipc, an init with "remote": true).
'use strict';

const test = require('node:test');
const assert = require('node:assert');
const { INDEX_HTML, SCRIPTS, loadPage, loadWholePage, settle } = require('./support.js');

const window = loadPage();
test.after(() => window.close());
const Remote = window.NexusRemote;

const HOME = '/home/u/app';
const INIT = {
  type: 'init',
  remote: true,
  directories: [HOME],
  default_directory: HOME,
  drafts: {},
  focus: { session: null },
  max_draft_bytes: 262144,
  first_run: true, // ignored remotely: no Setup
};

// ------------------------------------------------------------------ pure rules

test('outside the gateway remote.js does nothing but offer its helpers', () => {
  assert.strictEqual(Remote.isRemote, false);
  assert.strictEqual(Remote.transport, null);
  assert.strictEqual(window.ipc, undefined);
  assert.ok(!window.document.documentElement.classList.contains('remote'));
  assert.strictEqual(Remote.isWebLocation({ protocol: 'nexus:' }), false);
  assert.strictEqual(Remote.isWebLocation({ protocol: 'file:' }), false);
  assert.strictEqual(Remote.isWebLocation({ protocol: 'https:' }), true);
  assert.strictEqual(Remote.isWebLocation({ protocol: 'http:' }), true);
});

test('the socket is /api/ws on the page’s own host, wss for an https page', () => {
  assert.strictEqual(Remote.socketUrl({ protocol: 'https:', host: 'box.local:4443' }), 'wss://box.local:4443/api/ws');
  assert.strictEqual(Remote.socketUrl({ protocol: 'http:', host: '127.0.0.1:8080' }), 'ws://127.0.0.1:8080/api/ws');
});

test('reconnecting waits 1 s, doubling up to 30 s', () => {
  const schedule = [0, 1, 2, 3, 4, 5, 6, 20, 1000].map(Remote.reconnectDelay);
  assert.deepStrictEqual(schedule, [1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000, 30000]);
  assert.strictEqual(Remote.reconnectDelay(-1), 1000);
  assert.strictEqual(Remote.reconnectDelay(NaN), 1000);
});

test('close codes: 4401 or a first socket that never opened sign out; others reconnect', () => {
  const action = Remote.closeAction;
  assert.strictEqual(Remote.CLOSE_SIGNED_OUT, 4401);
  assert.strictEqual(action(4401, true, true), 'login');
  assert.strictEqual(action(4401, false, true), 'login');
  assert.strictEqual(action(1006, false, false), 'login'); // the upgrade was refused: not signed in
  assert.strictEqual(action(1006, true, true), 'reconnect');
  assert.strictEqual(action(1000, true, true), 'reconnect');
  assert.strictEqual(action(1001, true, true), 'reconnect');
  assert.strictEqual(action(1011, true, true), 'reconnect');
  assert.strictEqual(action(1006, false, true), 'check'); // a reconnect attempt failed: offline, or signed out?
});

test('the queue keeps order, refuses past its limit and empties when drained', () => {
  const outbox = Remote.createOutbox(3);
  assert.ok(outbox.push('a') && outbox.push('b') && outbox.push('c'));
  assert.strictEqual(outbox.push('d'), false);
  assert.strictEqual(outbox.size, 3);
  assert.deepStrictEqual(Array.from(outbox.drain()), ['a', 'b', 'c']);
  assert.strictEqual(outbox.size, 0);
  assert.ok(outbox.push('e'));
  assert.strictEqual(Remote.QUEUE_LIMIT, 1000);
  const big = Remote.createOutbox();
  for (let i = 0; i < 1000; i++) assert.ok(big.push(String(i)));
  assert.strictEqual(big.push('one too many'), false);
});

// ------------------------------------------------------------------ the transport

/** A WebSocket stand-in: records what is sent; the test opens, feeds and closes it. */
function fakeSockets() {
  const sockets = [];
  class FakeSocket {
    constructor(url) {
      this.url = url;
      this.readyState = 0;
      this.sent = [];
      this.closedByPage = false;
      sockets.push(this);
    }
    send(text) {
      if (this.readyState !== 1) throw new Error('not open');
      this.sent.push(text);
    }
    close() {
      this.closedByPage = true;
      this.readyState = 3;
    }
    // driven by the test
    open() {
      this.readyState = 1;
      this.onopen({});
    }
    receive(data) {
      this.onmessage({ data: data });
    }
    drop(code) {
      this.readyState = 3;
      this.onclose({ code: code });
    }
  }
  return { FakeSocket, sockets };
}

function fakeEnv(extra) {
  const { FakeSocket, sockets } = fakeSockets();
  const timers = [];
  const env = Object.assign(
    {
      WebSocket: FakeSocket,
      url: 'wss://box/api/ws',
      delivered: [],
      states: [],
      navigated: [],
      checks: 0,
      deliver: (text) => env.delivered.push(text),
      onState: (state) => env.states.push(state),
      navigate: (path) => env.navigated.push(path),
      setTimeout: (fn, ms) => {
        timers.push({ fn, ms, cleared: false });
        return timers.length - 1;
      },
      clearTimeout: (id) => {
        if (timers[id]) timers[id].cleared = true;
      },
    },
    extra
  );
  env.sockets = sockets;
  env.timers = timers;
  /** Runs the newest pending timer; its delay. */
  env.fire = function () {
    const timer = timers.filter((t) => !t.cleared && !t.fired).pop();
    assert.ok(timer, 'a reconnect is scheduled');
    timer.fired = true;
    timer.fn();
    return timer.ms;
  };
  env.pending = () => timers.filter((t) => !t.cleared && !t.fired).length;
  return env;
}

test('messages wait for the socket, go out in order when it opens, then directly', () => {
  const env = fakeEnv();
  const transport = Remote.createTransport(env);
  transport.connect();
  assert.strictEqual(env.sockets.length, 1);
  assert.strictEqual(env.sockets[0].url, 'wss://box/api/ws');
  transport.postMessage('{"type":"ready"}');
  transport.postMessage('{"type":"call","id":1}');
  assert.strictEqual(transport.queued(), 2);
  assert.deepStrictEqual(env.sockets[0].sent, []);
  env.sockets[0].open();
  // The page's own ready is the first message; remote.js adds none on the first socket.
  assert.deepStrictEqual(env.sockets[0].sent, ['{"type":"ready"}', '{"type":"call","id":1}']);
  assert.strictEqual(transport.queued(), 0);
  transport.postMessage('{"type":"call","id":2}');
  assert.deepStrictEqual(env.sockets[0].sent.slice(2), ['{"type":"call","id":2}']);
  assert.strictEqual(transport.state(), 'open');
  assert.deepStrictEqual(env.states, ['open']);
  assert.throws(() => transport.postMessage({ not: 'text' }), /JSON text/);

  env.sockets[0].receive('{"type":"init"}');
  env.sockets[0].receive(new ArrayBuffer(2)); // not a text frame: not a message
  assert.deepStrictEqual(env.delivered, ['{"type":"init"}']);
});

test('a full queue refuses the message (the page’s call fails at once)', () => {
  const env = fakeEnv({ queueLimit: 2 });
  const transport = Remote.createTransport(env);
  transport.connect();
  transport.postMessage('1');
  transport.postMessage('2');
  assert.throws(() => transport.postMessage('3'), /waiting/);
  env.sockets[0].open();
  assert.deepStrictEqual(env.sockets[0].sent, ['1', '2']);
});

test('a first socket that never opens goes to /login, and nothing is sent after', () => {
  const env = fakeEnv();
  const transport = Remote.createTransport(env);
  transport.connect();
  transport.postMessage('{"type":"ready"}');
  env.sockets[0].drop(1006);
  assert.deepStrictEqual(env.navigated, ['/login']);
  assert.strictEqual(transport.state(), 'signed-out');
  assert.strictEqual(env.pending(), 0, 'no reconnect');
  assert.throws(() => transport.postMessage('x'), /Signed out/);
  transport.connect();
  assert.strictEqual(env.sockets.length, 1);
});

test('close code 4401 goes to /login without reconnecting', () => {
  const env = fakeEnv();
  const transport = Remote.createTransport(env);
  transport.connect();
  env.sockets[0].open();
  env.sockets[0].drop(4401);
  assert.deepStrictEqual(env.navigated, ['/login']);
  assert.deepStrictEqual(env.states, ['open', 'signed-out']);
  assert.strictEqual(env.pending(), 0);
});

test('another close reconnects with backoff, says ready first, then sends the queue', async () => {
  let signedOut = false;
  const env = fakeEnv({
    checkSignedOut: () => {
      env.checks += 1;
      return Promise.resolve(signedOut);
    },
  });
  const transport = Remote.createTransport(env);
  transport.connect();
  transport.postMessage('{"type":"ready"}');
  env.sockets[0].open();
  env.sockets[0].drop(1006);
  assert.deepStrictEqual(env.states, ['open', 'reconnecting']);
  assert.deepStrictEqual(env.navigated, []);
  assert.strictEqual(env.checks, 0, 'a socket that was open: no sign-in check');

  // Attempts that never open: 1 s, 2 s, 4 s … each asking whether the sign-in is still good.
  const delays = [];
  delays.push(env.fire());
  assert.strictEqual(env.sockets.length, 2);
  env.sockets[1].drop(1006);
  delays.push(env.fire());
  env.sockets[2].drop(1006);
  delays.push(env.fire());
  assert.deepStrictEqual(delays, [1000, 2000, 4000]);
  await settle();
  assert.strictEqual(env.checks, 2);
  assert.deepStrictEqual(env.navigated, [], 'still signed in: keep trying');

  transport.postMessage('{"type":"call","id":7}');
  transport.postMessage('{"type":"draft","key":"k","text":"t"}');
  env.sockets[3].open();
  assert.deepStrictEqual(env.sockets[3].sent, ['{"type":"ready"}', '{"type":"call","id":7}', '{"type":"draft","key":"k","text":"t"}']);
  assert.deepStrictEqual(env.states, ['open', 'reconnecting', 'open']);
  assert.strictEqual(transport.failures(), 0);

  // The backoff starts over after a connection that worked.
  env.sockets[3].drop(1011);
  assert.strictEqual(env.fire(), 1000);

  // Signed out meanwhile (the check's GET /api/ws answers 401): the sign-in page.
  signedOut = true;
  env.sockets[4].drop(1006);
  await settle();
  assert.deepStrictEqual(env.navigated, ['/login']);
  assert.strictEqual(env.pending(), 0, 'the scheduled attempt is called off');
});

test('retryNow reconnects at once instead of waiting out the backoff', () => {
  const env = fakeEnv();
  const transport = Remote.createTransport(env);
  transport.connect();
  env.sockets[0].open();
  env.sockets[0].drop(1006);
  assert.strictEqual(env.pending(), 1);
  transport.retryNow();
  assert.strictEqual(env.pending(), 0);
  assert.strictEqual(env.sockets.length, 2);
  transport.retryNow(); // already connecting: nothing more
  assert.strictEqual(env.sockets.length, 2);
  // Frames from a socket that is no longer the current one are not delivered.
  env.sockets[0].receive('{"type":"stale"}');
  assert.deepStrictEqual(env.delivered, []);
});

// ------------------------------------------------------------------ the whole page in a phone's browser

/** index.html over https with no window.ipc: remote.js takes over, on a fake WebSocket. */
function loadRemotePage(t, options) {
  const { FakeSocket, sockets } = fakeSockets();
  const opened = [];
  // The pointer as matchMedia reports it; setTouch() changes it as a browser would.
  const pointer = { touch: !!(options && options.touch), listeners: [] };
  const page = loadPage({
    html: INDEX_HTML,
    scripts: SCRIPTS,
    url: 'https://box.local:4443/',
    setup: function (w) {
      w.WebSocket = FakeSocket;
      w.matchMedia = (query) => ({
        get matches() {
          return pointer.touch && query === '(pointer: coarse)';
        },
        media: query,
        addEventListener: (type, listener) => {
          if (type === 'change' && query === '(pointer: coarse)') pointer.listeners.push(listener);
        },
      });
      w.fetch = () => Promise.resolve({ status: 426 });
      w.open = function (url, target, features) {
        opened.push([url, target, features]);
        return null;
      };
    },
  });
  t.after(() => page.close());
  const navigated = [];
  page.NexusRemote.navigate = (path) => navigated.push(path);
  const socket = () => sockets[sockets.length - 1];
  return {
    window: page,
    document: page.document,
    sockets: sockets,
    socket: socket,
    opened: opened,
    navigated: navigated,
    /** Everything the current socket sent, parsed. */
    sent: () => socket().sent.map((text) => JSON.parse(text)),
    deliver: (message) => socket().receive(JSON.stringify(message)),
    /** The browser now reports (or no longer reports) a touch screen. */
    setTouch: (touch) => {
      pointer.touch = touch;
      for (const listener of pointer.listeners) listener({ matches: touch });
    },
    frames: async function (count) {
      for (let k = 0; k < (count || 2); k++) await new Promise((resolve) => page.requestAnimationFrame(() => resolve()));
    },
  };
}

test('in a phone’s browser the page talks over wss://host/api/ws and shows only chat', async (t) => {
  const page = loadRemotePage(t);
  const doc = page.document;
  assert.strictEqual(page.window.NexusRemote.isRemote, true);
  assert.ok(doc.documentElement.classList.contains('remote'));
  assert.strictEqual(page.sockets.length, 1);
  assert.strictEqual(page.socket().url, 'wss://box.local:4443/api/ws');
  // Chat only, from the start.
  assert.strictEqual(doc.querySelector('.view-nav').hidden, true);
  // The requests waiting for an answer are at the top of the conversation.
  assert.strictEqual(doc.getElementById('conversation').firstElementChild, doc.getElementById('pending'));

  // The page's ready waited for the socket.
  assert.deepStrictEqual(page.socket().sent, []);
  page.socket().open();
  assert.deepStrictEqual(page.sent(), [{ type: 'ready' }]);

  page.deliver(INIT);
  await settle();
  const sent = page.sent();
  assert.ok(sent.some((m) => m.type === 'call' && m.call.name === 'sessions'));
  assert.ok(!sent.some((m) => m.type === 'nexus'), 'no Nexus calls remotely');
  await page.frames();
  assert.strictEqual(doc.getElementById('view-setup').hidden, true, 'first_run shows no Setup remotely');
  assert.strictEqual(doc.getElementById('conversation').hidden, false);

  // Ctrl+, and Escape: no Settings, no `hide`.
  const before = page.socket().sent.length;
  doc.dispatchEvent(new page.window.KeyboardEvent('keydown', { key: ',', ctrlKey: true, bubbles: true, cancelable: true }));
  doc.dispatchEvent(new page.window.KeyboardEvent('keydown', { key: 'Escape', bubbles: true, cancelable: true }));
  assert.strictEqual(doc.getElementById('view-settings').hidden, true);
  assert.deepStrictEqual(page.sent().slice(before), []);

  // A link opens in a new tab of this browser, not through Nexus.
  const link = doc.createElement('a');
  link.href = 'https://example.com/docs?q=1';
  link.textContent = 'docs';
  doc.getElementById('message-list').appendChild(link);
  link.dispatchEvent(new page.window.MouseEvent('click', { bubbles: true, cancelable: true }));
  assert.deepStrictEqual(page.opened, [['https://example.com/docs?q=1', '_blank', 'noopener,noreferrer']]);
  assert.ok(!page.sent().some((m) => m.type === 'open_external'));
  const unsafe = doc.createElement('a');
  unsafe.setAttribute('href', 'javascript:alert(1)');
  doc.getElementById('message-list').appendChild(unsafe);
  unsafe.dispatchEvent(new page.window.MouseEvent('click', { bubbles: true, cancelable: true }));
  assert.strictEqual(page.opened.length, 1, 'only http(s) links open');

  // A `status` (Nexus's status line) is not shown remotely.
  page.deliver({ type: 'status', state: 'running', line: 'Server running', metrics: null });
  assert.strictEqual(doc.getElementById('server-status').hidden, true);
});

test('a dropped socket shows the banner, fails calls in flight, and a reconnect keeps the place', async (t) => {
  const page = loadRemotePage(t);
  const doc = page.document;
  page.socket().open();
  page.deliver(INIT);
  await settle();
  // Answer the project's loads, then open a session.
  for (const m of page.sent()) {
    if (m.type !== 'call') continue;
    let data = null;
    if (m.call.name === 'sessions') data = [{ id: 'ses_1', title: 'Fix the build', directory: HOME, time: { updated: 2 } }];
    else if (m.call.name === 'session_status') data = {};
    else if (m.call.name === 'permissions' || m.call.name === 'questions') data = [];
    else if (m.call.name === 'providers') data = { providers: [], default: null };
    else if (m.call.name === 'agents') data = [];
    page.deliver({ type: 'result', id: m.id, ok: true, data: data });
  }
  await settle();
  doc.getElementById('sessions-toggle').click();
  await page.frames();
  doc.querySelector('button.session[data-session-id="ses_1"]').click();
  await settle();
  const messagesCall = page.sent().filter((m) => m.type === 'call' && m.call.name === 'messages').pop();
  assert.ok(messagesCall, 'the session’s messages are asked for');

  // The socket drops with that call unanswered.
  page.socket().drop(1006);
  await settle();
  await page.frames();
  const banner = doc.getElementById('banner');
  assert.strictEqual(banner.hidden, false);
  assert.strictEqual(banner.textContent, 'Lost the connection to your computer. Reconnecting… Your text is kept.');
  assert.strictEqual(banner.dataset.state, 'transport');
  // The unanswered call failed at once (the next connection will not answer it).
  assert.strictEqual(
    doc.getElementById('empty-state').textContent,
    'Couldn’t load this session: The connection to your computer dropped before it answered.'
  );

  // Typing meanwhile: the draft waits in the queue.
  const composer = doc.getElementById('composer');
  composer.value = 'still here';
  composer.dispatchEvent(new page.window.Event('input', { bubbles: true }));

  page.window.NexusRemote.transport.retryNow();
  assert.strictEqual(page.sockets.length, 2);
  page.socket().open();
  const first = page.sent();
  assert.deepStrictEqual(first[0], { type: 'ready' }, 'a new connection hears ready first');
  assert.ok(first.some((m) => m.type === 'draft' && m.text === 'still here'));

  // The gateway answers ready with a fresh init: the session on screen stays and is read again.
  page.deliver(INIT);
  await settle();
  await page.frames();
  assert.strictEqual(banner.hidden, true);
  assert.strictEqual(doc.getElementById('session-title').textContent, 'Fix the build');
  assert.strictEqual(composer.value, 'still here');
  const again = page.sent().filter((m) => m.type === 'call').map((m) => m.call.name);
  assert.ok(again.includes('messages') && again.includes('sessions') && again.includes('permissions'), again.join());
  assert.ok(page.sent().some((m) => m.type === 'focus_session' && m.session === 'ses_1'));
  assert.strictEqual(doc.getElementById('project').value, HOME);

  // Signed out (the gateway closes with 4401): the sign-in page.
  page.socket().drop(4401);
  assert.deepStrictEqual(page.navigated, ['/login']);
});

test('a page whose socket never opens goes to the sign-in page', (t) => {
  const page = loadRemotePage(t);
  page.socket().drop(1006);
  assert.deepStrictEqual(page.navigated, ['/login']);
});

test('on a phone Enter is a new line, Send sends, and the page does not pop up the keyboard', async (t) => {
  const page = loadRemotePage(t, { touch: true });
  const doc = page.document;
  page.socket().open();
  page.deliver(INIT);
  await settle();
  const composer = doc.getElementById('composer');
  assert.strictEqual(composer.placeholder, 'Ask OpenCode…');
  doc.getElementById('new-session').click(); // in the popover this focuses the composer
  assert.notStrictEqual(doc.activeElement, composer, 'no focus (and keyboard) by itself');
  composer.focus();
  composer.value = 'line one';
  const enter = new page.window.KeyboardEvent('keydown', { key: 'Enter', bubbles: true, cancelable: true });
  composer.dispatchEvent(enter);
  assert.strictEqual(enter.defaultPrevented, false, 'Enter types a new line');
  assert.ok(!page.sent().some((m) => m.type === 'call' && m.call.name === 'create_session'));
  doc.getElementById('send').click();
  await settle();
  assert.ok(page.sent().some((m) => m.type === 'call' && m.call.name === 'create_session'), 'Send sends');
});

/** A remote page on a desktop browser (no touch screen), connected and started: its composer. */
async function desktopComposer(t) {
  const page = loadRemotePage(t, { touch: false });
  page.socket().open();
  page.deliver(INIT);
  await settle();
  const composer = page.document.getElementById('composer');
  assert.match(composer.placeholder, /Enter to send/);
  return { page, composer };
}

test('the placeholder follows a touch screen reported after the start, and its going', async (t) => {
  const { page, composer } = await desktopComposer(t);
  page.setTouch(true);
  assert.strictEqual(composer.placeholder, 'Ask OpenCode…');
  page.setTouch(false);
  assert.match(composer.placeholder, /Enter to send/);
});

test('a desktop browser on the gateway keeps Enter to send', async (t) => {
  const { page, composer } = await desktopComposer(t);
  composer.value = 'hello';
  const enter = new page.window.KeyboardEvent('keydown', { key: 'Enter', bubbles: true, cancelable: true });
  composer.dispatchEvent(enter);
  assert.strictEqual(enter.defaultPrevented, true);
  await settle();
  assert.ok(page.sent().some((m) => m.type === 'call' && m.call.name === 'create_session'));
});

// ------------------------------------------------------------------ the popover, untouched

test('in the popover remote.js stays out of the way and links still go through Nexus', async (t) => {
  const page = loadWholePage();
  t.after(() => page.window.close());
  assert.strictEqual(page.window.NexusRemote.isRemote, false);
  assert.ok(!page.document.documentElement.classList.contains('remote'));
  assert.strictEqual(page.document.querySelector('.view-nav').hidden, false);
  page.deliver(Object.assign({}, INIT, { remote: undefined, first_run: false }));
  const link = page.document.createElement('a');
  link.href = 'https://example.com/';
  page.document.getElementById('message-list').appendChild(link);
  link.dispatchEvent(new page.window.MouseEvent('click', { bubbles: true, cancelable: true }));
  assert.deepStrictEqual(page.sent.filter((m) => m.type === 'open_external'), [{ type: 'open_external', url: 'https://example.com/' }]);
  // The pending requests stay above the composer.
  assert.strictEqual(page.document.getElementById('pending').parentElement.id, 'composer-area');
});

test('an init with "remote": true alone is enough for remote mode', async (t) => {
  const page = loadWholePage();
  t.after(() => page.window.close());
  page.deliver(INIT);
  await settle();
  await page.frames();
  const doc = page.document;
  assert.ok(doc.documentElement.classList.contains('remote'));
  assert.strictEqual(doc.querySelector('.view-nav').hidden, true);
  assert.strictEqual(doc.getElementById('view-setup').hidden, true);
  doc.getElementById('nav-settings').click(); // hidden, but even a click shows only chat
  doc.dispatchEvent(new page.window.KeyboardEvent('keydown', { key: 'Escape', bubbles: true, cancelable: true }));
  await settle();
  assert.strictEqual(doc.getElementById('view-settings').hidden, true);
  assert.ok(!page.sent.some((m) => m.type === 'nexus' || m.type === 'hide'), JSON.stringify(page.sent.map((m) => m.type)));
  assert.strictEqual(doc.getElementById('conversation').firstElementChild, doc.getElementById('pending'));
});
