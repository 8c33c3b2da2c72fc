"""Subscriptions: signing-secret rotation with an overlap, per-tenant quotas, and identical
subscriptions refused with the existing id."""

from __future__ import annotations

import time

import httpx
import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from engine.core import keys
from engine.core.settings import Settings
from sandbox.ghl import DEFAULT_LOCATION, DEFAULT_TOKEN
from tests.conftest import make_key
from tests.polling_support import (  # noqa: F401
    deliver_all, poll, receiver, rt, seed, subscribe)
from tests.support import ServerThread

OVERLAP_S = 2


@pytest.fixture(scope="module")
def strict_api(api_server):
    """A second API on the same Redis and sandbox, with small quotas and a short overlap."""
    from api.app import create_app

    server = ServerThread(create_app(Settings(
        ENGINE_MAX_CONNECTIONS_PER_TENANT="2", ENGINE_MAX_SUBSCRIPTIONS_PER_TENANT="3",
        ENGINE_MAX_FLOWS_PER_TENANT="1",
        ENGINE_SECRET_ROTATION_OVERLAP_SECONDS=str(OVERLAP_S)))).start()
    yield server
    server.stop()


@pytest.fixture
def strict(strict_api, sandbox, tenant):
    key = make_key(tenant)
    with httpx.Client(base_url=strict_api.url, timeout=30,
                      headers={"Authorization": f"Bearer {key}"}) as client:
        yield client


def _connect(client) -> httpx.Response:
    return client.post("/v1/connections", json={"token": DEFAULT_TOKEN,
                                                "location_id": DEFAULT_LOCATION})


def _verifies(secret: str, delivered: dict) -> bool:
    try:
        Webhook(secret).verify(delivered["raw"], delivered["headers"])
        return True
    except WebhookVerificationError:
        return False


async def test_rotation_signs_with_both_secrets_during_the_overlap_then_only_the_new(
        strict, sandbox, rt, receiver):
    conn = _connect(strict).json()
    sub = subscribe(strict, conn, receiver)
    old = sub["secret"]
    await poll(rt, sub["id"])  # primes
    rotated_at = time.time()
    rotated = strict.post(f"/v1/subscriptions/{sub['id']}/rotate-secret")
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["secret"]
    assert new.startswith("whsec_") and new != old
    assert strict.get(f"/v1/subscriptions/{sub['id']}").json().get("secret") is None
    seed(sandbox, 1)
    await poll(rt, sub["id"])
    await deliver_all(rt, [sub["id"]])
    (during,) = receiver.accepted()
    assert len(during["headers"]["webhook-signature"].split(" ")) == 2
    assert _verifies(old, during) and _verifies(new, during)

    until_s = float(await rt.redis.hget(keys.SUBSCRIPTION.format(sub_id=sub["id"]), "previous_until"))
    assert rotated_at + OVERLAP_S <= until_s <= time.time() + OVERLAP_S  # OVERLAP_S after it
    rt.clock.skip_to(until_s)  # the overlap is over
    seed(sandbox, 1)
    await poll(rt, sub["id"])
    await deliver_all(rt, [sub["id"]])
    after = receiver.accepted()[-1]
    assert after is not during and len(receiver.accepted()) == 2
    assert _verifies(new, after) and not _verifies(old, after)


def test_identical_subscription_is_a_409_with_the_existing_id(strict, sandbox, receiver):
    conn = _connect(strict).json()
    first = subscribe(strict, conn, receiver, params={"query": "ada"})
    again = strict.post("/v1/subscriptions", json={
        "trigger": "contacts.search_contacts", "connection_id": conn["id"],
        "params": {"query": "ada"}, "target_url": receiver.url, "interval_minutes": 5})
    assert again.status_code == 409, again.text
    assert again.json()["error"]["details"]["existing_id"] == first["id"]
    # other params or another target are different subscriptions
    other = subscribe(strict, conn, receiver, params={"query": "bob"})
    moved = strict.patch(f"/v1/subscriptions/{other['id']}", json={"params": {"query": "ada"}})
    assert moved.status_code == 409 and moved.json()["error"]["details"]["existing_id"] == first["id"]
    assert strict.delete(f"/v1/subscriptions/{first['id']}").status_code == 204
    assert strict.patch(f"/v1/subscriptions/{other['id']}",
                        json={"params": {"query": "ada"}}).status_code == 200
    assert len(strict.get("/v1/subscriptions").json()["subscriptions"]) == 1


def test_quotas_per_tenant_refuse_the_next_object_and_store_nothing(strict, sandbox, receiver):
    conns = [_connect(strict) for _ in range(3)]
    assert [c.status_code for c in conns] == [201, 201, 403], conns[-1].text
    assert conns[-1].json()["error"]["code"] == "quota_exceeded"
    assert "ENGINE_MAX_CONNECTIONS_PER_TENANT" in conns[-1].json()["error"]["message"]
    assert len(strict.get("/v1/connections").json()["connections"]) == 2
    conn = conns[0].json()
    subs = [strict.post("/v1/subscriptions", json={
        "trigger": "contacts.search_contacts", "connection_id": conn["id"],
        "params": {"query": f"q{i}"}, "target_url": receiver.url}) for i in range(4)]
    assert [s.status_code for s in subs] == [201, 201, 201, 403]
    assert len(strict.get("/v1/subscriptions").json()["subscriptions"]) == 3
    strict.delete(f"/v1/subscriptions/{subs[0].json()['id']}")
    flow = {"name": "f", "trigger": {"key": "contacts.search_contacts", "connection_id": conn["id"]},
            "steps": [{"id": "one", "action": "contacts.create_contact",
                       "connection_id": conn["id"], "input": {"firstName": "F"}}]}
    assert strict.post("/v1/flows", json=flow).status_code == 201
    refused = strict.post("/v1/flows", json=flow)
    assert refused.status_code == 403 and "ENGINE_MAX_FLOWS_PER_TENANT" in refused.text
    assert len(strict.get("/v1/flows").json()["flows"]) == 1
    for listed in strict.get("/v1/flows").json()["flows"]:
        strict.delete(f"/v1/flows/{listed['id']}")
