"""Helpers for the polling and delivery tests: a runtime in the test process (same Redis and
sandbox as the API), a webhook receiver, and small drivers for polls and deliveries."""

from __future__ import annotations

import asyncio
import time

import pytest
from standardwebhooks.webhooks import Webhook

from engine.core import keys
from engine.core.clock import Clock
from engine.core.settings import Settings
from arq.connections import RedisSettings, create_pool
from arq.worker import Worker

from engine import worker
from engine.polling import delivery, poller, subscriptions
from engine.wiring import open_runtime
from tests.receiver import Receiver


class SkippingClock(Clock):
    """The real clock plus the time a test skipped (``skipped_s``): what is due by the
    runtime's clock (a delivery, its next try, the end of a secret's overlap) comes due at once
    instead of after a sleep. It never runs behind the real clock."""

    def __init__(self) -> None:
        self.skipped_s = 0.0

    def now_s(self) -> float:
        return time.time() + self.skipped_s

    def skip_to(self, at_s: float) -> None:
        """Move on to ``at_s`` (epoch seconds), or stay if the clock is past it already."""
        self.skipped_s = max(self.skipped_s, at_s - time.time())


@pytest.fixture
async def rt(sandbox, tenant):
    """A runtime in the test process, its clock a :class:`SkippingClock`; at the end the test's
    tenant unsubscribes everything, so no watch or delivery is left due for the next test."""
    runtime = await open_runtime(Settings(ENGINE_DELIVERY_RETRY_SCHEDULE="0.3,0.3,0.3",
                                          ENGINE_DELIVERY_LEASE_SECONDS="5"))
    runtime.clock = SkippingClock()
    yield runtime
    for sub_id in await runtime.redis.smembers(keys.TENANT_SUBSCRIPTIONS.format(tenant=tenant)):
        await subscriptions.remove(runtime, sub_id.decode())
    await runtime.close()


@pytest.fixture
def receiver():
    recv = Receiver().start()
    yield recv
    recv.stop()


def subscribe(api, connection, receiver, trigger="contacts.search_contacts", params=None,
              interval=1, status=201, target_url: str | None = None) -> dict:
    """Subscribe ``receiver`` (or ``target_url``: two identical subscriptions are refused, so
    several on one watch use the receiver's URL with different query strings)."""
    resp = api.post("/v1/subscriptions", json={
        "trigger": trigger, "connection_id": connection["id"], "params": params or {},
        "target_url": target_url or receiver.url, "interval_minutes": interval})
    assert resp.status_code == status, resp.text
    return resp.json()


async def watch_of(rt, sub_id: str) -> str:
    return (await rt.redis.hget(keys.SUBSCRIPTION.format(sub_id=sub_id), "watch")).decode()


async def poll(rt, sub_id: str) -> poller.PollResult:
    return await poller.poll_watch(rt, await watch_of(rt, sub_id))


async def deliver_all(rt, sub_ids, timeout: float = 60.0) -> None:
    """Run the delivery jobs of these subscriptions until their queues are empty."""
    deadline = time.time() + timeout

    async def drain(sub_id: str) -> None:
        while await rt.redis.llen(keys.SUB_QUEUE.format(sub_id=sub_id)):
            assert time.time() < deadline, f"deliveries of {sub_id} still queued"
            await delivery.run_subscription(rt, sub_id)
            await asyncio.sleep(0.05)

    await asyncio.gather(*(drain(s) for s in sub_ids))


async def run_until(rt, done, timeout: float = 15.0, *, skip: bool = False) -> None:
    """Run the production worker's scheduler tick (``engine.worker.tick``: polls as tasks,
    delivery jobs through arq's queue in Redis) and an arq worker for the jobs it enqueues,
    here in the test process, until done(). With ``skip``, a round that leaves done() false
    moves the runtime's :class:`SkippingClock` on to the next delivery due (a retry's backoff
    passes without waiting for it)."""
    pool = await create_pool(RedisSettings.from_dsn(rt.settings.redis_url))
    ctx = worker.context(rt, {"redis": pool})
    jobs = Worker(functions=worker.WorkerSettings.functions, redis_pool=pool, burst=True, ctx=ctx,
                  handle_signals=False, poll_delay=0.01, max_jobs=worker.WorkerSettings.max_jobs)
    deadline = time.time() + timeout
    try:
        while not done():
            assert time.time() < deadline, "timed out"
            await worker.tick(ctx)
            await worker.settle(ctx)
            await jobs.main()  # burst: runs the queued jobs, returns when the queue is empty
            if skip:
                due = await rt.redis.zrange(keys.DELIVERIES_DUE, 0, 0, withscores=True)
                if due and not done():
                    rt.clock.skip_to(due[0][1] / 1000)
                await asyncio.sleep(0.01)
            else:
                await asyncio.sleep(0.1)
    finally:
        await worker.settle(ctx)
        await pool.aclose()


def verified(receiver: Receiver, secret: str) -> list[dict]:
    """Every accepted delivery, each checked with standardwebhooks' verify."""
    out = []
    for r in receiver.accepted():
        out.append(Webhook(secret).verify(r["raw"], r["headers"]))
    return out


def seed(sandbox, count: int = 1, **fields) -> list[str]:
    resp = sandbox.post("/_sandbox/seed/contacts", json={"count": count, "fields": fields})
    resp.raise_for_status()
    return resp.json()["ids"]


def object_id(item_id: str) -> str:
    """The upstream id inside a delivery's ``item_id``: a trigger that fires on changes (the
    contact and opportunity searches) keys each item as ``<id>@<updated time>``."""
    return item_id.split("@", 1)[0]


def stats(sandbox, key: str) -> int:
    return sandbox.get("/_sandbox/stats").json()["requests"].get(key, 0)
