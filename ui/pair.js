/*
 * pair.js — the Pair view (#view-pair): pairing a phone with Nexus's remote
 * gateway, and who is signed in from elsewhere.
 *
 * Showing the view asks for a fresh one-time code (`remote_pair`) and the
 * account's state (`remote_status`, read again every few seconds while the
 * view shows, so a phone that pairs appears at once). The code shows as a
 * QR image (an <img> whose src is the `data:image/svg+xml;base64,…` URL Rust
 * made: the page's CSP allows data: images, and no markup is ever parsed
 * from text), the address as text with a Copy button, the certificate's
 * fingerprint to compare, and a countdown; "New code" asks for another.
 * Notes say when the gateway is off (with a button to Settings) or listens
 * on this computer only. Each signed-in device has a "Sign out" button
 * (`remote_revoke`). Everything from Rust goes in as text.
 *
 * Exposes window.NexusPair = { STATUS_EVERY_MS, RESULTS, isQrImage(url),
 * countdownText(seconds), resultText(result), timeText(iso), notesFor(offer),
 * create(host) } → { show(), leave(), stop(), focus() }, where host =
 * { call(name, fields) → Promise, announce(text), showView(name) }.
 */
(function () {
  'use strict';

  const Pages = window.NexusPages;
  const el = window.NexusDom.el;
  const byId = window.NexusDom.byId;
  const isString = window.NexusDom.isString;

  const STATUS_EVERY_MS = 5000; // the devices and sign-ins are read again this often while shown
  const TICK_MS = 1000;
  const QR_PREFIX = 'data:image/svg+xml;base64,';
  const README_SECTION = '“Reaching the gateway from a phone” in the README';

  /** What each sign-in result means, for people. */
  const RESULTS = {
    ok: 'Signed in with the password',
    paired: 'Paired with a code',
    wrong_password: 'Wrong password',
    locked: 'Refused: too many attempts, waiting',
    no_password: 'Refused: no remote password is set',
    bad_pairing: 'Refused: a used or expired pairing code',
  };

  /** Only the QR image Rust made may become an <img> src: an SVG as base64, nothing else. */
  function isQrImage(url) {
    return isString(url) && url.startsWith(QR_PREFIX) && /^[A-Za-z0-9+/]+={0,2}$/.test(url.slice(QR_PREFIX.length));
  }

  /** "Expires in 4:05"; "" once it has expired. */
  function countdownText(seconds) {
    if (!(seconds > 0)) return '';
    const whole = Math.ceil(seconds);
    const minutes = Math.floor(whole / 60);
    const rest = whole % 60;
    return 'Expires in ' + minutes + ':' + (rest < 10 ? '0' : '') + rest;
  }

  function resultText(result) {
    return Object.prototype.hasOwnProperty.call(RESULTS, result) ? RESULTS[result] : isString(result) ? result : 'Unknown';
  }

  /** An RFC 3339 time from Rust in the reader's own clock; anything else as it came. */
  function timeText(iso) {
    if (!isString(iso)) return '';
    const time = new Date(iso);
    if (isNaN(time.getTime())) return iso;
    return time.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
  }

  /**
   * What the page must say about an offer before anyone scans it: the
   * gateway is off, or it listens where only this computer reaches it.
   * `settings` tells whether to offer the Settings button.
   */
  function notesFor(offer) {
    const notes = [];
    if (!offer || typeof offer !== 'object') return { notes: notes, settings: false };
    if (offer.enabled === false) {
      notes.push('Remote access is off, so your phone cannot connect yet. Turn on “Let my phone reach OpenCode” under Remote access in Settings.');
    }
    if (offer.loopback === true) {
      const where = isString(offer.listen) && offer.listen ? offer.listen : 'a loopback address';
      notes.push(
        'The gateway listens on ' +
          where +
          ', which only this computer reaches. A phone needs a tunnel (Tailscale, SSH, Cloudflare Tunnel) or this computer’s LAN address as the listen address: see ' +
          README_SECTION +
          '.'
      );
    }
    return { notes: notes, settings: notes.length > 0 };
  }

  function create(host) {
    const dom = {
      view: byId('view-pair'),
      notes: byId('pair-notes'),
      noteLines: byId('pair-note-lines'),
      openSettings: byId('pair-open-settings'),
      loading: byId('pair-loading'),
      code: byId('pair-code'),
      qr: byId('pair-qr'),
      url: byId('pair-url'),
      copyUrl: byId('pair-copy-url'),
      expiry: byId('pair-expiry'),
      newCode: byId('pair-new'),
      certificate: byId('pair-certificate'),
      fingerprint: byId('pair-fingerprint'),
      error: byId('pair-error'),
      devices: byId('pair-devices'),
      devicesEmpty: byId('pair-devices-empty'),
      revokeAll: byId('pair-revoke-all'),
      devicesStatus: byId('pair-devices-status'),
      attempts: byId('pair-attempts'),
      attemptsEmpty: byId('pair-attempts-empty'),
    };

    let active = false; // the view is on screen
    let offerSeq = 0;
    let statusSeq = 0;
    let asking = false; // a remote_pair on its way
    let expiresAt = 0; // Date.now() when the code on screen expires (0: none)
    let ticker = 0;
    let poller = 0;

    // ------------------------------------------------------------ the code

    function newCode() {
      if (asking) return;
      asking = true;
      const seq = ++offerSeq;
      dom.newCode.setAttribute('aria-disabled', 'true');
      dom.error.textContent = '';
      if (!expiresAt) dom.loading.hidden = false;
      host
        .call('remote_pair', {})
        .then(function (offer) {
          if (seq !== offerSeq) return;
          renderOffer(offer && typeof offer === 'object' ? offer : {});
        })
        .catch(function (error) {
          if (seq !== offerSeq) return;
          dom.loading.hidden = true;
          dom.error.textContent = 'Couldn’t make a pairing code: ' + error.message;
        })
        .finally(function () {
          if (seq !== offerSeq) return;
          asking = false;
          dom.newCode.removeAttribute('aria-disabled');
        });
    }

    function renderOffer(offer) {
      dom.loading.hidden = true;
      const url = isString(offer.url) ? offer.url : '';
      if (isQrImage(offer.qr) && url) {
        dom.qr.src = offer.qr;
        dom.qr.hidden = false;
      } else {
        dom.qr.removeAttribute('src');
        dom.qr.hidden = true;
      }
      dom.url.textContent = url;
      dom.code.hidden = !url;
      const seconds = typeof offer.expires_in === 'number' && offer.expires_in > 0 ? offer.expires_in : 0;
      expiresAt = url && seconds ? Date.now() + seconds * 1000 : 0;
      renderCertificate(offer);
      renderNotes(offer);
      tick();
      startTicker();
      if (url) host.announce('A new pairing code is ready. It works once, for ' + Math.round(seconds / 60) + ' minutes.');
    }

    function renderCertificate(offer) {
      const fingerprint = isString(offer.fingerprint) ? offer.fingerprint : '';
      if (fingerprint) {
        dom.certificate.textContent = 'Your phone’s browser will warn that the certificate is self-signed. Accept it only if its SHA-256 fingerprint is:';
      } else if (offer.tls === true) {
        dom.certificate.textContent = 'The gateway makes its certificate when it first starts; its fingerprint shows here then.';
      } else {
        dom.certificate.textContent = 'The gateway speaks plain HTTP on this computer; your tunnel provides the HTTPS.';
      }
      dom.fingerprint.textContent = fingerprint;
      dom.fingerprint.hidden = !fingerprint;
    }

    function renderNotes(offer) {
      const said = notesFor(offer);
      dom.noteLines.replaceChildren.apply(
        dom.noteLines,
        said.notes.map(function (text) {
          return el('p', 'warn', text);
        })
      );
      dom.notes.hidden = said.notes.length === 0;
      dom.openSettings.hidden = !said.settings;
    }

    /** The countdown; at the end the code leaves the screen (it no longer works). */
    function tick() {
      if (!expiresAt) {
        dom.expiry.textContent = '';
        stopTicker();
        return;
      }
      const left = (expiresAt - Date.now()) / 1000;
      const text = countdownText(left);
      if (text) {
        if (dom.expiry.textContent !== text) dom.expiry.textContent = text;
        return;
      }
      expiresAt = 0;
      stopTicker();
      dom.code.hidden = true;
      dom.qr.hidden = true;
      dom.qr.removeAttribute('src');
      dom.url.textContent = '';
      dom.expiry.textContent = 'This code has expired. Press “New code” for another.';
      if (active) host.announce('The pairing code has expired.');
    }

    function startTicker() {
      if (!ticker && active && expiresAt) ticker = setInterval(tick, TICK_MS);
    }

    function stopTicker() {
      clearInterval(ticker);
      ticker = 0;
    }

    // ------------------------------------------------------------ devices and sign-ins

    function loadStatus() {
      const seq = ++statusSeq;
      return host
        .call('remote_status', {})
        .then(function (status) {
          if (seq !== statusSeq) return;
          const data = status && typeof status === 'object' ? status : {};
          renderDevices(Array.isArray(data.devices) ? data.devices : []);
          renderAttempts(Array.isArray(data.attempts) ? data.attempts : []);
        })
        .catch(function (error) {
          if (seq !== statusSeq) return;
          dom.devicesStatus.classList.add('is-error');
          dom.devicesStatus.textContent = 'Couldn’t read the signed-in devices: ' + error.message;
        });
    }

    function renderDevices(devices) {
      const items = [];
      for (const device of devices) {
        if (!device || !isString(device.id) || !device.id) continue;
        const name = isString(device.name) && device.name ? device.name : 'A browser';
        const item = el('li', 'device');
        const text = el('div', 'device-text');
        text.appendChild(el('span', 'device-name', name));
        const meta = [];
        if (isString(device.address) && device.address) meta.push('from ' + device.address);
        if (isString(device.last_seen) && device.last_seen) meta.push('last seen ' + timeText(device.last_seen));
        if (device.via === 'pairing') meta.push('paired');
        else if (device.via === 'password') meta.push('signed in with the password');
        text.appendChild(el('span', 'device-meta', meta.join(' · ')));
        item.appendChild(text);
        const signOut = el('button', 'danger', 'Sign out');
        signOut.type = 'button';
        signOut.dataset.deviceId = device.id;
        signOut.setAttribute('aria-label', 'Sign out ' + name + (isString(device.address) && device.address ? ' (' + device.address + ')' : ''));
        item.appendChild(signOut);
        items.push(item);
      }
      // A focused Sign out button that stays keeps the focus across redraws.
      const focused = document.activeElement && dom.devices.contains(document.activeElement) ? document.activeElement.dataset.deviceId : null;
      dom.devices.replaceChildren.apply(dom.devices, items);
      if (focused) {
        const again = items.find((item) => item.lastChild.dataset.deviceId === focused);
        if (again) again.lastChild.focus({ preventScroll: true });
      }
      dom.devices.hidden = items.length === 0;
      dom.devicesEmpty.hidden = items.length > 0;
      dom.revokeAll.hidden = items.length < 2;
    }

    function renderAttempts(attempts) {
      const items = [];
      for (const attempt of attempts) {
        if (!attempt || typeof attempt !== 'object') continue;
        const item = el('li', 'attempt' + (attempt.result === 'ok' || attempt.result === 'paired' ? '' : ' is-refused'));
        const first = [timeText(attempt.time), resultText(attempt.result)].filter(Boolean).join(' — ');
        item.appendChild(el('span', 'attempt-line', first));
        const second = [isString(attempt.address) ? attempt.address : '', isString(attempt.user_agent) ? attempt.user_agent : ''].filter(Boolean).join(' · ');
        if (second) item.appendChild(el('span', 'attempt-meta', second));
        items.push(item);
      }
      dom.attempts.replaceChildren.apply(dom.attempts, items);
      dom.attempts.hidden = items.length === 0;
      dom.attemptsEmpty.hidden = items.length > 0;
    }

    /** Signs one device (`id`) or every device (null) out, then reads the list again. */
    function revoke(id, button) {
      if (button) button.setAttribute('aria-disabled', 'true');
      dom.devicesStatus.classList.remove('is-error');
      dom.devicesStatus.textContent = 'Signing out…';
      host
        .call('remote_revoke', { id: id })
        .then(function (answer) {
          const count = answer && typeof answer.signed_out === 'number' ? answer.signed_out : 0;
          dom.devicesStatus.textContent =
            count === 0 ? 'That device was already signed out.' : count === 1 ? 'Signed out; its page closes now.' : count + ' devices signed out.';
        })
        .catch(function (error) {
          dom.devicesStatus.classList.add('is-error');
          dom.devicesStatus.textContent = 'Couldn’t sign out: ' + error.message;
        })
        .finally(function () {
          if (button) button.removeAttribute('aria-disabled');
          loadStatus();
        });
    }

    function startPolling() {
      if (!poller) poller = setInterval(loadStatus, STATUS_EVERY_MS);
    }

    // ------------------------------------------------------------ the view

    function show() {
      active = true;
      dom.devicesStatus.textContent = '';
      newCode();
      loadStatus();
      startPolling();
      startTicker();
    }

    /** Leaving the view or hiding the window: no timers while nobody looks. */
    function stop() {
      active = false;
      stopTicker();
      clearInterval(poller);
      poller = 0;
    }

    dom.newCode.addEventListener('click', newCode);
    dom.copyUrl.addEventListener('click', function () {
      Pages.copyCommand(dom.copyUrl, dom.url, host.announce);
    });
    dom.openSettings.addEventListener('click', function () {
      host.showView('settings');
    });
    dom.devices.addEventListener('click', function (event) {
      const button = event.target.closest('button[data-device-id]');
      if (!button || button.getAttribute('aria-disabled') === 'true') return;
      revoke(button.dataset.deviceId, button);
    });
    dom.revokeAll.addEventListener('click', function () {
      revoke(null, dom.revokeAll);
    });

    return {
      show: show,
      leave: stop,
      stop: stop,
      focus: function () {
        (dom.code.hidden ? dom.newCode : dom.copyUrl).focus({ preventScroll: true });
      },
    };
  }

  window.NexusPair = {
    STATUS_EVERY_MS: STATUS_EVERY_MS,
    RESULTS: RESULTS,
    isQrImage: isQrImage,
    countdownText: countdownText,
    resultText: resultText,
    timeText: timeText,
    notesFor: notesFor,
    create: create,
  };
})();
