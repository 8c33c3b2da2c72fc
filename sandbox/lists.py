"""Small helpers shared by the per-area handler modules: list answers shaped exactly as the
official documents show them, required paging params, and text search."""

from __future__ import annotations

from typing import Any, Iterable

from sandbox.handlers import error, location_mismatch, missing_required, paginate


def require_query(ctx, *names: str):
    """422 in GHL's shape when query params GHL requires are absent (skip, limit, offset...)."""
    problems = [f"{n} should not be empty" for n in names if ctx.query.get(n) in (None, "")]
    problems += [f"{n} must be a number conforming to the specified constraints"
                 for n in names if ctx.query.get(n) not in (None, "") and not _is_int(ctx.query[n])]
    return error(422, problems) if problems else None


def _is_int(value: Any) -> bool:
    try:
        int(value)
        return True
    except (TypeError, ValueError):
        return False


def checked(ctx, *required_query: str):
    """The usual checks of a list endpoint: required fields, required paging params and the
    token's access to the location."""
    return (missing_required(ctx) or require_query(ctx, *required_query)
            or location_mismatch(ctx, ctx.query.get("locationId")))


def in_location(ctx, objects: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in objects if o.get("locationId") in (None, ctx.location_id)]


def newest(items: list[dict[str, Any]], field: str, id_field: str = "id") -> list[dict[str, Any]]:
    return sorted(items, key=lambda o: (str(o.get(field) or ""), str(o.get(id_field) or "")),
                  reverse=True)


def contains(items: list[dict[str, Any]], field: str, text: Any) -> list[dict[str, Any]]:
    if not text:
        return items
    return [o for o in items if str(text).lower() in str(o.get(field) or "").lower()]


def page(ctx, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One page by the spec's paginator (offset or page)."""
    return paginate(ctx, items)[0]
