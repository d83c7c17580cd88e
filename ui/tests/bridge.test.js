// The page's protocol glue (ui/bridge.js): how messages to Rust are built,
// how calls are answered, and how Rust's deliveries are read and dispatched.
'use strict';

const test = require('node:test');
const assert = require('node:assert');
const { loadPage, plain, settle } = require('./support.js');

/** A window with dom.js + bridge.js and a window.ipc that records what is posted. */
function bridgeWindow(t) {
  const posted = [];
  const window = loadPage({
    scripts: ['dom.js', 'bridge.js'],
    ipc: {
      postMessage: function (text) {
        posted.push(text);
      },
    },
  });
  t.after(() => window.close());
  return { window: window, posted: posted, Bridge: window.NexusBridge };
}

test('a message goes to Rust as JSON text through window.ipc.postMessage', (t) => {
  const { posted, Bridge } = bridgeWindow(t);
  const bridge = Bridge.create();
  assert.strictEqual(bridge.post({ type: 'draft', key: 'session:ses_1', text: 'a "quote" </script>' }), true);
  assert.deepStrictEqual(posted, ['{"type":"draft","key":"session:ses_1","text":"a \\"quote\\" </script>"}']);
});

test('a call gets the next id and leaves unset optional fields out', (t) => {
  const { posted, Bridge } = bridgeWindow(t);
  const bridge = Bridge.create();
  bridge.call('sessions', { directory: '/home/u/p', search: undefined });
  bridge.call('prompt', { session: 'ses_1', text: 'hi', model: null, agent: 'build' });
  bridge.nexus('follow_log', { on: false });
  bridge.call('providers', {});
  assert.deepStrictEqual(
    posted.map((text) => JSON.parse(text)),
    [
      { type: 'call', id: 1, call: { name: 'sessions', directory: '/home/u/p' } },
      { type: 'call', id: 2, call: { name: 'prompt', session: 'ses_1', text: 'hi', agent: 'build' } },
      { type: 'nexus', id: 3, call: { name: 'follow_log', on: false } },
      { type: 'call', id: 4, call: { name: 'providers' } },
    ]
  );
  // Falsy values that are set (false, 0, '') are sent.
  bridge.call('messages', { session: 's', limit: 0, before: '' });
  assert.deepStrictEqual(JSON.parse(posted[4]).call, { name: 'messages', session: 's', limit: 0, before: '' });
});

test('a result resolves its call with the data, or rejects it with the error and its kind', async (t) => {
  const { Bridge } = bridgeWindow(t);
  const bridge = Bridge.create();
  const ok = bridge.call('agents', {});
  const failed = bridge.call('delete_session', { session: 'ses_1' });
  const vague = bridge.call('abort', { session: 'ses_1' });
  bridge.settle({ type: 'result', id: 2, ok: false, error: 'Session not found.', kind: 'not_found' });
  bridge.settle({ type: 'result', id: 1, ok: true, data: [{ name: 'build' }] });
  bridge.settle({ type: 'result', id: 3, ok: false, error: { not: 'text' } });
  assert.deepStrictEqual(await ok, [{ name: 'build' }]);
  await assert.rejects(failed, (error) => {
    assert.ok(error instanceof Bridge.CallError);
    assert.strictEqual(error.message, 'Session not found.');
    assert.strictEqual(error.kind, 'not_found');
    return true;
  });
  await assert.rejects(vague, { message: 'The call failed.', kind: 'server' });
  assert.strictEqual(bridge.waiting.size, 0);
  // An answer nobody waits for (timed out, or a stray id) changes nothing.
  bridge.settle({ type: 'result', id: 99, ok: true, data: null });
  bridge.settle({ type: 'result', id: 1, ok: true, data: null });
});

test('a call Rust never answers fails with kind "timeout"', async (t) => {
  const { Bridge } = bridgeWindow(t);
  const bridge = Bridge.create({ timeoutMs: 5 });
  await assert.rejects(bridge.call('sessions', { directory: '/p' }), { kind: 'timeout', message: 'Nexus did not answer in time.' });
  assert.strictEqual(bridge.waiting.size, 0);
  // A nexus call may ask for a longer wait of its own.
  const slow = bridge.nexus('install_opencode', {}, { timeoutMs: 60000 });
  await settle();
  assert.strictEqual(bridge.waiting.size, 1);
  bridge.settle({ type: 'result', id: 2, ok: true, data: { installed: true, output: '' } });
  assert.deepStrictEqual(await slow, { installed: true, output: '' });
});

test('without window.ipc nothing is sent and calls fail as "unreachable"', async (t) => {
  const window = loadPage({ scripts: ['dom.js', 'bridge.js'] });
  t.after(() => window.close());
  const bridge = window.NexusBridge.create();
  const warned = [];
  window.console.warn = (...args) => warned.push(args.join(' '));
  assert.strictEqual(bridge.post({ type: 'ready' }), false);
  await assert.rejects(bridge.call('agents', {}), { kind: 'unreachable' });
  assert.deepStrictEqual(warned, ['[nexus] no IPC bridge (window.ipc); not sent: ready', '[nexus] no IPC bridge (window.ipc); not sent: call']);
  assert.strictEqual(bridge.waiting.size, 0);
});

test("Rust's deliveries are parsed as JSON text and handed to the handler of their type", (t) => {
  const { Bridge } = bridgeWindow(t);
  const got = [];
  const receive = Bridge.createReceiver({
    init: (message) => got.push(['init', message]),
    hidden: (message) => got.push(['hidden', message]),
  });
  receive('{"type":"init","directories":["/p"],"drafts":{}}');
  receive(JSON.stringify({ type: 'hidden' }));
  assert.deepStrictEqual(plain(got), [
    ['init', { type: 'init', directories: ['/p'], drafts: {} }],
    ['hidden', { type: 'hidden' }],
  ]);
});

test('anything that is not a JSON message is ignored, and no handler error escapes', (t) => {
  const { window, Bridge } = bridgeWindow(t);
  const got = [];
  const receive = Bridge.createReceiver({
    show: (message) => got.push(message.token),
    status: () => {
      throw new Error('broken handler');
    },
  });
  const logged = [];
  window.console.warn = (...args) => logged.push(['warn', args[0]]);
  window.console.error = (...args) => logged.push(['error', args[0]]);
  receive({ type: 'show', token: 1 }); // an object, not JSON text
  receive('{"type":"show", broken');
  receive('null');
  receive('{"token":2}');
  receive('{"type":"toString"}'); // not an own handler
  receive('{"type":"__proto__"}');
  receive('{"type":"unknown"}');
  receive('{"type":"status"}');
  receive('{"type":"show","token":3}');
  assert.deepStrictEqual(got, [3]);
  assert.deepStrictEqual(logged, [
    ['warn', '[nexus] ignored a message that is not JSON text'],
    ['error', '[nexus] failed to handle'],
    ['warn', '[nexus] unknown message'],
    ['warn', '[nexus] unknown message'],
    ['warn', '[nexus] unknown message'],
    ['error', '[nexus] failed to handle'],
  ]);
});
