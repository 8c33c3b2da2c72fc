"""Tenant isolation on every /v1 route: tenant A's key gets 404 (never 403, never the data) for
tenant B's connections, subscriptions, deliveries, flows and runs, and A's lists show none of
B's objects.

The routes are read from the app itself, so a route added later is walked too: its path ids
are filled with B's ids, its JSON body is built from the OpenAPI schema with B's connection,
and a route that takes no tenant-owned id must be named in NOT_TENANT_DATA below.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from api.app import create_app
from tests.conftest import make_key
from tests.routes import RouteInfo, fill, v1_routes

# routes that read or write nothing a tenant owns by id (or only the caller's own key)
NOT_TENANT_DATA = {
    ("GET", "/v1/operations"), ("GET", "/v1/operations/{key}"),
    ("POST", "/v1/keys/rotate"),  # rotates the calling key only
    ("GET", "/v1/oauth/ghl/authorize"),  # starts an authorization for the caller's tenant
    ("GET", "/v1/oauth/ghl/callback"),  # no API key: the signed state names the tenant
    ("POST", "/v1/connections"),  # creates in the caller's own tenant, from a token
    ("POST", "/v1/inbound/ghl"),  # no API key: a GHL-signed event, refused here (401)
    # no API key: the hook token in the path is the credential (an unknown one gets 404)
    ("POST", "/v1/inbound/ghl/{hook_token}"),
    ("POST", "/v1/inbound/smsglobal/{hook_token}/receipt"),
    ("POST", "/v1/inbound/smsglobal/{hook_token}/incoming"),
}
# path parameters that are not tenant-owned ids
NOT_OWNED_PARAMS = {"key", "name"}
TRIGGER = "contacts.search_contacts"
ACTION = "contacts.create_contact"


def _resolve(schema: dict, spec: dict) -> dict:
    while "$ref" in schema:
        node: Any = spec
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def _sample(name: str, schema: dict, spec: dict, ids: dict[str, str]) -> Any:
    schema = _resolve(schema, spec)
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [_resolve(s, spec) for s in schema[key]]
            options = [o for o in options if o.get("type") != "null"] or options
            return _sample(name, options[0], spec, ids)
    kind = schema.get("type")
    if name == "connections" and kind == "object":  # connections by role (flow templates)
        return {"ghl": ids["conn_id"], "smsglobal": ids["conn_id"]}
    if kind == "object":
        return {p: _sample(p, s, spec, ids) for p, s in schema.get("properties", {}).items()
                if p in schema.get("required", ())}
    if kind == "array":
        return [_sample(name, schema.get("items", {}), spec, ids)] * schema.get("minItems", 0)
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    if kind in ("integer", "number"):
        return schema.get("minimum", 1)
    if kind == "boolean":
        return False
    if name.endswith("connection_id"):
        return ids["conn_id"]
    if name.endswith("flow_id") and "flow_id" in ids:
        return ids["flow_id"]
    if name == "trigger" or name == "key":
        return TRIGGER
    if name == "action":
        return ACTION
    if name == "target_url":
        return "http://127.0.0.1:9/hook"
    if schema.get("pattern"):
        return "abc123"
    return "abc123" if schema.get("minLength", 1) <= 6 else "a" * schema["minLength"]


def _body(route: RouteInfo, spec: dict, ids: dict[str, str]) -> Any:
    op = spec["paths"][route.path][route.method.lower()]
    content = op.get("requestBody", {}).get("content", {})
    schema = content.get("application/json", {}).get("schema")
    return None if schema is None else _sample("body", schema, spec, ids)


def _uses_connection(body: Any) -> bool:
    """True when the body names a connection anywhere (B's, as sampled)."""
    if isinstance(body, dict):
        return any(k.endswith("connection_id") or k == "connections" or _uses_connection(v)
                   for k, v in body.items())
    if isinstance(body, list):
        return any(_uses_connection(v) for v in body)
    return False


@pytest.fixture
def tenant_b(api_server, sandbox, tenant) -> dict[str, Any]:
    """Tenant B with one of everything, created through the API."""
    key = make_key(tenant + "B")
    with httpx.Client(base_url=api_server.url, headers={"Authorization": f"Bearer {key}"},
                      timeout=30) as b:
        conn = b.post("/v1/connections", json={"token": "pit-sandbox-token",
                                               "location_id": "loc_sandbox0000000001",
                                               "name": "B's location"})
        assert conn.status_code == 201, conn.text
        ids = {"conn_id": conn.json()["id"]}
        sub = b.post("/v1/subscriptions", json={"trigger": TRIGGER, "connection_id": ids["conn_id"],
                                                "target_url": "http://127.0.0.1:9/b-hook"})
        assert sub.status_code == 201, sub.text
        ids["sub_id"] = sub.json()["id"]
        deliveries = b.get(f"/v1/subscriptions/{ids['sub_id']}/deliveries").json()["deliveries"]
        ids["delivery_id"] = deliveries[0]["id"] if deliveries else "dlv_of_b"
        flow = b.post("/v1/flows", json={
            "name": "B's flow",
            "trigger": {"key": TRIGGER, "connection_id": ids["conn_id"]},
            "steps": [{"id": "note", "action": ACTION, "connection_id": ids["conn_id"],
                       "input": {"firstName": "{{trigger.firstName}}"}}]})
        assert flow.status_code == 201, flow.text
        ids["flow_id"] = flow.json()["id"]
        runs = b.get(f"/v1/flows/{ids['flow_id']}/runs").json()["runs"]
        ids["run_id"] = runs[0]["id"] if runs else "run_of_b"
        sandbox.post("/_sandbox/smsglobal/credentials", json={
            "api_key": "b-key-0000000000", "api_secret": "b-secret-0000000000"}).raise_for_status()
        sms = b.post("/v1/connections", json={"app": "smsglobal", "api_key": "b-key-0000000000",
                                              "api_secret": "b-secret-0000000000"})
        assert sms.status_code == 201, sms.text
        provider = b.post("/v1/sms-provider", json={
            "ghl_connection_id": ids["conn_id"], "smsglobal_connection_id": sms.json()["id"],
            "sender": "BsSender"})
        assert provider.status_code == 201, provider.text
        ids["location_id"] = provider.json()["location_id"]
        yield {"key": key, "ids": ids, "url": api_server.url}
        b.delete(f"/v1/sms-provider/{ids['location_id']}")
        # leave no watch behind for the workers of other tests to poll
        b.delete(f"/v1/flows/{ids['flow_id']}")
        b.delete(f"/v1/subscriptions/{ids['sub_id']}")
        b.delete(f"/v1/connections/{ids['conn_id']}")


def _fill_ids(route: RouteInfo, ids: dict[str, str]) -> dict[str, str]:
    from engine.flows.templates import catalog

    values = {}
    for p in route.params:
        if p == "name":
            values[p] = catalog()[0]["name"]
        elif p in NOT_OWNED_PARAMS:
            values[p] = ACTION if route.path.startswith("/v1/actions") else TRIGGER
        elif p in ids:
            values[p] = ids[p]
        else:
            raise AssertionError(f"{route.method} {route.path}: path id {{{p}}} is new to this "
                                 "test; create tenant B's object of that kind in tenant_b and add "
                                 "it to ids (or list the parameter in NOT_OWNED_PARAMS)")
    return values


def test_every_route_hides_another_tenants_objects(api, tenant_b):
    app = create_app()
    spec = app.openapi()
    ids = tenant_b["ids"]
    walked = []
    for route in v1_routes(app):
        if (route.method, route.path) in NOT_TENANT_DATA:
            continue
        owned = [p for p in route.params if p not in NOT_OWNED_PARAMS]
        url = fill(route.path, _fill_ids(route, ids))
        body = _body(route, spec, ids) if route.has_body else None
        resp = api.request(route.method, url, json=body) if body is not None else \
            api.request(route.method, url)
        if owned:
            assert resp.status_code == 404, (route.method, url, body, resp.status_code, resp.text)
            assert resp.json()["error"]["code"].endswith("not_found")
        elif _uses_connection(body):
            # a reference in the body: refused exactly as an id that does not exist at all
            assert resp.status_code in (404, 422), (route.method, url, body, resp.text)
            assert "not found" in resp.text and resp.status_code != 403
            fake = _body(route, spec, dict(ids, conn_id="conn_00000000000000000000"))
            same = api.request(route.method, url, json=fake)
            assert same.status_code == resp.status_code
            assert same.json()["error"]["code"] == resp.json()["error"]["code"]
        elif route.method == "GET":
            assert resp.status_code == 200, (route, resp.text)
        else:
            raise AssertionError(f"{route.method} {route.path} takes no tenant-owned id: add "
                                 "it to NOT_TENANT_DATA if it touches no tenant's objects")
        for value in ids.values():
            assert value not in resp.text or value in url or value in str(body), (route, value)
        walked.append((route.method, route.path))
    assert ("DELETE", "/v1/connections/{conn_id}") in walked
    assert ("GET", "/v1/subscriptions/{sub_id}") in walked
    # nothing of B's was changed or removed by A's attempts
    with httpx.Client(base_url=tenant_b["url"], timeout=30,
                      headers={"Authorization": f"Bearer {tenant_b['key']}"}) as b:
        assert b.get(f"/v1/connections/{ids['conn_id']}").json()["name"] == "B's location"
        sub = b.get(f"/v1/subscriptions/{ids['sub_id']}")
        assert sub.status_code == 200 and sub.json()["target_url"] == "http://127.0.0.1:9/b-hook"
        flow = b.get(f"/v1/flows/{ids['flow_id']}")
        assert flow.status_code == 200 and flow.json()["name"] == "B's flow"


def test_lists_show_only_the_callers_objects(api, tenant_b, connection):
    conns = api.get("/v1/connections").json()["connections"]
    assert [c["id"] for c in conns] == [connection["id"]]
    assert api.get("/v1/subscriptions").json()["subscriptions"] == []
    assert api.get("/v1/flows").json()["flows"] == []


def test_not_found_is_the_same_for_missing_and_foreign_ids(api, tenant_b):
    foreign = api.get(f"/v1/connections/{tenant_b['ids']['conn_id']}")
    missing = api.get("/v1/connections/conn_00000000000000000000")
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json()["error"]["code"] == missing.json()["error"]["code"]
