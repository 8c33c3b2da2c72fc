'use strict';

// The Zapier app of ghl-engine: every trigger and action of the engine's catalog.
// generated/catalog.json is written by `ghl-engine zapier generate`; lib/ serves it.

const catalog = require('./generated/catalog.json');
const { build } = require('./lib/build');
const { addApiKey, call } = require('./lib/engine');

const authentication = {
  type: 'custom',
  fields: [
    {
      key: 'base_url',
      label: 'Engine URL',
      type: 'string',
      required: true,
      helpText:
        'The address of your ghl-engine, e.g. `https://engine.example.com` (Zapier must be able to reach it).',
    },
    {
      key: 'api_key',
      label: 'API Key',
      type: 'password',
      required: true,
      helpText: 'An engine API key, made with `ghl-engine keys create --tenant NAME`.',
    },
  ],
  // a key the engine accepts can list its tenant's connections
  test: async (z, bundle) => {
    const { data } = await call(z, bundle, 'GET', '/v1/connections');
    return data;
  },
  connectionLabel: (z, bundle) => {
    const n = ((bundle.inputData && bundle.inputData.connections) || []).length;
    return `${bundle.authData.base_url} (${n} connection${n === 1 ? '' : 's'})`;
  },
};

module.exports = {
  version: require('./package.json').version,
  platformVersion: require('zapier-platform-core').version,
  authentication,
  beforeRequest: [addApiKey],
  afterResponse: [],
  ...build(catalog),
};
