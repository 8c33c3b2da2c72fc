"""Request size limit: bodies over ENGINE_MAX_BODY_BYTES are refused with 413 before they are
read in full (by Content-Length when sent, else while the body streams in)."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send


def _error(limit: int) -> bytes:
    return json.dumps({"error": {
        "code": "request_too_large",
        "message": f"request body is larger than {limit} bytes (ENGINE_MAX_BODY_BYTES); send less",
        "details": {"max_bytes": limit}}}).encode()


class BodySizeLimit:
    """ASGI middleware: refuses a request body over ``max_bytes`` (bytes, ENGINE_MAX_BODY_BYTES)
    with 413 ``request_too_large``."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def _refuse(self, send: Send) -> None:
        body = _error(self.max_bytes)
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI entry: a Content-Length over the limit is refused before the body is read; a
        body without one is counted as it streams in and refused once past the limit."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    too_large = int(value) > self.max_bytes
                except ValueError:
                    too_large = False
                if too_large:
                    await self._refuse(send)
                    return
        if any(name == b"content-length" for name, _ in scope.get("headers", ())):
            await self.app(scope, receive, send)  # the server holds the body to its length
            return
        # no Content-Length (chunked): read up to the limit here, then hand the body on
        chunks: list[bytes] = []
        seen = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > self.max_bytes:
                await self._refuse(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        await self.app(scope, replaying(b"".join(chunks), receive), send)


def replaying(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands a body already read to the app, then the real stream's events."""
    delivered = False

    async def replay() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
