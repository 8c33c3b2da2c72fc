"""POST /v1/triggers/{key}/items: a trigger read as a newest-first list (samples, pull mode)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import ConfigDict, Field

from api.deps import Reader
from api.models import Strict
from api.routes.operations import unknown_operation
from engine.accounts import connections
from engine.core.errors import NotFound
from engine.polling import reader
from engine.spec import registry

router = APIRouter(prefix="/v1", tags=["triggers"])


class ItemsIn(Strict):
    """A trigger read: the connection to read through, the trigger's inputs and how many of the
    newest items to return (1 to 500)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"connection_id": "conn_3f9c2a1b7d4e5f60a1b2", "params": {}, "limit": 3}]})
    connection_id: str = Field(min_length=1, max_length=100)
    params: dict[str, Any] = Field(default_factory=dict)
    limit: int = Field(25, ge=1, le=500)


@router.post("/triggers/{key}/items")
async def trigger_items(key: str, body: ItemsIn, caller: Reader) -> dict[str, Any]:
    """Read a trigger now as a newest-first list of items with stable ids (samples, pull-mode
    polling); nothing is remembered."""
    rt = caller.rt
    op = registry.get(key)
    if op is None:
        raise unknown_operation(key)
    if op.kind != "trigger":
        raise NotFound(f"{key!r} is an action, not a trigger: run it with POST /v1/actions/{key}",
                       code="operation_not_found")
    conn = await connections.get(rt.redis, caller.tenant, body.connection_id, rt.vault)
    return await reader.list_items(rt, conn, op, body.params, body.limit)
