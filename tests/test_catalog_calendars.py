"""Calendars & Appointments end to end: every action changes the sandbox as GHL would, every
trigger returns items with stable ids, through API → engine → sandbox over HTTP."""

from __future__ import annotations

import time

import pytest

from tests.e2e_helpers import act, items, objects, sent, stable_items


def _calendar(sandbox, name: str) -> dict:
    return next(c for c in objects(sandbox, "calendars") if c["name"] == name)


@pytest.mark.covers("calendars.validate_group_slug", "calendars.create_calendar_group",
                    "calendars.update_calendar_group", "calendars.update_group_status",
                    "calendars.delete_calendar_group", "calendars.list_calendar_groups")
def test_calendar_groups(api, connection, sandbox):
    assert act(api, connection, "calendars.validate_group_slug", slug="implants") == {"available": True}
    group = act(api, connection, "calendars.create_calendar_group", name="Implants",
                description="Implant consults", slug="implants")["group"]
    assert group["locationId"] == connection["location_id"] and group["isActive"] is True
    assert act(api, connection, "calendars.validate_group_slug", slug="implants") == {"available": False}
    listed = stable_items(api, connection, "calendars.list_calendar_groups")
    assert group["id"] in {g["id"] for g in listed} and len(listed) == 3

    act(api, connection, "calendars.update_calendar_group", groupId=group["id"], name="Implant team",
        description="Implant consults", slug="implants")
    assert act(api, connection, "calendars.update_group_status", groupId=group["id"],
               isActive=False) == {"success": True}
    stored = next(g for g in objects(sandbox, "calendars/groups") if g["id"] == group["id"])
    assert stored["name"] == "Implant team" and stored["isActive"] is False

    assert act(api, connection, "calendars.delete_calendar_group", groupId=group["id"]) == {"success": True}
    assert group["id"] not in {g["id"] for g in objects(sandbox, "calendars/groups")}


@pytest.mark.covers("calendars.create_calendar", "calendars.update_calendar",
                    "calendars.delete_calendar", "calendars.list_calendars",
                    "calendars.get_calendar_by_id")
def test_calendars(api, connection, sandbox):
    group = objects(sandbox, "calendars/groups")[0]
    cal = act(api, connection, "calendars.create_calendar", name="Whitening", groupId=group["id"],
              slotDuration=60, slotDurationUnit="mins", isActive=False)["calendar"]
    assert cal["slotDuration"] == 60 and cal["locationId"] == connection["location_id"]
    in_group = stable_items(api, connection, "calendars.list_calendars", groupId=group["id"])
    assert cal["id"] in {c["id"] for c in in_group}
    assert all(c["groupId"] == group["id"] for c in in_group)
    active = items(api, connection, "calendars.list_calendars", showDrafted=False)
    assert cal["id"] not in {c["id"] for c in active}
    assert sent(sandbox, "calendars.list_calendars")[-1]["query"]["showDrafted"] == "false"

    [watched] = items(api, connection, "calendars.get_calendar_by_id", calendarId=cal["id"])
    assert watched["object_id"] == cal["id"]
    assert items(api, connection, "calendars.get_calendar_by_id",
                 calendarId=cal["id"])[0]["id"] == watched["id"]
    act(api, connection, "calendars.update_calendar", calendarId=cal["id"], slotDuration=45)
    [changed] = items(api, connection, "calendars.get_calendar_by_id", calendarId=cal["id"])
    assert changed["slotDuration"] == 45 and changed["id"] != watched["id"]

    assert act(api, connection, "calendars.delete_calendar", calendarId=cal["id"]) == {"success": True}
    assert cal["id"] not in {c["id"] for c in objects(sandbox, "calendars")}


@pytest.mark.covers("calendars.get_free_slots", "calendars.create_appointment",
                    "calendars.update_appointment", "calendars.get_appointment",
                    "calendars.list_calendar_events", "calendars.delete_event")
def test_free_slot_booking_lifecycle(api, connection, sandbox):
    cal = _calendar(sandbox, "Hygiene clean")
    contact = objects(sandbox, "contacts")[0]
    slots = stable_items(api, connection, "calendars.get_free_slots", calendarId=cal["id"],
                         timezone="America/Chicago")
    query = sent(sandbox, "calendars.get_free_slots")[-1]["query"]
    span = int(query["endDate"]) - int(query["startDate"])
    assert 0 < span <= 31 * 86_400_000  # a rolling window GHL accepts
    slot = slots[0]  # the soonest: slots come in GHL's order, by date
    assert slot["id"] == slot["value"] and slot["value"].startswith(slot["key"])

    event = act(api, connection, "calendars.create_appointment", calendarId=cal["id"],
                contactId=contact["id"], startTime=slot["value"], title="Scale and polish")
    assert event["contactId"] == contact["id"] and event["endTime"]
    left = {s["value"] for s in items(api, connection, "calendars.get_free_slots",
                                      calendarId=cal["id"], timezone="America/Chicago")}
    assert slot["value"] not in left and len(left) == len(slots) - 1
    taken = act(api, connection, "calendars.create_appointment", expect=400, calendarId=cal["id"],
                contactId=contact["id"], startTime=slot["value"])
    assert "no longer available" in str(taken)

    listed = stable_items(api, connection, "calendars.list_calendar_events", calendarId=cal["id"])
    assert [e["id"] for e in listed] == [event["id"]]
    assert items(api, connection, "calendars.list_calendar_events",
                 userId=cal["teamMembers"][0]["userId"])

    [watched] = items(api, connection, "calendars.get_appointment", eventId=event["id"])
    assert watched["object_id"] == event["id"]
    time.sleep(0.002)  # dateUpdated has millisecond precision
    act(api, connection, "calendars.update_appointment", eventId=event["id"],
        appointmentStatus="showed")
    [changed] = items(api, connection, "calendars.get_appointment", eventId=event["id"])
    assert changed["appointmentStatus"] == "showed" and changed["id"] != watched["id"]

    assert act(api, connection, "calendars.delete_event", eventId=event["id"]) == {"succeeded": True}
    assert event["id"] not in {e["id"] for e in objects(sandbox, "calendars/events")}
    assert items(api, connection, "calendars.list_calendar_events", calendarId=cal["id"]) == []


def test_appointment_needs_contact_and_events_need_an_owner(api, connection, sandbox):
    resp = api.post("/v1/actions/calendars.create_appointment",
                    json={"connection_id": connection["id"],
                          "input": {"calendarId": "CALexample0000000001",
                                    "startTime": "2026-03-02T10:00:00-05:00"}})
    assert resp.status_code == 422 and "contactId" in resp.text
    resp = api.post("/v1/triggers/calendars.list_calendar_events/items",
                    json={"connection_id": connection["id"], "params": {}})
    assert resp.status_code == 422 and "calendarId, userId or groupId" in resp.text


@pytest.mark.covers("calendars.create_block_slot", "calendars.update_block_slot",
                    "calendars.list_blocked_slots")
def test_blocked_slots(api, connection, sandbox):
    cal = _calendar(sandbox, "Hygiene clean")
    before = len(items(api, connection, "calendars.get_free_slots", calendarId=cal["id"]))
    start = time.strftime("%Y-%m-%dT00:00:00+00:00", time.gmtime(time.time() + 3 * 86400))
    end = time.strftime("%Y-%m-%dT23:59:00+00:00", time.gmtime(time.time() + 3 * 86400))
    block = act(api, connection, "calendars.create_block_slot", calendarId=cal["id"],
                title="Equipment service", startTime=start, endTime=end)
    assert block["locationId"] == connection["location_id"]
    listed = stable_items(api, connection, "calendars.list_blocked_slots", calendarId=cal["id"])
    assert [b["id"] for b in listed] == [block["id"]]
    assert len(items(api, connection, "calendars.get_free_slots", calendarId=cal["id"])) < before

    act(api, connection, "calendars.update_block_slot", eventId=block["id"], calendarId=cal["id"],
        title="Equipment service (moved)")
    stored = next(b for b in objects(sandbox, "calendars/blocked-slots") if b["id"] == block["id"])
    assert stored["title"] == "Equipment service (moved)"
    act(api, connection, "calendars.delete_event", eventId=block["id"])
    assert items(api, connection, "calendars.list_blocked_slots", calendarId=cal["id"]) == []


@pytest.mark.covers("calendars.create_appointment_note", "calendars.update_appointment_note",
                    "calendars.delete_appointment_note", "calendars.list_appointment_notes")
def test_appointment_notes(api, connection, sandbox):
    noted = {n["appointmentId"] for n in objects(sandbox, "calendars/appointments/notes")}
    event = next(e for e in objects(sandbox, "calendars/events") if e["id"] in noted)
    note = act(api, connection, "calendars.create_appointment_note", appointmentId=event["id"],
               body="Patient asked about payment plans")["note"]
    assert note["contactId"] == event["contactId"]
    listed = stable_items(api, connection, "calendars.list_appointment_notes",
                          appointmentId=event["id"], limit=2)
    assert len(listed) == 3 and note["id"] in {n["id"] for n in listed}
    offsets = [r["query"]["offset"] for r in sent(sandbox, "calendars.list_appointment_notes")]
    assert offsets[:2] == ["0", "2"]

    act(api, connection, "calendars.update_appointment_note", appointmentId=event["id"],
        noteId=note["id"], body="Payment plan sent")
    assert next(n for n in objects(sandbox, "calendars/appointments/notes")
                if n["id"] == note["id"])["body"] == "Payment plan sent"
    assert act(api, connection, "calendars.delete_appointment_note", appointmentId=event["id"],
               noteId=note["id"]) == {"success": True}
    assert len(items(api, connection, "calendars.list_appointment_notes",
                     appointmentId=event["id"])) == 2


@pytest.mark.covers("calendars.create_calendar_notification", "calendars.update_notification",
                    "calendars.delete_notification", "calendars.list_calendar_notifications",
                    "calendars.get_calendar_notification")
def test_calendar_notifications(api, connection, sandbox):
    cal = _calendar(sandbox, "Follow-up consult")
    made = act(api, connection, "calendars.create_calendar_notification", calendarId=cal["id"],
               notifications=[{"receiverType": "contact", "channel": "email",
                               "notificationType": "booked", "subject": "Booked!"},
                              {"receiverType": "assignedUser", "channel": "inApp",
                               "notificationType": "cancellation"}])
    assert isinstance(sent(sandbox, "calendars.create_calendar_notification")[-1]["body"], list)
    assert [n["notificationType"] for n in made] == ["booked", "cancellation"]
    listed = stable_items(api, connection, "calendars.list_calendar_notifications",
                          calendarId=cal["id"])
    assert {n["id"] for n in listed} == {n["_id"] for n in made}

    first = made[0]["_id"]
    [watched] = items(api, connection, "calendars.get_calendar_notification",
                      calendarId=cal["id"], notificationId=first)
    act(api, connection, "calendars.update_notification", calendarId=cal["id"],
        notificationId=first, isActive=False)
    [changed] = items(api, connection, "calendars.get_calendar_notification",
                      calendarId=cal["id"], notificationId=first)
    assert changed["isActive"] is False and changed["id"] != watched["id"]
    assert [n["id"] for n in items(api, connection, "calendars.list_calendar_notifications",
                                   calendarId=cal["id"], isActive=True)] == [made[1]["_id"]]

    bad = act(api, connection, "calendars.create_calendar_notification", expect=422,
              calendarId=cal["id"], notifications=[{"channel": "email"}])
    assert "0.receiverType" in str(bad) and "0.notificationType" in str(bad)

    act(api, connection, "calendars.delete_notification", calendarId=cal["id"], notificationId=first)
    assert first not in {n["_id"] for n in objects(sandbox, "calendars/notifications")}


@pytest.mark.covers("calendars.create_calendar_resource", "calendars.update_calendar_resource",
                    "calendars.delete_calendar_resource", "calendars.list_calendar_resources",
                    "calendars.get_calendar_resource")
def test_calendar_resources(api, connection, sandbox):
    cal = _calendar(sandbox, "Hygiene clean")
    room = act(api, connection, "calendars.create_calendar_resource", resourceType="rooms",
               name="Surgery 3", description="Upstairs", quantity=1, outOfService=0, capacity=2,
               calendarIds=[cal["id"]])
    rooms = stable_items(api, connection, "calendars.list_calendar_resources", resourceType="rooms")
    assert room["id"] in {r["id"] for r in rooms} and all(r["resourceType"] == "rooms" for r in rooms)
    assert sent(sandbox, "calendars.list_calendar_resources")[-1]["query"]["locationId"] == \
        connection["location_id"]
    assert len(items(api, connection, "calendars.list_calendar_resources",
                     resourceType="equipments")) == 1

    [watched] = items(api, connection, "calendars.get_calendar_resource", resourceType="rooms",
                      id=room["id"])
    act(api, connection, "calendars.update_calendar_resource", resourceType="rooms", id=room["id"],
        capacity=4)
    [changed] = items(api, connection, "calendars.get_calendar_resource", resourceType="rooms",
                      id=room["id"])
    assert changed["capacity"] == 4 and changed["id"] != watched["id"]

    assert act(api, connection, "calendars.delete_calendar_resource", resourceType="rooms",
               id=room["id"]) == {"success": True}
    assert room["id"] not in {r["id"] for r in objects(sandbox, "calendars/resources")}


# ----------------------------------------------------------------------------- polling

from tests.polling_support import poll, receiver, rt, subscribe  # noqa: E402,F401


def _tomorrow_at(hour: int) -> str:
    return time.strftime(f"%Y-%m-%dT{hour:02d}:00:00+00:00", time.gmtime(time.time() + 86400))


@pytest.mark.covers("calendars.list_calendar_events")
async def test_polling_events_fires_for_a_booking_sooner_than_known_ones(api, connection, sandbox,
                                                                         rt, receiver):
    cal = _calendar(sandbox, "New patient consult")
    contact = objects(sandbox, "contacts")[0]
    sub = subscribe(api, connection, receiver, trigger="calendars.list_calendar_events",
                    params={"calendarId": cal["id"]})
    assert (await poll(rt, sub["id"])).outcome == "primed"
    # booked now for tomorrow: earlier than the seeded appointments further ahead
    event = act(api, connection, "calendars.create_appointment", calendarId=cal["id"],
                contactId=contact["id"], startTime=_tomorrow_at(7), ignoreFreeSlotValidation=True)
    result = await poll(rt, sub["id"])
    assert (result.outcome, result.new) == ("polled", 1) and result.items == [event["id"]]
    assert (await poll(rt, sub["id"])).new == 0


@pytest.mark.covers("calendars.get_free_slots")
async def test_polling_free_slots_fires_when_a_slot_opens(api, connection, sandbox, rt, receiver):
    cal = _calendar(sandbox, "Hygiene clean")
    contact = objects(sandbox, "contacts")[0]
    event = act(api, connection, "calendars.create_appointment", calendarId=cal["id"],
                contactId=contact["id"], startTime=_tomorrow_at(10))
    sub = subscribe(api, connection, receiver, trigger="calendars.get_free_slots",
                    params={"calendarId": cal["id"]})
    assert (await poll(rt, sub["id"])).outcome == "primed"
    assert (await poll(rt, sub["id"])).new == 0
    act(api, connection, "calendars.delete_event", eventId=event["id"])  # the slot is free again
    result = await poll(rt, sub["id"])
    assert result.new == 1 and result.items == [event["startTime"]]


def test_body_input_must_name_a_body_input():
    from engine.spec import checks
    from engine.spec.model import Operation, Upstream

    op = Operation(key="calendars.x", app="ghl", category="calendars", title="X",
                   description="An array body without its input.", kind="action",
                   upstream=Upstream(method="POST", path="/calendars/x", version="2021-04-15",
                                     body_input="notifications"))
    assert ("calendars.x", "upstream.body_input",
            "body_input 'notifications' has no input with location 'body'") in checks.check(op)
