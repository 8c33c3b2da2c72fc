"""Hook tokens: one unguessable, rotatable token per connection, naming it in push URLs.

A GHL Private Integration connection gets no marketplace webhooks; a GHL workflow's webhook action
can post to ``/v1/inbound/ghl/{token}`` instead. An SMSGlobal connection's sends carry
``/v1/inbound/smsglobal/{token}/receipt`` (``notifyUrl``) and ``…/incoming`` (``incomingUrl``).
The token is sealed by the vault in the connection's hash (field ``hook``); Redis keeps only its
SHA-256 digest as the index from token to connection. Rotating makes the old URLs answer 404.
"""

from __future__ import annotations

import hashlib
import secrets as _secrets

from redis.asyncio import Redis

from engine.accounts.vault import Vault
from engine.core import keys

PREFIX = "hk_"
# the push URLs of a token, under the engine's public base URL, by Input.fill name
PUSH_PATHS = {
    "ghl_workflow_url": "/v1/inbound/ghl/{token}",
    "notify_url": "/v1/inbound/smsglobal/{token}/receipt",
    "incoming_url": "/v1/inbound/smsglobal/{token}/incoming",
}


def push_url(base_url: str, kind: str, hook_token: str) -> str:
    """A push URL (``kind`` from :data:`PUSH_PATHS`) under ``base_url``."""
    return base_url.rstrip("/") + PUSH_PATHS[kind].format(token=hook_token)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# KEYS: connection hash, new index key, old index key (or the new one again); ARGV: sealed token,
# connection id, whether to replace an existing token
_SET = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if ARGV[3] == '0' and redis.call('HEXISTS', KEYS[1], 'hook') == 1 then return -1 end
redis.call('HSET', KEYS[1], 'hook', ARGV[1])
if KEYS[3] ~= KEYS[2] then redis.call('DEL', KEYS[3]) end
redis.call('SET', KEYS[2], ARGV[2])
return 1
"""


async def token(redis: Redis, vault: Vault, conn_id: str) -> str | None:
    """The connection's hook token, made on first use; None when the connection is gone."""
    sealed = await redis.hget(keys.CONNECTION.format(conn_id=conn_id), "hook")
    if sealed:
        return vault.open(sealed.decode())["token"]
    return await _store(redis, vault, conn_id, replace=False)


async def rotate(redis: Redis, vault: Vault, conn_id: str) -> str | None:
    """A new hook token; the old one stops working at once. None when the connection is gone."""
    return await _store(redis, vault, conn_id, replace=True)


async def _store(redis: Redis, vault: Vault, conn_id: str, *, replace: bool) -> str | None:
    conn_key = keys.CONNECTION.format(conn_id=conn_id)
    old = await redis.hget(conn_key, "hook")
    new = PREFIX + _secrets.token_urlsafe(24)
    new_index = keys.HOOK_TOKEN.format(digest=_digest(new))
    old_index = (keys.HOOK_TOKEN.format(digest=_digest(vault.open(old.decode())["token"]))
                 if old else new_index)
    done = await redis.eval(_SET, 3, conn_key, new_index, old_index,
                            vault.seal({"token": new}), conn_id, "1" if replace else "0")
    if done == 0:
        return None
    if done == -1:  # made by a concurrent first use
        return await token(redis, vault, conn_id)
    return new


async def connection_for(redis: Redis, hook_token: str) -> str | None:
    """The id of the connection a hook token names, or None."""
    if not hook_token.startswith(PREFIX) or len(hook_token) > 100:
        return None
    found = await redis.get(keys.HOOK_TOKEN.format(digest=_digest(hook_token)))
    return found.decode() if found else None


async def forget(redis: Redis, vault: Vault, conn_id: str) -> None:
    """Drop a connection's token index (the connection is being deleted)."""
    sealed = await redis.hget(keys.CONNECTION.format(conn_id=conn_id), "hook")
    if sealed:
        await redis.delete(keys.HOOK_TOKEN.format(
            digest=_digest(vault.open(sealed.decode())["token"])))
