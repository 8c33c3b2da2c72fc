"""Locations search and creation, a location's custom fields, and the agency (company); the
seed of the sandbox's own location and company."""

from __future__ import annotations

from sandbox.answers import Area, answers, error, location_mismatch, ok
from sandbox.lists import page
from sandbox.store import Store, new_id, now_iso

LOCATIONS = "locations"
CUSTOM_FIELDS = "locations/customFields"
COMPANIES = "companies"
LOCATION_FIELDS = ("name", "companyId", "phone", "address", "city", "state", "country",
                   "postalCode", "website", "timezone", "settings", "social", "snapshotId")


def seed(store: Store, location_id: str, company_id: str) -> None:
    store.put(LOCATIONS, {"id": location_id, "companyId": company_id, "name": "Sandbox Dental",
                          "email": "frontdesk@example.com", "phone": "+15550000000",
                          "address": "1 Example Way", "city": "Springfield", "state": "IL",
                          "country": "US", "postalCode": "62701", "timezone": "America/Chicago",
                          "website": "https://example.com"})
    store.put(COMPANIES, {
        "id": company_id, "name": "Sandbox Agency", "email": "ops@example.com",
        "phone": "+15550000001", "website": "https://agency.example.com",
        "address": "9 Example Road", "city": "Springfield", "state": "IL", "postalCode": "62701",
        "country": "US", "timezone": "America/Chicago", "plan": 2, "status": "active",
        "customerType": "agency", "locationCount": 2, "termsOfServiceAcceptedDate": "",
        "privacyPolicyAcceptedDate": "", "affiliatePolicyAcceptedDate": ""})
    store.put(LOCATIONS, {"id": new_id(), "companyId": company_id, "name": "Sandbox Gym",
                          "email": "hello@gym.example.com", "phone": "+15550000002",
                          "address": "2 Example Way", "city": "Springfield", "state": "IL",
                          "country": "US", "postalCode": "62701", "timezone": "America/Chicago",
                          "website": "https://gym.example.com"})
    for position, (name, key, kind, model) in enumerate((
            ("Favourite colour", "favourite_colour", "TEXT", "contact"),
            ("Insurance provider", "insurance_provider", "SINGLE_OPTIONS", "contact"),
            ("Last visit", "last_visit", "DATE", "contact"),
            ("Deal source", "deal_source", "TEXT", "opportunity"),
            ("Expected close", "expected_close", "DATE", "opportunity"))):
        store.put(CUSTOM_FIELDS, {
            "id": new_id(), "name": name, "fieldKey": f"{model}.{key}", "placeholder": "",
            "dataType": kind, "position": position * 50,
            "picklistOptions": ["Acme Health", "Globex Care"] if kind == "SINGLE_OPTIONS" else [],
            "locationId": location_id, "model": model, "dateAdded": now_iso()}, (location_id,))


@answers("GET /locations/search")
def search_locations(ctx):
    q = ctx.query
    items = list(ctx.store.all(LOCATIONS))
    if q.get("companyId"):
        items = [loc for loc in items if loc.get("companyId") == q["companyId"]]
    if q.get("email"):
        items = [loc for loc in items if (loc.get("email") or "").lower() == q["email"].lower()]
    items.sort(key=lambda loc: (loc.get("name") or "", loc["id"]),
               reverse=(q.get("order") == "desc"))
    return ok({"locations": page(ctx, items)})


@answers("POST /locations", required=True)
def create_location(ctx):
    location = {"id": new_id(), **{k: ctx.body[k] for k in LOCATION_FIELDS if k in ctx.body}}
    if isinstance(ctx.body.get("prospectInfo"), dict):
        location["email"] = ctx.body["prospectInfo"].get("email")
    ctx.store.put(LOCATIONS, location)
    return ok(location)


@answers("GET /locations/{locationId}/customFields")
def custom_fields(ctx):
    bad = location_mismatch(ctx, ctx.path["locationId"])
    if bad:
        return bad
    model = ctx.query.get("model") or "contact"
    if model not in ("contact", "opportunity", "all"):
        return error(422, ["model must be one of the following values: contact, opportunity, all"])
    items = ctx.store.all(CUSTOM_FIELDS, (ctx.location_id,))
    if model != "all":
        items = [f for f in items if f["model"] == model]
    return ok({"customFields": sorted(items, key=lambda f: f["position"])})


@answers("GET /companies/{companyId}")
def get_company(ctx):
    company = ctx.store.get(COMPANIES, ctx.path["companyId"])
    if company is None:
        return error(400, "Company not found", "Bad Request")
    return ok({"company": company})


AREA = Area.of("locations", vars(), seed=seed)
