"""Benchmark 7 — instant triggers: a change in GHL to its signed delivery, pushed vs polled.

One sandbox, API, worker and webhook receiver (benchmarks.receiver), each in its own process.
The same load runs twice, side by side in one run: ``changes`` new contacts created through the
sandbox's GHL API one at a time, 50–150 ms apart, on a location watched by one Search Contacts
subscription with a 1-"minute" interval (``ENGINE_INTERVAL_UNIT_SECONDS`` = ``interval_s``).

* **pushed** — the sandbox pushes each change's signed ContactCreate event to
  ``POST /v1/inbound/ghl``; the worker's poke polls at once (debounced).
* **polled** — another location, with pushing off: only the watch's interval finds changes.

Measured for each change: the arrival of its delivery at the receiver minus the moment its
create request was sent. Target: pushed p99 ≤ 2 s, against interval/2 on average for polling.
"""

from __future__ import annotations

import asyncio
import json
import random
import time

import httpx

from benchmarks.harness import Stack, arguments, log, record, show, spread, summary
from benchmarks.polling import locations, runtime_for, subscribe_many, wait_primed
from engine.core import keys
from sandbox.push import PUBLIC_KEY_B64

TRIGGER = "contacts.search_contacts"
TARGET_P99_S = 2.0


async def _phase(s: Stack, rt, conn_id: str, location: str, token: str, changes: int,
                 push: bool, timeout_s: float) -> dict:
    async with httpx.AsyncClient(timeout=30) as client:
        await client.put(s.sandbox.url + "/_sandbox/config", json={
            "webhook_url": (s.api.url + "/v1/inbound/ghl") if push else None})
        await client.post(s.receiver.url + "/reset")
        sub = (await subscribe_many(rt, [{"trigger": TRIGGER, "connection_id": conn_id,
                                          "params": {}, "interval_minutes": 1,
                                          "target_url": s.receiver.url + "/hook"}]))[0]
        watch = (await rt.redis.hget(keys.SUBSCRIPTION.format(sub_id=sub["id"]), "watch")).decode()
        await wait_primed(rt, [watch], timeout=60)
        await asyncio.sleep(1.0)
        sent_at: dict[str, float] = {}
        rnd = random.Random(7)
        headers = {"Authorization": f"Bearer {token}", "Version": "2021-07-28"}
        for i in range(changes):
            started = time.time()
            resp = await client.post(s.sandbox.url + "/contacts/", headers=headers, json={
                "locationId": location, "firstName": f"Bench{i}"})
            resp.raise_for_status()
            sent_at[resp.json()["contact"]["id"]] = started
            await asyncio.sleep(rnd.uniform(0.05, 0.15))
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            if (await client.get(s.receiver.url + "/stats")).json()["count"] >= changes:
                break
            await asyncio.sleep(0.2)
        dump = (await client.get(s.receiver.url + "/dump")).json()
        events = (await client.get(s.sandbox.url + "/_sandbox/events")).json()
        await client.put(s.sandbox.url + "/_sandbox/config", json={"webhook_url": None})
    arrived: dict[str, float] = {}
    for kept, (_wid, at) in zip(dump["kept"], dump["arrivals"]):
        contact = json.loads(kept["raw"])["item_id"].split("@", 1)[0]
        arrived.setdefault(contact, at)
    delays = [arrived[c] - t for c, t in sent_at.items() if c in arrived]
    missing = [c for c in sent_at if c not in arrived]
    return {"changes": changes, "delivered": len(delays), "missing": missing,
            "pushes": events["counts"] if push else None,
            "unique_webhook_ids": len({a[0] for a in dump["arrivals"]}),
            "deliveries": len(dump["arrivals"]), "delay_s": summary(delays)}


async def _measure(s: Stack, changes: int, interval_s: float) -> dict:
    rt = await runtime_for(s)
    try:
        conns = await locations(s, rt, 2, prefix="loc_inst")
        tokens = []
        async with httpx.AsyncClient(timeout=30) as client:
            for i in range(2):
                made = await client.post(s.sandbox.url + "/_sandbox/tokens",
                                         json={"location_id": f"loc_inst_{i:05d}"})
                tokens.append(made.json()["token"])
        pushed = await _phase(s, rt, conns[0], "loc_inst_00000", tokens[0], changes, True, 60)
        polled = await _phase(s, rt, conns[1], "loc_inst_00001", tokens[1], changes, False,
                              interval_s * 3 + 30)
        return {"pushed": pushed, "polled": polled}
    finally:
        await rt.close()


def run(repeats: int = 2, changes: int = 200, interval_s: float = 10.0) -> dict:
    runs = []
    for n in range(repeats):
        log(f"instant: repeat {n + 1}/{repeats}, {changes} changes, polling every {interval_s:g} s")
        with Stack({"ENGINE_MIN_INTERVAL_SECONDS": "1",
                    "ENGINE_INTERVAL_UNIT_SECONDS": str(interval_s),
                    "GHL_WEBHOOK_PUBLIC_KEY": PUBLIC_KEY_B64}) as s:
            s.start_sandbox({"rate_limit": 100_000})
            s.api = s.start_api()  # type: ignore[attr-defined]
            s.worker = s.start_worker()
            s.start_receiver("--keep", str(changes * 4))
            runs.append(asyncio.run(_measure(s, changes, interval_s)))
            log(f"logs in {s.dir}")
    p99s = [r["pushed"]["delay_s"].get("p99", float("nan")) for r in runs]
    figures = {f"{phase}_{stat}_s": spread([r[phase]["delay_s"].get(stat, float("nan"))
                                            for r in runs])
               for phase in ("pushed", "polled") for stat in ("p50", "p99", "mean")}
    result = {
        "target": {"pushed_p99_s_max": TARGET_P99_S,
                   "polled_mean_s_expected": interval_s / 2},
        "measured": {k: v["median"] for k, v in figures.items()},
        "spread": figures,
        "met": all(p <= TARGET_P99_S for p in p99s)
        and all(r["pushed"]["delivered"] == r["pushed"]["changes"]
                == r["pushed"]["unique_webhook_ids"] for r in runs),
        "repeats": runs,
    }
    return record("instant", result, "benchmarks.bench_instant", "--repeats", str(repeats),
                  "--changes", str(changes), "--interval", str(interval_s))


if __name__ == "__main__":
    a = arguments(__doc__.splitlines()[0], ("--repeats", 2), ("--changes", 200),
                  ("--interval", 10.0, "the polling interval (s)"))
    show(run(a.repeats, a.changes, a.interval))
