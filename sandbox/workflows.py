"""Workflows, snapshots and campaigns lists, and the contact operations of the Workflows &
Campaigns category: enrolment in workflows, followers, and linking contacts to a business."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sandbox.answers import Area, answers, error, missing_required, ok, owned
from sandbox.contacts import the_contact
from sandbox.store import Store, new_id, now_iso

WORKFLOWS = "workflows"
CAMPAIGNS = "campaigns"
SNAPSHOTS = "snapshots"
ENROLMENTS = "contacts/workflow"  # per contact, keyed by workflow id


def _uuid(n: int) -> str:
    return f"{n:08x}-b920-461e-b010-7b2a2816d2a9"


def seed(store: Store, location_id: str, company_id: str) -> None:
    start = datetime.now(timezone.utc) - timedelta(days=10)
    for i, (name, status) in enumerate((("New lead nurture", "published"),
                                        ("Appointment reminders", "published"),
                                        ("Win-back (draft)", "draft"))):
        stamp = (start + timedelta(days=i)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        store.put(WORKFLOWS, {"id": _uuid(0x78559bb3 + i), "name": name, "status": status,
                              "version": 1 + i, "createdAt": stamp, "updatedAt": stamp,
                              "locationId": location_id})
    for i, (name, status) in enumerate((("Spring check-up", "published"),
                                        ("Referral drive", "draft"))):
        store.put(CAMPAIGNS, {"id": new_id(), "name": name, "status": status,
                              "locationId": location_id})
    for i, (name, kind) in enumerate((("Dental starter", "own"), ("Gym in a box", "imported"))):
        store.put(SNAPSHOTS, {"id": new_id(), "name": name, "type": kind, "companyId": company_id})


@answers("GET /snapshots", required=True)
def list_snapshots(ctx):
    """The agency's snapshots: GHL does not answer the company id they are kept under."""
    items = [s for s in ctx.store.all(SNAPSHOTS) if s["companyId"] == ctx.query["companyId"]]
    return ok({"snapshots": [{k: v for k, v in s.items() if k != "companyId"} for s in items]})


@answers("POST /contacts/{contactId}/workflow/{workflowId}",
         "DELETE /contacts/{contactId}/workflow/{workflowId}")
def enrolment(ctx):
    contact, bad = the_contact(ctx)
    if bad:
        return bad
    workflow, bad = owned(ctx, WORKFLOWS, ctx.path["workflowId"], "Workflow not found")
    if bad:
        return bad
    if ctx.route.method == "POST":
        ctx.store.put(ENROLMENTS, {"id": workflow["id"], "workflowId": workflow["id"],
                                   "contactId": contact["id"],
                                   "eventStartTime": ctx.body.get("eventStartTime"),
                                   "dateAdded": now_iso()}, (contact["id"],))
    else:
        ctx.store.delete(ENROLMENTS, workflow["id"], (contact["id"],))
    return ok({"succeded": True})


@answers("POST /contacts/{contactId}/followers", "DELETE /contacts/{contactId}/followers")
def followers(ctx):
    contact, bad = the_contact(ctx)
    if bad:
        return bad
    bad = missing_required(ctx)
    if bad:
        return bad
    given = ctx.body["followers"]
    if not isinstance(given, list) or not all(isinstance(f, str) for f in given):
        return error(422, ["followers must be an array of user ids"])
    current = list(contact.get("followers") or [])
    if ctx.route.method == "POST":
        added = [f for f in dict.fromkeys(given) if f not in current]
        contact["followers"] = current + added
        contact["dateUpdated"] = now_iso()
        return ok({"followers": contact["followers"], "followersAdded": added}, 201)
    removed = [f for f in current if f in given]
    contact["followers"] = [f for f in current if f not in given]
    contact["dateUpdated"] = now_iso()
    return ok({"followers": contact["followers"], "followersRemoved": removed})


@answers("POST /contacts/bulk/business", checked=True)
def bulk_business(ctx):
    ids = ctx.body["ids"]
    if not isinstance(ids, list) or len(ids) > 50:
        return error(422, ["ids must be an array of at most 50 contact ids"])
    business = ctx.store.get("businesses", ctx.body["businessId"])
    if business is None or business.get("locationId") != ctx.location_id:
        return error(422, ["businessId does not exist in this location"])
    updated = []
    for contact_id in ids:
        contact = ctx.store.get("contacts", contact_id)
        if contact is not None and contact.get("locationId") == ctx.location_id:
            contact["businessId"] = business["id"]
            contact["dateUpdated"] = now_iso()
            updated.append(contact_id)
    return ok({"success": True, "ids": updated})


# GET /workflows and GET /campaigns are plain lists: the generic store answers them
AREA = Area.of("workflows", vars(), seed=seed)
