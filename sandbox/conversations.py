"""Conversations endpoints: search with GHL's sort-value cursor, messages with their
lastMessageId cursor, call recordings (audio/x-wav attachment) and transcriptions (JSON and a
text/plain attachment), and the live chat typing indicator."""

from __future__ import annotations

import io
import wave
from datetime import datetime, timezone
from typing import Any

from fastapi.responses import Response

from sandbox.answers import (Area, answers, bounded, error, location_mismatch, number, ok,
                             owned)
from sandbox.lists import contains, in_location
from sandbox.store import Store, iso_ms, new_id

CONVERSATIONS = "conversations"
MESSAGES = "conversations/messages"
EMAILS = "conversations/messages/email"
TRANSCRIPTIONS = "conversations/transcriptions"
SORT_FIELDS = {"last_message_date": "lastMessageDate",
               "last_manual_message_date": "lastManualMessageDate"}


def _iso(ms: int) -> str:
    return iso_ms(datetime.fromtimestamp(ms / 1000, timezone.utc))


def wav_bytes(seconds: float = 0.25, rate: int = 8000) -> bytes:
    """A short, valid WAV file of silence (8-bit mono), as a call recording stand-in."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(1)
        out.setframerate(rate)
        out.writeframes(b"\x80" * int(seconds * rate))
    return buf.getvalue()


# ----------------------------------------------------------------------------- seed


def add_message(store: Store, conversation: dict[str, Any], *, kind: str, direction: str,
                body: str, at_ms: int, **extra: Any) -> dict[str, Any]:
    """Store a message and move the conversation's last-message fields to it."""
    message = {
        "id": new_id(), "type": {"TYPE_SMS": 2, "TYPE_EMAIL": 3, "TYPE_CALL": 1}.get(kind, 2),
        "messageType": kind, "locationId": conversation["locationId"],
        "contactId": conversation["contactId"], "conversationId": conversation["id"],
        "dateAdded": _iso(at_ms), "body": body, "direction": direction, "status": "delivered",
        "contentType": "text/plain", "attachments": [], "source": "app", **extra,
    }
    store.put(MESSAGES, message)
    conversation.update({"lastMessageBody": body, "lastMessageType": kind,
                         "lastMessageDirection": direction, "lastMessageDate": at_ms,
                         "dateUpdated": at_ms})
    if direction == "outbound":
        conversation["lastManualMessageDate"] = at_ms
    if direction == "inbound":
        conversation["unreadCount"] = conversation.get("unreadCount", 0) + 1
    return message


def seed(store: Store, location_id: str, company_id: str) -> None:
    contacts = sorted(store.all("contacts"), key=lambda c: c["id"])[:3]
    base = int(datetime.now(timezone.utc).timestamp() * 1000) - 3_600_000
    for n, contact in enumerate(contacts):
        start = base - n * 600_000
        conversation = store.put(CONVERSATIONS, {
            "id": new_id(), "contactId": contact["id"], "locationId": location_id,
            "type": "TYPE_PHONE", "unreadCount": 0, "inbox": True, "starred": n == 0,
            "deleted": False, "assignedTo": None,
            "fullName": f"{contact['firstName']} {contact['lastName']}",
            "contactName": f"{contact['firstName']} {contact['lastName']}",
            "email": contact["email"], "phone": contact["phone"], "dateAdded": start,
            "dateUpdated": start, "lastMessageDate": start})
        add_message(store, conversation, kind="TYPE_SMS", direction="inbound",
                    body="Hi, can I book a check-up?", at_ms=start + 1_000)
        add_message(store, conversation, kind="TYPE_SMS", direction="outbound",
                    body="Of course! Does Tuesday at 3pm work?", at_ms=start + 2_000)
        if n == 0:
            call = add_message(store, conversation, kind="TYPE_CALL", direction="inbound",
                               body="", at_ms=start + 3_000,
                               meta={"callDuration": 42, "callStatus": "completed"})
            store.put(TRANSCRIPTIONS, {"id": call["id"], "sentences": [
                {"mediaChannel": 1, "sentenceIndex": 1, "startTime": 340, "endTime": 2900,
                 "transcript": "Hi, I'm calling about my appointment.", "confidence": 0.94},
                {"mediaChannel": 2, "sentenceIndex": 2, "startTime": 3100, "endTime": 5200,
                 "transcript": "Sure, let me look that up for you.", "confidence": 0.91}]})
            email_id = new_id()
            add_message(store, conversation, kind="TYPE_EMAIL", direction="outbound",
                        body="Your appointment is confirmed.", at_ms=start + 4_000,
                        meta={"email": {"messageIds": [email_id]}})
            store.put(EMAILS, {
                "id": email_id, "threadId": email_id, "locationId": location_id,
                "contactId": contact["id"], "conversationId": conversation["id"],
                "dateAdded": _iso(start + 4_000), "subject": "Appointment confirmed",
                "body": "<p>Your appointment is confirmed.</p>", "direction": "outbound",
                "status": "sent", "contentType": "text/html", "attachments": [],
                "from": "Sandbox Dental <frontdesk@example.com>", "to": [contact["email"]],
                "cc": [], "bcc": [], "source": "app"})


# ----------------------------------------------------------------------------- search


@answers("GET /conversations/search", checked=True)
def search(ctx):
    q = ctx.query
    limit, bad = bounded(ctx, "limit", 20, 100)
    if bad:
        return bad
    sort_by = q.get("sortBy") or "last_message_date"
    if sort_by not in SORT_FIELDS:
        return error(422, [f"sortBy must be one of {', '.join(SORT_FIELDS)}"])
    field = SORT_FIELDS[sort_by]
    items = in_location(ctx, ctx.store.all(CONVERSATIONS))
    for name in ("contactId", "id", "lastMessageType", "lastMessageDirection"):
        if q.get(name):
            items = [c for c in items if str(c.get(name)) == q[name]]
    if q.get("assignedTo"):
        wanted = set(q["assignedTo"].split(","))
        items = [c for c in items if (c.get("assignedTo") or "unassigned") in wanted]
    items = contains(items, q.get("query"), "fullName", "contactName", "email", "phone",
                     "lastMessageBody")
    status = q.get("status") or "all"
    if status == "unread":
        items = [c for c in items if c.get("unreadCount")]
    elif status == "read":
        items = [c for c in items if not c.get("unreadCount")]
    elif status == "starred":
        items = [c for c in items if c.get("starred")]
    for name, keep in (("startDate", lambda v, x: x >= v), ("endDate", lambda v, x: x <= v)):
        value, bad = number(q.get(name), name)
        if bad:
            return bad
        if value is not None:
            items = [c for c in items if keep(value, int(c.get("dateAdded") or 0))]
    desc = (q.get("sort") or "desc") == "desc"

    def value(c):
        return int(c.get(field) or c.get("lastMessageDate") or 0)

    items.sort(key=lambda c: (value(c), c["id"]), reverse=desc)
    after, bad = number(q.get("startAfterDate"), "startAfterDate")
    if bad:
        return bad
    if after is not None:
        items = [c for c in items if (value(c) < after if desc else value(c) > after)]
    return ok({"conversations": [{**c, "sort": [value(c)]} for c in items[:limit]],
               "total": len(items)})


# ----------------------------------------------------------------------------- messages


@answers("GET /conversations/{conversationId}/messages")
def messages(ctx):
    conversation, bad = owned(ctx, CONVERSATIONS, ctx.path["conversationId"],
                              "Conversation not found")
    if bad:
        return bad
    limit, bad = bounded(ctx, "limit", 20, 100)
    if bad:
        return bad
    items = [m for m in ctx.store.all(MESSAGES) if m["conversationId"] == conversation["id"]]
    if ctx.query.get("type"):
        types = set(str(ctx.query["type"]).split(","))
        items = [m for m in items if m.get("messageType") in types]
    items.sort(key=lambda m: (m["dateAdded"], m["id"]), reverse=True)
    last = ctx.query.get("lastMessageId")
    if last:
        ids = [m["id"] for m in items]
        if last not in ids:
            return error(400, "lastMessageId is not a message of this conversation")
        items = items[ids.index(last) + 1:]
    page = items[:limit]
    # the live API nests the page under "messages" (its document shows it flat)
    return ok({"messages": {"lastMessageId": page[-1]["id"] if page else None,
                            "nextPage": len(items) > limit, "messages": page}})


def _call_message(ctx):
    """The call message of a recording or transcription path, or an error answer."""
    bad = location_mismatch(ctx, ctx.path["locationId"])
    if bad:
        return None, bad
    return owned(ctx, MESSAGES, ctx.path["messageId"], "Message not found", 404)


@answers("GET /conversations/messages/{messageId}/locations/{locationId}/recording")
def recording(ctx):
    message, bad = _call_message(ctx)
    if bad:
        return bad
    if message.get("messageType") != "TYPE_CALL":
        return error(404, "No recording found for this message")
    return Response(wav_bytes(), media_type="audio/x-wav",
                    headers={"Content-Disposition": "attachment; filename=audio.wav"})


def _sentences(ctx):
    message, bad = _call_message(ctx)
    if bad:
        return None, bad
    found = ctx.store.get(TRANSCRIPTIONS, message["id"])
    if found is None:
        return None, error(404, "No transcription found for this message")
    return found["sentences"], None


@answers("GET /conversations/locations/{locationId}/messages/{messageId}/transcription")
def transcription(ctx):
    sentences, bad = _sentences(ctx)
    return bad or ok(sentences)


@answers("GET /conversations/locations/{locationId}/messages/{messageId}/transcription/download")
def download(ctx):
    sentences, bad = _sentences(ctx)
    if bad:
        return bad
    text = "".join(f"Channel {s['mediaChannel']}: {s['transcript']}\n" for s in sentences)
    return Response(text, media_type="text/plain",
                    headers={"Content-Disposition": 'attachment; filename="transcription.txt"'})


@answers("POST /conversations/providers/live-chat/typing", checked=True)
def typing(ctx):
    flag = str(ctx.body["isTyping"]).lower()
    if flag not in ("true", "false"):
        return error(422, ["isTyping must be 'true' or 'false'"])
    conversation, bad = owned(ctx, CONVERSATIONS, ctx.body["conversationId"],
                              "Conversation not found")
    if bad:
        return bad
    conversation["agentTyping"] = {"isTyping": flag == "true", "visitorId": ctx.body["visitorId"]}
    return ok({"success": True}, 201)


AREA = Area.of("conversations", vars(), seed=seed)
