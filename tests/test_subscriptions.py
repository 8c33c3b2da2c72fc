"""Subscriptions over the API, end to end: subscribe, poll the sandbox, receive signed POSTs."""

from __future__ import annotations

from engine.core import keys
from sandbox.ghl import DEFAULT_LOCATION
from tests.conftest import make_key
from tests.polling_support import (deliver_all, object_id, poll, seed, stats, subscribe, verified,
                                   watch_of)


async def test_new_items_are_delivered_once_in_order_and_signed(api, connection, sandbox, rt,
                                                                receiver):
    sub = subscribe(api, connection, receiver)
    assert sub["secret"].startswith("whsec_")
    assert sub["status"] == "active" and sub["interval_minutes"] == 1
    assert (await poll(rt, sub["id"])).outcome == "primed"
    before = {c["id"] for c in sandbox.get("/_sandbox/objects/contacts").json()["objects"]}

    created = []
    for n in range(3):
        resp = api.post("/v1/actions/contacts.create_contact",
                        json={"connection_id": connection["id"],
                              "input": {"firstName": f"New{n}", "email": f"new{n}@example.com"}})
        assert resp.status_code == 200, resp.text
        created.append(resp.json()["data"]["contact"]["id"])
    result = await poll(rt, sub["id"])
    assert result.new == 3 and result.deliveries == 3
    await deliver_all(rt, [sub["id"]])

    bodies = verified(receiver, sub["secret"])
    assert [object_id(b["item_id"]) for b in bodies] == created  # oldest first, each once
    assert not before & {object_id(b["item_id"]) for b in bodies}
    assert all(b["subscription_id"] == sub["id"] and b["trigger"] == "contacts.search_contacts"
               for b in bodies)
    assert bodies[0]["data"]["firstName"] == "New0"
    ids = [r["headers"]["webhook-id"] for r in receiver.accepted()]
    assert len(set(ids)) == 3

    assert (await poll(rt, sub["id"])).new == 0  # nothing new: nothing sent again
    await deliver_all(rt, [sub["id"]])
    assert len(receiver.accepted()) == 3
    log = api.get(f"/v1/subscriptions/{sub['id']}/deliveries").json()["deliveries"]
    assert [d["status"] for d in log] == ["delivered"] * 3
    assert all(d["attempts"] == 1 for d in log)


def test_crud_secret_once_and_tenant_isolation(api, connection, receiver, api_server):
    sub = subscribe(api, connection, receiver, params={"query": "ada"}, interval=5)
    one = api.get(f"/v1/subscriptions/{sub['id']}").json()
    assert "secret" not in one and one["params"] == {"query": "ada"}
    assert [s["id"] for s in api.get("/v1/subscriptions").json()["subscriptions"]] == [sub["id"]]
    patched = api.patch(f"/v1/subscriptions/{sub['id']}", json={"interval_minutes": 2})
    assert patched.status_code == 200 and patched.json()["interval_minutes"] == 2
    assert api.post(f"/v1/subscriptions/{sub['id']}/pause").status_code == 200
    paused = api.get(f"/v1/subscriptions/{sub['id']}").json()
    assert paused["status"] == "paused", paused
    assert f"(POST /v1/subscriptions/{sub['id']}/resume)" in paused["status_reason"], paused
    assert api.post(f"/v1/subscriptions/{sub['id']}/resume").status_code == 200

    import httpx

    other = make_key("other-" + sub["id"])
    with httpx.Client(base_url=api_server.url, headers={"X-API-Key": other}) as stranger:
        assert stranger.get(f"/v1/subscriptions/{sub['id']}").status_code == 404
        assert stranger.delete(f"/v1/subscriptions/{sub['id']}").status_code == 404
        assert stranger.get(f"/v1/subscriptions/{sub['id']}/deliveries").status_code == 404
        assert stranger.patch(f"/v1/subscriptions/{sub['id']}",
                              json={"interval_minutes": 1}).status_code == 404
        assert stranger.post(f"/v1/subscriptions/{sub['id']}/deliveries/msg_x/replay"
                             ).status_code == 404
        assert stranger.get("/v1/subscriptions").json()["subscriptions"] == []
    assert api.delete(f"/v1/subscriptions/{sub['id']}").status_code == 204
    assert api.get(f"/v1/subscriptions/{sub['id']}").status_code == 404


def test_bad_input_is_422_naming_the_field(api, connection, receiver):
    base = {"trigger": "contacts.search_contacts", "connection_id": connection["id"],
            "target_url": receiver.url}
    cases = [({**base, "interval_minutes": 16}, "interval_minutes"),
             ({**base, "interval_minutes": 0}, "interval_minutes"),
             ({k: v for k, v in base.items() if k != "target_url"}, "target_url"),
             ({**base, "target_url": "ftp://example.com/x"}, "target_url"),
             ({**base, "trigger": "contacts.create_contact"}, "trigger"),
             ({**base, "trigger": "contacts.get_contact"}, "params.contactId"),
             ({**base, "params": {"pageLimit": "many"}}, "params.pageLimit"),
             ({**base, "surprise": 1}, "surprise")]
    for body, field in cases:
        resp = api.post("/v1/subscriptions", json=body)
        assert resp.status_code == 422, (body, resp.text)
        assert field in [d["field"] for d in resp.json()["error"]["details"]], (field, resp.text)
    resp = api.post("/v1/subscriptions", json={**base, "trigger": "users.search_users"})
    assert resp.status_code == 422, resp.text
    (problem,) = [d for d in resp.json()["error"]["details"] if d["field"] == "params.companyId"]
    assert problem["message"].endswith("to fill it: pass params.companyId"), problem
    sub = subscribe(api, connection, receiver)
    resp = api.patch(f"/v1/subscriptions/{sub['id']}", json={"interval_minutes": 99})
    assert resp.status_code == 422 and "interval_minutes" in resp.text


async def test_alias_route_and_watch_sharing(api, connection, sandbox, rt, receiver):
    """Same (connection, trigger, normalized params) → one watch; the PATCH that keeps the watch
    keeps the cursor; a PATCH to other params moves to another watch."""
    a = subscribe(api, connection, receiver, interval=5)
    resp = api.post("/v1/triggers/contacts.search_contacts/subscriptions",
                    json={"connection_id": connection["id"], "target_url": receiver.url + "?b",
                          "params": {"locationId": DEFAULT_LOCATION}, "interval_minutes": 3})
    assert resp.status_code == 201, resp.text
    b = resp.json()
    assert await watch_of(rt, a["id"]) == await watch_of(rt, b["id"])
    watch = await watch_of(rt, a["id"])
    assert int(await rt.redis.hget(keys.WATCH.format(watch_id=watch), "interval_minutes")) == 3
    await poll(rt, a["id"])
    version = await rt.redis.hget(keys.CURSOR.format(watch_id=watch), "version")
    api.patch(f"/v1/subscriptions/{b['id']}", json={"params": {}})
    assert await watch_of(rt, b["id"]) == watch
    assert await rt.redis.hget(keys.CURSOR.format(watch_id=watch), "version") == version
    api.patch(f"/v1/subscriptions/{b['id']}", json={"params": {"query": "ada"}})
    assert await watch_of(rt, b["id"]) != watch
    assert int(await rt.redis.hget(keys.WATCH.format(watch_id=watch), "interval_minutes")) == 5
    api.delete(f"/v1/subscriptions/{a['id']}")
    assert not await rt.redis.exists(keys.WATCH.format(watch_id=watch))
    assert not await rt.redis.exists(keys.CURSOR.format(watch_id=watch))


async def test_hundred_subscriptions_one_upstream_request(api, connection, sandbox, rt, receiver):
    subs = [subscribe(api, connection, receiver, target_url=f"{receiver.url}?n={n}")
            for n in range(100)]
    assert len({await watch_of(rt, s["id"]) for s in subs}) == 1
    before = stats(sandbox, "contacts.search_contacts")
    await poll(rt, subs[0]["id"])
    new_id = seed(sandbox)[0]
    result = await poll(rt, subs[0]["id"])
    assert stats(sandbox, "contacts.search_contacts") - before == 2  # two polls, two requests
    assert result.deliveries == 100
    await deliver_all(rt, [s["id"] for s in subs])
    got = receiver.accepted()
    assert sorted(r["body"]["subscription_id"] for r in got) == sorted(s["id"] for s in subs)
    assert {object_id(r["body"]["item_id"]) for r in got} == {new_id}
    for s in subs[:5]:
        verified_for = [r for r in got if r["body"]["subscription_id"] == s["id"]]
        from standardwebhooks.webhooks import Webhook
        Webhook(s["secret"]).verify(verified_for[0]["raw"], verified_for[0]["headers"])


async def test_a_late_subscriber_gets_only_what_appears_after_it_joined(api, connection, sandbox,
                                                                       rt, receiver):
    first = subscribe(api, connection, receiver)
    await poll(rt, first["id"])
    early = seed(sandbox)[0]  # appears before the second subscriber joins
    late_sub = subscribe(api, connection, receiver, target_url=receiver.url + "?late")
    later = seed(sandbox)[0]
    await poll(rt, first["id"])
    await deliver_all(rt, [first["id"], late_sub["id"]])
    got = [(r["body"]["subscription_id"], object_id(r["body"]["item_id"]))
           for r in receiver.accepted()]
    assert sorted(got) == sorted([(first["id"], early), (first["id"], later),
                                  (late_sub["id"], later)])


async def test_items_made_before_the_first_poll_but_after_subscribing_arrive(api, connection,
                                                                            sandbox, rt, receiver):
    """The first poll records what exists (nothing of it is sent) but does send what appeared
    after the subscription was made."""
    existing = {c["id"] for c in sandbox.get("/_sandbox/objects/contacts").json()["objects"]}
    sub = subscribe(api, connection, receiver)
    made = seed(sandbox, 2)
    result = await poll(rt, sub["id"])
    assert result.outcome == "primed" and result.deliveries == 2
    await deliver_all(rt, [sub["id"]])
    got = [object_id(b["item_id"]) for b in verified(receiver, sub["secret"])]
    assert got == made and not existing & set(got)


async def test_claims_are_atomic_across_concurrent_schedulers(api, connection, rt, receiver):
    """Many schedulers claiming at the same instant: each due watch is claimed once per slot,
    and the claim moves it to its next slot on the watch's phase."""
    import asyncio

    from engine.polling import poller
    sub = subscribe(api, connection, receiver, interval=2)
    watch = await watch_of(rt, sub["id"])
    claims = await asyncio.gather(*(poller.claim_due(rt) for _ in range(20)))
    mine = [c for batch in claims for c in batch if c[0] == watch]
    assert len(mine) == 1
    next_run = await rt.redis.zscore(keys.WATCHES_DUE, watch)
    phase = int(await rt.redis.hget(keys.WATCH.format(watch_id=watch), "phase_ms"))
    interval = max(2 * rt.settings.interval_unit_seconds, rt.settings.min_interval_seconds) * 1000
    assert (int(next_run) - phase) % int(interval) == 0
    assert not [c for batch in [await poller.claim_due(rt)] for c in batch if c[0] == watch]


async def test_many_at_once_are_the_same_records_as_one_by_one(api, connection, rt, tenant,
                                                               receiver):
    """``create_many`` (one pipelined script per subscription) writes what ``create`` writes:
    the same watch, record fields, schedule and API view; and it refuses as ``create`` does."""
    import pytest

    from engine.core.errors import Conflict, InputInvalid
    from engine.polling import subscriptions

    target = receiver.url + "/hook"
    one = await subscriptions.create(rt, tenant, trigger="contacts.search_contacts",
                                     connection_id=connection["id"], params={"query": "a0"},
                                     interval_minutes=5, target_url=target)
    specs = [{"trigger": "contacts.search_contacts", "connection_id": connection["id"],
              "params": {"query": f"b{n}"}, "interval_minutes": 5, "target_url": target}
             for n in range(30)]
    many = await subscriptions.create_many(rt, tenant, specs, chunk=7)
    assert len(many) == 30 and all(m["secret"].startswith("whsec_") for m in many)
    assert len({m["watch"] for m in many}) == 30
    for m in many:
        assert (await watch_of(rt, m["id"])) == m["watch"]
    r = rt.redis
    a = await subscriptions.load(rt, one["id"])
    b = await subscriptions.load(rt, many[0]["id"])
    assert set(a) == set(b)
    wa = await r.hgetall(keys.WATCH.format(watch_id=a["watch"]))
    wb = await r.hgetall(keys.WATCH.format(watch_id=b["watch"]))
    assert set(wa) == set(wb) and wb[b"interval_minutes"] == b"5" and wb[b"status"] == b"active"
    assert await r.zscore(keys.WATCHES_DUE, b["watch"]) is not None  # new: due now
    assert await r.sismember(keys.CONNECTION_WATCHES.format(conn_id=connection["id"]), b["watch"])
    shown = api.get(f"/v1/subscriptions/{many[3]['id']}").json()
    assert shown["params"] == {"query": "b3"} and shown["status"] == "active"

    # a subscription joining an existing watch keeps its slot; a shorter interval moves it earlier
    due = await r.zscore(keys.WATCHES_DUE, many[1]["watch"])
    await r.zadd(keys.WATCHES_DUE, {many[1]["watch"]: due + 10 * 60_000})
    joined = await subscriptions.create_many(rt, tenant, [
        {**specs[1], "target_url": target + "?two", "interval_minutes": 1}])
    assert joined[0]["watch"] == many[1]["watch"]
    assert await r.hget(keys.WATCH.format(watch_id=many[1]["watch"]), "interval_minutes") == b"1"
    assert await r.zscore(keys.WATCHES_DUE, many[1]["watch"]) < due + 10 * 60_000

    with pytest.raises(InputInvalid) as bad:  # checked before anything is written
        await subscriptions.create_many(rt, tenant, [
            {**specs[0], "params": {"query": "c0"}}, {**specs[0], "interval_minutes": 99}])
    assert bad.value.details[0]["field"] == "specs[1].interval_minutes"
    assert not await r.exists(keys.WATCH.format(watch_id=subscriptions.watch_id_for(
        connection["id"], "contacts.search_contacts", '{"locationId":"x"}')))
    with pytest.raises(Conflict) as dup:  # an identical one stops the batch there
        await subscriptions.create_many(rt, tenant, [{**specs[0], "params": {"query": "d0"}},
                                                     specs[2]])
    assert dup.value.details == {"existing_id": many[2]["id"], "created": 1}
