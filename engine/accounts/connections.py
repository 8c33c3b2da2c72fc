"""Connections: a tenant's credentials for one GHL location (or agency) or one SMSGlobal account.

The secret part is sealed by the vault before it reaches Redis and is never returned.
"""

from __future__ import annotations

import hashlib
import secrets as _secrets
import time
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis

from engine.accounts.vault import Vault
from engine.core import keys
from engine.core.errors import NotFound


@dataclass
class Connection:
    """One tenant's credentials for one app. ``app``: "ghl" or "smsglobal"; ``auth``: how it
    authenticates ("private_token", "oauth" or "mac"); ``status``: "active", "failing",
    "needs_reauth" or "disabled", with ``status_reason``; ``created_at``: epoch s; ``secret``:
    the credentials (decrypted, never shown), e.g. ``{"access_token": …}`` or
    ``{"api_key", "api_secret"}``."""

    id: str
    tenant: str
    app: str
    name: str
    auth: str
    location_id: str | None = None
    company_id: str | None = None
    status: str = "active"
    status_reason: str | None = None
    created_at: int = 0
    secret: dict[str, Any] = field(default_factory=dict, repr=False)
    verified: bool = True  # False only while a new connection's credentials are being checked

    def public(self) -> dict[str, Any]:
        """The connection as the API shows it: id, app, name, auth, location_id, company_id, status,
        status_reason, created_at (epoch s); never the secret."""
        return {
            "id": self.id, "app": self.app, "name": self.name, "auth": self.auth,
            "location_id": self.location_id, "company_id": self.company_id,
            "status": self.status, "status_reason": self.status_reason,
            "created_at": self.created_at,
        }

    @property
    def rate_scope(self) -> str:
        """The rate-budget bucket: GHL budgets per location (or company), SMSGlobal per account.
        Credentials not yet verified get a bucket of their own, so they spend no location's."""
        if not self.verified:
            return f"{self.app}:unverified:{self.id}"
        if self.app == "ghl":
            return f"ghl:{self.location_id or self.company_id or self.id}"
        return f"{self.app}:{self.id}"


_FIELDS = ("tenant", "app", "name", "auth", "location_id", "company_id", "status",
           "status_reason", "created_at")


def new(*, tenant: str, app: str, name: str, auth: str, secret: dict[str, Any],
        location_id: str | None = None, company_id: str | None = None,
        verified: bool = True) -> Connection:
    """A connection with a fresh id, not yet stored (``save`` stores it)."""
    return Connection(id="conn_" + _secrets.token_hex(10), tenant=tenant, app=app, name=name,
                      auth=auth, location_id=location_id, company_id=company_id,
                      created_at=int(time.time()), secret=secret, verified=verified)


async def create(redis: Redis, vault: Vault, *, tenant: str, app: str, name: str, auth: str,
                 secret: dict[str, Any], location_id: str | None = None,
                 company_id: str | None = None) -> Connection:
    """A new connection (:func:`new`), stored at once (:func:`save`); returns it."""
    conn = new(tenant=tenant, app=app, name=name, auth=auth, secret=secret,
               location_id=location_id, company_id=company_id)
    await save(redis, vault, conn)
    return conn


def tenant_tag(tenant: str) -> str:
    """A short, colon-free tag of a tenant, as the rate budget writes it into its slots."""
    return hashlib.sha256(tenant.encode()).hexdigest()[:10] if tenant else ""


async def save(redis: Redis, vault: Vault, conn: Connection) -> None:
    """Store ``conn`` with its secret sealed by ``vault``, in one transaction with its tenant's set,
    the set of all connections, its rate scope's tenants and its location/company indexes."""
    mapping = {k: "" if getattr(conn, k) is None else str(getattr(conn, k)) for k in _FIELDS}
    mapping["secret"] = vault.seal(conn.secret)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hset(keys.CONNECTION.format(conn_id=conn.id), mapping=mapping)
        # the tenants sharing a location's budget share it fairly (engine.upstream.budget)
        pipe.hset(keys.RATE_CONNECTIONS.format(scope=conn.rate_scope), conn.id,
                  tenant_tag(conn.tenant))
        pipe.sadd(keys.TENANT_CONNECTIONS.format(tenant=conn.tenant), conn.id)
        pipe.sadd(keys.ALL_CONNECTIONS, conn.id)
        for index in _indexes(conn.app, conn.location_id, conn.company_id):
            pipe.sadd(index, conn.id)
        await pipe.execute()


def _indexes(app: str, location_id: str | None, company_id: str | None) -> list[str]:
    """The sets a GHL connection is listed in, so a pushed event naming a location (or a
    company) finds its connections."""
    if app != "ghl":
        return []
    out = [keys.LOCATION_CONNECTIONS.format(location_id=location_id)] if location_id else []
    if company_id:
        out.append(keys.COMPANY_CONNECTIONS.format(company_id=company_id))
    return out


async def for_location(redis: Redis, location_id: str) -> list[str]:
    """Ids of the GHL connections (any tenant) of a location."""
    return sorted(m.decode() for m in await redis.smembers(
        keys.LOCATION_CONNECTIONS.format(location_id=location_id)))


async def for_company(redis: Redis, company_id: str) -> list[str]:
    """Ids of the GHL connections (any tenant) of a company: its agency connection and the
    location connections minted from it."""
    return sorted(m.decode() for m in await redis.smembers(
        keys.COMPANY_CONNECTIONS.format(company_id=company_id)))


_REPLACE_SECRET = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[1], 'secret', ARGV[1])
  return 1
end
return 0
"""


async def replace_secret(redis: Redis, vault: Vault, conn_id: str, secret: dict[str, Any]) -> bool:
    """Store a new secret (a refreshed token pair) in one write; False if the connection is gone."""
    done = await redis.eval(_REPLACE_SECRET, 1, keys.CONNECTION.format(conn_id=conn_id),
                            vault.seal(secret))
    return bool(done)


async def set_status(redis: Redis, conn_id: str, status: str, reason: str | None) -> None:
    """Set a connection's ``status`` ("active", "failing", "needs_reauth", "disabled") and
    ``status_reason`` (None clears it); does not check the tenant."""
    await redis.hset(keys.CONNECTION.format(conn_id=conn_id),
                     mapping={"status": status, "status_reason": reason or ""})


async def rename(redis: Redis, conn_id: str, name: str) -> None:
    """Set a connection's display name; does not check the tenant."""
    await redis.hset(keys.CONNECTION.format(conn_id=conn_id), "name", name)


def _decode(conn_id: str, raw: dict[bytes, bytes], vault: Vault | None) -> Connection:
    d = {k.decode(): v.decode() for k, v in raw.items()}
    return Connection(
        id=conn_id, tenant=d["tenant"], app=d["app"], name=d["name"], auth=d["auth"],
        location_id=d.get("location_id") or None, company_id=d.get("company_id") or None,
        status=d.get("status") or "active", status_reason=d.get("status_reason") or None,
        created_at=int(d.get("created_at") or 0),
        secret=vault.open(d["secret"]) if vault is not None else {},
    )


async def get(redis: Redis, tenant: str, conn_id: str, vault: Vault | None = None) -> Connection:
    """The tenant's connection; another tenant's id is simply not found."""
    raw = await redis.hgetall(keys.CONNECTION.format(conn_id=conn_id))
    if not raw or raw.get(b"tenant", b"").decode() != tenant:
        raise NotFound(f"connection {conn_id!r} not found; list yours with GET /v1/connections",
                       code="connection_not_found")
    return _decode(conn_id, raw, vault)


async def load(redis: Redis, conn_id: str, vault: Vault) -> Connection | None:
    """A connection by id alone, for workers acting on behalf of its tenant."""
    return from_raw(conn_id, await redis.hgetall(keys.CONNECTION.format(conn_id=conn_id)), vault)


def from_raw(conn_id: str, raw: dict[bytes, bytes], vault: Vault) -> Connection | None:
    """A connection from its hash as read (None when the hash is gone)."""
    return _decode(conn_id, raw, vault) if raw else None


async def list_for(redis: Redis, tenant: str) -> list[Connection]:
    """The tenant's connections, by id, without their secrets (``secret`` left empty)."""
    ids = sorted(m.decode() for m in await redis.smembers(keys.TENANT_CONNECTIONS.format(tenant=tenant)))
    out = []
    for conn_id in ids:
        raw = await redis.hgetall(keys.CONNECTION.format(conn_id=conn_id))
        if raw:
            out.append(_decode(conn_id, raw, None))
    return out


async def delete(redis: Redis, tenant: str, conn_id: str) -> None:
    """Remove the tenant's connection and its indexes; raises NotFound (404) for an unknown id or
    another tenant's."""
    conn = await get(redis, tenant, conn_id)
    async with redis.pipeline(transaction=True) as pipe:
        for index in _indexes(conn.app, conn.location_id, conn.company_id):
            pipe.srem(index, conn_id)
        pipe.hdel(keys.RATE_CONNECTIONS.format(scope=conn.rate_scope), conn_id)
        pipe.delete(keys.CONNECTION.format(conn_id=conn_id))
        pipe.srem(keys.TENANT_CONNECTIONS.format(tenant=tenant), conn_id)
        pipe.srem(keys.ALL_CONNECTIONS, conn_id)
        await pipe.execute()
