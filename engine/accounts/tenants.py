"""Tenants and their API keys. A key is shown once; only its SHA-256 digest is stored."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

from redis.asyncio import Redis

from engine.core import keys
from engine.core.scripts import script

KEY_PREFIX = "ghle_"


@dataclass(frozen=True)
class Principal:
    """The caller an API key stands for: its ``tenant``, the key's id, whether it only reads."""

    tenant: str
    key_id: str
    read_only: bool = False


def digest(api_key: str) -> str:
    """The SHA-256 of an API key, 64 hex digits: what is stored instead of the key."""
    return hashlib.sha256(api_key.encode()).hexdigest()


async def create_key(redis: Redis, tenant: str, *, read_only: bool = False) -> tuple[str, str]:
    """Create an API key for ``tenant``; return (key_id, api_key). The key is not stored."""
    if not tenant or len(tenant) > 64 or not tenant.replace("-", "").replace("_", "").isalnum():
        raise ValueError("tenant name must be 1-64 letters, digits, '-' or '_'")
    api_key = KEY_PREFIX + secrets.token_urlsafe(32)
    key_id = "key_" + secrets.token_hex(8)
    d = digest(api_key)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hset(keys.API_KEY.format(digest=d), mapping={
            "tenant": tenant, "key_id": key_id, "read_only": int(read_only),
            "created_at": int(time.time())})
        pipe.set(keys.KEY_ID.format(key_id=key_id), d)
        pipe.sadd(keys.TENANT_KEYS.format(tenant=tenant), key_id)
        await pipe.execute()
    return key_id, api_key


async def list_keys(redis: Redis, tenant: str | None = None) -> list[dict]:
    """The API keys of ``tenant`` (or of every tenant): key_id, tenant, created_at (epoch s) and
    read_only, oldest first; never the key nor its digest."""
    if tenant:
        tenant_names = [tenant]
    else:
        prefix, suffix = keys.TENANT_KEYS.split("{tenant}")
        tenant_names = sorted({k.decode()[len(prefix):-len(suffix)] async for k in
                               redis.scan_iter(match=keys.TENANT_KEYS.format(tenant="*"))})
    out = []
    for name in tenant_names:
        for key_id in sorted(m.decode() for m in await redis.smembers(
                keys.TENANT_KEYS.format(tenant=name))):
            d = await redis.get(keys.KEY_ID.format(key_id=key_id))
            data = await redis.hgetall(keys.API_KEY.format(digest=d.decode())) if d else {}
            if not data:
                continue
            out.append({"key_id": key_id, "tenant": name,
                        "created_at": int(data.get(b"created_at") or 0),
                        "read_only": data.get(b"read_only") == b"1"})
    return sorted(out, key=lambda k: (k["created_at"], k["key_id"]))


async def authenticate(redis: Redis, api_key: str) -> Principal | None:
    """The principal of ``api_key``, or None for an empty, unknown or revoked key (not counted
    against any rate limit; see :func:`authenticate_counted`)."""
    if not api_key:
        return None
    data = await redis.hgetall(keys.API_KEY.format(digest=digest(api_key)))
    if not data:
        return None
    return Principal(tenant=data[b"tenant"].decode(), key_id=data[b"key_id"].decode(),
                     read_only=data.get(b"read_only") == b"1")


SESSION_PREFIX = "ghlc_"


async def open_console_session(redis: Redis, who: Principal, ttl_seconds: int) -> str:
    """Start a console login for ``who``: return a new random session id (what the console's
    cookie holds, never the API key). Only its SHA-256 is stored, mapped to the key's tenant and
    id, for ``ttl_seconds``; revoking the key ends it."""
    session = SESSION_PREFIX + secrets.token_urlsafe(32)
    d = digest(session)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hset(keys.CONSOLE_SESSION.format(digest=d), mapping={
            "tenant": who.tenant, "key_id": who.key_id, "read_only": int(who.read_only)})
        pipe.expire(keys.CONSOLE_SESSION.format(digest=d), ttl_seconds)
        pipe.sadd(keys.KEY_CONSOLE_SESSIONS.format(key_id=who.key_id), d)
        pipe.expire(keys.KEY_CONSOLE_SESSIONS.format(key_id=who.key_id), ttl_seconds)
        await pipe.execute()
    return session


async def console_session(redis: Redis, session: str) -> Principal | None:
    """The principal of a console session id, or None when it is empty, unknown, expired,
    ended, or its API key has been revoked since."""
    if not session or not session.startswith(SESSION_PREFIX) or len(session) > 100:
        return None
    data = await redis.hgetall(keys.CONSOLE_SESSION.format(digest=digest(session)))
    if not data or not await redis.exists(keys.KEY_ID.format(key_id=data[b"key_id"].decode())):
        return None
    return Principal(tenant=data[b"tenant"].decode(), key_id=data[b"key_id"].decode(),
                     read_only=data.get(b"read_only") == b"1")


async def close_console_session(redis: Redis, session: str) -> None:
    """End a console session (logout); an unknown one is ignored."""
    if not session:
        return
    d = digest(session)
    data = await redis.hgetall(keys.CONSOLE_SESSION.format(digest=d))
    async with redis.pipeline(transaction=True) as pipe:
        pipe.delete(keys.CONSOLE_SESSION.format(digest=d))
        if data:
            pipe.srem(keys.KEY_CONSOLE_SESSIONS.format(key_id=data[b"key_id"].decode()), d)
        await pipe.execute()


async def revoke_key(redis: Redis, key_id: str) -> bool:
    """Delete an API key by its id, and end the console sessions opened with it; False when no
    such key exists."""
    d = await redis.get(keys.KEY_ID.format(key_id=key_id))
    if d is None:
        return False
    data = await redis.hgetall(keys.API_KEY.format(digest=d.decode()))
    sessions = await redis.smembers(keys.KEY_CONSOLE_SESSIONS.format(key_id=key_id))
    async with redis.pipeline(transaction=True) as pipe:
        pipe.delete(keys.API_KEY.format(digest=d.decode()), keys.KEY_ID.format(key_id=key_id),
                    keys.KEY_CONSOLE_SESSIONS.format(key_id=key_id),
                    *[keys.CONSOLE_SESSION.format(digest=s.decode()) for s in sessions])
        if data:
            pipe.srem(keys.TENANT_KEYS.format(tenant=data[b"tenant"].decode()), key_id)
        await pipe.execute()
    return True


async def rotate_key(redis: Redis, key_id: str) -> tuple[str, str] | None:
    """Replace key ``key_id`` by a new key of the same tenant and access; the old key stops
    working at once. Return (new key_id, new api_key), or None if there is no such key."""
    d = await redis.get(keys.KEY_ID.format(key_id=key_id))
    if d is None:
        return None
    data = await redis.hgetall(keys.API_KEY.format(digest=d.decode()))
    if not data:
        return None
    new = await create_key(redis, data[b"tenant"].decode(), read_only=data.get(b"read_only") == b"1")
    await revoke_key(redis, key_id)
    return new


# one fixed one-minute window per key: INCR, and the first hit starts the window's clock
_RATE = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
if n > tonumber(ARGV[2]) then return redis.call('PTTL', KEYS[1]) end
return -1
"""


async def over_rate(redis: Redis, key_id: str, per_minute: int) -> float | None:
    """Count one request of ``key_id``; seconds to wait if it is over ``per_minute``, else None."""
    if per_minute <= 0:
        return None
    window = int(time.time() // 60)
    wait_ms = await redis.eval(_RATE, 1, keys.KEY_RATE.format(key_id=key_id, window=window),
                               61_000, per_minute)
    if wait_ms is None or int(wait_ms) < 0:
        return None
    return max(1.0, (60 - time.time() % 60))


# the key's record and one count of its minute, in one round trip (see authenticate_counted)
_AUTH_RATE = """
local h = redis.call('HGETALL', KEYS[1])
if #h == 0 then return false end
local limit = tonumber(ARGV[1])
if limit <= 0 then return {h, -1} end
local key_id = nil
for i = 1, #h, 2 do if h[i] == 'key_id' then key_id = h[i + 1] end end
if not key_id then return {h, -1} end
local k = ARGV[2] .. key_id .. ARGV[3]
local n = redis.call('INCR', k)
if n == 1 then redis.call('PEXPIRE', k, 61000) end
if n > limit then return {h, redis.call('PTTL', k)} end
return {h, -1}
"""


async def authenticate_counted(redis: Redis, api_key: str, per_minute: int
                               ) -> tuple[Principal | None, float | None]:
    """:func:`authenticate` and :func:`over_rate` in one round trip: (principal or None,
    seconds to wait if the key is over ``per_minute``, else None). Unknown keys are not counted."""
    if not api_key:
        return None, None
    prefix, suffix = keys.KEY_RATE.split("{key_id}")
    out = await script(redis, _AUTH_RATE)(keys=[keys.API_KEY.format(digest=digest(api_key))],
                       args=[per_minute, prefix, suffix.format(window=int(time.time() // 60))])
    if not out:
        return None, None
    flat, wait_ms = out
    data = dict(zip(flat[::2], flat[1::2]))
    who = Principal(tenant=data[b"tenant"].decode(), key_id=data[b"key_id"].decode(),
                    read_only=data.get(b"read_only") == b"1")
    if wait_ms is None or int(wait_ms) < 0:
        return who, None
    return who, max(1.0, (60 - time.time() % 60))
