"""GHL Calendars & Appointments: calendar groups, calendars, free slots, appointments, blocked
slots, appointment notes, calendar notifications and bookable resources (rooms, equipment)."""

from __future__ import annotations

from functools import partial

from engine.spec.model import (
    Choices,
    Dedupe,
    Items,
    NoPagination,
    OffsetPaginator,
    Operation,
    Output,
    Signal,
    TimeWindow,
    Trigger,
    Upstream,
)
from operations._fields import (CALENDAR_CHOICES, CALENDAR_GROUP_CHOICES, CONTACT_SEARCH,
                               LOCATION_ID_BODY, LOCATION_ID_QUERY, USER_CHOICES, body, find_by_id,
                               path, query)
from operations._fields import required

V = "2021-04-15"
op = partial(Operation, app="ghl", category="calendars")
CAL_READ, CAL_WRITE = ("calendars.readonly",), ("calendars.write",)
GROUPS_READ, GROUPS_WRITE = ("calendars/groups.readonly",), ("calendars/groups.write",)
EVENTS_READ, EVENTS_WRITE = ("calendars/events.readonly",), ("calendars/events.write",)
RES_READ, RES_WRITE = ("calendars/resources.readonly",), ("calendars/resources.write",)

# ----------------------------------------------------------------------------- shared inputs

CALENDAR_ID = path("calendarId", "The calendar's id, as returned by Create Calendar or List "
                   "Calendars (also in the calendar's booking-widget settings).",
                   example="CALexample0000000001", choices_from=CALENDAR_CHOICES)
GROUP_ID = path("groupId", "The calendar group's id, as returned by Create Calendar Group or "
                "List Calendar Groups.", example="GRPexample0000000001",
                choices_from=CALENDAR_GROUP_CHOICES)
EVENT_ID = path("eventId", "The appointment or event id, as returned by Create Appointment or "
                "List Calendar Events.", example="EVTexample0000000001")
APPOINTMENT_ID = path("appointmentId", "The appointment's id (an event id from Create Appointment "
                      "or List Calendar Events).", example="EVTexample0000000001")
APPT_NOTE_ID = path("noteId", "The appointment note's id, as returned by Create Appointment Note "
                    "or List Appointment Notes.", example="NOTexample0000000001")
NOTIFICATION_ID = path("notificationId", "The notification's id (its _id), as returned by Create "
                       "Calendar Notification or List Calendar Notifications.",
                       example="NTFexample0000000001")
RESOURCE_TYPE = path("resourceType", "Kind of resource: 'rooms' or 'equipments'.",
                     enum=("rooms", "equipments"), example="rooms")
RESOURCE_ID = path("id", "The resource's id, as returned by Create Calendar Resource or List "
                   "Calendar Resources.", example="RESexample0000000001")
MS = "Epoch milliseconds, e.g. 1767225600000 for 2026-01-01T00:00:00Z."
ISO_TIME = "ISO 8601 with offset, e.g. 2026-03-02T10:00:00-05:00."

GROUP_SAMPLE = {"id": "GRPexample0000000001", "locationId": "ve9EPM428h8vShlRW1KT",
                "name": "Sales team", "description": "Discovery calls with the sales team",
                "slug": "sales-team", "isActive": True}
CALENDAR_SAMPLE = {
    "id": "CALexample0000000001", "locationId": "ve9EPM428h8vShlRW1KT",
    "groupId": "GRPexample0000000001", "name": "Discovery call", "description": "30 minute intro",
    "slug": "discovery-call", "widgetSlug": "discovery-call", "calendarType": "event",
    "eventTitle": "{{contact.name}} - discovery call", "eventColor": "#039be5",
    "slotDuration": 30, "slotDurationUnit": "mins", "slotInterval": 30, "slotIntervalUnit": "mins",
    "teamMembers": [{"userId": "USRexample0000000001", "priority": 1, "isPrimary": True}],
    "openHours": [{"daysOfTheWeek": [1, 2, 3, 4, 5],
                   "hours": [{"openHour": 9, "openMinute": 0, "closeHour": 17, "closeMinute": 0}]}],
    "autoConfirm": True, "allowReschedule": True, "allowCancellation": True, "isActive": True,
}
EVENT_SAMPLE = {
    "id": "EVTexample0000000001", "calendarId": "CALexample0000000001",
    "locationId": "ve9EPM428h8vShlRW1KT", "contactId": "ocQHyuzHvysMo5N5VsXc",
    "groupId": "GRPexample0000000001", "title": "Discovery call with Rosan Deo",
    "appointmentStatus": "confirmed", "assignedUserId": "USRexample0000000001", "users": [],
    "address": "https://meet.example.com/abc-defg-hij", "notes": "", "isRecurring": False,
    "startTime": "2026-03-02T10:00:00-05:00", "endTime": "2026-03-02T10:30:00-05:00",
    "dateAdded": "2026-02-20T15:04:05.000Z", "dateUpdated": "2026-02-20T15:04:05.000Z",
}
BLOCK_SAMPLE = {"id": "BLKexample0000000001", "locationId": "ve9EPM428h8vShlRW1KT",
                "calendarId": "CALexample0000000001", "title": "Team offsite",
                "startTime": "2026-03-05T09:00:00-05:00", "endTime": "2026-03-05T17:00:00-05:00"}
APPT_NOTE_SAMPLE = {"id": "NOTexample0000000001", "body": "Asked for a quote on whitening",
                    "userId": "USRexample0000000001", "contactId": "ocQHyuzHvysMo5N5VsXc",
                    "dateAdded": "2026-03-02T10:35:00.000Z"}
NOTIFICATION_SAMPLE = {
    "_id": "NTFexample0000000001", "receiverType": "contact", "channel": "email",
    "notificationType": "reminder", "isActive": True, "subject": "See you soon",
    "body": "Your appointment is tomorrow.", "beforeTime": [{"timeOffset": 1, "unit": "days"}],
    "additionalEmailIds": [], "additionalPhoneNumbers": [], "selectedUsers": [], "deleted": False,
}
RESOURCE_SAMPLE = {"id": "RESexample0000000001", "locationId": "ve9EPM428h8vShlRW1KT",
                   "name": "Treatment room 1", "resourceType": "rooms", "isActive": True,
                   "description": "Ground floor, wheelchair access", "quantity": 1,
                   "outOfService": 0, "capacity": 2, "calendarIds": ["CALexample0000000001"]}

# ----------------------------------------------------------------------------- groups

GROUP_FIELDS = (
    body("name", "Name of the group, shown to staff.", example="Sales team"),
    body("description", "What the group's calendars are for.",
         example="Discovery calls with the sales team"),
    body("slug", "URL slug of the group's booking page: lowercase letters, digits and dashes. "
         "Check it with Validate Group Slug first.", example="sales-team"),
)



CREATE_GROUP = op(
    key="calendars.create_calendar_group", kind="action", title="Create Calendar Group",
    description="Creates a calendar group, which bundles calendars under one booking page.",
    upstream=Upstream(method="POST", path="/calendars/groups", version=V, scopes=GROUPS_WRITE),
    inputs=(LOCATION_ID_BODY, *required(GROUP_FIELDS, "name", "description", "slug"),
            body("isActive", "false creates the group disabled.", type="boolean", example=True)),
    output=Output(path="group"), sample={"group": GROUP_SAMPLE})

UPDATE_GROUP = op(
    key="calendars.update_calendar_group", kind="action", title="Update Calendar Group",
    description="Renames a calendar group or changes its description or slug. GHL needs all "
                "three fields on every update.",
    upstream=Upstream(method="PUT", path="/calendars/groups/{groupId}", version=V,
                      scopes=GROUPS_WRITE),
    inputs=(GROUP_ID, *required(GROUP_FIELDS, "name", "description", "slug")),
    output=Output(path="group"), sample={"group": GROUP_SAMPLE})

UPDATE_GROUP_STATUS = op(
    key="calendars.update_group_status", kind="action", title="Update Group Status",
    description="Enables or disables a calendar group (GHL names this endpoint 'Disable Group', "
                "but isActive true enables it again).",
    upstream=Upstream(method="PUT", path="/calendars/groups/{groupId}/status", version=V,
                      scopes=GROUPS_WRITE),
    inputs=(GROUP_ID, body("isActive", "true to enable the group, false to disable it.",
                           type="boolean", required=True, example=False)),
    sample={"success": True})

DELETE_GROUP = op(
    key="calendars.delete_calendar_group", kind="action", title="Delete Calendar Group",
    description="Deletes a calendar group. Its calendars stay, without a group.",
    upstream=Upstream(method="DELETE", path="/calendars/groups/{groupId}", version=V,
                      scopes=GROUPS_WRITE),
    inputs=(GROUP_ID,), sample={"success": True})

VALIDATE_GROUP_SLUG = op(
    key="calendars.validate_group_slug", kind="action", search=True, title="Validate Group Slug",
    description="Tells whether a slug is still free for a new calendar group in the location.",
    upstream=Upstream(method="POST", path="/calendars/groups/validate-slug", version=V,
                      scopes=GROUPS_WRITE, safe_to_retry=True),
    inputs=(LOCATION_ID_BODY, body("slug", "The slug to check, e.g. sales-team.", required=True,
                                   example="sales-team")),
    sample={"available": True})

# ----------------------------------------------------------------------------- calendars

CALENDAR_FIELDS = (
    body("name", "Name of the calendar, shown on the booking page.", example="Discovery call"),
    body("description", "Short description shown on the booking page.", example="30 minute intro"),
    body("groupId", "Id of the calendar group to put it in (see List Calendar Groups).",
         example="GRPexample0000000001", choices_from=CALENDAR_GROUP_CHOICES),
    body("calendarType", "Kind of calendar; 'event' books one user, 'round_robin' spreads "
         "bookings over team members.", enum=("round_robin", "event", "class_booking",
                                              "collective", "service_booking", "personal"),
         example="event"),
    body("teamMembers", "Users who take bookings, e.g. [{\"userId\": \"...\", \"priority\": 1}]; "
         "required for round robin, collective, class and service calendars.", type="array",
         items="object", example=[{"userId": "USRexample0000000001", "priority": 1}]),
    body("eventType", "How round robin assigns bookings.",
         enum=("RoundRobin_OptimizeForAvailability", "RoundRobin_OptimizeForEqualDistribution")),
    body("slug", "URL slug of the booking page.", example="discovery-call"),
    body("widgetSlug", "Slug of the booking widget.", example="discovery-call"),
    body("widgetType", "'default' (neo layout) or 'classic'.", enum=("default", "classic")),
    body("eventTitle", "Title given to booked events; may use merge fields like "
         "{{contact.name}}.", example="{{contact.name}} - discovery call"),
    body("eventColor", "Colour of booked events as a hex code.", example="#039be5"),
    body("locationConfigurations", "Where meetings take place, e.g. [{\"kind\": \"custom\", "
         "\"location\": \"https://meet.example.com/x\"}]; kinds: custom, zoom_conference, "
         "google_conference, inbound_call, outbound_call, physical, booker, ms_teams_conference.",
         type="array", items="object"),
    body("slotDuration", "Length of a meeting, in slotDurationUnit.", type="integer", example=30),
    body("slotDurationUnit", "Unit of slotDuration.", enum=("mins", "hours"), example="mins"),
    body("slotInterval", "Gap between offered start times, in slotIntervalUnit.", type="integer",
         example=30),
    body("slotIntervalUnit", "Unit of slotInterval.", enum=("mins", "hours"), example="mins"),
    body("slotBuffer", "Free time kept after each meeting.", type="integer", example=0),
    body("preBuffer", "Free time kept before each meeting.", type="integer", example=0),
    body("appoinmentPerSlot", "Most bookings per slot per user (seats, for class calendars). "
         "GHL spells the name this way.", type="integer", example=1),
    body("appoinmentPerDay", "Most bookings per day.", type="integer"),
    body("allowBookingAfter", "Minimum notice before a booking, in allowBookingAfterUnit.",
         type="integer", example=1),
    body("allowBookingAfterUnit", "Unit of allowBookingAfter.",
         enum=("hours", "days", "weeks", "months"), example="days"),
    body("allowBookingFor", "How far ahead bookings are open, in allowBookingForUnit.",
         type="integer", example=30),
    body("allowBookingForUnit", "Unit of allowBookingFor.", enum=("days", "weeks", "months"),
         example="days"),
    body("openHours", "Weekly availability, e.g. [{\"daysOfTheWeek\": [1,2,3,4,5], \"hours\": "
         "[{\"openHour\": 9, \"openMinute\": 0, \"closeHour\": 17, \"closeMinute\": 0}]}].",
         type="array", items="object"),
    body("availabilities", "Custom availability for given dates (instead of openHours).",
         type="array", items="object"),
    body("enableRecurring", "Allow recurring bookings.", type="boolean"),
    body("recurring", "Recurring settings, e.g. {\"freq\": \"WEEKLY\", \"count\": 4}.",
         type="object"),
    body("formId", "Id of the form shown when booking.", example="FRMexample0000000001"),
    body("stickyContact", "Remember the contact's details on the booking widget.", type="boolean"),
    body("autoConfirm", "Confirm bookings automatically (otherwise they start as 'new').",
         type="boolean", example=True),
    body("allowReschedule", "Let contacts reschedule from their confirmation.", type="boolean"),
    body("allowCancellation", "Let contacts cancel from their confirmation.", type="boolean"),
    body("alertEmail", "Comma-separated emails told about new bookings.",
         example="frontdesk@example.com"),
    body("notes", "Notes added to every booked event.", example="Bring your x-rays"),
    body("isActive", "false keeps the calendar as a draft.", type="boolean", example=True),
)

CREATE_CALENDAR = op(
    key="calendars.create_calendar", kind="action", title="Create Calendar",
    description="Creates a booking calendar in the location. Only name is required; fields "
                "left out take GHL's defaults.",
    upstream=Upstream(method="POST", path="/calendars/", version=V, scopes=CAL_WRITE),
    inputs=(LOCATION_ID_BODY, *required(CALENDAR_FIELDS, "name")),
    output=Output(path="calendar"), sample={"calendar": CALENDAR_SAMPLE})

UPDATE_CALENDAR = op(
    key="calendars.update_calendar", kind="action", title="Update Calendar",
    description="Updates a calendar's settings; fields left out keep their value.",
    upstream=Upstream(method="PUT", path="/calendars/{calendarId}", version=V, scopes=CAL_WRITE),
    inputs=(CALENDAR_ID, *[f for f in CALENDAR_FIELDS if f.name != "calendarType"]),
    output=Output(path="calendar"), sample={"calendar": CALENDAR_SAMPLE})

DELETE_CALENDAR = op(
    key="calendars.delete_calendar", kind="action", title="Delete Calendar",
    description="Deletes a calendar. Booked appointments stay on the contacts.",
    upstream=Upstream(method="DELETE", path="/calendars/{calendarId}", version=V, scopes=CAL_WRITE),
    inputs=(CALENDAR_ID,), sample={"success": True})

# ----------------------------------------------------------------------------- appointments

APPOINTMENT_FIELDS = (
    body("calendarId", "Calendar to book on (see List Calendars).", example="CALexample0000000001",
         choices_from=CALENDAR_CHOICES),
    body("startTime", "Start of the appointment, " + ISO_TIME, format="date-time",
         example="2026-03-02T10:00:00-05:00"),
    body("endTime", "End of the appointment, " + ISO_TIME + " Left out, the calendar's slot "
         "length is used.", format="date-time", example="2026-03-02T10:30:00-05:00"),
    body("title", "Title of the appointment.", example="Discovery call with Rosan Deo"),
    body("appointmentStatus", "Status of the appointment.",
         enum=("new", "confirmed", "cancelled", "showed", "noshow", "invalid"),
         example="confirmed"),
    body("assignedUserId", "Id of the user who takes the appointment (see Search Users).",
         example="USRexample0000000001", choices_from=USER_CHOICES),
    body("description", "Longer description of the appointment.", example="Wants a quote"),
    body("address", "Where it takes place: a meeting link, phone number or street address.",
         example="https://meet.example.com/abc-defg-hij"),
    body("meetingLocationType", "Kind of meeting location.",
         enum=("custom", "zoom", "gmeet", "phone", "address", "ms_teams", "google"),
         example="custom"),
    body("meetingLocationId", "Id of one of the calendar's meeting locations "
         "(calendar.locationConfigurations), e.g. custom_0.", example="custom_0"),
    body("overrideLocationConfig", "true to use the given address instead of the calendar's "
         "location settings.", type="boolean"),
    body("ignoreDateRange", "Book even outside the calendar's notice and date range.",
         type="boolean", example=False),
    body("ignoreFreeSlotValidation", "Book even when the slot is not free.", type="boolean",
         example=False),
    body("toNotify", "false books without running automations or notifications.",
         type="boolean", example=True),
    body("rrule", "Recurrence rule (RFC 5545 RRULE, without DTSTART) for a recurring "
         "appointment, e.g. RRULE:FREQ=WEEKLY;COUNT=4.", example="RRULE:FREQ=WEEKLY;COUNT=4"),
)

CREATE_APPOINTMENT = op(
    key="calendars.create_appointment", kind="action", title="Create Appointment",
    description="Books an appointment for a contact on a calendar. GHL refuses a time that is "
                "not a free slot unless ignoreFreeSlotValidation is true.",
    upstream=Upstream(method="POST", path="/calendars/events/appointments", version=V,
                      scopes=EVENTS_WRITE),
    inputs=(LOCATION_ID_BODY,
            body("contactId", "The contact the appointment is for (see Search Contacts).",
                 required=True, example="ocQHyuzHvysMo5N5VsXc", found_by=CONTACT_SEARCH),
            *required(APPOINTMENT_FIELDS, "calendarId", "startTime")),
    sample=EVENT_SAMPLE)

UPDATE_APPOINTMENT = op(
    key="calendars.update_appointment", kind="action", title="Update Appointment",
    description="Reschedules an appointment or changes its status, title or owner; fields left "
                "out keep their value.",
    upstream=Upstream(method="PUT", path="/calendars/events/appointments/{eventId}", version=V,
                      scopes=EVENTS_WRITE),
    inputs=(EVENT_ID, *APPOINTMENT_FIELDS), sample=EVENT_SAMPLE)

DELETE_EVENT = op(
    key="calendars.delete_event", kind="action", title="Delete Event",
    description="Deletes an appointment or a blocked slot. To keep a record, set the "
                "appointment's status to cancelled with Update Appointment instead.",
    upstream=Upstream(method="DELETE", path="/calendars/events/{eventId}", version=V,
                      scopes=EVENTS_WRITE, json_body=True),  # the document defines a JSON body
    inputs=(EVENT_ID,), sample={"succeeded": True})

BLOCK_FIELDS = (
    LOCATION_ID_BODY,
    body("calendarId", "Calendar to block (required by GHL's document for block slots).",
         required=True, example="CALexample0000000001", choices_from=CALENDAR_CHOICES),
    body("assignedUserId", "User of the calendar whose time to block.",
         example="USRexample0000000001", choices_from=USER_CHOICES),
    body("title", "Why the time is blocked, shown in the calendar.", example="Team offsite"),
    body("startTime", "Start of the block, " + ISO_TIME, format="date-time",
         example="2026-03-05T09:00:00-05:00"),
    body("endTime", "End of the block, " + ISO_TIME, format="date-time",
         example="2026-03-05T17:00:00-05:00"),
)

CREATE_BLOCK_SLOT = op(
    key="calendars.create_block_slot", kind="action", title="Create Block Slot",
    description="Blocks a period on a calendar (or a user's time) so nobody can book it.",
    upstream=Upstream(method="POST", path="/calendars/events/block-slots", version=V,
                      scopes=EVENTS_WRITE),
    inputs=BLOCK_FIELDS, sample=BLOCK_SAMPLE)

UPDATE_BLOCK_SLOT = op(
    key="calendars.update_block_slot", kind="action", title="Update Block Slot",
    description="Moves or renames a blocked period. Remove it with Delete Event.",
    upstream=Upstream(method="PUT", path="/calendars/events/block-slots/{eventId}", version=V,
                      scopes=EVENTS_WRITE),
    inputs=(EVENT_ID, *BLOCK_FIELDS), sample=BLOCK_SAMPLE)

# ----------------------------------------------------------------------------- appointment notes

NOTE_BODY = body("body", "The text of the note.", required=True,
                 example="Asked for a quote on whitening")
NOTE_USER = body("userId", "Id of the user the note is attributed to.",
                 example="USRexample0000000001", choices_from=USER_CHOICES)

CREATE_APPT_NOTE = op(
    key="calendars.create_appointment_note", kind="action", title="Create Appointment Note",
    description="Adds a note to an appointment, e.g. what was agreed in the meeting.",
    upstream=Upstream(method="POST", path="/calendars/appointments/{appointmentId}/notes",
                      version=V, scopes=EVENTS_WRITE),
    inputs=(APPOINTMENT_ID, NOTE_BODY, NOTE_USER), output=Output(path="note"),
    sample={"note": APPT_NOTE_SAMPLE})

UPDATE_APPT_NOTE = op(
    key="calendars.update_appointment_note", kind="action", title="Update Appointment Note",
    description="Replaces the text of an appointment note.",
    upstream=Upstream(method="PUT", path="/calendars/appointments/{appointmentId}/notes/{noteId}",
                      version=V, scopes=EVENTS_WRITE),
    inputs=(APPOINTMENT_ID, APPT_NOTE_ID, NOTE_BODY, NOTE_USER), output=Output(path="note"),
    sample={"note": APPT_NOTE_SAMPLE})

DELETE_APPT_NOTE = op(
    key="calendars.delete_appointment_note", kind="action", title="Delete Appointment Note",
    description="Deletes a note from an appointment.",
    upstream=Upstream(method="DELETE",
                      path="/calendars/appointments/{appointmentId}/notes/{noteId}", version=V,
                      scopes=EVENTS_WRITE),
    inputs=(APPOINTMENT_ID, APPT_NOTE_ID), sample={"success": True})

# ----------------------------------------------------------------------------- notifications

NOTIFICATION_FIELDS = (
    body("receiverType", "Who receives it.",
         enum=("contact", "guest", "assignedUser", "emails", "phoneNumbers", "business"),
         example="contact"),
    body("channel", "How it is sent.", enum=("email", "inApp", "sms", "whatsapp"), example="email"),
    body("notificationType", "Which moment it is for.",
         enum=("booked", "confirmation", "cancellation", "reminder", "followup", "reschedule"),
         example="reminder"),
    body("isActive", "false keeps the notification but does not send it.", type="boolean",
         example=True),
    body("templateId", "Id of an email template to use (email only).", example="TPLexample000001"),
    body("subject", "Email subject (email only).", example="See you soon"),
    body("body", "Message text (email and SMS).", example="Your appointment is tomorrow."),
    body("beforeTime", "For reminders: when to send before the start, e.g. "
         "[{\"timeOffset\": 1, \"unit\": \"days\"}].", type="array", items="object"),
    body("afterTime", "For follow-ups: when to send after the end, e.g. "
         "[{\"timeOffset\": 2, \"unit\": \"hours\"}].", type="array", items="object"),
    body("additionalEmailIds", "Extra email addresses (receiverType 'emails').", type="array",
         items="string", example=["frontdesk@example.com"]),
    body("additionalPhoneNumbers", "Extra phone numbers, E.164 (receiverType 'phoneNumbers').",
         type="array", items="string", example=["+14155550123"]),
    body("selectedUsers", "User ids for in-app and business notifications.", type="array",
         items="string"),
    body("fromAddress", "Sender email address.", format="email", example="noreply@example.com"),
    body("fromName", "Sender name for email or SMS.", example="Example Dental"),
    body("fromNumber", "Sender phone number for SMS, E.164.", example="+14155550100"),
)

CREATE_NOTIFICATION = op(
    key="calendars.create_calendar_notification", kind="action",
    title="Create Calendar Notification",
    description="Adds one or more notifications (confirmation, reminder, follow-up...) to a "
                "calendar. GHL takes a list, so pass them in 'notifications'.",
    upstream=Upstream(method="POST", path="/calendars/{calendarId}/notifications", version=V,
                      scopes=EVENTS_WRITE, body_input="notifications"),
    inputs=(CALENDAR_ID,
            body("notifications", "The notifications to add, each an object with receiverType, "
                 "channel and notificationType (required) and the optional fields of Update "
                 "Notification, e.g. [{\"receiverType\": \"contact\", \"channel\": \"email\", "
                 "\"notificationType\": \"booked\"}].", type="array", items="object",
                 required=True, example=[{"receiverType": "contact", "channel": "email",
                                          "notificationType": "booked"}])),
    sample={"notifications": [NOTIFICATION_SAMPLE]})

UPDATE_NOTIFICATION = op(
    key="calendars.update_notification", kind="action", title="Update Notification",
    description="Changes a calendar notification; fields left out keep their value.",
    upstream=Upstream(method="PUT", path="/calendars/{calendarId}/notifications/{notificationId}",
                      version=V, scopes=EVENTS_WRITE),
    inputs=(CALENDAR_ID, NOTIFICATION_ID, *NOTIFICATION_FIELDS,
            body("deleted", "true marks the notification deleted.", type="boolean")),
    sample={"message": "Notification updated successfully"})

DELETE_NOTIFICATION = op(
    key="calendars.delete_notification", kind="action", title="Delete Notification",
    description="Deletes a notification from a calendar.",
    upstream=Upstream(method="DELETE",
                      path="/calendars/{calendarId}/notifications/{notificationId}", version=V,
                      scopes=EVENTS_WRITE),
    inputs=(CALENDAR_ID, NOTIFICATION_ID), sample={"message": "Notification deleted successfully"})

# ----------------------------------------------------------------------------- resources

RESOURCE_FIELDS = (
    body("name", "Name of the room or equipment.", example="Treatment room 1"),
    body("description", "What it is and where.", example="Ground floor, wheelchair access"),
    body("quantity", "How many units of this equipment exist (1 for a room).", type="integer",
         example=1),
    body("outOfService", "How many units are out of service.", type="integer", example=0),
    body("capacity", "How many people the room holds.", type="integer", example=2),
    body("calendarIds", "Service calendars that book this resource. One piece of equipment "
         "belongs to one calendar.", type="array", items="string",
         example=["CALexample0000000001"], choices_from=CALENDAR_CHOICES),
)

CREATE_RESOURCE = op(
    key="calendars.create_calendar_resource", kind="action", title="Create Calendar Resource",
    description="Creates a bookable room or piece of equipment for service calendars.",
    upstream=Upstream(method="POST", path="/calendars/resources/{resourceType}", version=V,
                      scopes=RES_WRITE),
    inputs=(RESOURCE_TYPE, LOCATION_ID_BODY,
            *required(RESOURCE_FIELDS, "name", "description", "quantity", "outOfService",
                       "capacity", "calendarIds")),
    sample=RESOURCE_SAMPLE)

UPDATE_RESOURCE = op(
    key="calendars.update_calendar_resource", kind="action", title="Update Calendar Resource",
    description="Updates a room or piece of equipment; fields left out keep their value.",
    upstream=Upstream(method="PUT", path="/calendars/resources/{resourceType}/{id}", version=V,
                      scopes=RES_WRITE),
    inputs=(RESOURCE_TYPE, RESOURCE_ID, LOCATION_ID_BODY.model_copy(update={"required": False}),
            *RESOURCE_FIELDS,
            body("isActive", "false takes the resource out of booking.", type="boolean")),
    sample=RESOURCE_SAMPLE)

DELETE_RESOURCE = op(
    key="calendars.delete_calendar_resource", kind="action", title="Delete Calendar Resource",
    description="Deletes a room or piece of equipment.",
    upstream=Upstream(method="DELETE", path="/calendars/resources/{resourceType}/{id}", version=V,
                      scopes=RES_WRITE),
    inputs=(RESOURCE_TYPE, RESOURCE_ID), sample={"success": True})

# ----------------------------------------------------------------------------- triggers

LIST_GROUPS = op(
    key="calendars.list_calendar_groups", kind="trigger", title="List Calendar Groups",
    description="Fires for each new calendar group in the location.",
    upstream=Upstream(method="GET", path="/calendars/groups", version=V, scopes=GROUPS_READ),
    inputs=(LOCATION_ID_QUERY,),
    trigger=Trigger(items=Items(path="groups"), dedupe=Dedupe(strategy="new"),
                    choices=(Choices(name="calendar_groups", noun="Calendar Group"),)),
    sample=GROUP_SAMPLE)

LIST_CALENDARS = op(
    key="calendars.list_calendars", kind="trigger", title="List Calendars",
    description="Fires for each new calendar in the location (optionally in one group).",
    upstream=Upstream(method="GET", path="/calendars/", version=V, scopes=CAL_READ),
    inputs=(LOCATION_ID_QUERY,
            query("groupId", "Only calendars of this group (see List Calendar Groups).",
                  example="GRPexample0000000001", choices_from=CALENDAR_GROUP_CHOICES),
            query("showDrafted", "Include draft (inactive) calendars; GHL's default is true.",
                  type="boolean", example=True)),
    trigger=Trigger(items=Items(path="calendars"), dedupe=Dedupe(strategy="new"),
                    choices=(Choices(name="calendars", noun="Calendar"),)),
    sample=CALENDAR_SAMPLE)

GET_CALENDAR = op(
    key="calendars.get_calendar_by_id", kind="trigger", title="Get Calendar by ID",
    description="Watches one calendar and fires when any of its settings change (calendars "
                "carry no updated time, so a change of content is what counts).",
    upstream=Upstream(method="GET", path="/calendars/{calendarId}", version=V, scopes=CAL_READ),
    inputs=(CALENDAR_ID,),
    trigger=Trigger(items=Items(path="calendar", single=True), dedupe=Dedupe(strategy="changed")),
    sample=CALENDAR_SAMPLE)

GET_FREE_SLOTS = op(
    key="calendars.get_free_slots", kind="trigger", title="Get Free Slots",
    description="Fires for each bookable start time that opens up on a calendar. Each item is "
                "one slot: 'value' is its ISO start time and 'key' its date. Polling reads a "
                "rolling window from now to 30 days ahead (GHL allows at most 31 days).",
    upstream=Upstream(method="GET", path="/calendars/{calendarId}/free-slots", version=V,
                      scopes=CAL_READ),
    inputs=(CALENDAR_ID,
            query("startDate", "Start of the range, " + MS + " Left empty, now.",
                  type="integer", example=1767225600000),
            query("endDate", "End of the range, " + MS + " At most 31 days after startDate. "
                  "Left empty, 30 days from now.", type="integer", example=1769817600000),
            query("timezone", "IANA time zone the slots are given in, e.g. America/Chicago.",
                  example="America/Chicago"),
            query("userId", "Only slots free for this user (see Search Users).",
                  example="USRexample0000000001", choices_from=USER_CHOICES),
            query("userIds", "Only slots free for these users.", type="array", items="string",
                  choices_from=USER_CHOICES)),
    # no timestamp: a slot's time says nothing about when it opened, so seen slots are kept by id
    trigger=Trigger(items=Items(path="$", each="slots", id_field="value"),
                    window=TimeWindow(start_param="startDate", end_param="endDate", unit="ms",
                                      lookback_hours=0, lookahead_hours=24 * 30),
                    dedupe=Dedupe(strategy="new")),
    sample={"value": "2026-03-02T10:00:00-05:00", "key": "2026-03-02"})

EVENT_WINDOW_INPUTS = (
    LOCATION_ID_QUERY,
    query("calendarId", "Events of this calendar. Give calendarId, userId or groupId.",
          example="CALexample0000000001", choices_from=CALENDAR_CHOICES),
    query("userId", "Events owned by this user. Give calendarId, userId or groupId.",
          example="USRexample0000000001", choices_from=USER_CHOICES),
    query("groupId", "Events of this calendar group. Give calendarId, userId or groupId.",
          example="GRPexample0000000001", choices_from=CALENDAR_GROUP_CHOICES),
    query("startTime", "Start of the range, " + MS + " Left empty, 24 hours ago.",
          type="integer", example=1767225600000),
    query("endTime", "End of the range, " + MS + " Left empty, 30 days from now.",
          type="integer", example=1769817600000),
)
EVENT_WINDOW = TimeWindow(start_param="startTime", end_param="endTime", unit="ms",
                          lookback_hours=24, lookahead_hours=24 * 30)

LIST_EVENTS = op(
    key="calendars.list_calendar_events", kind="trigger", title="List Calendar Events",
    description="Fires for each new appointment booked in a time range on a calendar, user or "
                "group, in the order they were booked (an appointment booked today for next week "
                "fires today). Polling reads a rolling window from 24 hours ago to 30 days ahead.",
    upstream=Upstream(method="GET", path="/calendars/events", version=V, scopes=EVENTS_READ),
    inputs=EVENT_WINDOW_INPUTS,
    trigger=Trigger(events=Signal(types=("AppointmentCreate", "AppointmentUpdate",
                        "AppointmentDelete"), match={"calendarId": "appointment.calendarId"}),
                    items=Items(path="events", timestamp_field="dateAdded"), window=EVENT_WINDOW,
                    dedupe=Dedupe(strategy="new")),
    sample=EVENT_SAMPLE)

LIST_BLOCKED = op(
    key="calendars.list_blocked_slots", kind="trigger", title="List Blocked Slots",
    description="Fires for each new blocked period in a time range on a calendar, user or "
                "group. Polling reads a rolling window from 24 hours ago to 30 days ahead.",
    upstream=Upstream(method="GET", path="/calendars/blocked-slots", version=V,
                      scopes=EVENTS_READ),
    inputs=EVENT_WINDOW_INPUTS,
    trigger=Trigger(items=Items(path="events", timestamp_field="dateAdded"), window=EVENT_WINDOW,
                    dedupe=Dedupe(strategy="new")),
    sample=BLOCK_SAMPLE)

GET_APPOINTMENT = op(
    key="calendars.get_appointment", kind="trigger", title="Get Appointment",
    description="Watches one appointment and fires when it changes: rescheduled, confirmed, "
                "cancelled, marked showed or no-show (its dateUpdated moves).",
    upstream=Upstream(method="GET", path="/calendars/events/appointments/{eventId}", version=V,
                      scopes=EVENTS_READ),
    inputs=(EVENT_ID,),
    trigger=Trigger(events=Signal(types=("AppointmentUpdate", "AppointmentDelete"),
                        match={"eventId": "appointment.id"}),
                    items=Items(path="event", timestamp_field="dateUpdated", single=True),
                    dedupe=Dedupe(strategy="updated", updated_field="dateUpdated")),
    sample=EVENT_SAMPLE)

LIST_APPT_NOTES = op(
    key="calendars.list_appointment_notes", kind="trigger", title="List Appointment Notes",
    description="Fires for each new note on an appointment.",
    upstream=Upstream(method="GET", path="/calendars/appointments/{appointmentId}/notes",
                      version=V, scopes=EVENTS_READ),
    inputs=(APPOINTMENT_ID,
            query("limit", "Notes per page, at most 20; the engine pages for you.",
                  type="integer", example=20),
            query("offset", "Notes to skip; the engine pages for you.", type="integer",
                  example=0)),
    trigger=Trigger(items=Items(path="notes", timestamp_field="dateAdded"),
                    paginator=OffsetPaginator(offset_param="offset", size_param="limit",
                                              page_size=20),
                    dedupe=Dedupe(strategy="new")),
    sample=APPT_NOTE_SAMPLE)

LIST_NOTIFICATIONS = op(
    key="calendars.list_calendar_notifications", kind="trigger",
    title="List Calendar Notifications",
    description="Fires for each new notification set up on a calendar.",
    upstream=Upstream(method="GET", path="/calendars/{calendarId}/notifications", version=V,
                      scopes=EVENTS_READ),
    inputs=(CALENDAR_ID,
            query("isActive", "true for active notifications only, false for inactive only.",
                  type="boolean"),
            query("deleted", "true to list deleted notifications instead.", type="boolean"),
            query("limit", "Notifications per page; the engine pages for you.", type="integer",
                  example=100),
            query("skip", "Notifications to skip; the engine pages for you.", type="integer",
                  example=0)),
    trigger=Trigger(items=Items(path="$", id_field="_id"),
                    paginator=OffsetPaginator(offset_param="skip", size_param="limit",
                                              page_size=100),
                    dedupe=Dedupe(strategy="new")),
    sample=NOTIFICATION_SAMPLE)

GET_NOTIFICATION = op(
    key="calendars.get_calendar_notification", kind="trigger", title="Get Calendar Notification",
    description="Watches one calendar notification and fires when its content changes.",
    upstream=Upstream(method="GET", path="/calendars/{calendarId}/notifications/{notificationId}",
                      version=V, scopes=EVENTS_READ),
    inputs=(CALENDAR_ID, NOTIFICATION_ID),
    trigger=Trigger(items=Items(path="$", id_field="_id", single=True),
                    dedupe=Dedupe(strategy="changed")),
    sample=NOTIFICATION_SAMPLE)

LIST_RESOURCES = op(
    key="calendars.list_calendar_resources", kind="trigger", title="List Calendar Resources",
    description="Fires for each new room or piece of equipment. Items without an id are keyed "
                "by their content.",
    upstream=Upstream(method="GET", path="/calendars/resources/{resourceType}", version=V,
                      scopes=RES_READ),
    inputs=(RESOURCE_TYPE, LOCATION_ID_QUERY,
            query("limit", "Resources per page; the engine pages for you.", type="integer",
                  example=100),
            query("skip", "Resources to skip; the engine pages for you.", type="integer",
                  example=0)),
    trigger=Trigger(items=Items(path="$"),
                    paginator=OffsetPaginator(offset_param="skip", size_param="limit",
                                              page_size=100),
                    dedupe=Dedupe(strategy="new")),
    sample=RESOURCE_SAMPLE)

GET_RESOURCE = op(
    key="calendars.get_calendar_resource", kind="trigger", title="Get Calendar Resource",
    description="Watches one room or piece of equipment and fires when it changes (e.g. units "
                "go out of service).",
    upstream=Upstream(method="GET", path="/calendars/resources/{resourceType}/{id}", version=V,
                      scopes=RES_READ),
    inputs=(RESOURCE_TYPE, RESOURCE_ID),
    trigger=Trigger(items=Items(path="$", single=True), paginator=NoPagination(),
                    dedupe=Dedupe(strategy="changed")),
    sample=RESOURCE_SAMPLE)

FIND_CALENDAR_BY_ID = find_by_id(
    GET_CALENDAR, "calendars.find_calendar_by_id", "Find Calendar by ID",
    "Returns one calendar by its id, with its settings and team members.")
FIND_APPOINTMENT_BY_ID = find_by_id(
    GET_APPOINTMENT, "calendars.find_appointment_by_id", "Find Appointment by ID",
    "Returns one appointment by its event id: times, status, contact and assigned user.")
FIND_NOTIFICATION_BY_ID = find_by_id(
    GET_NOTIFICATION, "calendars.find_calendar_notification_by_id",
    "Find Calendar Notification by ID", "Returns one notification of a calendar by its id.")
FIND_RESOURCE_BY_ID = find_by_id(
    GET_RESOURCE, "calendars.find_calendar_resource_by_id", "Find Calendar Resource by ID",
    "Returns one calendar resource (a room or equipment) by its type and id.")

SPECS = (
    LIST_GROUPS, LIST_CALENDARS, GET_CALENDAR, GET_FREE_SLOTS, LIST_EVENTS, LIST_BLOCKED,
    GET_APPOINTMENT, LIST_APPT_NOTES, LIST_NOTIFICATIONS, GET_NOTIFICATION, LIST_RESOURCES,
    GET_RESOURCE,
    CREATE_GROUP, UPDATE_GROUP, UPDATE_GROUP_STATUS, DELETE_GROUP, VALIDATE_GROUP_SLUG,
    CREATE_CALENDAR, UPDATE_CALENDAR, DELETE_CALENDAR, CREATE_APPOINTMENT, UPDATE_APPOINTMENT,
    DELETE_EVENT, CREATE_BLOCK_SLOT, UPDATE_BLOCK_SLOT, CREATE_APPT_NOTE, UPDATE_APPT_NOTE,
    DELETE_APPT_NOTE, CREATE_NOTIFICATION, UPDATE_NOTIFICATION, DELETE_NOTIFICATION,
    CREATE_RESOURCE, UPDATE_RESOURCE, DELETE_RESOURCE,
    FIND_CALENDAR_BY_ID, FIND_APPOINTMENT_BY_ID, FIND_NOTIFICATION_BY_ID, FIND_RESOURCE_BY_ID,
)
