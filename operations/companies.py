"""GHL companies (agencies)."""

from __future__ import annotations

from engine.spec.model import Dedupe, Items, Operation, Trigger, Upstream
from operations._fields import find_by_id, path

GET_COMPANY = Operation(
    key="other.get_company", app="ghl", category="other", group="companies",
    kind="trigger", title="Get Company",
    description="Watches the agency (company) and fires when its details change, e.g. plan, "
                "status or location count. Needs an agency-level connection; GHL gives no "
                "updated time, so a change is seen by content.",
    upstream=Upstream(method="GET", path="/companies/{companyId}", version="2021-07-28",
                      scopes=("companies.readonly",)),
    inputs=(path("companyId", "The agency (company) id, shown in GHL under Agency Settings "
                 "(e.g. '5DP4iH6HLkQsiKESj6rh').", example="5DP4iH6HLkQsiKESj6rh"),),
    trigger=Trigger(items=Items(path="company", single=True), dedupe=Dedupe(strategy="changed")),
    sample={"id": "5DP4iH6HLkQsiKESj6rh", "name": "Example Agency", "email": "ops@example.com",
            "phone": "+14155550111", "website": "https://agency.example.com",
            "address": "9 Example Road", "city": "Springfield", "state": "IL",
            "postalCode": "62701", "country": "US", "timezone": "America/Chicago", "plan": 2,
            "status": "active", "locationCount": 12, "customerType": "agency"})

FIND_COMPANY_BY_ID = find_by_id(
    GET_COMPANY, "other.find_company_by_id", "Find Company by ID",
    "Returns the agency (company) by its id. Needs an agency-level connection.")

SPECS = (GET_COMPANY, FIND_COMPANY_BY_ID)
