"""The Contacts triggers beyond Get Contact and Search Contacts, end to end: API → engine →
sandbox over HTTP. Each returns items with stable ids; single-object triggers get a new id
exactly when the object changes."""

from __future__ import annotations

import pytest

from tests.e2e_helpers import act, items, objects, sent, stable_items


def _a_contact(sandbox) -> dict:
    return sorted(objects(sandbox, "contacts"), key=lambda c: c["email"])[0]


@pytest.mark.covers("contacts.get_contacts_by_business")
def test_contacts_by_business_pages_with_skip(api, connection, sandbox):
    sandbox.post("/_sandbox/seed/contacts",
                 json={"count": 23, "fields": {"businessId": "BUSexample0000000001"}}).raise_for_status()
    sandbox.post("/_sandbox/seed/contacts",
                 json={"count": 3, "fields": {"businessId": "BUSexample0000000002"}}).raise_for_status()
    found = stable_items(api, connection, "contacts.get_contacts_by_business",
                         businessId="BUSexample0000000001", limit=10)
    assert len(found) == 23 and all(c["businessId"] == "BUSexample0000000001" for c in found)
    skips = [r["query"]["skip"] for r in sent(sandbox, "contacts.get_contacts_by_business")]
    assert skips[:3] == ["0", "10", "20"]
    assert all(r["query"]["locationId"] == connection["location_id"]
               for r in sent(sandbox, "contacts.get_contacts_by_business"))


@pytest.mark.covers("contacts.get_duplicate_contact")
def test_duplicate_contact_fires_again_when_updated(api, connection, sandbox):
    contact = _a_contact(sandbox)
    [first] = items(api, connection, "contacts.get_duplicate_contact", email=contact["email"])
    assert first["object_id"] == contact["id"]
    assert items(api, connection, "contacts.get_duplicate_contact",
                 email=contact["email"])[0]["id"] == first["id"]
    act(api, connection, "contacts.update_contact", contactId=contact["id"], city="Springfield")
    [again] = items(api, connection, "contacts.get_duplicate_contact", email=contact["email"])
    assert again["object_id"] == contact["id"] and again["id"] != first["id"]
    assert items(api, connection, "contacts.get_duplicate_contact", email="nobody@example.com") == []


@pytest.mark.covers("contacts.get_contact_appointments")
def test_contact_appointments(api, connection, sandbox):
    event = objects(sandbox, "calendars/events")[0]
    found = stable_items(api, connection, "contacts.get_contact_appointments",
                         contactId=event["contactId"])
    assert event["id"] in {e["id"] for e in found}
    assert all(e["contactId"] == event["contactId"] for e in found)


@pytest.mark.covers("contacts.get_contact_tasks", "contacts.get_contact_task_by_id")
def test_contact_tasks_list_and_single(api, connection, sandbox):
    contact = _a_contact(sandbox)
    before = stable_items(api, connection, "contacts.get_contact_tasks", contactId=contact["id"])
    task = act(api, connection, "contacts.create_contact_task", contactId=contact["id"],
               title="Send the quote", dueDate="2026-05-01T09:00:00Z", completed=False)["task"]
    after = items(api, connection, "contacts.get_contact_tasks", contactId=contact["id"])
    assert {t["id"] for t in after} == {t["id"] for t in before} | {task["id"]}

    [one] = items(api, connection, "contacts.get_contact_task_by_id", contactId=contact["id"],
                  taskId=task["id"])
    assert one["object_id"] == task["id"] and one["completed"] is False
    act(api, connection, "contacts.complete_contact_task", contactId=contact["id"],
        taskId=task["id"], completed=True)
    [done] = items(api, connection, "contacts.get_contact_task_by_id", contactId=contact["id"],
                   taskId=task["id"])
    assert done["completed"] is True and done["id"] != one["id"]


@pytest.mark.covers("contacts.get_contact_notes", "contacts.get_contact_note_by_id")
def test_contact_notes_list_and_single(api, connection, sandbox):
    contact = _a_contact(sandbox)
    note = act(api, connection, "contacts.create_contact_note", contactId=contact["id"],
               body="Prefers mornings")["note"]
    found = stable_items(api, connection, "contacts.get_contact_notes", contactId=contact["id"])
    assert len(found) == 3 and note["id"] in {n["id"] for n in found}

    [one] = items(api, connection, "contacts.get_contact_note_by_id", contactId=contact["id"],
                  id=note["id"])
    act(api, connection, "contacts.update_contact_note", contactId=contact["id"], id=note["id"],
        body="Prefers afternoons")
    [edited] = items(api, connection, "contacts.get_contact_note_by_id", contactId=contact["id"],
                     id=note["id"])
    assert edited["body"] == "Prefers afternoons" and edited["id"] != one["id"]
    assert edited["object_id"] == one["object_id"] == note["id"]


@pytest.mark.covers("contacts.list_contacts_deprecated")
def test_list_contacts_deprecated_follows_the_cursor(api, connection, sandbox):
    sandbox.post("/_sandbox/seed/contacts", json={"count": 95}).raise_for_status()
    found = items(api, connection, "contacts.list_contacts_deprecated", limit=40)
    assert len(found) == 100  # 95 seeded here + 5 from the sandbox's own seed
    assert [c["dateAdded"] for c in found] == sorted((c["dateAdded"] for c in found), reverse=True)
    calls = sent(sandbox, "contacts.list_contacts_deprecated")
    assert len(calls) == 3 and "startAfterId" not in calls[0]["query"]
    assert calls[1]["query"]["startAfterId"] and calls[1]["query"]["startAfter"]
