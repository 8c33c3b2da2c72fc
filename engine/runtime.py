"""The runtime: what every API process and worker shares (settings, Redis, vault, upstream)."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from redis.asyncio import Redis

from engine.accounts.vault import Vault
from engine.core.settings import Settings, get_settings
from engine.upstream.budget import Budget, Limits
from engine.upstream.client import Upstream


@dataclass
class Runtime:
    settings: Settings
    redis: Redis
    vault: Vault
    budget: Budget
    upstream: Upstream

    async def close(self) -> None:
        await self.upstream.close()
        await self.redis.aclose()


def limits_from(settings: Settings) -> Limits:
    return Limits(burst=settings.rate_burst, window_ms=settings.rate_window_ms,
                  margin_ms=settings.rate_margin_ms, daily=settings.rate_daily,
                  reserve=settings.rate_reserve)


async def open_runtime(settings: Settings | None = None,
                       transport: httpx.AsyncBaseTransport | None = None) -> Runtime:
    settings = settings or get_settings()
    redis = Redis.from_url(settings.redis_url)
    vault = Vault(settings.fernet_keys())
    budget = Budget(redis, limits_from(settings))
    rt = Runtime(settings=settings, redis=redis, vault=vault, budget=budget,
                 upstream=Upstream(settings, budget, transport=transport))
    from engine.oauth.tokens import TokenManager

    rt.upstream.tokens = TokenManager(rt)
    return rt
