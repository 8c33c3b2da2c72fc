"""POST /v1/ghl/request: a raw GHL request with a connection's credentials, for endpoints the
catalog has no operation for; GHL's API base URL only."""

from __future__ import annotations

import pytest

from tests.catalog_helpers import objects


def _request(api, connection, **fields):
    return api.post("/v1/ghl/request", json={"connection_id": connection["id"], **fields})


def _sent(sandbox) -> list[dict]:
    return sandbox.get("/_sandbox/requests").json()["requests"]


def test_a_request_reaches_ghl_with_the_connections_credentials(api, connection, sandbox):
    contact = objects(sandbox, "contacts")[0]
    resp = _request(api, connection, method="GET", path=f"/contacts/{contact['id']}")
    assert resp.status_code == 200, resp.text
    assert resp.json()["data"]["contact"]["id"] == contact["id"]
    assert resp.json()["meta"]["upstream_status"] == 200
    request = _sent(sandbox)[-1]
    assert request["path"] == f"/contacts/{contact['id']}" and request["version"] == "2021-07-28"

    made = _request(api, connection, method="POST", path="/contacts/", version="2021-07-28",
                    body={"firstName": "Pass", "email": "pass.through@example.com",
                          "locationId": connection["location_id"]})
    assert made.status_code == 200, made.text
    assert made.json()["meta"]["upstream_status"] == 201
    assert any(c.get("email") == "pass.through@example.com" for c in objects(sandbox, "contacts"))
    listed = _request(api, connection, method="GET", path="/contacts/",
                      query={"locationId": connection["location_id"], "limit": 2})
    assert listed.status_code == 200 and _sent(sandbox)[-1]["query"]["limit"] == "2"


def test_ghl_errors_keep_their_shape_and_429s_are_retried(api, connection, sandbox):
    resp = _request(api, connection, method="GET", path="/no/such/endpoint")
    assert resp.status_code == 404
    assert resp.json()["error"]["details"]["upstream_status"] == 404
    sandbox.post("/_sandbox/faults", json={"status": 429, "count": 1, "retry_after": 0,
                                           "path_prefix": "/locations/"})
    resp = _request(api, connection, method="GET", path=f"/locations/{connection['location_id']}")
    assert resp.status_code == 200, resp.text
    assert resp.json()["meta"]["attempts"] == 2


@pytest.mark.parametrize("path", [
    "https://evil.example/contacts", "//evil.example/contacts", "evil.example/contacts",
    "/contacts/../oauth/token", "/contacts/./x", "/contacts/%2e%2e/x", "/contacts/%2F..%2Fx",
    "/contacts?locationId=x", "/contacts#x", "/contacts/a b", "/contacts\\..\\x", "",
])
def test_only_paths_on_the_ghl_api_are_sent(api, connection, sandbox, path):
    before = len(_sent(sandbox))
    resp = _request(api, connection, method="GET", path=path)
    assert resp.status_code == 422, resp.text
    assert [d["field"] for d in resp.json()["error"]["details"]] == ["path"]
    assert len(_sent(sandbox)) == before, "a refused request reached GHL"


@pytest.mark.parametrize("fields, field", [
    ({"method": "TRACE", "path": "/contacts/"}, "method"),
    ({"method": "GET", "path": "/contacts/", "version": "2020-01-01"}, "version"),
    ({"method": "GET", "path": "/contacts/", "body": {"a": 1}}, "body"),
    ({"method": "GET", "path": "/contacts/", "query": {"a": {"b": 1}}}, "query.a"),
    ({"path": "/contacts/"}, "method"),
])
def test_bad_requests_name_the_field(api, connection, sandbox, fields, field):
    before = len(_sent(sandbox))
    resp = _request(api, connection, **fields)
    assert resp.status_code == 422, resp.text
    assert field in [d["field"] for d in resp.json()["error"]["details"]], resp.json()
    assert len(_sent(sandbox)) == before


def test_a_smsglobal_connection_is_refused(api, smsglobal_connection, sandbox):
    resp = _request(api, smsglobal_connection, method="GET", path="/contacts/")
    assert resp.status_code == 422
    assert resp.json()["error"]["details"][0]["field"] == "connection_id"


def test_an_idempotency_key_makes_a_retried_raw_request_safe(api, connection, sandbox):
    """A raw POST sent again with the same Idempotency-Key (a tool retrying after a timeout)
    gets the stored answer and does not create a second contact; the same key with another
    body is a 409, as for actions."""
    body = {"connection_id": connection["id"], "method": "POST", "path": "/contacts/",
            "body": {"firstName": "Once", "lastName": "Raw7001",
                     "locationId": connection["location_id"]}}
    first = api.post("/v1/ghl/request", json=body, headers={"Idempotency-Key": "raw-7001"})
    second = api.post("/v1/ghl/request", json=body, headers={"Idempotency-Key": "raw-7001"})
    assert first.status_code == second.status_code == 200, (first.text, second.text)
    assert second.json() == first.json()
    assert second.headers.get("Idempotent-Replayed") == "true"
    made = [c for c in objects(sandbox, "contacts") if c.get("lastName") == "Raw7001"]
    assert len(made) == 1
    other = api.post("/v1/ghl/request", headers={"Idempotency-Key": "raw-7001"},
                     json={**body, "body": {**body["body"], "lastName": "Raw7002"}})
    assert other.status_code == 409 and other.json()["error"]["code"] == "idempotency_key_reused"
    assert not [c for c in objects(sandbox, "contacts") if c.get("lastName") == "Raw7002"]
