"""Idempotency-Key: the same key with the same body within 24 h returns the stored response
without calling upstream again; the same key with another body is a conflict.

A key is claimed (``pending``) before the call, so two concurrent requests with one key cannot
both reach upstream. The claim is a lease: it expires after ``lease_s`` seconds (longer than a
call can take), so a process killed mid-call leaves a key that is free again within the lease,
not 24 h of 409s. A call that failed in a way worth retrying (rate limit, upstream down) or
failed unexpectedly releases the key at once; a completed one (success or an upstream 4xx) is
kept for the TTL.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from redis.asyncio import Redis

from engine.core import keys
from engine.core.errors import Conflict, InputInvalid


def fingerprint(*parts: Any) -> str:
    """SHA-256 hex of ``parts`` as canonical JSON (sorted keys; non-JSON values as ``str``)."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


class Idempotency:
    """One Idempotency-Key of one tenant: :meth:`begin` claims it for ``lease_s`` seconds, then
    :meth:`complete` stores the answer for ``ttl_s`` seconds or :meth:`release` frees it. Raises
    InputInvalid (422) for a key that is empty or longer than 255 characters."""

    def __init__(self, redis: Redis, tenant: str, key: str, body_hash: str, ttl_s: int,
                 lease_s: int) -> None:
        if not key or len(key) > 255:
            raise InputInvalid([{"field": "Idempotency-Key", "location": "header",
                                 "message": "must be 1-255 characters"}])
        self.redis = redis
        self.redis_key = keys.IDEMPOTENCY.format(tenant=tenant, key=key)
        self.body_hash = body_hash
        self.ttl_s = ttl_s
        self.lease_s = lease_s

    async def begin(self) -> tuple[int, Any] | None:
        """Claim the key; return a stored (status, body) to replay instead, if any."""
        claim = json.dumps({"body_hash": self.body_hash, "state": "pending"})
        if await self.redis.set(self.redis_key, claim, nx=True, ex=self.lease_s):
            return None
        raw = await self.redis.get(self.redis_key)
        if raw is None:
            return await self.begin()
        stored = json.loads(raw)
        if stored["body_hash"] != self.body_hash:
            raise Conflict("this Idempotency-Key was already used with a different request body; "
                           "use a new key for a new request", code="idempotency_key_reused")
        if stored["state"] == "pending":
            left = await self.redis.ttl(self.redis_key)
            raise Conflict("a request with this Idempotency-Key is still in progress; retry after "
                           f"it ends (at most {max(left, 1)} s more)",
                           code="idempotency_in_progress",
                           details={"retry_after_seconds": max(left, 1)})
        return stored["status"], stored["response"]

    async def complete(self, status: int, response: Any) -> None:
        """Store the answer (HTTP ``status``, JSON-serializable ``response``) for replays, kept
        ``ttl_s`` seconds."""
        await self.redis.set(self.redis_key, json.dumps(
            {"body_hash": self.body_hash, "state": "done", "status": status, "response": response}),
            ex=self.ttl_s)

    async def release(self) -> None:
        """Free the key (the call failed before an answer worth replaying): a retry runs again."""
        await self.redis.delete(self.redis_key)
