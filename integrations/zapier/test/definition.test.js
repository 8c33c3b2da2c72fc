'use strict';

// The app definition: Zapier's own schema accepts it, and every operation of the generated
// catalog is in it with the shape Zapier needs.

const test = require('node:test');
const assert = require('node:assert/strict');

const zapier = require('zapier-platform-core');
const { validateAppDefinition } = require('zapier-platform-schema');
const schemaTools = require('zapier-platform-core/src/tools/schema');

const App = require('../index');
const catalog = require('../generated/catalog.json');

test('zapier-platform-schema accepts the app with no errors', () => {
  const serialized = schemaTools.serializeApp(schemaTools.compileApp({ ...App }));
  const { errors } = validateAppDefinition(serialized);
  assert.deepEqual(
    errors.map((e) => `${e.property}: ${e.message}`),
    [],
  );
  // the same check `zapier validate` runs through zapier-platform-core
  assert.deepEqual(schemaTools.validateApp(schemaTools.compileApp({ ...App })), []);
  assert.equal(App.platformVersion, zapier.version);
});

test('every trigger of the catalog is a REST hook trigger with subscribe, unsubscribe, perform and performList', () => {
  assert.ok(catalog.triggers.length > 0);
  for (const entry of catalog.triggers) {
    const t = App.triggers[entry.key];
    assert.ok(t, `trigger ${entry.key} missing`);
    assert.equal(t.operation.type, 'hook');
    for (const fn of ['performSubscribe', 'performUnsubscribe', 'perform', 'performList']) {
      assert.equal(typeof t.operation[fn], 'function', `${entry.key}.${fn}`);
    }
    assert.ok(Object.keys(t.operation.sample).length, `${entry.key} has a sample`);
  }
});

test('every action is a create or, when it finds something, a search', () => {
  for (const entry of catalog.creates) {
    assert.ok(App.creates[entry.key], `create ${entry.key} missing`);
    assert.ok(Object.keys(App.creates[entry.key].operation.sample).length);
  }
  for (const entry of catalog.searches) {
    assert.ok(App.searches[entry.key], `search ${entry.key} missing`);
  }
  for (const key of ['contacts__find_contact', 'other__find_location_by_id']) {
    assert.ok(App.searches[key], `${key} is a search`);
    assert.equal(App.creates[key], undefined);
  }
  assert.ok(App.creates.contacts__create_contact);
  // "Find or Create Contact", and contact ids a Zap can fill with a Find Contact step
  assert.deepEqual(
    [App.searchOrCreates.contacts__find_contact.search, App.searchOrCreates.contacts__find_contact.create],
    ['contacts__find_contact', 'contacts__create_contact'],
  );
  const contactId = App.creates.contacts__add_tags_to_contact.operation.inputFields.find(
    (f) => f.key === 'contactId',
  );
  assert.equal(contactId.search, 'contacts__find_contact.id');
});

test('Zapier keys are valid and map from the engine keys', () => {
  for (const group of ['triggers', 'creates', 'searches']) {
    for (const [key, def] of Object.entries(App[group])) {
      assert.match(key, /^[a-zA-Z]+[a-zA-Z0-9_]*$/);
      assert.equal(def.key, key);
    }
  }
  for (const entry of [...catalog.triggers, ...catalog.creates, ...catalog.searches]) {
    assert.equal(entry.key, entry.operation.replace('.', '__'));
  }
});

test('every operation asks for a connection of its app, and every dropdown has its hidden trigger', () => {
  const entries = [...catalog.triggers, ...catalog.creates, ...catalog.searches];
  for (const entry of entries) {
    const [first] = entry.inputFields;
    assert.equal(first.key, 'connection_id');
    assert.equal(first.required, true);
    assert.equal(first.dynamic, `connections_${entry.app}.id.name`);
    for (const field of entry.inputFields) {
      if (!field.dynamic) continue;
      const [triggerKey, idKey, labelKey] = field.dynamic.split('.');
      const source = App.triggers[triggerKey];
      assert.ok(source, `${entry.key}.${field.key}: no trigger ${triggerKey}`);
      assert.equal(source.display.hidden, true);
      assert.deepEqual([idKey, labelKey], ['id', 'name']);
    }
  }
  const dynamicOf = (key, name) =>
    App.creates[key].operation.inputFields.find((f) => f.key === name).dynamic;
  assert.equal(dynamicOf('calendars__create_appointment', 'calendarId'), 'dropdown_calendars.id.name');
  assert.equal(dynamicOf('opportunities__create_opportunity', 'pipelineId'), 'dropdown_pipelines.id.name');
  assert.equal(dynamicOf('opportunities__create_opportunity', 'pipelineStageId'), 'dropdown_stages.id.name');
  assert.equal(dynamicOf('contacts__create_contact_task', 'assignedTo'), 'dropdown_users.id.name');
});

test('input fields carry the JSON Schema: required, types, help text, choices', () => {
  const fields = Object.fromEntries(
    App.creates.opportunities__create_opportunity.operation.inputFields.map((f) => [f.key, f]),
  );
  assert.equal(fields.name.required, true);
  assert.equal(fields.status.required, true);
  assert.deepEqual(
    fields.status.choices.map((c) => c.value),
    ['open', 'won', 'lost', 'abandoned'],
  );
  assert.equal(fields.monetaryValue.type, 'number');
  assert.ok(fields.name.helpText.length > 4);
  const sms = Object.fromEntries(
    App.creates.smsglobal__send_sms.operation.inputFields.map((f) => [f.key, f]),
  );
  assert.equal(sms.destinations.list, true);
  assert.equal(sms.connection_id.dynamic, 'connections_smsglobal.id.name');
});
