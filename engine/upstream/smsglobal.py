"""SMSGlobal's MAC request signing, and its app defaults (registered in :mod:`engine.upstream.apps`).

Every SMSGlobal REST request carries one header::

    Authorization: MAC id="<api key>", ts="<unix seconds>", nonce="<single-use>", mac="<base64>"

where ``mac`` is base64(HMAC-SHA256(api secret, signed)) and ``signed`` is seven fields, each
followed by one LF::

    ts \\n nonce \\n METHOD \\n REQUEST_URI \\n HOST \\n PORT \\n <empty extra> \\n

REQUEST_URI is the path exactly as sent (with the ``/v2`` prefix) plus ``?`` and the query string
exactly as sent, when there is one. The body is not signed. A nonce may be used only once and
``ts`` must be close to the server's clock, so a request is signed anew for every attempt.

    >>> mac("a8dfa0dc19c7439914c74c6c92a95d25", ts="1471398353", nonce="1174249", method="GET",
    ...     request_uri="/v2/sms/", host="api.smsglobal.com", port=443)
    'iX34qsNi2hqcoeNVtA/W5D+Hj6eMO3mIThfcYNJPaPM='
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time

import httpx

from engine.upstream.call import Call

DEFAULT_PORTS = {"https": 443, "http": 80}
HEADER_RE = re.compile(r'^MAC\s+id="([^"]*)",\s*ts="([^"]*)",\s*nonce="([^"]*)",\s*mac="([^"]*)"\s*$')


def signed_string(*, ts: str, nonce: str, method: str, request_uri: str, host: str,
                  port: int | str) -> str:
    """The exact text that is signed: seven LF-terminated fields, the last (extra) empty."""
    return f"{ts}\n{nonce}\n{method.upper()}\n{request_uri}\n{host}\n{port}\n\n"


def mac(secret: str, *, ts: str, nonce: str, method: str, request_uri: str, host: str,
        port: int | str) -> str:
    """base64(HMAC-SHA256(secret, signed string)), standard alphabet with padding."""
    text = signed_string(ts=ts, nonce=nonce, method=method, request_uri=request_uri, host=host,
                         port=port)
    digest = hmac.new(secret.encode(), text.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def header(key: str, *, ts: str, nonce: str, mac_value: str) -> str:
    """The Authorization header value ``MAC id="<key>", ts="<ts>", nonce="<nonce>", mac="<mac>"``
    (SMSGlobal REST API, MAC authentication; API notes section 2)."""
    return f'MAC id="{key}", ts="{ts}", nonce="{nonce}", mac="{mac_value}"'


def parse_header(value: str) -> dict[str, str] | None:
    """The four fields of a MAC Authorization header, or None when it is not one."""
    m = HEADER_RE.match(value or "")
    if not m:
        return None
    return dict(zip(("id", "ts", "nonce", "mac"), m.groups()))


def request_uri(url: httpx.URL) -> str:
    """Path plus ``?query`` exactly as they go on the wire (``raw_path`` is both, encoded)."""
    return url.raw_path.decode("ascii")


def sign_request(request: httpx.Request, key: str, secret: str, *, ts: str | None = None,
                 nonce: str | None = None) -> None:
    """Put a fresh MAC Authorization header on ``request`` (new ts and nonce each time)."""
    url = request.url
    ts = ts or str(int(time.time()))
    nonce = nonce or secrets.token_hex(16)  # 32 hex characters, the documented maximum
    port = url.port or DEFAULT_PORTS.get(url.scheme, 443)
    value = mac(secret, ts=ts, nonce=nonce, method=request.method, request_uri=request_uri(url),
                host=url.host, port=port)
    request.headers["Authorization"] = header(key, ts=ts, nonce=nonce, mac_value=value)


async def authorize(request: httpx.Request, conn) -> None:
    """Sign ``request`` in place with the connection's ``api_key`` and ``api_secret`` (a fresh ts
    and nonce)."""
    sign_request(request, conn.secret["api_key"], conn.secret["api_secret"])


def test_call(conn) -> Call:
    """The cheapest real call that proves a key and secret work: the credit balance."""
    return Call(method="GET", path="/v2/user/credit-balance")


AUTH_HELP = ("SMSGlobal refused the request signature: check the connection's API key and "
             "secret (MXT > Integrations > REST API keys) and that this server's clock is right.")
