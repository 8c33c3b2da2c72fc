"""Busy locations: a bulk import bigger than a poll's page budget is read over the next polls
from its saved ``searchAfter`` position and delivered once; a poll reads only down to the
lateness margin, and the periodic deep read catches the item later than that.

The polls run on a simulated clock (``poll_watch(now=...)``) one interval apart, and contacts
are stamped in that clock, so an interval passes without waiting for it."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone

import pytest

from engine.core import keys, metrics
from engine.polling import cursor, poller, subscriptions
from engine.spec import registry
from tests.polling_support import (  # noqa: F401
    deliver_all,
    object_id,
    receiver,
    rt,
    stats,
    subscribe,
    watch_of,
)

INTERVAL_S = 60.0
SEARCH = "contacts.search_contacts"


@pytest.fixture(autouse=True)
async def fresh_rate_budget(rt):
    """Each test starts with the sandbox location's rate budget unspent (the tests before it
    may have spent it inside the last 10 s)."""
    await clear_rate_budget(rt)


async def clear_rate_budget(rt) -> None:
    stale = [k async for k in rt.redis.scan_iter(keys.PREFIX + "rate:*")]
    if stale:
        await rt.redis.delete(*stale)


def iso(at: float) -> str:
    moment = datetime.fromtimestamp(at, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def seed_at(sandbox, count: int, first_at: float, last_at: float | None = None) -> None:
    """``count`` contacts stamped ``first_at`` (all alike, as a CSV import gives) or spread
    evenly from ``first_at`` to ``last_at`` (epoch s)."""
    if last_at is None:
        body = {"count": count, "fields": {"dateAdded": iso(first_at), "dateUpdated": iso(first_at)}}
    else:
        body = {"count": count, "spread_seconds": (last_at - first_at) * count / max(count - 1, 1),
                "ending_seconds_ago": time.time() - last_at}
    sandbox.post("/_sandbox/seed/contacts", json=body).raise_for_status()


def contact_ids(sandbox) -> set[str]:
    return {c["id"] for c in sandbox.get("/_sandbox/objects/contacts").json()["objects"]}


def delivered(receiver) -> list[str]:
    return [object_id(r["body"]["item_id"]) for r in receiver.accepted()]


async def queued(rt, sub_id: str) -> list[str]:
    """The contact of each delivery in the subscription's outbox queue (thousands of webhooks
    would take the test minutes to send; the sending itself is tested in test_delivery)."""
    ids = await rt.redis.lrange(keys.SUB_QUEUE.format(sub_id=sub_id), 0, -1)
    async with rt.redis.pipeline(transaction=False) as pipe:
        for did in ids:
            pipe.hget(keys.DELIVERY.format(delivery_id=did.decode()), "item_id")
        return [object_id(v.decode()) for v in await pipe.execute()]


async def shown(api, sub_id: str) -> dict:
    resp = api.get(f"/v1/subscriptions/{sub_id}")
    assert resp.status_code == 200, resp.text
    return resp.json()


async def catch_up(rt, api, sub, t0: float, max_polls: int, between=None) -> list[poller.PollResult]:
    """Poll one interval apart (simulated) until the watch has caught up, at most
    ``max_polls`` times; ``between(k, at)`` runs before poll ``k`` (at its time ``at``)."""
    watch = await watch_of(rt, sub["id"])
    results = []
    for k in range(1, max_polls + 1):
        at = t0 + k * INTERVAL_S
        if between is not None:
            between(k, at)
        result = await poller.poll_watch(rt, watch, now=at)
        assert result.outcome == "polled", result
        results.append(result)
        if not result.catching_up:
            break
    return results


async def test_a_bulk_import_is_delivered_once_within_the_page_budget(api, connection, sandbox, rt,
                                                                     receiver):
    op = registry.get(SEARCH)
    pag = op.trigger.paginator
    budget, size, most = op.trigger.max_pages, pag.page_size, pag.max_page_size
    t0 = time.time()
    sub = subscribe(api, connection, receiver)
    watch = await watch_of(rt, sub["id"])
    assert (await poller.poll_watch(rt, watch, now=t0)).outcome == "primed"
    known = contact_ids(sandbox)
    # one interval: 500 contacts, then 5,000 sharing one timestamp, then 500 more
    seed_at(sandbox, 500, t0 + 2, t0 + 20)
    seed_at(sandbox, 5000, t0 + 30)
    seed_at(sandbox, 500, t0 + 35, t0 + 55)
    imported = contact_ids(sandbox) - known
    assert len(imported) == 6000

    results = await catch_up(rt, api, sub, t0, max_polls=20)
    first = results[0]
    assert first.pages == budget and first.catching_up  # the page budget cut the first read short
    during = await shown(api, sub["id"])  # (after the last poll it is no longer shown)
    assert during["catching_up"] is False and during["backlog"] is None
    # the first poll reads `budget` pages; each later one spends a page on the head, the rest of
    # its budget on the backlog, in the largest pages GHL gives
    allowed = 1 + math.ceil((6000 - budget * size) / ((budget - 1) * most))
    assert len(results) <= allowed + 1, [r.pages for r in results]
    assert all(r.pages <= budget for r in results)
    assert sum(r.new for r in results) == 6000
    assert stats(sandbox, "429") == 0 and sandbox.get("/_sandbox/stats").json()["rate_limited"] == 0

    # caught up: the next poll reads one page and finds nothing
    quiet = await poller.poll_watch(rt, watch, now=t0 + (len(results) + 1) * INTERVAL_S)
    assert (quiet.new, quiet.pages, quiet.catching_up) == (0, 1, False)
    got = await queued(rt, sub["id"])
    assert len(got) == 6000 and set(got) == imported  # every one, exactly once


async def test_the_watch_shows_it_is_catching_up(api, connection, sandbox, rt, receiver):
    t0 = time.time()
    sub = subscribe(api, connection, receiver, params={"pageLimit": 10})
    watch = await watch_of(rt, sub["id"])
    await poller.poll_watch(rt, watch, now=t0)
    assert (await shown(api, sub["id"]))["catching_up"] is False
    seed_at(sandbox, 150, t0 + 5)
    first = await poller.poll_watch(rt, watch, now=t0 + INTERVAL_S)
    assert first.catching_up and first.new == 100
    view = await shown(api, sub["id"])
    assert view["catching_up"] is True
    backlog = view["backlog"]
    assert backlog["items_read"] == 100 and backlog["since_at"] == round(t0 + INTERVAL_S, 3)
    assert backlog["behind_seconds"] >= 0 and abs(backlog["resume_at"] - (t0 + 5)) < 0.01
    listed = api.get("/v1/subscriptions").json()["subscriptions"]
    assert [s["catching_up"] for s in listed if s["id"] == sub["id"]] == [True]
    # the operator's view: the CLI and the metrics gauges
    rows = await subscriptions.catching_up(rt.redis)
    assert [(w["watch"], w["items_read"]) for w in rows] == [(watch, 100)]
    gauges = (await metrics.redis_gauges(rt.redis)).decode()
    assert "ghl_engine_watches_catching_up 1.0" in gauges
    assert "ghl_engine_catch_up_behind_seconds " in gauges
    cli = subprocess.run([sys.executable, "-m", "engine.cli", "catching-up"], capture_output=True,
                         text=True, env={**os.environ, "REDIS_URL": rt.settings.redis_url},
                         timeout=60)
    assert cli.returncode == 0 and watch in cli.stdout and "100 items read" in cli.stdout, cli
    second = await poller.poll_watch(rt, watch, now=t0 + 2 * INTERVAL_S)
    assert second.new == 50 and not second.catching_up
    assert (await shown(api, sub["id"]))["backlog"] is None
    assert await subscriptions.catching_up(rt.redis) == []
    assert "ghl_engine_watches_catching_up 0.0" in (await metrics.redis_gauges(rt.redis)).decode()


async def test_a_bulk_import_while_contacts_keep_arriving(api, connection, sandbox, rt, receiver):
    op = registry.get(SEARCH)
    budget, most = op.trigger.max_pages, op.trigger.paginator.max_page_size
    t0 = time.time()
    sub = subscribe(api, connection, receiver)
    watch = await watch_of(rt, sub["id"])
    await poller.poll_watch(rt, watch, now=t0)
    known = contact_ids(sandbox)
    seed_at(sandbox, 5000, t0 + 30)
    seed_at(sandbox, 1000, t0 + 1, t0 + 59)

    clock = {"now": t0 + INTERVAL_S}
    stop = threading.Event()

    def keep_creating():
        """A contact stamped with the simulated clock every 20 ms, while the polls run."""
        while not stop.is_set():
            at = clock["now"]
            sandbox.post("/_sandbox/seed/contacts", json={
                "count": 1, "fields": {"dateAdded": iso(at), "dateUpdated": iso(at)}})
            time.sleep(0.02)

    def one_per_second(k: int, at: float) -> None:
        # the interval before poll k: a new contact every (simulated) second
        if k > 1:
            seed_at(sandbox, 60, at - INTERVAL_S + 1, at - 0.5)
        clock["now"] = at

    thread = threading.Thread(target=keep_creating, daemon=True)
    thread.start()
    try:
        results = await catch_up(rt, api, sub, t0, max_polls=20, between=one_per_second)
    finally:
        stop.set()
        thread.join()
    assert results[0].catching_up and not results[-1].catching_up
    # the head spends about two pages a poll on the new contacts, the rest goes to the backlog
    assert len(results) <= 2 + math.ceil(5000 / ((budget - 2) * most)), [r.pages for r in results]
    last_at = t0 + (len(results) + 1) * INTERVAL_S
    await poller.poll_watch(rt, watch, now=last_at)  # picks up what arrived during the last poll
    await poller.poll_watch(rt, watch, now=last_at + INTERVAL_S)
    assert sandbox.get("/_sandbox/stats").json()["rate_limited"] == 0
    got = await queued(rt, sub["id"])
    everything = contact_ids(sandbox) - known
    assert len(everything) > 6000 + 60
    assert len(got) == len(set(got)) and set(got) == everything  # each new one and the backlog, once


async def test_polls_read_to_the_lateness_margin_and_the_deep_read_catches_outliers(
        api, connection, sandbox, rt, receiver):
    t0 = time.time()
    sub = subscribe(api, connection, receiver, params={"pageLimit": 20})
    watch = await watch_of(rt, sub["id"])
    await poller.poll_watch(rt, watch, now=t0)  # primes (a deep read)
    seed_at(sandbox, 100, t0 + 1, t0 + 50)
    assert (await poller.poll_watch(rt, watch, now=t0 + 60)).new == 100
    before = stats(sandbox, SEARCH)
    # an interval with 10 new contacts and one stamped 5 minutes before the previous poll, below
    # 100 known ones: a normal poll reads one page and does not reach it
    seed_at(sandbox, 10, t0 + 70, t0 + 110)
    seed_at(sandbox, 1, t0 + 60 - 300)
    normal = await poller.poll_watch(rt, watch, now=t0 + 120)
    assert (normal.new, normal.pages, normal.deep) == (10, 1, False)
    assert stats(sandbox, SEARCH) - before == 1
    state = await cursor.load(rt.redis, watch)
    assert state.late_s == 0 and cursor.margin_s(state) == cursor.LATE_MARGIN_MIN_S
    # the deep read, due every 15 minutes, reads the overlap window and finds it
    deep_at = t0 + rt.settings.deep_read_every_seconds + 1
    deep = await poller.poll_watch(rt, watch, now=deep_at)
    assert deep.deep and deep.new == 1 and deep.pages > 1
    state = await cursor.load(rt.redis, watch)
    # it was stamped 360 s before the previous poll, which did not show it
    assert 359 <= state.late_s <= 361
    assert cursor.margin_s(state) >= 2 * 359  # later polls read that far back
    after = await poller.poll_watch(rt, watch, now=deep_at + 60)
    assert (after.new, after.deep) == (0, False)
    await deliver_all(rt, [sub["id"]])
    got = delivered(receiver)
    assert len(got) == len(set(got)) == 111
    assert await rt.redis.zcard(keys.CURSOR_SEEN.format(watch_id=watch)) >= 111  # the window


async def test_the_lateness_margin_decays_after_an_outlier_and_deep_reads_still_catch_late_items(
        api, connection, sandbox, rt, receiver):
    t0 = time.time()
    every = rt.settings.deep_read_every_seconds
    half = cursor.late_half_life_s(every)
    sub = subscribe(api, connection, receiver, params={"pageLimit": 20})
    watch = await watch_of(rt, sub["id"])
    await poller.poll_watch(rt, watch, now=t0)  # primes (a deep read)
    seed_at(sandbox, 100, t0 + 1, t0 + 50)
    assert (await poller.poll_watch(rt, watch, now=t0 + 60)).new == 100
    # until the deep read: 60 contacts after that poll, and one stamped 300 s before it
    seed_at(sandbox, 60, t0 + 400, t0 + 850)
    seed_at(sandbox, 1, t0 + 60 - 300)
    deep_at = t0 + every + 1
    deep = await poller.poll_watch(rt, watch, now=deep_at)
    assert deep.deep and deep.new == 61
    state = await cursor.load(rt.redis, watch)
    assert 299 <= state.late_s <= 301 and state.late_at == deep_at
    # right after, a poll reads back twice that lateness (a little decayed): past the 60
    right_after = await poller.poll_watch(rt, watch, now=deep_at + INTERVAL_S)
    assert (right_after.new, right_after.deep) == (0, False) and right_after.pages >= 3
    assert cursor.margin_s(state, deep_at + INTERVAL_S, half) > 2 * 0.85 * 300
    # polls without late items: the estimate halves every half deep-read period, and the margin
    # is back at its minimum once under half of it (6 halvings from 300 s: 45 minutes)
    at = deep_at + INTERVAL_S
    while cursor.margin_s(state, at, half) > cursor.LATE_MARGIN_MIN_S:
        assert at - deep_at <= 6 * half, "the lateness margin does not come down"
        at += INTERVAL_S
        await clear_rate_budget(rt)  # simulated minutes pass in real milliseconds
        assert (await poller.poll_watch(rt, watch, now=at)).new == 0
    state = await cursor.load(rt.redis, watch)
    assert state.late_s == pytest.approx(300, abs=1)  # kept as measured, read decayed
    # a quiet minute: 25 new contacts, read down to the narrow margin
    seed_at(sandbox, 25, at + 1, at + 50)
    await clear_rate_budget(rt)
    quiet_at = at + INTERVAL_S
    quiet = await poller.poll_watch(rt, watch, now=quiet_at)
    assert (quiet.new, quiet.deep) == (25, False) and quiet.pages <= 2
    # another late item, stamped 100 s before that poll, below a page of the 25: the narrow
    # margin stops the normal polls above it, the next deep read finds it
    seed_at(sandbox, 1, quiet_at - 100)
    last, found, polls = quiet_at, [], 0
    while not found:
        last += INTERVAL_S
        polls += 1
        await clear_rate_budget(rt)
        got = await poller.poll_watch(rt, watch, now=last)
        if got.new:
            found.append(got)
    assert found[0].deep and found[0].new == 1 and polls <= every / INTERVAL_S + 1
    state = await cursor.load(rt.redis, watch)
    assert state.late_s >= 100 and state.late_at == last  # measured again: later polls widen
    await deliver_all(rt, [sub["id"]])
    got_ids = delivered(receiver)
    assert len(got_ids) == len(set(got_ids)) == 100 + 61 + 25 + 1  # each once, the late ones too


async def test_a_watch_counts_a_second_poll_for_the_same_slot(api, connection, sandbox, rt,
                                                             receiver):
    sub = subscribe(api, connection, receiver)
    watch = await watch_of(rt, sub["id"])
    wkey = keys.WATCH.format(watch_id=watch)
    for slot_ms in (1_000, 61_000, 121_000):
        await poller.poll_watch(rt, watch, slot_ms=slot_ms)
    assert await rt.redis.hget(wkey, "repeat_slot_polls") is None
    await poller.poll_watch(rt, watch, slot_ms=121_000)  # the same slot again
    assert await rt.redis.hget(wkey, "repeat_slot_polls") == b"1"
    assert await rt.redis.hget(wkey, "last_slot_ms") == b"121000"


async def test_a_rate_budget_running_out_mid_read_saves_the_position(api, connection, sandbox, rt,
                                                                     receiver):
    t0 = time.time()
    sub = subscribe(api, connection, receiver, params={"pageLimit": 10})
    watch = await watch_of(rt, sub["id"])
    await poller.poll_watch(rt, watch, now=t0)
    seed_at(sandbox, 60, t0 + 5)
    await clear_rate_budget(rt)  # then leave the background budget room for three requests
    used = rt.settings.rate_burst - rt.settings.rate_reserve - 3
    scope = f"ghl:{connection['location_id']}"
    for _ in range(used):
        assert (await rt.budget.try_acquire(scope, "background"))[0] == 0
    cut = await poller.poll_watch(rt, watch, now=t0 + 60)
    assert cut.outcome == "polled" and cut.pages == 3 and cut.new == 30 and cut.catching_up
    await clear_rate_budget(rt)
    rest = await poller.poll_watch(rt, watch, now=t0 + 120)
    assert rest.new == 30 and not rest.catching_up
