"""App-level defaults: base URL and request signing for each upstream app.

Specs say only what differs per operation (path, Version, scopes); everything an app shares
lives here, once. An app's ``authorize`` adds credentials to a request just before it is sent
(each retry is signed anew).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Awaitable, Callable

import httpx

from engine.accounts.connections import Connection
from engine.core.settings import Settings
from engine.upstream import smsglobal
from engine.upstream.call import Call

Authorizer = Callable[[httpx.Request, Connection], Awaitable[None]]


@dataclass(frozen=True)
class App:
    """How one upstream app is called: ``base_url`` from the settings, ``authorize`` (signs a
    request in place for a connection), a ``label`` for messages, ``test_call`` (the cheapest
    call proving credentials work), the statuses meaning bad credentials and the help told then."""

    name: str
    base_url: Callable[[Settings], str]
    authorize: Authorizer
    label: str
    test_call: Callable[[Connection], Call]
    auth_failure_statuses: tuple[int, ...] = (401,)  # statuses that mean "bad credentials"
    auth_help: str = ""  # what to do about them, told to the caller


async def _ghl_bearer(request: httpx.Request, conn: Connection) -> None:
    request.headers["Authorization"] = f"Bearer {conn.secret['access_token']}"


def _ghl_test_call(conn: Connection) -> Call:
    """The cheapest real call that proves a token works for its location (or company)."""
    if conn.location_id:
        return Call(method="GET", path=f"/locations/{conn.location_id}", version="2021-07-28")
    return Call(method="GET", path=f"/companies/{conn.company_id}", version="2021-07-28")


GHL = App(name="ghl", label="GoHighLevel", base_url=lambda s: s.ghl_base_url,
          authorize=_ghl_bearer, test_call=_ghl_test_call)

SMSGLOBAL = App(name="smsglobal", label="SMSGlobal", base_url=lambda s: s.smsglobal_base_url,
                authorize=smsglobal.authorize, test_call=smsglobal.test_call,
                auth_failure_statuses=(401, 403), auth_help=smsglobal.AUTH_HELP)

# every upstream app, by the ``app`` name specs and connections use
APPS: dict[str, App] = {app.name: app for app in (GHL, SMSGLOBAL)}
