"""Schemathesis against the running API (its own OpenAPI document, a valid key, the sandbox
behind it): no generated request may get a 5xx. Bounded: a few examples per operation.

Ids in paths and bodies are replaced by the fuzzing tenant's real connection, subscription and
flow (except for deletions), so the generated inputs reach the code behind the lookups."""

from __future__ import annotations

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from tests.conftest import make_key

# rotating would retire the key the fuzzing signs with; the rest is fair game
EXCLUDED = ("/v1/keys/rotate",)


def _schema():
    from api.app import create_app

    return schemathesis.openapi.from_dict(create_app().openapi()).exclude(path=list(EXCLUDED))


schema = _schema()  # the app's own document; the requests go to the running server


@pytest.fixture(scope="module")
def fuzz_tenant(api_server, sandbox_server) -> dict:
    key = make_key("fuzz-tenant")
    with httpx.Client(base_url=api_server.url, headers={"Authorization": f"Bearer {key}"},
                      timeout=30) as c:
        conn = c.post("/v1/connections", json={"token": "pit-sandbox-token",
                                               "location_id": "loc_sandbox0000000001"}).json()["id"]
        sub = c.post("/v1/subscriptions", json={"trigger": "contacts.search_contacts",
                                                "connection_id": conn,
                                                "target_url": "http://127.0.0.1:9/hook"}).json()["id"]
        flow = c.post("/v1/flows", json={
            "name": "fuzz", "trigger": {"key": "contacts.search_contacts", "connection_id": conn},
            "steps": [{"id": "one", "action": "contacts.create_contact", "connection_id": conn,
                       "input": {"firstName": "F"}}]})
        ids = {"conn_id": conn, "sub_id": sub}
        if flow.status_code == 201:
            ids["flow_id"] = flow.json()["id"]
        yield {"key": key, "ids": ids}
        # leave no watch behind for the workers of other tests to poll
        for path, name in (("/v1/flows/", "flow_id"), ("/v1/subscriptions/", "sub_id")):
            if name in ids:
                c.delete(path + ids[name])
        for listed in c.get("/v1/subscriptions").json().get("subscriptions", []):
            c.delete(f"/v1/subscriptions/{listed['id']}")
        for listed in c.get("/v1/flows").json().get("flows", []):
            c.delete(f"/v1/flows/{listed['id']}")


def _use_real_ids(case, ids: dict) -> None:
    if case.method.upper() != "DELETE" and case.path_parameters:
        for name in list(case.path_parameters):
            if name in ids:
                case.path_parameters[name] = ids[name]
    if isinstance(case.body, dict):
        for name in ("connection_id",):
            if name in case.body:
                case.body[name] = ids["conn_id"]


@schema.parametrize()
@settings(max_examples=8, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_no_server_errors(case, fuzz_tenant, api_server):
    _use_real_ids(case, fuzz_tenant["ids"])
    response = case.call(base_url=api_server.url,
                         headers={"Authorization": f"Bearer {fuzz_tenant['key']}"}, timeout=30)
    assert response.status_code < 500, (case.method, case.formatted_path, case.body,
                                        response.status_code, response.text[:500])
