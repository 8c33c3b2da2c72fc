"""Idempotency-Key: a replay returns the stored response and does not reach GHL twice."""

from __future__ import annotations

import concurrent.futures


def create(api, connection, key, email):
    return api.post("/v1/actions/contacts.create_contact", headers={"Idempotency-Key": key},
                    json={"connection_id": connection["id"], "input": {"email": email}})


def creates(sandbox) -> int:
    return sandbox.get("/_sandbox/stats").json()["requests"].get("contacts.create_contact", 0)


def test_replay_does_not_reach_ghl_twice(api, connection, sandbox):
    first = create(api, connection, "order-1001", "once@example.com")
    second = create(api, connection, "order-1001", "once@example.com")
    assert first.status_code == second.status_code == 200
    assert second.json() == first.json()
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert creates(sandbox) == 1


def test_same_key_other_body_is_a_conflict(api, connection, sandbox):
    assert create(api, connection, "order-1002", "a@example.com").status_code == 200
    resp = create(api, connection, "order-1002", "b@example.com")
    assert resp.status_code == 409
    assert resp.json()["error"]["code"] == "idempotency_key_reused"
    assert creates(sandbox) == 1


def test_concurrent_requests_with_one_key_call_ghl_once(api, connection, sandbox):
    sandbox.put("/_sandbox/config", json={"latency_ms": 300}).raise_for_status()
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: create(api, connection, "order-1003", "c@example.com"),
                                range(4)))
    statuses = sorted(r.status_code for r in results)
    assert statuses.count(200) >= 1 and set(statuses) <= {200, 409}
    assert creates(sandbox) == 1


def test_keys_are_per_tenant(api, connection, sandbox, api_server):
    import httpx

    from tests.conftest import make_key

    assert create(api, connection, "shared-key", "t1@example.com").status_code == 200
    other = httpx.Client(base_url=api_server.url,
                         headers={"Authorization": f"Bearer {make_key('other-tenant-idem')}"})
    conn = other.post("/v1/connections", json={"token": "pit-sandbox-token",
                                               "location_id": connection["location_id"]}).json()
    resp = other.post("/v1/actions/contacts.create_contact", headers={"Idempotency-Key": "shared-key"},
                      json={"connection_id": conn["id"], "input": {"email": "t2@example.com"}})
    assert resp.status_code == 200 and "Idempotent-Replayed" not in resp.headers
    assert creates(sandbox) == 2


def test_a_failed_call_can_be_retried_with_the_same_key(api, connection, sandbox):
    sandbox.post("/_sandbox/faults", json={"status": 503, "count": 1, "path_prefix": "/contacts/"})
    assert create(api, connection, "order-1004", "d@example.com").status_code == 503
    resp = create(api, connection, "order-1004", "d@example.com")
    assert resp.status_code == 200 and "Idempotent-Replayed" not in resp.headers
