"""How the sandbox answers the operations generated from GHL's official documents.

No operation has code of its own here. A request is checked against its spec (the document's
facts: required query and body fields, their types and allowed values) and refused with GHL's 422
body when the document would refuse it. An accepted request is answered with the success status
and the answer body of ``official_answers.json`` (built from the document's response schema and
examples by ``ghl-engine catalog generate``), through the generic store where the answer's shape
allows it:

    POST   .../things          answer object at the main path: stored, with a new id
    GET    .../things/{id}     the stored object when there is one, else the document's answer
    GET    .../things          the stored objects at the answer's list path, when there are any
    anything else              the document's answer
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from fastapi.responses import JSONResponse, Response

from sandbox.answers import endpoint, error
from sandbox.store import get_at, new_id, now_iso, put_at

DATA = Path(__file__).with_name("official_answers.json")


def _load() -> dict[str, dict[str, Any]]:
    if not DATA.exists():
        return {}
    lines = DATA.read_text().splitlines()[1:]
    return {rec["endpoint"]: rec for rec in map(json.loads, filter(None, lines))}


ANSWERS = _load()


_PYTHON = {"string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,),
           "array": (list,), "object": (dict,)}


def _type_problem(name: str, field, value: Any, from_text: bool) -> str | None:
    """What is wrong with one value for ``field`` (None when it fits)."""
    kind = field.type
    if from_text:  # query strings and form fields arrive as text
        values = value if isinstance(value, list) else [value]
        for item in values:
            text = str(item)
            if kind == "integer" and not text.lstrip("-").isdigit():
                return f"{name} must be an integer number"
            if kind == "number":
                try:
                    float(text)
                except ValueError:
                    return f"{name} must be a number conforming to the specified constraints"
            if kind == "boolean" and text not in ("true", "false"):
                return f"{name} must be a boolean value"
            if field.enum and kind != "array" and text not in {str(v).lower() if isinstance(v, bool)
                                                                else str(v) for v in field.enum}:
                return f"{name} must be one of the following values: {', '.join(map(str, field.enum))}"
        return None
    if isinstance(value, bool) and kind in ("integer", "number"):
        return f"{name} must be a {kind} number"
    if not isinstance(value, _PYTHON[kind]):
        return f"{name} must be {'an' if kind[0] in 'aeiou' else 'a'} {kind}"
    if field.enum and kind != "array" and value not in field.enum:
        return f"{name} must be one of the following values: {', '.join(map(str, field.enum))}"
    return None


def problems(ctx) -> list[str]:
    """GHL-style 422 messages for the request's query and body against the operation's spec."""
    out: list[str] = []
    text_body = ctx.op.upstream.body_format != "json"
    for field in ctx.op.inputs:
        if field.location == "path":
            continue
        if field.location == "body" and ctx.op.upstream.body_input:
            if not isinstance(ctx.raw_body, list):
                out.append("body must be an array")
            continue
        source = ctx.query if field.location == "query" else ctx.body
        value = source.get(field.name)
        if value is None or value == "":
            if field.required:
                out.append(f"{field.name} should not be empty")
            continue
        problem = _type_problem(field.name, field, value,
                                field.location == "query" or text_body)
        if problem:
            out.append(problem)
    return out


def _put_at(body: Any, path: str | None, value: Any) -> Any:
    if path in (None, "$") or not isinstance(body, dict):
        return value
    put_at(body, path, value)
    return body


def _result(ctx) -> tuple[str, str | None]:
    """("object" | "list" | "", path) of the answer's main object or list, from the spec."""
    if ctx.op.output.path != "$":
        return "object", ctx.op.output.path
    answer = ANSWERS.get(endpoint(ctx.route.method, ctx.route.template)) or {}
    body = answer.get("body")
    if isinstance(body, list):
        return "list", "$"
    if isinstance(body, dict):
        lists = [k for k, v in body.items() if isinstance(v, list) and v and isinstance(v[0], dict)]
        if len(lists) == 1:
            return "list", lists[0]
    return "", None


def answer(ctx) -> Response:
    """The answer to one request for a generated operation."""
    found = problems(ctx)
    if found:
        return error(422, found)
    record = ANSWERS.get(endpoint(ctx.route.method, ctx.route.template))
    if record is None:
        return error(404, f"Cannot {ctx.route.method} {ctx.route.template}")
    body = copy.deepcopy(record["body"])
    status = int(record["status"])
    kind, path = _result(ctx)
    method = ctx.route.method
    if kind == "object" and method == "POST" and not ctx.id_param:
        obj = get_at(body, path)
        if isinstance(obj, dict):
            obj.update({k: v for k, v in ctx.body.items() if k in obj or not obj})
            id_field = "_id" if "_id" in obj and "id" not in obj else "id"
            obj[id_field] = new_id()
            obj.setdefault("dateAdded", now_iso())
            ctx.store.put(ctx.collection, obj, ctx.parents, id_field)
    elif kind == "object" and method == "GET" and ctx.id_param:
        stored = ctx.store.get(ctx.collection, ctx.path[ctx.id_param], ctx.parents)
        if stored is not None:
            body = _put_at(body, path, stored)
    elif kind == "list" and method == "GET":
        stored = ctx.store.all(ctx.collection, ctx.parents)
        if stored:
            body = _put_at(body, path, stored)
    return JSONResponse(body, status_code=status) if status != 204 else Response(status_code=204)
