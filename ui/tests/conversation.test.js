// The conversation model (ui/conversation.js): a session's messages and
// parts built from server events and loaded pages. Pure data, no DOM.
'use strict';

const test = require('node:test');
const assert = require('node:assert');
const { Conversation, withLoggedDeltas } = require('../conversation.js');

const SESSION = 'ses_1';

function message(id, role, extra) {
  return Object.assign({ id: id, sessionID: SESSION, role: role, time: { created: 1 } }, extra);
}

function textPart(id, messageId, text) {
  return { id: id, messageID: messageId, sessionID: SESSION, type: 'text', text: text };
}

/** The conversation as [role, [part texts]] per message, oldest first. */
function transcript(conversation) {
  return conversation.order.map(function (id) {
    const entry = conversation.entries.get(id);
    return [entry.info.role, entry.partIds.map((partId) => entry.parts.get(partId).text)];
  });
}

test('a conversation is built from message, part and delta events, in id order', () => {
  const c = new Conversation(SESSION);
  c.upsertMessage(message('msg_2', 'assistant', { parentID: 'msg_1' }));
  c.upsertMessage(message('msg_1', 'user'));
  c.upsertPart(textPart('prt_1', 'msg_1', 'What is 2+2?'));
  c.upsertPart(textPart('prt_3', 'msg_2', ''));
  c.upsertPart(textPart('prt_2', 'msg_2', 'Let me think. '));
  assert.strictEqual(c.appendDelta('msg_2', 'prt_3', 'text', 'It is '), true);
  assert.strictEqual(c.appendDelta('msg_2', 'prt_3', 'text', '4.'), true);

  assert.deepStrictEqual(transcript(c), [
    ['user', ['What is 2+2?']],
    ['assistant', ['Let me think. ', 'It is 4.']],
  ]);
  assert.strictEqual(c.isEmpty(), false);
  assert.strictEqual(c.lastEntry().info.id, 'msg_2');
});

test('a delta for a part not seen is dropped, and so is one that is not text', () => {
  const c = new Conversation(SESSION);
  c.upsertMessage(message('msg_1', 'assistant'));
  assert.strictEqual(c.appendDelta('msg_1', 'prt_x', 'text', 'lost'), false);
  c.upsertPart(textPart('prt_1', 'msg_1', 'a'));
  assert.strictEqual(c.appendDelta('msg_1', 'prt_1', 'text', 42), false);
  assert.strictEqual(c.appendDelta('msg_1', 'prt_1', null, 'b'), false);
  assert.deepStrictEqual(transcript(c), [['assistant', ['a']]]);
});

test('a part that outruns its message gets a stub that the message info then replaces', () => {
  const c = new Conversation(SESSION);
  c.upsertPart(textPart('prt_1', 'msg_1', 'early'));
  assert.strictEqual(c.entries.get('msg_1').info.role, 'assistant');
  c.upsertMessage(message('msg_1', 'assistant', { modelID: 'm' }));
  assert.strictEqual(c.entries.get('msg_1').info.modelID, 'm');
  assert.deepStrictEqual(transcript(c), [['assistant', ['early']]]);
});

test('removing parts and messages updates the model and marks what changed', () => {
  const c = new Conversation(SESSION);
  c.upsertMessage(message('msg_1', 'user'));
  c.upsertPart(textPart('prt_1', 'msg_1', 'one'));
  c.upsertPart(textPart('prt_2', 'msg_1', 'two'));
  c.takeDirty();
  c.removePart('msg_1', 'prt_1');
  let dirty = c.takeDirty();
  assert.ok(dirty.messages.has('msg_1'));
  assert.deepStrictEqual(transcript(c), [['user', ['two']]]);
  c.removeMessage('msg_1');
  dirty = c.takeDirty();
  assert.strictEqual(dirty.order, true);
  assert.strictEqual(c.isEmpty(), true);
  // Removing what is not there marks nothing.
  c.removeMessage('msg_1');
  assert.strictEqual(c.takeDirty().order, false);
});

test('the dirty marks name the parts that changed, and deltas separately', () => {
  const c = new Conversation(SESSION);
  c.upsertMessage(message('msg_1', 'assistant'));
  c.upsertPart(textPart('prt_1', 'msg_1', ''));
  c.takeDirty();
  c.appendDelta('msg_1', 'prt_1', 'text', 'hi');
  const dirty = c.takeDirty();
  assert.deepStrictEqual(Array.from(dirty.parts), [['prt_1', 'msg_1']]);
  assert.deepStrictEqual(Array.from(dirty.deltaParts), ['prt_1']);
  const clean = c.takeDirty();
  assert.strictEqual(clean.parts.size, 0);
  assert.strictEqual(clean.reset, false);
});

test('the optimistic prompt goes when the server echoes the same text or answers it', () => {
  const c = new Conversation(SESSION);
  c.setPendingUser('hello there ');
  assert.deepStrictEqual(c.pendingUser, { text: 'hello there ' });
  assert.strictEqual(c.takeDirty().pendingUser, true);
  c.upsertMessage(message('msg_1', 'user'));
  c.upsertPart(textPart('prt_1', 'msg_1', 'something else'));
  assert.notStrictEqual(c.pendingUser, null);
  c.upsertPart(textPart('prt_2', 'msg_1', '  hello there'));
  assert.strictEqual(c.pendingUser, null);

  c.setPendingUser('second');
  c.upsertMessage(message('msg_2', 'assistant', { parentID: 'msg_1' }));
  assert.strictEqual(c.pendingUser, null, 'an answer to a message we hold means the prompt arrived');
});

test('the newest page replaces the model, keeps what events changed meanwhile, and adds the missed deltas', () => {
  const c = new Conversation(SESSION);
  c.beginLoad();
  // While the page is in flight: two deltas to a part, and a new message.
  c.appendDelta('msg_2', 'prt_2', 'text', 'Hel');
  c.appendDelta('msg_2', 'prt_2', 'text', 'lo!');
  c.upsertMessage(message('msg_3', 'user'));
  c.upsertPart(textPart('prt_3', 'msg_3', 'next question'));
  // The page was read after the first delta only.
  c.applyLatestPage(
    [
      { info: message('msg_1', 'user'), parts: [textPart('prt_1', 'msg_1', 'hi')] },
      { info: message('msg_2', 'assistant'), parts: [textPart('prt_2', 'msg_2', 'Hel')] },
    ],
    'cursor_older'
  );
  assert.deepStrictEqual(transcript(c), [
    ['user', ['hi']],
    ['assistant', ['Hello!']],
    ['user', ['next question']],
  ]);
  assert.strictEqual(c.before, 'cursor_older');
  assert.strictEqual(c.loaded, true);
  assert.strictEqual(c.takeDirty().reset, true);
});

test('a reload drops the messages and parts the server no longer has', () => {
  const c = new Conversation(SESSION);
  c.applyLatestPage(
    [
      { info: message('msg_1', 'user'), parts: [textPart('prt_1', 'msg_1', 'a'), textPart('prt_2', 'msg_1', 'b')] },
      { info: message('msg_2', 'assistant'), parts: [textPart('prt_3', 'msg_2', 'c')] },
    ],
    null
  );
  c.beginLoad();
  c.applyLatestPage([{ info: message('msg_1', 'user'), parts: [textPart('prt_2', 'msg_1', 'b')] }], null);
  assert.deepStrictEqual(transcript(c), [['user', ['b']]]);
  assert.strictEqual(c.before, null);
});

test('a text that streamed further than the page stays', () => {
  const c = new Conversation(SESSION);
  c.applyLatestPage([{ info: message('msg_1', 'assistant'), parts: [textPart('prt_1', 'msg_1', 'abc')] }], null);
  c.appendDelta('msg_1', 'prt_1', 'text', 'def');
  c.applyLatestPage([{ info: message('msg_1', 'assistant'), parts: [textPart('prt_1', 'msg_1', 'abc')] }], null);
  assert.deepStrictEqual(transcript(c), [['assistant', ['abcdef']]]);
});

test('an older page goes on top and moves the cursor; messages already held are not duplicated', () => {
  const c = new Conversation(SESSION);
  c.applyLatestPage([{ info: message('msg_5', 'user'), parts: [textPart('prt_5', 'msg_5', 'new')] }], 'c1');
  c.takeDirty();
  c.applyOlderPage(
    [
      { info: message('msg_1', 'user'), parts: [textPart('prt_1', 'msg_1', 'old')] },
      { info: message('msg_5', 'user'), parts: [textPart('prt_9', 'msg_5', 'dup')] },
    ],
    null
  );
  assert.deepStrictEqual(transcript(c), [
    ['user', ['old']],
    ['user', ['new']],
  ]);
  assert.strictEqual(c.before, null);
  assert.strictEqual(c.takeDirty().prepended, true);
});

test('a failed load stops tracking events for the merge', () => {
  const c = new Conversation(SESSION);
  c.beginLoad();
  assert.strictEqual(c.appendDelta('msg_1', 'prt_1', 'text', 'x'), true, 'kept for the load');
  c.abandonLoad();
  assert.strictEqual(c.appendDelta('msg_1', 'prt_1', 'text', 'y'), false);
});

test('withLoggedDeltas adds only the deltas the snapshot does not contain, per field', () => {
  const part = { id: 'p', text: 'ab', other: 1 };
  const log = [
    { field: 'text', delta: 'a' },
    { field: 'text', delta: 'b' },
    { field: 'text', delta: 'c' },
    { field: 'reasoning', delta: 'r' },
  ];
  assert.deepStrictEqual(withLoggedDeltas(part, log), { id: 'p', text: 'abc', other: 1, reasoning: 'r' });
  assert.deepStrictEqual(part, { id: 'p', text: 'ab', other: 1 }, 'the snapshot is not changed');
  // A snapshot read before every delta gets them all.
  assert.strictEqual(withLoggedDeltas({ text: '' }, log.slice(0, 3)).text, 'abc');
});
