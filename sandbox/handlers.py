"""How the GHL sandbox answers: one generic handler for any curated spec, by the shape of its
path; the generated operations through :mod:`sandbox.official`; and hand-written handlers, keyed
by upstream method and path, only where the real API is special (contact search, upsert, tags...).

Generic shapes (``collection`` from :func:`sandbox.store.collection_of`):

    GET    .../{id}      read one object             -> wrapped at the spec's item/output path
    GET    .../things    list (filters, order, page) -> wrapped at the spec's items path
    POST   .../things    create                      -> 201, wrapped at the output path
    PUT    .../{id}      update (merge)              -> {"succeded": true, <output path>: obj}
    DELETE .../{id}      delete                      -> {"succeded": true}
"""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from fastapi.responses import JSONResponse, Response

from operations import official as _official_specs

from sandbox import official
from sandbox.store import Store, new_id, now_iso, put_at

# list path -> collection where its objects live, when the two differ
ALIASES: dict[str, str] = {}

Handler = Callable[[Any], Response]
# operations generated from GHL's official documents: answered by sandbox.official
GENERATED: frozenset[str] = frozenset(op.key for op in _official_specs.SPECS)
SPECIAL: dict[str, Handler] = {}


def endpoint(method: str, template: str) -> str:
    """``("GET", "/contacts/")`` → ``"GET /contacts"``: how a hand-written handler names the
    upstream endpoint it answers (the trailing slash aside, as GHL routes it)."""
    return f"{method.upper()} /{template.strip('/')}"


def special(*endpoints: str) -> Callable[[Handler], Handler]:
    """Register a hand-written handler for upstream endpoints named ``"METHOD /path/{param}"``.

    :raises ValueError: an endpoint already has another handler, or is not ``METHOD /path``.
    """
    def register(fn: Handler) -> Handler:
        for name in endpoints:
            method, _, template = name.partition(" ")
            key = endpoint(method, template)
            if not template.startswith("/") or method not in ("GET", "POST", "PUT", "PATCH", "DELETE"):
                raise ValueError(f"{name!r}: a handler names its endpoint as 'METHOD /path'")
            if SPECIAL.get(key, fn) is not fn:
                raise ValueError(f"{key} has two hand-written handlers: {SPECIAL[key].__name__} "
                                 f"and {fn.__name__}")
            SPECIAL[key] = fn
        return fn
    return register


def error(status: int, message: Any, error_name: str | None = None, **extra: Any) -> JSONResponse:
    names = {400: "Bad Request", 403: "Forbidden", 404: "Not Found", 422: "Unprocessable Entity"}
    return JSONResponse({"statusCode": status, "message": message,
                         "error": error_name or names.get(status, "Error"), **extra},
                        status_code=status)


def ok(data: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(data, status_code=status)


# ----------------------------------------------------------------------------- helpers


async def read_json(request) -> Any:
    """A request's JSON body, or None when it is empty or not JSON."""
    raw = await request.body()
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


async def read_body(request) -> Any:
    """A request's body: its JSON, or its fields for an HTML form or a multipart form (a file
    part as its file name), or None when it is empty or unreadable."""
    kind = request.headers.get("content-type", "")
    if kind.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        return {name: getattr(value, "filename", None) or value if not isinstance(value, str) else value
                for name, value in form.multi_items()}
    return await read_json(request)


def wrap_path(ctx) -> str:
    if ctx.op.trigger is not None:
        return ctx.op.trigger.items.path
    return ctx.op.output.path


def id_field(ctx) -> str:
    if ctx.op.trigger is not None:
        return ctx.op.trigger.items.id_field
    return ctx.op.output.id_field


def wrap(path: str, value: Any, **extra: Any) -> dict[str, Any]:
    if path == "$":
        return {**value, **extra} if isinstance(value, dict) else value
    out: dict[str, Any] = dict(extra)
    put_at(out, path, value)
    return out


def location_mismatch(ctx, location_id: Any) -> JSONResponse | None:
    if location_id and location_id != ctx.location_id:
        return error(403, "The token does not have access to this location.")
    return None


def missing_required(ctx) -> JSONResponse | None:
    """422 in GHL's shape for required body and query fields the spec declares."""
    problems = []
    for field in ctx.op.inputs:
        if not field.required or field.location == "path":
            continue
        source = ctx.body if field.location == "body" else ctx.query
        if source.get(field.name) in (None, ""):
            problems.append(f"{field.name} should not be empty")
    return error(422, problems) if problems else None


def page_params(ctx) -> dict[str, Any]:
    pag = ctx.op.trigger.paginator if ctx.op.trigger else None
    source = ctx.body if pag is not None and getattr(pag, "inject", "query") == "body" else ctx.query
    return source


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def paginate(ctx, items: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Apply the spec's paginator (offset or page) to a full, ordered list."""
    pag = ctx.op.trigger.paginator if ctx.op.trigger else None
    if pag is None or pag.type in ("none", "cursor", "next_url"):
        return items, {"total": len(items)}
    params = page_params(ctx)
    size = max(1, _int(params.get(pag.size_param), pag.page_size))
    if pag.type == "offset":
        start = max(0, _int(params.get(pag.offset_param), pag.start) - pag.start)
    else:
        start = (max(pag.start, _int(params.get(pag.page_param), pag.start)) - pag.start) * size
    return items[start:start + size], {"total": len(items)}


def newest_first(ctx, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    ts = ctx.op.trigger.items.timestamp_field if ctx.op.trigger else None
    ts = ts or "dateAdded"
    return sorted(items, key=lambda o: (str(o.get(ts) or ""), str(o.get("id") or o.get("_id"))),
                  reverse=True)


def filtered(ctx, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    pag = ctx.op.trigger.paginator if ctx.op.trigger else None
    skip = {getattr(pag, n, None) for n in ("offset_param", "page_param", "size_param")}
    out = items
    for name, value in ctx.query.items():
        if name in skip or isinstance(value, list):
            continue
        if any(name in o for o in items):
            out = [o for o in out if str(o.get(name)) == str(value)]
    return out


# ----------------------------------------------------------------------------- generic


def generic(ctx) -> Response:
    method = ctx.route.method
    if method == "GET" and ctx.id_param:
        obj = ctx.store.get(ctx.collection, ctx.path[ctx.id_param], ctx.parents)
        if obj is None:
            return error(404, f"{ctx.collection.split('/')[-1].rstrip('s').capitalize() or 'Object'} "
                              f"not found", "Not Found")
        return ok(wrap(wrap_path(ctx), obj))
    if method == "GET":
        bad = location_mismatch(ctx, ctx.query.get("locationId"))
        if bad:
            return bad
        bad = missing_required(ctx)
        if bad:
            return bad
        items = newest_first(ctx, filtered(ctx, ctx.store.all(ctx.collection, ctx.parents)))
        page, meta = paginate(ctx, items)
        return ok(wrap(wrap_path(ctx), page, meta=meta, total=meta["total"]))
    if method == "POST" and not ctx.id_param:
        bad = missing_required(ctx) or location_mismatch(ctx, ctx.body.get("locationId"))
        if bad:
            return bad
        return ok(wrap(ctx.op.output.path, create(ctx, dict(ctx.body))), 201)
    if method in ("PUT", "PATCH") and ctx.id_param:
        obj = ctx.store.get(ctx.collection, ctx.path[ctx.id_param], ctx.parents)
        if obj is None:
            return error(404, "Not found")
        bad = missing_required(ctx)
        if bad:
            return bad
        obj.update({k: v for k, v in ctx.body.items() if k not in ("id", "_id")})
        obj["dateUpdated"] = now_iso()
        if "updatedAt" in obj:
            obj["updatedAt"] = obj["dateUpdated"]
        return ok(wrap(ctx.op.output.path, obj, succeded=True))
    if method == "DELETE" and ctx.id_param:
        if not ctx.store.delete(ctx.collection, ctx.path[ctx.id_param], ctx.parents):
            return error(404, "Not found")
        return ok({"succeded": True})
    return ok({"succeded": True})


def create(ctx, obj: dict[str, Any]) -> dict[str, Any]:
    field = id_field(ctx)
    obj[field] = new_id()
    obj.setdefault("locationId", ctx.location_id)
    for name in ctx.parent_names:
        obj.setdefault(name, ctx.path[name])
    stamp = now_iso()
    obj.setdefault("dateAdded", stamp)
    obj.setdefault("dateUpdated", stamp)
    return ctx.store.put(ctx.collection, obj, ctx.parents, field)


def handle(ctx) -> Response:
    special_handler = SPECIAL.get(endpoint(ctx.route.method, ctx.route.template))
    if special_handler is not None:
        return special_handler(ctx)
    if ctx.route.key in GENERATED:
        return official.answer(ctx)
    return generic(ctx)


# ----------------------------------------------------------------------------- seed

FIRST = ["Ada", "Grace", "Alan", "Linus", "Margaret", "Dennis", "Barbara", "Ken", "Radia", "Edsger"]
LAST = ["Lovelace", "Hopper", "Turing", "Torvalds", "Hamilton", "Ritchie", "Liskov", "Thompson"]


def fake_contact(i: int, location_id: str, **fields: Any) -> dict[str, Any]:
    first, last = FIRST[i % len(FIRST)], LAST[i % len(LAST)]
    stamp = now_iso()
    contact = {
        "id": new_id(), "locationId": location_id, "firstName": first, "lastName": last,
        "contactName": f"{first} {last}".lower(), "email": f"{first}.{last}.{i}@example.com".lower(),
        "phone": f"+1555{i:07d}"[:12], "type": "lead", "source": "sandbox seed", "tags": [],
        "dnd": False, "companyName": "Example Co", "country": "US", "timezone": "America/New_York",
        "customFields": [], "dateAdded": stamp, "dateUpdated": stamp, "assignedTo": None,
    }
    contact.update(fields)
    return contact


SEEDERS: dict[str, Callable[[Store, int, str, dict], dict[str, Any]]] = {
    "contacts": lambda store, i, loc, f: store.put("contacts", fake_contact(i, loc, **f)),
}


def seed_many(store: Store, collection: str, count: int, location_id: str,
              fields: dict[str, Any], spread_seconds: float = 0,
              ending_seconds_ago: float = 0) -> list[dict[str, Any]]:
    """``count`` objects; with ``spread_seconds`` their times are spread evenly over that many
    seconds, ending ``ending_seconds_ago`` before now (the last made is the newest), as in an
    account that grew over time."""
    maker = SEEDERS.get(collection)
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
            stamp = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
            for name in ("dateAdded", "dateUpdated", "createdAt", "updatedAt"):
                if name in obj:
                    obj[name] = stamp
        made.append(obj)
    return made


SEED_HOOKS: list[Callable[[Store, str, str], None]] = []


def seed(store: Store, location_id: str, company_id: str) -> None:
    """Seed data for every resource: a location, a company and a few of each thing."""
    rnd = random.Random(7)
    store.put("locations", {"id": location_id, "companyId": company_id, "name": "Sandbox Dental",
                            "email": "frontdesk@example.com", "phone": "+15550000000",
                            "address": "1 Example Way", "city": "Springfield", "state": "IL",
                            "country": "US", "postalCode": "62701", "timezone": "America/Chicago",
                            "website": "https://example.com"})
    for i in range(5):
        contact = store.put("contacts", fake_contact(i, location_id, tags=["seed"] if i % 2 else []))
        for j in range(2):
            store.put("contacts/tasks", {
                "id": new_id(), "contactId": contact["id"], "title": f"Follow up #{j + 1}",
                "body": "Call back about the quote", "assignedTo": None,
                "dueDate": now_iso(), "completed": bool(rnd.random() < 0.3)}, (contact["id"],))
            store.put("contacts/notes", {
                "id": new_id(), "contactId": contact["id"], "body": f"Seed note {j + 1}",
                "userId": None, "dateAdded": now_iso()}, (contact["id"],))
    for hook in SEED_HOOKS:
        hook(store, location_id, company_id)


# importing the per-area handler modules registers their special handlers and seeders
from sandbox import contacts as _contacts  # noqa: E402,F401
from sandbox import (associations as _associations, blogs as _blogs,  # noqa: E402,F401
                     businesses as _businesses, conversations as _conversations,
                     locations as _locations, workflows as _workflows)
from sandbox import users as _users  # noqa: E402,F401  (before areas that assign users)
from sandbox import calendars as _calendars, opportunities as _opportunities  # noqa: E402,F401
