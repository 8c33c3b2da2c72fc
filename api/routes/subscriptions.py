"""Subscriptions (REST hooks): a webhook URL subscribed to a polling trigger, and its deliveries.

``POST /v1/triggers/{key}/subscriptions`` is the same subscribe with the trigger in the path, as
REST-hook tools (Zapier's performSubscribe) like to call it.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query
from pydantic import ConfigDict, Field

from api.deps import Caller, Reader, Writer
from api.models import Strict
from engine.polling import delivery, poller, subscriptions

router = APIRouter(prefix="/v1", tags=["subscriptions"])

Interval = Field(None, ge=1, le=15, description="Minutes between polls, 1 to 15 (default: the "
                                                "trigger's own, 5 for most).")


class SubscriptionBase(Strict):
    """A webhook subscription to a trigger: the connection to read through, the trigger's inputs,
    the https URL each new item is POSTed to (signed) and the poll interval in minutes."""
    model_config = ConfigDict(json_schema_extra={"examples": [{"connection_id": "conn_3f9c2a1b7d4e5f60a1b2", "params": {}, "target_url": "https://hooks.example.com/ghl/contacts", "interval_minutes": 5}]})
    connection_id: str = Field(min_length=1, max_length=100)
    params: dict[str, Any] = Field(default_factory=dict, description="The trigger's inputs.")
    target_url: str = Field(min_length=1, max_length=2000,
                            description="Where each new item is POSTed, signed (https).")
    interval_minutes: int | None = Interval


class SubscriptionIn(SubscriptionBase):
    """A webhook subscription, naming its trigger."""
    model_config = ConfigDict(json_schema_extra={"examples": [{"trigger": "contacts.search_contacts", "connection_id": "conn_3f9c2a1b7d4e5f60a1b2", "params": {}, "target_url": "https://hooks.example.com/ghl/contacts", "interval_minutes": 5}]})
    trigger: str = Field(min_length=1, max_length=200, description="A trigger key, e.g. "
                                                                   "contacts.search_contacts.")


class SubscriptionPatch(Strict):
    """Changes to a subscription: any of its interval (minutes), trigger inputs and target URL."""
    model_config = ConfigDict(json_schema_extra={"examples": [{"interval_minutes": 1}]})
    interval_minutes: int | None = Interval
    params: dict[str, Any] | None = None
    target_url: str | None = Field(None, min_length=1, max_length=2000)


async def _create(caller: Caller, trigger: str, body: SubscriptionBase) -> dict[str, Any]:
    return await subscriptions.create(caller.rt, caller.tenant, trigger=trigger,
                                      connection_id=body.connection_id, params=body.params,
                                      interval_minutes=body.interval_minutes,
                                      target_url=body.target_url)


@router.post("/subscriptions", status_code=201)
async def create_subscription(body: SubscriptionIn, caller: Writer) -> dict[str, Any]:
    """Subscribe a webhook URL to a polling trigger (a REST hook). Each new item is POSTed
    once, signed with Standard Webhooks headers; the signing `secret` is returned this once."""
    return await _create(caller, body.trigger, body)


@router.post("/triggers/{key}/subscriptions", status_code=201)
async def subscribe_to_trigger(key: str, body: SubscriptionBase, caller: Writer) -> dict[str, Any]:
    """The same subscribe with the trigger in the path, as REST-hook tools call it."""
    return await _create(caller, key, body)


@router.get("/subscriptions")
async def list_subscriptions(caller: Reader) -> dict[str, Any]:
    """The tenant's subscriptions with `status` (`active`, `paused` with `status_reason`, or
    `failing` with `last_error` and `waiting`), last and next poll and dead letters."""
    return {"subscriptions": await subscriptions.list_for(caller.rt, caller.tenant)}


@router.get("/subscriptions/{sub_id}")
async def get_subscription(sub_id: str, caller: Reader) -> dict[str, Any]:
    """One subscription with its status and what waits."""
    return await subscriptions.get(caller.rt, caller.tenant, sub_id)


@router.patch("/subscriptions/{sub_id}")
async def update_subscription(sub_id: str, body: SubscriptionPatch,
                              caller: Writer) -> dict[str, Any]:
    """Change the interval, params or target URL; editing a paused subscription tries its
    trigger again."""
    return await subscriptions.update(caller.rt, caller.tenant, sub_id,
                                      interval_minutes=body.interval_minutes, params=body.params,
                                      target_url=body.target_url)


@router.delete("/subscriptions/{sub_id}", status_code=204)
async def delete_subscription(sub_id: str, caller: Writer) -> None:
    """Unsubscribe: its queue and delivery log go too."""
    await subscriptions.delete(caller.rt, caller.tenant, sub_id)


@router.post("/subscriptions/{sub_id}/rotate-secret")
async def rotate_secret(sub_id: str, caller: Writer) -> dict[str, Any]:
    """A new signing secret (shown this once). Until ``previous_secret_valid_until`` each
    delivery is signed with both secrets; after it, only with the new one."""
    return await subscriptions.rotate_secret(caller.rt, caller.tenant, sub_id)


@router.get("/subscriptions/{sub_id}/deliveries", summary="List a subscription's deliveries")
async def list_deliveries(sub_id: str, caller: Reader,
                          status: Literal["pending", "retrying", "delivered", "dead"] | None = Query(None),
                          limit: int = Query(100, ge=1, le=1000),
                          cursor: str | None = Query(None, min_length=1, max_length=200,
                                                     description="`next` of the page before.")
                          ) -> dict[str, Any]:
    """The subscription's deliveries, newest first, with status, attempts and last error; filter
    with `status` (`dead`: the dead letters). One page holds up to `limit` (default 100);
    when more match, `has_more` is true and `next` is the cursor: pass it as `?cursor=` (with
    the same `status`) for the next page. The log keeps a subscription's newest 1,000
    deliveries."""
    found, after = await delivery.page(caller.rt, caller.tenant, sub_id, status=status,
                                       limit=limit, after=cursor)
    return {"deliveries": found, "has_more": after is not None, "next": after}


@router.post("/subscriptions/{sub_id}/deliveries/{delivery_id}/replay", status_code=202)
async def replay_delivery(sub_id: str, delivery_id: str, caller: Writer) -> dict[str, Any]:
    """Send a delivered or dead delivery again, with the same webhook-id, after what is queued."""
    return await delivery.replay(caller.rt, caller.tenant, sub_id, delivery_id)


@router.post("/subscriptions/{sub_id}/poll", summary="Poll now")
async def poll_subscription(sub_id: str, caller: Writer) -> dict[str, Any]:
    """Polls the subscription's trigger at once instead of at its next slot, and returns what
    the poll found: `outcome` (primed: the first read, which sets the starting point; polled;
    paused, with `detail`; skipped: paused or another poll of it is running), `new` items and
    `deliveries` queued (workers send them)."""
    rt = caller.rt
    result = await poller.poll_now(rt, caller.tenant, sub_id)
    return {"outcome": result.outcome, "new": result.new, "deliveries": result.deliveries,
            "requests": result.requests, "detail": result.detail or None,
            "subscription": await subscriptions.get(rt, caller.tenant, sub_id)}


@router.post("/subscriptions/{sub_id}/pause", summary="Pause a subscription's deliveries")
async def pause_subscription(sub_id: str, caller: Writer) -> dict[str, Any]:
    """Stops sending; its trigger is still read, so new items wait in its queue and go out in
    order on resume."""
    return await subscriptions.pause(caller.rt, caller.tenant, sub_id)


@router.post("/subscriptions/{sub_id}/resume", summary="Resume a subscription")
async def resume_subscription(sub_id: str, caller: Writer) -> dict[str, Any]:
    """Sends its queue again at once: on a paused subscription, and on a failing one (after its
    receiver was fixed) the delivery waiting for its next try is sent now instead of at
    `next_attempt_at`, then the rest, in order and each once. Polls its trigger at once if it
    was paused (e.g. after the connection was fixed)."""
    return await subscriptions.resume(caller.rt, caller.tenant, sub_id)
