"""Benchmark 8 — scale-out: 1, 2 and 4 worker processes sharing the watches of one Redis.

20,000 watches of Search Contacts (``--watches``) over 400 sandbox locations (50 each, well
inside GHL's 100 requests per 10 s per location), one subscription each with
``interval_minutes=1``. So that the run takes minutes, one interval "minute" is shortened to
``--unit`` seconds (``ENGINE_INTERVAL_UNIT_SECONDS``, default 15 s, with
``ENGINE_MIN_INTERVAL_SECONDS=1``): every watch is due every 15 s, 1,333 polls a second in all,
more than one worker on this machine serves, so the polls served show each setup's capacity.

Every watch first primes (with as many workers as the largest setup). Then for each number of
workers (``--workers 1,2,4``): the workers start, run ``--warmup`` s, are measured for
``--window`` s, then stop.
Measured, sampling every watch's ``last_poll_at`` and cursor ``version`` every few seconds:

* throughput: polls committed per second (the cursors' versions moved), and the share of due
  slots served;
* schedule lag: poll start minus the slot it was claimed for, p50 and p99;
* double polls: a second poll committed for a slot the watch was already polled for (each
  commit records its claimed slot, ``last_slot_ms``, and counts a repeat in
  ``repeat_slot_polls``); the claim script should keep this at 0 whatever the number of workers;
* CPU per poll of all workers together, of the sandbox and of Redis, and the workers' as a ratio
  to the sandbox's (the same polls, the same run).

The machine has 2 cores shared with other work: more than 2 workers cannot add cores, and the
sandbox and Redis use the same cores.
"""

from __future__ import annotations

import asyncio
import time

from benchmarks.harness import Stack, arguments, log, record, show, summary
from benchmarks.polling import (locations, runtime_for, start_polling, subscribe_many, wait_primed,
                                watch_ids)
from engine.core import keys

TRIGGER = "contacts.search_contacts"


async def _sample(rt, ids: list[str]) -> dict[str, tuple[float | None, int, float | None]]:
    """Each watch's (last poll start, cursor version, next slot in ms)."""
    out = {}
    due = {m.decode(): s for m, s in await rt.redis.zrange(keys.WATCHES_DUE, 0, -1, withscores=True)}
    for i in range(0, len(ids), 2000):
        chunk = ids[i:i + 2000]
        async with rt.redis.pipeline(transaction=False) as pipe:
            for w in chunk:
                pipe.hget(keys.WATCH.format(watch_id=w), "last_poll_at")
                pipe.hget(keys.CURSOR.format(watch_id=w), "version")
            vals = await pipe.execute()
        for j, w in enumerate(chunk):
            lp, v = vals[2 * j], vals[2 * j + 1]
            out[w] = (float(lp) if lp else None, int(v or 0), due.get(w))
    return out


async def _repeats(rt, ids: list[str]) -> int:
    """Polls committed for a slot their watch had already been polled for, over all watches."""
    total = 0
    for i in range(0, len(ids), 2000):
        async with rt.redis.pipeline(transaction=False) as pipe:
            for w in ids[i:i + 2000]:
                pipe.hget(keys.WATCH.format(watch_id=w), "repeat_slot_polls")
            total += sum(int(v or 0) for v in await pipe.execute())
    return total


async def _measure_setup(s: Stack, rt, ids: list[str], workers: int, interval_s: float,
                         warmup_s: float, window_s: float, sample_s: float) -> dict:
    procs = [s.start_worker() for _ in range(workers)]
    try:
        await asyncio.sleep(warmup_s)
        cpu0 = (sum(p.cpu() for p in procs), s.sandbox.cpu(), s.redis.cpu())
        st0 = s.sandbox_stats()
        start = time.time()
        first = prev = await _sample(rt, ids)
        doubles0 = await _repeats(rt, ids)
        lags: dict[tuple[str, float], float] = {}
        while time.time() - start < window_s:
            await asyncio.sleep(sample_s)
            now = await _sample(rt, ids)
            for w, (lp, v, nxt) in now.items():
                if lp is not None and lp >= start and nxt is not None:
                    slot = nxt / 1000 - interval_s
                    if lp >= slot:
                        lags.setdefault((w, slot), lp - slot)
            prev = now
        elapsed = time.time() - start
        cpu1 = (sum(p.cpu() for p in procs), s.sandbox.cpu(), s.redis.cpu())
        st1 = s.sandbox_stats()
        doubles = await _repeats(rt, ids) - doubles0
    finally:
        for p in procs:
            p.stop()
    committed = sum(prev[w][1] - first[w][1] for w in ids)
    served = st1["requests"].get(TRIGGER, 0) - st0["requests"].get(TRIGGER, 0)
    due = len(ids) * elapsed / interval_s
    lag = summary(list(lags.values()), 3)
    worker_ms = (cpu1[0] - cpu0[0]) * 1000 / max(1, served)
    sandbox_ms = (cpu1[1] - cpu0[1]) * 1000 / max(1, served)
    return {
        "workers": workers, "window_s": round(elapsed, 1),
        "polls_per_s": round(committed / elapsed, 1), "searches_per_s": round(served / elapsed, 1),
        "due_per_s": round(due / elapsed, 1), "share_of_due_served": round(committed / due, 3),
        "lag_p50_s": lag.get("p50"), "lag_p99_s": lag.get("p99"), "lag_slots": len(lags),
        "double_polls": doubles,
        "worker_cpu_ms_per_poll": round(worker_ms, 3),
        "sandbox_cpu_ms_per_poll": round(sandbox_ms, 3),
        "redis_cpu_ms_per_poll": round((cpu1[2] - cpu0[2]) * 1000 / max(1, served), 3),
        "worker_to_sandbox_cpu": round(worker_ms / sandbox_ms, 2) if sandbox_ms else None,
        "sandbox_429": st1["rate_limited"] - st0["rate_limited"],
    }


async def _measure(s: Stack, n_watches: int, n_loc: int, setups: list[int], interval_s: float,
                   warmup_s: float, window_s: float, sample_s: float) -> list[dict]:
    rt = await runtime_for(s)
    try:
        conns = await locations(s, rt, n_loc)
        per_loc = n_watches // n_loc
        target = s.receiver.url + "/hook"
        t = time.monotonic()
        await subscribe_many(rt, [{"trigger": TRIGGER, "connection_id": conn,
                                   "params": {"query": f"w{j}"}, "interval_minutes": 1,
                                   "target_url": target}
                                  for conn in conns for j in range(per_loc)])
        ids = await watch_ids(rt)
        log(f"scale-out: {len(ids)} watches created in {time.monotonic() - t:.1f} s")
        out = []
        for k, workers in enumerate(setups):
            if k == 0:  # every watch primes first, with as many workers as the largest setup
                procs = [s.start_worker() for _ in range(max(setups))]
                primed = await wait_primed(rt, ids, timeout=600)
                for p in procs:
                    p.stop()
                log(f"scale-out: every watch primed in {primed:.1f} s")
            rec = await _measure_setup(s, rt, ids, workers, interval_s, warmup_s, window_s,
                                       sample_s)
            log(f"scale-out, {workers} worker(s): {rec}")
            out.append(rec)
        return out
    finally:
        await rt.close()


def run(n_watches: int = 20_000, n_loc: int = 400, setups: tuple[int, ...] = (1, 2, 4),
        unit_s: float = 15.0, warmup_s: float = 20.0, window_s: float = 45.0,
        sample_s: float = 5.0) -> dict:
    env = {"ENGINE_INTERVAL_UNIT_SECONDS": str(unit_s), "ENGINE_MIN_INTERVAL_SECONDS": "1"}
    with Stack(env) as s:
        start_polling(s, worker=False)
        recs = asyncio.run(_measure(s, n_watches, n_loc, list(setups), unit_s, warmup_s,
                                    window_s, sample_s))
    one = recs[0]["polls_per_s"] or 1
    result = {
        "target": {"double_polls": 0, "capacity_grows_with_workers": True},
        "measured": {f"{r['workers']}_workers": {
            "polls_per_s": r["polls_per_s"], "vs_one_worker": round(r["polls_per_s"] / one, 2),
            "lag_p99_s": r["lag_p99_s"], "double_polls": r["double_polls"],
            "worker_to_sandbox_cpu": r["worker_to_sandbox_cpu"]} for r in recs},
        "met": bool(all(r["double_polls"] == 0 for r in recs)
                    and recs[-1]["polls_per_s"] > recs[0]["polls_per_s"]),
        "setups": recs,
        "params": {"watches": n_watches, "locations": n_loc, "interval_minutes": 1,
                   "interval_unit_s": unit_s, "interval_s": unit_s, "warmup_s": warmup_s,
                   "window_s": window_s, "sample_every_s": sample_s, "trigger": TRIGGER},
    }
    return record("scale_out", result, "benchmarks.bench_scale_out")


if __name__ == "__main__":
    a = arguments(__doc__, ("--watches", 20_000), ("--locations", 400),
                  ("--workers", "1,2,4", "comma-separated worker counts"),
                  ("--unit", 15.0, "seconds in one interval 'minute' (ENGINE_INTERVAL_UNIT_SECONDS)"),
                  ("--warmup", 20.0), ("--window", 45.0))
    show(run(a.watches, a.locations, tuple(int(x) for x in a.workers.split(",")), a.unit, a.warmup,
             a.window))
