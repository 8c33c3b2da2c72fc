"""Real worker processes (``python -m engine.cli.main worker``) against the same Redis and sandbox:
killed with SIGKILL again and again, and two or four schedulers ticking together."""

from __future__ import annotations

import asyncio
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from engine.core import keys
from engine.polling import cursor
from tests.polling_support import object_id, receiver, rt, seed, subscribe, watch_of  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
CLAIMED = re.compile(r"claimed watch (?P<watch>w_[0-9a-f]+) slot (?P<slot>\d+)")


def start_worker(log_dir: Path, n: int, log_level: str = "WARNING") -> subprocess.Popen:
    env = {**os.environ, "ENGINE_MIN_INTERVAL_SECONDS": "1",
           "ENGINE_INTERVAL_UNIT_SECONDS": "1", "ENGINE_DELIVERY_LEASE_SECONDS": "2",
           "ENGINE_POLL_LEASE_SECONDS": "3",
           "ENGINE_DELIVERY_TIMEOUT_SECONDS": "1", "ENGINE_DELIVERY_RETRY_SCHEDULE": "0.5,0.5,1,1,2,2,5",
           "ENGINE_LOG_LEVEL": log_level}
    out = open(log_dir / f"worker{n}.log", "wb")
    return subprocess.Popen([sys.executable, "-m", "engine.cli.main", "worker"], cwd=ROOT, env=env,
                            stdout=out, stderr=subprocess.STDOUT)


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def wait_for(check, timeout: float, what: str) -> None:
    deadline = time.time() + timeout
    while not await check():
        assert time.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


async def test_sigkill_in_the_middle_loses_nothing(api, connection, sandbox, rt, receiver,
                                                   tmp_path):
    receiver.delay = 0.08  # deliveries and polls take a while, so kills land inside them
    sandbox.put("/_sandbox/config", json={"latency_ms": 80}).raise_for_status()
    subs = [subscribe(api, connection, receiver, params={"pageLimit": 5}),
            subscribe(api, connection, receiver, params={"pageLimit": 7})]
    watches = [await watch_of(rt, s["id"]) for s in subs]

    async def primed():
        return all([(await cursor.load(rt.redis, w)).primed for w in watches])

    workers = [start_worker(tmp_path, 0)]
    try:
        await wait_for(primed, 30, "the first polls")
        expected: list[str] = []
        rnd = random.Random(11)
        for n in range(1, 7):
            expected += seed(sandbox, 4)
            await asyncio.sleep(rnd.uniform(0.6, 1.6))
            workers[-1].send_signal(signal.SIGKILL)
            workers[-1].wait()
            expected += seed(sandbox, 2)
            workers.append(start_worker(tmp_path, n))

        async def all_arrived():
            got = defaultdict(set)
            for r in receiver.accepted():
                got[r["body"]["subscription_id"]].add(object_id(r["body"]["item_id"]))
            queued = sum([await rt.redis.llen(keys.SUB_QUEUE.format(sub_id=s["id"])) for s in subs])
            return queued == 0 and all(got[s["id"]] >= set(expected) for s in subs)

        await wait_for(all_arrived, 60, "every item at every subscriber")
    finally:
        for proc in workers:
            stop(proc)

    for s in subs:
        mine = [r for r in receiver.accepted() if r["body"]["subscription_id"] == s["id"]]
        ids_per_item = defaultdict(set)
        for r in mine:
            ids_per_item[object_id(r["body"]["item_id"])].add(r["headers"]["webhook-id"])
        assert set(ids_per_item) == set(expected)  # nothing lost, nothing extra
        assert all(len(v) == 1 for v in ids_per_item.values())  # a re-send has the same id
        first_seen = list(dict.fromkeys(object_id(r["body"]["item_id"]) for r in mine))
        assert first_seen == expected  # in order


@pytest.mark.parametrize("n_workers", [2, 4])
async def test_schedulers_of_several_processes_poll_each_watch_once_per_slot(
        api, connection, sandbox, rt, receiver, tmp_path, n_workers):
    contacts = [c["id"] for c in sandbox.get("/_sandbox/objects/contacts").json()["objects"][:4]]
    subs = [subscribe(api, connection, receiver, trigger="contacts.get_contact",
                      params={"contactId": c}) for c in contacts]
    watches = [await watch_of(rt, s["id"]) for s in subs]
    # at DEBUG each worker logs every claim it makes: "claimed watch <id> slot <ms>"
    workers = [start_worker(tmp_path, n, "DEBUG") for n in range(n_workers)]
    window = 4.0  # seconds of 1 s slots
    try:
        async def primed():
            return all([(await cursor.load(rt.redis, w)).primed for w in watches])

        await wait_for(primed, 30, "the first polls")
        mark = len(sandbox.get("/_sandbox/requests").json()["requests"])
        await asyncio.sleep(window)
        requests = sandbox.get("/_sandbox/requests").json()["requests"][mark:]
        assert all(p.poll() is None for p in workers)  # all ran the whole time
    finally:
        for proc in workers:
            stop(proc)
    per_contact = defaultdict(int)
    for r in requests:
        for c in contacts:
            if r["path"] == f"/contacts/{c}":
                per_contact[c] += 1
    # the claims of all workers: each (watch, slot) claimed exactly once, by one of them
    claims = Counter()
    for n in range(n_workers):
        for m in CLAIMED.finditer((tmp_path / f"worker{n}.log").read_text()):
            if m["watch"] in watches:
                claims[(m["watch"], int(m["slot"]))] += 1
    assert claims and max(claims.values()) == 1, [k for k, v in claims.items() if v > 1]
    for c, w in zip(contacts, watches):
        slots = {slot for watch, slot in claims if watch == w}
        # polled again and again, each poll one claimed slot's: no more polls than slots
        assert 2 <= per_contact[c] <= len(slots), (c, per_contact[c], len(slots))
        # and no slot committed twice (the commit counts a second one for the same slot)
        assert await rt.redis.hget(keys.WATCH.format(watch_id=w), "repeat_slot_polls") is None
