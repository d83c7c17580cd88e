/*
 * login.js — the remote gateway's sign-in page (login.html), served at both
 * /login and /pair. The contract is ui/README.md ("Remote: the gateway").
 *
 * /login: the password form → POST /api/login {"password"}; 200 → the chat
 * (/), 401 wrong password, 429 too many attempts (the button waits out
 * Retry-After).
 * /pair#<token>: the token is taken from the fragment and removed from the
 * address bar at once (history.replaceState), then POST /api/pair
 * {"token"}; 200 → the chat, otherwise why, and the password form.
 *
 * Exposes window.NexusLogin = { retrySeconds(header, now), tokenFromHash(hash),
 * isPairPath(pathname), loginOutcome(status, retryAfter), pairOutcome(status,
 * retryAfter), networkOutcome(), start(), navigate(path) } — the pure
 * parts for the tests, and the one way this page leaves (tests replace it).
 */
(function () {
  'use strict';

  const DEFAULT_RETRY_SECONDS = 60; // a 429 without a readable Retry-After
  const MAX_RETRY_SECONDS = 3600;
  const PAIR_COMMAND = 'opencode-nexus remote pair'; // shown as code in messages

  /** Seconds to wait from a Retry-After header (delay-seconds or an HTTP date), 1–3600. */
  function retrySeconds(header, now) {
    const text = typeof header === 'string' ? header.trim() : '';
    let seconds = NaN;
    if (/^\d+$/.test(text)) {
      seconds = Number(text);
    } else if (text) {
      const at = Date.parse(text);
      if (Number.isFinite(at)) seconds = Math.ceil((at - (Number.isFinite(now) ? now : Date.now())) / 1000);
    }
    if (!Number.isFinite(seconds)) seconds = DEFAULT_RETRY_SECONDS;
    return Math.min(MAX_RETRY_SECONDS, Math.max(1, seconds));
  }

  /** The pairing token in a location.hash ('#abc' → 'abc'; '' when none). */
  function tokenFromHash(hash) {
    const text = typeof hash === 'string' ? hash.replace(/^#/, '').trim() : '';
    try {
      return decodeURIComponent(text);
    } catch (_) {
      return text;
    }
  }

  function isPairPath(pathname) {
    return /^\/pair\/?$/.test(String(pathname || ''));
  }

  function tooMany(retryAfter) {
    const seconds = retrySeconds(retryAfter);
    return {
      kind: 'wait',
      message: 'Too many attempts. Try again in ' + seconds + (seconds === 1 ? ' second.' : ' seconds.'),
      waitSeconds: seconds,
    };
  }

  /**
   * What an answer to POST /api/login means: { kind: 'signed-in' } or
   * { kind: 'error' | 'wait', message, waitSeconds? }.
   */
  function loginOutcome(status, retryAfter) {
    if (status === 200 || status === 204) return { kind: 'signed-in' };
    if (status === 401) return { kind: 'error', message: 'Wrong password.' };
    if (status === 429) return tooMany(retryAfter);
    return { kind: 'error', message: 'Signing in failed (HTTP ' + status + '). Try again.' };
  }

  /** What an answer to POST /api/pair means (failing pairings show the password form). */
  function pairOutcome(status, retryAfter) {
    if (status === 200 || status === 204) return { kind: 'signed-in' };
    if (status === 401) {
      return {
        kind: 'error',
        message: 'This pairing code was already used or has expired. Make a new one on your computer with ' + PAIR_COMMAND + '.',
      };
    }
    if (status === 429) return tooMany(retryAfter);
    return { kind: 'error', message: 'Pairing failed (HTTP ' + status + '). Make a new code on your computer with ' + PAIR_COMMAND + '.' };
  }

  /** fetch itself failed: no network, or the computer is off. */
  function networkOutcome() {
    return { kind: 'error', message: 'Couldn’t reach your computer. Check this device’s connection and that Nexus is running, then try again.' };
  }

  function postJson(path, body) {
    return window.fetch(path, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
    });
  }

  /** Wires the page: the form, and at /pair the pairing itself. */
  function start() {
    const byId = document.getElementById.bind(document);
    const form = byId('login-form');
    const password = byId('login-password');
    const submit = byId('login-submit');
    const error = byId('login-error');
    const status = byId('pair-status');
    let busy = false;
    let waitTimer = 0;

    /** The error line; the pairing command in it shows as code. */
    function showError(text) {
      const at = text ? text.indexOf(PAIR_COMMAND) : -1;
      if (at === -1) {
        error.textContent = text || '';
      } else {
        const code = document.createElement('code');
        code.textContent = PAIR_COMMAND;
        error.replaceChildren(text.slice(0, at), code, text.slice(at + PAIR_COMMAND.length));
      }
      if (text) {
        password.setAttribute('aria-invalid', 'true');
        password.setAttribute('aria-describedby', 'login-hint login-error');
      } else {
        password.removeAttribute('aria-invalid');
        password.setAttribute('aria-describedby', 'login-hint');
      }
    }

    function setBusy(value) {
      busy = value;
      submit.disabled = value || waitTimer !== 0;
      form.setAttribute('aria-busy', value ? 'true' : 'false');
    }

    /** A 429: the button waits for `seconds`, then the message goes. */
    function waitOut(seconds) {
      clearTimeout(waitTimer);
      submit.disabled = true;
      waitTimer = setTimeout(function () {
        waitTimer = 0;
        submit.disabled = busy;
        showError('');
      }, seconds * 1000);
    }

    function apply(outcome) {
      if (outcome.kind === 'signed-in') {
        window.NexusLogin.navigate('/');
        return;
      }
      form.hidden = false;
      status.hidden = true;
      status.textContent = '';
      showError(outcome.message);
      if (outcome.kind === 'wait') waitOut(outcome.waitSeconds);
      password.focus();
    }

    form.addEventListener('submit', function (event) {
      event.preventDefault();
      if (busy || waitTimer) return;
      const value = password.value;
      if (!value) {
        showError('Enter the password.');
        password.focus();
        return;
      }
      setBusy(true);
      postJson('/api/login', { password: value })
        .then(
          function (response) {
            const outcome = loginOutcome(response.status, response.headers.get('Retry-After'));
            if (outcome.kind !== 'signed-in') password.value = '';
            return outcome;
          },
          function () {
            return networkOutcome();
          }
        )
        .then(function (outcome) {
          setBusy(false);
          apply(outcome);
        });
    });

    if (!isPairPath(window.location.pathname)) {
      password.focus();
      return;
    }

    // Pairing: the token must not stay in the address bar (or the history).
    const token = tokenFromHash(window.location.hash);
    window.history.replaceState(null, '', '/pair');
    if (!token) {
      showError('This pairing link has no code. Make a new one on your computer with ' + PAIR_COMMAND + '.');
      return;
    }
    form.hidden = true;
    status.hidden = false;
    status.textContent = 'Pairing this device…';
    setBusy(true);
    postJson('/api/pair', { token: token })
      .then(
        function (response) {
          return pairOutcome(response.status, response.headers.get('Retry-After'));
        },
        function () {
          return networkOutcome();
        }
      )
      .then(function (outcome) {
        setBusy(false);
        apply(outcome);
      });
  }

  window.NexusLogin = {
    retrySeconds: retrySeconds,
    tokenFromHash: tokenFromHash,
    isPairPath: isPairPath,
    loginOutcome: loginOutcome,
    pairOutcome: pairOutcome,
    networkOutcome: networkOutcome,
    start: start,
    /** Leaves for `path` without keeping this page in the history (tests replace this). */
    navigate: function (path) {
      window.location.replace(path);
    },
  };

  if (document.getElementById('login-form')) start();
})();
