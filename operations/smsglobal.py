"""SMSGlobal (REST API v2, MAC-signed): SMS, OTP, opt-outs, groups and credit.

Numbers are in international form without '+' (61400000000), as SMSGlobal expects them.
Request date-times are "YYYY-MM-DD HH:MM:SS"; responses carry "YYYY-MM-DD HH:MM:SS +hhmm".
"""

from __future__ import annotations

from functools import partial

from engine.spec.model import (Dedupe, Items, OffsetPaginator, Operation, Output, Signal,
    TimeWindow, Trigger, Upstream)
from operations._fields import body, path, query

op = partial(Operation, app="smsglobal", category="smsglobal", noun="SMSGlobal")

NUMBER_HELP = ("in international form, country code first: 61400000000 as SMSGlobal writes it "
               "or +61400000000 as GHL does (sent without '+')")
REQUEST_ID = path("requestId", "The OTP's requestId, as returned by Send OTP (24 digits).",
                  example="404372541683676561917558")
DATE_FORMAT = "YYYY-MM-DD HH:MM:SS"

MESSAGE_SAMPLE = {"id": 6746514019161950, "outgoing_id": 8052421839, "origin": "SandboxCo",
                  "destination": "61400000001", "message": "Your appointment is confirmed for "
                  "Tuesday 10am.", "status": "delivered", "dateTime": "2026-01-15 10:30:00 +0000"}
INCOMING_SAMPLE = {"id": 2022271961, "origin": "61400000001", "destination": "61400000999",
                   "message": "Yes, see you Tuesday", "dateTime": "2026-01-15 10:32:05 +0000",
                   "isMultipart": False, "isUnicode": False, "partNumber": 1, "totalParts": 1,
                   "campaign": {"id": 0}}
OTP_SAMPLE = {"requestId": "404372541683676561917558", "destination": "61400000001",
              "validUnitlTimestamp": "2026-01-15 10:32:00", "createdTimestamp": "2026-01-15 10:30:00",
              "lastEventTimestamp": "2026-01-15 10:30:00", "status": "Sent"}
OPTOUT_SAMPLE = {"number": "61400000001", "date": "2026-01-15 10:30:00 +0000", "status": "optedOut"}
CONTACT_SAMPLE = {"id": 10561, "msisdn": "61400000001", "givenName": "Rosan", "familyName": "Deo",
                  "displayName": "Rosan Deo", "emailAddress": "rosan@example.com", "groupId": 4501}

PAGED = dict(offset_param="offset", size_param="limit", page_size=100)
OFFSET = query("offset", "Position of the first row to return, from 1 (SMS lists are 1-based).",
               type="integer", example=1)
LIMIT = query("limit", "Rows per page, 1 to 1000.", type="integer", example=100)
START = query("startDate", f"Only items at or after this time, {DATE_FORMAT} in the account's "
              "time zone. Left empty, the last 48 hours are read.", example="2026-01-15 00:00:00")
END = query("endDate", f"Only items before this time, {DATE_FORMAT} in the account's time zone.",
            example="2026-01-16 00:00:00")
WINDOW = TimeWindow(start_param="startDate", end_param="endDate", unit="datetime",
                    lookback_hours=48, lookahead_hours=24)

# ----------------------------------------------------------------------------- actions

SEND_SMS = op(
    key="smsglobal.send_sms", kind="action", title="Send SMS",
    description="Sends one SMS text to one or many numbers, now or at a scheduled time. The "
                "result lists one message per destination with its outgoing_id, to follow its "
                "delivery status with the Sent Message Status Changed trigger.",
    upstream=Upstream(method="POST", path="/v2/sms"),
    inputs=(
        body("destinations", f"Numbers to send to, {NUMBER_HELP}. One number or a list.",
             type="array", items="string", required=True, format="msisdn",
             example=["61400000001"]),
        body("message", "The text to send. Over 160 characters (70 with emoji or non-Latin "
             "letters) it is sent, and charged, as several parts.", required=True,
             example="Your appointment is confirmed for Tuesday 10am."),
        body("origin", "Sender shown on the phone: one of your dedicated numbers (61400000999) or "
             "an approved alphanumeric sender id of up to 11 characters. Left empty, the "
             "account's default sender is used.", example="SandboxCo"),
        body("scheduledDateTime", f"Send later instead of now: {DATE_FORMAT}, in UTC.",
             example="2026-02-01 09:00:00"),
        body("expiryDateTime", f"Give up delivering after this time: {DATE_FORMAT}, in UTC.",
             example="2026-02-01 12:00:00"),
        body("campaign", "A campaign name to group messages in SMSGlobal's reports.",
             example="january-reminders"),
        body("notifyUrl", "URL SMSGlobal calls with delivery receipts for these messages "
             "(needs delivery receipts enabled in MXT). Left empty, the engine's own receipt "
             "URL for this connection when ENGINE_PUBLIC_URL is set.", format="uri",
             example="https://hooks.example.com/smsglobal/dlr", fill="notify_url"),
        body("incomingUrl", "URL SMSGlobal calls with the replies to these messages. Left "
             "empty, the engine's own reply URL for this connection when ENGINE_PUBLIC_URL is "
             "set.", format="uri", example="https://hooks.example.com/smsglobal/replies",
             fill="incoming_url"),
    ),
    output=Output(path="messages.0", id_field="outgoing_id"),
    sample={"messages": [{**MESSAGE_SAMPLE, "status": "Processing"}]})

SEND_OTP = op(
    key="smsglobal.send_otp", kind="action", title="Send OTP",
    description="Sends a one-time code by SMS. SMSGlobal makes the code and puts it where the "
                "message says {*code*}; keep the requestId to validate or cancel it.",
    upstream=Upstream(method="POST", path="/v2/otp"),
    inputs=(
        body("destination", f"Number to send the code to, {NUMBER_HELP}.", required=True,
             format="msisdn", example="61400000001"),
        body("message", "The text, which must contain {*code*} where the code goes, e.g. "
             "'Your login code is {*code*}'.", required=True,
             example="Your login code is {*code*}"),
        body("origin", "Sender shown on the phone (dedicated number or approved sender id).",
             example="SandboxCo"),
        body("length", "Number of digits in the code, 4 to 10.", type="integer", example=6),
        body("codeExpiry", "Seconds the code stays valid.", type="integer", example=300),
        body("messageExpiryDateTime", f"Give up delivering the SMS after this time, {DATE_FORMAT}.",
             example="2026-02-01 12:00:00"),
    ),
    output=Output(path="$", id_field="requestId"), sample=OTP_SAMPLE)

VALIDATE_OTP = op(
    key="smsglobal.validate_otp", kind="action", title="Validate OTP",
    description="Checks a code the person typed against the OTP sent to them. A wrong or expired "
                "code fails with 400 and SMSGlobal's reason; a right one returns status Verified.",
    upstream=Upstream(method="POST", path="/v2/otp/requestid/{requestId}/validate"),
    inputs=(REQUEST_ID,
            body("code", "The code the person typed, 4 to 10 digits.", required=True,
                 example="482913")),
    output=Output(path="$", id_field="requestId"), sample={**OTP_SAMPLE, "status": "Verified"})

CANCEL_OTP = op(
    key="smsglobal.cancel_otp", kind="action", title="Cancel OTP",
    description="Cancels an OTP that has not been verified or expired yet, so its code no "
                "longer works.",
    upstream=Upstream(method="POST", path="/v2/otp/requestid/{requestId}/cancel",
                      safe_to_retry=True),
    inputs=(REQUEST_ID,), output=Output(path="$", id_field="requestId"),
    sample={**OTP_SAMPLE, "status": "Cancelled"})

ADD_OPT_OUTS = op(
    key="smsglobal.add_opt_outs", kind="action", title="Add Opt-outs",
    description="Adds numbers to the account's opt-out list: SMSGlobal will not send them "
                "messages any more. Numbers already opted out are left as they are.",
    upstream=Upstream(method="POST", path="/v2/opt-outs", safe_to_retry=True),
    inputs=(body("optouts", f"The numbers as a list of {{\"number\": ...}} objects, each "
                 f"{NUMBER_HELP}.", type="array", items="object", required=True,
                 example=[{"number": "61400000001"}]),),
    output=Output(path="optouts", id_field="number"),
    sample={"offset": 0, "limit": 1, "total": 1, "optouts": [OPTOUT_SAMPLE]})

REMOVE_OPT_OUT = op(
    key="smsglobal.remove_opt_out", kind="action", title="Remove Opt-out",
    description="Opts a number back in, e.g. after the person asked to receive messages again. "
                "Only do this with their consent.",
    upstream=Upstream(method="DELETE", path="/v2/opt-outs/{number}"),
    inputs=(path("number", f"The opted-out number, {NUMBER_HELP}.", format="msisdn",
                 example="61400000001"),),
    sample={})

ADD_CONTACT_TO_GROUP = op(
    key="smsglobal.add_contact_to_group", kind="action", title="Add Contact to Group",
    description="Adds a contact to an SMSGlobal contact group (used for group sends). A number "
                "already in the group is updated rather than added twice.",
    upstream=Upstream(method="POST", path="/v2/group/{groupId}/contact", safe_to_retry=True),
    inputs=(path("groupId", "The group's id, shown in MXT > Contacts > Groups (a number).",
                 example="4501"),
            body("msisdn", f"The contact's mobile number, {NUMBER_HELP}.", required=True,
                 format="msisdn", example="61400000001"),
            body("givenName", "First name.", example="Rosan"),
            body("familyName", "Last name.", example="Deo"),
            body("displayName", "Name shown in MXT.", example="Rosan Deo"),
            body("emailAddress", "Email address.", format="email", example="rosan@example.com")),
    sample=CONTACT_SAMPLE)

CREDIT_BALANCE = op(
    key="smsglobal.get_credit_balance", kind="action", search=True, title="Get Credit Balance",
    description="Reads the account's remaining credit and its currency, e.g. to warn before "
                "sending a campaign. Accounts billed after use (not prepaid) get 404.",
    upstream=Upstream(method="GET", path="/v2/user/credit-balance"),
    sample={"balance": 152.37, "currency": "AUD"})

# ----------------------------------------------------------------------------- triggers

NEW_INCOMING_SMS = op(
    key="smsglobal.new_incoming_sms", kind="trigger", title="New Incoming SMS",
    description="Fires for each SMS received on your numbers (replies and inbound messages), "
                "with the sender's number in 'origin' and the text in 'message'.",
    upstream=Upstream(method="GET", path="/v2/sms-incoming"),
    inputs=(OFFSET, LIMIT, START, END,
            query("origin", f"Only messages from this sender, {NUMBER_HELP}.", format="msisdn",
                  example="61400000001"),
            query("destination", f"Only messages to this number of yours, {NUMBER_HELP}.",
                  format="msisdn", example="61400000999")),
    trigger=Trigger(events=Signal(types=("SmsIncoming",)),
                    items=Items(path="messages", id_field="id", timestamp_field="dateTime"),
                    paginator=OffsetPaginator(**PAGED, start=1), window=WINDOW,
                    dedupe=Dedupe(strategy="new"), default_interval_minutes=1),
    sample=INCOMING_SAMPLE)

SENT_STATUS_CHANGED = op(
    key="smsglobal.sent_message_status_changed", kind="trigger",
    title="Sent Message Status Changed",
    description="Fires when a sent message first appears and each time its status changes "
                "(sent, delivered, undelivered...). Filter on one status to fire only for it, "
                "e.g. 'undelivered' to follow up failed sends.",
    upstream=Upstream(method="GET", path="/v2/sms"),
    inputs=(OFFSET, LIMIT, START, END,
            query("status", "Only messages in this status.",
                  enum=("delivered", "sent", "scheduled", "noCredits", "invalidNumber",
                        "undelivered"), example="delivered"),
            query("destination", f"Only messages to this number, {NUMBER_HELP}.",
                  format="msisdn", example="61400000001")),
    trigger=Trigger(events=Signal(types=("SmsDeliveryReceipt",)),
                    items=Items(path="messages", id_field="id", timestamp_field="dateTime"),
                    paginator=OffsetPaginator(**PAGED, start=1), window=WINDOW,
                    dedupe=Dedupe(strategy="changed")),
    sample=MESSAGE_SAMPLE)

NEW_OPT_OUT = op(
    key="smsglobal.new_opt_out", kind="trigger", title="New Opt-out",
    description="Fires for each number added to the opt-out list, e.g. when someone replies "
                "STOP, so you can mark them do-not-disturb elsewhere.",
    upstream=Upstream(method="GET", path="/v2/opt-outs"),
    inputs=(query("offset", "Position of the first row, from 0.", type="integer", example=0),
            LIMIT,
            query("phoneNumber", f"Only this number, {NUMBER_HELP}.", format="msisdn",
                  example="61400000001")),
    trigger=Trigger(items=Items(path="optouts", id_field="number", timestamp_field="date"),
                    paginator=OffsetPaginator(**PAGED, start=0), dedupe=Dedupe(strategy="new")),
    sample=OPTOUT_SAMPLE)

NEW_GROUP_CONTACT = op(
    key="smsglobal.new_group_contact", kind="trigger", title="New Contact in Group",
    description="Fires for each contact added to an SMSGlobal contact group (in MXT, by import "
                "or by Add Contact to Group), e.g. to copy it into GHL.",
    upstream=Upstream(method="GET", path="/v2/group/{groupId}/contacts"),
    inputs=(ADD_CONTACT_TO_GROUP.inputs[0],
            query("offset", "Position of the first row, from 0.", type="integer", example=0),
            LIMIT,
            query("sort", "Sort field; 'id' keeps pages stable while contacts are added.",
                  default="id", example="id")),
    trigger=Trigger(items=Items(path="contacts", id_field="id"),
                    paginator=OffsetPaginator(**PAGED, start=0), dedupe=Dedupe(strategy="new")),
    sample=CONTACT_SAMPLE)

SPECS = (
    NEW_INCOMING_SMS, SENT_STATUS_CHANGED, NEW_OPT_OUT, NEW_GROUP_CONTACT,
    SEND_SMS, SEND_OTP, VALIDATE_OTP, CANCEL_OTP, ADD_OPT_OUTS, REMOVE_OPT_OUT,
    ADD_CONTACT_TO_GROUP, CREDIT_BALANCE,
)
