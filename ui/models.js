/*
 * models.js — the composer's pickers: the model (#model, from `providers`)
 * and the agent (#agent, from `agents`), and on opening a session the choice
 * its last prompt used.
 *
 * Exposes window.NexusModels = { providerList(data), parseModel(value),
 * create(app) } → { loadProviders(), loadAgents(), selected(), adoptFrom(conversation),
 * selectIfPresent(select, value) }.
 */
(function () {
  'use strict';

  const Dom = window.NexusDom;
  const el = Dom.el;
  const isString = Dom.isString;

  /** The `providers` answer as [{ id, name, models: [{ id, name }] }] (models may come as a map). */
  function providerList(data) {
    const providers = data && Array.isArray(data.providers) ? data.providers : [];
    return providers.map(function (provider) {
      const models = Array.isArray(provider.models)
        ? provider.models
        : provider.models && typeof provider.models === 'object'
          ? Object.values(provider.models)
          : [];
      return { id: String(provider.id), name: provider.name || provider.id, models: models.filter((m) => m && isString(m.id)) };
    });
  }

  /** "provider/model" → the prompt's `model` field; undefined for the default model. */
  function parseModel(value) {
    const slash = value.indexOf('/');
    if (slash <= 0 || slash === value.length - 1) return undefined;
    return { providerID: value.slice(0, slash), modelID: value.slice(slash + 1) };
  }

  function selectIfPresent(select, value) {
    for (const option of select.options) {
      if (option.value === value) {
        select.value = value;
        return true;
      }
    }
    return false;
  }

  function create(app) {
    const state = app.state;
    const dom = app.dom;

    function loadProviders() {
      return app.bridge
        .call('providers', {})
        .then(function (data) {
          state.providers = providerList(data);
          state.defaultModel = data && isString(data.default) ? data.default : null;
          state.providersError = '';
          renderModelOptions();
        })
        .catch(function (error) {
          app.noteCallFailure(error);
          state.providersError = error.message;
          renderModelOptions();
        });
    }

    function renderModelOptions() {
      const previous = dom.model.value;
      const fragment = document.createDocumentFragment();
      let count = 0;
      for (const provider of state.providers || []) {
        for (const model of provider.models) {
          const option = el('option', null, provider.name + ' · ' + (model.name || model.id));
          option.value = provider.id + '/' + model.id;
          fragment.appendChild(option);
          count++;
        }
      }
      if (!count) {
        const option = el('option', null, state.providersError ? 'Default model (list unavailable)' : 'Default model');
        option.value = '';
        fragment.appendChild(option);
      }
      dom.model.replaceChildren(fragment);
      if (!(previous && selectIfPresent(dom.model, previous)) && !(state.defaultModel && selectIfPresent(dom.model, state.defaultModel))) {
        dom.model.selectedIndex = 0;
      }
    }

    function loadAgents() {
      return app.bridge
        .call('agents', {})
        .then(function (list) {
          const agents = (Array.isArray(list) ? list : []).filter((a) => a && isString(a.name));
          if (!agents.length) return;
          state.agents = agents;
          const previous = dom.agent.value;
          const fragment = document.createDocumentFragment();
          for (const agent of agents) {
            const option = el('option', null, agent.name.charAt(0).toUpperCase() + agent.name.slice(1));
            option.value = agent.name;
            if (isString(agent.description)) option.title = agent.description;
            fragment.appendChild(option);
          }
          dom.agent.replaceChildren(fragment);
          if (!selectIfPresent(dom.agent, previous) && !selectIfPresent(dom.agent, 'build')) dom.agent.selectedIndex = 0;
        })
        .catch(app.noteCallFailure);
    }

    /** The chosen model as the prompt's `model` field (undefined: the default). */
    function selected() {
      return parseModel(dom.model.value);
    }

    /** On opening a session, pick the model and agent its last prompt used. */
    function adoptFrom(conversation) {
      for (let k = conversation.order.length - 1; k >= 0; k--) {
        const info = conversation.entries.get(conversation.order[k]).info;
        if (info.role !== 'user') continue;
        const model = info.model;
        if (model && isString(model.providerID) && isString(model.modelID)) {
          selectIfPresent(dom.model, model.providerID + '/' + model.modelID);
        }
        if (isString(info.agent)) selectIfPresent(dom.agent, info.agent);
        return;
      }
    }

    return {
      loadProviders: loadProviders,
      loadAgents: loadAgents,
      selected: selected,
      adoptFrom: adoptFrom,
      selectIfPresent: selectIfPresent,
    };
  }

  window.NexusModels = { providerList: providerList, parseModel: parseModel, create: create };
})();
