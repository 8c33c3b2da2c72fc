"""Benchmark 3 — action overhead.

``POST /v1/actions/contacts.find_contact`` through the engine's API against a direct httpx call
to the same sandbox endpoint (``GET /contacts/search/duplicate``), in the same run. Latency is
measured one request at a time, the two sides interleaved in short blocks so that machine noise
falls on both; throughput with a fixed number of concurrent clients for a fixed time, each side
in turn. Each repeat reports p50/p99 of both sides and their difference.

The API runs with its default settings, the per-key rate limit (1,200 a minute) included:
requests rotate over 64 API keys of one tenant so that none of them reaches it. Only the rate
budget is raised (GHL's 100 per 10 s would otherwise be the whole story).

Target: added latency p50 <= 2 ms, p99 <= 8 ms.
"""

from __future__ import annotations

import asyncio
import time

import httpx

from benchmarks.harness import (arguments, finish_profile, log, record, show, spread, stack,
                                start_profile, summary)
from sandbox.ghl import DEFAULT_LOCATION, DEFAULT_TOKEN

TARGET_P50_MS = 2.0
TARGET_P99_MS = 8.0


KEYS = 64


def _latency(direct: httpx.Client, engine: httpx.Client, conn_id: str, n: int, block: int,
             keys: list[str]) -> tuple[list[float], list[float]]:
    d_ms: list[float] = []
    e_ms: list[float] = []
    dh = {"Authorization": f"Bearer {DEFAULT_TOKEN}", "Version": "2021-07-28"}
    i = 0
    while len(d_ms) < n:
        for _ in range(block):
            t = time.perf_counter()
            r = direct.get("/contacts/search/duplicate",
                           params={"locationId": DEFAULT_LOCATION, "email": f"b{i}@example.com"},
                           headers=dh)
            d_ms.append((time.perf_counter() - t) * 1000)
            assert r.status_code == 200, r.text
            i += 1
        for _ in range(block):
            t = time.perf_counter()
            r = engine.post("/v1/actions/contacts.find_contact",
                            headers={"Authorization": f"Bearer {keys[i % len(keys)]}"},
                            json={"connection_id": conn_id, "input": {"email": f"b{i}@example.com"}})
            e_ms.append((time.perf_counter() - t) * 1000)
            assert r.status_code == 200, r.text
            i += 1
    return d_ms, e_ms


async def _throughput(base: str, headers: dict[str, str], make, seconds: float, concurrency: int,
                      keys: list[str] | None = None) -> tuple[float, int]:
    done = 0
    errors = 0
    stop_at = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=30) as client:

        async def one(w: int) -> None:
            nonlocal done, errors
            k = 0
            while time.monotonic() < stop_at:
                method, path, kw = make(w, k)
                if keys:
                    kw = {**kw, "headers": {"Authorization": f"Bearer {keys[(w * 7919 + k) % len(keys)]}"}}
                r = await client.request(method, path, **kw)
                if r.status_code == 200:
                    done += 1
                else:
                    errors += 1
                k += 1

        started = time.monotonic()
        await asyncio.gather(*[one(w) for w in range(concurrency)])
        elapsed = time.monotonic() - started
    return done / elapsed, errors


def run(repeats: int = 5, n: int = 400, block: int = 20, tput_seconds: float = 4.0,
        concurrency: int = 16, profile: bool = False) -> dict:
    env = {"ENGINE_RATE_BURST": "100000000", "ENGINE_RATE_DAILY": "1000000000",
           "ENGINE_KEY_RATE_LIMIT": "1200"}
    with stack(env) as s:
        s.start_sandbox({"rate_limit": 100_000_000, "daily_limit": 1_000_000_000, "latency_ms": 0})
        api = s.start_api()
        key = s.api_key()
        keys = [key] + [s.api_key() for _ in range(KEYS - 1)]
        eh = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=api.url, headers=eh, timeout=30) as engine, \
                httpx.Client(base_url=s.sandbox.url, timeout=30) as direct:
            r = engine.post("/v1/connections", json={"name": "bench", "token": DEFAULT_TOKEN,
                                                     "location_id": DEFAULT_LOCATION})
            assert r.status_code == 201, r.text
            conn_id = r.json()["id"]
            _latency(direct, engine, conn_id, 100, 20, keys)  # warm-up: connections, imports, caches
            repeats_out = []
            for rep in range(repeats):
                d, e = _latency(direct, engine, conn_id, n, block, keys)
                api_cpu0, sb_cpu0 = api.cpu(), s.sandbox.cpu()
                d_tput, d_err = asyncio.run(_throughput(
                    s.sandbox.url, {"Authorization": f"Bearer {DEFAULT_TOKEN}", "Version": "2021-07-28"},
                    lambda w, k: ("GET", "/contacts/search/duplicate",
                                  {"params": {"locationId": DEFAULT_LOCATION, "email": f"t{w}-{k}@x.io"}}),
                    tput_seconds, concurrency))
                sb_cpu_direct = s.sandbox.cpu() - sb_cpu0
                api_cpu1, sb_cpu1 = api.cpu(), s.sandbox.cpu()
                spy = start_profile(api, tput_seconds, "actions-api") if profile and rep == 0 else None
                e_tput, e_err = asyncio.run(_throughput(
                    api.url, eh,
                    lambda w, k: ("POST", "/v1/actions/contacts.find_contact",
                                  {"json": {"connection_id": conn_id, "input": {"email": f"t{w}-{k}@x.io"}}}),
                    tput_seconds, concurrency, keys))
                api_cpu_engine = api.cpu() - api_cpu1
                finish_profile(spy, "actions-api")
                sb_cpu_engine = s.sandbox.cpu() - sb_cpu1
                ds, es = summary(d), summary(e)
                rec = {"direct_ms": ds, "engine_ms": es,
                       "added_p50_ms": round(es["p50"] - ds["p50"], 3),
                       "added_p99_ms": round(es["p99"] - ds["p99"], 3),
                       "direct_rps": round(d_tput, 1), "engine_rps": round(e_tput, 1),
                       "direct_errors": d_err, "engine_errors": e_err,
                       "engine_api_cpu_ms_per_action": round(api_cpu_engine * 1000 / max(1, e_tput * tput_seconds), 3),
                       "sandbox_cpu_ms_per_request": round(sb_cpu_direct * 1000 / max(1, d_tput * tput_seconds), 3)}
                repeats_out.append(rec)
                log(f"actions repeat {rep + 1}/{repeats}: added p50 {rec['added_p50_ms']} ms, "
                    f"p99 {rec['added_p99_ms']} ms; rps direct {rec['direct_rps']} engine {rec['engine_rps']}")
            stats = s.sandbox_stats()
    added50 = spread([r["added_p50_ms"] for r in repeats_out])
    added99 = spread([r["added_p99_ms"] for r in repeats_out])
    result = {
        "target": {"added_p50_ms": TARGET_P50_MS, "added_p99_ms": TARGET_P99_MS},
        "measured": {"added_p50_ms": added50["median"], "added_p99_ms": added99["median"],
                     "direct_p50_ms": spread([r["direct_ms"]["p50"] for r in repeats_out])["median"],
                     "engine_p50_ms": spread([r["engine_ms"]["p50"] for r in repeats_out])["median"],
                     "direct_rps": spread([r["direct_rps"] for r in repeats_out])["median"],
                     "engine_rps": spread([r["engine_rps"] for r in repeats_out])["median"],
                     "engine_api_cpu_ms_per_action": spread(
                         [r["engine_api_cpu_ms_per_action"] for r in repeats_out])["median"]},
        "met": bool(added50["median"] is not None and added50["median"] <= TARGET_P50_MS
                    and added99["median"] <= TARGET_P99_MS),
        "spread": {"added_p50_ms": added50, "added_p99_ms": added99,
                   "direct_rps": spread([r["direct_rps"] for r in repeats_out]),
                   "engine_rps": spread([r["engine_rps"] for r in repeats_out])},
        "repeats": repeats_out,
        "params": {"repeats": repeats, "latency_requests_per_side": n, "block": block,
                   "throughput_seconds": tput_seconds, "concurrency": concurrency,
                   "operation": "contacts.find_contact", "api_keys": KEYS,
                   "key_rate_limit_per_minute": 1200},
        "sandbox_429s": stats["rate_limited"],
    }
    return record("actions", result, "benchmarks.bench_actions")


if __name__ == "__main__":
    a = arguments(__doc__, ("--repeats", 5), ("--n", 400), ("--seconds", 4.0), ("--concurrency", 16),
                  ("--profile", False, "sample the API process with py-spy"))
    show(run(a.repeats, a.n, tput_seconds=a.seconds, concurrency=a.concurrency, profile=a.profile))
