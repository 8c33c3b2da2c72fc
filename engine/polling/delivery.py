"""Delivery: the outbox of each subscription sent in order, signed, with retries for a day.

Each subscription has a queue of delivery ids written by the poll's commit (the outbox,
:mod:`engine.polling.outbox`). Its head is the one delivery in flight: a later item waits until
the earlier one is delivered or dead. The due set is claimed like the watches' (a claim leases
the subscription), and a per-subscription lease makes sure one run sends at a time, even when a
killed worker's job is run again.

A webhook POST carries the Standard Webhooks headers (``webhook-id`` = the delivery id, stable
across re-sends, ``webhook-timestamp``, ``webhook-signature``) and the JSON body
``{subscription_id, trigger, item_id, data}``. 2xx is delivered; 410 Gone removes the
subscription; anything else (other 4xx, 5xx, redirects, timeouts) is tried again after the
retry schedule, then put on the dead-letter list. A flow subscriber gets the same delivery through
the runtime's ``hooks.flow_sink`` (wired to ``engine.flows.runs.deliver`` by
:mod:`engine.wiring`); an exception there is a failed try.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import datetime, timezone
from typing import Any

import httpx
from standardwebhooks.webhooks import Webhook

from engine.core import keys, logs, metrics, scripts
from engine.core.errors import Conflict, EngineError, InputInvalid, NotFound
from engine.polling import subscriptions as subs
from engine.polling import outbox, targets
from engine.runtime import Runtime

log = logging.getLogger("engine.polling.delivery")

USER_AGENT = "ghl-engine-webhooks/1"

_UNREAD = object()  # the queue's head is not read yet


async def claim_due(rt: Runtime, *, now_ms: int | None = None, limit: int = 500) -> list[tuple[str, int]]:
    """Claim subscriptions with a delivery due by ``now_ms`` (epoch ms; default: the runtime's
    clock): [(id, slot ms)]; the claim leases them for ENGINE_DELIVERY_LEASE_SECONDS
    (:func:`outbox.claim_due`)."""
    now_ms = rt.clock.now_ms() if now_ms is None else now_ms
    return await outbox.claim_due(rt.redis, now_ms=now_ms, limit=limit,
                                  lease_ms=int(rt.settings.delivery_lease_seconds * 1000))


def body_of(delivery: dict[str, str]) -> str:
    """The exact JSON body POSTed for a delivery (the same bytes on every re-send)."""
    return ('{"subscription_id":' + json.dumps(delivery["subscription"])
            + ',"trigger":' + json.dumps(delivery["trigger"])
            + ',"item_id":' + json.dumps(delivery["item_id"])
            + ',"data":' + delivery["data"] + "}")


def signed_headers(signing_secrets: list[str], msg_id: str, body: str) -> dict[str, str]:
    """Standard Webhooks headers; ``webhook-signature`` holds one ``v1,<base64>`` per secret,
    space-separated (several during a secret rotation's overlap)."""
    now = datetime.now(timezone.utc)
    return {"content-type": "application/json", "user-agent": USER_AGENT,
            "webhook-id": msg_id, "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": " ".join(Webhook(s).sign(msg_id, now, body) for s in signing_secrets)}


class _Outcome:
    def __init__(self, ok: bool, error: str = "", gone: bool = False, status: int | None = None):
        self.ok, self.error, self.gone, self.status = ok, error, gone, status


async def _post(rt: Runtime, client: httpx.AsyncClient, url: str, signing_secrets: list[str], msg_id: str,
                body: str) -> _Outcome:
    try:
        await targets.check_before_send(url, rt.settings)
    except targets.TargetRefused as exc:
        return _Outcome(False, "; ".join(p["message"] for p in exc.details or []))
    cap = rt.settings.delivery_max_response_bytes
    deadline_s = rt.settings.delivery_timeout_seconds
    try:
        # one deadline for the whole send, connect to last byte: a target that drips its answer
        # a byte at a time cannot hold a send (httpx's own timeouts apply per read)
        async with asyncio.timeout(deadline_s):
            async with client.stream("POST", url, content=body.encode(),
                                     headers=signed_headers(signing_secrets, msg_id, body)) as resp:
                read = 0
                async for chunk in resp.aiter_raw():
                    read += len(chunk)
                    if read >= cap:
                        break  # the answer's body is not ours to store; read a little, drop it
                status = resp.status_code
    except (TimeoutError, httpx.TimeoutException):
        return _Outcome(False, f"timed out: no complete answer within {deadline_s:g} s "
                               "(ENGINE_DELIVERY_TIMEOUT_SECONDS, connect to last byte)")
    except httpx.HTTPError as exc:
        return _Outcome(False, f"{type(exc).__name__}: could not reach the target")
    if 200 <= status < 300:
        return _Outcome(True, status=status)
    if status == 410:
        return _Outcome(False, "410 Gone", gone=True, status=status)
    if 300 <= status < 400:
        return _Outcome(False, f"{status} redirect (not followed)", status=status)
    return _Outcome(False, f"HTTP {status}", status=status)


async def _to_flow(rt: Runtime, flow_id: str, delivery_id: str, d: dict[str, str]) -> _Outcome:
    try:
        await rt.hooks.flow_sink(rt, flow_id, {
            "webhook_id": delivery_id, "delivery_id": delivery_id,
            "subscription_id": d["subscription"], "trigger": d["trigger"],
            "item_id": d["item_id"], "data": json.loads(d["data"])})
    except EngineError as exc:
        return _Outcome(False, f"flow failed: {exc.message}"[:500])
    except Exception as exc:  # noqa: BLE001 - any failure of the flow is a failed try
        # only engine messages are stored: other exception text may quote a credential
        log.warning("flow delivery failed unexpectedly: %s", type(exc).__name__)
        return _Outcome(False, f"flow failed: {type(exc).__name__}")
    return _Outcome(True)


async def run_subscription(rt: Runtime, sub_id: str, *, max_items: int = 100) -> dict[str, int]:
    """Send a subscription's queued deliveries in order (the delivery job): at most
    ``max_items``, stopping half-way through the lease. Returns ``{"sent", "failed"}`` (plus
    ``"locked": 1`` when another run holds the subscription, ``"removed": 1`` after a 410).
    Which deliveries are due, and when a failed one is tried again, follow the runtime's clock
    (``rt.clock``)."""
    r = rt.redis
    settings = rt.settings
    # the lease outlives one send (so one delivery is in flight), the run stops taking new items
    # half-way through it (so a claim rarely finds it still running)
    lease_ms = int(max(settings.delivery_lease_seconds, settings.delivery_timeout_seconds + 1) * 1000)
    stop_at = time.monotonic() + settings.delivery_lease_seconds / 2
    token = await outbox.take_lease(r, sub_id, lease_ms)
    logs.bind(subscription_id=sub_id)
    if token is None:
        return {"sent": 0, "failed": 0, "locked": 1}
    sent = failed = 0
    next_at_ms = rt.clock.now_ms()
    # the lock is extended while this run holds it, a send in flight included, so no other run
    # of the subscription can start a second send meanwhile
    keeper = asyncio.create_task(_keep_lease(rt, sub_id, token, lease_ms))
    try:
        sub = await subs.load(rt, sub_id)
        if sub is None:
            await outbox.drop_queue(r, sub_id)
            return {"sent": 0, "failed": 0}
        if sub.get("paused"):  # its queue waits for the resume, which schedules it again
            await r.zrem(keys.DELIVERIES_DUE, sub_id)
            return {"sent": 0, "failed": 0, "paused": 1}
        signing = await subs.secrets_of(rt, sub)
        schedule = rt.settings.retry_schedule()
        timeout = httpx.Timeout(rt.settings.delivery_timeout_seconds)
        async with targets.guarded_client(rt.settings, timeout=timeout) as client:
            head: Any = _UNREAD
            for _ in range(max_items):
                if time.monotonic() > stop_at:
                    break
                if head is _UNREAD:
                    head = await outbox.head(r, sub_id)
                if head is None:
                    break
                did, d = head
                head = _UNREAD
                if not d or d.get("status") in ("delivered", "dead"):
                    await outbox.pop_head(r, sub_id, did)
                    continue
                if int(d.get("next_attempt") or 0) > rt.clock.now_ms():
                    next_at_ms = int(d["next_attempt"])
                    break
                attempts = int(d.get("attempts") or 0) + 1
                if attempts > len(schedule) + 1:  # earlier tries died before their outcome
                    await outbox.dead_letter(r, sub_id, did, attempts=attempts - 1,
                                             error=d.get("last_error") or "")
                    continue
                # counted before the send: a job that dies mid-send leaves the try counted (and
                # is sent again once its lease ends), so the dead-letter list still applies
                await r.hset(keys.DELIVERY.format(delivery_id=did), mapping={
                    "status": "retrying", "attempts": attempts,
                    "last_error": "sending, or the delivery job stopped during the send"})
                if sub.get("flow_id"):
                    outcome = await _to_flow(rt, sub["flow_id"], did, d)
                else:
                    outcome = await _post(rt, client, sub["target_url"], signing, did, body_of(d))
                now_ms = rt.clock.now_ms()
                kind = "flow" if sub.get("flow_id") else "webhook"
                if outcome.gone:
                    metrics.DELIVERIES.labels(outcome="gone", kind=kind).inc()
                    log.info("subscription %s: target answered 410 Gone; removing it", sub_id)
                    await subs.remove(rt, sub_id)
                    return {"sent": sent, "failed": failed + 1, "removed": 1}
                if outcome.ok:
                    # mark it delivered, pop it, and read the next head, in one round trip
                    head = await outbox.mark_delivered(r, sub_id, did, now_ms=now_ms,
                                                       attempts=attempts)
                    sent += 1
                    next_at_ms = now_ms
                    metrics.DELIVERIES.labels(outcome="delivered", kind=kind).inc()
                    metrics.DELIVERY_LATENCY.observe(
                        max(0, now_ms - int(d.get("created_at") or now_ms)) / 1000)
                    continue
                failed += 1
                if attempts > len(schedule):
                    await outbox.dead_letter(r, sub_id, did, attempts=attempts, error=outcome.error)
                    metrics.DELIVERIES.labels(outcome="dead", kind=kind).inc()
                    log.warning("subscription %s: delivery %s failed %d times, dead-lettered (%s)",
                                sub_id, did, attempts, outcome.error)
                    next_at_ms = now_ms
                    continue
                next_at_ms = now_ms + int(schedule[attempts - 1] * 1000)
                await outbox.retry_later(r, did, attempts=attempts, error=outcome.error,
                                         next_attempt_ms=next_at_ms)
                metrics.DELIVERIES.labels(outcome="retrying", kind=kind).inc()
                log.info("subscription %s: delivery %s failed (%s), try %d again in %ss",
                         sub_id, did, outcome.error, attempts + 1, schedule[attempts - 1])
                break
        await outbox.settle(r, sub_id, next_at_ms)
    finally:
        keeper.cancel()
        await outbox.release_lease(r, sub_id, token)
    return {"sent": sent, "failed": failed}


async def _keep_lease(rt: Runtime, sub_id: str, token: str, lease_ms: int) -> None:
    """Extend the subscription's send lock every third of its lease while this run holds it;
    stops as soon as the lock is no longer this run's."""
    await scripts.keep_lock(rt.redis, keys.SUB_LOCK.format(sub_id=sub_id), token, lease_ms,
                            f"the deliveries of {sub_id}")


# ----------------------------------------------------------------------------- the log


def _public(delivery_id: str, d: dict[str, str]) -> dict[str, Any]:
    next_attempt = d.get("next_attempt")
    return {"id": delivery_id, "webhook_id": delivery_id, "item_id": d.get("item_id"),
            "trigger": d.get("trigger"), "status": d.get("status"),
            "attempts": int(d.get("attempts") or 0), "last_error": d.get("last_error") or None,
            "next_attempt_at": int(next_attempt) / 1000 if next_attempt else None,
            "created_at": int(d.get("created_at") or 0) / 1000,
            "delivered_at": int(d["delivered_at"]) / 1000 if d.get("delivered_at") else None}


async def list_for(rt: Runtime, tenant: str, sub_id: str, *, status: str | None = None,
                   limit: int = 100) -> list[dict[str, Any]]:
    """A subscription's deliveries, newest first (the first ``limit``; :func:`page` goes on)."""
    return (await page(rt, tenant, sub_id, status=status, limit=limit))[0]


async def page(rt: Runtime, tenant: str, sub_id: str, *, status: str | None = None,
               limit: int = 100, after: str | None = None
               ) -> tuple[list[dict[str, Any]], str | None]:
    """One page of a subscription's deliveries, newest first: up to ``limit`` of them after the
    delivery id ``after`` (the ``next`` of the page before), and the ``next`` cursor, None on
    the last page. Raises InputInvalid naming ``cursor`` when ``after`` is not in the log."""
    await subs.owned(rt, tenant, sub_id)
    log_key = keys.SUB_DELIVERIES.format(sub_id=sub_id)
    start = 0
    if after:
        rank = await rt.redis.zrevrank(log_key, after)
        if rank is None:
            raise InputInvalid([{"field": "cursor", "location": "query", "message": (
                f"{after!r} is not a delivery in this subscription's log (it may have left the "
                f"newest {outbox.LOG_CAP} kept); list again without cursor")}])
        start = rank + 1
    ids = [m.decode() for m in await rt.redis.zrevrange(log_key, start, -1)]
    out: list[dict[str, Any]] = []
    for did in ids:
        d = await outbox.row(rt.redis, did)
        if not d or (status and d.get("status") != status):
            continue
        if len(out) >= limit:  # one more matches: there is a next page
            return out, out[-1]["id"]
        out.append(_public(did, d))
    return out, None


async def get(rt: Runtime, tenant: str, sub_id: str, delivery_id: str) -> dict[str, Any]:
    """One delivery of a subscription with its payload (``data``, the item as POSTed)."""
    await subs.owned(rt, tenant, sub_id)
    d = await outbox.row(rt.redis, delivery_id)
    if not d or d.get("subscription") != sub_id:
        raise NotFound(f"delivery {delivery_id!r} not found for subscription {sub_id}; list them "
                       f"with GET /v1/subscriptions/{sub_id}/deliveries",
                       code="delivery_not_found")
    return {**_public(delivery_id, d), "data": json.loads(d.get("data") or "null")}


async def dead_letters(rt: Runtime, *, tenant: str | None = None,
                       sub_id: str | None = None) -> list[tuple[str, str, str]]:
    """Every dead letter as (tenant, subscription id, delivery id), oldest first per
    subscription; only one tenant's or one subscription's when given. Read from the index of
    subscriptions with dead letters, not by scanning keys."""
    r = rt.redis
    ids = [sub_id] if sub_id else sorted(m.decode() for m in await r.smembers(keys.SUBS_WITH_DEAD))
    out = []
    for sid in ids:
        owner = await r.hget(keys.SUBSCRIPTION.format(sub_id=sid), "tenant")
        if owner is None or (tenant and owner.decode() != tenant):
            continue
        for did in await r.lrange(keys.SUB_DEAD.format(sub_id=sid), 0, -1):
            out.append((owner.decode(), sid, did.decode()))
    return out


async def replay(rt: Runtime, tenant: str, sub_id: str, delivery_id: str) -> dict[str, Any]:
    """Send a delivered or dead delivery again (same webhook-id), after what is queued."""
    await subs.owned(rt, tenant, sub_id)
    r = rt.redis
    d = await outbox.row(r, delivery_id)
    if not d or d.get("subscription") != sub_id:
        raise NotFound(f"delivery {delivery_id!r} not found for subscription {sub_id}; list them "
                       f"with GET /v1/subscriptions/{sub_id}/deliveries",
                       code="delivery_not_found")
    if d.get("status") in ("pending", "retrying"):
        raise Conflict(f"delivery {delivery_id} is still queued (status {d['status']}); it will "
                       "be sent without a replay, at its next try; POST /v1/subscriptions/"
                       f"{sub_id}/resume sends it now", code="delivery_queued")
    await outbox.requeue(r, sub_id, delivery_id, now_ms=rt.clock.now_ms())
    return _public(delivery_id, await outbox.row(r, delivery_id))
