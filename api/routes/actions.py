"""POST /v1/actions/{key}: run one operation's request once with a connection's credentials.

Every operation of the catalog runs here, a trigger included: for a trigger it is one request
with the given inputs and the upstream answer as it is (no paging, no dedupe); reading a
trigger's items is ``POST /v1/triggers/{key}/items``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Header
from api.responses import SafeJSONResponse as JSONResponse

from api.deps import Writer
from api.models import ActionIn
from api.routes.operations import unknown_operation
from engine.accounts import connections
from engine.actions import executor
from engine.actions.idempotency import Idempotency, fingerprint
from engine.core.errors import UpstreamError
from engine.spec import registry

router = APIRouter(prefix="/v1", tags=["actions"])


@router.post("/actions/{key}")
async def run_action(key: str, body: ActionIn, caller: Writer,
                     idempotency_key: str | None = Header(None, alias="Idempotency-Key")) -> Any:
    """Run one action with a connection's credentials: the input is validated against the
    operation's JSON Schema (422 naming each bad field, nothing sent), then sent through the
    location's rate budget with retries. Returns `{data, meta: {upstream_status, attempts,
    duration_ms}}`. An `Idempotency-Key` header replays the stored answer for 24 h instead of
    acting twice."""
    rt = caller.rt
    op = registry.get(key)
    if op is None:
        raise unknown_operation(key)
    conn = await connections.get(rt.redis, caller.tenant, body.connection_id, rt.vault)
    idem = None
    if idempotency_key is not None:
        idem = Idempotency(rt.redis, caller.tenant, idempotency_key,
                           fingerprint(key, body.model_dump()), rt.settings.idempotency_ttl_seconds,
                           rt.settings.idempotency_lease_seconds)
        stored = await idem.begin()
        if stored is not None:
            status, payload = stored
            return JSONResponse(payload, status_code=status, headers={"Idempotent-Replayed": "true"})
    try:
        result = await executor.run_action(rt, conn, op, body.input)
    except UpstreamError as exc:
        if idem is not None:
            if exc.status < 500 and exc.status != 401:
                await idem.complete(exc.status, exc.body())
            else:
                await idem.release()
        raise
    except BaseException:  # any other failure (cancelled included): the key is free again
        if idem is not None:
            await idem.release()
        raise
    payload = {"data": result.data, "meta": result.meta}
    if idem is not None:
        await idem.complete(200, payload)
    return payload
