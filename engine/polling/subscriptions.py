"""Subscriptions and the watches they share.

A subscription sends a trigger's new items to one subscriber: a webhook ``target_url`` or a
no-code flow (``flow_id``). Subscriptions with the same (connection, trigger, normalized params)
share one **watch**: one cursor and one upstream poll, run at the smallest interval among them.

A subscriber that joins a watch already running gets only items that appear after it joined
(see :func:`engine.polling.poller.receives`). A watch that cannot succeed (revoked token, watched object
deleted) is paused; its subscriptions show ``status="paused"`` and the reason. A watch whose
reads were cut short by the page budget (a bulk import) shows ``catching_up`` and how far
behind it is (:func:`catch_up`).

Python API (for the flows code and the OAuth code)::

    sub = await create(rt, tenant, trigger="contacts.search_contacts", connection_id=conn_id,
                       params={}, interval_minutes=5, flow_id="flow_123")
    await delete(rt, tenant, sub["id"])
    await pause_watches_for_connection(rt, conn_id, "the GHL refresh token was revoked")
    await resume_watches_for_connection(rt, conn_id)
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import secrets as _secrets
import time
from typing import Any

from engine.accounts import connections, quotas
from engine.core import keys
from engine.core.scripts import decode, script
from engine.core.errors import Conflict, InputInvalid, NotFound
from engine.polling import cursor, outbox, reader, targets
from engine.runtime import Runtime
from engine.spec import registry

log = logging.getLogger("engine.polling.subscriptions")

MIN_INTERVAL_MINUTES = 1
MAX_INTERVAL_MINUTES = 15


def _bad(field: str, message: str) -> InputInvalid:
    return InputInvalid([{"field": field, "location": "body", "message": message}])


def new_secret() -> str:
    """A Standard Webhooks signing secret: ``whsec_`` + base64 of 24 random bytes."""
    return "whsec_" + base64.b64encode(_secrets.token_bytes(24)).decode()


def _trigger(key: str):
    op = registry.get(key)
    if op is None or op.kind != "trigger":
        near = [k for k in registry.closest(key) if registry.get(k).kind == "trigger"]
        hint = f"; did you mean {', '.join(near)}?" if near else "; list them with GET /v1/operations"
        raise _bad("trigger", f"{key!r} is not a trigger{hint}")
    return op


def normalize(op, conn, params: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """Validate params and return (params as the watch stores them, canonical JSON).

    Defaults and the connection's location are filled, so params that mean the same watch map
    to the same JSON; a rolling time window is filled at each poll, not here."""
    if not isinstance(params, dict):
        raise _bad("params", "params must be a JSON object")
    try:
        values = reader.prepare(op, conn, params)
    except InputInvalid as exc:
        problems = []
        for p in exc.details or []:
            name = str(p.get("field", ""))
            if name.startswith("input"):
                name = "params" + name[len("input"):]
            problems.append({**p, "field": name})
        raise InputInvalid(problems) from None
    window = op.trigger.window
    if window is not None:
        for name in (window.start_param, window.end_param):
            if name not in params:
                values.pop(name, None)
    values = {k: v for k, v in values.items() if v is not None}
    return values, json.dumps(values, sort_keys=True, separators=(",", ":"), default=str)


def watch_id_for(conn_id: str, trigger: str, canonical: str) -> str:
    """The id of the watch for (connection, trigger, canonical params JSON): ``w_`` + 24 hex
    digits of a SHA-256, so equal watches share one id."""
    return "w_" + hashlib.sha256(f"{conn_id}\n{trigger}\n{canonical}".encode()).hexdigest()[:24]


def interval_ms(rt: Runtime, minutes: float) -> int:
    """A watch's interval in ms: ``minutes`` × ENGINE_INTERVAL_UNIT_SECONDS, clamped up to
    ENGINE_MIN_INTERVAL_SECONDS."""
    return int(max(minutes * rt.settings.interval_unit_seconds,
                   rt.settings.min_interval_seconds) * 1000)


def next_slot(now_ms: int, interval_ms: int, phase_ms: int) -> int:
    """The first time (ms since the epoch) after ``now_ms`` that falls on the watch's phase:
    watches spread evenly over their interval instead of all polling at the top of the minute."""
    return now_ms - ((now_ms - phase_ms) % interval_ms) + interval_ms


async def _refresh_watch(rt: Runtime, watch_id: str, *, due_now: bool = False) -> None:
    """Recompute a watch's interval (the smallest of its subscriptions) and its next slot."""
    r = rt.redis
    smallest = await r.zrange(keys.WATCH_SUBSCRIPTIONS.format(watch_id=watch_id), 0, 0,
                              withscores=True)
    if not smallest:
        return
    every_ms = interval_ms(rt, smallest[0][1])
    wkey = keys.WATCH.format(watch_id=watch_id)
    await r.hset(wkey, "interval_minutes", int(smallest[0][1]))
    if (await r.hget(wkey, "status") or b"").decode() == "paused":
        return
    now_ms = int(time.time() * 1000)
    phase_ms = int(await r.hget(wkey, "phase_ms") or 0)
    target = now_ms if due_now else next_slot(now_ms, every_ms, phase_ms)
    # LT: only ever moves the slot earlier, atomically; a read-then-write here let a joiner
    # running beside the watch's creator overwrite its "poll now" with a later slot
    await r.zadd(keys.WATCHES_DUE, {watch_id: target}, lt=True)


async def _join(rt: Runtime, sub_id: str, interval_minutes: int, conn_id: str, trigger: str,
                values: dict[str, Any], canonical: str) -> tuple[str, bool]:
    """Attach a subscription to its watch, creating the watch if needed. Returns (watch id,
    whether the watch must poll now: new, or resumed from a pause)."""
    r = rt.redis
    watch_id = watch_id_for(conn_id, trigger, canonical)
    wkey = keys.WATCH.format(watch_id=watch_id)
    created = await r.hsetnx(wkey, "created_at", int(time.time()))
    status = (await r.hget(wkey, "status") or b"").decode()
    async with r.pipeline(transaction=True) as pipe:
        pipe.hset(wkey, mapping={"connection_id": conn_id, "trigger": trigger, "params": canonical,
                                 "status": "active", "status_reason": ""})
        pipe.hsetnx(wkey, "phase_ms", _secrets.randbelow(15 * 60 * 1000))
        pipe.zadd(keys.WATCH_SUBSCRIPTIONS.format(watch_id=watch_id), {sub_id: interval_minutes})
        pipe.sadd(keys.CONNECTION_WATCHES.format(conn_id=conn_id), watch_id)
        await pipe.execute()
    return watch_id, bool(created) or status == "paused"


# detach a subscription; if none is left, drop the watch, its cursor and its schedule, in one
# step (a subscription joining at the same moment either comes before and keeps it, or after)
_LEAVE = """
redis.call('ZREM', KEYS[2], ARGV[1])
if redis.call('ZCARD', KEYS[2]) > 0 then return 1 end
local conn = redis.call('HGET', KEYS[1], 'connection_id')
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
redis.call('ZREM', KEYS[5], ARGV[2])
redis.call('ZREM', ARGV[5], ARGV[2])
if conn then redis.call('SREM', ARGV[3] .. conn .. ARGV[4], ARGV[2]) end
return 0
"""


async def _leave(rt: Runtime, sub_id: str, watch_id: str) -> None:
    """Detach a subscription; a watch left without subscriptions is removed with its cursor."""
    before, after = keys.CONNECTION_WATCHES.split("{conn_id}")
    remaining = await rt.redis.eval(
        _LEAVE, 5, keys.WATCH.format(watch_id=watch_id),
        keys.WATCH_SUBSCRIPTIONS.format(watch_id=watch_id), keys.CURSOR.format(watch_id=watch_id),
        keys.CURSOR_SEEN.format(watch_id=watch_id), keys.WATCHES_DUE,
        sub_id, watch_id, before, after, keys.WATCHES_CATCHING_UP)
    if remaining:
        await _refresh_watch(rt, watch_id)


def _check_interval(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not (
            MIN_INTERVAL_MINUTES <= value <= MAX_INTERVAL_MINUTES):
        raise _bad("interval_minutes", f"must be a whole number of minutes from "
                                       f"{MIN_INTERVAL_MINUTES} to {MAX_INTERVAL_MINUTES}")
    return value


def _identity(watch_id: str, target_url: str) -> str:
    """What makes two webhook subscriptions identical: the same watch (connection, trigger,
    normalized params) and the same target URL."""
    return hashlib.sha256(f"{watch_id}\n{target_url}".encode()).hexdigest()[:32]


async def _claim_identity(rt: Runtime, tenant: str, identity: str, sub_id: str) -> None:
    """Record ``identity`` as ``sub_id``'s; an identical live subscription is a 409 naming it."""
    r = rt.redis
    ikey = keys.SUB_IDENTITIES.format(tenant=tenant)
    if await r.hsetnx(ikey, identity, sub_id):
        return
    existing = (await r.hget(ikey, identity) or b"").decode()
    if existing and existing != sub_id and await r.exists(keys.SUBSCRIPTION.format(sub_id=existing)):
        raise Conflict(f"an identical subscription already exists ({existing}: same trigger, "
                       "params and target_url), so every item would go out twice; use it or "
                       "delete it first", code="duplicate_subscription",
                       details={"existing_id": existing})
    await r.hset(ikey, identity, sub_id)  # its holder is gone


async def _drop_identity(rt: Runtime, tenant: str, identity: str, sub_id: str) -> None:
    ikey = keys.SUB_IDENTITIES.format(tenant=tenant)
    if identity and (await rt.redis.hget(ikey, identity) or b"").decode() == sub_id:
        await rt.redis.hdel(ikey, identity)


# Subscribe in one atomic step: the identity (a webhook's watch + target URL; '' for a flow),
# the tenant's quota, the watch joined (created if new), the subscription's record, and the
# watch's interval and next slot (now for a new or paused watch, else its next slot on its
# phase, only ever moved earlier). KEYS: the tenant's identities hash, the tenant's
# subscription set, the watch, its subscriptions, the connection's watches, the subscription,
# the due set. ARGV: identity, subscription id, quota, watch id, connection id, trigger,
# canonical params, a phase for a new watch (ms), interval_minutes, now (s), now (ms), the
# interval unit (s), the shortest interval (s), the subscription key's prefix, then the
# record's field/value pairs. Returns {'ok', 1 if the watch is new} or {'duplicate', holder}
# or {'quota'}.
SUBSCRIBE = """
if ARGV[1] ~= '' then
  local holder = redis.call('HGET', KEYS[1], ARGV[1])
  if holder and holder ~= ARGV[2] and redis.call('EXISTS', ARGV[14] .. holder) == 1 then
    return {'duplicate', holder}
  end
end
if redis.call('SISMEMBER', KEYS[2], ARGV[2]) == 0
   and redis.call('SCARD', KEYS[2]) >= tonumber(ARGV[3]) then
  return {'quota'}
end
if ARGV[1] ~= '' then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
redis.call('SADD', KEYS[2], ARGV[2])
local created = redis.call('HSETNX', KEYS[3], 'created_at', ARGV[10])
local was = redis.call('HGET', KEYS[3], 'status')
redis.call('HSET', KEYS[3], 'connection_id', ARGV[5], 'trigger', ARGV[6], 'params', ARGV[7],
           'status', 'active', 'status_reason', '')
redis.call('HSETNX', KEYS[3], 'phase_ms', ARGV[8])
redis.call('ZADD', KEYS[4], ARGV[9], ARGV[2])
redis.call('SADD', KEYS[5], ARGV[4])
local record = {}
for i = 15, #ARGV do record[#record + 1] = ARGV[i] end
redis.call('HSET', KEYS[6], 'watch', ARGV[4], unpack(record))
local smallest = redis.call('ZRANGE', KEYS[4], 0, 0, 'WITHSCORES')
local minutes = tonumber(smallest[2])
redis.call('HSET', KEYS[3], 'interval_minutes', math.floor(minutes))
local every = math.floor(math.max(minutes * tonumber(ARGV[12]), tonumber(ARGV[13])) * 1000)
local now = tonumber(ARGV[11])
local target = now
if created == 0 and was ~= 'paused' then
  local phase = tonumber(redis.call('HGET', KEYS[3], 'phase_ms') or '0')
  target = now - ((now - phase) % every) + every
end
redis.call('ZADD', KEYS[7], 'LT', target, ARGV[4])
return {'ok', created}
"""


def _check(rt: Runtime, trigger: str, target_url: str | None, flow_id: str | None,
           interval_minutes: int | None) -> tuple[Any, int]:
    """The checks that need no connection: (the trigger's operation, the interval in minutes,
    its default filled). Raises InputInvalid (422) naming the field."""
    op = _trigger(trigger)
    if (target_url is None) == (flow_id is None):
        raise _bad("target_url", "give exactly one of target_url (a webhook) or flow_id")
    if target_url is not None:
        targets.check_url(target_url, rt.settings)
    if interval_minutes is None:
        interval_minutes = op.trigger.default_interval_minutes
    return op, _check_interval(interval_minutes)


def _plan(rt: Runtime, tenant: str, conn, *, trigger: str, connection_id: str,
          params: dict[str, Any] | None = None, interval_minutes: int | None = None,
          target_url: str | None = None, flow_id: str | None = None) -> dict[str, Any]:
    """Check one subscription's arguments and build what :data:`SUBSCRIBE` writes (no Redis
    call): ``{"sub_id", "watch", "canonical" (the params' JSON), "identity", "interval_minutes",
    "record", "secret"}``.
    Raises InputInvalid (422) naming the bad field."""
    op, interval_minutes = _check(rt, trigger, target_url, flow_id, interval_minutes)
    params = dict(params or {})
    _, canonical = normalize(op, conn, params)
    watch_id = watch_id_for(connection_id, trigger, canonical)
    secret = new_secret()
    now = time.time()
    return {"sub_id": "sub_" + _secrets.token_hex(10), "watch": watch_id, "canonical": canonical,
            "identity": _identity(watch_id, target_url) if target_url is not None else "",
            "interval_minutes": interval_minutes, "secret": secret,
            "record": {"tenant": tenant, "trigger": trigger, "connection_id": connection_id,
                       "params": json.dumps(params, sort_keys=True),
                       "target_url": target_url or "", "flow_id": flow_id or "",
                       "interval_minutes": interval_minutes, "created_at": int(now),
                       "joined_at": repr(now),
                       "secret": rt.vault.seal({"secret": secret})}}


async def _subscribe(rt: Runtime, tenant: str, plan: dict[str, Any], client=None) -> Any:
    """Run :data:`SUBSCRIBE` for one planned subscription: its reply; on ``client``, a
    pipeline, the command is queued and the reply comes from the pipeline's ``execute``."""
    record = {**plan["record"], "identity": plan["identity"]}
    now = time.time()
    flat: list[Any] = []
    for k, v in record.items():
        flat += [k, v]
    watch_id = plan["watch"]
    return await script(rt.redis, SUBSCRIBE)(
        keys=[keys.SUB_IDENTITIES.format(tenant=tenant), keys.TENANT_SUBSCRIPTIONS.format(tenant=tenant),
              keys.WATCH.format(watch_id=watch_id), keys.WATCH_SUBSCRIPTIONS.format(watch_id=watch_id),
              keys.CONNECTION_WATCHES.format(conn_id=record["connection_id"]),
              keys.SUBSCRIPTION.format(sub_id=plan["sub_id"]), keys.WATCHES_DUE],
        args=[plan["identity"], plan["sub_id"], rt.settings.max_subscriptions_per_tenant, watch_id,
              record["connection_id"], record["trigger"], plan["canonical"],
              _secrets.randbelow(15 * 60 * 1000), plan["interval_minutes"], int(now),
              int(now * 1000), repr(float(rt.settings.interval_unit_seconds)),
              repr(float(rt.settings.min_interval_seconds)), keys.SUBSCRIPTION.format(sub_id=""),
              *flat],
        client=client)


def _refused(reply: list[Any], settings) -> Exception | None:
    """The error a :data:`SUBSCRIBE` reply stands for: Conflict (409) for an identical live
    subscription, QuotaExceeded (403) for a full quota; None when it subscribed."""
    kind = reply[0].decode() if isinstance(reply[0], bytes) else str(reply[0])
    if kind == "duplicate":
        existing = reply[1].decode()
        return Conflict(f"an identical subscription already exists ({existing}: same trigger, "
                        "params and target_url), so every item would go out twice; use it or "
                        "delete it first", code="duplicate_subscription",
                        details={"existing_id": existing})
    if kind == "quota":
        limit = settings.max_subscriptions_per_tenant
        setting = "ENGINE_MAX_SUBSCRIPTIONS_PER_TENANT"
        return quotas.QuotaExceeded(f"this tenant already has {limit} subscriptions, its quota "
                                    f"({setting}); delete some first",
                                    details={"limit": limit, "setting": setting})
    return None


async def create(rt: Runtime, tenant: str, *, trigger: str, connection_id: str,
                 params: dict[str, Any] | None = None, interval_minutes: int | None = None,
                 target_url: str | None = None, flow_id: str | None = None) -> dict[str, Any]:
    """Subscribe a webhook URL or a flow to a trigger. Returns the subscription, with its
    signing ``secret`` (shown this once). Raises InputInvalid (422), NotFound (404: the
    connection), Conflict (409: an identical subscription) or QuotaExceeded (403)."""
    _check(rt, trigger, target_url, flow_id, interval_minutes)
    conn = await connections.get(rt.redis, tenant, connection_id, rt.vault)
    plan = _plan(rt, tenant, conn, trigger=trigger, connection_id=connection_id, params=params,
                 interval_minutes=interval_minutes, target_url=target_url, flow_id=flow_id)
    refused = _refused(await _subscribe(rt, tenant, plan), rt.settings)
    if refused is not None:
        raise refused
    log.info("subscription %s created on watch %s (%s)", plan["sub_id"], plan["watch"], trigger)
    out = await get(rt, tenant, plan["sub_id"])
    out["secret"] = plan["secret"]
    return out


async def create_many(rt: Runtime, tenant: str, specs: list[dict[str, Any]],
                      chunk: int = 500) -> list[dict[str, str]]:
    """Subscribe many at once (an import, a benchmark): each spec holds :func:`create`'s
    keyword arguments, and each is written by the same one-step script as :func:`create`, sent
    ``chunk`` at a time in a pipeline (one round trip per chunk instead of several per
    subscription). Every spec is checked before anything is written: InputInvalid (422) names
    the first bad one (``specs[i].field``), NotFound (404) an unknown connection. Written in
    order; a refusal (Conflict 409: an identical subscription, QuotaExceeded 403) stops there,
    with the subscriptions before it created (``details["created"]`` counts them).
    Returns ``[{"id", "watch", "secret"}]`` in the order of ``specs`` (the secret shown once)."""
    conns: dict[str, Any] = {}
    plans = []
    for i, spec in enumerate(specs):
        conn_id = spec.get("connection_id", "")
        if conn_id not in conns:
            conns[conn_id] = await connections.get(rt.redis, tenant, conn_id, rt.vault)
        try:
            plans.append(_plan(rt, tenant, conns[conn_id], **spec))
        except InputInvalid as exc:
            raise InputInvalid([{**p, "field": f"specs[{i}].{p.get('field', '')}"}
                                for p in exc.details or []]) from None
    out: list[dict[str, str]] = []
    for start in range(0, len(plans), chunk):
        part = plans[start:start + chunk]
        async with rt.redis.pipeline(transaction=False) as pipe:
            for plan in part:
                await _subscribe(rt, tenant, plan, client=pipe)
            replies = await pipe.execute()
        for plan, reply in zip(part, replies):
            refused = _refused(reply, rt.settings)
            if refused is not None:
                refused.details = {**(refused.details or {}), "created": len(out)}
                raise refused
            out.append({"id": plan["sub_id"], "watch": plan["watch"], "secret": plan["secret"]})
    log.info("%d subscriptions created", len(out))
    return out


async def load(rt: Runtime, sub_id: str) -> dict[str, str] | None:
    """A subscription's stored record (its hash, decoded), or None when there is none."""
    raw = await rt.redis.hgetall(keys.SUBSCRIPTION.format(sub_id=sub_id))
    return decode(raw) if raw else None


async def owned(rt: Runtime, tenant: str, sub_id: str) -> dict[str, str]:
    """The tenant's subscription record; raises NotFound (404) for another tenant's or an
    unknown id."""
    sub = await load(rt, sub_id) if sub_id.startswith("sub_") else None
    if sub is None or sub.get("tenant") != tenant:
        raise NotFound(f"subscription {sub_id!r} not found; list yours with GET /v1/subscriptions",
                       code="subscription_not_found")
    return sub


def catch_up(raw: bytes | None, now: float | None = None) -> dict[str, Any] | None:
    """A watch's backlog as the API shows it, from its cursor's ``backlog`` field; None when
    the watch is not catching up. ``since_at``: when it began (epoch s); ``behind_seconds``:
    how long the oldest unread items have waited, at least; ``items_read``: items read from the
    backlog so far; ``resume_at``: the time of the item the next read continues below."""
    backlog = cursor.Backlog.load(raw.decode() if raw else None)
    if backlog is None:
        return None
    now = time.time() if now is None else now
    return {"since_at": round(backlog.since, 3),
            "behind_seconds": round(max(0.0, now - backlog.since), 1),
            "items_read": backlog.read, "resume_at": backlog.at}


def _when(ms: Any) -> float | None:
    """A time kept in ms (a Redis score or field) as Unix seconds."""
    return int(float(ms)) / 1000 if ms not in (None, b"", "") else None


async def _public(rt: Runtime, sub_id: str, sub: dict[str, str]) -> dict[str, Any]:
    """A subscription as the API shows it. ``status`` tells the truth, first match wins:
    ``paused`` (its watch cannot poll, or it was paused on request: ``status_reason`` says
    which), ``failing`` (the delivery at the head of its queue failed and waits for its next
    try: ``last_error``, and ``waiting`` counts it and those behind it), else ``active``."""
    r = rt.redis
    watch_id = sub.get("watch", "")
    queue = keys.SUB_QUEUE.format(sub_id=sub_id)
    async with r.pipeline(transaction=False) as pipe:
        pipe.hgetall(keys.WATCH.format(watch_id=watch_id))
        pipe.lindex(queue, 0)
        pipe.llen(queue)
        pipe.llen(keys.SUB_DEAD.format(sub_id=sub_id))
        pipe.zscore(keys.WATCHES_DUE, watch_id)
        pipe.hget(keys.CURSOR.format(watch_id=watch_id), "backlog")
        watch_raw, head, waiting, dead, next_ms, backlog_raw = await pipe.execute()
    watch = decode(watch_raw)
    event_ms = int(watch.get("last_event_at") or 0)
    backlog = catch_up(backlog_raw)
    status, reason, last_error = "active", None, None
    head_record = decode(await r.hgetall(keys.DELIVERY.format(delivery_id=head.decode()))) if head else {}
    if head_record.get("status") == "retrying":
        last_error = head_record.get("last_error") or None
    if watch.get("status") == "paused":
        status, reason = "paused", watch.get("status_reason") or "paused"
    elif sub.get("paused"):
        status, reason = "paused", ("paused on request: new items are queued and sent on "
                                    f"resume (POST /v1/subscriptions/{sub_id}/resume)")
    elif last_error:
        attempts = int(head_record.get("attempts") or 0)
        next_at = _when(head_record.get("next_attempt"))
        when = (time.strftime("%H:%M:%S UTC", time.gmtime(next_at)) if next_at else "soon")
        status = "failing"
        reason = (f"delivery {head.decode()} failed {attempts} time{'s' if attempts != 1 else ''}"
                  f" (last error: {last_error}); next try at {when}; {waiting - 1} more wait "
                  "behind it")
    return {"id": sub_id, "trigger": sub["trigger"], "connection_id": sub["connection_id"],
            "params": json.loads(sub.get("params") or "{}"),
            "target_url": sub.get("target_url") or None, "flow_id": sub.get("flow_id") or None,
            "interval_minutes": int(sub["interval_minutes"]), "status": status,
            "status_reason": reason, "last_error": last_error, "waiting": int(waiting),
            "dead_letters": int(dead),
            "last_poll_at": float(watch["last_poll_at"]) if watch.get("last_poll_at") else None,
            "next_poll_at": _when(next_ms) if watch.get("status") != "paused" else None,
            "mode": mode(rt, event_ms), "last_event_at": event_ms // 1000 or None,
            "catching_up": backlog is not None, "backlog": backlog,
            "created_at": int(sub["created_at"])}


def mode(rt: Runtime, last_event_ms: int, now_ms: int | None = None) -> str:
    """``instant`` while pushed events arrive for a watch (it then polls only to reconcile),
    ``polling`` before the first and once none came for ``ENGINE_EVENT_FALLBACK_SECONDS``."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    fresh = last_event_ms and now_ms - last_event_ms < rt.settings.event_fallback_seconds * 1000
    return "instant" if fresh else "polling"


async def catching_up(redis, now: float | None = None) -> list[dict[str, Any]]:
    """Every watch catching up, longest waiting first: ``watch``, ``trigger``,
    ``connection_id`` and the fields of :func:`catch_up` (the same set
    :func:`engine.core.metrics.redis_gauges` counts). ``now``: epoch s, the current time
    unless given."""
    now = time.time() if now is None else now
    ids = [m.decode() for m in await redis.zrange(keys.WATCHES_CATCHING_UP, 0, -1)]
    async with redis.pipeline(transaction=False) as pipe:
        for watch_id in ids:
            pipe.hmget(keys.WATCH.format(watch_id=watch_id), "trigger", "connection_id")
            pipe.hget(keys.CURSOR.format(watch_id=watch_id), "backlog")
        replies = await pipe.execute()
    out = []
    for watch_id, (trigger, conn_id), raw in zip(ids, replies[0::2], replies[1::2]):
        backlog = catch_up(raw, now)
        if backlog is not None:
            out.append({"watch": watch_id, "trigger": (trigger or b"").decode(),
                        "connection_id": (conn_id or b"").decode(), **backlog})
    return out


async def get(rt: Runtime, tenant: str, sub_id: str) -> dict[str, Any]:
    """The tenant's subscription as the API shows it (no secret); NotFound (404) otherwise."""
    return await _public(rt, sub_id, await owned(rt, tenant, sub_id))


async def list_for(rt: Runtime, tenant: str) -> list[dict[str, Any]]:
    """The tenant's subscriptions as the API shows them, sorted by id."""
    ids = sorted(m.decode() for m in await rt.redis.smembers(
        keys.TENANT_SUBSCRIPTIONS.format(tenant=tenant)))
    out = []
    for sub_id in ids:
        sub = await load(rt, sub_id)
        if sub is not None:
            out.append(await _public(rt, sub_id, sub))
    return out


async def update(rt: Runtime, tenant: str, sub_id: str, *, interval_minutes: int | None = None,
                 params: dict[str, Any] | None = None,
                 target_url: str | None = None) -> dict[str, Any]:
    """Change a subscription. Params that keep the same watch keep its cursor; other params
    move the subscription to another watch, where it gets only items that appear from now.
    Editing a paused subscription tries its watch again."""
    sub = await owned(rt, tenant, sub_id)
    r = rt.redis
    skey = keys.SUBSCRIPTION.format(sub_id=sub_id)
    changes: dict[str, Any] = {}
    if target_url is not None:
        if not sub.get("target_url"):
            raise _bad("target_url", "this subscription delivers to a flow, not to a URL")
        changes["target_url"] = targets.check_url(target_url, rt.settings)
    if interval_minutes is not None:
        changes["interval_minutes"] = _check_interval(interval_minutes)
    minutes = int(changes.get("interval_minutes", sub["interval_minutes"]))
    watch_id = sub["watch"]
    if sub.get("target_url") and (params is not None or target_url is not None):
        await _reidentify(rt, tenant, sub_id, sub, params, changes.get("target_url"), changes)
    if params is not None:
        op = _trigger(sub["trigger"])
        conn = await connections.get(r, tenant, sub["connection_id"], rt.vault)
        values, canonical = normalize(op, conn, params)
        changes["params"] = json.dumps(params, sort_keys=True)
        target = watch_id_for(sub["connection_id"], sub["trigger"], canonical)
        if target != watch_id:
            new_watch, poll_now = await _join(rt, sub_id, minutes, sub["connection_id"],
                                              sub["trigger"], values, canonical)
            changes.update(watch=new_watch, joined_at=repr(time.time()))
            await r.hset(skey, mapping=changes)
            await _leave(rt, sub_id, watch_id)
            await _refresh_watch(rt, new_watch, due_now=poll_now)
            return await get(rt, tenant, sub_id)
    if changes:
        await r.hset(skey, mapping=changes)
    await r.zadd(keys.WATCH_SUBSCRIPTIONS.format(watch_id=watch_id), {sub_id: minutes})
    if (await r.hget(keys.WATCH.format(watch_id=watch_id), "status") or b"") == b"paused":
        await resume_watch(rt, watch_id)  # an edit is a request to try again
    else:
        await _refresh_watch(rt, watch_id)
    return await get(rt, tenant, sub_id)


async def _reidentify(rt: Runtime, tenant: str, sub_id: str, sub: dict[str, str],
                      params: dict[str, Any] | None, target_url: str | None,
                      changes: dict[str, Any]) -> None:
    """A webhook subscription whose params or target change takes its new identity (409 when
    another subscription has it) and gives up the old one."""
    watch_id = sub["watch"]
    if params is not None:
        op = _trigger(sub["trigger"])
        conn = await connections.get(rt.redis, tenant, sub["connection_id"], rt.vault)
        watch_id = watch_id_for(sub["connection_id"], sub["trigger"], normalize(op, conn, params)[1])
    identity = _identity(watch_id, target_url or sub["target_url"])
    if identity != sub.get("identity"):
        await _claim_identity(rt, tenant, identity, sub_id)
        await _drop_identity(rt, tenant, sub.get("identity", ""), sub_id)
        changes["identity"] = identity


async def delete(rt: Runtime, tenant: str, sub_id: str) -> None:
    """Unsubscribe: the subscription, its pending deliveries and its log go; a watch left
    without subscriptions goes with its cursor."""
    sub = await owned(rt, tenant, sub_id)
    await remove(rt, sub_id, sub)


async def remove(rt: Runtime, sub_id: str, sub: dict[str, str] | None = None) -> None:
    """Remove a subscription whoever owns it (a 410 Gone from its target, a deleted flow)."""
    r = rt.redis
    sub = sub or await load(rt, sub_id)
    if sub is None:
        return
    log_key = keys.SUB_DELIVERIES.format(sub_id=sub_id)
    delivery_ids = [m.decode() for m in await r.zrange(log_key, 0, -1)]
    async with r.pipeline(transaction=True) as pipe:
        pipe.delete(keys.SUBSCRIPTION.format(sub_id=sub_id), keys.SUB_QUEUE.format(sub_id=sub_id),
                    log_key, keys.SUB_DEAD.format(sub_id=sub_id))
        for delivery_id in delivery_ids:
            pipe.delete(keys.DELIVERY.format(delivery_id=delivery_id))
        pipe.srem(keys.TENANT_SUBSCRIPTIONS.format(tenant=sub["tenant"]), sub_id)
        pipe.zrem(keys.DELIVERIES_DUE, sub_id)
        pipe.srem(keys.SUBS_WITH_DEAD, sub_id)
        await pipe.execute()
    await _drop_identity(rt, sub["tenant"], sub.get("identity", ""), sub_id)
    if sub.get("watch"):
        await _leave(rt, sub_id, sub["watch"])
    log.info("subscription %s removed", sub_id)


async def secrets_of(rt: Runtime, sub: dict[str, str]) -> list[str]:
    """The signing secrets a delivery is signed with: the current one, and during the overlap
    after a rotation (until ``previous_until``, epoch seconds, by the runtime's clock) the
    previous one too."""
    out = [rt.vault.open(sub["secret"])["secret"]]
    if sub.get("previous_secret") and float(sub.get("previous_until") or 0) > rt.clock.now_s():
        out.append(rt.vault.open(sub["previous_secret"])["secret"])
    return out


async def rotate_secret(rt: Runtime, tenant: str, sub_id: str) -> dict[str, Any]:
    """Give a subscription a new signing secret, returned this once. For
    ENGINE_SECRET_ROTATION_OVERLAP_SECONDS each delivery carries signatures with both secrets
    (Standard Webhooks allows several in ``webhook-signature``), then only with the new one."""
    sub = await owned(rt, tenant, sub_id)
    if not sub.get("target_url"):
        raise _bad("subscription", "this subscription delivers to a flow; it has no webhook secret")
    secret = new_secret()
    overlap_s = rt.settings.secret_rotation_overlap_seconds
    until = rt.clock.now_s() + overlap_s
    await rt.redis.hset(keys.SUBSCRIPTION.format(sub_id=sub_id), mapping={
        "secret": rt.vault.seal({"secret": secret}), "previous_secret": sub["secret"],
        "previous_until": repr(until)})
    out = await get(rt, tenant, sub_id)
    out.update(secret=secret, previous_secret_valid_until=int(until))
    return out


# ----------------------------------------------------------------------------- pausing


async def pause_watch(rt: Runtime, watch_id: str, reason: str, cause: str = "") -> None:
    """Stop polling a watch that cannot succeed; its subscriptions show the reason. ``cause``
    ("credentials": the connection was refused) lets the fix resume exactly what it paused."""
    r = rt.redis
    wkey = keys.WATCH.format(watch_id=watch_id)
    if not await r.exists(wkey):
        return
    async with r.pipeline(transaction=True) as pipe:
        pipe.hset(wkey, mapping={"status": "paused", "status_reason": reason,
                                 "status_cause": cause})
        pipe.zrem(keys.WATCHES_DUE, watch_id)
        await pipe.execute()
    log.warning("watch %s paused: %s", watch_id, reason)


async def resume_watch(rt: Runtime, watch_id: str) -> None:
    """Mark a paused watch active again and make it due now."""
    r = rt.redis
    wkey = keys.WATCH.format(watch_id=watch_id)
    if not await r.exists(wkey):
        return
    await r.hset(wkey, mapping={"status": "active", "status_reason": "", "status_cause": ""})
    await _refresh_watch(rt, watch_id, due_now=True)


async def pause_watches_for_connection(rt: Runtime, conn_id: str, reason: str,
                                       cause: str = "credentials") -> int:
    """Pause every watch reading through a connection (e.g. its refresh token was revoked).
    Returns how many were paused."""
    ids = [m.decode() for m in await rt.redis.smembers(
        keys.CONNECTION_WATCHES.format(conn_id=conn_id))]
    for watch_id in ids:
        await pause_watch(rt, watch_id, reason, cause)
    return len(ids)


async def resume_watches_for_connection(rt: Runtime, conn_id: str,
                                        cause: str | None = None) -> int:
    """Resume the paused watches of a connection whose credentials work again; with ``cause``,
    only those paused for it. Returns how many were resumed."""
    ids = [m.decode() for m in await rt.redis.smembers(
        keys.CONNECTION_WATCHES.format(conn_id=conn_id))]
    resumed = 0
    for watch_id in ids:
        status, why = await rt.redis.hmget(keys.WATCH.format(watch_id=watch_id),
                                           "status", "status_cause")
        if status == b"paused" and (cause is None or (why or b"").decode() == cause):
            await resume_watch(rt, watch_id)
            resumed += 1
    return resumed


async def pause(rt: Runtime, tenant: str, sub_id: str) -> dict[str, Any]:
    """Stop sending a subscription's deliveries. Its watch keeps polling (other subscribers
    may share it), so new items wait in its queue and go out, in order, on :func:`resume`."""
    await owned(rt, tenant, sub_id)
    async with rt.redis.pipeline(transaction=True) as pipe:
        pipe.hset(keys.SUBSCRIPTION.format(sub_id=sub_id), "paused", "1")
        pipe.zrem(keys.DELIVERIES_DUE, sub_id)
        await pipe.execute()
    return await get(rt, tenant, sub_id)


async def resume(rt: Runtime, tenant: str, sub_id: str) -> dict[str, Any]:
    """Send a paused or failing subscription's queue again now: a delivery waiting for its next
    try is tried at once (in order, each once), and the watch is polled again if it was paused
    (now, so a fixed cause shows at once)."""
    sub = await owned(rt, tenant, sub_id)
    r = rt.redis
    await r.hdel(keys.SUBSCRIPTION.format(sub_id=sub_id), "paused")
    await outbox.retry_now(r, sub_id, now_ms=rt.clock.now_ms())
    if (await r.hget(keys.WATCH.format(watch_id=sub["watch"]), "status") or b"") == b"paused":
        await resume_watch(rt, sub["watch"])
    return await get(rt, tenant, sub_id)
