"""Redis scripts and replies, in one place: the registered-script cache, the lock release that
every lock holder uses, and the decoding of hash replies.

Each Lua script of the engine is a module constant next to the code that owns its keys and is
run through :func:`script`, so it is sent in full once per client and by its SHA (EVALSHA)
after that.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError

log = logging.getLogger("engine.core.scripts")

# release a lock (KEYS[1]) only if it still holds this holder's token (ARGV[1]); 1 if released
UNLOCK = ("if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end "
          "return 0")


# extend a lock (KEYS[1]) to ARGV[2] ms only if it still holds this holder's token (ARGV[1])
EXTEND = ("if redis.call('GET', KEYS[1]) == ARGV[1] then "
          "return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0")


async def keep_lock(r: Redis, lock_key: str, token: str, lease_ms: int, what: str) -> None:
    """Extend a held lock every third of its lease (run as a task, cancelled by the holder when
    done); returns as soon as the lock is no longer this holder's. ``what`` names the lock in
    the warning logged when an extension fails (it is tried again at the next beat)."""
    while True:
        await asyncio.sleep(lease_ms / 3000)
        try:
            if not await script(r, EXTEND)(keys=[lock_key], args=[token, lease_ms]):
                return
        except Exception:  # noqa: BLE001 - a failed extension is retried at the next beat
            log.warning("could not extend the lock of %s", what)


def script(r: Redis, text: str) -> AsyncScript:
    """``text`` registered once per Redis client (redis-py's ``register_script``); call it as
    ``await script(r, TEXT)(keys=[...], args=[...])``, or with ``client=pipe`` in a pipeline."""
    cache = r.__dict__.setdefault("_ghle_scripts", {})
    found = cache.get(text)
    if found is None:
        found = cache[text] = r.register_script(text)
    return found


ScriptCall = tuple[AsyncScript, list, list]  # (script, keys, args)


async def together(r: Redis, calls: list[ScriptCall]) -> list[Any]:
    """Run registered scripts ``[(script, keys, args), …]`` by SHA in one round trip (a
    pipeline without MULTI: each script is atomic, the group is not) and return their replies
    in order. A script the server does not hold yet (NOSCRIPT: it ran nothing) is loaded and run
    again on its own; any other error reply is raised."""
    if len(calls) == 1:
        found, keys_, args = calls[0]
        return [await found(keys=keys_, args=args)]
    async with r.pipeline(transaction=False) as pipe:
        for found, keys_, args in calls:
            pipe.evalsha(found.sha, len(keys_), *keys_, *args)
        replies = await pipe.execute(raise_on_error=False)
    out = []
    for (found, keys_, args), reply in zip(calls, replies):
        if isinstance(reply, NoScriptError):
            reply = await found(keys=keys_, args=args)  # loads it, then runs it
        elif isinstance(reply, Exception):
            raise reply
        out.append(reply)
    return out


def decode(raw: dict[bytes, bytes]) -> dict[str, str]:
    """A hash reply (HGETALL) with its field names and values decoded as UTF-8."""
    return {k.decode(): v.decode() for k, v in raw.items()}


def pairs(flat: list[Any]) -> dict[Any, Any]:
    """A flat ``[field, value, …]`` reply (HGETALL or ZRANGE … WITHSCORES inside Lua) as a dict,
    undecoded."""
    return dict(zip(flat[0::2], flat[1::2]))


# Claim the members of the due set KEYS[1] whose score (ms) is at most ARGV[1], at most ARGV[2]
# of them, each moved to its next score in the same step: ARGV[1] + ARGV[3] (a lease, ms) when
# ARGV[4] is '', else the next slot on the member's own phase, read from the hash ARGV[4] ..
# member: its interval_minutes × ARGV[5] ms (at least ARGV[3] ms), or ARGV[6] ms while its
# last_event_at is less than ARGV[7] ms old, on its phase_ms. Returns [member, claimed score, …].
CLAIM_DUE = """
local now = tonumber(ARGV[1])
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for _, id in ipairs(due) do
  local slot = redis.call('ZSCORE', KEYS[1], id)
  local nxt = now + tonumber(ARGV[3])
  if ARGV[4] ~= '' then
    local w = ARGV[4] .. id
    local minutes = tonumber(redis.call('HGET', w, 'interval_minutes') or '1')
    local interval = math.max(math.floor(minutes * tonumber(ARGV[5])), tonumber(ARGV[3]))
    local event_at = tonumber(redis.call('HGET', w, 'last_event_at') or '0')
    if event_at > 0 and now - event_at < tonumber(ARGV[7]) then
      interval = math.max(tonumber(ARGV[6]), tonumber(ARGV[3]))  -- events arrive: reconcile only
    end
    local phase = tonumber(redis.call('HGET', w, 'phase_ms') or '0')
    nxt = now - ((now - phase) % interval) + interval
  end
  redis.call('ZADD', KEYS[1], nxt, id)
  out[#out + 1] = id
  out[#out + 1] = slot
end
return out
"""


async def claim_due(r: Redis, due_key: str, *, now_ms: int, limit: int, step_ms: int,
                    slots_from: str = "", unit_ms: int = 0, reconcile_ms: int = 0,
                    event_fallback_ms: int = 0) -> list[tuple[str, int]]:
    """Claim up to ``limit`` members of the due set ``due_key`` due by ``now_ms``:
    [(member, claimed slot in ms)]. Atomic, so each slot is claimed by one caller only.

    Without ``slots_from`` a claimed member moves ``step_ms`` ahead (a lease: it comes due again
    if its claimant dies). With it (a hash key prefix), the member moves to its next slot: the
    hash's ``interval_minutes`` × ``unit_ms`` (at least ``step_ms``) on its ``phase_ms``; while
    the hash's ``last_event_at`` (ms) is less than ``event_fallback_ms`` old, ``reconcile_ms``
    instead (pushed events do the work, the polls only reconcile)."""
    raw = await script(r, CLAIM_DUE)(keys=[due_key], args=[now_ms, limit, step_ms, slots_from,
                                                          unit_ms, reconcile_ms, event_fallback_ms])
    return [(raw[i].decode(), int(float(raw[i + 1]))) for i in range(0, len(raw), 2)]
