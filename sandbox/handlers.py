"""How the GHL sandbox answers, and the areas it serves.

A request goes to the hand-written handler of its endpoint (upstream method and path) when an
area has one, since the real API does more there than store and return (contact search,
upsert, tags, free slots...), after the checks GHL makes before its answer as the handler's
mark declares them (``@answers(..., checked=True)``); else, for an operation generated from
GHL's official documents, to :mod:`sandbox.official`; else to the generic store
(:mod:`sandbox.collection`).

``AREAS`` lists every area the sandbox serves, in the order their data is seeded (later areas
use what earlier ones made: contacts before their conversations, users before the calendars and
deals they are assigned to).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from fastapi.responses import Response

from operations import official as _official_specs

from sandbox import (associations, blogs, businesses, calendars, contacts, conversations,
                     locations, official, opportunities, providers, smsglobal, users, workflows)
from sandbox.answers import Area, Handler, Maker, checks, endpoint, table
from sandbox.collection import generic
from sandbox.store import Store, iso_ms, new_id, now_iso

AREAS: tuple[Area, ...] = (
    locations.AREA, contacts.AREA, associations.AREA, blogs.AREA, businesses.AREA,
    conversations.AREA, workflows.AREA, users.AREA, calendars.AREA, opportunities.AREA,
    providers.AREA, smsglobal.AREA,
)

# operations generated from GHL's official documents: answered by sandbox.official
GENERATED: frozenset[str] = frozenset(op.key for op in _official_specs.SPECS)


def special_handlers(areas: tuple[Area, ...]) -> dict[str, Handler]:
    """Every area's hand-written handlers by the endpoint each is marked to answer
    (``"METHOD /path"``, trailing slash aside).

    :raises ValueError: a handler carries no mark, an endpoint is not named ``METHOD /path``, or
        two handlers answer it (within an area or across two).
    """
    return table(fn for area in areas for fn in area.handlers)


SPECIAL: dict[str, Handler] = special_handlers(AREAS)
# list path -> collection where its objects live, when the two differ
ALIASES: dict[str, str] = {k: v for area in AREAS for k, v in area.aliases.items()}
# endpoints answered by a hand-written handler that no spec declares: (key, method, path)
UNSPECIFIED: tuple[tuple[str, str, str], ...] = tuple(r for area in AREAS for r in area.routes())
MAKERS: dict[str, Maker] = {k: v for area in AREAS for k, v in area.makers.items()}


def handle(ctx) -> Response:
    """The answer to one request: its endpoint's hand-written handler, after the checks the
    handler's mark declares (the first that fails answers instead); else :mod:`sandbox.official`
    for a generated operation; else the generic store."""
    special_handler = SPECIAL.get(endpoint(ctx.route.method, ctx.route.template))
    if special_handler is not None:
        first = checks(special_handler)
        return (first(ctx) if first else None) or special_handler(ctx)
    if ctx.route.key in GENERATED:
        return official.answer(ctx)
    return generic(ctx)


# ----------------------------------------------------------------------------- seed


def seed(store: Store, location_id: str, company_id: str) -> None:
    """Seed data for every area: a location, a company and a few of each thing."""
    for area in AREAS:
        if area.seed is not None:
            area.seed(store, location_id, company_id)


def seed_many(store: Store, collection: str, count: int, location_id: str,
              fields: dict[str, Any], spread_seconds: float = 0,
              ending_seconds_ago: float = 0) -> list[dict[str, Any]]:
    """``count`` objects; with ``spread_seconds`` their times are spread evenly over that many
    seconds, ending ``ending_seconds_ago`` before now (the last made is the newest), as in an
    account that grew over time."""
    maker = MAKERS.get(collection)
    made = []
    now = datetime.now(timezone.utc) - timedelta(seconds=ending_seconds_ago)
    for i in range(count):
        if maker is not None:
            obj = maker(store, i, location_id, fields)
        else:
            obj = store.put(collection, {"id": new_id(), "locationId": location_id,
                                         "dateAdded": now_iso(), "dateUpdated": now_iso(), **fields})
        if spread_seconds:
            moment = now - timedelta(seconds=spread_seconds * (count - 1 - i) / max(count, 1))
            stamp = iso_ms(moment)
            for name in ("dateAdded", "dateUpdated", "createdAt", "updatedAt"):
                if name in obj:
                    obj[name] = stamp
        made.append(obj)
    return made
