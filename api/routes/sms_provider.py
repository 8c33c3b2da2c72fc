"""SMSGlobal as a GHL conversation provider: the set-up per location."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response

from api.deps import principal, runtime, writer
from engine.accounts.tenants import Principal
from engine.provider import setup
from engine.runtime import Runtime

router = APIRouter(prefix="/v1", tags=["sms-provider"])


@router.post("/sms-provider", status_code=201)
async def create_provider(body: setup.ProviderIn, who: Principal = Depends(writer),
                          rt: Runtime = Depends(runtime)) -> dict[str, Any]:
    """Make SMSGlobal carry a GHL location's SMS: which GHL and SMSGlobal connections, and how
    (one set-up per location). Returns it with the Delivery URL to give GHL's provider; SMSGlobal
    pushes receipts and replies to the SMSGlobal connection's hook URLs."""
    return setup.public(rt.settings, await setup.create(rt.redis, who.tenant, body))


@router.get("/sms-provider")
async def list_providers(who: Principal = Depends(principal),
                         rt: Runtime = Depends(runtime)) -> dict[str, Any]:
    """The tenant's SMS-provider set-ups, one per GHL location."""
    found = await setup.list_for(rt.redis, who.tenant)
    return {"providers": [setup.public(rt.settings, p) for p in found]}


@router.get("/sms-provider/{location_id}")
async def get_provider(location_id: str, who: Principal = Depends(principal),
                       rt: Runtime = Depends(runtime)) -> dict[str, Any]:
    """The SMS-provider set-up of one GHL location."""
    return setup.public(rt.settings, await setup.get(rt.redis, who.tenant, location_id))


@router.patch("/sms-provider/{location_id}")
async def update_provider(location_id: str, body: setup.ProviderPatch,
                          who: Principal = Depends(writer),
                          rt: Runtime = Depends(runtime)) -> dict[str, Any]:
    """Change a location's SMS-provider set-up."""
    return setup.public(rt.settings, await setup.update(rt.redis, who.tenant, location_id, body))


@router.delete("/sms-provider/{location_id}", status_code=204)
async def delete_provider(location_id: str, who: Principal = Depends(writer),
                          rt: Runtime = Depends(runtime)) -> Response:
    """Stop carrying a location's SMS through SMSGlobal."""
    await setup.delete(rt.redis, who.tenant, location_id)
    return Response(status_code=204)

