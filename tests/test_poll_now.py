"""Faster testing through the API: poll a subscription now, test-run a flow on a given item or
on its trigger's newest one (kept in the run log as a test run), pause and resume a
subscription's deliveries."""

from __future__ import annotations

import pytest

from tests.polling_support import receiver, subscribe  # noqa: F401
from tests.test_status import deliver_once, make_flow, poll_now


@pytest.mark.covers("contacts.search_contacts")
def test_poll_now_finds_a_new_contact_at_once(api, sandbox, connection, receiver):  # noqa: F811
    sub = subscribe(api, connection, receiver, interval=15)
    first = poll_now(api, sub["id"])
    assert first["outcome"] == "primed" and first["new"] == 0
    assert first["subscription"]["next_poll_at"] is not None
    api.post("/v1/actions/contacts.create_contact", json={
        "connection_id": connection["id"], "input": {"firstName": "Nu"}}).raise_for_status()
    found = poll_now(api, sub["id"])
    assert (found["outcome"], found["new"], found["deliveries"]) == ("polled", 1, 1)
    assert found["subscription"]["waiting"] == 1
    deliver_once(sub["id"])
    (got,) = receiver.accepted()
    assert got["body"]["data"]["firstName"] == "Nu"


def test_poll_now_of_another_tenants_subscription_is_not_found(api, sandbox, connection, receiver):  # noqa: F811
    from tests.conftest import make_key

    sub = subscribe(api, connection, receiver)
    other = {"Authorization": f"Bearer {make_key('someone-else')}"}
    resp = api.post(f"/v1/subscriptions/{sub['id']}/poll", headers=other)
    assert resp.status_code == 404 and resp.json()["error"]["code"] == "subscription_not_found"


@pytest.mark.covers("contacts.search_contacts", "contacts.add_tags_to_contact")
def test_a_flow_test_run_on_the_newest_item_and_on_a_given_item(api, sandbox, connection):
    flow = make_flow(api, connection)
    newest = api.post("/v1/actions/contacts.create_contact", json={
        "connection_id": connection["id"], "input": {"firstName": "Tess"}}).json()["data"]["contact"]
    run = api.post(f"/v1/flows/{flow['id']}/test")
    assert run.status_code == 200, run.text
    run = run.json()
    assert run["test"] is True and run["status"] == "succeeded"
    assert run["trigger"]["id"] == newest["id"]
    assert run["steps"][0]["input"] == {"contactId": newest["id"], "tags": ["new"]}
    tagged = [c for c in sandbox.get("/_sandbox/objects/contacts").json()["objects"]
              if c["id"] == newest["id"]][0]
    assert "new" in tagged["tags"]

    given = api.post(f"/v1/flows/{flow['id']}/test", json={"item": {"id": "no-such-contact"}})
    assert given.status_code == 200, given.text
    assert given.json()["status"] == "failed" and given.json()["test"] is True
    logged = api.get(f"/v1/flows/{flow['id']}/runs").json()["runs"]
    assert [r["test"] for r in logged] == [True, True]

    bad = api.post(f"/v1/flows/{flow['id']}/test", json={"item": "a string"})
    assert bad.status_code == 422 and bad.json()["error"]["details"][0]["field"] == "item"


@pytest.mark.covers("contacts.search_contacts")
def test_a_paused_subscription_keeps_its_items_and_sends_them_on_resume(
        api, sandbox, connection, receiver):  # noqa: F811
    sub = subscribe(api, connection, receiver)
    poll_now(api, sub["id"])
    paused = api.post(f"/v1/subscriptions/{sub['id']}/pause").json()
    assert paused["status"] == "paused" and "on request" in paused["status_reason"]
    api.post("/v1/actions/contacts.create_contact", json={
        "connection_id": connection["id"], "input": {"firstName": "Held"}}).raise_for_status()
    assert poll_now(api, sub["id"])["deliveries"] == 1
    deliver_once(sub["id"])
    assert receiver.accepted() == []
    resumed = api.post(f"/v1/subscriptions/{sub['id']}/resume").json()
    assert resumed["status"] == "active" and resumed["waiting"] == 1
    deliver_once(sub["id"])
    assert [r["body"]["data"]["firstName"] for r in receiver.accepted()] == ["Held"]
