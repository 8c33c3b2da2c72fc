"""Hostile values in every field of every /v1 route (hypothesis, 2,100 cases in all).

Each case takes a valid request for one route (its ids the fuzzing tenant's own) and puts one
hostile value at one place: a lone surrogate, a NUL, ``1e999``, ``NaN``, ``Infinity`` or a value
of the wrong JSON type, in a body field (top level or nested in input/params/steps), a path id
or a query parameter. No answer may be a 5xx. A surrogate, a NUL or a non-finite number is
refused with a 422 naming the field where it was put, and no refused request stores anything
(the tenant's connections, subscriptions, flows, runs, watches and idempotency records are
compared before and after).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import redis as sync_redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.app import create_app
from engine.core import keys
from tests.conftest import REDIS_URL, make_key
from tests.e2e_helpers import contact_copy_flow
from tests.routes import fill, v1_routes
from tests.test_isolation import _body

EXCLUDED = {("POST", "/v1/keys/rotate")}  # would retire the key the test signs with
NON_FINITE = {"1e999": "1e999", "NaN": "NaN", "Infinity": "Infinity", "-Infinity": "-Infinity"}
TEXT = {"surrogate": "\ud800", "low surrogate": "x\udfffy", "NUL": "a\x00b"}
WRONG_TYPES: list[Any] = [True, False, "5", 5, 1.5, [], {}, None, [1, "a"], {"a": 1}, 10 ** 40, -1]
TENANT = "hostile-tenant"


def _routes() -> list:
    app = create_app()
    return app, app.openapi(), [r for r in v1_routes(app)
                                if (r.method, r.path) not in EXCLUDED and r.method != "DELETE"]


APP, SPEC, ROUTES = _routes()


def _extend(route, body: Any, ids: dict) -> Any:
    """Give nested dicts something to hit: an action's input, a trigger's params, a step."""
    if not isinstance(body, dict):
        return body
    body = json.loads(json.dumps(body))
    if "input" in body or route.path.startswith("/v1/actions/"):
        body["input"] = {"firstName": "Ada", "tags": ["a"]}
    if "params" in body:
        body["params"] = {"query": "x"}
    if "steps" in body:
        body["steps"] = [{"id": "one", "action": "contacts.create_contact",
                          "connection_id": ids["conn_id"], "input": {"firstName": "F"}}]
    return body


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, prefix + (i,))
    return out


def _put(body: Any, path: tuple, value: Any) -> Any:
    node = body
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return body


def _snapshot(r: sync_redis.Redis, tenant: str) -> dict[str, Any]:
    sets = {name: r.smembers(k.format(tenant=tenant)) for name, k in (
        ("conns", keys.TENANT_CONNECTIONS), ("subs", keys.TENANT_SUBSCRIPTIONS),
        ("flows", keys.TENANT_FLOWS))}
    runs = sum(r.zcard(keys.FLOW_RUNS.format(flow_id=f.decode())) for f in sets["flows"])
    idem = sorted(r.scan_iter(match=keys.IDEMPOTENCY.format(tenant=tenant, key="*"), count=1000))
    return {**sets, "runs": runs, "idempotency": idem, "all_conns": r.scard(keys.ALL_CONNECTIONS),
            "watches": r.zcard(keys.WATCHES_DUE)}


@pytest.fixture(scope="module")
def hostile(api_server, sandbox_server):
    key = make_key(TENANT)
    with httpx.Client(base_url=api_server.url, headers={"Authorization": f"Bearer {key}"},
                      timeout=30) as c:
        conn = c.post("/v1/connections", json={"token": "pit-sandbox-token",
                                               "location_id": "loc_sandbox0000000001"})
        assert conn.status_code == 201, conn.text
        ids = {"conn_id": conn.json()["id"]}
        sub = c.post("/v1/subscriptions", json={"trigger": "contacts.search_contacts",
                                                "connection_id": ids["conn_id"],
                                                "target_url": "http://127.0.0.1:9/hook"})
        assert sub.status_code == 201, sub.text
        ids["sub_id"] = sub.json()["id"]
        flow = contact_copy_flow(c, "hostile", ids["conn_id"], ids["conn_id"])
        ids.update(flow_id=flow["id"], run_id="run_x", delivery_id="dlv_x")
        r = sync_redis.Redis.from_url(REDIS_URL)
        yield {"client": c, "ids": ids, "redis": r, "stats": {"cases": 0, "refused": 0}}
        for listed in c.get("/v1/subscriptions").json().get("subscriptions", []):
            c.delete(f"/v1/subscriptions/{listed['id']}")
        for listed in c.get("/v1/flows").json().get("flows", []):
            c.delete(f"/v1/flows/{listed['id']}")
        r.close()


def _serialize(body: Any, marker: str | None, raw: str | None) -> bytes:
    text = json.dumps(body, ensure_ascii=True, allow_nan=True)
    if marker is not None:
        text = text.replace(json.dumps(marker), raw)
    return text.encode()


hostile_value = st.one_of(
    st.sampled_from(sorted(NON_FINITE)).map(lambda k: ("non_finite", k)),
    st.sampled_from(sorted(TEXT)).map(lambda k: ("text", k)),
    st.sampled_from(range(len(WRONG_TYPES))).map(lambda i: ("type", i)))


@settings(max_examples=2100, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
@given(route_index=st.sampled_from(range(len(ROUTES))), place=st.integers(0, 10 ** 6),
       where=st.sampled_from(["body", "body", "body", "path", "query"]), value=hostile_value)
def test_hostile_values_never_give_a_server_error_or_a_stored_record(
        hostile, route_index, place, where, value):
    route = ROUTES[route_index]
    ids, client, r = hostile["ids"], hostile["client"], hostile["redis"]
    values = {name: ids.get(name, "contacts.search_contacts" if name == "key" else "x")
              for name in route.params}
    if route.path.startswith("/v1/actions/"):
        values["key"] = "contacts.create_contact"
    if route.path.startswith("/v1/flow-templates/"):
        values["name"] = "inbound_sms_to_ghl"
    kind, which = value
    hostile_text = TEXT.get(which) if kind == "text" else None
    body = _extend(route, _body(route, SPEC, ids), ids) if route.has_body else None
    marker, raw, expect_field = None, None, None
    query: dict[str, str] = {}
    if where == "path" and route.params:
        name = route.params[place % len(route.params)]
        values[name] = hostile_text if hostile_text is not None else str(
            which if kind == "non_finite" else WRONG_TYPES[which])
        strict = hostile_text is not None and "\x00" in hostile_text
        expect_field = "path" if strict else None
    elif where == "query" or not isinstance(body, dict) or not _paths(body):
        query["limit"] = hostile_text if hostile_text is not None else (
            which if kind == "non_finite" else json.dumps(WRONG_TYPES[which]))
        if hostile_text is not None:
            expect_field = "limit"
    else:
        path = _paths(body)[place % len(_paths(body))]
        if kind == "non_finite":
            marker, raw = "\u2063hostile\u2063", NON_FINITE[which]
            _put(body, path, marker)
            expect_field = ".".join(map(str, path))
        elif kind == "text":
            _put(body, path, hostile_text)
            expect_field = ".".join(map(str, path))
        else:
            _put(body, path, WRONG_TYPES[which])
    url = quote(fill(route.path, values).encode("utf-8", "surrogatepass"), safe="/%")
    if query:  # surrogates travel as their UTF-8-style bytes, as a careless client sends them
        url += "?limit=" + quote(query["limit"].encode("utf-8", "surrogatepass"), safe="")
    before = _snapshot(r, TENANT)
    content = _serialize(body, marker, raw) if body is not None else None
    resp = client.request(route.method, url, content=content,
                          headers={"Content-Type": "application/json"} if content else None)
    hostile["stats"]["cases"] += 1
    assert resp.status_code < 500, (route, where, value, resp.status_code, resp.text[:300])
    if expect_field is not None:
        assert resp.status_code in (404, 422), (route, where, value, resp.text[:300])
        if resp.status_code == 422 and where != "path":
            fields = [p["field"] for p in resp.json()["error"]["details"]]
            assert expect_field in fields, (route, value, fields)
    if resp.status_code >= 400:
        hostile["stats"]["refused"] += 1
        assert _snapshot(r, TENANT) == before, (route, where, value, resp.status_code)


def test_the_fuzzing_above_ran_its_cases(hostile):
    """Runs after the fuzzing (same module, same fixture): it did send its 2,000+ requests."""
    assert hostile["stats"]["cases"] >= 2000, hostile["stats"]
    assert hostile["stats"]["refused"] >= 1000, hostile["stats"]


def test_a_lone_surrogate_in_subscription_params_is_refused_and_listings_still_work(api, connection):
    body = ('{"trigger": "contacts.search_contacts", "connection_id": "%s", '
            '"target_url": "http://127.0.0.1:9/hook", "params": {"query": "\\ud800"}}'
            % connection["id"])
    resp = api.post("/v1/subscriptions", content=body.encode(),
                    headers={"Content-Type": "application/json"})
    assert resp.status_code == 422 and resp.json()["error"]["details"][0]["field"] == "params.query"
    assert api.get("/v1/subscriptions").json()["subscriptions"] == []
    for raw in ('{"connection_id": "%s", "input": {"firstName": 1e999}}',
                '{"connection_id": "%s", "input": {"firstName": NaN}}'):
        resp = api.post("/v1/actions/contacts.create_contact", content=(raw % connection["id"]).encode(),
                        headers={"Content-Type": "application/json"})
        assert resp.status_code == 422 and "input.firstName" in resp.text


def test_interval_minutes_must_be_a_real_integer(api, connection):
    for bad in (True, "5", 5.0):
        resp = api.post("/v1/subscriptions", json={
            "trigger": "contacts.search_contacts", "connection_id": connection["id"],
            "target_url": "http://127.0.0.1:9/hook", "interval_minutes": bad})
        assert resp.status_code == 422 and "interval_minutes" in resp.text, (bad, resp.text)
    assert api.get("/v1/subscriptions").json()["subscriptions"] == []


def test_a_stored_record_that_cannot_be_encoded_does_not_break_the_listing(api, connection, tenant):
    resp = api.post("/v1/subscriptions", json={"trigger": "contacts.search_contacts",
                                               "connection_id": connection["id"],
                                               "target_url": "http://127.0.0.1:9/hook"})
    assert resp.status_code == 201
    r = sync_redis.Redis.from_url(REDIS_URL)
    try:  # as an older version could have stored it
        r.hset(keys.SUBSCRIPTION.format(sub_id=resp.json()["id"]), "params",
               json.dumps({"query": "\ud800"}))
    finally:
        r.close()
    listing = api.get("/v1/subscriptions")
    assert listing.status_code == 200, listing.text
    assert listing.json()["subscriptions"][0]["params"] == {"query": "\ud800"}


def _nested(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


def test_deeply_nested_or_undecodable_json_is_a_422_on_every_kind_of_route(
        api, connection, smsglobal_connection):
    """A body nested hundreds of levels deep (still well under the size limit), JSON that is not
    UTF-8 or a number of 5,000 digits gets a 422 naming the body, on a model route (it was a
    bare 400) and on the token URLs that parse the body themselves (SMSGlobal receipts and
    replies, GHL workflow hooks), where depth was a 500; nothing is queued or stored."""
    import redis

    sms_hook = api.get(f"/v1/connections/{smsglobal_connection['id']}/hook").json()
    ghl_hook = api.get(f"/v1/connections/{connection['id']}/hook").json()
    r = redis.Redis.from_url(REDIS_URL)
    try:
        queued = r.xlen(keys.INBOUND_STREAM)
        subs = {"trigger": "contacts.search_contacts", "connection_id": connection["id"],
                "target_url": "http://127.0.0.1:9/hook", "params": {}}
        for url in (sms_hook["notify_url"], sms_hook["incoming_url"],
                    ghl_hook["ghl_workflow_url"], "/v1/subscriptions"):
            for raw in (_nested(200), _nested(990), b"[" * 100_000 + b"]" * 100_000,
                        json.dumps(subs).encode()[:-1] + b', "x": "\xff\xfe"}',
                        json.dumps(subs).encode()[:-1] + b', "x": 1' + b"0" * 5000 + b"}"):
                resp = api.post(url, content=raw, headers={"Content-Type": "application/json"})
                assert resp.status_code == 422, (url, raw[:20], resp.text)
                error = resp.json()["error"]
                assert error["code"] == "invalid_request", resp.text
                assert error["details"][0]["location"] == "body", resp.text
                message = error["details"][0]["message"]
                assert any(words in message for words in ("nested more than 64", "UTF-8",
                                                          "more digits")), resp.text
        assert r.xlen(keys.INBOUND_STREAM) == queued
    finally:
        r.close()
    assert api.get("/v1/subscriptions").json()["subscriptions"] == []
    # a body nested as deep as real ones still passes
    ok = api.post("/v1/actions/contacts.create_contact", json={
        "connection_id": connection["id"],
        "input": {"firstName": "Deep", "extra": {"meta": _nested_value(20)}}})
    assert ok.status_code == 200, ok.text


def _nested_value(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"a": value}
    return value


def test_the_consoles_action_form_refuses_what_the_api_refuses(api, api_server, sandbox,
                                                                connection):
    """The console's action form is a form body, which the edge does not read as JSON: a NUL, a
    lone surrogate or a not-finite number in a field, or a JSON field nested past the limit, is
    refused on the page naming the field (it was sent to GHL, or blamed on the credentials, or
    a 500), and nothing reaches GHL."""
    with httpx.Client(base_url=api_server.url, timeout=30) as console:
        assert console.post("/console/login", data={"api_key": api.api_key}).status_code == 303
        for name, value, field in (
                ("in.firstName", "a\x00b", "input.firstName"),
                ("in.tags", '["\\u0000"]', "input.tags.0"),
                ("in.tags", '["\\ud800"]', "input.tags.0"),
                ("in.tags", "[NaN]", "input.tags.0"),
                ("in.tags", "[" * 100_000 + "]" * 100_000, "in.tags"),
                ("in.tags", "[" * 100 + "]" * 100, "nested more than 64")):
            resp = console.post("/console/catalog/contacts.create_contact",
                                data={"connection_id": connection["id"], name: value})
            assert resp.status_code == 200, (name, value[:20], resp.text[:300])
            assert "invalid_request" in resp.text or "not valid" in resp.text, resp.text[-2000:]
            assert field in resp.text, (field, resp.text[-2000:])
        sent = sandbox.get("/_sandbox/stats").json()["requests"]
        assert sent.get("contacts.create_contact", 0) == 0, sent
        fine = console.post("/console/catalog/contacts.create_contact", data={
            "connection_id": connection["id"], "in.firstName": "Ada", "in.tags": '["vip"]'})
        assert fine.status_code == 200 and "invalid" not in fine.text, fine.text[-2000:]
    sent = sandbox.get("/_sandbox/stats").json()["requests"]
    assert sent.get("contacts.create_contact", 0) == 1, sent
