"""GHL's OAuth 2.0 endpoints, as the official documents describe them.

- ``GET /oauth/chooselocation`` (and ``/v2/oauth/chooselocation``): the consent page. The
  stand-in grants at once and redirects to ``redirect_uri`` with ``code`` and ``state``. The
  installing account is the configured one (``PUT /_sandbox/oauth``), or ``user_type``,
  ``location_id`` and ``company_id`` given in the query.
- ``POST /oauth/token`` (form): ``authorization_code`` and ``refresh_token`` grants. Codes and
  refresh tokens are single-use; a refresh token rotates on every use and the old one then
  answers ``400 {"error": "invalid_grant"}``. Access tokens live ``access_ttl`` seconds (a day
  by default).
- ``POST /oauth/locationToken`` (form ``companyId``, ``locationId``; Bearer agency token,
  ``Version`` header): a location access token without a refresh token.

Control routes: ``GET /_sandbox/oauth`` (settings and counters: ``refreshes`` among them),
``PUT /_sandbox/oauth`` (settings), ``POST /_sandbox/oauth/expire`` (expire access tokens now),
``POST /_sandbox/oauth/revoke`` (invalidate every refresh token, as an uninstall does).
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

CLIENT_ID = "sandbox-client-id"
CLIENT_SECRET = "sandbox-client-secret"


@dataclass
class OAuthSandbox:
    tokens: dict[str, dict[str, Any]]  # the GHL stand-in's live access tokens (shared)
    default_location: str
    default_company: str
    client_id: str = CLIENT_ID
    client_secret: str = CLIENT_SECRET
    access_ttl: float = 86399
    user_type: str = "Location"
    location_id: str = ""
    company_id: str = ""
    refresh_latency_ms: float = 0.0
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    refresh_tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        with self.lock:
            self.client_id, self.client_secret = CLIENT_ID, CLIENT_SECRET
            self.access_ttl, self.user_type, self.refresh_latency_ms = 86399, "Location", 0.0
            self.location_id, self.company_id = self.default_location, self.default_company
            self.codes.clear()
            self.refresh_tokens.clear()
            self.counters = {"codes_issued": 0, "codes_exchanged": 0, "refreshes": 0,
                             "refresh_refused": 0, "location_tokens": 0}

    def _issue(self, grant: dict[str, Any], with_refresh: bool = True) -> dict[str, Any]:
        access = "eyJsandbox." + secrets.token_urlsafe(24) + ".sig"
        self.tokens[access] = {"location_id": grant["location_id"], "company_id": grant["company_id"],
                               "user_type": grant["user_type"],
                               "expires_at": time.time() + self.access_ttl}
        out = {"access_token": access, "token_type": "Bearer", "expires_in": self.access_ttl,
               "scope": grant.get("scope", ""), "userType": grant["user_type"],
               "companyId": grant["company_id"], "userId": "usr_sandbox0000000001"}
        if grant["user_type"] == "Location":
            out["locationId"] = grant["location_id"]
        else:
            out["approvedLocations"] = [self.default_location]
        if with_refresh:
            refresh = "rt-" + secrets.token_urlsafe(24)
            self.refresh_tokens[refresh] = dict(grant)
            out["refresh_token"] = refresh
        return out


async def _form(request: Request) -> dict[str, str]:
    """An application/x-www-form-urlencoded body, as GHL's OAuth endpoints take."""
    raw = (await request.body()).decode("utf-8", "replace")
    return {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}


def _oauth_error(status: int, error: str, description: str) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


def install(app: FastAPI, tokens: dict[str, dict[str, Any]], default_location: str,
            default_company: str) -> OAuthSandbox:
    """Add the OAuth routes to the GHL stand-in (before its catch-all API route)."""
    oauth = OAuthSandbox(tokens=tokens, default_location=default_location,
                         default_company=default_company)
    oauth.reset()
    app.state.sandbox_oauth = oauth

    @app.get("/oauth/chooselocation")
    @app.get("/v2/oauth/chooselocation")
    async def chooselocation(request: Request) -> Response:
        q = request.query_params
        if q.get("response_type") != "code":
            return _oauth_error(400, "unsupported_response_type", "response_type must be code")
        if q.get("client_id") != oauth.client_id:
            return _oauth_error(400, "invalid_client", "unknown client_id")
        redirect_uri = q.get("redirect_uri")
        if not redirect_uri:
            return _oauth_error(400, "invalid_request", "redirect_uri is required")
        user_type = q.get("user_type") or oauth.user_type
        with oauth.lock:
            code = secrets.token_urlsafe(20)
            oauth.codes[code] = {
                "user_type": user_type, "scope": q.get("scope", ""),
                "location_id": (q.get("location_id") or oauth.location_id) if user_type == "Location" else None,
                "company_id": q.get("company_id") or oauth.company_id,
                "redirect_uri": redirect_uri, "expires_at": time.time() + 600}
            oauth.counters["codes_issued"] += 1
        params = {"code": code}
        if q.get("state") is not None:
            params["state"] = q["state"]
        sep = "&" if "?" in redirect_uri else "?"
        return RedirectResponse(redirect_uri + sep + urlencode(params), status_code=302)

    @app.post("/oauth/token")
    async def token(request: Request) -> Response:
        form = await _form(request)
        if form.get("client_id") != oauth.client_id or form.get("client_secret") != oauth.client_secret:
            return _oauth_error(401, "invalid_client", "client authentication failed")
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            with oauth.lock:
                grant = oauth.codes.pop(str(form.get("code") or ""), None)
                if grant is None or grant["expires_at"] < time.time():
                    return _oauth_error(400, "invalid_grant", "the authorization code is invalid, "
                                                              "expired or already used")
                if form.get("redirect_uri") and form.get("redirect_uri") != grant["redirect_uri"]:
                    return _oauth_error(400, "invalid_grant", "redirect_uri does not match")
                oauth.counters["codes_exchanged"] += 1
                issued = oauth._issue(grant)
            _push_install(app, grant)
            return JSONResponse(issued)
        if grant_type == "refresh_token":
            if oauth.refresh_latency_ms:
                await asyncio.sleep(oauth.refresh_latency_ms / 1000)
            with oauth.lock:
                grant = oauth.refresh_tokens.pop(str(form.get("refresh_token") or ""), None)
                if grant is None:
                    oauth.counters["refresh_refused"] += 1
                    return _oauth_error(400, "invalid_grant", "Invalid grant: refresh token is "
                                                              "invalid, expired or already used")
                oauth.counters["refreshes"] += 1
                return JSONResponse(oauth._issue(grant))
        return _oauth_error(400, "unsupported_grant_type", "grant_type must be authorization_code "
                                                           "or refresh_token")

    @app.post("/oauth/locationToken")
    async def location_token(request: Request) -> Response:
        auth = request.headers.get("authorization", "")
        agency = tokens.get(auth[7:] if auth.startswith("Bearer ") else "")
        if agency is None or agency.get("expires_at", float("inf")) <= time.time():
            return JSONResponse({"statusCode": 401, "message": "Invalid JWT", "error": "Unauthorized"},
                                status_code=401)
        if not request.headers.get("version"):
            return JSONResponse({"statusCode": 400, "message": "version header was not found",
                                 "error": "Bad Request"}, status_code=400)
        if agency.get("user_type") != "Company":
            return JSONResponse({"statusCode": 401, "message": "This route is not yet supported "
                                 "by the IAM Service", "error": "Unauthorized"}, status_code=401)
        form = await _form(request)
        location_id, company_id = form.get("locationId"), form.get("companyId")
        if not location_id or company_id != agency["company_id"]:
            return JSONResponse({"statusCode": 400, "message": "companyId and locationId are "
                                 "required and must belong to the token's company",
                                 "error": "Bad Request"}, status_code=400)
        with oauth.lock:
            oauth.counters["location_tokens"] += 1
            data = oauth._issue({"user_type": "Location", "location_id": str(location_id),
                                 "company_id": agency["company_id"]}, with_refresh=False)
        data.pop("userType", None)
        return JSONResponse(data)

    # ----------------------------------------------------------------- control

    @app.get("/_sandbox/oauth")
    async def _show() -> dict:
        return {"client_id": oauth.client_id, "access_ttl": oauth.access_ttl,
                "user_type": oauth.user_type, "location_id": oauth.location_id,
                "company_id": oauth.company_id, "refresh_latency_ms": oauth.refresh_latency_ms,
                "live_refresh_tokens": len(oauth.refresh_tokens), **oauth.counters}

    @app.put("/_sandbox/oauth")
    async def _config(request: Request) -> dict:
        body = await request.json()
        if body.get("reset"):
            oauth.reset()
        for name in ("client_id", "client_secret", "access_ttl", "user_type", "location_id",
                     "company_id", "refresh_latency_ms"):
            if name in body:
                setattr(oauth, name, body[name])
        return await _show()

    @app.post("/_sandbox/oauth/expire")
    async def _expire(request: Request) -> dict:
        """Expire one access token (``{"access_token": ...}``) or every OAuth one."""
        body = await request.json() if await request.body() else {}
        wanted = body.get("access_token")
        n = 0
        for tok, info in list(tokens.items()):
            if "expires_at" in info and (wanted is None or tok == wanted):
                info["expires_at"] = 0
                n += 1
        return {"expired": n}

    @app.post("/_sandbox/oauth/uninstall")
    async def _uninstall(request: Request) -> dict:
        """Uninstall the app from a location (``{"location_id"}``) or an agency
        (``{"company_id"}``): its tokens stop working and an UNINSTALL event is pushed."""
        body = await request.json() if await request.body() else {}
        loc, cmp = body.get("location_id"), body.get("company_id")
        n = 0
        with oauth.lock:
            for tok, info in list(tokens.items()):
                if "expires_at" in info and ((loc and info.get("location_id") == loc) or
                                             (cmp and info.get("company_id") == cmp)):
                    del tokens[tok]
                    n += 1
            for rt_, grant in list(oauth.refresh_tokens.items()):
                if (loc and grant.get("location_id") == loc) or (cmp and grant.get("company_id") == cmp):
                    del oauth.refresh_tokens[rt_]
        event = {"type": "UNINSTALL", "appId": oauth.client_id}
        event.update({"locationId": loc} if loc else {"companyId": cmp})
        app.state.sandbox.pusher.send(event)
        return {"revoked": n}

    @app.post("/_sandbox/oauth/revoke")
    async def _revoke_all() -> dict:
        with oauth.lock:
            n = len(oauth.refresh_tokens)
            oauth.refresh_tokens.clear()
        return {"revoked": n}

    return oauth


def _push_install(app: FastAPI, grant: dict[str, Any]) -> None:
    """GHL's AppInstall event after a consent, a moment after the code exchange (as GHL sends it
    on its own schedule): a Company install names the location the app was installed on."""
    state = getattr(app.state, "sandbox", None)
    if state is None:
        return
    company = grant["user_type"] == "Company"
    location = grant.get("location_id") or (app.state.sandbox_oauth.default_location if company
                                            else None)
    state.pusher.send({"type": "INSTALL", "appId": app.state.sandbox_oauth.client_id,
                       "installType": "Company" if company else "Location",
                       "locationId": location, "companyId": grant["company_id"],
                       "userId": "usr_sandbox0000000001", "companyName": "Sandbox Agency"},
                      delay_s=0.2)


def expired(info: dict[str, Any] | None) -> bool:
    """True for an OAuth access token past its lifetime (private tokens never expire)."""
    return info is not None and info.get("expires_at", float("inf")) <= time.time()
