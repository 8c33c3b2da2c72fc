"""One raw GHL request, for endpoints the catalog has no operation for.

``POST /v1/ghl/request`` {connection_id, method, path, query, body, version} sends the request
with the connection's credentials through the same client as every operation (rate budget,
retries, token refresh, error shapes). Only the GHL API base URL is reachable: the path is a
path and nothing else (no scheme, host, ``..`` segment, query, fragment or encoded slash), and
the client joins it to the base URL itself.
"""

from __future__ import annotations

import re
from typing import Any

from engine.core.errors import InputInvalid
from engine.upstream.call import Call

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
# the Version header values of GHL's v2 documents (apps/*.json)
VERSIONS = ("2021-07-28", "2021-04-15")
DEFAULT_VERSION = "2021-07-28"
MAX_PATH_CHARS = 2000
_SEGMENT = re.compile(r"^[A-Za-z0-9._~!$&'()*+,;=:@%-]*$")
_ENCODED = re.compile(r"%(2e|2f|5c|00|3f|23)", re.IGNORECASE)  # . / \ NUL ? #


def _bad(field: str, message: str) -> InputInvalid:
    return InputInvalid([{"field": field, "location": "body", "message": message}])


def check_path(path: str) -> str:
    """``path`` when it is a plain path under the GHL API base URL.

    :raises InputInvalid: naming ``path`` and what to change.
    """
    if not isinstance(path, str) or not path.startswith("/") or path.startswith("//"):
        raise _bad("path", "must be a path on the GHL API starting with one '/', e.g. "
                           "'/contacts/ocQHyuzHvysMo5N5VsXc' (no scheme or host)")
    if len(path) > MAX_PATH_CHARS:
        raise _bad("path", f"must be at most {MAX_PATH_CHARS} characters")
    if "?" in path or "#" in path:
        raise _bad("path", "must not hold a query or fragment: put query parameters in 'query'")
    if _ENCODED.search(path):
        raise _bad("path", "must not hold an encoded '.', '/', '\\', '?', '#' or NUL (%2e, %2f, "
                           "%5c, %3f, %23, %00)")
    for segment in path[1:].split("/"):
        if segment in (".", ".."):
            raise _bad("path", "must not hold '.' or '..' segments")
        if not _SEGMENT.match(segment):
            raise _bad("path", "holds a character a URL path cannot: percent-encode it")
    return path


def _query(query: dict[str, Any] | None) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for name, value in (query or {}).items():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, (dict, list)):
                raise _bad(f"query.{name}", "must be a string, number, boolean or a list of them")
            if item is None:
                continue
            out.append((name, str(item).lower() if isinstance(item, bool) else item))
    return out


def build_call(method: str, path: str, query: dict[str, Any] | None, body: Any,
               version: str | None) -> Call:
    """The upstream call of one passthrough request.

    :param method: GET, POST, PUT, PATCH or DELETE.
    :param path: the path under the GHL API base URL, parameters filled in.
    :param query: query parameters; a list value repeats the parameter.
    :param body: the JSON body (not for GET).
    :param version: the ``Version`` header, one of :data:`VERSIONS` (default 2021-07-28).
    :raises InputInvalid: naming the field (``method``, ``path``, ``query.<name>``, ``body``,
        ``version``).
    """
    method = str(method or "").upper()
    if method not in METHODS:
        raise _bad("method", f"must be one of {', '.join(METHODS)}")
    version = version or DEFAULT_VERSION
    if version not in VERSIONS:
        raise _bad("version", f"must be one of {', '.join(VERSIONS)} (the Version header of "
                              "the GHL v2 endpoint, as its documentation gives it)")
    if body is not None and method == "GET":
        raise _bad("body", "a GET request has no body: put its parameters in 'query'")
    return Call(method=method, path=check_path(path), version=version, query=_query(query),
                body=body, safe_to_retry=method in ("GET", "PUT", "DELETE"))
