"""Request ids: every request gets one (the caller's ``X-Request-Id`` when it sends a sane one),
every log line written while it is handled carries it, and the answer returns it in
``X-Request-Id`` so a caller can quote it."""

from __future__ import annotations

import re
import secrets

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from engine.core import logs

_SANE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class RequestIds:
    """ASGI middleware: gives each HTTP request its id and binds it to the request's log lines."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI entry: the caller's ``X-Request-Id`` when it is 1–64 of ``[A-Za-z0-9._:-]``, else
        ``req_`` + 16 hex digits; the answer carries it back in ``X-Request-Id``."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers", ())).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _SANE.match(given) else "req_" + secrets.token_hex(8)
        logs.clear()
        logs.bind(request_id=request_id)

        async def with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []),
                                      (b"x-request-id", request_id.encode())]
            await send(message)

        await self.app(scope, receive, with_id)
