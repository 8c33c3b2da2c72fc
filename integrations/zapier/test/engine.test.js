'use strict';

// The app against a running engine and its sandbox, through zapier-platform-core's app tester:
// authentication, connection pickers, dropdowns, creates and searches, and for every category
// the REST hook cycle (subscribe → create data through an action → the delivery reaches a
// stand-in for Zapier's hook URL → perform → unsubscribe), plus performList.

const test = require('node:test');
const assert = require('node:assert/strict');

const zapier = require('zapier-platform-core');
const App = require('../index');
const catalog = require('../generated/catalog.json');
const {
  HookServer,
  authData,
  engine,
  env,
  json,
  skipLive,
  upstreamCalled,
  waitFor,
  zapierRequest,
} = require('./support');

const appTester = zapier.createAppTester(App);
const run = (fn, inputData, extra = {}) => appTester(fn, { authData: authData(), inputData, ...extra });
const exercised = new Set(); // engine operation keys this suite ran

const create = async (key, input, connection = env.ghl) => {
  const entry = catalog.creates.find((c) => c.key === key);
  assert.ok(entry, `${key} is a create of the catalog`);
  exercised.add(entry.operation);
  return run(App.creates[key].operation.perform, { connection_id: connection, ...input });
};
const search = async (key, input, connection = env.ghl) => {
  exercised.add(catalog.searches.find((c) => c.key === key).operation);
  return run(App.searches[key].operation.perform, { connection_id: connection, ...input });
};
const choices = (key, inputData) => run(App.triggers[key].operation.perform, inputData);

const unique = () => `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
const inDays = (days) =>
  new Date(Date.now() + days * 24 * 3600 * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
const tomorrow = () => inDays(1.1);

let hooks;
test.before(async () => {
  if (!skipLive) hooks = await new HookServer().start();
});
test.after(async () => {
  if (hooks) await hooks.stop();
});

test('authentication: the test call accepts the engine API key and refuses a wrong one', { skip: skipLive }, async () => {
  const result = await appTester(App.authentication.test, { authData: authData() });
  assert.ok(result.connections.some((c) => c.id === env.ghl));
  const label = await appTester(App.authentication.connectionLabel, {
    authData: authData(),
    inputData: result,
  });
  assert.match(label, new RegExp(env.engineUrl.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  // a wrong or revoked key: Zapier is told to ask the user to reconnect
  await assert.rejects(
    appTester(App.authentication.test, { authData: { ...authData(), api_key: 'not-a-key' } }),
    (err) => err.name === 'ExpiredAuthError' && /API key/.test(err.message),
  );
  await assert.rejects(
    appTester(App.authentication.test, { authData: { ...authData(), base_url: 'engine.example.com' } }),
    /must start with https:\/\//,
  );
});

test('connection pickers list the engine connections of each app', { skip: skipLive }, async () => {
  const ghl = await choices('connections_ghl', {});
  assert.deepEqual(ghl.map((c) => c.id), [env.ghl]);
  assert.ok(ghl[0].name.length > 0);
  if (env.smsglobal) {
    const sms = await choices('connections_smsglobal', {});
    assert.deepEqual(sms.map((c) => c.id), [env.smsglobal]);
  }
});

test('dropdowns list choices from the catalog triggers', { skip: skipLive }, async () => {
  const ghlDropdowns = Object.values(catalog.dropdowns).filter((d) => d.app === 'ghl' && !d.parent);
  assert.ok(ghlDropdowns.length >= 5);
  for (const drop of ghlDropdowns) {
    const found = await choices(drop.key, { connection_id: env.ghl });
    assert.ok(found.length > 0, `${drop.key} has choices`);
    for (const c of found) {
      assert.equal(typeof c.id, 'string');
      assert.equal(typeof c.name, 'string');
    }
    exercised.add(drop.trigger);
  }
  // the ids are the objects' own ids: what the trigger lists, and what an action accepts
  const pipelines = await choices('dropdown_pipelines', { connection_id: env.ghl });
  const listed = await run(App.triggers.opportunities__list_pipelines.operation.performList, {
    connection_id: env.ghl,
  });
  assert.deepEqual(
    pipelines.map((p) => p.id).sort(),
    listed.map((p) => p.object_id || p.id).sort(),
  );
  // stages follow the chosen pipeline
  const stages = await choices('dropdown_stages', {
    connection_id: env.ghl,
    pipelineId: pipelines[0].id,
  });
  const pipeline = listed.find((p) => (p.object_id || p.id) === pipelines[0].id);
  assert.deepEqual(
    stages.map((s) => s.id),
    pipeline.stages.map((s) => s.id),
  );
  // without a connection chosen yet a dropdown is empty, not an error
  assert.deepEqual(await choices('dropdown_calendars', {}), []);
});

test('creates and searches run end to end', { skip: skipLive }, async () => {
  const email = `zap-${unique()}@example.com`;
  const contact = await create('contacts__create_contact', {
    firstName: 'Zap',
    lastName: 'Tester',
    email,
    extra_fields: { source: 'zapier test', favouriteColour: 'teal' },
  });
  assert.ok(contact.id);
  assert.equal(contact.email, email);
  assert.equal(contact.source, 'zapier test'); // "Other Fields" reach the body
  assert.equal(contact.favouriteColour, 'teal'); // undeclared ones through the engine's `extra`

  // custom fields of the location appear as fields of their own, and reach customFields
  const fields = await run(App.creates.contacts__create_contact.operation.inputFields, {
    connection_id: env.ghl,
  });
  const custom = fields.filter((f) => f.key.startsWith('cf__'));
  assert.ok(custom.length > 0, 'the location has custom fields');
  assert.ok(custom.every((f) => f.label && f.label !== f.key));
  const [cf] = custom;
  const withCustom = await create('contacts__create_contact', {
    email: `custom-${unique()}@example.com`,
    [cf.key]: 'teal',
  });
  assert.deepEqual(
    withCustom.customFields.filter((c) => c.id === cf.key.slice(4)).map((c) => c.field_value ?? c.value),
    ['teal'],
  );

  const found = await search('contacts__find_contact', { email });
  assert.deepEqual(
    found.map((c) => c.id),
    [contact.id],
  );
  assert.deepEqual(await search('contacts__find_contact', { email: `nobody-${unique()}@example.com` }), []);

  const { body: conn } = await engine(`/v1/connections/${env.ghl}`);
  const [location] = await search('other__find_location_by_id', { locationId: conn.location_id });
  assert.equal(location.id, conn.location_id);
  assert.deepEqual(await search('other__find_location_by_id', { locationId: 'noSuchLocation000' }), []);

  // values typed as text in a Zap are sent with the operation's types
  const task = await create('contacts__create_contact_task', {
    contactId: contact.id,
    title: 'Call back',
    dueDate: tomorrow(),
    completed: 'false',
  });
  assert.equal(task.completed, false);
  const done = await create('contacts__update_contact_task', {
    contactId: contact.id,
    taskId: task.id,
    completed: 'true',
  });
  assert.equal(done.completed, true);

  // an action answering with no content still tells the Zap it worked
  const deleted = await create('contacts__delete_contact_task', { contactId: contact.id, taskId: task.id });
  assert.ok(deleted.success === true || deleted.succeded === true || deleted.succeeded === true);

  // the engine's validation reaches the Zap's user, naming the field
  await assert.rejects(create('contacts__create_contact_task', { contactId: contact.id }), /title/);

  // workflows: add the contact to a workflow chosen in its dropdown
  const [workflow] = await choices('dropdown_workflows', { connection_id: env.ghl });
  const added = await create('workflows__add_contact_to_workflow', {
    contactId: contact.id,
    workflowId: workflow.id,
  });
  assert.ok(Object.keys(added).length > 0);

  // conversations: an action on a conversation its trigger lists
  const [conversation] = await run(App.triggers.conversations__search_conversations.operation.performList, {
    connection_id: env.ghl,
  });
  exercised.add('conversations.search_conversations');
  const typing = await create('conversations__agent_typing_indicator', {
    isTyping: 'true',
    visitorId: `visitor-${unique()}`,
    conversationId: conversation.object_id || conversation.id,
  });
  assert.ok(Object.keys(typing).length > 0);

  if (env.smsglobal) {
    const [balance] = await search('smsglobal__get_credit_balance', {}, env.smsglobal);
    assert.equal(typeof balance.balance, 'number');
    const sms = await create(
      'smsglobal__send_sms',
      { destinations: '61400000077, 61400000078', message: 'Hello from a Zap' },
      env.smsglobal,
    );
    assert.ok(sms.outgoing_id || sms.id);
  }
});

// One REST hook cycle: subscribe with a hook URL, wait for the watch's first poll, create data
// through an action, receive its delivery, run perform on it, unsubscribe.
const hookCycle = async ({ name, trigger, params = {}, connection = env.ghl, make, matches }) => {
  const entry = catalog.triggers.find((t) => t.operation === trigger);
  assert.ok(entry, `${trigger} is in the catalog`);
  const op = App.triggers[entry.key].operation;
  const inputData = { connection_id: connection, poll_interval_minutes: '1', ...params };
  const since = Date.now() / 1000;
  const subscribeData = await run(op.performSubscribe, inputData, { targetUrl: hooks.url(name) });
  assert.match(subscribeData.id, /^sub_/);
  assert.match(subscribeData.secret, /^whsec_/);
  exercised.add(trigger);
  try {
    const { body: sub } = await engine(`/v1/subscriptions/${subscribeData.id}`);
    assert.equal(sub.target_url, hooks.url(name));
    assert.equal(sub.trigger, trigger);
    // the watch's first poll sets the baseline; what is created after it is new
    await waitFor(`the first poll of ${trigger}`, () => upstreamCalled(trigger, since));
    await new Promise((r) => setTimeout(r, 300));
    const made = await make();

    const post = await waitFor(`a delivery of ${trigger}`, () =>
      hooks.posts(name).find((p) => matches(JSON.parse(p.raw).data, made)),
    );
    const items = await run(op.perform, inputData, { subscribeData, ...zapierRequest(post) });
    assert.equal(items.length, 1);
    const [item] = items;
    assert.ok(matches(item, made), `${trigger}: perform returns the delivered item`);
    assert.equal(item.id, JSON.parse(post.raw).item_id);

    // a body that does not match its signature is refused
    const forged = zapierRequest(post);
    forged.rawRequest.content = forged.rawRequest.content.replace(/"data":\{/, '"data":{"forged":1,');
    forged.cleanedRequest = JSON.parse(forged.rawRequest.content);
    await assert.rejects(run(op.perform, inputData, { subscribeData, ...forged }), /signature/);
    const unsigned = zapierRequest(post);
    delete unsigned.rawRequest.headers['Http-Webhook-Signature'];
    await assert.rejects(run(op.perform, inputData, { subscribeData, ...unsigned }), /signature/);

    // performList gives Zapier samples: the newest items, each with an id, the new one among them
    const listed = await run(op.performList, inputData);
    assert.ok(listed.length > 0 && listed.every((i) => i.id !== undefined));
    assert.ok(listed.some((i) => matches(i, made)), `${trigger}: performList shows the new item`);
    return { item, made };
  } finally {
    await run(op.performUnsubscribe, inputData, { subscribeData });
    const gone = await engine(`/v1/subscriptions/${subscribeData.id}`);
    assert.equal(gone.status, 404, 'unsubscribe removes the subscription');
  }
};

const sameId = (item, made) => item && (item.object_id || item.id) === made.id;

const seedSandbox = async (collection, fields) => {
  const { status, body } = await json(`${env.sandboxUrl}/_sandbox/seed/${collection}`, {
    method: 'POST',
    body: JSON.stringify({ count: 1, fields }),
  });
  assert.equal(status, 200);
  return body.ids;
};

const contactFor = async () =>
  create('contacts__create_contact', { firstName: 'Hook', email: `hook-${unique()}@example.com` });

const SCENARIOS = [
  {
    category: 'contacts',
    trigger: 'contacts.search_contacts',
    make: contactFor,
    matches: sameId,
  },
  {
    category: 'businesses',
    trigger: 'businesses.list_businesses_by_location',
    make: () => create('businesses__create_business', { name: `Zap Business ${unique()}` }),
    matches: sameId,
  },
  {
    category: 'opportunities',
    trigger: 'opportunities.search_opportunities',
    make: async () => {
      const contact = await contactFor();
      const [pipeline] = await choices('dropdown_pipelines', { connection_id: env.ghl });
      const [stage] = await choices('dropdown_stages', { connection_id: env.ghl, pipelineId: pipeline.id });
      const opp = await create('opportunities__create_opportunity', {
        contactId: contact.id,
        pipelineId: pipeline.id,
        pipelineStageId: stage.id,
        name: `Zap deal ${unique()}`,
        status: 'open',
        monetaryValue: '1250.50',
      });
      assert.equal(opp.monetaryValue, 1250.5);
      assert.equal(opp.pipelineStageId, stage.id);
      return opp;
    },
    matches: sameId,
  },
  {
    category: 'calendars',
    trigger: 'calendars.list_calendar_events',
    params: {},
    before: async (scenario) => {
      const [calendar] = await choices('dropdown_calendars', { connection_id: env.ghl });
      scenario.params = { calendarId: calendar.id };
    },
    make: async function () {
      const contact = await contactFor();
      return create('calendars__create_appointment', {
        contactId: contact.id,
        calendarId: this.params.calendarId,
        // after the seeded appointments: the trigger finds new events by their start time
        startTime: inDays(20),
        title: 'Zap appointment',
      });
    },
    matches: sameId,
  },
  {
    category: 'users',
    trigger: 'users.list_users_by_location',
    make: async () => {
      const { body: conn } = await engine(`/v1/connections/${env.ghl}`);
      return create('users__create_user', {
        companyId: conn.company_id || 'CMPexample0000000001',
        firstName: 'Zap',
        lastName: 'User',
        email: `user-${unique()}@example.com`,
        password: 'Zap-Test-2026!',
        type: 'account',
        role: 'user',
        locationIds: [conn.location_id],
      });
    },
    matches: sameId,
  },
  {
    category: 'other',
    trigger: 'other.get_blog_posts',
    before: async (scenario) => {
      const [blog] = await choices('dropdown_blogs', { connection_id: env.ghl });
      scenario.params = { blogId: blog.id };
    },
    make: async function () {
      const slug = `zap-post-${unique()}`;
      const post = await create('other__create_blog_post', {
        title: 'Zap post',
        blogId: this.params.blogId,
        imageUrl: 'https://images.example.com/zap.jpg',
        imageAltText: 'zap',
        description: 'Written by a Zap',
        rawHTML: '<p>Zap</p>',
        status: 'PUBLISHED',
        categories: ['65f1a2b3c4d5e6f7a8b9c0d1'],
        author: '6683abde331c041f32c07aea',
        urlSlug: slug,
        publishedAt: new Date().toISOString(),
      });
      return { ...post, id: post._id || post.id, urlSlug: slug };
    },
    matches: (item, made) => item && item.urlSlug === made.urlSlug,
  },
  // no action creates conversations or workflows: these items come from the sandbox's seed route
  {
    category: 'conversations',
    trigger: 'conversations.search_conversations',
    make: async () => {
      const contact = await contactFor();
      const [id] = await seedSandbox('conversations', {
        contactId: contact.id,
        fullName: 'Hook Conversation',
        lastMessageBody: `hello ${unique()}`,
        lastMessageType: 'TYPE_SMS',
        lastMessageDirection: 'inbound',
        lastMessageDate: Date.now(),
        dateAdded: Date.now(),
        type: 'TYPE_PHONE',
        unreadCount: 1,
      });
      return { id };
    },
    matches: sameId,
  },
  {
    category: 'workflows',
    trigger: 'workflows.list_workflows',
    make: async () => {
      const [id] = await seedSandbox('workflows', {
        name: `Zap workflow ${unique()}`,
        status: 'published',
        version: 1,
        createdAt: new Date().toISOString(),
        updatedAt: new Date().toISOString(),
      });
      return { id };
    },
    matches: sameId,
  },
  {
    category: 'smsglobal',
    trigger: 'smsglobal.new_opt_out',
    smsglobal: true,
    make: async () => {
      const number = `614${Math.floor(10000000 + Math.random() * 89999999)}`;
      await create('smsglobal__add_opt_outs', { optouts: JSON.stringify([{ number }]) }, env.smsglobal);
      return { number };
    },
    matches: (item, made) => item && item.number === made.number,
  },
];

for (const scenario of SCENARIOS) {
  const skip = skipLive || (scenario.smsglobal && !env.smsglobal ? 'no SMSGlobal connection' : false);
  test(`REST hook cycle for ${scenario.category}: ${scenario.trigger}`, { skip }, async () => {
    if (scenario.before) await scenario.before(scenario);
    await hookCycle({
      name: scenario.category,
      trigger: scenario.trigger,
      params: scenario.params,
      connection: scenario.smsglobal ? env.smsglobal : env.ghl,
      make: () => scenario.make.call(scenario),
      matches: scenario.matches,
    });
  });
}

test('a hook URL answering 410 Gone (a Zap turned off) ends the subscription', { skip: skipLive }, async () => {
  const op = App.triggers.contacts__search_contacts.operation;
  const inputData = { connection_id: env.ghl, poll_interval_minutes: '1' };
  hooks.gone.add('/hooks/gone');
  const since = Date.now() / 1000;
  const subscribeData = await run(op.performSubscribe, inputData, { targetUrl: hooks.url('gone') });
  await waitFor('the first poll', () => upstreamCalled('contacts.search_contacts', since));
  await contactFor();
  await waitFor('the delivery answered 410', () => hooks.posts('gone').length > 0);
  await waitFor('the subscription to go', async () => {
    const { status } = await engine(`/v1/subscriptions/${subscribeData.id}`);
    return status === 404;
  });
  // Zapier may still unsubscribe afterwards: that is not an error
  await run(op.performUnsubscribe, inputData, { subscribeData });
});

test('performList reads every list trigger that needs no id', { skip: skipLive }, async () => {
  const noIds = catalog.triggers.filter(
    (t) =>
      (t.app === 'ghl' || env.smsglobal) &&
      t.inputFields.every((f) => !f.required || f.key === 'connection_id'),
  );
  assert.ok(noIds.length >= 5);
  // GHL wants one of calendarId, userId or groupId for events
  const [calendar] = await choices('dropdown_calendars', { connection_id: env.ghl });
  const params = {
    'calendars.list_calendar_events': { calendarId: calendar.id },
    'calendars.list_blocked_slots': { calendarId: calendar.id },
  };
  for (const entry of noIds) {
    const connection = entry.app === 'ghl' ? env.ghl : env.smsglobal;
    const items = await run(App.triggers[entry.key].operation.performList, {
      connection_id: connection,
      ...(params[entry.operation] || {}),
    });
    assert.ok(Array.isArray(items), entry.key);
    assert.ok(items.every((i) => i.id !== undefined && i.id !== null), `${entry.key}: every item has an id`);
    exercised.add(entry.operation);
  }
});

// Searches read from a trigger (an operation that lists what it finds): params that find a
// known object, and how to recognise it.
const TRIGGER_SEARCHES = {
  'contacts.get_duplicate_contact': async () => {
    const email = `dup-${unique()}@example.com`;
    const contact = await create('contacts__create_contact', { firstName: 'Dup', email });
    return { input: { email }, expect: (items) => items.some((i) => sameId(i, contact)) };
  },
  'users.filter_users_by_email': async () => {
    const [user] = await run(App.triggers.users__list_users_by_location.operation.performList, {
      connection_id: env.ghl,
    });
    return { input: { emails: [user.email] }, expect: (items) => items.some((i) => i.email === user.email) };
  },
};

test('searches backed by a trigger find what it lists', { skip: skipLive }, async () => {
  for (const entry of catalog.searches.filter((s) => s.source === 'trigger')) {
    const setup = TRIGGER_SEARCHES[entry.operation];
    assert.ok(setup, `add a case for the search ${entry.operation} to TRIGGER_SEARCHES`);
    const { input, expect } = await setup();
    const found = await search(entry.key, input, entry.app === 'ghl' ? env.ghl : env.smsglobal);
    assert.ok(Array.isArray(found) && expect(found), `${entry.operation} finds the object`);
  }
});

// An example value for a required field, from what the field shows a person.
const exampleFor = (field) => {
  if (field.choices && field.choices.length) return field.choices[0].value;
  if (field.placeholder !== undefined) return field.placeholder;
  if (field.type === 'text') return /JSON array/.test(field.helpText) ? '[]' : '{}';
  return { integer: 1, number: 1, boolean: true }[field.type] ?? 'x1';
};

// The operations generated from GHL's official documents have no case of their own: in every
// category no other test ran, one of them (a search first, the fewest required fields) runs
// through the app with the examples its fields show, and must succeed.
test('every category generated from the official documents runs through the app', { skip: skipLive }, async () => {
  const done = new Set(
    [...catalog.creates, ...catalog.searches].filter((e) => exercised.has(e.operation)).map((e) => e.category),
  );
  const required = (e) => e.inputFields.filter((f) => f.required && f.key !== 'connection_id');
  const candidates = [
    ...catalog.searches.map((e) => ['searches', e]),
    ...catalog.creates.map((e) => ['creates', e]),
  ]
    .filter(([, e]) => e.app === 'ghl' && !done.has(e.category))
    .map(([kind, e], order) => ({ kind, e, order }))
    .sort((a, b) => (a.kind === b.kind ? 0 : a.kind === 'searches' ? -1 : 1)
      || required(a.e).length - required(b.e).length || a.order - b.order);
  const picked = new Map();
  for (const c of candidates) if (!picked.has(c.e.category)) picked.set(c.e.category, c);
  for (const { kind, e } of picked.values()) {
    const input = Object.fromEntries(required(e).map((f) => [f.key, exampleFor(f)]));
    await run(App[kind][e.key].operation.perform, { connection_id: env.ghl, ...input });
    exercised.add(e.operation);
  }
});

test('every category of the catalog was exercised end to end', { skip: skipLive }, () => {
  const categories = new Set(
    [...catalog.triggers, ...catalog.creates, ...catalog.searches]
      .filter((e) => env.smsglobal || e.app !== 'smsglobal')
      .map((e) => e.category),
  );
  const covered = new Set(
    [...catalog.triggers, ...catalog.creates, ...catalog.searches]
      .filter((e) => exercised.has(e.operation))
      .map((e) => e.category),
  );
  const hooked = new Set(SCENARIOS.map((s) => s.category));
  const missing = [...categories].filter((c) => !covered.has(c));
  assert.deepEqual(missing, [], `categories with no operation exercised: ${missing.join(', ')}`);
  const triggerCategories = new Set(catalog.triggers.map((t) => t.category));
  const noHook = [...triggerCategories].filter((c) => !hooked.has(c) && categories.has(c));
  assert.deepEqual(noHook, [], `categories with triggers but no hook cycle: ${noHook.join(', ')}`);
});
