"""Connections: a tenant's credentials, stored encrypted, never returned."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from api.deps import principal, runtime, writer
from api.models import ConnectionIn, GHLConnectionIn
from engine.accounts import connections, hooks
from engine.accounts.tenants import Principal
from engine.core.errors import EngineError, NotFound
from engine.runtime import Runtime
from engine.upstream.apps import APPS
from engine.upstream.call import Call

router = APIRouter(prefix="/v1", tags=["connections"])


@router.post("/connections", status_code=201)
async def create_connection(body: ConnectionIn, who: Principal = Depends(writer),
                            rt: Runtime = Depends(runtime)) -> dict[str, Any]:
    if not isinstance(body, GHLConnectionIn):
        conn = await connections.create(
            rt.redis, rt.vault, tenant=who.tenant, app="smsglobal", name=body.name, auth="mac",
            secret={"api_key": body.api_key.get_secret_value(),
                    "api_secret": body.api_secret.get_secret_value()})
        return conn.public()
    conn = await connections.create(
        rt.redis, rt.vault, tenant=who.tenant, app="ghl", name=body.name, auth="private_token",
        secret={"access_token": body.token.get_secret_value()}, location_id=body.location_id,
        company_id=body.company_id)
    return conn.public()


@router.get("/connections")
async def list_connections(who: Principal = Depends(principal),
                           rt: Runtime = Depends(runtime)) -> dict[str, Any]:
    return {"connections": [c.public() for c in await connections.list_for(rt.redis, who.tenant)]}


@router.get("/connections/{conn_id}")
async def get_connection(conn_id: str, who: Principal = Depends(principal),
                         rt: Runtime = Depends(runtime)) -> dict[str, Any]:
    return (await connections.get(rt.redis, who.tenant, conn_id)).public()


@router.delete("/connections/{conn_id}", status_code=204)
async def delete_connection(conn_id: str, who: Principal = Depends(writer),
                            rt: Runtime = Depends(runtime)) -> Response:
    await connections.get(rt.redis, who.tenant, conn_id)
    await hooks.forget(rt.redis, rt.vault, conn_id)
    await connections.delete(rt.redis, who.tenant, conn_id)
    return Response(status_code=204)


@router.get("/connections/{conn_id}/hook")
async def connection_hook(conn_id: str, request: Request, who: Principal = Depends(principal),
                          rt: Runtime = Depends(runtime)) -> dict[str, Any]:
    """The connection's push URLs: for a GHL connection the URL a GHL workflow's webhook action
    posts to; for SMSGlobal the receipt and reply URLs sends carry (when ENGINE_PUBLIC_URL is
    set). The token in them is the credential: keep it private, rotate it if it leaks."""
    conn = await connections.get(rt.redis, who.tenant, conn_id)
    return _hook_urls(rt, request, conn, await hooks.token(rt.redis, rt.vault, conn.id))


@router.post("/connections/{conn_id}/hook/rotate")
async def rotate_connection_hook(conn_id: str, request: Request, who: Principal = Depends(writer),
                                 rt: Runtime = Depends(runtime)) -> dict[str, Any]:
    """A new hook token: the old URLs answer 404 from now on."""
    conn = await connections.get(rt.redis, who.tenant, conn_id)
    return _hook_urls(rt, request, conn, await hooks.rotate(rt.redis, rt.vault, conn.id))


def _hook_urls(rt: Runtime, request: Request, conn, hook_token: str | None) -> dict[str, Any]:
    if hook_token is None:
        raise NotFound(f"connection {conn.id!r} not found", code="connection_not_found")
    base = rt.settings.public_url or str(request.base_url)
    kinds = ("ghl_workflow_url",) if conn.app == "ghl" else ("notify_url", "incoming_url")
    return {"connection_id": conn.id, **{k: hooks.push_url(base, k, hook_token) for k in kinds}}


@router.post("/connections/{conn_id}/test")
async def test_connection(conn_id: str, who: Principal = Depends(writer),
                          rt: Runtime = Depends(runtime)) -> dict[str, Any]:
    conn = await connections.get(rt.redis, who.tenant, conn_id, rt.vault)
    app = APPS[conn.app]
    call: Call = app.test_call(conn)
    started = time.perf_counter()
    try:
        resp = await rt.upstream.send(conn, call)
    except EngineError as exc:
        return {"ok": False, "error": exc.body()["error"],
                "duration_ms": round((time.perf_counter() - started) * 1000, 2)}
    return {"ok": True, "upstream_status": resp.status,
            "duration_ms": round((time.perf_counter() - started) * 1000, 2)}
