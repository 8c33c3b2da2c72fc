"""The composition root: builds the :class:`~engine.runtime.Runtime` and wires the callbacks
that run against the direction of the imports.

Imports point down, from flows to polling to actions, oauth, runtime, upstream, accounts, spec
and core (checked by the import-linter contract in pyproject.toml). Where a lower layer must
reach a higher one, it calls a hook on ``rt.hooks``, set here:

- OAuth token renewal (``engine.oauth``) → watch pause and resume (``engine.polling``);
- the outbox (``engine.polling.delivery``) → a flow run (``engine.flows``).

The API process (``api.app``), the worker (``engine.worker``), the CLI, tests and benchmarks
all build their runtime with :func:`open_runtime`.
"""

from __future__ import annotations

import httpx
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ReadOnlyError

from engine.accounts.vault import Vault
from engine.core.settings import Settings, get_settings
from engine.flows import runs as flow_runs
from engine.oauth.tokens import TokenManager
from engine.polling import subscriptions
from engine.runtime import Hooks, Runtime
from engine.upstream.budget import Budget, Limits
from engine.upstream.client import Upstream


def limits_from(settings: Settings) -> Limits:
    """The rate budget's limits from ENGINE_RATE_* settings (window and margin in ms)."""
    return Limits(burst=settings.rate_burst, window_ms=settings.rate_window_ms,
                  margin_ms=settings.rate_margin_ms, daily=settings.rate_daily,
                  reserve=settings.rate_reserve)


def hooks() -> Hooks:
    """The production callbacks: watches follow their connection's OAuth state, and flow
    subscriptions' deliveries run their flow."""
    return Hooks(connection_paused=subscriptions.pause_watches_for_connection,
                 connection_resumed=subscriptions.resume_watches_for_connection,
                 flow_sink=flow_runs.deliver)


def connect_redis(url: str, timeout_s: float = 10.0) -> Redis:
    """The engine's Redis client for ``url`` (redis-py's URL form). Connecting and each command
    wait at most ``timeout_s`` seconds (then redis's TimeoutError). A command answered
    ``READONLY`` (the node is a replica now: a managed service's failover demoted it while this
    connection stayed open) drops that connection and runs once more on a new one, which
    resolves the endpoint's name again and so reaches the new primary; a second ``READONLY``
    raises redis's ReadOnlyError. A write refused that way was not applied, so running it
    again is safe; other errors are raised as before (no retry)."""
    return Redis.from_url(url, retry=Retry(NoBackoff(), 1, supported_errors=()),
                          retry_on_error=[ReadOnlyError], socket_timeout=timeout_s,
                          socket_connect_timeout=timeout_s)


async def open_runtime(settings: Settings | None = None,
                       transport: httpx.AsyncBaseTransport | None = None) -> Runtime:
    """A wired runtime for ``settings`` (default: the environment's). ``transport`` replaces
    the upstream HTTP transport (benchmarks). Close it with ``await rt.close()``."""
    settings = settings or get_settings()
    redis = connect_redis(settings.redis_url, settings.redis_timeout_seconds)
    budget = Budget(redis, limits_from(settings))
    rt = Runtime(settings=settings, redis=redis, vault=Vault(settings.fernet_keys()),
                 budget=budget, upstream=Upstream(settings, budget, transport=transport),
                 hooks=hooks())
    rt.upstream.tokens = TokenManager(rt)
    return rt
