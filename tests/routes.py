"""The API's routes, enumerated from the app itself so that routes added later are covered."""

from __future__ import annotations

import re
from dataclasses import dataclass

from fastapi import FastAPI


@dataclass(frozen=True)
class RouteInfo:
    method: str
    path: str
    params: tuple[str, ...]
    has_body: bool
    endpoint_name: str


def v1_routes(app: FastAPI) -> list[RouteInfo]:
    try:
        from fastapi.routing import iter_route_contexts
        contexts = list(iter_route_contexts(app.routes))
    except ImportError:  # older FastAPI: app.routes are the routes themselves
        contexts = list(app.routes)
    out = []
    for route in contexts:
        path = getattr(route, "path", None)
        if not path or not path.startswith("/v1/"):
            continue
        body_field = getattr(route, "body_field", None)
        endpoint = getattr(route, "endpoint", None)
        for method in sorted(getattr(route, "methods", None) or ()):
            if method == "HEAD":
                continue
            out.append(RouteInfo(method, path, tuple(re.findall(r"\{([^}:]+)", path)),
                                 body_field is not None, getattr(endpoint, "__name__", "?")))
    assert out, "no /v1 routes found"
    return out


def fill(path: str, values: dict[str, str]) -> str:
    return re.sub(r"\{([^}:]+)(:[^}]*)?\}", lambda m: values[m.group(1)], path)
