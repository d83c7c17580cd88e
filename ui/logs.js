/*
 * logs.js — the Logs view (#view-logs): the server log, followed live.
 *
 * Showing the view calls `follow_log` {on:true} (the last 500 lines), then
 * `log` messages append; leaving it (or the window hiding) calls
 * `follow_log` {on:false}. Lines are plain text in div.log-line elements.
 * Appending is cheap: lines queue up and one animation frame adds them all
 * as one fragment; at most MAX_LINES stay, the oldest go first. The filter
 * hides non-matching lines (it never rebuilds them).
 *
 * Exposes window.NexusLogs = { create(host) } → { show(), stop(), focus(),
 * onLog(lines) }, where host = { call(name, fields) → Promise, announce(text) }.
 */
(function () {
  'use strict';

  const Pages = window.NexusPages;
  const isString = window.NexusDom.isString;

  const MAX_LINES = 5000;
  const PIN_DISTANCE_PX = 24; // this close to the bottom counts as "at the bottom"
  const ANNOUNCE_DELAY_MS = 600; // the filter's count is read out once typing pauses

  const byId = window.NexusDom.byId;

  function create(host) {
    const dom = {
      view: byId('view-logs'),
      filter: byId('log-filter'),
      count: byId('log-count'),
      openFolder: byId('open-log-folder'),
      file: byId('log-file'),
      error: byId('logs-error'),
      empty: byId('log-empty'),
      lines: byId('log-lines'),
    };

    let entries = []; // { node, lower, match }, oldest first, as in #log-lines
    let matchCount = 0;
    let needle = ''; // the filter, lower case
    let pending = []; // lines waiting for the next frame
    let frame = 0;
    let filterChanged = false;
    let scrollToEnd = false; // the next frame ends at the bottom whatever the reader did
    let active = false; // following (or asking to)
    let loading = false;
    let buffered = null; // `log` lines that arrive while follow_log {on:true} is on its way
    let followSeq = 0;
    let announceTimer = 0;

    // ------------------------------------------------------------ following

    function show() {
      if (active) return;
      active = true;
      loading = true;
      buffered = [];
      const seq = ++followSeq;
      dom.error.textContent = '';
      updateEmpty();
      host
        .call('follow_log', { on: true })
        .then(function (data) {
          if (seq !== followSeq || !active) return;
          const lines = data && Array.isArray(data.lines) ? data.lines.filter(isString) : [];
          const later = buffered || [];
          buffered = null;
          dom.file.textContent = data && isString(data.file) && data.file ? 'Server log: ' + data.file : '';
          replaceAll(lines.concat(later));
        })
        .catch(function (error) {
          if (seq !== followSeq) return;
          const later = buffered || [];
          buffered = null;
          dom.error.textContent = 'Couldn’t read the server log: ' + error.message;
          if (later.length) append(later);
        })
        .finally(function () {
          if (seq !== followSeq) return;
          loading = false;
          updateEmpty();
        });
    }

    /** Stops following (leaving the view, or the window hid). */
    function stop() {
      if (!active) return;
      active = false;
      loading = false;
      buffered = null;
      followSeq++;
      pending = [];
      host.call('follow_log', { on: false }).catch(function (error) {
        console.warn('[nexus] follow_log off failed', error && error.message);
      });
    }

    function onLog(lines) {
      if (!active || !Array.isArray(lines)) return;
      if (buffered) {
        for (const line of lines) if (isString(line)) buffered.push(line);
        if (buffered.length > MAX_LINES) buffered.splice(0, buffered.length - MAX_LINES);
        return;
      }
      append(lines);
    }

    // ------------------------------------------------------------ drawing

    function append(lines) {
      for (const line of lines) if (isString(line)) pending.push(line);
      if (pending.length > MAX_LINES) pending.splice(0, pending.length - MAX_LINES);
      schedule();
    }

    function replaceAll(lines) {
      entries = [];
      matchCount = 0;
      dom.lines.replaceChildren();
      pending = lines.length > MAX_LINES ? lines.slice(lines.length - MAX_LINES) : lines.slice();
      scrollToEnd = true;
      schedule();
    }

    function schedule() {
      if (!frame) frame = requestAnimationFrame(flush);
    }

    function isAtBottom() {
      const scroller = dom.lines;
      return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight <= PIN_DISTANCE_PX;
    }

    function flush() {
      frame = 0;
      const scroller = dom.lines;
      const atBottom = scrollToEnd || isAtBottom();
      scrollToEnd = false;
      if (filterChanged) {
        filterChanged = false;
        applyFilter();
      }
      if (pending.length) {
        const incoming = pending;
        pending = [];
        const drop = Math.min(entries.length, entries.length + incoming.length - MAX_LINES);
        if (drop > 0) {
          const before = atBottom ? 0 : scroller.scrollHeight;
          const removed = entries.splice(0, drop);
          for (const entry of removed) {
            if (entry.match) matchCount--;
            entry.node.remove();
          }
          // Keep the reader's place while the oldest lines go.
          if (!atBottom) scroller.scrollTop -= before - scroller.scrollHeight;
        }
        const fragment = document.createDocumentFragment();
        for (const line of incoming) {
          const node = document.createElement('div');
          node.className = 'log-line';
          node.textContent = line;
          const lower = line.toLowerCase();
          const match = !needle || lower.indexOf(needle) !== -1;
          if (!match) node.hidden = true;
          else matchCount++;
          entries.push({ node: node, lower: lower, match: match });
          fragment.appendChild(node);
        }
        scroller.appendChild(fragment);
      }
      if (atBottom) scroller.scrollTop = scroller.scrollHeight;
      updateCount();
      updateEmpty();
    }

    function applyFilter() {
      matchCount = 0;
      for (const entry of entries) {
        const match = !needle || entry.lower.indexOf(needle) !== -1;
        if (match !== entry.match) {
          entry.match = match;
          entry.node.hidden = !match;
        }
        if (match) matchCount++;
      }
    }

    function countText() {
      return matchCount + ' of ' + entries.length + ' lines';
    }

    function updateCount() {
      const text = countText();
      if (dom.count.textContent !== text) dom.count.textContent = text;
    }

    function updateEmpty() {
      let text = '';
      if (loading && !entries.length) text = 'Reading the server log…';
      else if (!entries.length && !pending.length && !dom.error.textContent) text = 'The server log is empty.';
      else if (entries.length && !matchCount && needle) text = 'No lines contain “' + dom.filter.value + '”.';
      if (dom.empty.textContent !== text) dom.empty.textContent = text;
      dom.empty.hidden = !text;
    }

    function onFilterInput() {
      const value = dom.filter.value.toLowerCase();
      if (value === needle) return;
      needle = value;
      filterChanged = true;
      schedule();
      clearTimeout(announceTimer);
      announceTimer = setTimeout(function () {
        if (active) host.announce(countText());
      }, ANNOUNCE_DELAY_MS);
    }

    // ------------------------------------------------------------ wiring

    dom.filter.addEventListener('input', onFilterInput);
    dom.filter.addEventListener('search', onFilterInput);
    dom.filter.addEventListener('keydown', function (event) {
      // Escape empties the filter first; with it empty, Escape hides the window as usual.
      if (event.key === 'Escape' && dom.filter.value) {
        event.preventDefault();
        event.stopPropagation();
        dom.filter.value = '';
        onFilterInput();
      }
    });
    dom.openFolder.addEventListener('click', function () {
      dom.error.textContent = '';
      host.call('open_log_folder', {}).catch(function (error) {
        dom.error.textContent = 'Couldn’t open the log folder: ' + error.message;
      });
    });

    updateCount();

    return {
      show: show,
      stop: stop,
      leave: stop,
      onLog: onLog,
      focus: function () {
        dom.filter.focus({ preventScroll: true });
      },
    };
  }

  window.NexusLogs = { create: create };
})();
