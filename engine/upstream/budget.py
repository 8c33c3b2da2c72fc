"""The per-location rate budget, shared by every process through Redis.

GHL allows 100 requests per 10 s and 200,000 per day for each location. Every upstream request
first takes a slot here: a sliding window of grant times (a sorted set) and a daily counter,
checked and updated by one Lua script, so any number of API and worker processes on any number
of machines stay inside the budget together.

* ``interactive`` requests (actions) may use the whole burst; ``background`` ones (polls) stop
  ``reserve`` short of it, so a flood of polls never locks a user's action out.
* The window is a little longer than upstream's (``margin_ms``) so requests granted together
  cannot arrive together inside upstream's window.
* A slot is timed again when its answer arrives: upstream saw the request at some moment
  between grant and answer, so counting it from the answer keeps the window conservative
  however slow the request was on its way.
* Upstream's own ``X-RateLimit-*`` headers correct the local count: when GHL says fewer
  requests remain (another app shares the location), that lower figure caps us until its
  interval ends; a 429 closes the window for its Retry-After.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass
from typing import Literal, Mapping

from redis.asyncio import Redis

from engine.accounts.connections import tenant_tag
from engine.core import keys
from engine.core.errors import RateLimited
from engine.core.scripts import ScriptCall

Priority = Literal["interactive", "background"]

# both scripts start from Redis's own clock, in milliseconds: one clock for every process
_NOW_MS = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

# KEYS: window zset, day counter, upstream burst cap, upstream day cap, the scope's tenants
# and, optionally, a quarantine key; ARGV: limit, window (ms), daily limit, slot id, ms to UTC
# midnight, tenant tag. Times are ms (Redis TIME). Returns {1, 0, slot} when granted, {0, ms to
# wait}, {-1, ms to midnight} or {-2, 0} while the quarantine key exists (nothing granted).
_ACQUIRE = _NOW_MS + """
if KEYS[6] and redis.call('EXISTS', KEYS[6]) == 1 then return {-2, 0} end
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local daily = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local used = redis.call('ZCARD', KEYS[1])
if used >= limit then
  local nth = redis.call('ZRANGE', KEYS[1], used - limit, used - limit, 'WITHSCORES')
  return {0, tonumber(nth[2]) + window - now + 1}
end
-- past half the burst, each tenant with a connection on this scope is held to an equal share
if ARGV[6] ~= '' and used * 2 >= limit then
  local tenants, seen = 0, {}
  for _, tag in ipairs(redis.call('HVALS', KEYS[5])) do
    if not seen[tag] then seen[tag] = true; tenants = tenants + 1 end
  end
  if tenants > 1 then
    local share = math.ceil(limit / tenants)
    local mine, oldest_mine = 0, nil
    local members = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
    for i = 1, #members, 2 do
      if string.match(members[i], '^[^:]+:([^:]+):') == ARGV[6] then
        mine = mine + 1
        if not oldest_mine then oldest_mine = tonumber(members[i + 1]) end
      end
    end
    if mine >= share then
      return {0, oldest_mine + window - now + 1}
    end
  end
end
local cap = redis.call('GET', KEYS[3])
if cap and tonumber(cap) <= 0 then
  return {0, math.max(redis.call('PTTL', KEYS[3]), 1)}
end
local day = tonumber(redis.call('GET', KEYS[2]) or '0')
local dcap = redis.call('GET', KEYS[4])
if day >= daily or (dcap and tonumber(dcap) <= 0) then
  return {-1, tonumber(ARGV[5])}
end
local member = now .. ':' .. ARGV[6] .. ':' .. ARGV[4]
redis.call('ZADD', KEYS[1], now, member)
redis.call('PEXPIRE', KEYS[1], window)
redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], 90000)
if cap then redis.call('DECR', KEYS[3]) end
if dcap then redis.call('DECR', KEYS[4]) end
return {1, 0, member}
"""

# KEYS: window zset, upstream burst cap, upstream day cap; ARGV: burst, window (ms), remaining
# (-1: unknown), its interval (ms), daily remaining (-1: unknown), ms to UTC midnight, slot.
_OBSERVE = _NOW_MS + """
local burst = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local remaining = tonumber(ARGV[3])
local interval = tonumber(ARGV[4])
if ARGV[7] ~= '' and redis.call('ZSCORE', KEYS[1], ARGV[7]) then
  redis.call('ZADD', KEYS[1], 'XX', now, ARGV[7])
  redis.call('PEXPIRE', KEYS[1], window)
end
if remaining >= 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
  local mine = burst - redis.call('ZCARD', KEYS[1])
  if remaining < mine then
    redis.call('SET', KEYS[2], remaining, 'PX', math.max(interval, 1))
  end
end
local dremaining = tonumber(ARGV[5])
if dremaining >= 0 then
  redis.call('SET', KEYS[3], dremaining, 'PX', tonumber(ARGV[6]))
end
return 1
"""


class Quarantined(Exception):
    """No slot given: the connection's quarantine key (the exception's argument) exists."""


@dataclass(frozen=True)
class Limits:
    """A rate budget: ``burst`` requests per ``window_ms`` (ms) plus ``margin_ms`` (ms) of safety,
    ``daily`` requests per UTC day, and ``reserve`` slots of the burst kept for interactive
    requests. GHL's limits per marketplace app and location or company: 100 per 10 s and
    200,000 per day (GHL: OAuth Authorization doc, "What are current rate limits for API 2.0?")."""

    burst: int = 100
    window_ms: int = 10_000
    margin_ms: int = 500
    daily: int = 200_000
    reserve: int = 20


def _ms_to_utc_midnight() -> int:
    now = time.time()
    return int((86400 - now % 86400) * 1000) + 1


def _header_int(headers: Mapping[str, str], name: str) -> int | None:
    """A non-negative whole number from an upstream header; None when absent or unreadable
    (``soon``, ``NaN``, ``inf``, ``-3``): an unreadable header is treated as absent."""
    value = headers.get(name)
    try:
        number = int(float(value)) if value is not None else None
    except (ValueError, OverflowError):
        return None
    return number if number is not None and number >= 0 else None


class Budget:
    """The rate budget of every scope (a location, company or SMSGlobal account), kept in Redis by
    Lua scripts so every process shares it."""

    def __init__(self, redis: Redis, limits: Limits) -> None:
        self.redis = redis
        self.limits = limits
        self._acquire = redis.register_script(_ACQUIRE)
        self._observe = redis.register_script(_OBSERVE)

    def _keys(self, scope: str) -> list[str]:
        day = time.strftime("%Y%m%d", time.gmtime())
        return [keys.RATE_WINDOW.format(scope=scope), keys.RATE_DAY.format(scope=scope, day=day),
                keys.RATE_UPSTREAM_CAP.format(scope=scope), keys.RATE_UPSTREAM_DAY.format(scope=scope)]

    async def try_acquire(self, scope: str, priority: Priority, tenant: str = "",
                          quarantine: str | None = None) -> tuple[int, str]:
        """Take one slot now: (0, slot) when granted, else (milliseconds to wait, "");
        a negative wait means the day's budget is spent. Once half the burst is in use, each
        ``tenant`` is held to an equal share of it among the tenants with a connection on the
        scope, so tenants sharing a location share it fairly (one tenant's flood cannot lock
        another out). ``quarantine``: a Redis key checked in the same step; while it exists no
        slot is given and :class:`Quarantined` is raised."""
        found, names, args = self.acquire_call(scope, priority, tenant, quarantine)
        granted, wait, *slot = await found(keys=names, args=args)
        if granted == -2:
            raise Quarantined(quarantine or "")
        if granted == 1:
            return 0, slot[0].decode() if isinstance(slot[0], bytes) else str(slot[0])
        if granted == -1:
            return -int(wait), ""
        return int(wait), ""

    def acquire_call(self, scope: str, priority: Priority, tenant: str = "",
                     quarantine: str | None = None) -> ScriptCall:
        """:meth:`try_acquire`'s script call ``(script, keys, args)``, to run with others in one
        round trip (:func:`engine.core.scripts.together`); :meth:`granted` reads its reply."""
        lim = self.limits
        limit = lim.burst if priority == "interactive" else max(1, lim.burst - lim.reserve)
        names = [*self._keys(scope), keys.RATE_CONNECTIONS.format(scope=scope)]
        if quarantine:
            names.append(quarantine)
        return (self._acquire, names,
                [limit, lim.window_ms + lim.margin_ms, lim.daily, secrets.token_hex(6),
                 _ms_to_utc_midnight(), tenant_tag(tenant)])

    @staticmethod
    def granted(reply: list) -> str | None:
        """The slot an :meth:`acquire_call` reply granted; None when it granted none (wait,
        day spent, quarantined: :meth:`acquire` then says which)."""
        if reply and reply[0] == 1:
            return reply[2].decode() if isinstance(reply[2], bytes) else str(reply[2])
        return None

    async def acquire(self, scope: str, priority: Priority, *, max_wait: float,
                      tenant: str = "", quarantine: str | None = None) -> str:
        """Wait for a slot (at most ``max_wait`` seconds); return the slot, for ``observe``.
        Raises :class:`~engine.core.errors.RateLimited` when none comes in time, and
        :class:`Quarantined` while the ``quarantine`` key exists (checked in the same step)."""
        waited_s = 0.0
        while True:
            wait_ms, slot = await self.try_acquire(scope, priority, tenant, quarantine)
            if wait_ms == 0:
                return slot
            if wait_ms < 0:
                raise RateLimited(
                    "the daily GHL request budget of this location is spent; it resets at 00:00 UTC",
                    retry_after=-wait_ms / 1000, details={"scope": scope})
            pause_s = wait_ms / 1000 + secrets.randbelow(20) / 1000
            if waited_s + pause_s > max_wait:
                raise RateLimited(
                    "the GHL rate budget of this location is exhausted for now; retry after the "
                    "number of seconds in Retry-After",
                    retry_after=max(pause_s, 1.0), details={"scope": scope})
            await asyncio.sleep(pause_s)
            waited_s += pause_s

    async def refund(self, scope: str, slot: str) -> None:
        """Give a slot back: its request was refused before upstream counted it (401/403: the
        credentials, not the location, are at fault), so it must not spend the location's burst
        or day."""
        if not slot:
            return
        k = self._keys(scope)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zrem(k[0], slot)
            pipe.decr(k[1])
            await pipe.execute()

    async def observe(self, scope: str, headers: Mapping[str, str], status: int,
                      retry_after: float | None = None, slot: str = "") -> None:
        """After an answer (or a failure): time ``slot`` again from now, and correct the local
        count with what upstream reported (``X-RateLimit-Remaining``, its
        ``X-RateLimit-Interval-Milliseconds`` and ``X-RateLimit-Daily-Remaining``: GHL's OAuth
        Authorization doc, rate limits). A 429 closes the window for ``retry_after`` seconds."""
        found = self.observation(scope, headers, status, retry_after, slot)
        if found is not None:
            await found[0](keys=found[1], args=found[2])

    def observation(self, scope: str, headers: Mapping[str, str], status: int,
                    retry_after: float | None = None, slot: str = "") -> ScriptCall | None:
        """What :meth:`observe` writes, as a script call ``(script, keys, args)`` to run later
        with others in one round trip (:func:`engine.core.scripts.together`); None when there
        is nothing to write. Run late, the slot is timed from when it runs: later than the
        answer, so the window stays conservative."""
        remaining = _header_int(headers, "x-ratelimit-remaining")
        interval_ms = (_header_int(headers, "x-ratelimit-interval-milliseconds")
                       or self.limits.window_ms)
        dremaining = _header_int(headers, "x-ratelimit-daily-remaining")
        if status == 429:
            remaining = 0
            if retry_after:
                interval_ms = int(retry_after * 1000)
        if remaining is None and dremaining is None and not slot:
            return None
        k = self._keys(scope)
        return (self._observe, [k[0], k[2], k[3]],
                [self.limits.burst, self.limits.window_ms + self.limits.margin_ms,
                 -1 if remaining is None else remaining, interval_ms,
                 -1 if dremaining is None else dremaining, _ms_to_utc_midnight(), slot])
