"""Per-tenant quotas: how many connections, subscriptions and flows one tenant may hold.

A new object's id is reserved in the tenant's set by one Lua script that refuses when the set
is full, so concurrent creations cannot overshoot the quota; a creation that fails afterwards
gives its reservation back with :func:`release`.
"""

from __future__ import annotations

from redis.asyncio import Redis

from engine.core.errors import EngineError

_RESERVE = """
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return 1 end
if redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('SADD', KEYS[1], ARGV[1])
return 1
"""


class QuotaExceeded(EngineError):
    """403 ``quota_exceeded``: the tenant holds as many connections, subscriptions or flows as its
    quota allows; ``details``: ``{"limit", "setting"}``."""

    status = 403
    code = "quota_exceeded"


async def reserve(redis: Redis, set_key: str, member: str, limit: int, *, what: str,
                  setting: str) -> None:
    """Add ``member`` to the tenant's set ``set_key`` unless it already holds ``limit``
    members; raises QuotaExceeded (403) naming the setting that raises the limit."""
    if not await redis.eval(_RESERVE, 1, set_key, member, limit):
        raise QuotaExceeded(f"this tenant already has {limit} {what}, its quota ({setting}); "
                            f"delete some first", details={"limit": limit, "setting": setting})


async def release(redis: Redis, set_key: str, member: str) -> None:
    """Give back a reservation whose creation failed."""
    await redis.srem(set_key, member)
