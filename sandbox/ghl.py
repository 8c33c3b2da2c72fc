"""A stand-in for the GHL API v2 on 127.0.0.1.

It behaves like the real API where a client can tell: Bearer auth (401 with GHL's body), the
``Version`` header (400 without it), pagination and ordering as the official documents
describe, ``X-RateLimit-*`` headers on every answer and 429 past the burst limit per location,
and GHL's error bodies. Routes come from the operation specs: one generic handler serves
create, read, update, delete and list for any curated spec by the shape of its path; operations
generated from GHL's official documents are checked and answered from them by
:mod:`sandbox.official`; the endpoints whose behaviour is special are hand-written, each
handler marked with the upstream method and path it answers, and the areas are listed in
:mod:`sandbox.handlers`.

Sandbox-only control routes live under ``/_sandbox`` (reset, seed, faults, stats, tokens).
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response

from sandbox import handlers
from sandbox import oauth as sandbox_oauth
from sandbox import push
from sandbox.answers import (DEFAULT_COMPANY, DEFAULT_LOCATION, DEFAULT_TOKEN, endpoint, error,
                             read_body, read_json)
from sandbox.store import Store, collection_of, get_at, new_id, now_iso, param_of, segments

VERSIONS = ("2021-07-28", "2021-04-15")


@dataclass
class Route:
    key: str
    method: str
    template: str
    regex: re.Pattern
    params: list[str]
    op: Any


@dataclass
class Fault:
    status: int
    remaining: int
    path_prefix: str = ""
    retry_after: float | None = None


@dataclass
class State:
    store: Store = field(default_factory=Store)
    tokens: dict[str, dict[str, str]] = field(default_factory=dict)
    rate_limit: int = 100
    window_ms: int = 10_000
    daily_limit: int = 200_000
    latency_ms: float = 0.0
    hits: dict[str, deque] = field(default_factory=dict)
    daily: Counter = field(default_factory=Counter)
    stats: Counter = field(default_factory=Counter)
    requests: deque = field(default_factory=lambda: deque(maxlen=2000))
    faults: list[Fault] = field(default_factory=list)
    hooks: deque = field(default_factory=lambda: deque(maxlen=1000))  # what /_sandbox/hooks got
    lock: threading.Lock = field(default_factory=threading.Lock)
    pusher: push.Pusher = field(default_factory=push.Pusher)


def _compile(template: str) -> tuple[re.Pattern, list[str]]:
    params: list[str] = []
    parts = []
    for seg in segments(template):
        name = param_of(seg)
        if name is not None:
            params.append(name)
            parts.append("([^/]+)")
        else:
            parts.append(re.escape(seg))
    return re.compile("^/" + "/".join(parts) + "/?$"), params


def build_routes(specs: dict[str, Any]) -> list[Route]:
    routes = []
    for op in specs.values():
        if op.app != "ghl":
            continue
        regex, params = _compile(op.upstream.path)
        routes.append(Route(op.key, op.upstream.method, op.upstream.path, regex, params, op))
    declared = {endpoint(r.method, r.template) for r in routes}
    for key, method, template in handlers.UNSPECIFIED:
        if endpoint(method, template) in declared:
            continue  # a spec declares it: its route serves, the handler is found by endpoint
        regex, params = _compile(template)
        routes.append(Route(key, method, template, regex, params, None))
    # literal segments win over parameters: /contacts/search before /contacts/{contactId}
    routes.sort(key=lambda r: (-sum(1 for s in segments(r.template) if not s.startswith("{")),
                               -len(segments(r.template))))
    return routes


class Ctx:
    """What a handler needs to answer one request."""

    def __init__(self, state: State, route: Route, values: dict[str, str], query: dict[str, Any],
                 body: Any, location_id: str, aliases: dict[str, str]) -> None:
        self.state = state
        self.store = state.store
        self.route = route
        self.op = route.op
        self.path = values
        self.query = query
        self.body = body if isinstance(body, dict) else {}
        self.raw_body = body
        self.location_id = location_id
        self.collection, self.parent_names, self.id_param = collection_of(route.template, aliases)

    @property
    def parents(self) -> tuple[str, ...]:
        return tuple(self.path[n] for n in self.parent_names)


def create_app(*, seed: bool = True, rate_limit: int = 100, window_ms: int = 10_000,
               specs: dict[str, Any] | None = None) -> FastAPI:
    if specs is None:
        from engine.spec.registry import registry

        specs = registry()
    built: dict[str, Any] = {"count": -1, "routes": []}

    def routes() -> list[Route]:
        """The routes of the specs, built again when a spec was added or removed since (the
        registry is one dict: a spec added at run time is served with nothing else to do)."""
        if built["count"] != len(specs):
            built["routes"], built["count"] = build_routes(specs), len(specs)
        return built["routes"]
    state = State(rate_limit=rate_limit, window_ms=window_ms)
    aliases = handlers.ALIASES

    def reset(do_seed: bool) -> None:
        state.store.clear()
        state.tokens.clear()
        state.tokens[DEFAULT_TOKEN] = {"location_id": DEFAULT_LOCATION, "company_id": DEFAULT_COMPANY}
        state.hits.clear()
        state.daily.clear()
        state.stats.clear()
        state.requests.clear()
        state.hooks.clear()
        state.faults.clear()
        state.pusher.reset()
        if do_seed:
            handlers.seed(state.store, DEFAULT_LOCATION, DEFAULT_COMPANY)

    reset(seed)
    app = FastAPI(title="ghl-engine sandbox (GHL stand-in)")
    app.state.sandbox = state

    # ----------------------------------------------------------------- control routes

    @app.post("/_sandbox/reset")
    async def _reset(request: Request) -> dict:
        body = await read_json(request) or {}
        reset(bool(body.get("seed", True)))
        oauth.reset()
        return {"ok": True}

    @app.get("/_sandbox/stats")
    async def _stats() -> dict:
        return {"requests": dict(state.stats), "total": sum(state.stats.values()),
                "rate_limited": state.stats.get("429", 0)}

    @app.get("/_sandbox/requests")
    async def _requests() -> dict:
        return {"requests": list(state.requests)}

    @app.post("/_sandbox/hooks")
    async def _hook(request: Request) -> dict:
        """A webhook receiver for trying subscriptions: keeps what it gets, answers 200."""
        body = await read_json(request)
        state.hooks.append({"t": time.time(), "headers": dict(request.headers), "body": body})
        return {"ok": True}

    @app.get("/_sandbox/hooks")
    async def _hooks() -> dict:
        return {"hooks": list(state.hooks)}

    @app.post("/_sandbox/faults")
    async def _faults(request: Request) -> dict:
        body = await read_json(request) or {}
        state.faults.append(Fault(status=int(body["status"]), remaining=int(body.get("count", 1)),
                                  path_prefix=body.get("path_prefix", ""),
                                  retry_after=body.get("retry_after")))
        return {"ok": True}

    @app.put("/_sandbox/config")
    async def _config(request: Request) -> dict:
        body = await read_json(request) or {}
        for name in ("rate_limit", "window_ms", "daily_limit", "latency_ms"):
            if name in body:
                setattr(state, name, body[name])
        state.pusher.configure(body)
        return {"rate_limit": state.rate_limit, "window_ms": state.window_ms,
                "daily_limit": state.daily_limit, "latency_ms": state.latency_ms,
                **state.pusher.config()}

    @app.get("/_sandbox/events")
    async def _events() -> dict:
        """What the sandbox pushed: counts (emitted, sent, dropped, duplicated, answers) and
        the latest events with their fate."""
        return {"counts": dict(state.pusher.counts), "events": list(state.pusher.log)}

    @app.post("/_sandbox/tokens")
    async def _tokens(request: Request) -> dict:
        body = await read_json(request) or {}
        token = body.get("token") or "pit-" + new_id()
        state.tokens[token] = {"location_id": body.get("location_id", DEFAULT_LOCATION),
                               "company_id": body.get("company_id", DEFAULT_COMPANY)}
        return {"token": token, **state.tokens[token]}

    @app.delete("/_sandbox/tokens/{token}")
    async def _revoke(token: str) -> dict:
        return {"revoked": state.tokens.pop(token, None) is not None}

    @app.post("/_sandbox/seed/{collection:path}")
    async def _seed(collection: str, request: Request) -> dict:
        body = await read_json(request) or {}
        made = handlers.seed_many(state.store, collection, int(body.get("count", 1)),
                                  body.get("location_id", DEFAULT_LOCATION), body.get("fields") or {},
                                  float(body.get("spread_seconds") or 0),
                                  float(body.get("ending_seconds_ago") or 0))
        event_type = push.SEED_EVENTS.get(collection)
        if event_type:
            for obj in made:
                state.pusher.emit(event_type, body.get("location_id", DEFAULT_LOCATION), obj)
        return {"created": len(made), "ids": [o.get("id") for o in made[:100]]}

    @app.get("/_sandbox/objects/{collection:path}")
    async def _objects(collection: str) -> dict:
        return {"objects": state.store.all(collection, None)}

    app.state.sandbox_handlers = handlers
    oauth = sandbox_oauth.install(app, state.tokens, DEFAULT_LOCATION, DEFAULT_COMPANY)

    # ----------------------------------------------------------------- the API itself

    @app.api_route("/{full_path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    async def ghl(full_path: str, request: Request) -> Response:
        path = "/" + full_path
        if state.latency_ms:
            await asyncio.sleep(state.latency_ms / 1000)
        auth = request.headers.get("authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else None
        tenant = state.tokens.get(token or "")
        if sandbox_oauth.expired(tenant):
            tenant = None  # an OAuth access token past its lifetime
        if tenant is None:
            state.stats["401"] += 1
            return error(401, "Invalid JWT" if token else "Unauthorized, missing Bearer token",
                             "Unauthorized")
        location_id = tenant["location_id"]
        limited, headers = _rate(state, location_id)
        if limited:
            state.stats["429"] += 1
            resp = error(429, "Too many requests, please try again later.")
            resp.headers.update(headers)
            return resp
        route, values = _match(routes(), request.method, path)
        body = await read_body(request) if request.method in ("POST", "PUT", "PATCH", "DELETE") else None
        state.requests.append({"t": time.time(), "method": request.method, "path": path,
                               "query": dict(request.query_params), "body": body,
                               "query_items": request.query_params.multi_items(),
                               "version": request.headers.get("version"),
                               "content_type": request.headers.get("content-type"),
                               "route": route.key if route else None})
        fault = _take_fault(state, path)
        if fault is not None:
            resp = error(fault.status, "injected fault")
            resp.headers.update(headers)
            if fault.retry_after is not None:
                resp.headers["Retry-After"] = str(fault.retry_after)
            state.stats[str(fault.status)] += 1
            return resp
        if route is None:
            state.stats["404"] += 1
            resp = error(404, f"Cannot {request.method} {path}")
            resp.headers.update(headers)
            return resp
        version = request.headers.get("version")
        if not version:
            resp = error(400, "version header was not found", "Bad Request")
        elif version not in VERSIONS:
            resp = error(400, f"Version must be one of {', '.join(VERSIONS)}")
        else:
            query = _query(request)
            ctx = Ctx(state, route, values, query, body, location_id, aliases)
            state.stats[route.key] += 1
            with state.store.lock:
                resp = handlers.handle(ctx)
            if route.key in push.WRITE_EVENTS and resp.status_code < 300:
                _push_write(state, ctx, resp)
        resp.headers.update(headers)
        return resp

    return app


def _push_write(state: State, ctx: Ctx, resp: Response) -> None:
    """Fire the event of a successful write: the object as answered (its id alone for a
    delete)."""
    try:
        answer = json.loads(resp.body)
    except ValueError:
        answer = {}
    obj = get_at(answer, ctx.op.output.path)
    if not isinstance(obj, dict) or "id" not in obj:
        last = ctx.route.params[-1] if ctx.route.params else None
        obj = {"id": ctx.path.get(last)} if last else {}
        for name in ("contactId",):
            if name in ctx.path:
                obj[name] = ctx.path[name]
    state.pusher.emit(push.WRITE_EVENTS[ctx.route.key], ctx.location_id, obj)


def _query(request: Request) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in request.query_params.multi_items():
        if k in out:
            out[k] = out[k] if isinstance(out[k], list) else [out[k]]
            out[k].append(v)
        else:
            out[k] = v
    return out


def _match(routes: list[Route], method: str, path: str) -> tuple[Route | None, dict[str, str]]:
    for route in routes:
        if route.method != method:
            continue
        m = route.regex.match(path)
        if m:
            return route, dict(zip(route.params, m.groups()))
    return None, {}


def _take_fault(state: State, path: str) -> Fault | None:
    with state.lock:
        for fault in state.faults:
            if fault.remaining > 0 and path.startswith(fault.path_prefix):
                fault.remaining -= 1
                if fault.remaining == 0:
                    state.faults.remove(fault)
                return fault
    return None


def _rate(state: State, location_id: str) -> tuple[bool, dict[str, str]]:
    """Sliding window per location, as GHL's burst limit; a daily counter beside it."""
    now = time.monotonic() * 1000
    with state.lock:
        hits = state.hits.setdefault(location_id, deque())
        while hits and hits[0] <= now - state.window_ms:
            hits.popleft()
        day = time.strftime("%Y%m%d", time.gmtime())
        limited = len(hits) >= state.rate_limit or state.daily[(location_id, day)] >= state.daily_limit
        if not limited:
            hits.append(now)
            state.daily[(location_id, day)] += 1
        remaining = max(0, state.rate_limit - len(hits))
        headers = {
            "X-RateLimit-Max": str(state.rate_limit),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Interval-Milliseconds": str(state.window_ms),
            "X-RateLimit-Limit-Daily": str(state.daily_limit),
            "X-RateLimit-Daily-Remaining": str(max(0, state.daily_limit - state.daily[(location_id, day)])),
        }
        if limited:
            retry = (hits[0] + state.window_ms - now) / 1000 if hits else 1.0
            headers["Retry-After"] = str(max(1, int(retry + 0.999)))
    return limited, headers


__all__ = ["create_app", "DEFAULT_TOKEN", "DEFAULT_LOCATION", "DEFAULT_COMPANY", "Ctx",
           "now_iso", "new_id"]
