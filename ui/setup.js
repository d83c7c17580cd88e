/*
 * setup.js — the Setup view (#view-setup): first run, one scrollable page.
 *
 * Checks OpenCode, memory and disk (`setup_check`), offers the install
 * command (and `install_opencode` where npm is found), asks for the default
 * project folder, notifications and start-at-login, and ends with
 * `save_settings` then `set_autostart`. What the user typed is never
 * overwritten by a later answer, and stays when saving fails.
 *
 * Exposes window.NexusSetup = { create(host) } → { show(), focus() }, where
 * host = { call(name, fields, options) → Promise, announce(text),
 * showView(name), currentView() }.
 */
(function () {
  'use strict';

  const Pages = window.NexusPages;
  const el = window.NexusDom.el;
  const isString = window.NexusDom.isString;

  const INSTALL_TIMEOUT_MS = 15 * 60 * 1000; // npm may take minutes
  const SWITCH_TO_CHAT_MS = 1200; // how long "Saved to …" shows before chat

  const byId = window.NexusDom.byId;

  function create(host) {
    const dom = {
      view: byId('view-setup'),
      opencode: byId('setup-opencode'),
      installHelp: byId('setup-install-help'),
      installCommand: byId('setup-install-command'),
      copyInstall: byId('setup-copy-install'),
      install: byId('setup-install'),
      installStatus: byId('setup-install-status'),
      installOutput: byId('setup-install-output'),
      recheck: byId('setup-recheck'),
      directory: byId('setup-directory'),
      directoryError: byId('setup-directory-error'),
      notifications: byId('setup-notifications'),
      notificationsError: byId('setup-notifications-error'),
      autostart: byId('setup-autostart'),
      machine: byId('setup-machine'),
      finish: byId('setup-finish'),
      result: byId('setup-result'),
    };

    // Fields the user changed keep their value whatever arrives later.
    const edited = { directory: false, notifications: false, autostart: false };
    let check = null; // the last setup_check answer
    let settings = null; // the last `settings` answer (null: read it again)
    let checkSeq = 0;
    let settingsSeq = 0;
    let checking = null; // the setup_check on its way
    let reading = null; // the `settings` call on its way
    let installing = false;
    let finishing = false;
    let switchTimer = 0;

    // ------------------------------------------------------------ loading

    function show() {
      runCheck(false);
      loadSettings().catch(function (error) {
        console.warn('[nexus] settings for setup failed', error && error.message); // finish() asks again
      });
    }

    /** Asks for setup_check; while one is on its way, that one serves (unless `again`). */
    function runCheck(again) {
      if (checking && !again) return checking;
      const seq = ++checkSeq;
      dom.recheck.setAttribute('aria-disabled', 'true');
      if (!check) dom.opencode.textContent = 'Checking…';
      checking = host
        .call('setup_check', {})
        .then(function (data) {
          if (seq !== checkSeq) return;
          check = data && typeof data === 'object' ? data : {};
          renderCheck();
          prefill();
        })
        .catch(function (error) {
          if (seq !== checkSeq) return;
          dom.opencode.className = 'check missing';
          dom.opencode.textContent = 'Couldn’t check for OpenCode: ' + error.message;
          if (!check) dom.machine.textContent = 'Couldn’t check this computer.';
        })
        .finally(function () {
          if (seq !== checkSeq) return;
          checking = null;
          dom.recheck.removeAttribute('aria-disabled');
        });
      return checking;
    }

    function loadSettings() {
      if (reading) return reading;
      const seq = ++settingsSeq;
      reading = host
        .call('settings', {})
        .then(function (data) {
          if (seq !== settingsSeq) return settings;
          settings = data && typeof data === 'object' ? data : null;
          prefill();
          return settings;
        })
        .catch(function (error) {
          if (seq === settingsSeq) settings = null;
          throw error;
        })
        .finally(function () {
          if (seq === settingsSeq) reading = null;
        });
      return reading;
    }

    /** Fills the fields the user has not touched from the latest answers. */
    function prefill() {
      const values = (settings && settings.values) || {};
      if (!edited.directory) {
        const configured = values['server.directory'];
        const directory = isString(configured) && configured ? configured : check && isString(check.home) ? check.home : '';
        if (directory && dom.directory.value !== directory) dom.directory.value = directory;
      }
      if (!edited.notifications && settings && typeof values['notify.enabled'] === 'boolean') {
        dom.notifications.checked = values['notify.enabled'];
      }
      if (!edited.autostart && check && typeof check.autostart === 'boolean') {
        dom.autostart.checked = check.autostart;
      }
    }

    // ------------------------------------------------------------ the checks

    function renderCheck() {
      const opencode = (check && check.opencode) || {};
      const found = isString(opencode.path) && !!opencode.path && !opencode.problem;
      if (found) {
        dom.opencode.className = 'check ok';
        dom.opencode.textContent = 'Found ' + opencode.path + (isString(opencode.version) && opencode.version ? ' (version ' + opencode.version + ')' : '') + '.';
      } else {
        dom.opencode.className = 'check missing';
        dom.opencode.textContent = isString(opencode.problem) && opencode.problem ? opencode.problem : 'OpenCode was not found on this computer.';
      }
      const command = isString(check.install_command) && check.install_command ? check.install_command : '';
      dom.installCommand.textContent = command;
      dom.installHelp.hidden = found || !command;
      const canInstall = !found && isString(check.npm) && !!check.npm;
      // While an install runs, the button stays (disabled) so its progress stays in view.
      dom.install.hidden = !(canInstall || installing);
      if (canInstall) dom.install.title = 'Runs ' + command + ' with ' + check.npm;
      renderMachine();
    }

    function renderMachine() {
      const memory = (check && check.memory) || {};
      const disk = (check && check.disk) || {};
      const fragment = document.createDocumentFragment();
      const facts = el('ul', 'facts');
      facts.appendChild(el('li', null, 'Memory: ' + Pages.formatMiB(memory.available_mib) + ' available of ' + Pages.formatMiB(memory.total_mib) + '.'));
      facts.appendChild(
        el('li', null, 'Free disk space: ' + Pages.formatMiB(disk.available_mib) + (isString(disk.path) && disk.path ? ' on ' + disk.path : '') + '.')
      );
      fragment.appendChild(facts);
      if (memory.short === true) {
        fragment.appendChild(
          el('p', 'warn', 'Warning: little memory is available. OpenCode may be slow or stop; closing other programs helps.')
        );
      }
      if (disk.short === true) {
        fragment.appendChild(
          el('p', 'warn', 'Warning: little disk space is free' + (isString(disk.path) && disk.path ? ' on ' + disk.path : '') + '. OpenCode and its sessions need room.')
        );
      }
      dom.machine.replaceChildren(fragment);
    }

    // ------------------------------------------------------------ installing

    function install() {
      if (installing) return;
      installing = true;
      dom.install.disabled = true;
      dom.install.textContent = 'Installing…';
      dom.installStatus.textContent = 'Installing OpenCode with npm. This can take a few minutes…';
      dom.installOutput.hidden = true;
      dom.installOutput.textContent = '';
      host
        .call('install_opencode', {}, { timeoutMs: INSTALL_TIMEOUT_MS })
        .then(function (answer) {
          const installed = !!(answer && answer.installed);
          dom.installStatus.textContent = installed ? 'OpenCode is installed.' : 'The install did not succeed; npm’s last lines are below.';
          const output = answer && isString(answer.output) ? answer.output : '';
          dom.installOutput.textContent = output;
          dom.installOutput.hidden = !output;
        })
        .catch(function (error) {
          dom.installStatus.textContent = 'Couldn’t install: ' + error.message;
        })
        .finally(function () {
          installing = false;
          dom.install.disabled = false;
          dom.install.textContent = 'Install with npm';
          runCheck(true).then(function () {
            // The disabled button dropped the focus: put it back somewhere useful.
            if (document.activeElement && document.activeElement !== document.body) return;
            if (host.currentView() !== 'setup') return;
            (dom.install.hidden || dom.installHelp.hidden ? dom.directory : dom.install).focus({ preventScroll: true });
          });
        });
    }

    // ------------------------------------------------------------ saving

    function clearErrors() {
      Pages.clearFieldError(dom.directory, dom.directoryError);
      Pages.clearFieldError(dom.notifications, dom.notificationsError);
      dom.result.classList.remove('is-error');
      dom.result.textContent = '';
    }

    function showError(key, message) {
      const text = message || 'The settings were not saved.';
      let control = null;
      if (key === 'server.directory') {
        control = dom.directory;
        Pages.setFieldError(dom.directory, dom.directoryError, text);
      } else if (key === 'notify.enabled') {
        control = dom.notifications;
        Pages.setFieldError(dom.notifications, dom.notificationsError, text);
      }
      dom.result.classList.add('is-error');
      dom.result.textContent = 'Not saved: ' + text;
      if (control) control.focus();
    }

    function finish() {
      if (finishing) return;
      finishing = true;
      clearTimeout(switchTimer);
      clearErrors();
      dom.finish.setAttribute('aria-disabled', 'true');
      dom.finish.textContent = 'Saving…';
      const directory = dom.directory.value.trim();
      const notify = dom.notifications.checked;
      const autostart = dom.autostart.checked;
      // Other keys keep the values the settings file has now.
      (settings ? Promise.resolve(settings) : loadSettings())
        .then(function (current) {
          const values = Object.assign({}, (current && current.values) || {});
          values['server.directory'] = directory;
          values['notify.enabled'] = notify;
          return host.call('save_settings', { values: values });
        })
        .then(function (answer) {
          if (!answer || answer.saved !== true) {
            showError(answer && isString(answer.key) ? answer.key : null, answer && isString(answer.error) ? answer.error : '');
            return;
          }
          settings = null; // read again next time: the file changed
          edited.directory = edited.notifications = false;
          return host.call('set_autostart', { enabled: autostart }).then(
            function (state) {
              const real = state && typeof state.enabled === 'boolean' ? state.enabled : autostart;
              dom.autostart.checked = real;
              edited.autostart = false;
              const note = real === autostart ? '' : autostart ? 'Start at login could not be turned on.' : 'Start at login could not be turned off.';
              showSaved(answer, note);
            },
            function (error) {
              showSaved(answer, 'Couldn’t change start at login: ' + error.message);
            }
          );
        })
        .catch(function (error) {
          showError(null, 'Couldn’t save: ' + error.message);
        })
        .finally(function () {
          finishing = false;
          dom.finish.removeAttribute('aria-disabled');
          dom.finish.textContent = 'Save and start';
        });
    }

    /** "Saved to <file>", anything to add, then chat after a moment (not if something needs reading). */
    function showSaved(answer, note) {
      const lines = [el('span', null, 'Saved to ' + (isString(answer.file) ? answer.file : 'the settings file'))];
      const warnings = Array.isArray(answer.warnings) ? answer.warnings.filter(isString) : [];
      for (const warning of warnings) lines.push(el('span', 'result-line', warning));
      if (note) lines.push(el('span', 'result-line', note));
      dom.result.classList.toggle('is-error', !!note);
      dom.result.replaceChildren.apply(dom.result, lines);
      if (note) return;
      switchTimer = setTimeout(function () {
        if (host.currentView() === 'setup') host.showView('chat');
      }, SWITCH_TO_CHAT_MS + (warnings.length ? 2000 : 0));
    }

    // ------------------------------------------------------------ wiring

    dom.directory.addEventListener('input', function () {
      edited.directory = true;
      Pages.clearFieldError(dom.directory, dom.directoryError);
    });
    dom.directory.addEventListener('keydown', function (event) {
      if (event.key === 'Enter' && !event.isComposing) {
        event.preventDefault();
        finish();
      }
    });
    dom.notifications.addEventListener('change', function () {
      edited.notifications = true;
      Pages.clearFieldError(dom.notifications, dom.notificationsError);
    });
    dom.autostart.addEventListener('change', function () {
      edited.autostart = true;
    });
    dom.copyInstall.addEventListener('click', function () {
      Pages.copyCommand(dom.copyInstall, dom.installCommand, host.announce);
    });
    dom.install.addEventListener('click', install);
    dom.recheck.addEventListener('click', function () {
      if (dom.recheck.getAttribute('aria-disabled') === 'true') return;
      runCheck(true);
    });
    dom.finish.addEventListener('click', finish);

    return {
      show: show,
      focus: function () {
        dom.view.scrollTop = 0;
        dom.directory.focus({ preventScroll: true });
      },
      /** Leaving the view stops the pending move to chat. */
      leave: function () {
        clearTimeout(switchTimer);
      },
    };
  }

  window.NexusSetup = { create: create };
})();
