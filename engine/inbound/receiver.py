"""Accepting GHL's marketplace-app events: verify, refuse stale and replayed ones, queue.

GHL asks receivers to verify the signature over the raw body, to reject a ``timestamp`` older
than about 5 minutes and a ``webhookId`` already seen (GHL's webhook authentication guide), and
it sends an event again only when the answer is 429 (GHL's webhook delivery guide). So:

====================================  =====  ===============================
case                                  HTTP   queued
====================================  =====  ===============================
signed, fresh, first time             200    yes
no signature, or none verifies        401    no
signed but not a JSON object          422    no
``timestamp`` older than the limit    409    no (``stale_event``)
``webhookId`` already queued          409    no (``duplicate_event``)
the queue is full or Redis fails      429    no (GHL tries again)
====================================  =====  ===============================
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from datetime import datetime
from typing import Any, Mapping
from urllib.parse import parse_qsl

from redis.exceptions import RedisError

from engine.accounts import hooks
from engine.core import keys
from engine.core.errors import Conflict, InputInvalid, NotFound, RateLimited, Unauthorized
from engine.inbound import queue, signature
from engine.runtime import Runtime

log = logging.getLogger("engine.inbound.receiver")

RETRY_AFTER_S = 30.0


def parse_timestamp_s(value: Any) -> float | None:
    """An event ``timestamp`` as epoch seconds: ISO 8601 text (GHL's form,
    ``2025-01-28T12:34:56.789Z``) or epoch milliseconds; None when absent or unreadable."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) / 1000.0
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    return None


def parse_body(raw: bytes) -> dict[str, Any]:
    """The JSON object of an event body; :class:`InputInvalid` naming ``body`` otherwise."""
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        body = None
    if not isinstance(body, dict):
        raise InputInvalid([{"field": "body", "location": "body",
                             "message": "the event body must be a JSON object"}])
    return body


async def queue_or_refuse(rt: Runtime, *, source: str, body: dict[str, Any], dedupe_id: str,
                          connection_id: str | None = None) -> None:
    """Queue an event; raise :class:`Conflict` for a duplicate and :class:`RateLimited` (429,
    so the sender tries again) when it cannot be queued."""
    try:
        outcome = await queue.enqueue(rt, source=source, body=body, dedupe_id=dedupe_id,
                                      connection_id=connection_id)
    except (RedisError, OSError) as exc:
        log.error("event could not be queued: %s", type(exc).__name__)
        raise RateLimited("the event could not be queued; send it again later",
                          retry_after=RETRY_AFTER_S) from None
    if outcome == queue.FULL:
        log.warning("event refused: the inbound queue holds ENGINE_INBOUND_QUEUE_MAX events")
        raise RateLimited("the event queue is full; send it again later", retry_after=RETRY_AFTER_S)
    if outcome == queue.DUPLICATE:
        raise Conflict(f"event {dedupe_id!r} was already received", code="duplicate_event")


async def accept_ghl(rt: Runtime, raw: bytes, headers: Mapping[str, str],
                     now_s: float | None = None) -> dict[str, Any]:
    """Verify and queue one marketplace-app event; returns the parsed body.

    Raises :class:`Unauthorized` (no verifying signature), :class:`InputInvalid`,
    :class:`Conflict` (stale or replayed) or :class:`RateLimited` (not queued)."""
    s = rt.settings
    if not (s.ghl_webhook_public_key or s.ghl_webhook_legacy_key):
        raise Unauthorized("no GHL webhook public key is configured (set GHL_WEBHOOK_PUBLIC_KEY), "
                           "so no event can be verified", code="bad_signature")
    if signature.verify(raw, headers, ed25519=s.ghl_webhook_public_key,
                        legacy_rsa=s.ghl_webhook_legacy_key) is None:
        raise Unauthorized("the event's x-ghl-signature (or x-wh-signature) does not verify with "
                           "the configured GHL public key", code="bad_signature")
    body = parse_body(raw)
    now_s = time.time() if now_s is None else now_s
    sent_s = parse_timestamp_s(body.get("timestamp"))
    if sent_s is not None and now_s - sent_s > s.inbound_max_age_seconds:
        raise Conflict(f"the event's timestamp is {int(now_s - sent_s)} s old, past the "
                       f"{int(s.inbound_max_age_seconds)} s limit", code="stale_event")
    if sent_s is not None and sent_s - now_s > s.inbound_max_age_seconds:
        raise Conflict("the event's timestamp lies in the future, past the clock-skew limit",
                       code="stale_event")
    webhook_id = body.get("webhookId")
    dedupe_id = (webhook_id if isinstance(webhook_id, str) and webhook_id
                 else "sha256:" + hashlib.sha256(raw).hexdigest())
    await queue_or_refuse(rt, source="ghl", body=body, dedupe_id=dedupe_id)
    return body


# the app a token URL's source belongs to
_SOURCE_APP = {"ghl-hook": "ghl", "smsglobal-receipt": "smsglobal", "smsglobal-incoming": "smsglobal"}


def parse_push_body(raw: bytes, content_type: str) -> dict[str, Any]:
    """A pushed body as a flat object: JSON, or a form (``application/x-www-form-urlencoded``,
    as SMSGlobal may send). :class:`InputInvalid` naming ``body`` otherwise."""
    if "form" in content_type.lower():
        try:
            pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(raw))
        except (ValueError, UnicodeDecodeError):
            pairs = None
        if pairs is not None:
            return dict(pairs)
        raise InputInvalid([{"field": "body", "location": "body",
                             "message": "the form body cannot be read"}])
    return parse_body(raw) if raw.strip() else {}


async def accept_hook(rt: Runtime, hook_token: str, source: str, raw: bytes, content_type: str,
                      event_type: str | None = None) -> str:
    """Queue a push that arrived on a connection's token URL; returns the connection id.

    The token authenticates it: an unknown or rotated token, or a token of another app's
    connection, gets :class:`NotFound` and nothing is queued. The body only selects what to
    poll, so it is taken as is (JSON or form). A body sent twice within the seen TTL is queued
    once (and answered like the first: a sender that retries on 409 would only repeat it)."""
    conn_id = await hooks.connection_for(rt.redis, hook_token)
    app = await rt.redis.hget(keys.CONNECTION.format(conn_id=conn_id), "app") if conn_id else None
    if app is None or app.decode() != _SOURCE_APP[source]:
        raise NotFound("no connection has this hook URL (a rotated token stops working); see "
                       "GET /v1/connections/{id}/hook", code="hook_not_found")
    body = parse_push_body(raw, content_type)
    if event_type and isinstance(event_type, str):
        body.setdefault("type", event_type[:100])
    digest = hashlib.sha256(conn_id.encode() + b"\n" + source.encode() + b"\n" + raw).hexdigest()
    try:
        await queue_or_refuse(rt, source=source, body=body, dedupe_id=f"{source}:{digest}",
                              connection_id=conn_id)
    except Conflict:
        pass
    return conn_id
