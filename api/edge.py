"""Input sanitation at the edge, before any route runs.

A JSON body holding a string with a NUL or a lone UTF-16 surrogate (``"\\ud800"``), or a number
that is not finite (``NaN``, ``Infinity``, ``1e999``), is refused with a 422 naming the field.
Such values cannot be stored, signed, sent upstream or rendered back as JSON by every client,
so nothing may be stored from them. The same holds for NUL and control characters in the URL
path and for NUL or surrogates in the query string. A JSON body nested deeper than
``MAX_DEPTH`` levels, holding an integer of thousands of digits, or sent as JSON but not
UTF-8, is refused the same way (422 naming ``body``): parsing it deeper in a route's stack ran out of recursion (a 500 on the token URLs
that parse pushed bodies themselves, a bare 400 elsewhere).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, Iterator
from urllib.parse import parse_qsl, unquote

from starlette.types import ASGIApp, Receive, Scope, Send

from api.limits import replaying

_BAD_TEXT = re.compile(r"[\x00\ud800-\udfff]")
_BAD_PATH = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")
MAX_DEPTH = 64
"""How deep objects and lists may nest in a JSON body (GHL's own bodies nest a few levels)."""


class _NonFinite:
    """A parsed number that is not finite (kept as a marker so the field can be named)."""

    def __init__(self, text: str) -> None:
        self.text = text


def _parse_float(text: str) -> Any:
    value = float(text)
    return value if math.isfinite(value) else _NonFinite(text)


def _problems(value: Any, path: str) -> Iterator[dict[str, str]]:
    if isinstance(value, _NonFinite):
        yield {"field": path or "body", "location": "body",
               "message": f"{value.text} is not a finite number; send a number JSON can hold"}
    elif isinstance(value, str):
        if _BAD_TEXT.search(value):
            yield {"field": path or "body", "location": "body",
                   "message": "text holds a NUL character or a lone UTF-16 surrogate; "
                              "send valid Unicode text without NUL"}
    elif isinstance(value, dict):
        for key, item in value.items():
            name = f"{path}.{key}" if path else str(key)
            if _BAD_TEXT.search(key):
                yield {"field": name.encode("ascii", "backslashreplace").decode(),
                       "location": "body",
                       "message": "field name holds a NUL character or a lone UTF-16 surrogate"}
                continue
            yield from _problems(item, name)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _problems(item, f"{path}.{index}" if path else str(index))


def body_problems(raw: bytes) -> list[dict[str, str]]:
    """Every unsafe value in a JSON body, as ``{"field", "location", "message"}`` (field is a
    dotted path such as ``input.firstName``); [] when the body is safe or not JSON at all
    (malformed JSON is left to the route's own validation)."""
    if not raw:
        return []
    try:
        parsed = json.loads(raw, parse_float=_parse_float, parse_constant=_NonFinite)
    except RecursionError:
        return [_too_deep("")]
    except (json.JSONDecodeError, UnicodeDecodeError):
        return []  # malformed JSON or not text: the route's own validation says where
    except ValueError:  # an integer longer than Python reads (4,300 digits)
        return [{"field": "body", "location": "body",
                 "message": "a number in the JSON body has more digits than can be read; "
                            "send it as text"}]
    deep = _too_deep_at(parsed)
    if deep is not None:
        return [_too_deep(deep)]
    return list(_problems(parsed, ""))[:20]


def _too_deep(where: str) -> dict[str, str]:
    at = f" (at {where[:200]})" if where else ""
    return {"field": "body", "location": "body",
            "message": f"the JSON body is nested more than {MAX_DEPTH} levels deep{at}; "
                       "send a flatter body"}


def _too_deep_at(parsed: Any) -> str | None:
    """The dotted path where ``parsed`` nests past MAX_DEPTH, else None (walked without
    recursion, so any depth the parser accepted is measured safely)."""
    stack: list[tuple[Any, str, int]] = [(parsed, "", 0)]
    while stack:
        value, path, depth = stack.pop()
        if not isinstance(value, (dict, list)):
            continue
        if depth >= MAX_DEPTH:
            return path
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            if isinstance(item, (dict, list)):
                stack.append((item, f"{path}.{key}" if path else str(key), depth + 1))
    return None


def _not_utf8(raw: bytes) -> list[dict[str, str]]:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return [{"field": "body", "location": "body",
                 "message": f"the JSON body is not valid UTF-8 (byte {exc.start}); send it "
                            "encoded as UTF-8"}]
    return []


def url_problems(path: str, query_string: bytes) -> list[dict[str, str]]:
    """Control characters in the decoded path, NUL or lone surrogates in query values."""
    out = []
    if _BAD_PATH.search(path):
        out.append({"field": "path", "location": "path",
                    "message": "the URL path holds a control character; remove it"})
    try:
        pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True,
                          errors="surrogatepass")
    except (UnicodeDecodeError, ValueError):
        pairs = []
    for name, value in pairs:
        if _BAD_TEXT.search(name) or _BAD_TEXT.search(value):
            clean = unquote(name, errors="replace")
            out.append({"field": _BAD_TEXT.sub("?", clean), "location": "query",
                        "message": "holds a NUL character or invalid text; remove it"})
    return out


def refusal(problems: list[dict[str, str]]) -> dict[str, Any]:
    """The error answer for these problems: ``{"error": {"code": "invalid_request", "message",
    "details"}}``, its message naming each field."""
    names = ", ".join(p["field"] for p in problems)
    return {"error": {"code": "invalid_request", "message": f"invalid request: {names}",
                      "details": problems}}


def _refusal(problems: list[dict[str, str]]) -> bytes:
    return json.dumps(refusal(problems)).encode()


def _is_json(scope: Scope) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            return b"json" in value.lower()
    return False


class EdgeSanitation:
    """ASGI middleware: refuse unsafe text and numbers before the app sees the request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def _refuse(self, send: Send, problems: list[dict[str, str]]) -> None:
        body = _refusal(problems)
        await send({"type": "http.response.start", "status": 422,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI entry: an HTTP request whose path, query string or (POST, PUT, PATCH, DELETE)
        JSON body holds unsafe text or a non-finite number, nests past MAX_DEPTH or is sent as
        JSON but is not UTF-8, gets a 422 ``invalid_request`` naming each place; any other
        passes on unchanged, its body replayed to the app."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        problems = url_problems(scope.get("path", ""), scope.get("query_string", b""))
        if problems:
            await self._refuse(send, problems)
            return
        if scope["method"] not in ("POST", "PUT", "PATCH", "DELETE"):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:  # the body is already bounded by BodySizeLimit, outside this middleware
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        problems = body_problems(body)
        if not problems and _is_json(scope):
            problems = _not_utf8(body)
        if problems:
            await self._refuse(send, problems)
            return
        await self.app(scope, replaying(body, receive), send)
