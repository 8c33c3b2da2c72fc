"""Reading items out of responses, by the spec's dotted paths, and keying them for dedupe.

Rules (as in Airbyte's extractors): a missing path gives no items, an object gives a list of
one, ``$`` is the whole body.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from typing import Any

from engine.spec.model import Operation


def get_path(data: Any, path: str) -> Any:
    """The value at a dotted ``path`` in ``data`` (``$`` or '' is ``data`` itself; a digit
    indexes a list); None where the path is missing."""
    if path in ("$", ""):
        return data
    node = data
    for part in path.split("."):
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and part.lstrip("-").isdigit():
            index = int(part)
            node = node[index] if -len(node) <= index < len(node) else None
        else:
            return None
        if node is None:
            return None
    return node


def page_of(op: Operation, data: Any) -> Any:
    """The page inside a response: at the first of the trigger's ``page_paths`` that holds an
    object (the whole response when none does)."""
    assert op.trigger is not None
    for path in op.trigger.page_paths:
        node = get_path(data, path)
        if isinstance(node, dict):
            return node
    return data


def extract(op: Operation, data: Any) -> list[dict[str, Any]]:
    """The items of one response, read at the spec's items path inside its page."""
    assert op.trigger is not None
    found = get_path(page_of(op, data), op.trigger.items.path)
    if found is None:
        return []
    each = op.trigger.items.each
    if each and isinstance(found, dict):
        out = []
        for key, value in found.items():
            entries = get_path(value, each) if isinstance(value, dict) else None
            for entry in entries if isinstance(entries, list) else []:
                out.append({**entry, "key": key} if isinstance(entry, dict)
                           else {"value": entry, "key": key})
        return out
    if isinstance(found, list):
        return [i if isinstance(i, dict) else {"value": i} for i in found]
    if isinstance(found, dict):
        return [found] if found else []
    return [{"value": found}]


def content_hash(item: Any) -> str:
    """SHA-256 hex of the item's canonical JSON (sorted keys): what ``changed`` triggers key on."""
    return hashlib.sha256(json.dumps(item, sort_keys=True, default=str).encode()).hexdigest()


def item_id(op: Operation, item: dict[str, Any]) -> str:
    """The upstream id of an item; a content hash for items without one."""
    assert op.trigger is not None
    value = get_path(item, op.trigger.items.id_field)
    return str(value) if value not in (None, "") else "h" + content_hash(item)[:32]


def parse_time(value: Any) -> float | None:
    """Seconds since the epoch from an ISO 8601 string, epoch seconds or epoch milliseconds."""
    if value in (None, ""):
        return None
    if isinstance(value, (int, float)) or (isinstance(value, str) and value.isdigit()):
        number = float(value)
        return number / 1000 if number > 10**11 else number
    try:
        text = str(value).replace("Z", "+00:00")
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp()


def timestamp(op: Operation, item: dict[str, Any]) -> float | None:
    """The item's time (s since the epoch) from the spec's ``timestamp_field`` (or the
    ``updated_field``), None when it has neither."""
    assert op.trigger is not None
    field = op.trigger.items.timestamp_field or op.trigger.dedupe.updated_field
    return parse_time(get_path(item, field)) if field else None


def dedupe_key(op: Operation, item: dict[str, Any]) -> str:
    """What makes an item new for the trigger's strategy:
    ``new`` → its id; ``updated`` → id + updated time; ``changed`` → id + content hash."""
    assert op.trigger is not None
    base = item_id(op, item)
    strategy = op.trigger.dedupe.strategy
    if strategy == "updated":
        stamp = get_path(item, op.trigger.dedupe.updated_field or "")
        if stamp not in (None, ""):
            return f"{base}@{stamp}"
        return f"{base}#{content_hash(item)[:16]}"
    if strategy == "changed":
        return f"{base}#{content_hash(item)[:16]}"
    return base
