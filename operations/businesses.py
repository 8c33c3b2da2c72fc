"""GHL Businesses: the companies contacts work for, kept per location."""

from __future__ import annotations

from functools import partial

from engine.spec.model import (Choices, Dedupe, Items, OffsetPaginator, Operation, Output, Trigger,
                               Upstream)
from operations._fields import (BUSINESS_CHOICES, LOCATION_ID_BODY, LOCATION_ID_QUERY, body, find_by_id,
                               path, query)

V = "2021-07-28"
op = partial(Operation, app="ghl", category="businesses")
READ = ("businesses.readonly",)
WRITE = ("businesses.write",)

BUSINESS_ID = path("businessId", "The business's id, as returned by Create Business or List "
                   "Businesses by Location (e.g. '63771dcac1116f0e21de8e12').",
                   example="63771dcac1116f0e21de8e12", choices_from=BUSINESS_CHOICES)
BUSINESS_SAMPLE = {
    "id": "63771dcac1116f0e21de8e12", "name": "Example Plumbing", "phone": "+14155550142",
    "email": "office@example.com", "website": "https://plumbing.example.com",
    "address": "12 Pipe Lane", "city": "Springfield", "state": "IL", "postalCode": "62701",
    "country": "US", "description": "Family plumbing business", "locationId": "ve9EPM428h8vShlRW1KT",
    "createdBy": {"source": "INTEGRATION", "sourceId": "y0BeYjuRIlDwsDcOHOJo"},
    "updatedBy": {"source": "INTEGRATION", "sourceId": "y0BeYjuRIlDwsDcOHOJo"},
    "createdAt": "2026-01-15T10:30:00.000Z", "updatedAt": "2026-01-15T10:30:00.000Z",
}
BUSINESS_FIELDS = (
    body("phone", "Phone number in E.164 form, e.g. +14155550142.", format="phone",
         example="+14155550142"),
    body("email", "The business's email address.", format="email", example="office@example.com"),
    body("website", "Website address.", example="https://plumbing.example.com"),
    body("address", "Street address.", example="12 Pipe Lane"),
    body("city", "City name.", example="Springfield"),
    body("state", "State or region.", example="IL"),
    body("postalCode", "Postal or ZIP code.", example="62701"),
    body("country", "Country, as a two-letter code (e.g. US) or a name.", example="US"),
    body("description", "A short description shown on the business record.",
         example="Family plumbing business"),
)

GET_BUSINESS = op(
    key="businesses.get_business", kind="trigger", title="Get Business",
    description="Watches one business and fires when it changes (its updatedAt moves).",
    upstream=Upstream(method="GET", path="/businesses/{businessId}", version=V, scopes=READ),
    inputs=(BUSINESS_ID,),
    trigger=Trigger(items=Items(path="business", timestamp_field="updatedAt", single=True),
                    dedupe=Dedupe(strategy="updated", updated_field="updatedAt")),
    sample=BUSINESS_SAMPLE)

LIST_BUSINESSES = op(
    key="businesses.list_businesses_by_location", kind="trigger",
    title="List Businesses by Location",
    description="Fires for each new business created in the location.",
    upstream=Upstream(method="GET", path="/businesses/", version=V, scopes=READ),
    inputs=(LOCATION_ID_QUERY,
            query("limit", "Businesses per page (GHL's default is 100).", type="integer",
                  example=100),
            query("skip", "How many businesses to skip; filled in by the engine while paging.",
                  type="integer", example=0)),
    trigger=Trigger(items=Items(path="businesses", timestamp_field="createdAt"),
                    paginator=OffsetPaginator(offset_param="skip", size_param="limit",
                                              page_size=100),
                    dedupe=Dedupe(strategy="new"),
                    choices=(Choices(name="businesses", noun="Business"),)),
    sample=BUSINESS_SAMPLE)

# GHL's create and update answers name the object "buiseness" (sic), as the official document does
CREATE_BUSINESS = op(
    key="businesses.create_business", kind="action", title="Create Business",
    description="Creates a business in the location; link contacts to it with Bulk Business "
                "Update.",
    upstream=Upstream(method="POST", path="/businesses/", version=V, scopes=WRITE),
    inputs=(body("name", "Name of the business.", required=True, example="Example Plumbing"),
            LOCATION_ID_BODY, *BUSINESS_FIELDS),
    output=Output(path="buiseness"), sample={"success": True, "buiseness": BUSINESS_SAMPLE})

UPDATE_BUSINESS = op(
    key="businesses.update_business", kind="action", title="Update Business",
    description="Updates fields of a business; fields left out keep their value.",
    upstream=Upstream(method="PUT", path="/businesses/{businessId}", version=V, scopes=WRITE),
    inputs=(BUSINESS_ID, body("name", "New name of the business.", example="Example Plumbing & Heating"),
            *BUSINESS_FIELDS),
    output=Output(path="buiseness"), sample={"success": True, "buiseness": BUSINESS_SAMPLE})

DELETE_BUSINESS = op(
    key="businesses.delete_business", kind="action", title="Delete Business",
    description="Deletes a business. Contacts linked to it stay, without the business.",
    upstream=Upstream(method="DELETE", path="/businesses/{businessId}", version=V, scopes=WRITE),
    inputs=(BUSINESS_ID,), sample={"success": True})

FIND_BUSINESS_BY_ID = find_by_id(
    GET_BUSINESS, "businesses.find_business_by_id", "Find Business by ID",
    "Returns one business (company record) by its id, with its address and contact details.")

SPECS = (GET_BUSINESS, LIST_BUSINESSES, CREATE_BUSINESS, UPDATE_BUSINESS, DELETE_BUSINESS,
         FIND_BUSINESS_BY_ID)
