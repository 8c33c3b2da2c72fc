'use strict';

// Calls to a ghl-engine instance: base URL and API key from the Zapier connection, the engine's
// one error shape turned into Zapier errors, and input values coerced to the types the engine
// validates against.

const crypto = require('crypto');

const CONNECTION_FIELD = 'connection_id';
const INTERVAL_FIELD = 'poll_interval_minutes';
const EXTRA_FIELD = 'extra_fields';
const CUSTOM_PREFIX = 'cf__'; // one input field per custom field: cf__<custom field id>

const baseUrl = (bundle) => {
  const raw = String((bundle.authData && bundle.authData.base_url) || '').trim();
  if (!/^https?:\/\/[^\s/]+/i.test(raw)) {
    throw new Error(
      'The engine URL must start with https:// (or http:// for a local engine), e.g. https://engine.example.com',
    );
  }
  return raw.replace(/\/+$/, '');
};

// beforeRequest middleware: every request to the engine carries the API key.
const addApiKey = (request, z, bundle) => {
  const key = bundle.authData && bundle.authData.api_key;
  request.headers = request.headers || {};
  if (key) request.headers.Authorization = `Bearer ${key}`;
  request.headers.Accept = 'application/json';
  return request;
};

const errorOf = (response) => {
  let body = null;
  try {
    body = JSON.parse(response.content);
  } catch (e) {
    body = null;
  }
  const err = (body && body.error) || {};
  let message = err.message || `the engine answered HTTP ${response.status}`;
  if (Array.isArray(err.details) && err.details.length && err.code === 'invalid_input') {
    message += ': ' + err.details.map((d) => `${d.field}: ${d.message}`).join('; ');
  }
  return { code: err.code || `http_${response.status}`, message, status: response.status };
};

const raiseFor = (z, response) => {
  const { code, message, status } = errorOf(response);
  if (status === 429) {
    const retry = parseInt(response.getHeader('retry-after') || '60', 10);
    throw new z.errors.ThrottledError(message, Number.isFinite(retry) ? retry : 60);
  }
  if (status === 401 && code === 'unauthorized') {
    // the engine refused the API key itself: Zapier asks the user to reconnect
    throw new z.errors.ExpiredAuthError(`${message} (check the engine API key of this connection)`);
  }
  throw new z.errors.Error(message, code, status);
};

// One request to the engine; `allow` lists statuses handed back to the caller, not thrown.
const call = async (z, bundle, method, path, body, allow = []) => {
  const response = await z.request({
    method,
    url: `${baseUrl(bundle)}${path}`,
    body: body === undefined ? undefined : body,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    skipThrowForStatus: true,
  });
  if (response.status >= 400 && !allow.includes(response.status)) {
    raiseFor(z, response);
  }
  let data = null;
  if (response.content) {
    try {
      data = JSON.parse(response.content);
    } catch (e) {
      data = response.content;
    }
  }
  return { status: response.status, data };
};

// ---------------------------------------------------------------------------- input values

const TRUE = new Set(['true', 'yes', '1', 'on', 'y']);
const FALSE = new Set(['false', 'no', '0', 'off', 'n']);

const parseJson = (name, value) => {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value);
  } catch (e) {
    throw new Error(`${name}: enter valid JSON (${e.message})`);
  }
};

const scalar = (name, kind, value) => {
  if (typeof value !== 'string') return value;
  const text = value.trim();
  if (kind === 'integer' || kind === 'number') {
    const n = Number(text);
    if (text === '' || !Number.isFinite(n)) throw new Error(`${name}: ${value} is not a number`);
    return n;
  }
  if (kind === 'boolean') {
    if (TRUE.has(text.toLowerCase())) return true;
    if (FALSE.has(text.toLowerCase())) return false;
    throw new Error(`${name}: ${value} is not true or false`);
  }
  return value;
};

const isEmpty = (v) =>
  v === undefined || v === null || v === '' || (Array.isArray(v) && v.length === 0);

const coerce = (name, kind, value) => {
  if (kind === 'json' || kind === 'object' || kind === 'array') return parseJson(name, value);
  if (kind && kind.startsWith('array:')) {
    const items = Array.isArray(value)
      ? value
      : String(value)
          .split(',')
          .map((s) => s.trim());
    return items.filter((v) => !isEmpty(v)).map((v) => scalar(name, kind.slice(6), v));
  }
  return scalar(name, kind, value);
};

// The engine input of an operation from Zapier's inputData: the app's own fields removed,
// empty values dropped, each value coerced to the operation's type, "Other Fields" merged.
const inputOf = (entry, inputData) => {
  const out = {};
  for (const [name, value] of Object.entries(inputData || {})) {
    if ([CONNECTION_FIELD, INTERVAL_FIELD, EXTRA_FIELD].includes(name)) continue;
    if (name.startsWith(CUSTOM_PREFIX)) continue;
    if (isEmpty(value)) continue;
    const kind = entry.coerce[name];
    const list = (entry.inputFields.find((f) => f.key === name) || {}).list;
    if (list && !Array.isArray(value) && !kind) {
      out[name] = String(value)
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
    } else {
      out[name] = kind ? coerce(name, kind, value) : value;
    }
  }
  // "Other Fields": a field the operation declares is given as itself (and checked as such),
  // any other goes in the engine's `extra` object, sent in the JSON body as given
  const extra = inputData && inputData[EXTRA_FIELD];
  if (extra && typeof extra === 'object') {
    for (const [name, value] of Object.entries(extra)) {
      if (!name || name in out || isEmpty(value)) continue;
      if (entry.inputFields.some((f) => f.key === name)) out[name] = value;
      else out.extra = { ...out.extra, [name]: value };
    }
  }
  if (entry.customFields) {
    // cf__<id> fields become {id, field_value} entries of the operation's customFields input
    const given = Object.entries(inputData || {})
      .filter(([name, value]) => name.startsWith(CUSTOM_PREFIX) && !isEmpty(value))
      .map(([name, value]) => ({ id: name.slice(CUSTOM_PREFIX.length), field_value: value }));
    if (given.length) {
      const key = entry.customFields.input;
      const ids = new Set(given.map((g) => g.id));
      const listed = Array.isArray(out[key]) ? out[key].filter((c) => !ids.has(c && c.id)) : [];
      out[key] = [...listed, ...given];
    }
  }
  return out;
};

const connectionOf = (bundle) => {
  const id = bundle.inputData && bundle.inputData[CONNECTION_FIELD];
  if (!id) throw new Error('Choose a connection (the engine connection to use).');
  return id;
};

// dotted path into an object: "contact", "messages.0", "$" for the whole
const at = (data, path) => {
  if (!path || path === '$') return data;
  let cur = data;
  for (const part of path.split('.')) {
    if (Array.isArray(cur) && /^\d+$/.test(part)) cur = cur[Number(part)];
    else if (cur && typeof cur === 'object') cur = cur[part];
    else return undefined;
  }
  return cur;
};

// ---------------------------------------------------------------------------- webhooks

const header = (headers, name) => {
  const want = name.toLowerCase();
  for (const [k, v] of Object.entries(headers || {})) {
    const key = k.toLowerCase().replace(/^http-/, '');
    if (key === want) return Array.isArray(v) ? v[0] : v;
  }
  return undefined;
};

// Standard Webhooks: signature = base64(HMAC-SHA256(key, `${id}.${timestamp}.${body}`)) with
// the key decoded from the subscription's `whsec_` secret; the header lists `v1,<signature>`s.
const verifySignature = (secret, headers, body) => {
  const id = header(headers, 'webhook-id');
  const timestamp = header(headers, 'webhook-timestamp');
  const signatures = header(headers, 'webhook-signature');
  if (!id || !timestamp || !signatures) return false;
  const key = Buffer.from(String(secret).replace(/^whsec_/, ''), 'base64');
  const expected = crypto
    .createHmac('sha256', key)
    .update(`${id}.${timestamp}.${body}`)
    .digest();
  return String(signatures)
    .split(' ')
    .some((part) => {
      const [version, sig] = part.split(',');
      if (version !== 'v1' || !sig) return false;
      const given = Buffer.from(sig, 'base64');
      return given.length === expected.length && crypto.timingSafeEqual(given, expected);
    });
};

module.exports = {
  CONNECTION_FIELD,
  CUSTOM_PREFIX,
  INTERVAL_FIELD,
  EXTRA_FIELD,
  addApiKey,
  at,
  call,
  connectionOf,
  inputOf,
  verifySignature,
};
