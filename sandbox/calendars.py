"""Calendars endpoints where GHL does more than store and return: free slots computed from open
hours minus bookings and blocks, event lists by time window, appointment booking with slot
validation, notifications created from a JSON array, and GHL's own delete/update bodies.

Collections: ``calendars/groups``, ``calendars``, ``calendars/events`` (appointments),
``calendars/blocked-slots``, ``calendars/appointments/notes`` (per appointment),
``calendars/notifications`` (per calendar, keyed by ``_id``), ``calendars/resources`` (per
resource type).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from sandbox.answers import (Area, answers, bounded, checked, endpoint, error, location_mismatch,
                             missing_required, ok, owned)
from sandbox.collection import create
from sandbox.lists import skip_limit
from sandbox.store import Store, epoch_ms, new_id, now_iso

DAY_MS = 86_400_000


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _minutes(value: Any, unit: Any) -> int:
    return int(value or 0) * (60 if unit == "hours" else 1)


def _change(ctx, collection: str, param: str, missing: str, changes: dict[str, Any],
            answer: Any = None, parents: tuple[str, ...] | None = None):
    """Merge ``changes`` into the object of ``collection`` that the path param ``param`` names
    (under the path's parents unless given): ``answer``, or the object when it is None; GHL's
    400 saying ``missing`` when there is no such object."""
    item = ctx.store.get(collection, ctx.path[param], ctx.parents if parents is None else parents)
    if item is None:
        return error(400, missing)
    item.update(changes)
    return ok(item if answer is None else answer)


def _calendar(ctx, calendar_id: str):
    return owned(ctx, "calendars", calendar_id, "Calendar not found")


# ----------------------------------------------------------------------------- groups, calendars


@answers("POST /calendars/groups", checked=True)
def create_group(ctx):
    if _slug_taken(ctx, ctx.body["slug"]):
        return error(400, f"Slug {ctx.body['slug']} is already in use")
    group = create(ctx, {"isActive": True, **ctx.body})
    return ok({"group": group}, 201)


def _slug_taken(ctx, slug: str) -> bool:
    return any(g.get("slug") == slug and g.get("locationId") == ctx.location_id
               for g in ctx.store.all("calendars/groups"))


@answers("POST /calendars/groups/validate-slug", checked=True)
def validate_slug(ctx):
    return ok({"available": not _slug_taken(ctx, ctx.body["slug"])})


@answers("PUT /calendars/groups/{groupId}/status")
def group_status(ctx):
    return missing_required(ctx) or _change(
        ctx, "calendars/groups", "groupId", "Group not found",
        {"isActive": bool(ctx.body["isActive"])}, {"success": True}, parents=())


@answers("GET /calendars", checked=True)
def list_calendars(ctx):
    items = [c for c in ctx.store.all("calendars") if c.get("locationId") == ctx.location_id]
    if ctx.query.get("groupId"):
        items = [c for c in items if c.get("groupId") == ctx.query["groupId"]]
    if str(ctx.query.get("showDrafted", "true")).lower() == "false":
        items = [c for c in items if c.get("isActive", True)]
    return ok({"calendars": items})


CALENDAR_DEFAULTS = {
    "calendarType": "event", "widgetType": "classic", "slotDuration": 30,
    "slotDurationUnit": "mins", "slotInterval": 30, "slotIntervalUnit": "mins", "slotBuffer": 0,
    "preBuffer": 0, "appoinmentPerSlot": 1, "allowBookingAfter": 0, "allowBookingFor": 30,
    "allowBookingForUnit": "days", "teamMembers": [], "autoConfirm": True, "isActive": True,
    "openHours": [{"daysOfTheWeek": [1, 2, 3, 4, 5],
                   "hours": [{"openHour": 9, "openMinute": 0, "closeHour": 17, "closeMinute": 0}]}],
}


@answers("POST /calendars", checked=True)
def create_calendar(ctx):
    body = {**CALENDAR_DEFAULTS, **ctx.body}
    body.setdefault("slug", str(body["name"]).lower().replace(" ", "-"))
    body.setdefault("widgetSlug", body["slug"])
    return ok({"calendar": create(ctx, body)})


# ----------------------------------------------------------------------------- free slots


@answers("GET /calendars/{calendarId}/free-slots")
def free_slots(ctx):
    calendar, bad = _calendar(ctx, ctx.path["calendarId"])
    if bad:
        return bad
    start, end = epoch_ms(ctx.query.get("startDate")), epoch_ms(ctx.query.get("endDate"))
    if start is None or end is None:
        return error(422, [f"{n} must be a number conforming to the specified constraints"
                           for n, v in (("startDate", start), ("endDate", end)) if v is None])
    if end < start or end - start > 31 * DAY_MS:
        return error(400, "Date range cannot be more than 31 days")
    try:
        zone = ZoneInfo(ctx.query.get("timezone") or "UTC")
    except Exception:
        return error(400, "Invalid timezone")
    wanted = ctx.query.get("userIds") or ctx.query.get("userId")
    wanted = [wanted] if isinstance(wanted, str) else (wanted or [])
    members = {m.get("userId") for m in calendar.get("teamMembers") or []}
    out: dict[str, Any] = {}
    if wanted and members and not members & set(wanted):
        return ok({"traceId": new_id("tr")})  # none of the wanted users takes bookings here
    taken = _busy(ctx, calendar["id"])
    length = _minutes(calendar.get("slotDuration", 30), calendar.get("slotDurationUnit"))
    step = _minutes(calendar.get("slotInterval", 30), calendar.get("slotIntervalUnit")) or length
    day = datetime.fromtimestamp(start / 1000, zone).replace(hour=0, minute=0, second=0,
                                                             microsecond=0)
    while int(day.timestamp() * 1000) <= end:
        slots = []
        for rule in calendar.get("openHours") or []:
            # GHL numbers days 0 (Sunday) to 6; Python's isoweekday is 1 (Monday) to 7
            if day.isoweekday() % 7 not in rule.get("daysOfTheWeek", []):
                continue
            for hours in rule.get("hours") or []:
                moment = day.replace(hour=int(hours["openHour"]), minute=int(hours["openMinute"]))
                close = day.replace(hour=int(hours["closeHour"]), minute=int(hours["closeMinute"]))
                while moment + timedelta(minutes=length) <= close:
                    ms = int(moment.timestamp() * 1000)
                    if start <= ms <= end and not _overlaps(taken, ms, ms + length * 60_000):
                        slots.append(_iso(moment))
                    moment += timedelta(minutes=step)
        if slots:
            out[day.strftime("%Y-%m-%d")] = {"slots": sorted(slots)}
        day += timedelta(days=1)
    out["traceId"] = new_id("tr")
    return ok(out)


def _busy(ctx, calendar_id: str) -> list[tuple[int, int]]:
    busy = []
    for coll in ("calendars/events", "calendars/blocked-slots"):
        for event in ctx.store.all(coll):
            if event.get("calendarId") != calendar_id or event.get("appointmentStatus") == "cancelled":
                continue
            s, e = epoch_ms(event.get("startTime")), epoch_ms(event.get("endTime"))
            if s is not None and e is not None:
                busy.append((s, e))
    return busy


def _overlaps(busy: list[tuple[int, int]], start: int, end: int) -> bool:
    return any(s < end and start < e for s, e in busy)


# ----------------------------------------------------------------------------- events


@answers("GET /calendars/events", "GET /calendars/blocked-slots", checked=True)
def list_events(ctx):
    start, end = epoch_ms(ctx.query.get("startTime")), epoch_ms(ctx.query.get("endTime"))
    if start is None or end is None:
        return error(422, ["startTime and endTime are required, in milliseconds"])
    owner = {n: ctx.query.get(n) for n in ("calendarId", "userId", "groupId") if ctx.query.get(n)}
    if not owner:
        return error(422, ["Either of calendarId, userId or groupId is required"])
    coll = "calendars/events" if ctx.op.key.endswith("events") else "calendars/blocked-slots"
    items = []
    for event in ctx.store.all(coll):
        if event.get("locationId") != ctx.location_id:
            continue
        s = epoch_ms(event.get("startTime"))
        if s is None or not start <= s <= end:
            continue
        if "calendarId" in owner and event.get("calendarId") != owner["calendarId"]:
            continue
        if "groupId" in owner and event.get("groupId") != owner["groupId"]:
            continue
        if "userId" in owner and owner["userId"] not in [event.get("assignedUserId"),
                                                         *(event.get("users") or [])]:
            continue
        items.append(event)
    items.sort(key=lambda e: (epoch_ms(e["startTime"]), e["id"]))
    return ok({"events": items, "traceId": new_id("tr")})


@answers("POST /calendars/events/appointments", checked=True)
def create_appointment(ctx):
    calendar, bad = _calendar(ctx, ctx.body["calendarId"])
    if bad:
        return bad
    if ctx.store.get("contacts", ctx.body["contactId"]) is None:
        return error(400, "Contact not found")
    body = dict(ctx.body)
    start = epoch_ms(body["startTime"])
    if start is None:
        return error(422, ["startTime must be a valid ISO 8601 date string"])
    if not body.get("endTime"):
        length = _minutes(calendar.get("slotDuration", 30), calendar.get("slotDurationUnit"))
        moment = datetime.fromisoformat(str(body["startTime"]).replace("Z", "+00:00"))
        body["endTime"] = _iso(moment + timedelta(minutes=length))
    end = epoch_ms(body["endTime"])
    if not body.get("ignoreFreeSlotValidation") and _overlaps(_busy(ctx, calendar["id"]), start, end):
        return error(400, "The slot you have selected is no longer available.")
    members = calendar.get("teamMembers") or []
    body.setdefault("assignedUserId", members[0]["userId"] if members else None)
    body.setdefault("appointmentStatus", "confirmed" if calendar.get("autoConfirm") else "new")
    body.setdefault("title", calendar.get("name"))
    body.setdefault("groupId", calendar.get("groupId"))
    body.setdefault("users", [])
    body.setdefault("isRecurring", bool(body.get("rrule")))
    for flag in ("ignoreDateRange", "ignoreFreeSlotValidation", "toNotify",
                 "overrideLocationConfig"):
        body.pop(flag, None)
    return ok(create(ctx, body))


@answers("PUT /calendars/events/appointments/{eventId}")
def update_appointment(ctx):
    event, bad = owned(ctx, "calendars/events", ctx.path["eventId"], "Appointment not found")
    if bad:
        return bad
    changes = {k: v for k, v in ctx.body.items() if k not in ("id", "locationId", "contactId")}
    if "startTime" in changes and epoch_ms(changes["startTime"]) is None:
        return error(422, ["startTime must be a valid ISO 8601 date string"])
    event.update(changes)
    event["dateUpdated"] = now_iso()
    return ok(event)


@answers("DELETE /calendars/events/{eventId}")
def delete_event(ctx):
    event_id = ctx.path["eventId"]
    if not (ctx.store.delete("calendars/events", event_id)
            or ctx.store.delete("calendars/blocked-slots", event_id)):
        return error(400, "Event not found")
    return ok({"succeeded": True}, 201)


@answers("POST /calendars/events/block-slots", "PUT /calendars/events/block-slots/{eventId}")
def block_slot(ctx):
    bad = location_mismatch(ctx, ctx.body.get("locationId"))
    if bad:
        return bad
    if bool(ctx.body.get("calendarId")) == bool(ctx.body.get("assignedUserId")):
        return error(422, ["Either calendarId or assignedUserId must be set, not both"])
    if ctx.route.method == "POST":
        for name in ("startTime", "endTime"):
            if epoch_ms(ctx.body.get(name)) is None:
                return error(422, [f"{name} must be a valid ISO 8601 date string"])
        return ok(create(ctx, {"title": "Blocked", **ctx.body}), 201)
    slot = ctx.store.get("calendars/blocked-slots", ctx.path["eventId"])
    if slot is None:
        return error(400, "Blocked slot not found")
    slot.update({k: v for k, v in ctx.body.items() if k != "id"})
    slot["dateUpdated"] = now_iso()
    return ok(slot, 201)


# ----------------------------------------------------------------------------- notes


@answers("GET /calendars/appointments/{appointmentId}/notes")
def list_notes(ctx):
    limit, bad = bounded(ctx, "limit", 10, 20)
    if bad:
        return bad
    offset = int(ctx.query.get("offset") or 0)
    notes = ctx.store.all("calendars/appointments/notes", (ctx.path["appointmentId"],))
    notes = sorted(notes, key=lambda n: (n.get("dateAdded") or "", n["id"]), reverse=True)
    return ok({"notes": notes[offset:offset + limit], "hasMore": offset + limit < len(notes)})


@answers("POST /calendars/appointments/{appointmentId}/notes")
def create_note(ctx):
    event = ctx.store.get("calendars/events", ctx.path["appointmentId"])
    if event is None:
        return error(400, "Appointment not found")
    bad = missing_required(ctx)
    if bad:
        return bad
    note = create(ctx, {"body": ctx.body["body"], "userId": ctx.body.get("userId"),
                        "contactId": event.get("contactId"),
                        "createdBy": {"id": ctx.body.get("userId"), "name": None}})
    return ok({"note": note}, 201)


# ----------------------------------------------------------------------------- notifications


@answers("POST /calendars/{calendarId}/notifications")
def create_notifications(ctx):
    calendar = ctx.store.get("calendars", ctx.path["calendarId"])
    if calendar is None:
        return error(400, "Calendar not found")
    if not isinstance(ctx.raw_body, list) or not ctx.raw_body:
        return error(422, ["body must be a non-empty array of notifications"])
    problems = [f"{i}.{name} should not be empty" for i, item in enumerate(ctx.raw_body)
                for name in ("receiverType", "channel", "notificationType")
                if not isinstance(item, dict) or not item.get(name)]
    if problems:
        return error(422, problems)
    made = []
    for item in ctx.raw_body:
        obj = {"_id": new_id(), "isActive": True, "deleted": False, "additionalEmailIds": [],
               "additionalPhoneNumbers": [], "selectedUsers": [], **item}
        made.append(ctx.store.put("calendars/notifications", obj, ctx.parents, "_id"))
    return ok(made)


@answers("GET /calendars/{calendarId}/notifications")
def list_notifications(ctx):
    items = ctx.store.all("calendars/notifications", ctx.parents)
    deleted = str(ctx.query.get("deleted", "false")).lower() == "true"
    items = [n for n in items if bool(n.get("deleted")) == deleted]
    if "isActive" in ctx.query:
        active = str(ctx.query["isActive"]).lower() == "true"
        items = [n for n in items if bool(n.get("isActive")) == active]
    return ok(skip_limit(ctx, items, 100))


@answers("PUT /calendars/{calendarId}/notifications/{notificationId}")
def update_notification(ctx):
    return _change(ctx, "calendars/notifications", "notificationId", "Notification not found",
                   {k: v for k, v in ctx.body.items() if k != "_id"},
                   {"message": "Notification updated successfully"})


# ----------------------------------------------------------------------------- resources


def _resource_type(ctx):
    """(the path's resource type, None), or (None, GHL's 422) for an unknown type, else (None,
    the answer of the checks GHL makes before most answers)."""
    rtype = ctx.path["resourceType"]
    if rtype not in ("rooms", "equipments"):
        return None, error(422, ["resourceType must be one of rooms, equipments"])
    bad = checked(ctx)
    return (None, bad) if bad else (rtype, None)


@answers("POST /calendars/resources/{resourceType}")
def create_resource(ctx):
    rtype, bad = _resource_type(ctx)
    if bad:
        return bad
    obj = {"id": new_id(), "isActive": True, **ctx.body, "resourceType": rtype}
    return ok(ctx.store.put("calendars/resources", obj, (rtype,)), 201)


@answers("GET /calendars/resources/{resourceType}")
def list_resources(ctx):
    rtype, bad = _resource_type(ctx)
    if bad:
        return bad
    found = [r for r in ctx.store.all("calendars/resources", (rtype,))
             if r.get("locationId") == ctx.location_id]
    return ok(skip_limit(ctx, found, 100))


@answers("PUT /calendars/resources/{resourceType}/{id}")
def update_resource(ctx):
    return _change(ctx, "calendars/resources", "id", "Resource not found",
                   {k: v for k, v in ctx.body.items() if k not in ("id", "resourceType")})


# ----------------------------------------------------------------------------- deletes

# GHL answers each delete with its own body
DELETED: dict[str, tuple[str, str, dict[str, Any]]] = {
    "DELETE /calendars/groups/{groupId}": ("calendars/groups", "groupId", {"success": True}),
    "DELETE /calendars/{calendarId}": ("calendars", "calendarId", {"success": True}),
    "DELETE /calendars/appointments/{appointmentId}/notes/{noteId}": (
        "calendars/appointments/notes", "noteId", {"success": True}),
    "DELETE /calendars/{calendarId}/notifications/{notificationId}": (
        "calendars/notifications", "notificationId", {"message": "Notification deleted successfully"}),
    "DELETE /calendars/resources/{resourceType}/{id}": ("calendars/resources", "id", {"success": True}),
}


@answers(*DELETED)
def _delete(ctx):
    collection, param, answer = DELETED[endpoint(ctx.route.method, ctx.route.template)]
    if not ctx.store.delete(collection, ctx.path[param], ctx.parents):
        return error(400, "Not found")
    return ok(answer)


# ----------------------------------------------------------------------------- seed


def _seed(store: Store, location_id: str, company_id: str) -> None:
    groups = [store.put("calendars/groups", {
        "id": new_id(), "locationId": location_id, "name": name, "description": f"{name} calendars",
        "slug": name.lower().replace(" ", "-"), "isActive": True}) for name in ("Consults", "Hygiene")]
    users = [u["id"] for u in store.all("users")] or [new_id()]
    calendars = []
    for i, (name, group) in enumerate((("New patient consult", groups[0]),
                                       ("Follow-up consult", groups[0]),
                                       ("Hygiene clean", groups[1]))):
        calendars.append(store.put("calendars", {
            **CALENDAR_DEFAULTS, "id": new_id(), "locationId": location_id, "groupId": group["id"],
            "name": name, "description": f"{name} (sandbox)", "slug": name.lower().replace(" ", "-"),
            "widgetSlug": name.lower().replace(" ", "-"), "eventColor": "#039be5",
            "teamMembers": [{"userId": users[i % len(users)], "priority": 1, "isPrimary": True}],
            "slotDuration": 60, "slotInterval": 60,
            "openHours": [{"daysOfTheWeek": [0, 1, 2, 3, 4, 5, 6],
                           "hours": [{"openHour": 9, "openMinute": 0, "closeHour": 12,
                                      "closeMinute": 0}]}]}))
    contacts = [c for c in store.all("contacts") if c.get("locationId") == location_id]
    base = datetime.now(timezone.utc).replace(hour=10, minute=0, second=0, microsecond=0)
    stamp = now_iso()
    for i, contact in enumerate(contacts[:4]):
        cal = calendars[i % 2]
        start = base + timedelta(days=i + 1)
        event = store.put("calendars/events", {
            "id": new_id(), "locationId": location_id, "calendarId": cal["id"],
            "groupId": cal["groupId"], "contactId": contact["id"],
            "title": f"{cal['name']} - {contact['firstName']}", "appointmentStatus": "confirmed",
            "assignedUserId": cal["teamMembers"][0]["userId"], "users": [],
            "address": "https://meet.example.com/sandbox", "notes": "", "isRecurring": False,
            "startTime": _iso(start), "endTime": _iso(start + timedelta(minutes=30)),
            "dateAdded": stamp, "dateUpdated": stamp})
        if i == 0:
            for j in range(2):
                store.put("calendars/appointments/notes", {
                    "id": new_id(), "body": f"Sandbox appointment note {j + 1}",
                    "userId": event["assignedUserId"], "contactId": contact["id"],
                    "appointmentId": event["id"], "dateAdded": stamp}, (event["id"],))
    block_start = base + timedelta(days=2, hours=2)
    store.put("calendars/blocked-slots", {
        "id": new_id(), "locationId": location_id, "calendarId": calendars[0]["id"],
        "groupId": calendars[0]["groupId"], "title": "Staff training",
        "startTime": _iso(block_start), "endTime": _iso(block_start + timedelta(hours=1)),
        "dateAdded": stamp, "dateUpdated": stamp})
    for kind, channel in (("booked", "email"), ("reminder", "sms")):
        store.put("calendars/notifications", {
            "_id": new_id(), "receiverType": "contact", "channel": channel,
            "notificationType": kind, "isActive": True, "deleted": False,
            "subject": f"Your appointment ({kind})", "body": "See you soon.",
            "beforeTime": [{"timeOffset": 1, "unit": "days"}] if kind == "reminder" else [],
            "additionalEmailIds": [], "additionalPhoneNumbers": [], "selectedUsers": []},
            (calendars[0]["id"],), "_id")
    for rtype, name, qty, cap in (("rooms", "Surgery 1", 1, 2), ("rooms", "Surgery 2", 1, 3),
                                  ("equipments", "Panoramic x-ray", 2, 1)):
        store.put("calendars/resources", {
            "id": new_id(), "locationId": location_id, "name": name, "resourceType": rtype,
            "isActive": True, "description": f"{name} (sandbox)", "quantity": qty,
            "outOfService": 0, "capacity": cap, "calendarIds": [calendars[2]["id"]]}, (rtype,))


AREA = Area.of("calendars", vars(), seed=_seed, aliases={
    "calendars/events/appointments": "calendars/events",
    "calendars/events/block-slots": "calendars/blocked-slots",
})
