"""GHL custom fields of a location (contact and opportunity fields)."""

from __future__ import annotations

from engine.spec.model import Choices, Dedupe, Items, Operation, Trigger, Upstream
from operations._fields import path, query

LIST_CUSTOM_FIELDS = Operation(
    key="other.list_custom_fields", app="ghl", category="other", group="custom_fields",
    kind="trigger", title="List Custom Fields",
    description="Fires for each new custom field of the location. The ids and fieldKeys are what "
                "customFields of Create Contact or Create Opportunity take.",
    upstream=Upstream(method="GET", path="/locations/{locationId}/customFields",
                      version="2021-07-28", scopes=("locations/customFields.readonly",)),
    inputs=(path("locationId", "The sub-account (location) id, shown in GHL under Settings > "
                 "Business Profile. Left empty, the connection's location is used.",
                 fill="location_id", example="ve9EPM428h8vShlRW1KT"),
            query("model", "Which fields: contact, opportunity or all (GHL's default is "
                  "contact).", enum=("contact", "opportunity", "all"), example="all")),
    trigger=Trigger(items=Items(path="customFields"), dedupe=Dedupe(strategy="new"),
                    # every model's fields, for a form to show those of its own model
                    choices=(Choices(name="custom_fields", noun="Custom Field",
                                     label=("name", "fieldKey"), params={"model": "all"},
                                     params_from_connection={"locationId": "location_id"}),)),
    sample={"id": "3sv6UEo51C9Bmpo1cKTq", "name": "Favourite colour",
            "fieldKey": "contact.favourite_colour", "placeholder": "e.g. teal",
            "dataType": "TEXT", "position": 0, "picklistOptions": [],
            "locationId": "ve9EPM428h8vShlRW1KT", "model": "contact"})

SPECS = (LIST_CUSTOM_FIELDS,)
