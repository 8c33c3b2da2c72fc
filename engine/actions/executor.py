"""The generic executor: runs any action spec.

Validated inputs are placed by the spec (path, query, body); inputs marked ``fill`` take the
connection's location or company when left out; unknown extra fields go into the JSON body.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from engine.accounts.connections import Connection
from engine.core.errors import InputInvalid
from engine.runtime import Runtime
from engine.spec import inputs as _inputs
from engine.spec.model import Operation
from engine.upstream.budget import Priority
from engine.upstream.call import Call
from engine.upstream.client import Response


@dataclass
class Result:
    data: Any
    meta: dict[str, Any]


def _fill(op: Operation, values: dict[str, Any], conn: Connection) -> None:
    missing = []
    for field in op.inputs:
        if field.fill is None or values.get(field.name) not in (None, ""):
            continue
        source = conn.location_id if field.fill == "location_id" else conn.company_id
        if source:
            values[field.name] = source
        elif field.required:
            missing.append({"field": f"input.{field.name}", "location": field.location,
                            "message": f"{field.name} is required and connection {conn.id} has no "
                                       f"{field.fill.replace('_', ' ')} to fill it: pass it in input"})
    if missing:
        raise InputInvalid(missing)


def build_call(op: Operation, values: dict[str, Any], conn: Connection) -> Call:
    """Place validated values into path, query and body for ``op``."""
    values = dict(values)
    _fill(op, values, conn)
    path = op.upstream.path
    for field in op.inputs_at("path"):
        path = path.replace("{" + field.name + "}", quote(str(values.pop(field.name)), safe=""))
    query: list[tuple[str, Any]] = []
    for field in op.inputs_at("query"):
        if field.name not in values:
            continue
        value = values.pop(field.name)
        if value is None:
            continue
        for item in value if isinstance(value, list) else [value]:
            query.append((field.name, str(item).lower() if isinstance(item, bool) else item))
    body: dict[str, Any] | None = None
    if op.upstream.body_input:
        body = values.get(op.upstream.body_input)
    elif op.has_body:
        body = {k: v for k, v in values.items() if v is not None}
    return Call(method=op.upstream.method, path=path, version=op.upstream.version, query=query,
                body=body if (body or op.upstream.method in ("POST", "PUT", "PATCH")) else None,
                safe_to_retry=op.upstream.idempotent, response=op.upstream.response)


async def call(rt: Runtime, conn: Connection, op: Operation, values: dict[str, Any], *,
               priority: Priority = "interactive", max_wait: float | None = None) -> Response:
    return await rt.upstream.send(conn, build_call(op, values, conn), priority=priority,
                                  max_wait=max_wait)


async def run_action(rt: Runtime, conn: Connection, op: Operation, data: dict[str, Any]) -> Result:
    if conn.app != op.app:
        raise InputInvalid([{"field": "connection_id", "location": "request",
                             "message": f"operation {op.key} needs a {op.app} connection; "
                                        f"{conn.id} is a {conn.app} connection"}])
    values = _inputs.validate(op, data)
    resp = await call(rt, conn, op, values)
    return Result(data=resp.data, meta={"upstream_status": resp.status, "attempts": resp.attempts,
                                        "duration_ms": round(resp.duration_ms, 2)})
