"""Events as pokes: an event makes the watches it signals poll now, debounced.

An event is never delivered itself. It names a location (or arrives on a connection's token
URL) and a type; every watch of that location's connections whose trigger lists the type in its
spec (``Trigger.events``, a :class:`engine.spec.model.Signal`) becomes due now, and the poll reads
the truth from the API through the watch's cursor. So an item seen by an event and again by a
poll is delivered once, with one webhook-id; an event with missing fields or sent twice does no
harm; a forged event could at most cause a read.

Debounce: a watch polls at most once per ``ENGINE_EVENT_DEBOUNCE_MS`` window however many events
arrive. The first event of a quiet watch schedules a poll now; events within the window after a
poll was scheduled schedule one more at the window's end (so what they signal is read too);
events before a scheduled poll change nothing. Each poke also stamps the watch's
``last_event_at``: the scheduler then polls it only at the reconciliation interval until events
stop for ``ENGINE_EVENT_FALLBACK_SECONDS`` (see :data:`engine.polling.poller.CLAIM`).
"""

from __future__ import annotations

import json
import logging
import time
from functools import lru_cache
from typing import Any

from engine.accounts import connections
from engine.core import keys
from engine.inbound.queue import Event
from engine.runtime import Runtime
from engine.spec import registry
from engine.spec.model import Signal

log = logging.getLogger("engine.inbound.pokes")

# KEYS: the due set; ARGV: now (ms), debounce (ms), watch key prefix, poke key prefix, poke key
# suffix, then watch ids. Returns how many watches got a new poll scheduled.
POKE = """
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local n = 0
for i = 6, #ARGV do
  local id = ARGV[i]
  local w = ARGV[3] .. id
  local status = redis.call('HGET', w, 'status')
  if status and status ~= 'paused' then
    redis.call('HSET', w, 'last_event_at', now)
    local pk = ARGV[4] .. id .. ARGV[5]
    local slot = tonumber(redis.call('GET', pk) or '-1')
    local at = slot
    if slot < 0 or now >= slot + window then at = now
    elseif now >= slot then at = slot + window end
    if at ~= slot then
      redis.call('SET', pk, at, 'PX', (at - now) + 2 * window + 1000)
      n = n + 1
    end
    -- again when already scheduled: the claim of an earlier due time moves the watch on to
    -- its next regular slot, and would take the scheduled poll with it
    redis.call('ZADD', KEYS[1], 'LT', at, id)
  end
end
return n
"""


@lru_cache(maxsize=1)
def _signals() -> dict[str, dict[str, Signal]]:
    """Event type -> {trigger key: its signal}, from the catalog."""
    out: dict[str, dict[str, Signal]] = {}
    for key, op in registry.registry().items():
        signal = op.trigger.events if op.trigger else None
        for event_type in (signal.types if signal else ()):
            out.setdefault(event_type, {})[key] = signal
    return out


def signalled_triggers(event_type: str) -> dict[str, Signal]:
    """The triggers an event type signals, by trigger key."""
    return _signals().get(event_type, {})


def _at(body: dict[str, Any], dotted: str) -> Any:
    node: Any = body
    for part in dotted.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def matches(signal: Signal, params: dict[str, Any], body: dict[str, Any]) -> bool:
    """Whether an event concerns a watch with these params: every matched param the event
    carries must equal the watch's (a value the event lacks matches any watch)."""
    for param, path in signal.match.items():
        value = _at(body, path)
        if value in (None, "") or param not in params:
            continue
        if str(params[param]) != str(value):
            return False
    return True


async def watches_for(rt: Runtime, event: Event) -> list[str]:
    """The ids of the watches an event signals."""
    triggers = signalled_triggers(event.type)
    if not triggers and event.source != "ghl-hook":
        return []
    if event.connection_id:
        conn_ids = [event.connection_id]
    elif event.location_id:
        conn_ids = await connections.for_location(rt.redis, event.location_id)
    else:
        return []
    r = rt.redis
    async with r.pipeline(transaction=False) as pipe:
        for conn_id in conn_ids:
            pipe.smembers(keys.CONNECTION_WATCHES.format(conn_id=conn_id))
        watch_ids = sorted({m.decode() for found in await pipe.execute() for m in found})
    if not watch_ids:
        return []
    async with r.pipeline(transaction=False) as pipe:
        for watch_id in watch_ids:
            pipe.hmget(keys.WATCH.format(watch_id=watch_id), "trigger", "params")
        records = await pipe.execute()
    out = []
    for watch_id, (trigger, params) in zip(watch_ids, records):
        if trigger is None:
            continue
        trigger = trigger.decode()
        signal = triggers.get(trigger)
        if signal is None:
            # a workflow webhook names no type GHL defines: it pokes every instant trigger of
            # its connection (at worst a read)
            if event.source != "ghl-hook" or event.type in _signals() or not _is_instant(trigger):
                continue
        elif not matches(signal, json.loads(params or b"{}"), event.body):
            continue
        out.append(watch_id)
    return out


def _is_instant(trigger: str) -> bool:
    op = registry.get(trigger)
    return bool(op and op.trigger and op.trigger.events)


async def poke_watches(rt: Runtime, watch_ids: list[str], now_ms: int | None = None) -> int:
    """Schedule a debounced poll of these watches and stamp their ``last_event_at``; returns
    how many got a poll scheduled (the others have one coming already)."""
    if not watch_ids:
        return 0
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    before, after = keys.WATCH_POKE.split("{watch_id}")
    return int(await rt.redis.eval(POKE, 1, keys.WATCHES_DUE, now_ms,
                                   rt.settings.event_debounce_ms, keys.WATCH.format(watch_id=""),
                                   before, after, *watch_ids))


async def poke(rt: Runtime, event: Event) -> None:
    """The event handler: poke the watches the event signals."""
    watch_ids = await watches_for(rt, event)
    scheduled = await poke_watches(rt, watch_ids)
    if watch_ids:
        log.debug("%s event %s: %d watches signalled, %d polls scheduled", event.type, event.id,
                  len(watch_ids), scheduled)
