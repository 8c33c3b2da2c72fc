"""The provider loop each worker runs: claim due provider work and do it, waking at once when
new work is recorded (``keys.PROVIDER_READY``) and at least every second otherwise."""

from __future__ import annotations

import asyncio
import logging

from engine.core import keys
from engine.provider import outbound, replies, work
from engine.runtime import Runtime

log = logging.getLogger("engine.provider.loop")

CONCURRENCY = 32


async def run_one(rt: Runtime, work_id: str) -> None:
    """Do one claimed piece of work from its recorded state."""
    rec = await work.load(rt.redis, work_id)
    if rec is None:
        await rt.redis.zrem(keys.PROVIDER_DUE, work_id)
        return
    if rec.get("kind") == "outbound":
        await outbound.run(rt, work_id, rec)
    else:
        await replies.run(rt, work_id, rec)


async def step(rt: Runtime, slots: asyncio.Semaphore, tasks: set[asyncio.Task]) -> int:
    """Claim what is due now and start it; returns how many were claimed."""
    free = CONCURRENCY - len(tasks)
    if free <= 0:
        return 0
    ids = await work.claim(rt.redis, lease_s=rt.settings.provider_lease_seconds, limit=free)
    for work_id in ids:
        task = asyncio.create_task(_guarded(rt, work_id, slots))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    return len(ids)


async def _guarded(rt: Runtime, work_id: str, slots: asyncio.Semaphore) -> None:
    async with slots:
        try:
            await run_one(rt, work_id)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - the lease runs out and the work is tried again
            log.exception("provider work %s failed", work_id)


async def serve(rt: Runtime) -> None:
    """Run until cancelled."""
    slots = asyncio.Semaphore(CONCURRENCY)
    tasks: set[asyncio.Task] = set()
    try:
        while True:
            try:
                if not await step(rt, slots, tasks):
                    await rt.redis.blpop([keys.PROVIDER_READY], timeout=1)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - Redis may be back in a moment
                log.exception("the provider loop failed; trying again")
                await asyncio.sleep(1)
    finally:
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
