"""Benchmark 7 — searches per poll on a busy location, and nothing missed or doubled.

One simulated location feeds Search Contacts for ``--hours`` (default 2) of simulated time:

* steady creates, one every ``--every`` seconds (default 4 s: 900 an hour);
* a burst of ``--burst`` contacts (default 250) sharing one timestamp every 15 minutes, as a
  CSV import gives;
* lateness: each contact (each burst as a whole) becomes visible to the search a random time
  after its timestamp, up to ``--late`` seconds (default 20 s; GHL's search index lags its
  writes).

The sandbox (its own process) holds the contacts; each contact is written into it only once its
visible time has come. The watch polls every 60 s of simulated time through the engine's own
``poller.poll_watch`` (in the benchmark process, on a simulated clock), so two hours run in
well under a minute. The same feed goes to two locations side by side in the same run: one
watch with the engine's settings, one with a deep read on every poll (reading the whole
one-hour overlap window each time, as the engine did before it measured lateness).

Measured per watch: searches per poll (the sandbox's request count over the polls of the feed),
contacts missed (written but never queued for delivery) and doubled (queued twice), from the
subscription's outbox. Target: ≤ 1.5 searches per poll, 0 missed, 0 doubled.

The sandbox's rate limit and the engine's budget are raised to 1,000 requests per 10 s for this
run, so the comparison watch's full-window reads are not slowed by GHL's limit; requests are
counted, not timed.
"""

from __future__ import annotations

import asyncio
import random
import time
from datetime import datetime, timezone

import httpx

from benchmarks.harness import Stack, arguments, log, record, show
from benchmarks.polling import locations, subscribe_many
from engine.core import keys
from engine.core.settings import Settings
from engine.polling import poller
from engine.wiring import open_runtime

TRIGGER = "contacts.search_contacts"
INTERVAL_S = 60.0
BURST_EVERY_S = 900.0
TARGET_SEARCHES = 1.5


def iso(at: float) -> str:
    moment = datetime.fromtimestamp(at, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def feed(t0: float, hours: float, every_s: float, burst: int, late_s: float,
         seed: int = 7) -> list[tuple[float, float]]:
    """(visible at, stamped at) for each contact of the feed, in simulated seconds."""
    rnd = random.Random(seed)
    out = []
    end = t0 + hours * 3600
    at = t0 + every_s
    while at < end:
        out.append((at + rnd.uniform(0, late_s), at))
        at += every_s
    at = t0 + BURST_EVERY_S / 2
    while at < end:
        shows = at + rnd.uniform(0, late_s)
        out.extend((shows, at) for _ in range(burst))
        at += BURST_EVERY_S
    out.sort()
    return out


async def _write(client: httpx.AsyncClient, url: str, location: str,
                 stamps: list[float]) -> None:
    """Contacts with these timestamps into the sandbox, one request per distinct timestamp."""
    counts: dict[float, int] = {}
    for s in stamps:
        counts[s] = counts.get(s, 0) + 1
    for stamp, n in counts.items():
        r = await client.post(f"{url}/_sandbox/seed/contacts", json={
            "count": n, "location_id": location,
            "fields": {"dateAdded": iso(stamp), "dateUpdated": iso(stamp)}})
        r.raise_for_status()


async def _queued(rt, sub_id: str) -> list[str]:
    ids = await rt.redis.lrange(keys.SUB_QUEUE.format(sub_id=sub_id), 0, -1)
    async with rt.redis.pipeline(transaction=False) as pipe:
        for did in ids:
            pipe.hget(keys.DELIVERY.format(delivery_id=did.decode()), "item_id")
        return [v.decode().split("@", 1)[0] for v in await pipe.execute()]


async def _measure(s: Stack, hours: float, every_s: float, burst: int, late_s: float) -> dict:
    base = {k: v for k, v in s.env.items()
            if k.startswith(("ENGINE_", "GHL_", "SMSGLOBAL_")) or k == "REDIS_URL"}
    engine = await open_runtime(Settings(**base))
    always_deep = await open_runtime(Settings(**{**base, "ENGINE_DEEP_READ_EVERY_SECONDS": "0"}))
    try:
        conns = await locations(s, engine, 2, prefix="loc_busy")
        names = ["engine", "deep_every_poll"]
        rts = {"engine": engine, "deep_every_poll": always_deep}
        locs = {name: f"loc_busy_{i:05d}" for i, name in enumerate(names)}
        subs = await subscribe_many(engine, [
            {"trigger": TRIGGER, "connection_id": conns[i], "params": {},
             "interval_minutes": 1, "target_url": "http://127.0.0.1:9/hook"}
            for i in range(2)])
        watches = {name: (await engine.redis.hget(keys.SUBSCRIPTION.format(sub_id=sub["id"]),
                                                  "watch")).decode()
                   for name, sub in zip(names, subs)}
        t0 = time.time()
        items = feed(t0, hours, every_s, burst, late_s)
        for name in names:
            assert (await poller.poll_watch(rts[name], watches[name], now=t0)).outcome == "primed"
        written: dict[str, set[str]] = {name: set() for name in names}
        polls = int(hours * 3600 / INTERVAL_S)
        searches = {name: 0 for name in names}
        deep = {name: 0 for name in names}
        pages: dict[str, list[int]] = {name: [] for name in names}
        started = time.monotonic()
        async with httpx.AsyncClient(timeout=60) as client:
            objs = (await client.get(f"{s.sandbox.url}/_sandbox/objects/contacts")).json()["objects"]
            before = {o["id"] for o in objs}
            nxt = 0
            for k in range(1, polls + 1):
                at = t0 + k * INTERVAL_S
                due = []
                while nxt < len(items) and items[nxt][0] <= at:
                    due.append(items[nxt][1])
                    nxt += 1
                for name in names:
                    await _write(client, s.sandbox.url, locs[name], due)
                for name in names:
                    result = await poller.poll_watch(rts[name], watches[name], now=at)
                    assert result.outcome == "polled", result
                    searches[name] += result.requests
                    deep[name] += int(result.deep)
                    pages[name].append(result.pages)
            feed_s = time.monotonic() - started
            # settle: what is still late shows up; one more deep read catches any straggler
            for name in names:
                for at in (t0 + (polls + 1) * INTERVAL_S, t0 + (polls + 2) * INTERVAL_S + 900):
                    await poller.poll_watch(rts[name], watches[name], now=at)
            objs = (await client.get(f"{s.sandbox.url}/_sandbox/objects/contacts")).json()["objects"]
            for o in objs:
                if o["id"] not in before:
                    for name in names:
                        if o.get("locationId") == locs[name]:
                            written[name].add(o["id"])
        out = {}
        for name, sub in zip(names, subs):
            got = await _queued(engine, sub["id"])
            out[name] = {
                "searches_per_poll": round(searches[name] / polls, 3),
                "searches": searches[name], "polls": polls, "deep_reads": deep[name],
                "max_pages_in_a_poll": max(pages[name]),
                "written": len(written[name]), "delivered": len(set(got)),
                "missed": len(written[name] - set(got)),
                "doubled": len(got) - len(set(got)),
            }
            log(f"busy location, {name}: {out[name]}")
        out["feed_wall_s"] = round(feed_s, 1)
        return out
    finally:
        await engine.close()
        await always_deep.close()


def run(hours: float = 2.0, every_s: float = 4.0, burst: int = 250, late_s: float = 20.0) -> dict:
    env = {"ENGINE_RATE_BURST": "1000"}
    with Stack(env) as s:
        s.start_sandbox({"rate_limit": 1000, "window_ms": 10_000, "latency_ms": 0})
        m = asyncio.run(_measure(s, hours, every_s, burst, late_s))
    mine = m["engine"]
    result = {
        "target": {"searches_per_poll": TARGET_SEARCHES, "missed": 0, "doubled": 0},
        "measured": {"searches_per_poll": mine["searches_per_poll"], "missed": mine["missed"],
                     "doubled": mine["doubled"],
                     "searches_per_poll_deep_every_poll": m["deep_every_poll"]["searches_per_poll"]},
        "met": bool(mine["searches_per_poll"] <= TARGET_SEARCHES and mine["missed"] == 0
                    and mine["doubled"] == 0),
        "watches": {"engine": mine, "deep_every_poll": m["deep_every_poll"]},
        "params": {"hours": hours, "create_every_s": every_s, "burst": burst,
                   "burst_every_s": BURST_EVERY_S, "late_up_to_s": late_s,
                   "interval_s": INTERVAL_S, "trigger": TRIGGER, "feed_wall_s": m["feed_wall_s"]},
    }
    return record("busy_location", result, "benchmarks.bench_busy_location")


if __name__ == "__main__":
    a = arguments(__doc__, ("--hours", 2.0), ("--every", 4.0, "seconds between steady creates"),
                  ("--burst", 250), ("--late", 20.0, "most seconds an item shows late"))
    show(run(a.hours, a.every, a.burst, a.late))
