"""The lean connection pool's cost, side by side with httpcore's own, in one run.

Two httpx clients with the upstream client's limits (200 connections, 100 kept alive), one on
httpcore's pool and one on :class:`engine.upstream.httppool.LeanConnectionPool`, send the same
requests to the sandbox (its own process) at the same concurrency, in alternating blocks so the
machine's noise falls on both. Measured: this process's CPU per request on each side (the
client's whole cost: httpx, httpcore and its pool bookkeeping), the ratio lean/plain per repeat.
"""

from __future__ import annotations

import asyncio
import time

import httpx

from benchmarks.harness import Stack, arguments, log, record, show, spread
from engine.upstream.httppool import use_lean_pool

LIMITS = httpx.Limits(max_connections=200, max_keepalive_connections=100)


async def _block(client: httpx.AsyncClient, n: int, concurrency: int) -> float:
    """CPU seconds of this process per request over ``n`` requests, ``concurrency`` at once."""
    sem = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with sem:
            try:
                r = await client.get("/_sandbox/stats")
            except httpx.RemoteProtocolError:  # the server closed an idle keep-alive connection
                r = await client.get("/_sandbox/stats")  # just as it was reused: once more
            assert r.status_code < 500, r.text

    cpu = time.process_time()
    await asyncio.gather(*(one() for _ in range(n)))
    return (time.process_time() - cpu) / n


async def _measure(base_url: str, repeats: int, n: int, concurrency: int) -> list[dict]:
    plain = httpx.AsyncClient(base_url=base_url, limits=LIMITS, timeout=30)
    lean = httpx.AsyncClient(base_url=base_url, limits=LIMITS, timeout=30)
    use_lean_pool(lean)
    reps = []
    try:
        await _block(plain, concurrency, concurrency)  # open the connections of both
        await _block(lean, concurrency, concurrency)
        for rep in range(repeats):
            us = {"plain": [], "lean": []}
            for _ in range(4):
                us["plain"].append(await _block(plain, n, concurrency) * 1e6)
                us["lean"].append(await _block(lean, n, concurrency) * 1e6)
            rec = {side: round(min(v), 1) for side, v in us.items()}
            rec["ratio_lean_over_plain"] = round(rec["lean"] / rec["plain"], 3)
            reps.append(rec)
            log(f"httppool repeat {rep + 1}/{repeats}: CPU per request plain {rec['plain']} us, "
                f"lean {rec['lean']} us (ratio {rec['ratio_lean_over_plain']})")
    finally:
        await plain.aclose()
        await lean.aclose()
    return reps


def run(repeats: int = 5, n: int = 1000, concurrency: int = 32) -> dict:
    with Stack() as s:
        s.start_sandbox()
        reps = asyncio.run(_measure(s.sandbox.url, repeats, n, concurrency))
    result = {
        "measured": {"plain_us": spread([r["plain"] for r in reps], 1),
                     "lean_us": spread([r["lean"] for r in reps], 1),
                     "ratio_lean_over_plain": spread([r["ratio_lean_over_plain"] for r in reps])},
        "unit": "client CPU microseconds per request (best of 4 blocks per repeat)",
        "repeats": reps,
        "params": {"repeats": repeats, "requests_per_block": n, "concurrency": concurrency,
                   "max_connections": 200, "max_keepalive_connections": 100},
    }
    return record("httppool", result, "benchmarks.bench_httppool")


if __name__ == "__main__":
    a = arguments(__doc__, ("--repeats", 5), ("--n", 1000), ("--concurrency", 32))
    show(run(a.repeats, a.n, a.concurrency))
