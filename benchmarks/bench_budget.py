"""Benchmark 5 — the per-location rate budget under three times its demand, two engine processes.

Two API processes (each ``ghl-engine api``, sharing one Redis) take actions for one location at
an open-loop rate of three times GHL's budget (100 requests per 10 s → 30 actions/s in all,
split evenly between the two). The sandbox enforces GHL's sliding window and counts 429s.

Measured:
* the sandbox's 429 count (target: zero);
* the budget used: the time-average, over the steady part of the run (after the first window),
  of the number of requests GHL's own sliding window holds, divided by its limit (target ≥ 90 %).
  The engine keeps ``ENGINE_RATE_MARGIN_MS`` (500 ms) beyond GHL's 10 s window, so the
  ceiling is 10 / 10.5 = 95.2 %.
* what the callers saw: actions served, and actions answered 429 (with Retry-After) by the
  engine because the location's budget stayed spent for longer than ENGINE_RATE_MAX_WAIT_SECONDS.
"""

from __future__ import annotations

import asyncio
import bisect
import time

import httpx

from benchmarks.harness import arguments, log, record, sandbox_location, show, spread, stack, summary

TARGET_USED = 0.90


async def _demand(urls: list[str], key: str, conns: list[str], rate: float, seconds: float
                  ) -> dict:
    counts = {"ok": 0, "engine_429": 0, "other": 0}
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=2000, max_keepalive_connections=400)
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {key}"}, limits=limits,
                                 timeout=60) as client:

        async def one(i: int) -> None:
            t = time.perf_counter()
            try:
                r = await client.post(f"{urls[i % len(urls)]}/v1/actions/contacts.find_contact",
                                      json={"connection_id": conns[i % len(urls)],
                                            "input": {"email": f"d{i}@example.com"}})
                status = r.status_code
            except httpx.HTTPError:
                status = -1
            if status == 200:
                counts["ok"] += 1
                latencies.append(time.perf_counter() - t)
            elif status == 429:
                counts["engine_429"] += 1
            else:
                counts["other"] += 1

        tasks = []
        start = time.monotonic()
        n = int(rate * seconds)
        for i in range(n):
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i)))
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=120)
    return {"sent": n, **counts, "served_latency_s": summary(latencies)}


def _used(times: list[float], limit: int, window_s: float, start: float, end: float) -> float:
    """Time-average of requests inside GHL's sliding window over [start, end), over its limit."""
    times = sorted(times)
    step = 0.01
    total = 0.0
    k = 0
    t = start
    while t < end:
        total += bisect.bisect_right(times, t) - bisect.bisect_right(times, t - window_s)
        k += 1
        t += step
    return total / k / limit if k else float("nan")


def run(repeats: int = 2, seconds: float = 60.0, limit: int = 100, window_ms: int = 10_000,
        factor: float = 3.0) -> dict:
    window_s = window_ms / 1000
    env = {"ENGINE_RATE_BURST": str(limit), "ENGINE_RATE_WINDOW_MS": str(window_ms)}
    reps = []
    with stack(env) as s:
        s.start_sandbox({"rate_limit": limit, "window_ms": window_ms, "latency_ms": 0})
        apis = [s.start_api(), s.start_api()]
        key = s.api_key()
        for rep in range(repeats):
            location = f"loc_budget_{rep}"
            tok = sandbox_location(s.sandbox.url, location, f"Budget {rep}")
            conns = []
            for api in apis:
                r = httpx.post(api.url + "/v1/connections", headers={"Authorization": f"Bearer {key}"},
                               json={"name": f"budget {rep}", "token": tok, "location_id": location})
                assert r.status_code == 201, r.text
                conns.append(r.json()["id"])
            before = s.sandbox_stats()
            rate = factor * limit / window_s
            log(f"budget repeat {rep + 1}/{repeats}: {rate:.0f} actions/s for {seconds:.0f} s "
                f"against a budget of {limit} per {window_s:g} s")
            out = asyncio.run(_demand([a.url for a in apis], key, conns, rate, seconds))
            after = s.sandbox_stats()
            reqs = httpx.get(s.sandbox.url + "/_sandbox/requests").json()["requests"]
            times = [r["t"] for r in reqs if r["path"] == "/contacts/search/duplicate"
                     and r["query"].get("locationId") == location]
            t0 = min(times)
            t_end = t0 + seconds
            used = _used(times, limit, window_s, t0 + window_s, t_end)
            grants_rate = sum(1 for t in times if t0 + window_s <= t < t_end) / (t_end - t0 - window_s)
            rec = {"sandbox_429": after["rate_limited"] - before["rate_limited"],
                   "upstream_requests": len(times), "budget_used": round(used, 4),
                   "grants_per_s_steady": round(grants_rate, 3),
                   "budget_per_s": limit / window_s, **out}
            reps.append(rec)
            log(f"  429s from sandbox: {rec['sandbox_429']}, budget used {used:.1%}, "
                f"served {out['ok']}, engine 429 {out['engine_429']}, other {out['other']}")
            time.sleep(0.5)
    used = spread([r["budget_used"] for r in reps], 4)
    z429 = sum(r["sandbox_429"] for r in reps)
    result = {
        "target": {"sandbox_429": 0, "budget_used_min": TARGET_USED},
        "measured": {"sandbox_429": z429, "budget_used": used["median"]},
        "met": z429 == 0 and used["median"] is not None and used["median"] >= TARGET_USED,
        "spread": {"budget_used": used},
        "repeats": reps,
        "params": {"seconds": seconds, "limit": limit, "window_ms": window_ms, "demand_factor": factor,
                   "engine_processes": 2, "engine_margin_ms": 500, "priority": "interactive (actions)"},
    }
    return record("rate_budget", result, "benchmarks.bench_budget")


if __name__ == "__main__":
    a = arguments(__doc__, ("--repeats", 2), ("--seconds", 60.0))
    show(run(a.repeats, a.seconds))
