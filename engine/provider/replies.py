"""Inbound: a reply pushed by SMSGlobal → the contact's GHL conversation, once.

The push only says which incoming message arrived; its content is read back from SMSGlobal
(GET /v2/sms-incoming/{id}, REST API notes §3.2: {id, origin, destination, message, dateTime,
...}), so a forged push costs one read and adds nothing. Then, in GHL (ghl-openapi
apps/contacts.json and apps/conversations.json):

1. the contact with that number: POST /contacts/upsert {locationId, phone} finds it by number
   or creates it;
2. a STOP-style keyword sets its SMS DND (PUT /contacts/{id} {dndSettings: {SMS: {status:
   active}}}) and adds the number to SMSGlobal's opt-outs (POST /v2/opt-outs); a START-style
   keyword sets the DND inactive and removes the opt-out (DELETE /v2/opt-outs/{number});
3. its conversation: GET /conversations/search?contactId=..., else POST /conversations/;
4. POST /conversations/messages/inbound {type: SMS, contactId, conversationId, message, altId:
   SMSGlobal's id, conversationProviderId for the extra kind} (ConversationProviders.md).

Each step's result is recorded before the next. The add (4) is the one write that cannot be
repeated safely: a worker that died during it looks for the message by its altId in the
conversation before adding it again.
"""

from __future__ import annotations

import logging
from typing import Any

from engine.accounts import connections
from engine.accounts.connections import Connection
from engine.core.errors import EngineError, NotFound, UpstreamError
from engine.core import keys, phones
from engine.provider import segments, setup, work
from engine.runtime import Runtime
from engine.upstream.call import Call

log = logging.getLogger("engine.provider.replies")

CONTACTS_VERSION = "2021-07-28"
CONVERSATIONS_VERSION = "2021-04-15"


def work_id(location_id: str, incoming_id: str) -> str:
    """The work id of a reply: ``in:<location id>:<SMSGlobal incoming message id>``, so a push
    delivered again finds the same work."""
    return f"in:{location_id}:{incoming_id}"


async def accept(rt: Runtime, provider: dict[str, Any], push: dict[str, Any]) -> str:
    """Record a reply pushed for ``provider``'s location, once per SMSGlobal incoming id.
    Returns ``queued``, ``duplicate`` or ``ignored: <why>``."""
    incoming_id = push.get("id") or push.get("msgid") or push.get("message_id")
    if incoming_id in (None, "") or not str(incoming_id).isdigit():
        return "ignored: no SMSGlobal message id"
    made = await work.create(rt.redis, work_id(provider["location_id"], str(incoming_id)), {
        "kind": "reply", "state": "queued", "location_id": provider["location_id"],
        "incoming_id": str(incoming_id), "created_at": work.now_ms()})
    return "queued" if made else "duplicate"


async def _ghl(rt: Runtime, conn: Connection, method: str, path: str, version: str, *,
               body: Any = None, query: list | None = None, safe: bool = True) -> Any:
    resp = await rt.upstream.send(conn, Call(method=method, path=path, version=version,
                                             body=body, query=query or [], safe_to_retry=safe))
    return resp.data


async def _read_back(rt: Runtime, sg: Connection, rec: dict[str, str]) -> dict[str, Any] | None:
    try:
        resp = await rt.upstream.send(sg, Call(method="GET", path=f"/v2/sms-incoming/{rec['incoming_id']}"))
    except UpstreamError as exc:
        if exc.status == 404:
            return None
        raise
    return resp.data if isinstance(resp.data, dict) else None


async def _keyword(rt: Runtime, ghl: Connection, sg: Connection, rec: dict[str, str],
                   provider: dict[str, Any]) -> str:
    """Apply a STOP or START keyword; returns which (or "")."""
    word = rec["message"].strip().strip(".!").upper()
    if word in provider["stop_keywords"]:
        dnd, action = "active", "stop"
    elif word in provider["start_keywords"]:
        dnd, action = "inactive", "start"
    else:
        return ""
    await _ghl(rt, ghl, "PUT", f"/contacts/{rec['contact_id']}", CONTACTS_VERSION,
               body={"dndSettings": {"SMS": {"status": dnd, "message": f"SMS reply {word}",
                                             "code": ""}}})
    number = rec["origin"]
    if action == "stop":
        await rt.upstream.send(sg, Call(method="POST", path="/v2/opt-outs",
                                        body={"optouts": [{"number": number}]}))
    else:
        try:
            await rt.upstream.send(sg, Call(method="DELETE", path=f"/v2/opt-outs/{number}"))
        except UpstreamError as exc:
            if exc.status != 404:  # not opted out at SMSGlobal: nothing to undo
                raise
    return action


async def _conversation(rt: Runtime, ghl: Connection, location_id: str, contact_id: str) -> str:
    found = await _ghl(rt, ghl, "GET", "/conversations/search", CONVERSATIONS_VERSION,
                       query=[("locationId", location_id), ("contactId", contact_id)])
    for conv in (found or {}).get("conversations") or []:
        if conv.get("contactId") == contact_id and conv.get("id"):
            return conv["id"]
    made = await _ghl(rt, ghl, "POST", "/conversations/", CONVERSATIONS_VERSION,
                      body={"locationId": location_id, "contactId": contact_id}, safe=False)
    conv = (made or {}).get("conversation") or made or {}
    return conv.get("id") or ""


async def _already_added(rt: Runtime, ghl: Connection, rec: dict[str, str]) -> str | None:
    data = await _ghl(rt, ghl, "GET", f"/conversations/{rec['conversation_id']}/messages",
                      CONVERSATIONS_VERSION, query=[("limit", 50)])
    messages = (data or {}).get("messages") or []
    if isinstance(messages, dict):  # GHL nests the list one level down in some answers
        messages = messages.get("messages") or []
    for msg in messages:
        if str(msg.get("altId") or "") == rec["incoming_id"]:
            return msg.get("id") or ""
    return None


async def run(rt: Runtime, wid: str, rec: dict[str, str]) -> None:
    """Take one reply as far as it goes (the work is claimed)."""
    provider = await setup.load(rt.redis, rec["location_id"])
    ghl = sg = None
    if provider is not None:
        ghl = await connections.load(rt.redis, provider["ghl_connection_id"], rt.vault)
        sg = await connections.load(rt.redis, provider["smsglobal_connection_id"], rt.vault)
    if provider is None or ghl is None or sg is None:
        await work.finish(rt.redis, wid, {"state": "dropped",
                                          "last_error": "the location's provider set-up is gone"})
        return
    try:
        await _steps(rt, wid, rec, provider, ghl, sg)
    except EngineError as exc:
        attempts = int(rec.get("attempts") or 0) + 1
        fields = {"attempts": attempts, "last_error": exc.message[:500]}
        if attempts >= 8 or (isinstance(exc, UpstreamError) and 400 <= exc.status < 500
                             and exc.status not in (401, 403, 429)):
            log.warning("reply %s not added to GHL: %s", rec["incoming_id"], exc.message)
            await work.finish(rt.redis, wid, {**fields, "state": "failed"})
        else:
            await work.schedule(rt.redis, wid, work.now_ms() + min(2 ** attempts, 60) * 1000, fields)


async def _steps(rt: Runtime, wid: str, rec: dict[str, str], provider: dict[str, Any],
                 ghl: Connection, sg: Connection) -> None:
    async def record(**fields: Any) -> None:
        await work.update(rt.redis, wid, fields)
        rec.update({k: str(v) for k, v in fields.items()})

    if rec["state"] == "queued":
        msg = await _read_back(rt, sg, rec)
        if msg is None:
            await work.finish(rt.redis, wid, {"state": "dropped", "last_error":
                                              "SMSGlobal does not know this incoming message"})
            return
        try:
            origin = phones.msisdn(str(msg.get("origin") or ""), provider["default_region"])
        except phones.PhoneError as exc:
            await work.finish(rt.redis, wid, {"state": "dropped", "last_error": str(exc)})
            return
        await record(state="confirmed", origin=origin, message=str(msg.get("message") or ""),
                     destination=str(msg.get("destination") or ""))
    if rec["state"] == "confirmed":
        data = await _ghl(rt, ghl, "POST", "/contacts/upsert", CONTACTS_VERSION,
                          body={"locationId": provider["location_id"],
                                "phone": phones.e164(rec["origin"])})
        contact = (data or {}).get("contact") or {}
        if not contact.get("id"):
            raise NotFound("GHL's upsert answered without a contact id")
        await record(state="contact", contact_id=contact["id"],
                     contact_created="1" if data.get("new") else "0")
    if rec["state"] == "contact":
        await record(state="keyword", keyword=await _keyword(rt, ghl, sg, rec, provider))
    if rec["state"] == "keyword":
        await record(state="conversation", conversation_id=await _conversation(
            rt, ghl, provider["location_id"], rec["contact_id"]))
    if rec["state"] == "adding":  # the worker died while adding: was it added?
        found = await _already_added(rt, ghl, rec)
        if found is not None:
            await work.finish(rt.redis, wid, {"state": "added", "ghl_message_id": found})
            return
        rec["state"] = "conversation"
    if rec["state"] == "conversation":
        body = {"type": "SMS", "contactId": rec["contact_id"],
                "conversationId": rec["conversation_id"], "message": rec["message"],
                "altId": rec["incoming_id"]}
        if provider["kind"] == "extra":
            body["conversationProviderId"] = provider["conversation_provider_id"]
        await record(state="adding")
        data = await _ghl(rt, ghl, "POST", "/conversations/messages/inbound", CONVERSATIONS_VERSION,
                          body=body, safe=False)
        await work.finish(rt.redis, wid, {"state": "added",
                                          "ghl_message_id": (data or {}).get("messageId") or ""})


async def providers_for(rt: Runtime, smsglobal_conn_id: str, destination: str) -> list[dict[str, Any]]:
    """The provider set-ups a reply on an SMSGlobal connection is for: those sending through that
    connection, narrowed to the one whose sender is the number the reply went to, when one is."""
    tenant = await rt.redis.hget(keys.CONNECTION.format(conn_id=smsglobal_conn_id), "tenant")
    if tenant is None:
        return []
    found = [p for p in await setup.list_for(rt.redis, tenant.decode())
             if p["smsglobal_connection_id"] == smsglobal_conn_id]
    to_sender = [p for p in found if destination and p["sender"] == destination]
    return to_sender or found


async def on_incoming_event(rt: Runtime, event: Any) -> None:
    """Dispatcher handler for SMSGlobal's ``SmsIncoming`` pushes (an
    :class:`engine.inbound.queue.Event` with the SMSGlobal connection in ``connection_id``)."""
    if not event.connection_id:
        return
    found = await providers_for(rt, event.connection_id, str(event.body.get("destination") or ""))
    if len(found) > 1:
        log.warning("reply %s on %s matches %d provider set-ups and no sender; not added",
                    event.body.get("id"), event.connection_id, len(found))
        return
    for provider in found:
        await accept(rt, provider, event.body)
