"""Idempotency-Key: the same key with the same body within 24 h returns the stored response
without calling upstream again; the same key with another body is a conflict.

A key is claimed (``pending``) before the call, so two concurrent requests with one key cannot
both reach upstream. The claim is a lease: it expires after ``lease`` seconds (longer than a
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
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


class Idempotency:
    def __init__(self, redis: Redis, tenant: str, key: str, body_hash: str, ttl: int,
                 lease: int) -> None:
        if not key or len(key) > 255:
            raise InputInvalid([{"field": "Idempotency-Key", "location": "header",
                                 "message": "must be 1-255 characters"}])
        self.redis = redis
        self.redis_key = keys.IDEMPOTENCY.format(tenant=tenant, key=key)
        self.body_hash = body_hash
        self.ttl = ttl
        self.lease = lease

    async def begin(self) -> tuple[int, Any] | None:
        """Claim the key; return a stored (status, body) to replay instead, if any."""
        claim = json.dumps({"body_hash": self.body_hash, "state": "pending"})
        if await self.redis.set(self.redis_key, claim, nx=True, ex=self.lease):
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
        await self.redis.set(self.redis_key, json.dumps(
            {"body_hash": self.body_hash, "state": "done", "status": status, "response": response}),
            ex=self.ttl)

    async def release(self) -> None:
        await self.redis.delete(self.redis_key)
