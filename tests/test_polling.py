"""Dedupe cursors against the sandbox: shared timestamps, late arrivals, items inserted while a
poll pages, the updated and changed strategies, and watches that pause or wait."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import datetime, timedelta, timezone

from engine.core import keys
from tests.support import smsglobal_connection_with_a_replaced_secret
from tests.polling_support import (deliver_all, object_id, poll, seed, stats, subscribe, verified,
                                   watch_of)


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def stamped(moment: datetime) -> dict[str, str]:
    """A contact added, and last changed, at ``moment``."""
    return {"dateAdded": iso(moment), "dateUpdated": iso(moment)}


def delivered_ids(receiver) -> list[str]:
    """The upstream id of each delivered item (``item_id`` also carries the updated time)."""
    return [object_id(r["body"]["item_id"]) for r in receiver.accepted()]


async def test_fifty_items_sharing_one_timestamp_over_pages(api, connection, sandbox, rt, receiver):
    sub = subscribe(api, connection, receiver, params={"pageLimit": 10})
    await poll(rt, sub["id"])
    stamp = stamped(datetime.now(timezone.utc))
    first = seed(sandbox, 50, **stamp)
    result = await poll(rt, sub["id"])
    assert result.new == 50
    more = seed(sandbox, 7, **stamp)  # the same instant again, after the cursor moved
    assert (await poll(rt, sub["id"])).new == 7
    assert (await poll(rt, sub["id"])).new == 0
    await deliver_all(rt, [sub["id"]])
    got = delivered_ids(receiver)
    assert sorted(got) == sorted(first + more) and len(got) == 57
    assert len(verified(receiver, sub["secret"])) == 57


async def test_late_items_inside_the_overlap_window(api, connection, sandbox, rt, receiver):
    sub = subscribe(api, connection, receiver, params={"pageLimit": 5})
    await poll(rt, sub["id"])
    now = datetime.now(timezone.utc)
    fresh = seed(sandbox, 3, **stamped(now))
    assert (await poll(rt, sub["id"])).new == 3
    # items that show up now with times before the newest one seen (GHL indexes late)
    late = seed(sandbox, 2, **stamped(now - timedelta(minutes=20)))
    assert (await poll(rt, sub["id"])).new == 2
    assert (await poll(rt, sub["id"])).new == 0
    await deliver_all(rt, [sub["id"]])
    assert sorted(delivered_ids(receiver)) == sorted(fresh + late)


async def test_a_poll_stops_reading_at_known_ground(api, connection, sandbox, rt, receiver):
    seed(sandbox, 40, **stamped(datetime.now(timezone.utc) - timedelta(hours=3)))
    sub = subscribe(api, connection, receiver, params={"pageLimit": 10})
    await poll(rt, sub["id"])  # primes: reads down past the overlap window, then stops
    before = stats(sandbox, "contacts.search_contacts")
    seed(sandbox, 2)
    result = await poll(rt, sub["id"])
    assert result.new == 2
    assert stats(sandbox, "contacts.search_contacts") - before == 1  # one page, not five


async def test_items_inserted_while_a_poll_pages(api, connection, sandbox, rt, receiver):
    sub = subscribe(api, connection, receiver, params={"pageLimit": 10})
    await poll(rt, sub["id"])
    stamp = datetime.now(timezone.utc)
    existing = seed(sandbox, 30, **stamped(stamp))
    sandbox.put("/_sandbox/config", json={"latency_ms": 300}).raise_for_status()
    inserted: list[str] = []
    base = stats(sandbox, "contacts.search_contacts")

    def insert_mid_read():
        deadline = time.time() + 10
        while stats(sandbox, "contacts.search_contacts") < base + 1 and time.time() < deadline:
            time.sleep(0.02)
        inserted.extend(seed(sandbox, 4, **stamped(stamp + timedelta(seconds=1))))

    thread = threading.Thread(target=insert_mid_read)
    thread.start()
    first = await poll(rt, sub["id"])
    thread.join()
    assert stats(sandbox, "contacts.search_contacts") - base >= 3  # the read paged
    assert inserted and first.new >= 30
    sandbox.put("/_sandbox/config", json={"latency_ms": 0}).raise_for_status()
    await poll(rt, sub["id"])
    await poll(rt, sub["id"])
    await deliver_all(rt, [sub["id"]])
    got = delivered_ids(receiver)
    assert sorted(got) == sorted(existing + inserted)  # each exactly once


async def test_updated_strategy_get_contact_fires_on_change_only(api, connection, sandbox, rt,
                                                                receiver):
    contact = sandbox.get("/_sandbox/objects/contacts").json()["objects"][0]["id"]
    sub = subscribe(api, connection, receiver, trigger="contacts.get_contact",
                    params={"contactId": contact})
    assert (await poll(rt, sub["id"])).outcome == "primed"
    assert (await poll(rt, sub["id"])).new == 0
    await asyncio.sleep(0.01)
    resp = api.post("/v1/actions/contacts.update_contact",
                    json={"connection_id": connection["id"],
                          "input": {"contactId": contact, "firstName": "Changed"}})
    assert resp.status_code == 200, resp.text
    assert (await poll(rt, sub["id"])).new == 1
    assert (await poll(rt, sub["id"])).new == 0
    await deliver_all(rt, [sub["id"]])
    [body] = verified(receiver, sub["secret"])
    # data is the contact as GHL answers it, its own id included; item_id is the dedupe key
    assert body["data"]["firstName"] == "Changed" and body["data"]["id"] == contact
    assert "object_id" not in body["data"]
    assert body["item_id"] == f"{contact}@{body['data']['dateUpdated']}"


async def test_updated_strategy_get_opportunity(api, connection, sandbox, rt, receiver):
    opp = sandbox.get("/_sandbox/objects/opportunities").json()["objects"][0]
    sub = subscribe(api, connection, receiver, trigger="opportunities.get_opportunity",
                    params={"id": opp["id"]})
    await poll(rt, sub["id"])
    assert (await poll(rt, sub["id"])).new == 0
    new_status = "lost" if opp["status"] != "lost" else "open"
    resp = api.post("/v1/actions/opportunities.update_opportunity",
                    json={"connection_id": connection["id"],
                          "input": {"id": opp["id"], "status": new_status}})
    assert resp.status_code == 200, resp.text
    assert (await poll(rt, sub["id"])).new == 1
    assert (await poll(rt, sub["id"])).new == 0
    await deliver_all(rt, [sub["id"]])
    [body] = verified(receiver, sub["secret"])
    assert body["data"]["status"] == new_status


async def test_changed_strategy_get_user_fires_on_change_and_on_change_back(api, connection,
                                                                           sandbox, rt, receiver):
    found = sandbox.get("/_sandbox/objects/users").json()["objects"][0]
    user, original = found["id"], found["firstName"]
    sub = subscribe(api, connection, receiver, trigger="users.get_user", params={"userId": user})
    await poll(rt, sub["id"])
    assert (await poll(rt, sub["id"])).new == 0
    for name in ("Changed", original):
        resp = api.post("/v1/actions/users.update_user",
                        json={"connection_id": connection["id"],
                              "input": {"userId": user, "firstName": name}})
        assert resp.status_code == 200, resp.text
        assert (await poll(rt, sub["id"])).new == 1
        assert (await poll(rt, sub["id"])).new == 0
    await deliver_all(rt, [sub["id"]])
    bodies = verified(receiver, sub["secret"])
    assert [b["data"]["firstName"] for b in bodies] == ["Changed", original]
    assert len({r["headers"]["webhook-id"] for r in receiver.accepted()}) == 2


async def test_search_opportunities_fires_for_new_and_changed_only(api, connection, sandbox, rt,
                                                                 receiver):
    sub = subscribe(api, connection, receiver, trigger="opportunities.search_opportunities",
                    params={"limit": 2})
    await poll(rt, sub["id"])
    pipeline = sandbox.get("/_sandbox/objects/opportunities/pipelines").json()["objects"][0]["id"]
    made = []
    for contact in seed(sandbox, 3):
        resp = api.post("/v1/actions/opportunities.create_opportunity",
                        json={"connection_id": connection["id"],
                              "input": {"name": f"Deal {contact}", "pipelineId": pipeline,
                                        "status": "open", "contactId": contact}})
        assert resp.status_code == 200, resp.text
        made.append(resp.json()["data"]["opportunity"]["id"])
    assert (await poll(rt, sub["id"])).new == 3
    assert (await poll(rt, sub["id"])).new == 0  # nothing changed: nothing fires
    await deliver_all(rt, [sub["id"]])
    assert delivered_ids(receiver) == made

    await asyncio.sleep(0.01)  # a later millisecond: GHL's times are to the millisecond
    resp = api.post("/v1/actions/opportunities.update_opportunity",
                    json={"connection_id": connection["id"],
                          "input": {"id": made[0], "status": "won"}})
    assert resp.status_code == 200, resp.text
    changed = await poll(rt, sub["id"])
    assert changed.new == 1 and changed.items[0].startswith(made[0] + "@")
    assert (await poll(rt, sub["id"])).new == 0
    await deliver_all(rt, [sub["id"]])
    bodies = verified(receiver, sub["secret"])
    assert len(bodies) == 4
    assert bodies[-1]["data"]["id"] == made[0] and bodies[-1]["data"]["status"] == "won"
    assert len({r["headers"]["webhook-id"] for r in receiver.accepted()}) == 4


async def test_search_contacts_fires_for_new_and_changed_only(api, connection, sandbox, rt,
                                                             receiver):
    old = seed(sandbox, 30, **stamped(datetime.now(timezone.utc) - timedelta(hours=3)))
    sub = subscribe(api, connection, receiver, params={"pageLimit": 10})
    vip = subscribe(api, connection, receiver,
                    params={"pageLimit": 10,
                            "filters": [{"field": "tags", "operator": "eq", "value": "vip"}]})
    await poll(rt, sub["id"])
    await poll(rt, vip["id"])
    assert (await poll(rt, sub["id"])).new == 0  # a poll with no change delivers nothing
    assert (await poll(rt, vip["id"])).new == 0

    made = api.post("/v1/actions/contacts.create_contact", json={
        "connection_id": connection["id"],
        "input": {"firstName": "Nia", "email": "nia.poll@example.com"}}).json()["data"]["contact"]
    assert (await poll(rt, sub["id"])).new == 1  # a new contact
    assert (await poll(rt, vip["id"])).new == 0  # not tagged

    await asyncio.sleep(0.01)
    resp = api.post("/v1/actions/contacts.update_contact", json={
        "connection_id": connection["id"], "input": {"contactId": old[5], "city": "Dubbo"}})
    assert resp.status_code == 200, resp.text
    before = stats(sandbox, "contacts.search_contacts")
    changed = await poll(rt, sub["id"])
    assert changed.new == 1 and changed.items[0].startswith(old[5] + "@")
    assert stats(sandbox, "contacts.search_contacts") - before == 1  # one page: known ground
    assert (await poll(rt, sub["id"])).new == 0  # no change since: nothing

    await asyncio.sleep(0.01)  # an existing contact tagged later comes to match the filter
    resp = api.post("/v1/actions/contacts.add_tags_to_contact", json={
        "connection_id": connection["id"], "input": {"contactId": old[7], "tags": ["vip"]}})
    assert resp.status_code == 200, resp.text
    assert (await poll(rt, vip["id"])).new == 1
    assert (await poll(rt, vip["id"])).new == 0
    assert (await poll(rt, sub["id"])).new == 1  # a change for the unfiltered watch too

    await deliver_all(rt, [sub["id"], vip["id"]])
    got = {s["id"]: [] for s in (sub, vip)}
    for r in receiver.accepted():
        got[r["body"]["subscription_id"]].append(r["body"]["data"])
    assert [(d["id"], d.get("city")) for d in got[sub["id"]]] == [
        (made["id"], None), (old[5], "Dubbo"), (old[7], None)]
    assert [(d["id"], d["tags"]) for d in got[vip["id"]]] == [(old[7], ["vip"])]


async def test_deleted_object_and_revoked_token_pause_the_watch(api, connection, sandbox, rt,
                                                                receiver):
    contact = sandbox.get("/_sandbox/objects/contacts").json()["objects"][1]["id"]
    watched = subscribe(api, connection, receiver, trigger="contacts.get_contact",
                        params={"contactId": contact})
    await poll(rt, watched["id"])
    api.post("/v1/actions/contacts.delete_contact",
             json={"connection_id": connection["id"], "input": {"contactId": contact}})
    assert (await poll(rt, watched["id"])).outcome == "paused"
    shown = api.get(f"/v1/subscriptions/{watched['id']}").json()
    assert shown["status"] == "paused" and "no longer exists" in shown["status_reason"]
    assert await rt.redis.zscore(keys.WATCHES_DUE, await watch_of(rt, watched["id"])) is None

    listing = subscribe(api, connection, receiver)
    await poll(rt, listing["id"])
    from sandbox.ghl import DEFAULT_TOKEN

    sandbox.delete(f"/_sandbox/tokens/{DEFAULT_TOKEN}")
    before = stats(sandbox, "401")
    assert (await poll(rt, listing["id"])).outcome == "paused"
    assert (await poll(rt, listing["id"])).outcome == "skipped"  # not retried
    assert stats(sandbox, "401") - before == 1
    shown = api.get(f"/v1/subscriptions/{listing['id']}").json()
    assert shown["status"] == "paused" and "credentials" in shown["status_reason"]
    assert shown["status_reason"].startswith("GoHighLevel refused")


async def test_a_watch_paused_for_refused_credentials_names_its_app(api, sandbox, rt, receiver):
    conn = smsglobal_connection_with_a_replaced_secret(api, sandbox)
    sub = subscribe(api, conn, receiver, trigger="smsglobal.new_incoming_sms")
    assert (await poll(rt, sub["id"])).outcome == "paused"
    assert (await poll(rt, sub["id"])).outcome == "skipped"  # not retried
    shown = api.get(f"/v1/subscriptions/{sub['id']}").json()
    reason = shown["status_reason"]
    assert shown["status"] == "paused" and reason.startswith("SMSGlobal refused the credentials")
    assert "403" in reason and "API key and secret" in reason  # SMSGlobal's status, what to do
    assert "GHL" not in reason and "GoHighLevel" not in reason and "wrong-secret" not in reason


async def test_pause_and_resume_for_a_connection(api, connection, sandbox, rt, receiver):
    from engine.polling import subscriptions
    sub = subscribe(api, connection, receiver)
    assert await subscriptions.pause_watches_for_connection(
        rt, connection["id"], "the GHL refresh token was revoked; reconnect") == 1
    shown = api.get(f"/v1/subscriptions/{sub['id']}").json()
    assert shown["status"] == "paused" and "revoked" in shown["status_reason"]
    assert (await poll(rt, sub["id"])).outcome == "skipped"
    await subscriptions.resume_watches_for_connection(rt, connection["id"])
    assert api.get(f"/v1/subscriptions/{sub['id']}").json()["status"] == "active"
    assert (await poll(rt, sub["id"])).outcome == "primed"
    # a subscriber may also ask for a retry itself: any edit of a paused subscription
    await subscriptions.pause_watches_for_connection(rt, connection["id"], "token revoked")
    resp = api.patch(f"/v1/subscriptions/{sub['id']}", json={})
    assert resp.status_code == 200 and resp.json()["status"] == "active"
    assert (await poll(rt, sub["id"])).outcome == "polled"  # the cursor was kept


async def test_transient_errors_wait_for_the_next_slot(api, connection, sandbox, rt, receiver):
    sub = subscribe(api, connection, receiver)
    await poll(rt, sub["id"])
    new = seed(sandbox)
    sandbox.post("/_sandbox/faults", json={"status": 503, "count": 20, "path_prefix": "/contacts"})
    assert (await poll(rt, sub["id"])).outcome == "failed"
    assert api.get(f"/v1/subscriptions/{sub['id']}").json()["status"] == "active"
    assert await rt.redis.zscore(keys.WATCHES_DUE, await watch_of(rt, sub["id"])) is not None
    sandbox.post("/_sandbox/reset", json={"seed": False})
    sandbox.post("/_sandbox/faults", json={"status": 429, "count": 20, "retry_after": 0})
    assert (await poll(rt, sub["id"])).outcome == "failed"


async def test_a_worker_runs_as_many_polls_at_once_as_its_setting_allows(api, connection,
                                                                         sandbox, rt, receiver):
    """ENGINE_POLL_CONCURRENCY: the tick claims every due watch, and the worker runs that many
    polls at once; with upstream answering in 0.3 s, six polls two at a time take three rounds."""
    from engine import worker
    from engine.polling import cursor

    subs = [subscribe(api, connection, receiver, params={"query": f"c{n}"}) for n in range(6)]
    sandbox.put("/_sandbox/config", json={"latency_ms": 300}).raise_for_status()
    rt.settings.poll_concurrency = 2
    ctx = worker.context(rt, {"redis": None})
    assert worker.poll_backlog(2) == worker.POLL_BACKLOG and worker.poll_backlog(200) == 800
    started = time.monotonic()
    assert (await worker.tick(ctx))["polls"] >= 6
    await worker.settle(ctx)
    assert time.monotonic() - started >= 0.85  # 3 rounds of 0.3 s; six at once would take one
    for s in subs:
        assert (await cursor.load(rt.redis, await watch_of(rt, s["id"]))).primed
