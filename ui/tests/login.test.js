// login.js, the remote gateway's sign-in page (/login and /pair): how the
// gateway's answers read (pure), and the page itself in jsdom with a fake
// fetch — the password form, the pairing token taken out of the address bar.
'use strict';

const test = require('node:test');
const assert = require('node:assert');
const { LOGIN_HTML, loadPage, settle } = require('./support.js');

const window = loadPage({ scripts: ['login.js'] });
test.after(() => window.close());
const Login = window.NexusLogin;

// ------------------------------------------------------------------ pure rules

test('Retry-After: seconds or an HTTP date, 60 s when missing, within 1 s–1 h', () => {
  const now = Date.parse('2025-01-01T00:00:00Z');
  assert.strictEqual(Login.retrySeconds('30', now), 30);
  assert.strictEqual(Login.retrySeconds(' 5 ', now), 5);
  assert.strictEqual(Login.retrySeconds('Wed, 01 Jan 2025 00:01:30 GMT', now), 90);
  assert.strictEqual(Login.retrySeconds(null, now), 60);
  assert.strictEqual(Login.retrySeconds('soon', now), 60);
  assert.strictEqual(Login.retrySeconds('0', now), 1);
  assert.strictEqual(Login.retrySeconds('999999', now), 3600);
  assert.strictEqual(Login.retrySeconds('Tue, 31 Dec 2024 00:00:00 GMT', now), 1);
});

test('the pairing token is the fragment, and only /pair pairs', () => {
  assert.strictEqual(Login.tokenFromHash('#abc_DEF-123'), 'abc_DEF-123');
  assert.strictEqual(Login.tokenFromHash(''), '');
  assert.strictEqual(Login.tokenFromHash('#'), '');
  assert.strictEqual(Login.tokenFromHash('#a%20b'), 'a b');
  assert.strictEqual(Login.tokenFromHash('#%E0%A4%A'), '%E0%A4%A');
  assert.strictEqual(Login.isPairPath('/pair'), true);
  assert.strictEqual(Login.isPairPath('/pair/'), true);
  assert.strictEqual(Login.isPairPath('/login'), false);
  assert.strictEqual(Login.isPairPath('/pairs'), false);
});

test('what the gateway’s answers to /api/login and /api/pair mean', () => {
  const plain = (o) => JSON.parse(JSON.stringify(o));
  assert.deepStrictEqual(plain(Login.loginOutcome(200)), { kind: 'signed-in' });
  assert.deepStrictEqual(plain(Login.loginOutcome(401)), { kind: 'error', message: 'Wrong password.' });
  assert.deepStrictEqual(plain(Login.loginOutcome(429, '42')), {
    kind: 'wait',
    message: 'Too many attempts. Try again in 42 seconds.',
    waitSeconds: 42,
  });
  assert.strictEqual(Login.loginOutcome(429, '1').message, 'Too many attempts. Try again in 1 second.');
  assert.strictEqual(Login.loginOutcome(500).message, 'Signing in failed (HTTP 500). Try again.');
  assert.deepStrictEqual(plain(Login.pairOutcome(200)), { kind: 'signed-in' });
  assert.strictEqual(
    Login.pairOutcome(401).message,
    'This pairing code was already used or has expired. Make a new one on your computer with opencode-nexus remote pair.'
  );
  assert.strictEqual(Login.pairOutcome(429, '10').kind, 'wait');
  assert.match(Login.networkOutcome().message, /^Couldn’t reach your computer\./);
});

// ------------------------------------------------------------------ the page

/**
 * login.html at `url` with a fetch that answers from `answers` (a list of
 * { status, retryAfter } or 'offline'), recording each request.
 */
function openLogin(t, url, answers) {
  const requests = [];
  const page = loadPage({
    html: LOGIN_HTML,
    url: url,
    scripts: ['login.js'],
    setup: function (w) {
      w.fetch = function (path, init) {
        requests.push({ path: path, method: init.method, type: init.headers['Content-Type'], body: JSON.parse(init.body) });
        const answer = answers.shift();
        if (answer === 'offline' || !answer) return Promise.reject(new TypeError('Failed to fetch'));
        return Promise.resolve({
          status: answer.status,
          headers: { get: (name) => (name.toLowerCase() === 'retry-after' ? answer.retryAfter || null : null) },
        });
      };
    },
  });
  t.after(() => page.close());
  const navigated = [];
  page.NexusLogin.navigate = (path) => navigated.push(path);
  const doc = page.document;
  return {
    window: page,
    doc: doc,
    requests: requests,
    navigated: navigated,
    error: () => doc.getElementById('login-error'),
    submit: function (password) {
      doc.getElementById('login-password').value = password;
      doc.getElementById('login-form').dispatchEvent(new page.Event('submit', { bubbles: true, cancelable: true }));
    },
  };
}

test('the page is labelled, and its error line is an alert', () => {
  const page = loadPage({ html: LOGIN_HTML, scripts: [] });
  const doc = page.document;
  assert.strictEqual(doc.documentElement.lang, 'en');
  const input = doc.getElementById('login-password');
  assert.strictEqual(input.type, 'password');
  assert.strictEqual(input.getAttribute('autocomplete'), 'current-password');
  assert.strictEqual(doc.querySelector('label[for="login-password"]').textContent, 'Password');
  assert.strictEqual(doc.getElementById('login-error').getAttribute('role'), 'alert');
  assert.strictEqual(doc.getElementById('pair-status').getAttribute('role'), 'status');
  assert.strictEqual(doc.getElementById('login-submit').type, 'submit');
  page.close();
});

test('/login: a wrong password, then the right one', async (t) => {
  const page = openLogin(t, 'https://box.local:4443/login', [{ status: 401 }, { status: 200 }]);
  assert.strictEqual(page.doc.activeElement.id, 'login-password');
  page.submit('');
  assert.strictEqual(page.error().textContent, 'Enter the password.');
  assert.strictEqual(page.requests.length, 0);

  page.submit('hunter2');
  assert.strictEqual(page.doc.getElementById('login-submit').disabled, true, 'busy while asking');
  await settle();
  assert.deepStrictEqual(JSON.parse(JSON.stringify(page.requests)), [
    { path: '/api/login', method: 'POST', type: 'application/json', body: { password: 'hunter2' } },
  ]);
  assert.strictEqual(page.error().textContent, 'Wrong password.');
  const input = page.doc.getElementById('login-password');
  assert.strictEqual(input.getAttribute('aria-invalid'), 'true');
  assert.strictEqual(input.value, '', 'the wrong password is cleared');
  assert.strictEqual(page.doc.getElementById('login-submit').disabled, false);
  assert.deepStrictEqual(page.navigated, []);

  page.submit('correct horse');
  await settle();
  assert.deepStrictEqual(page.navigated, ['/']);
});

test('/login: too many attempts keep the button off for Retry-After seconds', async (t) => {
  const page = openLogin(t, 'https://box.local:4443/login', [{ status: 429, retryAfter: '1' }]);
  page.submit('guess');
  await settle();
  const button = page.doc.getElementById('login-submit');
  assert.strictEqual(page.error().textContent, 'Too many attempts. Try again in 1 second.');
  assert.strictEqual(button.disabled, true);
  page.submit('another'); // ignored while waiting
  assert.strictEqual(page.requests.length, 1);
  await new Promise((resolve) => setTimeout(resolve, 1100));
  assert.strictEqual(button.disabled, false);
  assert.strictEqual(page.error().textContent, '');
});

test('/login: no network says so', async (t) => {
  const page = openLogin(t, 'https://box.local:4443/login', ['offline']);
  page.submit('pw');
  await settle();
  assert.match(page.error().textContent, /^Couldn’t reach your computer\./);
  assert.strictEqual(page.doc.getElementById('login-submit').disabled, false);
});

test('/pair: the token leaves the address bar at once and pairs the device', async (t) => {
  const page = openLogin(t, 'https://box.local:4443/pair#tok_123', [{ status: 200 }]);
  assert.strictEqual(page.window.location.href, 'https://box.local:4443/pair');
  assert.strictEqual(page.window.location.hash, '');
  assert.strictEqual(page.doc.getElementById('pair-status').textContent, 'Pairing this device…');
  assert.strictEqual(page.doc.getElementById('login-form').hidden, true);
  await settle();
  assert.deepStrictEqual(JSON.parse(JSON.stringify(page.requests)), [
    { path: '/api/pair', method: 'POST', type: 'application/json', body: { token: 'tok_123' } },
  ]);
  assert.deepStrictEqual(page.navigated, ['/']);
});

test('/pair: a used or expired code says how to make one, and offers the password', async (t) => {
  const page = openLogin(t, 'https://box.local:4443/pair#old', [{ status: 401 }, { status: 200 }]);
  await settle();
  assert.strictEqual(
    page.error().textContent,
    'This pairing code was already used or has expired. Make a new one on your computer with opencode-nexus remote pair.'
  );
  assert.strictEqual(page.error().querySelector('code').textContent, 'opencode-nexus remote pair');
  assert.strictEqual(page.doc.getElementById('login-form').hidden, false);
  assert.strictEqual(page.doc.getElementById('pair-status').hidden, true);
  assert.deepStrictEqual(page.navigated, []);
  page.submit('pw');
  await settle();
  assert.strictEqual(page.requests[1].path, '/api/login');
  assert.deepStrictEqual(page.navigated, ['/']);
});

test('/pair without a code asks for the password', async (t) => {
  const page = openLogin(t, 'https://box.local:4443/pair', []);
  await settle();
  assert.strictEqual(page.requests.length, 0);
  assert.match(page.error().textContent, /^This pairing link has no code\./);
  assert.strictEqual(page.doc.getElementById('login-form').hidden, false);
});
