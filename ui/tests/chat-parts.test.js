// The pure pieces of the chat's parts (frame.js, drafts.js, projects.js,
// sessions.js, models.js, composer.js, lifecycle.js): texts the page shows
// and how Rust's data is read, without a running page.
'use strict';

const test = require('node:test');
const assert = require('node:assert');
const { loadPage, plain } = require('./support.js');

const window = loadPage();
test.after(() => window.close());

test('the banner names each connection state and keeps the user calm about their text', () => {
  const text = window.NexusFrame.connectionText;
  assert.strictEqual(text('connecting'), 'Connecting to the OpenCode server… Your text is kept.');
  assert.strictEqual(text('auth'), 'The OpenCode server refused Nexus’s credentials. Your text is kept.');
  assert.strictEqual(text('no_server'), 'No OpenCode server is running. Your text is kept.');
  assert.strictEqual(text('unreachable'), 'OpenCode server is not reachable — your text is kept.');
  assert.strictEqual(text('something new'), text('unreachable'));
});

test('the activity line says what the session is doing', () => {
  const activity = window.NexusFrame.activityText;
  assert.strictEqual(activity(null, false, false), '');
  assert.strictEqual(activity(null, false, true), 'Sending…');
  assert.strictEqual(activity({ type: 'busy' }, false, false), 'Working…');
  assert.strictEqual(activity({ type: 'busy' }, true, false), 'Stopping…');
  assert.strictEqual(activity({ type: 'retry' }, false, false), 'Retrying…');
  assert.strictEqual(activity({ type: 'retry', attempt: 2, message: 'Rate limited' }, false, false), 'Retrying (attempt 2): Rate limited');
  assert.strictEqual(activity({ type: 'retry', attempt: 3 }, true, false), 'Stopping…');
  // Aborting without a run shows nothing to stop.
  assert.strictEqual(activity(null, true, false), '');
});

test('drafts: lone surrogates become U+FFFD, pairs stay', () => {
  const wellFormed = window.NexusDrafts.wellFormed;
  assert.strictEqual(wellFormed('plain text'), 'plain text');
  assert.strictEqual(wellFormed('emoji 😀 ok'), 'emoji 😀 ok');
  assert.strictEqual(wellFormed('cut \uD83D'), 'cut \uFFFD');
  assert.strictEqual(wellFormed('\uDE00 start'), '\uFFFD start');
  assert.strictEqual(wellFormed('a\uDE00\uD83Db'), 'a\uFFFD\uFFFDb');
});

test('drafts: sizes are counted in UTF-8 bytes near the limit, and a too-long draft is explained', () => {
  const { utf8Bytes, tooLongNote } = window.NexusDrafts;
  assert.strictEqual(utf8Bytes('héllo', 1000), 5, 'far below the limit the length stands in');
  assert.strictEqual(utf8Bytes('héllo', 6), 6);
  assert.strictEqual(utf8Bytes('😀', 3), 4);
  assert.strictEqual(tooLongNote(100, 100), '');
  assert.strictEqual(tooLongNote(0, 0), '');
  assert.strictEqual(
    tooLongNote(300 * 1024 + 1, 256 * 1024),
    'Too long to keep as a draft (301 KiB; drafts keep at most 256 KiB). If the window closes before you send it, only the last version that fitted is kept.'
  );
});

test('projects are shown by folder name, by full path when two share a name', () => {
  const { basename, optionLabels } = window.NexusProjects;
  assert.strictEqual(basename('/home/u/app'), 'app');
  assert.strictEqual(basename('/home/u/app/'), 'app');
  assert.strictEqual(basename('app'), 'app');
  assert.strictEqual(basename(''), '');
  assert.deepStrictEqual(plain(optionLabels(['/a/app', '/b/app', '/c/site'])), ['/a/app', '/b/app', 'site']);
});

test('the session list holds root, unarchived sessions matching the search, newest first', () => {
  const { isListable, matchesSearch, updatedAt } = window.NexusSessions;
  assert.strictEqual(isListable({ id: 's' }), true);
  assert.strictEqual(isListable({ id: 's', parentID: 'p' }), false);
  assert.strictEqual(isListable({ id: 's', time: { archived: 5 } }), false);
  assert.strictEqual(isListable(null), false);
  assert.strictEqual(matchesSearch({ title: 'Fix the Parser' }, ' parser '), true);
  assert.strictEqual(matchesSearch({ title: 'Fix the Parser' }, 'lexer'), false);
  assert.strictEqual(matchesSearch({}, ''), true);
  assert.strictEqual(updatedAt({ time: { created: 1, updated: 9 } }), 9);
  assert.strictEqual(updatedAt({ time: { created: 1 } }), 1);
  assert.strictEqual(updatedAt(null), 0);
});

test('providers are read from the answer, models given as a list or a map', () => {
  const { providerList, parseModel } = window.NexusModels;
  const list = providerList({
    providers: [
      { id: 'anthropic', name: 'Anthropic', models: [{ id: 'claude', name: 'Claude' }, { name: 'no id' }] },
      { id: 'local', models: { a: { id: 'llama' } } },
      { id: 7, name: 'Odd', models: 'none' },
    ],
  });
  assert.deepStrictEqual(plain(list), [
    { id: 'anthropic', name: 'Anthropic', models: [{ id: 'claude', name: 'Claude' }] },
    { id: 'local', name: 'local', models: [{ id: 'llama' }] },
    { id: '7', name: 'Odd', models: [] },
  ]);
  assert.deepStrictEqual(plain(providerList(null)), []);
  assert.deepStrictEqual(plain(parseModel('anthropic/claude-sonnet/4')), { providerID: 'anthropic', modelID: 'claude-sonnet/4' });
  assert.strictEqual(parseModel(''), undefined);
  assert.strictEqual(parseModel('/model'), undefined);
  assert.strictEqual(parseModel('provider/'), undefined);
});

test('what was typed while a prompt was on its way stays in the composer', () => {
  const left = window.NexusComposer.leftAfterSending;
  assert.strictEqual(left('hello', 'hello'), '');
  assert.strictEqual(left('hello\nand more', 'hello'), 'and more');
  assert.strictEqual(left('hello more', 'hello'), ' more');
  assert.strictEqual(left('rewritten', 'hello'), 'rewritten');
});

test('init: directories without repeats, the default first; drafts that are text', () => {
  const { projectsFrom, draftsFrom } = window.NexusLifecycle;
  assert.deepStrictEqual(plain(projectsFrom({ directories: ['/a', '/b', '/a', 3], default_directory: '/c' })), {
    directories: ['/c', '/a', '/b'],
    preferred: '/c',
  });
  assert.deepStrictEqual(plain(projectsFrom({ directories: ['/a', '/b'], default_directory: '/b' })), { directories: ['/a', '/b'], preferred: '/b' });
  assert.deepStrictEqual(plain(projectsFrom({ directories: ['/a'], default_directory: '' })), { directories: ['/a'], preferred: '/a' });
  assert.deepStrictEqual(plain(projectsFrom({})), { directories: [], preferred: null });

  assert.deepStrictEqual(plain(draftsFrom({ drafts: { 'session:s': 'hi', 'new:/a': '', x: 5 }, max_draft_bytes: 262144 })), {
    drafts: { 'session:s': 'hi' },
    maxBytes: 262144,
  });
  assert.strictEqual(draftsFrom({ max_draft_bytes: -1 }).maxBytes, 0);
  assert.strictEqual(draftsFrom({ max_draft_bytes: 1.5 }).maxBytes, 0);
});

test('show: the view it names, else chat for a session, else none (keep the current view)', () => {
  const viewFrom = window.NexusLifecycle.viewFrom;
  assert.strictEqual(viewFrom({ view: 'logs' }), 'logs');
  assert.strictEqual(viewFrom({ view: 'settings', session: 'ses_1' }), 'settings');
  assert.strictEqual(viewFrom({ session: 'ses_1' }), 'chat');
  assert.strictEqual(viewFrom({ view: 'elsewhere', session: 'ses_1' }), 'chat');
  assert.strictEqual(viewFrom({ view: null, session: null }), null);
  assert.strictEqual(viewFrom({ session: '' }), null);
});
