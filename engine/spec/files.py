"""The hand-written spec files, ``operations/<name>.yaml``, read into :class:`Operation` objects.

A file is one YAML mapping::

    description: what the file holds
    app: ghl                 # every operation's app, category and group, unless it names its own
    category: contacts
    operations:
      - key: contacts.get_contact
        kind: trigger
        title: Get Contact
        ...                  # the fields of Operation; a field left out keeps its default
      - key: contacts.find_contact_by_id
        find_by_id: contacts.get_contact
        title: Find Contact by ID
        description: Finds one contact by its id.

An entry with ``find_by_id`` names a trigger of the same file that watches one object by its id
(``items.single``) and becomes its twin search action: the same request and inputs, the object
(at the trigger's items path) as the result, the trigger's sample as the result's.

The files are read with PyYAML's C loader when it is there, without two YAML 1.1 surprises
that hand-edited samples would meet: only ``true`` and ``false`` are booleans (``NO``, a country
code, stays text) and only plain decimal numbers are numbers (``10:30`` and ``2026-01-15`` stay
text, as in the JSON the spec describes). A key written twice in one mapping is an error.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import IO, Any

import yaml
from pydantic import ValidationError

from engine.spec.model import Operation, Output

_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_TYPED = ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float",
          "tag:yaml.org,2002:timestamp")
FILE_KEYS = ("description", "app", "category", "group", "operations")
SHARED = ("app", "category", "group")
TWIN_KEYS = {"key", "find_by_id", "title", "description"}


class SpecError(Exception):
    """A spec file is malformed, or a spec breaks a rule or clashes with another."""


class Loader(_BaseLoader):  # type: ignore[misc,valid-type]
    """PyYAML's safe loader with YAML 1.2's plain booleans and numbers, refusing repeated keys."""

    yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag not in _TYPED]
        for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
    }

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        """A mapping as PyYAML builds it, after checking no key is written twice in it.

        :raises yaml.constructor.ConstructorError: naming the repeated key and its line.
        """
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key is not None and key != "<<" and key in seen:
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping", node.start_mark, f"key {key!r} is written twice",
                    key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
# no leading zero: 0412345678, a phone number, stays text
Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$"), list("-+0123456789"))
Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^(?:[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|[-+]?[0-9]+[eE][-+]?[0-9]+"
               r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
    list("-+0123456789."))


def parse(text: str | IO[str]) -> Any:
    """The data of one YAML document (text, or an open file whose name errors show), as
    :class:`Loader` reads it."""
    return yaml.load(text, Loader=Loader)  # noqa: S506 - a safe loader


def _where(exc: ValidationError, entry: dict[str, Any]) -> list[str]:
    """Each error of ``exc`` as ``field: message``, an input named by its name, not its index."""
    out = []
    inputs = entry.get("inputs") if isinstance(entry.get("inputs"), list) else []
    for error in exc.errors():
        loc = [str(part) for part in error["loc"]]
        if len(loc) > 1 and loc[0] == "inputs" and loc[1].isdigit() and int(loc[1]) < len(inputs):
            named = inputs[int(loc[1])]
            if isinstance(named, dict) and isinstance(named.get("name"), str):
                loc[1] = named["name"]
        out.append(f"{'.'.join(loc) or 'operation'}: {error['msg']}")
    return out


def _twin(entry: dict[str, Any], trigger: Operation | None) -> Operation:
    """The search action that reads the one object ``trigger`` watches, by its id."""
    if trigger is None or trigger.trigger is None or not trigger.trigger.items.single:
        raise ValueError(f"find_by_id: {entry['find_by_id']!r} is not a trigger of this file that "
                         "watches one object (items.single)")
    extra = sorted(set(entry) - TWIN_KEYS)
    if extra:
        raise ValueError(f"find_by_id: an entry that names a trigger takes only key, title and "
                         f"description, not {', '.join(extra)}")
    items = trigger.trigger.items
    return Operation(key=entry["key"], app=trigger.app, category=trigger.category,
                     group=trigger.group, title=entry.get("title"),
                     description=entry.get("description"), kind="action", search=True,
                     upstream=trigger.upstream, inputs=trigger.inputs,
                     output=Output(path=items.path, id_field=items.id_field),
                     sample=trigger.sample if items.path == "$" else {items.path: trigger.sample})


def _entries(data: Any) -> tuple[dict[str, Any], list[Any]]:
    """The file-level values every operation shares, and the operation entries."""
    if not isinstance(data, dict):
        raise ValueError("the file must be a mapping with 'description' and 'operations'")
    unknown = sorted(set(data) - set(FILE_KEYS))
    if unknown:
        raise ValueError(f"unknown top-level key(s) {', '.join(map(repr, unknown))}; "
                         f"a file has {', '.join(FILE_KEYS)}")
    entries = data.get("operations")
    if not isinstance(entries, list) or not entries:
        raise ValueError("'operations' must be a non-empty list")
    return {k: data[k] for k in SHARED if k in data}, entries


@lru_cache(maxsize=None)
def read(source: Path) -> tuple[Operation, ...]:
    """The operations of one spec file, in file order.

    :raises SpecError: naming the file, and the operation key and field of every problem.
    """
    name = source.name
    try:
        with source.open(encoding="utf-8") as stream:
            shared, entries = _entries(parse(stream))
    except (OSError, yaml.YAMLError, ValueError) as exc:
        raise SpecError(f"{name}: {exc}") from None
    problems: list[str] = []
    built: dict[str, Operation] = {}
    invalid: set[str] = set()
    twins: list[tuple[int, dict[str, Any]]] = []
    order: list[tuple[int, str]] = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("key"), str):
            problems.append(f"{name}: operation {index + 1}: an operation is a mapping with a 'key'")
            continue
        if "find_by_id" in entry:
            twins.append((index, entry))
            continue
        try:
            built[entry["key"]] = Operation.model_validate({**shared, **entry})
            order.append((index, entry["key"]))
        except ValidationError as exc:
            invalid.add(entry["key"])
            problems += [f"{name}: {entry['key']}: {where}" for where in _where(exc, entry)]
    for index, entry in twins:
        if entry["find_by_id"] in invalid:
            problems.append(f"{name}: {entry['key']}: find_by_id: {entry['find_by_id']!r} is invalid")
            continue
        try:
            built[entry["key"]] = _twin(entry, built.get(str(entry["find_by_id"])))
            order.append((index, entry["key"]))
        except ValidationError as exc:
            problems += [f"{name}: {entry['key']}: {where}" for where in _where(exc, entry)]
        except ValueError as exc:
            problems.append(f"{name}: {entry['key']}: {exc}")
    if problems:
        raise SpecError("\n  ".join(problems))
    return tuple(built[key] for _, key in sorted(order))
