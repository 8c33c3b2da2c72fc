'use strict';

// Turns the generated catalog (generated/catalog.json) into Zapier triggers, creates and
// searches. Nothing here is specific to one operation: every entry is served by the engine's
// generic routes (/v1/actions/{key}, /v1/triggers/{key}/items, /v1/subscriptions).

const {
  CONNECTION_FIELD,
  CUSTOM_PREFIX,
  INTERVAL_FIELD,
  at,
  call,
  connectionOf,
  inputOf,
  verifySignature,
} = require('./engine');

const enc = encodeURIComponent;
const SAMPLE_LIMIT = 25;
const DROPDOWN_LIMIT = 500;

const readItems = async (z, bundle, operation, params, limit) => {
  const { data } = await call(z, bundle, 'POST', `/v1/triggers/${enc(operation)}/items`, {
    connection_id: connectionOf(bundle),
    params,
    limit,
  });
  return (data && data.items) || [];
};

// ---------------------------------------------------------------------------- REST hook triggers

const hookTrigger = (entry) => {
  const performSubscribe = async (z, bundle) => {
    const body = {
      trigger: entry.operation,
      connection_id: connectionOf(bundle),
      params: inputOf(entry, bundle.inputData),
      target_url: bundle.targetUrl,
    };
    const interval = parseInt((bundle.inputData || {})[INTERVAL_FIELD], 10);
    if (Number.isFinite(interval)) body.interval_minutes = interval;
    const { data } = await call(z, bundle, 'POST', '/v1/subscriptions', body);
    return data; // kept by Zapier as bundle.subscribeData: {id, secret, ...}
  };

  const performUnsubscribe = async (z, bundle) => {
    const id = bundle.subscribeData && bundle.subscribeData.id;
    if (!id) return {};
    // already gone (a 410 from Zapier removed it, or it was deleted by hand) is fine
    await call(z, bundle, 'DELETE', `/v1/subscriptions/${enc(id)}`, undefined, [404]);
    return { id };
  };

  // One delivery = one POST {subscription_id, trigger, item_id, data}; the item is `data`.
  // The engine signs every delivery with the subscription's secret (Standard Webhooks): a POST
  // to the hook URL that is not signed with it did not come from the engine.
  const perform = async (z, bundle) => {
    const raw = bundle.rawRequest || {};
    const secret = bundle.subscribeData && bundle.subscribeData.secret;
    if (secret && raw.headers && Object.keys(raw.headers).length) {
      if (!verifySignature(secret, raw.headers, raw.content || '')) {
        throw new z.errors.HaltedError(
          'this request is not signed with the subscription secret (webhook-signature header)',
        );
      }
    }
    const body = bundle.cleanedRequest || {};
    const item = body.data;
    if (!item || typeof item !== 'object') return [];
    // `data` is the upstream object with its own id; `item_id` is the engine's dedupe key. The
    // item is shaped as the polling read shapes it: id = the dedupe key, object_id = the object's
    const out = Array.isArray(item) ? { items: item } : { ...item };
    if (out.id !== undefined && out.id !== null && out.id !== body.item_id) out.object_id = out.id;
    if (body.item_id !== undefined && body.item_id !== null) out.id = body.item_id;
    return [out];
  };

  const performList = async (z, bundle) =>
    readItems(z, bundle, entry.operation, inputOf(entry, bundle.inputData), SAMPLE_LIMIT);

  return {
    key: entry.key,
    noun: entry.noun,
    display: entry.display,
    operation: {
      type: 'hook',
      inputFields: entry.inputFields,
      performSubscribe,
      performUnsubscribe,
      perform,
      performList,
      sample: entry.sample,
    },
  };
};

// ---------------------------------------------------------------------------- creates, searches

const runAction = async (z, bundle, entry, allow = []) =>
  call(
    z,
    bundle,
    'POST',
    `/v1/actions/${enc(entry.operation)}`,
    { connection_id: connectionOf(bundle), input: inputOf(entry, bundle.inputData) },
    allow,
  );

const asObject = (value, whole) => {
  if (value && typeof value === 'object' && !Array.isArray(value)) return value;
  if (Array.isArray(value)) return { items: value };
  if (whole && typeof whole === 'object' && !Array.isArray(whole)) return whole;
  return { result: value === undefined ? null : value };
};

const create = (entry, catalog) => ({
  key: entry.key,
  noun: entry.noun,
  display: entry.display,
  operation: {
    inputFields: entry.customFields
      ? [
          ...entry.inputFields,
          customFieldInputs(entry.customFields, catalog.dropdowns[entry.customFields.dropdown]),
        ]
      : entry.inputFields,
    perform: async (z, bundle) => {
      const { data } = await runAction(z, bundle, entry);
      const result = data ? data.data : null;
      const out = asObject(at(result, entry.outputPath), result);
      const empty = Object.keys(out).length === 0 || (Object.keys(out).length === 1 && out.result === null);
      // an empty answer (a DELETE's 204) still tells the Zap the step worked
      const meta = (data && data.meta) || {};
      return empty ? { success: true, upstream_status: meta.upstream_status } : out;
    },
    sample: entry.sample,
  },
});

const search = (entry) => {
  const perform = async (z, bundle) => {
    if (entry.source === 'trigger') {
      return readItems(z, bundle, entry.operation, inputOf(entry, bundle.inputData), SAMPLE_LIMIT);
    }
    // a search that finds nothing is an empty list, not an error
    const { status, data } = await runAction(z, bundle, entry, [404]);
    if (status === 404) return [];
    const found = at(data ? data.data : null, entry.outputPath);
    if (found === undefined || found === null) return [];
    if (Array.isArray(found)) return found.filter((x) => x !== null && x !== undefined);
    if (typeof found === 'object') return Object.keys(found).length ? [found] : [];
    return [{ result: found }];
  };
  return {
    key: entry.key,
    noun: entry.noun,
    display: entry.display,
    operation: { inputFields: entry.inputFields, perform, sample: entry.sample },
  };
};

// ---------------------------------------------------------------------------- dropdowns

const labelOf = (item, fields) => {
  for (const f of fields) {
    const v = at(item, f);
    if (v !== undefined && v !== null && v !== '') return String(v);
  }
  return undefined;
};

// The items behind a dropdown: its trigger read with the chosen connection.
const dropdownItems = async (z, bundle, drop, extraParams = {}) => {
  const params = { ...(drop.params || {}), ...extraParams };
  if (drop.fromConnection && Object.keys(drop.fromConnection).length) {
    const id = enc(bundle.inputData[CONNECTION_FIELD]);
    const { data: conn } = await call(z, bundle, 'GET', `/v1/connections/${id}`);
    for (const [param, field] of Object.entries(drop.fromConnection)) {
      if (conn && conn[field]) params[param] = conn[field];
    }
  }
  let items = await readItems(z, bundle, drop.trigger, params, DROPDOWN_LIMIT);
  if (drop.each) {
    const parent = drop.parent ? bundle.inputData[drop.parent] : undefined;
    items = items
      .filter((it) => !parent || it.object_id === parent || it.id === parent)
      .flatMap((it) => at(it, drop.each) || []);
  }
  return items.filter((it) => it && typeof it === 'object');
};

// a trigger that fires on updates keeps the object's own id in object_id
const valueOf = (item, drop) => (drop.value === 'id' ? (item.object_id ?? item.id) : at(item, drop.value));

// A hidden trigger listing {id, name} choices from a catalog trigger's items.
const dropdown = (drop) => ({
  key: drop.key,
  noun: drop.noun,
  display: { label: `${drop.noun} Choices`, description: `Lists ${drop.noun} choices.`, hidden: true },
  operation: {
    perform: async (z, bundle) => {
      if (!bundle.inputData || !bundle.inputData[CONNECTION_FIELD]) return [];
      const seen = new Set();
      const choices = [];
      for (const it of await dropdownItems(z, bundle, drop)) {
        const value = valueOf(it, drop);
        if (value === undefined || value === null || seen.has(String(value))) continue;
        seen.add(String(value));
        choices.push({ id: String(value), name: labelOf(it, drop.label) || String(value) });
      }
      return choices;
    },
    sample: { id: 'abc123', name: `Example ${drop.noun}` },
  },
});

// One input field per custom field of the connection's location (contacts, opportunities).
const CUSTOM_TYPES = { NUMERICAL: 'number', MONETORY: 'number', MONETARY: 'number', LARGE_TEXT: 'text' };
const customFieldInputs = (config, drop) => async (z, bundle) => {
  if (!drop || !bundle.inputData || !bundle.inputData[CONNECTION_FIELD]) return [];
  const items = await dropdownItems(z, bundle, drop, { model: config.model });
  return items
    .filter((cf) => !cf.model || cf.model === config.model)
    .map((cf) => {
      const options = (cf.picklistOptions || []).map(String).filter(Boolean);
      const field = {
        key: `${CUSTOM_PREFIX}${valueOf(cf, drop)}`,
        label: labelOf(cf, drop.label) || String(valueOf(cf, drop)),
        required: false,
        type: CUSTOM_TYPES[cf.dataType] || 'string',
        helpText: `Custom field ${cf.fieldKey || ''} (${cf.dataType || 'TEXT'}).`.replace('  ', ' '),
      };
      if (options.length) field.choices = options;
      if (['CHECKBOX', 'MULTIPLE_OPTIONS'].includes(cf.dataType)) field.list = true;
      return field;
    });
};

// A hidden trigger listing the engine connections of one app (the connection picker).
const connections = (app, conn) => ({
  key: conn.key,
  noun: 'Connection',
  display: {
    label: `${conn.label} Connections`,
    description: `Lists the engine's ${conn.label} connections.`,
    hidden: true,
  },
  operation: {
    perform: async (z, bundle) => {
      const { data } = await call(z, bundle, 'GET', '/v1/connections');
      return ((data && data.connections) || [])
        .filter((c) => c.app === app)
        .map((c) => ({
          ...c,
          name: [c.name || c.id, c.location_id || c.company_id].filter(Boolean).join(' · '),
        }));
    },
    sample: { id: 'conn_123', app, name: `My ${conn.label} account` },
  },
});

const keyed = (list) => Object.fromEntries(list.map((x) => [x.key, x]));

const build = (catalog) => {
  const triggers = [
    ...catalog.triggers.map(hookTrigger),
    ...Object.values(catalog.dropdowns).map(dropdown),
    ...Object.entries(catalog.connections).map(([app, conn]) => connections(app, conn)),
  ];
  return {
    triggers: keyed(triggers),
    creates: keyed(catalog.creates.map((entry) => create(entry, catalog))),
    searches: keyed(catalog.searches.map(search)),
    searchOrCreates: keyed(catalog.searchOrCreates || []),
  };
};

module.exports = { build };
