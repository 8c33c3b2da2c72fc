"""The catalog: GET /v1/operations and GET /v1/operations/{key}."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends

from api.deps import principal
from engine.core.errors import NotFound
from engine.spec import registry
from engine.spec.catalog import describe

router = APIRouter(prefix="/v1", tags=["operations"], dependencies=[Depends(principal)])


@router.get("/operations")
async def list_operations(kind: Literal["trigger", "action"] | None = None,
                          app: Literal["ghl", "smsglobal"] | None = None,
                          category: str | None = None) -> dict[str, Any]:
    """The catalog: every trigger and action with its inputs as JSON Schema, a sample and the
    upstream method, path, Version and scopes; filter by `kind`, `app` and `category`."""
    ops = [op for op in registry.registry().values()
           if (kind is None or op.kind == kind) and (app is None or op.app == app)
           and (category is None or op.category == category)]
    return {"operations": [describe(op) for op in ops], "count": len(ops)}


@router.get("/operations/{key}")
async def get_operation(key: str) -> dict[str, Any]:
    """One operation of the catalog; an unknown key is a 404 naming the closest keys."""
    op = registry.get(key)
    if op is None:
        raise unknown_operation(key)
    return describe(op)


def unknown_operation(key: str) -> NotFound:
    """The 404 ``operation_not_found`` for ``key``, suggesting the closest keys in its message and
    in ``details.suggestions`` (a list of keys, possibly empty)."""
    near = registry.closest(key)
    hint = f"; did you mean {', '.join(near)}?" if near else "; list them with GET /v1/operations"
    return NotFound(f"unknown operation {key!r}{hint}", code="operation_not_found",
                    details={"suggestions": near})
