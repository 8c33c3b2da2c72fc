"""The GHL stand-in as a conversation provider sees it.

A staff member sending an SMS from a conversation (a control route here) adds an outbound
message with status ``pending`` and posts GHL's ``ProviderOutboundMessage`` event, signed with
the sandbox's Ed25519 key (:mod:`sandbox.push`), to the provider's Delivery URL. The provider's
``PUT /conversations/messages/{messageId}/status`` is refused for a while right after the send,
as GHL does: 401 first, then 403 (GoHighLevel/highlevel-api-docs#4; the lengths are settings
here, 0 by default). ``POST /conversations/messages/inbound`` adds an inbound message to the
conversation (created by ``POST /conversations/`` when the contact has none).

Control routes:

    PUT  /_sandbox/provider                  {delivery_url, refuse_401_seconds, refuse_403_seconds}
    POST /_sandbox/provider/contacts         {phone, firstName?}  a contact and its conversation
    POST /_sandbox/provider/conversations/{conversationId}/send
                                             {message, attachments?, userId?, silent?}  a staff
                                             send (silent: no event is posted)
    POST /_sandbox/provider/events           {event}  post an event body again, as GHL retries
    GET  /_sandbox/provider/conversations/{conversationId}/messages   the thread, oldest first,
                                             each message with the status calls it got
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse

from sandbox import conversations as conv
from sandbox.answers import (DEFAULT_LOCATION, Area, answers, error, missing_required, ok, owned,
                             read_json)
from sandbox.contacts import fake_contact
from sandbox.push import sign
from sandbox.store import new_id, now_iso

CONFIG = "provider/config"


def config(store) -> dict[str, Any]:
    bucket = store.bucket(CONFIG)
    if "me" not in bucket:
        bucket["me"] = {"id": "me", "delivery_url": "", "refuse_401_seconds": 0.0,
                        "refuse_403_seconds": 0.0}
    return bucket["me"]


def refusal(store, message: dict[str, Any]) -> JSONResponse | None:
    """GHL's early refusal of a status update right after the send, or None."""
    cfg = config(store)
    age = time.time() - message.get("_sent_at", 0)
    if age < cfg["refuse_401_seconds"]:
        return error(401, "The token is not authorized for this scope.", "Unauthorized")
    if age < cfg["refuse_401_seconds"] + cfg["refuse_403_seconds"]:
        return error(403, "The token does not have access to this message yet.", "Forbidden")
    return None


def _conversation_of(store, location_id: str, contact_id: str) -> dict[str, Any] | None:
    for c in store.all(conv.CONVERSATIONS):
        if c["contactId"] == contact_id and c["locationId"] == location_id:
            return c
    return None


def new_conversation(store, location_id: str, contact: dict[str, Any]) -> dict[str, Any]:
    now_ms = int(time.time() * 1000)
    name = f"{contact.get('firstName') or ''} {contact.get('lastName') or ''}".strip()
    return store.put(conv.CONVERSATIONS, {
        "id": new_id(), "contactId": contact["id"], "locationId": location_id,
        "type": "TYPE_PHONE", "unreadCount": 0, "inbox": True, "starred": False,
        "deleted": False, "assignedTo": None, "fullName": name, "contactName": name,
        "email": contact.get("email"), "phone": contact.get("phone"), "dateAdded": now_ms,
        "dateUpdated": now_ms, "lastMessageDate": now_ms})


def _required(ctx, *names: str) -> JSONResponse | None:
    missing = [f"{n} should not be empty" for n in names if not ctx.body.get(n)]
    return error(422, missing) if missing else None


# GHL endpoints a provider calls (apps/conversations.json) that the catalog has no spec for,
# hence their route keys
@answers("POST /conversations/", key="conversations.sandbox.create_conversation")
def create_conversation(ctx):
    bad = _required(ctx, "locationId", "contactId")
    if bad:
        return bad
    if ctx.body["locationId"] != ctx.location_id:
        return error(403, "The token does not have access to this location.")
    contact = ctx.store.get("contacts", ctx.body["contactId"])
    if contact is None or contact.get("locationId") != ctx.location_id:
        return error(400, "Contact not found")
    existing = _conversation_of(ctx.store, ctx.location_id, contact["id"])
    if existing is not None:
        return error(400, "Conversation already exists", conversationId=existing["id"])
    made = new_conversation(ctx.store, ctx.location_id, contact)
    return ok({"success": True, "conversation": {k: made[k] for k in (
        "id", "contactId", "locationId", "dateAdded", "dateUpdated", "type")}}, 201)


@answers("POST /conversations/messages/inbound", key="conversations.sandbox.add_inbound_message")
def add_inbound(ctx):
    body = ctx.body
    bad = _required(ctx, "type", "contactId")
    if bad:
        return bad
    contact = ctx.store.get("contacts", body["contactId"])
    if contact is None or contact.get("locationId") != ctx.location_id:
        return error(400, "Contact not found")
    conversation = (ctx.store.get(conv.CONVERSATIONS, body["conversationId"])
                    if body.get("conversationId") else
                    _conversation_of(ctx.store, ctx.location_id, contact["id"]))
    if conversation is None or conversation["contactId"] != contact["id"]:
        return error(400, "Conversation not found for this contact")
    kind = {"SMS": "TYPE_SMS", "Email": "TYPE_EMAIL", "Call": "TYPE_CALL"}.get(body["type"], "TYPE_CUSTOM")
    message = conv.add_message(ctx.store, conversation, kind=kind, direction="inbound",
                               body=str(body.get("message") or ""),
                               at_ms=int(time.time() * 1000), altId=body.get("altId"),
                               conversationProviderId=body.get("conversationProviderId"),
                               attachments=body.get("attachments") or [])
    return ok({"success": True, "conversationId": conversation["id"], "messageId": message["id"],
               "message": "Message added", "contactId": contact["id"], "dateAdded": now_iso()})


STATUSES = ("delivered", "failed", "pending", "read")


@answers("PUT /conversations/messages/{messageId}/status")
def update_status(ctx):
    """A provider's status report: refused for a while right after the send, as GHL does."""
    message, bad = owned(ctx, conv.MESSAGES, ctx.path["messageId"], "Message not found", 404)
    bad = bad or missing_required(ctx)
    if bad:
        return bad
    if ctx.body["status"] not in STATUSES:
        return error(422, [f"status must be one of the following values: {', '.join(STATUSES)}"])
    refused = refusal(ctx.store, message)
    message.setdefault("_status_calls", []).append(
        {"status": ctx.body["status"], "answer": refused.status_code if refused else 200})
    if refused is not None:
        return refused
    message["status"] = ctx.body["status"]
    if ctx.body.get("error"):
        message["error"] = ctx.body["error"]
    email_id = ctx.body.get("emailMessageId")
    if email_id and ctx.store.get(conv.EMAILS, email_id) is not None:
        ctx.store.get(conv.EMAILS, email_id)["status"] = ctx.body["status"]
    return ok({"conversationId": message["conversationId"], "messageId": message["id"],
               "status": message["status"], "msg": "Message status updated."})


def _event(conversation: dict[str, Any], message: dict[str, Any], contact: dict[str, Any],
           attachments: list[str], user_id: str) -> dict[str, Any]:
    """GHL's ProviderOutboundMessage body for an SMS (webhook-events/ProviderOutboundMessage.md)."""
    return {"contactId": contact["id"], "locationId": conversation["locationId"],
            "messageId": message["id"], "type": "SMS", "phone": contact.get("phone") or "",
            "message": message["body"], "attachments": attachments, "userId": user_id}


async def post_event(url: str, event: dict[str, Any]) -> int:
    """POST an event to ``url`` signed as GHL signs it; the answer's status (0: unreachable)."""
    raw = json.dumps(event, separators=(",", ":")).encode()
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            resp = await client.post(url, content=raw, headers={
                "content-type": "application/json", "x-ghl-signature": sign(raw)})
        return resp.status_code
    except httpx.HTTPError:
        return 0


def install(app: FastAPI) -> None:
    state = app.state.sandbox
    store = state.store
    router = APIRouter(prefix="/_sandbox/provider")

    @router.put("")
    async def set_config(request: Request) -> dict:
        body = await read_json(request) or {}
        cfg = config(store)
        for name in ("delivery_url", "refuse_401_seconds", "refuse_403_seconds"):
            if name in body:
                cfg[name] = body[name] if name == "delivery_url" else float(body[name])
        return cfg

    @router.post("/contacts")
    async def new_contact(request: Request) -> dict:
        body = await read_json(request) or {}
        with store.lock:
            contact = store.put("contacts", fake_contact(
                len(store.all("contacts")), DEFAULT_LOCATION, phone=str(body["phone"]),
                firstName=str(body.get("firstName") or "Casey")))
            conversation = new_conversation(store, DEFAULT_LOCATION, contact)
        return {"contact": contact, "conversation": conversation}

    @router.post("/conversations/{conversation_id}/send")
    async def staff_send(conversation_id: str, request: Request) -> JSONResponse:
        body = await read_json(request) or {}
        with store.lock:
            conversation = store.get(conv.CONVERSATIONS, conversation_id)
            if conversation is None:
                return JSONResponse({"message": "no such conversation"}, status_code=404)
            contact = store.get("contacts", conversation["contactId"]) or {}
            attachments = list(body.get("attachments") or [])
            message = conv.add_message(store, conversation, kind="TYPE_SMS", direction="outbound",
                                       body=str(body.get("message") or ""),
                                       at_ms=int(time.time() * 1000), attachments=attachments,
                                       status="pending", userId=body.get("userId") or "usr_staff")
            message["_sent_at"] = time.time()
            event = _event(conversation, message, contact, attachments, message["userId"])
        url = config(store)["delivery_url"]
        answered = await post_event(url, event) if url and not body.get("silent") else 0
        return JSONResponse({"message": {k: v for k, v in message.items() if not k.startswith("_")},
                             "event": event, "delivery_status": answered})

    @router.post("/events")
    async def repost(request: Request) -> dict:
        """Post an event body again as given (GHL retrying an event)."""
        event = await read_json(request) or {}
        return {"delivery_status": await post_event(config(store)["delivery_url"], event)}

    @router.get("/conversations/{conversation_id}/messages")
    async def thread(conversation_id: str) -> dict:
        with store.lock:
            items = [m for m in store.all(conv.MESSAGES) if m["conversationId"] == conversation_id]
        items.sort(key=lambda m: (m["dateAdded"], m["id"]))
        return {"messages": [{**{k: v for k, v in m.items() if not k.startswith("_")},
                              "statusCalls": m.get("_status_calls", [])} for m in items]}

    before = len(app.router.routes)
    app.include_router(router)
    ours = app.router.routes[before:]
    del app.router.routes[before:]
    app.router.routes[0:0] = ours  # ahead of GHL's catch-all


AREA = Area.of("providers", vars())
