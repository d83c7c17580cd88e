// The whole chat page (index.html and every script, as the popover loads
// them) in jsdom, driven the way Rust drives it: messages in through
// window.nexus.receive, and what the page sends out through window.ipc.
'use strict';

const test = require('node:test');
const assert = require('node:assert');
const { loadWholePage, settle } = require('./support.js');

const HOME = '/home/u/app';

/** What the page asks for when it (re)loads the project /home/u/app. */
const LOAD_CALLS = [
  'call {"name":"sessions","directory":"/home/u/app"}',
  'call {"name":"session_status","directory":"/home/u/app"}',
  'call {"name":"permissions","directory":"/home/u/app"}',
  'call {"name":"questions","directory":"/home/u/app"}',
  'call {"name":"providers"}',
  'call {"name":"agents"}',
];

const INIT = {
  type: 'init',
  directories: [HOME, '/srv/app', '/home/u/site', HOME],
  default_directory: HOME,
  drafts: { ['new:' + HOME]: 'a draft from before' },
  focus: { session: null },
  max_draft_bytes: 262144,
  first_run: false,
};

function open(t) {
  const page = loadWholePage();
  t.after(() => page.window.close());
  return page;
}

/** The posted messages from index `from` on, as compact descriptions. */
function described(page, from) {
  return page.sent.slice(from).map(function (m) {
    if (m.type === 'call' || m.type === 'nexus') return m.type + ' ' + JSON.stringify(m.call);
    return JSON.stringify(m);
  });
}

function typeInComposer(page, text) {
  const composer = page.document.getElementById('composer');
  composer.value = text;
  composer.dispatchEvent(new page.window.Event('input', { bubbles: true }));
}

function press(page, target, key, options) {
  target.dispatchEvent(new page.window.KeyboardEvent('keydown', Object.assign({ key: key, bubbles: true, cancelable: true }, options)));
}

test('the page says ready, and on init loads the default project and restores its draft', async (t) => {
  const page = open(t);
  assert.deepStrictEqual(page.sent, [{ type: 'ready' }]);
  page.deliver(INIT);
  assert.deepStrictEqual(described(page, 1), ['{"type":"focus_session","session":null}', ...LOAD_CALLS]);
  // Every call has its own id.
  const ids = page.calls().map((m) => m.id);
  assert.strictEqual(new Set(ids).size, ids.length);

  const project = page.document.getElementById('project');
  assert.deepStrictEqual(
    Array.from(project.options, (o) => [o.value, o.textContent]),
    [
      [HOME, HOME],
      ['/srv/app', '/srv/app'],
      ['/home/u/site', 'site'],
    ]
  );
  assert.strictEqual(project.value, HOME);
  assert.strictEqual(page.document.getElementById('composer').value, 'a draft from before');
  await page.frames();
  assert.strictEqual(page.document.getElementById('empty-state').textContent, 'New conversation in app. Ask OpenCode anything.');
});

test('session titles from the server show as text, and opening one loads its messages', async (t) => {
  const page = open(t);
  page.deliver(INIT);
  const hostile = '<img src=x onerror="window.pwned=1"> Fix the parser';
  page.answer(page.calls('sessions')[0], [
    { id: 'ses_a', title: hostile, directory: HOME, time: { created: 1, updated: Date.now() } },
    { id: 'ses_child', parentID: 'ses_a', title: 'a subtask', directory: HOME, time: { updated: 2 } },
  ]);
  await settle();
  page.document.getElementById('sessions-toggle').click();
  const buttons = page.document.querySelectorAll('#sessions button.session');
  assert.strictEqual(buttons.length, 1, 'child sessions are not listed');
  assert.strictEqual(buttons[0].querySelector('.session-name').textContent, hostile);
  assert.strictEqual(page.document.querySelector('#sessions img'), null);
  assert.strictEqual(page.window.pwned, undefined);

  const before = page.sent.length;
  buttons[0].click();
  assert.deepStrictEqual(described(page, before), ['{"type":"focus_session","session":"ses_a"}', 'call {"name":"messages","session":"ses_a","limit":30}']);
  assert.strictEqual(page.document.getElementById('session-panel').hidden, true);
  await page.frames();
  assert.strictEqual(page.document.getElementById('session-title').textContent, hostile);
  assert.strictEqual(page.document.getElementById('empty-state').textContent, 'Loading messages…');
  page.answer(page.calls('messages')[0], { messages: [], before: null });
  await settle();
  await page.frames();
  assert.strictEqual(page.document.getElementById('empty-state').textContent, 'No messages yet.');
});

test('a permission request shows as a card, and its button sends the reply', async (t) => {
  const page = open(t);
  page.deliver(INIT);
  page.deliver({ type: 'show', token: 1, session: 'ses_a', view: null });
  page.deliver({
    type: 'events',
    events: [
      {
        directory: HOME,
        type: 'permission.asked',
        properties: { id: 'per_1', sessionID: 'ses_a', permission: 'bash', patterns: ['rm -rf build'], always: ['rm *'], metadata: {} },
      },
      // Not the session on screen: no card.
      { directory: HOME, type: 'permission.asked', properties: { id: 'per_2', sessionID: 'ses_other', permission: 'edit' } },
    ],
  });
  await page.frames();
  const pending = page.document.getElementById('pending');
  assert.strictEqual(pending.hidden, false);
  const cards = pending.querySelectorAll('.request');
  assert.deepStrictEqual(Array.from(cards, (c) => c.dataset.requestId), ['per_1']);
  assert.strictEqual(cards[0].querySelector('.request-detail').textContent, 'rm -rf build');
  assert.deepStrictEqual(
    Array.from(cards[0].querySelectorAll('button[data-reply]'), (b) => b.dataset.reply),
    ['once', 'always', 'reject']
  );

  cards[0].querySelector('button[data-reply="once"]').click();
  const reply = page.calls('reply_permission');
  assert.deepStrictEqual(
    reply.map((m) => m.call),
    [{ name: 'reply_permission', request: 'per_1', directory: HOME, reply: 'once' }]
  );
  assert.strictEqual(cards[0].getAttribute('aria-busy'), 'true');
  page.answer(reply[0], true);
  await settle();
  await page.frames();
  assert.strictEqual(pending.querySelectorAll('.request').length, 0);
  assert.strictEqual(pending.hidden, true);
});

test('typing saves a draft; Enter on a new-session screen creates the session, then sends the prompt', async (t) => {
  const page = open(t);
  page.deliver(INIT);
  let from = page.sent.length;
  typeInComposer(page, 'Explain <b>this</b>');
  assert.deepStrictEqual(described(page, from), ['{"type":"draft","key":"new:/home/u/app","text":"Explain <b>this</b>"}']);

  from = page.sent.length;
  press(page, page.document.getElementById('composer'), 'Enter');
  assert.deepStrictEqual(described(page, from), ['call {"name":"create_session","directory":"/home/u/app"}']);
  from = page.sent.length;
  page.answer(page.calls('create_session')[0], { id: 'ses_new', title: 'New session', directory: HOME, time: { created: 5 } });
  await settle();
  assert.deepStrictEqual(described(page, from), [
    '{"type":"draft","key":"new:/home/u/app","text":""}',
    '{"type":"focus_session","session":"ses_new"}',
    '{"type":"draft","key":"session:ses_new","text":"Explain <b>this</b>"}',
    'call {"name":"prompt","session":"ses_new","text":"Explain <b>this</b>","agent":"build"}',
  ]);

  from = page.sent.length;
  page.answer(page.calls('prompt')[0], null);
  await settle();
  assert.deepStrictEqual(described(page, from), ['{"type":"draft","key":"session:ses_new","text":""}']);
  assert.strictEqual(page.document.getElementById('composer').value, '');
});

test('a failed prompt keeps the text and says why', async (t) => {
  const page = open(t);
  page.deliver(INIT);
  page.deliver({ type: 'show', token: 1, session: 'ses_a', view: null });
  typeInComposer(page, 'hello');
  press(page, page.document.getElementById('composer'), 'Enter');
  await settle();
  const prompt = page.calls('prompt')[0];
  assert.deepStrictEqual(prompt.call, { name: 'prompt', session: 'ses_a', text: 'hello', agent: 'build' });
  page.deliver({ type: 'result', id: prompt.id, ok: false, error: 'Model not found.', kind: 'server' });
  await settle();
  await page.frames();
  assert.strictEqual(page.document.getElementById('send-error').textContent, 'Not sent: Model not found.');
  assert.strictEqual(page.document.getElementById('composer').value, 'hello');
});

test('losing the server shows the banner; once it is back, what is on screen is read again', async (t) => {
  const page = open(t);
  page.deliver(INIT);
  page.deliver({ type: 'show', token: 1, session: 'ses_a', view: null });
  page.deliver({ type: 'connection', state: 'unreachable', message: '' });
  await page.frames();
  const banner = page.document.getElementById('banner');
  assert.strictEqual(banner.hidden, false);
  assert.strictEqual(banner.textContent, 'OpenCode server is not reachable — your text is kept.');
  assert.strictEqual(banner.dataset.state, 'unreachable');

  const from = page.sent.length;
  page.deliver({ type: 'connection', state: 'connected', message: '' });
  assert.deepStrictEqual(described(page, from), [
    ...LOAD_CALLS,
    'call {"name":"messages","session":"ses_a","limit":30}',
  ]);
  await page.frames();
  assert.strictEqual(banner.hidden, true);
});

test('show opens the view it names and answers painted after two frames; Escape hides', async (t) => {
  const page = open(t);
  page.deliver(INIT);
  let from = page.sent.length;
  page.deliver({ type: 'show', token: 42, session: null, view: 'logs' });
  assert.deepStrictEqual(described(page, from), ['nexus {"name":"follow_log","on":true}']);
  assert.strictEqual(page.document.getElementById('view-logs').hidden, false);
  assert.strictEqual(page.document.getElementById('conversation').hidden, true);
  assert.strictEqual(page.document.getElementById('nav-logs').getAttribute('aria-pressed'), 'true');
  await page.frames(3);
  assert.deepStrictEqual(page.sent[page.sent.length - 1], { type: 'painted', token: 42 });

  from = page.sent.length;
  press(page, page.document.body, 'Escape');
  assert.deepStrictEqual(described(page, from), ['{"type":"hide"}']);
});

test('a delivery that is not JSON text is ignored', (t) => {
  const page = open(t);
  const logged = [];
  page.window.console.warn = (text) => logged.push(text);
  page.window.console.error = (text) => logged.push(text);
  page.deliver(INIT);
  const from = page.sent.length;
  page.window.nexus.receive({ type: 'show', token: 1, session: 'ses_a' });
  page.window.nexus.receive('{"type":"show"');
  assert.deepStrictEqual(described(page, from), []);
  assert.deepStrictEqual(logged, ['[nexus] ignored a message that is not JSON text', '[nexus] failed to handle']);
  assert.strictEqual(page.document.getElementById('session-title').textContent, 'New session');
});
