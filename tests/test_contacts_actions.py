"""Every Contacts action end to end: API → engine → sandbox over HTTP, and back."""

from __future__ import annotations

import pytest



def run(api, connection, key, **inputs):
    resp = api.post(f"/v1/actions/{key}", json={"connection_id": connection["id"], "input": inputs})
    return resp


def ok(api, connection, key, **inputs):
    resp = run(api, connection, key, **inputs)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["meta"]["upstream_status"] in (200, 201)
    return body["data"]


def sent(sandbox, key):
    return [r for r in sandbox.get("/_sandbox/requests").json()["requests"] if r["route"] == key]


def objects(sandbox, collection):
    return sandbox.get(f"/_sandbox/objects/{collection}").json()["objects"]


def new_contact(api, connection, email: str) -> dict:
    """A contact created through the engine, as the action returns it."""
    return ok(api, connection, "contacts.create_contact", email=email)["contact"]


def caller_for(api, connection, contact: dict):
    """``call(key, **inputs)``: runs an action on this contact (its ``contactId`` sent with the
    inputs) and returns the action's data, as :func:`ok`."""
    return lambda key, **inputs: ok(api, connection, key, contactId=contact["id"], **inputs)


def gone(sandbox, collection: str, object_id: str) -> bool:
    """Whether the sandbox no longer holds that object."""
    return all(o["id"] != object_id for o in objects(sandbox, collection))


def stored_contact(sandbox, contact_id: str) -> dict:
    """The contact as the sandbox holds it."""
    return next(c for c in objects(sandbox, "contacts") if c["id"] == contact_id)


@pytest.mark.covers("contacts.create_contact", "contacts.update_contact", "contacts.find_contact",
                    "contacts.delete_contact", "contacts.upsert_contact")
def test_contact_lifecycle(api, connection, sandbox):
    made = ok(api, connection, "contacts.create_contact", firstName="Grace", lastName="Hopper",
              email="grace@example.com", phone="+14155550199", tags=["navy"],
              customFields=[{"key": "rank", "field_value": "admiral"}])["contact"]
    assert made["locationId"] == connection["location_id"]  # filled from the connection
    assert sent(sandbox, "contacts.create_contact")[-1]["body"]["locationId"] == connection["location_id"]

    updated = ok(api, connection, "contacts.update_contact", contactId=made["id"], city="Arlington")
    assert updated["contact"]["city"] == "Arlington"

    found = ok(api, connection, "contacts.find_contact", email="grace@example.com")
    assert found["contact"]["id"] == made["id"]
    assert ok(api, connection, "contacts.find_contact", number="+14155550199")["contact"]["id"] == made["id"]
    assert ok(api, connection, "contacts.find_contact", email="nobody@example.com")["contact"] is None

    upserted = ok(api, connection, "contacts.upsert_contact", email="grace@example.com", tags=["cobol"])
    assert upserted["new"] is False and upserted["contact"]["id"] == made["id"]
    assert set(upserted["contact"]["tags"]) == {"navy", "cobol"}
    fresh = ok(api, connection, "contacts.upsert_contact", email="alan@example.com", firstName="Alan")
    assert fresh["new"] is True

    assert ok(api, connection, "contacts.delete_contact", contactId=made["id"]) == {"succeded": True}
    assert gone(sandbox, "contacts", made["id"])


@pytest.mark.covers("contacts.add_tags_to_contact", "contacts.remove_tags_from_contact",
                    "contacts.bulk_update_contact_tags")
def test_tags(api, connection, sandbox):
    a = new_contact(api, connection, "a@example.com")
    b = new_contact(api, connection, "b@example.com")
    assert ok(api, connection, "contacts.add_tags_to_contact", contactId=a["id"],
              tags=["vip", "lead"])["tags"] == ["vip", "lead"]
    assert ok(api, connection, "contacts.remove_tags_from_contact", contactId=a["id"],
              tags=["lead"])["tags"] == ["vip"]
    result = ok(api, connection, "contacts.bulk_update_contact_tags", type="add",
                contacts=[a["id"], b["id"]], tags=["webinar"])
    assert result["errorCount"] == 0
    by_id = {c["id"]: c for c in objects(sandbox, "contacts")}
    assert "webinar" in by_id[a["id"]]["tags"] and by_id[b["id"]]["tags"] == ["webinar"]


@pytest.mark.covers("contacts.create_contact_task", "contacts.update_contact_task",
                    "contacts.complete_contact_task", "contacts.delete_contact_task")
def test_tasks(api, connection, sandbox):
    contact = new_contact(api, connection, "t@example.com")
    on_contact = caller_for(api, connection, contact)
    task = on_contact("contacts.create_contact_task", title="Call back",
                      dueDate="2026-12-01T10:00:00Z", completed=False)["task"]
    assert task["contactId"] == contact["id"]
    on_contact("contacts.update_contact_task", taskId=task["id"], title="Call back about the quote")
    done = on_contact("contacts.complete_contact_task", taskId=task["id"], completed=True)["task"]
    assert done["completed"] is True and done["title"] == "Call back about the quote"
    on_contact("contacts.delete_contact_task", taskId=task["id"])
    assert gone(sandbox, "contacts/tasks", task["id"])


@pytest.mark.covers("contacts.create_contact_note", "contacts.update_contact_note",
                    "contacts.delete_contact_note")
def test_notes(api, connection, sandbox):
    on_contact = caller_for(api, connection, new_contact(api, connection, "n@example.com"))
    note = on_contact("contacts.create_contact_note", body="Inbound SMS: hello")["note"]
    changed = on_contact("contacts.update_contact_note", id=note["id"],
                         body="Inbound SMS: hello again")["note"]
    assert changed["body"] == "Inbound SMS: hello again"
    on_contact("contacts.delete_contact_note", id=note["id"])
    assert gone(sandbox, "contacts/notes", note["id"])


@pytest.mark.covers("contacts.add_contact_to_campaign", "contacts.remove_from_campaign",
                    "contacts.remove_from_all_campaigns")
def test_campaigns(api, connection, sandbox):
    contact = new_contact(api, connection, "c@example.com")
    on_contact = caller_for(api, connection, contact)
    on_contact("contacts.add_contact_to_campaign", campaignId="cmpA")
    on_contact("contacts.add_contact_to_campaign", campaignId="cmpB")
    on_contact("contacts.remove_from_campaign", campaignId="cmpA")
    assert stored_contact(sandbox, contact["id"])["campaignIds"] == ["cmpB"]
    on_contact("contacts.remove_from_all_campaigns")
    assert stored_contact(sandbox, contact["id"])["campaignIds"] == []


# ----------------------------------------------------------------------------- bad input


def upstream_count(sandbox) -> int:
    return len(sandbox.get("/_sandbox/requests").json()["requests"])


@pytest.mark.parametrize("key, inputs, field, location", [
    # path: an id that would change the path
    ("contacts.delete_contact", {"contactId": "abc/../../locations"}, "input.contactId", "path"),
    ("contacts.update_contact_task", {"contactId": "c1", "taskId": ""}, "input.taskId", "path"),
    ("contacts.bulk_update_contact_tags", {"type": "explode", "contacts": ["x"], "tags": ["t"]},
     "input.type", "path"),
    # query
    ("contacts.find_contact", {"email": ["a@example.com", "b@example.com"]}, "input.email", "query"),
    ("contacts.find_contact", {"nmber": "+14155550100"}, "input.nmber", "input"),
    # body
    ("contacts.create_contact_task", {"contactId": "c1", "title": "x", "completed": False},
     "input.dueDate", "body"),
    ("contacts.create_contact", {"dnd": "sometimes"}, "input.dnd", "body"),
    ("contacts.add_tags_to_contact", {"contactId": "c1", "tags": "vip"}, "input.tags", "body"),
])
def test_bad_input_is_refused_before_upstream(api, connection, sandbox, key, inputs, field, location):
    before = upstream_count(sandbox)
    resp = run(api, connection, key, **inputs)
    assert resp.status_code == 422, resp.text
    error = resp.json()["error"]
    assert error["code"] == "invalid_input"
    problem = next(p for p in error["details"] if p["field"] == field)
    assert problem["location"] == location and problem["message"]
    assert field in error["message"]
    assert upstream_count(sandbox) == before  # nothing was sent upstream


def test_every_bad_field_is_named_at_once(api, connection, sandbox):
    resp = run(api, connection, "contacts.create_contact_task", contactId="a/b", completed="maybe")
    fields = {p["field"] for p in resp.json()["error"]["details"]}
    assert fields == {"input.contactId", "input.title", "input.dueDate", "input.completed"}


def test_undeclared_body_fields_go_through_the_extra_object(api, connection, sandbox):
    data = ok(api, connection, "contacts.create_contact", email="x@example.com",
              extra={"favouriteColour": "teal"})
    assert sent(sandbox, "contacts.create_contact")[-1]["body"]["favouriteColour"] == "teal"
    assert "extra" not in sent(sandbox, "contacts.create_contact")[-1]["body"]
    assert data["contact"]["favouriteColour"] == "teal"
    # a declared field inside extra would bypass its checks: refused
    resp = run(api, connection, "contacts.create_contact", extra={"email": "not an email"})
    assert resp.status_code == 422 and resp.json()["error"]["details"][0]["field"] == "input.extra.email"


def test_unknown_operation_suggests_closest(api, connection):
    resp = run(api, connection, "contacts.create_contct")
    assert resp.status_code == 404
    assert "contacts.create_contact" in resp.json()["error"]["details"]["suggestions"]


def test_ghl_errors_are_passed_on(api, connection, sandbox):
    ok(api, connection, "contacts.create_contact", email="dup@example.com")
    resp = run(api, connection, "contacts.create_contact", email="dup@example.com")
    assert resp.status_code == 400
    error = resp.json()["error"]
    assert "does not allow duplicated contacts" in error["message"]
    assert error["details"]["upstream_status"] == 400


def test_ghl_401_says_what_to_do(api, sandbox):
    sandbox.post("/_sandbox/tokens", json={"token": "pit-revoked-token"}).raise_for_status()
    resp = api.post("/v1/connections", json={"token": "pit-revoked-token",
                                             "location_id": "loc_sandbox0000000001"})
    assert resp.status_code == 201, resp.text
    conn = resp.json()
    sandbox.delete("/_sandbox/tokens/pit-revoked-token")  # revoked after it was connected
    resp = run(api, conn, "contacts.create_contact", email="z@example.com")
    assert resp.status_code == 401
    message = resp.json()["error"]["message"]
    assert "invalid or expired" in message and "pit-revoked-token" not in resp.text


def test_missing_version_header_is_refused_by_the_sandbox(sandbox):
    from sandbox.ghl import DEFAULT_TOKEN

    resp = sandbox.get("/contacts/abc", headers={"Authorization": f"Bearer {DEFAULT_TOKEN}"})
    assert resp.status_code == 400 and "version" in resp.json()["message"].lower()
