"""Businesses endpoints. GHL names the object of its create and update answers "buiseness"
(sic), as the official document does, and stamps createdAt/updatedAt."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sandbox.answers import Area, answers, ok, owned
from sandbox.store import Store, new_id, now_iso

BUSINESSES = "businesses"
FIELDS = ("name", "phone", "email", "website", "address", "city", "state", "postalCode",
          "country", "description")


def seed(store: Store, location_id: str, company_id: str) -> None:
    start = datetime.now(timezone.utc) - timedelta(days=3)
    for i, name in enumerate(("Acme Plumbing", "Globex Dental Supply", "Initech Consulting")):
        stamp = (start + timedelta(hours=i)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        store.put(BUSINESSES, {
            "id": new_id(), "name": name, "locationId": location_id,
            "email": f"office{i}@example.com", "phone": f"+1555010{i:04d}",
            "website": f"https://biz{i}.example.com", "city": "Springfield", "country": "US",
            "createdBy": {"source": "INTEGRATION"}, "updatedBy": {"source": "INTEGRATION"},
            "createdAt": stamp, "updatedAt": stamp})


def _business(ctx):
    return owned(ctx, BUSINESSES, ctx.path["businessId"], "Business not found")


@answers("GET /businesses/{businessId}")
def get_business(ctx):
    found, bad = _business(ctx)
    return bad or ok({"business": found})


@answers("POST /businesses", checked=True)
def create_business(ctx):
    stamp = now_iso()
    business = {"id": new_id(), "locationId": ctx.body["locationId"],
                **{k: ctx.body[k] for k in FIELDS if k in ctx.body},
                "createdBy": {"source": "INTEGRATION"}, "updatedBy": {"source": "INTEGRATION"},
                "createdAt": stamp, "updatedAt": stamp}
    ctx.store.put(BUSINESSES, business)
    return ok({"success": True, "buiseness": business}, 201)


@answers("PUT /businesses/{businessId}")
def update_business(ctx):
    found, bad = _business(ctx)
    if bad:
        return bad
    found.update({k: ctx.body[k] for k in FIELDS if k in ctx.body})
    found["updatedAt"] = now_iso()
    return ok({"success": True, "buiseness": found})


@answers("DELETE /businesses/{businessId}")
def delete_business(ctx):
    found, bad = _business(ctx)
    if bad:
        return bad
    ctx.store.delete(BUSINESSES, found["id"])
    for contact in ctx.store.all("contacts"):
        if contact.get("businessId") == found["id"]:
            contact["businessId"] = None
    return ok({"success": True})


# GET /businesses is a plain list: the generic store answers it
AREA = Area.of("businesses", vars(), seed=seed)
