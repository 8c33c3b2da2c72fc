"""The outbox: one delivery row per (subscription, new item), written by the poll in the same
atomic step as the cursor's advance, and read back in order by the delivery job.

Keys (:mod:`engine.core.keys`): a row is a hash ``DELIVERY`` (id :func:`delivery_id`, stable per
subscription and item, so every re-send carries the same ``webhook-id``); its id is appended to
the subscription's queue ``SUB_QUEUE`` and log ``SUB_DELIVERIES`` (the newest :data:`LOG_CAP`
kept), and the subscription is put in the due set ``DELIVERIES_DUE`` (score: when its head is
due, in ms since the epoch).

Write side, the poll: :func:`rows` builds an item's rows, :func:`commit` writes them with the
cursor advance (:data:`COMMIT`), or nothing if another poll of the watch committed first.

Read side, the delivery job: :func:`claim_due` claims due subscriptions (moving each ahead by the
lease, so a crashed run's subscription comes due again); :func:`take_lease` is the per-
subscription lock that keeps one run sending at a time; :func:`head`, :func:`mark_delivered`,
:func:`retry_later`, :func:`dead_letter`, :func:`pop_head` and :func:`settle` move the queue on;
:func:`requeue` sends a finished delivery again (a replay); :func:`retry_now` makes a head that
waits for its next try due at once.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from typing import Any

from redis.asyncio import Redis

from engine.core import keys
from engine.core.scripts import UNLOCK, ScriptCall, decode, script, together
from engine.core.scripts import claim_due as claim
from engine.polling.cursor import Advance

LOG_CAP = 1000  # deliveries kept in a subscription's log
DONE_TTL_SECONDS = 7 * 24 * 3600  # a delivered row stays visible in the log this long

Row = dict[str, Any]


def delivery_id(sub_id: str, key: str, version: int | None = None) -> str:
    """Stable per (subscription, item dedupe key[, cursor version for single-object
    triggers]): ``msg_`` + 26 hex digits of a SHA-256."""
    text = f"{sub_id}\n{key}" + (f"\n{version}" if version is not None else "")
    return "msg_" + hashlib.sha256(text.encode()).hexdigest()[:26]


def rows(trigger: str, item_key: str, data_json: str, sub_ids: list[str], *,
         version: int | None, now_ms: int) -> list[Row]:
    """The rows of one new item (``item_key`` its dedupe key, ``data_json`` the JSON sent as
    ``data``), one per receiving subscription, pending and due at ``now_ms``."""
    out = []
    for sub_id in sub_ids:
        did = delivery_id(sub_id, item_key, version)
        out.append({"id": did, "sub": sub_id, "key": keys.DELIVERY.format(delivery_id=did),
                    "sub_key": keys.SUBSCRIPTION.format(sub_id=sub_id),
                    "queue": keys.SUB_QUEUE.format(sub_id=sub_id),
                    "log": keys.SUB_DELIVERIES.format(sub_id=sub_id),
                    "fields": {"subscription": sub_id, "trigger": trigger, "item_id": item_key,
                               "data": data_json, "status": "pending", "attempts": "0",
                               "last_error": "", "next_attempt": str(now_ms),
                               "created_at": str(now_ms)}})
    return out


# The commit: outbox rows and the cursor advance in one atomic script. A stale version (another
# poll of the same watch committed first) writes nothing and returns -1; otherwise the number of
# rows written (a row whose subscription is gone, or already written, is skipped). Given
# ``lock`` and ``token``, it first releases the poll's lock if it still holds it.
COMMIT = """
local a = cjson.decode(ARGV[1])
if a.lock and redis.call('GET', a.lock) == a.token then redis.call('DEL', a.lock) end
local v = tonumber(redis.call('HGET', a.cursor, 'version') or '0')
if v ~= a.version then return -1 end
local n = 0
for _, d in ipairs(a.deliveries) do
  if redis.call('EXISTS', d.sub_key) == 1 and redis.call('EXISTS', d.key) == 0 then
    local f = {}
    for k, val in pairs(d.fields) do f[#f + 1] = k; f[#f + 1] = val end
    redis.call('HSET', d.key, unpack(f))
    redis.call('RPUSH', d.queue, d.id)
    redis.call('ZADD', d.log, a.now_ms, d.id)
    redis.call('ZREMRANGEBYRANK', d.log, 0, -(a.log_cap + 1))
    redis.call('ZADD', a.due, 'NX', a.now_ms, d.sub)
    n = n + 1
  end
end
local c = {'version', v + 1, 'primed', '1', 'polled_at', a.now_ms}
if a.hwm ~= '' then c[#c + 1] = 'hwm'; c[#c + 1] = a.hwm end
if a.last ~= '' then c[#c + 1] = 'last'; c[#c + 1] = a.last end
if a.floor ~= '' then c[#c + 1] = 'floor'; c[#c + 1] = a.floor end
for k, val in pairs(a.fields) do c[#c + 1] = k; c[#c + 1] = val end
redis.call('HSET', a.cursor, unpack(c))
if #a.unset > 0 then redis.call('HDEL', a.cursor, unpack(a.unset)) end
local z = {}
for _, p in ipairs(a.add) do
  z[#z + 1] = p[1]; z[#z + 1] = p[2]
  if #z >= 1000 then redis.call('ZADD', a.seen, unpack(z)); z = {} end
end
if #z > 0 then redis.call('ZADD', a.seen, unpack(z)) end
if a.trim_below ~= '' then redis.call('ZREMRANGEBYSCORE', a.seen, '-inf', '(' .. a.trim_below) end
if a.rank_cap > 0 then redis.call('ZREMRANGEBYRANK', a.seen, 0, -(a.rank_cap + 1)) end
redis.call('HSET', a.watch, 'last_poll_at', a.started)
if a.slot ~= '' then
  if redis.call('HGET', a.watch, 'last_slot_ms') == a.slot then
    redis.call('HINCRBY', a.watch, 'repeat_slot_polls', 1)
  end
  redis.call('HSET', a.watch, 'last_slot_ms', a.slot)
end
if a.catching then
  if a.catching_since ~= '' then redis.call('ZADD', a.catching, a.catching_since, a.watch_id)
  else redis.call('ZREM', a.catching, a.watch_id) end
end
return n
"""


def _num(value: float | None) -> str:
    return repr(value) if value is not None else ""


async def commit(r: Redis, watch_id: str, advance: Advance, written: list[Row], *,
                 started_at: float, now_ms: int, lock: dict[str, str] | None = None,
                 slot_ms: int | None = None, catching_since: float | None = None,
                 catching: bool = False, also: list[ScriptCall] | None = None) -> int:
    """Write a poll's rows and its cursor advance atomically. ``started_at`` (s since the epoch)
    becomes the watch's ``last_poll_at``; ``lock`` (``{"lock": key, "token": token}``) is
    released in the same step. Returns the rows written, or -1 when another poll committed
    first (nothing written). ``slot_ms`` is the claimed slot (a second poll of one slot is
    counted on the watch); with ``catching``, the watch enters the set of watches catching up
    (``catching_since``, s) or leaves it (None). ``also``: more script calls (the rate budget's
    corrections) sent in the same round trip, before the commit; not part of its atomic step."""
    args = {
        "cursor": keys.CURSOR.format(watch_id=watch_id),
        "seen": keys.CURSOR_SEEN.format(watch_id=watch_id),
        "watch": keys.WATCH.format(watch_id=watch_id),
        "due": keys.DELIVERIES_DUE, "version": advance.version, "now_ms": now_ms,
        "log_cap": LOG_CAP, "rank_cap": advance.rank_cap, "started": repr(started_at),
        "floor": _num(advance.floor), "hwm": _num(advance.hwm), "last": advance.last or "",
        "trim_below": _num(advance.trim_below),
        "add": [[repr(score), key] for key, score in advance.add.items()],
        "fields": advance.fields, "unset": advance.unset,
        "slot": str(slot_ms) if slot_ms is not None else "",
        "deliveries": written,
    }
    if catching:
        args.update(catching=keys.WATCHES_CATCHING_UP, watch_id=watch_id,
                    catching_since=repr(catching_since) if catching_since is not None else "")
    if lock is not None:
        args["lock"], args["token"] = lock["lock"], lock["token"]
    replies = await together(r, [*(also or ()), (script(r, COMMIT), [], [json.dumps(args)])])
    return int(replies[-1])


# ----------------------------------------------------------------------------- the read side

# settle a run: remove the subscription from the due set only if its queue is empty,
# else schedule it at ARGV[1]
SETTLE = """
if redis.call('LLEN', KEYS[2]) == 0 then
  redis.call('ZREM', KEYS[1], ARGV[2])
  return 0
end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
return 1
"""

# pop the head only if it is still the delivery just settled
POP_HEAD = """
if redis.call('LINDEX', KEYS[1], 0) == ARGV[1] then redis.call('LPOP', KEYS[1]) return 1 end
return 0
"""

# the queue's head and its row, in one round trip
HEAD = """
local id = redis.call('LINDEX', KEYS[1], 0)
if not id then return false end
return {id, redis.call('HGETALL', ARGV[1] .. id)}
"""

# a row sent: mark it delivered (kept ARGV[4] s), pop it if it is still the head, and return
# the next head as HEAD does
DELIVERED_NEXT = """
redis.call('HSET', KEYS[1], 'status', 'delivered', 'attempts', ARGV[3], 'last_error', '',
           'delivered_at', ARGV[2], 'next_attempt', '')
redis.call('EXPIRE', KEYS[1], ARGV[4])
if redis.call('LINDEX', KEYS[2], 0) == ARGV[1] then redis.call('LPOP', KEYS[2]) end
local id = redis.call('LINDEX', KEYS[2], 0)
if not id then return false end
return {id, redis.call('HGETALL', ARGV[5] .. id)}
"""

# retry now: a head waiting for its next try is due at ARGV[1], and so is the subscription
# (when its queue holds anything); returns 1 when a waiting head was moved
RETRY_NOW = """
if redis.call('LLEN', KEYS[1]) == 0 then return 0 end
local id = redis.call('LINDEX', KEYS[1], 0)
local moved = 0
local row = ARGV[2] .. id
if redis.call('HGET', row, 'status') == 'retrying'
   and tonumber(redis.call('HGET', row, 'next_attempt') or '0') > tonumber(ARGV[1]) then
  redis.call('HSET', row, 'next_attempt', ARGV[1])
  moved = 1
end
redis.call('ZADD', KEYS[2], ARGV[1], ARGV[3])
return moved
"""

Head = tuple[str, dict[str, str]]  # (delivery id, its row)


def _head(reply: Any) -> Head | None:
    if not reply:
        return None
    flat = reply[1]
    return reply[0].decode(), {k.decode(): v.decode() for k, v in zip(flat[::2], flat[1::2])}


async def claim_due(r: Redis, *, now_ms: int, limit: int, lease_ms: int) -> list[tuple[str, int]]:
    """Claim up to ``limit`` subscriptions with a delivery due by ``now_ms``: [(id, slot ms)].
    Each claim moves the subscription ``lease_ms`` ahead, so one claimant has it at a time."""
    return await claim(r, keys.DELIVERIES_DUE, now_ms=now_ms, limit=limit, step_ms=lease_ms)


async def take_lease(r: Redis, sub_id: str, lease_ms: int) -> str | None:
    """The subscription's send lock for ``lease_ms``: its token, or None when another run holds
    it. Kept alive with :func:`engine.core.scripts.keep_lock`, given back with
    :func:`release_lease`."""
    token = secrets.token_hex(8)
    taken = await r.set(keys.SUB_LOCK.format(sub_id=sub_id), token, nx=True, px=lease_ms)
    return token if taken else None


async def release_lease(r: Redis, sub_id: str, token: str) -> None:
    """Give the send lock back, if it is still this run's (``token``)."""
    await script(r, UNLOCK)(keys=[keys.SUB_LOCK.format(sub_id=sub_id)], args=[token])


async def head(r: Redis, sub_id: str) -> Head | None:
    """The subscription's next delivery and its row (the row is {} if it expired), or None."""
    return _head(await script(r, HEAD)(keys=[keys.SUB_QUEUE.format(sub_id=sub_id)],
                                       args=[keys.DELIVERY.format(delivery_id="")]))


async def pop_head(r: Redis, sub_id: str, delivery_id_: str) -> None:
    """Drop ``delivery_id_`` from the queue if it is still the head."""
    await script(r, POP_HEAD)(keys=[keys.SUB_QUEUE.format(sub_id=sub_id)], args=[delivery_id_])


async def mark_delivered(r: Redis, sub_id: str, delivery_id_: str, *, now_ms: int,
                         attempts: int) -> Head | None:
    """Mark the head delivered at ``now_ms`` after ``attempts`` tries, pop it, and return the
    next head (one round trip)."""
    return _head(await script(r, DELIVERED_NEXT)(
        keys=[keys.DELIVERY.format(delivery_id=delivery_id_), keys.SUB_QUEUE.format(sub_id=sub_id)],
        args=[delivery_id_, now_ms, attempts, DONE_TTL_SECONDS,
              keys.DELIVERY.format(delivery_id="")]))


async def retry_later(r: Redis, delivery_id_: str, *, attempts: int, error: str,
                      next_attempt_ms: int) -> None:
    """Record a failed try; the head is tried again at ``next_attempt_ms``."""
    await r.hset(keys.DELIVERY.format(delivery_id=delivery_id_),
                 mapping={"status": "retrying", "attempts": attempts, "last_error": error,
                          "next_attempt": next_attempt_ms})


async def dead_letter(r: Redis, sub_id: str, delivery_id_: str, *, attempts: int,
                      error: str) -> None:
    """Give up on the head: mark it dead, pop it, put it on the subscription's dead list (and
    the subscription in the set of those with dead letters)."""
    async with r.pipeline(transaction=True) as pipe:
        pipe.hset(keys.DELIVERY.format(delivery_id=delivery_id_),
                  mapping={"status": "dead", "attempts": attempts, "last_error": error,
                           "next_attempt": ""})
        await script(r, POP_HEAD)(keys=[keys.SUB_QUEUE.format(sub_id=sub_id)],
                                  args=[delivery_id_], client=pipe)
        pipe.rpush(keys.SUB_DEAD.format(sub_id=sub_id), delivery_id_)
        pipe.sadd(keys.SUBS_WITH_DEAD, sub_id)
        await pipe.execute()


async def settle(r: Redis, sub_id: str, next_at_ms: int) -> None:
    """End a run: the subscription leaves the due set if its queue is empty, else it is due
    again at ``next_at_ms``."""
    await script(r, SETTLE)(keys=[keys.DELIVERIES_DUE, keys.SUB_QUEUE.format(sub_id=sub_id)],
                            args=[next_at_ms, sub_id])


async def drop_queue(r: Redis, sub_id: str) -> None:
    """Forget the queue of a subscription that no longer exists."""
    await r.delete(keys.SUB_QUEUE.format(sub_id=sub_id))
    await r.zrem(keys.DELIVERIES_DUE, sub_id)


async def row(r: Redis, delivery_id_: str) -> dict[str, str]:
    """One delivery's row ({} when it is gone)."""
    return decode(await r.hgetall(keys.DELIVERY.format(delivery_id=delivery_id_)))


async def requeue(r: Redis, sub_id: str, delivery_id_: str, *, now_ms: int) -> None:
    """Queue a finished (delivered or dead) delivery again, after what is queued, due now."""
    dkey = keys.DELIVERY.format(delivery_id=delivery_id_)
    async with r.pipeline(transaction=True) as pipe:
        pipe.hset(dkey, mapping={"status": "pending", "attempts": 0, "last_error": "",
                                 "next_attempt": now_ms})
        pipe.persist(dkey)
        pipe.lrem(keys.SUB_DEAD.format(sub_id=sub_id), 0, delivery_id_)
        pipe.rpush(keys.SUB_QUEUE.format(sub_id=sub_id), delivery_id_)
        pipe.zadd(keys.DELIVERIES_DUE, {sub_id: now_ms}, nx=True)
        await pipe.execute()


async def retry_now(r: Redis, sub_id: str, *, now_ms: int) -> bool:
    """Make the subscription's queue due at ``now_ms``: a head waiting for its next try (status
    retrying) is tried then instead of at its scheduled time. The queue keeps its order and each
    delivery stays in it once. True when a waiting head was moved."""
    return bool(await script(r, RETRY_NOW)(
        keys=[keys.SUB_QUEUE.format(sub_id=sub_id), keys.DELIVERIES_DUE],
        args=[now_ms, keys.DELIVERY.format(delivery_id=""), sub_id]))
