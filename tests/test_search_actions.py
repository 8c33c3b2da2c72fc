"""Reading one object by id: every single-object trigger has a search action doing the same
request, run end to end against the sandbox; and the New Contact trigger."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.polling.items import get_path
from engine.spec.registry import registry
from tests.e2e_helpers import act, items, objects, sent
from tests.polling_support import (deliver_all, poll, receiver, rt, seed,  # noqa: F401
                                   subscribe)

# search action -> (sandbox collection, {path input: field of the stored object}, pick)
CASES = {
    "contacts.find_contact_by_id": ("contacts", {"contactId": "id"}),
    "contacts.find_contact_task_by_id": ("contacts/tasks", {"contactId": "contactId",
                                                            "taskId": "id"}),
    "contacts.find_contact_note_by_id": ("contacts/notes", {"contactId": "contactId", "id": "id"}),
    "businesses.find_business_by_id": ("businesses", {"businessId": "id"}),
    "users.find_user_by_id": ("users", {"userId": "id"}),
    "opportunities.find_opportunity_by_id": ("opportunities", {"id": "id"}),
    "conversations.find_conversation_by_id": ("conversations", {"conversationId": "id"}),
    "conversations.find_message_by_id": ("conversations/messages", {"id": "id"}),
    "conversations.find_email_by_id": ("conversations/messages/email", {"id": "id"}),
    "calendars.find_calendar_by_id": ("calendars", {"calendarId": "id"}),
    "calendars.find_appointment_by_id": ("calendars/events", {"eventId": "id"}),
    "calendars.find_calendar_notification_by_id": (None, {}),  # read through the calendar
    "calendars.find_calendar_resource_by_id": ("calendars/resources", {
        "resourceType": "resourceType", "id": "id"}),
    "other.find_association_by_id": ("associations", {"associationId": "id"}),
    "other.find_company_by_id": ("companies", {"companyId": "id"}),
}
ROOT = Path(__file__).resolve().parents[1]


def test_every_single_object_trigger_read_by_id_has_its_search_action():
    specs = registry()
    searches = {(op.upstream, op.inputs): key for key, op in specs.items()
                if op.kind == "action" and op.search}
    by_id = [key for key, op in specs.items()
             if op.trigger is not None and op.trigger.items.single
             and op.upstream.method == "GET" and op.upstream.response == "json"
             and op.inputs and all(i.location == "path" for i in op.inputs)]
    missing = [key for key in by_id if (specs[key].upstream, specs[key].inputs) not in searches]
    assert not missing, f"single-object triggers without a search action: {missing}"
    assert {searches[(specs[k].upstream, specs[k].inputs)] for k in by_id} == set(CASES)


@pytest.mark.covers("contacts.find_contact_by_id", "contacts.find_contact_task_by_id",
                    "contacts.find_contact_note_by_id", "businesses.find_business_by_id",
                    "users.find_user_by_id", "opportunities.find_opportunity_by_id",
                    "conversations.find_conversation_by_id", "conversations.find_message_by_id",
                    "conversations.find_email_by_id", "calendars.find_calendar_by_id",
                    "calendars.find_appointment_by_id",
                    "calendars.find_calendar_notification_by_id",
                    "calendars.find_calendar_resource_by_id", "other.find_association_by_id",
                    "other.find_company_by_id")
@pytest.mark.parametrize("key", sorted(CASES))
def test_search_action_returns_the_one_object(api, connection, sandbox, key):
    collection, params = CASES[key]
    if collection is None:  # a calendar's notifications are stored without their calendar's id
        calendar_id = objects(sandbox, "calendars")[0]["id"]
        listed = items(api, connection, "calendars.list_calendar_notifications",
                       calendarId=calendar_id)
        expected = listed[0].get("object_id") or listed[0]["id"]
        inputs = {"calendarId": calendar_id, "notificationId": expected}
    else:
        stored = objects(sandbox, collection)[0]
        inputs = {name: stored[field] for name, field in params.items()}
        expected = stored["id"]
    op = registry()[key]
    data = act(api, connection, key, **inputs)
    found = get_path(data, op.output.path)
    assert isinstance(found, dict) and found[op.output.id_field] == expected
    # the same object the watching trigger reads (the trigger keys it for dedupe)
    trigger = next(k for k, t in registry().items() if t.trigger is not None
                   and t.upstream == op.upstream and t.inputs == op.inputs)
    (item,) = items(api, connection, trigger, **inputs)
    own_id = item.get("object_id") or item["id"].split("#")[0].split("@")[0]
    assert own_id == found[op.output.id_field]


def test_search_actions_are_zapier_searches():
    catalog = json.loads((ROOT / "integrations" / "zapier" / "generated" / "catalog.json").read_text())
    text = json.dumps(catalog)
    for key in CASES:
        assert key in text, f"{key} is not in the Zapier app"
    docs = (ROOT / "docs" / "operations.md").read_text()
    for key in [*CASES, "contacts.new_contact"]:
        assert key in docs, f"{key} is not in docs/operations.md"


@pytest.mark.covers("contacts.new_contact")
async def test_new_contact_fires_for_added_contacts_only(api, connection, sandbox, rt, receiver):
    sub = subscribe(api, connection, receiver, trigger="contacts.new_contact",
                    params={"pageLimit": 2})
    await poll(rt, sub["id"])  # primes
    added = seed(sandbox, 3)
    assert sent(sandbox, "contacts.search_contacts")[-1]["body"]["sort"] == [
        {"field": "dateAdded", "direction": "desc"}]
    assert (await poll(rt, sub["id"])).new == 3
    # a change to a known contact is not a new contact
    act(api, connection, "contacts.update_contact", contactId=added[0], firstName="Changed")
    assert (await poll(rt, sub["id"])).new == 0
    await deliver_all(rt, [sub["id"]])
    assert sorted(r["body"]["item_id"] for r in receiver.accepted()) == sorted(added)
