"""Associations (link types between objects) and relations (links between records).

System associations (contact <-> business...) cannot be edited or deleted; deleting a
user-defined association deletes its relations."""

from __future__ import annotations

from sandbox.answers import (Area, answers, error, location_mismatch, missing_required, ok,
                             owned)
from sandbox.lists import in_location, page
from sandbox.store import Store, new_id, now_iso

ASSOCIATIONS = "associations"
RELATIONS = "associations/relations"
PAGED = ("skip", "limit")


def seed(store: Store, location_id: str, company_id: str) -> None:
    store.put(ASSOCIATIONS, {
        "id": new_id(), "locationId": location_id, "key": "contact_business",
        "firstObjectLabel": "contact", "firstObjectKey": "contact",
        "secondObjectLabel": "business", "secondObjectKey": "business",
        "associationType": "SYSTEM_DEFINED", "dateAdded": now_iso()})
    student = store.put(ASSOCIATIONS, {
        "id": new_id(), "locationId": location_id, "key": "student_teacher",
        "firstObjectLabel": "student", "firstObjectKey": "custom_objects.students",
        "secondObjectLabel": "teacher", "secondObjectKey": "contact",
        "associationType": "USER_DEFINED", "dateAdded": now_iso()})
    contacts = sorted(store.all("contacts"), key=lambda c: c["id"])
    if contacts:
        store.put(RELATIONS, {"id": new_id(), "locationId": location_id,
                              "associationId": student["id"], "firstRecordId": new_id("rec"),
                              "secondRecordId": contacts[0]["id"], "dateAdded": now_iso()})


def _ours(ctx, collection: str, obj_id: str):
    name = "Relation" if collection == RELATIONS else "Association"
    return owned(ctx, collection, obj_id, f"{name} not found", 404)


@answers("GET /associations", required_query=PAGED)
def find(ctx):
    items = sorted(in_location(ctx, ctx.store.all(ASSOCIATIONS)), key=lambda a: a["dateAdded"])
    return ok({"associations": page(ctx, items), "total": len(items)})


@answers("GET /associations/{associationId}")
def get_one(ctx):
    found, bad = _ours(ctx, ASSOCIATIONS, ctx.path["associationId"])
    return bad or ok(found)


@answers("GET /associations/key/{key_name}", checked=True)
def by_key(ctx):
    for association in in_location(ctx, ctx.store.all(ASSOCIATIONS)):
        if association["key"] == ctx.path["key_name"]:
            return ok(association)
    return error(404, "Association not found")


@answers("GET /associations/objectKey/{objectKey}")
def by_object_key(ctx):
    bad = location_mismatch(ctx, ctx.query.get("locationId"))
    if bad:
        return bad
    key = ctx.path["objectKey"]
    for association in sorted(in_location(ctx, ctx.store.all(ASSOCIATIONS)),
                              key=lambda a: a["dateAdded"]):
        if key in (association["firstObjectKey"], association["secondObjectKey"]):
            return ok(association)
    return error(404, "Association not found")


@answers("GET /associations/relations/{recordId}", required_query=PAGED)
def relations(ctx):
    record = ctx.path["recordId"]
    wanted = ctx.query.get("associationIds")
    if isinstance(wanted, str):
        wanted = wanted.split(",")
    items = [r for r in in_location(ctx, ctx.store.all(RELATIONS))
             if record in (r["firstRecordId"], r["secondRecordId"])
             and (not wanted or r["associationId"] in wanted)]
    items.sort(key=lambda r: r["dateAdded"])
    return ok({"relations": page(ctx, items), "total": len(items)})


def _add(ctx, collection: str, names: tuple[str, ...], **fields):
    """201 with a new object of ``collection``: the body's ``names``, ``fields`` and its time."""
    obj = {"id": new_id(), **{n: ctx.body[n] for n in names}, **fields, "dateAdded": now_iso()}
    return ok(ctx.store.put(collection, obj), 201)


@answers("POST /associations", checked=True)
def create(ctx):
    if any(a["key"] == ctx.body["key"] for a in in_location(ctx, ctx.store.all(ASSOCIATIONS))):
        return error(400, f"An association with key {ctx.body['key']!r} already exists")
    return _add(ctx, ASSOCIATIONS, ("locationId", "key", "firstObjectLabel", "firstObjectKey",
                                    "secondObjectLabel", "secondObjectKey"),
                associationType="USER_DEFINED")


@answers("PUT /associations/{associationId}")
def update(ctx):
    found, bad = _ours(ctx, ASSOCIATIONS, ctx.path["associationId"])
    if bad:
        return bad
    bad = missing_required(ctx)
    if bad:
        return bad
    if found["associationType"] != "USER_DEFINED":
        return error(400, "System-defined associations cannot be updated")
    found.update(firstObjectLabel=ctx.body["firstObjectLabel"],
                 secondObjectLabel=ctx.body["secondObjectLabel"])
    return ok(found)


@answers("DELETE /associations/{associationId}")
def delete(ctx):
    found, bad = _ours(ctx, ASSOCIATIONS, ctx.path["associationId"])
    if bad:
        return bad
    if found["associationType"] != "USER_DEFINED":
        return error(400, "System-defined associations cannot be deleted")
    ctx.store.delete(ASSOCIATIONS, found["id"])
    for relation in ctx.store.all(RELATIONS):
        if relation["associationId"] == found["id"]:
            ctx.store.delete(RELATIONS, relation["id"])
    return ok({"deleted": True, "id": found["id"], "message": "Association deleted successfully"})


@answers("POST /associations/relations", checked=True)
def create_relation(ctx):
    _, bad = _ours(ctx, ASSOCIATIONS, ctx.body["associationId"])
    if bad:
        return error(400, "associationId does not exist in this location")
    return _add(ctx, RELATIONS, ("locationId", "associationId", "firstRecordId",
                                 "secondRecordId"))


@answers("DELETE /associations/relations/{relationId}", checked=True)
def delete_relation(ctx):
    found, bad = _ours(ctx, RELATIONS, ctx.path["relationId"])
    if bad:
        return bad
    ctx.store.delete(RELATIONS, found["id"])
    return ok(found)


AREA = Area.of("associations", vars(), seed=seed)
