"""Error wording a caller can act on: bad JSON says where and what, a body sent without a JSON
Content-Type says so, lengths are counted in characters, SMSGlobal's field errors read as text."""

from __future__ import annotations

from engine.upstream.client import readable_errors


def problems(resp) -> list[dict]:
    assert resp.status_code == 422, resp.text
    return resp.json()["error"]["details"]


def test_bad_json_says_where_and_what(api):
    resp = api.post("/v1/connections", content=b'{"name": "Clinic",\n "token": "pit-1" "x": 1}',
                    headers={"Content-Type": "application/json"})
    (problem,) = problems(resp)
    assert problem["field"] == "body"
    assert problem["message"].startswith("request body is not valid JSON at line 2, column 19")
    assert "delimiter" in problem["message"]
    assert resp.json()["error"]["message"] == "invalid request: body"


def test_a_body_without_a_json_content_type_is_named(api):
    resp = api.post("/v1/connections", content=b'{"name": "Clinic"}',
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
    (problem,) = problems(resp)
    assert "Content-Type: application/json" in problem["message"]
    assert "application/x-www-form-urlencoded" in problem["message"]


def test_short_secrets_are_counted_in_characters(api):
    resp = api.post("/v1/connections", json={"app": "smsglobal", "api_key": "short",
                                             "api_secret": "x" * 10})
    (problem,) = problems(resp)
    assert problem["field"].endswith("api_key")
    assert problem["message"] == "must be at least 8 characters"


def test_smsglobal_field_errors_read_as_text():
    said = readable_errors({"destination": {"errors": ["Msisdn '1' is invalid."]},
                            "origin": {"errors": ["Too long.", "Not allowed."]}})
    assert said == "destination: Msisdn '1' is invalid.; origin: Too long.; origin: Not allowed."
