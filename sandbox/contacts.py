"""Contacts endpoints whose behaviour the generic handler cannot give: search, duplicate
lookup, upsert, tags, bulk tags, campaigns, task completion, business and appointment lists,
and the deprecated cursor list; the seed of contacts with their tasks and notes."""

from __future__ import annotations

import random
from typing import Any

from engine.core import phones
from sandbox.answers import (Area, answers, bounded, checked, error, location_mismatch, ok,
                             owned)
from sandbox.collection import create
from sandbox.lists import contains, search_order, skip_limit
from sandbox.store import Store, epoch_ms, new_id, now_iso


def _contacts(ctx) -> list[dict[str, Any]]:
    return [c for c in ctx.store.all("contacts") if c.get("locationId") == ctx.location_id]


def _match_duplicate(ctx, email: str | None, phone: str | None) -> dict[str, Any] | None:
    for c in _contacts(ctx):
        if email and (c.get("email") or "").lower() == email.lower():
            return c
        if phone and phones.same_number(c.get("phone"), phone):  # GHL matches numbers, not text
            return c
    return None


@answers("POST /contacts", checked=True)
def create_contact(ctx):
    dup = _match_duplicate(ctx, ctx.body.get("email"), ctx.body.get("phone"))
    if dup is not None:
        field = "email" if ctx.body.get("email") and dup.get("email") == ctx.body.get("email") else "phone"
        return error(400, "This location does not allow duplicated contacts.",
                     meta={"contactName": f"{dup.get('firstName', '')} {dup.get('lastName', '')}".strip(),
                           "contactId": dup["id"], "matchingField": field})
    body = dict(ctx.body)
    body.setdefault("tags", [])
    body.setdefault("customFields", [])
    return ok({"contact": create(ctx, body)}, 201)


@answers("GET /contacts/search/duplicate", checked=True)
def duplicate(ctx):
    return ok({"contact": _match_duplicate(ctx, ctx.query.get("email"), ctx.query.get("number"))})


@answers("POST /contacts/upsert", checked=True)
def upsert(ctx):
    found = _match_duplicate(ctx, ctx.body.get("email"), ctx.body.get("phone"))
    if found is None:
        body = dict(ctx.body)
        body.setdefault("tags", [])
        contact = create(ctx, body)
        ctx.store.put("contacts", contact)
        return ok({"new": True, "contact": contact, "traceId": new_id("tr")})
    tags = sorted(set(found.get("tags") or []) | set(ctx.body.get("tags") or []))
    found.update({k: v for k, v in ctx.body.items() if k != "tags"})
    found["tags"] = tags
    found["dateUpdated"] = now_iso()
    return ok({"new": False, "contact": found, "traceId": new_id("tr")})


def the_contact(ctx):
    """(the contact of the path, None) or (None, GHL's 400) when the location has no such one."""
    return owned(ctx, "contacts", ctx.path["contactId"], "Contact not found")


@answers("POST /contacts/{contactId}/tags", "DELETE /contacts/{contactId}/tags", required=True)
def tags(ctx):
    contact, missing = the_contact(ctx)
    if missing:
        return missing
    current = list(contact.get("tags") or [])
    given = [str(t) for t in ctx.body.get("tags") or []]
    if ctx.route.method == "POST":
        current += [t for t in given if t not in current]
    else:
        current = [t for t in current if t not in given]
    contact["tags"] = current
    contact["dateUpdated"] = now_iso()
    return ok({"tags": current}, 201 if ctx.route.method == "POST" else 200)


@answers("POST /contacts/bulk/tags/update/{type}")
def bulk_tags(ctx):
    if ctx.path["type"] not in ("add", "remove"):
        return error(400, "type must be one of add, remove")
    bad = checked(ctx)
    if bad:
        return bad
    responses, errors = [], 0
    for contact_id in ctx.body.get("contacts") or []:
        contact = ctx.store.get("contacts", contact_id)
        if contact is None:
            errors += 1
            responses.append({"contactId": contact_id, "message": "Contact not found", "type": "error"})
            continue
        current = list(contact.get("tags") or [])
        if ctx.path["type"] == "add":
            current += [t for t in ctx.body["tags"] if t not in current]
        elif ctx.body.get("removeAllTags"):
            current = []
        else:
            current = [t for t in current if t not in ctx.body["tags"]]
        contact["tags"] = current
        contact["dateUpdated"] = now_iso()
        responses.append({"contactId": contact_id, "message": "updated", "type": "success"})
    return ok({"succeded": errors == 0, "errorCount": errors, "responses": responses}, 201)


@answers("POST /contacts/{contactId}/campaigns/{campaignId}",
         "DELETE /contacts/{contactId}/campaigns/{campaignId}",
         "DELETE /contacts/{contactId}/campaigns/removeAll")
def campaigns(ctx):
    contact, missing = the_contact(ctx)
    if missing:
        return missing
    current = set(contact.get("campaignIds") or [])
    if ctx.op.key == "contacts.add_contact_to_campaign":
        current.add(ctx.path["campaignId"])
    elif ctx.op.key == "contacts.remove_from_campaign":
        current.discard(ctx.path["campaignId"])
    else:
        current.clear()
    contact["campaignIds"] = sorted(current)
    return ok({"succeded": True}, 201 if ctx.route.method == "POST" else 200)


@answers("PUT /contacts/{contactId}/tasks/{taskId}/completed", required=True)
def complete_task(ctx):
    task = ctx.store.get("contacts/tasks", ctx.path["taskId"], (ctx.path["contactId"],))
    if task is None:
        return error(404, "Task not found")
    task["completed"] = bool(ctx.body["completed"])
    return ok({"task": task})


SEARCH_WINDOW = 10_000  # page x pageLimit beyond this is refused: deeper reads use searchAfter


@answers("POST /contacts/search")
def search(ctx):
    """POST /contacts/search as GHL documents it publicly: locationId, page + pageLimit or
    searchAfter, filters, sort by dateAdded or dateUpdated; {contacts, total} back.

    Each contact carries ``searchAfter``: its sort values, [time in epoch ms, id]. Sent back, it
    gives the contacts after that one in the same order, a position that new contacts do not
    move. Page numbers reach only the first 10,000 matches, as on GHL."""
    body = ctx.body
    if not body.get("locationId"):
        return error(422, ["locationId should not be empty"])
    size, too_many = bounded(ctx, "pageLimit", 20, 500, body)
    bad = location_mismatch(ctx, body.get("locationId")) or too_many
    if bad:
        return bad
    items = contains(_contacts(ctx), body.get("query"), "firstName", "lastName", "email", "phone",
                     "companyName")
    for flt in body.get("filters") or []:
        items = [c for c in items if _matches(c, flt)]
    field, reverse, bad = search_order(body, "dateAdded", "dateUpdated")
    if bad:
        return bad
    keyed = sorted(((epoch_ms(c[field]) if c.get(field) else 0, c["id"], c) for c in items),
                   key=lambda t: (t[0], t[1]), reverse=reverse)
    total = len(keyed)
    after = body.get("searchAfter")
    if after:
        if not isinstance(after, list) or len(after) != 2 or epoch_ms(after[0]) is None:
            return error(422, ["searchAfter must be the searchAfter value of a contact: "
                               "[sort value, id]"])
        mark = (epoch_ms(after[0]), str(after[1]))
        keyed = [t for t in keyed if ((t[0], t[1]) < mark if reverse else (t[0], t[1]) > mark)]
        chosen = keyed[:size]
    else:
        page_no = max(1, int(body.get("page") or 1))
        if page_no * size > SEARCH_WINDOW:
            return error(422, [f"page x pageLimit must not be greater than {SEARCH_WINDOW}; "
                               "use searchAfter to read further"])
        chosen = keyed[(page_no - 1) * size: page_no * size]
    return ok({"contacts": [{**c, "searchAfter": [at, cid]} for at, cid, c in chosen],
               "total": total})


def _matches(contact: dict[str, Any], flt: dict[str, Any]) -> bool:
    if "group" in flt:
        subs = [_matches(contact, f) for f in flt.get("filters") or []]
        return all(subs) if flt["group"].upper() == "AND" else any(subs)
    field, op, value = flt.get("field"), flt.get("operator", "eq"), flt.get("value")
    actual = contact.get(field)
    if field == "tags":
        tags = contact.get("tags") or []
        values = value if isinstance(value, list) else [value]
        return any(v in tags for v in values) if op in ("eq", "contains") else not any(v in tags for v in values)
    if op == "eq":
        return str(actual).lower() == str(value).lower()
    if op == "not_eq":
        return str(actual).lower() != str(value).lower()
    if op == "contains":
        return str(value).lower() in str(actual or "").lower()
    if op == "exists":
        return actual not in (None, "", [])
    if op == "not_exists":
        return actual in (None, "", [])
    if op == "range":
        return str(value.get("gte", "")) <= str(actual or "") <= str(value.get("lte", "\uffff"))
    return False


@answers("GET /contacts", checked=True)
def list_deprecated(ctx):
    size = min(100, int(ctx.query.get("limit") or 20))
    items = sorted(_contacts(ctx), key=lambda c: (c["dateAdded"], c["id"]), reverse=True)
    items = contains(items, ctx.query.get("query"), "firstName", "lastName", "email")
    after_id, after = ctx.query.get("startAfterId"), ctx.query.get("startAfter")
    if after_id and after:
        if epoch_ms(after) is None:
            return error(422, ["startAfter must be a number"])
        key = (epoch_ms(after), after_id)
        items = [c for c in items if (epoch_ms(c["dateAdded"]), c["id"]) < key]
    page = items[:size]
    last = page[-1] if len(page) == size else None
    meta = {"total": len(items), "currentPage": None, "nextPage": None, "prevPage": None,
            "startAfterId": last["id"] if last else None,
            "startAfter": epoch_ms(last["dateAdded"]) if last else None}
    return ok({"contacts": page, "count": len(page), "meta": meta})


@answers("GET /contacts/business/{businessId}", checked=True)
def by_business(ctx):
    items = [c for c in _contacts(ctx) if c.get("businessId") == ctx.path["businessId"]]
    items.sort(key=lambda c: (c["dateAdded"], c["id"]), reverse=True)
    return ok({"contacts": skip_limit(ctx, items, 25), "count": len(items)})


@answers("GET /contacts/{contactId}/appointments")
def appointments(ctx):
    contact, missing = the_contact(ctx)
    if missing:
        return missing
    events = [e for e in ctx.store.all("calendars/events", None)
              if e.get("contactId") == contact["id"]]
    return ok({"events": events})


# ----------------------------------------------------------------------------- seed

FIRST = ["Ada", "Grace", "Alan", "Linus", "Margaret", "Dennis", "Barbara", "Ken", "Radia", "Edsger"]
LAST = ["Lovelace", "Hopper", "Turing", "Torvalds", "Hamilton", "Ritchie", "Liskov", "Thompson"]


def fake_contact(i: int, location_id: str, **fields: Any) -> dict[str, Any]:
    first, last = FIRST[i % len(FIRST)], LAST[i % len(LAST)]
    stamp = now_iso()
    contact = {
        "id": new_id(), "locationId": location_id, "firstName": first, "lastName": last,
        "contactName": f"{first} {last}".lower(), "email": f"{first}.{last}.{i}@example.com".lower(),
        "phone": f"+1555{i:07d}"[:12], "type": "lead", "source": "sandbox seed", "tags": [],
        "dnd": False, "companyName": "Example Co", "country": "US", "timezone": "America/New_York",
        "customFields": [], "dateAdded": stamp, "dateUpdated": stamp, "assignedTo": None,
    }
    contact.update(fields)
    return contact


def seed(store: Store, location_id: str, company_id: str) -> None:
    """Five contacts, every other one tagged, each with two tasks and two notes."""
    rnd = random.Random(7)
    for i in range(5):
        contact = store.put("contacts", fake_contact(i, location_id, tags=["seed"] if i % 2 else []))
        for j in range(2):
            store.put("contacts/tasks", {
                "id": new_id(), "contactId": contact["id"], "title": f"Follow up #{j + 1}",
                "body": "Call back about the quote", "assignedTo": None,
                "dueDate": now_iso(), "completed": bool(rnd.random() < 0.3)}, (contact["id"],))
            store.put("contacts/notes", {
                "id": new_id(), "contactId": contact["id"], "body": f"Seed note {j + 1}",
                "userId": None, "dateAdded": now_iso()}, (contact["id"],))


AREA = Area.of("contacts", vars(), seed=seed, makers={
    "contacts": lambda store, i, loc, fields: store.put("contacts", fake_contact(i, loc, **fields)),
})
