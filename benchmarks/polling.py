"""Helpers shared by the polling benchmarks: locations and connections, subscriptions created
through the engine's own Python API (in the benchmark process, against the stack's Redis), and
readings of the watches' state."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Awaitable, Callable, Iterable

import httpx

from benchmarks.harness import Stack, log
from engine.accounts import connections
from engine.core import keys
from engine.polling import subscriptions
from engine.runtime import Runtime
from engine.wiring import open_runtime

TENANT = "bench"
# the sandbox's limits in the polling benchmarks: GHL's budget (100 requests per 10 s per
# location) and no added latency
POLLING_SANDBOX = {"rate_limit": 100, "window_ms": 10_000, "latency_ms": 0}


def start_polling(stack: Stack, worker: bool = True) -> None:
    """Start what a polling benchmark runs on: the sandbox with ``POLLING_SANDBOX``, the webhook
    receiver (``stack.receiver``) and, with ``worker``, one worker process (``stack.worker``)."""
    stack.start_sandbox(POLLING_SANDBOX)
    stack.start_receiver()
    if worker:
        stack.worker = stack.start_worker()


def each_repeat(name: str, repeats: int, measure: Callable[[Stack, int], Awaitable[dict]]
                ) -> list[dict]:
    """Run ``measure(stack, repeat)`` (repeat 0-based) once per repeat, each on a fresh stack
    started by :func:`start_polling` and stopped after it; returns the results in order."""
    out = []
    for rep in range(repeats):
        log(f"{name}: repeat {rep + 1}/{repeats}")
        with Stack() as s:
            start_polling(s)
            out.append(asyncio.run(measure(s, rep)))
    return out


def settings_for(stack: Stack):
    """The engine settings of the stack's processes, for engine code run in this process."""
    from engine.core.settings import Settings

    return Settings(**{k: v for k, v in stack.env.items()
                       if k.startswith(("ENGINE_", "GHL_", "SMSGLOBAL_")) or k == "REDIS_URL"})


async def runtime_for(stack: Stack) -> Runtime:
    return await open_runtime(settings_for(stack))


async def locations(stack: Stack, rt: Runtime, n: int, prefix: str = "loc_bench") -> list[str]:
    """``n`` GHL locations in the sandbox, each with its own token and engine connection;
    returns the connection ids."""
    out = []
    async with httpx.AsyncClient(base_url=stack.sandbox.url, timeout=30) as client:
        for i in range(n):
            loc = f"{prefix}_{i:05d}"
            tok = (await client.post("/_sandbox/tokens", json={"location_id": loc})).json()["token"]
            conn = await connections.create(
                rt.redis, rt.vault, tenant=TENANT, app="ghl", name=loc, auth="private_token",
                secret={"access_token": tok}, location_id=loc)
            out.append(conn.id)
    return out


async def subscribe_many(rt: Runtime, specs: Iterable[dict[str, Any]], concurrency: int = 32
                         ) -> list[dict[str, Any]]:
    """Create subscriptions (``subscriptions.create`` keyword arguments) ``concurrency`` at a time."""
    specs = list(specs)
    out: list[dict[str, Any]] = [None] * len(specs)  # type: ignore[list-item]
    sem = asyncio.Semaphore(concurrency)

    async def one(i: int, spec: dict[str, Any]) -> None:
        async with sem:
            out[i] = await subscriptions.create(rt, TENANT, **spec)

    await asyncio.gather(*[one(i, s) for i, s in enumerate(specs)])
    return out


async def watch_ids(rt: Runtime) -> list[str]:
    return [m.decode() for m in await rt.redis.zrange(keys.WATCHES_DUE, 0, -1)]


async def hash_field(rt: Runtime, hashes: dict[str, str], field: str) -> dict[str, bytes]:
    """One field of many Redis hashes, read in pipelined chunks of 2,000. ``hashes`` maps an id
    to its hash's key; returns ``{id: raw value}`` for the hashes that hold the field."""
    ids = list(hashes)
    out: dict[str, bytes] = {}
    for i in range(0, len(ids), 2000):
        chunk = ids[i:i + 2000]
        async with rt.redis.pipeline(transaction=False) as pipe:
            for one in chunk:
                pipe.hget(hashes[one], field)
            vals = await pipe.execute()
        out.update({one: v for one, v in zip(chunk, vals) if v})
    return out


async def last_polls(rt: Runtime, ids: list[str]) -> dict[str, float]:
    """Each watch's last poll start (seconds), for those that have polled."""
    got = await hash_field(rt, {w: keys.WATCH.format(watch_id=w) for w in ids}, "last_poll_at")
    return {w: float(v) for w, v in got.items()}


async def wait_primed(rt: Runtime, ids: list[str], timeout: float) -> float:
    """Wait until every watch has polled once; the seconds it took (or the timeout)."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if len(await last_polls(rt, ids)) >= len(ids):
            return time.monotonic() - start
        await asyncio.sleep(1.0)
    return float("nan")


async def due_scores(rt: Runtime) -> dict[str, float]:
    return {m.decode(): s for m, s in await rt.redis.zrange(keys.WATCHES_DUE, 0, -1, withscores=True)}
