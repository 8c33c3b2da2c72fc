"""GHL OAuth 2.0: the authorization-code flow, token refresh and agency-minted location tokens.

- ``authorize_url`` sends the agency or location admin to GHL's chooselocation page with a
  ``state`` that is encrypted and authenticated (Fernet, with a key derived from
  ENGINE_SECRET_KEYS), expires after ENGINE_OAUTH_STATE_TTL_SECONDS, binds the tenant and
  carries a nonce that Redis lets the callback consume once.
- ``complete`` exchanges the code at ``POST /oauth/token`` and stores an ``oauth`` connection;
  the token pair and its ``expires_at`` live in the connection's sealed secret.
- ``TokenManager`` refreshes a token shortly before it expires and after a 401. GHL refresh
  tokens are single-use and rotate, so the refresh runs under a Redis lock: one process
  refreshes and stores the new pair, the others wait for the lock and reread the stored pair.
  ``invalid_grant`` marks the connection ``needs_reauth`` and pauses its watches.
- ``mint_location_token`` turns an agency connection into a location connection
  (``POST /oauth/locationToken``); such a token has no refresh token and is minted again from
  its agency connection when it expires.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import time
from typing import Any
from urllib.parse import urlencode

import httpx
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from redis.exceptions import LockError

from engine.accounts import connections
from engine.accounts.connections import Connection
from engine.core import keys, metrics
from engine.core.errors import EngineError, InputInvalid, NotFound, UpstreamAuthError, UpstreamUnavailable
from engine.core.settings import Settings
from engine.runtime import Runtime
from engine.spec.registry import registry

log = logging.getLogger("engine.oauth.tokens")

NEEDS_REAUTH = "needs_reauth"
LOCATION_TOKEN_VERSION = "2021-07-28"


class OAuthNotConfigured(EngineError):
    """503 ``oauth_not_configured``: GHL_CLIENT_ID, GHL_CLIENT_SECRET or GHL_REDIRECT_URL is not
    set."""

    status = 503
    code = "oauth_not_configured"


def _problem(field: str, message: str, location: str = "query") -> InputInvalid:
    return InputInvalid([{"field": field, "location": location, "message": message}])


# ----------------------------------------------------------------------------- configuration


def catalog_scopes() -> list[str]:
    """Every OAuth scope the catalog's GHL operations declare, sorted."""
    return sorted({s for op in registry().values() if op.app == "ghl" for s in op.upstream.scopes})


def scopes(settings: Settings) -> list[str]:
    """The OAuth scopes to ask for, as a list of GHL scope names: GHL_OAUTH_SCOPES (space or comma
    separated) when set, else every scope the catalog's operations need."""
    configured = settings.ghl_oauth_scopes.replace(",", " ").split()
    return configured or catalog_scopes()


def require_configured(settings: Settings) -> None:
    """Raise OAuthNotConfigured (503), naming the missing settings, unless the marketplace app's
    client id, secret and redirect URL are all set."""
    missing = [name for name, value in (("GHL_CLIENT_ID", settings.ghl_client_id),
                                        ("GHL_CLIENT_SECRET", settings.ghl_client_secret.get_secret_value()),
                                        ("GHL_REDIRECT_URL", settings.ghl_redirect_url)) if not value]
    if missing:
        raise OAuthNotConfigured(
            f"GHL OAuth is not configured on this engine: set {', '.join(missing)} (the "
            "marketplace app's client id and secret, and this engine's callback URL "
            ".../v1/oauth/ghl/callback registered as the app's redirect URL)")


# ----------------------------------------------------------------------------- signed state


def _state_fernet(settings: Settings) -> MultiFernet:
    """A Fernet per ENGINE_SECRET_KEYS key, derived for this one purpose (never the vault's own)."""
    derived = []
    for key in settings.fernet_keys():
        raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                   info=b"ghl-engine oauth state v1").derive(key.encode())
        derived.append(Fernet(base64.urlsafe_b64encode(raw)))
    if not derived:
        raise OAuthNotConfigured("no ENGINE_SECRET_KEYS: the engine cannot sign OAuth state")
    return MultiFernet(derived)


BROWSER_COOKIE = "ghle_oauth_browser"
"""The cookie that binds a consent to the browser that started it (set at authorize, checked
at the callback)."""


def _browser_digest(browser_secret: str) -> str:
    return hashlib.sha256(browser_secret.encode()).hexdigest()


async def authorize_url(rt: Runtime, tenant: str, key_id: str,
                        browser_secret: str = "") -> str:
    """The consent URL for ``tenant``. Its single-use state is bound to ``browser_secret`` (the
    value of the cookie the API sets on the same answer), so only the browser holding that
    cookie can complete the consent; only its SHA-256 is stored."""
    settings = rt.settings
    require_configured(settings)
    nonce = secrets.token_urlsafe(24)
    state = _state_fernet(settings).encrypt(
        json.dumps({"t": tenant, "n": nonce}, separators=(",", ":")).encode()).decode()
    await rt.redis.set(keys.OAUTH_STATE.format(nonce=nonce),
                       f"{tenant}\n{key_id}\n{_browser_digest(browser_secret)}",
                       ex=settings.oauth_state_ttl_seconds)
    query = urlencode({"response_type": "code", "redirect_uri": settings.ghl_redirect_url,
                       "client_id": settings.ghl_client_id, "scope": " ".join(scopes(settings)),
                       "state": state})
    sep = "&" if "?" in settings.ghl_authorize_url else "?"
    return settings.ghl_authorize_url + sep + query


async def consume_state(rt: Runtime, state: str, browser_secret: str = "") -> str:
    """The tenant that started this authorization; the state is spent by reading it. Raises
    InputInvalid when the state is unknown, spent or expired, and when ``browser_secret`` (the
    cookie the callback's browser sent) is not the one set where the consent started."""
    try:
        data = json.loads(_state_fernet(rt.settings).decrypt(
            state.encode(), ttl=rt.settings.oauth_state_ttl_seconds))
        tenant, nonce = str(data["t"]), str(data["n"])
    except (InvalidToken, ValueError, KeyError, TypeError):
        raise _problem("state", "invalid or expired state: start again with GET "
                                "/v1/oauth/ghl/authorize") from None
    stored = await rt.redis.getdel(keys.OAUTH_STATE.format(nonce=nonce))
    parts = stored.decode().split("\n") if stored is not None else []
    if not parts or parts[0] != tenant:
        raise _problem("state", "this authorization was already completed or has expired: start "
                                "again with GET /v1/oauth/ghl/authorize")
    if len(parts) < 3 or not hmac.compare_digest(parts[2], _browser_digest(browser_secret)):
        raise _problem(BROWSER_COOKIE, location="cookie", message="this consent was started in another browser (its cookie "
                                       "is missing or different): open GET "
                                       "/v1/oauth/ghl/authorize in this browser and start again")
    return tenant


# ----------------------------------------------------------------------------- token endpoint


class _GrantRefused(Exception):
    def __init__(self, error: str, description: str) -> None:
        super().__init__(error)
        self.error = error
        self.description = description


def _base(settings: Settings) -> str:
    return settings.ghl_base_url.rstrip("/")


async def _token_request(rt: Runtime, path: str, form: dict[str, str],
                         headers: dict[str, str] | None = None) -> dict[str, Any]:
    """POST a form to GHL's OAuth endpoints; the body and its secrets are never logged."""
    try:
        resp = await rt.upstream.http.post(_base(rt.settings) + path, data=form,
                                           headers={"Accept": "application/json", **(headers or {})})
    except httpx.HTTPError as exc:
        raise UpstreamUnavailable(f"could not reach GoHighLevel's OAuth endpoint {path}: "
                                  f"{type(exc).__name__}; try again", status=502) from None
    try:
        data = resp.json() if resp.content else {}
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    if resp.is_success and data.get("access_token"):
        return data
    if resp.status_code >= 500 or resp.status_code == 429:
        raise UpstreamUnavailable(f"GoHighLevel's OAuth endpoint {path} answered "
                                  f"{resp.status_code}; try again", status=502,
                                  details={"upstream_status": resp.status_code})
    error = str(data.get("error") or "") or "invalid_request"
    if resp.status_code == 401 and error not in ("invalid_client", "invalid_grant"):
        error = "invalid_token"  # GHL's API body for a bad Bearer: {"error": "Unauthorized", ...}
    description = data.get("error_description") or data.get("message") or ""
    if isinstance(description, list):
        description = "; ".join(map(str, description))
    raise _GrantRefused(error, str(description)[:300])


def _secret_from(data: dict[str, Any], **extra: Any) -> dict[str, Any]:
    expires_in = float(data.get("expires_in") or 86399)
    secret = {"access_token": data["access_token"], "expires_at": int(time.time() + expires_in),
              "user_type": data.get("userType") or "", "scope": data.get("scope") or ""}
    if data.get("refresh_token"):
        secret["refresh_token"] = data["refresh_token"]
    secret.update(extra)
    return secret


async def complete(rt: Runtime, tenant: str, code: str) -> Connection:
    """Exchange an authorization code and store the new connection."""
    settings = rt.settings
    require_configured(settings)
    try:
        data = await _token_request(rt, "/oauth/token", {
            "client_id": settings.ghl_client_id,
            "client_secret": settings.ghl_client_secret.get_secret_value(),
            "grant_type": "authorization_code", "code": code,
            "redirect_uri": settings.ghl_redirect_url})
    except _GrantRefused as exc:
        raise _problem("code", f"GoHighLevel refused the authorization code ({exc.error}"
                               f"{': ' + exc.description if exc.description else ''}); codes are "
                               "single-use and short-lived: start again with GET "
                               "/v1/oauth/ghl/authorize") from None
    location_id = data.get("locationId") or None
    company_id = data.get("companyId") or None
    if not location_id and not company_id:
        raise UpstreamAuthError("GoHighLevel issued a token for neither a location nor a company",
                                status=502)
    existing = await _same_grant(rt, tenant, location_id, company_id)
    if existing is not None:  # authorized again: renew that connection in place
        await connections.replace_secret(rt.redis, rt.vault, existing.id, _secret_from(data))
        await connections.set_status(rt.redis, existing.id, "active", None)
        await rt.hooks.connection_resumed(rt, existing.id)
        return await connections.get(rt.redis, tenant, existing.id)
    name = f"GHL location {location_id}" if location_id else f"GHL agency {company_id}"
    return await connections.create(
        rt.redis, rt.vault, tenant=tenant, app="ghl", name=name, auth="oauth",
        secret=_secret_from(data), location_id=location_id, company_id=company_id)


async def _same_grant(rt: Runtime, tenant: str, location_id: str | None,
                      company_id: str | None) -> Connection | None:
    """The tenant's OAuth connection for the same location (or agency) from an earlier consent."""
    for conn in await connections.list_for(rt.redis, tenant):
        if conn.app != "ghl" or conn.auth != "oauth" or conn.location_id != location_id:
            continue
        if location_id is None and conn.company_id != company_id:
            continue
        full = await connections.load(rt.redis, conn.id, rt.vault)
        if full is not None and not full.secret.get("parent_id"):
            return full
    return None


async def mint_location_token(rt: Runtime, agency: Connection, location_id: str,
                              name: str | None = None) -> Connection:
    """A new location connection from an agency (Company) OAuth connection."""
    if agency.app != "ghl" or agency.auth != "oauth" or agency.location_id or not agency.company_id:
        raise _problem("conn_id", f"connection {agency.id} is not an agency (Company) OAuth "
                                  "connection; only those can mint location tokens", "path")
    data = await rt.upstream.tokens.location_token(agency, location_id)
    return await connections.create(
        rt.redis, rt.vault, tenant=agency.tenant, app="ghl", name=name or f"GHL location {location_id}",
        auth="oauth", secret=_secret_from(data, parent_id=agency.id),
        location_id=data.get("locationId") or location_id, company_id=agency.company_id)


# ----------------------------------------------------------------------------- refresh


class ConnectionNeedsReauth(UpstreamAuthError):
    """401 ``connection_needs_reauth``: GHL refused to refresh the connection's token; it must be
    authorized again."""

    code = "connection_needs_reauth"


def _reauth_error(conn: Connection, reason: str | None) -> UpstreamAuthError:
    return ConnectionNeedsReauth(
        f"connection {conn.id} needs re-authorization ({reason or 'its grant was revoked'}): "
        "authorize the same location (or agency) again with GET /v1/oauth/ghl/authorize: this "
        "connection is then renewed in place and its paused watches resume", status=401)


class TokenManager:
    """Keeps OAuth connections' access tokens fresh, one refresh at a time per connection."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def _due(self, conn: Connection) -> bool:
        expires_at = conn.secret.get("expires_at")
        return bool(expires_at) and float(expires_at) - self.rt.settings.oauth_refresh_margin_seconds <= time.time()

    async def before_send(self, conn: Connection) -> None:
        """Called before every attempt: refuse a connection that needs re-authorization and
        refresh a token that is about to expire."""
        if conn.auth != "oauth":
            return
        if conn.status == NEEDS_REAUTH:
            raise _reauth_error(conn, conn.status_reason)
        if self._due(conn):
            await self.refresh(conn)

    async def after_unauthorized(self, conn: Connection) -> bool:
        """After a 401: refresh once; True when the request should be sent again."""
        if conn.auth != "oauth":
            return False
        await self.refresh(conn, force=True)
        return True

    async def refresh(self, conn: Connection, *, force: bool = False) -> None:
        """Refresh ``conn``'s token under the connection's lock and update ``conn`` in place.

        A process that waited for the lock finds the pair another one stored and uses it."""
        rt = self.rt
        stale = conn.secret.get("access_token")
        lock = rt.redis.lock(keys.OAUTH_REFRESH_LOCK.format(conn_id=conn.id),
                             timeout=rt.settings.oauth_lock_seconds,
                             blocking_timeout=rt.settings.oauth_lock_seconds + 5)
        if not await lock.acquire():
            raise UpstreamUnavailable(f"timed out waiting for another process to refresh the token "
                                      f"of connection {conn.id}; try again", status=503)
        try:
            current = await connections.load(rt.redis, conn.id, rt.vault)
            if current is None:
                raise NotFound(f"connection {conn.id!r} was deleted", code="connection_not_found")
            if current.status == NEEDS_REAUTH:
                conn.status, conn.status_reason = current.status, current.status_reason
                raise _reauth_error(conn, current.status_reason)
            renewed = current.secret.get("access_token") != stale
            if not renewed and (force or self._due(current)):
                try:
                    current.secret = await self._grant(current)
                except ConnectionNeedsReauth:
                    metrics.TOKEN_REFRESHES.labels(outcome="revoked").inc()
                    raise
                except Exception:
                    metrics.TOKEN_REFRESHES.labels(outcome="failed").inc()
                    raise
                metrics.TOKEN_REFRESHES.labels(outcome="refreshed").inc()
                if not await connections.replace_secret(rt.redis, rt.vault, current.id, current.secret):
                    raise NotFound(f"connection {conn.id!r} was deleted", code="connection_not_found")
                log.info("refreshed the token of connection %s", conn.id)
            conn.secret = current.secret
        finally:
            try:
                await lock.release()
            except LockError:
                log.warning("the refresh lock of connection %s expired before it was released", conn.id)

    async def _grant(self, conn: Connection) -> dict[str, Any]:
        """A new secret for ``conn``: a refresh_token grant, or a new mint from its agency."""
        rt = self.rt
        parent_id = conn.secret.get("parent_id")
        if parent_id:
            parent = await connections.load(rt.redis, parent_id, rt.vault)
            if parent is None or parent.tenant != conn.tenant:
                await self.needs_reauth(conn, f"its agency connection {parent_id} was deleted")
                raise _reauth_error(conn, conn.status_reason)
            try:
                data = await self.location_token(parent, conn.location_id or "")
            except ConnectionNeedsReauth:
                await self.needs_reauth(conn, f"its agency connection {parent_id} needs "
                                              "re-authorization")
                raise _reauth_error(conn, conn.status_reason) from None
            return _secret_from(data, parent_id=parent_id)
        refresh_token = conn.secret.get("refresh_token")
        settings = rt.settings
        if not refresh_token:
            await self.needs_reauth(conn, "it holds no refresh token")
            raise _reauth_error(conn, conn.status_reason)
        require_configured(settings)
        form = {"client_id": settings.ghl_client_id,
                "client_secret": settings.ghl_client_secret.get_secret_value(),
                "grant_type": "refresh_token", "refresh_token": refresh_token}
        if conn.secret.get("user_type"):
            form["user_type"] = conn.secret["user_type"]
        try:
            data = await _token_request(rt, "/oauth/token", form)
        except _GrantRefused as exc:
            if exc.error == "invalid_grant":
                await self.needs_reauth(conn, "GoHighLevel refused the refresh token (invalid_grant: "
                                              "the app was uninstalled or the grant revoked)")
                raise _reauth_error(conn, conn.status_reason) from None
            raise UpstreamAuthError(f"GoHighLevel refused to refresh the token of connection "
                                    f"{conn.id} ({exc.error}); check GHL_CLIENT_ID and "
                                    "GHL_CLIENT_SECRET", status=401) from None
        secret = _secret_from(data)
        secret.setdefault("user_type", conn.secret.get("user_type", ""))
        return secret

    async def location_token(self, agency: Connection, location_id: str) -> dict[str, Any]:
        """Mint a location token with the agency's access token (refreshing it once on a 401)."""
        await self.before_send(agency)
        for attempt in (1, 2):
            try:
                return await _token_request(
                    self.rt, "/oauth/locationToken",
                    {"companyId": agency.company_id or "", "locationId": location_id},
                    headers={"Authorization": f"Bearer {agency.secret['access_token']}",
                             "Version": LOCATION_TOKEN_VERSION})
            except _GrantRefused as exc:
                if exc.error == "invalid_token" and attempt == 1:
                    await self.refresh(agency, force=True)
                    continue
                raise _problem("location_id", f"GoHighLevel refused a token for location "
                                              f"{location_id!r} ({exc.error}"
                                              f"{': ' + exc.description if exc.description else ''})",
                               "body") from None
        raise AssertionError("unreachable")

    async def needs_reauth(self, conn: Connection, reason: str) -> None:
        """Mark the connection and pause its watches, with the reason visible on them."""
        conn.status, conn.status_reason = NEEDS_REAUTH, reason
        await connections.set_status(self.rt.redis, conn.id, NEEDS_REAUTH, reason)
        log.warning("connection %s needs re-authorization: %s", conn.id, reason)
        await self.rt.hooks.connection_paused(self.rt, conn.id,
                                              f"connection needs re-authorization: {reason}")
