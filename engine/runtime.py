"""The runtime: what every API process and worker shares (settings, Redis, vault, upstream),
and the callbacks that let a lower layer reach a higher one without importing it.

The container is built and wired by :func:`engine.wiring.open_runtime`, the composition root;
nothing here imports above :mod:`engine.upstream`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from redis.asyncio import Redis

from engine.accounts.vault import Vault
from engine.core.clock import Clock
from engine.core.settings import Settings
from engine.upstream.budget import Budget
from engine.upstream.client import Upstream

# (runtime, connection id, reason) -> None: a connection's credentials stopped working
ConnectionPaused = Callable[["Runtime", str, str], Awaitable[Any]]
# (runtime, connection id) -> None: a connection's credentials work again
ConnectionResumed = Callable[["Runtime", str], Awaitable[Any]]
# (runtime, flow id, delivery {webhook_id, delivery_id, subscription_id, trigger, item_id, data})
# -> None; raises when the delivery should be tried again
FlowSink = Callable[["Runtime", str, dict[str, Any]], Awaitable[Any]]


async def _ignore(*_args: Any) -> None:
    return None


async def _no_flows(_rt: "Runtime", flow_id: str, _delivery: dict[str, Any]) -> None:
    raise RuntimeError(f"this runtime has no flow runner wired, so flow {flow_id} cannot run; "
                       "build the runtime with engine.wiring.open_runtime")


@dataclass
class Hooks:
    """Callbacks wired by the composition root (:mod:`engine.wiring`).

    - ``connection_paused``: OAuth marked a connection ``needs_reauth`` (its watches pause).
    - ``connection_resumed``: a connection was authorized again (its watches resume).
    - ``flow_sink``: the outbox hands one delivery to a no-code flow.
    """

    connection_paused: ConnectionPaused = _ignore
    connection_resumed: ConnectionResumed = _ignore
    flow_sink: FlowSink = _no_flows


@dataclass
class Runtime:
    """Settings, the Redis client, the vault, the rate budget, the upstream client, the
    wired :class:`Hooks` and the wall ``clock`` (:class:`~engine.core.clock.Clock`, the real one
    unless given), shared by every request or job of one process."""

    settings: Settings
    redis: Redis
    vault: Vault
    budget: Budget
    upstream: Upstream
    hooks: Hooks = field(default_factory=Hooks)
    clock: Clock = field(default_factory=Clock)

    async def close(self) -> None:
        """Close the upstream HTTP pool and the Redis connection pool."""
        await self.upstream.close()
        await self.redis.aclose()
