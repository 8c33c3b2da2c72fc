"""GHL's AppInstall and AppUninstall events (body ``type`` ``INSTALL`` / ``UNINSTALL``).

AppInstall of a Company (agency) install names a location the app was installed on: for each
tenant whose OAuth consent made an agency connection for that company, a location connection
is minted from the agency token (``POST /oauth/locationToken``), once: a lock per (tenant,
location) makes concurrent or repeated events create one connection. A Location install needs
nothing here: the OAuth callback made (or renewed) its connection.

AppUninstall (a location, or a whole company) disables the OAuth connections it names and
pauses their watches, with the reason shown on the connection and its subscriptions; the
app's tokens are dead by then. Authorizing again renews the connections in place.

Source: GHL's webhook event documents (AppInstall, AppUninstall) and the official SDKs' webhook
managers, which mint a location token on install and drop stored tokens on uninstall.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timezone

from engine.accounts import connections
from engine.core import keys, scripts
from engine.inbound.queue import Event
from engine.oauth import tokens
from engine.polling import subscriptions
from engine.runtime import Runtime

log = logging.getLogger("engine.inbound.installs")

INSTALL_TYPES = ("INSTALL", "AppInstall")
UNINSTALL_TYPES = ("UNINSTALL", "AppUninstall")
LOCK_MS = 30_000
DISABLED = "disabled"


class AgencyNotConnectedYet(RuntimeError):
    """An agency install arrived before its OAuth callback stored the agency connection; the
    event is tried again later (see :mod:`engine.inbound.queue`)."""


async def _agencies(rt: Runtime, company_id: str) -> list[connections.Connection]:
    """Every tenant's agency OAuth connection for a company (not minted location ones)."""
    out = []
    for conn_id in await connections.for_company(rt.redis, company_id):
        conn = await connections.load(rt.redis, conn_id, rt.vault)
        if (conn is not None and conn.auth == "oauth" and not conn.location_id
                and not conn.secret.get("parent_id")):
            out.append(conn)
    return out


async def installed(rt: Runtime, event: Event) -> None:
    """Handle AppInstall: a Company install mints the location's connection for each tenant
    whose agency consent installed the app (skipping a tenant that already has one)."""
    body = event.body
    company_id, location_id = body.get("companyId"), body.get("locationId")
    if body.get("installType") != "Company" or not company_id or not location_id:
        return
    agencies = await _agencies(rt, str(company_id))
    if not agencies:
        raise AgencyNotConnectedYet(f"no agency connection for company {company_id} yet")
    for agency in agencies:
        await _mint_once(rt, agency, str(location_id))


async def _mint_once(rt: Runtime, agency: connections.Connection, location_id: str) -> None:
    r = rt.redis
    lock = keys.INSTALL_LOCK.format(tenant=agency.tenant, location_id=location_id)
    token = secrets.token_hex(8)
    if not await r.set(lock, token, nx=True, px=LOCK_MS):
        raise RuntimeError(f"location {location_id} is being connected by another worker")
    try:
        for conn_id in await connections.for_location(r, location_id):
            conn = await connections.load(r, conn_id, None)
            if conn is not None and conn.tenant == agency.tenant and conn.auth == "oauth":
                if conn.status == DISABLED:  # installed again: the same connection comes back
                    await connections.set_status(r, conn.id, "active", None)
                    await subscriptions.resume_watches_for_connection(rt, conn.id)
                return
        made = await tokens.mint_location_token(rt, agency, location_id)
        log.info("app installed on location %s: connection %s for tenant %s", location_id,
                 made.id, agency.tenant)
    finally:  # only if still ours: the lease may have ended and another worker taken it
        await scripts.script(r, scripts.UNLOCK)(keys=[lock], args=[token])


async def uninstalled(rt: Runtime, event: Event) -> None:
    """Handle AppUninstall: disable the OAuth connections of the location (or of the whole
    company) and pause their watches, naming why."""
    body = event.body
    location_id, company_id = body.get("locationId"), body.get("companyId")
    if location_id:
        ids = await connections.for_location(rt.redis, str(location_id))
        where = f"location {location_id}"
    elif company_id:
        ids = await connections.for_company(rt.redis, str(company_id))
        where = f"agency {company_id}"
    else:
        return
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    reason = (f"the GoHighLevel app was uninstalled from {where} ({when}); install it again "
              "(GET /v1/oauth/ghl/authorize) to resume")
    for conn_id in ids:
        conn = await connections.load(rt.redis, conn_id, None)
        if conn is None or conn.auth != "oauth":
            continue  # a Private Integration token does not depend on the app
        await connections.set_status(rt.redis, conn_id, DISABLED, reason)
        await subscriptions.pause_watches_for_connection(rt, conn_id, reason)
        log.info("connection %s disabled: %s", conn_id, reason)
