"""One error shape everywhere: {"error": {"code", "message", "details"}}."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError as RedisReadOnlyError
from redis.exceptions import TimeoutError as RedisTimeoutError
from api.models import FieldError
from api.responses import SafeJSONResponse as JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from engine.core.errors import EngineError, RateLimited

log = logging.getLogger("api")

STORE_RETRY_AFTER_SECONDS = 5
"""Retry-After of the 503 answered while Redis is unreachable."""


def error_response(status: int, code: str, message: str, details=None, headers=None) -> JSONResponse:
    """The JSON answer ``{"error": {"code", "message", "details"}}`` with this HTTP status and
    optional extra headers (a dict of str)."""
    return JSONResponse({"error": {"code": code, "message": message, "details": details}},
                        status_code=status, headers=headers)


# tags of the request bodies that are unions (api.models.ConnectionIn): not part of a field name
UNION_TAGS = ("ghl", "smsglobal")


def _field(loc: tuple) -> str:
    parts = [str(p) for p in loc]
    if parts[:1] == ["body"]:
        parts = parts[1:]
        if len(parts) > 1 and parts[0] in UNION_TAGS:
            parts = parts[1:]
    return ".".join(parts) or "body"


def _json_position(text: str, offset: int) -> str:
    """Where a character offset is, as people count: line and column, both from 1."""
    before = text[:offset]
    line = before.count("\n") + 1
    column = offset - (before.rfind("\n") + 1) + 1
    return f"line {line}, column {column}"


def _not_json(err: dict, request: Request) -> bool:
    """Whether the body was refused as a whole because it was not sent as JSON."""
    loc = tuple(err.get("loc", ()))
    return (err.get("type") in ("model_attributes_type", "dict_type", "model_type")
            and loc[:1] == ("body",) and len(loc) <= 2
            and "json" not in (request.headers.get("content-type") or ""))


def _wording(err: dict, request: Request, raw: object) -> str:
    """One validation error in words a caller can act on."""
    kind = err.get("type", "")
    ctx = err.get("ctx") or {}
    if kind == "extra_forbidden":
        loc = tuple(err.get("loc", ()))
        if len(loc) == 2 and request.url.path.startswith("/v1/flow-templates/") \
                and request.url.path.endswith("/instantiate"):
            return (f"unknown field; a template's body is {{\"connections\": {{\"<role>\": "
                    f"\"<connection id>\"}}, \"options\": {{…}}, \"name\": …}}: put {loc[1]!r} "
                    "inside 'connections' or 'options' as the template lists them "
                    "(GET /v1/flow-templates), or remove it")
        return "unknown field; remove it"
    if kind == "missing" and tuple(err.get("loc", ()))[-2:] == ("smsglobal", "app"):
        return 'set "app": "smsglobal" for SMSGlobal credentials (api_key and api_secret)'
    if kind == "json_invalid":
        loc = err.get("loc", ())
        offset = loc[-1] if loc and isinstance(loc[-1], int) else None
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw or "")
        where = f" at {_json_position(text, offset)}" if offset is not None else ""
        return f"request body is not valid JSON{where}: {ctx.get('error') or 'cannot parse it'}"
    if _not_json(err, request):
        sent = request.headers.get("content-type") or "no Content-Type"
        return ("the body must be a JSON object; send it with 'Content-Type: application/json' "
                f"(this request sent {sent})")
    if kind in ("too_short", "string_too_short") and "min_length" in ctx:
        if kind == "string_too_short" or isinstance(err.get("input"), str) or \
                "SecretStr" in type(err.get("input")).__name__:
            return f"must be at least {ctx['min_length']} characters"
    if kind in ("too_long", "string_too_long") and "max_length" in ctx:
        if kind == "string_too_long" or isinstance(err.get("input"), str) or \
                "SecretStr" in type(err.get("input")).__name__:
            return f"must be at most {ctx['max_length']} characters"
    return err.get("msg", "invalid")


def install(app: FastAPI) -> None:
    """Register the handlers that give every failure the one error shape: EngineError (its own
    status and code; 429 adds Retry-After in whole seconds), request validation (422,
    naming each field), Starlette's HTTP errors (404, 405 …), Redis unreachable (503
    ``store_unavailable``, Retry-After) and anything else (500 ``internal_error``, logged)."""
    @app.exception_handler(EngineError)
    async def engine_error(request: Request, exc: EngineError) -> JSONResponse:
        headers = None
        if isinstance(exc, RateLimited):
            headers = {"Retry-After": str(max(1, int(exc.retry_after + 0.999)))}
        return error_response(exc.status, exc.code, exc.message, exc.details, headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        raw = getattr(exc, "body", None)
        for err in exc.errors():
            loc = tuple(err.get("loc", ()))
            message = _wording(err, request, raw)
            broken = (err.get("ctx") or {}).get("error")
            if err.get("type") == "value_error" and isinstance(broken, ValueError):
                message = str(broken)  # without pydantic's "Value error, " in front
                if isinstance(broken, FieldError):
                    loc = (*loc, broken.field)
            if err.get("type") == "json_invalid" or _not_json(err, request):
                loc = ("body",)  # not a field's fault (a JSON error's offset is in the message)
            problems.append({"field": _field(loc), "location": str(loc[0]) if loc else "body",
                             "message": message})
        names = ", ".join(p["field"] for p in problems)
        return error_response(422, "invalid_request", f"invalid request: {names}", problems)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        message = exc.detail if isinstance(exc.detail, str) else "error"
        if exc.status_code == 404 and message == "Not Found":
            message = f"no route {request.method} {request.url.path}; see GET /docs for the API"
        return error_response(exc.status_code, code, message, headers=getattr(exc, "headers", None))

    @app.exception_handler(RedisConnectionError)
    @app.exception_handler(RedisTimeoutError)
    @app.exception_handler(RedisReadOnlyError)  # a replica still answers: a failover under way
    async def store_unavailable(request: Request, exc: Exception) -> JSONResponse:
        log.warning("Redis unreachable on %s %s: %s", request.method, request.url.path,
                    type(exc).__name__)
        return error_response(503, "store_unavailable",
                              "the engine's data store (Redis) is unreachable; nothing was done; "
                              "retry after the number of seconds in Retry-After",
                              headers={"Retry-After": str(STORE_RETRY_AFTER_SECONDS)})

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, "internal_error",
                              "the engine failed unexpectedly; the error is logged")
