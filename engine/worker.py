"""The arq worker: its functions and cron jobs.

Run with ``ghl-engine worker``. Polls, deliveries and the scheduler tick are registered here.
"""

from __future__ import annotations

from typing import Any

from arq.connections import RedisSettings

from engine.logs import setup_logging
from engine.runtime import open_runtime
from engine.settings import get_settings


async def startup(ctx: dict[str, Any]) -> None:
    settings = get_settings()
    setup_logging(settings.log_level)
    ctx["rt"] = await open_runtime(settings)


async def shutdown(ctx: dict[str, Any]) -> None:
    rt = ctx.get("rt")
    if rt is not None:
        await rt.close()


class WorkerSettings:
    functions: list = []
    cron_jobs: list = []
    on_startup = startup
    on_shutdown = shutdown
    redis_settings = RedisSettings.from_dsn(get_settings().redis_url)
