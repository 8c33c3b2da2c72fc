"""Every GHL spec agrees with GHL's official OpenAPI documents.

For each GHL operation in the registry: its method and path exist in a document; the path
parameters the document declares are the template's; every query and body field the document
requires is declared as an input at that location (request bodies resolved through ``$ref`` and
``allOf``); no query or body input is one the document does not know; the Version value is one
the document allows; the scopes are the ones the document's security requirement names (or,
where it names none, the ones the scope table in docs/oauth/Scopes.md lists for the endpoint).

The documents have a few gaps and quirks. Each one is listed by endpoint, with what we do about
it, in tests/data/ghl_document_quirks.yaml, and each entry is checked to still be true, so a
fixed document shows up as a stale entry instead of hiding a new problem. Nothing else is
exempt.

The documents are not part of this project: without them every check here skips in a user's
clone, and fails in CI (CI=true), where they must be present.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.accounts.connections import Connection
from engine.actions.executor import build_call
from engine.spec.model import Operation
from engine.spec.registry import curated, registry
from tests.conftest import reference_missing

# the curated specs; the ones generated from the documents follow the generator's rules and are
# checked against the documents by tests/test_official_catalog.py
GHL = sorted(key for key, op in curated().items() if op.app == "ghl")
METHODS = ("get", "post", "put", "patch", "delete")

# ----------------------------------------------------------------------------- known quirks

QUIRKS_FILE = Path(__file__).parent / "data" / "ghl_document_quirks.yaml"


@lru_cache(maxsize=1)
def _quirks() -> dict[str, list[dict[str, Any]]]:
    """The lists of known quirks in ``QUIRKS_FILE``, by name."""
    return yaml.safe_load(QUIRKS_FILE.read_text())


def _by_endpoint(name: str, value) -> dict[tuple[str, str], Any]:
    """(METHOD, path) -> ``value(entry)`` for each entry of the list ``name``."""
    return {(q["method"], q["path"]): value(q) for q in _quirks()[name]}


# path parameters in the template that the document's parameter list forgets to declare
UNDECLARED_PATH_PARAMS: dict[tuple[str, str], set[str]] = _by_endpoint(
    "undeclared_path_params", lambda q: set(q["params"]))
# path parameters the document declares but marks optional (the spec requires them)
OPTIONAL_PATH_PARAMS: dict[tuple[str, str], set[str]] = _by_endpoint(
    "optional_path_params", lambda q: set(q["params"]))
# operations whose document declares no Version header: the value used, and why
NO_VERSION_DECLARED: dict[tuple[str, str], tuple[str, str]] = _by_endpoint(
    "no_version_declared", lambda q: (q["version"], q["reason"]))
# operations with no documented scopes: the scope sets a spec may declare, and why
NO_SCOPES_DECLARED: dict[tuple[str, str], tuple[set[tuple[str, ...]], str]] = _by_endpoint(
    "no_scopes_declared", lambda q: ({tuple(s) for s in q["scope_sets"]}, q["reason"]))
# request bodies the document leaves without properties: why the spec's inputs are what they are
UNDOCUMENTED_BODY_FIELDS: dict[tuple[str, str], str] = _by_endpoint(
    "undocumented_body_fields", lambda q: q["reason"])
# inputs GHL takes although the document's body schema leaves them out, and why
UNDOCUMENTED_INPUTS: dict[tuple[str, str], tuple[set[str], str]] = _by_endpoint(
    "undocumented_inputs", lambda q: (set(q["fields"]), q["reason"]))
# body fields whose document type differs from the spec's: (document type, spec type, why)
BODY_TYPE_QUIRKS: dict[tuple[str, str, str], tuple[str, str, str]] = {
    (q["method"], q["path"], q["field"]): (q["document_type"], q["spec_type"], q["reason"])
    for q in _quirks()["body_type_quirks"]}
# body fields the document marks required that the spec leaves optional, and why
OPTIONAL_BODY_FIELDS: dict[tuple[str, str], tuple[set[str], str]] = _by_endpoint(
    "optional_body_fields", lambda q: (set(q["fields"]), q["reason"]))
# endpoints two operations share, on purpose
SHARED_ENDPOINTS: dict[tuple[str, str], set[str]] = _by_endpoint(
    "shared_endpoints", lambda q: set(q["operations"]))

# ----------------------------------------------------------------------------- documents


@lru_cache(maxsize=1)
def _documents(apps: Path) -> dict[tuple[str, str], tuple[str, dict, dict]]:
    """(METHOD, path) -> (file name, operation, whole document), over apps/*.json."""
    index = {}
    for file in sorted(apps.glob("*.json")):
        doc = json.loads(file.read_text())
        for path, item in doc.get("paths", {}).items():
            for method, operation in item.items():
                if method in METHODS:
                    index[(method.upper(), path)] = (file.name, operation, doc)
    return index


@lru_cache(maxsize=1)
def _scope_table(scopes_md: Path) -> dict[tuple[str, str], set[str]]:
    """(METHOD, normalized path) -> scopes, from the table in Scopes.md."""
    table: dict[tuple[str, str], set[str]] = {}
    scope = None
    for line in scopes_md.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 2 or set(cells[0]) <= set("-:") and cells[0]:
            continue
        if cells[0] and cells[0] != "&nbsp;":
            scope = cells[0]
        m = re.match(r"^(GET|POST|PUT|PATCH|DELETE)\s+(\S+)$", cells[1])
        if scope and m:
            table.setdefault((m.group(1), _norm(m.group(2))), set()).add(scope)
    return table


def _norm(path: str) -> str:
    """A path with every parameter as {} and no leading or trailing slash."""
    path = re.sub(r"\{[^}]+\}|:[A-Za-z_]+", "{}", path)
    return path.strip("/")


def _deref(doc: dict, node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/"), f"external $ref {ref} not supported"
        target: Any = doc
        for part in ref[2:].split("/"):
            target = target[part]
        node = target
    return node


def _object(doc: dict, schema: Any) -> tuple[dict[str, Any], set[str]]:
    """(properties, required) of a body schema, through $ref and allOf."""
    schema = _deref(doc, schema) or {}
    props: dict[str, Any] = dict(schema.get("properties") or {})
    required: set[str] = set(schema.get("required") or [])
    for part in schema.get("allOf") or []:
        more_props, more_required = _object(doc, part)
        props.update(more_props)
        required |= more_required
    return props, required


def _params(doc: dict, operation: dict, where: str) -> dict[str, dict]:
    out = {}
    for param in operation.get("parameters") or []:
        param = _deref(doc, param)
        if param.get("in") == where:
            out[param["name"]] = param
    return out


@pytest.fixture
def documents(shared_reference) -> dict[tuple[str, str], tuple[str, dict, dict]]:
    apps = shared_reference / "ghl-openapi" / "apps"
    if not apps.is_dir():
        reference_missing(f"the official GHL OpenAPI documents ({apps.name}/)")
    return _documents(apps)


@pytest.fixture
def scope_table(shared_reference) -> dict[tuple[str, str], set[str]]:
    scopes_md = shared_reference / "ghl-openapi" / "docs" / "oauth" / "Scopes.md"
    if not scopes_md.is_file():
        reference_missing(f"the official scope table ({scopes_md.name})")
    return _scope_table(scopes_md)


# ----------------------------------------------------------------------------- the checks


def _problems(op: Operation, documents, scope_table) -> list[str]:
    endpoint = (op.upstream.method, op.upstream.path)
    if endpoint not in documents:
        near = [f"{m} {p}" for (m, p) in documents if _norm(p) == _norm(op.upstream.path)]
        return [f"{op.upstream.method} {op.upstream.path} is in no official document"
                + (f" (same path with another method or spelling: {near})" if near else "")]
    file, operation, doc = documents[endpoint]
    problems: list[str] = []

    # path parameters
    template = set(op.upstream.path_params)
    declared_path = _params(doc, operation, "path")
    missing = template - set(declared_path)
    expected_missing = UNDECLARED_PATH_PARAMS.get(endpoint, set())
    if missing != expected_missing:
        problems.append(f"{file}: path parameters the document does not declare: "
                        f"{sorted(missing)}; listed as known: {sorted(expected_missing)}")
    if set(declared_path) - template:
        problems.append(f"{file}: the document declares path parameters "
                        f"{sorted(set(declared_path) - template)} the template lacks")
    optional = {n for n, p in declared_path.items() if not p.get("required")}
    if optional != OPTIONAL_PATH_PARAMS.get(endpoint, set()):
        problems.append(f"{file}: path parameters marked optional: {sorted(optional)}; listed "
                        f"as known: {sorted(OPTIONAL_PATH_PARAMS.get(endpoint, set()))}")

    # query parameters: every required one declared, none unknown to the document
    query = _params(doc, operation, "query")
    inputs_q = {i.name for i in op.inputs_at("query")}
    for name, param in query.items():
        if param.get("required") and name not in inputs_q:
            problems.append(f"{file}: required query parameter {name!r} has no query input")
    for name in sorted(inputs_q - set(query)):
        problems.append(f"input {name!r} (query) is not a query parameter of {file}")

    # request body: every required field declared, none unknown to the document
    inputs_b = {i.name for i in op.inputs_at("body")}
    content = (_deref(doc, operation.get("requestBody")) or {}).get("content") or {}
    schema = _deref(doc, (content.get("application/json") or {}).get("schema"))
    if schema and schema.get("type") == "array":
        body_input = op.input(op.upstream.body_input or "")
        if body_input is None or body_input.type != "array":
            problems.append(f"{file}: the body is a JSON array; the spec needs an array input "
                            "named by upstream.body_input")
    elif schema is not None:
        props, required = _object(doc, schema)
        for name in sorted(required - inputs_b):
            problems.append(f"{file}: required body field {name!r} has no body input")
        optional_ok, _ = OPTIONAL_BODY_FIELDS.get(endpoint, (set(), ""))
        for name in sorted(required & inputs_b):
            field = op.input(name)
            if not field.required and field.fill is None and name not in optional_ok:
                problems.append(f"{file}: body field {name!r} is required by the document; "
                                "the spec leaves it optional")
        if _sent_body(op) is None:
            problems.append(f"{file}: the document defines a JSON body; the request sends none "
                            "(set upstream.json_body)")
        for name in sorted(inputs_b & set(props)):
            ours, theirs = op.input(name).type, _deref(doc, props[name]).get("type")
            quirk = BODY_TYPE_QUIRKS.get((*endpoint, name))
            if theirs and theirs != ours and not (theirs == "number" and ours == "integer"):
                if quirk is None or quirk[:2] != (theirs, ours):
                    problems.append(f"{file}: body field {name!r} is {theirs} in the document; "
                                    f"the spec's input is {ours}")
            elif quirk is not None:
                problems.append(f"stale BODY_TYPE_QUIRKS entry for {name!r}: the types agree")
        if endpoint in UNDOCUMENTED_BODY_FIELDS:
            if props:
                problems.append(f"{file}: the body schema now has properties: drop the "
                                "UNDOCUMENTED_BODY_FIELDS entry and check the inputs against it")
        else:
            known, _ = UNDOCUMENTED_INPUTS.get(endpoint, (set(), ""))
            for name in sorted(inputs_b - set(props) - known):
                problems.append(f"input {name!r} (body) is not a field of the body in {file}")
            if known & set(props) or known - inputs_b:
                problems.append(f"stale UNDOCUMENTED_INPUTS entry: {sorted(known & set(props))} "
                                f"are now documented, {sorted(known - inputs_b)} are not inputs")
    elif inputs_b and op.upstream.method in ("GET", "DELETE"):
        problems.append(f"{file}: the document takes no body, yet the spec has body inputs "
                        f"{sorted(inputs_b)}")

    # Version header
    version = _params(doc, operation, "header").get("Version")
    if version is None:
        known = NO_VERSION_DECLARED.get(endpoint)
        if known is None:
            problems.append(f"{file}: the document declares no Version header; list the "
                            "endpoint in NO_VERSION_DECLARED with the value used and why")
        elif op.upstream.version != known[0]:
            problems.append(f"Version {op.upstream.version!r}, expected {known[0]!r}: {known[1]}")
    else:
        allowed = (version.get("schema") or {}).get("enum") or []
        if endpoint in NO_VERSION_DECLARED:
            problems.append(f"{file} now declares the Version header: drop the "
                            "NO_VERSION_DECLARED entry")
        if allowed and op.upstream.version not in allowed:
            problems.append(f"Version {op.upstream.version!r} is not allowed by {file}: {allowed}")

    # scopes
    declared = {s for req in operation.get("security") or [] for v in req.values() for s in v}
    ours = set(op.upstream.scopes)
    listed = scope_table.get((op.upstream.method, _norm(op.upstream.path)))
    if declared:
        if ours != declared:
            problems.append(f"scopes {sorted(ours)}; {file} requires {sorted(declared)}")
        if endpoint in NO_SCOPES_DECLARED:
            problems.append(f"{file} now declares scopes: drop the NO_SCOPES_DECLARED entry")
    elif listed:
        if ours != listed:
            problems.append(f"scopes {sorted(ours)}; {file} names none and Scopes.md lists "
                            f"{sorted(listed)} for this endpoint")
    else:
        known_scopes = NO_SCOPES_DECLARED.get(endpoint)
        if known_scopes is None:
            problems.append(f"neither {file} nor Scopes.md names the scopes of this endpoint; "
                            "list it in NO_SCOPES_DECLARED with the scopes used and why")
        elif tuple(sorted(ours)) not in {tuple(sorted(s)) for s in known_scopes[0]}:
            problems.append(f"scopes {sorted(ours)}, expected one of {known_scopes[0]}: "
                            f"{known_scopes[1]}")
    return problems


def _sent_body(op: Operation) -> Any:
    """The JSON body the engine sends for ``op`` given only its required inputs."""
    conn = Connection(id="conn_x", tenant="t", app="ghl", name="x", auth="token",
                      location_id="loc_x", company_id="cmp_x")
    values = {i.name: i.example if i.example is not None else "x"
              for i in op.inputs if i.required and i.fill is None}
    return build_call(op, values, conn).body


@pytest.mark.parametrize("key", GHL)
def test_spec_conforms_to_the_official_document(key, documents, scope_table):
    problems = _problems(registry()[key], documents, scope_table)
    if problems:
        pytest.fail(f"{key} disagrees with the official document:\n  " + "\n  ".join(problems),
                    pytrace=False)


def _finds_by_id(op: Operation, keys: set[str]) -> bool:
    """Whether ``op`` is the search action of a single-object trigger among ``keys``: the same
    request and inputs (a `find_by_id` entry of a spec file)."""
    return op.kind == "action" and op.search and any(
        other.trigger is not None and other.trigger.items.single
        and other.upstream == op.upstream and other.inputs == op.inputs
        for other in (registry()[k] for k in keys))


def test_no_two_operations_share_an_endpoint_unless_listed():
    users: dict[tuple[str, str], set[str]] = {}
    for key in GHL:
        op = registry()[key]
        users.setdefault((op.upstream.method, op.upstream.path), set()).add(key)
    for keys in users.values():  # a search reading the one object a trigger watches
        keys -= {k for k in set(keys) if _finds_by_id(registry()[k], keys)}
    shared = {endpoint: keys for endpoint, keys in users.items() if len(keys) > 1}
    for endpoint, keys in shared.items():
        assert SHARED_ENDPOINTS.get(endpoint) == keys, (
            f"{' '.join(endpoint)} is used by {sorted(keys)}: one endpoint, one operation, "
            "unless listed in SHARED_ENDPOINTS with a reason")


def test_every_listed_quirk_names_a_documented_endpoint(documents):
    lists = (UNDECLARED_PATH_PARAMS, OPTIONAL_PATH_PARAMS, NO_VERSION_DECLARED,
             NO_SCOPES_DECLARED, UNDOCUMENTED_BODY_FIELDS, UNDOCUMENTED_INPUTS, SHARED_ENDPOINTS,
             OPTIONAL_BODY_FIELDS, {(m, p): None for (m, p, _) in BODY_TYPE_QUIRKS})
    unknown = [f"{m} {p}" for entries in lists for (m, p) in entries if (m, p) not in documents]
    assert not unknown, f"quirks listed for endpoints no document has: {unknown}"


def test_request_shapes_that_once_differed_from_the_document(documents, scope_table):
    """Block slots need calendarId in the body; deleting an event and removing a contact from a
    workflow send the JSON body their documents define; filter-by-email pages with skip and
    limit as strings, as FilterByEmailDto types them."""
    from engine.polling.reader import _first_page, _next_page

    specs = registry()
    keys = ("calendars.create_block_slot", "calendars.update_block_slot", "calendars.delete_event",
            "workflows.remove_from_workflow", "users.filter_users_by_email")
    for key in keys:
        assert _problems(specs[key], documents, scope_table) == [], key
    for key in keys[:2]:
        assert specs[key].input("calendarId").required
    for key in keys[2:4]:
        assert _sent_body(specs[key]) == {}
    users = specs["users.filter_users_by_email"]
    first = _first_page(users, {"companyId": "c", "emails": "a@example.com"})
    assert (first["skip"], first["limit"]) == ("0", "100")
    second = _next_page(users, first, {}, [{"id": str(n)} for n in range(100)])
    assert (second["skip"], second["limit"]) == ("100", "100")


def test_missing_reference_skips_in_a_clone_but_fails_in_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="the CI must provide it"):
        reference_missing("the scope table")
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="runs only where it is"):
        reference_missing("the scope table")
