"""The durable event queue: a Redis stream between the receiving endpoints and the handlers.

An endpoint answers only after the event is in the stream (one Lua script checks the backlog,
records the event's id as seen and appends it, atomically), so a 2xx means the event is kept;
when the stream cannot take it the endpoint answers 429, the one status on which GHL sends the
event again (GHL's webhook delivery guide). Workers read the stream in a consumer group and
hand each event to the handlers registered for its ``type`` (:class:`Dispatcher`); an event
whose handler fails stays pending and is tried again by any worker, up to :data:`MAX_TRIES`
times, then moves to the dead list :data:`engine.core.keys.INBOUND_DEAD`.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from redis.exceptions import ResponseError

from engine.core import keys
from engine.runtime import Runtime

log = logging.getLogger("engine.inbound.queue")

GROUP = "engine"
MAX_TRIES = 5
RETRY_IDLE_MS = 30_000

QUEUED, DUPLICATE, FULL = 1, 0, -1

# KEYS: stream, seen key; ARGV: backlog cap, seen TTL (s), source, body, received_at (ms),
# connection id
ENQUEUE = """
if redis.call('XLEN', KEYS[1]) >= tonumber(ARGV[1]) then return -1 end
if not redis.call('SET', KEYS[2], '1', 'NX', 'EX', tonumber(ARGV[2])) then return 0 end
redis.call('XADD', KEYS[1], '*', 'source', ARGV[3], 'body', ARGV[4], 'received_at', ARGV[5],
           'connection_id', ARGV[6])
return 1
"""


@dataclass(frozen=True)
class Event:
    """One pushed event as handlers see it.

    :param id: the stream entry id.
    :param source: ``ghl`` (marketplace app, signed), ``ghl-hook`` (a workflow's webhook action
        on a connection's hook URL), ``smsglobal-receipt`` or ``smsglobal-incoming``.
    :param type: GHL's event ``type`` (``ContactCreate``...); for SMSGlobal pushes
        ``SmsDeliveryReceipt`` or ``SmsIncoming``.
    :param body: the event's JSON body (SMSGlobal form bodies as a flat object).
    :param connection_id: the connection a token URL named; None for marketplace events, which
        name their ``locationId`` instead.
    :param received_at_ms: when the endpoint accepted it (epoch ms).
    """

    id: str
    source: str
    type: str
    body: dict[str, Any]
    connection_id: str | None
    received_at_ms: int

    @property
    def location_id(self) -> str | None:
        """The body's ``locationId`` (GHL's webhook events carry one: GHL docs, webhook-events), or
        None when absent or not a non-empty string."""
        value = self.body.get("locationId")
        return value if isinstance(value, str) and value else None


PROVIDER_CHANNELS = ("SMS", "Email")


def event_type(source: str, body: dict[str, Any]) -> str:
    """The dispatch type of a body from a source (SMSGlobal pushes carry no ``type``; GHL's
    ProviderOutboundMessage carries its channel, SMS or Email, in ``type``, beside a
    ``messageId``: ghl-openapi docs, webhook-events/ProviderOutboundMessage.md)."""
    if source == "smsglobal-receipt":
        return "SmsDeliveryReceipt"
    if source == "smsglobal-incoming":
        return "SmsIncoming"
    value = body.get("type")
    if value in PROVIDER_CHANNELS and "messageId" in body:
        return "ProviderOutboundMessage"
    return value if isinstance(value, str) else ""


async def enqueue(rt: Runtime, *, source: str, body: dict[str, Any], dedupe_id: str,
                  connection_id: str | None = None) -> int:
    """Append an event to the stream unless its ``dedupe_id`` was seen within the TTL.

    Returns :data:`QUEUED`, :data:`DUPLICATE` or :data:`FULL` (the backlog reached
    ``ENGINE_INBOUND_QUEUE_MAX``; nothing was recorded). Redis errors propagate."""
    s = rt.settings
    return int(await rt.redis.eval(
        ENQUEUE, 2, keys.INBOUND_STREAM, keys.INBOUND_SEEN.format(event_id=dedupe_id),
        s.inbound_queue_max, s.inbound_seen_ttl_seconds, source,
        json.dumps(body, separators=(",", ":")), int(time.time() * 1000), connection_id or ""))


Handler = Callable[[Runtime, Event], Awaitable[None]]


class Dispatcher:
    """Handlers by event type. ``on(None, h)`` registers ``h`` for every type."""

    def __init__(self) -> None:
        self._by_type: dict[str | None, list[Handler]] = {}

    def on(self, event_type: str | None, handler: Handler) -> "Dispatcher":
        """Register ``handler`` for ``event_type`` (None: every type); returns the dispatcher, so
        calls chain."""
        self._by_type.setdefault(event_type, []).append(handler)
        return self

    def handlers_for(self, event_type: str) -> list[Handler]:
        """The handlers of ``event_type``, in registration order, then those for every type."""
        return self._by_type.get(event_type, []) + self._by_type.get(None, [])

    async def dispatch(self, rt: Runtime, event: Event) -> None:
        """Run every handler of the event's type; the first failure propagates (the event is
        then retried as a whole, so handlers must be idempotent)."""
        for handler in self.handlers_for(event.type):
            await handler(rt, event)


def _decode(entry_id: bytes | str, fields: dict) -> Event:
    f = {(k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
         for k, v in fields.items()}
    try:
        body = json.loads(f.get("body") or "{}")
    except ValueError:
        body = {}
    body = body if isinstance(body, dict) else {}
    source = f.get("source", "ghl")
    return Event(id=entry_id.decode() if isinstance(entry_id, bytes) else entry_id, source=source,
                 type=event_type(source, body), body=body,
                 connection_id=f.get("connection_id") or None,
                 received_at_ms=int(f.get("received_at") or 0))


class Consumer:
    """One worker's reader of the stream (consumer ``name`` in group :data:`GROUP`)."""

    def __init__(self, rt: Runtime, dispatcher: Dispatcher, name: str,
                 retry_idle_ms: int = RETRY_IDLE_MS) -> None:
        self.rt = rt
        self.retry_idle_ms = retry_idle_ms
        self.dispatcher = dispatcher
        self.name = name
        self._group_ready = False
        self._last_reclaim = 0.0

    async def _ensure_group(self) -> None:
        if self._group_ready:
            return
        try:
            await self.rt.redis.xgroup_create(keys.INBOUND_STREAM, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    async def step(self, *, block_ms: int | None = 1000, count: int = 200) -> list[Event]:
        """Read and handle the next events (waiting up to ``block_ms``; None: no wait). Returns
        the events handled successfully."""
        await self._ensure_group()
        r = self.rt.redis
        batch: list[tuple[Any, dict]] = []
        now = time.monotonic()
        if now - self._last_reclaim > self.retry_idle_ms / 1000 / 2:
            self._last_reclaim = now
            batch += await self._reclaim()
        got = await r.xreadgroup(GROUP, self.name, {keys.INBOUND_STREAM: ">"}, count=count,
                                 block=block_ms)
        for _stream, entries in got or []:
            batch += entries
        done: list[Event] = []
        for entry_id, fields in batch:
            event = _decode(entry_id, fields)
            try:
                await self.dispatcher.dispatch(self.rt, event)
            except Exception:  # noqa: BLE001 - left pending: tried again after RETRY_IDLE_MS
                log.exception("handler of %s event %s failed", event.type, event.id)
                continue
            done.append(event)
        if done:
            async with r.pipeline(transaction=False) as pipe:
                ids = [e.id for e in done]
                pipe.xack(keys.INBOUND_STREAM, GROUP, *ids)
                pipe.xdel(keys.INBOUND_STREAM, *ids)
                await pipe.execute()
        return done

    async def _reclaim(self) -> list[tuple[Any, dict]]:
        """Events another reader left pending too long; those tried MAX_TRIES times go dead."""
        r = self.rt.redis
        try:
            _next, entries, *_ = await r.xautoclaim(keys.INBOUND_STREAM, GROUP, self.name,
                                                   min_idle_time=self.retry_idle_ms, count=100)
        except ResponseError:
            return []
        keep = []
        for entry_id, fields in entries:
            info = await r.xpending_range(keys.INBOUND_STREAM, GROUP, min=entry_id, max=entry_id,
                                          count=1)
            tries = int(info[0]["times_delivered"]) if info else 0
            if tries > MAX_TRIES:
                event = _decode(entry_id, fields)
                await r.rpush(keys.INBOUND_DEAD, json.dumps(
                    {"id": event.id, "source": event.source, "type": event.type,
                     "connection_id": event.connection_id, "body": event.body}))
                await r.xack(keys.INBOUND_STREAM, GROUP, entry_id)
                await r.xdel(keys.INBOUND_STREAM, entry_id)
                log.error("%s event %s failed %d times; moved to the dead list", event.type,
                          event.id, tries - 1)
            else:
                keep.append((entry_id, fields))
        return keep
