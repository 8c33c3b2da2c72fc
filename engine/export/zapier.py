"""The Zapier app's definitions, generated from the operation catalog.

``ghl-engine zapier generate`` writes ``integrations/zapier/generated/catalog.json``: one entry
per operation, already in Zapier's shape (keys, labels, input fields with types, help, choices and
dynamic dropdowns, samples). The app's code in ``integrations/zapier/lib`` turns each entry into
a REST-hook trigger, a create or a search that calls the engine; it holds no per-operation code,
so a new spec reaches Zapier by running the command again.

Mapping rules
-------------
- Zapier key: the engine key with ``.`` replaced by ``__`` (``contacts.create_contact`` →
  ``contacts__create_contact``); keys are checked for validity and uniqueness.
- A trigger becomes a REST-hook trigger (subscribe, unsubscribe, perform, performList); a trigger
  or action with ``search`` set also becomes a search; any other action becomes a create.
- Input fields come from the operation's JSON Schema (:func:`engine.spec.inputs.input_schema`).
  Trigger inputs the engine manages itself (page and offset parameters, a rolling time window)
  are left out of hook triggers.
- Every list of choices a trigger declares (``Trigger.choices``) becomes a hidden dropdown
  trigger ``dropdown_<name>``; an input whose spec names that trigger in ``choices_from`` is a
  dynamic field fed by it. An input with ``found_by`` offers that search in the Zap editor, a
  search with ``create_with`` is offered as "Find or Create", an input with ``fields_from`` is
  shown as one field per custom field. Everything comes from the specs; nothing here is about
  one operation.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.spec.inputs import EXTRA, input_schema
from engine.spec.model import Choices, ChoicesFrom, Operation
from engine.spec.registry import registry

ROOT = Path(__file__).resolve().parents[2]
APP_DIR = ROOT / "integrations" / "zapier"
OUTPUT = Path("generated") / "catalog.json"
COMMAND = "ghl-engine zapier generate"

ZAPIER_KEY_RE = re.compile(r"^[a-zA-Z]+[a-zA-Z0-9_]*$")
LABEL_MAX = 64
DESCRIPTION_MAX = 1000
HELP_MAX = 1000
PLACEHOLDER_MAX = 200

# fields the app adds to every operation; an input with one of these names would clash
CONNECTION_FIELD = "connection_id"
INTERVAL_FIELD = "poll_interval_minutes"
EXTRA_FIELD = "extra_fields"
RESERVED = {CONNECTION_FIELD, INTERVAL_FIELD, EXTRA_FIELD}


APP_NAMES = {"ghl": "GoHighLevel", "smsglobal": "SMSGlobal"}


class ZapierGenError(Exception):
    """The catalog cannot be mapped to a valid Zapier app (names the operation and the field)."""


def zapier_key(engine_key: str) -> str:
    """The Zapier key of an operation key (``contacts.create_contact`` ->
    ``contacts__create_contact``); raises ZapierGenError when the result is not letters, digits
    and ``_``."""
    key = engine_key.replace(".", "__")
    if not ZAPIER_KEY_RE.match(key):
        raise ZapierGenError(f"{engine_key}: Zapier key {key!r} is not letters, digits and '_'")
    return key


def dropdown_key(name: str) -> str:
    """The key of the Zapier trigger behind the dropdown named ``name`` (it lists the choices)."""
    return f"dropdown_{name}"


def connection_key(app: str) -> str:
    """The key of the Zapier dropdown that lists the connections of ``app`` ("ghl", "smsglobal")."""
    return f"connections_{app}"


@dataclass(frozen=True)
class _Catalog:
    """What the mapping of one operation needs to know of the others.

    :param choices: (trigger key, ``each``) → the choices that trigger declares.
    :param searches: the keys of the search operations.
    """

    choices: dict[tuple[str, str | None], Choices]
    searches: frozenset[str]

    @classmethod
    def of(cls, ops: dict[str, Operation]) -> "_Catalog":
        choices = {(key, c.each): c for key, op in ops.items() if op.trigger is not None
                   for c in op.trigger.choices}
        return cls(choices, frozenset(k for k, op in ops.items() if op.search))

    def source(self, ref: ChoicesFrom | None) -> Choices | None:
        """The choices an input's ``choices_from`` names, or None (none, or not in this catalog)."""
        return None if ref is None else self.choices.get((ref.trigger, ref.each))


def _clip(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _humanize(name: str) -> str:
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name).replace("_", " ").split()
    out = " ".join(w if w.isupper() else w.lower() for w in words)
    out = re.sub(r"\bid\b", "ID", out)
    out = re.sub(r"\bids\b", "IDs", out)
    return out[:1].upper() + out[1:] if out else name


def _at(data: Any, path: str) -> Any:
    if path in ("", "$"):
        return data
    for part in path.split("."):
        if isinstance(data, dict):
            data = data.get(part)
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return None
    return data


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def _managed_params(op: Operation) -> set[str]:
    """Trigger params the engine sets itself on every poll (paging, a rolling window)."""
    if op.trigger is None:
        return set()
    pag = op.trigger.paginator
    names = {getattr(pag, attr, None) for attr in ("offset_param", "page_param", "size_param")}
    names |= {t.param for t in getattr(pag, "tokens", ())}
    if op.trigger.window is not None:
        names |= {op.trigger.window.start_param, op.trigger.window.end_param}
    return {n for n in names if n}


def _unwrap(prop: dict[str, Any]) -> dict[str, Any]:
    """The non-null branch of ``anyOf: [X, null]`` merged with the property's own keywords."""
    out = {k: v for k, v in prop.items() if k != "anyOf"}
    for branch in prop.get("anyOf", ()):
        if branch.get("type") != "null":
            out = {**branch, **out}
    return out


def _field(op: Operation, name: str, prop: dict[str, Any], required: bool,
           catalog: _Catalog) -> tuple[dict[str, Any], str]:
    """One Zapier input field and the type the app coerces its value to."""
    p = _unwrap(prop)
    jtype = p.get("type", "string")
    items = (p.get("items") or {}).get("type", "string") if jtype == "array" else None
    help_text = p.get("description") or _humanize(name)
    f: dict[str, Any] = {"key": name, "label": p.get("title") if p.get("title") not in (None, name)
                         else _humanize(name), "required": required}
    coerce = jtype
    enum = p.get("enum") or ([p["const"]] if "const" in p else None)
    spec_input = op.input(name)
    if enum and spec_input is not None and spec_input.enum:
        # the spec's order: the schema's can follow whichever model built the same Literal first
        enum = list(spec_input.enum)
    found_by = spec_input.found_by if spec_input is not None else None
    if found_by in catalog.searches and found_by != op.key and jtype == "string":
        f["search"] = f"{zapier_key(found_by)}.id"
    source = spec_input.choices_from if spec_input is not None else None
    choices = catalog.source(source)
    if enum:
        f["type"] = "string"
        f["choices"] = [{"value": _text(v), "label": _text(v), "sample": _text(v)} for v in enum]
        coerce = _enum_type(enum)
    elif choices and jtype in ("string", "array") and (items in (None, "string")):
        f["type"] = "string"
        f["dynamic"] = f"{dropdown_key(choices.name)}.id.name"
        if jtype == "array":
            f["list"] = True
            coerce = "array:string"
        f["dependsOn"] = [CONNECTION_FIELD] + ([source.parent] if source.parent else [])
        help_text += " Choose one, or map an ID from an earlier step."
    elif jtype == "array" and items in ("string", "integer", "number", "boolean"):
        f["type"] = items
        f["list"] = True
        coerce = f"array:{items}"
    elif jtype in ("array", "object"):
        f["type"] = "text"
        help_text += (" Enter a JSON array." if jtype == "array" else " Enter a JSON object.")
        coerce = "json"
    elif jtype == "string" and p.get("format") == "date-time":
        f["type"] = "datetime"
    elif jtype in ("integer", "number", "boolean"):
        f["type"] = jtype
    else:
        f["type"] = "string"
    f["helpText"] = _clip(help_text, HELP_MAX)
    default = p.get("default")
    if default is not None and _text(default) != "":
        f["default"] = _text(default)
    examples = p.get("examples") or []
    if examples and examples[0] is not None and "choices" not in f and "dynamic" not in f:
        example = _text(examples[0])
        # a long example is left out rather than cut: a cut JSON example is not valid JSON
        if example and f["type"] != "boolean" and len(example) <= PLACEHOLDER_MAX:
            f["placeholder"] = example
    return f, coerce


def _enum_type(enum: list[Any] | tuple[Any, ...]) -> str:
    kinds = {type(v) for v in enum}
    if kinds == {bool}:
        return "boolean"
    if kinds == {int}:
        return "integer"
    if kinds <= {int, float}:
        return "number"
    return "string"


def _connection_field(app: str) -> dict[str, Any]:
    return {"key": CONNECTION_FIELD, "label": f"{APP_NAMES[app]} Connection", "required": True,
            "type": "string", "dynamic": f"{connection_key(app)}.id.name",
            "helpText": f"The {APP_NAMES[app]} connection stored in the engine to use "
                        f"(add one with POST /v1/connections)."}


def _fields(op: Operation, catalog: _Catalog, *, hook: bool) -> tuple[list, dict[str, str]]:
    schema = input_schema(op)
    required = set(schema.get("required", ()))
    skip = _managed_params(op) if hook else set()
    fields: list[dict[str, Any]] = [_connection_field(op.app)]
    coerce: dict[str, str] = {}
    for name, prop in schema.get("properties", {}).items():
        if name in skip or name == EXTRA:
            continue
        if name in RESERVED:
            raise ZapierGenError(f"{op.key}: input {name!r} clashes with a field the Zapier app adds")
        f, kind = _field(op, name, prop, name in required, catalog)
        fields.append(f)
        if kind != "string":
            coerce[name] = kind
    if hook:
        fields.append({"key": INTERVAL_FIELD, "label": "Check Every (Minutes)", "type": "integer",
                       "required": False,
                       "default": str(op.trigger.default_interval_minutes),
                       "helpText": "How often the engine looks for new items, 1 to 15 minutes."})
    elif EXTRA in schema.get("properties", {}) and op.kind == "action":
        fields.append({"key": EXTRA_FIELD, "label": "Other Fields", "dict": True, "required": False,
                       "helpText": "Any other field the endpoint accepts, by its API name; sent "
                                   "in the JSON body as text (the engine's 'extra' input)."})
    return fields, coerce


def _sample(op: Operation) -> dict[str, Any]:
    if op.kind == "trigger":
        sample = dict(op.sample)
    else:
        main = _at(op.sample, op.output.path)
        sample = dict(main) if isinstance(main, dict) and main else dict(op.sample)
    # what the app returns for an empty answer (a DELETE's 204, an empty object)
    return sample or {"success": True, "upstream_status": 200}


def _instant(op: Operation) -> str:
    """The words that tell a person a trigger fires on pushed events, not only on polls."""
    if op.trigger is None or op.trigger.events is None:
        return ""
    pusher = "SMSGlobal" if op.app == "smsglobal" else "GoHighLevel"
    return f"Instant: fires within seconds when {pusher} pushes an event. "


def _custom_fields(op: Operation, catalog: _Catalog) -> dict[str, Any] | None:
    """The app's custom-field inputs of an action: from its body input with ``fields_from``
    whose trigger lists them in this catalog."""
    for spec_input in op.inputs:
        ref = spec_input.fields_from
        if ref is None or spec_input.location != "body" or spec_input.type != "array":
            continue
        choices = catalog.choices.get((ref.trigger, None))
        if choices is not None:
            return {"dropdown": choices.name, "model": ref.model, "input": spec_input.name}
    return None


def _entry(op: Operation, catalog: _Catalog, *, kind: str) -> dict[str, Any]:
    hook = kind == "trigger"
    fields, coerce = _fields(op, catalog, hook=hook)
    title = op.title
    label = _clip(title, LABEL_MAX)
    entry: dict[str, Any] = {
        "key": zapier_key(op.key), "operation": op.key, "app": op.app, "category": op.category,
        "noun": op.noun,
        "display": {"label": label, "description": _clip(_instant(op) + op.description,
                                                          DESCRIPTION_MAX)},
        "inputFields": fields, "coerce": coerce, "sample": _sample(op),
    }
    if op.kind == "trigger":
        entry["source"] = "trigger"
        entry["itemId"] = op.trigger.items.id_field
    else:
        entry["source"] = "action"
        entry["outputPath"] = op.output.path
        custom = _custom_fields(op, catalog)
        if custom is not None:
            entry["customFields"] = custom
            fields[0]["altersDynamicFields"] = True  # another connection, other custom fields
    return entry


def _search_or_create(ops: dict[str, Operation]) -> list[dict[str, Any]]:
    """"Find or Create" pairs: each search with ``create_with`` naming a create of ``ops``."""
    out = []
    for key in sorted(ops):
        search, create = ops[key], ops.get(ops[key].create_with or "")
        if not search.search or create is None or create.kind != "action" or create.search:
            continue
        noun = search.noun
        out.append({"key": zapier_key(key),
                    "display": {"label": _clip(f"Find or Create {noun}", LABEL_MAX),
                                "description": f"Finds a {noun.lower()}; creates one when none is "
                                               f"found."},
                    "search": zapier_key(key), "create": zapier_key(create.key)})
    return out


def _dropdowns(ops: dict[str, Operation], catalog: _Catalog) -> dict[str, dict[str, Any]]:
    """One hidden dropdown per list of choices a trigger declares, by the list's name; its
    ``parent`` is the input the operations using it name (one list serves one parent).

    :raises ZapierGenError: two inputs read one list of choices under different parents.
    """
    parents: dict[tuple[str, str | None], tuple[str | None, str]] = {}
    for key in sorted(ops):
        for spec_input in ops[key].inputs:
            ref = spec_input.choices_from
            if ref is None or catalog.source(ref) is None:
                continue
            seen = parents.setdefault((ref.trigger, ref.each), (ref.parent, key))
            if seen[0] != ref.parent:
                raise ZapierGenError(f"{key}: input {spec_input.name!r} reads the choices of "
                                     f"{ref.trigger} under parent {ref.parent!r}, {seen[1]} under "
                                     f"{seen[0]!r}: one dropdown has one parent")
    out = {}
    for (trigger, each), choices in sorted(catalog.choices.items(), key=lambda i: i[1].name):
        out[choices.name] = {
            "key": dropdown_key(choices.name), "trigger": trigger, "app": ops[trigger].app,
            "value": choices.value, "label": list(choices.label), "params": choices.params,
            "each": each, "parent": parents.get((trigger, each), (None, ""))[0],
            "noun": choices.noun, "fromConnection": choices.params_from_connection}
    return out


def build(ops: dict[str, Operation]) -> dict[str, Any]:
    """The app's definitions for every operation of ``ops`` (the registry by key): connections,
    dropdowns, triggers, creates, searches and search-or-creates, in the shape the app's
    ``lib/build.js`` reads.

    :raises ZapierGenError: a key Zapier cannot take, taken twice, an input clashing with a field
        the app adds, or one dropdown read under two parents.
    """
    catalog = _Catalog.of(ops)
    triggers, creates, searches = [], [], []
    for key in sorted(ops):
        op = ops[key]
        if op.kind == "trigger":
            triggers.append(_entry(op, catalog, kind="trigger"))
        if op.search:
            searches.append(_entry(op, catalog, kind="search"))
        elif op.kind == "action":
            creates.append(_entry(op, catalog, kind="create"))
    search_or_create = _search_or_create(ops)
    dropdowns = _dropdowns(ops, catalog)
    for group in (triggers, creates, searches):
        seen: set[str] = set()
        for entry in group:
            if entry["key"] in seen:
                raise ZapierGenError(f"{entry['operation']}: Zapier key {entry['key']} is taken")
            seen.add(entry["key"])
    return {
        "generatedBy": COMMAND,
        "apps": sorted({op.app for op in ops.values()}),
        "connections": {app: {"key": connection_key(app), "label": APP_NAMES[app]}
                        for app in sorted({op.app for op in ops.values()})},
        "dropdowns": dropdowns,
        "triggers": triggers,
        "creates": creates,
        "searches": searches,
        "searchOrCreates": search_or_create,
    }


def render(ops: dict[str, Operation]) -> str:
    """The Zapier app's definitions (:func:`build`) as JSON text, one-space indented, ending in a
    newline."""
    return json.dumps(build(ops), indent=1, ensure_ascii=False, sort_keys=False) + "\n"


def generate(app_dir: Path = APP_DIR, ops: dict[str, Operation] | None = None) -> Path:
    """Write the generated definitions into ``app_dir``; return the file written."""
    if ops is None:
        ops = registry()
    out = app_dir / OUTPUT
    out.parent.mkdir(parents=True, exist_ok=True)
    text = render(ops)
    if not out.exists() or out.read_text(encoding="utf-8") != text:
        out.write_text(text, encoding="utf-8")
    return out


def stale(app_dir: Path = APP_DIR, ops: dict[str, Operation] | None = None) -> bool:
    """Whether the committed definitions differ from what the catalog gives now."""
    if ops is None:
        ops = registry()
    out = app_dir / OUTPUT
    return not out.exists() or out.read_text(encoding="utf-8") != render(ops)
