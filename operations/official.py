"""Every official GHL v2 operation that no curated spec covers, as specs.

The facts come from ``official.json`` beside this module, written by ``ghl-engine catalog
generate`` from GHL's official OpenAPI documents (see :mod:`engine.export.official`). The words
are the project's own: help for a field comes from ``_shared_help.yaml`` beside this module
(the help the hand-written specs give inputs of that name) when the name is there, and
otherwise from the field's name, type and place; an operation's description from its title,
category and endpoint.

Every generated operation is an action; those that read (GET) are also searches.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from engine.spec.files import parse
from engine.spec.model import Input, Operation, Output, Upstream

DATA = Path(__file__).with_name("official.json")
HELP = Path(__file__).with_name("_shared_help.yaml")

PLACES = {"path": "in the request path", "query": "in the query string", "body": "in the JSON body"}
TYPES = {"string": "text", "integer": "a whole number", "number": "a number",
         "boolean": "true or false", "array": "a list", "object": "a JSON object"}
FILLS = {"locationId": "location_id", "companyId": "company_id"}


def _shared_help() -> dict[str, str]:
    """Help already written for a field name by the hand-written specs, by name."""
    return dict(parse(HELP.read_text(encoding="utf-8"))["help"])


SHARED_HELP = _shared_help()


_CAMEL = re.compile(r"([a-z0-9])([A-Z])")


def words(name: str) -> str:
    """``contactId`` → ``contact id``; ``start_after`` → ``start after``."""
    spaced = _CAMEL.sub(r"\1 \2", name).replace("_", " ").replace("-", " ")
    return " ".join(spaced.split()).lower() or name


def help_text(record: dict[str, Any]) -> str:
    """Help for one generated input, in the project's words."""
    name = record["name"]
    if name in SHARED_HELP:
        return SHARED_HELP[name]
    noun = words(name)
    kind = record["type"]
    if kind == "array":
        what = f"a list of {TYPES.get(record.get('items') or 'string', 'values').removeprefix('a ')}"
    else:
        what = TYPES[kind]
    if noun.endswith(" id") or noun == "id":
        subject = "the id of the " + (noun[:-3] or "object") if noun != "id" else "the object's id"
        text = f"{subject.capitalize()}, {what}, {PLACES[record['in']]}."
    else:
        text = f"{noun.capitalize()}: {what}, {PLACES[record['in']]}."
    if record.get("format"):
        text += f" Format: {record['format']}."
    if record.get("binary"):
        text += " Sent as a file part of the multipart body."
    return text


def _frozen(value: Any) -> Any:
    """A path or query example as an immutable value (a read spec stays hashable): lists as
    tuples."""
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    if isinstance(value, dict):
        return None if any(isinstance(v, (dict, list)) for v in value.values()) else value
    return value


def _input(record: dict[str, Any]) -> Input:
    fill = FILLS.get(record["name"]) if record["in"] != "path" else None
    return Input(name=record["name"], location=record["in"], type=record["type"],
                 required=bool(record.get("required")), help=help_text(record),
                 enum=tuple(record["enum"]) if record.get("enum") else None,
                 items=record.get("items"), example=record.get("example") if record["in"] == "body" else _frozen(record.get("example")),
                 format="binary" if record.get("binary") else record.get("format"), fill=fill,
                 choices_from=record.get("choices_from"), found_by=record.get("found_by"))


def spec(record: dict[str, Any]) -> Operation:
    """One :class:`Operation` from one record of official.json."""
    method = record["method"]
    category = record["category"]
    title = record["title"] or words(record["operation_id"]).capitalize()
    description = (f"{title}: {method} {record['path']} of GHL's {words(category)} API, "
                   "as the official document defines it.")
    if record.get("deprecated"):
        description += " Deprecated by GHL."
    result = record.get("result") or {}
    return Operation(
        key=record["key"], app="ghl", category=category, title=title, description=description,
        kind="action", search=method == "GET",
        upstream=Upstream(method=method, path=record["path"], version=record["version"],
                          scopes=tuple(record["scopes"]), body_input=record.get("body_input"),
                          json_body=record.get("json_body"),
                          body_format=record.get("body_format", "json")),
        inputs=tuple(_input(r) for r in record["inputs"]),
        output=Output(path=result["path"]) if result.get("kind") == "object" else Output(),
        sample=record.get("sample") or {},
    )


@lru_cache(maxsize=None)
def specs(source: Path = DATA) -> tuple[Operation, ...]:
    """The specs of a file written like official.json (none when it is missing)."""
    if not source.exists():
        return ()
    lines = source.read_text().splitlines()
    return tuple(spec(json.loads(line)) for line in lines[1:] if line.strip())


SPECS = specs(DATA)
