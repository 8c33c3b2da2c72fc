"""The scheduler tick: claim due watches and due deliveries, hand each claim to a job.

The worker's cron runs :func:`tick` every second with arq's enqueue; ``_job_id`` carries the slot,
since arq refuses an id whose job or kept result still exists (a job cannot re-enqueue itself
under its own id). :func:`run_due` runs the same claims inline, for one-process setups and tests.
"""

from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable

from engine.polling import delivery, poller
from engine.runtime import Runtime

log = logging.getLogger("engine.polling.scheduler")

Enqueue = Callable[[str, str, str], Awaitable[Any]]  # (function name, argument, job id)

POLL_JOB = "poll_watch"
DELIVER_JOB = "deliver_subscription"


def poll_job_id(watch_id: str, slot: int) -> str:
    return f"poll:{watch_id}:{slot}"


def deliver_job_id(sub_id: str, slot: int) -> str:
    return f"deliver:{sub_id}:{slot}"


async def tick(rt: Runtime, enqueue: Enqueue) -> dict[str, int]:
    """Claim what is due and enqueue one job per claim."""
    watches = await poller.claim_due(rt)
    for watch_id, slot in watches:
        await enqueue(POLL_JOB, watch_id, poll_job_id(watch_id, slot))
    subs = await delivery.claim_due(rt)
    for sub_id, slot in subs:
        await enqueue(DELIVER_JOB, sub_id, deliver_job_id(sub_id, slot))
    return {"polls": len(watches), "deliveries": len(subs)}


async def run_due(rt: Runtime) -> dict[str, int]:
    """Claim what is due and run it here, now (no queue)."""
    async def run(name: str, arg: str, job_id: str) -> None:
        if name == POLL_JOB:
            await poller.poll_watch(rt, arg)
        else:
            await delivery.run_subscription(rt, arg)

    return await tick(rt, run)
