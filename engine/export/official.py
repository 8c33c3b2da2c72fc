"""The long tail of the GHL catalog, generated from GHL's official OpenAPI v2 documents.

    ghl-engine catalog generate --from <folder of the official apps/*.json documents>
    ghl-engine catalog generate --from <folder> --check   # exit 1 when the committed files are stale

Run by developers when GHL publishes new documents, never at start-up. It writes two committed
data files:

- ``operations/official.json``: one spec per official operation that no curated spec of
  ``operations/`` already covers (same method and path), as facts only: key, category, title
  (the document's summary), method, path, ``Version`` header, scopes, inputs (location, name,
  type, required, enum, format, array item type, an example value built from the schema), the
  request body's encoding, the response's main object or list path and a sample answer. :mod:`operations.official`
  turns each record into an :class:`~engine.spec.model.Operation`, with help text of its own.
  An input named like an id a curated list trigger offers as choices, or a curated search finds
  (:data:`CHOICES_BY_NAME`, :data:`FOUND_BY_NAME`), gets ``choices_from`` or ``found_by`` in its
  record, so forms offer the same dropdowns and searches as for curated operations.
- ``sandbox/official_answers.json``: per (method, path) of every official operation, the success
  status and an answer body built from the document's response schema and examples, so the
  sandbox answers every operation in a clone that has no copy of the documents.

Both files start with a header naming the documents they came from (the commit in the folder's
``SOURCE.txt`` when there is one) and a hash of the documents' content. Output is sorted and
free of time stamps, so generating again from the same documents changes nothing.

Keys are ``<category>.<snake summary>``, the category being the document's name
(``social-media-posting.json`` → ``social_media_posting``). Two operations of one document with
the same summary take the snake form of their ``operationId`` instead. A generated key equal to a
curated key stops the generator with both names.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any, Iterable

ROOT = Path(__file__).resolve().parents[2]
SPECS_OUT = ROOT / "operations" / "official.json"
ANSWERS_OUT = ROOT / "sandbox" / "official_answers.json"
METHODS = ("get", "post", "put", "patch", "delete")
DEFAULT_VERSION = "2021-07-28"  # the documents leave the header out on a few operations
FORMATS = {"date-time", "date", "email", "uri"}
BODY_FORMATS = {"application/json": "json", "application/x-www-form-urlencoded": "form",
                "multipart/form-data": "multipart"}
MAX_DEPTH = 6


# GHL names an id alike across its documents: an input of one of these names, of a type that
# holds ids, takes its choices from the curated list trigger named here (when the curated specs
# have it and it declares those choices) ...
USERS = {"trigger": "users.list_users_by_location"}
CALENDARS = {"trigger": "calendars.list_calendars"}
CHOICES_BY_NAME: dict[str, dict[str, str]] = {
    "calendarId": CALENDARS,
    "calendarIds": CALENDARS,
    "groupId": {"trigger": "calendars.list_calendar_groups"},
    "pipelineId": {"trigger": "opportunities.list_pipelines"},
    "pipelineStageId": {"trigger": "opportunities.list_pipelines", "each": "stages",
                        "parent": "pipelineId"},
    "assignedTo": USERS,
    "assignedUserId": USERS,
    "userId": USERS,
    "userIds": USERS,
    "customFieldId": {"trigger": "other.list_custom_fields"},
    "workflowId": {"trigger": "workflows.list_workflows"},
    "campaignId": {"trigger": "workflows.list_campaigns"},
    "businessId": {"trigger": "businesses.list_businesses_by_location"},
    "blogId": {"trigger": "other.get_blogs_by_location"},
}
# ... and a string input of one of these names is found by the curated search named here
FOUND_BY_NAME: dict[str, str] = {"contactId": "contacts.find_contact"}


class CatalogError(Exception):
    """The documents cannot be turned into a catalog (a key collision, an unreadable file)."""


# ----------------------------------------------------------------------------- schemas


class Resolver:
    """Inlines ``$ref`` pointers, local (``#/components/...``) and to the common document."""

    def __init__(self, doc: dict[str, Any], common: dict[str, Any]) -> None:
        self.doc = doc
        self.common = common

    def ref(self, ref: str) -> dict[str, Any]:
        """The schema a ``$ref`` string points to (``#/components/...`` in this document, or
        ``file.json#/...`` in the common one); ``{}`` when the pointer leads nowhere."""
        where, _, pointer = ref.partition("#")
        node: Any = self.common if where else self.doc
        for part in pointer.strip("/").split("/"):
            node = node.get(part, {}) if isinstance(node, dict) else {}
        return node if isinstance(node, dict) else {}

    def resolve(self, schema: Any, depth: int = 0, seen: tuple[str, ...] = ()) -> dict[str, Any]:
        """``schema`` with references inlined to ``MAX_DEPTH`` levels; ``allOf`` merged; an enum
        given as one list inside the list read as that list of choices."""
        if not isinstance(schema, dict):
            return {}
        if "$ref" in schema:
            ref = schema["$ref"]
            if ref in seen or depth > MAX_DEPTH:
                return {"type": "object"}
            return self.resolve(self.ref(ref), depth + 1, seen + (ref,))
        out = dict(schema)
        if "allOf" in out:
            merged: dict[str, Any] = {"type": "object", "properties": {}, "required": []}
            for part in out.pop("allOf"):
                part = self.resolve(part, depth + 1, seen)
                merged["properties"].update(part.get("properties", {}))
                merged["required"] += part.get("required", [])
                for name in ("type", "enum", "format", "example", "items"):
                    if name in part:
                        merged[name] = part[name]
            out = {**merged, **out}
        for name in ("oneOf", "anyOf"):
            if name in out:
                out[name] = [self.resolve(s, depth + 1, seen) for s in out[name]]
        enum = out.get("enum")
        if isinstance(enum, list) and len(enum) == 1 and isinstance(enum[0], list):
            # a defect of some documents: the choices as one list inside the enum, under a
            # type that does not fit them ("type": "number", "enum": [["US", "CA", ...]])
            out["enum"] = enum[0]
            out["type"] = json_type({"enum": enum[0]})
        if "properties" in out:
            out["properties"] = {k: self.resolve(v, depth + 1, seen)
                                 for k, v in out["properties"].items()}
        if "items" in out:
            out["items"] = self.resolve(out["items"], depth + 1, seen)
        if isinstance(out.get("additionalProperties"), dict):
            out["additionalProperties"] = self.resolve(out["additionalProperties"], depth + 1, seen)
        return out


def json_type(schema: dict[str, Any]) -> str:
    """The input type of a schema: one of string, integer, number, boolean, array, object."""
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind in ("string", "integer", "number", "boolean", "array", "object"):
        return kind
    if "properties" in schema or "additionalProperties" in schema:
        return "object"
    if "items" in schema:
        return "array"
    for name in ("oneOf", "anyOf"):
        if schema.get(name):
            return json_type(schema[name][0])
    if schema.get("enum"):
        return {bool: "boolean", int: "integer", float: "number"}.get(type(schema["enum"][0]), "string")
    return "string"


_EXAMPLE_TYPES = {"string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,),
                  "array": (list,), "object": (dict,)}


def _fits(value: Any, kind: str) -> bool:
    if isinstance(value, bool) and kind in ("integer", "number"):
        return False
    return isinstance(value, _EXAMPLE_TYPES[kind])


SCALAR_EXAMPLES = {"date-time": "2026-01-15T10:30:00.000Z", "date": "2026-01-15",
                   "email": "person@example.com", "uri": "https://example.com/",
                   "url": "https://example.com/"}


def example(schema: dict[str, Any], name: str = "", depth: int = 0) -> Any:
    """A value valid for ``schema``: the document's example where it has the right type, else one
    made from the type, enum and format (objects with every property, arrays of one item)."""
    for name_ in ("oneOf", "anyOf"):
        if schema.get(name_) and not schema.get("properties"):
            return example(schema[name_][0], name, depth + 1)
    kind = json_type(schema)
    given = schema.get("example", schema.get("default"))
    if schema.get("enum"):
        return given if given in schema["enum"] else schema["enum"][0]
    if kind in ("string", "integer", "number", "boolean") and given not in (None, "") \
            and _fits(given, kind):
        return given
    if kind == "string":
        fmt = schema.get("format")
        if fmt in SCALAR_EXAMPLES:
            return SCALAR_EXAMPLES[fmt]
        if fmt == "binary":
            return "file content"
        low = name.lower()
        if low.endswith("email"):
            return "person@example.com"
        if low.endswith("phone"):
            return "+14155550123"
        if low.endswith("url") or low.endswith("uri"):
            return "https://example.com/"
        return f"example-{name}" if name else "example"
    if kind == "integer":
        return max(int(schema.get("minimum", 1)), 1)
    if kind == "number":
        return max(schema.get("minimum", 1), 1)
    if kind == "boolean":
        return True
    if depth >= MAX_DEPTH:
        return [] if kind == "array" else {}
    if kind == "array":
        items = schema.get("items") or {}
        count = max(int(schema.get("minItems", 1)), 1)
        return [example(items, name, depth + 1) for _ in range(count)]
    if isinstance(given, dict) and not schema.get("properties"):
        return given
    props = schema.get("properties") or {}
    return {key: example(value, key, depth + 1) for key, value in props.items()}


# ----------------------------------------------------------------------------- names


def snake(text: str) -> str:
    """``Get Contact's Notes`` → ``get_contacts_notes``; ``getAllNotes`` → ``get_all_notes``."""
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text.replace("'", ""))
    words = re.findall(r"[A-Za-z0-9]+", text)
    out = "_".join(w.lower() for w in words)
    return out if out and out[0].isalpha() else "op_" + out


def category_of(document: Path) -> str:
    """The catalog category of an official document: its file name in snake_case
    (``custom-fields.json`` -> ``custom_fields``)."""
    return snake(document.stem)


# ----------------------------------------------------------------------------- one operation


def _scopes(op: dict[str, Any], doc: dict[str, Any], listed: set[str] | None) -> list[str]:
    """The scopes the operation's security requirement names; where it names none, the ones
    the documents' scope table (docs/oauth/Scopes.md) lists for the endpoint."""
    security = op.get("security", doc.get("security")) or []
    named = {scope for entry in security for scopes in entry.values() for scope in scopes}
    return sorted(named or listed or ())


def _shape(path: str) -> str:
    """A path with every parameter as {} and no slash at either end (``:id`` = ``{id}``)."""
    return re.sub(r"\{[^}]+\}|:[A-Za-z_]+", "{}", path).strip("/")


def scope_table(folder: Path) -> dict[tuple[str, str], set[str]]:
    """(METHOD, path shape) → scopes, from the table of docs/oauth/Scopes.md beside the
    documents (empty when it is not there)."""
    table: dict[tuple[str, str], set[str]] = {}
    source = folder.parent / "docs" / "oauth" / "Scopes.md"
    if not source.exists():
        return table
    scope = None
    for line in source.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 2:
            continue
        if cells[0] and cells[0] != "&nbsp;" and not set(cells[0]) <= set("-:"):
            scope = cells[0]
        match = re.match(r"^(GET|POST|PUT|PATCH|DELETE)\s+(\S+)$", cells[1])
        if scope and match:
            table.setdefault((match.group(1), _shape(match.group(2))), set()).add(scope)
    return table


def _input(name: str, location: str, schema: dict[str, Any], required: bool) -> dict[str, Any]:
    kind = json_type(schema)
    record: dict[str, Any] = {"name": name, "in": location, "type": kind}
    if required or location == "path":
        record["required"] = True
    enum = schema.get("enum") or (schema.get("items") or {}).get("enum")
    if enum and kind != "array" and all(isinstance(v, (str, int, float, bool)) for v in enum):
        record["enum"] = list(dict.fromkeys(enum))
    if kind == "array":
        record["items"] = json_type(schema.get("items") or {})
    fmt = schema.get("format")
    if fmt in FORMATS and kind == "string":
        record["format"] = fmt
    if fmt == "binary":
        record["binary"] = True
    record["example"] = example(schema, name)
    if "enum" in record and record["example"] not in record["enum"]:
        record["example"] = record["enum"][0]
    return record


def _main_path(schema: dict[str, Any]) -> tuple[str, str | None]:
    """("list" | "object", dotted path) of the response's main list or object, or ("", None)."""
    if json_type(schema) == "array":
        return "list", "$"
    props = schema.get("properties") or {}
    lists = [k for k, v in props.items() if json_type(v) == "array"
             and json_type(v.get("items") or {}) == "object"]
    objects = [k for k, v in props.items() if json_type(v) == "object" and v.get("properties")]
    if len(lists) == 1:
        return "list", lists[0]
    if len(objects) == 1 and not lists:
        return "object", objects[0]
    return "", None


def operation(document: Path, doc: dict[str, Any], resolver: Resolver, path: str, method: str,
              op: dict[str, Any], shared: Iterable[dict[str, Any]],
              scopes: dict[tuple[str, str], set[str]]) -> tuple[dict, dict]:
    """(spec record, sandbox answer record) of one official operation."""
    version = DEFAULT_VERSION
    inputs: list[dict[str, Any]] = []
    seen: set[str] = set()
    for param in [*shared, *op.get("parameters", [])]:
        if "$ref" in param:
            param = resolver.ref(param["$ref"])
        if param.get("in") == "header":
            enum = (param.get("schema") or {}).get("enum")
            if param.get("name", "").lower() == "version" and enum:
                version = enum[0]
            continue
        if param.get("in") not in ("path", "query") or param["name"] in seen:
            continue
        seen.add(param["name"])
        schema = resolver.resolve(param.get("schema") or {})
        inputs.append(_input(param["name"], param["in"], schema, bool(param.get("required"))))
    for name in re.findall(r"\{([A-Za-z_][A-Za-z0-9_]*)\}", path):
        if name not in seen:  # a path parameter the document forgot to declare
            seen.add(name)
            inputs.append(_input(name, "path", {"type": "string"}, True))
    body_format = None
    body_array = None
    content = (op.get("requestBody") or {}).get("content") or {}
    for media, fmt in BODY_FORMATS.items():
        if media in content:
            body_format = fmt
            schema = resolver.resolve(content[media].get("schema") or {})
            if json_type(schema) == "array":
                body_array = "body"
                inputs.append({**_input("body", "body", schema, True)})
                break
            required = set(schema.get("required") or [])
            for name, prop in sorted((schema.get("properties") or {}).items()):
                if name in seen:
                    continue  # the same name in the path or query: that one is sent
                seen.add(name)
                inputs.append(_input(name, "body", prop, name in required))
            break
    codes = sorted(c for c in op.get("responses", {}) if c.startswith("2"))
    status = int(codes[0]) if codes else 200
    answer_schema: dict[str, Any] = {}
    if codes:
        response = op["responses"][codes[0]]
        if "$ref" in response:
            response = resolver.ref(response["$ref"])
        media = (response.get("content") or {}).get("application/json") or {}
        answer_schema = resolver.resolve(media.get("schema") or {})
        if "example" in media and isinstance(media["example"], (dict, list)):
            answer_schema = {**answer_schema, "example": media["example"]}
    kind, main = _main_path(answer_schema)
    spec: dict[str, Any] = {
        "key": None, "category": category_of(document), "title": (op.get("summary") or "").strip(),
        "operation_id": op.get("operationId") or "", "method": method.upper(), "path": path,
        "version": version, "inputs": inputs,
        "scopes": _scopes(op, doc, scopes.get((method.upper(), _shape(path)))),
    }
    if op.get("deprecated"):
        spec["deprecated"] = True
    if body_format and body_format != "json":
        spec["body_format"] = body_format
    if body_array:
        spec["body_input"] = body_array
    if body_format and method.upper() in ("GET", "DELETE"):
        spec["json_body"] = True  # the document gives this GET or DELETE a request body
    if kind:
        spec["result"] = {"kind": kind, "path": main}
    answer = {"status": status, "body": example(answer_schema) if answer_schema else {}}
    if isinstance(answer["body"], dict) and answer["body"]:
        spec["sample"] = answer["body"]
    return spec, answer


# ----------------------------------------------------------------------------- the catalog


def _source(folder: Path) -> str:
    for candidate in (folder / "SOURCE.txt", folder.parent / "SOURCE.txt"):
        if candidate.exists():
            line = candidate.read_text().splitlines()[0]
            match = re.search(r"([^\s]+) at commit ([0-9a-f]{40})", line)
            if match:
                return f"{match.group(1)}@{match.group(2)}"
    return "unknown commit"


def read_documents(folder: Path) -> list[tuple[Path, dict[str, Any]]]:
    """Every ``*.json`` document of ``folder`` as (path, parsed JSON), sorted by path; raises
    CatalogError when there is none and JSONDecodeError on a malformed one."""
    files = sorted(p for p in folder.glob("*.json"))
    if not files:
        raise CatalogError(f"no *.json documents in {folder}")
    return [(p, json.loads(p.read_text())) for p in files]


def _common(folder: Path) -> dict[str, Any]:
    for candidate in (folder.parent / "common" / "common-schemas.json",
                      folder / "common" / "common-schemas.json"):
        if candidate.exists():
            return json.loads(candidate.read_text())
    return {}


def official_operations(folder: Path) -> list[tuple[Path, dict, dict]]:
    """Every official operation of the documents in ``folder``: (document, spec, answer)."""
    common = _common(folder)
    scopes = scope_table(folder)
    out = []
    for document, doc in read_documents(folder):
        resolver = Resolver(doc, common)
        for path, item in sorted(doc.get("paths", {}).items()):
            shared = item.get("parameters", [])
            for method in METHODS:
                if method in item:
                    spec, answer = operation(document, doc, resolver, path, method, item[method], shared,
                                             scopes)
                    out.append((document, spec, answer))
    return out


def _offers_choices(curated: dict[str, Any], trigger: str, each: str | None) -> bool:
    source = curated.get(trigger)
    return source is not None and source.trigger is not None and any(
        c.each == each for c in source.trigger.choices)


def add_references(spec: dict[str, Any], curated: dict[str, Any]) -> None:
    """Write ``choices_from`` and ``found_by`` into the input records of ``spec`` whose name
    :data:`CHOICES_BY_NAME` or :data:`FOUND_BY_NAME` lists, where the type holds ids (a string
    without an enum, or an array of strings) and the curated specs serve the reference."""
    names = {record["name"] for record in spec["inputs"]}
    for record in spec["inputs"]:
        name, kind = record["name"], record["type"]
        source = CHOICES_BY_NAME.get(name)
        ids = (kind == "string" and "enum" not in record) or (
            kind == "array" and record.get("items") == "string")
        if source and ids and _offers_choices(curated, source["trigger"], source.get("each")):
            ref = dict(source)
            if ref.get("parent") not in names:
                ref.pop("parent", None)
            record["choices_from"] = ref
        search = FOUND_BY_NAME.get(name)
        if search and kind == "string" and search in curated and curated[search].search:
            record["found_by"] = search


def pair(method: str, path: str) -> tuple[str, str]:
    """The (method, path) of an endpoint, trailing slash aside (``/contacts/`` = ``/contacts``)."""
    return method.upper(), "/" + path.strip("/")


def generate(folder: Path, curated: dict[str, Any]) -> tuple[str, str]:
    """The text of ``operations/official.json`` and ``sandbox/official_answers.json``.

    :param curated: the curated specs by key (GHL ones are matched by method and path).
    :raises CatalogError: a generated key equals a curated one, or no documents were found.
    """
    ops = official_operations(folder)
    digest = hashlib.sha256()
    scopes_md = folder.parent / "docs" / "oauth" / "Scopes.md"
    for document in [*sorted(folder.glob("*.json")), scopes_md]:
        if document.exists():
            digest.update(document.name.encode() + b"\0" + document.read_bytes())
    covered = {pair(o.upstream.method, o.upstream.path): key
               for key, o in curated.items() if o.app == "ghl"}
    names: dict[tuple[str, str], int] = {}
    for _, spec, _ in ops:
        name = (spec["category"], snake(spec["title"] or spec["operation_id"]))
        names[name] = names.get(name, 0) + 1
    specs, answers, problems = [], {}, []
    taken: dict[str, str] = {}
    for document, spec, answer in ops:
        endpoint = pair(spec["method"], spec["path"])
        answers[f"{endpoint[0]} {endpoint[1]}"] = answer
        if endpoint in covered:
            continue
        name = snake(spec["title"] or spec["operation_id"])
        if names[(spec["category"], name)] > 1:
            name = snake(spec["operation_id"] or f"{spec['method']}_{spec['path']}")
        key = f"{spec['category']}.{name}"
        where = f"{spec['method']} {spec['path']} ({document.name})"
        if key in curated:
            problems.append(f"generated key {key} for {where} collides with curated spec {key} "
                            f"({curated[key].upstream.method} {curated[key].upstream.path})")
        elif key in taken:
            problems.append(f"generated key {key} for {where} is also made for {taken[key]}")
        taken[key] = where
        spec["key"] = key
        add_references(spec, curated)
        specs.append(spec)
    if problems:
        raise CatalogError("cannot generate the catalog:\n  " + "\n  ".join(problems))
    header = {"source": _source(folder), "documents_sha256": digest.hexdigest(),
              "command": "ghl-engine catalog generate --from <official apps folder>",
              "note": "generated data: do not edit by hand"}
    specs.sort(key=lambda s: s["key"])
    spec_lines = [json.dumps({"header": {**header, "operations": len(specs)}}, sort_keys=True)]
    spec_lines += [json.dumps(s, sort_keys=True, ensure_ascii=False) for s in specs]
    answer_lines = [json.dumps({"header": {**header, "operations": len(answers)}}, sort_keys=True)]
    answer_lines += [json.dumps({"endpoint": k, **answers[k]}, sort_keys=True, ensure_ascii=False)
                     for k in sorted(answers)]
    return "\n".join(spec_lines) + "\n", "\n".join(answer_lines) + "\n"


def run(folder: Path, check: bool = False) -> int:
    """Write (or with ``check`` compare) the two generated files; 0 when up to date or written."""
    from engine.spec.registry import curated

    specs_text, answers_text = generate(folder, curated())
    stale = [p for p, text in ((SPECS_OUT, specs_text), (ANSWERS_OUT, answers_text))
             if not p.exists() or p.read_text() != text]
    if check:
        for p in stale:
            print(f"{p.relative_to(ROOT)} is stale: run ghl-engine catalog generate --from "
                  f"{folder}", file=sys.stderr)
        return 1 if stale else 0
    SPECS_OUT.write_text(specs_text)
    ANSWERS_OUT.write_text(answers_text)
    print(f"wrote {SPECS_OUT.relative_to(ROOT)} ({specs_text.count(chr(10)) - 1} operations) and "
          f"{ANSWERS_OUT.relative_to(ROOT)}")
    return 0
