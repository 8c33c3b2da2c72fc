"""Endpoints that receive pushed events (no API key: each is verified on its own terms)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from api.deps import runtime
from engine.inbound import receiver
from engine.runtime import Runtime

router = APIRouter(prefix="/v1/inbound", tags=["inbound events"])


@router.post("/ghl")
async def ghl_event(request: Request, rt: Runtime = Depends(runtime)) -> dict[str, Any]:
    """A GHL marketplace-app event, signed with Ed25519 in ``x-ghl-signature``. 200 once queued;
    401 bad signature, 409 stale or replayed, 429 when it cannot be queued (GHL sends it again)."""
    body = await receiver.accept_ghl(rt, await request.body(), request.headers)
    return {"ok": True, "type": body.get("type")}
