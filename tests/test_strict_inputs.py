"""Strict input checking: every bad field gets a 422 naming it, and nothing goes upstream."""

from __future__ import annotations

import pytest

from tests.e2e_helpers import act, objects


def requests(sandbox) -> list[dict]:
    return sandbox.get("/_sandbox/requests").json()["requests"]


def refused(api, connection, key: str, **inputs) -> dict:
    """Run ``key`` expecting a 422; its problem with an input not left out."""
    body = act(api, connection, key, expect=422, **inputs)
    (problem,) = [p for p in body["error"]["details"] if "missing" not in p["message"]]
    return problem


@pytest.fixture
def contact_id(connection, sandbox) -> str:
    return objects(sandbox, "contacts")[0]["id"]


@pytest.mark.parametrize("key,inputs,field,says", [
    ("contacts.create_contact", {"emial": "a@example.com"}, "input.emial", "did you mean email?"),
    ("contacts.create_contact", {"email": "not-an-email"}, "input.email", "email address"),
    ("contacts.create_contact", {"email": "a@@example.com"}, "input.email", "email address"),
    ("contacts.create_contact", {"phone": "not-a-phone"}, "input.phone", "'not-a-phone'"),
    ("contacts.create_contact", {"dnd": "yes"}, "input.dnd", "boolean"),
    ("contacts.create_contact", {"dateOfBirth": "25/09/1990"}, "input.dateOfBirth", "YYYY-MM-DD"),
    ("contacts.create_contact", {"website": "example dot com"}, "input.website", "URL"),
    ("contacts.find_contact", {"number": "not-a-phone"}, "input.number", "'not-a-phone'"),
    ("contacts.find_contact", {"emial": "a@example.com"}, "input.emial", "did you mean email?"),
])
def test_bad_action_input_is_refused_by_name_and_never_sent(api, connection, sandbox, key,
                                                             inputs, field, says):
    problem = refused(api, connection, key, **inputs)
    assert problem["field"] == field and says in problem["message"], problem
    assert requests(sandbox) == []


@pytest.mark.parametrize("inputs,field,says", [
    ({"dueDate": "tomorrow"}, "input.dueDate", "RFC 3339"),
    ({"dueDate": "2026-02-01 11:00"}, "input.dueDate", "RFC 3339"),
    ({"completed": "yes"}, "input.completed", "boolean"),
    ({"completed": 1}, "input.completed", "boolean"),
    ({"titel": "Call back"}, "input.titel", "did you mean title?"),
])
def test_task_fields_are_checked_strictly(api, connection, sandbox, contact_id, inputs, field, says):
    good = {"title": "Call back", "dueDate": "2026-02-01T11:00:00Z", "completed": False}
    bad = {k: v for k, v in good.items() if not (k == "title" and "titel" in inputs)}
    problem = refused(api, connection, "contacts.create_contact_task", contactId=contact_id,
                      **{**bad, **inputs})
    assert problem["field"] == field and says in problem["message"], problem
    assert requests(sandbox) == []
    # the same task written right goes through
    act(api, connection, "contacts.create_contact_task", contactId=contact_id, **good)


def test_unknown_trigger_params_are_refused_for_reads_and_subscriptions(api, connection, sandbox):
    resp = api.post("/v1/triggers/contacts.search_contacts/items",
                    json={"connection_id": connection["id"], "params": {"quary": "ada"}})
    assert resp.status_code == 422, resp.text
    (problem,) = resp.json()["error"]["details"]
    assert problem["field"] == "input.quary" and "did you mean query?" in problem["message"]
    resp = api.post("/v1/subscriptions", json={
        "trigger": "contacts.get_contact_tasks", "connection_id": connection["id"],
        "params": {"contactId": "x", "completed": True}, "target_url": "https://hooks.example.com/a"})
    assert resp.status_code == 422, resp.text
    assert resp.json()["error"]["details"][0]["field"].endswith(".completed")
    assert requests(sandbox) == []


def test_phone_inputs_are_sent_as_e164(api, connection, sandbox):
    made = act(api, connection, "contacts.create_contact", firstName="Uma",
               phone="+44 (0)20 7946 0018")["contact"]
    assert made["phone"] == "+442079460018"
    # the location is in the US: a national number is read there
    made = act(api, connection, "contacts.create_contact", firstName="Ula",
               phone="(415) 555-0123")["contact"]
    assert made["phone"] == "+14155550123"
    problem = refused(api, connection, "contacts.create_contact", phone="0412 345 678")
    assert problem["field"] == "input.phone" and "'0412 345 678'" in problem["message"]


def test_the_suggestions_for_an_unknown_field_read_as_a_sentence():
    from engine.core.errors import InputInvalid
    from engine.spec import inputs, registry

    with pytest.raises(InputInvalid) as info:
        inputs.validate(registry.get("contacts.create_contact"), {"fistName": "Ada"})
    message = info.value.details[0]["message"]
    assert message.startswith("unknown field; did you mean firstName, lastName or name? "
                              "This operation accepts: locationId, firstName"), message
    with pytest.raises(InputInvalid) as info:
        inputs.validate(registry.get("contacts.create_contact"), {"zzz": 1})
    assert info.value.details[0]["message"].startswith("unknown field. This operation accepts: ")
