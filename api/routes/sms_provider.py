"""SMSGlobal as a GHL conversation provider: the set-up per location."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import Reader, Writer
from engine.provider import setup

router = APIRouter(prefix="/v1", tags=["sms-provider"])


@router.post("/sms-provider", status_code=201)
async def create_provider(body: setup.ProviderIn, caller: Writer) -> dict[str, Any]:
    """Make SMSGlobal carry a GHL location's SMS: which GHL and SMSGlobal connections, and how
    (one set-up per location). Returns it with the Delivery URL to give GHL's provider; SMSGlobal
    pushes receipts and replies to the SMSGlobal connection's hook URLs."""
    rt = caller.rt
    return setup.public(rt.settings, await setup.create(rt.redis, caller.tenant, body))


@router.get("/sms-provider")
async def list_providers(caller: Reader) -> dict[str, Any]:
    """The tenant's SMS-provider set-ups, one per GHL location."""
    rt = caller.rt
    found = await setup.list_for(rt.redis, caller.tenant)
    return {"providers": [setup.public(rt.settings, p) for p in found]}


@router.get("/sms-provider/{location_id}")
async def get_provider(location_id: str, caller: Reader) -> dict[str, Any]:
    """The SMS-provider set-up of one GHL location."""
    rt = caller.rt
    return setup.public(rt.settings, await setup.get(rt.redis, caller.tenant, location_id))


@router.patch("/sms-provider/{location_id}")
async def update_provider(location_id: str, body: setup.ProviderPatch,
                          caller: Writer) -> dict[str, Any]:
    """Change a location's SMS-provider set-up."""
    rt = caller.rt
    return setup.public(rt.settings, await setup.update(rt.redis, caller.tenant, location_id, body))


@router.delete("/sms-provider/{location_id}", status_code=204)
async def delete_provider(location_id: str, caller: Writer) -> None:
    """Stop carrying a location's SMS through SMSGlobal."""
    await setup.delete(caller.rt.redis, caller.tenant, location_id)

