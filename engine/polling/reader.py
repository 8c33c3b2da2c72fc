"""Reading a trigger as a list of items: one request per page with the trigger's own paginator.

Every page keeps the locationId and every filter of the first; a repeated cursor stops the read,
and so does the page cap. A caller that knows where its known ground starts (the poller) passes
``stop``, which sees each page and says whether to read on. A read cut short by the page cap (or,
when the caller allows it, by the rate budget) says where it stopped: ``Read.resume``, the
paginator's values for the next page, which a later read passes back as ``start``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable
from urllib.parse import parse_qsl, urlsplit

from engine.accounts.connections import Connection
from engine.actions import executor
from engine.core.errors import InputInvalid, RateLimited, UpstreamError
from engine.polling import items
from engine.runtime import Runtime
from engine.spec import inputs
from engine.spec.model import Operation, TimeWindow
from engine.upstream.budget import Priority

Stop = Callable[[list[dict[str, Any]]], bool]


@dataclass
class Read:
    """A read's outcome: the ``items``, ``pages`` read, upstream ``requests`` sent (retries
    included), whether it was ``complete`` (not cut by the page cap) or ``stopped_early``."""
    items: list[dict[str, Any]] = field(default_factory=list)
    pages: int = 0
    requests: int = 0
    complete: bool = True  # False when the page cap (or the rate budget) cut the read short
    stopped_early: bool = False
    resume: dict[str, Any] | None = None  # when cut short: the paginator's values for the next page


def _window_value(window: TimeWindow, moment: datetime) -> Any:
    if window.unit == "ms":
        return int(moment.timestamp() * 1000)
    if window.unit == "s":
        return int(moment.timestamp())
    if window.unit == "date":
        return moment.strftime("%Y-%m-%d")
    if window.unit == "datetime":
        return moment.strftime("%Y-%m-%d %H:%M:%S")
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def prepare(op: Operation, conn: Connection, params: dict[str, Any]) -> dict[str, Any]:
    """Validate a trigger's params and fill the rolling time window where it has one."""
    if op.trigger is None:
        raise InputInvalid([{"field": "trigger", "location": "request",
                             "message": f"{op.key} is an action, not a trigger"}])
    if conn.app != op.app:
        raise InputInvalid([{"field": "connection_id", "location": "request",
                             "message": f"trigger {op.key} needs a {op.app} connection; "
                                        f"{conn.id} is a {conn.app} connection"}])
    window = op.trigger.window
    params = dict(params)
    if window is not None:
        now = datetime.now(timezone.utc)
        params.setdefault(window.start_param,
                          _window_value(window, now - timedelta(hours=window.lookback_hours)))
        params.setdefault(window.end_param,
                          _window_value(window, now + timedelta(hours=window.lookahead_hours)))
    values = inputs.validate(op, params)
    executor.fill(op, values, conn, where="params")
    return values


PREPARED_CACHE_SIZE = 4096  # params texts whose validated values a process keeps
_prepared: dict[tuple[str, str], tuple[Operation, dict[str, Any]]] = {}


def prepare_stored(op: Operation, conn: Connection, params_text: str) -> dict[str, Any]:
    """:func:`prepare` for a watch's stored params (their JSON text, as subscribing validated
    and wrote them): a trigger without a rolling time window is validated once per process and
    params text (at most :data:`PREPARED_CACHE_SIZE` kept), later polls reuse the values; the
    connection's fills are applied to a copy each time. Raises InputInvalid as :func:`prepare`."""
    if op.trigger is None or op.trigger.window is not None or conn.app != op.app:
        return prepare(op, conn, json.loads(params_text))
    key = (op.key, params_text)
    found = _prepared.get(key)
    if found is None or found[0] is not op:
        values = inputs.validate(op, json.loads(params_text))
        if len(_prepared) >= PREPARED_CACHE_SIZE:
            _prepared.pop(next(iter(_prepared)))  # the oldest entry
        found = _prepared[key] = (op, values)
    values = dict(found[1])
    executor.fill(op, values, conn, where="params")
    return values


_pag_attrs: dict[tuple[int, str], tuple[Any, Any]] = {}


def pag_attr(pag: Any, name: str, default: Any = None) -> Any:
    """``getattr(pag, name, default)`` for a paginator, remembered per paginator object: a
    paginator type without the field answers through pydantic's ``__getattr__`` and an
    AttributeError, several times per page otherwise."""
    key = (id(pag), name)
    found = _pag_attrs.get(key)
    if found is None or found[0] is not pag:
        found = _pag_attrs[key] = (pag, getattr(pag, name, default))
    return found[1]


def _typed(op: Operation, values: dict[str, Any]) -> dict[str, Any]:
    """Page numbers and sizes written as the input declares them: a string where the document
    has one (GHL's filter-by-email takes ``skip`` and ``limit`` as strings)."""
    pag = op.trigger.paginator
    for name in (pag_attr(pag, n) for n in ("offset_param", "page_param", "size_param")):
        field = op.input(name) if name else None
        if field is not None and field.type == "string" and isinstance(values.get(name), int):
            values[name] = str(values[name])
    return values


def _first_page(op: Operation, values: dict[str, Any]) -> dict[str, Any]:
    pag = op.trigger.paginator
    values = dict(values)
    if pag.type in ("offset", "page", "cursor", "next_url") and pag.size_param:
        values.setdefault(pag.size_param, pag.page_size)
    if pag.type == "offset":
        values.setdefault(pag.offset_param, pag.start)
    elif pag.type == "page":
        values.setdefault(pag.page_param, pag.start)
    return _typed(op, values)


def _next_page(op: Operation, values: dict[str, Any], data: Any,
               page: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The values for the next page, or None when this page was the last."""
    pag = op.trigger.paginator
    if pag.type == "none" or not page:
        return None
    data = items.page_of(op, data)
    size = int(values.get(pag_attr(pag, "size_param") or "", 0) or pag_attr(pag, "page_size", 0))
    if pag.type == "offset":
        if len(page) < size:
            return None
        return _typed(op, {**values, pag.offset_param: int(values[pag.offset_param]) + len(page)})
    if pag.type == "page":
        if len(page) < size:
            return None
        return _typed(op, {**values, pag.page_param: int(values[pag.page_param]) + 1})
    if pag.type == "cursor":
        if pag.more_path and items.get_path(data, pag.more_path) is False:
            return None
        if pag.size_param and len(page) < size:
            return None  # a short page is the last, as with offsets and page numbers
        token = {}
        for part in pag.tokens:
            source = page[-1] if part.source == "last_item" else data
            value = items.get_path(source, part.path)
            if value in (None, ""):
                return None
            token[part.param] = value
        return {**values, **token}
    if pag.type == "next_url":
        url = items.get_path(data, pag.path)
        if not url:
            return None
        query = dict(parse_qsl(urlsplit(str(url)).query))
        return {**values, **query}
    return None


def position_params(op: Operation) -> list[str]:
    """The names of the values that say where a read is: offset, page number or cursor tokens."""
    pag = op.trigger.paginator
    names = [pag_attr(pag, n) for n in ("offset_param", "page_param")]
    names += [t.param for t in pag_attr(pag, "tokens", ())]
    return [n for n in names if n]


def _token(op: Operation, values: dict[str, Any]) -> str:
    return repr(sorted((n, str(values.get(n))) for n in position_params(op)))


async def read(rt: Runtime, conn: Connection, op: Operation, values: dict[str, Any], *,
               limit: int | None = None, stop: Stop | None = None, max_pages: int | None = None,
               priority: Priority = "interactive", max_wait: float | None = None,
               start: dict[str, Any] | None = None, budget_cuts: bool = False,
               page_size: int | None = None, observations: list | None = None,
               held: dict | None = None) -> Read:
    """Read pages of ``op`` with already-prepared ``values``.

    ``start`` (a ``Read.resume`` of an earlier read) continues from where that read stopped.
    With ``budget_cuts``, a rate budget exhausted after the first page ends the read like the
    page cap does (``complete`` False, ``resume`` set) instead of raising
    :class:`~engine.core.errors.RateLimited`. ``page_size`` asks for that many items per page.
    ``max_wait``: seconds to wait for each rate slot (None: ENGINE_RATE_MAX_WAIT_SECONDS).
    Given ``observations``, the rate budget's correction from the last page's answer is left
    in it for the caller to write (those of earlier pages are written before the next page).
    ``held``: a rate slot taken ahead, used by the first request (see ``Upstream.send``)."""
    assert op.trigger is not None
    cap = max_pages or op.trigger.max_pages
    out = Read()
    seen: set[str] = set()
    page_values: dict[str, Any] | None = {**_first_page(op, values), **(start or {})}
    size_param = pag_attr(op.trigger.paginator, "size_param")
    if page_size and size_param:
        page_values[size_param] = page_size
    while page_values is not None:
        token = _token(op, page_values)
        if token in seen:
            break  # a cursor that repeats would loop forever
        seen.add(token)
        if observations:  # the next page's slot needs the previous answer's correction
            rt.upstream.write_later(observations)
        try:
            resp = await executor.call(rt, conn, op, page_values, priority=priority,
                                       max_wait=max_wait, observations=observations,
                                       held=held)
        except RateLimited:
            if not (budget_cuts and out.pages):
                raise
            out.complete = False
            out.resume = {n: page_values[n] for n in position_params(op) if n in page_values}
            break
        except UpstreamError as exc:
            if exc.status == 404 and op.trigger.not_found_is_empty:
                out.requests += exc.attempts
                break  # nothing there yet
            raise
        out.requests += resp.attempts
        out.pages += 1
        page = items.extract(op, resp.data)
        out.items.extend(page)
        if limit is not None and len(out.items) >= limit:
            out.stopped_early = True
            break
        if stop is not None and stop(page):
            out.stopped_early = True
            break
        page_values = _next_page(op, page_values, resp.data, page)
        if page_values is not None and out.pages >= cap:
            out.complete = False
            out.resume = {n: page_values[n] for n in position_params(op) if n in page_values}
            break
    return out


def newest_first(op: Operation, found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Items newest first: by their timestamp where they have one, else in upstream order
    (reversed when upstream lists oldest first)."""
    assert op.trigger is not None
    if op.trigger.dedupe.order == "oldest_first":
        found = list(reversed(found))
    stamped = [(items.timestamp(op, i), n, i) for n, i in enumerate(found)]
    if any(s is not None for s, _, _ in stamped):
        stamped.sort(key=lambda t: (-(t[0] or 0), t[1]))
    return [i for _, _, i in stamped]


def present(op: Operation, item: dict[str, Any]) -> dict[str, Any]:
    """An item as automation tools see it: the object, with a stable ``id`` that changes only
    when the trigger would fire again (id, id + updated time, or id + content hash)."""
    key = items.dedupe_key(op, item)
    out = dict(item)
    if op.trigger.dedupe.strategy != "new" and "id" in item and item.get("id") != key:
        out.setdefault("object_id", item["id"])
    out["id"] = key
    return out


async def list_items(rt: Runtime, conn: Connection, op: Operation, params: dict[str, Any],
                     limit: int) -> dict[str, Any]:
    """Up to ``limit`` items of a trigger now, newest first, as automation tools see them:
    ``{"items": [...], "meta": {"pages", "complete", "duration_ms"}}``. Raises InputInvalid (422)
    for bad params and the upstream errors of the read."""
    started = time.perf_counter()
    result, ordered = await newest_items(rt, conn, op, params, limit)
    return {"items": [present(op, i) for i in ordered],
            "meta": {"pages": result.pages, "complete": result.complete or result.stopped_early,
                     "duration_ms": round((time.perf_counter() - started) * 1000, 2)}}


async def newest_items(rt: Runtime, conn: Connection, op: Operation, params: dict[str, Any],
                       limit: int) -> tuple[Any, list[dict[str, Any]]]:
    """(the read, up to ``limit`` of its items newest first, as upstream gives them: what a
    delivery carries, before :func:`present` gives them their stable ``id``)."""
    result = await read(rt, conn, op, prepare(op, conn, params), limit=limit)
    return result, newest_first(op, result.items)[:limit]
