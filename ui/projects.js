/*
 * projects.js — the project picker (#project): which directory the chat is
 * in, and switching it.
 *
 * Exposes window.NexusProjects = { basename(path), optionLabels(directories),
 * create(app) } → { setDirectory(directory, keepSession), renderOptions() }.
 */
(function () {
  'use strict';

  const Dom = window.NexusDom;
  const isString = Dom.isString;

  /** The last part of a path (a folder's name), trailing slashes ignored. */
  function basename(path) {
    const trimmed = String(path || '').replace(/\/+$/, '');
    const cut = trimmed.lastIndexOf('/');
    return cut === -1 ? trimmed : trimmed.slice(cut + 1) || '/';
  }

  /** What the picker shows for each directory: its name, or its full path when two share a name. */
  function optionLabels(directories) {
    const counts = Object.create(null);
    for (const directory of directories) {
      const name = basename(directory);
      counts[name] = (counts[name] || 0) + 1;
    }
    return directories.map(function (directory) {
      const name = basename(directory);
      return counts[name] > 1 ? directory : name;
    });
  }

  function create(app) {
    const state = app.state;
    const dom = app.dom;

    /** Switches the project directory; without `keepSession` shows its new-session screen. */
    function setDirectory(directory, keepSession) {
      if (!isString(directory) || !directory) return;
      if (state.directories.indexOf(directory) === -1) {
        state.directories.push(directory);
        renderOptions();
      }
      const changed = directory !== state.directory;
      state.directory = directory;
      dom.project.value = directory;
      if (!keepSession) app.sessions.startNew();
      if (changed) {
        state.sessionList = [];
        app.sessions.load();
        app.statuses.load(directory);
        app.pending.load(directory);
      }
    }

    function renderOptions() {
      const labels = optionLabels(state.directories);
      const fragment = document.createDocumentFragment();
      state.directories.forEach(function (directory, index) {
        const option = Dom.el('option', null, labels[index]);
        option.value = directory;
        option.title = directory;
        fragment.appendChild(option);
      });
      dom.project.replaceChildren(fragment);
      if (state.directory) dom.project.value = state.directory;
    }

    return { setDirectory: setDirectory, renderOptions: renderOptions };
  }

  window.NexusProjects = { basename: basename, optionLabels: optionLabels, create: create };
})();
