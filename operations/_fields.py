"""Inputs shared by many operations, defined once and reused by name, and three small
constructors so a spec reads as a list of fields."""

from __future__ import annotations

from typing import Any

from engine.spec.model import ChoicesFrom, FieldsFrom, Input, Operation, Output


def path(name: str, help: str, **kw: Any) -> Input:
    return Input(name=name, location="path", required=True, help=help, **kw)


def query(name: str, help: str, **kw: Any) -> Input:
    return Input(name=name, location="query", help=help, **kw)


def body(name: str, help: str, **kw: Any) -> Input:
    return Input(name=name, location="body", help=help, **kw)


def find_by_id(trigger: Operation, key: str, title: str, description: str) -> Operation:
    """The search action that reads the one object ``trigger`` watches, by its id: the same
    request and inputs, the object (at the trigger's items path) as the action's result."""
    assert trigger.trigger is not None and trigger.trigger.items.single
    items = trigger.trigger.items
    return Operation(key=key, app=trigger.app, category=trigger.category, group=trigger.group,
                     noun=trigger.noun, title=title, description=description, kind="action",
                     search=True,
                     upstream=trigger.upstream, inputs=trigger.inputs,
                     output=Output(path=items.path, id_field=items.id_field),
                     sample=trigger.sample if items.path == "$" else {items.path: trigger.sample})


def required(fields: tuple[Input, ...], *names: str) -> tuple[Input, ...]:
    """The same fields, with those named ``names`` marked required."""
    return tuple(f.model_copy(update={"required": True}) if f.name in names else f for f in fields)


# where the choices of an id input come from: the list triggers that declare them
USER_CHOICES = ChoicesFrom(trigger="users.list_users_by_location")
CALENDAR_CHOICES = ChoicesFrom(trigger="calendars.list_calendars")
CALENDAR_GROUP_CHOICES = ChoicesFrom(trigger="calendars.list_calendar_groups")
PIPELINE_CHOICES = ChoicesFrom(trigger="opportunities.list_pipelines")
STAGE_CHOICES = ChoicesFrom(trigger="opportunities.list_pipelines", each="stages", parent="pipelineId")
WORKFLOW_CHOICES = ChoicesFrom(trigger="workflows.list_workflows")
CAMPAIGN_CHOICES = ChoicesFrom(trigger="workflows.list_campaigns")
BUSINESS_CHOICES = ChoicesFrom(trigger="businesses.list_businesses_by_location")
BLOG_CHOICES = ChoicesFrom(trigger="other.get_blogs_by_location")
# the search that finds a contact's id from what a person knows (email, phone, name)
CONTACT_SEARCH = "contacts.find_contact"


def custom_fields(model: str) -> Input:
    """The ``customFields`` body input of an operation on GHL's ``model`` objects (``contact``,
    ``opportunity``): a form shows one field per custom field of that model."""
    return body(
        "customFields", "Custom field values as a list of {\"id\" or \"key\", \"field_value\"} "
        "objects; find ids with List Custom Fields.", type="array", items="object",
        example=[{"key": "favourite_colour", "field_value": "teal"}],
        fields_from=FieldsFrom(trigger="other.list_custom_fields", model=model))


LOCATION_ID_QUERY = query(
    "locationId", "GHL sub-account (location) id. Left empty, the connection's location is used.",
    required=True, fill="location_id", example="ve9EPM428h8vShlRW1KT")
LOCATION_ID_BODY = body(
    "locationId", "GHL sub-account (location) id. Left empty, the connection's location is used.",
    required=True, fill="location_id", example="ve9EPM428h8vShlRW1KT")
CONTACT_ID = path("contactId", "The contact's id, as returned by Create Contact or Search "
                  "Contacts (20 characters, e.g. 'ocQHyuzHvysMo5N5VsXc').", example="ocQHyuzHvysMo5N5VsXc",
                  found_by=CONTACT_SEARCH)
TASK_ID = path("taskId", "The task's id, as returned by Create Contact Task or Get Contact Tasks.",
               example="zYXcBvjx1r7AjEJ9q5rP")
NOTE_ID = path("id", "The note's id, as returned by Create Contact Note or Get Contact Notes.",
               example="ITIyDOuFoGBbYv9B4SEb")
USER_ID_BODY = body("assignedTo", "Id of the GHL user this is assigned to (see Search Users).",
                    example="y0BeYjuRIlDwsDcOHOJo", choices_from=USER_CHOICES)
TAGS = body("tags", "Tags as a list of strings, e.g. [\"vip\", \"newsletter\"]. Tags that do not "
            "exist yet are created.", type="array", items="string", example=["vip"])

CONTACT_FIELDS: tuple[Input, ...] = (
    body("firstName", "First name of the contact.", example="Rosan"),
    body("lastName", "Last name of the contact.", example="Deo"),
    body("name", "Full name, when first and last name are not given separately.", example="Rosan Deo"),
    body("email", "Email address; GHL matches duplicates on it.", format="email", example="rosan@example.com"),
    body("phone", "Phone number in E.164 form (+ and country code), e.g. +14155550123.",
         format="phone", example="+14155550123"),
    body("gender", "Gender, free text as GHL stores it (e.g. male, female).", example="female"),
    body("address1", "Street address.", example="3535 1st St N"),
    body("city", "City name.", example="Dolomite"),
    body("state", "State or region.", example="AL"),
    body("postalCode", "Postal or ZIP code.", example="35061"),
    body("country", "Two-letter ISO country code, e.g. US, AU, GB.", example="US"),
    body("website", "Website URL.", format="uri", example="https://example.com"),
    body("timezone", "IANA time zone name, e.g. America/Chicago.", example="America/Chicago"),
    body("companyName", "Name of the contact's company.", example="DGS VolMAX"),
    body("source", "Where the contact came from, shown in GHL (e.g. 'public api', 'webinar').",
         example="public api"),
    body("dateOfBirth", "Date of birth as YYYY-MM-DD.", format="date", example="1990-09-25"),
    body("dnd", "Do Not Disturb for all channels: true stops all messages to the contact.",
         type="boolean", example=False),
    body("dndSettings", "Per-channel DND, e.g. {\"SMS\": {\"status\": \"active\"}}.", type="object"),
    body("inboundDndSettings", "Inbound DND settings, e.g. {\"all\": {\"status\": \"inactive\"}}.",
         type="object"),
    TAGS,
    custom_fields("contact"),
    USER_ID_BODY,
)

CONTACT_SAMPLE = {
    "id": "ocQHyuzHvysMo5N5VsXc", "locationId": "ve9EPM428h8vShlRW1KT", "firstName": "Rosan",
    "lastName": "Deo", "email": "rosan@example.com", "phone": "+14155550123", "tags": ["vip"],
    "source": "public api", "type": "lead", "dateAdded": "2026-01-15T10:30:00.000Z",
    "dateUpdated": "2026-01-15T10:30:00.000Z", "customFields": [],
}
