"""Request dependencies: the runtime and the caller's tenant (from its API key)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from engine.accounts import tenants
from engine.core import logs
from engine.core.errors import Forbidden, RateLimited, Unauthorized
from engine.runtime import Runtime


def runtime(request: Request) -> Runtime:
    """Dependency: the application's Runtime (Redis, settings, upstream client), opened at start-up."""
    return request.app.state.runtime


async def principal(request: Request, rt: Runtime = Depends(runtime)) -> tenants.Principal:
    """Dependency: the caller, from ``Authorization: Bearer <key>`` or ``X-API-Key``, counted
    against ENGINE_KEY_RATE_LIMIT (requests per key per minute). Raises Unauthorized (401) for a
    missing, unknown or revoked key and RateLimited (429, ``retry_after`` in seconds) past the
    limit."""
    header = request.headers.get("authorization", "")
    api_key = header[7:].strip() if header.lower().startswith("bearer ") else ""
    api_key = api_key or request.headers.get("x-api-key", "").strip()
    if not api_key:
        raise Unauthorized("missing API key: send 'Authorization: Bearer <key>' or 'X-API-Key: "
                           "<key>' (create one with `ghl-engine keys create --tenant NAME`)")
    limit = rt.settings.key_rate_limit
    who, wait = await tenants.authenticate_counted(rt.redis, api_key, limit)
    if who is None:
        raise Unauthorized("unknown or revoked API key")
    if wait is not None:
        raise RateLimited(f"too many requests for this API key: at most {limit} a minute "
                          "(ENGINE_KEY_RATE_LIMIT); wait for Retry-After seconds", retry_after=wait,
                          details={"limit_per_minute": limit})
    request.state.principal = who
    logs.bind(tenant=who.tenant)
    return who


async def writer(request: Request, who: tenants.Principal = Depends(principal)) -> tenants.Principal:
    """Dependency for routes that change data: :func:`principal`, and Forbidden (403,
    ``read_only_key``) for a read-only key."""
    if who.read_only:
        raise Forbidden(f"this API key is read-only and {request.method} {request.url.path} "
                        "changes data; use a read-write key for this request",
                        code="read_only_key")
    return who


@dataclass(frozen=True)
class Caller:
    """What a tenant's route works with: the runtime and the calling tenant's name."""

    rt: Runtime
    tenant: str


async def reading(who: tenants.Principal = Depends(principal),
                  rt: Runtime = Depends(runtime)) -> Caller:
    """The caller of a route any valid API key may use (401 without one, 429 over its rate
    limit, as :func:`principal`)."""
    return Caller(rt, who.tenant)


async def writing(who: tenants.Principal = Depends(writer),
                  rt: Runtime = Depends(runtime)) -> Caller:
    """The caller of a route that changes data: a read-write API key (also 403 for a read-only
    one, as :func:`writer`)."""
    return Caller(rt, who.tenant)


Reader = Annotated[Caller, Depends(reading)]  # a route parameter: `caller: Reader`
Writer = Annotated[Caller, Depends(writing)]
