"""POST /v1/actions/{key}: run one operation's request once with a connection's credentials.

Every operation of the catalog runs here, a trigger included: for a trigger it is one request
with the given inputs and the upstream answer as it is (no paging, no dedupe); reading a
trigger's items is ``POST /v1/triggers/{key}/items``."""

from __future__ import annotations

from typing import Any, Awaitable, Callable

from fastapi import APIRouter, Header
from api.responses import SafeJSONResponse as JSONResponse

from api.deps import Writer
from api.models import ActionIn
from api.routes.operations import unknown_operation
from engine.accounts import connections
from engine.actions import executor
from engine.actions.idempotency import Idempotency, fingerprint
from engine.core.errors import UpstreamError
from engine.runtime import Runtime
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

    async def call() -> dict[str, Any]:
        result = await executor.run_action(rt, conn, op, body.input)
        return {"data": result.data, "meta": result.meta}

    return await once_per_key(rt, caller.tenant, idempotency_key,
                              fingerprint(key, body.model_dump()), call)


async def once_per_key(rt: Runtime, tenant: str, idempotency_key: str | None, body_hash: str,
                       call: Callable[[], Awaitable[dict[str, Any]]]) -> Any:
    """``call()``'s answer, done at most once per ``Idempotency-Key`` of the tenant (none: just
    called): a repeat with the same ``body_hash`` replays the stored answer (header
    ``Idempotent-Replayed: true``), another body is a 409. GHL's own 4xx answers (not 401) are
    stored too; a 5xx, a 401 or any other failure frees the key for a retry."""
    if idempotency_key is None:
        return await call()
    idem = Idempotency(rt.redis, tenant, idempotency_key, body_hash,
                       rt.settings.idempotency_ttl_seconds, rt.settings.idempotency_lease_seconds)
    stored = await idem.begin()
    if stored is not None:
        status, payload = stored
        return JSONResponse(payload, status_code=status, headers={"Idempotent-Replayed": "true"})
    try:
        payload = await call()
    except UpstreamError as exc:
        if exc.status < 500 and exc.status != 401:
            await idem.complete(exc.status, exc.body())
        else:
            await idem.release()
        raise
    except BaseException:  # any other failure (cancelled included): the key is free again
        await idem.release()
        raise
    await idem.complete(200, payload)
    return payload
