"""Status that tells the truth, through the public API only: a flow whose trigger a connection
failure paused shows paused with the reason; new credentials (PATCH /v1/connections/{id}) that
pass their test bring it back; a passing test does too; a subscription whose head delivery
keeps failing shows ``failing`` with the last error and how many wait behind it."""

from __future__ import annotations

import asyncio

import pytest

from engine.core.settings import Settings
from engine.polling import delivery
from engine.wiring import open_runtime
from tests.polling_support import receiver, subscribe  # noqa: F401


def new_token(sandbox) -> str:
    """A fresh Private Integration token on the sandbox location (GHL side)."""
    return sandbox.post("/_sandbox/tokens", json={}).json()["token"]


def poll_now(api, sub_id: str) -> dict:
    resp = api.post(f"/v1/subscriptions/{sub_id}/poll")
    assert resp.status_code == 200, resp.text
    return resp.json()


def deliver_once(sub_id: str) -> None:
    """One run of the subscription's delivery job, as a worker runs it."""
    async def go():
        rt = await open_runtime(Settings())
        try:
            await delivery.run_subscription(rt, sub_id)
        finally:
            await rt.close()
    asyncio.run(go())


def make_flow(api, conn) -> dict:
    resp = api.post("/v1/flows", json={
        "name": "Tag new contacts",
        "trigger": {"key": "contacts.search_contacts", "connection_id": conn["id"],
                    "interval_minutes": 1},
        "steps": [{"id": "tag", "action": "contacts.add_tags_to_contact",
                   "connection_id": conn["id"],
                   "input": {"contactId": "{{ trigger.id }}", "tags": ["new"]}}]})
    assert resp.status_code == 201, resp.text
    return resp.json()


@pytest.mark.covers("contacts.search_contacts")
def test_a_connection_failure_pauses_the_flow_and_new_credentials_bring_it_back(api, sandbox):
    from sandbox.ghl import DEFAULT_LOCATION

    token = new_token(sandbox)
    conn = api.post("/v1/connections", json={"name": "Clinic", "token": token,
                                             "location_id": DEFAULT_LOCATION}).json()
    flow = make_flow(api, conn)
    assert flow["status"] == "active" and flow["status_reason"] is None
    assert poll_now(api, flow["subscription_id"])["outcome"] == "primed"

    sandbox.delete(f"/_sandbox/tokens/{token}")  # the token is revoked in GHL
    assert poll_now(api, flow["subscription_id"])["outcome"] == "paused"
    paused = api.get(f"/v1/flows/{flow['id']}").json()
    assert paused["status"] == "paused"
    assert "GoHighLevel refused" in paused["status_reason"]
    assert "PATCH /v1/connections/" in paused["status_reason"]
    failing = api.get(f"/v1/connections/{conn['id']}").json()
    assert failing["status"] == "failing" and "refused" in failing["status_reason"]
    assert api.get(f"/v1/subscriptions/{flow['subscription_id']}").json()["status"] == "paused"
    assert not api.post(f"/v1/connections/{conn['id']}/test").json()["ok"]

    # new credentials that do not work are stored but resume nothing
    resp = api.patch(f"/v1/connections/{conn['id']}", json={"token": "pit-not-a-real-token"})
    assert resp.status_code == 200, resp.text
    assert resp.json()["test"]["ok"] is False and resp.json()["resumed"] == 0
    assert api.get(f"/v1/flows/{flow['id']}").json()["status"] == "paused"

    fresh = new_token(sandbox)
    resp = api.patch(f"/v1/connections/{conn['id']}", json={"token": fresh})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["test"]["ok"] is True and body["resumed"] == 1
    assert body["connection"]["status"] == "active" and fresh not in resp.text
    back = api.get(f"/v1/flows/{flow['id']}").json()
    assert back["status"] == "active" and back["status_reason"] is None
    assert poll_now(api, flow["subscription_id"])["outcome"] == "polled"


def paused_flow(api, sandbox) -> tuple[str, dict, dict]:
    """(token, connection, flow): a flow whose trigger its connection's revoked token paused."""
    from sandbox.ghl import DEFAULT_LOCATION

    token = new_token(sandbox)
    conn = api.post("/v1/connections", json={"name": "Clinic", "token": token,
                                             "location_id": DEFAULT_LOCATION}).json()
    flow = make_flow(api, conn)
    poll_now(api, flow["subscription_id"])
    sandbox.delete(f"/_sandbox/tokens/{token}")
    assert poll_now(api, flow["subscription_id"])["outcome"] == "paused"
    return token, conn, flow


def test_a_passing_connection_test_resumes_what_the_connection_paused(api, sandbox):
    token, conn, flow = paused_flow(api, sandbox)
    sandbox.post("/_sandbox/tokens", json={"token": token})  # GHL accepts the token again
    tested = api.post(f"/v1/connections/{conn['id']}/test").json()
    assert tested["ok"] is True and tested["resumed"] == 1
    assert api.get(f"/v1/flows/{flow['id']}").json()["status"] == "active"
    assert api.get(f"/v1/connections/{conn['id']}").json()["status"] == "active"


def test_resuming_a_flow_resumes_its_paused_trigger(api, sandbox):
    token, conn, flow = paused_flow(api, sandbox)
    sandbox.post("/_sandbox/tokens", json={"token": token})
    resumed = api.post(f"/v1/flows/{flow['id']}/resume").json()
    assert resumed["status"] == "active"
    assert api.get(f"/v1/subscriptions/{flow['subscription_id']}").json()["status"] == "active"
    assert poll_now(api, flow["subscription_id"])["outcome"] == "polled"


def test_patch_connection_refuses_fields_of_the_other_app(api, sandbox, connection):
    resp = api.patch(f"/v1/connections/{connection['id']}", json={"api_secret": "x" * 10})
    assert resp.status_code == 422, resp.text
    assert resp.json()["error"]["details"][0]["field"] == "api_secret"


@pytest.mark.covers("contacts.search_contacts")
def test_a_subscription_whose_head_delivery_keeps_failing_shows_failing(
        api, sandbox, connection, receiver):  # noqa: F811
    sub = subscribe(api, connection, receiver)
    poll_now(api, sub["id"])
    receiver.status = 503
    for name in ("Ada", "Bea", "Cy"):
        api.post("/v1/actions/contacts.create_contact", json={
            "connection_id": connection["id"], "input": {"firstName": name}}).raise_for_status()
    assert poll_now(api, sub["id"])["deliveries"] == 3
    deliver_once(sub["id"])
    shown = api.get(f"/v1/subscriptions/{sub['id']}").json()
    assert shown["status"] == "failing"
    assert shown["waiting"] == 3 and shown["last_error"] == "HTTP 503"
    assert "HTTP 503" in shown["status_reason"] and "2 more wait" in shown["status_reason"]
    listed = {s["id"]: s for s in api.get("/v1/subscriptions").json()["subscriptions"]}
    assert listed[sub["id"]]["status"] == "failing"
    receiver.status = 200


def test_patch_connection_refuses_an_empty_token_and_stores_nothing(api, sandbox, connection):
    for token in ("", "   "):
        resp = api.patch(f"/v1/connections/{connection['id']}", json={"token": token})
        assert resp.status_code == 422, resp.text
        assert resp.json()["error"]["details"][0]["field"] == "token"
    assert api.post(f"/v1/connections/{connection['id']}/test").json()["ok"] is True


def test_patch_connection_refuses_pasted_credentials_no_request_can_carry(
        api, sandbox, connection, smsglobal_connection):
    """As on creation (docs/security.md): a pasted token, key or secret holding a space, a
    control character or a non-ASCII character is a 422 naming it, and the working credentials
    stay (they were replaced, and every call of the connection failed from then on)."""
    for token in ("pit-abc def", "pit-a\tb", "pit-\u00e9t\u00e9", "pit-\u2028x"):
        resp = api.patch(f"/v1/connections/{connection['id']}", json={"token": token})
        assert resp.status_code == 422, (token, resp.text)
        assert resp.json()["error"]["details"][0]["field"] == "token", resp.text
        assert token not in resp.text and "abc def" not in resp.text  # never echoed
    resp = api.patch(f"/v1/connections/{smsglobal_connection['id']}",
                     json={"api_key": "abc defgh12", "api_secret": "s\u00e9cretsecret"})
    assert resp.status_code == 422, resp.text
    assert {d["field"] for d in resp.json()["error"]["details"]} == {"api_key", "api_secret"}
    for conn in (connection, smsglobal_connection):
        assert api.post(f"/v1/connections/{conn['id']}/test").json()["ok"] is True
    # surrounding whitespace is still just stripped
    from sandbox.ghl import DEFAULT_TOKEN

    resp = api.patch(f"/v1/connections/{connection['id']}", json={"token": f"  {DEFAULT_TOKEN}\n"})
    assert resp.status_code == 200 and resp.json()["test"]["ok"] is True, resp.text
