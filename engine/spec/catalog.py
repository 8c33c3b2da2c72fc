"""How an operation is described to callers, the CLI and the generated docs."""

from __future__ import annotations

from typing import Any

from engine.spec.inputs import input_schema
from engine.spec.model import Operation


def describe(op: Operation) -> dict[str, Any]:
    """An operation as ``GET /v1/operations`` shows it: key, kind, app, category, group, title,
    description, search, input JSON Schema, sample, upstream method/path/version/scopes and,
    for a trigger, how its items are read."""
    entry: dict[str, Any] = {
        "key": op.key, "kind": op.kind, "app": op.app, "category": op.category,
        "group": op.group or op.category, "title": op.title, "description": op.description, "search": op.search,
        "input_schema": input_schema(op), "sample": op.sample,
        "upstream": {"method": op.upstream.method, "path": op.upstream.path,
                     "version": op.upstream.version, "scopes": list(op.upstream.scopes)},
    }
    if op.trigger is not None:
        t = op.trigger
        entry["trigger"] = {
            "items_path": t.items.path, "id_field": t.items.id_field,
            "timestamp_field": t.items.timestamp_field, "single": t.items.single,
            "paginator": t.paginator.type, "dedupe": t.dedupe.strategy,
            "default_interval_minutes": t.default_interval_minutes,
        }
    return entry
