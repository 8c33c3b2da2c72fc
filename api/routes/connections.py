"""Connections: a tenant's credentials, stored encrypted, never returned."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Depends, Response

from api.deps import principal, runtime, writer
from api.models import ConnectionIn, GHLConnectionIn
from engine.accounts import connections
from engine.accounts.tenants import Principal
from engine.core.errors import EngineError
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
    await connections.delete(rt.redis, who.tenant, conn_id)
    return Response(status_code=204)


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
