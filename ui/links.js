/*
 * links.js — clicks anywhere in the page: links never navigate the popover
 * (http(s) ones open in the system browser through Rust), a code block's
 * Copy button copies its code, and a click outside the session panel closes
 * it.
 *
 * Exposes window.NexusLinks = { create(app) } → { onClick(event), onAuxClick(event) }.
 */
(function () {
  'use strict';

  const COPIED_FEEDBACK_MS = 1500;

  function create(app) {
    const state = app.state;
    const dom = app.dom;
    const copyResetTimers = new WeakMap();

    function onClick(event) {
      const target = event.target;
      if (!(target instanceof Element)) return;
      const link = target.closest('a[href]');
      if (link) {
        // Links never navigate the popover; http(s) ones open in the browser.
        event.preventDefault();
        const url = window.NexusMarkdown.safeUrl(link.getAttribute('href'));
        if (url) openExternal(url);
        return;
      }
      const copy = target.closest('button.copy');
      if (copy) {
        copyCode(copy);
        return;
      }
      if (state.panelOpen && !dom.sessionPanel.contains(target) && !dom.sessionsToggle.contains(target)) {
        app.panel.close(false);
      }
    }

    /** An http(s) URL: the system browser (popover), or a new tab of this browser (remote). */
    function openExternal(url) {
      if (state.remote) window.open(url, '_blank', 'noopener,noreferrer');
      else app.bridge.post({ type: 'open_external', url: url });
    }

    /** Middle-clicks on links must not open anything inside the popover either. */
    function onAuxClick(event) {
      if (event.target instanceof Element && event.target.closest('a[href]')) event.preventDefault();
    }

    function copyCode(button) {
      const block = button.closest('.code-block');
      const code = block && block.querySelector('code');
      if (!code) return;
      const text = code.textContent;
      const finish = function (ok) {
        button.textContent = ok ? 'Copied' : 'Copy failed';
        button.setAttribute('aria-label', ok ? 'Copied' : 'Copy failed');
        app.announce(ok ? 'Code copied.' : 'Couldn’t copy the code.');
        clearTimeout(copyResetTimers.get(button));
        copyResetTimers.set(
          button,
          setTimeout(function () {
            button.textContent = 'Copy';
            button.setAttribute('aria-label', 'Copy code');
          }, COPIED_FEEDBACK_MS)
        );
      };
      // execCommand first: it works on custom schemes, where the async
      // Clipboard API is often missing, and it needs the click's user gesture.
      if (copyWithTextarea(text, button)) {
        finish(true);
      } else if (navigator.clipboard && typeof navigator.clipboard.writeText === 'function') {
        navigator.clipboard.writeText(text).then(
          () => finish(true),
          () => finish(false)
        );
      } else {
        finish(false);
      }
    }

    function copyWithTextarea(text, returnFocusTo) {
      const helper = document.createElement('textarea');
      helper.value = text;
      helper.readOnly = true;
      helper.tabIndex = -1;
      helper.setAttribute('aria-hidden', 'true');
      helper.className = 'clipboard-helper';
      document.body.appendChild(helper);
      helper.focus({ preventScroll: true });
      helper.select();
      let ok = false;
      try {
        ok = document.execCommand('copy');
      } catch (_) {
        ok = false;
      }
      helper.remove();
      returnFocusTo.focus({ preventScroll: true });
      return ok;
    }

    return { onClick: onClick, onAuxClick: onAuxClick };
  }

  window.NexusLinks = { create: create };
})();
