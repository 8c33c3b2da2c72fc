"""GHL Conversations: conversations, their messages, call recordings and transcriptions."""

from __future__ import annotations

from functools import partial

from engine.spec.model import (CursorPaginator, Dedupe, Items, Operation, Signal, Token, Trigger,
    Upstream)
from operations._fields import (CONTACT_SEARCH, LOCATION_ID_BODY, LOCATION_ID_QUERY, USER_CHOICES, body,
                               find_by_id, path, query)

V = "2021-04-15"
op = partial(Operation, app="ghl", category="conversations")
READ = ("conversations.readonly",)
MESSAGE_READ = ("conversations/message.readonly",)

CONVERSATION_ID = path("conversationId", "The conversation's id, as returned by Search "
                       "Conversations (e.g. 'tDtDnQdgm2LXpyiqYvZ6').", example="tDtDnQdgm2LXpyiqYvZ6")
MESSAGE_ID = path("messageId", "The message's id, as returned by Get Messages by Conversation "
                  "(e.g. 've9EPM428h8vShlRW1KT').", example="ve9EPM428h8vShlRW1KT")
LOCATION_ID_PATH = path(
    "locationId", "GHL sub-account (location) id the message belongs to, shown in GHL under "
    "Settings > Business Profile.", example="ve9EPM428h8vShlRW1KT")

CONVERSATION_SAMPLE = {
    "id": "tDtDnQdgm2LXpyiqYvZ6", "contactId": "ocQHyuzHvysMo5N5VsXc",
    "locationId": "ve9EPM428h8vShlRW1KT", "lastMessageBody": "Is Tuesday at 3pm still free?",
    "lastMessageType": "TYPE_SMS", "lastMessageDirection": "inbound", "type": "TYPE_PHONE",
    "unreadCount": 1, "fullName": "Rosan Deo", "contactName": "Rosan Deo",
    "email": "rosan@example.com", "phone": "+14155550123", "inbox": True, "starred": False,
    "dateAdded": 1767225600000, "dateUpdated": 1767229200000, "lastMessageDate": 1767229200000,
    "sort": [1767229200000],
}
MESSAGE_SAMPLE = {
    "id": "ve9EPM428h8vShlRW1KT", "type": 2, "messageType": "TYPE_SMS",
    "locationId": "ve9EPM428h8vShlRW1KT", "contactId": "ocQHyuzHvysMo5N5VsXc",
    "conversationId": "tDtDnQdgm2LXpyiqYvZ6", "dateAdded": "2026-01-01T01:00:00.000Z",
    "body": "Is Tuesday at 3pm still free?", "direction": "inbound", "status": "delivered",
    "contentType": "text/plain", "attachments": [], "source": "app",
}
EMAIL_SAMPLE = {
    "id": "Q4Ld1nEXfoZk5nNHaLcV", "threadId": "Q4Ld1nEXfoZk5nNHaLcV",
    "locationId": "ve9EPM428h8vShlRW1KT", "contactId": "ocQHyuzHvysMo5N5VsXc",
    "conversationId": "tDtDnQdgm2LXpyiqYvZ6", "dateAdded": "2026-01-01T01:00:00.000Z",
    "subject": "Your quote", "body": "<p>Hi Rosan, the quote is attached.</p>",
    "direction": "outbound", "status": "delivered", "contentType": "text/html",
    "attachments": [], "from": "Example Dental <frontdesk@example.com>",
    "to": ["rosan@example.com"], "cc": [], "bcc": [], "source": "app",
}

SEARCH_CONVERSATIONS = op(
    key="conversations.search_conversations", kind="trigger", title="Search Conversations",
    description="Fires when a conversation matching the filters gets a new last message (new "
                "conversations included). Reads GET /conversations/search newest first, sorted "
                "by last message date.",
    upstream=Upstream(method="GET", path="/conversations/search", version=V, scopes=READ),
    inputs=(LOCATION_ID_QUERY,
            query("contactId", "Only the conversation of this contact (see Search Contacts).",
                  example="ocQHyuzHvysMo5N5VsXc", found_by=CONTACT_SEARCH),
            query("assignedTo", "Only conversations assigned to these user ids, comma-separated; "
                  "'unassigned' for conversations assigned to nobody.", example="y0BeYjuRIlDwsDcOHOJo",
                  choices_from=USER_CHOICES),
            query("followers", "Only conversations followed by these user ids, comma-separated.",
                  example="y0BeYjuRIlDwsDcOHOJo"),
            query("mentions", "Only conversations mentioning these user ids, comma-separated.",
                  example="y0BeYjuRIlDwsDcOHOJo"),
            query("query", "Free text matched against the contact's name, email and phone and "
                  "the last message.", example="rosan"),
            query("status", "Which conversations: all, read, unread, starred or recents.",
                  enum=("all", "read", "unread", "starred", "recents"), example="unread"),
            query("lastMessageType", "Only conversations whose last message is of this type, "
                  "e.g. TYPE_SMS, TYPE_EMAIL, TYPE_CALL, TYPE_WHATSAPP.", example="TYPE_SMS"),
            query("lastMessageDirection", "Only conversations whose last message is inbound "
                  "(from the contact) or outbound.", enum=("inbound", "outbound"),
                  example="inbound"),
            query("lastMessageAction", "Only conversations whose last outbound message was sent "
                  "automatically or by hand.", enum=("automated", "manual"), example="manual"),
            query("sortBy", "Sort by the date of the last message, or of the last message a "
                  "person sent by hand.", enum=("last_message_date", "last_manual_message_date"),
                  default="last_message_date"),
            query("sort", "Sort direction; keep 'desc' for a trigger (newest first).",
                  enum=("asc", "desc"), default="desc"),
            query("startDate", "Only conversations created at or after this time, in epoch "
                  "milliseconds (e.g. 1767225600000).", type="integer", example=1767225600000),
            query("endDate", "Only conversations created at or before this time, in epoch "
                  "milliseconds.", type="integer", example=1769904000000),
            query("limit", "Conversations per page, up to 100 (GHL's default is 20).",
                  type="integer", example=100),
            query("startAfterDate", "Paging cursor: the sort value of the last conversation of "
                  "the previous page. Filled in by the engine while paging.", type="integer",
                  example=1767229200000)),
    trigger=Trigger(events=Signal(types=("InboundMessage", "OutboundMessage",
                        "ConversationUnreadWebhook")),
                    items=Items(path="conversations", timestamp_field="lastMessageDate"),
                    paginator=CursorPaginator(tokens=(Token(param="startAfterDate", path="sort.0",
                                                            source="last_item"),),
                                              size_param="limit", page_size=100),
                    dedupe=Dedupe(strategy="updated", updated_field="lastMessageDate",
                                  order="newest_first")),
    sample=CONVERSATION_SAMPLE)

GET_CONVERSATION = op(
    key="conversations.get_conversation", kind="trigger", title="Get Conversation",
    description="Watches one conversation and fires when it changes (unread count, assignment, "
                "starred). GHL gives it no updated time, so a change is seen by content.",
    upstream=Upstream(method="GET", path="/conversations/{conversationId}", version=V, scopes=READ),
    inputs=(CONVERSATION_ID,),
    trigger=Trigger(items=Items(path="$", single=True), dedupe=Dedupe(strategy="changed")),
    sample={k: CONVERSATION_SAMPLE[k] for k in ("id", "contactId", "locationId", "unreadCount",
                                                "inbox", "starred")}
           | {"deleted": False, "type": 1, "assignedTo": "y0BeYjuRIlDwsDcOHOJo"})

GET_EMAIL_BY_ID = op(
    key="conversations.get_email_by_id", kind="trigger", title="Get Email by ID",
    description="Watches one email message and fires when it changes, e.g. its delivery status "
                "moves from pending to delivered or opened.",
    upstream=Upstream(method="GET", path="/conversations/messages/email/{id}", version=V,
                      scopes=MESSAGE_READ),
    inputs=(path("id", "The email message's id: the emailMessageId of an email in Get Messages "
                 "by Conversation (its meta.email.messageIds).", example="Q4Ld1nEXfoZk5nNHaLcV"),),
    trigger=Trigger(items=Items(path="$", timestamp_field="dateAdded", single=True),
                    dedupe=Dedupe(strategy="changed")),
    sample=EMAIL_SAMPLE)

GET_MESSAGE_BY_ID = op(
    key="conversations.get_message_by_id", kind="trigger", title="Get Message by ID",
    description="Watches one message and fires when it changes, e.g. its status moves from "
                "pending to delivered, read or failed.",
    upstream=Upstream(method="GET", path="/conversations/messages/{id}", version=V,
                      scopes=MESSAGE_READ),
    inputs=(path("id", "The message's id, as returned by Get Messages by Conversation.",
                 example="ve9EPM428h8vShlRW1KT"),),
    trigger=Trigger(items=Items(path="$", timestamp_field="dateAdded", single=True),
                    dedupe=Dedupe(strategy="changed")),
    sample=MESSAGE_SAMPLE)

GET_MESSAGES = op(
    key="conversations.get_messages_by_conversation", kind="trigger",
    title="Get Messages by Conversation",
    description="Fires for each new message in a conversation (SMS, email, call, chat...), "
                "newest first.",
    upstream=Upstream(method="GET", path="/conversations/{conversationId}/messages", version=V,
                      scopes=MESSAGE_READ),
    inputs=(CONVERSATION_ID,
            query("type", "Only messages of these types, comma-separated, e.g. "
                  "'TYPE_SMS,TYPE_EMAIL'.", example="TYPE_SMS"),
            query("limit", "Messages per page, up to 100 (GHL's default is 20).", type="integer",
                  example=100),
            query("lastMessageId", "Paging cursor: the lastMessageId of the previous page. Filled "
                  "in by the engine while paging.", example="p1mRSHeLDhAms5q0LMr4")),
    # live answers nest the page ({"messages": {..., "messages": [...]}}), the document shows
    # it flat: the first of page_paths that holds an object is the page
    trigger=Trigger(events=Signal(types=("InboundMessage", "OutboundMessage"),
                        match={"conversationId": "conversationId"}),
                    items=Items(path="messages", timestamp_field="dateAdded"),
                    page_paths=("messages", "$"),
                    paginator=CursorPaginator(tokens=(Token(param="lastMessageId",
                                                            path="lastMessageId"),),
                                              size_param="limit", page_size=100,
                                              more_path="nextPage"),
                    dedupe=Dedupe(strategy="new", order="newest_first")),
    sample=MESSAGE_SAMPLE)

GET_RECORDING = op(
    key="conversations.get_message_recording", kind="trigger", title="Get Message Recording",
    description="Fires once the recording of a call message is available, with the audio "
                "(audio/x-wav) as base64 in content_base64. Until then (GHL answers 404) there "
                "is no item, and the next poll asks again.",
    upstream=Upstream(method="GET",
                      path="/conversations/messages/{messageId}/locations/{locationId}/recording",
                      version=V, scopes=MESSAGE_READ, response="binary"),
    inputs=(MESSAGE_ID, LOCATION_ID_PATH),
    trigger=Trigger(items=Items(path="$", single=True), dedupe=Dedupe(strategy="changed"),
                    not_found_is_empty=True),
    sample={"content_type": "audio/x-wav", "size": 44,
            "content_base64": "UklGRiQAAABXQVZFZm10IBAAAAABAAEAQB8AAEAfAAABAAgAZGF0YQAAAAA="})

TRANSCRIPTION_SAMPLE = {"mediaChannel": 1, "sentenceIndex": 1, "startTime": 340, "endTime": 4500,
                        "transcript": "Hi, this is Rosan calling about my appointment.",
                        "confidence": 0.93}

GET_TRANSCRIPTION = op(
    key="conversations.get_message_transcription", kind="trigger",
    title="Get Message Transcription",
    description="Fires for each sentence of a call's transcription once it is available (or "
                "when a sentence changes). startTime and endTime are offsets into the call, in "
                "milliseconds.",
    upstream=Upstream(method="GET",
                      path="/conversations/locations/{locationId}/messages/{messageId}/transcription",
                      version=V, scopes=MESSAGE_READ),
    inputs=(LOCATION_ID_PATH, MESSAGE_ID),
    # the document describes one sentence object, yet a call has several sentences: a list is
    # read as one item per sentence, a single object as one item
    trigger=Trigger(items=Items(path="$", id_field="sentenceIndex"),
                    dedupe=Dedupe(strategy="changed"), not_found_is_empty=True),
    sample=TRANSCRIPTION_SAMPLE)

DOWNLOAD_TRANSCRIPTION = op(
    key="conversations.download_transcription", kind="trigger", title="Download Transcription",
    description="Fires once a call's transcription can be downloaded as plain text "
                "(transcription.txt), and again if the text changes.",
    upstream=Upstream(method="GET", path="/conversations/locations/{locationId}/messages/"
                                         "{messageId}/transcription/download",
                      version=V, scopes=MESSAGE_READ, response="text"),
    inputs=(LOCATION_ID_PATH, MESSAGE_ID),
    trigger=Trigger(items=Items(path="$", single=True), dedupe=Dedupe(strategy="changed"),
                    not_found_is_empty=True),
    sample={"content_type": "text/plain; charset=utf-8",
            "text": "Caller: Hi, this is Rosan calling about my appointment.\n"})

UPDATE_MESSAGE_STATUS = op(
    key="conversations.update_message_status", kind="action", title="Update Message Status",
    description="Sets the delivery status of a message sent through a custom conversation "
                "provider (your SMS or email service reports back delivered, failed or read).",
    upstream=Upstream(method="PUT", path="/conversations/messages/{messageId}/status", version=V,
                      scopes=("conversations/message.write",)),
    inputs=(MESSAGE_ID,
            body("status", "The new status: delivered, failed, pending or read.", required=True,
                 enum=("delivered", "failed", "pending", "read"), example="delivered"),
            body("error", "With status 'failed': what went wrong, as {\"code\": \"30003\", "
                 "\"type\": \"saas\", \"message\": \"Unreachable handset\"}.", type="object",
                 example={"code": "30003", "type": "saas", "message": "Unreachable handset"}),
            body("emailMessageId", "For an email: the email message id whose status this is.",
                 example="Q4Ld1nEXfoZk5nNHaLcV"),
            body("recipients", "For an email: the extra recipients this status applies to.",
                 type="array", items="string", example=["rosan@example.com"])),
    sample={"conversationId": "tDtDnQdgm2LXpyiqYvZ6", "messageId": "ve9EPM428h8vShlRW1KT",
            "status": "delivered", "msg": "Message status updated."})

AGENT_TYPING = op(
    key="conversations.agent_typing_indicator", kind="action", title="Agent Typing Indicator",
    description="Shows (or hides) the 'agent is typing' indicator to a live chat visitor, e.g. "
                "while a bot composes its answer.",
    upstream=Upstream(method="POST", path="/conversations/providers/live-chat/typing", version=V,
                      scopes=("conversations/livechat.write",), safe_to_retry=True),
    inputs=(LOCATION_ID_BODY,
            body("isTyping", "'true' to show the indicator, 'false' to hide it (GHL takes it "
                 "as a string).", required=True, enum=("true", "false"), example="true"),
            body("visitorId", "The live chat visitor's id, from the chat widget's contact.",
                 required=True, example="dX9cA2mJ1fT7uQw3bN5e"),
            body("conversationId", "The live chat conversation's id (see Search Conversations).",
                 required=True, example="tDtDnQdgm2LXpyiqYvZ6")),
    sample={"success": True})

FIND_CONVERSATION_BY_ID = find_by_id(
    GET_CONVERSATION, "conversations.find_conversation_by_id", "Find Conversation by ID",
    "Returns one conversation by its id: contact, last message, unread count.")
FIND_MESSAGE_BY_ID = find_by_id(
    GET_MESSAGE_BY_ID, "conversations.find_message_by_id", "Find Message by ID",
    "Returns one message by its id (SMS, email, call, chat...), with its body and status.")
FIND_EMAIL_BY_ID = find_by_id(
    GET_EMAIL_BY_ID, "conversations.find_email_by_id", "Find Email by ID",
    "Returns one email message by its id, with subject, body and addresses.")

SPECS = (
    SEARCH_CONVERSATIONS, GET_CONVERSATION, GET_EMAIL_BY_ID, GET_MESSAGE_BY_ID, GET_MESSAGES,
    GET_RECORDING, GET_TRANSCRIPTION, DOWNLOAD_TRANSCRIPTION,
    UPDATE_MESSAGE_STATUS, AGENT_TYPING,
    FIND_CONVERSATION_BY_ID, FIND_MESSAGE_BY_ID, FIND_EMAIL_BY_ID,
)
