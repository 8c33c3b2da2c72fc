"""Benchmark 8 — scale-out: 1, 2 and 4 worker processes sharing the watches of one Redis.

20,000 watches of Search Contacts (``--watches``) over 400 sandbox locations (50 each, inside
GHL's 100 requests per 10 s per location at every interval used here), one subscription each,
``interval_minutes=1``. They are created in bulk through the engine's own
:func:`engine.polling.subscriptions.create_many` (the script :func:`~engine.polling.subscriptions.create`
runs, pipelined), then every watch primes (its first poll, by as many workers as the largest
setup). Each setup (``--workers 1,2,4``) is then measured twice, in one run:

* **steady**: a real 60 s interval (``ENGINE_INTERVAL_UNIT_SECONDS=60``): 333 polls due a
  second. After ``--warmup`` s, and once no watch is overdue by more than 2 s (the slots that
  passed while no worker ran are served first: ``waited_for_backlog_s``), throughput (polls
  committed per second, and the sandbox's searches per second) and the schedule lag of every
  poll in ``--window`` s: poll start (``last_poll_at``) minus the slot it
  was claimed for (``last_slot_ms``, recorded by its commit), read from every watch every
  ``--sample-every`` s (shorter than the interval, so no poll is missed). The steady phases of
  all setups run first, one after another, so the due set stays spread over the interval.
* **capacity**: the interval "minute" shortened to ``--overload-unit`` s (default 10 s: 2,000
  polls due a second, more than 2 cores serve; every watch is made due at the phase's start, so
  each is on that interval from its first claim), so the polls served per second are the setup's
  capacity. ``saturated`` says whether demand stayed above what was served: at every reading
  some watches waited more than 2 s past their slot (``overdue_watches``); if not, the figure
  is a floor, not the capacity.

For both: **double polls** — commits for a slot the watch had already been polled for (each
commit records its slot and counts a repeat in ``repeat_slot_polls``), summed over every watch;
**CPU seconds** of each process over the window (each worker, each sandbox, Redis, this
benchmark process, and the rest of the machine: the machine's busy time minus those), and
per poll; **load average** before, during (each reading) and after, so a run disturbed by other
work shows in its record.

Each poll is a real search over HTTP to the sandbox (its own process; ``--sandboxes N`` runs N,
worker *i* reading from sandbox *i mod N*, each sandbox holding every location's token). The
sandbox answers at once unless ``--latency-ms`` says otherwise; with a latency L a worker serves
at most ``--poll-concurrency`` (ENGINE_POLL_CONCURRENCY) ÷ L polls a second, whatever its CPU. On a
machine of C cores, workers + sandbox + Redis share the C cores: past that, more workers cannot
add capacity, and the CPU seconds show where the cores went.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from typing import Any

import httpx
import psutil

from benchmarks.harness import Proc, Stack, command, free_port, log, summary, write_result
from benchmarks.polling import TENANT, runtime_for, watch_ids
from engine.accounts import connections
from engine.core import keys
from engine.polling import subscriptions

TRIGGER = "contacts.search_contacts"
SEARCH_ROUTE = TRIGGER  # the sandbox counts requests by operation key


# ----------------------------------------------------------------------------- set-up


def _start_sandboxes(s: Stack, n: int, latency_ms: int = 0) -> list[Proc]:
    """``n`` sandbox processes with GHL's limit (100 requests per 10 s per location), each
    answer ``latency_ms`` late; the first is the stack's own (its URL is the stack's
    GHL_BASE_URL)."""
    config = {"rate_limit": 100, "window_ms": 10_000, "latency_ms": latency_ms}
    out = [s.start_sandbox(config)]
    for _ in range(n - 1):
        port = free_port()
        proc = s._spawn("sandbox", ["sandbox", "--port", str(port)], port, None)
        httpx.put(proc.url + "/_sandbox/config", json=config, timeout=30).raise_for_status()
        out.append(proc)
    return out


async def _locations(rt, sandboxes: list[Proc], n: int) -> list[str]:
    """``n`` locations, each with one token known to every sandbox and one engine connection;
    returns the connection ids."""
    out = []
    clients = [httpx.AsyncClient(base_url=p.url, timeout=30) for p in sandboxes]
    try:
        for i in range(n):
            loc = f"loc_bench_{i:05d}"
            tok = (await clients[0].post("/_sandbox/tokens", json={"location_id": loc})).json()["token"]
            for c in clients[1:]:
                (await c.post("/_sandbox/tokens", json={"location_id": loc, "token": tok})
                 ).raise_for_status()
            conn = await connections.create(
                rt.redis, rt.vault, tenant=TENANT, app="ghl", name=loc, auth="private_token",
                secret={"access_token": tok}, location_id=loc)
            out.append(conn.id)
    finally:
        for c in clients:
            await c.aclose()
    return out


# ----------------------------------------------------------------------------- readings


async def _scan(rt, ids: list[str]) -> tuple[float, dict[str, tuple]]:
    """Every watch's (last poll start s, last claimed slot ms, repeat_slot_polls, cursor
    version), read in pipelines of 2,000 watches; with the time at the middle of the scan."""
    t0 = time.time()
    out: dict[str, tuple] = {}
    for i in range(0, len(ids), 2000):
        chunk = ids[i:i + 2000]
        async with rt.redis.pipeline(transaction=False) as pipe:
            for w in chunk:
                pipe.hmget(keys.WATCH.format(watch_id=w), "last_poll_at", "last_slot_ms",
                           "repeat_slot_polls")
                pipe.hget(keys.CURSOR.format(watch_id=w), "version")
            vals = await pipe.execute()
        for j, w in enumerate(chunk):
            (lp, slot, rep), v = vals[2 * j], vals[2 * j + 1]
            out[w] = (float(lp) if lp else None, int(slot) if slot else None, int(rep or 0),
                      int(v or 0))
    return (t0 + time.time()) / 2, out


def _machine_busy_s() -> float:
    """CPU seconds the whole machine spent busy (all cores) since boot."""
    t = psutil.cpu_times()
    return sum(t) - t.idle - getattr(t, "iowait", 0.0)


class _Cpu:
    """CPU seconds of the run's processes over one window, and of the rest of the machine."""

    def __init__(self, s: Stack, workers: list[Proc], sandboxes: list[Proc]) -> None:
        self.s, self.workers, self.sandboxes = s, workers, sandboxes
        self.me = psutil.Process()
        self.start = self._read()

    def _read(self) -> dict[str, float]:
        me = self.me.cpu_times()
        return {**{f"worker_{i}": p.cpu() for i, p in enumerate(self.workers)},
                **{f"sandbox_{i}": p.cpu() for i, p in enumerate(self.sandboxes)},
                "redis": self.s.redis.cpu(), "benchmark": me.user + me.system,
                "machine": _machine_busy_s()}

    def used(self) -> dict[str, float]:
        """Seconds used per process since the start, with ``workers``, ``sandboxes`` totals
        and ``other`` (the machine's busy time no process of this run accounts for)."""
        end = self._read()
        d = {k: end[k] - self.start[k] for k in end}
        d["workers"] = sum(v for k, v in d.items() if k.startswith("worker_"))
        d["sandboxes"] = sum(v for k, v in d.items() if k.startswith("sandbox_"))
        d["other"] = d["machine"] - d["workers"] - d["sandboxes"] - d["redis"] - d["benchmark"]
        return {k: round(v, 2) for k, v in d.items()}


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def _start_workers(s: Stack, n: int, sandboxes: list[Proc], unit_s: float) -> list[Proc]:
    return [s.start_worker({"ENGINE_INTERVAL_UNIT_SECONDS": str(unit_s),
                            "GHL_BASE_URL": sandboxes[i % len(sandboxes)].url})
            for i in range(n)]


def _searches(sandboxes: list[Proc]) -> tuple[int, int]:
    """(searches served, 429s answered) summed over the sandboxes."""
    served = limited = 0
    for p in sandboxes:
        st = httpx.get(p.url + "/_sandbox/stats", timeout=30).json()
        served += st["requests"].get(SEARCH_ROUTE, 0)
        limited += st["rate_limited"]
    return served, limited


# ----------------------------------------------------------------------------- one phase


async def _phase(s: Stack, rt, ids: list[str], sandboxes: list[Proc], workers: int, phase: str,
                 unit_s: float, warmup_s: float, window_s: float, sample_s: float) -> dict:
    """Start ``workers`` worker processes with the interval unit ``unit_s``, let them run
    ``warmup_s`` (steady: and until nothing is overdue by more than 2 s, at most 120 s more),
    measure ``window_s``, stop them; the phase's record."""
    load_before = _load()
    if phase == "capacity":
        # every watch due now: from its first claim on, each is on the capacity interval (the
        # claim moves a watch to its next slot on its own phase); else a watch would first wait
        # for the slot the 60 s interval gave it, and demand would build up over a minute
        now_ms = int(time.time() * 1000)
        for i in range(0, len(ids), 2000):
            await rt.redis.zadd(keys.WATCHES_DUE, {w: now_ms for w in ids[i:i + 2000]})
    procs = _start_workers(s, workers, sandboxes, unit_s)
    try:
        await asyncio.sleep(warmup_s)
        settled_s = 0.0
        if phase == "steady":  # the slots that passed while no worker ran are served first
            t = time.monotonic()
            while time.monotonic() - t < 120 and await rt.redis.zcount(
                    keys.WATCHES_DUE, "-inf", int(time.time() * 1000) - 2000):
                await asyncio.sleep(1.0)
            settled_s = round(time.monotonic() - t, 1)
        cpu = _Cpu(s, procs, sandboxes)
        served0, limited0 = _searches(sandboxes)
        t_first, first = await _scan(rt, ids)
        start = time.time()
        loads, lags, seen, overdue = [], [], set(), []
        last = first
        t_last = t_first
        while time.time() - start < window_s:
            await asyncio.sleep(max(0.0, min(sample_s, window_s - (time.time() - start))))
            t_last, last = await _scan(rt, ids)
            loads.append(_load())
            overdue.append(await rt.redis.zcount(keys.WATCHES_DUE, "-inf",
                                                 int(time.time() * 1000) - 2000))
            for w, (lp, slot, _, _) in last.items():
                if lp is not None and slot is not None and lp >= t_first and (w, slot) not in seen:
                    seen.add((w, slot))
                    lags.append(lp - slot / 1000)
        elapsed = t_last - t_first
        used = cpu.used()
        served1, limited1 = _searches(sandboxes)
        alive = all(p.alive() for p in procs)
    finally:
        for p in procs:
            p.stop()
    committed = sum(last[w][3] - first[w][3] for w in ids)
    doubles = sum(last[w][2] - first[w][2] for w in ids)
    served = served1 - served0
    interval_s = unit_s  # interval_minutes=1
    due_per_s = len(ids) / interval_s
    per_poll = {k: round(v * 1000 / max(1, committed), 3) for k, v in used.items()
                if k in ("workers", "sandboxes", "redis")}
    lag = summary(lags, 3)
    rec = {
        "phase": phase, "workers": workers, "interval_s": interval_s, "window_s": round(elapsed, 1),
        "waited_for_backlog_s": settled_s,
        "due_per_s": round(due_per_s, 1),
        "polls_per_s": round(committed / elapsed, 1), "searches_per_s": round(served / elapsed, 1),
        "share_of_due_served": round(committed / elapsed / due_per_s, 3),
        # demand stayed above what was served: watches waited past their slot at every reading
        "saturated": bool(overdue) and min(overdue) > 0, "overdue_watches": overdue,
        "lag_p50_s": lag.get("p50"), "lag_p99_s": lag.get("p99"), "lag_max_s": lag.get("max"),
        "lag_polls": len(lags),
        "double_polls": doubles,
        "cpu_s": used,
        "cpu_cores_used": {k: round(v / elapsed, 2) for k, v in used.items()
                           if k in ("workers", "sandboxes", "redis", "benchmark", "other", "machine")},
        "cpu_ms_per_poll": per_poll,
        "worker_to_sandbox_cpu": (round(per_poll["workers"] / per_poll["sandboxes"], 2)
                                  if per_poll.get("sandboxes") else None),
        "sandbox_429": limited1 - limited0,
        "load_avg_1m": {"before": load_before, "during": loads, "after": _load()},
        "workers_ran_throughout": alive,
    }
    return rec


# ----------------------------------------------------------------------------- the run


async def _measure(s: Stack, sandboxes: list[Proc], n_watches: int, n_loc: int,
                   setups: list[int], warmup_s: float, window_s: float, sample_s: float,
                   overload_unit_s: float, overload_warmup_s: float, overload_window_s: float
                   ) -> dict[str, Any]:
    rt = await runtime_for(s)
    try:
        t = time.monotonic()
        conns = await _locations(rt, sandboxes, n_loc)
        per_loc = n_watches // n_loc
        target = s.receiver.url + "/hook"
        made = await subscriptions.create_many(rt, TENANT, [
            {"trigger": TRIGGER, "connection_id": conn, "params": {"query": f"w{j}"},
             "interval_minutes": 1, "target_url": target}
            for conn in conns for j in range(per_loc)])
        ids = await watch_ids(rt)
        created_s = time.monotonic() - t
        log(f"scale-out: {len(made)} subscriptions on {len(ids)} watches over {n_loc} locations "
            f"created in {created_s:.1f} s")
        t = time.monotonic()
        procs = _start_workers(s, max(setups), sandboxes, 60.0)
        primed_s = float("nan")
        try:
            while time.monotonic() - t < 900:
                _, now = await _scan(rt, ids)
                if all(v[0] is not None for v in now.values()):
                    primed_s = time.monotonic() - t
                    break
                await asyncio.sleep(2.0)
        finally:
            for p in procs:
                p.stop()
        log(f"scale-out: every watch primed in {primed_s:.1f} s by {max(setups)} workers")
        out: dict[str, Any] = {"created_s": round(created_s, 1), "primed_s": round(primed_s, 1),
                               "steady": [], "capacity": []}
        for workers in setups:
            rec = await _phase(s, rt, ids, sandboxes, workers, "steady", 60.0, warmup_s,
                               window_s, sample_s)
            log(f"scale-out, steady, {workers} worker(s): {json.dumps(rec)}")
            out["steady"].append(rec)
        for workers in setups:
            rec = await _phase(s, rt, ids, sandboxes, workers, "capacity", overload_unit_s,
                               overload_warmup_s, overload_window_s, sample_s)
            log(f"scale-out, capacity, {workers} worker(s): {json.dumps(rec)}")
            out["capacity"].append(rec)
        return out
    finally:
        await rt.close()


def run(n_watches: int = 20_000, n_loc: int = 400, setups: tuple[int, ...] = (1, 2, 4),
        n_sandboxes: int = 1, warmup_s: float = 20.0, window_s: float = 60.0,
        sample_s: float = 15.0, overload_unit_s: float = 10.0, overload_warmup_s: float = 15.0,
        overload_window_s: float = 30.0, latency_ms: int = 0, poll_concurrency: int = 96,
        args: tuple[str, ...] = ()) -> dict:
    """The whole benchmark (see the module's text); writes benchmarks/results/scale_out.json
    (a reduced run: scale_out_reduced.json) and returns what it wrote."""
    began = time.monotonic()
    load_start = _load()
    env = {"ENGINE_MIN_INTERVAL_SECONDS": "1", "ENGINE_POLL_CONCURRENCY": str(poll_concurrency)}
    with Stack(env) as s:
        sandboxes = _start_sandboxes(s, n_sandboxes, latency_ms)
        s.receiver = s.start_receiver()  # type: ignore[attr-defined]
        got = asyncio.run(_measure(s, sandboxes, n_watches, n_loc, list(setups), warmup_s,
                                   window_s, sample_s, overload_unit_s, overload_warmup_s,
                                   overload_window_s))
    steady, cap = got["steady"], got["capacity"]
    one = cap[0]["polls_per_s"] or 1
    measured = {f"{st['workers']}_workers": {
        "polls_per_s": st["polls_per_s"], "lag_p99_s": st["lag_p99_s"],
        "capacity_polls_per_s": c["polls_per_s"], "capacity_vs_one_worker": round(c["polls_per_s"] / one, 2),
        "capacity_saturated": c["saturated"],
        "double_polls": st["double_polls"] + c["double_polls"],
        "worker_to_sandbox_cpu": c["worker_to_sandbox_cpu"],
        "cores_used": c["cpu_cores_used"]} for st, c in zip(steady, cap)}
    result = {
        "target": {"double_polls": 0, "capacity_grows_with_workers": True},
        "measured": measured,
        "met": bool(all(r["double_polls"] == 0 for r in steady + cap)
                    and cap[-1]["polls_per_s"] > cap[0]["polls_per_s"]),
        "created_s": got["created_s"], "primed_s": got["primed_s"],
        "steady": steady, "capacity": cap,
        "duration_s": round(time.monotonic() - began, 1),
        "load_avg_1m": {"start": load_start, "end": _load()},
        "params": {"watches": n_watches, "locations": n_loc, "interval_minutes": 1,
                   "steady_interval_s": 60, "overload_interval_s": overload_unit_s,
                   "warmup_s": warmup_s, "window_s": window_s, "sample_every_s": sample_s,
                   "overload_warmup_s": overload_warmup_s,
                   "overload_window_s": overload_window_s, "sandboxes": n_sandboxes,
                   "sandbox_latency_ms": latency_ms, "poll_concurrency": poll_concurrency,
                   "trigger": TRIGGER},
        "command": command("benchmarks.bench_scale_out", *args),
    }
    full = ((n_watches, n_loc, tuple(setups), latency_ms, poll_concurrency)
            == (20_000, 400, (1, 2, 4), 0, 96) and window_s >= 60)
    # only a full run is the benchmark's record; a reduced one (fewer watches, shorter
    # windows) is kept beside it, so it is never read as the full figures
    write_result("scale_out" if full else "scale_out_reduced", result)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--watches", type=int, default=20_000)
    ap.add_argument("--locations", type=int, default=400)
    ap.add_argument("--workers", default="1,2,4", help="comma-separated worker counts")
    ap.add_argument("--sandboxes", type=int, default=1, help="sandbox processes")
    ap.add_argument("--warmup", type=float, default=20.0, help="s before each steady window")
    ap.add_argument("--window", type=float, default=60.0, help="steady window, s (≥ 60: every "
                                                               "watch due once)")
    ap.add_argument("--sample-every", type=float, default=15.0,
                    help="s between readings of every watch (< 60, so no poll is missed)")
    ap.add_argument("--overload-unit", type=float, default=10.0,
                    help="the interval in the capacity phase, s")
    ap.add_argument("--overload-warmup", type=float, default=15.0)
    ap.add_argument("--overload-window", type=float, default=30.0)
    ap.add_argument("--latency-ms", type=int, default=0,
                    help="the sandbox answers this late, ms (a real upstream: tens to hundreds)")
    ap.add_argument("--poll-concurrency", type=int, default=96,
                    help="ENGINE_POLL_CONCURRENCY of the workers")
    a, argv = ap.parse_args(), __import__("sys").argv[1:]
    res = run(a.watches, a.locations, tuple(int(x) for x in a.workers.split(",")), a.sandboxes,
              a.warmup, a.window, a.sample_every, a.overload_unit, a.overload_warmup,
              a.overload_window, a.latency_ms, a.poll_concurrency, args=tuple(argv))
    print(json.dumps({"measured": res["measured"], "met": res["met"],
                      "duration_s": res["duration_s"]}, indent=2))


if __name__ == "__main__":
    main()
