'use strict';

// Test support: the running engine and sandbox from the environment, a stand-in for Zapier's
// hook URLs, and small waits.

const http = require('http');

const env = {
  engineUrl: process.env.ENGINE_URL,
  apiKey: process.env.ENGINE_API_KEY,
  ghl: process.env.GHL_CONNECTION_ID,
  smsglobal: process.env.SMSGLOBAL_CONNECTION_ID,
  sandboxUrl: process.env.SANDBOX_URL,
};
const live = Boolean(env.engineUrl && env.apiKey && env.ghl);
const skipLive = live
  ? false
  : 'needs a running engine: ENGINE_URL, ENGINE_API_KEY, GHL_CONNECTION_ID (tests/test_zapier_app.py sets them)';

const authData = () => ({ base_url: env.engineUrl, api_key: env.apiKey });

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const waitFor = async (what, fn, timeoutMs = 20000, everyMs = 150) => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
};

const json = async (url, options = {}) => {
  const resp = await fetch(url, {
    ...options,
    headers: { 'content-type': 'application/json', ...(options.headers || {}) },
  });
  const text = await resp.text();
  return { status: resp.status, body: text ? JSON.parse(text) : null };
};

const engine = (path, options = {}) =>
  json(`${env.engineUrl}${path}`, {
    ...options,
    headers: { authorization: `Bearer ${env.apiKey}`, ...(options.headers || {}) },
  });

// The sandbox's request log: has the upstream route of `operation` been called since `since`?
const upstreamCalled = async (operation, since) => {
  const { body } = await json(`${env.sandboxUrl}/_sandbox/requests`);
  return body.requests.some((r) => r.route === operation && r.t >= since);
};

// A stand-in for Zapier's hook URLs: records each POST (headers, raw body) per path and answers
// 200, or 410 Gone for paths marked gone (what Zapier does once a Zap is off).
class HookServer {
  constructor() {
    this.received = new Map();
    this.gone = new Set();
    this.server = http.createServer((req, res) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const list = this.received.get(req.url) || [];
        list.push({ method: req.method, headers: req.headers, raw });
        this.received.set(req.url, list);
        const status = this.gone.has(req.url) ? 410 : 200;
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ status: status === 200 ? 'success' : 'gone' }));
      });
    });
  }

  start() {
    return new Promise((resolve) =>
      this.server.listen(0, '127.0.0.1', () => {
        this.base = `http://127.0.0.1:${this.server.address().port}`;
        resolve(this);
      }),
    );
  }

  stop() {
    return new Promise((resolve) => this.server.close(resolve));
  }

  url(name) {
    return `${this.base}/hooks/${name}`;
  }

  posts(name) {
    return this.received.get(`/hooks/${name}`) || [];
  }
}

// What Zapier hands perform for one POST to a hook URL: the parsed body as cleanedRequest and
// the raw request, header names prefixed with "Http-".
const zapierRequest = (post) => {
  const headers = {};
  for (const [k, v] of Object.entries(post.headers)) {
    const name = k
      .split('-')
      .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
      .join('-');
    headers[`Http-${name}`] = v;
  }
  return {
    cleanedRequest: JSON.parse(post.raw),
    rawRequest: { method: post.method, querystring: '', headers, content: post.raw },
  };
};

module.exports = {
  HookServer,
  authData,
  engine,
  env,
  json,
  live,
  skipLive,
  sleep,
  upstreamCalled,
  waitFor,
  zapierRequest,
};
