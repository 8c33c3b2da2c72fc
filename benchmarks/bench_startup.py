"""Start-up time and memory with the full catalog and with the curated catalog only.

The full catalog is the curated specs plus the operations generated from GHL's official
documents (operations/official.json); ``ENGINE_CATALOG=curated`` leaves the generated ones out.
For each, side by side in one run and alternating, so machine load falls on both alike:

- **catalog load**: a fresh ``python`` that imports the registry and loads every spec (seconds,
  and the process's RSS afterwards);
- **API**: ``ghl-engine api`` from spawn until it accepts connections, its RSS then, the first
  ``GET /v1/operations`` (which builds every input schema) and the RSS after it;
- **worker**: ``ghl-engine worker`` from spawn until its first scheduler tick runs (the start
  is done; the tick is a once-a-second cron, so this figure includes up to 1 s of waiting for
  it, alike for both catalogs), and its RSS then.

    python -m benchmarks.bench_startup            # writes benchmarks/results/startup.json
"""

from __future__ import annotations

import subprocess
import time
from typing import Any

import httpx
import psutil

from benchmarks.harness import PY, ROOT, command, log, spread, stack, write_result

CATALOGS = ("full", "curated")
_LOAD = ("import time, resource; t = time.perf_counter(); "
         "from engine.spec.registry import registry; n = len(registry()); "
         "print(n, time.perf_counter() - t, "
         "resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)")


def catalog_load(catalog: str) -> dict[str, float]:
    out = subprocess.run([PY, "-c", _LOAD], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={**_base_env(), "ENGINE_CATALOG": catalog}).stdout.split()
    return {"operations": int(out[0]), "seconds": float(out[1]), "max_rss_bytes": int(out[2])}


def _base_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith(("ENGINE_", "GHL_"))}


def api_start(s, catalog: str, key: str) -> dict[str, float]:
    started = time.perf_counter()
    proc = s.start_api(env={"ENGINE_CATALOG": catalog})  # returns once the port accepts
    ready = time.perf_counter() - started
    rss_ready = proc.rss()
    t = time.perf_counter()
    resp = httpx.get(proc.url + "/v1/operations", headers={"Authorization": f"Bearer {key}"},
                     timeout=120)
    resp.raise_for_status()
    first_list = time.perf_counter() - t
    out = {"ready_s": ready, "rss_ready_bytes": rss_ready, "first_operations_list_s": first_list,
           "rss_after_list_bytes": proc.rss(), "operations": resp.json()["count"]}
    proc.stop()
    s.procs.remove(proc)
    return out


def worker_start(s, catalog: str) -> dict[str, float]:
    started = time.perf_counter()
    proc = s.start_worker(env={"ENGINE_CATALOG": catalog, "ENGINE_LOG_LEVEL": "INFO"})
    deadline = started + 120
    while "scheduler_tick" not in proc.log.read_text(errors="replace"):
        if time.perf_counter() > deadline or not proc.alive():
            raise RuntimeError(f"the worker did not start:\n{proc.tail()}")
        time.sleep(0.01)
    ready = time.perf_counter() - started
    out = {"ready_s": ready, "rss_ready_bytes": proc.rss()}
    proc.stop()
    s.procs.remove(proc)
    return out


def run(repeats: int = 3) -> dict[str, Any]:
    samples: dict[str, dict[str, list[dict[str, float]]]] = {
        c: {"load": [], "api": [], "worker": []} for c in CATALOGS}
    with stack() as s:
        s.start_sandbox()
        key = s.api_key()
        for i in range(repeats):
            for catalog in (CATALOGS if i % 2 == 0 else CATALOGS[::-1]):
                samples[catalog]["load"].append(catalog_load(catalog))
                samples[catalog]["api"].append(api_start(s, catalog, key))
                samples[catalog]["worker"].append(worker_start(s, catalog))
                log(f"startup {catalog} #{i + 1}: api ready "
                    f"{samples[catalog]['api'][-1]['ready_s']:.2f}s")

    def stat(catalog: str, part: str, name: str) -> dict[str, Any]:
        return spread([r[name] for r in samples[catalog][part]])

    measured = {c: {
        "operations": samples[c]["load"][0]["operations"],
        "catalog_load_s": stat(c, "load", "seconds"),
        "catalog_load_max_rss_mib": spread([r["max_rss_bytes"] / 2**20 for r in samples[c]["load"]]),
        "api_ready_s": stat(c, "api", "ready_s"),
        "api_rss_ready_mib": spread([r["rss_ready_bytes"] / 2**20 for r in samples[c]["api"]]),
        "api_first_operations_list_s": stat(c, "api", "first_operations_list_s"),
        "api_rss_after_list_mib": spread([r["rss_after_list_bytes"] / 2**20 for r in samples[c]["api"]]),
        "worker_ready_s": stat(c, "worker", "ready_s"),
        "worker_rss_ready_mib": spread([r["rss_ready_bytes"] / 2**20 for r in samples[c]["worker"]]),
    } for c in CATALOGS}

    def ratio(name: str) -> float:
        return round(measured["full"][name]["median"] / measured["curated"][name]["median"], 3)

    result = {
        "command": command("benchmarks.bench_startup"),
        "repeats": repeats,
        "measured": measured,
        "full_over_curated": {name: ratio(name) for name in (
            "catalog_load_s", "catalog_load_max_rss_mib", "api_ready_s", "api_rss_ready_mib",
            "api_first_operations_list_s", "api_rss_after_list_mib", "worker_ready_s",
            "worker_rss_ready_mib")},
        "cpu_count": psutil.cpu_count(),
    }
    write_result("startup", result)
    return result


if __name__ == "__main__":
    import json

    print(json.dumps(run()["full_over_curated"], indent=2))
