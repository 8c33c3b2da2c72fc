"""GHL Contacts: contacts, their tags, tasks, notes and campaigns."""

from __future__ import annotations

from functools import partial

from engine.spec.model import (
    CursorPaginator,
    Dedupe,
    Items,
    OffsetPaginator,
    Operation,
    Output,
    Signal,
    Token,
    Trigger,
    Upstream,
)
from operations._fields import (
    BUSINESS_CHOICES,
    CAMPAIGN_CHOICES,
    CONTACT_FIELDS,
    CONTACT_ID,
    CONTACT_SAMPLE,
    LOCATION_ID_BODY,
    LOCATION_ID_QUERY,
    NOTE_ID,
    TAGS,
    TASK_ID,
    USER_CHOICES,
    body,
    find_by_id,
    path,
    query,
)
from operations._fields import required

V = "2021-07-28"
op = partial(Operation, app="ghl", category="contacts")
WRITE = ("contacts.write",)
READ = ("contacts.readonly",)

TASK_SAMPLE = {"id": "zYXcBvjx1r7AjEJ9q5rP", "contactId": "ocQHyuzHvysMo5N5VsXc",
               "title": "Call back about the quote", "body": "Ask about the budget",
               "dueDate": "2026-02-01T11:00:00Z", "completed": False, "assignedTo": None}
NOTE_SAMPLE = {"id": "ITIyDOuFoGBbYv9B4SEb", "contactId": "ocQHyuzHvysMo5N5VsXc",
               "body": "Prefers a call after 5pm", "userId": None,
               "dateAdded": "2026-01-15T10:30:00.000Z"}
TASK_FIELDS = (
    body("title", "Short title of the task, shown in the task list.", example="Call back"),
    body("body", "Longer description of what to do.", example="Ask about the budget"),
    body("dueDate", "When the task is due, ISO 8601 with time zone, e.g. 2026-02-01T11:00:00Z.",
         format="date-time", example="2026-02-01T11:00:00Z"),
    body("completed", "Whether the task is already done.", type="boolean", example=False),
    body("assignedTo", "Id of the GHL user the task is assigned to (see Search Users).",
         example="y0BeYjuRIlDwsDcOHOJo", choices_from=USER_CHOICES),
)
NOTE_FIELDS = (
    body("body", "The text of the note.", example="Prefers a call after 5pm"),
    body("title", "A short title shown above the note.", example="Follow-up summary"),
    body("userId", "Id of the GHL user the note is attributed to.", example="GCs5KuzPqTls7vWclkEV",
         choices_from=USER_CHOICES),
    body("color", "Colour of the note as a hex code, e.g. #FFAA00.", example="#FFAA00"),
    body("pinned", "Pin the note at the top of the contact's notes.", type="boolean", example=False),
)
CAMPAIGN_ID = path("campaignId", "The campaign's id (see List Campaigns).", example="EXAMPLE_CAMPAIGN_ID",
                   choices_from=CAMPAIGN_CHOICES)



CREATE_CONTACT = op(
    key="contacts.create_contact", kind="action", title="Create Contact",
    description="Creates a contact in the location. Fails with 400 when the location does not "
                "allow duplicates and the email or phone already exists; use Upsert Contact then.",
    upstream=Upstream(method="POST", path="/contacts/", version=V, scopes=WRITE),
    inputs=(LOCATION_ID_BODY, *CONTACT_FIELDS), output=Output(path="contact"),
    sample={"contact": CONTACT_SAMPLE})

UPDATE_CONTACT = op(
    key="contacts.update_contact", kind="action", title="Update Contact",
    description="Updates fields of a contact; fields left out keep their value. Tags given here "
                "replace the contact's tags (use Add Tags to add).",
    upstream=Upstream(method="PUT", path="/contacts/{contactId}", version=V, scopes=WRITE),
    inputs=(CONTACT_ID, *[f for f in CONTACT_FIELDS if f.name not in ("gender", "companyName")]),
    output=Output(path="contact"), sample={"succeded": True, "contact": CONTACT_SAMPLE})

FIND_CONTACT = op(
    key="contacts.find_contact", kind="action", search=True, title="Find Contact",
    create_with="contacts.create_contact",
    description="Finds the contact matching an email or phone number, following the location's "
                "Allow Duplicate Contact setting. Returns {contact: null} when none matches.",
    upstream=Upstream(method="GET", path="/contacts/search/duplicate", version=V, scopes=READ),
    inputs=(LOCATION_ID_QUERY,
            query("email", "Email to look for (exact match, case-insensitive).", format="email",
                  example="rosan@example.com"),
            query("number", "Phone number to look for, E.164 form (+ and country code).",
                  format="phone", example="+14155550123")),
    output=Output(path="contact"), sample={"contact": CONTACT_SAMPLE})

DELETE_CONTACT = op(
    key="contacts.delete_contact", kind="action", title="Delete Contact",
    description="Deletes a contact and everything attached to it. This cannot be undone.",
    upstream=Upstream(method="DELETE", path="/contacts/{contactId}", version=V, scopes=WRITE),
    inputs=(CONTACT_ID,), sample={"succeded": True})

UPSERT_CONTACT = op(
    key="contacts.upsert_contact", kind="action", title="Upsert Contact",
    description="Creates the contact, or updates the one matching its email or phone (by the "
                "location's duplicate settings). 'new' in the result tells which happened; given "
                "tags are added to existing ones.",
    upstream=Upstream(method="POST", path="/contacts/upsert", version=V, scopes=WRITE,
                      safe_to_retry=True),
    inputs=(LOCATION_ID_BODY, *CONTACT_FIELDS,
            body("createNewIfDuplicateAllowed", "When the location allows duplicates, create a new "
                 "contact instead of updating the match.", type="boolean", example=False)),
    output=Output(path="contact"),
    sample={"new": True, "contact": CONTACT_SAMPLE, "traceId": "0c52f1ef-2a2b-4f0b-9f5c-4c1b2f0e9d11"})

ADD_TAGS = op(
    key="contacts.add_tags_to_contact", kind="action", title="Add Tags to Contact",
    description="Adds tags to a contact, keeping the ones it has. Tags that do not exist are created.",
    upstream=Upstream(method="POST", path="/contacts/{contactId}/tags", version=V, scopes=WRITE,
                      safe_to_retry=True),
    inputs=(CONTACT_ID, TAGS.model_copy(update={"required": True})),
    sample={"tags": ["vip", "newsletter"]})

REMOVE_TAGS = op(
    key="contacts.remove_tags_from_contact", kind="action", title="Remove Tags from Contact",
    description="Removes the given tags from a contact; tags it does not have are ignored.",
    upstream=Upstream(method="DELETE", path="/contacts/{contactId}/tags", version=V, scopes=WRITE),
    inputs=(CONTACT_ID, TAGS.model_copy(update={"required": True})), sample={"tags": ["newsletter"]})

BULK_TAGS = op(
    key="contacts.bulk_update_contact_tags", kind="action", title="Bulk Update Contact Tags",
    description="Adds tags to, or removes tags from, many contacts in one request.",
    upstream=Upstream(method="POST", path="/contacts/bulk/tags/update/{type}", version=V,
                      safe_to_retry=True),
    inputs=(path("type", "'add' to add the tags, 'remove' to remove them.", enum=("add", "remove"),
                 example="add"),
            LOCATION_ID_BODY,
            body("contacts", "Ids of the contacts to update (see Search Contacts).", type="array",
                 items="string", required=True, example=["ocQHyuzHvysMo5N5VsXc"]),
            TAGS.model_copy(update={"required": True}),
            body("removeAllTags", "With type 'remove': remove every tag of these contacts.",
                 type="boolean", example=False)),
    sample={"succeded": True, "errorCount": 0, "responses": []})

CREATE_TASK = op(
    key="contacts.create_contact_task", kind="action", title="Create Contact Task",
    description="Creates a task on a contact, e.g. a call-back reminder for a user.",
    upstream=Upstream(method="POST", path="/contacts/{contactId}/tasks", version=V, scopes=WRITE),
    inputs=(CONTACT_ID, *required(TASK_FIELDS, "title", "dueDate", "completed")),
    output=Output(path="task"), sample={"task": TASK_SAMPLE})

UPDATE_TASK = op(
    key="contacts.update_contact_task", kind="action", title="Update Contact Task",
    description="Updates a contact's task; fields left out keep their value.",
    upstream=Upstream(method="PUT", path="/contacts/{contactId}/tasks/{taskId}", version=V, scopes=WRITE),
    inputs=(CONTACT_ID, TASK_ID, *TASK_FIELDS), output=Output(path="task"), sample={"task": TASK_SAMPLE})

COMPLETE_TASK = op(
    key="contacts.complete_contact_task", kind="action", title="Complete Contact Task",
    description="Marks a contact's task as completed (or not completed).",
    upstream=Upstream(method="PUT", path="/contacts/{contactId}/tasks/{taskId}/completed", version=V,
                      scopes=WRITE),
    inputs=(CONTACT_ID, TASK_ID,
            body("completed", "true to mark the task done, false to reopen it.", type="boolean",
                 required=True, example=True)),
    output=Output(path="task"), sample={"task": {**TASK_SAMPLE, "completed": True}})

DELETE_TASK = op(
    key="contacts.delete_contact_task", kind="action", title="Delete Contact Task",
    description="Deletes a task from a contact.",
    upstream=Upstream(method="DELETE", path="/contacts/{contactId}/tasks/{taskId}", version=V, scopes=WRITE),
    inputs=(CONTACT_ID, TASK_ID), sample={"succeded": True})

CREATE_NOTE = op(
    key="contacts.create_contact_note", kind="action", title="Create Contact Note",
    description="Adds a note to a contact, e.g. the text of an inbound message.",
    upstream=Upstream(method="POST", path="/contacts/{contactId}/notes", version=V, scopes=WRITE),
    inputs=(CONTACT_ID, *required(NOTE_FIELDS, "body")), output=Output(path="note"),
    sample={"note": NOTE_SAMPLE})

UPDATE_NOTE = op(
    key="contacts.update_contact_note", kind="action", title="Update Contact Note",
    description="Changes the text or title of a contact's note.",
    upstream=Upstream(method="PUT", path="/contacts/{contactId}/notes/{id}", version=V, scopes=WRITE),
    inputs=(CONTACT_ID, NOTE_ID, *NOTE_FIELDS), output=Output(path="note"), sample={"note": NOTE_SAMPLE})

DELETE_NOTE = op(
    key="contacts.delete_contact_note", kind="action", title="Delete Contact Note",
    description="Deletes a note from a contact.",
    upstream=Upstream(method="DELETE", path="/contacts/{contactId}/notes/{id}", version=V, scopes=WRITE),
    inputs=(CONTACT_ID, NOTE_ID), sample={"succeded": True})

ADD_TO_CAMPAIGN = op(
    key="contacts.add_contact_to_campaign", kind="action", title="Add Contact to Campaign",
    description="Adds a contact to a campaign, which starts sending the campaign's messages.",
    upstream=Upstream(method="POST", path="/contacts/{contactId}/campaigns/{campaignId}", version=V,
                      scopes=WRITE, safe_to_retry=True),
    inputs=(CONTACT_ID, CAMPAIGN_ID), sample={"succeded": True})

REMOVE_FROM_CAMPAIGN = op(
    key="contacts.remove_from_campaign", kind="action", title="Remove from Campaign",
    description="Removes a contact from one campaign.",
    upstream=Upstream(method="DELETE", path="/contacts/{contactId}/campaigns/{campaignId}", version=V,
                      scopes=WRITE),
    inputs=(CONTACT_ID, CAMPAIGN_ID), sample={"succeded": True})

REMOVE_FROM_ALL_CAMPAIGNS = op(
    key="contacts.remove_from_all_campaigns", kind="action", title="Remove from All Campaigns",
    description="Removes a contact from every campaign it is in.",
    upstream=Upstream(method="DELETE", path="/contacts/{contactId}/campaigns/removeAll", version=V,
                      scopes=WRITE),
    inputs=(CONTACT_ID,), sample={"succeded": True})

# ----------------------------------------------------------------------------- triggers

GET_CONTACT = op(
    key="contacts.get_contact", kind="trigger", title="Get Contact",
    description="Watches one contact and fires when it changes (its dateUpdated moves).",
    upstream=Upstream(method="GET", path="/contacts/{contactId}", version=V, scopes=READ),
    inputs=(CONTACT_ID,),
    trigger=Trigger(events=Signal(types=("ContactUpdate", "ContactTagUpdate", "ContactDndUpdate"),
                        match={"contactId": "id"}),
                    items=Items(path="contact", timestamp_field="dateUpdated", single=True),
                    dedupe=Dedupe(strategy="updated", updated_field="dateUpdated")),
    sample=CONTACT_SAMPLE)

SEARCH_CONTACTS = op(
    key="contacts.search_contacts", kind="trigger", title="Search Contacts",
    description="Fires for each contact added or changed that matches the query and filters, "
                "including one that comes to match (e.g. when it is tagged). Reads POST "
                "/contacts/search newest-updated first.",
    upstream=Upstream(method="POST", path="/contacts/search", version=V, scopes=READ,
                      safe_to_retry=True),
    inputs=(LOCATION_ID_BODY,
            body("query", "Free text matched against name, email, phone and company.",
                 example="rosan"),
            body("filters", "GHL search filters, e.g. [{\"field\": \"tags\", \"operator\": "
                 "\"eq\", \"value\": \"vip\"}]; operators eq, not_eq, contains, exists, "
                 "not_exists, range.", type="array", items="object",
                 example=[{"field": "tags", "operator": "eq", "value": "vip"}]),
            body("sort", "Sort order, e.g. [{\"field\": \"dateUpdated\", \"direction\": "
                 "\"desc\"}]; field dateAdded or dateUpdated. The trigger needs the default, "
                 "newest-updated first, to see every change.", type="array", items="object",
                 default=[{"field": "dateUpdated", "direction": "desc"}]),
            body("pageLimit", "Contacts per page, 1 to 500; the engine pages for you.",
                 type="integer", example=100),
            body("searchAfter", "Where to start: the searchAfter value of a contact, to read the "
                 "contacts after it; the engine pages for you.", type="array")),
    trigger=Trigger(events=Signal(types=("ContactCreate", "ContactUpdate", "ContactTagUpdate",
                        "ContactDndUpdate")),
                    items=Items(path="contacts", timestamp_field="dateUpdated"),
                    # searchAfter, not page numbers: a position that stays put while new
                    # contacts arrive, so a read cut short resumes where it stopped
                    paginator=CursorPaginator(
                        tokens=(Token(param="searchAfter", path="searchAfter",
                                      source="last_item"),),
                        size_param="pageLimit", page_size=100, max_page_size=500),
                    dedupe=Dedupe(strategy="updated", updated_field="dateUpdated",
                                  order="newest_first")),
    sample={**CONTACT_SAMPLE, "dateUpdated": "2026-02-03T09:12:44.000Z"})

GET_CONTACTS_BY_BUSINESS = op(
    key="contacts.get_contacts_by_business", kind="trigger", title="Get Contacts by Business",
    description="Fires for each new contact linked to a business (company record), newest first.",
    upstream=Upstream(method="GET", path="/contacts/business/{businessId}", version=V, scopes=READ),
    inputs=(path("businessId", "The business's id, as returned by Create Business or List "
                 "Businesses by Location.", example="BUSexample0000000001",
                 choices_from=BUSINESS_CHOICES),
            LOCATION_ID_QUERY,
            query("query", "Free text matched against the contacts' name, email and phone.",
                  example="rosan"),
            query("limit", "Contacts per page; the engine pages for you.", type="integer",
                  example=25),
            query("skip", "Contacts to skip; the engine pages for you.", type="integer",
                  example=0)),
    trigger=Trigger(items=Items(path="contacts", timestamp_field="dateAdded"),
                    paginator=OffsetPaginator(offset_param="skip", size_param="limit",
                                              page_size=100),
                    dedupe=Dedupe(strategy="new", order="newest_first")),
    sample={**CONTACT_SAMPLE, "businessId": "BUSexample0000000001"})

GET_DUPLICATE_CONTACT = op(
    key="contacts.get_duplicate_contact", kind="trigger", title="Get Duplicate Contact",
    description="Watches for the contact matching an email or phone (by the location's duplicate "
                "settings): fires when one appears and again each time it is updated.",
    upstream=Upstream(method="GET", path="/contacts/search/duplicate", version=V, scopes=READ),
    inputs=FIND_CONTACT.inputs,
    trigger=Trigger(events=Signal(types=("ContactCreate", "ContactUpdate", "ContactTagUpdate",
                        "ContactDndUpdate")),
                    items=Items(path="contact", timestamp_field="dateUpdated", single=True),
                    dedupe=Dedupe(strategy="updated", updated_field="dateUpdated")),
    sample=CONTACT_SAMPLE)

GET_CONTACT_APPOINTMENTS = op(
    key="contacts.get_contact_appointments", kind="trigger", title="Get Contact Appointments",
    description="Fires for each new appointment booked for a contact, on any calendar.",
    upstream=Upstream(method="GET", path="/contacts/{contactId}/appointments", version=V,
                      scopes=READ),
    inputs=(CONTACT_ID,),
    trigger=Trigger(events=Signal(types=("AppointmentCreate", "AppointmentUpdate",
                        "AppointmentDelete"), match={"contactId": "appointment.contactId"}),
                    items=Items(path="events", timestamp_field="dateAdded"),
                    dedupe=Dedupe(strategy="new")),
    sample={"id": "EVTexample0000000001", "calendarId": "CALexample0000000001",
            "contactId": "ocQHyuzHvysMo5N5VsXc", "locationId": "ve9EPM428h8vShlRW1KT",
            "title": "Discovery call", "appointmentStatus": "confirmed",
            "assignedUserId": "USRexample0000000001", "startTime": "2026-03-02T10:00:00-05:00",
            "endTime": "2026-03-02T10:30:00-05:00", "dateAdded": "2026-02-20T15:04:05.000Z",
            "dateUpdated": "2026-02-20T15:04:05.000Z"})

GET_CONTACT_TASKS = op(
    key="contacts.get_contact_tasks", kind="trigger", title="Get Contact Tasks",
    description="Fires for each new task on a contact, whatever its due date (tasks carry no "
                "created time, so new ones are told by id).",
    upstream=Upstream(method="GET", path="/contacts/{contactId}/tasks", version=V, scopes=READ),
    inputs=(CONTACT_ID,),
    trigger=Trigger(events=Signal(types=("TaskCreate", "TaskComplete"),
                        match={"contactId": "contactId"}),
                    items=Items(path="tasks"),
                    dedupe=Dedupe(strategy="new")),
    sample=TASK_SAMPLE)

GET_CONTACT_TASK = op(
    key="contacts.get_contact_task_by_id", kind="trigger", title="Get Contact Task by ID",
    description="Watches one task and fires when it changes, e.g. it is completed or its due "
                "date moves (tasks carry no updated time, so a change of content counts).",
    upstream=Upstream(method="GET", path="/contacts/{contactId}/tasks/{taskId}", version=V,
                      scopes=READ),
    inputs=(CONTACT_ID, TASK_ID),
    trigger=Trigger(events=Signal(types=("TaskComplete",), match={"contactId": "contactId",
                        "taskId": "id"}),
                    items=Items(path="task", single=True), dedupe=Dedupe(strategy="changed")),
    sample=TASK_SAMPLE)

GET_CONTACT_NOTES = op(
    key="contacts.get_contact_notes", kind="trigger", title="Get Contact Notes",
    description="Fires for each new note on a contact.",
    upstream=Upstream(method="GET", path="/contacts/{contactId}/notes", version=V, scopes=READ),
    inputs=(CONTACT_ID,),
    trigger=Trigger(events=Signal(types=("NoteCreate",), match={"contactId": "contactId"}),
                    items=Items(path="notes", timestamp_field="dateAdded"),
                    dedupe=Dedupe(strategy="new")),
    sample=NOTE_SAMPLE)

GET_CONTACT_NOTE = op(
    key="contacts.get_contact_note_by_id", kind="trigger", title="Get Contact Note by ID",
    description="Watches one note and fires when its text or title is edited (notes carry only "
                "their creation time, so a change of content counts).",
    upstream=Upstream(method="GET", path="/contacts/{contactId}/notes/{id}", version=V, scopes=READ),
    inputs=(CONTACT_ID, NOTE_ID),
    trigger=Trigger(events=Signal(types=("NoteUpdate",), match={"contactId": "contactId",
                        "id": "id"}),
                    items=Items(path="note", single=True), dedupe=Dedupe(strategy="changed")),
    sample=NOTE_SAMPLE)

LIST_CONTACTS_DEPRECATED = op(
    key="contacts.list_contacts_deprecated", kind="trigger", title="List Contacts (Deprecated)",
    description="Fires for each new contact, read newest first with GHL's older list endpoint. "
                "GHL marks it deprecated; prefer Search Contacts.",
    upstream=Upstream(method="GET", path="/contacts/", version=V, scopes=READ),
    inputs=(LOCATION_ID_QUERY,
            query("query", "Free text matched against name, email and phone.", example="rosan"),
            query("limit", "Contacts per page, at most 100; the engine pages for you.",
                  type="integer", example=100),
            query("startAfterId", "Cursor: id of the last contact of the previous page; the "
                  "engine pages for you.", example="ocQHyuzHvysMo5N5VsXc"),
            query("startAfter", "Cursor: dateAdded of the last contact of the previous page, in "
                  "epoch milliseconds; the engine pages for you.", type="integer",
                  example=1767225600000)),
    trigger=Trigger(events=Signal(types=("ContactCreate",)),
                    items=Items(path="contacts", timestamp_field="dateAdded"),
                    paginator=CursorPaginator(
                        tokens=(Token(param="startAfterId", path="meta.startAfterId"),
                                Token(param="startAfter", path="meta.startAfter")),
                        size_param="limit", page_size=100),
                    dedupe=Dedupe(strategy="new", order="newest_first")),
    sample=CONTACT_SAMPLE)

NEW_CONTACT = op(
    key="contacts.new_contact", kind="trigger", title="New Contact",
    description="Fires once for each contact added to the location (not when one changes), "
                "newest first by dateAdded, optionally only those matching the query and "
                "filters. Reads POST /contacts/search sorted by dateAdded.",
    upstream=SEARCH_CONTACTS.upstream,
    inputs=tuple(
        f.model_copy(update={"help": "Sort order; the trigger needs newest-added first "
                                     "([{\"field\": \"dateAdded\", \"direction\": \"desc\"}]), "
                                     "the default.",
                             "default": [{"field": "dateAdded", "direction": "desc"}]})
        if f.name == "sort" else f
        for f in SEARCH_CONTACTS.inputs),
    trigger=Trigger(events=Signal(types=("ContactCreate",)),
                    items=Items(path="contacts", timestamp_field="dateAdded"),
                    paginator=SEARCH_CONTACTS.trigger.paginator,
                    dedupe=Dedupe(strategy="new", order="newest_first")),
    sample=CONTACT_SAMPLE)

FIND_CONTACT_BY_ID = find_by_id(
    GET_CONTACT, "contacts.find_contact_by_id", "Find Contact by ID",
    "Returns one contact by its id, with its tags, custom fields and DND settings.")
FIND_TASK_BY_ID = find_by_id(
    GET_CONTACT_TASK, "contacts.find_contact_task_by_id", "Find Contact Task by ID",
    "Returns one task of a contact by its id: title, due date, whether it is completed.")
FIND_NOTE_BY_ID = find_by_id(
    GET_CONTACT_NOTE, "contacts.find_contact_note_by_id", "Find Contact Note by ID",
    "Returns one note of a contact by its id.")

# Find Contact and Get Duplicate Contact share GET /contacts/search/duplicate; where one route
# must answer for both (the sandbox), the first listed here, Find Contact, does.
SPECS = (
    GET_CONTACT, SEARCH_CONTACTS,
    CREATE_CONTACT, UPDATE_CONTACT, FIND_CONTACT, DELETE_CONTACT, UPSERT_CONTACT, ADD_TAGS,
    REMOVE_TAGS, BULK_TAGS, CREATE_TASK, UPDATE_TASK, COMPLETE_TASK, DELETE_TASK, CREATE_NOTE,
    UPDATE_NOTE, DELETE_NOTE, ADD_TO_CAMPAIGN, REMOVE_FROM_CAMPAIGN, REMOVE_FROM_ALL_CAMPAIGNS,
    GET_CONTACTS_BY_BUSINESS, GET_DUPLICATE_CONTACT, GET_CONTACT_APPOINTMENTS, GET_CONTACT_TASKS,
    GET_CONTACT_TASK, GET_CONTACT_NOTES, GET_CONTACT_NOTE, LIST_CONTACTS_DEPRECATED,
    NEW_CONTACT, FIND_CONTACT_BY_ID, FIND_TASK_BY_ID, FIND_NOTE_BY_ID,
)
