"""Benchmark 4 — delivery: signed webhooks per second per worker, and poll-to-delivery latency.

One worker process; a webhook receiver in its own process (benchmarks.receiver); the sandbox in
its own. Subscriptions are created through ``subscriptions.create``; new contacts are seeded in
the sandbox and the watch is made due at once (its slot moved to now in the due set, as if its
minute had come), so the measured time starts at a poll that finds new items.

* **throughput** — one watch, 200 subscriptions, 50 new contacts: one poll writes 10,000
  deliveries; measured: deliveries per second from the poll's commit to the last arrival, and
  worker CPU per delivery.
* **latency** — another watch with 10 subscriptions; rounds of 3 new contacts (30 deliveries),
  one at a time; measured: for each delivery, its arrival at the receiver minus the commit of
  the poll that found it (the delivery's ``created_at``).

A sample of the received requests is verified with ``standardwebhooks`` (each subscription's
secret). Targets: ≥ 1,000 deliveries/s per worker; latency p99 ≤ 1 s.
"""

from __future__ import annotations

import asyncio
import json
import time

import httpx

from benchmarks.harness import (
    Stack,
    arguments,
    finish_profile,
    log,
    record,
    show,
    spread,
    start_profile,
    summary,
)
from benchmarks.polling import (each_repeat, hash_field, locations, runtime_for, subscribe_many,
                                wait_primed)
from engine.core import keys

TRIGGER = "contacts.search_contacts"
TARGET_RATE = 1000.0
TARGET_P99_S = 1.0


async def _subscribe(rt, conn: str, n: int, target: str) -> tuple[str, dict[str, str]]:
    subs = await subscribe_many(rt, [{"trigger": TRIGGER, "connection_id": conn, "params": {},
                                      "interval_minutes": 15, "target_url": f"{target}?sub={i}"}
                                     for i in range(n)])  # identical subscriptions are refused
    watch = (await rt.redis.hget(keys.SUBSCRIPTION.format(sub_id=subs[0]["id"]), "watch")).decode()
    return watch, {s["id"]: s["secret"] for s in subs}


async def _round(s: Stack, rt, client: httpx.AsyncClient, location: str, watch: str, items: int,
                 expect: int, timeout: float) -> tuple[list[tuple[str, float]], float]:
    """Seed new contacts, make the watch due now, wait for ``expect`` more arrivals."""
    base = (await client.get(s.receiver.url + "/stats")).json()["count"]
    r = await client.post(f"{s.sandbox.url}/_sandbox/seed/contacts",
                          json={"count": items, "location_id": location})
    r.raise_for_status()
    await asyncio.sleep(0.01)  # seeded items' times strictly before the poll
    started = time.time()
    await rt.redis.zadd(keys.WATCHES_DUE, {watch: int(started * 1000)})
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (await client.get(s.receiver.url + "/stats")).json()["count"] >= base + expect:
            break
        await asyncio.sleep(0.05)
    dump = (await client.get(s.receiver.url + "/dump")).json()
    return [tuple(a) for a in dump["arrivals"][base:]], started


async def _created(rt, ids: list[str]) -> dict[str, float]:
    """Each delivery's creation time (seconds), the commit of the poll that wrote it."""
    got = await hash_field(rt, {d: keys.DELIVERY.format(delivery_id=d) for d in ids}, "created_at")
    return {d: int(v) / 1000 for d, v in got.items()}


def _verify(kept: list[dict], secrets: dict[str, str]) -> tuple[int, int]:
    from standardwebhooks.webhooks import Webhook

    ok = bad = 0
    for k in kept:
        body = json.loads(k["raw"])
        secret = secrets.get(body.get("subscription_id"))
        if secret is None:
            continue
        try:
            Webhook(secret).verify(k["raw"], k["headers"])
            ok += 1
        except Exception:
            bad += 1
    return ok, bad


async def _measure(s: Stack, subs_tp: int, items_tp: int, subs_lat: int, items_lat: int,
                   rounds: int, profile: bool) -> dict:
    rt = await runtime_for(s)
    try:
        conns = await locations(s, rt, 2, prefix="loc_dlv")
        target = s.receiver.url + "/hook"
        w_tp, sec_tp = await _subscribe(rt, conns[0], subs_tp, target)
        w_lat, sec_lat = await _subscribe(rt, conns[1], subs_lat, target)
        await wait_primed(rt, [w_tp, w_lat], timeout=60)
        await asyncio.sleep(1.0)
        async with httpx.AsyncClient(timeout=30) as client:
            # throughput
            expect = subs_tp * items_tp
            cpu0 = s.worker.cpu()
            spy = start_profile(s.worker, 8, "delivery-worker") if profile else None
            arrivals, started = await _round(s, rt, client, "loc_dlv_00000", w_tp, items_tp, expect, 120)
            cpu1 = s.worker.cpu()
            finish_profile(spy, "delivery-worker")
            created = await _created(rt, [a[0] for a in arrivals])
            t_commit = min(created.values()) if created else started
            t_last = max(a[1] for a in arrivals) if arrivals else float("nan")
            n = len(arrivals)
            lat_tp = [a[1] - created[a[0]] for a in arrivals if a[0] in created]
            dump = (await client.get(s.receiver.url + "/dump")).json()
            ok, bad = _verify(dump["kept"], {**sec_tp, **sec_lat})
            tp = {"deliveries": n, "expected": expect, "unique_ids": len({a[0] for a in arrivals}),
                  "seconds_commit_to_last": round(t_last - t_commit, 3),
                  "per_second": round(n / (t_last - t_commit), 1) if n else 0.0,
                  "poll_start_to_commit_s": round(t_commit - started, 3),
                  "worker_cpu_ms_per_delivery": round((cpu1 - cpu0) * 1000 / max(1, n), 3),
                  "latency_s": summary(lat_tp), "signatures_verified": ok, "signatures_bad": bad}
            log(f"delivery throughput: {n} of {expect} in {tp['seconds_commit_to_last']} s = "
                f"{tp['per_second']}/s; {tp['worker_cpu_ms_per_delivery']} ms worker CPU each")
            # latency, light load
            lat: list[float] = []
            got = 0
            for i in range(rounds):
                arrivals, _ = await _round(s, rt, client, "loc_dlv_00001", w_lat, items_lat,
                                           subs_lat * items_lat, 30)
                created = await _created(rt, [a[0] for a in arrivals])
                lat.extend(a[1] - created[a[0]] for a in arrivals if a[0] in created)
                got += len(arrivals)
                await asyncio.sleep(0.3 + (i % 7) / 10)  # land the rounds on varied tick phases
            lt = {"deliveries": got, "expected": rounds * subs_lat * items_lat, "latency_s": summary(lat)}
            log(f"delivery latency: p50 {lt['latency_s'].get('p50')} s p99 {lt['latency_s'].get('p99')} s "
                f"over {got} deliveries")
        return {"throughput": tp, "latency": lt}
    finally:
        await rt.close()


def run(repeats: int = 2, subs_tp: int = 200, items_tp: int = 50, subs_lat: int = 10,
        items_lat: int = 3, rounds: int = 12, profile: bool = False) -> dict:
    reps = each_repeat("delivery", repeats, lambda s, rep: _measure(
        s, subs_tp, items_tp, subs_lat, items_lat, rounds, profile and rep == 0))
    rate = spread([r["throughput"]["per_second"] for r in reps], 1)
    p99 = spread([r["latency"]["latency_s"].get("p99", float("nan")) for r in reps])
    result = {
        "target": {"deliveries_per_second_per_worker": TARGET_RATE, "latency_p99_s": TARGET_P99_S},
        "measured": {"deliveries_per_second_per_worker": rate["median"],
                     "latency_p50_s": spread([r["latency"]["latency_s"].get("p50", float("nan"))
                                              for r in reps])["median"],
                     "latency_p99_s": p99["median"],
                     "worker_cpu_ms_per_delivery": spread(
                         [r["throughput"]["worker_cpu_ms_per_delivery"] for r in reps])["median"],
                     "bulk_latency_p99_s": spread([r["throughput"]["latency_s"].get("p99", float("nan"))
                                                   for r in reps])["median"]},
        "met": bool(rate["median"] and rate["median"] >= TARGET_RATE and p99["median"] is not None
                    and p99["median"] <= TARGET_P99_S),
        "spread": {"deliveries_per_second_per_worker": rate, "latency_p99_s": p99},
        "repeats": reps,
        "params": {"throughput_subscriptions": subs_tp, "throughput_new_items": items_tp,
                   "latency_subscriptions": subs_lat, "latency_items_per_round": items_lat,
                   "latency_rounds": rounds, "worker_processes": 1},
    }
    return record("delivery", result, "benchmarks.bench_delivery")


if __name__ == "__main__":
    a = arguments(__doc__, ("--repeats", 2), ("--profile", False))
    show(run(a.repeats, profile=a.profile))
