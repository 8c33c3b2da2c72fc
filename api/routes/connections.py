"""Connections: a tenant's credentials, stored encrypted, never returned."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from api.deps import Reader, Writer
from api.models import ConnectionIn, ConnectionPatch, GHLConnectionIn
from engine.accounts import connections, hooks, quotas
from engine.core import keys
from engine.core.errors import InputInvalid, NotFound, UpstreamAuthError, UpstreamError
from engine.polling import health
from engine.runtime import Runtime
from engine.upstream.apps import APPS

router = APIRouter(prefix="/v1", tags=["connections"])


@router.post("/connections", status_code=201)
async def create_connection(body: ConnectionIn, caller: Writer) -> dict[str, Any]:
    """Store a GHL Private Integration token (`token`, `location_id`) or an SMSGlobal REST key
    pair (`app: smsglobal`, `api_key`, `api_secret`), encrypted at rest, after one test call
    (GHL: the location; SMSGlobal: the credit balance); refused credentials are a 422 naming
    the field and nothing is stored. The credentials are never returned."""
    rt = caller.rt
    if not isinstance(body, GHLConnectionIn):
        conn = connections.new(
            tenant=caller.tenant, app="smsglobal", name=body.name, auth="mac",
            secret={"api_key": body.api_key.get_secret_value(),
                    "api_secret": body.api_secret.get_secret_value()}, verified=False)
    else:
        conn = connections.new(
            tenant=caller.tenant, app="ghl", name=body.name, auth="private_token",
            secret={"access_token": body.token.get_secret_value()}, location_id=body.location_id,
            company_id=body.company_id, verified=False)
    tenant_conns = keys.TENANT_CONNECTIONS.format(tenant=caller.tenant)
    await quotas.reserve(rt.redis, tenant_conns, conn.id, rt.settings.max_connections_per_tenant,
                         what="connections", setting="ENGINE_MAX_CONNECTIONS_PER_TENANT")
    try:
        if not conn.verified:
            await verify(rt, conn)
            conn.verified = True
        await connections.save(rt.redis, rt.vault, conn)
    except BaseException:
        await quotas.release(rt.redis, tenant_conns, conn.id)
        raise
    return conn.public()


async def verify(rt: Runtime, conn: connections.Connection) -> None:
    """Check a new connection's credentials with its app's cheapest call (for GHL: GET
    /locations/{locationId}, or /companies/{companyId}; for SMSGlobal: the credit balance)
    before it is stored. While unverified it spends no location's or account's rate budget (its
    own bucket). Refused credentials raise InputInvalid naming the field; upstream being
    unreachable or rate limited passes its error on, and nothing is stored either way."""
    if conn.app == "smsglobal":
        try:
            await rt.upstream.send(conn, APPS[conn.app].test_call(conn), max_wait=5.0)
        except UpstreamAuthError as exc:
            raise InputInvalid([{"field": "api_secret", "location": "body",
                                 "message": f"SMSGlobal refused this API key and secret "
                                            f"({exc.status}); copy both from MXT > Integrations > "
                                            "REST API keys (the secret is shown once, when the key "
                                            "is made) and check this server's clock"}]) from None
        return
    scope_field = "location_id" if conn.location_id else "company_id"
    try:
        await rt.upstream.send(conn, APPS[conn.app].test_call(conn), max_wait=5.0)
    except UpstreamAuthError:
        raise InputInvalid([{"field": "token", "location": "body",
                             "message": "GoHighLevel refused this token (401); copy the whole "
                                        "Private Integration token (it starts with 'pit-') or "
                                        "create a new one"}]) from None
    except UpstreamError as exc:
        if exc.status >= 500 or exc.status == 429:
            raise
        raise InputInvalid([{"field": scope_field, "location": "body",
                             "message": f"GoHighLevel answered {exc.status} for "
                                        f"{getattr(conn, scope_field)!r} with this token: the "
                                        f"token has no access to it or it does not exist; check "
                                        f"the id and the token's sub-account"}]) from None


@router.get("/connections")
async def list_connections(caller: Reader) -> dict[str, Any]:
    """The tenant's connections with their status (`active`, `failing` with the reason when
    upstream refused them, `needs_reauth` for OAuth)."""
    listed = await connections.list_for(caller.rt.redis, caller.tenant)
    return {"connections": [c.public() for c in listed]}


@router.get("/connections/{conn_id}")
async def get_connection(conn_id: str, caller: Reader) -> dict[str, Any]:
    """One connection, without its credentials."""
    return (await connections.get(caller.rt.redis, caller.tenant, conn_id)).public()


@router.delete("/connections/{conn_id}", status_code=204)
async def delete_connection(conn_id: str, caller: Writer) -> None:
    """Delete a connection. Subscriptions reading through it pause at their next poll, naming
    the deleted connection."""
    rt = caller.rt
    await connections.get(rt.redis, caller.tenant, conn_id)
    await hooks.forget(rt.redis, rt.vault, conn_id)
    await connections.delete(rt.redis, caller.tenant, conn_id)


@router.get("/connections/{conn_id}/hook")
async def connection_hook(conn_id: str, request: Request, caller: Reader) -> dict[str, Any]:
    """The connection's push URLs: for a GHL connection the URL a GHL workflow's webhook action
    posts to; for SMSGlobal the receipt and reply URLs sends carry (when ENGINE_PUBLIC_URL is
    set). The token in them is the credential: keep it private, rotate it if it leaks."""
    rt = caller.rt
    conn = await connections.get(rt.redis, caller.tenant, conn_id)
    return _hook_urls(rt, request, conn, await hooks.token(rt.redis, rt.vault, conn.id))


@router.post("/connections/{conn_id}/hook/rotate")
async def rotate_connection_hook(conn_id: str, request: Request, caller: Writer) -> dict[str, Any]:
    """A new hook token: the old URLs answer 404 from now on."""
    rt = caller.rt
    conn = await connections.get(rt.redis, caller.tenant, conn_id)
    return _hook_urls(rt, request, conn, await hooks.rotate(rt.redis, rt.vault, conn.id))


def _hook_urls(rt: Runtime, request: Request, conn, hook_token: str | None) -> dict[str, Any]:
    if hook_token is None:
        raise NotFound(f"connection {conn.id!r} not found", code="connection_not_found")
    base = rt.settings.public_url or str(request.base_url)
    kinds = ("ghl_workflow_url",) if conn.app == "ghl" else ("notify_url", "incoming_url")
    return {"connection_id": conn.id, **{k: hooks.push_url(base, k, hook_token) for k in kinds}}


@router.post("/connections/{conn_id}/test", summary="Test a connection")
async def test_connection(conn_id: str, caller: Writer) -> dict[str, Any]:
    """Sends the app's cheapest read (GHL: the location; SMSGlobal: the balance) with the stored
    credentials. When it passes, the connection is active again and the subscriptions and
    flows its failure paused resume (`resumed` counts their watches)."""
    return await health.test(caller.rt, caller.tenant, conn_id)


@router.patch("/connections/{conn_id}", summary="Update a connection's credentials or name")
async def update_connection(conn_id: str, body: ConnectionPatch, caller: Writer) -> dict[str, Any]:
    """GHL private-token connections take `token`; SMSGlobal connections take `api_key` and
    `api_secret` together; both take `name`. New credentials are stored encrypted and tested
    at once; when the test passes, what the old credentials' failure paused resumes. Returns
    `{connection, test, resumed}`; the credentials are never returned."""
    given = {k: v.get_secret_value() for k in ("token", "api_key", "api_secret")
             if (v := getattr(body, k)) is not None}
    return await health.update(caller.rt, caller.tenant, conn_id, name=body.name, credentials=given)
