"""How an operation is described to callers, the CLI and the generated docs."""

from __future__ import annotations

from typing import Any

from engine.spec.inputs import input_schema
from engine.spec.model import Operation


def describe(op: Operation) -> dict[str, Any]:
    """An operation as ``GET /v1/operations`` shows it: key, kind, app, category, group, title,
    description, search, input JSON Schema, sample, upstream method/path/version/scopes and,
    for a trigger, how its items are read; ``noun``; where inputs' choices come from
    (``choices``: input name → ``{"trigger", "each", "parent"}``) and which search finds an
    input's id (``found_by``: input name → search key); a search's ``create_with``; a list
    trigger's ``choices`` (how its items show in a dropdown)."""
    entry: dict[str, Any] = {
        "key": op.key, "kind": op.kind, "app": op.app, "category": op.category,
        "group": op.group or op.category, "title": op.title, "description": op.description, "search": op.search,
        "input_schema": input_schema(op), "sample": op.sample,
        "upstream": {"method": op.upstream.method, "path": op.upstream.path,
                     "version": op.upstream.version, "scopes": list(op.upstream.scopes)},
    }
    entry["noun"] = op.noun
    choices = {i.name: i.choices_from.model_dump() for i in op.inputs if i.choices_from}
    found_by = {i.name: i.found_by for i in op.inputs if i.found_by}
    if choices:
        entry["choices"] = choices
    if found_by:
        entry["found_by"] = found_by
    if op.create_with:
        entry["create_with"] = op.create_with
    if op.trigger is not None:
        t = op.trigger
        entry["trigger"] = {
            "items_path": t.items.path, "id_field": t.items.id_field,
            "timestamp_field": t.items.timestamp_field, "single": t.items.single,
            "paginator": t.paginator.type, "dedupe": t.dedupe.strategy,
            "default_interval_minutes": t.default_interval_minutes,
        }
        if t.choices:
            entry["trigger"]["choices"] = [c.model_dump() for c in t.choices]
    return entry
