"""The operator's console: server-rendered pages (Jinja2, no JavaScript needed) behind the same
API keys as the API.

``/console/login`` takes an API key and opens a session: the HttpOnly, SameSite=Strict cookie
holds a random session id (never the key; only its SHA-256 is stored in Redis, for 12 hours,
ended by logout or by revoking the key), Secure unless the request came over plain http and
ENGINE_PUBLIC_URL is not https. Every page acts as that key's tenant, through the same engine functions as the JSON API. Pages:
connections and their health, flows with why they are paused, subscriptions with their last and
next poll, lag and pause reason; a subscription's recent deliveries (payload, attempts) and dead
letters with replay; a flow's runs step by step; the catalog, whose forms are built from each
operation's JSON Schema and run the action with one of the tenant's connections.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from api import edge
from api.deps import runtime
from engine.accounts import connections, tenants
from engine.actions import executor
from engine.core.errors import EngineError
from engine.flows import service as flows
from engine.polling import delivery, health, subscriptions
from engine.runtime import Runtime
from engine.spec import registry
from engine.spec.inputs import input_schema

router = APIRouter(prefix="/console", include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).resolve().parent.parent / "console"))
templates.env.filters["when"] = lambda s: (time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(s))
                                           if s else "-")
COOKIE = "ghle_console"
SESSION_SECONDS = 12 * 3600


class _LoginFirst(Exception):
    pass


async def _who(request: Request, rt: Runtime = Depends(runtime)) -> tenants.Principal:
    who = await tenants.console_session(rt.redis, request.cookies.get(COOKIE, ""))
    if who is None:
        raise _LoginFirst()
    return who


def install(app) -> None:
    """Add the console's routes, and send a visitor without a valid key to the login page."""
    @app.exception_handler(_LoginFirst)
    async def login_first(request: Request, exc: _LoginFirst) -> Response:
        return RedirectResponse("/console/login", status_code=303)

    app.include_router(router)


def _page(request: Request, name: str, who: tenants.Principal | None, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, name, {"tenant": who.tenant if who else None,
                                                      "title": name.split(".")[0], **context})


@router.get("/login")
async def login_page(request: Request) -> HTMLResponse:
    """The login form (an API key)."""
    return _page(request, "login.html", None, error=None)


@router.post("/login")
async def login(request: Request, rt: Runtime = Depends(runtime)) -> Response:
    """Check the posted ``api_key``; a known one opens a console session whose random id is
    kept in an HttpOnly, SameSite=Strict cookie scoped to /console (Secure over https, or
    whenever ENGINE_PUBLIC_URL is not plain http) and the visitor is sent to the overview (303);
    an unknown one gets the form again with an error."""
    form = await request.form()
    key = str(form.get("api_key") or "").strip()
    who = await tenants.authenticate(rt.redis, key)
    if who is None:
        return _page(request, "login.html", None, error="unknown or revoked API key")
    session = await tenants.open_console_session(rt.redis, who, SESSION_SECONDS)
    resp = RedirectResponse("/console", status_code=303)
    public = rt.settings.public_url.lower()
    secure = request.url.scheme == "https" or (bool(public) and not public.startswith("http://"))
    resp.set_cookie(COOKIE, session, max_age=SESSION_SECONDS, httponly=True, samesite="strict",
                    path="/console", secure=secure)
    return resp


@router.post("/logout")
async def logout(request: Request, rt: Runtime = Depends(runtime)) -> Response:
    """End the console session, forget its cookie and go back to the login form (303)."""
    await tenants.close_console_session(rt.redis, request.cookies.get(COOKIE, ""))
    resp = RedirectResponse("/console/login", status_code=303)
    resp.delete_cookie(COOKIE, path="/console")
    return resp


async def _overview(request: Request, rt: Runtime, who: tenants.Principal, message: str = "",
                    ok: bool = True) -> HTMLResponse:
    subs = await subscriptions.list_for(rt, who.tenant)
    now = time.time()
    for s in subs:  # how late its poll is, when it is overdue
        s["lag"] = (f"{now - s['next_poll_at']:.0f} s" if s["next_poll_at"]
                    and now > s["next_poll_at"] else "-")
    return _page(request, "overview.html", who, message=message, ok=ok,
                 connections=[c.public() for c in await connections.list_for(rt.redis, who.tenant)],
                 flows=await flows.list_for(rt, who.tenant), subscriptions=subs)


@router.get("")
async def overview(request: Request, rt: Runtime = Depends(runtime),
                   who: tenants.Principal = Depends(_who)) -> HTMLResponse:
    """The tenant's overview page: connections, subscriptions and flows."""
    return await _overview(request, rt, who)


@router.post("/connections/{conn_id}/test")
async def test_connection(conn_id: str, request: Request, rt: Runtime = Depends(runtime),
                          who: tenants.Principal = Depends(_who)) -> HTMLResponse:
    """Test a connection's credentials and show the outcome on the overview."""
    result = await health.test(rt, who.tenant, conn_id)
    message = (f"{conn_id}: test passed; {result['resumed']} paused watch(es) resumed"
               if result["ok"] else f"{conn_id}: {result['error']['message']}")
    return await _overview(request, rt, who, message, result["ok"])


async def _subscription(request: Request, rt: Runtime, who: tenants.Principal, sub_id: str,
                        message: str = "", ok: bool = True) -> HTMLResponse:
    sub = await subscriptions.get(rt, who.tenant, sub_id)
    recent = await delivery.list_for(rt, who.tenant, sub_id, limit=50)
    shown = [await delivery.get(rt, who.tenant, sub_id, d["id"]) for d in recent]
    dead = [d for d in await delivery.list_for(rt, who.tenant, sub_id, status="dead", limit=200)]
    return _page(request, "subscription.html", who, sub=sub, deliveries=shown, dead=dead,
                 message=message, ok=ok)


@router.get("/subscriptions/{sub_id}")
async def subscription(sub_id: str, request: Request, rt: Runtime = Depends(runtime),
                       who: tenants.Principal = Depends(_who)) -> HTMLResponse:
    """One subscription's page: its state, its 50 latest deliveries and its dead letters."""
    return await _subscription(request, rt, who, sub_id)


@router.post("/subscriptions/{sub_id}/deliveries/{delivery_id}/replay")
async def replay(sub_id: str, delivery_id: str, request: Request, rt: Runtime = Depends(runtime),
                 who: tenants.Principal = Depends(_who)) -> HTMLResponse:
    """Queue a delivery again (same webhook-id); refused on the page for a read-only key."""
    if who.read_only:
        return await _subscription(request, rt, who, sub_id, "this API key is read-only", False)
    await delivery.replay(rt, who.tenant, sub_id, delivery_id)
    return await _subscription(request, rt, who, sub_id,
                               f"{delivery_id} queued again; a worker sends it")


@router.get("/flows/{flow_id}")
async def flow(flow_id: str, request: Request, rt: Runtime = Depends(runtime),
               who: tenants.Principal = Depends(_who)) -> HTMLResponse:
    """One flow's page: its definition and its 20 latest runs."""
    return _page(request, "flow.html", who, flow=await flows.get(rt, who.tenant, flow_id),
                 runs=await flows.list_runs(rt, who.tenant, flow_id, limit=20))


@router.get("/catalog")
async def catalog(request: Request, q: str = "",
                  who: tenants.Principal = Depends(_who)) -> HTMLResponse:
    """The operation catalog, filtered by ``q``: operations whose key or title hold every word."""
    words = q.lower().split()
    ops = [op for op in registry.registry().values()
           if all(w in f"{op.key} {op.title}".lower() for w in words)]
    return _page(request, "catalog.html", who, ops=ops, q=q)


def fields_of(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """Form fields from an operation's input JSON Schema: name, widget (text, email, number,
    json), choices (an enum), required, help and an example."""
    required = set(schema.get("required") or [])
    out = []
    for name, prop in (schema.get("properties") or {}).items():
        kinds = [p for p in prop.get("anyOf", [prop]) if p.get("type") != "null"]
        main = kinds[0] if kinds else prop
        kind = main.get("type", "string")
        widget = {"integer": "number", "number": "number", "array": "json",
                  "object": "json", "boolean": "text"}.get(kind, "text")
        if kind == "string" and (main.get("format") or prop.get("format")) == "email":
            widget = "email"
        choices = main.get("enum") or (["true", "false"] if kind == "boolean" else None)
        example = (prop.get("examples") or [""])[0]
        out.append({"name": name, "widget": widget, "kind": kind, "choices": choices,
                    "required": name in required, "help": prop.get("description", ""),
                    "example": json.dumps(example) if widget == "json" else example})
    return out


def _value(field: dict[str, Any], text: str) -> Any:
    """A form value as the schema's type (JSON for arrays and objects)."""
    if field["widget"] == "json":
        return json.loads(text)
    if field["kind"] == "integer":
        return int(text)
    if field["kind"] == "number":
        return float(text)
    if field["kind"] == "boolean":
        return text == "true"
    return text


@router.get("/catalog/{key}")
async def operation(key: str, request: Request, rt: Runtime = Depends(runtime),
                    who: tenants.Principal = Depends(_who)) -> HTMLResponse:
    """One operation's page: its inputs as a form (actions) and its upstream request."""
    return await _operation(request, rt, who, key)


async def _operation(request: Request, rt: Runtime, who: tenants.Principal, key: str,
                     result: Any = None, ok: bool = True) -> HTMLResponse:
    op = registry.get(key)
    if op is None:
        return _page(request, "catalog.html", who, ops=[], q=key)
    schema = input_schema(op)
    usable = [c.public() for c in await connections.list_for(rt.redis, who.tenant)
              if c.app == op.app]
    return _page(request, "operation.html", who, op=op, schema=schema, fields=fields_of(schema),
                 connections=usable, result=result, ok=ok)


@router.post("/catalog/{key}")
async def run(key: str, request: Request, rt: Runtime = Depends(runtime),
              who: tenants.Principal = Depends(_who)) -> HTMLResponse:
    """Run an action from its form (fields named ``in.<input>``) and show the result on its page;
    refused on the page for a read-only key."""
    op = registry.get(key)
    if op is None or op.kind != "action":
        return await _operation(request, rt, who, key)
    if who.read_only:
        return await _operation(request, rt, who, key, {"error": "this API key is read-only"}, False)
    form = await request.form()
    fields = {f["name"]: f for f in fields_of(input_schema(op))}
    data: dict[str, Any] = {}
    try:
        for name, value in form.items():
            if name.startswith("in.") and str(value).strip() and name[3:] in fields:
                try:
                    data[name[3:]] = _value(fields[name[3:]], str(value).strip())
                except RecursionError:
                    raise ValueError(f"{name} nests too deeply; send a flatter value") from None
    except ValueError as exc:
        return await _operation(request, rt, who, key, {"error": f"not valid: {exc}"}, False)
    # a form is not JSON, so the edge did not check it: the same checks as for the API's bodies
    problems = edge.body_problems(json.dumps({"input": data}).encode())
    if problems:
        return await _operation(request, rt, who, key, edge.refusal(problems), False)
    try:
        conn = await connections.get(rt.redis, who.tenant, str(form.get("connection_id")), rt.vault)
        result = await executor.run_action(rt, conn, op, data)
    except EngineError as exc:
        return await _operation(request, rt, who, key, exc.body(), False)
    return await _operation(request, rt, who, key, {"data": result.data, "meta": result.meta})
