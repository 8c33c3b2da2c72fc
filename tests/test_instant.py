"""Instant triggers end to end: the sandbox pushes signed events to the API, a real worker process
turns them into debounced polls through the watch's cursor, and a local receiver gets each item
once. Polling is set to 15 minutes throughout, so only events (or reconciliation) explain a
delivery within seconds."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

from engine.core import keys
from engine.polling import cursor
from sandbox.ghl import DEFAULT_LOCATION, DEFAULT_TOKEN
from tests.polling_support import object_id, receiver, rt, subscribe, watch_of  # noqa: F401
from tests.support import stop_process

ROOT = Path(__file__).resolve().parent.parent
GHL_HEADERS = {"Authorization": f"Bearer {DEFAULT_TOKEN}", "Version": "2021-07-28"}


def start_worker(log_dir: Path, **settings: str) -> subprocess.Popen:
    env = {**os.environ, "ENGINE_MIN_INTERVAL_SECONDS": "1", "ENGINE_EVENT_DEBOUNCE_MS": "1000",
           "ENGINE_DELIVERY_RETRY_SCHEDULE": "0.3,0.3,0.5,1,2", "ENGINE_LOG_LEVEL": "WARNING",
           **settings}
    out = open(log_dir / "worker.log", "wb")
    return subprocess.Popen([sys.executable, "-m", "engine.cli.main", "worker"], cwd=ROOT, env=env,
                            stdout=out, stderr=subprocess.STDOUT)


@pytest.fixture
def worker_factory(tmp_path):
    procs: list[subprocess.Popen] = []

    def start(**settings: str) -> subprocess.Popen:
        proc = start_worker(tmp_path, **settings)
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        stop_process(proc)


@pytest.fixture
def pushing(sandbox, api_server):
    """The sandbox pushes its events to the engine's receiver."""
    sandbox.put("/_sandbox/config", json={
        "webhook_url": api_server.url + "/v1/inbound/ghl", "rate_limit": 100_000}).raise_for_status()
    return sandbox


@pytest.fixture
def ghl(sandbox_server):
    """A client on the sandbox's GHL API itself: changes made in 'GHL', not through the engine."""
    with httpx.Client(base_url=sandbox_server.url, headers=GHL_HEADERS, timeout=30) as client:
        yield client


async def wait_for(check, timeout: float, what: str, step: float = 0.02) -> float:
    started = time.time()
    while not await check():
        assert time.time() - started < timeout, f"timed out after {timeout}s waiting for {what}"
        await asyncio.sleep(step)
    return time.time() - started


async def primed(rt, sub: dict, timeout: float = 20) -> None:
    watch = await watch_of(rt, sub["id"])

    async def check():
        return (await cursor.load(rt.redis, watch)).primed

    await wait_for(check, timeout, "the first poll")


async def events_handled(rt) -> bool:
    """Every pushed event queued so far has been handled (a handled event leaves the stream)."""
    return await rt.redis.xlen(keys.INBOUND_STREAM) == 0


async def quiet(rt, watch: str) -> bool:
    """No pushed event waits, no poll of the watch runs, and its next poll is its scheduled one,
    not one an event brought forward (polling is set to 15 minutes here)."""
    due = await rt.redis.zscore(keys.WATCHES_DUE, watch)
    return (await events_handled(rt)
            and not await rt.redis.exists(keys.WATCH_LOCK.format(watch_id=watch))
            and due is not None and due > time.time() * 1000 + 60_000)


def received(receiver, sub_id: str) -> list[dict]:
    return [r for r in receiver.accepted() if r["body"]["subscription_id"] == sub_id]


def reads(sandbox, key: str) -> int:
    return sandbox.get("/_sandbox/stats").json()["requests"].get(key, 0)


# ----------------------------------------------------------------------------- latency


async def test_a_contact_created_in_ghl_reaches_the_subscriber_within_2_s(
        api, connection, pushing, ghl, rt, receiver, worker_factory):
    worker_factory()
    sub = subscribe(api, connection, receiver, interval=15)
    await primed(rt, sub)
    await asyncio.sleep(0.5)
    started = time.time()
    made = ghl.post("/contacts/", json={"locationId": DEFAULT_LOCATION, "firstName": "Instant",
                                       "email": f"i{uuid.uuid4().hex[:8]}@example.com"})
    assert made.status_code == 201, made.text
    contact_id = made.json()["contact"]["id"]

    async def arrived():
        return any(object_id(r["body"]["item_id"]) == contact_id for r in receiver.accepted())

    elapsed = await wait_for(arrived, 10, "the delivery")
    assert time.time() - started < 2.0, f"delivered after {elapsed:.2f} s"
    listed = api.get(f"/v1/subscriptions/{sub['id']}").json()
    assert listed["mode"] == "instant" and listed["last_event_at"] >= int(started) - 1
    assert listed["interval_minutes"] == 15


# ----------------------------------------------------------------------------- refused events


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


async def test_forged_stale_replayed_or_unsigned_events_cause_no_upstream_read(
        api, api_server, connection, pushing, ghl, rt, receiver, worker_factory):
    from cryptography.hazmat.primitives.asymmetric import ed25519

    from sandbox import push

    worker_factory()
    sub = subscribe(api, connection, receiver, interval=15)
    await primed(rt, sub)
    pushing.put("/_sandbox/config", json={"webhook_url": None}).raise_for_status()

    def body(**extra) -> dict:
        return {"type": "ContactCreate", "locationId": DEFAULT_LOCATION, "id": "c_forged",
                "webhookId": str(uuid.uuid4()), "timestamp": _iso(datetime.now(timezone.utc)),
                **extra}

    url = api_server.url + "/v1/inbound/ghl"
    genuine = json.dumps(body()).encode()
    assert httpx.post(url, content=genuine,
                      headers={"x-ghl-signature": push.sign(genuine)}).status_code == 200

    async def read_once():
        return reads(pushing, "contacts.search_contacts") >= before + 1

    before = reads(pushing, "contacts.search_contacts")
    await wait_for(read_once, 5, "the genuine event's read")
    watch = await watch_of(rt, sub["id"])
    await wait_for(lambda: quiet(rt, watch), 10, "the genuine event's poll to end")
    baseline = reads(pushing, "contacts.search_contacts")
    last_event_at = await rt.redis.hget(keys.WATCH.format(watch_id=watch), "last_event_at")
    assert last_event_at is not None  # the genuine event poked the watch

    other = ed25519.Ed25519PrivateKey.generate()
    stale = json.dumps(body(timestamp=_iso(datetime.now(timezone.utc) - timedelta(minutes=10))))
    forged = json.dumps(body()).encode()
    attempts = {
        "unsigned": (forged, {}, 401),
        "forged": (forged, {"x-ghl-signature": base64.b64encode(other.sign(forged)).decode()}, 401),
        "garbage signature": (forged, {"x-ghl-signature": "AAAA"}, 401),
        "stale": (stale.encode(), {"x-ghl-signature": push.sign(stale.encode())}, 409),
        "replayed": (genuine, {"x-ghl-signature": push.sign(genuine)}, 409),
    }
    for name, (raw, headers, status) in attempts.items():
        resp = httpx.post(url, content=raw, headers=headers)
        assert resp.status_code == status, (name, resp.text)
    await wait_for(lambda: quiet(rt, watch), 10, "the worker to be quiet")
    # none of them poked the watch (a poke stamps last_event_at), none caused a read
    assert await rt.redis.hget(keys.WATCH.format(watch_id=watch), "last_event_at") == last_event_at
    assert reads(pushing, "contacts.search_contacts") == baseline
    assert api.get(f"/v1/subscriptions/{sub['id']}").json()["status"] == "active"


# ----------------------------------------------------------------------------- burst


async def test_a_burst_of_2000_contact_events_costs_one_poll_per_debounce_window(
        api, connection, pushing, rt, receiver, worker_factory):
    debounce_s = 1.0
    worker_factory(ENGINE_EVENT_DEBOUNCE_MS=str(int(debounce_s * 1000)))
    sub = subscribe(api, connection, receiver, interval=15)
    await primed(rt, sub)
    await asyncio.sleep(0.5)
    requests_before = len(pushing.get("/_sandbox/requests").json()["requests"])
    started = time.time()
    made: list[str] = []
    for batch in range(20):  # 2,000 new contacts, 100 every half second: one event each
        resp = pushing.post("/_sandbox/seed/contacts", json={"count": 100})
        made += resp.json()["ids"]
        await asyncio.sleep(max(0.0, started + (batch + 1) * 0.5 - time.time()))
    burst_s = time.time() - started
    assert burst_s < 12

    async def all_delivered():
        return len(received(receiver, sub["id"])) >= 2000

    await wait_for(all_delivered, 90, "2,000 deliveries", step=0.2)

    async def all_answered():
        return pushing.get("/_sandbox/events").json()["counts"].get("answered_200") == 2000

    await wait_for(all_answered, 10, "the answers to 2,000 events", step=0.1)
    events = pushing.get("/_sandbox/events").json()["counts"]
    assert events["emitted"] == 2000 and events.get("answered_200") == 2000, events

    got = received(receiver, sub["id"])
    ids = [object_id(r["body"]["item_id"]) for r in got]
    assert len(ids) == 2000 and set(made) <= set(ids), "each contact once"
    assert len({r["headers"]["webhook-id"] for r in got}) == 2000

    log = pushing.get("/_sandbox/requests").json()["requests"][requests_before:]
    searches = [r for r in log if r["route"] == "contacts.search_contacts"]
    # a poll's first page carries no searchAfter position (later pages and backlogs do)
    polls = sorted(r["t"] for r in searches if not (r["body"] or {}).get("searchAfter"))
    gaps = [b - a for a, b in zip(polls, polls[1:])]
    # one poll per window: polls are scheduled a window apart (their requests reach the sandbox
    # with the busy worker's jitter, so the count is checked, not each gap); one poll per
    # event would be 2,000
    assert polls and len(polls) <= (polls[-1] - polls[0]) / debounce_s + 2, (len(polls), gaps)
    assert len(polls) <= 60, len(polls)
    stats = pushing.get("/_sandbox/stats").json()
    assert stats["rate_limited"] == 0
    times = sorted(r["t"] for r in log if r["route"])
    assert max(sum(1 for t in times if s <= t < s + 10) for s in times) <= 100  # GHL's burst


# ----------------------------------------------------------------------------- lossy events


async def test_dropped_and_duplicated_events_still_deliver_every_item_once(
        api, connection, pushing, ghl, rt, receiver, worker_factory):
    reconcile_s = 6
    worker_factory(ENGINE_RECONCILE_INTERVAL_SECONDS=str(reconcile_s))
    receiver.fail_every = 25  # some deliveries are tried again: the same webhook-id each time
    pushing.put("/_sandbox/config", json={"drop_rate": 0.2, "duplicate_rate": 0.125,
                                          "event_seed": 16}).raise_for_status()
    anchor = ghl.post("/contacts/", json={"locationId": DEFAULT_LOCATION,
                                         "firstName": "Anchor"}).json()["contact"]
    pipeline = ghl.get("/opportunities/pipelines",
                       params={"locationId": DEFAULT_LOCATION}).json()["pipelines"][0]
    subs = {
        "contacts": subscribe(api, connection, receiver, interval=15),
        "notes": subscribe(api, connection, receiver, trigger="contacts.get_contact_notes",
                           params={"contactId": anchor["id"]}, interval=15),
        "tasks": subscribe(api, connection, receiver, trigger="contacts.get_contact_tasks",
                           params={"contactId": anchor["id"]}, interval=15),
        "opportunities": subscribe(api, connection, receiver,
                                   trigger="opportunities.search_opportunities", interval=15),
    }
    for sub in subs.values():
        await primed(rt, sub)
    await asyncio.sleep(0.5)

    expected: dict[str, set[str]] = defaultdict(set)  # subscription -> item ids that must arrive
    contacts: list[str] = []
    changes = 0

    def change(i: int) -> None:
        nonlocal changes
        kind = i % 5
        if kind in (0, 1) or not contacts:
            c = ghl.post("/contacts/", json={"locationId": DEFAULT_LOCATION,
                                             "firstName": f"Lossy{i}"}).json()["contact"]
            contacts.append(c["id"])
            expected["contacts"].add(c["id"])
        elif kind == 2:
            n = ghl.post(f"/contacts/{anchor['id']}/notes", json={"body": f"note {i}"})
            expected["notes"].add(n.json()["note"]["id"])
        elif kind == 3:
            t = ghl.post(f"/contacts/{anchor['id']}/tasks", json={
                "title": f"task {i}", "dueDate": "2026-12-01T09:00:00Z", "completed": False})
            expected["tasks"].add(t.json()["task"]["id"])
        else:
            o = ghl.post("/opportunities/", json={
                "locationId": DEFAULT_LOCATION, "pipelineId": pipeline["id"], "name": f"opp {i}",
                "status": "open", "contactId": contacts.pop(0)})
            assert o.status_code == 201, o.text
            expected["opportunities"].add(o.json()["opportunity"]["id"])
        changes += 1

    for i in range(480):
        change(i)
        if i % 25 == 0:
            await asyncio.sleep(0.05)
    # the last 20 changes' events are all lost: only reconciliation can find them
    pushing.put("/_sandbox/config", json={"drop_rate": 1.0}).raise_for_status()
    await asyncio.sleep(2.5)  # past the debounce windows the earlier events opened
    last_started = time.time()
    before = {k: set(v) for k, v in expected.items()}
    for i in range(480, 500):
        change(i)
    assert changes == 500
    unsignalled = {i for k in expected for i in expected[k] - before.get(k, set())}
    total = sum(len(v) for v in expected.values())

    def arrived() -> dict[str, set[str]]:
        out: dict[str, set[str]] = defaultdict(set)
        for name, sub in subs.items():
            for r in received(receiver, sub["id"]):
                out[name].add(object_id(r["body"]["item_id"]))
        return out

    async def complete():
        got = arrived()
        return all(expected[name] <= got[name] for name in subs)

    await wait_for(complete, reconcile_s + 60, f"all {total} items", step=0.2)
    first_try = {}
    for r in sorted(receiver.received, key=lambda r: r["t"]):
        first_try.setdefault(object_id(r["body"]["item_id"]), r["t"])
    late = max(first_try[i] for i in unsignalled) - last_started
    assert late < reconcile_s + 3, f"the unsignalled changes arrived {late:.1f} s later"
    await asyncio.sleep(1.5)

    counts = pushing.get("/_sandbox/events").json()["counts"]
    assert counts["dropped"] >= 80 and counts["duplicated"] >= 30, counts
    # exactly once: one accepted delivery per item, every try of an item under one webhook-id
    for name, sub in subs.items():
        accepted = Counter(r["body"]["item_id"] for r in received(receiver, sub["id"]))
        assert max(accepted.values()) == 1, (name, accepted.most_common(3))
    ids_per_item: dict[str, set[str]] = defaultdict(set)
    for r in receiver.received:
        ids_per_item[r["body"]["item_id"]].add(r["headers"]["webhook-id"])
    assert all(len(v) == 1 for v in ids_per_item.values())
    assert any(r["status"] >= 500 for r in receiver.received), "no delivery was tried again"


# ----------------------------------------------------------------------------- SMSGlobal pushes


async def test_an_sms_sent_by_a_flow_gets_its_receipt_and_reply_pushed_and_both_fire_at_once(
        api, api_server, connection, smsglobal_connection, pushing, ghl, rt, receiver,
        worker_factory):
    worker_factory(ENGINE_PUBLIC_URL=api_server.url)
    pushing.put("/_sandbox/smsglobal/config", json={"delivery_seconds": 0.5}).raise_for_status()
    flow = api.post("/v1/flow-templates/ghl_contact_welcome/instantiate", json={
        "connections": {"ghl": connection["id"], "smsglobal": smsglobal_connection["id"]},
        "options": {"message": "Welcome {{ trigger.firstName }}", "interval_minutes": 15}})
    assert flow.status_code == 201, flow.text
    flow_sub = {"id": flow.json()["flows"][0]["subscription_id"]}
    receipts = subscribe(api, smsglobal_connection, receiver, interval=15,
                         trigger="smsglobal.sent_message_status_changed",
                         params={"status": "delivered"})
    replies = subscribe(api, smsglobal_connection, receiver, interval=15,
                        trigger="smsglobal.new_incoming_sms")
    for sub in (flow_sub, receipts, replies):
        await primed(rt, sub)
    await asyncio.sleep(0.5)

    phone = "+6140000%04d" % (int(time.time() * 1000) % 10_000)
    made = ghl.post("/contacts/", json={"locationId": DEFAULT_LOCATION, "firstName": "Wendy",
                                       "phone": phone})
    assert made.status_code == 201, made.text
    number = phone.lstrip("+")

    def sent() -> list[dict]:
        return [m for m in pushing.get("/_sandbox/smsglobal/messages").json()["messages"]
                if m["destination"] == number]

    async def texted():
        return bool(sent())

    await wait_for(texted, 5, "the flow's welcome SMS", step=0.05)
    sent_at = time.time()
    (msg,) = sent()
    assert msg["message"] == "Welcome Wendy"

    async def receipt_fired():
        return any(r["body"]["data"].get("outgoing_id") == msg["outgoing_id"] for r in received(receiver, receipts["id"]))

    await wait_for(receipt_fired, 10, "the receipt trigger", step=0.05)
    assert time.time() - sent_at < 0.5 + 2.0  # delivered after 0.5 s; pushed, polled, sent
    (delivery,) = [r for r in received(receiver, receipts["id"])
                   if r["body"]["data"].get("outgoing_id") == msg["outgoing_id"]]
    assert delivery["body"]["data"]["status"] == "delivered"

    replied_at = time.time()
    pushing.post("/_sandbox/smsglobal/incoming", json={
        "origin": number, "destination": msg["origin"], "message": "Yes please"}).raise_for_status()

    async def reply_fired():
        return any(r["body"]["data"].get("message") == "Yes please"
                   for r in received(receiver, replies["id"]))

    await wait_for(reply_fired, 10, "the inbound trigger", step=0.05)
    assert time.time() - replied_at < 2.0
    listed = {s["id"]: s for s in api.get("/v1/subscriptions").json()["subscriptions"]}
    assert listed[receipts["id"]]["mode"] == listed[replies["id"]]["mode"] == "instant"


# ----------------------------------------------------------------------------- install / uninstall


def _consent(api, sandbox, **consent) -> dict:
    from urllib.parse import parse_qs, urlsplit

    url = urlsplit(api.get("/v1/oauth/ghl/authorize").headers["location"])
    query = {k: v[0] for k, v in parse_qs(url.query).items()} | consent
    back = urlsplit(sandbox.get("/oauth/chooselocation", params=query).headers["location"])
    resp = api.get("/v1/oauth/ghl/callback",
                   params={k: v[0] for k, v in parse_qs(back.query).items()})
    assert resp.status_code == 201, resp.text
    return resp.json()


async def test_app_install_creates_and_polls_connections_and_uninstall_disables_them(
        api, pushing, rt, receiver, worker_factory):
    worker_factory()
    agency = _consent(api, pushing, user_type="Company")  # the sandbox then pushes INSTALL
    assert agency["location_id"] is None

    def location_conns() -> list[dict]:
        return [c for c in api.get("/v1/connections").json()["connections"]
                if c["location_id"] == DEFAULT_LOCATION and c["auth"] == "oauth"]

    async def appeared():
        return bool(location_conns())

    await wait_for(appeared, 10, "the installed location's connection", step=0.1)
    (conn,) = location_conns()
    assert conn["company_id"] == agency["company_id"] and conn["status"] == "active"
    sub = subscribe(api, conn, receiver, interval=15)
    await primed(rt, sub)  # it polls: its token works
    # a repeated install event changes nothing
    from sandbox import push

    again = json.dumps({"type": "INSTALL", "installType": "Company", "locationId": DEFAULT_LOCATION,
                        "companyId": agency["company_id"], "webhookId": str(uuid.uuid4()),
                        "timestamp": _iso(datetime.now(timezone.utc))}).encode()
    assert api.post("/v1/inbound/ghl", content=again,
                    headers={"x-ghl-signature": push.sign(again)}).status_code == 200
    await wait_for(lambda: events_handled(rt), 10, "the repeated install's handling", step=0.05)
    assert len(location_conns()) == 1

    pushing.post("/_sandbox/oauth/uninstall", json={"location_id": DEFAULT_LOCATION}).raise_for_status()

    async def disabled():
        return location_conns()[0]["status"] == "disabled"

    await wait_for(disabled, 10, "the uninstall", step=0.1)
    shown = location_conns()[0]["status_reason"]
    assert "uninstalled" in shown and DEFAULT_LOCATION in shown
    listed = api.get(f"/v1/subscriptions/{sub['id']}").json()
    assert listed["status"] == "paused" and "uninstalled" in listed["status_reason"]
    agency_now = api.get(f"/v1/connections/{agency['id']}").json()
    assert agency_now["status"] == "active"  # only the location was uninstalled
