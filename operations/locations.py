"""GHL Locations (sub-accounts)."""

from __future__ import annotations

from functools import partial

from engine.spec import Operation, Output, Upstream
from operations._fields import path

V = "2021-07-28"
op = partial(Operation, app="ghl", category="other", group="locations")

LOCATION_SAMPLE = {"id": "ve9EPM428h8vShlRW1KT", "companyId": "5DP4iH6HLkQsiKESj6rh",
                   "name": "Example Dental", "email": "frontdesk@example.com",
                   "phone": "+14155550100", "timezone": "America/Chicago", "country": "US"}

FIND_LOCATION_BY_ID = op(
    key="other.find_location_by_id", kind="action", search=True, title="Find Location by ID",
    description="Returns a sub-account (location) with its name, address, time zone and settings.",
    upstream=Upstream(method="GET", path="/locations/{locationId}", version=V,
                      scopes=("locations.readonly",)),
    inputs=(path("locationId", "The sub-account (location) id, shown in GHL under Settings > "
                 "Business Profile.", example="ve9EPM428h8vShlRW1KT"),),
    output=Output(path="location"), sample={"location": LOCATION_SAMPLE})

SPECS = (FIND_LOCATION_BY_ID,)
