"""Outbound: GHL's ProviderOutboundMessage → one SMS through SMSGlobal → the status in GHL.

Facts (ghl-openapi docs): GHL posts ``ProviderOutboundMessage`` to the provider's Delivery URL
with contactId, locationId, messageId, type (SMS or Email), phone, message, attachments and
userId (webhook-events/ProviderOutboundMessage.md); the provider reports the outcome with
``PUT /conversations/messages/{messageId}/status`` {status: delivered | failed | pending |
read, error: {code, type, message}} (apps/conversations.json, UpdateMessageStatusDto). Right
after a send GHL refuses that call for 5–10 s, first with 401, then 403
(GoHighLevel/highlevel-api-docs#4): it is retried with backoff.

SMSGlobal (REST API notes §3.1): POST /v2/sms {destination, message, origin, notifyUrl,
incomingUrl} answers {messages: [{outgoing_id, ...}]} (or one bare message object); 402 means
no credit, 400 names the bad field; the notifyUrl receives {id, outgoing_id, status,
update_time}.

The work's ``state``: ``queued`` → ``sending`` (written before the request) → ``sent`` (with
SMSGlobal's outgoing_id) → ``delivered`` or ``failed``. What GHL should show is ``report``, what
it was told last is ``reported``; a worker that dies anywhere carries on from there, and a
message in ``sending`` when its worker died is never sent again (SMSGlobal's send cannot be
repeated safely): it is looked up in SMSGlobal's sent list, or reported failed with the reason.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime, timedelta, timezone
from typing import Any

from engine.accounts import connections, hooks
from engine.core import keys
from engine.core.errors import EngineError, RateLimited, UpstreamAuthError, UpstreamError
from engine.core import phones
from engine.provider import segments, setup, work
from engine.runtime import Runtime
from engine.upstream.budget import Budget, Limits
from engine.upstream.call import Call

log = logging.getLogger("engine.provider.outbound")

GHL_CONVERSATIONS_VERSION = "2021-04-15"
STATUS_REFUSED = (401, 403)  # GHL's answer for a few seconds after the send
DELIVERED = {"delivered"}
# SMSGlobal statuses that end a message without delivery (REST API notes §3.1, list filters and
# JAVA-MessageStatus); others (sent, Processing, scheduled...) are on the way
UNDELIVERED = {"undelivered": "undelivered", "rejected": "rejected", "expired": "expired",
               "nocredits": "no_credit", "invalidnumber": "invalid_number", "failed": "failed"}
_RECEIPT = """
local work_id = redis.call('GET', KEYS[1])
if not work_id then
  redis.call('SET', KEYS[2], ARGV[1], 'EX', 86400)
  return 0
end
local wkey = ARGV[2] .. work_id
local state = redis.call('HGET', wkey, 'state')
if state == 'delivered' or state == 'failed' then return 2 end
redis.call('HSET', wkey, unpack(ARGV, 5))
redis.call('ZADD', KEYS[3], ARGV[3], work_id)
redis.call('LPUSH', KEYS[4], work_id)
return 1
"""
_SENT = """
redis.call('SET', KEYS[2], ARGV[1], 'EX', 604800)
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
local early = redis.call('GET', KEYS[3])
if early then redis.call('DEL', KEYS[3]) end
return early
"""


def work_id(message_id: str) -> str:
    """The work id of an outbound message: ``out:`` + the ``messageId`` of GHL's
    ProviderOutboundMessage event (GHL docs, webhook-events/ProviderOutboundMessage), so the
    event delivered again finds the same work."""
    return f"out:{message_id}"


async def accept(rt: Runtime, event: dict[str, Any]) -> str:
    """Record a ProviderOutboundMessage as work, once per messageId. Returns what happened:
    ``queued``, ``duplicate`` or ``ignored: <why>`` (not SMS, no provider set-up...)."""
    message_id = event.get("messageId")
    location_id = event.get("locationId")
    if not isinstance(message_id, str) or not message_id or not isinstance(location_id, str):
        return "ignored: no messageId or locationId"
    if event.get("type") not in ("SMS", None):
        return f"ignored: type {event.get('type')!r} is not SMS"
    if await setup.load(rt.redis, location_id) is None:
        return f"ignored: location {location_id} has no provider set-up"
    attachments = event.get("attachments") or []
    made = await work.create(rt.redis, work_id(message_id), {
        "kind": "outbound", "state": "queued", "location_id": location_id,
        "message_id": message_id, "contact_id": str(event.get("contactId") or ""),
        "phone": str(event.get("phone") or ""), "message": str(event.get("message") or ""),
        "attachments": attachments if isinstance(attachments, list) else [attachments],
        "report": "", "reported": "", "created_at": work.now_ms()})
    return "queued" if made else "duplicate"


def _send_budget(rt: Runtime) -> Budget:
    s = rt.settings
    return Budget(rt.redis, Limits(burst=s.provider_sms_burst, window_ms=s.provider_sms_window_ms,
                                   margin_ms=0, daily=s.provider_sms_daily, reserve=0))


def _error(code: str, message: str) -> dict[str, str]:
    return {"code": code, "type": "saas", "message": message}


def _failed(code: str, message: str) -> dict[str, Any]:
    return {"state": "failed", "report": "failed", "error": _error(code, message)}


def _note(rec: dict[str, str]) -> str:
    if not rec.get("segments"):
        return ""
    return f" ({rec['segments']} segment(s), {rec['encoding']})"


def _outgoing_id(data: Any) -> str | None:
    if isinstance(data, dict) and isinstance(data.get("messages"), list) and data["messages"]:
        data = data["messages"][0]
    if isinstance(data, dict) and data.get("outgoing_id") is not None:
        return str(data["outgoing_id"])
    return None


def _send_failure(exc: EngineError, rec: dict[str, str]) -> dict[str, Any] | None:
    """What a failed SMSGlobal send means for the message; None when it surely did not reach
    SMSGlobal and can be tried again."""
    if isinstance(exc, RateLimited):
        return None
    details = exc.details if isinstance(exc.details, dict) else {}
    status = details.get("upstream_status")
    upstream = details.get("upstream")
    text = exc.message
    if status == 402:
        return _failed("no_credit", "SMSGlobal refused the message: the account has no credit "
                                    "left (402)" + _note(rec))
    if status == 400:
        errors = upstream.get("errors") if isinstance(upstream, dict) else None
        if isinstance(errors, dict) and ("destination" in errors or "destinations" in errors):
            return _failed("invalid_number", f"SMSGlobal refused the number: {text}")
        return _failed("rejected", f"SMSGlobal refused the message: {text}" + _note(rec))
    if isinstance(exc, UpstreamAuthError):
        return _failed("smsglobal_credentials", "SMSGlobal refused the provider's API key; "
                                                "the message was not sent")
    if details.get("may_have_arrived") is False:
        return None
    return _failed("unknown_outcome", f"SMSGlobal did not confirm the send ({text}); it is not "
                                      "sent again, to avoid a duplicate SMS")


async def _send(rt: Runtime, wid: str, rec: dict[str, str], provider: dict[str, Any]) -> dict[str, Any]:
    """Send the SMS once; the fields to record (state sent, or failed with the reason)."""
    attachments = json.loads(rec.get("attachments") or "[]")
    if attachments:
        return _failed("attachments_unsupported", f"SMS through SMSGlobal cannot carry "
                                                  f"attachments ({len(attachments)} given); "
                                                  "nothing was sent")
    if not rec["message"].strip():
        return _failed("empty_message", "the message has no text; nothing was sent")
    try:
        destination = phones.msisdn(rec["phone"], provider["default_region"])
    except phones.PhoneError as exc:
        return _failed("invalid_number", f"{exc}; nothing was sent")
    count, encoding = segments.sms_parts(rec["message"])
    rec.update(segments=str(count), encoding=encoding)
    conn = await connections.load(rt.redis, provider["smsglobal_connection_id"], rt.vault)
    if conn is None:
        return _failed("no_smsglobal_connection", "the provider's SMSGlobal connection is gone")
    await _send_budget(rt).acquire(f"provider-sms:{conn.id}", "interactive",
                                   max_wait=rt.settings.rate_max_wait_seconds)
    body: dict[str, Any] = {"destination": destination, "message": rec["message"],
                            "origin": provider["sender"]}
    hook_token = await hooks.token(rt.redis, rt.vault, conn.id) if rt.settings.public_url else None
    if hook_token:  # SMSGlobal pushes the receipt and the replies to the connection's hook URLs
        body.update(notifyUrl=hooks.push_url(rt.settings.public_url, "notify_url", hook_token),
                    incomingUrl=hooks.push_url(rt.settings.public_url, "incoming_url", hook_token))
    await work.update(rt.redis, wid, {"state": "sending", "sending_at": work.now_ms(),
                                      "destination": destination, "segments": count,
                                      "encoding": encoding})
    resp = await rt.upstream.send(conn, Call(method="POST", path="/v2/sms", body=body,
                                             safe_to_retry=False))
    outgoing = _outgoing_id(resp.data)
    if outgoing is None:
        return _failed("unknown_outcome", "SMSGlobal answered without an outgoing_id; it is not "
                                          "sent again, to avoid a duplicate SMS")
    return {"state": "sent", "outgoing_id": outgoing, "sent_at": work.now_ms()}


async def _record_sent(rt: Runtime, wid: str, fields: dict[str, Any]) -> dict[str, Any]:
    """Write the sent state and SMSGlobal's id → work mapping at once; a receipt that came
    first is applied."""
    outgoing = fields["outgoing_id"]
    early = await rt.redis.eval(_SENT, 3, keys.PROVIDER_WORK.format(work_id=wid),
                                keys.PROVIDER_OUTGOING.format(outgoing_id=outgoing),
                                keys.PROVIDER_RECEIPT.format(outgoing_id=outgoing), wid,
                                *work.flat(fields))
    if early:
        outcome = receipt_outcome(json.loads(early))
        if outcome:
            await work.update(rt.redis, wid, outcome)
            fields = {**fields, **outcome}
    return fields


async def _recover(rt: Runtime, rec: dict[str, str], provider: dict[str, Any]) -> dict[str, Any]:
    """A send whose worker died while it was in flight: find it in SMSGlobal's sent list (same
    number and text, sent since), else report it failed; never send it again."""
    conn = await connections.load(rt.redis, provider["smsglobal_connection_id"], rt.vault)
    since = datetime.fromtimestamp(int(rec.get("sending_at") or 0) / 1000 - 120, timezone.utc)
    if conn is not None:
        query = [("destination", rec.get("destination", "")),
                 ("startDate", since.strftime("%Y-%m-%d %H:%M:%S")),
                 ("endDate", (datetime.now(timezone.utc) + timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S")),
                 ("limit", 100)]
        try:
            resp = await rt.upstream.send(conn, Call(method="GET", path="/v2/sms", query=query))
            for msg in (resp.data or {}).get("messages") or []:
                if msg.get("message") == rec.get("message") and msg.get("outgoing_id") is not None:
                    return {"state": "sent", "outgoing_id": str(msg["outgoing_id"]),
                            "sent_at": work.now_ms(), "recovered": "1"}
        except EngineError as exc:
            log.warning("could not look up the interrupted send of %s: %s", rec["message_id"], exc)
    return _failed("unknown_outcome", "the engine stopped while sending and SMSGlobal's sent "
                                      "list does not show the message; it is not sent again, "
                                      "to avoid a duplicate SMS")


def receipt_outcome(receipt: dict[str, Any]) -> dict[str, Any] | None:
    """The work fields a delivery receipt sets, or None for a status on the way."""
    status = str(receipt.get("status") or "").replace(" ", "").lower()
    if status in DELIVERED:
        return {"state": "delivered", "report": "delivered",
                "delivered_at": str(receipt.get("update_time") or "")}
    if status in UNDELIVERED:
        code = UNDELIVERED[status]
        return {**_failed(code, f"SMSGlobal reports the message {receipt.get('status')}"),
                "failed_at": str(receipt.get("update_time") or "")}
    return None


async def on_receipt(rt: Runtime, receipt: dict[str, Any]) -> str:
    """A delivery receipt pushed by SMSGlobal ({id, outgoing_id, status, update_time}): the
    message's status to report. Returns ``applied``, ``kept`` (its send is not recorded yet),
    ``ignored`` (a status on the way, a finished message, or not a provider message)."""
    outgoing = receipt.get("outgoing_id")
    outcome = receipt_outcome(receipt)
    if outgoing in (None, "") or outcome is None:
        return "ignored"
    got = await rt.redis.eval(
        _RECEIPT, 4, keys.PROVIDER_OUTGOING.format(outgoing_id=outgoing),
        keys.PROVIDER_RECEIPT.format(outgoing_id=outgoing), keys.PROVIDER_DUE, keys.PROVIDER_READY,
        json.dumps(receipt), keys.PROVIDER_WORK.format(work_id=""), work.now_ms(), "",
        *work.flat(outcome))
    return {0: "kept", 1: "applied"}.get(int(got), "ignored")


def _status_backoff_ms(attempt: int) -> int:
    """1 s, 2 s, 3 s, 4 s, then every 5 s: GHL's refusal lasts 5–10 s after a send."""
    return min(attempt, 5) * 1000


async def _report(rt: Runtime, wid: str, rec: dict[str, str], provider: dict[str, Any]) -> bool:
    """PUT the status GHL should show. True when GHL took it or it is given up; False when it
    is scheduled again."""
    conn = await connections.load(rt.redis, provider["ghl_connection_id"], rt.vault)
    if conn is None:
        await work.update(rt.redis, wid, {"last_error": "the provider's GHL connection is gone"})
        return True
    body: dict[str, Any] = {"status": rec["report"]}
    if rec["report"] == "failed" and rec.get("error"):
        body["error"] = json.loads(rec["error"])
    attempt = int(rec.get("status_attempts") or 0) + 1
    since_ms = int(rec.get("report_since") or 0) or work.now_ms()
    call = Call(method="PUT", path=f"/conversations/messages/{rec['message_id']}/status",
                version=GHL_CONVERSATIONS_VERSION, body=body, reauthorize=False)
    try:
        await rt.upstream.send(conn, call)
    except UpstreamError as exc:
        status = (exc.details or {}).get("upstream_status") if isinstance(exc.details, dict) else None
        retry = status in STATUS_REFUSED or status == 429 or status is None or status >= 500
        within = work.now_ms() - since_ms < rt.settings.provider_status_retry_seconds * 1000
        fields = {"status_attempts": attempt, "report_since": since_ms,
                  "last_error": f"status {rec['report']}: {exc.message}"[:500]}
        if retry and within:
            await work.schedule(rt.redis, wid, work.now_ms() + _status_backoff_ms(attempt), fields)
            return False
        await work.update(rt.redis, wid, fields)
        log.warning("gave up reporting %s for message %s: %s", rec["report"], rec["message_id"],
                    exc.message)
        return True
    except RateLimited as exc:
        await work.schedule(rt.redis, wid, work.now_ms() + int(exc.retry_after * 1000),
                            {"status_attempts": attempt, "report_since": since_ms})
        return False
    await work.update(rt.redis, wid, {"reported": rec["report"], "status_attempts": 0,
                                      "report_since": 0, "reported_at": work.now_ms()})
    return True


async def run(rt: Runtime, wid: str, rec: dict[str, str]) -> None:
    """Take one outbound message as far as it can go now (the work is claimed)."""
    provider = await setup.load(rt.redis, rec["location_id"])
    if provider is None:
        await work.finish(rt.redis, wid, {"last_error": "the location's provider set-up is gone"})
        return
    state = rec["state"]
    if state == "queued":
        try:
            fields = await _send(rt, wid, rec, provider)
        except EngineError as exc:
            fields = _send_failure(exc, rec)
            if fields is None:  # never reached SMSGlobal: try again shortly
                wait_s = getattr(exc, "retry_after", 2.0)
                await work.schedule(rt.redis, wid, work.now_ms() + int(wait_s * 1000),
                                    {"state": "queued", "last_error": exc.message[:500]})
                return
        if fields.get("state") == "sent":
            fields = await _record_sent(rt, wid, fields)
        else:
            await work.update(rt.redis, wid, fields)
        rec = {**rec, **{k: v if isinstance(v, str) else json.dumps(v) for k, v in fields.items()}}
    elif state == "sending":
        fields = await _recover(rt, rec, provider)
        if fields.get("state") == "sent":
            fields = await _record_sent(rt, wid, fields)
        else:
            await work.update(rt.redis, wid, fields)
        rec = {**rec, **{k: v if isinstance(v, str) else json.dumps(v) for k, v in fields.items()}}
    if rec.get("report") and rec["report"] != rec.get("reported"):
        if not await _report(rt, wid, rec, provider):
            return
        rec["reported"] = rec["report"]
    if rec["state"] in ("delivered", "failed") and rec.get("reported") == rec["report"]:
        await work.finish(rt.redis, wid, {"finished_at": work.now_ms()})
    elif rec["state"] == "sent":
        await work.park(rt.redis, wid, "sent")  # a delivery receipt wakes it
    else:
        await work.finish(rt.redis, wid, {"finished_at": work.now_ms()})


async def on_outbound_event(rt: Runtime, event: Any) -> None:
    """Dispatcher handler for GHL's ``ProviderOutboundMessage`` (an :class:`engine.inbound.queue.Event`)."""
    outcome = await accept(rt, event.body)
    if outcome.startswith("ignored"):
        log.info("ProviderOutboundMessage %s %s", event.body.get("messageId"), outcome)


async def on_receipt_event(rt: Runtime, event: Any) -> None:
    """Dispatcher handler for SMSGlobal's ``SmsDeliveryReceipt`` pushes: those of provider
    messages set the status to report, others are left to other handlers."""
    await on_receipt(rt, event.body)
