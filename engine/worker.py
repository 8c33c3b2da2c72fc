"""The arq worker: its functions and cron jobs.

Run with ``ghl-engine worker``. :func:`tick`, the one scheduler tick, runs every second in every
worker (claims are atomic, so several workers may tick together); it runs the polls it claims as
tasks of its own worker and enqueues one ``deliver_subscription`` job per claimed subscription,
which any worker runs. Tests drive this same tick (with :func:`context` and :func:`settle`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import Any

from arq import cron, func
from arq.connections import RedisSettings
from redis.exceptions import RedisError

from engine.core import keys
from engine.core.logs import setup_logging
from engine.core.settings import get_settings
from engine.inbound import installs, pokes
from engine.inbound.queue import Consumer, Dispatcher
from engine.polling import delivery, poller
from engine.provider import loop as provider_loop
from engine.provider import outbound as provider_outbound
from engine.provider import replies as provider_replies
from engine.runtime import Runtime
from engine.wiring import open_runtime

log = logging.getLogger("engine.worker")

# Polls run as tasks of the worker that claimed them, ENGINE_POLL_CONCURRENCY (96) at once; a
# tick claims no more than poll_backlog() minus the polls this worker already holds, so the other
# workers' ticks claim the rest. (As arq jobs, each poll cost arq's own Redis round trips on top
# of its own, and arq starts jobs one after another: one worker stalled near 100 polls/s, short
# of 10,000 watches a minute.)
EVENT_WAKE_MS = 200  # the event reader's longest wait, so a debounced poll starts this late at most
POLL_BACKLOG = 400


def poll_backlog(concurrency: int) -> int:
    """The most polls one worker holds (running or waiting for a place): POLL_BACKLOG, and at
    least 4 × ``concurrency`` (its places at once), so a worker allowed many polls at once is
    never short of claimed ones."""
    return max(POLL_BACKLOG, 4 * concurrency)

DELIVER_JOB = "deliver_subscription"


def deliver_job_id(sub_id: str, slot_ms: int) -> str:
    """The arq job id of one claim: arq refuses an id whose job or kept result still exists,
    so the claimed slot (ms) is part of it (a job cannot re-enqueue itself under its own id)."""
    return f"deliver:{sub_id}:{slot_ms}"


def context(rt: Runtime, ctx: dict[str, Any] | None = None) -> dict[str, Any]:
    """The worker's state in arq's ``ctx``: the runtime, the polls it runs (asyncio tasks) and
    the semaphore that runs ``ENGINE_POLL_CONCURRENCY`` of them at once. ``ctx["redis"]`` (arq's pool,
    which enqueues the delivery jobs) is arq's own."""
    ctx = {} if ctx is None else ctx
    ctx.update(rt=rt, polls=set(),
               poll_slots=asyncio.Semaphore(rt.settings.poll_concurrency))
    return ctx


async def startup(ctx: dict[str, Any]) -> None:
    """arq start-up: logging, the wired runtime, the worker's poll state, the pushed-events reader."""
    settings = get_settings()
    setup_logging(settings.log_level, settings.log_format)
    context(await open_runtime(settings), ctx)
    consumer = Consumer(ctx["rt"], event_dispatcher(), name=f"worker-{os.getpid()}")
    ctx["events"] = asyncio.create_task(_consume_events(ctx, consumer))
    ctx["provider"] = asyncio.create_task(provider_loop.serve(ctx["rt"]))


def event_dispatcher() -> Dispatcher:
    """The handlers of pushed events, by event type (see :mod:`engine.inbound.queue`): every
    event pokes the watches it signals; app installs and uninstalls change connections; GHL's
    ProviderOutboundMessage and SMSGlobal's receipts and replies also go to the SMS provider
    (:mod:`engine.provider`)."""
    dispatcher = (Dispatcher().on(None, pokes.poke)
                  .on("ProviderOutboundMessage", provider_outbound.on_outbound_event)
                  .on("SmsDeliveryReceipt", provider_outbound.on_receipt_event)
                  .on("SmsIncoming", provider_replies.on_incoming_event))
    for event_type in installs.INSTALL_TYPES:
        dispatcher.on(event_type, installs.installed)
    for event_type in installs.UNINSTALL_TYPES:
        dispatcher.on(event_type, installs.uninstalled)
    return dispatcher


async def _consume_events(ctx: dict[str, Any], consumer: Consumer) -> None:
    """Handle pushed events as they arrive; polls they made due start at once, and the polls
    they scheduled at the end of a debounce window within EVENT_WAKE_MS of it, not at the next
    one-second tick."""
    rt = ctx["rt"]
    while True:
        try:
            handled = await consumer.step(block_ms=EVENT_WAKE_MS)
            if handled or await rt.redis.zrangebyscore(
                    keys.WATCHES_DUE, "-inf", int(time.time() * 1000), start=0, num=1):
                await tick(ctx)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - keep reading; Redis may be back in a moment
            log.exception("reading pushed events failed")
            await asyncio.sleep(1)


async def shutdown(ctx: dict[str, Any]) -> None:
    """arq shut-down: stop reading events and provider work, cancel the polls still running,
    close the runtime."""
    for name in ("events", "provider"):
        task = ctx.get(name)
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    polls = ctx.get("polls") or set()
    for task in list(polls):
        task.cancel()
    if polls:
        await asyncio.gather(*polls, return_exceptions=True)
    rt = ctx.get("rt")
    if rt is not None:
        await rt.close()


async def _run_poll(ctx: dict[str, Any], watch_id: str, slot_ms: int | None = None) -> None:
    async with ctx["poll_slots"]:
        try:
            result = await asyncio.wait_for(poller.poll_watch(ctx["rt"], watch_id, slot_ms=slot_ms),
                                            timeout=ctx["rt"].settings.poll_lease_seconds)
            if result.deliveries:  # send them now rather than at the next tick
                await _enqueue_deliveries(ctx)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - one failed poll must not stop the others
            log.exception("poll of watch %s failed", watch_id)


async def tick(ctx: dict[str, Any]) -> dict[str, int]:
    """The scheduler tick (arq cron, every second): claim the due watches (as many as this
    worker has room for) and start their polls as tasks; claim the subscriptions with a delivery
    due and enqueue a job for each. Returns ``{"polls": claimed, "deliveries": enqueued}``."""
    rt = ctx["rt"]
    polls: set = ctx["polls"]
    free = poll_backlog(rt.settings.poll_concurrency) - len(polls)
    watches = await poller.claim_due(rt, limit=free) if free > 0 else []
    for watch_id, slot_ms in watches:
        log.debug("claimed watch %s slot %d", watch_id, slot_ms)
        task = asyncio.create_task(_run_poll(ctx, watch_id, slot_ms))
        polls.add(task)
        task.add_done_callback(polls.discard)
    return {"polls": len(watches), "deliveries": await _enqueue_deliveries(ctx)}


async def settle(ctx: dict[str, Any]) -> None:
    """Wait until the polls this worker started (and the polls they left due) have finished."""
    while ctx["polls"]:
        await asyncio.gather(*list(ctx["polls"]), return_exceptions=True)


async def _enqueue_deliveries(ctx: dict[str, Any]) -> int:
    subs = await delivery.claim_due(ctx["rt"])
    for sub_id, slot_ms in subs:
        await ctx["redis"].enqueue_job(DELIVER_JOB, sub_id, _job_id=deliver_job_id(sub_id, slot_ms))
    return len(subs)


async def deliver_subscription(ctx: dict[str, Any], sub_id: str) -> dict[str, int]:
    """The delivery job: send the subscription's queued deliveries in order
    (:func:`engine.polling.delivery.run_subscription`)."""
    return await delivery.run_subscription(ctx["rt"], sub_id)


class WorkerSettings:
    """The arq worker (``ghl-engine worker``): the delivery job, the tick every second."""
    functions = [
        func(deliver_subscription, name=DELIVER_JOB, keep_result=0, max_tries=1,
             timeout=get_settings().delivery_lease_seconds + get_settings().delivery_timeout_seconds
             + 5),
    ]
    # unique=False: every worker ticks every second; the claim scripts keep each slot to one job
    cron_jobs = [cron(tick, name="scheduler_tick", second=set(range(60)), microsecond=0,
                      run_at_startup=True, unique=False, keep_result=0, max_tries=1, timeout=30)]
    on_startup = startup
    on_shutdown = shutdown
    redis_settings = RedisSettings.from_dsn(get_settings().redis_url)
    # arq starts at most max_jobs - running jobs per queue check, one check per poll_delay
    max_jobs = 50
    poll_delay = 0.05


RECONNECT_MAX_SECONDS = 30.0


def run_forever() -> None:
    """Run the arq worker until a signal stops it. When Redis becomes unreachable (arq's loop
    raises), wait (1 s, doubling to RECONNECT_MAX_SECONDS) and start it again in this same
    process, instead of exiting; work claimed before the outage is leased, so it is claimed
    again once its lease ends."""
    from arq.worker import create_worker

    delay_s = 1.0
    while True:
        started = time.monotonic()
        try:
            create_worker(WorkerSettings).run()
            return  # stopped by SIGINT or SIGTERM
        except (RedisError, OSError) as exc:
            if time.monotonic() - started > 60:
                delay_s = 1.0  # it ran a while: this is a new outage
            log.warning("Redis is unreachable (%s); the worker starts again in %.0f s",
                        type(exc).__name__, delay_s)
        time.sleep(delay_s)
        delay_s = min(delay_s * 2, RECONNECT_MAX_SECONDS)
