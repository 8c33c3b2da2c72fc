"""Request limits: bodies over ENGINE_MAX_BODY_BYTES get 413 in the error shape; every JSON body
route refuses unknown top-level fields, naming them."""

from __future__ import annotations

from api.app import create_app
from tests.routes import fill, v1_routes


def test_oversized_body_is_413_in_the_error_shape(api, connection):
    big = {"connection_id": connection["id"], "input": {"firstName": "x" * (1024 * 1024 + 10)}}
    resp = api.post("/v1/actions/contacts.create_contact", json=big)
    assert resp.status_code == 413
    err = resp.json()["error"]
    assert err["code"] == "request_too_large" and "ENGINE_MAX_BODY_BYTES" in err["message"]


def test_oversized_chunked_body_is_413(api, connection):
    def chunks():
        for _ in range(20):
            yield b"x" * 65536  # 1.25 MiB without a Content-Length

    resp = api.post("/v1/connections", content=chunks(), headers={"Content-Type": "application/json"})
    assert resp.status_code == 413 and resp.json()["error"]["code"] == "request_too_large"


def test_small_chunked_body_still_works(api):
    def chunks():
        yield b'{"token": "pit-sandbox-token", '
        yield b'"location_id": "loc_sandbox0000000001"}'

    resp = api.post("/v1/connections", content=chunks(), headers={"Content-Type": "application/json"})
    assert resp.status_code == 201, resp.text


def test_every_body_route_refuses_unknown_fields_naming_them(api):
    checked = []
    for route in v1_routes(create_app()):
        if not route.has_body:
            continue
        url = fill(route.path, {p: "x_missing" for p in route.params})
        resp = api.request(route.method, url, json={"zz_unknown_field": 1})
        assert resp.status_code == 422, (route, resp.text)
        problems = resp.json()["error"]["details"]
        assert any(p["field"].endswith("zz_unknown_field") and "unknown field" in p["message"]
                   for p in problems), (route, problems)
        checked.append(route.path)
    assert "/v1/connections" in checked and "/v1/actions/{key}" in checked


def test_invalid_json_is_422_not_500(api):
    resp = api.post("/v1/connections", content=b"{not json", headers={"Content-Type": "application/json"})
    assert resp.status_code == 422 and "JSON" in resp.text
