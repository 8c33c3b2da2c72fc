"""Delivery: order kept through an outage, retries, 410 Gone, dead letters and replay,
redirects not followed."""

from __future__ import annotations

from engine.core import keys
from engine.polling import delivery
from tests.polling_support import (  # noqa: F401
    object_id,
    poll,
    receiver,
    rt,
    run_until,
    seed,
    subscribe,
    verified,
    watch_of,
)
from tests.receiver import Receiver


async def test_receiver_down_then_up_everything_arrives_in_order(api, connection, sandbox, rt):
    recv = Receiver()  # not started: the target refuses connections
    sub = subscribe(api, connection, recv)
    await poll(rt, sub["id"])
    first = seed(sandbox, 2)
    await poll(rt, sub["id"])
    second = seed(sandbox, 2)
    await poll(rt, sub["id"])

    await delivery.run_subscription(rt, sub["id"])
    log = {object_id(d["item_id"]): d for d in
           api.get(f"/v1/subscriptions/{sub['id']}/deliveries").json()["deliveries"]}
    head = log[first[0]]
    assert head["status"] == "retrying" and head["attempts"] == 1 and head["last_error"]
    assert head["next_attempt_at"] > rt.clock.now_s()
    assert all(log[i]["attempts"] == 0 for i in first[1:] + second)  # later items wait their turn

    def attempts() -> int:
        return api.get(f"/v1/subscriptions/{sub['id']}/deliveries",
                       params={"status": "retrying"}).json()["deliveries"][0]["attempts"]

    await delivery.run_subscription(rt, sub["id"])  # before its next try is due: no try
    assert attempts() == 1
    rt.clock.skip_to(head["next_attempt_at"])
    await delivery.run_subscription(rt, sub["id"])  # still down: a second failed try
    assert attempts() == 2
    recv.start()
    try:
        await run_until(rt, lambda: len(recv.accepted()) == 4, skip=True)
        bodies = verified(recv, sub["secret"])
        assert [object_id(b["item_id"]) for b in bodies] == first + second
        statuses = api.get(f"/v1/subscriptions/{sub['id']}/deliveries").json()["deliveries"]
        assert {d["status"] for d in statuses} == {"delivered"}
        assert not await rt.redis.zscore(keys.DELIVERIES_DUE, sub["id"])
    finally:
        recv.stop()


async def test_410_gone_removes_the_subscription(api, connection, sandbox, rt, receiver):
    sub = subscribe(api, connection, receiver)
    await poll(rt, sub["id"])
    seed(sandbox, 2)
    await poll(rt, sub["id"])
    watch = await watch_of(rt, sub["id"])
    receiver.status = 410
    await delivery.run_subscription(rt, sub["id"])
    assert len(receiver.received) == 1
    assert api.get(f"/v1/subscriptions/{sub['id']}").status_code == 404
    assert not await rt.redis.exists(keys.SUB_QUEUE.format(sub_id=sub["id"]))
    assert not await rt.redis.exists(keys.WATCH.format(watch_id=watch))  # its watch went with it
    assert await rt.redis.zscore(keys.WATCHES_DUE, watch) is None


async def test_failures_dead_letter_then_replay_with_the_same_id(api, connection, sandbox, rt,
                                                                 receiver):
    sub = subscribe(api, connection, receiver)
    await poll(rt, sub["id"])
    doomed, after = seed(sandbox, 2)
    await poll(rt, sub["id"])
    receiver.status = 500
    # 1 try + 3 retries of the first
    await run_until(rt, lambda: len(receiver.received) >= 4, skip=True)
    receiver.status = 200
    await run_until(rt, lambda: len(receiver.accepted()) == 1, skip=True)
    assert object_id(receiver.accepted()[0]["body"]["item_id"]) == after  # the queue moved on
    [dead] = api.get(f"/v1/subscriptions/{sub['id']}/deliveries",
                     params={"status": "dead"}).json()["deliveries"]
    assert object_id(dead["item_id"]) == doomed
    assert dead["attempts"] == 4 and dead["last_error"] == "HTTP 500"
    assert [m.decode() for m in await rt.redis.lrange(keys.SUB_DEAD.format(sub_id=sub["id"]), 0, -1)] \
        == [dead["id"]]
    first_ids = {r["headers"]["webhook-id"] for r in receiver.received
                 if object_id(r["body"]["item_id"]) == doomed}
    assert first_ids == {dead["id"]}

    resp = api.post(f"/v1/subscriptions/{sub['id']}/deliveries/{dead['id']}/replay")
    assert resp.status_code == 202, resp.text
    assert api.post(f"/v1/subscriptions/{sub['id']}/deliveries/{dead['id']}/replay").status_code == 409
    assert api.post(f"/v1/subscriptions/{sub['id']}/deliveries/msg_nope/replay").status_code == 404
    await run_until(rt, lambda: len(receiver.accepted()) == 2)
    replayed = receiver.accepted()[-1]
    assert object_id(replayed["body"]["item_id"]) == doomed
    assert replayed["headers"]["webhook-id"] == dead["id"]
    verified(receiver, sub["secret"])


async def one_attempt(api, connection, sandbox, rt, receiver) -> tuple[dict, dict]:
    """Subscribe ``receiver``, prime the watch, poll one new contact and try its delivery once;
    returns the subscription and its one delivery as the API lists it."""
    sub = subscribe(api, connection, receiver)
    await poll(rt, sub["id"])
    seed(sandbox)
    await poll(rt, sub["id"])
    await delivery.run_subscription(rt, sub["id"])
    [d] = api.get(f"/v1/subscriptions/{sub['id']}/deliveries").json()["deliveries"]
    return sub, d


async def test_redirects_are_not_followed(api, connection, sandbox, rt, receiver):
    receiver.status = 307
    sub, d = await one_attempt(api, connection, sandbox, rt, receiver)
    assert d["status"] == "retrying" and "redirect" in d["last_error"]
    assert len(receiver.received) == 1


async def test_flow_subscriber_gets_the_delivery(api, connection, sandbox, rt, tenant):
    """A flow subscribed to a trigger gets each delivery: the flow runs its step on the new item,
    and the delivery is marked delivered after that one try."""
    resp = api.post("/v1/flows", json={
        "name": "Look up new contacts",
        "trigger": {"key": "contacts.search_contacts", "connection_id": connection["id"]},
        "steps": [{"id": "find", "action": "contacts.find_contact",
                   "connection_id": connection["id"], "input": {"email": "{{ trigger.email }}"}}]})
    assert resp.status_code == 201, resp.text
    flow = resp.json()
    sub_id = flow["subscription_id"]
    await poll(rt, sub_id)
    [made] = seed(sandbox, email="flow.delivery@example.com")
    assert (await poll(rt, sub_id)).deliveries == 1
    await delivery.run_subscription(rt, sub_id)
    [d] = await delivery.list_for(rt, tenant, sub_id)
    assert d["attempts"] == 1 and d["status"] == "delivered"
    [run] = api.get(f"/v1/flows/{flow['id']}/runs").json()["runs"]
    assert run["status"] == "succeeded", run
    assert run["trigger"]["email"] == "flow.delivery@example.com"
    assert [(step["id"], step["status"]) for step in run["steps"]] == [("find", "succeeded")]
    assert api.delete(f"/v1/flows/{flow['id']}").status_code == 204


async def test_a_slow_target_times_out_and_is_retried(api, connection, sandbox, receiver):
    from engine.core.settings import Settings
    from engine.wiring import open_runtime

    rt = await open_runtime(Settings(ENGINE_DELIVERY_TIMEOUT_SECONDS="0.3",
                                     ENGINE_DELIVERY_RETRY_SCHEDULE="0.2"))
    try:
        receiver.delay = 1.0
        sub, d = await one_attempt(api, connection, sandbox, rt, receiver)
        assert d["status"] == "retrying" and d["last_error"].startswith("timed out")
        receiver.delay = 0
        await run_until(rt, lambda: any(r["status"] == 200 and not receiver.delay
                                        for r in receiver.received[1:]))
        [d] = api.get(f"/v1/subscriptions/{sub['id']}/deliveries").json()["deliveries"]
        assert d["status"] == "delivered" and d["attempts"] == 2
    finally:
        await rt.close()


async def test_resume_sends_a_failing_subscriptions_waiting_deliveries_now(api, connection,
                                                                          sandbox, receiver):
    from engine.core.settings import Settings
    from engine.wiring import open_runtime

    # the next try would be 10 minutes away: only the resume can send them within the test
    rt = await open_runtime(Settings(ENGINE_DELIVERY_RETRY_SCHEDULE="600,600"))
    try:
        receiver.status = 500
        sub = subscribe(api, connection, receiver)
        await poll(rt, sub["id"])
        made = seed(sandbox, 3)
        await poll(rt, sub["id"])
        await delivery.run_subscription(rt, sub["id"])
        assert api.get(f"/v1/subscriptions/{sub['id']}").json()["status"] == "failing"
        [waiting] = api.get(f"/v1/subscriptions/{sub['id']}/deliveries",
                            params={"status": "retrying"}).json()["deliveries"]
        replay = api.post(f"/v1/subscriptions/{sub['id']}/deliveries/{waiting['id']}/replay")
        assert replay.status_code == 409 and "/resume" in replay.json()["error"]["message"]

        receiver.status = 200  # the receiver is fixed; a pause and a resume send at once
        assert api.post(f"/v1/subscriptions/{sub['id']}/pause").status_code == 200
        resumed = api.post(f"/v1/subscriptions/{sub['id']}/resume")
        assert resumed.status_code == 200, resumed.text
        await run_until(rt, lambda: len(receiver.accepted()) >= 3, timeout=20)
        await run_until(rt, lambda: True)  # one more round: nothing is sent twice
        bodies = verified(receiver, sub["secret"])
        assert [object_id(b["item_id"]) for b in bodies] == made
        ids = [r["headers"]["webhook-id"] for r in receiver.accepted()]
        assert len(ids) == len(set(ids)) == 3
        log = api.get(f"/v1/subscriptions/{sub['id']}/deliveries").json()["deliveries"]
        assert {d["status"] for d in log} == {"delivered"}
        assert api.get(f"/v1/subscriptions/{sub['id']}").json()["status"] == "active"

        # a failing subscription that was never paused: resume alone sends it now
        receiver.status = 500
        more = seed(sandbox, 1)
        await poll(rt, sub["id"])
        await delivery.run_subscription(rt, sub["id"])
        assert api.get(f"/v1/subscriptions/{sub['id']}").json()["status"] == "failing"
        receiver.status = 200
        assert api.post(f"/v1/subscriptions/{sub['id']}/resume").status_code == 200
        await run_until(rt, lambda: len(receiver.accepted()) >= 4, timeout=20)
        assert object_id(verified(receiver, sub["secret"])[-1]["item_id"]) == more[0]
    finally:
        await rt.close()


async def test_the_delivery_log_pages_with_a_cursor(api, connection, sandbox, rt, receiver):
    sub = subscribe(api, connection, receiver)
    await poll(rt, sub["id"])
    seed(sandbox, 5)
    await poll(rt, sub["id"])
    url = f"/v1/subscriptions/{sub['id']}/deliveries"
    everything = api.get(url).json()
    assert len(everything["deliveries"]) == 5
    assert everything["has_more"] is False and everything["next"] is None
    pages, cursor = [], None
    while True:
        body = api.get(url, params={"limit": 2, **({"cursor": cursor} if cursor else {})}).json()
        pages.append([d["id"] for d in body["deliveries"]])
        assert body["has_more"] is (body["next"] is not None)
        if not body["has_more"]:
            break
        cursor = body["next"]
    assert [len(p) for p in pages] == [2, 2, 1]
    assert sum(pages, []) == [d["id"] for d in everything["deliveries"]]  # each once, in order
    # a filter pages the same way; a page that ends the list says so
    pending = api.get(url, params={"status": "pending", "limit": 4}).json()
    assert len(pending["deliveries"]) == 4 and pending["has_more"] is True
    rest = api.get(url, params={"status": "pending", "limit": 4, "cursor": pending["next"]}).json()
    assert len(rest["deliveries"]) == 1 and rest["has_more"] is False
    bad = api.get(url, params={"cursor": "dlv_not_in_this_log"})
    assert bad.status_code == 422, bad.text
    assert bad.json()["error"]["details"][0]["field"] == "cursor"
