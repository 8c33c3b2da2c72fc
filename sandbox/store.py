"""The sandbox's in-memory resource store, driven by the same specs as the engine.

A collection is named by the literal segments of a path template (``contacts``,
``contacts/tasks``) and keyed by its parent ids (the path parameters before the last one), so
``/contacts/{contactId}/tasks/{taskId}`` reads task ``taskId`` in collection ``contacts/tasks``
under parent ``(contactId,)``. Objects are plain dicts, newest last.
"""

from __future__ import annotations

import copy
import itertools
import re
import threading
from datetime import datetime, timezone
from typing import Any

_PARAM = re.compile(r"^\{([^}]+)\}$")

_counter = itertools.count(1)


def iso_ms(moment: datetime) -> str:
    """``moment`` (in UTC) as GHL writes times, to the millisecond: 2026-01-02T03:04:05.678Z."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def now_iso() -> str:
    """Now as GHL writes times, to the millisecond (one reading of the clock, so a later call
    never gives an earlier time)."""
    return iso_ms(datetime.now(timezone.utc))


def epoch_ms(value: Any) -> int | None:
    """Epoch milliseconds from epoch ms (a number or its digits) or an ISO 8601 time (UTC when
    it names no offset); None when ``value`` is empty or neither."""
    if value in (None, ""):
        return None
    if isinstance(value, (int, float)) or str(value).lstrip("-").isdigit():
        return int(value)
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return round(parsed.timestamp() * 1000)


def new_id(prefix: str = "") -> str:
    """A 20-character GHL-looking id, unique within the process."""
    n = next(_counter)
    return (prefix + f"{n:x}".rjust(20 - len(prefix), "0"))[:24]


def get_at(node: Any, path: str | None) -> Any:
    """The value at the dotted ``path`` inside ``node`` (``node`` itself for ``$`` or None),
    None when a step is missing."""
    if path in (None, "$"):
        return node
    for part in path.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def put_at(node: dict[str, Any], path: str, value: Any) -> None:
    """Set ``value`` at the dotted ``path`` inside ``node``, making the objects on the way."""
    parts = path.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def segments(template: str) -> list[str]:
    return [s for s in template.strip("/").split("/") if s]


def param_of(segment: str) -> str | None:
    """``"{contactId}"`` → ``"contactId"``: the parameter a path segment stands for, if any."""
    found = _PARAM.match(segment)
    return found.group(1) if found else None


def collection_of(template: str, aliases: dict[str, str]) -> tuple[str, list[str], str | None]:
    """(collection name, parent param names, id param name or None) of a path template."""
    segs = segments(template)
    last_param = param_of(segs[-1]) if segs else None
    body = segs[:-1] if last_param else segs
    literal = [s for s in body if param_of(s) is None]
    params = [p for p in map(param_of, body) if p is not None]
    name = "/".join(literal)
    name = aliases.get(name, name)
    return name, params, last_param


class Store:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.data: dict[tuple[str, tuple[str, ...]], dict[str, dict[str, Any]]] = {}

    def bucket(self, name: str, parents: tuple[str, ...] = ()) -> dict[str, dict[str, Any]]:
        return self.data.setdefault((name, parents), {})

    def put(self, name: str, obj: dict[str, Any], parents: tuple[str, ...] = (),
            id_field: str = "id") -> dict[str, Any]:
        with self.lock:
            self.bucket(name, parents)[str(obj[id_field])] = obj
        return obj

    def get(self, name: str, obj_id: str, parents: tuple[str, ...] = ()) -> dict[str, Any] | None:
        return self.data.get((name, parents), {}).get(obj_id)

    def find(self, name: str, obj_id: str) -> dict[str, Any] | None:
        """An object by id under any parent."""
        for (coll, _), objs in self.data.items():
            if coll == name and obj_id in objs:
                return objs[obj_id]
        return None

    def delete(self, name: str, obj_id: str, parents: tuple[str, ...] = ()) -> bool:
        with self.lock:
            return self.data.get((name, parents), {}).pop(obj_id, None) is not None

    def all(self, name: str, parents: tuple[str, ...] | None = ()) -> list[dict[str, Any]]:
        if parents is None:
            return [o for (coll, _), objs in self.data.items() if coll == name for o in objs.values()]
        return list(self.data.get((name, parents), {}).values())

    def clear(self) -> None:
        with self.lock:
            self.data.clear()

    def snapshot(self, obj: dict[str, Any]) -> dict[str, Any]:
        return copy.deepcopy(obj)
