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


@router.post("/ghl/{hook_token}")
async def ghl_workflow_event(hook_token: str, request: Request,
                             rt: Runtime = Depends(runtime)) -> dict[str, Any]:
    """A GHL workflow's webhook action for one connection (its hook URL). The body's ``type``
    (or ``?type=``) picks the triggers to poll; without one, every instant trigger of the
    connection polls. 404 for an unknown token."""
    await receiver.accept_hook(rt, hook_token, "ghl-hook", await request.body(),
                               request.headers.get("content-type", ""),
                               request.query_params.get("type"))
    return {"ok": True}


@router.post("/smsglobal/{hook_token}/receipt")
async def smsglobal_receipt(hook_token: str, request: Request,
                            rt: Runtime = Depends(runtime)) -> dict[str, Any]:
    """SMSGlobal's delivery receipt (``notifyUrl``), JSON or form; polls the connection's
    Sent Message Status Changed watches."""
    await receiver.accept_hook(rt, hook_token, "smsglobal-receipt", await request.body(),
                               request.headers.get("content-type", ""))
    return {"ok": True}


@router.post("/smsglobal/{hook_token}/incoming")
async def smsglobal_incoming(hook_token: str, request: Request,
                             rt: Runtime = Depends(runtime)) -> dict[str, Any]:
    """SMSGlobal's reply push (``incomingUrl``), JSON or form; polls the connection's New
    Incoming SMS watches, which read the message back from the API."""
    await receiver.accept_hook(rt, hook_token, "smsglobal-incoming", await request.body(),
                               request.headers.get("content-type", ""))
    return {"ok": True}
