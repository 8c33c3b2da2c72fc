"""Polling: the claim of due watches, and one poll of one watch.

The due set (:data:`engine.core.keys.WATCHES_DUE`, score = next run in ms) is claimed by a Lua
script, so any number of workers may tick at once and each slot of a watch is claimed once: the
claim moves the watch to its next slot in the same atomic step. The interval is the watch's
smallest ``interval_minutes`` × ``interval_unit_seconds``, clamped up to
``min_interval_seconds``; each watch keeps a random phase inside the interval, so watches spread
over it instead of all polling at once. The worker's tick (:func:`engine.worker.tick`) runs each
claimed watch's :func:`poll_watch` as a task.

A poll reads newest pages until known ground (the cursor's :func:`~engine.polling.cursor.head_floor`,
or the whole overlap window on a periodic deep read), then, within what is left of its page
budget, continues a backlog a previous read left (see :mod:`engine.polling.cursor`). It finds the
new items, then writes one outbox row per (subscription, item) and the cursor advance in one atomic
step (:func:`engine.polling.outbox.commit`). A crash
before that script repeats the poll at the next slot; a crash after it leaves the deliveries
queued. Transient upstream errors (429, 5xx, network) wait for the next slot; errors that cannot
heal by waiting (401, the watched object gone) pause the watch.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from dataclasses import dataclass, field, replace

import httpx

from engine.accounts import connections
from engine.core import keys, logs, metrics
from engine.core.scripts import UNLOCK, decode, pairs, script, together
from engine.core.scripts import claim_due as claim
from engine.core.errors import InputInvalid, RateLimited, UpstreamAuthError, UpstreamError
from engine.polling import cursor, items, outbox, reader
from engine.polling import subscriptions as subs
from engine.runtime import Runtime
from engine.spec import registry
from engine.upstream.apps import APPS

log = logging.getLogger("engine.polling.poller")

async def claim_due(rt: Runtime, *, now_ms: int | None = None, limit: int = 500) -> list[tuple[str, int]]:
    """Claim the watches due by ``now_ms`` (default: now): [(watch id, slot ms)]; each slot of
    a watch is claimed by one caller only, and the claim moves the watch to its next slot. A
    watch that received an event within ``ENGINE_EVENT_FALLBACK_SECONDS`` moves to its next slot
    at the reconciliation interval (``ENGINE_RECONCILE_INTERVAL_SECONDS``) instead of its own."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    settings = rt.settings
    claimed = await claim(rt.redis, keys.WATCHES_DUE, now_ms=now_ms, limit=limit,
                       step_ms=int(settings.min_interval_seconds * 1000),
                       slots_from=keys.WATCH.format(watch_id=""),
                       unit_ms=int(settings.interval_unit_seconds * 1000),
                       reconcile_ms=int(settings.reconcile_interval_seconds * 1000),
                       event_fallback_ms=int(settings.event_fallback_seconds * 1000))
    for _, slot in claimed:
        metrics.SCHEDULE_LAG.observe(max(0, now_ms - slot) / 1000)
    return claimed


def receives(sub: dict[str, str], found: cursor.Found, last_poll_at: float | None) -> bool:
    """Whether a subscriber gets a new item: yes if it had joined before the previous poll
    (the item was not there then); otherwise only if the item's time is after it joined."""
    joined = float(sub.get("joined_at") or 0)
    if last_poll_at is not None and joined <= last_poll_at:
        return True
    return found.at is not None and found.at >= joined


def _label(app: str) -> str:
    """The app's name as people know it (GoHighLevel, SMSGlobal)."""
    found = APPS.get(app)
    return found.label if found else app


def _refused_credentials(app: str, exc: UpstreamAuthError, conn_id: str) -> str:
    """Why a watch paused when upstream refused its connection's credentials, naming the app."""
    label = _label(app)
    status = (exc.details or {}).get("upstream_status") or exc.status
    said = exc.message.rstrip(". ")  # the upstream client's words, naming the app already
    if not said.startswith(label):
        said = f"{label} refused the connection's credentials ({status}: {said})"
    return (f"{said}. To fix: PATCH /v1/connections/{conn_id} with new credentials; once they "
            "pass their test, what this paused resumes.")


async def poll_now(rt: Runtime, tenant: str, sub_id: str) -> "PollResult":
    """Poll a subscription's watch at once, outside its schedule (the next scheduled poll
    stays where it was). Its new items are queued for delivery as a scheduled poll's are."""
    sub = await subs.owned(rt, tenant, sub_id)
    return await poll_watch(rt, sub["watch"])


@dataclass
class PollResult:
    """What one poll did: ``outcome`` (primed, polled, skipped, paused, failed, conflict or
    gone), ``new`` items, outbox rows written (``deliveries``), upstream ``requests``, a ``detail``
    and the new items' keys."""
    watch_id: str
    outcome: str  # primed | polled | skipped | paused | failed | conflict | gone
    new: int = 0
    deliveries: int = 0
    requests: int = 0
    detail: str = ""
    items: list[str] = field(default_factory=list)
    pages: int = 0
    catching_up: bool = False  # a backlog is left for the next polls
    deep: bool = False  # this poll read the whole overlap window


async def poll_watch(rt: Runtime, watch_id: str, *, now: float | None = None,
                     slot_ms: int | None = None) -> PollResult:
    """Poll one watch once (the job the scheduler enqueues). ``now`` (epoch s) is the poll's
    clock, the current time unless given; ``slot_ms``, the slot the scheduler claimed it for:
    the watch records it (``last_slot_ms``) and counts a second commit for the same slot in
    ``repeat_slot_polls``, which the claim script keeps at 0."""
    r = rt.redis
    lock_key = keys.WATCH_LOCK.format(watch_id=watch_id)
    token = secrets.token_hex(8)
    # the lock, then (under it) the watch's records, its cursor and its connection, and, when
    # this process knows the watch's rate scope, the first request's rate slot: one round trip
    calls = [(script(r, START),
              [lock_key, keys.WATCH.format(watch_id=watch_id),
               keys.WATCH_SUBSCRIPTIONS.format(watch_id=watch_id),
               keys.CURSOR.format(watch_id=watch_id), keys.CURSOR_SEEN.format(watch_id=watch_id)],
              [token, int(rt.settings.poll_lease_seconds * 1000), keys.CONNECTION.format(conn_id="")])]
    budget = rt.upstream.budget
    hint = _scopes.get(watch_id)
    if hint is not None:
        calls.append(budget.acquire_call(hint[0], "background", hint[1], hint[2]))
    replies = await together(r, calls)
    got = replies[0]
    held: dict[str, str] = {}  # a slot taken ahead: the first request uses it, else it is refunded
    if hint is not None and (slot := budget.granted(replies[1])):
        held = {"scope": hint[0], "slot": slot}
    if not got[0]:
        rt.upstream.give_back(held)
        # an event's poll must not be lost to the running one, which may have read too early
        await script(r, REPOKE)(keys=[keys.WATCH_POKE.format(watch_id=watch_id), keys.WATCHES_DUE],
                                 args=[int(time.time() * 1000) + REPOKE_DELAY_MS, watch_id])
        trigger = await r.hget(keys.WATCH.format(watch_id=watch_id), "trigger") or b""
        metrics.POLLS.labels(trigger=trigger.decode(), outcome="skipped").inc()
        return PollResult(watch_id, "skipped", detail="another poll of this watch is running")
    _, watch_raw, sub_raw, cursor_raw, seen_raw, conn_raw = got
    lock = {"lock": lock_key, "token": token}  # the commit releases it; "released" once it has
    watch = pairs(watch_raw)
    logs.bind(watch_id=watch_id)
    outcome = "error"
    pending: list = []  # the rate budget's corrections from the answers, written with the commit
    try:
        result = await _poll(rt, watch_id, (watch, sub_raw,
                                            cursor.parse(pairs(cursor_raw), pairs(seen_raw).items()),
                                            pairs(conn_raw)), lock=lock, now=now,
                                   slot_ms=slot_ms, pending=pending, held=held)
        outcome = result.outcome
        return result
    finally:
        metrics.POLLS.labels(trigger=(watch.get(b"trigger") or b"").decode(), outcome=outcome).inc()
        rt.upstream.write_later(pending)  # a poll that ended without its commit
        rt.upstream.give_back(held)  # a poll that sent nothing
        if not lock.get("released"):
            await script(r, UNLOCK)(keys=[lock_key], args=[token])


# each watch's rate scope, tenant and quarantine key, as its last poll in this process found
# its connection (a connection's scope does not change while it is verified; a wrong guess
# costs a refunded slot): the next poll takes its first rate slot in the START round trip
_scopes: dict[str, tuple[str, str, str | None]] = {}
SCOPES_KEPT = 100_000

# KEYS: lock, watch, watch's subscriptions, cursor, cursor's seen set; ARGV: token, lease (ms),
# the connection key's prefix (the connection's id is read from the watch)
START = """
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', tonumber(ARGV[2])) then return {0} end
local watch = redis.call('HGETALL', KEYS[2])
local conn = {}
for i = 1, #watch, 2 do
  if watch[i] == 'connection_id' then conn = redis.call('HGETALL', ARGV[3] .. watch[i + 1]) end
end
return {1, watch, redis.call('ZRANGE', KEYS[3], 0, -1), redis.call('HGETALL', KEYS[4]),
        redis.call('ZRANGE', KEYS[5], 0, -1, 'WITHSCORES'), conn}
"""


# a poll skipped while a pushed event's poke is pending is scheduled again, shortly
REPOKE = ("if redis.call('EXISTS', KEYS[1]) == 1 then "
          "return redis.call('ZADD', KEYS[2], 'LT', ARGV[1], ARGV[2]) end return 0")
REPOKE_DELAY_MS = 500


async def _poll(rt: Runtime, watch_id: str, pre: tuple | None = None,
                lock: dict | None = None, now: float | None = None,
                slot_ms: int | None = None, pending: list | None = None,
                held: dict | None = None) -> PollResult:
    r = rt.redis
    if pre is None:
        pre = (await r.hgetall(keys.WATCH.format(watch_id=watch_id)),
               await r.zrange(keys.WATCH_SUBSCRIPTIONS.format(watch_id=watch_id), 0, -1),
               await cursor.load(r, watch_id), None)
    watch = decode(pre[0])
    if not watch:
        await r.zrem(keys.WATCHES_DUE, watch_id)
        return PollResult(watch_id, "gone")
    if watch.get("status") == "paused":
        return PollResult(watch_id, "skipped", detail="paused")
    sub_ids = [m.decode() for m in pre[1]]
    op = registry.get(watch["trigger"])
    if op is None or op.trigger is None:
        await subs.pause_watch(rt, watch_id, f"trigger {watch['trigger']!r} is no longer in the "
                                             "catalog; delete this subscription")
        return PollResult(watch_id, "paused")
    if pre[3] is not None and watch.get("connection_id"):  # read with the watch
        conn = connections.from_raw(watch["connection_id"], pre[3], rt.vault)
    else:
        conn = await connections.load(r, watch["connection_id"], rt.vault)
    if conn is None:
        await subs.pause_watch(rt, watch_id, f"connection {watch['connection_id']} was deleted; "
                                             "subscribe again with a working connection")
        return PollResult(watch_id, "paused")
    if len(_scopes) >= SCOPES_KEPT:
        _scopes.clear()
    _scopes[watch_id] = (conn.rate_scope, conn.tenant, rt.upstream.quarantine_key(conn))
    try:
        values = reader.prepare_stored(op, conn, watch["params"])
    except InputInvalid as exc:
        await subs.pause_watch(rt, watch_id, f"the trigger's params are no longer valid: {exc.message}")
        return PollResult(watch_id, "paused")

    params = json.loads(watch["params"])
    state = pre[2]
    started = time.time() if now is None else now
    last_poll_at = float(watch["last_poll_at"]) if watch.get("last_poll_at") else None
    try:
        got = await _read(rt, conn, op, values, state, last_poll_at, started,
                          big_pages=_big_pages(op, params), pending=pending, held=held)
    except UpstreamAuthError as exc:
        reason = _refused_credentials(conn.app, exc, conn.id)
        await subs.pause_watch(rt, watch_id, reason, cause="credentials")
        if conn.status == "active":  # the connection says so too (an OAuth one says more)
            await connections.set_status(r, conn.id, "failing", reason)
        return PollResult(watch_id, "paused", detail=exc.message)
    except RateLimited as exc:
        log.info("watch %s: rate budget exhausted, waiting for the next slot", watch_id)
        return PollResult(watch_id, "failed", detail=exc.message)
    except UpstreamError as exc:
        if exc.status == 404 and op.trigger.items.single:
            await subs.pause_watch(rt, watch_id, "the watched object no longer exists upstream "
                                                 f"(404: {exc.message})")
            return PollResult(watch_id, "paused", detail=exc.message)
        if exc.status in (400, 403, 404, 422):
            await subs.pause_watch(rt, watch_id, f"{_label(conn.app)} refused the request "
                                                 f"({exc.status}: {exc.message}); fix the params "
                                                 "or the connection, then subscribe again")
            return PollResult(watch_id, "paused", detail=exc.message)
        log.info("watch %s: upstream error %s, waiting for the next slot", watch_id, exc.status)
        return PollResult(watch_id, "failed", detail=exc.message)
    except httpx.HTTPError as exc:
        log.info("watch %s: network error %s, waiting for the next slot", watch_id, type(exc).__name__)
        return PollResult(watch_id, "failed", detail=type(exc).__name__)
    if got.head.complete is False and not cursor.resumable(op):
        log.warning("watch %s: the page cap (%s) cut the read short", watch_id, got.head.pages)

    async def read_subscribers() -> dict[str, dict[str, str]]:
        async with r.pipeline(transaction=False) as pipe:
            for sub_id in sub_ids:
                pipe.hgetall(keys.SUBSCRIPTION.format(sub_id=sub_id))
            raws = await pipe.execute()
        return {sub_id: decode(raw) for sub_id, raw in zip(sub_ids, raws) if raw}

    sub_records: dict[str, dict[str, str]] = {}
    since = None
    if not state.primed and sub_ids:  # priming: items stamped after the first subscriber joined
        sub_records = await read_subscribers()
        since = min((float(s.get("joined_at") or 0) for s in sub_records.values()), default=None)
    backlog = got.backlog(op, state, started, since)
    floors = [b.floor for b in (state.backlog, backlog) if b is not None]
    new, advance = cursor.diff(op, state, got.head.items + got.back_items, now=started,
                               since=since, accept_floor=min(floors, default=None),
                               keep_floor=backlog.floor if backlog is not None else None)
    if state.backlog is not None and state.backlog.prime_since is not None and got.back_items:
        # a priming read's backlog: what was there before the first subscriber joined is known
        held = {items.dedupe_key(op, i) for i in got.back_items}
        new = [f for f in new if f.key not in held or
               (f.at is not None and f.at >= state.backlog.prime_since)]
    if cursor.resumable(op):
        # lateness is measured on the head's new items above any backlog (an item of the backlog
        # is not late, only not read yet)
        head_keys = {items.dedupe_key(op, i) for i in got.head.items}
        below = state.backlog.at if state.backlog and state.backlog.at is not None else None
        late = cursor.lateness([f for f in new if f.key in head_keys and
                                (below is None or (f.at is not None and f.at > below))],
                               last_poll_at)
        advance.fields.update(cursor.next_late(
            state, late, started, cursor.late_half_life_s(rt.settings.deep_read_every_seconds),
            float(op.trigger.dedupe.overlap_seconds)))
        if got.deep:
            advance.fields["deep_at"] = repr(started)
        if backlog is not None:
            advance.fields["backlog"] = backlog.dump()
        elif state.backlog is not None:
            advance.unset.append("backlog")
    now_ms = int(time.time() * 1000)
    version = state.version + 1 if op.trigger.items.single else None
    rows: list[outbox.Row] = []
    if new and sub_ids and not sub_records:  # read only when there is something to send them
        sub_records = await read_subscribers()
    for found in new:
        receivers = [sub_id for sub_id, sub in sub_records.items()
                     if receives(sub, found, last_poll_at)]
        if receivers:
            # the upstream object unchanged; the dedupe key travels beside it as item_id
            data = json.dumps(found.item, separators=(",", ":"), default=str)
            rows += outbox.rows(op.key, found.key, data, receivers, version=version, now_ms=now_ms)
    catching = backlog is not None or state.backlog is not None  # the set of watches catching up
    also = list(pending or ())
    if pending:
        pending.clear()  # written with the commit
    written = await outbox.commit(r, watch_id, advance, rows, started_at=started, now_ms=now_ms,
                                  lock=lock, slot_ms=slot_ms, catching=catching,
                                  catching_since=backlog.since if backlog is not None else None,
                                  also=also)
    if lock is not None:  # the commit released it
        lock["released"] = True
    if written == -1:
        return PollResult(watch_id, "conflict", requests=got.requests, pages=got.pages,
                          detail="another poll of this watch committed first")
    outcome = "polled" if state.primed else "primed"
    log.debug("watch %s %s: %d pages, %d new items, %d deliveries%s", watch_id, outcome,
              got.pages, len(new), written, ", catching up" if backlog is not None else "")
    return PollResult(watch_id, outcome, new=len(new), deliveries=int(written),
                      requests=got.requests, items=[f.key for f in new], pages=got.pages,
                      catching_up=backlog is not None, deep=got.deep)


@dataclass
class _Reads:
    """What one poll read: the head (newest items down to known ground) and, after it, a part
    of the backlog."""

    head: reader.Read
    deep: bool
    head_floor: float = 0.0  # where the head read stopped by time (epoch s)
    back: reader.Read | None = None

    @property
    def back_items(self) -> list[dict]:
        return self.back.items if self.back is not None else []

    @property
    def pages(self) -> int:
        return self.head.pages + (self.back.pages if self.back else 0)

    @property
    def requests(self) -> int:
        return self.head.requests + (self.back.requests if self.back else 0)

    def backlog(self, op, state: cursor.State, now: float,
                since: float | None) -> cursor.Backlog | None:
        """The backlog left after this poll: none when every read reached known ground.
        ``now`` and ``since`` are epoch s."""
        old = state.backlog
        if not self.head.complete and self.head.resume is not None and self.head.items:
            last = self.head.items[-1]  # the head was cut short: the backlog starts below it
            return cursor.Backlog(
                after=self.head.resume,
                floor=min(old.floor, self.head_floor) if old else self.head_floor,
                since=old.since if old else now,
                at=cursor.item_time(op, last), key=items.dedupe_key(op, last),
                prime_since=old.prime_since if old else (None if state.primed else since or now),
                read=(old.read if old else 0) + len(self.head.items))
        if old is None or self.back is None:
            return old
        if self.back.complete:
            return None  # caught up
        last = self.back.items[-1] if self.back.items else None
        return replace(old, after=self.back.resume or old.after,
                       at=cursor.item_time(op, last) if last else old.at,
                       key=items.dedupe_key(op, last) if last else old.key,
                       read=old.read + len(self.back.items))


def _big_pages(op, params: dict) -> int | None:
    """The page size of deep reads and backlogs: the most upstream gives, unless the subscriber
    chose a page size."""
    pag = op.trigger.paginator
    size_param, most = reader.pag_attr(pag, "size_param"), reader.pag_attr(pag, "max_page_size")
    if not most or not size_param or size_param in params:
        return None
    return most


async def _read(rt: Runtime, conn, op, values: dict, state: cursor.State,
                last_poll_at: float | None, now: float, big_pages: int | None = None,
                pending: list | None = None, held: dict | None = None) -> _Reads:
    """The head read, then the backlog within what is left of the page budget (the trigger's
    ``max_pages``); the rate budget running out mid-read cuts a resumable read short. Deep
    reads and backlogs ask for ``big_pages`` items a page. The rate budget's correction from the
    last answer is left in ``pending`` for the commit to write; ``held``, a rate slot taken
    ahead, goes to the first request."""
    budget = op.trigger.max_pages
    if not cursor.resumable(op):
        head = await reader.read(rt, conn, op, values, stop=cursor.stopper(op, state),
                                 priority="background", max_wait=5.0, observations=pending,
                                 held=held)
        return _Reads(head=head, deep=False)
    deep = cursor.deep_due(state, now, rt.settings.deep_read_every_seconds)
    floor = cursor.head_floor(op, state, last_poll_at, deep, now,
                              cursor.late_half_life_s(rt.settings.deep_read_every_seconds))
    head = await reader.read(rt, conn, op, values, stop=cursor.stopper(op, state, floor, state.backlog),
                             max_pages=budget, priority="background", max_wait=5.0,
                             budget_cuts=True, page_size=big_pages if deep else None,
                             observations=pending, held=held)
    out = _Reads(head=head, deep=deep, head_floor=floor)
    left = budget - head.pages
    if state.backlog is None or left <= 0 or not head.complete:
        return out
    try:
        out.back = await reader.read(rt, conn, op, values, start=state.backlog.after,
                                     stop=cursor.stopper(op, state, state.backlog.floor),
                                     max_pages=left, priority="background", max_wait=5.0,
                                     budget_cuts=True, page_size=big_pages, observations=pending)
    except RateLimited:
        pass  # the head's items still commit; the backlog waits for the next poll
    return out
