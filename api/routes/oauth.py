"""GHL OAuth 2.0: connect a location or agency by consent instead of a pasted token.

``GET /v1/oauth/ghl/authorize`` (with an API key) redirects to GHL's chooselocation page;
GHL sends the browser back to ``GET /v1/oauth/ghl/callback?code&state``, which needs no API
key: the signed, single-use ``state`` names the tenant. An agency connection mints location
connections with ``POST /v1/connections/{conn_id}/location-token``.
"""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, Cookie, Depends, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import ConfigDict, Field

from api.deps import runtime, writer
from api.models import Strict
from engine.accounts import connections
from engine.accounts.tenants import Principal
from engine.core.errors import InputInvalid
from engine.oauth import tokens as oauth
from engine.runtime import Runtime

router = APIRouter(prefix="/v1", tags=["oauth"])


@router.get("/oauth/ghl/authorize", status_code=302, response_class=RedirectResponse,
            responses={302: {"description": "Redirect to GHL's chooselocation consent page"}})
async def authorize(request: Request, who: Principal = Depends(writer),
                    rt: Runtime = Depends(runtime),
                    redirect: bool = Query(True, description="false: answer the URL as JSON "
                                                             "instead of redirecting")) -> Any:
    """Start connecting a GHL location or agency by OAuth consent: redirects to GHL's consent
    page, setting the cookie that binds the consent to this browser."""
    browser_secret = secrets.token_urlsafe(32)
    url = await oauth.authorize_url(rt, who.tenant, who.key_id, browser_secret)
    if not redirect:
        answer: Any = JSONResponse({"authorize_url": url,
                                    "expires_in": rt.settings.oauth_state_ttl_seconds})
    else:
        answer = RedirectResponse(url, status_code=302)
    # the consent can be completed only by the browser holding this cookie (Lax: it is sent on
    # GHL's top-level redirect back to the callback)
    answer.set_cookie(oauth.BROWSER_COOKIE, browser_secret, max_age=rt.settings.oauth_state_ttl_seconds,
                      path="/v1/oauth/ghl/", httponly=True, samesite="lax",
                      secure=request.url.scheme == "https")
    return answer


@router.get("/oauth/ghl/callback", status_code=201)
async def callback(rt: Runtime = Depends(runtime),
                   code: str | None = Query(None, max_length=2000),
                   state: str = Query(..., min_length=1, max_length=4000),
                   error: str | None = Query(None, max_length=200),
                   browser: str = Cookie("", alias=oauth.BROWSER_COOKIE, max_length=200,
                                         include_in_schema=False)) -> dict[str, Any]:
    """GHL's redirect after consent: exchanges the code and stores (or renews) the connection;
    only the browser that started the consent (its cookie) may complete it."""
    tenant = await oauth.consume_state(rt, state, browser)
    if error or not code:
        raise InputInvalid([{"field": "code", "location": "query",
                             "message": f"GoHighLevel returned no authorization code"
                                        f"{' (' + error + ')' if error else ''}: the installation "
                                        "was declined or failed; start again with GET "
                                        "/v1/oauth/ghl/authorize"}])
    conn = await oauth.complete(rt, tenant, code)
    return conn.public()


class LocationTokenIn(Strict):
    """The sub-account (location) to mint a location token for from an agency connection (GHL:
    Get Location Access Token from Agency Token, POST /oauth/locationToken), and the new
    connection's name."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"location_id": "ve9EPM428h8vShlRW1KT", "name": "Acme Dental"}]})
    location_id: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_-]+$",
                             description="The sub-account (location) to mint a token for.")
    name: str | None = Field(None, min_length=1, max_length=200)


@router.post("/connections/{conn_id}/location-token", status_code=201)
async def location_token(conn_id: str, body: LocationTokenIn, who: Principal = Depends(writer),
                         rt: Runtime = Depends(runtime)) -> dict[str, Any]:
    """Mint a location connection from an agency OAuth connection."""
    agency = await connections.get(rt.redis, who.tenant, conn_id, rt.vault)
    conn = await oauth.mint_location_token(rt, agency, body.location_id, body.name)
    return conn.public()
