"""The provider set-up per location: POST/GET/PATCH/DELETE /v1/sms-provider."""

from __future__ import annotations

import pytest

from sandbox.ghl import DEFAULT_LOCATION
from tests.provider_support import no_provider  # noqa: F401


@pytest.fixture
def provider_body(connection, smsglobal_connection) -> dict:
    return {"ghl_connection_id": connection["id"],
            "smsglobal_connection_id": smsglobal_connection["id"],
            "sender": "+61 400 000 999", "default_region": "au"}


def test_create_read_change_delete(api, provider_body):
    made = api.post("/v1/sms-provider", json=provider_body)
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["location_id"] == DEFAULT_LOCATION
    assert body["sender"] == "61400000999"  # SMSGlobal's digits form
    assert body["default_region"] == "AU" and body["kind"] == "default"
    assert "STOP" in body["stop_keywords"] and "START" in body["start_keywords"]
    assert "push_token" not in body and "tenant" not in body

    assert api.get(f"/v1/sms-provider/{DEFAULT_LOCATION}").json() == body
    assert [p["location_id"] for p in api.get("/v1/sms-provider").json()["providers"]] == [DEFAULT_LOCATION]

    again = api.post("/v1/sms-provider", json=provider_body)
    assert again.status_code == 409 and "PATCH" in again.json()["error"]["message"]

    changed = api.patch(f"/v1/sms-provider/{DEFAULT_LOCATION}",
                        json={"sender": "SandboxCo", "stop_keywords": ["halt", "Stop"]})
    assert changed.status_code == 200, changed.text
    assert changed.json()["sender"] == "SandboxCo"
    assert changed.json()["stop_keywords"] == ["HALT", "STOP"]

    assert api.delete(f"/v1/sms-provider/{DEFAULT_LOCATION}").status_code == 204
    assert api.get(f"/v1/sms-provider/{DEFAULT_LOCATION}").status_code == 404
    assert api.post("/v1/sms-provider", json=provider_body).status_code == 201


def test_extra_kind_needs_its_provider_id(api, provider_body):
    resp = api.post("/v1/sms-provider", json={**provider_body, "kind": "extra"})
    assert resp.status_code == 422
    assert "conversation_provider_id" in resp.text
    made = api.post("/v1/sms-provider", json={**provider_body, "kind": "extra",
                                               "conversation_provider_id": "61d6d1f9cdac7612faf80753"})
    assert made.status_code == 201, made.text
    to_default = api.patch(f"/v1/sms-provider/{DEFAULT_LOCATION}",
                           json={"conversation_provider_id": None})
    assert to_default.status_code == 422 and "conversation_provider_id" in to_default.text


@pytest.mark.parametrize("change, field", [
    ({"sender": "12"}, "sender"),
    ({"sender": "Far too long sender"}, "sender"),
    ({"default_region": "XX"}, "default_region"),
    ({"kind": "primary"}, "kind"),
    ({"stop_keywords": ["two words"]}, "stop_keywords"),
    ({"colour": "red"}, "colour"),
])
def test_bad_input_is_a_422_naming_the_field_and_nothing_is_stored(api, provider_body, change, field):
    resp = api.post("/v1/sms-provider", json={**provider_body, **change})
    assert resp.status_code == 422, resp.text
    assert any(p["field"].startswith(field) for p in resp.json()["error"]["details"]), resp.text
    assert api.get(f"/v1/sms-provider/{DEFAULT_LOCATION}").status_code == 404


def test_connections_must_be_the_tenants_and_of_the_right_app(api, provider_body, connection,
                                                             smsglobal_connection):
    swapped = {**provider_body, "ghl_connection_id": smsglobal_connection["id"],
               "smsglobal_connection_id": connection["id"]}
    resp = api.post("/v1/sms-provider", json=swapped)
    assert resp.status_code == 422
    assert {p["field"] for p in resp.json()["error"]["details"]} == {
        "ghl_connection_id", "smsglobal_connection_id"}
    unknown = api.post("/v1/sms-provider", json={**provider_body, "ghl_connection_id": "conn_nope"})
    assert unknown.status_code == 422 and "GET /v1/connections" in unknown.text


def test_another_tenant_cannot_see_or_change_it(api, api_server, provider_body):
    import httpx

    from tests.conftest import make_key

    assert api.post("/v1/sms-provider", json=provider_body).status_code == 201
    other = httpx.Client(base_url=api_server.url,
                         headers={"Authorization": f"Bearer {make_key('someone-else')}"})
    with other:
        assert other.get(f"/v1/sms-provider/{DEFAULT_LOCATION}").status_code == 404
        assert other.delete(f"/v1/sms-provider/{DEFAULT_LOCATION}").status_code == 404
        assert other.get("/v1/sms-provider").json() == {"providers": []}
    assert api.get(f"/v1/sms-provider/{DEFAULT_LOCATION}").status_code == 200


def test_the_cli_sets_up_shows_and_removes_a_provider(api, tenant, connection, smsglobal_connection):
    import json

    from typer.testing import CliRunner

    from engine.cli.main import app

    run = CliRunner().invoke
    made = run(app, ["sms-provider", "create", "--tenant", tenant,
                     "--ghl-connection", connection["id"],
                     "--smsglobal-connection", smsglobal_connection["id"], "--sender", "SandboxCo"])
    assert made.exit_code == 0, made.output
    assert json.loads(made.stdout)["sender"] == "SandboxCo"
    assert api.get(f"/v1/sms-provider/{DEFAULT_LOCATION}").json()["sender"] == "SandboxCo"
    # --tenant defaults to dev (or ENGINE_TENANT), as in the other commands; list is a table
    listed = CliRunner().invoke(app, ["sms-provider", "list"], env={"ENGINE_TENANT": tenant,
                                                                    "COLUMNS": "250"})
    assert listed.exit_code == 0, listed.output
    assert "SMS provider set-ups" in listed.stdout and DEFAULT_LOCATION in listed.stdout
    assert "SandboxCo" in listed.stdout and smsglobal_connection["id"] in listed.stdout
    as_json = run(app, ["sms-provider", "list", "--json", "--tenant", tenant])
    assert [p["location_id"] for p in json.loads(as_json.stdout)] == [DEFAULT_LOCATION]
    dev = CliRunner().invoke(app, ["sms-provider", "list"], env={"ENGINE_TENANT": None})
    assert dev.exit_code == 0 and DEFAULT_LOCATION not in dev.stdout, dev.output
    changed = run(app, ["sms-provider", "update", DEFAULT_LOCATION, "--tenant", tenant,
                        "--sender", "+61400000999"])
    assert changed.exit_code == 0 and json.loads(changed.stdout)["sender"] == "61400000999"
    bad = run(app, ["sms-provider", "update", DEFAULT_LOCATION, "--tenant", tenant, "--kind", "extra"])
    assert bad.exit_code == 1 and "conversation_provider_id" in bad.output
    assert run(app, ["sms-provider", "delete", DEFAULT_LOCATION, "--tenant", tenant]).exit_code == 0
    assert api.get(f"/v1/sms-provider/{DEFAULT_LOCATION}").status_code == 404


@pytest.mark.parametrize("text, parts", [
    ("a" * 160, (1, "GSM-7")), ("a" * 161, (2, "GSM-7")), ("a" * 306, (2, "GSM-7")),
    ("€" * 80, (1, "GSM-7")), ("€" * 81, (2, "GSM-7")),  # extension characters take two septets
    ("ł" * 70, (1, "UCS-2")), ("ł" * 71, (2, "UCS-2")), ("Hi 😀", (1, "UCS-2")),
])
def test_segments_and_encoding_of_a_text(text, parts):
    from engine.provider.segments import sms_parts

    assert sms_parts(text) == parts


def test_the_delivery_url_is_given_or_what_to_set_for_it(api, provider_body):
    from engine.core.settings import get_settings
    from engine.provider import setup

    made = api.post("/v1/sms-provider", json=provider_body).json()
    unset = get_settings().model_copy(update={"public_url": ""})
    shown = setup.public(unset, made)
    assert shown["delivery_url"] is None
    assert shown["delivery_url_hint"].startswith("delivery_url is null because ENGINE_PUBLIC_URL "
                                                 "is not set: set it to the engine's public")
    assert shown["delivery_url_hint"].endswith("that URL + /v1/inbound/ghl")
    known = setup.public(get_settings().model_copy(update={"public_url": "https://e.example/"}), made)
    assert known["delivery_url"] == "https://e.example/v1/inbound/ghl"
    assert known["delivery_url_hint"] is None
    assert ("delivery_url_hint" in made and
            (made["delivery_url"] is None) == (made["delivery_url_hint"] is not None))
