"""The generic executor: runs any action spec.

Validated inputs are placed by the spec (path, query, body); inputs marked ``fill`` take the
connection's location or company when left out; unknown extra fields go into the JSON body.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from engine.accounts import hooks
from engine.accounts.connections import Connection
from engine.core import keys, phones
from engine.core.errors import InputInvalid, UpstreamError
from engine.runtime import Runtime
from engine.spec import inputs as _inputs
from engine.spec import registry
from engine.spec.model import Operation
from engine.upstream.budget import Priority
from engine.upstream.call import Call
from engine.upstream.client import Response


@dataclass
class Result:
    """An action's answer as the API returns it: ``data`` (upstream's decoded body) and ``meta``
    (``{"upstream_status", "attempts", "duration_ms"}``)."""

    data: Any
    meta: dict[str, Any]


def fill(op: Operation, values: dict[str, Any], conn: Connection, where: str = "input") -> None:
    """Fill, in place, the inputs marked ``fill`` that ``values`` leaves out with the
    connection's location or company id; raises InputInvalid (422) naming each required one
    the connection cannot fill and where to pass it (``where``: the request's ``input``, or
    ``params`` for a trigger's reads and subscriptions)."""
    missing = []
    for field in op.inputs:
        if field.fill is None or values.get(field.name) not in (None, ""):
            continue
        source = {"location_id": conn.location_id, "company_id": conn.company_id}.get(field.fill)
        if source:
            values[field.name] = source
        elif field.required:
            missing.append({"field": f"input.{field.name}", "location": field.location,
                            "message": f"{field.name} is required and connection {conn.id} has no "
                                       f"{field.fill.replace('_', ' ')} to fill it: pass {where}.{field.name}"})
    if missing:
        raise InputInvalid(missing)


def build_call(op: Operation, values: dict[str, Any], conn: Connection) -> Call:
    """Place validated values into path, query and body for ``op``."""
    values = dict(values)
    fill(op, values, conn)
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
                body=body if (body or op.upstream.method in ("POST", "PUT", "PATCH")
                              or op.upstream.json_body) else None,
                safe_to_retry=op.upstream.idempotent, response=op.upstream.response,
                body_format=op.upstream.body_format,
                file_fields=tuple(f.name for f in op.inputs_at("body") if f.format == "binary"))


async def _fill_push_urls(rt: Runtime, op: Operation, values: dict[str, Any],
                          conn: Connection) -> None:
    """Inputs marked ``notify_url`` / ``incoming_url`` left out get the connection's push URLs
    when ENGINE_PUBLIC_URL is set (so SMSGlobal pushes receipts and replies to the engine)."""
    base = rt.settings.public_url
    wanted = [f for f in op.inputs if f.fill in hooks.PUSH_PATHS and values.get(f.name) in (None, "")]
    if not base or not wanted:
        return
    hook_token = await hooks.token(rt.redis, rt.vault, conn.id)
    if hook_token:
        for field in wanted:
            values[field.name] = hooks.push_url(base, field.fill, hook_token)


async def call(rt: Runtime, conn: Connection, op: Operation, values: dict[str, Any], *,
               priority: Priority = "interactive", max_wait: float | None = None,
               observations: list | None = None, held: dict | None = None) -> Response:
    """Send ``op`` with validated input ``values`` through ``conn``: the request built by
    :func:`build_call`, sent by the upstream client with its rate budget and retries, waiting at
    most ``max_wait`` seconds for a rate slot (None: ENGINE_RATE_MAX_WAIT_SECONDS);
    ``observations`` collects the budget's corrections for the caller, ``held`` is a rate slot
    taken ahead (see ``Upstream.send``). Raises RateLimited, UpstreamAuthError, UpstreamError or
    UpstreamUnavailable."""
    return await rt.upstream.send(conn, build_call(op, values, conn), priority=priority,
                                  max_wait=max_wait, observations=observations, held=held)


LOCATION_OP = "other.find_location_by_id"
REGION_TTL_S = 24 * 3600


async def location_region(rt: Runtime, conn: Connection) -> str | None:
    """The default phone region of ``conn``: its GHL location's country (ISO 3166-1 alpha-2).

    Read once from ``GET /locations/{locationId}`` (GHL Locations API, field
    ``location.country``) and cached in Redis for a day; None for a SMSGlobal connection, a
    connection without a location, a location without a known country, or a token that may
    not read the location (403, 404).
    """
    if conn.app != "ghl" or not conn.location_id:
        return None
    key = keys.LOCATION_COUNTRY.format(conn_id=conn.id)
    cached = await rt.redis.get(key)
    if cached is not None:
        return cached.decode() if cached != b"-" else None
    op = registry.get(LOCATION_OP)
    try:
        resp = await call(rt, conn, op, {"locationId": conn.location_id})
    except UpstreamError as exc:
        if exc.status not in (403, 404):
            raise
        # a token without locations.readonly: no default region (asked again in an hour)
        await rt.redis.set(key, "-", ex=3600)
        return None
    location = resp.data.get("location") if isinstance(resp.data, dict) else None
    try:
        region = phones.region_code((location or {}).get("country"))
    except phones.PhoneError:
        region = None
    await rt.redis.set(key, region or "-", ex=REGION_TTL_S)
    return region


async def run_action(rt: Runtime, conn: Connection, op: Operation, data: dict[str, Any], *,
                     region: str | None = None) -> Result:
    """Validate ``data`` against ``op``'s inputs and send the request through ``conn``.

    :param region: ISO 3166-1 alpha-2 region for phone numbers written without their country;
        left None, the connection's location country is used when such a number is given.
    :raises InputInvalid: bad input (422), before anything is sent.
    """
    if conn.app != op.app:
        raise InputInvalid([{"field": "connection_id", "location": "request",
                             "message": f"operation {op.key} needs a {op.app} connection; "
                                        f"{conn.id} is a {conn.app} connection"}])
    if region is None and _inputs.needs_region(op, data):
        region = await location_region(rt, conn)
    values = _inputs.validate(op, data, region=region)
    await _fill_push_urls(rt, op, values, conn)
    resp = await call(rt, conn, op, values)
    return Result(data=resp.data, meta={"upstream_status": resp.status, "attempts": resp.attempts,
                                        "duration_ms": round(resp.duration_ms, 2)})
