"""POST /v1/ghl/request: one raw GHL API request, for endpoints the catalog has no operation for."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Header

from api.deps import Writer
from api.models import GHLRequestIn
from api.routes.actions import once_per_key
from engine.accounts import connections
from engine.actions import passthrough
from engine.actions.idempotency import fingerprint
from engine.core.errors import InputInvalid

router = APIRouter(prefix="/v1", tags=["actions"])


@router.post("/ghl/request")
async def ghl_request(body: GHLRequestIn, caller: Writer,
                      idempotency_key: str | None = Header(None, alias="Idempotency-Key")
                      ) -> dict[str, Any]:
    """Send ``method path`` to the GHL API with the connection's credentials, through the same
    rate budget, retries and error shapes as an action; answer ``{"data", "meta"}``. An
    `Idempotency-Key` header replays the stored answer for 24 h instead of sending twice, as
    for actions."""
    rt = caller.rt
    conn = await connections.get(rt.redis, caller.tenant, body.connection_id, rt.vault)
    call = passthrough.build_call(body.method, body.path, body.query, body.body, body.version)
    if conn.app != "ghl":
        raise InputInvalid([{"field": "connection_id", "location": "body",
                             "message": f"{conn.id} is a {conn.app} connection; this request "
                                        "needs a GHL connection"}])

    async def send() -> dict[str, Any]:
        resp = await rt.upstream.send(conn, call)
        return {"data": resp.data, "meta": {"upstream_status": resp.status,
                                            "attempts": resp.attempts,
                                            "duration_ms": round(resp.duration_ms, 2)}}

    return await once_per_key(rt, caller.tenant, idempotency_key,
                              fingerprint("ghl.request", body.model_dump()), send)
