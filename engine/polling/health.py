"""Connection health: test a connection's credentials, take new ones, and bring back what a
refused connection paused. Used by ``/v1/connections`` and the operator CLI alike.

A poll that upstream answers with 401/403 pauses its watch with ``cause="credentials"`` and
marks the connection ``failing`` (:mod:`engine.polling.poller`). A test that passes — after new
credentials (:func:`update`) or on request (:func:`test`) — marks it ``active`` again and resumes
exactly the watches paused for that cause; they poll at once.
"""

from __future__ import annotations

import time
from typing import Any

from engine.accounts import connections
from engine.accounts.connections import Connection
from engine.core.errors import EngineError, InputInvalid
from engine.polling import subscriptions
from engine.runtime import Runtime
from engine.upstream.apps import APPS

# the fields each app's credentials take, as PATCH /v1/connections names them
CREDENTIALS = {"ghl": ("token",), "smsglobal": ("api_key", "api_secret")}


async def _call(rt: Runtime, conn: Connection) -> dict[str, Any]:
    """The app's test call with the connection's credentials: ``{ok, upstream_status | error,
    duration_ms}``."""
    started = time.perf_counter()
    try:
        resp = await rt.upstream.send(conn, APPS[conn.app].test_call(conn))
    except EngineError as exc:
        return {"ok": False, "error": exc.body()["error"],
                "duration_ms": round((time.perf_counter() - started) * 1000, 2)}
    return {"ok": True, "upstream_status": resp.status,
            "duration_ms": round((time.perf_counter() - started) * 1000, 2)}


async def _recovered(rt: Runtime, conn: Connection) -> int:
    """After a passing test: the connection is active again, and the watches its refused
    credentials paused resume. Returns how many resumed."""
    if conn.status != "active":
        await connections.set_status(rt.redis, conn.id, "active", None)
    return await subscriptions.resume_watches_for_connection(rt, conn.id, cause="credentials")


async def test(rt: Runtime, tenant: str, conn_id: str) -> dict[str, Any]:
    """Test a connection; when it passes, resume what its failure paused (``resumed``: how
    many watches). Raises NotFound for another tenant's or an unknown id."""
    conn = await connections.get(rt.redis, tenant, conn_id, rt.vault)
    result = await _call(rt, conn)
    if result["ok"]:
        result["resumed"] = await _recovered(rt, conn)
    return result


async def update(rt: Runtime, tenant: str, conn_id: str, *, name: str | None = None,
                 credentials: dict[str, str] | None = None) -> dict[str, Any]:
    """Rename a connection and/or store new credentials (GHL ``token``; SMSGlobal ``api_key``
    and ``api_secret`` together), then test them; a passing test resumes what the old ones'
    failure paused. Returns ``{connection, test, resumed}`` (``test`` is None without new
    credentials). Raises InputInvalid naming a field of the wrong app or a missing partner;
    nothing is stored then."""
    conn = await connections.get(rt.redis, tenant, conn_id, rt.vault)
    given = {k: v.strip() for k, v in (credentials or {}).items() if v is not None}
    own = CREDENTIALS[conn.app]
    label = APPS[conn.app].label
    problems = [{"field": f, "location": "body",
                 "message": f"a {label} connection has no {f}; it takes {', '.join(('name',) + own)}"}
                for f in given if f not in own]
    problems += [{"field": f, "location": "body", "message": "must not be empty"}
                 for f, v in given.items() if f in own and not v]
    if "token" in given and conn.auth != "private_token":
        problems.append({"field": "token", "location": "body", "message": (
            "this connection was authorized with OAuth: authorize the location again with GET "
            "/v1/oauth/ghl/authorize, which renews it in place")})
    if conn.app == "smsglobal" and given and not problems and set(given) != set(own):
        missing = next(f for f in own if f not in given)
        problems.append({"field": missing, "location": "body",
                         "message": "give api_key and api_secret together"})
    if problems:
        raise InputInvalid(problems)
    if name is not None:
        await connections.rename(rt.redis, conn.id, name)
    result: dict[str, Any] = {"test": None, "resumed": 0}
    if given:
        secret = ({**conn.secret, "access_token": given["token"]} if conn.app == "ghl"
                  else {"api_key": given["api_key"], "api_secret": given["api_secret"]})
        await connections.replace_secret(rt.redis, rt.vault, conn.id, secret)
        conn.secret = secret
        result["test"] = await _call(rt, conn)
        if result["test"]["ok"]:
            result["resumed"] = await _recovered(rt, conn)
    result["connection"] = (await connections.get(rt.redis, tenant, conn_id)).public()
    return result
