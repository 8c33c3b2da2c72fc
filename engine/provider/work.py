"""Keyed provider work in Redis: each outbound message and each reply is done once.

A piece of work is a hash at ``keys.PROVIDER_WORK`` named by what upstream calls it
(``out:<GHL messageId>``, ``in:<location>:<SMSGlobal incoming id>``), created only if absent,
so an event or a push that comes again finds it and adds nothing. Its ``state`` says how far it
got; every step writes its result there before the next one starts.

Due work sits in ``keys.PROVIDER_DUE`` (a sorted set, score = when, in ms). A claim moves the
score forward by the lease, so one worker has it at a time; a worker that dies leaves the lease
to run out and another worker carries on from the recorded state. ``keys.PROVIDER_READY`` wakes
the provider loop as soon as new work is due.
"""

from __future__ import annotations

import json
import time
from typing import Any

from redis.asyncio import Redis

from engine.core import keys

DONE_TTL_S = 7 * 24 * 3600  # finished work is kept a week, so late repeats still find it

_CREATE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('ZADD', KEYS[2], ARGV[1], ARGV[2])
redis.call('LPUSH', KEYS[3], ARGV[2])
redis.call('LTRIM', KEYS[3], 0, 999)
return 1
"""

_CLAIM = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, id in ipairs(due) do
  redis.call('ZADD', KEYS[1], tonumber(ARGV[1]) + tonumber(ARGV[3]), id)
end
return due
"""

_FINISH = """
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1]))
return 1
"""


def now_ms() -> int:
    """The current time in epoch milliseconds (the unit of PROVIDER_DUE's scores)."""
    return int(time.time() * 1000)


def flat(fields: dict[str, Any]) -> list[str]:
    """``fields`` as a flat [name, value, …] list for HSET: strings as they are, anything else as
    JSON."""
    out: list[str] = []
    for k, v in fields.items():
        out += [k, v if isinstance(v, str) else json.dumps(v)]
    return out


def _mapping(fields: dict[str, Any]) -> dict[str, str]:
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in fields.items()}


def _key(work_id: str) -> str:
    return keys.PROVIDER_WORK.format(work_id=work_id)


async def create(redis: Redis, work_id: str, fields: dict[str, Any]) -> bool:
    """Record new work, due now; False (and nothing written) when ``work_id`` exists."""
    made = await redis.eval(_CREATE, 3, _key(work_id), keys.PROVIDER_DUE, keys.PROVIDER_READY,
                            now_ms(), work_id, *flat(fields))
    return bool(made)


async def load(redis: Redis, work_id: str) -> dict[str, str] | None:
    """A piece of work's hash decoded to str (``state`` and the results recorded so far), or None
    when unknown or expired."""
    raw = await redis.hgetall(_key(work_id))
    return {k.decode(): v.decode() for k, v in raw.items()} if raw else None


async def claim(redis: Redis, *, lease_s: float, limit: int = 50,
                at_ms: int | None = None) -> list[str]:
    """Take up to ``limit`` due work ids, leased for ``lease_s`` seconds."""
    raw = await redis.eval(_CLAIM, 1, keys.PROVIDER_DUE, now_ms() if at_ms is None else at_ms,
                           limit, int(lease_s * 1000))
    return [r.decode() for r in raw]


async def update(redis: Redis, work_id: str, fields: dict[str, Any]) -> None:
    """Record a step's result (before the next step starts)."""
    await redis.hset(_key(work_id), mapping=_mapping(fields))


async def schedule(redis: Redis, work_id: str, at_ms: int, fields: dict[str, Any] | None = None) -> None:
    """Come back to the work at ``at_ms`` (recording ``fields`` first)."""
    async with redis.pipeline(transaction=True) as pipe:
        if fields:
            pipe.hset(_key(work_id), mapping=_mapping(fields))
        pipe.zadd(keys.PROVIDER_DUE, {work_id: at_ms})
        if at_ms <= now_ms():
            pipe.lpush(keys.PROVIDER_READY, work_id)
        await pipe.execute()


_PARK = """
if redis.call('HGET', KEYS[1], 'state') ~= ARGV[2] then return 0 end
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
"""


async def park(redis: Redis, work_id: str, state: str) -> bool:
    """Nothing to do until something outside (a delivery receipt) wakes the work: take it off
    the due set, unless its state moved on from ``state`` meanwhile (then it stays due)."""
    return bool(await redis.eval(_PARK, 2, _key(work_id), keys.PROVIDER_DUE, work_id, state))


async def finish(redis: Redis, work_id: str, fields: dict[str, Any]) -> None:
    """The work is complete: record the last fields, take it off the due set, keep it a week."""
    await redis.eval(_FINISH, 2, _key(work_id), keys.PROVIDER_DUE, DONE_TTL_S, work_id,
                     *flat(fields))
