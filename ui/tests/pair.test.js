// pair.js (the Pair view: pairing a phone, devices, sign-ins) and the
// settings page's remote password form, in the whole page as Rust drives it.
'use strict';

const test = require('node:test');
const assert = require('node:assert');
const { loadPage, loadWholePage, settle } = require('./support.js');

const HOME = '/home/u/app';
const INIT = { type: 'init', directories: [HOME], default_directory: HOME, drafts: {}, focus: { session: null }, max_draft_bytes: 1024, first_run: false };
const SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"><path d="M0 0h1v1H0z"/></svg>';
const QR = 'data:image/svg+xml;base64,' + Buffer.from(SVG).toString('base64');
const URL_ = 'https://192.168.1.20:4180/pair#abcDEF123_-';

function open(t) {
  const page = loadWholePage();
  t.after(() => page.window.close());
  page.deliver(INIT);
  return page;
}

function offer(fields) {
  return Object.assign({ url: URL_, expires_in: 300, fingerprint: 'AB:CD:EF', qr: QR, enabled: true, listen: '192.168.1.20:4180', loopback: false, tls: true }, fields);
}

function status(fields) {
  return Object.assign({ enabled: true, listen: '192.168.1.20:4180', tls: true, urls: [], fingerprint: null, password_set: false, devices: [], attempts: [] }, fields);
}

/** Opens the Pair view as `opencode-nexus open --page pair` does; its two calls. */
function showPair(page) {
  const from = page.sent.length;
  page.deliver({ type: 'show', token: 7, session: null, view: 'pair' });
  const calls = page.sent.slice(from).filter((m) => m.type === 'nexus');
  return calls;
}

const pure = loadPage({ scripts: ['dom.js', 'pages.js', 'pair.js'] });
test.after(() => pure.close());
const Pair = pure.NexusPair;

test('only an SVG data URL from Rust can become the QR image', () => {
  assert.strictEqual(Pair.isQrImage(QR), true);
  for (const bad of ['javascript:alert(1)', 'data:text/html;base64,PHNjcmlwdD4=', 'data:image/svg+xml,<svg onload=x>', QR + '"', 'https://x/qr.svg', null, 3]) {
    assert.strictEqual(Pair.isQrImage(bad), false, String(bad));
  }
});

test('the countdown reads m:ss and ends empty; results read as sentences', () => {
  assert.strictEqual(Pair.countdownText(300), 'Expires in 5:00');
  assert.strictEqual(Pair.countdownText(64.2), 'Expires in 1:05');
  assert.strictEqual(Pair.countdownText(9), 'Expires in 0:09');
  assert.strictEqual(Pair.countdownText(0), '');
  assert.strictEqual(Pair.countdownText(-3), '');
  assert.strictEqual(Pair.resultText('paired'), 'Paired with a code');
  assert.strictEqual(Pair.resultText('wrong_password'), 'Wrong password');
  assert.strictEqual(Pair.resultText('toString'), 'toString', 'no inherited names');
  assert.strictEqual(Pair.timeText('not a time'), 'not a time');
  assert.notStrictEqual(Pair.timeText('2026-12-03T08:17:34Z'), '');
});

test('notes: the gateway off, or on loopback only', () => {
  assert.deepStrictEqual(Pair.notesFor(offer({})).notes.length, 0);
  const off = Pair.notesFor(offer({ enabled: false }));
  assert.strictEqual(off.settings, true);
  assert.match(off.notes[0], /Remote access is off/);
  const local = Pair.notesFor(offer({ loopback: true, listen: '127.0.0.1:4180' }));
  assert.match(local.notes[0], /127\.0\.0\.1:4180/);
  assert.match(local.notes[0], /Reaching the gateway from a phone/);
});

test('showing the Pair view asks for a code and the account, and shows the code as an image and text', async (t) => {
  const page = open(t);
  const doc = page.document;
  const calls = showPair(page);
  assert.deepStrictEqual(
    calls.map((m) => JSON.stringify(m.call)),
    ['{"name":"remote_pair"}', '{"name":"remote_status"}']
  );
  assert.strictEqual(doc.getElementById('view-pair').hidden, false);
  assert.strictEqual(doc.getElementById('view-title').textContent, 'Pair a phone');
  assert.strictEqual(doc.getElementById('pair-loading').hidden, false);

  page.answer(calls[0], offer({}));
  await settle();
  const qr = doc.getElementById('pair-qr');
  assert.strictEqual(qr.hidden, false);
  assert.strictEqual(qr.getAttribute('src'), QR);
  assert.ok(qr.getAttribute('alt'));
  assert.strictEqual(doc.getElementById('pair-url').textContent, URL_);
  assert.strictEqual(doc.getElementById('pair-fingerprint').textContent, 'AB:CD:EF');
  assert.strictEqual(doc.getElementById('pair-fingerprint').hidden, false);
  assert.strictEqual(doc.getElementById('pair-expiry').textContent, 'Expires in 5:00');
  assert.strictEqual(doc.getElementById('pair-notes').hidden, true);

  // "New code" asks again and replaces what shows.
  const from = page.sent.length;
  doc.getElementById('pair-new').click();
  const again = page.sent.slice(from).filter((m) => m.type === 'nexus');
  assert.deepStrictEqual(again.map((m) => m.call.name), ['remote_pair']);
  page.answer(again[0], offer({ url: 'https://192.168.1.20:4180/pair#second', fingerprint: null, tls: true }));
  await settle();
  assert.strictEqual(doc.getElementById('pair-url').textContent, 'https://192.168.1.20:4180/pair#second');
  assert.strictEqual(doc.getElementById('pair-fingerprint').hidden, true);
  assert.match(doc.getElementById('pair-certificate').textContent, /first starts/);

  // Leaving and coming back makes a fresh code.
  page.deliver({ type: 'show', token: 8, session: null, view: 'chat' });
  assert.deepStrictEqual(showPair(page).map((m) => m.call.name), ['remote_pair', 'remote_status']);
});

test('an image that is not the SVG data URL is not shown; the address still is', async (t) => {
  const page = open(t);
  const calls = showPair(page);
  page.answer(calls[0], offer({ qr: 'javascript:alert(1)' }));
  await settle();
  const qr = page.document.getElementById('pair-qr');
  assert.strictEqual(qr.hidden, true);
  assert.strictEqual(qr.getAttribute('src'), null);
  assert.strictEqual(page.document.getElementById('pair-url').textContent, URL_);
});

test('with the gateway off or on loopback the page says so and offers Settings', async (t) => {
  const page = open(t);
  const doc = page.document;
  const calls = showPair(page);
  page.answer(calls[0], offer({ enabled: false, loopback: true, listen: '127.0.0.1:4180', fingerprint: null }));
  await settle();
  assert.strictEqual(doc.getElementById('pair-notes').hidden, false);
  const notes = doc.getElementById('pair-note-lines').textContent;
  assert.match(notes, /Remote access is off/);
  assert.match(notes, /listens on 127\.0\.0\.1:4180/);
  doc.getElementById('pair-open-settings').click();
  assert.strictEqual(doc.getElementById('view-settings').hidden, false);
  assert.strictEqual(doc.getElementById('view-pair').hidden, true);
});

test('devices each have a Sign out button; sign-ins show as text', async (t) => {
  const page = open(t);
  const doc = page.document;
  const calls = showPair(page);
  page.answer(calls[0], offer({}));
  page.answer(
    calls[1],
    status({
      devices: [
        { id: 'd1a2b3c4', name: 'Safari on iPhone', address: '192.168.1.7', via: 'pairing', created: '2026-12-03T08:00:00Z', last_seen: '2026-12-03T08:10:00Z' },
        { id: 'e5f6a7b8', name: '<img src=x onerror=alert(1)>', address: '10.0.0.2', via: 'password', created: '2026-12-03T08:00:00Z', last_seen: '2026-12-03T08:10:00Z' },
      ],
      attempts: [
        { time: '2026-12-03T08:10:00Z', address: '192.168.1.7', user_agent: 'Mozilla/5.0 <script>alert(2)</script>', result: 'paired' },
        { time: '2026-12-03T08:09:00Z', address: '10.0.0.9', user_agent: 'curl/8', result: 'wrong_password' },
      ],
    })
  );
  await settle();
  const devices = doc.querySelectorAll('#pair-devices li.device');
  assert.strictEqual(devices.length, 2);
  assert.match(devices[0].textContent, /Safari on iPhone/);
  assert.match(devices[0].textContent, /192\.168\.1\.7/);
  assert.strictEqual(devices[1].querySelector('.device-name').textContent, '<img src=x onerror=alert(1)>');
  assert.strictEqual(doc.querySelectorAll('#view-pair img').length, 1, 'only the QR image');
  assert.strictEqual(doc.querySelectorAll('#view-pair script').length, 0);
  assert.strictEqual(doc.getElementById('pair-revoke-all').hidden, false);
  const attempts = doc.querySelectorAll('#pair-attempts li');
  assert.strictEqual(attempts.length, 2);
  assert.match(attempts[0].textContent, /Paired with a code/);
  assert.match(attempts[0].textContent, /<script>alert\(2\)<\/script>/);
  assert.ok(attempts[1].classList.contains('is-refused'));

  // Sign out one device: its id goes to Rust, then the list is read again.
  let from = page.sent.length;
  const button = devices[0].querySelector('button');
  assert.match(button.getAttribute('aria-label'), /Sign out Safari on iPhone/);
  button.click();
  const revoke = page.sent.slice(from).filter((m) => m.type === 'nexus');
  assert.deepStrictEqual(revoke.map((m) => m.call), [{ name: 'remote_revoke', id: 'd1a2b3c4' }]);
  page.answer(revoke[0], { signed_out: 1 });
  await settle();
  assert.match(doc.getElementById('pair-devices-status').textContent, /Signed out/);
  assert.deepStrictEqual(
    page.sent.slice(from + 1).filter((m) => m.type === 'nexus').map((m) => m.call.name),
    ['remote_status']
  );

  // Every device at once: no id (the bridge leaves unset fields out).
  from = page.sent.length;
  doc.getElementById('pair-revoke-all').click();
  assert.deepStrictEqual(page.sent.slice(from).filter((m) => m.type === 'nexus')[0].call, { name: 'remote_revoke' });
});

test('the countdown and the polling run only while the Pair view shows', async (t) => {
  const page = open(t);
  // Only pair.js uses intervals: track the ones running.
  const running = new Set();
  const realSet = page.window.setInterval.bind(page.window);
  const realClear = page.window.clearInterval.bind(page.window);
  page.window.setInterval = function (fn, ms) {
    const id = realSet(fn, ms);
    running.add(id);
    return id;
  };
  page.window.clearInterval = function (id) {
    running.delete(id);
    realClear(id);
  };
  const calls = showPair(page);
  page.answer(calls[0], offer({}));
  await settle();
  assert.strictEqual(running.size, 2, 'the countdown and the status polling');
  page.deliver({ type: 'hidden' });
  assert.strictEqual(running.size, 0, 'nothing runs while hidden');
  const again = showPair(page);
  assert.deepStrictEqual(again.map((m) => m.call.name), ['remote_pair', 'remote_status']);
  page.answer(again[0], offer({}));
  await settle();
  assert.strictEqual(running.size, 2);
  page.deliver({ type: 'show', token: 10, session: null, view: 'settings' });
  assert.strictEqual(running.size, 0, 'nothing runs on another view');
});

test('the remote password: typed twice, checked, sent once, cleared when set, never shown', async (t) => {
  const page = open(t);
  const doc = page.document;
  page.deliver({ type: 'show', token: 9, session: null, view: 'settings' });
  const names = page.calls().map((m) => m.call.name);
  assert.ok(names.includes('remote_status') && names.includes('settings'), String(names));
  // The form has a control for each remote key.
  for (const key of ['remote.enabled', 'remote.listen', 'remote.tls', 'remote.max_clients', 'remote.hosts']) {
    assert.ok(doc.querySelector(`#settings-form [data-key="${key}"]`), key);
  }
  const password = doc.getElementById('remote-password');
  const again = doc.getElementById('remote-password-again');
  const form = doc.getElementById('remote-password-form');
  assert.strictEqual(password.type, 'password');
  assert.strictEqual(password.dataset.key, undefined, 'not a setting of the file');
  const submit = () => form.dispatchEvent(new page.window.Event('submit', { bubbles: true, cancelable: true }));

  let from = page.sent.length;
  password.value = 'correct horse battery';
  again.value = 'correct horse batterx';
  submit();
  assert.deepStrictEqual(page.sent.slice(from), [], 'two different passwords are not sent');
  assert.match(doc.getElementById('remote-password-error').textContent, /differ/);
  again.value = 'short';
  password.value = 'short';
  submit();
  assert.deepStrictEqual(page.sent.slice(from), [], 'a short one is not sent');
  assert.match(doc.getElementById('remote-password-error').textContent, /too short/);

  password.value = 'correct horse battery';
  again.value = 'correct horse battery';
  submit();
  const sent = page.sent.slice(from).filter((m) => m.type === 'nexus');
  assert.deepStrictEqual(sent.map((m) => m.call), [{ name: 'set_remote_password', password: 'correct horse battery' }]);
  submit();
  assert.strictEqual(page.sent.slice(from).filter((m) => m.type === 'nexus').length, 1, 'once while it waits');
  page.deliver({ type: 'confirming', id: sent[0].id, keys: ['remote.password'] });
  const statusNode = doc.getElementById('remote-password-status');
  assert.match(statusNode.textContent, /Confirm the new password in the dialog/);
  assert.doesNotMatch(doc.getElementById('settings-status').textContent, /Confirm/, 'the settings status is not the password’s');

  // Cancelled: nothing set, the fields stay for another try.
  page.answer(sent[0], { set: false, cancelled: true, error: 'You did not confirm the change; the remote password was not changed' });
  await settle();
  assert.match(statusNode.textContent, /Not changed: You did not confirm/);
  assert.strictEqual(password.value, 'correct horse battery');

  // Confirmed: set, the fields are emptied, the page never shows it.
  from = page.sent.length;
  submit();
  const second = page.sent.slice(from).filter((m) => m.type === 'nexus')[0];
  page.answer(second, { set: true, signed_out: 2 });
  await settle();
  assert.match(statusNode.textContent, /Remote password set; 2 devices signed out/);
  assert.strictEqual(password.value, '');
  assert.strictEqual(again.value, '');
  assert.ok(!doc.body.textContent.includes('correct horse battery'));

  // "Pair a phone…" opens the Pair view.
  doc.getElementById('settings-pair').click();
  assert.strictEqual(doc.getElementById('view-pair').hidden, false);
});

test('passwordProblem follows Rust’s rules: characters, not bytes, and at most 1024 bytes', (t) => {
  const window = loadPage({ scripts: ['dom.js', 'pages.js', 'settings.js'] });
  t.after(() => window.close());
  const problem = window.NexusSettings.passwordProblem;
  assert.strictEqual(problem('1234567890', '1234567890'), '');
  assert.match(problem('123456789', '123456789'), /too short \(9 characters/);
  assert.match(problem('ééééééééé', 'ééééééééé'), /too short/, 'nine characters are too few whatever their bytes');
  assert.strictEqual(problem('éééééééééé', 'éééééééééé'), '');
  assert.match(problem('x'.repeat(1025), 'x'.repeat(1025)), /too long/);
  assert.match(problem('', ''), /Type/);
});
