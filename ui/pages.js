/*
 * pages.js — small helpers shared by Nexus's own pages (setup.js,
 * settings.js, logs.js) and the status line: formatting sizes and the
 * server's resource use, copying a command, marking a field's error.
 *
 * Everything that comes from Nexus or the server (paths, log lines, errors)
 * goes into the page as text only (textContent / createTextNode).
 *
 * Exposes window.NexusPages = { formatMiB, formatMemoryBytes, formatCpu,
 * statusParts, renderStatus, copyCommand, setFieldError, clearFieldError }.
 */
(function () {
  'use strict';

  const COPIED_FEEDBACK_MS = 1500;
  const SELECTED_FEEDBACK_MS = 4000;
  const MIB = 1024 * 1024;

  const isString = window.NexusDom.isString;

  function isNumber(value) {
    return typeof value === 'number' && isFinite(value);
  }

  /** `decimals` places, without a trailing ".0" (so 3 → "3", 3.24 → "3.2"). */
  function trimmed(value, decimals) {
    const text = value.toFixed(decimals);
    return decimals > 0 && /\.0+$/.test(text) ? text.replace(/\.0+$/, '') : text;
  }

  /** A size given in MiB, for people: "512 MiB", "3.5 MiB", "7.6 GiB". */
  function formatMiB(mib) {
    if (!isNumber(mib) || mib < 0) return 'unknown';
    if (mib >= 1024) return trimmed(mib / 1024, 1) + ' GiB';
    return trimmed(mib, mib < 10 ? 1 : 0) + ' MiB';
  }

  // The status line formats as the tray menu does (ResourceUse::describe in
  // src/core/resource_use.rs): "CPU 3.0 % · 212 MiB · 4 processes".

  /** Memory: always MiB, 1 decimal under 10 MiB. */
  function formatMemoryBytes(bytes) {
    const mib = bytes / MIB;
    return mib.toFixed(mib < 10 ? 1 : 0) + ' MiB';
  }

  /** CPU: 0 decimals, 1 under 10 %. */
  function formatCpu(percent) {
    return percent.toFixed(percent < 10 ? 1 : 0) + ' %';
  }

  /**
   * A `status` message as text: `line` (the summary, or the state) and
   * `metrics` (" · CPU 3 % · 212 MiB · 4 processes", or "").
   */
  function statusParts(message) {
    let line = isString(message.line) ? message.line.trim() : '';
    if (!line && isString(message.state) && message.state) {
      line = message.state.charAt(0).toUpperCase() + message.state.slice(1);
    }
    const parts = [];
    const metrics = message.metrics;
    if (metrics && typeof metrics === 'object') {
      if (isNumber(metrics.cpu_percent) && metrics.cpu_percent >= 0) parts.push('CPU ' + formatCpu(metrics.cpu_percent));
      if (isNumber(metrics.memory_bytes) && metrics.memory_bytes >= 0) parts.push(formatMemoryBytes(metrics.memory_bytes));
      if (isNumber(metrics.processes) && metrics.processes >= 0) {
        parts.push(metrics.processes + (metrics.processes === 1 ? ' process' : ' processes'));
      }
    }
    return { line: line, metrics: parts.length ? (line ? ' · ' : '') + parts.join(' · ') : '' };
  }

  /**
   * Shows a `status` message in #server-status. Its two spans change only when
   * their text does; the metrics span is aria-live="off", so the numbers that
   * move every 2 s are not read out, while a new state line is.
   */
  function renderStatus(node, lineNode, metricsNode, message) {
    const parts = statusParts(message || {});
    if (lineNode.textContent !== parts.line) lineNode.textContent = parts.line;
    if (metricsNode.textContent !== parts.metrics) metricsNode.textContent = parts.metrics;
    const state = message && isString(message.state) ? message.state : '';
    if (node.dataset.state !== state) node.dataset.state = state;
    const full = parts.line + parts.metrics;
    if (node.title !== full) node.title = full;
    node.hidden = !full;
  }

  const feedbackTimers = new WeakMap();

  /**
   * Copies `source`'s text: with the Clipboard API where there is one; else
   * (or when it refuses) selects the text and tries the copy command, leaving
   * it selected for Ctrl+C. `announce` tells screen readers what happened.
   */
  function copyCommand(button, source, announce) {
    const text = source.textContent;
    const label = button.dataset.label || (button.dataset.label = button.textContent);
    const finish = function (copied) {
      button.textContent = copied ? 'Copied' : 'Selected: press Ctrl+C';
      if (announce) announce(copied ? 'Copied.' : 'The command is selected: press Ctrl+C to copy it.');
      clearTimeout(feedbackTimers.get(button));
      feedbackTimers.set(
        button,
        setTimeout(
          function () {
            button.textContent = label;
          },
          copied ? COPIED_FEEDBACK_MS : SELECTED_FEEDBACK_MS
        )
      );
    };
    const selectText = function () {
      const selection = window.getSelection();
      const range = document.createRange();
      range.selectNodeContents(source);
      selection.removeAllRanges();
      selection.addRange(range);
      let copied = false;
      try {
        copied = document.execCommand('copy');
      } catch (_) {
        copied = false;
      }
      finish(copied);
    };
    if (navigator.clipboard && typeof navigator.clipboard.writeText === 'function') {
      navigator.clipboard.writeText(text).then(function () {
        finish(true);
      }, selectText);
    } else {
      selectText();
    }
  }

  /** Marks a control invalid and puts `message` in its error element. */
  function setFieldError(control, errorNode, message) {
    if (control) control.setAttribute('aria-invalid', 'true');
    if (errorNode) errorNode.textContent = message;
  }

  function clearFieldError(control, errorNode) {
    if (control && control.hasAttribute('aria-invalid')) control.removeAttribute('aria-invalid');
    if (errorNode && errorNode.textContent) errorNode.textContent = '';
  }

  window.NexusPages = {
    formatMiB: formatMiB,
    formatMemoryBytes: formatMemoryBytes,
    formatCpu: formatCpu,
    statusParts: statusParts,
    renderStatus: renderStatus,
    copyCommand: copyCommand,
    setFieldError: setFieldError,
    clearFieldError: clearFieldError,
  };
})();
