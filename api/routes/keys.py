"""API keys: a caller rotates its own key (``ghl-engine keys rotate KEY_ID`` does it for any)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from api.deps import principal, runtime
from engine.accounts import tenants
from engine.accounts.tenants import Principal
from engine.core.errors import Unauthorized
from engine.runtime import Runtime

router = APIRouter(prefix="/v1", tags=["keys"])


@router.post("/keys/rotate", status_code=201)
async def rotate_own_key(who: Principal = Depends(principal),
                         rt: Runtime = Depends(runtime)) -> dict[str, Any]:
    """Replace the key that signs this request by a new one (same tenant, same access).

    The new key is shown once, in this answer; the old one stops working at once."""
    new = await tenants.rotate_key(rt.redis, who.key_id)
    if new is None:
        raise Unauthorized("this API key was revoked meanwhile")
    key_id, api_key = new
    return {"key_id": key_id, "api_key": api_key, "read_only": who.read_only,
            "revoked_key_id": who.key_id,
            "note": "store the new key now: it is not shown again"}
