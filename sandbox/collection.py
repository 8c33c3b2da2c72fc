"""The generic store: how the sandbox answers an endpoint of a curated spec that behaves like a
plain collection, by the shape of its path (``collection`` from
:func:`sandbox.store.collection_of`):

    GET    .../{id}      read one object             -> wrapped at the spec's item/output path
    GET    .../things    list (filters, order, page) -> wrapped at the spec's items path
    POST   .../things    create                      -> 201, wrapped at the output path
    PUT    .../{id}      update (merge)              -> {"succeded": true, <output path>: obj}
    DELETE .../{id}      delete                      -> {"succeded": true}
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import Response

from sandbox.answers import checked, error, missing_required, ok
from sandbox.lists import filtered, newest_first, paginate
from sandbox.store import new_id, now_iso, put_at


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


def create(ctx, obj: dict[str, Any]) -> dict[str, Any]:
    """Store ``obj`` as a new object of the request's collection: a new id, the token's
    location, its parents' ids and its times (unless given)."""
    name = id_field(ctx)
    obj[name] = new_id()
    obj.setdefault("locationId", ctx.location_id)
    for parent in ctx.parent_names:
        obj.setdefault(parent, ctx.path[parent])
    stamp = now_iso()
    obj.setdefault("dateAdded", stamp)
    obj.setdefault("dateUpdated", stamp)
    return ctx.store.put(ctx.collection, obj, ctx.parents, name)


def generic(ctx) -> Response:
    method = ctx.route.method
    if method == "GET" and ctx.id_param:
        obj = ctx.store.get(ctx.collection, ctx.path[ctx.id_param], ctx.parents)
        if obj is None:
            return error(404, f"{ctx.collection.split('/')[-1].rstrip('s').capitalize() or 'Object'} "
                              f"not found", "Not Found")
        return ok(wrap(wrap_path(ctx), obj))
    if method in ("GET", "POST") and not ctx.id_param:
        bad = checked(ctx)
        if bad:
            return bad
        if method == "POST":
            return ok(wrap(ctx.op.output.path, create(ctx, dict(ctx.body))), 201)
        items = newest_first(ctx, filtered(ctx, ctx.store.all(ctx.collection, ctx.parents)))
        page, meta = paginate(ctx, items)
        return ok(wrap(wrap_path(ctx), page, meta=meta, total=meta["total"]))
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
