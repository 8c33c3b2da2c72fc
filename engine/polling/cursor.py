"""Dedupe cursors: which items of a poll are new, and how the watch's state moves on.

One cursor per watch, in two Redis keys (:data:`engine.core.keys.CURSOR`, :data:`engine.core.keys.CURSOR_SEEN`).
A timestamp alone misses items that share a timestamp or arrive late; ids alone grow forever. So
the cursor keeps a **high-water mark** (the newest item time seen) plus the **dedupe keys seen
inside an overlap window** below it, bounded in number:

``time`` mode (items carry a time: ``timestamp_field``, or ``updated_field`` for ``updated``)
    new = key never seen and time >= hwm - overlap. Items older than the window are known ground:
    a newest-first read stops at the first page that reaches below it. When more than
    :data:`MAX_SEEN` keys fall inside the window, the floor rises to the oldest key kept, so the
    set stays bounded and nothing forgotten fires again.
``keys`` mode (no usable time: ``changed`` lists, or lists without a timestamp field)
    new = key never seen; seen keys are touched on every read and forgotten after a retention
    (or past :data:`MAX_SEEN`, oldest touched first).
``single`` mode (``Items(single=True)``: one watched object)
    new = key differs from the last one (so A -> B -> A fires twice).

The first poll primes the cursor: it delivers only items stamped after the subscription was
made, never the backlog. :func:`diff` is pure; the poll writes its :class:`Advance` with the
outbox rows in one atomic step (:func:`engine.polling.outbox.commit`).

**How deep a poll reads** (``time`` mode, newest-first lists). Items reach a list late (GHL's
search index lags its writes by seconds). The cursor keeps the worst recent lateness,
``late_s``: for an item first seen now, how long before the previous poll it was stamped,
measured at ``late_at``. Every item stamped more than :func:`margin_s` before the previous poll
was visible to that poll, so a poll reads down to ``last poll - margin`` (:func:`head_floor`)
and no further: on a quiet watch one page. Every ``ENGINE_DEEP_READ_EVERY_SECONDS`` (15
minutes) a deep read goes down to the whole overlap window instead, catching the rare item later
than the margin (which then widens it). The estimate decays (:func:`late_now`): it halves every
half deep-read period since it was measured, and a later measurement replaces it when larger
than what is left of it; so one outlier widens the next polls' reads and, some 45 minutes of
polls without late items later (for an item 5 minutes late, with the default 15-minute deep
read), the margin is back at its minimum. An item later than the decayed margin is still found
by the next deep read, once.
The dedupe memory always covers the whole window. Deep reads and backlogs ask for the largest
pages upstream gives (the paginator's ``max_page_size``) unless the subscriber chose a size.

**Resumable reads** (:class:`Backlog`). A read cut short by the per-poll page budget (the
trigger's ``max_pages``) or by the rate budget saves where it stopped: the paginator's values for
the next page (for the contact and opportunity searches the ``searchAfter`` position, which new
items do not move). The next poll first reads the newest items down to known ground or to that
position, then spends what is left of its page budget on the backlog, from the saved position
down to the floor it was aiming for. Delivery order: each poll's new items go out oldest first;
across polls the live head comes before the backlog, and the backlog is read from its newest end
down, so a big import is delivered in newest-first chunks while new items never wait behind it.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from redis.asyncio import Redis

from engine.core import keys
from engine.core.scripts import decode
from engine.polling import items as _items
from engine.polling.reader import Stop
from engine.spec.model import Operation

Mode = Literal["single", "time", "keys"]

MAX_SEEN = 10_000  # dedupe keys kept per watch at most (the newest by score)
KEYS_RETENTION_SECONDS = 7 * 24 * 3600  # keys mode: forget a key not read again for this long
LATE_MARGIN_MIN_S = 10.0  # the read-depth margin when no item was ever late


@dataclass
class Backlog:
    """Where a read cut short stopped, and what is left to read below it.

    ``after``: the paginator's values for the next page (e.g. ``{"searchAfter": [ms, id]}``);
    ``floor``: read down to items older than this (epoch s); ``since``: when the watch began
    catching up (epoch s); ``at``/``key``: time and dedupe key of the last item read, where a
    later poll's head read stops; ``prime_since``: set when the backlog is a priming read's, whose
    items are new only from this time on; ``read``: items read in the backlog so far."""

    after: dict[str, Any]
    floor: float
    since: float
    at: float | None = None
    key: str | None = None
    prime_since: float | None = None
    read: int = 0

    def dump(self) -> str:
        """The backlog as compact JSON, for the cursor hash."""
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def load(cls, text: str | None) -> "Backlog | None":
        """A backlog from :meth:`dump`'s JSON; None for None or an empty string."""
        return cls(**json.loads(text)) if text else None


@dataclass
class State:
    """A watch's cursor as read from Redis: ``version`` (commits so far), ``primed``, ``hwm``
    (the newest item time seen, s since the epoch), ``floor`` (s), ``last`` (single objects'
    last key) and ``seen`` (dedupe key → time, s)."""
    version: int = 0
    primed: bool = False
    hwm: float | None = None
    floor: float | None = None  # raised above hwm - overlap when the seen set hit its bound
    last: str | None = None
    seen: dict[str, float] = field(default_factory=dict)
    late_s: float = 0.0  # the worst lateness seen (s): how long before a poll an unseen item was stamped
    late_at: float | None = None  # when late_s was measured (epoch s); it decays from then
    deep_at: float | None = None  # when the last deep read ran (epoch s)
    backlog: Backlog | None = None

    def window_floor(self, overlap: float) -> float:
        """Items older than this are known ground."""
        if self.hwm is None:
            return float("-inf")
        return max(self.hwm - overlap, self.floor if self.floor is not None else float("-inf"))


@dataclass
class Advance:
    """How the cursor moves when a poll commits."""

    version: int  # the version the poll read; the commit fails if another poll moved it
    hwm: float | None
    last: str | None
    add: dict[str, float]
    trim_below: float | None
    floor: float | None = None
    rank_cap: int = 0  # keys mode: keep at most this many keys (0: no cap by count)
    fields: dict[str, str] = field(default_factory=dict)  # more cursor fields to set
    unset: list[str] = field(default_factory=list)  # cursor fields to delete


@dataclass
class Found:
    """A new item of a poll: its dedupe ``key``, the ``item`` and its time ``at`` (s since the
    epoch, None when it has none)."""
    key: str
    item: dict[str, Any]
    at: float | None  # the item's time, if it has one


def mode(op: Operation) -> Mode:
    """How the trigger's cursor finds new items: ``single``, ``time`` or ``keys`` (see above)."""
    trig = op.trigger
    assert trig is not None
    if trig.items.single:
        return "single"
    if trig.dedupe.strategy == "updated":
        return "time"
    if trig.dedupe.strategy == "new" and trig.items.timestamp_field:
        return "time"
    return "keys"


def item_time(op: Operation, item: dict[str, Any]) -> float | None:
    """The item's time for the cursor (s since the epoch): its updated time for ``updated``
    triggers, its timestamp field otherwise, None for ``changed`` triggers or when absent."""
    trig = op.trigger
    assert trig is not None
    if trig.dedupe.strategy == "updated":
        return _items.parse_time(_items.get_path(item, trig.dedupe.updated_field or ""))
    if trig.dedupe.strategy == "changed":
        return None
    return _items.timestamp(op, item)


def queue_reads(pipe, watch_id: str) -> None:
    """Queue the cursor's two reads on ``pipe``; :func:`parse` turns their replies into a State."""
    pipe.hgetall(keys.CURSOR.format(watch_id=watch_id))
    pipe.zrange(keys.CURSOR_SEEN.format(watch_id=watch_id), 0, -1, withscores=True)


def parse(data: dict, seen: list) -> State:
    """A :class:`State` from the replies of :func:`queue_reads` (cursor hash, seen set with scores)."""
    d = decode(data)
    return State(version=int(d.get("version") or 0), primed=d.get("primed") == "1",
                 hwm=float(d["hwm"]) if d.get("hwm") else None, last=d.get("last") or None,
                 floor=float(d["floor"]) if d.get("floor") else None,
                 seen={k.decode(): float(s) for k, s in seen},
                 late_s=float(d.get("late_s") or 0),
                 late_at=float(d["late_at"]) if d.get("late_at") else None,
                 deep_at=float(d["deep_at"]) if d.get("deep_at") else None,
                 backlog=Backlog.load(d.get("backlog")))


async def load(redis: Redis, watch_id: str) -> State:
    """The watch's cursor, read in one round trip."""
    async with redis.pipeline(transaction=False) as pipe:  # one round trip
        queue_reads(pipe, watch_id)
        data, seen = await pipe.execute()
    return parse(data, seen)


def resumable(op: Operation) -> bool:
    """Whether a read cut short can resume on the next poll: a time-keyed, newest-first list
    with pages (the search endpoints page by ``searchAfter``)."""
    trig = op.trigger
    assert trig is not None
    return (mode(op) == "time" and trig.dedupe.order == "newest_first"
            and trig.paginator.type != "none")


def late_half_life_s(deep_read_every_s: float) -> float:
    """How fast the lateness estimate decays (s for it to halve): half the deep read's period
    (at least 1 s), so within one period it is a quarter of what was measured, while the deep
    read catches what a narrower margin misses."""
    return max(1.0, deep_read_every_s / 2)


def late_now(state: State, now: float, half_life_s: float | None = None) -> float:
    """The lateness estimate at ``now`` (s): ``late_s`` halved every ``half_life_s`` since it
    was measured (``late_at``); undecayed without a half-life or a measuring time."""
    if not state.late_s or half_life_s is None or state.late_at is None:
        return state.late_s
    return state.late_s * 0.5 ** (max(0.0, now - state.late_at) / half_life_s)


def margin_s(state: State, now: float | None = None, half_life_s: float | None = None) -> float:
    """How far below the previous poll a poll reads (s): twice the lateness estimate at ``now``
    (:func:`late_now`; undecayed when ``now`` is None), at least :data:`LATE_MARGIN_MIN_S`."""
    late = state.late_s if now is None else late_now(state, now, half_life_s)
    return max(LATE_MARGIN_MIN_S, 2 * late)


def next_late(state: State, late: float, now: float, half_life_s: float,
              cap_s: float) -> dict[str, str]:
    """The cursor fields a poll at ``now`` writes for the lateness it measured (``late``, s):
    the new estimate (capped at ``cap_s``, the overlap window) and its time when ``late``
    exceeds what is left of the old one; a time for an estimate that had none (so it starts
    decaying); else nothing."""
    if late > late_now(state, now, half_life_s):
        return {"late_s": repr(min(late, cap_s)), "late_at": repr(now)}
    if state.late_s and state.late_at is None:
        return {"late_at": repr(now)}
    return {}


def deep_due(state: State, now: float, every_s: float) -> bool:
    """Whether this poll reads the whole overlap window: when priming, and every ``every_s``
    seconds (``now``: epoch s)."""
    return not state.primed or state.deep_at is None or now - state.deep_at >= every_s


def head_floor(op: Operation, state: State, last_poll_at: float | None, deep: bool,
               now: float | None = None, half_life_s: float | None = None) -> float:
    """Where a poll's read from the newest item stops (epoch s): items older than this are known
    ground. The overlap window's floor on a deep read, else ``last_poll_at - margin_s`` (the
    margin at ``now``, see :func:`margin_s`)."""
    window = state.window_floor(op.trigger.dedupe.overlap_seconds)
    if deep or last_poll_at is None:
        return window
    return max(window, last_poll_at - margin_s(state, now, half_life_s))


def lateness(found: list["Found"], last_poll_at: float | None) -> float:
    """The worst lateness among items first seen now (s): how long before the previous poll the
    latest-arriving one was stamped; 0 when none was."""
    if last_poll_at is None:
        return 0.0
    return max((last_poll_at - f.at for f in found if f.at is not None and f.at < last_poll_at),
               default=0.0)


def stopper(op: Operation, state: State, floor: float | None = None,
            until: Backlog | None = None) -> Stop | None:
    """The reader's ``stop``: a newest-first read stops at the first page reaching below
    ``floor`` (default: the overlap window, moving up with the newest item read) or reaching the
    position ``until`` (where a backlog begins), or, for ``new`` items without a time, at the
    first page whose items are all known. Reads that are not newest first read on (up to the page
    cap). ``floor`` is epoch s."""
    trig = op.trigger
    assert trig is not None
    if trig.dedupe.order != "newest_first":
        return None
    if mode(op) == "keys":
        if not state.primed or trig.dedupe.strategy != "new":
            return None  # a change can be anywhere in the list: read it all

        def stop_known(page: list[dict[str, Any]]) -> bool:
            return bool(page) and all(_items.dedupe_key(op, i) in state.seen for i in page)

        return stop_known
    if mode(op) != "time":
        return None
    overlap = trig.dedupe.overlap_seconds
    top = [state.hwm]

    def stop(page: list[dict[str, Any]]) -> bool:
        times = [t for t in (item_time(op, i) for i in page) if t is not None]
        if until is not None and (
                (until.at is not None and any(t < until.at for t in times))
                or any(_items.dedupe_key(op, i) == until.key for i in page)):
            return True
        if not times:
            return False
        if floor is not None:
            return min(times) < floor
        top[0] = max([t for t in (top[0], *times) if t is not None])
        low = max(top[0] - overlap, state.floor if state.floor is not None else float("-inf"))
        return min(times) < low

    return stop


def diff(op: Operation, state: State, found: list[dict[str, Any]], now: float | None = None,
         since: float | None = None, accept_floor: float | None = None,
         keep_floor: float | None = None) -> tuple[list[Found], Advance]:
    """The new items of a read, oldest first, and the cursor's next state.

    The first (priming) poll records what exists; of it, only items whose time is at or after
    ``since`` (when the first subscriber joined) are new: what appeared between subscribing and
    the first poll is not lost, and nothing older floods the subscriber. ``accept_floor`` lowers
    the floor below which items count as known ground (a backlog's items may be older than the
    window); ``keep_floor`` keeps dedupe keys down to it (those a backlog may read again).
    ``now``, ``since`` and both floors are epoch s (``now``: the current time unless given)."""

    def fresh(f: Found) -> bool:
        return since is not None and f.at is not None and f.at >= since

    trig = op.trigger
    assert trig is not None
    now = time.time() if now is None else now
    kind = mode(op)
    read: list[Found] = []
    keys_read: set[str] = set()
    for item in found:
        key = _items.dedupe_key(op, item)
        if key in keys_read:
            continue  # a page that shifted under the read shows an item twice
        keys_read.add(key)
        read.append(Found(key, item, item_time(op, item)))

    if kind == "single":
        current = read[0] if read else None
        new = [current] if current and current.key != state.last and (
            state.primed or fresh(current)) else []
        return new, Advance(version=state.version, hwm=None,
                            last=current.key if current else state.last, add={}, trim_below=None)

    if kind == "keys":
        new = [f for f in read if f.key not in state.seen] if state.primed else []
        new.reverse()  # upstream lists newest first as a rule; deliver oldest first
        return new, Advance(version=state.version, hwm=None, last=None,
                            add={f.key: now for f in read},
                            trim_below=now - max(trig.dedupe.overlap_seconds, KEYS_RETENTION_SECONDS),
                            rank_cap=MAX_SEEN)

    overlap = trig.dedupe.overlap_seconds
    floor = state.window_floor(overlap)
    if accept_floor is not None:
        floor = min(floor, accept_floor)
    times = [f.at for f in read if f.at is not None]
    hwm = max([t for t in (state.hwm, *times) if t is not None], default=None)
    new: list[Found] = []
    add: dict[str, float] = {}
    for f in read:
        if f.key in state.seen:
            continue
        if f.at is None or f.at >= floor:
            if state.primed or fresh(f):
                new.append(f)
            add[f.key] = f.at if f.at is not None else (hwm if hwm is not None else now)
    if hwm is not None:
        for f in read:  # keep every key inside the (moved) window, known or new
            if f.at is not None and f.at >= hwm - overlap:
                add.setdefault(f.key, f.at)
    order = {id(f): n for n, f in enumerate(read)}
    upstream_newest_first = trig.dedupe.order != "oldest_first"
    new.sort(key=lambda f: (f.at if f.at is not None else float("inf"),
                            -order[id(f)] if upstream_newest_first else order[id(f)]))
    trim_below = (hwm - overlap) if hwm is not None else None
    if state.floor is not None and (trim_below is None or state.floor > trim_below):
        trim_below = state.floor
    if keep_floor is not None and trim_below is not None:
        trim_below = min(trim_below, keep_floor)
    kept = sorted((score for key, score in {**state.seen, **add}.items()
                   if trim_below is None or score >= trim_below), reverse=True)
    if len(kept) > MAX_SEEN:
        # too many keys inside the window: raise the floor to the oldest key kept, so what is
        # forgotten counts as known ground instead of firing again
        trim_below = kept[MAX_SEEN - 1]
    new_floor = trim_below if trim_below is not None and hwm is not None and \
        trim_below > hwm - overlap else None
    return new, Advance(version=state.version, hwm=hwm, last=None, add=add,
                        trim_below=trim_below, floor=new_floor)
