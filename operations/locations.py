"""GHL Locations (sub-accounts): find, list and create them."""

from __future__ import annotations

from functools import partial

from engine.spec.model import (Dedupe, Items, OffsetPaginator, Operation, Output, Signal, Trigger,
    Upstream)
from operations._fields import body, path, query

V = "2021-07-28"
op = partial(Operation, app="ghl", category="other", group="locations")

LOCATION_SAMPLE = {"id": "ve9EPM428h8vShlRW1KT", "companyId": "5DP4iH6HLkQsiKESj6rh",
                   "name": "Example Dental", "email": "frontdesk@example.com",
                   "phone": "+14155550100", "timezone": "America/Chicago", "country": "US"}
COMPANY_ID = ("The agency (company) id, shown in GHL under Agency Settings. Left empty, the "
              "connection's company is used.")

FIND_LOCATION_BY_ID = op(
    key="other.find_location_by_id", kind="action", search=True, title="Find Location by ID",
    description="Returns a sub-account (location) with its name, address, time zone and settings.",
    upstream=Upstream(method="GET", path="/locations/{locationId}", version=V,
                      scopes=("locations.readonly",)),
    inputs=(path("locationId", "The sub-account (location) id, shown in GHL under Settings > "
                 "Business Profile.", example="ve9EPM428h8vShlRW1KT"),),
    output=Output(path="location"), sample={"location": LOCATION_SAMPLE})

LIST_LOCATIONS = op(
    key="other.list_locations", kind="trigger", title="List Locations",
    description="Fires for each new sub-account (location) of the agency. Needs an agency-level "
                "connection.",
    upstream=Upstream(method="GET", path="/locations/search", version=V,
                      scopes=("locations.readonly",)),
    inputs=(query("companyId", COMPANY_ID, fill="company_id", example="5DP4iH6HLkQsiKESj6rh"),
            query("email", "Only the location with this email address.", format="email",
                  example="frontdesk@example.com"),
            query("order", "Order of the results: asc (oldest first) or desc.",
                  enum=("asc", "desc"), example="desc"),
            query("limit", "Locations per page (GHL's default is 10).", type="integer",
                  example=100),
            query("skip", "How many locations to skip; filled in by the engine while paging.",
                  type="integer", example=0)),
    trigger=Trigger(events=Signal(types=("LocationCreate", "LocationUpdate")),
                    items=Items(path="locations"),
                    paginator=OffsetPaginator(offset_param="skip", size_param="limit",
                                              page_size=100),
                    dedupe=Dedupe(strategy="new")),
    sample=LOCATION_SAMPLE | {"address": "1 Example Way", "city": "Springfield", "state": "IL",
                              "postalCode": "62701", "website": "https://dental.example.com"})

CREATE_LOCATION = op(
    key="other.create_location", kind="action", title="Create Location",
    description="Creates a sub-account (location) under the agency, optionally from a snapshot. "
                "Needs an agency-level connection on the Agency Pro plan.",
    upstream=Upstream(method="POST", path="/locations/", version=V, scopes=("locations.write",)),
    inputs=(body("name", "Name of the new sub-account, usually the business name.",
                 required=True, example="Example Dental"),
            body("companyId", COMPANY_ID, required=True, fill="company_id",
                 example="5DP4iH6HLkQsiKESj6rh"),
            body("phone", "Phone number in E.164 form, e.g. +14155550100.", format="phone",
                 example="+14155550100"),
            body("address", "Street address.", example="1 Example Way"),
            body("city", "City name.", example="Springfield"),
            body("state", "State or region.", example="IL"),
            body("country", "Two-letter ISO country code, e.g. US.", example="US"),
            body("postalCode", "Postal or ZIP code.", example="62701"),
            body("website", "Website address.", example="https://dental.example.com"),
            body("timezone", "IANA time zone name, e.g. America/Chicago.", example="America/Chicago"),
            body("prospectInfo", "The owner to invite, as {\"firstName\", \"lastName\", "
                 "\"email\"}.", type="object",
                 example={"firstName": "Rosan", "lastName": "Deo", "email": "rosan@example.com"}),
            body("settings", "Settings such as {\"allowDuplicateContact\": false}.",
                 type="object", example={"allowDuplicateContact": False}),
            body("social", "Social profile links, e.g. {\"facebookUrl\": \"https://...\"}.",
                 type="object"),
            body("snapshotId", "Id of a snapshot to load into the new location (see List "
                 "Snapshots).", example="1eM2UgkfaECOYyUdCo9Pa")),
    sample=LOCATION_SAMPLE | {"address": "1 Example Way", "city": "Springfield"})

SPECS = (FIND_LOCATION_BY_ID, LIST_LOCATIONS, CREATE_LOCATION)
