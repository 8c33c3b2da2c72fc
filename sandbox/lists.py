"""How the sandbox reads lists, for the generic store and the hand-written handlers alike:
objects of the token's location, newest first, filtered by the query or by text, one page by
the spec's paginator."""

from __future__ import annotations

from typing import Any, Iterable

from sandbox.answers import error


def in_location(ctx, objects: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in objects if o.get("locationId") in (None, ctx.location_id)]


def newest(items: list[dict[str, Any]], field: str, id_field: str = "id") -> list[dict[str, Any]]:
    """``items`` newest ``field`` first, ties broken by id (highest first)."""
    return sorted(items, key=lambda o: (str(o.get(field) or ""),
                                        str(o.get(id_field) or o.get("_id") or "")),
                  reverse=True)


def newest_first(ctx, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``items`` by the spec's timestamp field (``dateAdded`` when it names none), newest first."""
    stamp = ctx.op.trigger.items.timestamp_field if ctx.op.trigger else None
    return newest(items, stamp or "dateAdded")


def contains(items: list[dict[str, Any]], text: Any, *fields: str) -> list[dict[str, Any]]:
    """The objects whose ``fields``, read together, hold ``text`` (in any case); all of them
    when ``text`` is empty."""
    if not text:
        return items
    needle = str(text).lower()
    return [o for o in items if needle in " ".join(str(o.get(f) or "") for f in fields).lower()]


def search_order(body: dict[str, Any], *fields: str) -> tuple[str, bool, Any]:
    """(field, newest first?, None) from the first ``sort`` entry of a search body, ``{field,
    direction}`` (the first of ``fields``, descending, when it has none), or ("", False, GHL's
    422) when it names a field not in ``fields``."""
    sort = (body.get("sort") or [{"field": fields[0], "direction": "desc"}])[0]
    field = sort.get("field", fields[0])
    if field not in fields:
        return "", False, error(422, [f"sort field must be one of {', '.join(fields)}"])
    return field, sort.get("direction", "desc") == "desc", None


def _paginator(ctx):
    return ctx.op.trigger.paginator if ctx.op.trigger else None


def filtered(ctx, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The objects whose fields equal the query's params (those the objects have at all; paging
    params aside)."""
    pag = _paginator(ctx)
    skip = {getattr(pag, n, None) for n in ("offset_param", "page_param", "size_param")}
    out = items
    for name, value in ctx.query.items():
        if name in skip or isinstance(value, list):
            continue
        if any(name in o for o in items):
            out = [o for o in out if str(o.get(name)) == str(value)]
    return out


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def paginate(ctx, items: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Apply the spec's paginator (offset or page) to a full, ordered list: (page, meta)."""
    pag = _paginator(ctx)
    if pag is None or pag.type in ("none", "cursor", "next_url"):
        return items, {"total": len(items)}
    params = ctx.body if getattr(pag, "inject", "query") == "body" else ctx.query
    size = max(1, _int(params.get(pag.size_param), pag.page_size))
    if pag.type == "offset":
        start = max(0, _int(params.get(pag.offset_param), pag.start) - pag.start)
    else:
        start = (max(pag.start, _int(params.get(pag.page_param), pag.start)) - pag.start) * size
    return items[start:start + size], {"total": len(items)}


def page(ctx, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One page by the spec's paginator (offset or page)."""
    return paginate(ctx, items)[0]


def skip_limit(ctx, items: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """The page GHL's ``skip`` and ``limit`` query params ask for (``limit`` when absent)."""
    skip, size = int(ctx.query.get("skip") or 0), int(ctx.query.get("limit") or limit)
    return items[skip:skip + size]
