"""Benchmark 1 — coalescing: 1,000 subscriptions over 10 distinct watches.

Two complete stacks run side by side in the same minute (each: its own Redis, sandbox and one
worker process), so machine noise falls on both:

* **coalesced** — 10 locations, 100 subscriptions each to ``contacts.search_contacts`` with
  the same params: 10 watches, the engine's way.
* **per subscription** — the same 10 locations and 1,000 subscriptions, each with params of
  its own, so each is its own watch and is polled once per subscription, the way connectors
  without shared watches poll.

Every subscription polls each minute (the shortest interval). After every watch's first
(priming) poll, one full interval is measured: upstream requests the sandbox received in
exactly one interval (from its request log), and the worker's CPU seconds (the sandbox's and
Redis's CPU are reported apart).

Target: the coalesced side costs 10 upstream calls per interval.
"""

from __future__ import annotations

import asyncio
import time

import httpx

from benchmarks.harness import Stack, arguments, log, record, show, spread
from benchmarks.polling import (locations, runtime_for, start_polling, subscribe_many, wait_primed,
                                watch_ids)

TRIGGER = "contacts.search_contacts"


async def _prepare(stack: Stack, n_loc: int, per_loc: int, coalesced: bool) -> dict:
    rt = await runtime_for(stack)
    try:
        conns = await locations(stack, rt, n_loc)
        target = stack.receiver.url + "/hook"
        specs = []
        for j in range(per_loc):
            for conn in conns:
                params = {"query": "bench"} if coalesced else {"query": f"bench-{j}"}
                specs.append({"trigger": TRIGGER, "connection_id": conn, "params": params,
                              "interval_minutes": 1,  # identical subscriptions are refused
                              "target_url": f"{target}?sub={j}"})
        # in batches of 100, 1.5 s apart: the per-subscription side's first polls (100 new
        # watches per location) then stay inside GHL's budget instead of waiting a minute
        for i in range(0, len(specs), 100):
            await subscribe_many(rt, specs[i:i + 100])
            await asyncio.sleep(1.5)
        ids = await watch_ids(rt)
        primed = await wait_primed(rt, ids, timeout=120)
        return {"subscriptions": len(specs), "watches": len(ids), "priming_s": round(primed, 2)}
    finally:
        await rt.close()


def _side(coalesced: bool) -> Stack:
    s = Stack()
    start_polling(s)
    return s


def _in_interval(s: Stack, t0: float, interval_s: float) -> int:
    """Upstream requests for the trigger whose arrival lies in exactly one interval [t0, t0+I),
    from the sandbox's request log (wall clock, same machine)."""
    reqs = httpx.get(s.sandbox.url + "/_sandbox/requests", timeout=30).json()["requests"]
    return sum(1 for r in reqs if r["route"] == TRIGGER and t0 <= r["t"] < t0 + interval_s)


def _reading(s: Stack) -> dict:
    st = s.sandbox_stats()
    return {"t": time.monotonic(), "upstream": st["requests"].get(TRIGGER, 0), "r429": st["rate_limited"],
            "worker_cpu": s.worker.cpu(), "sandbox_cpu": s.sandbox.cpu(), "redis_cpu": s.redis.cpu()}


def run(repeats: int = 2, n_loc: int = 10, per_loc: int = 100, interval_s: float = 60.0) -> dict:
    reps = []
    for rep in range(repeats):
        sides = {"coalesced": _side(True), "per_subscription": _side(False)}
        try:
            async def prep_all():
                return await asyncio.gather(*[_prepare(s, n_loc, per_loc, name == "coalesced")
                                              for name, s in sides.items()])

            preps = dict(zip(sides, asyncio.run(prep_all())))
            log(f"coalescing repeat {rep + 1}/{repeats}: set up {preps}")
            time.sleep(2.0)  # let any poll in flight finish
            before = {n: _reading(s) for n, s in sides.items()}
            t0 = time.time()
            time.sleep(interval_s)
            after = {n: _reading(s) for n, s in sides.items()}
            time.sleep(1.0)  # requests near the interval's end land in the log
            exact = {n: _in_interval(s, t0, interval_s) for n, s in sides.items()}
            rec = {}
            for n in sides:
                b, a = before[n], after[n]
                scale = interval_s / (a["t"] - b["t"])
                rec[n] = {**preps[n],
                          "upstream_per_interval": exact[n],
                          "upstream_in_measured_window_scaled": round(
                              (a["upstream"] - b["upstream"]) * scale, 1),
                          "sandbox_429": a["r429"] - b["r429"],
                          "worker_cpu_s_per_interval": round((a["worker_cpu"] - b["worker_cpu"]) * scale, 3),
                          "sandbox_cpu_s_per_interval": round((a["sandbox_cpu"] - b["sandbox_cpu"]) * scale, 3),
                          "redis_cpu_s_per_interval": round((a["redis_cpu"] - b["redis_cpu"]) * scale, 3),
                          "worker_rss_mb": round(sides[n].worker.rss() / 2**20, 1)}
            reps.append(rec)
            log(f"  coalesced {rec['coalesced']['upstream_per_interval']} req/interval, "
                f"worker {rec['coalesced']['worker_cpu_s_per_interval']} CPU s; per-subscription "
                f"{rec['per_subscription']['upstream_per_interval']} req/interval, worker "
                f"{rec['per_subscription']['worker_cpu_s_per_interval']} CPU s")
        finally:
            for s in sides.values():
                s.close()

    def med(side: str, field: str) -> dict:
        return spread([r[side][field] for r in reps])

    c_up = med("coalesced", "upstream_per_interval")
    result = {
        "target": {"coalesced_upstream_per_interval": n_loc},
        "measured": {
            "coalesced_upstream_per_interval": c_up["median"],
            "per_subscription_upstream_per_interval": med("per_subscription", "upstream_per_interval")["median"],
            "coalesced_worker_cpu_s_per_interval": med("coalesced", "worker_cpu_s_per_interval")["median"],
            "per_subscription_worker_cpu_s_per_interval":
                med("per_subscription", "worker_cpu_s_per_interval")["median"],
            "coalesced_sandbox_cpu_s_per_interval": med("coalesced", "sandbox_cpu_s_per_interval")["median"],
            "per_subscription_sandbox_cpu_s_per_interval":
                med("per_subscription", "sandbox_cpu_s_per_interval")["median"],
        },
        "met": c_up["median"] is not None and c_up["median"] <= n_loc,
        "spread": {f"{side}.{f}": med(side, f) for side in ("coalesced", "per_subscription")
                   for f in ("upstream_per_interval", "worker_cpu_s_per_interval")},
        "repeats": reps,
        "params": {"locations": n_loc, "subscriptions_per_location": per_loc, "interval_s": interval_s,
                   "trigger": TRIGGER, "worker_processes_per_side": 1},
    }
    return record("coalescing", result, "benchmarks.bench_coalescing")


if __name__ == "__main__":
    show(run(arguments(__doc__, ("--repeats", 2)).repeats))
