/*
 * settings.js — the Settings view (#view-settings): one control per key of
 * the settings file (ui/README.md, "Values"), built from FIELDS below.
 *
 * Every control carries data-key="<key>", a visible <label> and, where there
 * is something to say, a hint (aria-describedby). Saving sends every key
 * (attach-only and managed-only fields too, dimmed or not); Rust validates
 * with the file's rules, and an error's `key` marks the field. A save that
 * changes server.mode, server.command, server.url, server.password_file,
 * remote.enabled, remote.listen, remote.tls or remote.hosts is written only
 * after the user confirms it in Nexus's own dialog; meanwhile the status
 * says so (`confirming`), and a cancel leaves the edits unsaved.
 *
 * The remote password has its own small form (#remote-password-form, not a
 * setting of the file): typed twice, sent once with `set_remote_password`,
 * stored only after the user confirms it in Nexus's dialog (`confirming`
 * names "remote.password"), and never read back: the page only learns
 * whether one is set (`remote_status`).
 *
 * Exposes window.NexusSettings = { MIN_PASSWORD_CHARS, passwordProblem(a, b),
 * create(host) } → { show(), focus(), leave(), onConfirming(keys) }, where
 * host = { call(name, fields, options) → Promise, announce(text),
 * showView(name) }.
 */
(function () {
  'use strict';

  const Pages = window.NexusPages;
  const el = window.NexusDom.el;
  const isString = window.NexusDom.isString;

  const ATTACH_ONLY = ['server.url', 'server.password_file'];
  // A save that changes which program runs or where the password goes waits
  // for the user's answer in Nexus's own dialog (outside this page).
  const CONFIRM_TIMEOUT_MS = 30 * 60 * 1000;
  const MANAGED_ONLY = ['server.port', 'server.command'];
  // The password's rules are Rust's (remote::password::check_new); the page
  // checks them first only to say so at once.
  const MIN_PASSWORD_CHARS = 10;
  const MAX_PASSWORD_BYTES = 1024;
  const PASSWORD_KEY = 'remote.password'; // what `confirming` names for the password dialog

  /**
   * The form. Types: select, text, integer, seconds (a number, fractions
   * allowed), bool, lines (a list, one item per line).
   */
  const GROUPS = [
    {
      title: 'Server',
      note: 'The server password is set in a terminal with “opencode-nexus password set”; it is never shown here.',
      fields: [
        {
          key: 'server.mode',
          type: 'select',
          label: 'Mode',
          options: [
            ['managed', 'Managed: Nexus runs opencode serve'],
            ['attach', 'Attach: watch a server that runs elsewhere'],
          ],
          hint: 'Managed: Nexus starts and watches its own OpenCode server. Attach: Nexus watches the server at the URL below.',
        },
        { key: 'server.url', type: 'text', label: 'Server URL', hint: 'Attach mode only, for example http://127.0.0.1:4096. Empty: not set.', inputMode: 'url' },
        { key: 'server.port', type: 'integer', label: 'Port', hint: 'Managed mode. 0 = any free port.', min: 0, max: 65535 },
        { key: 'server.command', type: 'text', label: 'OpenCode program', hint: 'Managed mode: the path of opencode. Empty: search PATH.', placeholder: 'opencode (from PATH)' },
        { key: 'server.directory', type: 'text', label: 'Server folder', hint: 'The managed server’s folder, and the default project.' },
        { key: 'server.username', type: 'text', label: 'User name', hint: 'The basic-auth user name.' },
        {
          key: 'server.password_file',
          type: 'text',
          label: 'Password file',
          hint: 'Attach mode: a file holding the password (used when OPENCODE_SERVER_PASSWORD is not set).',
        },
        { key: 'server.start_timeout', type: 'seconds', label: 'Start timeout (seconds)', hint: 'How long the managed server may take to start: 1–600.', min: 1, max: 600 },
        {
          key: 'server.event_timeout',
          type: 'seconds',
          label: 'Event timeout (seconds)',
          hint: 'Silence after which the server counts as unreachable: 1–600 (it sends a heartbeat every 10 s).',
          min: 1,
          max: 600,
        },
      ],
    },
    {
      title: 'Projects',
      fields: [
        {
          key: 'projects',
          type: 'lines',
          label: 'Project folders',
          hint: 'One folder per line, absolute or starting with ~/. Offered in quick chat and watched for questions.',
        },
      ],
    },
    {
      title: 'Notifications',
      fields: [
        { key: 'notify.enabled', type: 'bool', label: 'Show notifications', hint: 'Off silences all of them.' },
        { key: 'notify.finished', type: 'bool', label: 'When a task finishes' },
        { key: 'notify.failed', type: 'bool', label: 'When a task fails' },
        { key: 'notify.permission', type: 'bool', label: 'When OpenCode asks for permission' },
        { key: 'notify.question', type: 'bool', label: 'When OpenCode asks a question' },
        { key: 'notify.server', type: 'bool', label: 'When the server stops or cannot be reached' },
        {
          key: 'notify.min_duration',
          type: 'seconds',
          label: 'Shortest task to notify about (seconds)',
          hint: 'A task must have run this long for “finished”: 0–86400.',
          min: 0,
          max: 86400,
        },
        {
          key: 'notify.quiet_period',
          type: 'seconds',
          label: 'Quiet period (seconds)',
          hint: 'No notifications about old news for this long after start and after each reconnect: 0–600.',
          min: 0,
          max: 600,
        },
      ],
    },
    {
      title: 'Tray',
      fields: [
        {
          key: 'tray.icons',
          type: 'select',
          label: 'Icons',
          options: [
            ['color', 'Colour'],
            ['mono-light', 'Monochrome, light (for dark panels)'],
            ['mono-dark', 'Monochrome, dark (for light panels)'],
          ],
        },
      ],
    },
    {
      title: 'Quick chat',
      fields: [
        {
          key: 'popover.keep_alive',
          type: 'seconds',
          label: 'Keep ready while hidden (seconds)',
          hint: 'How long this window’s process lives while hidden, so it opens faster: 0–86400.',
          min: 0,
          max: 86400,
        },
        { key: 'popover.hide_on_blur', type: 'bool', label: 'Hide when it loses focus' },
      ],
    },
    {
      title: 'Remote access',
      note: 'Quick chat in your phone’s browser, through Nexus’s own gateway. Turning it on, or changing where it listens, its TLS or its host names, asks for confirmation in a dialog of Nexus.',
      fields: [
        {
          key: 'remote.enabled',
          type: 'bool',
          label: 'Let my phone reach OpenCode',
          hint: 'Runs the gateway. Off: nothing of it runs.',
        },
        {
          key: 'remote.listen',
          type: 'text',
          label: 'Listen address',
          hint: 'address:port. The default 127.0.0.1:4180 is reachable from this computer and through a tunnel only; this computer’s LAN address (for example 192.168.1.20:4180) is reachable on your network.',
        },
        {
          key: 'remote.tls',
          type: 'select',
          label: 'HTTPS',
          options: [
            ['auto', 'A certificate Nexus makes for this computer'],
            ['off', 'Off: plain HTTP behind your own tunnel (loopback only)'],
          ],
        },
        { key: 'remote.max_clients', type: 'integer', label: 'Pages connected at once', hint: '1–64.', min: 1, max: 64 },
        {
          key: 'remote.hosts',
          type: 'lines',
          label: 'Tunnel host names',
          hint: 'One per line: more names the gateway answers to, such as a Tailscale or Cloudflare host name.',
        },
      ],
    },
  ];

  /** Why a new remote password (typed twice) cannot be sent, or '' when it can. */
  function passwordProblem(password, again) {
    if (!isString(password) || !password) return 'Type the new password.';
    if (password !== again) return 'The two passwords differ.';
    const chars = Array.from(password).length;
    if (chars < MIN_PASSWORD_CHARS) return 'The password is too short (' + chars + ' characters; at least ' + MIN_PASSWORD_CHARS + ').';
    if (new TextEncoder().encode(password).length > MAX_PASSWORD_BYTES) return 'The password is too long (at most ' + MAX_PASSWORD_BYTES + ' bytes).';
    return '';
  }

  const byId = window.NexusDom.byId;

  function controlId(key) {
    return 'setting-' + key.replace(/[^A-Za-z0-9]+/g, '-');
  }

  function create(host) {
    const dom = {
      view: byId('view-settings'),
      body: byId('settings-body'),
      problem: byId('settings-problem'),
      form: byId('settings-form'),
      file: byId('settings-file'),
      save: byId('settings-save'),
      defaults: byId('settings-defaults'),
      status: byId('settings-status'),
      copyOpen: byId('settings-copy-open'),
      openCommand: byId('settings-open-command'),
      passwordForm: byId('remote-password-form'),
      passwordState: byId('remote-password-state'),
      password: byId('remote-password'),
      passwordAgain: byId('remote-password-again'),
      passwordError: byId('remote-password-error'),
      passwordSet: byId('remote-password-set'),
      passwordStatus: byId('remote-password-status'),
      pair: byId('settings-pair'),
    };

    const fields = new Map(); // key → { field, control, wrap, error }
    let loaded = null; // the last `settings` answer
    let base = null; // the Values the form was last filled from (keeps keys this page has no control for)
    let dirty = false; // the user changed something since the form was filled
    let loadSeq = 0;
    let saving = false;
    let settingPassword = false;
    const unlocked = new Set(); // fields a save error named although the mode dims them

    // ------------------------------------------------------------ building

    function buildForm() {
      const fragment = document.createDocumentFragment();
      for (const group of GROUPS) {
        const fieldset = el('fieldset', 'settings-group');
        fieldset.appendChild(el('legend', 'group-title', group.title));
        if (group.note) fieldset.appendChild(el('p', 'group-text', group.note));
        for (const field of group.fields) fieldset.appendChild(buildField(field));
        fragment.appendChild(fieldset);
      }
      dom.form.replaceChildren(fragment);
    }

    function buildField(field) {
      const id = controlId(field.key);
      const wrap = el('div', 'field field-' + field.type);
      let control;
      if (field.type === 'select') {
        control = el('select');
        for (const [value, text] of field.options) {
          const option = el('option', null, text);
          option.value = value;
          control.appendChild(option);
        }
      } else if (field.type === 'lines') {
        control = el('textarea');
        control.rows = 3;
        control.spellcheck = false;
      } else {
        control = el('input');
        if (field.type === 'bool') {
          control.type = 'checkbox';
        } else if (field.type === 'integer' || field.type === 'seconds') {
          control.type = 'number';
          control.step = field.type === 'integer' ? '1' : 'any';
          if (field.min !== undefined) control.min = String(field.min);
          if (field.max !== undefined) control.max = String(field.max);
          control.inputMode = field.type === 'integer' ? 'numeric' : 'decimal';
        } else {
          control.type = 'text';
          control.spellcheck = false;
          if (field.inputMode) control.inputMode = field.inputMode;
        }
        control.autocomplete = 'off';
      }
      control.id = id;
      control.dataset.key = field.key;
      if (field.placeholder) control.placeholder = field.placeholder;

      const label = el('label', 'field-label', field.label);
      label.htmlFor = id;
      const described = [];
      let hint = null;
      if (field.hint) {
        hint = el('p', 'hint', field.hint);
        hint.id = id + '-hint';
        described.push(hint.id);
      }
      const error = el('p', 'field-error');
      error.id = id + '-error';
      described.push(error.id);
      control.setAttribute('aria-describedby', described.join(' '));

      if (field.type === 'bool') {
        const row = el('div', 'check-row');
        row.appendChild(control);
        row.appendChild(label);
        wrap.appendChild(row);
      } else {
        wrap.appendChild(label);
        wrap.appendChild(control);
      }
      if (hint) wrap.appendChild(hint);
      wrap.appendChild(error);
      fields.set(field.key, { field: field, control: control, wrap: wrap, error: error });
      return wrap;
    }

    // ------------------------------------------------------------ values

    function fill(values) {
      const source = values && typeof values === 'object' ? values : {};
      for (const [key, entry] of fields) {
        const value = source[key];
        const control = entry.control;
        switch (entry.field.type) {
          case 'bool':
            control.checked = value === true;
            break;
          case 'lines':
            control.value = Array.isArray(value) ? value.filter(isString).join('\n') : isString(value) ? value : '';
            break;
          case 'select': {
            const text = isString(value) ? value : '';
            if (text && !Array.from(control.options).some((option) => option.value === text)) {
              // A value this page does not know stays what it is, rather than changing on save.
              const option = el('option', null, text);
              option.value = text;
              control.appendChild(option);
            }
            if (text) control.value = text;
            else control.selectedIndex = 0;
            break;
          }
          default:
            control.value = value === null || value === undefined ? '' : String(value);
        }
      }
      base = source;
      unlocked.clear();
      clearErrors();
      applyMode();
    }

    function readControl(entry) {
      const control = entry.control;
      switch (entry.field.type) {
        case 'bool':
          return control.checked;
        case 'lines':
          return control.value
            .split('\n')
            .map((line) => line.trim())
            .filter(Boolean);
        case 'integer':
        case 'seconds': {
          // A number as a number; anything else as typed, so Rust's check names the field.
          const raw = control.value.trim();
          const number = Number(raw);
          return raw !== '' && isFinite(number) ? number : raw;
        }
        case 'select':
          return control.value;
        default:
          return control.value.trim();
      }
    }

    function readValues() {
      const values = Object.assign({}, base || {});
      for (const [key, entry] of fields) values[key] = readControl(entry);
      return values;
    }

    /** Dims (and disables) the fields the selected mode does not use; they are still saved. */
    function applyMode() {
      const attach = fields.get('server.mode').control.value === 'attach';
      for (const key of ATTACH_ONLY) setInactive(key, !attach);
      for (const key of MANAGED_ONLY) setInactive(key, attach);
      showCleartextWarning(attach);
    }

    /**
     * Attach over plain http to a host that is not loopback sends the password
     * readable on the network (the same rule as Rust's status::password_in_clear).
     */
    function showCleartextWarning(attach) {
      const entry = fields.get('server.url');
      let warning = entry.wrap.querySelector('.cleartext-warning');
      if (!warning) {
        warning = el('p', 'warn cleartext-warning', 'The password would cross the network in clear over http: use https, or an SSH tunnel (ssh -L) to 127.0.0.1.');
        warning.id = entry.control.id + '-cleartext';
        entry.wrap.insertBefore(warning, entry.error);
        entry.control.setAttribute('aria-describedby', entry.control.getAttribute('aria-describedby') + ' ' + warning.id);
      }
      let clear = false;
      try {
        const url = new URL(entry.control.value.trim());
        const host = url.hostname.replace(/\.$/, '').replace(/^\[|\]$/g, '').toLowerCase();
        const loopback = host === 'localhost' || /^127\.\d+\.\d+\.\d+$/.test(host) || host === '::1' || host === '::ffff:7f00:1' || /^::ffff:7f/.test(host);
        clear = url.protocol === 'http:' && !loopback;
      } catch (_) {
        clear = false; // not a URL yet: the save names the problem
      }
      warning.hidden = !(attach && clear);
    }

    function setInactive(key, inactive) {
      const entry = fields.get(key);
      entry.wrap.classList.toggle('is-inactive', inactive);
      entry.control.disabled = inactive && !unlocked.has(key);
    }

    // ------------------------------------------------------------ status and errors

    function setStatus(text, kind, extra) {
      dom.status.classList.toggle('is-error', kind === 'error');
      if (!text) {
        dom.status.replaceChildren();
        return;
      }
      const lines = [el('span', null, text)];
      for (const line of extra || []) lines.push(el('span', 'result-line', line));
      dom.status.replaceChildren.apply(dom.status, lines);
    }

    function clearErrors() {
      for (const entry of fields.values()) Pages.clearFieldError(entry.control, entry.error);
    }

    function showError(key, message) {
      const text = message || 'The settings were not saved.';
      const entry = key ? fields.get(key) : null;
      if (!entry) {
        setStatus('Not saved: ' + text, 'error');
        return;
      }
      Pages.setFieldError(entry.control, entry.error, text);
      setStatus('Not saved: ' + text, 'error');
      if (entry.control.disabled) {
        // The mode dims this field, yet its value is wrong: let the user fix it.
        unlocked.add(key);
        entry.control.disabled = false;
      }
      entry.control.focus({ preventScroll: true });
      entry.wrap.scrollIntoView({ block: 'center' });
    }

    function renderLoaded() {
      const problem = loaded && isString(loaded.problem) && loaded.problem ? loaded.problem : '';
      const text = problem ? 'config.toml has an error, so Nexus keeps using the last good settings: ' + problem : '';
      if (dom.problem.textContent !== text) {
        dom.problem.textContent = text;
        if (text) dom.body.scrollTop = 0; // a new problem is the first thing to read
      }
      dom.problem.hidden = !text;
      const file = loaded && isString(loaded.file) ? loaded.file : '';
      dom.file.textContent = file ? 'Settings file: ' + file + (loaded.exists === false ? ' (saving creates it)' : '') : '';
    }

    // ------------------------------------------------------------ loading and saving

    function load() {
      const seq = ++loadSeq;
      if (!loaded) setStatus('Loading the settings…');
      return host
        .call('settings', {})
        .then(function (data) {
          if (seq !== loadSeq) return;
          if (!data || typeof data !== 'object' || !data.values) throw new Error('Nexus sent no settings.');
          const first = !loaded;
          loaded = data;
          renderLoaded();
          // Unsaved edits stay; otherwise the form shows what is in use now.
          if (!dirty) fill(data.values);
          if (first && !saving) setStatus('');
        })
        .catch(function (error) {
          if (seq === loadSeq) setStatus('Couldn’t read the settings: ' + error.message, 'error');
        });
    }

    function save() {
      if (saving) return;
      if (!loaded) {
        setStatus('The settings are still loading; try again in a moment.', 'error');
        load();
        return;
      }
      saving = true;
      clearErrors();
      dom.save.setAttribute('aria-disabled', 'true');
      setStatus('Saving…');
      const sent = readValues();
      host
        .call('save_settings', { values: sent }, { timeoutMs: CONFIRM_TIMEOUT_MS })
        .then(function (answer) {
          if (answer && answer.cancelled === true) {
            // The user said no in the dialog: the edits stay, nothing is marked wrong.
            setStatus('Not saved: ' + (isString(answer.error) ? answer.error : 'the change was not confirmed.'), 'error');
            return;
          }
          if (!answer || answer.saved !== true) {
            showError(answer && isString(answer.key) ? answer.key : null, answer && isString(answer.error) ? answer.error : '');
            return;
          }
          dirty = false;
          const warnings = Array.isArray(answer.warnings) ? answer.warnings.filter(isString) : [];
          setStatus('Saved — applied' + (answer.restarts_server ? ' (the server restarts)' : ''), 'ok', warnings);
          return load();
        })
        .catch(function (error) {
          showError(null, 'Couldn’t save: ' + error.message);
        })
        .finally(function () {
          saving = false;
          dom.save.removeAttribute('aria-disabled');
        });
    }

    function resetToDefaults() {
      if (!loaded || !loaded.defaults) {
        setStatus('The defaults are not loaded yet.', 'error');
        return;
      }
      fill(loaded.defaults);
      dirty = true;
      setStatus('Defaults filled in. Nothing is saved until you press Save.');
    }

    // ------------------------------------------------------------ wiring

    buildForm();
    applyMode();

    function onEdit(event) {
      const key = event.target && event.target.dataset ? event.target.dataset.key : undefined;
      if (!key) return;
      dirty = true;
      const entry = fields.get(key);
      if (entry) Pages.clearFieldError(entry.control, entry.error);
      if (key === 'server.mode') {
        unlocked.clear();
        applyMode();
      }
      if (key === 'server.url') applyMode();
    }

    dom.form.addEventListener('input', onEdit);
    dom.form.addEventListener('change', onEdit);
    dom.form.addEventListener('submit', function (event) {
      event.preventDefault(); // the page never navigates (CSP form-action 'none')
      save();
    });
    dom.defaults.addEventListener('click', resetToDefaults);
    dom.copyOpen.addEventListener('click', function () {
      Pages.copyCommand(dom.copyOpen, dom.openCommand, host.announce);
    });
    dom.passwordForm.addEventListener('submit', function (event) {
      event.preventDefault(); // the page never navigates (CSP form-action 'none')
      setPassword();
    });
    for (const input of [dom.password, dom.passwordAgain]) {
      input.addEventListener('input', function () {
        Pages.clearFieldError(input, dom.passwordError);
      });
    }
    dom.pair.addEventListener('click', function () {
      host.showView('pair');
    });

    // ------------------------------------------------------------ the remote password

    function setPasswordStatus(text, kind) {
      dom.passwordStatus.classList.toggle('is-error', kind === 'error');
      dom.passwordStatus.textContent = text;
    }

    /** Whether a password is set (never the password: Rust does not have it either). */
    function loadPasswordState() {
      return host
        .call('remote_status', {})
        .then(function (status) {
          if (!status || typeof status.password_set !== 'boolean') return;
          dom.passwordState.textContent = status.password_set
            ? 'A remote password is set. Type a new one to replace it; it is never shown here.'
            : 'No remote password is set yet: a phone can still pair with a QR code (Pair a phone…), or set one here.';
        })
        .catch(function (error) {
          console.warn('[nexus] remote_status for settings failed', error && error.message);
        });
    }

    function setPassword() {
      if (settingPassword) return;
      const password = dom.password.value;
      const problem = passwordProblem(password, dom.passwordAgain.value);
      Pages.clearFieldError(dom.password, dom.passwordError);
      Pages.clearFieldError(dom.passwordAgain, null);
      if (problem) {
        const target = problem.indexOf('differ') !== -1 ? dom.passwordAgain : dom.password;
        Pages.setFieldError(target, dom.passwordError, problem);
        setPasswordStatus('Not changed: ' + problem, 'error');
        target.focus({ preventScroll: true });
        return;
      }
      settingPassword = true;
      dom.passwordSet.setAttribute('aria-disabled', 'true');
      setPasswordStatus('Setting the password…');
      host
        .call('set_remote_password', { password: password }, { timeoutMs: CONFIRM_TIMEOUT_MS })
        .then(function (answer) {
          if (!answer || answer.set !== true) {
            setPasswordStatus('Not changed: ' + (answer && isString(answer.error) ? answer.error : 'the password was not set.'), 'error');
            return;
          }
          // Nothing keeps the password once it is stored.
          dom.password.value = '';
          dom.passwordAgain.value = '';
          const count = typeof answer.signed_out === 'number' ? answer.signed_out : 0;
          setPasswordStatus('Remote password set' + (count ? '; ' + count + (count === 1 ? ' device' : ' devices') + ' signed out.' : '.'));
          return loadPasswordState();
        })
        .catch(function (error) {
          setPasswordStatus('Not changed: ' + error.message, 'error');
        })
        .finally(function () {
          settingPassword = false;
          dom.passwordSet.removeAttribute('aria-disabled');
        });
    }

    /** Rust opened its confirmation dialog for a save or the password (`confirming`). */
    function onConfirming(keys) {
      const list = Array.isArray(keys) ? keys.filter(isString) : [];
      if (list.indexOf(PASSWORD_KEY) !== -1) {
        if (!settingPassword) return;
        const text = 'Confirm the new password in the dialog OpenCode Nexus opened…';
        setPasswordStatus(text);
        host.announce(text);
        return;
      }
      if (!saving) return;
      const names = list.join(', ');
      const text = 'Confirm the change' + (names ? ' of ' + names : '') + ' in the dialog OpenCode Nexus opened…';
      setStatus(text);
      host.announce(text);
    }

    return {
      show: function () {
        loadPasswordState();
        return load();
      },
      onConfirming: onConfirming,
      focus: function () {
        const first = dom.form.querySelector('[data-key]:not(:disabled)');
        if (first) first.focus({ preventScroll: true });
      },
      leave: function () {},
    };
  }

  window.NexusSettings = { MIN_PASSWORD_CHARS: MIN_PASSWORD_CHARS, passwordProblem: passwordProblem, create: create };
})();
